//! The forward pass in training mode (Keras's `training=True`): each layer's
//! [`crate::layers::LayerSpec::forward_training`] where its kind has one
//! (BatchNormalization's batch statistics, Dropout's masks), its inference forward
//! elsewhere; what the training-mode backward rules need is kept per layer, and the
//! state the pass changes (moving statistics) is returned, not applied.

use super::forward::{EngineError, LayerRun, LayerWeights, place_inputs};
use crate::model::Analysis;
use crate::model::network::Network;
use ndarray::ArrayD;
use std::sync::Arc;
use std::time::Instant;

/// A training-mode forward pass.
pub struct TrainingPass {
    pub acts: Vec<Option<LayerRun>>,
    /// Per layer: what its training-mode backward rule reads (for
    /// [`super::backward::backward_kept`]); `None` where inference's rule applies.
    pub kept: Vec<Option<Vec<ArrayD<f32>>>>,
    /// Per layer: weight arrays (by index) the pass assigns, as Keras's
    /// BatchNormalization assigns its moving statistics while it runs.
    pub updates: Vec<Vec<(usize, ArrayD<f32>)>>,
}

/// Runs `net` (its `analysis`, read once by the caller) on `inputs` (one per model
/// input) in training mode; `rng` draws the uniform values of the dropout masks.
pub fn forward_training<W: std::borrow::Borrow<LayerWeights>>(
    net: &Network,
    analysis: &Analysis,
    weights: &[W],
    inputs: Vec<Arc<ArrayD<f32>>>,
    rng: &mut dyn FnMut() -> f32,
) -> Result<TrainingPass, EngineError> {
    if let Some(msg) = analysis.error(net) {
        return Err(EngineError::Invalid(msg));
    }
    let n = net.len();
    let mut pass = TrainingPass {
        acts: vec![None; n],
        kept: vec![None; n],
        updates: vec![Vec::new(); n],
    };
    for (i, x) in place_inputs(net, inputs)? {
        pass.acts[i] = Some(LayerRun {
            output: x,
            millis: 0.0,
        });
    }
    for (i, layer) in net.layers().iter().enumerate() {
        if layer.kind.is_input() {
            continue;
        }
        let failed = |message: String| EngineError::Layer {
            layer: layer.name.clone(),
            message,
        };
        let ins: Vec<Arc<ArrayD<f32>>> = net
            .inputs_of(i)
            .iter()
            .map(|&j| {
                pass.acts
                    .get(j)
                    .and_then(|a| a.as_ref())
                    .map(|a| a.output.clone())
                    .ok_or_else(|| failed(format!("input from layer {j} has not been computed")))
            })
            .collect::<Result<_, _>>()?;
        let start = Instant::now();
        let w: &[ArrayD<f32>] = weights.get(i).map_or(&[], |w| w.borrow().as_slice());
        let spec = layer.kind.spec();
        let output = match spec.forward_training(&ins, w, layer.trainable, rng) {
            Some(t) => {
                let t = t.map_err(failed)?;
                pass.kept[i] = Some(t.kept);
                pass.updates[i] = t.updates;
                t.output
            }
            None => spec.forward(&ins, w).map_err(failed)?,
        };
        pass.acts[i] = Some(LayerRun {
            output: Arc::new(output),
            millis: start.elapsed().as_secs_f64() * 1e3,
        });
    }
    Ok(pass)
}
