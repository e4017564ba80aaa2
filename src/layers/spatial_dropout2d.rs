//! `keras.layers.SpatialDropout2D`: drops whole channels in training, the identity at
//! inference.

use super::conv::DATA_FORMAT;
use super::dropout::{RATE, SEED};
use super::torch::{Torch, py_float};
use super::*;
use crate::keras::args::{ArgMut, Visitor};

#[derive(Clone, Debug, PartialEq)]
pub struct SpatialDropout2D {
    pub rate: f64,
    pub seed: Option<i64>,
    pub data_format: DataFormat,
}

impl Kind for SpatialDropout2D {
    const CLASSES: &'static [&'static str] = &["SpatialDropout2D"];
    fn new(_: &str) -> Option<Self> {
        Some(SpatialDropout2D {
            rate: 0.5,
            seed: None,
            data_format: DataFormat::ChannelsLast,
        })
    }
}

impl LayerSpec for SpatialDropout2D {
    fn class_name(&self) -> &'static str {
        "SpatialDropout2D"
    }

    fn args(&mut self, v: &mut dyn Visitor) {
        v.arg(&RATE, ArgMut::Float(&mut self.rate));
        v.arg(&SEED, ArgMut::OptInt(&mut self.seed));
        v.arg(&DATA_FORMAT, ArgMut::DataFormat(&mut self.data_format));
        v.fixed("noise_shape", None);
    }

    fn build(&self, cx: &Cx, r: &mut LayerReport) -> R<Shape> {
        dropout_rate(self.rate)?;
        cx.ndim(4)?;
        Ok(cx.same_shape(r))
    }

    fn forward(&self, inputs: &[Arc<ArrayD<f32>>], _: &[ArrayD<f32>]) -> Result<ArrayD<f32>, String> {
        Ok(first(inputs)?.clone())
    }

    fn card(&self) -> String {
        format!("SpatialDropout2D {}", self.rate)
    }

    fn family(&self) -> Family {
        Family::Dropout
    }

    fn torch(&self, t: &mut Torch) -> Result<(), String> {
        t.ready_for(self.data_format);
        let m = t.m.clone();
        t.init(format!("self.{m} = nn.Dropout2d({})", py_float(self.rate)));
        t.fwd(format!("x = self.{m}(x)"));
        Ok(())
    }

    fn data_format(&self) -> Option<DataFormat> {
        Some(self.data_format)
    }

    fn build_config(&self) -> bool {
        false
    }

    fn config_header(&self) -> ConfigHeader {
        // Keras's BaseSpatialDropout.get_config: no `trainable`, the dtype by name.
        ConfigHeader::NameAndDtypeName
    }
}
