//! The one place the engine multiplies matrices: a safe wrapper over the f32 kernels of
//! the `gemm` crates (pure Rust, AVX2/AVX-512 kernels chosen at run time;
//! `../shared/notes/gemm-options.md` measured them 1.3–4× faster than matrixmultiply on
//! convolution shapes here).

use gemm_common::Parallelism;
use std::mem::MaybeUninit;

/// Multiply-accumulates below which a GEMM runs on one thread.
const PARALLEL_MACS: usize = 1 << 20;

/// A row-major matrix operand: its elements, rows `stride` elements apart.
#[derive(Clone, Copy)]
pub struct Mat<'a> {
    pub data: &'a [f32],
    pub stride: usize,
}

impl<'a> Mat<'a> {
    pub fn new(data: &'a [f32], stride: usize) -> Mat<'a> {
        Mat { data, stride }
    }
}

/// One matrix product `c = a × b`: `a` is m×k, `b` is k×n, `c` m×n, on up to `threads`
/// threads (one below [`PARALLEL_MACS`] multiply-accumulates).
#[derive(Clone, Copy, Debug)]
pub struct Gemm {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub threads: usize,
}

impl Gemm {
    /// `c = a × b`, `c`'s rows `ldc` apart.
    ///
    /// # Panics
    /// When a slice is too short for its shape and stride, or a stride is smaller than
    /// the row it must hold (an engine bug, never a user input: callers derive both from
    /// one shape).
    pub fn run(&self, a: Mat, b: Mat, c: &mut [f32], ldc: usize) {
        // SAFETY: `run_into` only ever writes initialised values into `c`.
        let c = unsafe { &mut *(c as *mut [f32] as *mut [MaybeUninit<f32>]) };
        self.run_into(a, b, c, ldc);
    }

    /// [`Gemm::run`] into memory that may be uninitialised: afterwards the m×n part of
    /// `c` is initialised (the rest of each row is left as it was).
    pub fn run_into(&self, a: Mat, b: Mat, c: &mut [MaybeUninit<f32>], ldc: usize) {
        let Gemm { m, n, k, threads } = *self;
        let (lda, ldb) = (a.stride, b.stride);
        let (a, b) = (a.data, b.data);
        if m == 0 || n == 0 {
            return;
        }
        assert!(
            ldc >= n && c.len() >= (m - 1) * ldc + n,
            "gemm: output too small"
        );
        if k == 0 {
            for row in c.chunks_mut(ldc).take(m) {
                for v in &mut row[..n] {
                    v.write(0.0);
                }
            }
            return;
        }
        assert!(
            lda >= k && a.len() >= (m - 1) * lda + k,
            "gemm: lhs too small"
        );
        assert!(
            ldb >= n && b.len() >= (k - 1) * ldb + n,
            "gemm: rhs too small"
        );
        let parallel = threads > 1 && m.saturating_mul(n).saturating_mul(k) >= PARALLEL_MACS;
        if parallel && m < SPLIT_ROWS_BELOW && n >= 2 * COLUMN_ALIGN {
            return self.run_split_columns(a, lda, b, ldb, c, ldc);
        }
        let par = if parallel {
            Parallelism::Rayon(threads)
        } else {
            Parallelism::None
        };
        // SAFETY: the asserts above keep every element the GEMM reads or writes inside the
        // slices (rows of `c` do not overlap since ldc >= n); `c` is borrowed mutably, so it
        // aliases neither input. read_dst = false: `c` is only written, never read, so it
        // may start uninitialised.
        unsafe {
            gemm_raw(
                m,
                n,
                k,
                a.as_ptr(),
                lda,
                b.as_ptr(),
                ldb,
                c.as_mut_ptr() as *mut f32,
                ldc,
                par,
            )
        }
    }

    /// A product with few rows split by columns: each thread multiplies `a` by its own
    /// band of `b`'s columns into the same band of `c` (the `gemm` kernels parallelise
    /// over rows only, so a 7×7 layer's 49 rows ran on one thread whatever `threads` said:
    /// 1.95 ms for 49×2048×512 on two threads, 1.89 ms on one).
    fn run_split_columns(
        &self,
        a: &[f32],
        lda: usize,
        b: &[f32],
        ldb: usize,
        c: &mut [MaybeUninit<f32>],
        ldc: usize,
    ) {
        let Gemm { m, n, k, threads } = *self;
        let bands = threads.min(n / COLUMN_ALIGN).max(1);
        let width = n.div_ceil(bands).div_ceil(COLUMN_ALIGN) * COLUMN_ALIGN;
        let out = SharedOut(c.as_mut_ptr() as *mut f32);
        let out = &out;
        rayon::scope(|s| {
            for j0 in (0..n).step_by(width) {
                let cols = width.min(n - j0);
                s.spawn(move |_| {
                    // SAFETY: the caller's asserts cover every (row, column) of `c`, `a`
                    // and `b` used here; each band writes only its own columns j0..j0+cols
                    // of `c`'s rows, so no two bands touch the same element, and `c`
                    // outlives the scope.
                    unsafe {
                        gemm_raw(
                            m,
                            cols,
                            k,
                            a.as_ptr(),
                            lda,
                            b.as_ptr().add(j0),
                            ldb,
                            out.0.add(j0),
                            ldc,
                            Parallelism::None,
                        )
                    }
                });
            }
        });
    }
}

/// A matrix operand of any layout: element (i, j) at `data[i * rows + j * cols]` (a
/// row-major matrix has `cols = 1`; its transpose, read in place, `rows = 1`). The
/// backward pass multiplies by transposed patch and kernel matrices this way, without
/// copying them.
#[derive(Clone, Copy)]
pub struct Strided<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
}

impl<'a> Strided<'a> {
    /// A row-major m×n matrix with rows `stride` apart.
    pub fn rows(data: &'a [f32], stride: usize) -> Strided<'a> {
        Strided {
            data,
            rows: stride,
            cols: 1,
        }
    }

    /// The transpose of a row-major matrix whose rows are `stride` apart.
    pub fn transposed(data: &'a [f32], stride: usize) -> Strided<'a> {
        Strided {
            data,
            rows: 1,
            cols: stride,
        }
    }

    /// Whether every element of an `m`×`n` matrix lies inside `data`.
    fn holds(&self, m: usize, n: usize) -> bool {
        m == 0
            || n == 0
            || (m - 1)
                .checked_mul(self.rows)
                .and_then(|r| {
                    (n - 1)
                        .checked_mul(self.cols)
                        .and_then(|c| r.checked_add(c))
                })
                .is_some_and(|last| last < self.data.len())
    }
}

impl Gemm {
    /// `c (+)= a × b` for operands of any layout (`accumulate`: add to what `c` holds);
    /// `c` is row-major with rows `ldc` apart. On the `gemm` kernels' own threads.
    ///
    /// # Panics
    /// When an operand does not hold its shape (an engine bug: callers derive both from
    /// one shape).
    pub fn run_strided(&self, a: Strided, b: Strided, c: &mut [f32], ldc: usize, accumulate: bool) {
        let Gemm { m, n, k, threads } = *self;
        if m == 0 || n == 0 {
            return;
        }
        assert!(
            ldc >= n && c.len() >= (m - 1) * ldc + n,
            "gemm: output too small"
        );
        if k == 0 {
            if !accumulate {
                for row in c.chunks_mut(ldc).take(m) {
                    row[..n].fill(0.0);
                }
            }
            return;
        }
        assert!(a.holds(m, k), "gemm: lhs too small");
        assert!(b.holds(k, n), "gemm: rhs too small");
        let parallel = threads > 1 && m.saturating_mul(n).saturating_mul(k) >= PARALLEL_MACS;
        if m == 1 || k == 1 {
            return self.run_vector(a, b, c, ldc, accumulate, parallel);
        }
        if parallel && m < SPLIT_ROWS_BELOW && n >= 2 * COLUMN_ALIGN {
            // Few rows: bands of columns, one per thread (as `run_split_columns`).
            let bands = threads.min(n / COLUMN_ALIGN).max(1);
            let width = n.div_ceil(bands).div_ceil(COLUMN_ALIGN) * COLUMN_ALIGN;
            let out = SharedOut(c.as_mut_ptr());
            let out = &out;
            rayon::scope(|sc| {
                for j0 in (0..n).step_by(width) {
                    let cols = width.min(n - j0);
                    sc.spawn(move |_| {
                        // SAFETY: the asserts above cover every element of the bands;
                        // each band writes only its own columns j0..j0+cols of `c`, so
                        // no two touch the same element, and `c` outlives the scope.
                        unsafe {
                            strided_raw(
                                [m, cols, k],
                                (a.data.as_ptr(), a.rows, a.cols),
                                (b.data.as_ptr().add(j0 * b.cols), b.rows, b.cols),
                                out.0.add(j0),
                                ldc,
                                accumulate,
                                Parallelism::None,
                            )
                        }
                    });
                }
            });
            return;
        }
        let par = if parallel {
            Parallelism::Rayon(threads)
        } else {
            Parallelism::None
        };
        // SAFETY: the asserts keep every element read or written inside its slice (rows
        // of `c` do not overlap since ldc >= n); `c` is borrowed mutably, so it aliases
        // neither input.
        unsafe {
            strided_raw(
                [m, n, k],
                (a.data.as_ptr(), a.rows, a.cols),
                (b.data.as_ptr(), b.rows, b.cols),
                c.as_mut_ptr(),
                ldc,
                accumulate,
                par,
            )
        }
    }
}

impl Gemm {
    /// [`Gemm::run_strided`] when `a` is one row (`c = a·b`: each output a dot product
    /// or an axpy per row of `b`) or the product is an outer one (`k = 1`: row `i` of
    /// `c` is `a_i0 · b`) — memory-bound shapes (a batch-1 Dense layer's gradients) the
    /// gemm kernels would first pack.
    fn run_vector(
        &self,
        a: Strided,
        b: Strided,
        c: &mut [f32],
        ldc: usize,
        accumulate: bool,
        parallel: bool,
    ) {
        use rayon::prelude::*;
        let Gemm { m, n, k, .. } = *self;
        let at = |i: usize, p: usize| a.data[i * a.rows + p * a.cols];
        if m == 1 {
            let x: Vec<f32> = (0..k).map(|p| at(0, p)).collect();
            let c = &mut c[..n];
            if b.cols == 1 {
                let row = |p: usize| &b.data[p * b.rows..p * b.rows + n];
                vector_times_rows(&x, row, parallel, c, accumulate);
            } else if b.rows == 1 {
                // bᵀ read in place: column j of b is a contiguous run.
                let col = |j: usize| &b.data[j * b.cols..j * b.cols + k];
                let body = |(j, c): (usize, &mut f32)| {
                    let v = dot(&x, col(j));
                    *c = if accumulate { *c + v } else { v };
                };
                if parallel {
                    c.par_iter_mut().enumerate().with_min_len(64).for_each(body);
                } else {
                    c.iter_mut().enumerate().for_each(body);
                }
            } else {
                let body = |(j, c): (usize, &mut f32)| {
                    let v: f32 = x
                        .iter()
                        .enumerate()
                        .map(|(p, x)| x * b.data[p * b.rows + j * b.cols])
                        .sum();
                    *c = if accumulate { *c + v } else { v };
                };
                c.iter_mut().enumerate().for_each(body);
            }
            return;
        }
        // k == 1: an outer product.
        let y: Vec<f32> = (0..n).map(|j| b.data[j * b.cols]).collect();
        let body = |(i, row): (usize, &mut [f32])| {
            let s = at(i, 0);
            let row = &mut row[..n];
            if accumulate {
                row.iter_mut().zip(&y).for_each(|(c, y)| *c += s * y);
            } else {
                row.iter_mut().zip(&y).for_each(|(c, y)| *c = s * y);
            }
        };
        let rows = &mut c[..(m - 1) * ldc + n];
        if parallel {
            rows.par_chunks_mut(ldc)
                .enumerate()
                .with_min_len(16)
                .for_each(body);
        } else {
            rows.chunks_mut(ldc).enumerate().for_each(body);
        }
    }
}

/// A dot product in 16 lanes (so it vectorises; the order of the sum differs from a
/// left-to-right loop by rounding only).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 16];
    let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..16 {
            acc[l] += x[l] * y[l];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// `c = x · B` (`c += …` when `accumulate`) for B's rows `row(p)` of `c.len()` values:
/// one axpy per row, over bands of columns in parallel.
fn vector_times_rows<'b>(
    x: &[f32],
    row: impl Fn(usize) -> &'b [f32] + Sync,
    parallel: bool,
    c: &mut [f32],
    accumulate: bool,
) {
    use rayon::prelude::*;
    let n = c.len();
    let band = |(j, c): (usize, &mut [f32])| {
        let j0 = j * BAND;
        if !accumulate {
            c.fill(0.0);
        }
        for (p, &s) in x.iter().enumerate() {
            let r = &row(p)[j0..j0 + c.len()];
            c.iter_mut().zip(r).for_each(|(c, r)| *c += s * r);
        }
    };
    if parallel && n > BAND {
        c.par_chunks_mut(BAND).enumerate().for_each(band);
    } else {
        c.chunks_mut(BAND).enumerate().for_each(band);
    }
}

/// Columns per band of [`vector_times_rows`] (a band of every row stays in L1).
const BAND: usize = 256;

/// `c (+)= a × b` through the `gemm` kernels for operands of any layout, each given as
/// its base pointer, row stride and column stride.
///
/// # Safety
/// As [`gemm_raw`]: every element of the m×k `a`, k×n `b` and m×n `c` inside its
/// allocation, `c` aliasing neither input nor written by anyone else meanwhile.
unsafe fn strided_raw(
    [m, n, k]: [usize; 3],
    (a, a_rows, a_cols): (*const f32, usize, usize),
    (b, b_rows, b_cols): (*const f32, usize, usize),
    c: *mut f32,
    ldc: usize,
    accumulate: bool,
    par: Parallelism,
) {
    // SAFETY: the caller's contract. The kernels want a column-major destination:
    // compute cᵀ = bᵀ × aᵀ, which has the same memory (what the `gemm` facade does for a
    // row-major destination).
    unsafe {
        gemm_f32::gemm::f32::get_gemm_fn()(
            n,
            m,
            k,
            c,
            ldc as isize,
            1,
            accumulate,
            b,
            b_rows as isize,
            b_cols as isize,
            a,
            a_rows as isize,
            a_cols as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            par,
        );
    }
}

/// Rows below which a parallel product splits its columns between threads instead of
/// handing the threads to the `gemm` kernels (which split rows: measured on 2 threads,
/// 196 rows already ran 1.8× faster than on one, 49 rows not at all).
const SPLIT_ROWS_BELOW: usize = 128;
/// Column bands are multiples of this (a whole number of AVX-512 registers).
const COLUMN_ALIGN: usize = 16;

/// `c`'s base pointer, shared by column bands that write disjoint elements.
struct SharedOut(*mut f32);
// SAFETY: the bands holding it write disjoint elements of one live buffer.
unsafe impl Sync for SharedOut {}

/// `c = a × b` for row-major operands through the `gemm` kernels.
///
/// # Safety
/// Every element of the m×k `a`, k×n `b` and m×n `c` (rows `lda`, `ldb`, `ldc` apart)
/// must be inside its allocation, and `c` must alias neither input nor be written by
/// anyone else meanwhile.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_raw(
    m: usize,
    n: usize,
    k: usize,
    a: *const f32,
    lda: usize,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
    par: Parallelism,
) {
    // SAFETY: the caller's contract (row-major operands: unit column strides).
    // accumulate = false: `c` is only written, never read.
    unsafe { strided_raw([m, n, k], (a, lda, 1), (b, ldb, 1), c, ldc, false, par) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(
        m: usize,
        n: usize,
        k: usize,
        a: &[f32],
        lda: usize,
        b: &[f32],
        ldb: usize,
    ) -> Vec<f32> {
        let mut c = vec![0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut s = 0f64;
                for p in 0..k {
                    s += a[i * lda + p] as f64 * b[p * ldb + j] as f64;
                }
                c[i * n + j] = s as f32;
            }
        }
        c
    }

    #[test]
    fn strided_products_match_a_naive_loop() {
        for (m, n, k, lda, ldb, ldc, threads) in [
            (1, 1, 1, 1, 1, 1, 1),
            (7, 5, 3, 4, 9, 6, 1),
            (300, 64, 27, 27, 64, 64, 2),
            (33, 130, 600, 601, 131, 140, 2),
            // Few rows, split by columns into bands that are not all equal.
            (49, 2050, 64, 64, 2050, 2051, 3),
            (4, 3, 0, 1, 3, 3, 1),
            (1, 5, 3, 3, 5, 5, 1),
        ] {
            let a: Vec<f32> = (0..m * lda)
                .map(|i| ((i * 7919) % 13) as f32 - 6.0)
                .collect();
            let b: Vec<f32> = (0..k.max(1) * ldb)
                .map(|i| ((i * 104729) % 11) as f32 * 0.25 - 1.0)
                .collect();
            let mut c = vec![f32::NAN; (m - 1) * ldc + n];
            Gemm { m, n, k, threads }.run(Mat::new(&a, lda), Mat::new(&b, ldb), &mut c, ldc);
            let want = naive(m, n, k, &a, lda, &b, ldb);
            for i in 0..m {
                for j in 0..n {
                    let (g, w) = (c[i * ldc + j], want[i * n + j]);
                    assert!(
                        (g - w).abs() <= 1e-3 * (1.0 + w.abs()),
                        "{m}x{n}x{k} ({i},{j}): {g} vs {w}"
                    );
                }
            }
        }
    }

    #[test]
    fn transposed_operands_and_accumulation_match_a_naive_loop() {
        let (m, n, k) = (37, 21, 53);
        // aᵀ stored as k×m, b as k×n.
        let at: Vec<f32> = (0..k * m).map(|i| ((i * 31) % 17) as f32 - 8.0).collect();
        let b: Vec<f32> = (0..k * n).map(|i| ((i * 13) % 7) as f32 * 0.5).collect();
        let a: Vec<f32> = (0..m * k).map(|i| at[(i % k) * m + i / k]).collect();
        let want = naive(m, n, k, &a, k, &b, n);
        for threads in [1, 2] {
            let mut c = vec![1.0f32; m * n];
            Gemm { m, n, k, threads }.run_strided(
                Strided::transposed(&at, m),
                Strided::rows(&b, n),
                &mut c,
                n,
                true,
            );
            for (g, w) in c.iter().zip(&want) {
                assert!((g - 1.0 - w).abs() <= 1e-3 * (1.0 + w.abs()), "{g} vs {w}");
            }
        }
        // bᵀ read in place: (m×k) × (n×k)ᵀ.
        let bt: Vec<f32> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
        let mut c = vec![f32::NAN; m * n];
        Gemm {
            m,
            n,
            k,
            threads: 1,
        }
        .run_strided(
            Strided::rows(&a, k),
            Strided::transposed(&bt, k),
            &mut c,
            n,
            false,
        );
        for (g, w) in c.iter().zip(&want) {
            assert!((g - w).abs() <= 1e-3 * (1.0 + w.abs()), "{g} vs {w}");
        }
    }

    /// The vector paths: one row of `a` against `b` as rows or transposed, and outer
    /// products (`k = 1`), with and without accumulation, on one and two threads.
    #[test]
    fn vector_and_outer_products_match_a_naive_loop() {
        for (m, n, k) in [(1, 37, 53), (1, 2100, 1500), (41, 23, 1), (1500, 900, 1)] {
            let a: Vec<f32> = (0..m * k).map(|i| ((i * 31) % 17) as f32 - 8.0).collect();
            let b: Vec<f32> = (0..k * n).map(|i| ((i * 13) % 7) as f32 * 0.5).collect();
            let at: Vec<f32> = (0..k * m).map(|i| a[(i % m) * k + i / m]).collect();
            let bt: Vec<f32> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
            let want = naive(m, n, k, &a, k, &b, n);
            for threads in [1, 2] {
                for accumulate in [false, true] {
                    let layouts = [
                        (Strided::rows(&a, k), Strided::rows(&b, n)),
                        (Strided::rows(&a, k), Strided::transposed(&bt, k)),
                        (Strided::transposed(&at, m), Strided::rows(&b, n)),
                    ];
                    for (l, (sa, sb)) in layouts.into_iter().enumerate() {
                        let mut c = vec![1.0f32; m * n];
                        Gemm { m, n, k, threads }.run_strided(sa, sb, &mut c, n, accumulate);
                        let base = if accumulate { 1.0 } else { 0.0 };
                        for (g, w) in c.iter().zip(&want) {
                            assert!(
                                (g - base - w).abs() <= 1e-3 * (1.0 + w.abs()),
                                "{m}x{n}x{k} layout {l}: {g} vs {w}"
                            );
                        }
                    }
                }
            }
        }
    }
}
