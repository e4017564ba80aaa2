//! A network: its name, its layers in order (the input first) and, for Functional
//! models, how they connect. Editing operations keep names unique the way Keras does.

use super::analysis::{self, Analysis};
use super::layer::{Layer, LayerKind};
use super::objects::to_snake_case;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Network {
    pub name: String,
    /// A Functional model (layers name their inbound layers) rather than a Sequential one.
    pub functional: bool,
    /// All layers, InputLayer(s) included, in Keras's order.
    pub layers: Vec<Layer>,
    /// Output layer names of a Functional model.
    pub outputs: Vec<String>,
}

impl Network {
    /// An empty Sequential model on an input of the given shape (batch axis excluded).
    pub fn sequential(name: &str, input_shape: &[i64]) -> Network {
        let mut input = Layer::new("InputLayer", "input_layer").unwrap_or_else(|| Layer {
            name: "input_layer".into(),
            trainable: true,
            dtype: super::layer::default_dtype(),
            kind: LayerKind::Input(super::layer::InputLayer {
                batch_shape: vec![None],
                dtype: "float32".into(),
            }),
            inbound: Vec::new(),
            construct_error: None,
        });
        if let LayerKind::Input(i) = &mut input.kind {
            i.batch_shape = std::iter::once(None)
                .chain(input_shape.iter().map(|d| Some(*d)))
                .collect();
        }
        Network {
            name: name.into(),
            functional: false,
            layers: vec![input],
            outputs: Vec::new(),
        }
    }

    /// Runs the shape, parameter and cost analysis.
    pub fn analyze(&self) -> Analysis {
        analysis::analyze(self)
    }

    /// Indices of the layers feeding layer `i`; `Some(vec![])` for an input layer and
    /// `None` if a named inbound layer does not exist earlier in the list.
    pub fn inbound_indices(&self, i: usize) -> Option<Vec<usize>> {
        let layer = self.layers.get(i)?;
        if matches!(layer.kind, LayerKind::Input(_)) {
            return Some(Vec::new());
        }
        if !self.functional || layer.inbound.is_empty() {
            return if i == 0 { None } else { Some(vec![i - 1]) };
        }
        layer
            .inbound
            .iter()
            .map(|name| self.layers[..i].iter().position(|l| &l.name == name))
            .collect()
    }

    /// The input layer (the first one).
    pub fn input_shape(&self) -> Option<&super::layer::Shape> {
        self.layers.iter().find_map(|l| match &l.kind {
            LayerKind::Input(i) => Some(&i.batch_shape),
            _ => None,
        })
    }

    /// Keras's `model.weights.h5` group key for each layer: the snake-cased class name
    /// with `_1`, `_2` suffixes per class, in `model.layers` order (`None` for a
    /// Sequential model's InputLayer, which is not in `model.layers`).
    pub fn keras_weight_keys(&self) -> Vec<Option<String>> {
        let mut counts: std::collections::HashMap<String, usize> = Default::default();
        self.layers
            .iter()
            .map(|l| {
                if matches!(l.kind, LayerKind::Input(_)) && !self.functional {
                    return None;
                }
                let base = to_snake_case(l.class_name());
                let k = counts.entry(base.clone()).or_insert(0);
                let key = if *k == 0 { base } else { format!("{base}_{k}") };
                *k += 1;
                Some(key)
            })
            .collect()
    }

    /// A fresh Keras-style name for a new layer of `class_name`: `conv2d`, `conv2d_1`, ...
    pub fn unique_name(&self, class_name: &str) -> String {
        let base = to_snake_case(class_name);
        if !self.layers.iter().any(|l| l.name == base) {
            return base;
        }
        (1..)
            .map(|k| format!("{base}_{k}"))
            .find(|n| !self.layers.iter().any(|l| &l.name == n))
            .unwrap_or(base)
    }

    /// Inserts a new layer of `class_name` with Keras's defaults after index `after`.
    /// Returns the index of the new layer.
    pub fn insert_new(&mut self, after: usize, class_name: &str) -> Option<usize> {
        let name = self.unique_name(class_name);
        let layer = Layer::new(class_name, name)?;
        let at = (after + 1).min(self.layers.len()).max(1);
        self.layers.insert(at, layer);
        Some(at)
    }
}
