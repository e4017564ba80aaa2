//! `keras.layers.GlobalMaxPooling2D` and `GlobalAveragePooling2D`: one value per channel.

use super::conv::DATA_FORMAT;
use super::pooling2d::PoolMode;
use super::torch::{Torch, py_bool};
use super::*;
use crate::keras::args::{Arg, ArgMut, Visitor};
use ndarray::Axis;

const KEEPDIMS: Arg = Arg::new("keepdims", "Keep the spatial axes as size 1.");

#[derive(Clone, Debug, PartialEq)]
pub struct GlobalPooling2D {
    pub mode: PoolMode,
    pub data_format: DataFormat,
    pub keepdims: bool,
}

/// The `[max, average]` classes.
const NAMES: [&str; 2] = ["GlobalMaxPooling2D", "GlobalAveragePooling2D"];

impl Kind for GlobalPooling2D {
    // The palette lists the average first, as Keras's docs do.
    const CLASSES: &'static [&'static str] = &["GlobalAveragePooling2D", "GlobalMaxPooling2D"];
    const FAMILY: Family = Family::Pooling;
    const BUILD_CONFIG: bool = false;
    fn new(class: &str) -> Option<Self> {
        Some(GlobalPooling2D {
            mode: PoolMode::of(class, NAMES)?,
            data_format: DataFormat::ChannelsLast,
            keepdims: false,
        })
    }

    fn class_name(&self) -> &'static str {
        self.mode.class(NAMES)
    }
}

impl Args for GlobalPooling2D {
    fn args(&mut self, v: &mut dyn Visitor) {
        v.arg(&DATA_FORMAT, ArgMut::DataFormat(&mut self.data_format));
        v.arg(&KEEPDIMS, ArgMut::Bool(&mut self.keepdims));
    }

    fn data_format(&self) -> Option<DataFormat> {
        Some(self.data_format)
    }
}

impl LayerSpec for GlobalPooling2D {
    fn build(&self, cx: &Cx, r: &mut LayerReport) -> R<Shape> {
        cx.ndim(4)?;
        let input = cx.input;
        r.receptive_field = rf_whole(cx, self.data_format);
        let ch = input[self.data_format.channel_axis(4)];
        Ok(if self.keepdims {
            image_shape(input[0], [Some(1), Some(1)], ch, self.data_format)
        } else {
            vec![input[0], ch]
        })
    }

    fn forward(&self, inputs: &[Arc<ArrayD<f32>>], _: &[ArrayD<f32>]) -> Result<ArrayD<f32>, String> {
        let x4 = to_nhwc(first(inputs)?, self.data_format)?;
        let (n, h, wd, c) = x4.dim();
        let flat = x4
            .into_owned()
            .into_shape_with_order((n, h * wd, c))
            .map_err(|e| e.to_string())?;
        let red = match self.mode {
            PoolMode::Average => flat.mean_axis(Axis(1)).ok_or("empty input")?,
            PoolMode::Max => flat.fold_axis(Axis(1), f32::NEG_INFINITY, |a, b| a.max(*b)),
        };
        if self.keepdims {
            let y = red
                .into_shape_with_order((n, 1, 1, c))
                .map_err(|e| e.to_string())?;
            Ok(from_nhwc(y, self.data_format))
        } else {
            Ok(red.into_dyn())
        }
    }

    /// Average: the gradient spread evenly. Max: to every pixel equal to the maximum,
    /// shared between ties (the rule of `reduce_max`, which Keras's global pooling is).
    fn backward(&self, bw: Backward) -> Result<Grads, String> {
        let x4 = to_nhwc(first(bw.inputs)?, self.data_format)?;
        let (n, h, wd, c) = x4.dim();
        let g = bw.dy.as_standard_layout();
        let g = g.as_slice().ok_or("gradient not contiguous")?;
        if g.len() != n * c {
            return Err("GlobalPooling: the gradient does not match the output".into());
        }
        let y = bw.output.as_standard_layout();
        let y = y.as_slice().ok_or("output not contiguous")?;
        let mut dx = ndarray::Array4::<f32>::zeros((n, h, wd, c));
        let pixels = (h * wd) as f32;
        for b in 0..n {
            for ch in 0..c {
                let gv = g[b * c + ch];
                match self.mode {
                    PoolMode::Average => {
                        dx.slice_mut(ndarray::s![b, .., .., ch]).fill(gv / pixels);
                    }
                    PoolMode::Max => {
                        let m = y[b * c + ch];
                        let xs = x4.slice(ndarray::s![b, .., .., ch]);
                        let ties = xs.iter().filter(|&&v| v == m).count().max(1) as f32;
                        ndarray::Zip::from(dx.slice_mut(ndarray::s![b, .., .., ch]))
                            .and(&xs)
                            .for_each(|d, &v| {
                                if v == m {
                                    *d = gv / ties;
                                }
                            });
                    }
                }
            }
        }
        Ok(Grads::input(from_nhwc(dx, self.data_format)))
    }

    fn card(&self) -> String {
        Kind::class_name(self).to_string()
    }

    fn torch(&self, t: &mut Torch) -> Result<(), String> {
        t.ready_for(self.data_format);
        let f = match self.mode {
            PoolMode::Max => "amax",
            PoolMode::Average => "mean",
        };
        t.fwd(format!(
            "x = x.{f}(dim=(2, 3), keepdim={})",
            py_bool(self.keepdims)
        ));
        if !self.keepdims {
            t.flow.permuted = false;
        }
        Ok(())
    }
}
