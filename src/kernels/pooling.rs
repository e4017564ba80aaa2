//! Max and average pooling over a [`Window`]: only the taps inside the input are visited;
//! average pooling divides by them, as Keras does.

use super::elementwise::for_chunks;
use crate::keras::geometry::Window;
use ndarray::{Array4, ArrayView4};

/// Max or average pooling; average divides by the real (non-padded) pixels of a window.
/// A NaN in a max window wins (as in TensorFlow). Output rows run in parallel.
///
/// Separable: for each output row, the window's input rows are first combined into one
/// row (long contiguous runs of `w * c` values, which vectorise), then each output pixel
/// combines its window's columns of that row — `kh + kw` operations per value instead of
/// `kh * kw` (6 instead of 9 for InceptionV3's 3×3 average pools).
pub fn pool(x: ArrayView4<f32>, win: &Window, max: bool) -> Array4<f32> {
    let (n, h, w, c) = x.dim();
    let [oh, ow] = win.out;
    let xs = x.as_standard_layout();
    let xs = xs.as_slice().expect("standard layout is contiguous");
    let combine = |acc: &mut [f32], px: &[f32]| {
        if max {
            for (a, &v) in acc.iter_mut().zip(px) {
                // Branch-free (vectorises); NaN wins like TensorFlow's max.
                let m = if v > *a { v } else { *a };
                *a = if v.is_nan() { v } else { m };
            }
        } else {
            for (a, v) in acc.iter_mut().zip(px) {
                *a += *v;
            }
        }
    };
    let mut out = vec![0f32; n * oh * ow * c];
    for_chunks(&mut out, ow * c, |row_i, row| {
        let (b, oy) = (row_i / oh.max(1), row_i % oh.max(1));
        let rows = win.inside(0, oy, h);
        let nrows = rows.len();
        // The window's input rows combined: one row of w pixels.
        let mut line = vec![0f32; if nrows == 0 { 0 } else { w * c }];
        for (k, ky) in rows.enumerate() {
            let iy = win.coord(0, oy, ky) as usize;
            let src = &xs[(b * h + iy) * w * c..(b * h + iy + 1) * w * c];
            if k == 0 {
                line.copy_from_slice(src);
            } else {
                combine(&mut line, src);
            }
        }
        for (ox, acc) in row.chunks_exact_mut(c.max(1)).enumerate() {
            let cols = win.inside(1, ox, w);
            let count = nrows * cols.len();
            if count == 0 {
                acc.fill(if max { f32::NEG_INFINITY } else { 0.0 });
                continue;
            }
            for (k, kx) in cols.enumerate() {
                let ix = win.coord(1, ox, kx) as usize;
                let px = &line[ix * c..(ix + 1) * c];
                if k == 0 {
                    acc.copy_from_slice(px);
                } else {
                    combine(acc, px);
                }
            }
            if !max {
                for a in acc.iter_mut() {
                    *a /= count as f32;
                }
            }
        }
    });
    Array4::from_shape_vec((n, oh, ow, c), out).unwrap_or_else(|_| Array4::zeros((0, 0, 0, 0)))
}
