//! Transposed convolution (Conv2DTranspose): each input pixel scatters its kernel-weighted
//! values; the window is the forward convolution read backwards.

use super::ConvOp;
use super::elementwise::add_bias;
use ndarray::{Array2, Array4, ArrayView2, Axis, s};

/// `y = x @ w` for row-major matrices (the GEMM every convolution ends in).
fn matmul(x: ArrayView2<f32>, w: ArrayView2<f32>) -> Array2<f32> {
    x.dot(&w)
}

/// Transposed convolution: kernel `(kh, kw, cout, cin)`; output `out` pixels with
/// `pad_before` cropped from the full scatter result (TensorFlow's `conv2d_transpose`).
pub fn conv_transpose(op: ConvOp) -> Array4<f32> {
    let (x, kernel, bias, win) = (op.x, op.kernel, op.bias, op.win);
    let (n, h, w, _cin) = x.dim();
    let (kh, kw, cout, _) = kernel.dim();
    let [oh, ow] = win.out;
    let mut out = Array4::<f32>::zeros((n, oh, ow, cout));
    // Per tap: (cin, cout) matrix, so one input pixel row times it gives its contribution.
    let taps: Vec<Array2<f32>> = (0..kh * kw)
        .map(|t| {
            let kt = kernel.slice(s![t / kw, t % kw, .., ..]);
            kt.t().as_standard_layout().into_owned()
        })
        .collect();
    for b in 0..n {
        let xb = x.index_axis(Axis(0), b);
        let xs = xb.as_standard_layout();
        let x2 = xs
            .view()
            .into_shape_with_order((h * w, xb.dim().2))
            .expect("contiguous NHWC reshapes");
        for (t, kt) in taps.iter().enumerate() {
            let (ky, kx) = (t / kw, t % kw);
            let contrib = matmul(x2, kt.view());
            for iy in 0..h {
                // The forward mapping read backwards: input pixel → output pixel.
                let oy = win.coord(0, iy, ky);
                if oy < 0 || oy >= oh as isize {
                    continue;
                }
                for ix in 0..w {
                    let ox = win.coord(1, ix, kx);
                    if ox < 0 || ox >= ow as isize {
                        continue;
                    }
                    let mut dst = out.slice_mut(s![b, oy as usize, ox as usize, ..]);
                    dst += &contrib.row(iy * w + ix);
                }
            }
        }
    }
    if let Some(bias) = bias {
        add_bias(&mut out, bias);
    }
    out
}
