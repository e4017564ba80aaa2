//! `keras.layers.LeakyReLU`: `x` above zero, `negative_slope · x` below (Keras 2 called
//! the slope `alpha`).

use super::torch::{Torch, py_float};
use super::*;
use crate::kernels::Pointwise;

kind! {
    /// `keras.layers.LeakyReLU`.
    pub struct LeakyReLU: ["LeakyReLU"], Activation, [BUILD_CONFIG = false] {
        /// NaN when the config says None (Keras refuses it).
        negative_slope: f64 = 0.3 => FloatOrNone, "Slope for negative inputs.", alias("alpha");
    }
}

impl LayerSpec for LeakyReLU {
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

    fn pointwise(&self, _: &[usize], _: &[ArrayD<f32>]) -> Option<Result<Pointwise, String>> {
        let s = self.negative_slope as f32;
        Some(Ok(Pointwise::map(move |v| if v >= 0.0 { v } else { s * v })))
    }

    fn backward(&self, bw: Backward) -> Result<Grads, String> {
        let s = self.negative_slope as f32;
        let mut dy = bw.dy;
        ndarray::Zip::from(&mut dy)
            .and(first(bw.inputs)?)
            .for_each(|g, &v| *g *= if v >= 0.0 { 1.0 } else { s });
        Ok(Grads::input(dy))
    }

    fn card(&self) -> String {
        format!("LeakyReLU {}", self.negative_slope)
    }

    fn torch(&self, t: &mut Torch) -> Result<(), String> {
        t.fwd(format!(
            "x = F.leaky_relu(x, {})",
            py_float(self.negative_slope)
        ));
        Ok(())
    }
}
