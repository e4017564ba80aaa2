//! `keras.layers.Activation`: one of Keras's activation functions, element-wise or over
//! the last axis.

use super::conv::activation_warnings;
use super::torch::Torch;
use super::*;
use crate::keras::objects;
use crate::kernels::{Pointwise, activations};

kind! {
    /// `keras.layers.Activation`.
    pub struct Activation: ["Activation"], Activation, [BUILD_CONFIG = false] {
        activation: String = "relu".into() => Activation, "The function applied to every value.", required;
    }
    activation: activation
}

impl LayerSpec for Activation {
    fn build(&self, cx: &Cx, r: &mut LayerReport) -> R<Shape> {
        objects::activation(&serde_json::Value::String(self.activation.clone()))
            .map_err(KerasError::construct)?;
        activation_warnings(&self.activation, None, r);
        Ok(cx.same_shape(r))
    }

    fn forward(&self, inputs: &[Arc<ArrayD<f32>>], w: &[ArrayD<f32>]) -> Result<ArrayD<f32>, String> {
        let x = first(inputs)?;
        match self.pointwise(x.shape(), w) {
            Some(p) => Ok(p?.apply(x)),
            None => activations::apply(&self.activation, x.clone()),
        }
    }

    fn pointwise(&self, _: &[usize], _: &[ArrayD<f32>]) -> Option<Result<Pointwise, String>> {
        activations::pointwise(&self.activation).map(Ok)
    }

    fn backward(&self, bw: Backward) -> Result<Grads, String> {
        let x = first(bw.inputs)?;
        Ok(Grads::input(activations::backward(&self.activation, Some(x), bw.output, bw.dy)?))
    }

    fn card(&self) -> String {
        format!("Activation {}", self.activation)
    }

    fn torch(&self, t: &mut Torch) -> Result<(), String> {
        t.act(&self.activation)
    }
}
