//! `keras.layers.Dropout`: random zeroing in training, the identity at inference.

use super::torch::{Torch, py_float};
use super::*;
use crate::kernels::Pointwise;
use serde_json::Value;

kind! {
    /// `keras.layers.Dropout`.
    pub struct Dropout: ["Dropout"], Dropout, [BUILD_CONFIG = false] {
        rate: f64 = 0.5 => Float, "Fraction of inputs dropped during training (identity at inference).", required;
        seed: Option<i64> = None => OptInt, "Seed of the dropout mask (None: random).";
        noise_shape: Value = Value::Null => Json, "Shape of the mask, broadcast over the input.";
    }
}

impl LayerSpec for Dropout {
    fn build(&self, cx: &Cx, r: &mut LayerReport) -> R<Shape> {
        dropout_rate(self.rate)?;
        Ok(cx.same_shape(r))
    }

    fn pointwise(&self, _: &[usize], _: &[ArrayD<f32>]) -> Option<Result<Pointwise, String>> {
        Some(Ok(Pointwise::identity()))
    }

    /// Inference: the identity.
    fn backward(&self, bw: Backward) -> Result<Grads, String> {
        Ok(Grads::input(bw.dy))
    }

    /// Training: a seeded mask over the whole input (convscope's own draws; Keras's
    /// JAX generator is not reproduced), or over `noise_shape` broadcast.
    fn forward_training(
        &self,
        inputs: &[Arc<ArrayD<f32>>],
        _: &[ArrayD<f32>],
        _: bool,
        rng: &mut dyn FnMut() -> f32,
    ) -> Option<Result<Trained, String>> {
        let x = match first(inputs) {
            Ok(x) => x,
            Err(e) => return Some(Err(e)),
        };
        let shape: Result<Vec<usize>, String> = match &self.noise_shape {
            Value::Null => Ok(x.shape().to_vec()),
            Value::Array(dims) if dims.len() == x.ndim() => dims
                .iter()
                .zip(x.shape())
                .map(|(d, &n)| match d {
                    Value::Null => Ok(n),
                    v => v
                        .as_u64()
                        .map(|v| v as usize)
                        .ok_or_else(|| format!("noise_shape entry {v} is not a size")),
                })
                .collect(),
            v => Err(format!("noise_shape {v} does not fit an input of rank {}", x.ndim())),
        };
        Some(shape.and_then(|s| dropout_training(x, self.rate, &s, rng)))
    }

    fn backward_training(&self, bw: Backward, kept: &[ArrayD<f32>]) -> Result<Grads, String> {
        dropout_backward(bw, kept)
    }

    fn card(&self) -> String {
        format!("Dropout {}", self.rate)
    }

    fn torch(&self, t: &mut Torch) -> Result<(), String> {
        t.module(format!("Dropout({})", py_float(self.rate)));
        Ok(())
    }
}
