//! `keras.layers.InputLayer`: the network's input, `batch_shape` with the batch axis first.

use super::torch::Torch;
use super::*;
use crate::keras::geometry::ReceptiveField;
use crate::keras::shape::elements;
use serde_json::Value;

kind! {
    /// `keras.layers.InputLayer`.
    pub struct InputLayer: ["InputLayer"], Input, [IN_PALETTE = false, BUILD_CONFIG = false, HEADER = ConfigHeader::NameOnly] {
        batch_shape: Shape = vec![None, Some(28), Some(28), Some(1)] => Shape, "Input size in pixels and channels (the batch size is left free).", alias("batch_input_shape");
        dtype: String = "float32".into() => Text(&["float32"]), "The input's number type.";
    }
    fixed {
        "sparse": Some(Value::Bool(false)),
        "ragged": Some(Value::Bool(false)),
        "optional": Some(Value::Bool(false)),
        "input_tensor": None,
    }
}

impl LayerSpec for InputLayer {
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

    /// An input has nothing before it: the engine keeps its gradient as the model's.
    fn backward(&self, _: Backward) -> Result<Grads, String> {
        Ok(Grads::default())
    }

    fn card(&self) -> String {
        format!("Input {}", pyfmt::tuple_opt(&self.batch_shape[1.min(self.batch_shape.len())..]))
    }

    fn torch(&self, _: &mut Torch) -> Result<(), String> {
        Ok(())
    }
}
