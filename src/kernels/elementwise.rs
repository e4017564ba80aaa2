//! Element-wise passes over whole tensors, split over rayon's pool when large: bias
//! addition, any `f32 -> f32` map, and a per-channel scale and shift.

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
    // SAFETY: every run `d` has the length of its source `s`, and both callers write
    // each element of `d` from `s` (element by element, or per channel over whole
    // pixels when the length is a multiple of the channel count).
    unsafe { out.set_len(len) };
    out
}

/// `f` applied to every element, into a new array of the same shape (one pass).
pub fn map(x: &ndarray::ArrayD<f32>, f: impl Fn(f32) -> f32 + Sync + Send) -> ndarray::ArrayD<f32> {
    let xs = x.as_standard_layout();
    let src = xs.as_slice().expect("standard layout is contiguous");
    let out = map_runs(src, 1 << 14, |d, s| {
        for (d, s) in d.iter_mut().zip(s) {
            d.write(f(*s));
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
    if scale.is_empty() || !src.len().is_multiple_of(c) || shift.len() != scale.len() {
        // Not whole pixels of `c` channels: per element, the last axis's index.
        let n = src.len();
        let out = (0..n)
            .map(|k| {
                let j = k % c;
                src[k] * scale.get(j).copied().unwrap_or(1.0) + shift.get(j).copied().unwrap_or(0.0)
            })
            .collect();
        return ndarray::ArrayD::from_shape_vec(x.raw_dim(), out).unwrap_or_else(|_| x.clone());
    }
    // Runs of whole pixels: every element of a run is written.
    let out = map_runs(src, c * (16384 / c).max(1), |d, s| {
        for (dr, sr) in d.chunks_exact_mut(c).zip(s.chunks_exact(c)) {
            for j in 0..c {
                dr[j].write(sr[j] * scale[j] + shift[j]);
            }
        }
    });
    ndarray::ArrayD::from_shape_vec(x.raw_dim(), out).unwrap_or_else(|_| x.clone())
}
