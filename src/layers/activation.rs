//! `keras.layers.Activation`: one of Keras's activation functions, element-wise or over
//! the last axis.

use super::conv::activation_warnings;
use super::torch::Torch;
use super::*;
use crate::keras::args::{Arg, ArgMut, Visitor};
use crate::keras::objects;
use crate::kernels::{self, activations};

const ACTIVATION: Arg = Arg::new("activation", "The function applied to every value.").required();

#[derive(Clone, Debug, PartialEq)]
pub struct Activation {
    pub activation: String,
}

impl Kind for Activation {
    const CLASSES: &'static [&'static str] = &["Activation"];
    fn new(_: &str) -> Option<Self> {
        Some(Activation {
            activation: "relu".into(),
        })
    }
}

impl LayerSpec for Activation {
    fn class_name(&self) -> &'static str {
        "Activation"
    }

    fn args(&mut self, v: &mut dyn Visitor) {
        v.arg(&ACTIVATION, ArgMut::Activation(&mut self.activation));
    }

    fn build(&self, cx: &Cx, r: &mut LayerReport) -> R<Shape> {
        objects::activation(&serde_json::Value::String(self.activation.clone()))
            .map_err(KerasError::construct)?;
        activation_warnings(&self.activation, None, r);
        Ok(cx.same_shape(r))
    }

    fn forward(&self, inputs: &[Arc<ArrayD<f32>>], _: &[ArrayD<f32>]) -> Result<ArrayD<f32>, String> {
        let x = first(inputs)?;
        match self.activation.as_str() {
            "relu" => Ok(kernels::map(x, |v| v.max(0.0))),
            a => match activations::elementwise(a) {
                Some(f) => Ok(kernels::map(x, f)),
                None => activations::apply(a, x.clone()),
            },
        }
    }

    fn card(&self) -> String {
        format!("Activation {}", self.activation)
    }

    fn family(&self) -> Family {
        Family::Activation
    }

    fn torch(&self, t: &mut Torch) -> Result<(), String> {
        t.act(&self.activation)
    }

    fn activation(&self) -> Option<&str> {
        Some(&self.activation)
    }

    fn build_config(&self) -> bool {
        false
    }
}
