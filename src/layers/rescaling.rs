//! `keras.layers.Rescaling`: `x · scale + offset`.

use super::torch::{Torch, py_float};
use super::*;
use crate::keras::args::{Arg, ArgMut, Visitor};

const SCALE: Arg = Arg::new("scale", "Multiplies every value (1/255 maps pixels to 0–1).").required();
const OFFSET: Arg = Arg::new("offset", "Added after scaling: output = input × scale + offset.");

#[derive(Clone, Debug, PartialEq)]
pub struct Rescaling {
    pub scale: f64,
    pub offset: f64,
}

impl Kind for Rescaling {
    const CLASSES: &'static [&'static str] = &["Rescaling"];
    fn new(_: &str) -> Option<Self> {
        Some(Rescaling {
            scale: 1.0 / 255.0,
            offset: 0.0,
        })
    }
}

impl LayerSpec for Rescaling {
    fn class_name(&self) -> &'static str {
        "Rescaling"
    }

    fn args(&mut self, v: &mut dyn Visitor) {
        v.arg(&SCALE, ArgMut::Float(&mut self.scale));
        v.arg(&OFFSET, ArgMut::Float(&mut self.offset));
    }

    fn build(&self, cx: &Cx, r: &mut LayerReport) -> R<Shape> {
        Ok(cx.same_shape(r))
    }

    fn forward(&self, inputs: &[Arc<ArrayD<f32>>], _: &[ArrayD<f32>]) -> Result<ArrayD<f32>, String> {
        let (s, o) = (self.scale as f32, self.offset as f32);
        Ok(first(inputs)?.mapv(|v| v * s + o))
    }

    fn card(&self) -> String {
        format!("Rescaling ×{:.4} {:+}", self.scale, self.offset)
    }

    fn family(&self) -> Family {
        Family::Shape
    }

    fn torch(&self, t: &mut Torch) -> Result<(), String> {
        t.fwd(format!(
            "x = x * {} + {}",
            py_float(self.scale),
            py_float(self.offset)
        ));
        Ok(())
    }
}
