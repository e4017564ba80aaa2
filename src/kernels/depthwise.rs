//! Depthwise convolution: each input channel convolved with its own `depth_multiplier`
//! kernels (DepthwiseConv2D, and SeparableConv2D's first step).

use super::elementwise::add_bias;
use crate::keras::geometry::Window;
use ndarray::{Array4, ArrayView4, s};

/// Depthwise convolution: kernel `(kh, kw, cin, mult)`, output channel `c*mult + m`.
pub fn depthwise(
    x: ArrayView4<f32>,
    kernel: ArrayView4<f32>,
    bias: Option<&[f32]>,
    win: &Window,
) -> Array4<f32> {
    let (n, h, w, cin) = x.dim();
    let (kh, kw, _, mult) = kernel.dim();
    let [oh, ow] = win.out;
    let mut out = Array4::<f32>::zeros((n, oh, ow, cin * mult));
    let k = kernel.as_standard_layout();
    let ks = k.as_slice().expect("standard layout kernel");
    for b in 0..n {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut acc = out.slice_mut(s![b, oy, ox, ..]);
                let acc = acc.as_slice_mut().expect("NHWC pixels are contiguous");
                for ky in 0..kh {
                    let iy = win.coord(0, oy, ky);
                    if iy < 0 || iy >= h as isize {
                        continue;
                    }
                    for kx in 0..kw {
                        let ix = win.coord(1, ox, kx);
                        if ix < 0 || ix >= w as isize {
                            continue;
                        }
                        let px = x.slice(s![b, iy as usize, ix as usize, ..]);
                        let kt = &ks[(ky * kw + kx) * cin * mult..(ky * kw + kx + 1) * cin * mult];
                        for (c, xv) in px.iter().enumerate() {
                            for m in 0..mult {
                                acc[c * mult + m] += xv * kt[c * mult + m];
                            }
                        }
                    }
                }
            }
        }
    }
    if let Some(bias) = bias {
        add_bias(&mut out, bias);
    }
    out
}
