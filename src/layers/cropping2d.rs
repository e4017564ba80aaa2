//! `keras.layers.Cropping2D`: rows and columns removed at the image's borders.

use super::torch::Torch;
use super::zero_padding2d::{amount_checks, sizes};
use super::*;
use crate::kernels;

kind! {
    /// `keras.layers.Cropping2D` (Keras reads `data_format` first: its error comes first).
    pub struct Cropping2D: ["Cropping2D"], Shape {
        data_format: DataFormat = DataFormat::ChannelsLast => DataFormat, "channels_last: (batch, H, W, C). channels_first: (batch, C, H, W).";
        cropping: Amounts = Amounts { v: [[0, 0], [0, 0]], form: AmountForm::Full } => Amounts, "Rows or columns removed: one number, (rows, columns), or ((top, bottom), (left, right)).";
    }
    data_format: data_format
}

impl LayerSpec for Cropping2D {
    fn build(&self, cx: &Cx, r: &mut LayerReport) -> R<Shape> {
        amount_checks(&self.cropping, "cropping")?;
        cx.ndim(4)?;
        let input = cx.input;
        let sp = self.data_format.spatial_axes();
        let a = &self.cropping.v;
        let too_big = (0..2)
            .any(|i| input[sp[i]].is_some_and(|n| a[i][0].saturating_add(a[i][1]) >= n));
        if too_big {
            let cropping = format!("(({}, {}), ({}, {}))", a[0][0], a[0][1], a[1][0], a[1][1]);
            return Err(cx.call_error(format!(
                "Values in `cropping` argument should be smaller than the corresponding spatial \
                 dimension of the input. Received: input_shape={}, cropping={cropping}",
                pyfmt::tuple_opt(input)
            )));
        }
        let mut out = input.clone();
        for i in 0..2 {
            out[sp[i]] = out[sp[i]].map(|n| n.saturating_sub(a[i][0]).saturating_sub(a[i][1]));
        }
        r.receptive_field = Some(cx.rf.shifted([-a[0][0], -a[1][0]]));
        Ok(out)
    }

    fn forward(&self, inputs: &[Arc<ArrayD<f32>>], _: &[ArrayD<f32>]) -> Result<ArrayD<f32>, String> {
        in_nhwc(inputs, self.data_format, |x| {
            Ok(kernels::crop(x, sizes(&self.cropping)))
        })
    }

    /// The gradient padded back with zeros where the cropping cut.
    fn backward(&self, bw: Backward) -> Result<Grads, String> {
        let g = to_nhwc(&bw.dy, self.data_format)?;
        Ok(Grads::input(from_nhwc(kernels::zero_pad(g.view(), sizes(&self.cropping)), self.data_format)))
    }

    fn card(&self) -> String {
        format!("Cropping2D {:?}", self.cropping.v)
    }

    fn torch(&self, t: &mut Torch) -> Result<(), String> {
        t.ready_for(self.data_format);
        let [[top, bottom], [left, right]] = self.cropping.v;
        t.fwd(format!(
            "x = x[:, :, {top}:x.shape[2] - {bottom}, {left}:x.shape[3] - {right}]"
        ));
        Ok(())
    }
}
