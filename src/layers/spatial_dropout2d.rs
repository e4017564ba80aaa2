//! `keras.layers.SpatialDropout2D`: drops whole channels in training, the identity at
//! inference.

use super::torch::{Torch, py_float};
use super::*;
use crate::kernels::Pointwise;

kind! {
    /// `keras.layers.SpatialDropout2D`.
    pub struct SpatialDropout2D: ["SpatialDropout2D"], Dropout, [BUILD_CONFIG = false, HEADER = ConfigHeader::NameAndDtypeName] {
        rate: f64 = 0.5 => Float, "Fraction of channels dropped during training (identity at inference).", required;
        seed: Option<i64> = None => OptInt, "Seed of the dropout mask (None: random).";
        data_format: DataFormat = DataFormat::ChannelsLast => DataFormat, "channels_last: (batch, H, W, C). channels_first: (batch, C, H, W).";
    }
    fixed { "noise_shape": None }
    data_format: data_format
}

impl LayerSpec for SpatialDropout2D {
    fn build(&self, cx: &Cx, r: &mut LayerReport) -> R<Shape> {
        dropout_rate(self.rate)?;
        cx.ndim(4)?;
        Ok(cx.same_shape(r))
    }

    fn pointwise(&self, _: &[usize], _: &[ArrayD<f32>]) -> Option<Result<Pointwise, String>> {
        Some(Ok(Pointwise::identity()))
    }

    /// Inference: the identity.
    fn backward(&self, bw: Backward) -> Result<Grads, String> {
        Ok(Grads::input(bw.dy))
    }

    fn card(&self) -> String {
        format!("SpatialDropout2D {}", self.rate)
    }

    fn torch(&self, t: &mut Torch) -> Result<(), String> {
        t.ready_for(self.data_format);
        t.module(format!("Dropout2d({})", py_float(self.rate)));
        Ok(())
    }
}
