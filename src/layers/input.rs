//! `keras.layers.InputLayer`: the network's input, `batch_shape` with the batch axis first.

use super::torch::Torch;
use super::*;
use crate::keras::args::{Arg, ArgMut, Visitor};
use crate::keras::geometry::ReceptiveField;
use crate::keras::shape::elements;
use serde_json::Value;

const BATCH_SHAPE: Arg = Arg::new(
    "batch_shape",
    "Input size in pixels and channels (the batch size is left free).",
)
.alias("batch_input_shape");
const DTYPE: Arg = Arg::new("dtype", "The input's number type.");

#[derive(Clone, Debug, PartialEq)]
pub struct InputLayer {
    pub batch_shape: Shape,
    pub dtype: String,
}

impl Kind for InputLayer {
    const CLASSES: &'static [&'static str] = &["InputLayer"];
    const IN_PALETTE: bool = false;
    fn new(_: &str) -> Option<Self> {
        Some(InputLayer {
            batch_shape: vec![None, Some(28), Some(28), Some(1)],
            dtype: "float32".into(),
        })
    }
}

impl LayerSpec for InputLayer {
    fn class_name(&self) -> &'static str {
        "InputLayer"
    }

    fn args(&mut self, v: &mut dyn Visitor) {
        v.arg(&BATCH_SHAPE, ArgMut::Shape(&mut self.batch_shape));
        v.arg(&DTYPE, ArgMut::Text(&mut self.dtype, &["float32"]));
        v.fixed("sparse", Some(Value::Bool(false)));
        v.fixed("ragged", Some(Value::Bool(false)));
        v.fixed("optional", Some(Value::Bool(false)));
        v.fixed("input_tensor", None);
    }

    fn build(&self, _: &Cx, r: &mut LayerReport) -> R<Shape> {
        if let Some(bad) = self.batch_shape.iter().skip(1).flatten().find(|d| **d < 0) {
            return Err(KerasError::construct(format!(
                "Cannot convert '{}' to a shape. Negative dimensions are not allowed \
                 (dimension {bad}).",
                pyfmt::tuple_opt(&self.batch_shape)
            )));
        }
        r.output_bytes = elements(&self.batch_shape).saturating_mul(4);
        r.receptive_field = Some(ReceptiveField::INPUT);
        Ok(self.batch_shape.clone())
    }

    fn forward(&self, inputs: &[Arc<ArrayD<f32>>], _: &[ArrayD<f32>]) -> Result<ArrayD<f32>, String> {
        Ok(first(inputs)?.clone())
    }

    fn card(&self) -> String {
        format!("Input {}", pyfmt::tuple_opt(&self.batch_shape[1.min(self.batch_shape.len())..]))
    }

    fn family(&self) -> Family {
        Family::Input
    }

    fn torch(&self, _: &mut Torch) -> Result<(), String> {
        Ok(())
    }

    fn build_config(&self) -> bool {
        false
    }

    fn config_header(&self) -> ConfigHeader {
        ConfigHeader::NameOnly
    }
}
