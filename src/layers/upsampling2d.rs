//! `keras.layers.UpSampling2D`: each pixel repeated (`nearest`) or interpolated
//! (`bilinear`) by integer factors.

use super::torch::Torch;
use super::*;
use crate::kernels;

kind! {
    /// `keras.layers.UpSampling2D`.
    pub struct UpSampling2D: ["UpSampling2D"], Shape {
        size: Pair = Pair::square(2) => Pair, "Upsampling factors for rows and columns.";
        data_format: DataFormat = DataFormat::ChannelsLast => DataFormat, "channels_last: (batch, H, W, C). channels_first: (batch, C, H, W).";
        /// Lower-cased, as Keras's constructor does; checked when the layer runs.
        interpolation: String = "nearest".into() => LowerText(&["nearest", "bilinear"]), "How new pixels are computed: nearest copies, bilinear blends.";
    }
    data_format: data_format
}

const KERAS_MODES: [&str; 6] = ["bilinear", "nearest", "lanczos3", "lanczos5", "bicubic", "area"];

impl LayerSpec for UpSampling2D {
    fn build(&self, cx: &Cx, r: &mut LayerReport) -> R<Shape> {
        tuple_check(&self.size, "size", false)?;
        cx.ndim(4)?;
        let interp = self.interpolation.to_lowercase();
        if !KERAS_MODES.contains(&interp.as_str()) {
            r.warnings.push(format!(
                "Invalid value for argument `interpolation`. Expected of one ('bilinear', \
                 'nearest', 'lanczos3', 'lanczos5', 'bicubic', 'area'). Received: \
                 interpolation={interp} (Keras only fails when the layer runs)."
            ));
        }
        let sp = self.data_format.spatial_axes();
        let mut out = cx.input.clone();
        for a in 0..2 {
            out[sp[a]] = out[sp[a]].map(|n| n.saturating_mul(self.size.v[a]));
        }
        r.receptive_field = Some(cx.rf.upsampled(self.size.v, [1.0, 1.0]));
        Ok(out)
    }

    fn forward(&self, inputs: &[Arc<ArrayD<f32>>], _: &[ArrayD<f32>]) -> Result<ArrayD<f32>, String> {
        let x4 = to_nhwc(first(inputs)?, self.data_format)?;
        let size = self.size.dims();
        let y = match self.interpolation.to_lowercase().as_str() {
            "nearest" => kernels::upsample_nearest(x4.view(), size),
            "bilinear" => {
                let (_, h, wd, _) = x4.dim();
                kernels::resize_bilinear(x4.view(), h * size[0], wd * size[1])
            }
            other => {
                return Err(format!(
                    "Invalid value for argument `interpolation`. Expected of one \
                     ('bilinear', 'nearest', 'lanczos3', 'lanczos5', 'bicubic', 'area'). \
                     Received: interpolation={other}{}",
                    if KERAS_MODES.contains(&other) {
                        " (convscope supports nearest and bilinear)"
                    } else {
                        ""
                    }
                ));
            }
        };
        Ok(from_nhwc(y, self.data_format))
    }

    fn backward(&self, bw: Backward) -> Result<Grads, String> {
        let x4 = to_nhwc(first(bw.inputs)?, self.data_format)?;
        let (_, h, wd, _) = x4.dim();
        let g = to_nhwc(&bw.dy, self.data_format)?;
        let dx = match self.interpolation.to_lowercase().as_str() {
            "nearest" => kernels::grad::upsample_nearest_grad(g.view(), self.size.dims(), [h, wd]),
            "bilinear" => kernels::grad::resize_bilinear_grad(g.view(), [h, wd]),
            other => return Err(format!("no gradient rule for interpolation={other}")),
        };
        Ok(Grads::input(from_nhwc(dx, self.data_format)))
    }

    fn card(&self) -> String {
        format!("UpSampling2D {} · {}", self.size.text(), self.interpolation)
    }

    fn torch(&self, t: &mut Torch) -> Result<(), String> {
        t.ready_for(self.data_format);
        let [sh, sw] = self.size.v;
        match self.interpolation.as_str() {
            "nearest" => t.fwd(format!(
                "x = x.repeat_interleave({sh}, dim=2).repeat_interleave({sw}, dim=3)"
            )),
            "bilinear" => t.fwd(format!(
                "x = F.interpolate(x, scale_factor=({sh}, {sw}), mode=\"bilinear\", align_corners=False)"
            )),
            other => {
                return Err(format!(
                    "interpolation '{other}' differs between TensorFlow and PyTorch (nearest and bilinear export)"
                ));
            }
        }
        Ok(())
    }
}
