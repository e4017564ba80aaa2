//! `keras.layers.ReLU`: `max_value`, `negative_slope` and `threshold` as Keras defines them.

use super::torch::{Torch, py_float};
use super::*;
use crate::kernels::Pointwise;

kind! {
    /// `keras.layers.ReLU`.
    pub struct ReLU: ["ReLU"], Activation, [BUILD_CONFIG = false] {
        max_value: Option<f64> = None => OptFloat, "Upper bound of the output (None: unbounded).";
        /// NaN when the config says None (Keras refuses it).
        negative_slope: f64 = 0.0 => FloatOrNone, "Slope for inputs below the threshold.";
        threshold: f64 = 0.0 => FloatOrNone, "Inputs below it use the negative slope.";
    }
}

impl LayerSpec for ReLU {
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

    fn pointwise(&self, _: &[usize], _: &[ArrayD<f32>]) -> Option<Result<Pointwise, String>> {
        let max = self.max_value.map(|m| m as f32);
        let slope = self.negative_slope as f32;
        let th = self.threshold as f32;
        Some(Ok(Pointwise::map(move |v| {
            let y = if v >= th { v } else { slope * (v - th) };
            match max {
                Some(m) if y > m => m,
                _ => y,
            }
        })))
    }

    /// 1 above the threshold (0 where `max_value` clips), `negative_slope` below.
    fn backward(&self, bw: Backward) -> Result<Grads, String> {
        let max = self.max_value.map(|m| m as f32);
        let slope = self.negative_slope as f32;
        let th = self.threshold as f32;
        let mut dy = bw.dy;
        let x = first(bw.inputs)?;
        let rule = |v: f32| {
            if v > th {
                if max.is_some_and(|m| v > m) { 0.0 } else { 1.0 }
            } else {
                slope
            }
        };
        match (dy.as_slice_mut(), x.as_slice()) {
            (Some(g), Some(v)) if g.len() == v.len() => {
                crate::kernels::elementwise::zip_in_place(g, v, |g, v| g * rule(v))
            }
            _ => ndarray::Zip::from(&mut dy)
                .and(x)
                .for_each(|g, &v| *g *= rule(v)),
        }
        Ok(Grads::input(dy))
    }

    fn card(&self) -> String {
        "ReLU".into()
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
}
