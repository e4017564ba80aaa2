//! `keras.layers.ReLU`: `max_value`, `negative_slope` and `threshold` as Keras defines them.

use super::torch::{Torch, py_float};
use super::*;
use crate::keras::args::{Arg, ArgMut, Visitor};

const MAX_VALUE: Arg = Arg::new("max_value", "Upper bound of the output (None: unbounded).");
const NEGATIVE_SLOPE: Arg = Arg::new("negative_slope", "Slope for inputs below the threshold.");
const THRESHOLD: Arg = Arg::new("threshold", "Inputs below it use the negative slope.");

#[derive(Clone, Debug, PartialEq)]
pub struct ReLU {
    pub max_value: Option<f64>,
    /// NaN when the config says None (Keras refuses it).
    pub negative_slope: f64,
    pub threshold: f64,
}

impl Kind for ReLU {
    const CLASSES: &'static [&'static str] = &["ReLU"];
    fn new(_: &str) -> Option<Self> {
        Some(ReLU {
            max_value: None,
            negative_slope: 0.0,
            threshold: 0.0,
        })
    }
}

impl LayerSpec for ReLU {
    fn class_name(&self) -> &'static str {
        "ReLU"
    }

    fn args(&mut self, v: &mut dyn Visitor) {
        v.arg(&MAX_VALUE, ArgMut::OptFloat(&mut self.max_value));
        v.arg(&NEGATIVE_SLOPE, ArgMut::FloatOrNone(&mut self.negative_slope));
        v.arg(&THRESHOLD, ArgMut::FloatOrNone(&mut self.threshold));
    }

    fn build(&self, cx: &Cx, r: &mut LayerReport) -> R<Shape> {
        if let Some(m) = self.max_value
            && m < 0.0
        {
            return Err(KerasError::construct(format!(
                "max_value of a ReLU layer cannot be a negative value. Received: max_value={}",
                pyfmt::float(m)
            )));
        }
        if self.negative_slope.is_nan() || self.negative_slope < 0.0 {
            return Err(KerasError::construct(format!(
                "negative_slope of a ReLU layer cannot be None or a negative value. Received: \
                 negative_slope={}",
                float_or_none(self.negative_slope)
            )));
        }
        if self.threshold.is_nan() || self.threshold < 0.0 {
            return Err(KerasError::construct(format!(
                "threshold of a ReLU layer cannot be None or a negative value. Received: \
                 threshold={}",
                float_or_none(self.threshold)
            )));
        }
        Ok(cx.same_shape(r))
    }

    fn forward(&self, inputs: &[Arc<ArrayD<f32>>], _: &[ArrayD<f32>]) -> Result<ArrayD<f32>, String> {
        let max = self.max_value.map(|m| m as f32);
        let slope = self.negative_slope as f32;
        let th = self.threshold as f32;
        Ok(first(inputs)?.mapv(|v| {
            let y = if v >= th { v } else { slope * (v - th) };
            match max {
                Some(m) if y > m => m,
                _ => y,
            }
        }))
    }

    fn card(&self) -> String {
        "ReLU".into()
    }

    fn family(&self) -> Family {
        Family::Activation
    }

    fn torch(&self, t: &mut Torch) -> Result<(), String> {
        let mut e = if self.threshold == 0.0 && self.negative_slope == 0.0 {
            "F.relu(x)".to_string()
        } else {
            format!(
                "torch.where(x >= {th}, x, {slope} * (x - {th}))",
                th = py_float(self.threshold),
                slope = py_float(self.negative_slope)
            )
        };
        if let Some(mx) = self.max_value {
            e = format!("torch.clamp({e}, max={})", py_float(mx));
        }
        t.fwd(format!("x = {e}"));
        Ok(())
    }

    fn build_config(&self) -> bool {
        false
    }
}
