//! `keras.layers.Concatenate`: inputs joined along `axis`.

use super::torch::Torch;
use super::*;
use crate::kernels;
use ndarray::Axis;

kind! {
    /// `keras.layers.Concatenate`.
    pub struct Concatenate: ["Concatenate"], Merge, [TAKES_LIST = true] {
        axis: i64 = -1 => Axis, "Axis the inputs are joined along (-1: channels for channels_last).";
    }
}

impl LayerSpec for Concatenate {
    /// Keras's `Concatenate.build` (the inputs without the `axis` dimension must agree
    /// where their sizes are known) then `compute_output_shape` (sizes along `axis`
    /// added; unknown if one is).
    fn build(&self, cx: &Cx, r: &mut LayerReport) -> R<Shape> {
        let inputs = cx.inputs;
        let shapes_str = || {
            format!(
                "[{}]",
                inputs
                    .iter()
                    .map(|s| pyfmt::tuple_opt(s))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        // Python's index of `axis` in a sequence of `len` items.
        let at = |len: usize, a: i64| {
            let i = if a < 0 { a + len as i64 } else { a };
            usize::try_from(i).ok().filter(|&i| i < len)
        };
        let mut reduced = Vec::with_capacity(inputs.len());
        for s in inputs {
            let mut v = s.clone();
            if v.len() as i64 > self.axis {
                let i = at(v.len(), self.axis)
                    .ok_or_else(|| KerasError::build("list assignment index out of range"))?;
                v.remove(i);
            }
            reduced.push(v);
        }
        if reduced.iter().any(|v| *v != reduced[0]) {
            let err = || {
                KerasError::build(format!(
                    "A `Concatenate` layer requires inputs with matching shapes except for \
                     the concatenation axis. Received: input_shape={}",
                    shapes_str()
                ))
            };
            let rank = reduced[0].len();
            if reduced.iter().any(|v| v.len() != rank) {
                return Err(err());
            }
            for d in 0..rank {
                let mut known: Vec<i64> = reduced.iter().filter_map(|v| v[d]).collect();
                known.sort_unstable();
                known.dedup();
                if known.len() > 1 {
                    return Err(err());
                }
            }
        }
        let mut out = inputs[0].clone();
        for s in &inputs[1..] {
            // Keras runs `call` symbolically, where the index fails.
            let (Some(i), Some(j)) = (at(out.len(), self.axis), at(s.len(), self.axis)) else {
                return Err(cx.call_error_list("list index out of range"));
            };
            match (out[i], s[j]) {
                (Some(a), Some(b)) => out[i] = Some(a.saturating_add(b)),
                _ => {
                    out[i] = None;
                    break;
                }
            }
        }
        // Joined along the channels, a pixel sees what each input's pixel sees.
        let rank = out.len();
        let ax = at(rank, self.axis);
        let channels = if cx.channels_first { 1 } else { rank.saturating_sub(1) };
        r.receptive_field = if ax == Some(channels) || rank != 4 {
            cx.merged_rf(&out)
        } else {
            None
        };
        Ok(out)
    }

    fn forward(&self, inputs: &[Arc<ArrayD<f32>>], _: &[ArrayD<f32>]) -> Result<ArrayD<f32>, String> {
        let rank = first(inputs)?.ndim() as i64;
        let ax = if self.axis < 0 { self.axis + rank } else { self.axis } as usize;
        concat(inputs, ax)
    }

    /// The gradient split along the axis, each input its own slice.
    fn backward(&self, bw: Backward) -> Result<Grads, String> {
        let rank = bw.dy.ndim() as i64;
        let ax = if self.axis < 0 { self.axis + rank } else { self.axis } as usize;
        let mut at = 0;
        let mut grads = Vec::with_capacity(bw.inputs.len());
        for x in bw.inputs {
            let len = x.shape().get(ax).copied().ok_or("Concatenate: axis out of range")?;
            grads.push(
                bw.dy
                    .slice_axis(Axis(ax), ndarray::Slice::from(at..at + len))
                    .as_standard_layout()
                    .into_owned(),
            );
            at += len;
        }
        Ok(Grads {
            inputs: grads,
            weights: Vec::new(),
        })
    }

    fn card(&self) -> String {
        "Concatenate".into()
    }

    fn torch(&self, t: &mut Torch) -> Result<(), String> {
        t.merge_inputs();
        let line = format!("x = torch.cat([{}], dim={})", t.args.join(", "), t.dim(self.axis));
        t.fwd(line);
        Ok(())
    }
}

/// The inputs joined along axis `ax`. In row-major order the output is, for each index
/// before the axis, each input's contiguous block from the axis on, one after the other:
/// copied as whole blocks, the output's rows in parallel (ndarray's `concatenate` copies
/// element by element through strides: InceptionV3's eleven `mixed` layers took 9 ms).
fn concat(inputs: &[Arc<ArrayD<f32>>], ax: usize) -> Result<ArrayD<f32>, String> {
    let views: Vec<_> = inputs.iter().map(|a| a.view()).collect();
    let first = views.first().ok_or("Concatenate needs inputs")?;
    let same_around = views.iter().all(|v| {
        v.ndim() == first.ndim()
            && (0..v.ndim()).all(|d| d == ax || v.shape()[d] == first.shape()[d])
    });
    if ax >= first.ndim() || !same_around {
        return ndarray::concatenate(Axis(ax), &views).map_err(|e| e.to_string());
    }
    let outer: usize = first.shape()[..ax].iter().product();
    let blocks: Vec<usize> = views.iter().map(|v| v.shape()[ax..].iter().product()).collect();
    let row: usize = blocks.iter().sum();
    let owned: Vec<_> = views.iter().map(|v| v.as_standard_layout()).collect();
    let srcs: Vec<&[f32]> = owned
        .iter()
        .map(|v| v.as_slice().ok_or("not contiguous"))
        .collect::<Result<_, _>>()?;
    let mut out = vec![0f32; outer * row];
    // Rows grouped so that each task copies about 64 KiB.
    let per_task = (16384 / row.max(1)).max(1);
    kernels::for_chunks(&mut out, per_task * row, |t, chunk| {
        for (r, dst) in chunk.chunks_exact_mut(row.max(1)).enumerate() {
            let o = t * per_task + r;
            let mut at = 0;
            for (src, &b) in srcs.iter().zip(&blocks) {
                dst[at..at + b].copy_from_slice(&src[o * b..(o + 1) * b]);
                at += b;
            }
        }
    });
    let mut shape = first.shape().to_vec();
    shape[ax] = views.iter().map(|v| v.shape()[ax]).sum();
    ArrayD::from_shape_vec(shape, out).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_copies_equal_ndarray_on_every_axis() {
        let a = ArrayD::from_shape_fn(vec![2, 3, 4, 5], |i| (i[0] * 60 + i[1] * 20 + i[2] * 5 + i[3]) as f32);
        for ax in 0..4 {
            let mut shape = vec![2, 3, 4, 5];
            shape[ax] = 2;
            let b = ArrayD::from_shape_fn(shape, |i| -(i[0] as f32) - i[1] as f32 * 0.5 - i[3] as f32);
            // A transposed view too: not in standard layout.
            let c = b.clone().reversed_axes().as_standard_layout().into_owned().reversed_axes();
            let inputs = [Arc::new(a.clone()), Arc::new(b.clone()), Arc::new(c.clone())];
            let want = ndarray::concatenate(Axis(ax), &[a.view(), b.view(), c.view()]).unwrap();
            assert_eq!(concat(&inputs, ax).unwrap(), want, "axis {ax}");
        }
    }
}
