//! Element-wise passes over whole tensors, split over rayon's pool when large: bias
//! addition, any `f32 -> f32` map, and a per-channel scale and shift — the last two as
//! [`Pointwise`] steps, which a layer's own forward applies into a new array and the
//! engine's prediction path applies in place, several in one pass.

use ndarray::{Array4, Axis};
use std::mem::MaybeUninit;

/// Adds a per-channel bias on the last axis.
pub fn add_bias(out: &mut Array4<f32>, bias: &[f32]) {
    for mut px in out.lanes_mut(Axis(3)) {
        for (v, b) in px.iter_mut().zip(bias) {
            *v += *b;
        }
    }
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

/// `g[k] = f(g[k], v[k])` in place, in parallel runs as [`for_chunks`] (the backward
/// pass's element-wise rules: a derivative times the incoming gradient).
pub fn zip_in_place(g: &mut [f32], v: &[f32], f: impl Fn(f32, f32) -> f32 + Sync + Send) {
    const PIECE: usize = 1 << 14;
    let n = g.len().min(v.len());
    for_chunks(&mut g[..n], PIECE, |i, d| {
        let s = &v[i * PIECE..i * PIECE + d.len()];
        d.iter_mut().zip(s).for_each(|(g, &v)| *g = f(*g, v));
    });
}

/// `f(src[k])` for every element of `src`, each `piece`-sized run of the output written
/// by `g(run, its source)` (in parallel as [`for_chunks`]), into a vector that is not
/// zeroed first: activations larger than the caches would otherwise be written twice.
fn map_runs(
    src: &[f32],
    piece: usize,
    g: impl Fn(&mut [MaybeUninit<f32>], &[f32]) + Sync + Send,
) -> Vec<f32> {
    let len = src.len();
    let mut out: Vec<f32> = Vec::with_capacity(len);
    for_chunks(&mut out.spare_capacity_mut()[..len], piece, |i, d| {
        let s = &src[i * piece..i * piece + d.len()];
        g(d, s);
    });
    // SAFETY: every run `d` has the length of its source `s`, and the caller writes
    // each element of `d` from `s`.
    unsafe { out.set_len(len) };
    out
}

/// Elements one run of a [`Pointwise`] pass covers: 64 KiB, a run stays in L1/L2
/// while every step of a chain works on it.
const RUN: usize = 1 << 14;

/// One step of a [`Pointwise`] pass over a run of elements.
type Step = Box<dyn Fn(&mut [f32]) + Send + Sync>;

/// A layer's change of a tensor element by element, or per channel along the last axis:
/// a function over a run of elements that holds whole pixels when `channels > 1`.
pub struct Pointwise {
    channels: usize,
    /// `None`: the identity (Dropout at inference).
    step: Option<Step>,
}

impl Pointwise {
    /// The output is the input (Dropout and its kin at inference).
    pub fn identity() -> Pointwise {
        Pointwise {
            channels: 1,
            step: None,
        }
    }

    /// Whether this step leaves every element as it is.
    pub fn is_identity(&self) -> bool {
        self.step.is_none()
    }

    /// `f` on every element.
    pub fn map(f: impl Fn(f32) -> f32 + Send + Sync + 'static) -> Pointwise {
        Pointwise {
            channels: 1,
            step: Some(Box::new(move |run: &mut [f32]| map_run(&f, run))),
        }
    }

    /// `x * scale[c] + shift[c]` along the last axis, which must have `scale.len()`
    /// elements (batch normalisation in inference).
    pub fn scale_shift(scale: Vec<f32>, shift: Vec<f32>) -> Pointwise {
        let c = scale.len().min(shift.len()).max(1);
        Pointwise {
            channels: c,
            step: Some(Box::new(move |run: &mut [f32]| {
                for px in run.chunks_exact_mut(c) {
                    for j in 0..c {
                        px[j] = px[j] * scale[j] + shift[j];
                    }
                }
            })),
        }
    }

    /// Whether the step fits a tensor of `shape` (a per-channel step needs its channel
    /// count on the last axis).
    pub fn fits(&self, shape: &[usize]) -> bool {
        self.channels == 1 || shape.last() == Some(&self.channels)
    }

    /// The step applied to `x`, into a new array (one pass: each run is copied, then
    /// changed while it is in cache).
    pub fn apply(&self, x: &ndarray::ArrayD<f32>) -> ndarray::ArrayD<f32> {
        let Some(step) = &self.step else {
            return x.clone();
        };
        let xs = x.as_standard_layout();
        let src = xs.as_slice().expect("standard layout is contiguous");
        let out = map_runs(src, run_len(x.shape()), |d, s| {
            for (d, s) in d.iter_mut().zip(s) {
                d.write(*s);
            }
            // SAFETY: every element of `d` was written just above.
            let d = unsafe { &mut *(d as *mut [MaybeUninit<f32>] as *mut [f32]) };
            step(d);
        });
        ndarray::ArrayD::from_shape_vec(x.raw_dim(), out)
            .expect("map_runs keeps the length of its source")
    }

    /// Every step of `chain`, in order, on `x` in place: one pass over memory, each run
    /// taken through all the steps while it is in cache. Every step must [`Self::fits`]
    /// `x`'s shape.
    pub fn apply_chain(chain: &[Pointwise], x: &mut ndarray::ArrayD<f32>) {
        let channels = x.shape().last().copied().unwrap_or(1);
        if let Some(data) = x.as_slice_mut() {
            Pointwise::apply_chain_to(chain, data, channels);
        } else if !chain.iter().all(Pointwise::is_identity) {
            for p in chain {
                *x = p.apply(x);
            }
        }
    }

    /// [`Pointwise::apply_chain`] on `data`, whole pixels of `channels` values, its runs
    /// on rayon's pool when there is enough work.
    pub fn apply_chain_to(chain: &[Pointwise], data: &mut [f32], channels: usize) {
        if chain.iter().all(Pointwise::is_identity) {
            return;
        }
        for_chunks(data, run_len(&[channels]), |_, run| {
            Pointwise::apply_steps(chain, run, channels)
        });
    }

    /// Every step of `chain` on `block`, whole pixels of `channels` values (a kernel's
    /// block of output rows, on the calling thread), a run of about [`RUN`] elements at
    /// a time: the same operations on each element as [`Pointwise::apply_chain`].
    pub fn apply_steps(chain: &[Pointwise], block: &mut [f32], channels: usize) {
        for run in block.chunks_mut(run_len(&[channels])) {
            for step in chain.iter().filter_map(|p| p.step.as_ref()) {
                step(run);
            }
        }
    }
}

/// `f` on every element of `run`, in a loop compiled for AVX2 when the CPU has it (the
/// loop is `f` inlined, eight lanes wide; the same IEEE operations per element as the
/// portable loop, so the same bits).
fn map_run<F: Fn(f32) -> f32>(f: &F, run: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above).
        unsafe { map_run_avx2(f, run) };
        return;
    }
    for v in run {
        *v = f(*v);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn map_run_avx2<F: Fn(f32) -> f32>(f: &F, run: &mut [f32]) {
    for v in run {
        *v = f(*v);
    }
}

/// Runs of whole pixels (the last axis) of about [`RUN`] elements.
fn run_len(shape: &[usize]) -> usize {
    let c = shape.last().copied().unwrap_or(1).max(1);
    c * (RUN / c).max(1)
}
