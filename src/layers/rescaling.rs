//! `keras.layers.Rescaling`: `x · scale + offset`.

use super::torch::{Torch, py_float};
use super::*;
use crate::kernels::Pointwise;

kind! {
    /// `keras.layers.Rescaling`.
    pub struct Rescaling: ["Rescaling"], Shape {
        scale: f64 = 1.0 / 255.0 => Float, "Multiplies every value (1/255 maps pixels to 0–1).", required;
        offset: f64 = 0.0 => Float, "Added after scaling: output = input × scale + offset.";
    }
}

impl LayerSpec for Rescaling {
    fn build(&self, cx: &Cx, r: &mut LayerReport) -> R<Shape> {
        Ok(cx.same_shape(r))
    }

    fn pointwise(&self, _: &[usize], _: &[ArrayD<f32>]) -> Option<Result<Pointwise, String>> {
        let (s, o) = (self.scale as f32, self.offset as f32);
        Some(Ok(Pointwise::map(move |v| v * s + o)))
    }

    fn backward(&self, bw: Backward) -> Result<Grads, String> {
        let s = self.scale as f32;
        let mut dy = bw.dy;
        dy.mapv_inplace(|g| g * s);
        Ok(Grads::input(dy))
    }

    fn card(&self) -> String {
        format!("Rescaling ×{:.4} {:+}", self.scale, self.offset)
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
