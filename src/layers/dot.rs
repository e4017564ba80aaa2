//! `keras.layers.Dot`: the dot product of two inputs along one axis of each, per sample
//! (Keras's `batch_dot`), optionally of L2-normalised inputs (cosine proximity).

use super::torch::Torch;
use super::*;
use crate::keras::args::Axes;
use ndarray::{Array3, Axis, IxDyn};

kind! {
    /// `keras.layers.Dot`.
    pub struct Dot: ["Dot"], Merge, [TAKES_LIST = true] {
        axes: Axes = Axes::one(-1) => Axes, "Axis of each input summed over: one axis for both, or [axis of the first, axis of the second]; never 0 (the batch).";
        normalize: bool = false => Bool, "L2-normalise both inputs along their axis first: the output is then their cosine proximity.";
    }
}

impl Dot {
    /// The axes as `Dot.__init__` accepts them (an int, or a list of two ints).
    fn check_axes(&self) -> R<()> {
        if self.axes.list && self.axes.v.len() != 2 {
            return Err(KerasError::construct(format!(
                "Invalid format for argument `axes`: it should contain two elements. \
                 Received: axes={}",
                pyfmt::list(&self.axes.v)
            )));
        }
        if self.axes.v.is_empty() {
            return Err(KerasError::construct(
                "Invalid type for argument `axes`: it should be a list or an int. Received: \
                 axes=None",
            ));
        }
        Ok(())
    }

    /// The axis of each input as Keras's `build` and `compute_output_shape` take it: an
    /// int is taken modulo each input's rank when negative; a pair as given (Python's
    /// negative indexing).
    fn raw_axes(&self, ranks: [usize; 2]) -> [i64; 2] {
        match self.axes.v[..] {
            [a] if !self.axes.list && a < 0 => ranks.map(|r| a.rem_euclid(r as i64)),
            [a] => [a, a],
            [a, b, ..] => [a, b],
            [] => [0, 0],
        }
    }

    /// The axes as non-negative positions (what `batch_dot` runs on).
    fn axes_for(&self, ranks: [usize; 2]) -> [usize; 2] {
        let [a, b] = self.raw_axes(ranks);
        let fix = |a: i64, r: usize| if a < 0 { a + r as i64 } else { a }.max(0) as usize;
        [fix(a, ranks[0]), fix(b, ranks[1])]
    }
}

impl LayerSpec for Dot {
    fn build(&self, cx: &Cx, r: &mut LayerReport) -> R<Shape> {
        self.check_axes()?;
        let inputs = cx.inputs;
        let shapes_str = || {
            format!(
                "[{}]",
                inputs.iter().map(|s| pyfmt::tuple_opt(s)).collect::<Vec<_>>().join(", ")
            )
        };
        let [s1, s2] = inputs else {
            return Err(KerasError::build(format!(
                "A `Dot` layer should be called on a list of 2 inputs. Received: \
                 input_shape={}",
                shapes_str()
            )));
        };
        let ranks = [s1.len(), s2.len()];
        let raw = self.raw_axes(ranks);
        // Python indexing: negative from the end, out of range an IndexError.
        let at = |s: &Shape, a: i64| {
            let i = if a < 0 { a + s.len() as i64 } else { a };
            usize::try_from(i).ok().and_then(|i| s.get(i).copied())
        };
        let (Some(d1), Some(d2)) = (at(s1, raw[0]), at(s2, raw[1])) else {
            return Err(KerasError::build("tuple index out of range"));
        };
        if d1 != d2 {
            let dim = |d: Option<i64>| d.map_or("None".to_string(), |d| d.to_string());
            return Err(KerasError::build(format!(
                "Incompatible input shapes: axis values {} (at axis {}) != {} (at axis {}). \
                 Full input shapes: {}, {}",
                dim(d1),
                raw[0],
                dim(d2),
                raw[1],
                pyfmt::tuple_opt(s1),
                pyfmt::tuple_opt(s2)
            )));
        }
        let [a1, a2] = self.axes_for(ranks);
        if a1 == 0 || a2 == 0 {
            // Keras builds the model (its shape rule pops the batch axis) and fails in
            // `batch_dot` as soon as it runs: refused here, in those words.
            return Err(KerasError::build(
                "Cannot perform batch_dot over axis 0. If your inputs are not batched, add a \
                 dummy batch dimension to your inputs using keras.ops.expand_dims(x, 0)",
            ));
        }
        let mut out: Shape = s1.clone();
        out.remove(a1);
        out.extend(s2.iter().enumerate().filter(|&(i, _)| i != 0 && i != a2).map(|(_, d)| *d));
        if out.len() == 1 {
            out.push(Some(1));
        }
        let n: i64 = out[1..].iter().map(|d| d.unwrap_or(0)).product();
        r.macs = n.saturating_mul(d1.unwrap_or(0));
        r.receptive_field = None;
        Ok(out)
    }

    fn forward(&self, inputs: &[Arc<ArrayD<f32>>], _: &[ArrayD<f32>]) -> Result<ArrayD<f32>, String> {
        let [x, y] = inputs else {
            return Err("A `Dot` layer should be called on exactly 2 inputs".into());
        };
        let [a1, a2] = self.axes_for([x.ndim(), y.ndim()]);
        batch_dot(x, y, a1, a2, self.normalize)
    }

    fn backward(&self, bw: Backward) -> Result<Grads, String> {
        let [x, y] = bw.inputs else {
            return Err("A `Dot` layer should be called on exactly 2 inputs".into());
        };
        let [a1, a2] = self.axes_for([x.ndim(), y.ndim()]);
        let [dx, dy] = batch_dot_backward(x, y, a1, a2, self.normalize, &bw.dy)?;
        Ok(Grads {
            inputs: vec![dx, dy],
            weights: Vec::new(),
        })
    }

    fn card(&self) -> String {
        let axes = match self.axes.v[..] {
            [a] => a.to_string(),
            _ => pyfmt::list(&self.axes.v),
        };
        let norm = if self.normalize { " · cosine" } else { "" };
        format!("Dot · axes {axes}{norm}")
    }

    fn torch(&self, t: &mut Torch) -> Result<(), String> {
        t.merge_inputs();
        let [x, y] = &t.args[..] else {
            return Err("Dot takes exactly 2 inputs".into());
        };
        let [r1, r2] = [t.arg_ranks[0], t.arg_ranks[1]];
        let [a1, a2] = self.axes_for([r1, r2]);
        // The inputs in Keras's layout, then one einsum: batch b, summed axis z.
        let keras = |e: &String, r: usize| {
            if r == 4 && t.flow.permuted {
                format!("{e}.permute(0, 2, 3, 1)")
            } else {
                e.clone()
            }
        };
        let (x, y) = (keras(x, r1), keras(y, r2));
        let mut free = "cdefghijklmnopqrstuvwxy".chars();
        let mut sub = |r: usize, a: usize, out: &mut String| -> Result<String, String> {
            let mut s = String::from("b");
            for i in 1..r {
                if i == a {
                    s.push('z');
                } else {
                    let c = free.next().ok_or("too many axes for one einsum")?;
                    s.push(c);
                    out.push(c);
                }
            }
            Ok(s)
        };
        let mut out = String::from("b");
        let sx = sub(r1, a1, &mut out)?;
        let sy = sub(r2, a2, &mut out)?;
        let norm = |e: String, a: usize| {
            if self.normalize {
                format!("({e}) * torch.clamp(({e}).square().sum(dim={a}, keepdim=True), min=1e-14).rsqrt()")
            } else {
                e
            }
        };
        let (x, y) = (norm(x, a1), norm(y, a2));
        let one = if out.len() == 1 { ".unsqueeze(1)" } else { "" };
        t.fwd(format!("x = torch.einsum(\"{sx},{sy}->{out}\", {x}, {y}){one}"));
        t.flow.permuted = false;
        Ok(())
    }
}

/// Keras's `batch_dot(x, y, (a1, a2))`: for each sample, the sum over `k` of
/// `x[.., k at a1, ..] * y[.., k at a2, ..]`, indexed by x's other axes then y's (rank 2
/// outputs stay rank 2: `(batch, 1)`). With `normalize`, each input is first multiplied
/// by `min(rsqrt(sum of squares along its axis), 1 / 1e-7)` as `ops.normalize` does.
fn batch_dot(
    x: &ArrayD<f32>,
    y: &ArrayD<f32>,
    a1: usize,
    a2: usize,
    normalize: bool,
) -> Result<ArrayD<f32>, String> {
    let o = Operands::new(x, y, a1, a2, normalize)?;
    let mut out = Vec::with_capacity(o.b * o.m * o.n);
    for s in 0..o.b {
        let prod = o.xs.index_axis(Axis(0), s).dot(&o.ys.index_axis(Axis(0), s));
        out.extend(prod.iter().copied());
    }
    ArrayD::from_shape_vec(o.out_shape(x, y), out).map_err(|e| e.to_string())
}

/// [`batch_dot`]'s operands: each input made a unit vector along its axis when
/// normalising (`u`), then `x` as (batch, m, k) and `y` as (batch, k, n), the other axes
/// in order (`px`, `py`: the permutations that made them).
struct Operands {
    ux: ArrayD<f32>,
    uy: ArrayD<f32>,
    xs: Array3<f32>,
    ys: Array3<f32>,
    px: Vec<usize>,
    py: Vec<usize>,
    b: usize,
    m: usize,
    n: usize,
}

impl Operands {
    fn new(x: &ArrayD<f32>, y: &ArrayD<f32>, a1: usize, a2: usize, normalize: bool) -> Result<Operands, String> {
        if a1 == 0 || a2 == 0 || a1 >= x.ndim() || a2 >= y.ndim() {
            return Err(format!("Dot axes ({a1}, {a2}) do not fit inputs of rank {} and {}", x.ndim(), y.ndim()));
        }
        let (b, k) = (x.shape()[0], x.shape()[a1]);
        if y.shape()[0] != b || y.shape()[a2] != k {
            return Err(format!("Cannot do batch_dot on inputs with shapes {:?} and {:?}", x.shape(), y.shape()));
        }
        let unit = |a: &ArrayD<f32>, ax: usize| -> ArrayD<f32> {
            if !normalize {
                return a.clone();
            }
            a * &inverse_norm(a, ax)
        };
        let (ux, uy) = (unit(x, a1), unit(y, a2));
        let mut px: Vec<usize> = (0..x.ndim()).filter(|&i| i != a1).collect();
        px.push(a1);
        let mut py = vec![0, a2];
        py.extend((1..y.ndim()).filter(|&i| i != a2));
        let m: usize = px[1..px.len() - 1].iter().map(|&i| x.shape()[i]).product();
        let n: usize = py[2..].iter().map(|&i| y.shape()[i]).product();
        let three = |a: &ArrayD<f32>, p: &[usize], dims: [usize; 3]| -> Result<Array3<f32>, String> {
            a.view()
                .permuted_axes(IxDyn(p))
                .as_standard_layout()
                .into_owned()
                .into_shape_with_order(dims)
                .map_err(|e| e.to_string())
        };
        let xs = three(&ux, &px, [b, m, k])?;
        let ys = three(&uy, &py, [b, k, n])?;
        Ok(Operands { ux, uy, xs, ys, px, py, b, m, n })
    }

    /// `(batch, x's other axes, y's other axes)`; rank-2 outputs stay `(batch, 1)`.
    fn out_shape(&self, x: &ArrayD<f32>, y: &ArrayD<f32>) -> Vec<usize> {
        let mut shape = vec![self.b];
        shape.extend(self.px[1..self.px.len() - 1].iter().map(|&i| x.shape()[i]));
        shape.extend(self.py[2..].iter().map(|&i| y.shape()[i]));
        if shape.len() == 1 {
            shape.push(1);
        }
        shape
    }
}

/// `min(rsqrt(Σ a² along ax), 1 / 1e-7)`, kept along `ax` (`ops.normalize`'s factor).
fn inverse_norm(a: &ArrayD<f32>, ax: usize) -> ArrayD<f32> {
    let sq = a.map(|v| v * v).sum_axis(Axis(ax)).insert_axis(Axis(ax));
    sq.mapv(|s| (1.0 / s.sqrt()).min(1e7))
}

/// [`batch_dot`]'s gradients for the output gradient `g`: per sample `dX = G·Yᵀ`,
/// `dY = Xᵀ·G`, permuted back, then through the normalisation
/// (`da = r·(du − u·Σ du·u)`, or `du·1e7` where the norm was clamped).
fn batch_dot_backward(
    x: &ArrayD<f32>,
    y: &ArrayD<f32>,
    a1: usize,
    a2: usize,
    normalize: bool,
    g: &ArrayD<f32>,
) -> Result<[ArrayD<f32>; 2], String> {
    let o = Operands::new(x, y, a1, a2, normalize)?;
    let g3 = g
        .as_standard_layout()
        .into_owned()
        .into_shape_with_order([o.b, o.m, o.n])
        .map_err(|e| e.to_string())?;
    let (mut dxs, mut dys) = (Array3::<f32>::zeros(o.xs.raw_dim()), Array3::<f32>::zeros(o.ys.raw_dim()));
    for s in 0..o.b {
        let gs = g3.index_axis(Axis(0), s);
        dxs.index_axis_mut(Axis(0), s).assign(&gs.dot(&o.ys.index_axis(Axis(0), s).t()));
        dys.index_axis_mut(Axis(0), s).assign(&o.xs.index_axis(Axis(0), s).t().dot(&gs));
    }
    let back = |d: Array3<f32>, a: &ArrayD<f32>, p: &[usize]| -> Result<ArrayD<f32>, String> {
        let moved: Vec<usize> = p.iter().map(|&i| a.shape()[i]).collect();
        let mut inv = vec![0; p.len()];
        for (i, &q) in p.iter().enumerate() {
            inv[q] = i;
        }
        Ok(d.into_shape_with_order(IxDyn(&moved))
            .map_err(|e| e.to_string())?
            .permuted_axes(IxDyn(&inv))
            .as_standard_layout()
            .into_owned())
    };
    let du = [back(dxs, x, &o.px)?, back(dys, y, &o.py)?];
    if !normalize {
        return Ok(du);
    }
    let through = |du: ArrayD<f32>, a: &ArrayD<f32>, u: &ArrayD<f32>, ax: usize| -> ArrayD<f32> {
        let r = inverse_norm(a, ax);
        let dot = (&du * u).sum_axis(Axis(ax)).insert_axis(Axis(ax));
        let clamped = r.mapv(|v| v >= 1e7);
        let mut da = &du - &(u * &dot);
        da *= &r;
        ndarray::Zip::from(&mut da)
            .and(&du)
            .and_broadcast(&clamped)
            .and_broadcast(&r)
            .for_each(|d, &g, &c, &r| {
                if c {
                    *d = g * r;
                }
            });
        da
    };
    let [dx, dy] = du;
    Ok([through(dx, x, &o.ux, a1), through(dy, y, &o.uy, a2)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Dimension;

    /// The sum written out index by index, for `batch_dot` to be checked against.
    fn naive(x: &ArrayD<f32>, y: &ArrayD<f32>, a1: usize, a2: usize) -> Vec<f32> {
        let xo: Vec<usize> = (1..x.ndim()).filter(|&i| i != a1).collect();
        let yo: Vec<usize> = (1..y.ndim()).filter(|&i| i != a2).collect();
        let mut out = Vec::new();
        for b in 0..x.shape()[0] {
            let xi = ndarray::indices(xo.iter().map(|&i| x.shape()[i]).collect::<Vec<_>>());
            for ix in xi {
                let yi = ndarray::indices(yo.iter().map(|&i| y.shape()[i]).collect::<Vec<_>>());
                for iy in yi {
                    let mut acc = 0f32;
                    for k in 0..x.shape()[a1] {
                        let mut p = vec![b];
                        let mut it = ix.as_array_view().to_vec().into_iter();
                        for d in 1..x.ndim() {
                            p.push(if d == a1 { k } else { it.next().unwrap() });
                        }
                        let mut q = vec![b];
                        let mut it = iy.as_array_view().to_vec().into_iter();
                        for d in 1..y.ndim() {
                            q.push(if d == a2 { k } else { it.next().unwrap() });
                        }
                        acc += x[p.as_slice()] * y[q.as_slice()];
                    }
                    out.push(acc);
                }
            }
        }
        out
    }

    #[test]
    fn batch_dot_is_the_indexed_sum_on_every_axis_pair() {
        let x = ArrayD::from_shape_fn(vec![2, 3, 4, 5], |i| (i[0] + 2 * i[1] + 3 * i[2] + 5 * i[3]) as f32 * 0.1 - 1.0);
        let y = ArrayD::from_shape_fn(vec![2, 4, 3], |i| (7 * i[0] + i[1] + 4 * i[2]) as f32 * 0.05 - 0.3);
        for (a1, a2, k) in [(1, 2, 3), (2, 1, 4)] {
            let got = batch_dot(&x, &y, a1, a2, false).unwrap();
            let mut want_shape = vec![2];
            want_shape.extend((1..4).filter(|&i| i != a1).map(|i| x.shape()[i]));
            want_shape.extend((1..3).filter(|&i| i != a2).map(|i| y.shape()[i]));
            assert_eq!(got.shape(), want_shape.as_slice(), "axes ({a1}, {a2}), k {k}");
            let want = naive(&x, &y, a1, a2);
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-4, "{g} vs {w}");
            }
        }
        // Two vectors per sample: (batch, 1).
        let v = ArrayD::from_shape_fn(vec![3, 4], |i| i[1] as f32 + i[0] as f32);
        let got = batch_dot(&v, &v, 1, 1, false).unwrap();
        assert_eq!(got.shape(), &[3, 1]);
        assert_eq!(got[[1, 0]], 1.0 + 4.0 + 9.0 + 16.0);
        // Normalised: a vector with itself has cosine 1.
        let got = batch_dot(&v, &v, 1, 1, true).unwrap();
        assert!((got[[2, 0]] - 1.0).abs() < 1e-6);
    }
}
