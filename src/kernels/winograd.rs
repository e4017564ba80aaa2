//! Winograd convolution for 3×3, stride-1, undilated, ungrouped Conv2D layers (the VGG
//! kind), F(m×m, 3×3) after Lavin & Gray, "Fast Algorithms for Convolutional Neural
//! Networks" (2016).
//!
//! The output is cut into m×m tiles. Each tile's (m+2)×(m+2) input patch is transformed
//! (`V = Bᵀ d B`), the kernel once per call (`U = G g Gᵀ`); then for each of the
//! (m+2)² transformed positions one GEMM multiplies the tiles' channel vectors by that
//! position's cin×cout matrix, and each tile's result is transformed back
//! (`Y = Aᵀ M A`). F(2×2, 3×3) does 16 multiplications per 2×2 outputs and input
//! channel where the direct product does 36 (2.25× fewer); F(4×4, 3×3) does 36 per
//! 16 (4× fewer) at a larger rounding error.
//!
//! Everything runs on bands of whole tile rows: a band's tiles are transformed into
//! per-thread buffers, multiplied, and written straight into that band's output rows,
//! with the bias and activation applied while they are in cache. Bands run in parallel
//! on rayon's pool. The one-axis transforms are loops over NHWC's contiguous channels,
//! compiled for AVX-512 or AVX2 when the CPU has them (checked at run time).

use super::ConvOp;
use super::elementwise::Pointwise;
use super::epilogue::Epilogue;
use super::gemm::{Gemm, Mat};
use crate::keras::geometry::Window;
use ndarray::{Array4, ArrayView4};
use std::mem::MaybeUninit;

/// `A` channel vectors of length `n`, the k-th at `base[k·stride..]`.
#[derive(Clone, Copy)]
pub struct Lanes<'a> {
    base: &'a [f32],
    stride: usize,
}

/// `A` mutable channel vectors of length `n`, the k-th at `base[k·stride..]`.
pub struct LanesMut<'a> {
    base: &'a mut [f32],
    stride: usize,
}

impl<'a> Lanes<'a> {
    #[inline(always)]
    fn split<const A: usize>(self, n: usize) -> [&'a [f32]; A] {
        let mut out: [&[f32]; A] = [&[]; A];
        for (k, o) in out.iter_mut().enumerate() {
            *o = &self.base[k * self.stride..k * self.stride + n];
        }
        out
    }
}

impl<'a> LanesMut<'a> {
    #[inline(always)]
    fn split<const A: usize>(self, n: usize) -> [&'a mut [f32]; A] {
        let mut out: [&mut [f32]; A] = std::array::from_fn(|_| &mut [][..]);
        let mut rest = self.base;
        for (k, o) in out.iter_mut().enumerate() {
            let (head, tail) =
                std::mem::take(&mut rest).split_at_mut(if k + 1 < A { self.stride } else { n });
            *o = &mut head[..n];
            rest = tail;
        }
        out
    }
}

/// The transforms of F(m×m, 3×3) for an `A`×`A` input tile (A = m + 2) and `M` = m
/// outputs per side, written out as the few additions they are (the matrices are mostly
/// zeros and ±1). Each one-axis transform maps `A` channel vectors of length `n` to
/// `A` (input) or `M` (output) others, channel by channel.
pub trait Tile<const A: usize, const M: usize>: Sync {
    /// G: 3 kernel taps → `A` transformed taps.
    const G: [[f32; 3]; A];
    /// `dst[r] = Σ_k Bᵀ[r][k] · src[k]`.
    fn input(src: Lanes, dst: LanesMut, n: usize);
    /// `dst[r] = Σ_k Aᵀ[r][k] · src[k]`.
    fn output(src: Lanes, dst: LanesMut, n: usize);
}

/// F(2×2, 3×3), interpolation points 0, ±1, ∞.
pub struct F2;

impl Tile<4, 2> for F2 {
    const G: [[f32; 3]; 4] = [
        [1.0, 0.0, 0.0],
        [0.5, 0.5, 0.5],
        [0.5, -0.5, 0.5],
        [0.0, 0.0, 1.0],
    ];

    /// Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1].
    #[inline(always)]
    fn input(src: Lanes, dst: LanesMut, n: usize) {
        let [d0, d1, d2, d3] = src.split::<4>(n);
        let [o0, o1, o2, o3] = dst.split::<4>(n);
        for c in 0..n {
            let (d0, d1, d2, d3) = (d0[c], d1[c], d2[c], d3[c]);
            o0[c] = d0 - d2;
            o1[c] = d1 + d2;
            o2[c] = d2 - d1;
            o3[c] = d1 - d3;
        }
    }

    /// Aᵀ = [1 1 1 0; 0 1 −1 −1].
    #[inline(always)]
    fn output(src: Lanes, dst: LanesMut, n: usize) {
        let [m0, m1, m2, m3] = src.split::<4>(n);
        let [o0, o1] = dst.split::<2>(n);
        for c in 0..n {
            let (m0, m1, m2, m3) = (m0[c], m1[c], m2[c], m3[c]);
            o0[c] = m0 + m1 + m2;
            o1[c] = m1 - m2 - m3;
        }
    }
}

/// F(4×4, 3×3), interpolation points 0, ±1, ±2, ∞.
pub struct F4;

impl Tile<6, 4> for F4 {
    const G: [[f32; 3]; 6] = [
        [1.0 / 4.0, 0.0, 0.0],
        [-1.0 / 6.0, -1.0 / 6.0, -1.0 / 6.0],
        [-1.0 / 6.0, 1.0 / 6.0, -1.0 / 6.0],
        [1.0 / 24.0, 1.0 / 12.0, 1.0 / 6.0],
        [1.0 / 24.0, -1.0 / 12.0, 1.0 / 6.0],
        [0.0, 0.0, 1.0],
    ];

    /// Bᵀ = [4 0 −5 0 1 0; 0 −4 −4 1 1 0; 0 4 −4 −1 1 0; 0 −2 −1 2 1 0;
    ///       0 2 −1 −2 1 0; 0 4 0 −5 0 1].
    #[inline(always)]
    fn input(src: Lanes, dst: LanesMut, n: usize) {
        let [d0, d1, d2, d3, d4, d5] = src.split::<6>(n);
        let [o0, o1, o2, o3, o4, o5] = dst.split::<6>(n);
        for c in 0..n {
            let (d0, d1, d2, d3, d4, d5) = (d0[c], d1[c], d2[c], d3[c], d4[c], d5[c]);
            let t0 = d4 - 4.0 * d2;
            let t1 = d3 - 4.0 * d1;
            let t2 = d4 - d2;
            let t3 = 2.0 * (d3 - d1);
            o0[c] = 4.0 * d0 - 5.0 * d2 + d4;
            o1[c] = t0 + t1;
            o2[c] = t0 - t1;
            o3[c] = t2 + t3;
            o4[c] = t2 - t3;
            o5[c] = 4.0 * d1 - 5.0 * d3 + d5;
        }
    }

    /// Aᵀ = [1 1 1 1 1 0; 0 1 −1 2 −2 0; 0 1 1 4 4 0; 0 1 −1 8 −8 1].
    #[inline(always)]
    fn output(src: Lanes, dst: LanesMut, n: usize) {
        let [m0, m1, m2, m3, m4, m5] = src.split::<6>(n);
        let [o0, o1, o2, o3] = dst.split::<4>(n);
        for c in 0..n {
            let (m0, m1, m2, m3, m4, m5) = (m0[c], m1[c], m2[c], m3[c], m4[c], m5[c]);
            let (a, b) = (m1 + m2, m1 - m2);
            let (s, d) = (m3 + m4, m3 - m4);
            o0[c] = m0 + a + s;
            o1[c] = b + 2.0 * d;
            o2[c] = a + 4.0 * s;
            o3[c] = b + 8.0 * d + m5;
        }
    }
}

/// Which Winograd variant computes a convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    F2,
    F4,
}

/// Input channels up to which F(4×4, 3×3) is used; wider layers use F(2×2, 3×3).
/// F(4×4)'s rounding error grows with the number of products summed: against Keras
/// (float32, TensorFlow) a 512→512 layer on N(0, 1) inputs measured 0.21 of the golden
/// tolerance (1e-4 × max|expected|), 256→256 0.13, 64→64 below 0.09, a whole VGG16
/// 0.05; F(2×2) stays at the GEMM path's 0.03.
pub const F4_MAX_CHANNELS: usize = 512;

/// Output pixels (per batch) below which the kernel transform (A²·cin·cout values per
/// call) costs more than the multiplications it saves (StridedNet's 12×12 layers).
pub const MIN_PIXELS: usize = 24 * 24;

/// The Winograd variant for this convolution, if any: a 3×3 kernel, stride 1, dilation
/// 1, one group, at least 16 channels both ways (thinner GEMMs run badly) and a large
/// enough output.
pub fn choose(
    kernel: [usize; 2],
    win: &Window,
    groups: usize,
    cin: usize,
    cout: usize,
) -> Option<Variant> {
    let fits = kernel == [3, 3]
        && win.strides == [1, 1]
        && win.dilation == [1, 1]
        && groups <= 1
        && cin >= 16
        && cout >= 16
        && win.out[0] >= 2
        && win.out[1] >= 2
        && win.out[0] * win.out[1] >= MIN_PIXELS;
    match fits {
        false => None,
        true if cin <= F4_MAX_CHANNELS => Some(Variant::F4),
        true => Some(Variant::F2),
    }
}

/// Magnitude below which every value of a tensor must lie for [`conv`] to be used: the
/// transforms scale values by up to 25 and sum 36 of them on each side of the GEMM, so
/// larger (or infinite) values could overflow where the direct product does not, and
/// a NaN would spread over whole tiles instead of its own 3×3 neighbourhood.
const TAME: f32 = 1e20;

/// Whether every value of `x` is finite and below [`TAME`] in magnitude (a branch-free
/// scan on the bit patterns, in parallel for large tensors).
pub fn tame(x: ArrayView4<f32>) -> bool {
    use rayon::prelude::*;
    // |v| < TAME on the bit pattern (NaN's is above every finite one's).
    let ok = |v: &f32| (v.to_bits() & 0x7fff_ffff) < TAME.to_bits();
    let chunk_ok = |c: &[f32]| c.iter().fold(true, |all, v| all & ok(v));
    match x.as_slice() {
        Some(s) if s.len() >= 1 << 18 => s.par_chunks(1 << 16).all(chunk_ok),
        Some(s) => chunk_ok(s),
        None => x.iter().all(ok),
    }
}

/// [`conv3x3`] with the given variant.
pub fn conv(variant: Variant, op: ConvOp, epilogue: Epilogue) -> Array4<f32> {
    conv_planned(variant, op, epilogue, Plan::default())
}

/// How [`conv3x3`] cuts its work, where tests override the cache-sized defaults.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Plan {
    /// Tiles per block (tests use tiny blocks to cover blocks that end mid-row).
    pub block: Option<usize>,
    /// Whether the image is one band whose GEMMs share the threads ([`wide_kernel`]).
    pub wide: Option<bool>,
}

/// [`conv`] with the given plan.
pub(crate) fn conv_planned(
    variant: Variant,
    op: ConvOp,
    epilogue: Epilogue,
    plan: Plan,
) -> Array4<f32> {
    match variant {
        Variant::F2 => conv3x3::<4, 2, F2>(op, epilogue, plan),
        Variant::F4 => conv3x3::<6, 4, F4>(op, epilogue, plan),
    }
}

/// Transformed kernels (A²·cin·cout floats) above this many bytes no longer fit beside
/// the blocks in L2/L3, and every block's GEMMs re-read and re-pack all of it: VGG16's
/// 512→512 layers (36 MiB at F(4×4)) spent 71 ms in `block4_conv2` that way. Such a
/// layer runs each image as one band in blocks of up to [`WIDE_BLOCK`] tiles, its GEMMs
/// split between the threads, so the kernel is packed once per block of many tiles.
const WIDE_KERNEL_BYTES: usize = 8 << 20;

/// Tiles per block of a wide-kernel layer (its GEMMs are WIDE_BLOCK × cin × cout).
const WIDE_BLOCK: usize = 256;

/// Whether a transformed kernel of `a`²·cin·cout floats is over [`WIDE_KERNEL_BYTES`].
fn wide_kernel(a: usize, cin: usize, cout: usize) -> bool {
    a * a * cin * cout * 4 > WIDE_KERNEL_BYTES
}

/// Bytes of transformed input and products (A²·tiles·(cin + cout) floats) one block of
/// tiles may take: most of it stays in L2 and the rest in L3 while its GEMMs run.
const BLOCK_BYTES: usize = 3 << 20;

/// Tiles per block for channel counts `cin`, `cout` (at least 16, so GEMMs stay wide).
fn block_tiles(a: usize, cin: usize, cout: usize) -> usize {
    let per_tile = a * a * (cin + cout) * 4;
    (BLOCK_BYTES / per_tile.max(1)).max(16)
}

/// Per-thread buffers of one band.
#[derive(Default)]
struct Scratch {
    /// Transformed input: A² planes of tiles × cin.
    v: Vec<f32>,
    /// Products: A² planes of tiles × cout.
    m: Vec<f32>,
    /// One tile after its first one-axis transform: A × A × channels.
    half: Vec<f32>,
    /// A border tile's input patch with its zero padding: A × A × cin.
    patch: Vec<f32>,
    /// One tile's outputs: M × M × cout.
    tile: Vec<f32>,
}

thread_local! {
    /// This thread's [`Scratch`], reused by every band it computes.
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// Winograd F(m×m, 3×3) convolution of NHWC `x` with the HWIO kernel `(3, 3, cin,
/// cout)`; `win` must have stride 1 and dilation 1 (see [`choose`]). Bias and activation
/// are fused as in [`super::conv::conv2d`]; `plan` overrides how the work is cut.
fn conv3x3<const A: usize, const M: usize, T: Tile<A, M>>(
    op: ConvOp,
    epilogue: Epilogue,
    plan: Plan,
) -> Array4<f32> {
    let (x, kernel, bias, win, then) = (op.x, op.kernel, op.bias, op.win, op.then);
    use rayon::prelude::*;
    let (n, h, w, cin) = x.dim();
    let cout = kernel.dim().3;
    let [oh, ow] = win.out;
    let len = n * oh * ow * cout;
    if len == 0 || cin == 0 {
        return Array4::zeros((n, oh, ow, cout));
    }
    let xs = x.as_standard_layout();
    let xs = xs.as_slice().expect("standard layout is contiguous");
    let threads = rayon::current_num_threads().max(1);
    let u = transform_kernel::<A, M, T>(kernel, threads);
    let (tiles_y, tiles_x) = (oh.div_ceil(M), ow.div_ceil(M));
    let wide = plan.wide.unwrap_or_else(|| wide_kernel(A, cin, cout));
    // Bands of whole tile rows, about one block of tiles each, and enough of them for
    // every thread to get several; or, for a wide kernel, whole images one after the
    // other, the threads sharing each GEMM.
    let (block, band_rows, gemm_threads) = if wide {
        let block = plan.block.unwrap_or(WIDE_BLOCK.min(tiles_y * tiles_x));
        (block.max(1), tiles_y, threads)
    } else {
        let block = plan
            .block
            .unwrap_or_else(|| block_tiles(A, cin, cout))
            .max(1);
        let mut band_rows = (block / tiles_x).clamp(1, tiles_y);
        while band_rows > 1 && n * tiles_y.div_ceil(band_rows) < 4 * threads {
            band_rows -= 1;
        }
        (block, band_rows, 1)
    };
    let geo = Geometry {
        h,
        w,
        cin,
        cout,
        ow,
        tiles_x,
        pad: win.pad_before,
    };
    let mut out: Vec<f32> = Vec::with_capacity(len);
    let image_len = oh * ow * cout;
    let band_len = band_rows * M * ow * cout;
    let bands_per_image = tiles_y.div_ceil(band_rows);
    let band = |scratch: &mut Scratch, (i, chunk): (usize, &mut [MaybeUninit<f32>])| {
        let (b, bi) = (i / bands_per_image, i % bands_per_image);
        let image = &xs[b * h * w * cin..(b + 1) * h * w * cin];
        let ty0 = bi * band_rows;
        let rows = band_rows.min(tiles_y - ty0);
        let job = Band {
            image,
            u: &u,
            geo: &geo,
            ty0,
            rows,
            block,
            threads: gemm_threads,
        };
        run_band_dispatch::<A, M, T>(job, scratch, chunk);
        // SAFETY: run_band wrote every element of `chunk` (its tiles cover the band).
        let chunk = unsafe { &mut *(chunk as *mut [MaybeUninit<f32>] as *mut [f32]) };
        epilogue.apply(chunk, cout, bias);
        Pointwise::apply_steps(then, chunk, cout);
    };
    // Bands never straddle two images: chunk each image's output separately.
    let spare = &mut out.spare_capacity_mut()[..len];
    let bands: Vec<(usize, &mut [MaybeUninit<f32>])> = spare
        .chunks_mut(image_len)
        .flat_map(|img| img.chunks_mut(band_len))
        .enumerate()
        .collect();
    // Each thread keeps its buffers from call to call (a few MiB): allocating and
    // zeroing them per call cost more than small layers' whole convolution.
    let with_scratch = |item| {
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut scratch) => band(&mut scratch, item),
            Err(_) => band(&mut Scratch::default(), item),
        })
    };
    if threads > 1 && bands.len() > 1 && !wide {
        bands.into_par_iter().for_each(with_scratch);
    } else {
        bands.into_iter().for_each(with_scratch);
    }
    // SAFETY: the bands cover all `len` elements and each wrote all of its own.
    unsafe { out.set_len(len) };
    Array4::from_shape_vec((n, oh, ow, cout), out).unwrap_or_else(|_| Array4::zeros((0, 0, 0, 0)))
}

/// One band's work: tile rows `ty0..ty0 + rows` of `image`, in blocks of `block` tiles,
/// with the transformed kernel `u`.
#[derive(Clone, Copy)]
struct Band<'a> {
    image: &'a [f32],
    u: &'a [f32],
    geo: &'a Geometry,
    ty0: usize,
    rows: usize,
    block: usize,
    /// Threads each of the band's GEMMs may use (1 when bands run in parallel).
    threads: usize,
}

#[derive(Clone, Copy)]
struct Geometry {
    h: usize,
    w: usize,
    cin: usize,
    cout: usize,
    ow: usize,
    tiles_x: usize,
    pad: [usize; 2],
}

/// `U = G g Gᵀ` for every (cin, cout) pair, laid out as A² matrices of cin × cout
/// (row-major): position `e` = r·A + s is `u[e·cin·cout..]`. Large kernels are
/// transformed by `threads` threads, each owning a range of input channels (its rows in
/// all A² planes, so each reads its taps once): one thread took 17 ms for a 512→512
/// layer, most of it first touches of the 36 MiB result.
fn transform_kernel<const A: usize, const M: usize, T: Tile<A, M>>(
    kernel: ArrayView4<f32>,
    threads: usize,
) -> Vec<f32> {
    use rayon::prelude::*;
    let (_, _, cin, cout) = kernel.dim();
    let k = kernel.as_standard_layout();
    let k = k.as_slice().expect("standard layout is contiguous");
    let plane = cin * cout;
    let mut u = vec![0f32; A * A * plane];
    if plane == 0 {
        return u;
    }
    // Channels per part: one part for small kernels, else several per thread.
    let per_part = match threads > 1 && A * A * plane >= PARALLEL_KERNEL {
        true => cin.div_ceil(4 * threads).max(1),
        false => cin,
    };
    let mut parts: Vec<Vec<&mut [f32]>> = (0..cin.div_ceil(per_part))
        .map(|_| Vec::with_capacity(A * A))
        .collect();
    for p in u.chunks_mut(plane) {
        for (part, rows) in parts.iter_mut().zip(p.chunks_mut(per_part * cout)) {
            part.push(rows);
        }
    }
    let transform = |(i, mut part): (usize, Vec<&mut [f32]>)| {
        let mut tmp = vec![0f32; 3 * cout];
        let first = i * per_part;
        for ci in first..(first + per_part).min(cin) {
            // g[ky][kx] is the cout-long row k[((ky·3 + kx)·cin + ci)·cout..].
            let g = |ky: usize, kx: usize| &k[((ky * 3 + kx) * cin + ci) * cout..][..cout];
            for r in 0..A {
                // tmp[kx] = Σ_ky G[r][ky] · g[ky][kx]
                tmp.fill(0.0);
                for (kx, row) in tmp.chunks_exact_mut(cout).enumerate() {
                    for ky in 0..3 {
                        let c = T::G[r][ky];
                        if c != 0.0 {
                            for (v, x) in row.iter_mut().zip(g(ky, kx)) {
                                *v += c * x;
                            }
                        }
                    }
                }
                for s in 0..A {
                    let dst = &mut part[r * A + s][(ci - first) * cout..][..cout];
                    for (kx, row) in tmp.chunks_exact(cout).enumerate() {
                        let c = T::G[s][kx];
                        if c != 0.0 {
                            for (v, x) in dst.iter_mut().zip(row) {
                                *v += c * x;
                            }
                        }
                    }
                }
            }
        }
    };
    match parts.len() {
        1 => parts.into_iter().enumerate().for_each(transform),
        _ => parts.into_par_iter().enumerate().for_each(transform),
    }
    u
}

/// Transformed-kernel floats from which [`transform_kernel`] uses every thread.
const PARALLEL_KERNEL: usize = 1 << 18;

/// One band: tile rows `ty0..ty0 + rows` of one image into `chunk`, that band's output
/// rows (before bias and activation).
#[inline(always)]
fn run_band<const A: usize, const M: usize, T: Tile<A, M>>(
    job: Band,
    s: &mut Scratch,
    chunk: &mut [MaybeUninit<f32>],
) {
    let band_tiles = job.rows * job.geo.tiles_x;
    let mut first = 0;
    while first < band_tiles {
        let tiles = job.block.min(band_tiles - first);
        run_block::<A, M, T>(&job, first, tiles, s, chunk);
        first += tiles;
    }
}

/// Tiles `first..first + tiles` (row-major) of the band `job`.
#[inline(always)]
fn run_block<const A: usize, const M: usize, T: Tile<A, M>>(
    job: &Band,
    first: usize,
    tiles: usize,
    s: &mut Scratch,
    chunk: &mut [MaybeUninit<f32>],
) {
    let Band {
        image, u, geo, ty0, ..
    } = *job;
    let Geometry {
        cin, cout, tiles_x, ..
    } = *geo;
    // Planes one cache line longer than they need: with power-of-two strides the A²
    // streams each tile touches would all map to the same cache sets.
    let (vs, ms) = (tiles * cin + 16, tiles * cout + 16);
    // Grown, never shrunk: no zeroing once a thread has seen its largest layer (every
    // element read below is written first).
    for (buf, need) in [
        (&mut s.v, A * A * vs),
        (&mut s.m, A * A * ms),
        (&mut s.half, A * A * cin.max(cout)),
        (&mut s.patch, A * A * cin),
        (&mut s.tile, M * M * cout),
    ] {
        if buf.len() < need {
            buf.resize(need, 0.0);
        }
    }
    for ti in 0..tiles {
        let (r, tx) = ((first + ti) / tiles_x, (first + ti) % tiles_x);
        input_tile::<A, M, T>(image, geo, ty0 + r, tx, ti, vs, s);
    }
    let gemm = Gemm {
        m: tiles,
        n: cout,
        k: cin,
        threads: job.threads,
    };
    for e in 0..A * A {
        let (v, u) = (
            Mat::new(&s.v[e * vs..], cin),
            Mat::new(&u[e * cin * cout..], cout),
        );
        gemm.run(v, u, &mut s.m[e * ms..], cout);
    }
    for ti in 0..tiles {
        let (r, tx) = ((first + ti) / tiles_x, (first + ti) % tiles_x);
        output_tile::<A, M, T>(geo, r, tx, ti, ms, s, chunk);
    }
}

/// [`run_band`] compiled for the widest vectors the CPU has (checked at run time).
fn run_band_dispatch<const A: usize, const M: usize, T: Tile<A, M>>(
    job: Band,
    s: &mut Scratch,
    chunk: &mut [MaybeUninit<f32>],
) {
    #[cfg(target_arch = "x86_64")]
    {
        // `run_band` compiled once per instruction set.
        macro_rules! compiled_for {
            ($name:ident, $features:literal) => {
                #[target_feature(enable = $features)]
                unsafe fn $name<const A: usize, const M: usize, T: Tile<A, M>>(
                    job: Band,
                    s: &mut Scratch,
                    chunk: &mut [MaybeUninit<f32>],
                ) {
                    run_band::<A, M, T>(job, s, chunk)
                }
            };
        }
        compiled_for!(wide, "avx512f,avx2,fma");
        compiled_for!(avx2, "avx2,fma");
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F (and so AVX2 and FMA), checked just above.
            return unsafe { wide::<A, M, T>(job, s, chunk) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU has AVX2 and FMA, checked just above.
            return unsafe { avx2::<A, M, T>(job, s, chunk) };
        }
    }
    run_band::<A, M, T>(job, s, chunk)
}

/// Transforms the input patch of tile (ty, tx) into row `ti` of the A² planes of
/// `s.v` (each `tiles` × cin, `vs` apart).
#[inline(always)]
fn input_tile<const A: usize, const M: usize, T: Tile<A, M>>(
    image: &[f32],
    geo: &Geometry,
    ty: usize,
    tx: usize,
    ti: usize,
    vs: usize,
    s: &mut Scratch,
) {
    let Geometry { h, w, cin, pad, .. } = *geo;
    let y0 = (ty * M) as isize - pad[0] as isize;
    let x0 = (tx * M) as isize - pad[1] as isize;
    let inside = y0 >= 0 && x0 >= 0 && y0 as usize + A <= h && x0 as usize + A <= w;
    // The patch's rows: in place inside the image, else copied with zero padding.
    let (src, row_stride) = if inside {
        (&image[(y0 as usize * w + x0 as usize) * cin..], w * cin)
    } else {
        s.patch[..A * A * cin].fill(0.0);
        for i in 0..A {
            let iy = y0 + i as isize;
            if iy < 0 || iy >= h as isize {
                continue;
            }
            // Columns of this row inside the image.
            let j0 = (-x0).max(0) as usize;
            let j1 = (w as isize - x0).clamp(0, A as isize) as usize;
            if j0 < j1 {
                let from = (iy as usize * w + (x0 + j0 as isize) as usize) * cin;
                s.patch[(i * A + j0) * cin..(i * A + j1) * cin]
                    .copy_from_slice(&image[from..from + (j1 - j0) * cin]);
            }
        }
        (&s.patch[..], A * cin)
    };
    // half[r][j] = Σ_i Bᵀ[r][i] · d[i][j]   (down each column j)
    for j in 0..A {
        T::input(
            Lanes {
                base: &src[j * cin..],
                stride: row_stride,
            },
            LanesMut {
                base: &mut s.half[j * cin..],
                stride: A * cin,
            },
            cin,
        );
    }
    // v[r·A + q][ti] = Σ_j half[r][j] · B[j][q]   (along each row r)
    for r in 0..A {
        T::input(
            Lanes {
                base: &s.half[r * A * cin..],
                stride: cin,
            },
            LanesMut {
                base: &mut s.v[r * A * vs + ti * cin..],
                stride: vs,
            },
            cin,
        );
    }
}

/// Transforms row `ti` of the A² product planes of `s.m` (`ms` apart) back into the
/// M×M outputs of tile (band row `r`, tx), written into `chunk` (the band's output
/// rows) where they lie inside the output.
#[inline(always)]
fn output_tile<const A: usize, const M: usize, T: Tile<A, M>>(
    geo: &Geometry,
    r: usize,
    tx: usize,
    ti: usize,
    ms: usize,
    s: &mut Scratch,
    chunk: &mut [MaybeUninit<f32>],
) {
    let Geometry { cout, ow, .. } = *geo;
    // half[i][q] = Σ_j Aᵀ[i][j] · m[j][q]   (down each column q)
    for q in 0..A {
        T::output(
            Lanes {
                base: &s.m[q * ms + ti * cout..],
                stride: A * ms,
            },
            LanesMut {
                base: &mut s.half[q * cout..],
                stride: A * cout,
            },
            cout,
        );
    }
    // tile[i][k] = Σ_q half[i][q] · A[q][k]   (along each row i)
    for i in 0..M {
        T::output(
            Lanes {
                base: &s.half[i * A * cout..],
                stride: cout,
            },
            LanesMut {
                base: &mut s.tile[i * M * cout..],
                stride: cout,
            },
            cout,
        );
    }
    let band_rows_out = chunk.len() / (ow * cout);
    let (oy0, ox0) = (r * M, tx * M);
    let ylim = M.min(band_rows_out.saturating_sub(oy0));
    let xlim = M.min(ow - ox0);
    for i in 0..ylim {
        let at = ((oy0 + i) * ow + ox0) * cout;
        for (o, v) in chunk[at..at + xlim * cout]
            .iter_mut()
            .zip(&s.tile[i * M * cout..])
        {
            o.write(*v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernel transform gives the same floats whether one thread or several own its
    /// input channels (parts of uneven size included).
    #[test]
    fn kernel_transform_is_the_same_on_any_thread_count() {
        let (cin, cout) = (130, 64);
        let k = ndarray::Array4::from_shape_fn((3, 3, cin, cout), |(a, b, c, d)| {
            ((a * 31 + b * 17 + c * 7 + d) % 23) as f32 * 0.1 - 1.1
        });
        let one = transform_kernel::<6, 4, F4>(k.view(), 1);
        for threads in [2, 3] {
            assert_eq!(one, transform_kernel::<6, 4, F4>(k.view(), threads));
        }
    }
}
