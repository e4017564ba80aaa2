//! The backward pass's numbers: gradients of the convolutions, pooling and resampling
//! with respect to their inputs and kernels, on NHWC `f32` tensors.
//!
//! A convolution's input gradient is a transposed convolution and its kernel gradient a
//! correlation of the input with the output gradient; both run on the forward pass's own
//! machinery: the same im2col patches ([`super::im2col`]) and the one matrix product
//! ([`super::gemm`]), with the patch or kernel matrix read transposed in place.
//! `dK = im2col(x)ᵀ · dY` per block of output pixels, `dX = col2im(dY · Kᵀ)`. Blocks are
//! shared between the threads, each summing into its own accumulator.

use super::gemm::{Gemm, Strided};
use super::im2col::im2col_row;
use crate::keras::geometry::Window;
use ndarray::{Array4, ArrayView4};

/// Floats of im2col buffer per block, as the forward pass uses.
const BLOCK_FLOATS: usize = 1 << 18;

/// Whether a `kernel` window on an `hw` input is 1×1, stride 1, unpadded: its input is
/// its patch matrix.
fn pointwise(win: &Window, kernel: [usize; 2], hw: [usize; 2]) -> bool {
    kernel == [1, 1] && win.strides == [1, 1] && win.pad_before == [0, 0] && win.out == hw
}

/// Output-pixel rows per block for patches of `kdim` values.
fn rows_per_block(kdim: usize) -> usize {
    (BLOCK_FLOATS / kdim.max(1)).clamp(32, 4096)
}

/// Runs `body(acc, buf, block, gemm_threads)` for blocks `0..blocks` and sums what the
/// accumulators (`len` zeros each) gather. With enough blocks, one contiguous run of
/// them per thread, each with its own accumulator and one-thread products; with fewer
/// blocks than twice the threads (a 7×7 layer is one block), the blocks in order and
/// the threads inside each product.
fn sum_over_blocks(
    blocks: usize,
    len: usize,
    body: impl Fn(&mut Vec<f32>, &mut Vec<f32>, usize, usize) + Sync,
) -> Vec<f32> {
    use rayon::prelude::*;
    let threads = rayon::current_num_threads().max(1);
    if blocks < 2 * threads {
        let (mut acc, mut buf) = (vec![0f32; len], Vec::new());
        for b in 0..blocks {
            body(&mut acc, &mut buf, b, threads);
        }
        return acc;
    }
    let per = blocks.div_ceil(threads);
    (0..threads)
        .into_par_iter()
        .map(|p| {
            let mut acc = vec![0f32; len];
            let mut buf = Vec::new();
            for b in p * per..((p + 1) * per).min(blocks) {
                body(&mut acc, &mut buf, b, 1);
            }
            acc
        })
        .reduce_with(|mut a, b| {
            for (x, y) in a.iter_mut().zip(&b) {
                *x += y;
            }
            a
        })
        .unwrap_or_else(|| vec![0f32; len])
}

fn contiguous<'a>(a: &'a ndarray::CowArray<'a, f32, ndarray::Ix4>) -> &'a [f32] {
    a.as_slice().expect("standard layout is contiguous")
}

/// The gradient of a convolution (kernel HWIO `kernel_dims`, `groups`) with respect to
/// its kernel: `x` is the NHWC input, `dy` the gradient of the output (before the bias;
/// the bias gradient is [`bias_grad`]).
pub fn conv2d_kernel_grad(
    x: ArrayView4<f32>,
    dy: ArrayView4<f32>,
    kernel_dims: [usize; 4],
    groups: usize,
    win: &Window,
) -> Array4<f32> {
    let (n, h, w, cin) = x.dim();
    let [kh, kw, cin_g, cout] = kernel_dims;
    let [oh, ow] = win.out;
    let groups = groups.max(1);
    let cout_g = cout / groups;
    let kdim = kh * kw * cin_g;
    let pixels = n * oh * ow;
    let len = kdim * cout;
    if pixels == 0 || len == 0 {
        return Array4::zeros((kh, kw, cin_g, cout));
    }
    let xs = x.as_standard_layout();
    let xs = contiguous(&xs);
    let ds = dy.as_standard_layout();
    let ds = contiguous(&ds);
    let threads = rayon::current_num_threads().max(1);
    if pointwise(win, [kh, kw], [h, w]) {
        // A 1×1 stride-1 layer: the input is its own patch matrix, one product per group.
        let mut dk = vec![0f32; len];
        for g in 0..groups {
            let (c0, f0) = (g * cin_g, g * cout_g);
            Gemm {
                m: cin_g,
                n: cout_g,
                k: pixels,
                threads,
            }
            .run_strided(
                Strided::transposed(&xs[c0..], cin),
                Strided::rows(&ds[f0..], cout),
                &mut dk[f0..],
                cout,
                false,
            );
        }
        return Array4::from_shape_vec((kh, kw, cin_g, cout), dk)
            .unwrap_or_else(|_| Array4::zeros((0, 0, 0, 0)));
    }
    let rows = rows_per_block(kdim);
    let blocks = pixels.div_ceil(rows);
    let dk = sum_over_blocks(blocks, len, |acc, buf, bi, threads| {
        let p0 = bi * rows;
        let m = rows.min(pixels - p0);
        for g in 0..groups {
            let (c0, f0) = (g * cin_g, g * cout_g);
            buf.resize(m * kdim, 0.0);
            for (r, row) in buf.chunks_exact_mut(kdim).enumerate() {
                let p = p0 + r;
                let (b, rest) = (p / (oh * ow), p % (oh * ow));
                let image = &xs[b * h * w * cin..(b + 1) * h * w * cin];
                im2col_row(
                    image,
                    [h, w, cin],
                    c0,
                    cin_g,
                    [kh, kw],
                    win,
                    rest / ow,
                    rest % ow,
                    row,
                );
            }
            // dK_g (kdim × cout_g) += patchesᵀ (kdim × m) · dY_g (m × cout_g).
            Gemm {
                m: kdim,
                n: cout_g,
                k: m,
                threads,
            }
            .run_strided(
                Strided::transposed(buf, kdim),
                Strided::rows(&ds[p0 * cout + f0..], cout),
                &mut acc[f0..],
                cout,
                true,
            );
        }
    });
    Array4::from_shape_vec((kh, kw, cin_g, cout), dk)
        .unwrap_or_else(|_| Array4::zeros((0, 0, 0, 0)))
}

/// The gradient of a convolution with respect to its NHWC input of `in_dims`
/// (a transposed convolution of `dy` by the kernel).
pub fn conv2d_input_grad(
    dy: ArrayView4<f32>,
    kernel: ArrayView4<f32>,
    groups: usize,
    win: &Window,
    in_dims: [usize; 4],
) -> Array4<f32> {
    let [n, h, w, cin] = in_dims;
    let (kh, kw, cin_g, cout) = kernel.dim();
    let [oh, ow] = win.out;
    let groups = groups.max(1);
    let cout_g = cout / groups;
    let kdim = kh * kw * cin_g;
    let pixels = n * oh * ow;
    let len = n * h * w * cin;
    if pixels == 0 || len == 0 || kdim == 0 {
        return Array4::zeros((n, h, w, cin));
    }
    let ks = kernel.as_standard_layout();
    let ks = contiguous(&ks);
    let ds = dy.as_standard_layout();
    let ds = contiguous(&ds);
    if pointwise(win, [kh, kw], [h, w]) {
        let threads = rayon::current_num_threads().max(1);
        let mut dx = vec![0f32; len];
        for g in 0..groups {
            let (c0, f0) = (g * cin_g, g * cout_g);
            Gemm {
                m: pixels,
                n: cin_g,
                k: cout_g,
                threads,
            }
            .run_strided(
                Strided::rows(&ds[f0..], cout),
                Strided::transposed(&ks[f0..], cout),
                &mut dx[c0..],
                cin,
                false,
            );
        }
        return Array4::from_shape_vec((n, h, w, cin), dx)
            .unwrap_or_else(|_| Array4::zeros((0, 0, 0, 0)));
    }
    let rows = rows_per_block(kdim);
    let blocks = pixels.div_ceil(rows);
    let dx = sum_over_blocks(blocks, len, |acc, buf, bi, threads| {
        let p0 = bi * rows;
        let m = rows.min(pixels - p0);
        for g in 0..groups {
            let (c0, f0) = (g * cin_g, g * cout_g);
            buf.resize(m * kdim, 0.0);
            // dPatches (m × kdim) = dY_g (m × cout_g) · K_gᵀ (cout_g × kdim).
            Gemm {
                m,
                n: kdim,
                k: cout_g,
                threads,
            }
            .run_strided(
                Strided::rows(&ds[p0 * cout + f0..], cout),
                Strided::transposed(&ks[f0..], cout),
                buf,
                kdim,
                false,
            );
            for (r, row) in buf.chunks_exact(kdim).enumerate() {
                let p = p0 + r;
                let (b, rest) = (p / (oh * ow), p % (oh * ow));
                let image = &mut acc[b * h * w * cin..(b + 1) * h * w * cin];
                col2im_row(
                    row,
                    [h, w, cin],
                    c0,
                    cin_g,
                    [kh, kw],
                    win,
                    [rest / ow, rest % ow],
                    image,
                );
            }
        }
    });
    Array4::from_shape_vec((n, h, w, cin), dx).unwrap_or_else(|_| Array4::zeros((0, 0, 0, 0)))
}

/// Adds one patch row (as [`im2col_row`] lays it out) back into the image it was read
/// from; taps on padding are dropped.
#[allow(clippy::too_many_arguments)]
fn col2im_row(
    row: &[f32],
    [h, w, c]: [usize; 3],
    c0: usize,
    cg: usize,
    [kh, kw]: [usize; 2],
    win: &Window,
    [oy, ox]: [usize; 2],
    image: &mut [f32],
) {
    for ky in 0..kh {
        let iy = win.coord(0, oy, ky);
        if iy < 0 || iy >= h as isize {
            continue;
        }
        let line = &mut image[iy as usize * w * c..(iy as usize + 1) * w * c];
        for kx in 0..kw {
            let ix = win.coord(1, ox, kx);
            if ix < 0 || ix >= w as isize {
                continue;
            }
            let src = &row[(ky * kw + kx) * cg..(ky * kw + kx + 1) * cg];
            let dst = &mut line[ix as usize * c + c0..ix as usize * c + c0 + cg];
            for (d, s) in dst.iter_mut().zip(src) {
                *d += s;
            }
        }
    }
}

/// The sum of `dy` over every axis but the last (a bias's gradient).
pub fn bias_grad(dy: &[f32], channels: usize) -> Vec<f32> {
    let mut g = vec![0f32; channels];
    if channels == 0 {
        return g;
    }
    for px in dy.chunks_exact(channels) {
        for (a, v) in g.iter_mut().zip(px) {
            *a += v;
        }
    }
    g
}

/// A depthwise convolution's gradients (kernel `(kh, kw, cin, mult)`, output channel
/// `c*mult + m`): with respect to the input and, when `want_kernel`, the kernel.
pub fn depthwise_grads(
    x: ArrayView4<f32>,
    kernel: ArrayView4<f32>,
    dy: ArrayView4<f32>,
    win: &Window,
    want_kernel: bool,
) -> (Array4<f32>, Option<Array4<f32>>) {
    let (n, h, w, cin) = x.dim();
    let (kh, kw, _, mult) = kernel.dim();
    let [oh, ow] = win.out;
    let cout = cin * mult;
    let xs = x.as_standard_layout();
    let xs = contiguous(&xs);
    let ks = kernel.as_standard_layout();
    let ks = contiguous(&ks);
    let ds = dy.as_standard_layout();
    let ds = contiguous(&ds);
    let klen = kh * kw * cout;
    // One image per block: each block adds into its own image of dX, and into its
    // thread's kernel accumulator (the tail of the same vector).
    let image = h * w * cin;
    let both = sum_over_blocks(n, n * image + klen, |acc, _, b, _| {
        let (dx, dk) = acc.split_at_mut(n * image);
        let dx = &mut dx[b * image..(b + 1) * image];
        let xb = &xs[b * image..(b + 1) * image];
        for oy in 0..oh {
            for ox in 0..ow {
                let g = &ds[((b * oh + oy) * ow + ox) * cout..][..cout];
                for ky in win.inside(0, oy, h) {
                    let iy = win.coord(0, oy, ky) as usize;
                    for kx in win.inside(1, ox, w) {
                        let ix = win.coord(1, ox, kx) as usize;
                        let at = (iy * w + ix) * cin;
                        let kt = (ky * kw + kx) * cout;
                        for c in 0..cin {
                            for m in 0..mult {
                                let o = c * mult + m;
                                dx[at + c] += g[o] * ks[kt + o];
                                if want_kernel {
                                    dk[kt + o] += g[o] * xb[at + c];
                                }
                            }
                        }
                    }
                }
            }
        }
    });
    let (dx, dk) = both.split_at(n * image);
    let dx = Array4::from_shape_vec((n, h, w, cin), dx.to_vec())
        .unwrap_or_else(|_| Array4::zeros((0, 0, 0, 0)));
    let dk = want_kernel.then(|| {
        Array4::from_shape_vec((kh, kw, cin, mult), dk.to_vec())
            .unwrap_or_else(|_| Array4::zeros((0, 0, 0, 0)))
    });
    (dx, dk)
}

/// Pooling's input gradient. Max: each output's gradient goes to the first maximum of
/// its window in row-major order (TensorFlow's and XLA's choice among ties; padding
/// never wins). Average: spread evenly over the window's real pixels, the divisor of
/// [`super::pool`].
pub fn pool_grad(x: ArrayView4<f32>, dy: ArrayView4<f32>, win: &Window, max: bool) -> Array4<f32> {
    let (n, h, w, c) = x.dim();
    let [oh, ow] = win.out;
    let mut dx = Array4::<f32>::zeros((n, h, w, c));
    for b in 0..n {
        for oy in 0..oh {
            let rows = win.inside(0, oy, h);
            for ox in 0..ow {
                let cols = win.inside(1, ox, w);
                let count = rows.len() * cols.len();
                if count == 0 {
                    continue;
                }
                for ch in 0..c {
                    let g = dy[[b, oy, ox, ch]];
                    if max {
                        let mut best: Option<([usize; 2], f32)> = None;
                        for ky in rows.clone() {
                            let iy = win.coord(0, oy, ky) as usize;
                            for kx in cols.clone() {
                                let ix = win.coord(1, ox, kx) as usize;
                                let v = x[[b, iy, ix, ch]];
                                // A NaN wins the forward max: it takes the gradient too.
                                let better = match best {
                                    None => true,
                                    Some((_, m)) => !m.is_nan() && (v > m || v.is_nan()),
                                };
                                if better {
                                    best = Some(([iy, ix], v));
                                }
                            }
                        }
                        if let Some(([iy, ix], _)) = best {
                            dx[[b, iy, ix, ch]] += g;
                        }
                    } else {
                        let share = g / count as f32;
                        for ky in rows.clone() {
                            let iy = win.coord(0, oy, ky) as usize;
                            for kx in cols.clone() {
                                let ix = win.coord(1, ox, kx) as usize;
                                dx[[b, iy, ix, ch]] += share;
                            }
                        }
                    }
                }
            }
        }
    }
    dx
}

/// Nearest upsampling's input gradient: each input pixel sums the outputs it was
/// copied to.
pub fn upsample_nearest_grad(
    dy: ArrayView4<f32>,
    size: [usize; 2],
    in_hw: [usize; 2],
) -> Array4<f32> {
    let (n, oh, ow, c) = dy.dim();
    let mut dx = Array4::<f32>::zeros((n, in_hw[0], in_hw[1], c));
    for b in 0..n {
        for y in 0..oh {
            for xx in 0..ow {
                let (iy, ix) = (y / size[0].max(1), xx / size[1].max(1));
                if iy < in_hw[0] && ix < in_hw[1] {
                    for ch in 0..c {
                        dx[[b, iy, ix, ch]] += dy[[b, y, xx, ch]];
                    }
                }
            }
        }
    }
    dx
}

/// Bilinear resizing's input gradient: each output's gradient split between the four
/// input pixels it blends, by their weights.
pub fn resize_bilinear_grad(dy: ArrayView4<f32>, in_hw: [usize; 2]) -> Array4<f32> {
    let (n, oh, ow, c) = dy.dim();
    let [h, w] = in_hw;
    let mut dx = Array4::<f32>::zeros((n, h, w, c));
    if h == 0 || w == 0 {
        return dx;
    }
    let src = crate::keras::geometry::bilinear_source;
    for y in 0..oh {
        let (y0, y1, fy) = src(y, oh, h);
        for xx in 0..ow {
            let (x0, x1, fx) = src(xx, ow, w);
            let taps = [
                (y0, x0, (1.0 - fy) * (1.0 - fx)),
                (y0, x1, (1.0 - fy) * fx),
                (y1, x0, fy * (1.0 - fx)),
                (y1, x1, fy * fx),
            ];
            for b in 0..n {
                for ch in 0..c {
                    let g = dy[[b, y, xx, ch]];
                    for &(iy, ix, wt) in &taps {
                        dx[[b, iy, ix, ch]] += g * wt;
                    }
                }
            }
        }
    }
    dx
}
