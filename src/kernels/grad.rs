//! The backward pass's numbers: gradients of the convolutions, pooling and resampling
//! with respect to their inputs and kernels, on NHWC `f32` tensors.
//!
//! A convolution's input gradient is a transposed convolution and its kernel gradient a
//! correlation of the input with the output gradient; both run on the forward pass's own
//! machinery: the same im2col patches ([`super::im2col`]) and the one matrix product
//! ([`super::gemm`]), with the patch or kernel matrix read transposed in place.
//! `dK = im2col(x)ᵀ · dY` per block of output pixels, `dX = col2im(dY · Kᵀ)`. Blocks are
//! shared between the threads, each summing into its own accumulator. Wide stride-1
//! layers take their input gradient as a forward convolution of `dY` by the flipped
//! kernel instead (Winograd, no accumulators); max pooling finds each window's winner
//! in parallel, then scatters.

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
/// (a transposed convolution of `dy` by the kernel): stride-1 layers as a forward
/// convolution ([`as_forward_conv`]), the rest by col2im.
pub fn conv2d_input_grad(
    dy: ArrayView4<f32>,
    kernel: ArrayView4<f32>,
    groups: usize,
    win: &Window,
    in_dims: [usize; 4],
) -> Array4<f32> {
    let [n, h, w, cin] = in_dims;
    if n * h * w * cin > 0
        && !dy.is_empty()
        && let Some(dx) = as_forward_conv(dy, kernel, groups, win, [h, w])
        && dx.dim() == (n, h, w, cin)
    {
        return dx;
    }
    input_grad_col2im(dy, kernel, groups, win, in_dims)
}

/// [`conv2d_input_grad`] as `col2im(dY · Kᵀ)`: per block of output pixels, the
/// product's patch rows added back where they were read.
fn input_grad_col2im(
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

/// A stride-1 convolution's input gradient as a forward convolution, on the forward
/// pass's own strategies (Winograd, direct, im2col + GEMM; no per-thread accumulators):
/// `dX[i] = Σ_t dY[i + p − t·d] K[t] = Σ_t dY[i − p' + t·d] K[k−1−t]` — the output
/// gradient convolved with the kernel flipped in both axes and its channel axes swapped,
/// padded by `p' = (k−1)·d − p` before (and implicitly after) to the input's size.
/// `None` (the col2im path) for strided layers, 1×1 layers (one product already),
/// windows padded more than `(k−1)·d` and layers Winograd does not take.
fn as_forward_conv(
    dy: ArrayView4<f32>,
    kernel: ArrayView4<f32>,
    groups: usize,
    win: &Window,
    [h, w]: [usize; 2],
) -> Option<Array4<f32>> {
    let (kh, kw, cin_g, cout) = kernel.dim();
    let cout_g = cout / groups.max(1);
    if cout_g * groups.max(1) != cout {
        return None;
    }
    let back = backward_window(win, [kh, kw], [h, w])?;
    // Only where the forward strategies beat col2im: Winograd's wide layers (on small
    // images the flipped kernel and the direct pass cost more than the accumulators).
    super::winograd::choose([kh, kw], &back, groups, cout_g, cin_g)?;
    flipped_conv(dy, kernel, groups, &back)
}

/// `dy` convolved on `back` with `kernel` flipped in both axes, its channel axes
/// swapped per group: [`as_forward_conv`] on any geometry.
fn flipped_conv(
    dy: ArrayView4<f32>,
    kernel: ArrayView4<f32>,
    groups: usize,
    back: &Window,
) -> Option<Array4<f32>> {
    let (kh, kw, cin_g, cout) = kernel.dim();
    let cout_g = cout / groups.max(1);
    // Kᵀ[ky, kx, j, g·cin_g + i] = K[kh−1−ky, kw−1−kx, i, g·cout_g + j].
    let groups = groups.max(1);
    let cin = cin_g * groups;
    let ks = kernel.as_standard_layout();
    let ks = contiguous(&ks);
    let tap = cin_g * cout;
    let mut flipped = vec![0f32; kh * kw * tap];
    for (t, dst) in flipped.chunks_exact_mut(tap).enumerate() {
        let src = &ks[(kh * kw - 1 - t) * tap..][..tap];
        for g in 0..groups {
            for i in 0..cin_g {
                let row = &src[i * cout + g * cout_g..][..cout_g];
                for (j, &v) in row.iter().enumerate() {
                    dst[j * cin + g * cin_g + i] = v;
                }
            }
        }
    }
    let flipped = Array4::from_shape_vec((kh, kw, cout_g, cin), flipped).ok()?;
    Some(super::conv::conv2d(
        super::ConvOp::new(dy, flipped.view(), None, back),
        groups,
        super::epilogue::Epilogue::Linear,
    ))
}

/// The window of [`as_forward_conv`]: `kernel` over the output gradient, padded by
/// `(k−1)·d − p` before, giving the input's `hw` pixels.
fn backward_window(win: &Window, [kh, kw]: [usize; 2], hw: [usize; 2]) -> Option<Window> {
    if win.strides != [1, 1] || [kh, kw] == [1, 1] || kh == 0 || kw == 0 {
        return None;
    }
    let reach = [(kh - 1) * win.dilation[0], (kw - 1) * win.dilation[1]];
    if win.pad_before[0] > reach[0] || win.pad_before[1] > reach[1] {
        return None;
    }
    Some(Window {
        kernel: [kh, kw],
        strides: [1, 1],
        dilation: win.dilation,
        pad_before: [reach[0] - win.pad_before[0], reach[1] - win.pad_before[1]],
        out: hw,
    })
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
        // A whole kernel row inside the image, undilated, all channels: one run.
        let (first, last) = (win.coord(1, ox, 0), win.coord(1, ox, kw - 1));
        if cg == c && win.dilation[1] == 1 && first >= 0 && last < w as isize {
            let src = &row[ky * kw * cg..(ky + 1) * kw * cg];
            let dst = &mut line[first as usize * c..(last as usize + 1) * c];
            dst.iter_mut().zip(src).for_each(|(d, s)| *d += s);
            continue;
        }
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

/// The sum of `dy` over every axis but the last (a bias's gradient), accumulated in f64:
/// before a BatchNormalization in training the exact sum is 0 and all that is left is
/// rounding, which an optimizer like Adam would otherwise turn into full-size steps.
pub fn bias_grad(dy: &[f32], channels: usize) -> Vec<f32> {
    let mut g = vec![0f64; channels];
    if channels == 0 {
        return Vec::new();
    }
    for px in dy.chunks_exact(channels) {
        for (a, v) in g.iter_mut().zip(px) {
            *a += *v as f64;
        }
    }
    g.into_iter().map(|v| v as f32).collect()
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
    use rayon::prelude::*;
    let (n, h, w, c) = x.dim();
    let [oh, ow] = win.out;
    let mut dx = vec![0f32; n * h * w * c];
    let xs = x.as_standard_layout();
    let xs = contiguous(&xs);
    let ds = dy.as_standard_layout();
    let ds = contiguous(&ds);
    let at = |b: usize, iy: usize, ix: usize| ((b * h + iy) * w + ix) * c;
    if max {
        // Each output row's winners (flat input positions), found in parallel: the
        // first maximum of each window in row-major order, a NaN winning as in the
        // forward max; the channels run contiguously.
        let winners: Vec<Vec<usize>> = (0..n * oh)
            .into_par_iter()
            .map(|r| {
                let (b, oy) = (r / oh, r % oh);
                let rows = win.inside(0, oy, h);
                let mut arg = vec![usize::MAX; ow * c];
                let mut best = vec![0f32; c];
                for ox in 0..ow {
                    let arg = &mut arg[ox * c..(ox + 1) * c];
                    let mut first = true;
                    for ky in rows.clone() {
                        let iy = win.coord(0, oy, ky) as usize;
                        for kx in win.inside(1, ox, w) {
                            let base = at(b, iy, win.coord(1, ox, kx) as usize);
                            let px = &xs[base..base + c];
                            if first {
                                best.copy_from_slice(px);
                                for (ch, a) in arg.iter_mut().enumerate() {
                                    *a = base + ch;
                                }
                                first = false;
                                continue;
                            }
                            for ch in 0..c {
                                let (v, m) = (px[ch], best[ch]);
                                if !m.is_nan() && (v > m || v.is_nan()) {
                                    best[ch] = v;
                                    arg[ch] = base + ch;
                                }
                            }
                        }
                    }
                }
                arg
            })
            .collect();
        for (r, arg) in winners.iter().enumerate() {
            let g = &ds[r * ow * c..(r + 1) * ow * c];
            for (&i, &g) in arg.iter().zip(g) {
                if let Some(d) = dx.get_mut(i) {
                    *d += g;
                }
            }
        }
    } else {
        // Average: each output's gradient spread over its window's real pixels.
        let mut share = vec![0f32; c];
        for b in 0..n {
            for oy in 0..oh {
                let rows = win.inside(0, oy, h);
                for ox in 0..ow {
                    let cols = win.inside(1, ox, w);
                    let count = rows.len() * cols.len();
                    if count == 0 {
                        continue;
                    }
                    let g = &ds[((b * oh + oy) * ow + ox) * c..][..c];
                    for (s, g) in share.iter_mut().zip(g) {
                        *s = g / count as f32;
                    }
                    for ky in rows.clone() {
                        let iy = win.coord(0, oy, ky) as usize;
                        for kx in cols.clone() {
                            let base = at(b, iy, win.coord(1, ox, kx) as usize);
                            for (d, s) in dx[base..base + c].iter_mut().zip(&share) {
                                *d += s;
                            }
                        }
                    }
                }
            }
        }
    }
    Array4::from_shape_vec((n, h, w, c), dx).unwrap_or_else(|_| Array4::zeros((0, 0, 0, 0)))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keras::geometry::Padding;

    fn random(dims: (usize, usize, usize, usize), seed: &mut u64) -> Array4<f32> {
        Array4::from_shape_fn(dims, |_| {
            *seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((*seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
    }

    /// The stride-1 input gradient as a forward convolution (Winograd on the wide 3×3
    /// layers, direct or im2col on the rest) equals col2im's, over kernel sizes (even,
    /// one-sided), dilations, both paddings and groups.
    #[test]
    fn the_forward_convolution_input_gradient_is_col2ims() {
        let mut seed = 7u64;
        let mut winograd = 0;
        for (k, d, pad, groups, cin, cout, hw) in [
            ([3, 3], [1, 1], Padding::Same, 1, 32, 32, [26, 25]),
            ([3, 3], [1, 1], Padding::Valid, 1, 24, 16, [27, 26]),
            ([3, 3], [1, 1], Padding::Same, 1, 80, 96, [24, 24]),
            ([3, 3], [1, 1], Padding::Same, 1, 3, 5, [7, 9]),
            ([2, 2], [1, 1], Padding::Same, 1, 4, 6, [6, 5]),
            ([4, 2], [1, 1], Padding::Valid, 1, 3, 2, [8, 7]),
            ([1, 3], [1, 1], Padding::Same, 1, 5, 4, [5, 6]),
            ([3, 3], [2, 2], Padding::Same, 1, 4, 4, [9, 9]),
            ([3, 2], [2, 3], Padding::Valid, 1, 2, 3, [10, 11]),
            ([3, 3], [1, 1], Padding::Same, 2, 8, 6, [6, 6]),
            ([5, 5], [1, 1], Padding::Valid, 4, 8, 8, [9, 9]),
        ] {
            let win = Window::keras(hw, k, [1, 1], d, pad);
            let x_dims = [2, hw[0], hw[1], cin];
            let dy = random((2, win.out[0], win.out[1], cout), &mut seed);
            let kernel = random((k[0], k[1], cin / groups, cout), &mut seed);
            let back = backward_window(&win, k, hw).unwrap();
            if super::super::winograd::choose(k, &back, groups, cout / groups, cin).is_some() {
                winograd += 1;
            }
            let fast = flipped_conv(dy.view(), kernel.view(), groups, &back).unwrap();
            let slow = input_grad_col2im(dy.view(), kernel.view(), groups, &win, x_dims);
            assert_eq!(fast.dim(), slow.dim(), "{k:?} {d:?} {pad:?}");
            // The golden tolerance: 1e-4 of the largest value (or of 1).
            let scale = slow.iter().fold(1f32, |m, v| m.max(v.abs()));
            let worst = fast
                .iter()
                .zip(&slow)
                .map(|(a, b)| (a - b).abs() / scale)
                .fold(0f32, f32::max);
            assert!(worst < 1e-4, "{k:?} {d:?} {pad:?} groups {groups}: {worst}");
        }
        assert!(winograd >= 2, "no case took the Winograd path");
    }
}
