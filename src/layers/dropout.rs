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

    fn card(&self) -> String {
        format!("Dropout {}", self.rate)
    }

    fn torch(&self, t: &mut Torch) -> Result<(), String> {
        t.module(format!("Dropout({})", py_float(self.rate)));
        Ok(())
    }
}
