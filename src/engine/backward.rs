//! The backward pass over a [`Network`]'s graph in inference mode (BatchNormalization
//! with its moving statistics, Dropout off), from a forward pass's kept activations.
//!
//! The scalar is `Σ_l sum(output_l ⊙ cotangent_l)` over the seeded layers (`convscope
//! grad`: the model's output and a cotangent of ones, or any layer's). Layers are
//! visited in reverse topological order; each kind's own rule
//! ([`crate::layers::LayerSpec::backward`]) turns the gradient of its output into those
//! of its inputs and weights; a layer read by several others sums their gradients. A
//! kind without a rule is an error naming the layer, never a guess.

use super::forward::{EngineError, LayerRun, LayerWeights};
use crate::layers::Backward;
use crate::model::network::Network;
use crate::progress::Progress;
use ndarray::ArrayD;

/// What a backward pass keeps besides the inputs' gradients.
#[derive(Clone, Copy, Debug, Default)]
pub struct Wanted {
    /// Gradients of the trainable weights (layers with `trainable: false` have none, as
    /// in Keras's `trainable_weights`).
    pub weights: bool,
    /// The gradient of every layer's output (`--activations`, Grad-CAM's layer).
    pub outputs: bool,
    /// Layers below this position are not back-propagated through (their output
    /// gradients are still complete): Grad-CAM needs nothing under its layer.
    pub down_to: usize,
}

/// The result of [`backward`].
#[derive(Debug, Default)]
pub struct Gradients {
    /// d scalar / d each model input, in [`Network::input_layers`] order (zeros for an
    /// input the scalar does not depend on, or one below [`Wanted::down_to`]).
    pub inputs: Vec<ArrayD<f32>>,
    /// Per layer position: d scalar / d each weight array in `get_weights()` order
    /// (`None` for arrays without a gradient); empty unless [`Wanted::weights`].
    pub weights: Vec<Vec<Option<ArrayD<f32>>>>,
    /// Per layer position: d scalar / d its output (`None` where the scalar does not
    /// depend on it); all `None` unless [`Wanted::outputs`].
    pub outputs: Vec<Option<ArrayD<f32>>>,
    /// Per layer position: the milliseconds its backward rule took (0 for layers not
    /// reached).
    pub millis: Vec<f64>,
}

/// The gradients of `Σ sum(output_l ⊙ seed_l)` for `seeds` (layer position, cotangent
/// of that layer's output shape), from the activations `acts` of a forward pass of
/// `net` with `weights` ([`super::forward::run_inputs`]). Counts one unit per layer on
/// `progress` and stops with [`EngineError::Cancelled`] when it is cancelled.
pub fn backward<W: std::borrow::Borrow<LayerWeights>>(
    net: &Network,
    weights: &[W],
    acts: &[Option<LayerRun>],
    seeds: Vec<(usize, ArrayD<f32>)>,
    wanted: Wanted,
    progress: &Progress,
) -> Result<Gradients, EngineError> {
    backward_kept(net, weights, acts, seeds, wanted, progress, &[])
}

/// [`backward`] after a training-mode forward pass: a layer with something in `kept`
/// (what its [`crate::layers::LayerSpec::forward_training`] kept) takes its
/// training-mode rule ([`crate::layers::LayerSpec::backward_training`]).
pub fn backward_kept<W: std::borrow::Borrow<LayerWeights>>(
    net: &Network,
    weights: &[W],
    acts: &[Option<LayerRun>],
    seeds: Vec<(usize, ArrayD<f32>)>,
    wanted: Wanted,
    progress: &Progress,
    kept: &[Option<Vec<ArrayD<f32>>>],
) -> Result<Gradients, EngineError> {
    let n = net.len();
    let layer_error = |i: usize, message: String| EngineError::Layer {
        layer: net.layers()[i].name.clone(),
        message,
    };
    let output_of = |i: usize| -> Result<&LayerRun, EngineError> {
        acts.get(i)
            .and_then(|a| a.as_ref())
            .ok_or_else(|| layer_error(i, "its output has not been computed".into()))
    };
    let mut grads: Vec<Option<ArrayD<f32>>> = vec![None; n];
    for (i, seed) in seeds {
        if i >= n {
            return Err(EngineError::Invalid(format!("no layer at position {i}")));
        }
        let y = &output_of(i)?.output;
        if seed.shape() != y.shape() {
            return Err(layer_error(
                i,
                format!(
                    "the cotangent has shape {:?}, the layer's output {:?}",
                    seed.shape(),
                    y.shape()
                ),
            ));
        }
        accumulate(&mut grads[i], seed);
    }
    let mut out = Gradients {
        inputs: Vec::new(),
        weights: if wanted.weights {
            vec![Vec::new(); n]
        } else {
            Vec::new()
        },
        outputs: vec![None; n],
        millis: vec![0.0; n],
    };
    progress.set_total(n as u64);
    for i in (0..n).rev() {
        if progress.cancelled() {
            return Err(EngineError::Cancelled);
        }
        progress.advance(1);
        let layer = &net.layers()[i];
        if layer.kind.is_input() || i < wanted.down_to {
            continue;
        }
        let Some(dy) = grads[i].take() else {
            continue;
        };
        if wanted.outputs {
            out.outputs[i] = Some(dy.clone());
        }
        let from = net.inputs_of(i);
        let inputs = from
            .iter()
            .map(|&j| output_of(j).map(|r| r.output.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        let own_weights = wanted.weights && layer.trainable;
        let w: &[ArrayD<f32>] = weights.get(i).map_or(&[], |w| w.borrow().as_slice());
        let started = std::time::Instant::now();
        let b = Backward {
            inputs: &inputs,
            output: &output_of(i)?.output,
            weights: w,
            dy,
            want_weights: own_weights,
        };
        let spec = layer.kind.spec();
        let result = match kept.get(i).and_then(|k| k.as_ref()) {
            Some(k) => spec.backward_training(b, k),
            None => spec.backward(b),
        }
        .map_err(|m| layer_error(i, format!("{m} ({} backward)", layer.kind.class_name())))?;
        out.millis[i] = started.elapsed().as_secs_f64() * 1e3;
        if result.inputs.len() != from.len() {
            return Err(layer_error(
                i,
                format!(
                    "its backward rule gave {} input gradients for {} inputs",
                    result.inputs.len(),
                    from.len()
                ),
            ));
        }
        for ((&j, g), x) in from.iter().zip(result.inputs).zip(&inputs) {
            if g.shape() != x.shape() {
                return Err(layer_error(
                    i,
                    format!(
                        "its backward rule gave an input gradient of shape {:?} for an input of {:?}",
                        g.shape(),
                        x.shape()
                    ),
                ));
            }
            accumulate(&mut grads[j], g);
        }
        if own_weights {
            for (k, (g, a)) in result.weights.iter().zip(w).enumerate() {
                if let Some(g) = g
                    && g.shape() != a.shape()
                {
                    return Err(layer_error(
                        i,
                        format!(
                            "its backward rule gave weight {k} a gradient of shape {:?} for {:?}",
                            g.shape(),
                            a.shape()
                        ),
                    ));
                }
            }
            out.weights[i] = result.weights;
        }
    }
    for &i in &net.input_layers() {
        let shape = output_of(i)?.output.shape().to_vec();
        let g = grads[i].take();
        if wanted.outputs {
            out.outputs[i] = g.clone();
        }
        out.inputs
            .push(g.unwrap_or_else(|| ArrayD::zeros(ndarray::IxDyn(&shape))));
    }
    if wanted.outputs {
        // Layers under `down_to` keep the gradients their readers sent them.
        for (i, g) in grads.into_iter().enumerate() {
            if g.is_some() && out.outputs[i].is_none() {
                out.outputs[i] = g;
            }
        }
    } else if wanted.down_to > 0 {
        out.outputs = grads;
    }
    Ok(out)
}

/// `slot += g` (or `slot = g` when empty).
fn accumulate(slot: &mut Option<ArrayD<f32>>, g: ArrayD<f32>) {
    match slot {
        Some(a) => *a += &g,
        None => *slot = Some(g),
    }
}
