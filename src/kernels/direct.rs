//! Direct convolution for layers with few taps: register tiles over pixels and filters,
//! AVX-512 / AVX2 intrinsics chosen at run time, portable code otherwise.

use super::ConvOp;
use super::elementwise::{Pointwise, for_chunks};
use super::epilogue::Epilogue;
use crate::keras::geometry::Window;
use ndarray::Array4;

/// Taps per output (kh·kw·cin) up to which [`super::conv2d`] computes directly instead
/// of im2col + GEMM: there a GEMM's K is too short to run well and im2col costs as much
/// as the product.
pub const DIRECT_MAX_TAPS: usize = 160;
/// Filters up to which the direct path is used.
pub const DIRECT_MAX_FILTERS: usize = 64;

/// Whether the direct kernel beats im2col + GEMM for `taps` = kh·kw·cin and `cout`
/// filters. Measured on one thread with the AVX2 intrinsics tile: StridedNet's
/// 7×7×3→16 (147 taps) 0.25 ms vs 0.35 ms with GEMM; conv512's 3×3×3→32 (27 taps)
/// 8 ms vs 12.5 ms (with streaming stores); the VGG block's 3×3×3→64 4.0 ms vs 6.0 ms;
/// but StridedNet's 3×3×16→32 (144 taps) 0.54 ms vs 0.40 ms: GEMM's packing pays off
/// once there are many taps and more than one 16-filter tile.
pub fn direct_wins(taps: usize, cout: usize) -> bool {
    (cout <= 16 && taps <= DIRECT_MAX_TAPS) || (taps <= 32 && cout <= DIRECT_MAX_FILTERS)
}

/// Outputs larger than this are written with streaming stores by the direct kernel.
pub(crate) const STREAM_MIN_BYTES: usize = 24 << 20;

/// Direct convolution (groups = 1) for layers with few taps: every output pixel's
/// channels accumulate `x · w[tap]` over the taps in registers, a few pixels at a time,
/// reading the input in place (no im2col). Output rows run in parallel; the bias and
/// activation are applied to each row as it is finished. Uses AVX2/FMA when the CPU has
/// them (checked at run time), portable code otherwise.
pub fn conv2d_direct(op: ConvOp, epilogue: Epilogue) -> Array4<f32> {
    let (x, kernel, bias, win) = (op.x, op.kernel, op.bias, op.win);
    use std::mem::MaybeUninit;
    let (n, h, w, cin) = x.dim();
    let (kh, kw, _, cout) = kernel.dim();
    let [oh, ow] = win.out;
    let len = n * oh * ow * cout;
    if len == 0 {
        return Array4::zeros((n, oh, ow, cout));
    }
    let xs = x.as_standard_layout();
    let xs = xs.as_slice().expect("standard layout is contiguous");
    let ks = kernel.as_standard_layout();
    let ks = ks.as_slice().expect("standard layout is contiguous");
    // Weights as taps × channels padded to a multiple of 8; the bias likewise.
    let cpad = cout.div_ceil(8) * 8;
    let taps = kh * kw * cin;
    let mut wp = vec![0f32; taps * cpad];
    for t in 0..taps {
        wp[t * cpad..t * cpad + cout].copy_from_slice(&ks[t * cout..(t + 1) * cout]);
    }
    let mut bp = vec![0f32; cpad];
    if let Some(b) = bias {
        bp[..cout].copy_from_slice(&b[..cout]);
    }
    // Offset of each tap from its window's top-left input element.
    let offsets: Vec<usize> = (0..kh)
        .flat_map(|ky| (0..kw).flat_map(move |kx| (0..cin).map(move |c| (ky, kx, c))))
        .map(|(ky, kx, c)| (ky * win.dilation[0] * w + kx * win.dilation[1]) * cin + c)
        .collect();
    let geo = Direct {
        wp: &wp,
        bp: &bp,
        offsets: &offsets,
        ks,
        win,
        h,
        w,
        cin,
        kh,
        kw,
        ow,
        cout,
        cpad,
        span: offsets.last().map_or(0, |o| o + 1),
        relu: matches!(epilogue, Epilogue::Relu),
        stream: len * 4 > STREAM_MIN_BYTES,
    };
    #[cfg(target_arch = "x86_64")]
    let fast =
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma");
    #[cfg(target_arch = "x86_64")]
    let fast512 = fast && std::arch::is_x86_feature_detected!("avx512f");
    // Every element is written exactly once below (interior tiles cover every channel
    // of their pixels, border pixels all of theirs), so the output starts uninitialised
    // instead of being zeroed first: a 512×512×32 output is 33 MB.
    let mut out: Vec<f32> = Vec::with_capacity(len);
    for_chunks(
        &mut out.spare_capacity_mut()[..len],
        ow * cout,
        |row_i, row: &mut [MaybeUninit<f32>]| {
            let (b, oy) = (row_i / oh, row_i % oh);
            let image = &xs[b * h * w * cin..(b + 1) * h * w * cin];
            #[cfg(target_arch = "x86_64")]
            if fast512 {
                // SAFETY: the CPU has AVX-512F, AVX2 and FMA (checked above).
                unsafe { direct_row_avx512(image, &geo, oy, row) };
                return;
            }
            #[cfg(target_arch = "x86_64")]
            if fast {
                // SAFETY: the CPU has AVX2 and FMA (checked above).
                unsafe { direct_row_avx2(image, &geo, oy, row) };
                return;
            }
            direct_row::<0>(image, &geo, oy, row);
        },
    );
    // SAFETY: all `len` elements were initialised by the rows above.
    unsafe { out.set_len(len) };
    if let Epilogue::Map(_) = epilogue {
        // Bias is already in; the activation is a separate pass.
        epilogue.apply(&mut out, cout, None);
    }
    // The layers after it: one more pass.
    Pointwise::apply_chain_to(op.then, &mut out, cout);
    Array4::from_shape_vec((n, oh, ow, cout), out).unwrap_or_else(|_| Array4::zeros((0, 0, 0, 0)))
}

/// Everything one output row needs: the packed weights and bias, each tap's offset, the
/// unpacked kernel (for border pixels), the window and the sizes.
struct Direct<'a> {
    win: &'a Window,
    h: usize,
    /// Weights as taps × channels padded to a multiple of 8 (`cpad`); the bias likewise.
    wp: &'a [f32],
    bp: &'a [f32],
    /// Offset of each tap from its window's top-left input element.
    offsets: &'a [usize],
    ks: &'a [f32],
    w: usize,
    cin: usize,
    kh: usize,
    kw: usize,
    ow: usize,
    cout: usize,
    cpad: usize,
    /// Input elements one window spans (its last tap's offset + 1).
    span: usize,
    relu: bool,
    /// Write with non-temporal stores: the output is far larger than the caches, so
    /// reading each line before overwriting it would double the memory traffic.
    stream: bool,
}

/// An output element being written.
type Out = std::mem::MaybeUninit<f32>;

impl Direct<'_> {
    /// What a tile may assume of its windows and of the channels `..end` it computes.
    fn debug_check(&self, windows: &[&[f32]], end: usize) {
        debug_assert!(end <= self.cpad && self.wp.len() >= self.offsets.len() * self.cpad);
        debug_assert!(windows.iter().all(|w| w.len() >= self.span));
        debug_assert!(self.offsets.iter().all(|&o| o < self.span));
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn direct_row_avx2(
    image: &[f32],
    g: &Direct,
    oy: usize,
    row: &mut [std::mem::MaybeUninit<f32>],
) {
    direct_row::<1>(image, g, oy, row);
    if g.stream {
        // Streaming stores are weakly ordered: make them visible before the row is
        // handed back to the thread that assembles the output.
        std::arch::x86_64::_mm_sfence();
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn direct_row_avx512(
    image: &[f32],
    g: &Direct,
    oy: usize,
    row: &mut [std::mem::MaybeUninit<f32>],
) {
    direct_row::<2>(image, g, oy, row);
    if g.stream {
        std::arch::x86_64::_mm_sfence();
    }
}

/// One output row of [`conv2d_direct`]: writes every element of `row`. `LEVEL`: 0
/// portable; 1 called from a function compiled for AVX2+FMA (the CPU has them), so the
/// AVX2 intrinsics tile may be used; 2 the same with AVX-512F (8-pixel tiles).
#[inline(always)]
fn direct_row<const LEVEL: u8>(
    image: &[f32],
    g: &Direct,
    oy: usize,
    row: &mut [std::mem::MaybeUninit<f32>],
) {
    let (win, bp, ks) = (g.win, g.bp, g.ks);
    let keff = |a: usize, k: usize| (k - 1) * win.dilation[a] + 1;
    let iy0 = win.coord(0, oy, 0);
    let rows_inside = iy0 >= 0 && iy0 as usize + keff(0, g.kh) <= g.h;
    let inside = |o: usize| {
        let ix0 = win.coord(1, o, 0);
        rows_inside && ix0 >= 0 && ix0 as usize + keff(1, g.kw) <= g.w
    };
    let mut ox = 0;
    while ox < g.ow {
        // With AVX-512: pixels whose whole window lies inside the image in groups of 8.
        #[cfg(target_arch = "x86_64")]
        if LEVEL >= 2 && ox + 8 <= g.ow && inside(ox) && inside(ox + 7) {
            let windows: [&[f32]; 8] = std::array::from_fn(|p| {
                let b = (iy0 as usize * g.w + win.coord(1, ox + p, 0) as usize) * g.cin;
                &image[b..b + g.span]
            });
            let out = &mut row[ox * g.cout..(ox + 8) * g.cout];
            let mut f0 = 0;
            while f0 < g.cpad {
                let left = g.cpad - f0;
                // SAFETY: AVX-512F, AVX2 and FMA are available (`LEVEL` 2); the windows
                // hold `span` elements and every offset is below it; `wp`/`bp` hold
                // `cpad` channels per tap from `f0`; `out` holds 8 pixels × `cout`.
                unsafe {
                    if left >= 32 {
                        tile_avx512::<2>(&windows, g, f0, out);
                        f0 += 32;
                    } else if left >= 16 {
                        tile_avx512::<1>(&windows, g, f0, out);
                        f0 += 16;
                    } else {
                        let (a, b) = out.split_at_mut(4 * g.cout);
                        let wa: [&[f32]; 4] = std::array::from_fn(|p| windows[p]);
                        let wb: [&[f32]; 4] = std::array::from_fn(|p| windows[4 + p]);
                        tile_avx2::<1>(&wa, g, f0, a);
                        tile_avx2::<1>(&wb, g, f0, b);
                        f0 += 8;
                    }
                }
            }
            ox += 8;
            continue;
        }
        // Pixels whose whole window lies inside the image run in groups of 4.
        if ox + 4 <= g.ow && inside(ox) && inside(ox + 3) {
            let windows: [&[f32]; 4] = std::array::from_fn(|p| {
                let b = (iy0 as usize * g.w + win.coord(1, ox + p, 0) as usize) * g.cin;
                &image[b..b + g.span]
            });
            let out = &mut row[ox * g.cout..(ox + 4) * g.cout];
            let mut f0 = 0;
            while f0 < g.cpad {
                let wide = g.cpad - f0 >= 16;
                #[cfg(target_arch = "x86_64")]
                if LEVEL >= 1 {
                    // SAFETY: AVX2+FMA are available (`LEVEL` ≥ 1); the windows hold `span`
                    // elements and every offset is below it; `wp`/`bp` hold `cpad`
                    // channels per tap from `f0`; `out` holds 4 pixels × `cout`.
                    unsafe {
                        if wide {
                            tile_avx2::<2>(&windows, g, f0, out);
                        } else {
                            tile_avx2::<1>(&windows, g, f0, out);
                        }
                    }
                    f0 += if wide { 16 } else { 8 };
                    continue;
                }
                if wide {
                    tile::<16, 4>(&windows, g, f0, out);
                    f0 += 16;
                } else {
                    tile::<8, 4>(&windows, g, f0, out);
                    f0 += 8;
                }
            }
            ox += 4;
        } else {
            // A border pixel: taps outside the image are zero padding.
            let mut px = bp[..g.cout].to_vec();
            for ky in 0..g.kh {
                let iy = win.coord(0, oy, ky);
                if iy < 0 || iy >= g.h as isize {
                    continue;
                }
                for kx in 0..g.kw {
                    let ix = win.coord(1, ox, kx);
                    if ix < 0 || ix >= g.w as isize {
                        continue;
                    }
                    let o = (iy as usize * g.w + ix as usize) * g.cin;
                    for c in 0..g.cin {
                        let a = image[o + c];
                        let t = (ky * g.kw + kx) * g.cin + c;
                        for (d, k) in px.iter_mut().zip(&ks[t * g.cout..(t + 1) * g.cout]) {
                            *d += a * k;
                        }
                    }
                }
            }
            for (d, v) in row[ox * g.cout..(ox + 1) * g.cout].iter_mut().zip(px) {
                d.write(if g.relu { v.max(0.0) } else { v });
            }
            ox += 1;
        }
    }
}

/// [`tile`] for 4 pixels × `V`·8 channels with AVX2 intrinsics: 4·`V` accumulators
/// and `V` weight vectors stay in registers, one broadcast per pixel and tap, no bounds
/// checks in the tap loop (the portable version spills accumulators to the stack).
///
/// # Safety
/// The CPU has AVX2 and FMA; every `windows[p]` is at least `g.span` long and every
/// offset is below `g.span`; `wp` and `bp` hold `g.cpad` ≥ `f0 + 8V` channels per tap;
/// `out` holds 4 × `g.cout` elements.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn tile_avx2<const V: usize>(xs: &[&[f32]; 4], g: &Direct, f0: usize, out: &mut [Out]) {
    use std::arch::x86_64::*;
    g.debug_check(xs, f0 + 8 * V);
    let (wp, bp, offsets, windows) = (g.wp, g.bp, g.offsets, xs);
    let (x0, x1, x2, x3) = (
        windows[0].as_ptr(),
        windows[1].as_ptr(),
        windows[2].as_ptr(),
        windows[3].as_ptr(),
    );
    let bias: [__m256; V] =
        std::array::from_fn(|v| unsafe { _mm256_loadu_ps(bp.as_ptr().add(f0 + 8 * v)) });
    let mut acc = [bias; 4];
    let mut w = unsafe { wp.as_ptr().add(f0) };
    for &off in offsets {
        let wv: [__m256; V] = std::array::from_fn(|v| unsafe { _mm256_loadu_ps(w.add(8 * v)) });
        let xs = unsafe {
            [
                _mm256_broadcast_ss(&*x0.add(off)),
                _mm256_broadcast_ss(&*x1.add(off)),
                _mm256_broadcast_ss(&*x2.add(off)),
                _mm256_broadcast_ss(&*x3.add(off)),
            ]
        };
        for p in 0..4 {
            for v in 0..V {
                acc[p][v] = _mm256_fmadd_ps(xs[p], wv[v], acc[p][v]);
            }
        }
        w = unsafe { w.add(g.cpad) };
    }
    if g.relu {
        let zero = _mm256_setzero_ps();
        for a in acc.iter_mut() {
            for v in a.iter_mut() {
                *v = _mm256_max_ps(*v, zero);
            }
        }
    }
    let n = (8 * V).min(g.cout.saturating_sub(f0));
    for (p, a) in acc.iter().enumerate() {
        let dst = &mut out[p * g.cout + f0..p * g.cout + f0 + n];
        if n == 8 * V {
            let d = dst.as_mut_ptr().cast::<f32>();
            if g.stream && (d as usize).is_multiple_of(16) {
                for (v, vec) in a.iter().enumerate() {
                    // SAFETY: `dst` holds 8·V floats and is 16-byte aligned;
                    // MaybeUninit<f32> has f32's layout. Ordered by the sfence at the
                    // end of the row.
                    unsafe {
                        _mm_stream_ps(d.add(8 * v), _mm256_castps256_ps128(*vec));
                        _mm_stream_ps(d.add(8 * v + 4), _mm256_extractf128_ps(*vec, 1));
                    }
                }
            } else {
                for (v, vec) in a.iter().enumerate() {
                    // SAFETY: `dst` holds 8·V floats; MaybeUninit<f32> has f32's layout.
                    unsafe { _mm256_storeu_ps(d.add(8 * v), *vec) };
                }
            }
        } else {
            let mut tmp = [0f32; 16];
            for (v, vec) in a.iter().enumerate() {
                unsafe { _mm256_storeu_ps(tmp.as_mut_ptr().add(8 * v), *vec) };
            }
            for (d, x) in dst.iter_mut().zip(tmp) {
                d.write(x);
            }
        }
    }
}

/// [`tile_avx2`] with AVX-512: 8 pixels × `V`·16 channels, 8·`V` zmm accumulators.
///
/// # Safety
/// The CPU has AVX-512F; every `windows[p]` is at least `g.span` long and every offset
/// is below `g.span`; `wp` and `bp` hold `g.cpad` ≥ `f0 + 16V` channels per tap; `out`
/// holds 8 × `g.cout` elements.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
#[inline]
unsafe fn tile_avx512<const V: usize>(xs: &[&[f32]; 8], g: &Direct, f0: usize, out: &mut [Out]) {
    use std::arch::x86_64::*;
    g.debug_check(xs, f0 + 16 * V);
    let (wp, bp, offsets, windows) = (g.wp, g.bp, g.offsets, xs);
    let xp: [*const f32; 8] = std::array::from_fn(|p| windows[p].as_ptr());
    let bias: [__m512; V] =
        std::array::from_fn(|v| unsafe { _mm512_loadu_ps(bp.as_ptr().add(f0 + 16 * v)) });
    let mut acc = [bias; 8];
    let mut w = unsafe { wp.as_ptr().add(f0) };
    for &off in offsets {
        let wv: [__m512; V] = std::array::from_fn(|v| unsafe { _mm512_loadu_ps(w.add(16 * v)) });
        for p in 0..8 {
            let x = _mm512_set1_ps(unsafe { *xp[p].add(off) });
            for v in 0..V {
                acc[p][v] = _mm512_fmadd_ps(x, wv[v], acc[p][v]);
            }
        }
        w = unsafe { w.add(g.cpad) };
    }
    if g.relu {
        let zero = _mm512_setzero_ps();
        for a in acc.iter_mut() {
            for v in a.iter_mut() {
                *v = _mm512_max_ps(*v, zero);
            }
        }
    }
    let n = (16 * V).min(g.cout.saturating_sub(f0));
    for (p, a) in acc.iter().enumerate() {
        let dst = &mut out[p * g.cout + f0..p * g.cout + f0 + n];
        let d = dst.as_mut_ptr().cast::<f32>();
        if n == 16 * V {
            for (v, vec) in a.iter().enumerate() {
                // SAFETY: `dst` holds 16·V floats; MaybeUninit<f32> has f32's layout.
                // Streaming stores are ordered by the sfence at the end of the row.
                unsafe {
                    let d = d.add(16 * v);
                    if g.stream && (d as usize).is_multiple_of(64) {
                        _mm512_stream_ps(d, *vec);
                    } else if g.stream && (d as usize).is_multiple_of(16) {
                        _mm_stream_ps(d, _mm512_extractf32x4_ps::<0>(*vec));
                        _mm_stream_ps(d.add(4), _mm512_extractf32x4_ps::<1>(*vec));
                        _mm_stream_ps(d.add(8), _mm512_extractf32x4_ps::<2>(*vec));
                        _mm_stream_ps(d.add(12), _mm512_extractf32x4_ps::<3>(*vec));
                    } else {
                        _mm512_storeu_ps(d, *vec);
                    }
                }
            }
        } else {
            let mut tmp = [0f32; 32];
            for (v, vec) in a.iter().enumerate() {
                unsafe { _mm512_storeu_ps(tmp.as_mut_ptr().add(16 * v), *vec) };
            }
            for (dd, x) in dst.iter_mut().zip(tmp) {
                dd.write(x);
            }
        }
    }
}

/// `P` pixels × `F` channels (from `f0`) accumulated in registers over every tap,
/// starting from the bias, with ReLU applied before the one store.
#[inline(always)]
fn tile<const F: usize, const P: usize>(
    windows: &[&[f32]; P],
    g: &Direct,
    f0: usize,
    out: &mut [std::mem::MaybeUninit<f32>],
) {
    let (wp, bp, offsets) = (g.wp, g.bp, g.offsets);
    let b: &[f32; F] = bp[f0..f0 + F].try_into().expect("F biases");
    let mut acc = [*b; P];
    let wp = &wp[f0..];
    for (t, &off) in offsets.iter().enumerate() {
        let wr: &[f32; F] = wp[t * g.cpad..t * g.cpad + F]
            .try_into()
            .expect("F weights");
        for p in 0..P {
            // In bounds: `off` < span = the window's length.
            let a = windows[p][off];
            for f in 0..F {
                acc[p][f] = a.mul_add(wr[f], acc[p][f]);
            }
        }
    }
    if g.relu {
        for a in acc.iter_mut() {
            for v in a.iter_mut() {
                *v = v.max(0.0);
            }
        }
    }
    let n = F.min(g.cout.saturating_sub(f0));
    for (p, a) in acc.iter().enumerate() {
        let dst = &mut out[p * g.cout + f0..p * g.cout + f0 + n];
        if n == F {
            for f in 0..F {
                dst[f].write(a[f]);
            }
        } else {
            for (d, v) in dst.iter_mut().zip(a) {
                d.write(*v);
            }
        }
    }
}
