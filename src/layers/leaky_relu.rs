//! `keras.layers.LeakyReLU`: `x` above zero, `negative_slope · x` below (Keras 2 called
//! the slope `alpha`).

use super::torch::{Torch, py_float};
use super::*;
use crate::keras::args::{Arg, ArgMut, Visitor};

const NEGATIVE_SLOPE: Arg =
    Arg::new("negative_slope", "Slope for negative inputs.").alias("alpha");

#[derive(Clone, Debug, PartialEq)]
pub struct LeakyReLU {
    /// NaN when the config says None (Keras refuses it).
    pub negative_slope: f64,
}

impl Kind for LeakyReLU {
    const CLASSES: &'static [&'static str] = &["LeakyReLU"];
    fn new(_: &str) -> Option<Self> {
        Some(LeakyReLU {
            negative_slope: 0.3,
        })
    }
}

impl LayerSpec for LeakyReLU {
    fn class_name(&self) -> &'static str {
        "LeakyReLU"
    }

    fn args(&mut self, v: &mut dyn Visitor) {
        v.arg(&NEGATIVE_SLOPE, ArgMut::FloatOrNone(&mut self.negative_slope));
    }

    fn build(&self, cx: &Cx, r: &mut LayerReport) -> R<Shape> {
        let s = self.negative_slope;
        if s.is_nan() || s < 0.0 {
            return Err(KerasError::construct(format!(
                "The negative_slope value of a Leaky ReLU layer cannot be None or negative \
                 value. Expected a float. Received: negative_slope={}",
                float_or_none(s)
            )));
        }
        Ok(cx.same_shape(r))
    }

    fn forward(&self, inputs: &[Arc<ArrayD<f32>>], _: &[ArrayD<f32>]) -> Result<ArrayD<f32>, String> {
        let s = self.negative_slope as f32;
        Ok(first(inputs)?.mapv(|v| if v >= 0.0 { v } else { s * v }))
    }

    fn card(&self) -> String {
        format!("LeakyReLU {}", self.negative_slope)
    }

    fn family(&self) -> Family {
        Family::Activation
    }

    fn torch(&self, t: &mut Torch) -> Result<(), String> {
        t.fwd(format!(
            "x = F.leaky_relu(x, {})",
            py_float(self.negative_slope)
        ));
        Ok(())
    }

    fn build_config(&self) -> bool {
        false
    }
}
