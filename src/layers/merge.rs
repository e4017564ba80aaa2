//! The element-wise merge layers of a Functional model: `Add`, `Subtract`, `Multiply`,
//! `Average`, `Maximum`, `Minimum` (with Keras's broadcasting of size-1 axes).

use super::torch::Torch;
use super::*;
use crate::keras::args::Visitor;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MergeKind {
    Add,
    Subtract,
    Multiply,
    Average,
    Maximum,
    Minimum,
}

impl MergeKind {
    pub const ALL: [MergeKind; 6] = [
        MergeKind::Add,
        MergeKind::Subtract,
        MergeKind::Multiply,
        MergeKind::Average,
        MergeKind::Maximum,
        MergeKind::Minimum,
    ];
    pub fn class_name(self) -> &'static str {
        match self {
            MergeKind::Add => "Add",
            MergeKind::Subtract => "Subtract",
            MergeKind::Multiply => "Multiply",
            MergeKind::Average => "Average",
            MergeKind::Maximum => "Maximum",
            MergeKind::Minimum => "Minimum",
        }
    }
    fn combine(self, a: f32, b: f32) -> f32 {
        match self {
            MergeKind::Add | MergeKind::Average => a + b,
            MergeKind::Subtract => a - b,
            MergeKind::Multiply => a * b,
            MergeKind::Maximum => a.max(b),
            MergeKind::Minimum => a.min(b),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Merge {
    pub mode: MergeKind,
}

impl Kind for Merge {
    const CLASSES: &'static [&'static str] =
        &["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"];
    const FAMILY: Family = Family::Merge;
    const TAKES_LIST: bool = true;
    fn new(class: &str) -> Option<Self> {
        MergeKind::ALL
            .into_iter()
            .find(|m| m.class_name() == class)
            .map(|mode| Merge { mode })
    }

    fn class_name(&self) -> &'static str {
        self.mode.class_name()
    }
}

/// The merges have no arguments of their own.
impl Args for Merge {
    fn args(&mut self, _: &mut dyn Visitor) {}
}

impl LayerSpec for Merge {
    /// Keras's `Merge.build` (one batch size; the element-wise shape rule, aligning the
    /// inputs' axes from the last as NumPy does) and, for Subtract, exactly two inputs.
    fn build(&self, cx: &Cx, r: &mut LayerReport) -> R<Shape> {
        let inputs = cx.inputs;
        let list = || {
            let shapes: Vec<String> = inputs.iter().map(|s| pyfmt::tuple_opt(s)).collect();
            format!("[{}]", shapes.join(", "))
        };
        let mut batches: Vec<i64> = inputs.iter().filter_map(|s| s.first().copied().flatten()).collect();
        batches.sort_unstable();
        batches.dedup();
        if batches.len() > 1 {
            return Err(KerasError::build(format!(
                "Cannot merge tensors with different batch sizes. Received tensors with \
                 shapes {}",
                list()
            )));
        }
        let mut out: Vec<Option<i64>> = cx.input.get(1..).unwrap_or(&[]).to_vec();
        for s in &inputs[1..] {
            out = elementwise_shape(&out, s.get(1..).unwrap_or(&[]))?;
        }
        if self.mode == MergeKind::Subtract && inputs.len() != 2 {
            return Err(KerasError::build(format!(
                "A `Subtract` layer should be called on exactly 2 inputs. Received: \
                 input_shape={}",
                list()
            )));
        }
        let out: Shape = std::iter::once(batches.first().copied()).chain(out).collect();
        r.receptive_field = cx.merged_rf(&out);
        Ok(out)
    }

    fn forward(&self, inputs: &[Arc<ArrayD<f32>>], _: &[ArrayD<f32>]) -> Result<ArrayD<f32>, String> {
        let x = first(inputs)?;
        // Inputs of lower rank get axes after the batch axis (Keras's `expand_dims(x,
        // 1)`), then every input is broadcast to the common shape.
        let rank = inputs.iter().map(|a| a.ndim()).max().unwrap_or(0);
        let lifted = |a: &ArrayD<f32>| lifted_shape(a, rank);
        let mut shape = lifted(x);
        for a in &inputs[1..] {
            for (d, e) in shape.iter_mut().zip(lifted(a)) {
                if *d == 1 {
                    *d = e;
                } else if e != 1 && e != *d {
                    return Err(format!("Inputs have incompatible shapes: {:?} and {:?}", x.shape(), a.shape()));
                }
            }
        }
        let view = |a: &ArrayD<f32>| -> Result<ArrayD<f32>, String> {
            let v = a.view().into_shape_with_order(lifted(a)).map_err(|e| e.to_string())?;
            Ok(v.broadcast(shape.clone()).ok_or("Inputs have incompatible shapes")?.to_owned())
        };
        let mut acc = if x.shape() == shape.as_slice() { ArrayD::clone(x) } else { view(x)? };
        for other in &inputs[1..] {
            let b = other.view().into_shape_with_order(lifted(other)).map_err(|e| e.to_string())?;
            let b = b.broadcast(acc.raw_dim()).ok_or("Inputs have incompatible shapes")?;
            ndarray::Zip::from(&mut acc)
                .and(&b)
                .for_each(|a, &v| *a = self.mode.combine(*a, v));
        }
        if self.mode == MergeKind::Average {
            let n = inputs.len() as f32;
            acc.mapv_inplace(|v| v / n);
        }
        Ok(acc)
    }

    /// The merge as Keras computes it, a fold over the inputs (`output = f(output,
    /// x_i)`), read backwards: each step's partial derivatives (JAX's: a tie of Maximum
    /// or Minimum shares the gradient equally), each input's gradient summed over the
    /// axes it was broadcast along.
    fn backward(&self, bw: Backward) -> Result<Grads, String> {
        let inputs = bw.inputs;
        let rank = inputs.iter().map(|a| a.ndim()).max().unwrap_or(0);
        let lifted = |a: &ArrayD<f32>| lifted_shape(a, rank);
        let shape = bw.output.raw_dim();
        let full = |a: &ArrayD<f32>| -> Result<ArrayD<f32>, String> {
            let v = a.view().into_shape_with_order(lifted(a)).map_err(|e| e.to_string())?;
            Ok(v.broadcast(shape.clone()).ok_or("Inputs have incompatible shapes")?.to_owned())
        };
        let mut g = bw.dy;
        if self.mode == MergeKind::Average {
            let n = inputs.len() as f32;
            g.mapv_inplace(|v| v / n);
        }
        let mut grads: Vec<ArrayD<f32>> = Vec::with_capacity(inputs.len());
        match self.mode {
            MergeKind::Add | MergeKind::Average => {
                grads.extend(std::iter::repeat_n(g, inputs.len()));
            }
            MergeKind::Subtract => {
                let neg = g.mapv(|v| -v);
                grads.push(g);
                grads.extend(std::iter::repeat_n(neg, inputs.len().saturating_sub(1)));
            }
            MergeKind::Multiply | MergeKind::Maximum | MergeKind::Minimum => {
                // The fold's partial results: acc[k] = f(acc[k-1], x_k).
                let xs: Vec<ArrayD<f32>> = inputs.iter().map(|a| full(a)).collect::<Result<_, _>>()?;
                let mut acc = vec![xs[0].clone()];
                for x in &xs[1..] {
                    let prev = acc.last().cloned().unwrap_or_default();
                    acc.push(ndarray::Zip::from(&prev).and(x).map_collect(|&a, &b| self.mode.combine(a, b)));
                }
                let mut back = vec![ArrayD::<f32>::zeros(shape.clone()); xs.len()];
                let mut ga = g;
                for k in (1..xs.len()).rev() {
                    let (a, x) = (&acc[k - 1], &xs[k]);
                    let mut gx = ga.clone();
                    ndarray::Zip::from(&mut ga).and(&mut gx).and(a).and(x).for_each(|ga, gx, &a, &b| {
                        let (da, db) = match self.mode {
                            MergeKind::Multiply => (b, a),
                            MergeKind::Maximum | MergeKind::Minimum => {
                                let first_wins = if self.mode == MergeKind::Maximum { a > b } else { a < b };
                                if a == b {
                                    (0.5, 0.5)
                                } else if first_wins {
                                    (1.0, 0.0)
                                } else {
                                    (0.0, 1.0)
                                }
                            }
                            _ => (1.0, 1.0),
                        };
                        *gx = *ga * db;
                        *ga *= da;
                    });
                    back[k] = gx;
                }
                back[0] = ga;
                grads = back;
            }
        }
        let inputs_grads = grads
            .into_iter()
            .zip(inputs)
            .map(|(g, a)| {
                let reduced = unbroadcast(g, &lifted(a))?;
                reduced.into_shape_with_order(a.raw_dim()).map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Grads {
            inputs: inputs_grads,
            weights: Vec::new(),
        })
    }

    fn card(&self) -> String {
        self.mode.class_name().into()
    }

    fn torch(&self, t: &mut Torch) -> Result<(), String> {
        t.merge_inputs();
        // Inputs of lower rank: in Keras's layout with axes added after the batch axis,
        // as Keras's `expand_dims(x, 1)`.
        let max = t.arg_ranks.iter().copied().max().unwrap_or(0);
        if t.arg_ranks.iter().any(|&r| r != max) {
            let permuted = t.flow.permuted;
            t.args = t
                .args
                .iter()
                .zip(&t.arg_ranks)
                .map(|(a, &r)| {
                    let mut e = if r == 4 && permuted {
                        format!("{a}.permute(0, 2, 3, 1)")
                    } else {
                        a.clone()
                    };
                    for _ in r..max {
                        e = format!("{e}.unsqueeze(1)");
                    }
                    e
                })
                .collect();
            t.flow.permuted = false;
        }
        let a = &t.args;
        let fold = |f: &str| {
            a[1..]
                .iter()
                .fold(a[0].clone(), |acc, e| format!("torch.{f}({acc}, {e})"))
        };
        let e = match self.mode {
            MergeKind::Add => a.join(" + "),
            MergeKind::Subtract if a.len() == 2 => format!("{} - {}", a[0], a[1]),
            MergeKind::Subtract => return Err("Subtract takes exactly 2 inputs".into()),
            MergeKind::Multiply => a.join(" * "),
            MergeKind::Average => format!("({}) / {}", a.join(" + "), a.len()),
            MergeKind::Maximum => fold("maximum"),
            MergeKind::Minimum => fold("minimum"),
        };
        t.fwd(format!("x = {e}"));
        Ok(())
    }
}

/// Keras's `_compute_elemwise_op_output_shape` on two shapes without their batch axis:
/// aligned from the last axis, a size-1 axis takes the other's size, an unknown size
/// makes the output's unknown, other sizes must be equal.
fn elementwise_shape(a: &[Option<i64>], b: &[Option<i64>]) -> R<Vec<Option<i64>>> {
    let (s1, s2) = if a.len() < b.len() { (b, a) } else { (a, b) };
    let lead = s1.len() - s2.len();
    let mut out = s1[..lead].to_vec();
    for (i, j) in s1[lead..].iter().zip(s2) {
        out.push(match (i, j) {
            (None, _) | (_, None) => None,
            (Some(1), j) => *j,
            (i, Some(1)) => *i,
            (Some(x), Some(y)) if x == y => Some(*x),
            _ => {
                return Err(KerasError::build(format!(
                    "Inputs have incompatible shapes. Received shapes {} and {}",
                    pyfmt::tuple_opt(s1),
                    pyfmt::tuple_opt(s2)
                )));
            }
        });
    }
    Ok(out)
}

/// `a`'s shape lifted to `rank` as Keras's merges lift a lower-rank input: axes of size
/// 1 after the batch axis (`expand_dims(x, 1)`).
fn lifted_shape(a: &ArrayD<f32>, rank: usize) -> Vec<usize> {
    let s = a.shape();
    let mut v = vec![s.first().copied().unwrap_or(1)];
    v.extend(std::iter::repeat_n(1, rank.saturating_sub(a.ndim())));
    v.extend(s.iter().skip(1));
    v
}
