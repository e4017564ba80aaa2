//! InceptionResNetV2's `CustomScaleLayer` (module `keras.src.applications.inception_resnet_v2`):
//! `inputs[0] + inputs[1] * scale`, the residual branch scaled before it is added to the
//! shortcut.

use super::numpy_op::broadcast_shapes;
use super::torch::{Torch, py_float};
use super::*;

kind! {
    /// `keras.src.applications.inception_resnet_v2.CustomScaleLayer`.
    pub struct CustomScaleLayer: ["keras.src.applications.inception_resnet_v2.CustomScaleLayer"], Merge,
        [IN_PALETTE = false, TAKES_LIST = true, MODULE = "keras.src.applications.inception_resnet_v2"] {
        scale: f64 = 1.0 => Float, "Factor of the second input (the residual) before it is added to the first (the shortcut).", required;
    }
}

impl LayerSpec for CustomScaleLayer {
    fn build(&self, cx: &Cx, r: &mut LayerReport) -> R<Shape> {
        let [a, b] = cx.inputs else {
            return Err(KerasError::build(format!(
                "CustomScaleLayer adds two inputs (the shortcut and the residual); it is given {}",
                cx.inputs.len()
            )));
        };
        let out = broadcast_shapes(a, b)?;
        r.receptive_field = cx.merged_rf(&out);
        Ok(out)
    }

    fn forward(&self, inputs: &[Arc<ArrayD<f32>>], _: &[ArrayD<f32>]) -> Result<ArrayD<f32>, String> {
        let [a, b] = inputs else {
            return Err("CustomScaleLayer needs two inputs".into());
        };
        let s = self.scale as f32;
        let b = b
            .broadcast(a.raw_dim())
            .ok_or("CustomScaleLayer's inputs have incompatible shapes")?;
        Ok(ndarray::Zip::from(a.as_ref())
            .and(&b)
            .map_collect(|&x, &y| x + y * s))
    }

    /// `x + scale·r`: the gradient to `x`, and `scale` times it (summed over the axes
    /// `r` was broadcast along) to `r`.
    fn backward(&self, bw: Backward) -> Result<Grads, String> {
        let [_, b] = bw.inputs else {
            return Err("CustomScaleLayer needs two inputs".into());
        };
        let s = self.scale as f32;
        let db = unbroadcast(bw.dy.mapv(|g| g * s), b.shape())?;
        Ok(Grads {
            inputs: vec![bw.dy, db],
            weights: Vec::new(),
        })
    }

    fn card(&self) -> String {
        format!("x + {} · residual", py_float(self.scale))
    }

    fn torch(&self, _: &mut Torch) -> Result<(), String> {
        Err("CustomScaleLayer (InceptionResNetV2) has no PyTorch translation yet".into())
    }
}
