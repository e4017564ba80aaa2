//! Convolution as im2col + GEMM: any kernel, stride, dilation and group count; a 1×1
//! stride-1 layer skips im2col (its input already is the patch matrix).

use super::ConvOp;
use super::elementwise::Pointwise;
use super::epilogue::Epilogue;
use super::gemm::{Gemm, Mat};
use crate::keras::geometry::Window;
use ndarray::Array4;
use std::mem::MaybeUninit;

/// Floats of im2col buffer per block (1 MiB): a block's patches stay in L2 while its
/// GEMM runs.
const BLOCK_FLOATS: usize = 1 << 18;

/// Rows per thread from which a layer with fewer blocks than threads still runs one
/// block per thread, each gathering its own patches, rather than blocks in order with
/// the threads inside each GEMM (whose im2col then ran on one thread). Measured on two
/// threads (`conv2d`, best of 40): InceptionV3's 17×17 1×7/7×1 layers 72 → 97 GMAC/s,
/// ResNet50's 14×14 256→256 3×3 84 → 100, the 8×8 layers 81–84 → 91–96; a 7×7 layer
/// (25 rows each) gained nothing.
const PARALLEL_BLOCK_ROWS: usize = 32;

/// The im2col + GEMM path of [`conv2d`] (any convolution).
pub fn conv2d_gemm(op: ConvOp, groups: usize, epilogue: Epilogue) -> Array4<f32> {
    let (x, kernel, bias, win) = (op.x, op.kernel, op.bias, op.win);
    use rayon::prelude::*;
    let (n, h, w, cin) = x.dim();
    let (kh, kw, cin_g, cout) = kernel.dim();
    let [oh, ow] = win.out;
    let groups = groups.max(1);
    let cout_g = cout / groups;
    let pixels = n * oh * ow;
    if pixels == 0 || cout == 0 {
        return Array4::zeros((n, oh, ow, cout));
    }
    // Every output element is written by exactly one GEMM (blocks of rows × groups of
    // columns cover it), so the output starts uninitialised instead of zeroed.
    let len = pixels * cout;
    let mut out: Vec<f32> = Vec::with_capacity(len);
    let xs = x.as_standard_layout();
    let xs = xs.as_slice().expect("standard layout is contiguous");
    let ks = kernel.as_standard_layout();
    let ks = ks.as_slice().expect("standard layout is contiguous");
    let kdim = kh * kw * cin_g;
    let threads = rayon::current_num_threads().max(1);
    let pointwise = kh == 1
        && kw == 1
        && win.strides == [1, 1]
        && win.pad_before == [0, 0]
        && oh == h
        && ow == w;
    let rows_per_block = (BLOCK_FLOATS / kdim.max(1)).clamp(32, 4096);
    let blocks = pixels.div_ceil(rows_per_block);
    // Enough blocks for every thread: one GEMM per block, blocks in parallel. Too few
    // but at least PARALLEL_BLOCK_ROWS rows each: one block per thread (at most two
    // default blocks' buffer each). Otherwise blocks in order and each GEMM uses the
    // threads.
    let (rows_per_block, gemm_threads) = if blocks >= 2 * threads || threads == 1 {
        (rows_per_block, 1)
    } else if pixels >= threads * PARALLEL_BLOCK_ROWS {
        (pixels.div_ceil(threads), 1)
    } else {
        (
            rows_per_block.max(pixels.div_ceil(threads).min(4096)),
            threads,
        )
    };
    let block = |buf: &mut Vec<f32>, (bi, chunk): (usize, &mut [MaybeUninit<f32>])| {
        let p0 = bi * rows_per_block;
        let m = chunk.len() / cout;
        for g in 0..groups {
            let (c0, f0) = (g * cin_g, g * cout_g);
            // The patch matrix: the input itself for a 1×1 stride-1 layer, else im2col.
            let (patches, k) = if pointwise {
                (Mat::new(&xs[p0 * cin + c0..], cin), cin_g)
            } else {
                buf.resize(m * kdim, 0.0);
                for (r, row) in buf.chunks_exact_mut(kdim).enumerate() {
                    let p = p0 + r;
                    let (b, rest) = (p / (oh * ow), p % (oh * ow));
                    let (oy, ox) = (rest / ow, rest % ow);
                    let image = &xs[b * h * w * cin..(b + 1) * h * w * cin];
                    im2col_row(image, [h, w, cin], c0, cin_g, [kh, kw], win, oy, ox, row);
                }
                (Mat::new(buf, kdim), kdim)
            };
            let gemm = Gemm {
                m,
                n: cout_g,
                k,
                threads: gemm_threads,
            };
            gemm.run_into(patches, Mat::new(&ks[f0..], cout), &mut chunk[f0..], cout);
        }
        // SAFETY: the group GEMMs above wrote every element of `chunk`.
        let chunk = unsafe { &mut *(chunk as *mut [MaybeUninit<f32>] as *mut [f32]) };
        epilogue.apply(chunk, cout, bias);
        Pointwise::apply_steps(op.then, chunk, cout);
    };
    let spare = &mut out.spare_capacity_mut()[..len];
    if gemm_threads == 1 && threads > 1 {
        spare
            .par_chunks_mut(rows_per_block * cout)
            .enumerate()
            .for_each_init(Vec::new, block);
    } else {
        let mut buf = Vec::new();
        for item in spare.chunks_mut(rows_per_block * cout).enumerate() {
            block(&mut buf, item);
        }
    }
    // SAFETY: every block wrote all of its elements, and the blocks cover `len`.
    unsafe { out.set_len(len) };
    Array4::from_shape_vec((n, oh, ow, cout), out).unwrap_or_else(|_| Array4::zeros((0, 0, 0, 0)))
}

/// One im2col row: the patch of output pixel (`oy`, `ox`) over channels `c0..c0+cg` of
/// an (h, w, c) image, in (ky, kx, channel) order; zeros where the window leaves it.
#[allow(clippy::too_many_arguments)]
#[inline]
pub(super) fn im2col_row(
    image: &[f32],
    [h, w, c]: [usize; 3],
    c0: usize,
    cg: usize,
    [kh, kw]: [usize; 2],
    win: &Window,
    oy: usize,
    ox: usize,
    row: &mut [f32],
) {
    let ix0 = win.coord(1, ox, 0);
    let whole_rows = cg == c && win.dilation[1] == 1 && ix0 >= 0 && ix0 as usize + kw <= w;
    for ky in 0..kh {
        let dst = &mut row[ky * kw * cg..(ky + 1) * kw * cg];
        let iy = win.coord(0, oy, ky);
        if iy < 0 || iy >= h as isize {
            dst.fill(0.0);
            continue;
        }
        let line = &image[iy as usize * w * c..(iy as usize + 1) * w * c];
        if whole_rows {
            // The kernel row's kw taps are neighbours in NHWC: one copy.
            let s = ix0 as usize * c;
            dst.copy_from_slice(&line[s..s + kw * c]);
            continue;
        }
        for (kx, d) in dst.chunks_exact_mut(cg).enumerate() {
            let ix = win.coord(1, ox, kx);
            if ix < 0 || ix >= w as isize {
                d.fill(0.0);
            } else {
                let s = ix as usize * c + c0;
                d.copy_from_slice(&line[s..s + cg]);
            }
        }
    }
}
