//! `keras.layers.ZeroPadding2D`: rows and columns of zeros around the image.

use super::torch::Torch;
use super::*;
use crate::kernels;

kind! {
    /// `keras.layers.ZeroPadding2D` (Keras reads `data_format` first: its error comes first).
    pub struct ZeroPadding2D: ["ZeroPadding2D"], Shape {
        data_format: DataFormat = DataFormat::ChannelsLast => DataFormat, "channels_last: (batch, H, W, C). channels_first: (batch, C, H, W).";
        padding: Amounts = Amounts { v: [[1, 1], [1, 1]], form: AmountForm::Full } => Amounts, "Rows or columns of zeros added: one number, (rows, columns), or ((top, bottom), (left, right)).";
    }
    data_format: data_format
}

/// `ZeroPadding2D`'s and `Cropping2D`'s value checks (`what`: their argument's name).
pub(super) fn amount_checks(a: &Amounts, what: &str) -> R<()> {
    match a.form {
        AmountForm::Int => {
            if what == "cropping" && a.v[0][0] < 0 {
                return Err(KerasError::construct(format!(
                    "`cropping` cannot be negative. Received: cropping={}.",
                    a.v[0][0]
                )));
            }
        }
        AmountForm::Symmetric | AmountForm::Full => {
            for (i, ord) in ["1st", "2nd"].iter().enumerate() {
                let pair = Pair {
                    v: a.v[i],
                    scalar: a.form == AmountForm::Symmetric,
                };
                tuple_check(&pair, &format!("{ord} entry of {what}"), true)?;
            }
        }
    }
    Ok(())
}

/// The amounts as engine sizes (negative ones, which Keras refuses, as 0).
pub(super) fn sizes(a: &Amounts) -> [[usize; 2]; 2] {
    a.v.map(|r| r.map(|v| v.max(0) as usize))
}

impl LayerSpec for ZeroPadding2D {
    fn build(&self, cx: &Cx, r: &mut LayerReport) -> R<Shape> {
        amount_checks(&self.padding, "padding")?;
        cx.ndim(4)?;
        let sp = self.data_format.spatial_axes();
        let mut out = cx.input.clone();
        for a in 0..2 {
            out[sp[a]] = out[sp[a]].map(|n| {
                n.saturating_add(self.padding.v[a][0])
                    .saturating_add(self.padding.v[a][1])
            });
        }
        r.receptive_field = Some(cx.rf.shifted([self.padding.v[0][0], self.padding.v[1][0]]));
        Ok(out)
    }

    fn forward(&self, inputs: &[Arc<ArrayD<f32>>], _: &[ArrayD<f32>]) -> Result<ArrayD<f32>, String> {
        if self.padding.v.iter().flatten().any(|v| *v < 0) {
            return Err(format!(
                "Paddings must be non-negative: {} {}",
                self.padding.v[0][0], self.padding.v[0][1]
            ));
        }
        in_nhwc(inputs, self.data_format, |x| {
            Ok(kernels::zero_pad(x, sizes(&self.padding)))
        })
    }

    /// The gradient with the padding cropped off.
    fn backward(&self, bw: Backward) -> Result<Grads, String> {
        let g = to_nhwc(&bw.dy, self.data_format)?;
        Ok(Grads::input(from_nhwc(kernels::crop(g.view(), sizes(&self.padding)), self.data_format)))
    }

    fn card(&self) -> String {
        format!("ZeroPadding2D {:?}", self.padding.v)
    }

    fn torch(&self, t: &mut Torch) -> Result<(), String> {
        t.ready_for(self.data_format);
        let [[top, bottom], [left, right]] = self.padding.v;
        t.fwd(format!("x = F.pad(x, ({left}, {right}, {top}, {bottom}))"));
        Ok(())
    }
}
