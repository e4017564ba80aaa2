//! Numeric kernels on NHWC `f32` tensors: convolution (tiled im2col + GEMM, a 1×1 fast
//! path, groups), depthwise and transposed convolution, pooling, padding, resizing.
//!
//! Pure functions of their inputs; the layer semantics (which padding, which layout)
//! are decided by [`super::forward`]. A naive reference convolution lives in the tests
//! and is compared against the fast path by property tests.

use super::gemm::sgemm_into;
use ndarray::{Array2, Array4, ArrayView2, ArrayView4, Axis, s};
use std::mem::MaybeUninit;

/// Geometry of a 2-D sliding window along both spatial axes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub kernel: [usize; 2],
    pub strides: [usize; 2],
    pub dilation: [usize; 2],
    /// Zero padding before (top, left); padding after is implied by the output size.
    pub pad_before: [usize; 2],
    pub out: [usize; 2],
}

impl Window {
    /// Keras's geometry for `padding="valid"|"same"` on an input of `input` pixels.
    pub fn keras(
        input: [usize; 2],
        kernel: [usize; 2],
        strides: [usize; 2],
        dilation: [usize; 2],
        same: bool,
    ) -> Window {
        let mut out = [0; 2];
        let mut pad_before = [0; 2];
        for a in 0..2 {
            // Saturating: a window larger than any input (pool_size 10^18) is legal Keras.
            let keff = kernel[a]
                .saturating_sub(1)
                .saturating_mul(dilation[a])
                .saturating_add(1);
            if same {
                out[a] = input[a].div_ceil(strides[a].max(1));
                let total = out[a]
                    .saturating_sub(1)
                    .saturating_mul(strides[a])
                    .saturating_add(keff)
                    .saturating_sub(input[a]);
                pad_before[a] = total / 2;
            } else {
                out[a] = if input[a] >= keff {
                    (input[a] - keff) / strides[a] + 1
                } else {
                    0
                };
            }
        }
        Window {
            kernel,
            strides,
            dilation,
            pad_before,
            out,
        }
    }

    /// The taps `t` of output `o` along axis `a` that land inside an input of `len`
    /// pixels (all others read padding), computed without visiting the outside ones.
    fn inside(&self, a: usize, o: usize, len: usize) -> std::ops::Range<usize> {
        let (s, d, p) = (
            self.strides[a] as i128,
            self.dilation[a].max(1) as i128,
            self.pad_before[a] as i128,
        );
        // coord = o*s + t*d - p must lie in [0, len).
        let base = o as i128 * s - p;
        let (first, end) = if d == 1 {
            (0.max(-base), len as i128 - base) // pooling: no division
        } else {
            (
                if base >= 0 { 0 } else { (-base + d - 1) / d },
                if len == 0 || base > len as i128 - 1 {
                    0
                } else {
                    (len as i128 - 1 - base) / d + 1
                },
            )
        };
        let end = end.clamp(0, self.kernel[a] as i128);
        (first.min(end) as usize)..(end as usize)
    }

    /// Input coordinate of output `o`, tap `t` along axis `a` (may be outside the input).
    #[inline]
    fn coord(&self, a: usize, o: usize, t: usize) -> isize {
        // Wide arithmetic: strides or dilations near 2^63 are legal Keras arguments.
        let v = o as i128 * self.strides[a] as i128 + t as i128 * self.dilation[a] as i128
            - self.pad_before[a] as i128;
        v.clamp(isize::MIN as i128, isize::MAX as i128) as isize
    }
}

/// `y = x @ w` for row-major matrices (the GEMM every convolution ends in).
fn matmul(x: ArrayView2<f32>, w: ArrayView2<f32>) -> Array2<f32> {
    x.dot(&w)
}

/// What follows a convolution's GEMM on each block of output rows while it is still in
/// cache: the bias, then an element-wise activation.
#[derive(Clone, Copy)]
pub enum Epilogue {
    Linear,
    Relu,
    Map(fn(f32) -> f32),
}

impl Epilogue {
    /// The epilogue computing Keras activation `name`, if it is element-wise.
    pub fn for_activation(name: &str) -> Option<Epilogue> {
        match name {
            "linear" => Some(Epilogue::Linear),
            "relu" => Some(Epilogue::Relu),
            n => super::activations::elementwise(n).map(Epilogue::Map),
        }
    }

    /// Adds `bias` (one value per column) to every `cols`-wide row of `block`, then
    /// applies the activation.
    #[inline]
    pub fn apply(self, block: &mut [f32], cols: usize, bias: Option<&[f32]>) {
        if cols == 0 {
            return;
        }
        match (self, bias) {
            (Epilogue::Linear, None) => {}
            (Epilogue::Linear, Some(b)) => {
                for row in block.chunks_exact_mut(cols) {
                    for (v, b) in row.iter_mut().zip(b) {
                        *v += b;
                    }
                }
            }
            (Epilogue::Relu, None) => {
                for v in block.iter_mut() {
                    *v = v.max(0.0);
                }
            }
            (Epilogue::Relu, Some(b)) => {
                for row in block.chunks_exact_mut(cols) {
                    for (v, b) in row.iter_mut().zip(b) {
                        *v = (*v + b).max(0.0);
                    }
                }
            }
            (Epilogue::Map(f), b) => {
                for row in block.chunks_exact_mut(cols) {
                    match b {
                        Some(b) => {
                            for (v, b) in row.iter_mut().zip(b) {
                                *v = f(*v + b);
                            }
                        }
                        None => {
                            for v in row.iter_mut() {
                                *v = f(*v);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// im2col buffer per block of output pixels: about 1 MiB, the L2 of this machine.
const BLOCK_FLOATS: usize = 1 << 18;

/// Convolution of NHWC `x` with an HWIO kernel `(kh, kw, cin/groups, cout)`, with the
/// bias and activation fused into the pass that writes each block. Wide 3×3 stride-1
/// layers use Winograd ([`super::winograd::choose`]) when input and kernel are
/// [`super::winograd::tame`] (finite, below 1e20), layers with few taps and filters
/// (see [`direct_wins`]) [`conv2d_direct`]; the rest im2col + GEMM:
///
/// Output pixels are cut into blocks; each block's patches are gathered (im2col, whole
/// kernel rows at once when they lie inside the input) into a per-thread buffer that
/// fits in L2, multiplied by the kernel in place (it already is the (kh·kw·cin) × cout
/// matrix GEMM needs, so nothing is packed per call), and written once. Blocks run in
/// parallel on rayon's pool; a layer with too few blocks lets the GEMM split instead.
/// 1×1 stride-1 convolutions skip im2col: the input already is the patch matrix.
pub fn conv2d(
    x: ArrayView4<f32>,
    kernel: ArrayView4<f32>,
    bias: Option<&[f32]>,
    win: &Window,
    groups: usize,
    epilogue: Epilogue,
) -> Array4<f32> {
    let (kh, kw, cin_g, cout) = kernel.dim();
    if let Some(v) = super::winograd::choose([kh, kw], win, groups, cin_g, cout)
        && super::winograd::tame(x)
        && super::winograd::tame(kernel)
    {
        return super::winograd::conv(v, x, kernel, bias, win, epilogue);
    }
    if groups <= 1 && direct_wins(kh * kw * cin_g, cout) {
        conv2d_direct(x, kernel, bias, win, epilogue)
    } else {
        conv2d_gemm(x, kernel, bias, win, groups, epilogue)
    }
}

/// The im2col + GEMM path of [`conv2d`] (any convolution).
pub fn conv2d_gemm(
    x: ArrayView4<f32>,
    kernel: ArrayView4<f32>,
    bias: Option<&[f32]>,
    win: &Window,
    groups: usize,
    epilogue: Epilogue,
) -> Array4<f32> {
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
    // Enough blocks for every thread: one GEMM per block, blocks in parallel.
    // Otherwise blocks in order and each GEMM uses the threads.
    let (rows_per_block, gemm_threads) = if blocks >= 2 * threads || threads == 1 {
        (rows_per_block, 1)
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
            if pointwise {
                sgemm_into(
                    m,
                    cout_g,
                    cin_g,
                    &xs[p0 * cin + c0..],
                    cin,
                    &ks[f0..],
                    cout,
                    &mut chunk[f0..],
                    cout,
                    gemm_threads,
                );
                continue;
            }
            buf.resize(m * kdim, 0.0);
            for (r, row) in buf.chunks_exact_mut(kdim).enumerate() {
                let p = p0 + r;
                let (b, rest) = (p / (oh * ow), p % (oh * ow));
                let (oy, ox) = (rest / ow, rest % ow);
                let image = &xs[b * h * w * cin..(b + 1) * h * w * cin];
                im2col_row(image, [h, w, cin], c0, cin_g, [kh, kw], win, oy, ox, row);
            }
            sgemm_into(
                m,
                cout_g,
                kdim,
                buf,
                kdim,
                &ks[f0..],
                cout,
                &mut chunk[f0..],
                cout,
                gemm_threads,
            );
        }
        // SAFETY: the group GEMMs above wrote every element of `chunk`.
        let chunk = unsafe { &mut *(chunk as *mut [MaybeUninit<f32>] as *mut [f32]) };
        epilogue.apply(chunk, cout, bias);
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

/// Taps per output (kh·kw·cin) up to which [`conv2d`] computes directly instead of
/// im2col + GEMM: there a GEMM's K is too short to run well and im2col costs as much
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
const STREAM_MIN_BYTES: usize = 24 << 20;

/// Direct convolution (groups = 1) for layers with few taps: every output pixel's
/// channels accumulate `x · w[tap]` over the taps in registers, a few pixels at a time,
/// reading the input in place (no im2col). Output rows run in parallel; the bias and
/// activation are applied to each row as it is finished. Uses AVX2/FMA when the CPU has
/// them (checked at run time), portable code otherwise.
pub fn conv2d_direct(
    x: ArrayView4<f32>,
    kernel: ArrayView4<f32>,
    bias: Option<&[f32]>,
    win: &Window,
    epilogue: Epilogue,
) -> Array4<f32> {
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
    let geo = DirectGeometry {
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
                unsafe { direct_row_avx512(image, &wp, &bp, &offsets, ks, win, &geo, oy, row) };
                return;
            }
            #[cfg(target_arch = "x86_64")]
            if fast {
                // SAFETY: the CPU has AVX2 and FMA (checked above).
                unsafe { direct_row_avx2(image, &wp, &bp, &offsets, ks, win, &geo, oy, row) };
                return;
            }
            direct_row::<0>(image, &wp, &bp, &offsets, ks, win, &geo, oy, row);
        },
    );
    // SAFETY: all `len` elements were initialised by the rows above.
    unsafe { out.set_len(len) };
    if let Epilogue::Map(_) = epilogue {
        // Bias is already in; the activation is a separate pass.
        epilogue.apply(&mut out, cout, None);
    }
    Array4::from_shape_vec((n, oh, ow, cout), out).unwrap_or_else(|_| Array4::zeros((0, 0, 0, 0)))
}

struct DirectGeometry {
    h: usize,
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

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn direct_row_avx2(
    image: &[f32],
    wp: &[f32],
    bp: &[f32],
    offsets: &[usize],
    ks: &[f32],
    win: &Window,
    g: &DirectGeometry,
    oy: usize,
    row: &mut [std::mem::MaybeUninit<f32>],
) {
    direct_row::<1>(image, wp, bp, offsets, ks, win, g, oy, row);
    if g.stream {
        // Streaming stores are weakly ordered: make them visible before the row is
        // handed back to the thread that assembles the output.
        std::arch::x86_64::_mm_sfence();
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn direct_row_avx512(
    image: &[f32],
    wp: &[f32],
    bp: &[f32],
    offsets: &[usize],
    ks: &[f32],
    win: &Window,
    g: &DirectGeometry,
    oy: usize,
    row: &mut [std::mem::MaybeUninit<f32>],
) {
    direct_row::<2>(image, wp, bp, offsets, ks, win, g, oy, row);
    if g.stream {
        std::arch::x86_64::_mm_sfence();
    }
}

/// One output row of [`conv2d_direct`]: writes every element of `row`. `LEVEL`: 0
/// portable; 1 called from a function compiled for AVX2+FMA (the CPU has them), so the
/// AVX2 intrinsics tile may be used; 2 the same with AVX-512F (8-pixel tiles).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn direct_row<const LEVEL: u8>(
    image: &[f32],
    wp: &[f32],
    bp: &[f32],
    offsets: &[usize],
    ks: &[f32],
    win: &Window,
    g: &DirectGeometry,
    oy: usize,
    row: &mut [std::mem::MaybeUninit<f32>],
) {
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
                        tile_avx512::<2>(&windows, offsets, wp, bp, g, f0, out);
                        f0 += 32;
                    } else if left >= 16 {
                        tile_avx512::<1>(&windows, offsets, wp, bp, g, f0, out);
                        f0 += 16;
                    } else {
                        let (a, b) = out.split_at_mut(4 * g.cout);
                        let wa: [&[f32]; 4] = std::array::from_fn(|p| windows[p]);
                        let wb: [&[f32]; 4] = std::array::from_fn(|p| windows[4 + p]);
                        tile_avx2::<1>(&wa, offsets, wp, bp, g, f0, a);
                        tile_avx2::<1>(&wb, offsets, wp, bp, g, f0, b);
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
                            tile_avx2::<2>(&windows, offsets, wp, bp, g, f0, out);
                        } else {
                            tile_avx2::<1>(&windows, offsets, wp, bp, g, f0, out);
                        }
                    }
                    f0 += if wide { 16 } else { 8 };
                    continue;
                }
                if wide {
                    tile::<16, 4>(&windows, offsets, wp, bp, g, f0, out);
                    f0 += 16;
                } else {
                    tile::<8, 4>(&windows, offsets, wp, bp, g, f0, out);
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
unsafe fn tile_avx2<const V: usize>(
    windows: &[&[f32]; 4],
    offsets: &[usize],
    wp: &[f32],
    bp: &[f32],
    g: &DirectGeometry,
    f0: usize,
    out: &mut [std::mem::MaybeUninit<f32>],
) {
    use std::arch::x86_64::*;
    debug_assert!(f0 + 8 * V <= g.cpad && wp.len() >= offsets.len() * g.cpad);
    debug_assert!(windows.iter().all(|w| w.len() >= g.span));
    debug_assert!(offsets.iter().all(|&o| o < g.span));
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
unsafe fn tile_avx512<const V: usize>(
    windows: &[&[f32]; 8],
    offsets: &[usize],
    wp: &[f32],
    bp: &[f32],
    g: &DirectGeometry,
    f0: usize,
    out: &mut [std::mem::MaybeUninit<f32>],
) {
    use std::arch::x86_64::*;
    debug_assert!(f0 + 16 * V <= g.cpad && wp.len() >= offsets.len() * g.cpad);
    debug_assert!(windows.iter().all(|w| w.len() >= g.span));
    debug_assert!(offsets.iter().all(|&o| o < g.span));
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
    offsets: &[usize],
    wp: &[f32],
    bp: &[f32],
    g: &DirectGeometry,
    f0: usize,
    out: &mut [std::mem::MaybeUninit<f32>],
) {
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

/// One im2col row: the patch of output pixel (`oy`, `ox`) over channels `c0..c0+cg` of
/// an (h, w, c) image, in (ky, kx, channel) order; zeros where the window leaves it.
#[allow(clippy::too_many_arguments)]
#[inline]
fn im2col_row(
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

/// Adds a per-channel bias on the last axis.
pub fn add_bias(out: &mut Array4<f32>, bias: &[f32]) {
    for mut px in out.lanes_mut(Axis(3)) {
        for (v, b) in px.iter_mut().zip(bias) {
            *v += *b;
        }
    }
}

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

/// Transposed convolution: kernel `(kh, kw, cout, cin)`; output `out` pixels with
/// `pad_before` cropped from the full scatter result (TensorFlow's `conv2d_transpose`).
pub fn conv_transpose(
    x: ArrayView4<f32>,
    kernel: ArrayView4<f32>,
    bias: Option<&[f32]>,
    win: &Window,
) -> Array4<f32> {
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

/// Elements below which element-wise work stays on one thread.
const PAR_MIN: usize = 1 << 15;

/// Calls `f(i, piece)` for the consecutive `chunk`-sized pieces of `data`, on rayon's
/// pool when there is enough work.
pub fn for_chunks<T: Send>(
    data: &mut [T],
    chunk: usize,
    f: impl Fn(usize, &mut [T]) + Sync + Send,
) {
    use rayon::prelude::*;
    let chunk = chunk.max(1);
    if data.len() >= PAR_MIN && rayon::current_num_threads() > 1 {
        data.par_chunks_mut(chunk)
            .enumerate()
            .for_each(|(i, c)| f(i, c));
    } else {
        data.chunks_mut(chunk)
            .enumerate()
            .for_each(|(i, c)| f(i, c));
    }
}

/// `f` applied to every element, into a new array of the same shape (one pass).
pub fn map(x: &ndarray::ArrayD<f32>, f: impl Fn(f32) -> f32 + Sync + Send) -> ndarray::ArrayD<f32> {
    let xs = x.as_standard_layout();
    let src = xs.as_slice().expect("standard layout is contiguous");
    let mut out = vec![0f32; src.len()];
    const PIECE: usize = 1 << 14;
    for_chunks(&mut out, PIECE, |i, d| {
        for (d, s) in d.iter_mut().zip(&src[i * PIECE..]) {
            *d = f(*s);
        }
    });
    ndarray::ArrayD::from_shape_vec(x.raw_dim(), out).unwrap_or_else(|_| x.mapv(&f))
}

/// `x * scale[c] + shift[c]` along the last axis (batch normalisation in inference).
pub fn scale_shift_last(
    x: &ndarray::ArrayD<f32>,
    scale: &[f32],
    shift: &[f32],
) -> ndarray::ArrayD<f32> {
    let c = scale.len().max(1);
    let xs = x.as_standard_layout();
    let src = xs.as_slice().expect("standard layout is contiguous");
    let mut out = vec![0f32; src.len()];
    let piece = c * (16384 / c).max(1);
    for_chunks(&mut out, piece, |i, d| {
        let s = &src[i * piece..];
        for (dr, sr) in d.chunks_exact_mut(c).zip(s.chunks_exact(c)) {
            for j in 0..c {
                dr[j] = sr[j] * scale[j] + shift[j];
            }
        }
    });
    ndarray::ArrayD::from_shape_vec(x.raw_dim(), out).unwrap_or_else(|_| x.clone())
}

/// Max or average pooling; average divides by the real (non-padded) pixels of a window.
/// A NaN in a max window wins (as in TensorFlow). Output rows run in parallel.
pub fn pool(x: ArrayView4<f32>, win: &Window, max: bool) -> Array4<f32> {
    let (n, h, w, c) = x.dim();
    let [oh, ow] = win.out;
    let xs = x.as_standard_layout();
    let xs = xs.as_slice().expect("standard layout is contiguous");
    let mut out = vec![0f32; n * oh * ow * c];
    for_chunks(&mut out, ow * c, |row_i, row| {
        let (b, oy) = (row_i / oh.max(1), row_i % oh.max(1));
        let rows = win.inside(0, oy, h);
        for (ox, acc) in row.chunks_exact_mut(c.max(1)).enumerate() {
            let mut count = 0usize;
            for ky in rows.clone() {
                let iy = win.coord(0, oy, ky);
                for kx in win.inside(1, ox, w) {
                    let ix = win.coord(1, ox, kx);
                    let o = ((b * h + iy as usize) * w + ix as usize) * c;
                    let px = &xs[o..o + c];
                    if count == 0 {
                        acc.copy_from_slice(px);
                    } else if max {
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
                    count += 1;
                }
            }
            if count == 0 {
                acc.fill(if max { f32::NEG_INFINITY } else { 0.0 });
            } else if !max {
                for a in acc.iter_mut() {
                    *a /= count as f32;
                }
            }
        }
    });
    Array4::from_shape_vec((n, oh, ow, c), out).unwrap_or_else(|_| Array4::zeros((0, 0, 0, 0)))
}

/// Zero padding (`amounts` may not be negative).
pub fn zero_pad(x: ArrayView4<f32>, amounts: [[usize; 2]; 2]) -> Array4<f32> {
    let (n, h, w, c) = x.dim();
    let mut out = Array4::<f32>::zeros((
        n,
        h + amounts[0][0] + amounts[0][1],
        w + amounts[1][0] + amounts[1][1],
        c,
    ));
    out.slice_mut(s![
        ..,
        amounts[0][0]..amounts[0][0] + h,
        amounts[1][0]..amounts[1][0] + w,
        ..
    ])
    .assign(&x);
    out
}

/// Cropping.
pub fn crop(x: ArrayView4<f32>, amounts: [[usize; 2]; 2]) -> Array4<f32> {
    let (_, h, w, _) = x.dim();
    x.slice(s![
        ..,
        amounts[0][0]..h - amounts[0][1],
        amounts[1][0]..w - amounts[1][1],
        ..
    ])
    .to_owned()
}

/// Nearest-neighbour upsampling by integer factors (each pixel repeated).
pub fn upsample_nearest(x: ArrayView4<f32>, size: [usize; 2]) -> Array4<f32> {
    let (n, h, w, c) = x.dim();
    Array4::from_shape_fn((n, h * size[0], w * size[1], c), |(b, y, xx, ch)| {
        x[[b, y / size[0], xx / size[1], ch]]
    })
}

/// Bilinear resize with half-pixel centres (TensorFlow's `tf.image.resize`, Keras's
/// `UpSampling2D(interpolation="bilinear")`).
pub fn resize_bilinear(x: ArrayView4<f32>, oh: usize, ow: usize) -> Array4<f32> {
    let (n, h, w, c) = x.dim();
    let src = |o: usize, out_len: usize, in_len: usize| -> (usize, usize, f32) {
        let scale = in_len as f32 / out_len as f32;
        let f = ((o as f32 + 0.5) * scale - 0.5).max(0.0);
        let i0 = (f.floor() as usize).min(in_len - 1);
        let i1 = (i0 + 1).min(in_len - 1);
        (i0, i1, f - i0 as f32)
    };
    let mut out = Array4::<f32>::zeros((n, oh, ow, c));
    for y in 0..oh {
        let (y0, y1, fy) = src(y, oh, h);
        for xx in 0..ow {
            let (x0, x1, fx) = src(xx, ow, w);
            for b in 0..n {
                for ch in 0..c {
                    let top = x[[b, y0, x0, ch]] * (1.0 - fx) + x[[b, y0, x1, ch]] * fx;
                    let bot = x[[b, y1, x0, ch]] * (1.0 - fx) + x[[b, y1, x1, ch]] * fx;
                    out[[b, y, xx, ch]] = top * (1.0 - fy) + bot * fy;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The definition of a convolution, six loops deep: the reference for the fast path.
    fn naive_conv(
        x: ArrayView4<f32>,
        k: ArrayView4<f32>,
        win: &Window,
        groups: usize,
    ) -> Array4<f32> {
        let (n, h, w, _) = x.dim();
        let (kh, kw, cin_g, cout) = k.dim();
        let cout_g = cout / groups;
        Array4::from_shape_fn((n, win.out[0], win.out[1], cout), |(b, oy, ox, co)| {
            let g = co / cout_g;
            let mut acc = 0f64;
            for ky in 0..kh {
                for kx in 0..kw {
                    let iy = win.coord(0, oy, ky);
                    let ix = win.coord(1, ox, kx);
                    if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                        continue;
                    }
                    for ci in 0..cin_g {
                        acc += (x[[b, iy as usize, ix as usize, g * cin_g + ci]]
                            * k[[ky, kx, ci, co]]) as f64;
                    }
                }
            }
            acc as f32
        })
    }

    fn values(len: usize, seed: u32) -> Vec<f32> {
        (0..len)
            .map(|i| {
                let v = (i as u32)
                    .wrapping_mul(2654435761)
                    .wrapping_add(seed.wrapping_mul(40503));
                ((v >> 8) % 2000) as f32 / 1000.0 - 1.0
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// The taps `inside` yields are exactly those whose coordinate is in the input.
        #[test]
        fn inside_is_the_in_range_taps(
            len in 0usize..12, k in 1usize..9, s in 1usize..5, d in 1usize..4,
            pad in 0usize..10, o in 0usize..8,
        ) {
            let win = Window {
                kernel: [k, 1],
                strides: [s, 1],
                dilation: [d, 1],
                pad_before: [pad, 0],
                out: [8, 1],
            };
            let want: Vec<usize> = (0..k)
                .filter(|&t| (0..len as isize).contains(&win.coord(0, o, t)))
                .collect();
            let got: Vec<usize> = win.inside(0, o, len).collect();
            prop_assert_eq!(got, want);
        }
    }

    /// An output over `STREAM_MIN_BYTES` takes the streaming-store path of the direct
    /// kernel (conv512's shape: 512×512×3 → 32 channels, 33 MB): same numbers as GEMM.
    #[test]
    fn direct_conv_with_streaming_stores_equals_gemm() {
        let (h, w, cin, cout) = (512, 512, 3, 32);
        let win = Window::keras([h, w], [3, 3], [1, 1], [1, 1], true);
        assert!(win.out[0] * win.out[1] * cout * 4 > STREAM_MIN_BYTES);
        let x = Array4::from_shape_vec((1, h, w, cin), values(h * w * cin, 7)).unwrap();
        let kern = Array4::from_shape_vec((3, 3, cin, cout), values(9 * cin * cout, 9)).unwrap();
        let bias: Vec<f32> = values(cout, 11);
        for ep in [Epilogue::Relu, Epilogue::Linear] {
            let a = conv2d_direct(x.view(), kern.view(), Some(&bias), &win, ep);
            let b = conv2d_gemm(x.view(), kern.view(), Some(&bias), &win, 1, ep);
            assert_eq!(a.dim(), b.dim());
            let worst = a
                .iter()
                .zip(b.iter())
                .map(|(p, q)| (p - q).abs())
                .fold(0f32, f32::max);
            assert!(worst < 1e-4, "{worst}");
        }
    }

    /// Both Winograd variants on wider layers than the property test draws (several
    /// 16-channel slices, channel counts off the slice size, batch 2, valid and same).
    #[test]
    fn winograd_on_wide_layers_equals_naive() {
        use super::super::winograd::{Variant, conv};
        for (variant, tol) in [(Variant::F2, 1e-4), (Variant::F4, 1e-3)] {
            for (n, h, w, cin, cout, same) in [
                (1, 7, 9, 16, 16, true),
                (2, 6, 5, 17, 33, false),
                (1, 3, 3, 20, 16, false),
                (1, 13, 2, 16, 40, true),
                (1, 40, 37, 32, 48, true),
            ] {
                let win = Window::keras([h, w], [3, 3], [1, 1], [1, 1], same);
                let x = Array4::from_shape_vec((n, h, w, cin), values(n * h * w * cin, 3)).unwrap();
                let k =
                    Array4::from_shape_vec((3, 3, cin, cout), values(9 * cin * cout, 5)).unwrap();
                let want = naive_conv(x.view(), k.view(), &win, 1);
                let got = conv(variant, x.view(), k.view(), None, &win, Epilogue::Linear);
                assert_eq!(got.dim(), want.dim());
                for (a, b) in got.iter().zip(want.iter()) {
                    assert!(
                        (a - b).abs() <= tol,
                        "{variant:?} {n}x{h}x{w}x{cin}->{cout}: {a} vs {b}"
                    );
                }
            }
        }
    }

    /// NaN, ±∞ and huge inputs leave the Winograd path (its transforms would spread a
    /// NaN over whole tiles and overflow): the result is exactly the GEMM path's.
    #[test]
    fn non_finite_inputs_take_the_exact_path() {
        // 32 filters × 144 taps: not a direct-kernel layer, so the fallback is GEMM.
        let (h, w, cin, cout) = (30, 30, 16, 32);
        assert!(!direct_wins(9 * cin, cout));
        let win = Window::keras([h, w], [3, 3], [1, 1], [1, 1], true);
        assert!(super::super::winograd::choose([3, 3], &win, 1, cin, cout).is_some());
        let k = Array4::from_shape_vec((3, 3, cin, cout), values(9 * cin * cout, 5)).unwrap();
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 3e37] {
            let mut x = Array4::from_shape_vec((1, h, w, cin), values(h * w * cin, 3)).unwrap();
            x[[0, 13, 17, 5]] = bad;
            let got = conv2d(x.view(), k.view(), None, &win, 1, Epilogue::Linear);
            let want = conv2d_gemm(x.view(), k.view(), None, &win, 1, Epilogue::Linear);
            assert_eq!(got.dim(), want.dim());
            for (a, b) in got.iter().zip(want.iter()) {
                assert!(a == b || (a.is_nan() && b.is_nan()), "{bad}: {a} vs {b}");
            }
            // Only the 3×3 neighbourhood of the bad pixel is touched.
            let touched = got
                .iter()
                .filter(|v| !v.is_finite() || v.abs() > 1e30)
                .count();
            assert!(touched <= 9 * cout, "{bad}: {touched}");
        }
    }

    #[test]
    fn a_pool_window_larger_than_any_input_is_instant() {
        let x = Array4::from_shape_fn((1, 6, 5, 2), |(_, y, x, c)| (y * 5 + x + c) as f32);
        let win = Window::keras(
            [6, 5],
            [usize::MAX / 2, 3 << 60],
            [usize::MAX / 2, 3 << 60],
            [1, 1],
            true,
        );
        let y = pool(x.view(), &win, true);
        assert_eq!(y.dim(), (1, 1, 1, 2));
        assert_eq!(y[[0, 0, 0, 0]], 29.0);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn fast_conv_equals_naive(
            n in 1usize..3, h in 1usize..12, w in 1usize..12, groups in 1usize..4,
            cin_g in 1usize..4, cout_g in 1usize..4, kh in 1usize..5, kw in 1usize..5,
            sh in 1usize..4, sw in 1usize..4, dil in 1usize..3, same in any::<bool>(), seed in 0u32..1000,
        ) {
            let (sh, sw) = if dil > 1 { (1, 1) } else { (sh, sw) };
            let win = Window::keras([h, w], [kh, kw], [sh, sw], [dil, dil], same);
            prop_assume!(win.out[0] > 0 && win.out[1] > 0);
            let cin = cin_g * groups;
            let cout = cout_g * groups;
            let x = Array4::from_shape_vec((n, h, w, cin), values(n * h * w * cin, seed)).unwrap();
            let k = Array4::from_shape_vec((kh, kw, cin_g, cout), values(kh * kw * cin_g * cout, seed + 7)).unwrap();
            let slow = naive_conv(x.view(), k.view(), &win, groups);
            let fast = conv2d_gemm(x.view(), k.view(), None, &win, groups, Epilogue::Linear);
            prop_assert_eq!(fast.dim(), slow.dim());
            for (a, b) in fast.iter().zip(slow.iter()) {
                prop_assert!((a - b).abs() < 1e-4, "gemm {} vs {}", a, b);
            }
            if groups == 1 {
                let direct = conv2d_direct(x.view(), k.view(), None, &win, Epilogue::Linear);
                prop_assert_eq!(direct.dim(), slow.dim());
                for (a, b) in direct.iter().zip(slow.iter()) {
                    prop_assert!((a - b).abs() < 1e-4, "direct {} vs {}", a, b);
                }
            }
        }

        /// Both Winograd variants, for any channel count, padding and batch (the path
        /// itself only takes wide layers, but must be right for all).
        #[test]
        fn winograd_equals_naive(
            n in 1usize..3, h in 1usize..14, w in 1usize..14, cin in 1usize..24,
            cout in 1usize..24, same in any::<bool>(), four in any::<bool>(),
            relu in any::<bool>(), block in 0usize..12, seed in 0u32..1000,
        ) {
            use super::super::winograd::{conv_blocks, Variant};
            let win = Window::keras([h, w], [3, 3], [1, 1], [1, 1], same);
            prop_assume!(win.out[0] > 0 && win.out[1] > 0);
            let x = Array4::from_shape_vec((n, h, w, cin), values(n * h * w * cin, seed)).unwrap();
            let k = Array4::from_shape_vec((3, 3, cin, cout), values(9 * cin * cout, seed + 7)).unwrap();
            let bias: Vec<f32> = values(cout, seed + 5);
            let ep = if relu { Epilogue::Relu } else { Epilogue::Linear };
            let variant = if four { Variant::F4 } else { Variant::F2 };
            // block 0: the default size; else blocks of 1..11 tiles (ending mid-row).
            let block = (block > 0).then_some(block);
            let fast = conv_blocks(variant, x.view(), k.view(), Some(&bias), &win, ep, block);
            let mut slow = naive_conv(x.view(), k.view(), &win, 1);
            ep.apply(slow.as_slice_mut().unwrap(), cout, Some(&bias));
            prop_assert_eq!(fast.dim(), slow.dim());
            let tol = if four { 5e-4 } else { 1e-4 };
            for (a, b) in fast.iter().zip(slow.iter()) {
                prop_assert!((a - b).abs() <= tol * b.abs().max(1.0), "{:?} {} vs {}", variant, a, b);
            }
        }

        #[test]
        fn direct_conv_with_many_channels_equals_gemm(
            h in 1usize..14, w in 1usize..20, cin in 1usize..5, cout in 1usize..70,
            k in 1usize..6, s in 1usize..3, dil in 1usize..3, same in any::<bool>(),
            relu in any::<bool>(), seed in 0u32..1000,
        ) {
            let win = Window::keras([h, w], [k, k], [s, s], [dil, dil], same);
            prop_assume!(win.out[0] > 0 && win.out[1] > 0);
            let x = Array4::from_shape_vec((1, h, w, cin), values(h * w * cin, seed)).unwrap();
            let kern = Array4::from_shape_vec((k, k, cin, cout), values(k * k * cin * cout, seed + 3)).unwrap();
            let bias: Vec<f32> = values(cout, seed + 5);
            let ep = if relu { Epilogue::Relu } else { Epilogue::Linear };
            let a = conv2d_direct(x.view(), kern.view(), Some(&bias), &win, ep);
            let b = conv2d_gemm(x.view(), kern.view(), Some(&bias), &win, 1, ep);
            prop_assert_eq!(a.dim(), b.dim());
            for (p, q) in a.iter().zip(b.iter()) {
                prop_assert!((p - q).abs() < 1e-4, "{} vs {}", p, q);
            }
        }

        #[test]
        fn depthwise_equals_grouped_conv(
            h in 1usize..10, w in 1usize..10, cin in 1usize..4, mult in 1usize..3,
            k in 1usize..4, s in 1usize..3, same in any::<bool>(), seed in 0u32..1000,
        ) {
            let win = Window::keras([h, w], [k, k], [s, s], [1, 1], same);
            prop_assume!(win.out[0] > 0 && win.out[1] > 0);
            let x = Array4::from_shape_vec((1, h, w, cin), values(h * w * cin, seed)).unwrap();
            let kd = Array4::from_shape_vec((k, k, cin, mult), values(k * k * cin * mult, seed + 3)).unwrap();
            // Depthwise = grouped conv with groups = cin and the same kernel laid out (k, k, 1, cin*mult).
            let kg = kd.clone().into_shape_with_order((k, k, 1, cin * mult)).unwrap();
            let a = depthwise(x.view(), kd.view(), None, &win);
            let b = naive_conv(x.view(), kg.view(), &win, cin);
            for (p, q) in a.iter().zip(b.iter()) {
                prop_assert!((p - q).abs() < 1e-4);
            }
        }
    }

    #[test]
    fn one_by_one_fast_path_matches_naive() {
        let x = Array4::from_shape_vec((2, 3, 4, 5), values(120, 1)).unwrap();
        let k = Array4::from_shape_vec((1, 1, 5, 6), values(30, 2)).unwrap();
        let win = Window::keras([3, 4], [1, 1], [1, 1], [1, 1], false);
        let fast = conv2d(x.view(), k.view(), None, &win, 1, Epilogue::Linear);
        let slow = naive_conv(x.view(), k.view(), &win, 1);
        for (a, b) in fast.iter().zip(slow.iter()) {
            assert!((a - b).abs() < 1e-5);
        }
    }

    #[test]
    fn average_pool_same_divides_by_real_pixels() {
        let x = Array4::from_elem((1, 3, 3, 1), 1.0f32);
        let win = Window::keras([3, 3], [2, 2], [2, 2], [1, 1], true);
        let y = pool(x.view(), &win, false);
        assert_eq!(y.dim(), (1, 2, 2, 1));
        assert!(y.iter().all(|v| (*v - 1.0).abs() < 1e-6));
    }
}
