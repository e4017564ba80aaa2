//! `keras.layers.Dropout`: random zeroing in training, the identity at inference.

use super::torch::{Torch, py_float};
use super::*;
use crate::keras::args::{Arg, ArgMut, Visitor};
use serde_json::Value;

pub(super) const RATE: Arg = Arg::new(
    "rate",
    "Fraction of inputs dropped during training (identity at inference).",
)
.required();
pub(super) const SEED: Arg = Arg::new("seed", "Seed of the dropout mask (None: random).");
const NOISE_SHAPE: Arg = Arg::new("noise_shape", "Shape of the mask, broadcast over the input.");

#[derive(Clone, Debug, PartialEq)]
pub struct Dropout {
    pub rate: f64,
    pub seed: Option<i64>,
    pub noise_shape: Value,
}

impl Kind for Dropout {
    const CLASSES: &'static [&'static str] = &["Dropout"];
    fn new(_: &str) -> Option<Self> {
        Some(Dropout {
            rate: 0.5,
            seed: None,
            noise_shape: Value::Null,
        })
    }
}

impl LayerSpec for Dropout {
    fn class_name(&self) -> &'static str {
        "Dropout"
    }

    fn args(&mut self, v: &mut dyn Visitor) {
        v.arg(&RATE, ArgMut::Float(&mut self.rate));
        v.arg(&SEED, ArgMut::OptInt(&mut self.seed));
        v.arg(&NOISE_SHAPE, ArgMut::Json(&mut self.noise_shape));
    }

    fn build(&self, cx: &Cx, r: &mut LayerReport) -> R<Shape> {
        dropout_rate(self.rate)?;
        Ok(cx.same_shape(r))
    }

    fn forward(&self, inputs: &[Arc<ArrayD<f32>>], _: &[ArrayD<f32>]) -> Result<ArrayD<f32>, String> {
        Ok(first(inputs)?.clone())
    }

    fn card(&self) -> String {
        format!("Dropout {}", self.rate)
    }

    fn family(&self) -> Family {
        Family::Dropout
    }

    fn torch(&self, t: &mut Torch) -> Result<(), String> {
        let m = t.m.clone();
        t.init(format!("self.{m} = nn.Dropout({})", py_float(self.rate)));
        t.fwd(format!("x = self.{m}(x)"));
        Ok(())
    }

    fn build_config(&self) -> bool {
        false
    }
}
