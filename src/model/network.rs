//! A network as a graph: layers with stable ids, each naming the ids it takes its inputs
//! from, kept in an order where every layer comes after its inputs (Keras's
//! `model.layers` order). Names are labels: renaming a layer changes no edge.
//!
//! Every structural edit is a method here that keeps the graph valid — ids unique, inputs
//! existing and earlier, names unique, no cycles, a Sequential model a chain — and
//! refuses what Keras refuses, in Keras's words. Nothing outside this module can change
//! an id or an edge.

use crate::keras::objects::to_snake_case;
use crate::keras::shape::Shape;
use crate::layers::{InputLayer, LayerKind};
use serde_json::Value;
use std::collections::HashSet;

/// A layer's identity in its network: stable across renames, moves and edits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LayerId(u32);

/// One layer: its Keras name, whether it trains, its kind and arguments, and where its
/// inputs come from.
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    pub(super) id: LayerId,
    pub name: String,
    pub trainable: bool,
    /// The dtype policy as Keras wrote it (kept for a faithful round trip).
    pub dtype: Value,
    pub kind: LayerKind,
    pub(super) inputs: Vec<LayerId>,
    /// An argument Keras refuses when constructing the layer (kept so a loaded file can
    /// show the problem instead of failing to open); cleared when the layer is edited.
    pub construct_error: Option<String>,
}

/// Default Keras dtype policy.
pub fn default_dtype() -> Value {
    serde_json::json!({
        "module": "keras", "class_name": "DTypePolicy",
        "config": {"name": "float32"}, "registered_name": null
    })
}

impl Layer {
    /// A new layer of `class_name` with Keras's defaults, not yet in a network.
    pub fn new(class_name: &str, name: impl Into<String>) -> Option<Layer> {
        Some(Layer::of(LayerKind::default_for(class_name)?, name))
    }

    /// A layer of `kind`, not yet in a network.
    pub fn of(kind: LayerKind, name: impl Into<String>) -> Layer {
        Layer {
            id: LayerId(0),
            name: name.into(),
            trainable: true,
            dtype: default_dtype(),
            kind,
            inputs: Vec::new(),
            construct_error: None,
        }
    }

    pub fn id(&self) -> LayerId {
        self.id
    }

    /// The ids this layer takes its inputs from, in order.
    pub fn inputs(&self) -> &[LayerId] {
        &self.inputs
    }

    pub fn class_name(&self) -> &'static str {
        self.kind.class_name()
    }
}

/// A structural edit Keras (or the graph) does not allow.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    /// Keras's words for a duplicate name.
    #[error("{0}")]
    Keras(String),
    #[error("{0}")]
    Refused(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    pub name: String,
    /// A Functional model (layers name their inbound layers) rather than a Sequential one.
    pub functional: bool,
    layers: Vec<Layer>,
    /// Output layers of a Functional model (empty: the last layer).
    outputs: Vec<LayerId>,
    /// The model's inputs in Keras's `model.inputs` order (the file's `input_layers`),
    /// which need not be their order in the layer list; input layers not named here
    /// follow in list order.
    input_order: Vec<LayerId>,
    next_id: u32,
}

impl Network {
    /// An empty Sequential model on an input of the given shape (batch axis excluded).
    pub fn sequential(name: &str, input_shape: &[i64]) -> Network {
        let input = Layer::of(
            LayerKind::Input(InputLayer {
                batch_shape: std::iter::once(None)
                    .chain(input_shape.iter().map(|d| Some(*d)))
                    .collect(),
                dtype: "float32".into(),
            }),
            "input_layer",
        );
        let mut net = Network::empty(name, false);
        net.push(input);
        net
    }

    /// A network with no layers yet.
    pub fn empty(name: &str, functional: bool) -> Network {
        Network {
            name: name.into(),
            functional,
            layers: Vec::new(),
            outputs: Vec::new(),
            input_order: Vec::new(),
            next_id: 0,
        }
    }

    /// A network read from a file: `layers` with the names of their inputs (ignored in a
    /// Sequential model, where each layer takes the previous one) and the output names.
    /// Layers may be listed before their inputs (they are put after them); a missing
    /// input, a duplicate name or a cycle is refused.
    pub fn from_named(
        name: &str,
        functional: bool,
        layers: Vec<(Layer, Vec<String>)>,
        outputs: &[String],
    ) -> Result<Network, GraphError> {
        let mut net = Network::empty(name, functional);
        check_unique_names(layers.iter().map(|(l, _)| l.name.as_str()), functional)?;
        if !functional {
            for (l, _) in layers {
                net.push(l);
            }
            return Ok(net);
        }
        let id_of = |n: &str| layers.iter().position(|(l, _)| l.name == n);
        let mut edges = Vec::with_capacity(layers.len());
        for (l, ins) in &layers {
            let mut idx = Vec::new();
            for n in ins {
                let j = id_of(n).ok_or_else(|| {
                    GraphError::Refused(format!(
                        "Layer '{}' takes its input from '{n}', which is not in the model.",
                        l.name
                    ))
                })?;
                idx.push(j);
            }
            if idx.is_empty() && !l.kind.is_input() {
                return Err(GraphError::Refused(format!(
                    "Layer '{}' has no inputs.",
                    l.name
                )));
            }
            edges.push(idx);
        }
        // A stable topological order: Keras's order wherever it already is one.
        let order = topological(&edges)
            .ok_or_else(|| GraphError::Refused("The layers' connections form a cycle.".into()))?;
        let ids: Vec<LayerId> = (0..layers.len() as u32).map(LayerId).collect();
        let mut slots: Vec<Option<Layer>> = layers.into_iter().map(|(l, _)| Some(l)).collect();
        for &i in &order {
            if let Some(mut l) = slots[i].take() {
                l.id = ids[i];
                l.inputs = edges[i].iter().map(|&j| ids[j]).collect();
                net.layers.push(l);
            }
        }
        net.next_id = ids.len() as u32;
        for o in outputs {
            let l = net.find(o).ok_or_else(|| {
                GraphError::Refused(format!(
                    "The model's output '{o}' is not one of its layers."
                ))
            })?;
            net.outputs.push(net.layers[l].id);
        }
        Ok(net)
    }

    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    pub fn len(&self) -> usize {
        self.layers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// A layer to edit in place (its kind, arguments, `trainable`; its id and edges are
    /// the network's).
    pub fn layer_mut(&mut self, i: usize) -> &mut Layer {
        &mut self.layers[i]
    }

    /// The position of the layer with id `id`.
    pub fn index_of(&self, id: LayerId) -> Option<usize> {
        self.layers.iter().position(|l| l.id == id)
    }

    /// The position of the layer named `name`.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.layers.iter().position(|l| l.name == name)
    }

    /// Positions of the layers feeding layer `i`, in order.
    pub fn inputs_of(&self, i: usize) -> Vec<usize> {
        self.layers.get(i).map_or(Vec::new(), |l| {
            l.inputs
                .iter()
                .filter_map(|&id| self.index_of(id))
                .collect()
        })
    }

    /// Positions of the layers that take layer `i`'s output.
    pub fn consumers_of(&self, i: usize) -> Vec<usize> {
        let Some(id) = self.layers.get(i).map(|l| l.id) else {
            return Vec::new();
        };
        (0..self.layers.len())
            .filter(|&j| self.layers[j].inputs.contains(&id))
            .collect()
    }

    /// Output layers: the ones named in the file, else the last layer.
    pub fn outputs(&self) -> Vec<usize> {
        if self.outputs.is_empty() {
            self.layers.len().checked_sub(1).into_iter().collect()
        } else {
            self.outputs
                .iter()
                .filter_map(|&id| self.index_of(id))
                .collect()
        }
    }

    /// Whether every layer takes exactly the one before it (a stack).
    pub fn is_chain(&self) -> bool {
        self.layers.iter().enumerate().all(|(i, l)| {
            if i == 0 {
                l.inputs.is_empty()
            } else {
                l.inputs == [self.layers[i - 1].id]
            }
        }) && self.outputs().iter().all(|&o| o + 1 == self.layers.len())
    }

    /// Positions of the input layers, in the model's input order (what `model.inputs`
    /// lists and what a run is given, one array each).
    pub fn input_layers(&self) -> Vec<usize> {
        let mut order: Vec<usize> = self
            .input_order
            .iter()
            .filter_map(|&id| self.index_of(id))
            .filter(|&i| self.layers[i].kind.is_input())
            .collect();
        for (i, l) in self.layers.iter().enumerate() {
            if l.kind.is_input() && !order.contains(&i) {
                order.push(i);
            }
        }
        order
    }

    /// Sets the input order from the input layers' names (a file's `input_layers`).
    pub fn set_input_order(&mut self, names: &[String]) -> Result<(), GraphError> {
        let mut order = Vec::with_capacity(names.len());
        for n in names {
            let i = self
                .find(n)
                .filter(|&i| self.layers[i].kind.is_input())
                .ok_or_else(|| {
                    GraphError::Refused(format!(
                        "The model's input '{n}' is not one of its input layers."
                    ))
                })?;
            order.push(self.layers[i].id);
        }
        self.input_order = order;
        Ok(())
    }

    /// The batch shape of input `k` (in [`Network::input_layers`] order).
    pub fn input_shape_of(&self, k: usize) -> Option<&Shape> {
        let i = *self.input_layers().get(k)?;
        if let LayerKind::Input(l) = &self.layers[i].kind {
            Some(&l.batch_shape)
        } else {
            None
        }
    }

    /// The (first) input layer's batch shape.
    pub fn input_shape(&self) -> Option<&Shape> {
        self.input_shape_of(0)
    }

    /// Layers whose results depend on any of `changed` (themselves included), as a
    /// mask over positions.
    pub fn descendants(&self, changed: &HashSet<LayerId>) -> Vec<bool> {
        let mut dirty = vec![false; self.layers.len()];
        let mut dirty_ids: HashSet<LayerId> = HashSet::new();
        for (i, l) in self.layers.iter().enumerate() {
            if changed.contains(&l.id) || l.inputs.iter().any(|x| dirty_ids.contains(x)) {
                dirty[i] = true;
                dirty_ids.insert(l.id);
            }
        }
        dirty
    }

    /// The order of Keras's `model.layers` for this network: a Sequential model's own;
    /// a Functional model's as `keras.src.ops.function.map_graph` sorts it — by depth
    /// (the longest path to an output) from the deepest, ties in the order a
    /// depth-first walk from the outputs first meets them, inputs that reach no output
    /// first. Layers that reach no output are not in a Keras model; they come last.
    /// Keras keys `.keras` weights by this order, and writes configs in it.
    pub fn keras_order(&self) -> Vec<usize> {
        let n = self.layers.len();
        if !self.functional {
            return (0..n).collect();
        }
        let pos: std::collections::HashMap<LayerId, usize> = self
            .layers
            .iter()
            .enumerate()
            .map(|(i, l)| (l.id, i))
            .collect();
        let ins: Vec<Vec<usize>> = self
            .layers
            .iter()
            .map(|l| {
                l.inputs
                    .iter()
                    .filter_map(|x| pos.get(x).copied())
                    .collect()
            })
            .collect();
        // _build_map: an index when a layer is first met, the finished order (post-order).
        const NEW: u8 = 0;
        const OPEN: u8 = 1;
        const DONE: u8 = 2;
        let mut index = vec![i64::MAX; n];
        let mut state = vec![NEW; n];
        let mut finished = Vec::with_capacity(n);
        let mut met = 0i64;
        for o in self.outputs() {
            if state[o] != NEW {
                continue;
            }
            index[o] = met;
            met += 1;
            state[o] = OPEN;
            let mut stack = vec![(o, 0usize)];
            while let Some(top) = stack.last_mut() {
                let (v, k) = *top;
                if let Some(&c) = ins[v].get(k) {
                    top.1 += 1;
                    if state[c] == NEW {
                        if index[c] == i64::MAX {
                            index[c] = met;
                            met += 1;
                        }
                        state[c] = OPEN;
                        stack.push((c, 0));
                    }
                } else {
                    stack.pop();
                    state[v] = DONE;
                    finished.push(v);
                }
            }
        }
        let mut depth = vec![0usize; n];
        for &v in finished.iter().rev() {
            for &p in &ins[v] {
                depth[p] = depth[p].max(depth[v] + 1);
            }
        }
        // Inputs that reach no output: depth 0, index -1.
        for (i, l) in self.layers.iter().enumerate() {
            if l.kind.is_input() && state[i] == NEW {
                state[i] = DONE;
                index[i] = -1;
            }
        }
        let (mut order, rest): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| state[i] == DONE);
        order.sort_by_key(|&i| (std::cmp::Reverse(depth[i]), index[i]));
        order.extend(rest);
        order
    }

    /// Keras's `model.weights.h5` group key for each layer: the snake-cased class name
    /// with `_1`, `_2` suffixes per class, in `model.layers` order (`None` for a
    /// Sequential model's InputLayer and for operations, which are not in
    /// `model.layers`).
    pub fn keras_weight_keys(&self) -> Vec<Option<String>> {
        self.keras_weight_keys_in(|_| None)
    }

    /// [`Network::keras_weight_keys`] for a file that keeps some layers inside models
    /// used as layers: `scope(name)` is the (model name, `Sequential`/`Functional`) a
    /// layer belongs to. Such a model takes one key in the outer list, where its first
    /// layer is (`sequential`, `functional_1`…), and its layers are keyed inside it:
    /// `sequential/layers/conv2d`.
    pub fn keras_weight_keys_in<'a>(
        &self,
        scope: impl Fn(&str) -> Option<(&'a str, &'a str)>,
    ) -> Vec<Option<String>> {
        type Counts = std::collections::HashMap<String, usize>;
        fn next(counts: &mut Counts, base: String) -> String {
            let k = counts.entry(base.clone()).or_insert(0);
            let key = if *k == 0 { base } else { format!("{base}_{k}") };
            *k += 1;
            key
        }
        let mut outer = Counts::new();
        let mut nested: std::collections::HashMap<&str, (String, Counts)> = Default::default();
        // Keras's layer order (a file's own order for a file Keras wrote); a file with
        // models inside is keyed in its own order.
        let order = if self.layers.iter().any(|l| scope(&l.name).is_some()) {
            (0..self.layers.len()).collect()
        } else {
            self.keras_order()
        };
        let mut keys = vec![None; self.layers.len()];
        let in_order: Vec<Option<String>> = order
            .iter()
            .map(|&i| &self.layers[i])
            .map(|l| {
                if l.kind.facts().is_operation() {
                    return None;
                }
                let base = to_snake_case(l.class_name());
                match scope(&l.name) {
                    Some((model, class)) => {
                        let (key, counts) = nested.entry(model).or_insert_with(|| {
                            (next(&mut outer, to_snake_case(class)), Counts::new())
                        });
                        Some(format!("{key}/layers/{}", next(counts, base)))
                    }
                    None if l.kind.is_input() && !self.functional => None,
                    None => Some(next(&mut outer, base)),
                }
            })
            .collect();
        for (&i, k) in order.iter().zip(in_order) {
            keys[i] = k;
        }
        keys
    }

    /// A fresh Keras-style name for a new layer of `class_name`: `conv2d`, `conv2d_1`, ...
    pub fn unique_name(&self, class_name: &str) -> String {
        let base = to_snake_case(class_name);
        if self.find(&base).is_none() {
            return base;
        }
        (1..)
            .map(|k| format!("{base}_{k}"))
            .find(|n| self.find(n).is_none())
            .unwrap_or(base)
    }

    pub(super) fn fresh_id(&mut self) -> LayerId {
        let id = LayerId(self.next_id);
        self.next_id += 1;
        id
    }

    /// Every layer (and output) taking `src` takes `out` instead, except the layers
    /// with ids in `inside` (a block's own layers).
    pub(super) fn rewire_consumers(&mut self, src: LayerId, out: LayerId, inside: &[LayerId]) {
        for l in &mut self.layers {
            if inside.contains(&l.id) {
                continue;
            }
            for x in &mut l.inputs {
                if *x == src {
                    *x = out;
                }
            }
        }
        for o in &mut self.outputs {
            if *o == src {
                *o = out;
            }
        }
    }

    /// Puts `layers` (ids and inputs set) at position `at`.
    pub(super) fn splice_layers(&mut self, at: usize, layers: Vec<Layer>) {
        let at = at.min(self.layers.len());
        self.layers.splice(at..at, layers);
    }

    /// Appends `layer`, fed by the last layer (none for the first one). Returns its id.
    pub fn push(&mut self, mut layer: Layer) -> LayerId {
        layer.id = self.fresh_id();
        layer.inputs = self.layers.last().map(|l| l.id).into_iter().collect();
        let id = layer.id;
        self.layers.push(layer);
        id
    }

    /// A new input layer shaped as the first, with a fresh name (for [`Network::add_input`]).
    pub fn another_input(&self) -> Layer {
        Layer::of(
            LayerKind::Input(InputLayer {
                batch_shape: self.input_shape().cloned().unwrap_or_default(),
                dtype: "float32".into(),
            }),
            self.unique_name("InputLayer"),
        )
    }

    /// Adds another input to a Functional model: `layer` (an InputLayer) after the last
    /// input, last in the input order, feeding nothing yet. Returns its position.
    pub fn add_input(&mut self, mut layer: Layer) -> Result<usize, GraphError> {
        if !self.functional {
            return Err(GraphError::Refused(
                "A Sequential model has one input: make it Functional to add another.".into(),
            ));
        }
        if !layer.kind.is_input() {
            return Err(GraphError::Refused(format!(
                "'{}' is not an input layer.",
                layer.name
            )));
        }
        if self.find(&layer.name).is_some() {
            return Err(self.duplicate_name(&layer.name));
        }
        if self.outputs.is_empty()
            && let Some(last) = self.layers.last()
        {
            // The output stays the layer it is.
            self.outputs = vec![last.id];
        }
        layer.id = self.fresh_id();
        layer.inputs.clear();
        if !self.input_order.is_empty() {
            self.input_order.push(layer.id);
        }
        let at = self.input_layers().last().map_or(0, |&i| i + 1);
        self.layers.insert(at, layer);
        Ok(at)
    }

    /// Inserts `layer` after position `after` (at least after the input), fed by that
    /// layer; the layers it fed take the new one instead (in a stack: inserted into the
    /// chain). Returns its position.
    pub fn insert_after(&mut self, after: usize, mut layer: Layer) -> Result<usize, GraphError> {
        if self.find(&layer.name).is_some() {
            return Err(self.duplicate_name(&layer.name));
        }
        let after = after.min(self.layers.len().saturating_sub(1));
        let Some(src) = self.layers.get(after).map(|l| l.id) else {
            self.push(layer);
            return Ok(0);
        };
        layer.id = self.fresh_id();
        layer.inputs = vec![src];
        let new = layer.id;
        for l in &mut self.layers {
            for x in &mut l.inputs {
                if *x == src {
                    *x = new;
                }
            }
        }
        for o in &mut self.outputs {
            if *o == src {
                *o = new;
            }
        }
        self.layers.insert(after + 1, layer);
        Ok(after + 1)
    }

    /// Inserts `layer` on the wire from layer `from` into layer `to`: it takes `from`'s
    /// output and `to` takes its output instead (`to`'s other inputs and `from`'s other
    /// consumers stay). Returns its position (just before `to`).
    pub fn insert_between(
        &mut self,
        from: usize,
        to: usize,
        mut layer: Layer,
    ) -> Result<usize, GraphError> {
        if self.find(&layer.name).is_some() {
            return Err(self.duplicate_name(&layer.name));
        }
        let (Some(src), Some(dst)) = (self.layers.get(from), self.layers.get(to)) else {
            return Err(GraphError::Refused("No such layer.".into()));
        };
        let src = src.id;
        let Some(slot) = dst.inputs.iter().position(|x| *x == src) else {
            return Err(GraphError::Refused(format!(
                "'{}' does not feed '{}'.",
                self.layers[from].name, dst.name
            )));
        };
        layer.id = self.fresh_id();
        layer.inputs = vec![src];
        let new = layer.id;
        self.layers[to].inputs[slot] = new;
        self.layers.insert(to, layer);
        Ok(to)
    }

    /// Inserts a new layer of `class_name` with Keras's defaults after position `after`.
    /// Returns its position.
    pub fn insert_new(&mut self, after: usize, class_name: &str) -> Option<usize> {
        let name = self.unique_name(class_name);
        let layer = Layer::new(class_name, name)?;
        self.insert_after(after, layer).ok()
    }

    /// A copy of layer `i` (a fresh name, same arguments), inserted after it.
    pub fn duplicate(&mut self, i: usize) -> Result<usize, GraphError> {
        let l = self
            .layers
            .get(i)
            .filter(|l| !l.kind.is_input())
            .ok_or_else(|| GraphError::Refused("The input layer cannot be duplicated.".into()))?;
        if l.kind.facts().takes_list {
            return Err(GraphError::Refused(
                "A merge layer cannot be duplicated into a chain: connect a new one instead."
                    .into(),
            ));
        }
        let mut copy = l.clone();
        copy.name = self.unique_name(copy.class_name());
        self.insert_after(i, copy)
    }

    /// Removes layer `i`; the layers it fed take its input instead. Refused for the
    /// input layer and for a merge whose output is used (which of its inputs would
    /// take its place?).
    pub fn remove(&mut self, i: usize) -> Result<Layer, GraphError> {
        let l = self
            .layers
            .get(i)
            .ok_or_else(|| GraphError::Refused(format!("There is no layer {i}.")))?;
        if l.kind.is_input() {
            let readers: Vec<&str> = self
                .consumers_of(i)
                .into_iter()
                .map(|j| self.layers[j].name.as_str())
                .collect();
            if self.input_layers().len() < 2 {
                return Err(GraphError::Refused(
                    "The input layer cannot be deleted.".into(),
                ));
            }
            if !readers.is_empty() {
                return Err(GraphError::Refused(format!(
                    "Input '{}' feeds {}: disconnect it first.",
                    l.name,
                    readers.join(", ")
                )));
            }
            let id = l.id;
            self.input_order.retain(|x| *x != id);
            self.outputs.retain(|x| *x != id);
            return Ok(self.layers.remove(i));
        }
        let (id, ins) = (l.id, l.inputs.clone());
        let used = !self.consumers_of(i).is_empty() || self.outputs.contains(&id);
        if ins.len() != 1 && used {
            return Err(GraphError::Refused(format!(
                "'{}' joins {} inputs and its output is used: disconnect it first.",
                l.name,
                ins.len()
            )));
        }
        for other in &mut self.layers {
            if let Some(p) = other.inputs.iter().position(|x| *x == id) {
                other.inputs.splice(p..=p, ins.iter().copied());
            }
        }
        for o in &mut self.outputs {
            if *o == id {
                *o = ins[0];
            }
        }
        Ok(self.layers.remove(i))
    }

    /// Renames layer `i`. Its consumers keep taking its output (edges are ids).
    pub fn rename(&mut self, i: usize, name: &str) -> Result<(), GraphError> {
        if name.is_empty() {
            return Err(GraphError::Refused("A layer needs a name.".into()));
        }
        if let Some(j) = self.find(name)
            && j != i
        {
            return Err(self.duplicate_name(name));
        }
        if let Some(l) = self.layers.get_mut(i) {
            l.name = name.to_string();
        }
        Ok(())
    }

    fn duplicate_name(&self, name: &str) -> GraphError {
        GraphError::Keras(if self.functional {
            format!(
                "The name \"{name}\" is used 2 times in the model. All operation names should \
                 be unique."
            )
        } else {
            format!(
                "All layers added to a Sequential model should have unique names. Name \
                 '{name}' is already the name of a layer in this model. Update the `name` \
                 argument to pass a unique name."
            )
        })
    }

    /// Feeds layer `from`'s output into layer `to` as one more input (a merge) or as
    /// its only input (`replace`). Refused in a Sequential model, into the input layer,
    /// and when it would make a cycle; `to` moves after `from` if it stood before it.
    pub fn connect(&mut self, from: usize, to: usize, replace: bool) -> Result<(), GraphError> {
        if !self.functional {
            return Err(GraphError::Refused(
                "A Sequential model is a chain: make it Functional to branch or merge.".into(),
            ));
        }
        let (Some(src), Some(dst)) = (self.layers.get(from), self.layers.get(to)) else {
            return Err(GraphError::Refused("No such layer.".into()));
        };
        if dst.kind.is_input() {
            return Err(GraphError::Refused(
                "An input layer takes no inputs.".into(),
            ));
        }
        let (src_id, dst_id) = (src.id, dst.id);
        if self.depends_on(from, dst_id) || from == to {
            return Err(GraphError::Refused(format!(
                "Connecting '{}' to '{}' would make a cycle.",
                src.name, dst.name
            )));
        }
        let l = &mut self.layers[to];
        if replace {
            l.inputs = vec![src_id];
        } else if !l.inputs.contains(&src_id) {
            l.inputs.push(src_id);
        }
        if to < from {
            // The output stays the layer it is (not whichever ends up last).
            if self.outputs.is_empty()
                && let Some(last) = self.layers.last()
            {
                self.outputs = vec![last.id];
            }
            // `to` and everything that depends on it move after `from`.
            let moving: HashSet<LayerId> = [dst_id].into();
            let dirty = self.descendants(&moving);
            let (mut before, mut after): (Vec<Layer>, Vec<Layer>) = (Vec::new(), Vec::new());
            let mut rest = Vec::new();
            for (k, l) in std::mem::take(&mut self.layers).into_iter().enumerate() {
                match (dirty[k], k <= from) {
                    (true, true) => after.push(l),
                    (false, true) => before.push(l),
                    (_, false) => rest.push(l),
                }
            }
            before.extend(after);
            before.extend(rest);
            self.layers = before;
        }
        Ok(())
    }

    /// Makes a Sequential model Functional (the same chain, now a graph that can branch
    /// and merge), or a Functional model Sequential (refused unless it is one chain
    /// from one input to one output).
    pub fn set_functional(&mut self, functional: bool) -> Result<(), GraphError> {
        if functional == self.functional {
            return Ok(());
        }
        if !functional {
            let inputs = self.layers.iter().filter(|l| l.kind.is_input()).count();
            if inputs != 1 || !self.is_chain() {
                return Err(GraphError::Refused(
                    "The model branches or merges: only a single chain can be Sequential.".into(),
                ));
            }
            self.outputs.clear();
        }
        self.functional = functional;
        Ok(())
    }

    /// Whether layer `i` is one of the model's outputs.
    pub fn is_output(&self, i: usize) -> bool {
        self.outputs().contains(&i)
    }

    /// Makes layer `i` one of the model's outputs (`on`) or not. A Functional model's
    /// outputs are listed in the order they were marked; the last output cannot be
    /// unmarked, and a Sequential model's output is its last layer.
    pub fn set_output(&mut self, i: usize, on: bool) -> Result<(), GraphError> {
        let Some(id) = self.layers.get(i).map(|l| l.id) else {
            return Err(GraphError::Refused("No such layer.".into()));
        };
        if !self.functional {
            return Err(GraphError::Refused(
                "A Sequential model's output is its last layer: make it Functional for more \
                 outputs."
                    .into(),
            ));
        }
        let mut outs: Vec<LayerId> = self.outputs().iter().map(|&k| self.layers[k].id).collect();
        if on && !outs.contains(&id) {
            outs.push(id);
        } else if !on {
            outs.retain(|x| *x != id);
            if outs.is_empty() {
                return Err(GraphError::Refused(format!(
                    "'{}' is the model's only output.",
                    self.layers[i].name
                )));
            }
        }
        self.outputs = outs;
        Ok(())
    }

    /// Stops feeding layer `from`'s output into layer `to` (refused when it is `to`'s
    /// only input).
    pub fn disconnect(&mut self, from: usize, to: usize) -> Result<(), GraphError> {
        let src = self
            .layers
            .get(from)
            .map(|l| l.id)
            .ok_or_else(|| GraphError::Refused("No such layer.".into()))?;
        let l = self
            .layers
            .get_mut(to)
            .ok_or_else(|| GraphError::Refused("No such layer.".into()))?;
        if l.inputs == [src] {
            return Err(GraphError::Refused(format!(
                "'{}' would have no input left.",
                l.name
            )));
        }
        l.inputs.retain(|x| *x != src);
        Ok(())
    }

    /// Whether layer `i`'s output depends on layer `id`.
    fn depends_on(&self, i: usize, id: LayerId) -> bool {
        let mut seen = HashSet::new();
        let mut stack = vec![self.layers[i].id];
        while let Some(x) = stack.pop() {
            if x == id {
                return true;
            }
            if seen.insert(x)
                && let Some(k) = self.index_of(x)
            {
                stack.extend(self.layers[k].inputs.iter().copied());
            }
        }
        false
    }

    /// Moves layer `from` to position `to`. In a stack the chain follows the new order;
    /// in a graph the edges stay and the move is refused if a layer would stand before
    /// one of its inputs.
    pub fn move_layer(&mut self, from: usize, to: usize) -> Result<(), GraphError> {
        let n = self.layers.len();
        if from == 0 || to == 0 || from >= n || to >= n {
            return Err(GraphError::Refused("The input layer stays first.".into()));
        }
        if from == to {
            return Ok(());
        }
        let chain = self.is_chain();
        let l = self.layers.remove(from);
        self.layers.insert(to, l);
        if chain {
            self.rechain();
            return Ok(());
        }
        if let Err(e) = self.check() {
            let l = self.layers.remove(to);
            self.layers.insert(from, l);
            return Err(GraphError::Refused(format!(
                "Cannot move the layer there: {e}"
            )));
        }
        Ok(())
    }

    /// Makes every layer take the one before it.
    fn rechain(&mut self) {
        let mut prev: Option<LayerId> = None;
        for l in &mut self.layers {
            l.inputs = prev.into_iter().collect();
            prev = Some(l.id);
        }
        self.outputs.clear();
    }

    /// Adopts ids not below `other`'s, so that ids used there are never reused here
    /// (undo restores an older network; a layer added after it must not get an id the
    /// undone one had).
    pub fn reserve_ids_of(&mut self, other: &Network) {
        self.next_id = self.next_id.max(other.next_id);
    }

    /// The graph's invariants: ids unique, every input exists and stands earlier,
    /// names unique, a Sequential model a chain.
    pub fn check(&self) -> Result<(), String> {
        let mut seen: HashSet<LayerId> = HashSet::new();
        let mut names = HashSet::new();
        for l in &self.layers {
            for x in &l.inputs {
                if !seen.contains(x) {
                    return Err(format!("'{}' would stand before one of its inputs", l.name));
                }
            }
            if !seen.insert(l.id) {
                return Err(format!("two layers share the id of '{}'", l.name));
            }
            if l.id.0 >= self.next_id {
                return Err(format!("'{}' has an id not handed out", l.name));
            }
            if !names.insert(l.name.as_str()) {
                return Err(format!("the name '{}' is used twice", l.name));
            }
        }
        if !self.functional && !self.is_chain() {
            return Err("a Sequential model must be a chain".into());
        }
        Ok(())
    }
}

/// Keras's refusal of a duplicate name among `names`.
fn check_unique_names<'a>(
    names: impl Iterator<Item = &'a str>,
    functional: bool,
) -> Result<(), GraphError> {
    let mut seen = HashSet::new();
    for n in names {
        if !seen.insert(n) {
            let mut probe = Network::empty("", functional);
            probe.functional = functional;
            return Err(probe.duplicate_name(n));
        }
    }
    Ok(())
}

/// A topological order of nodes with input lists `edges`, as close to the given order as
/// possible; `None` when there is a cycle.
fn topological(edges: &[Vec<usize>]) -> Option<Vec<usize>> {
    let n = edges.len();
    let mut placed = vec![false; n];
    let mut order = Vec::with_capacity(n);
    while order.len() < n {
        let next = (0..n).find(|&i| !placed[i] && edges[i].iter().all(|&j| placed[j]))?;
        placed[next] = true;
        order.push(next);
    }
    Some(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack() -> Network {
        let mut net = Network::sequential("s", &[8, 8, 3]);
        for c in ["Conv2D", "ReLU", "Flatten", "Dense"] {
            let at = net.len() - 1;
            net.insert_new(at, c).unwrap();
        }
        net
    }

    fn graph() -> Network {
        // input -> a -> add <- b <- input
        let mut layers = vec![(Layer::new("InputLayer", "in").unwrap(), vec![])];
        for n in ["a", "b"] {
            layers.push((Layer::new("Conv2D", n).unwrap(), vec!["in".into()]));
        }
        layers.push((
            Layer::new("Add", "add").unwrap(),
            vec!["a".into(), "b".into()],
        ));
        Network::from_named("g", true, layers, &["add".into()]).unwrap()
    }

    #[test]
    fn a_layer_dropped_on_a_wire_goes_between_its_ends_only() {
        // in -> a -> add, in -> b -> add: a ReLU on the wire in -> b.
        let mut net = graph();
        let b = net.find("b").unwrap();
        let at = net
            .insert_between(0, b, Layer::new("ReLU", "r").unwrap())
            .unwrap();
        net.check().unwrap();
        assert_eq!(net.layers()[at].name, "r");
        let b = net.find("b").unwrap();
        assert_eq!(net.inputs_of(b), [at]);
        assert_eq!(net.inputs_of(at), [0]);
        // 'a' still takes the input.
        assert_eq!(net.inputs_of(net.find("a").unwrap()), [0]);
        let add = net.find("add").unwrap();
        assert!(
            net.insert_between(0, add, Layer::new("ReLU", "q").unwrap())
                .is_err()
        );
    }

    #[test]
    fn a_stack_stays_a_chain_through_every_edit() {
        let mut net = stack();
        net.check().unwrap();
        assert_eq!(net.inputs_of(3), vec![2]);
        net.move_layer(4, 1).unwrap();
        net.check().unwrap();
        assert_eq!(net.layers()[1].class_name(), "Dense");
        let i = net.duplicate(2).unwrap();
        assert_eq!(net.layers()[i].name, "conv2d_1");
        net.check().unwrap();
        net.remove(1).unwrap();
        net.check().unwrap();
        assert!(net.connect(1, 3, false).is_err());
        assert!(net.remove(0).is_err());
    }

    #[test]
    fn rename_keeps_consumers_and_refuses_duplicates_in_keras_words() {
        let mut net = graph();
        let add = net.find("add").unwrap();
        let before = net.inputs_of(add);
        let a = net.find("a").unwrap();
        net.rename(a, "renamed").unwrap();
        assert_eq!(net.inputs_of(add), before);
        let e = net.rename(a, "b").unwrap_err();
        assert_eq!(
            e.to_string(),
            "The name \"b\" is used 2 times in the model. All operation names should be unique."
        );
        let mut s = stack();
        let e = s.rename(1, "dense").unwrap_err();
        assert!(e.to_string().starts_with(
            "All layers added to a Sequential model should have unique names. Name 'dense'"
        ));
        net.check().unwrap();
    }

    #[test]
    fn structural_edits_keep_the_graph_valid() {
        let mut net = graph();
        let (a, add) = (net.find("a").unwrap(), net.find("add").unwrap());
        // A cycle is refused; so is disconnecting a layer's only input.
        assert!(net.connect(add, a, false).is_err());
        assert!(net.disconnect(0, a).is_err());
        // Inserting after `a` puts the new layer on the wire into `add`.
        let r = net.insert_new(a, "ReLU").unwrap();
        assert_eq!(net.inputs_of(r), vec![a]);
        let add = net.find("add").unwrap();
        assert!(net.inputs_of(add).contains(&r));
        net.check().unwrap();
        // Removing it reconnects `add` to `a`.
        net.remove(r).unwrap();
        let add = net.find("add").unwrap();
        assert_eq!(
            net.inputs_of(add),
            vec![net.find("a").unwrap(), net.find("b").unwrap()]
        );
        // A merge whose output is the model's output cannot be removed.
        assert!(net.remove(add).is_err());
        // Moving a layer before its inputs is refused and changes nothing.
        let snapshot = net.clone();
        assert!(net.move_layer(add, 1).is_err());
        assert_eq!(net, snapshot);
    }

    #[test]
    fn files_are_read_in_any_order_and_refused_when_broken() {
        // Each layer as (class, name, inbound names).
        let read = |layers: &[(&str, &str, &[&str])]| {
            let layers = layers
                .iter()
                .map(|&(c, n, ins)| {
                    let ins = ins.iter().map(|s| s.to_string()).collect();
                    (Layer::new(c, n).unwrap(), ins)
                })
                .collect();
            Network::from_named("g", true, layers, &[])
        };
        // The consumer listed before its input: put after it.
        let net = read(&[("ReLU", "r", &["in"]), ("InputLayer", "in", &[])]).unwrap();
        assert_eq!(net.layers()[0].name, "in");
        net.check().unwrap();
        let missing = read(&[("ReLU", "r", &["x"])]);
        assert!(missing.unwrap_err().to_string().contains("'x'"));
        let dup = read(&[("InputLayer", "in", &[]), ("ReLU", "in", &["in"])]);
        assert!(dup.unwrap_err().to_string().contains("is used 2 times"));
        let cycle = read(&[
            ("InputLayer", "in", &[]),
            ("ReLU", "a", &["b"]),
            ("ReLU", "b", &["a"]),
        ]);
        assert!(cycle.unwrap_err().to_string().contains("cycle"));
    }

    #[test]
    fn descendants_follow_every_branch() {
        let net = graph();
        let a = net.layers()[net.find("a").unwrap()].id();
        let dirty = net.descendants(&[a].into());
        let names: Vec<&str> = net
            .layers()
            .iter()
            .zip(&dirty)
            .filter(|(_, d)| **d)
            .map(|(l, _)| l.name.as_str())
            .collect();
        assert_eq!(names, ["a", "add"]);
    }

    #[test]
    fn ids_are_not_reused_after_undo() {
        let mut net = stack();
        let old = net.clone();
        net.insert_new(1, "ReLU");
        let used = net.layers()[2].id();
        let mut undone = old;
        undone.reserve_ids_of(&net);
        undone.insert_new(1, "ReLU");
        assert_ne!(undone.layers()[2].id(), used);
    }
}
