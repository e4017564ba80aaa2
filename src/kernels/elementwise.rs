//! Element-wise passes over whole tensors, split over rayon's pool when large: bias
//! addition, any `f32 -> f32` map, and a per-channel scale and shift.

use ndarray::{Array4, Axis};

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
