//! Depthwise convolution: each input channel convolved with its own `depth_multiplier`
//! kernels (DepthwiseConv2D, and SeparableConv2D's first step).

use super::ConvOp;
use super::elementwise::add_bias;
use ndarray::{Array4, s};

/// Depthwise convolution: kernel `(kh, kw, cin, mult)`, output channel `c*mult + m`.
pub fn depthwise(op: ConvOp) -> Array4<f32> {
    let (x, kernel, bias, win) = (op.x, op.kernel, op.bias, op.win);
    let (n, h, w, cin) = x.dim();
    let (_kh, kw, _, mult) = kernel.dim();
    let [oh, ow] = win.out;
    let mut out = Array4::<f32>::zeros((n, oh, ow, cin * mult));
    let k = kernel.as_standard_layout();
    let ks = k.as_slice().expect("standard layout kernel");
    for b in 0..n {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut acc = out.slice_mut(s![b, oy, ox, ..]);
                let acc = acc.as_slice_mut().expect("NHWC pixels are contiguous");
                // Only the taps inside the image: the others read zero padding.
                for ky in win.inside(0, oy, h) {
                    let iy = win.coord(0, oy, ky) as usize;
                    for kx in win.inside(1, ox, w) {
                        let ix = win.coord(1, ox, kx) as usize;
                        let px = x.slice(s![b, iy, ix, ..]);
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
