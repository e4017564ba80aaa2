//! Weights drawn from each layer's Keras initializers with a seed (the seed of each array
//! depends on the run seed, the layer name and the array name only, so editing one layer
//! re-draws that layer alone), and the window's [`WeightPlan`]: which layer takes the
//! file's arrays, a preset or its initializers, resolved in one place.

use super::init;
use super::presets::Preset;
use crate::keras::objects::KerasObject;
use crate::keras::report::WeightSpec;
use crate::layers::{LayerWeights, WeightError};
use crate::model::analysis::Analysis;
use crate::model::network::{Layer, LayerId, Network};
use ndarray::{ArrayD, IxDyn};
use std::collections::HashMap;
use std::sync::Arc;

/// A stable 64-bit hash (FNV-1a) so seeds do not depend on the platform or Rust version.
fn fnv(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in *p {
            h ^= *b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Draws one layer's weights from its initializers. The seed of each array depends on
/// the run seed, the layer name and the array name only, so editing one layer re-draws
/// that layer alone.
pub fn initialize_layer(
    layer: &Layer,
    specs: &[WeightSpec],
    seed: u64,
) -> Result<LayerWeights, WeightError> {
    specs
        .iter()
        .map(|spec| {
            let shape: Vec<usize> = spec.shape.iter().map(|&d| d.max(0) as usize).collect();
            let s = fnv(&[
                &seed.to_le_bytes(),
                layer.name.as_bytes(),
                spec.name.as_bytes(),
            ]);
            let init = spec.init.clone().unwrap_or_else(|| KerasObject {
                class_name: "Zeros".into(),
                config: Default::default(),
            });
            let data = init::draw(&init, &shape, s).map_err(|e| {
                WeightError::layer(&layer.name, format!("initializing '{}': {e}", spec.name))
            })?;
            ArrayD::from_shape_vec(IxDyn(&shape), data)
                .map_err(|e| WeightError::layer(&layer.name, format!("'{}': {e}", spec.name)))
        })
        .collect()
}

/// Draws every layer's weights.
pub fn initialize(
    net: &Network,
    analysis: &Analysis,
    seed: u64,
) -> Result<Vec<LayerWeights>, WeightError> {
    if let Some(e) = analysis.error(net) {
        return Err(WeightError::Invalid(e));
    }
    net.layers()
        .iter()
        .zip(&analysis.layers)
        .map(|(l, r)| initialize_layer(l, &r.weights, seed))
        .collect()
}

/// Where each layer's weights come from in the window: the opened file's arrays, a
/// filter preset, or the layer's initializers with the design's seed (plus a per-layer
/// bump for *Re-initialise <layer>*). One plan resolves to one set of weights: the run
/// and Save use the same [`WeightPlan::resolve`], so they cannot disagree.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WeightPlan {
    /// Arrays read from the opened file, by layer.
    pub loaded: HashMap<LayerId, Arc<LayerWeights>>,
    pub seed: u64,
    /// Per-layer seed offsets.
    pub bumps: HashMap<LayerId, u64>,
    pub presets: HashMap<LayerId, Preset>,
}

/// What a layer's weights were made from: equal keys give equal weights.
#[derive(Clone, Debug, PartialEq)]
pub struct DrawKey {
    source: Source,
    name: String,
    specs: Vec<WeightSpec>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Source {
    Preset(Preset),
    /// The loaded arrays (identified by their allocation).
    File(usize),
    Init(u64),
}

/// A layer's weights and what they were made from.
#[derive(Clone, Debug)]
pub struct Drawn {
    pub key: DrawKey,
    pub weights: Arc<LayerWeights>,
}

/// Whether `w` has exactly the arrays `specs` asks for.
pub fn fits(w: &LayerWeights, specs: &[WeightSpec]) -> bool {
    w.len() == specs.len()
        && w.iter().zip(specs).all(|(a, s)| {
            a.shape()
                .iter()
                .map(|&d| d as i64)
                .eq(s.shape.iter().copied())
        })
}

impl WeightPlan {
    /// The plan for a file's weights (one list per layer of `net`).
    pub fn from_file(net: &Network, weights: Vec<LayerWeights>) -> WeightPlan {
        WeightPlan {
            loaded: net
                .layers()
                .iter()
                .zip(weights)
                .map(|(l, w)| (l.id(), Arc::new(w)))
                .collect(),
            ..WeightPlan::default()
        }
    }

    /// The seed layer `id`'s initializers draw with.
    pub fn layer_seed(&self, id: LayerId) -> u64 {
        let bump = self.bumps.get(&id).copied().unwrap_or(0);
        self.seed
            .wrapping_add(bump.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    /// What `layer`'s weights are made from under this plan.
    pub fn key(&self, layer: &Layer, specs: &[WeightSpec]) -> DrawKey {
        let id = layer.id();
        let source = match (self.presets.get(&id), self.loaded.get(&id)) {
            (Some(p), _) => Source::Preset(*p),
            (None, Some(w)) if fits(w, specs) => Source::File(Arc::as_ptr(w) as usize),
            _ => Source::Init(self.layer_seed(id)),
        };
        DrawKey {
            source,
            name: layer.name.clone(),
            specs: specs.to_vec(),
        }
    }

    /// `layer`'s weights: `cached` when it was made from the same key, else made now.
    pub fn resolve(
        &self,
        layer: &Layer,
        specs: &[WeightSpec],
        cached: Option<&Drawn>,
    ) -> Result<Drawn, String> {
        let key = self.key(layer, specs);
        if let Some(c) = cached.filter(|c| c.key == key) {
            return Ok(c.clone());
        }
        let weights = match key.source {
            Source::Preset(p) => Arc::new(
                super::presets::preset_weights(p, layer, specs)
                    .map_err(|e| format!("layer '{}': {e}", layer.name))?,
            ),
            Source::File(_) => self
                .loaded
                .get(&layer.id())
                .cloned()
                .ok_or_else(|| format!("layer '{}': its file weights are gone", layer.name))?,
            Source::Init(seed) => {
                Arc::new(initialize_layer(layer, specs, seed).map_err(|e| e.to_string())?)
            }
        };
        Ok(Drawn { key, weights })
    }
}
