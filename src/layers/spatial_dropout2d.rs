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

    /// Training: one seeded draw per sample and channel, the whole feature map kept or
    /// dropped (noise shape `(batch, 1, 1, C)`, channels first `(batch, C, 1, 1)`).
    fn forward_training(
        &self,
        inputs: &[Arc<ArrayD<f32>>],
        _: &[ArrayD<f32>],
        _: bool,
        rng: &mut dyn FnMut() -> f32,
    ) -> Option<Result<Trained, String>> {
        let x = match first(inputs) {
            Ok(x) => x,
            Err(e) => return Some(Err(e)),
        };
        let s = x.shape();
        if s.len() != 4 {
            return Some(Err("SpatialDropout2D needs a rank-4 input".into()));
        }
        let mask = if self.data_format.is_first() {
            [s[0], s[1], 1, 1]
        } else {
            [s[0], 1, 1, s[3]]
        };
        Some(dropout_training(x, self.rate, &mask, rng))
    }

    fn backward_training(&self, bw: Backward, kept: &[ArrayD<f32>]) -> Result<Grads, String> {
        dropout_backward(bw, kept)
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
