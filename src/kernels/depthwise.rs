//! Depthwise convolution: each input channel convolved with its own `depth_multiplier`
//! kernels (DepthwiseConv2D, and SeparableConv2D's first step).
//!
//! NHWC keeps a pixel's channels contiguous and a depthwise tap multiplies channel `c`
//! only by weight `c`, so the work is element-wise products of channel runs. For
//! `depth_multiplier = 1` (every keras.applications model) each output pixel is computed
//! in blocks of [`BLOCK`] channels whose sums stay in vector registers over all the taps
//! (two loads per multiply-add, one store per block), starting from the bias; rows run
//! in parallel, and the body is compiled for AVX-512 or AVX2+FMA when the CPU has them.

use super::ConvOp;
use super::elementwise::for_chunks;
use crate::keras::geometry::Window;
use ndarray::Array4;
use std::mem::MaybeUninit;

/// Channels one register block sums: 64 floats are 4 zmm or 8 ymm registers.
const BLOCK: usize = 64;

/// Depthwise convolution: kernel `(kh, kw, cin, mult)`, output channel `c*mult + m`.
pub fn depthwise(op: ConvOp) -> Array4<f32> {
    let (x, kernel, bias, win) = (op.x, op.kernel, op.bias, op.win);
    let (n, h, w, cin) = x.dim();
    let (kh, kw, _, mult) = kernel.dim();
    let [oh, ow] = win.out;
    let cout = cin * mult;
    let len = n * oh * ow * cout;
    if len == 0 || kh * kw == 0 {
        let mut out = Array4::<f32>::zeros((n, oh, ow, cout));
        if let Some(b) = bias {
            super::elementwise::add_bias(&mut out, b);
        }
        return out;
    }
    let xs = x.as_standard_layout();
    let xs = xs.as_slice().expect("standard layout is contiguous");
    let ks = kernel.as_standard_layout();
    let ks = ks.as_slice().expect("standard layout is contiguous");
    let zeros;
    let bias = match bias {
        Some(b) => &b[..cout],
        None => {
            zeros = vec![0f32; cout];
            &zeros
        }
    };
    let g = Geometry {
        xs,
        ks,
        bias,
        win,
        hw: [h, w],
        cin,
        kw,
        mult,
        out: [oh, ow],
    };
    #[cfg(target_arch = "x86_64")]
    let level = if std::arch::is_x86_feature_detected!("avx512f") {
        2
    } else if std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("fma")
    {
        1
    } else {
        0
    };
    // Every element is written once by its row (no zeroing pass over the output first).
    let mut out: Vec<f32> = Vec::with_capacity(len);
    for_chunks(
        &mut out.spare_capacity_mut()[..len],
        ow * cout,
        |row_i, row| {
            #[cfg(target_arch = "x86_64")]
            match level {
                // SAFETY: the CPU has AVX-512F (and so AVX2 and FMA), checked above.
                2 => return unsafe { row_avx512(&g, row_i, row) },
                // SAFETY: the CPU has AVX2 and FMA, checked above.
                1 => return unsafe { row_avx2(&g, row_i, row) },
                _ => {}
            }
            output_row(&g, row_i, row);
        },
    );
    // SAFETY: the rows cover `len` and `output_row` writes every element of its row.
    unsafe { out.set_len(len) };
    Array4::from_shape_vec((n, oh, ow, cout), out).unwrap_or_else(|_| Array4::zeros((0, 0, 0, 0)))
}

/// What every output row reads: the input and kernel in standard layout, the bias (zeros
/// without one), the window and the sizes.
struct Geometry<'a> {
    xs: &'a [f32],
    ks: &'a [f32],
    bias: &'a [f32],
    win: &'a Window,
    /// Input height and width.
    hw: [usize; 2],
    cin: usize,
    kw: usize,
    mult: usize,
    /// Output height and width.
    out: [usize; 2],
}

// `output_row` compiled once per instruction set.
macro_rules! compiled_for {
    ($name:ident, $features:literal) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        unsafe fn $name(g: &Geometry, row_i: usize, row: &mut [MaybeUninit<f32>]) {
            output_row(g, row_i, row)
        }
    };
}
compiled_for!(row_avx512, "avx512f,avx2,fma");
compiled_for!(row_avx2, "avx2,fma");

/// Output row `row_i` (batch-major) of `ow` pixels × `cin·mult` channels. Only the taps
/// inside the image are visited: the others read zero padding. Writes every element.
#[inline(always)]
fn output_row(g: &Geometry, row_i: usize, row: &mut [MaybeUninit<f32>]) {
    let (b, oy) = (row_i / g.out[0], row_i % g.out[0]);
    let (c, cout) = (g.cin, g.cin * g.mult);
    let image = &g.xs[b * g.hw[0] * g.hw[1] * c..(b + 1) * g.hw[0] * g.hw[1] * c];
    let rows = g.win.inside(0, oy, g.hw[0]);
    // (input offset, kernel offset) of every tap inside the image, for one pixel at a
    // time: a list walked once per channel block.
    let mut taps: Vec<(usize, usize)> = Vec::with_capacity(rows.len() * g.kw);
    // A pixel's sums for `depth_multiplier > 1`.
    let mut sums: Vec<f32> = Vec::new();
    for (ox, px) in row.chunks_exact_mut(cout).enumerate().take(g.out[1]) {
        let cols = g.win.inside(1, ox, g.hw[1]);
        taps.clear();
        for ky in rows.clone() {
            let iy = g.win.coord(0, oy, ky) as usize;
            for kx in cols.clone() {
                let ix = g.win.coord(1, ox, kx) as usize;
                taps.push(((iy * g.hw[1] + ix) * c, (ky * g.kw + kx) * cout));
            }
        }
        let taps = &taps[..];
        if g.mult == 1 {
            let mut c0 = 0;
            while c0 + BLOCK <= c {
                let mut acc: [f32; BLOCK] =
                    g.bias[c0..c0 + BLOCK].try_into().unwrap_or([0.0; BLOCK]);
                for &(xo, ko) in taps {
                    let xv = &image[xo + c0..xo + c0 + BLOCK];
                    let kv = &g.ks[ko + c0..ko + c0 + BLOCK];
                    for j in 0..BLOCK {
                        acc[j] += xv[j] * kv[j];
                    }
                }
                write(&mut px[c0..c0 + BLOCK], &acc);
                c0 += BLOCK;
            }
            if c0 < c {
                let mut acc = [0f32; BLOCK];
                let rest = &mut acc[..c - c0];
                rest.copy_from_slice(&g.bias[c0..]);
                for &(xo, ko) in taps {
                    let xv = &image[xo + c0..xo + c];
                    let kv = &g.ks[ko + c0..ko + c];
                    for ((a, x), k) in rest.iter_mut().zip(xv).zip(kv) {
                        *a += x * k;
                    }
                }
                write(&mut px[c0..], rest);
            }
        } else {
            sums.clear();
            sums.extend_from_slice(g.bias);
            for &(xo, ko) in taps {
                let kv = &g.ks[ko..ko + cout];
                for (ci, x) in image[xo..xo + c].iter().enumerate() {
                    let m = ci * g.mult;
                    for (a, k) in sums[m..m + g.mult].iter_mut().zip(&kv[m..m + g.mult]) {
                        *a += x * k;
                    }
                }
            }
            write(px, &sums);
        }
    }
}

/// `dst = src` (`<[MaybeUninit<T>]>::write_copy_of_slice`, stable only since Rust 1.93).
#[inline(always)]
fn write(dst: &mut [MaybeUninit<f32>], src: &[f32]) {
    for (d, s) in dst.iter_mut().zip(src) {
        d.write(*s);
    }
}
