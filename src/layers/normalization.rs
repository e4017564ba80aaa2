//! `keras.layers.Normalization`: `(x − mean) / max(√variance, 1e-7)` per kept axis (or
//! its inverse), with the statistics given in the config (ConvNeXt's ImageNet means) or
//! adapted and saved as the non-trainable variables `mean`, `variance` and `count`
//! (EfficientNet).

use super::torch::Torch;
use super::*;
use crate::keras::objects::py_repr_json;
use ndarray::IxDyn;
use serde_json::Value;

kind! {
    /// `keras.layers.Normalization`.
    pub struct Normalization: ["Normalization"], Normalization {
        axis: Value = Value::Array(vec![Value::from(-1)]) => Json, "Axes kept (each has its own mean and variance); the others are normalised over. -1: the channels.";
        invert: bool = false => Bool, "Undo a normalisation instead: x × √variance + mean.";
        mean: Value = Value::Null => Json, "The mean to subtract (None: adapted to data and saved with the weights).";
        variance: Value = Value::Null => Json, "The variance to divide by (its square root, at least 1e-7).";
    }
}

/// Keras's `backend.epsilon()`, the floor of the standard deviation.
const EPSILON: f32 = 1e-7;

/// An array's NumPy shape and its values, flattened.
type Stat = (Vec<usize>, Vec<f64>);

/// A number or nested list of numbers, flattened, with NumPy's shape of it.
fn array(v: &Value) -> Option<Stat> {
    match v {
        Value::Number(n) => Some((vec![], vec![n.as_f64()?])),
        Value::Array(items) => {
            let mut shape = None;
            let mut data = Vec::new();
            for item in items {
                let (s, d) = array(item)?;
                if shape.get_or_insert_with(|| s.clone()) != &s {
                    return None;
                }
                data.extend(d);
            }
            let mut out = vec![items.len()];
            out.extend(shape.unwrap_or_default());
            Some((out, data))
        }
        _ => None,
    }
}

/// NumPy's `np.shape` as Python prints it.
fn np_shape(shape: &[usize]) -> String {
    let dims: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
    pyfmt::tuple(&dims)
}

impl Normalization {
    /// `axis` as Keras's constructor makes it: None → `()`, an int → `(axis,)`.
    fn axes(&self) -> R<Vec<i64>> {
        match &self.axis {
            Value::Null => Some(vec![]),
            Value::Number(n) if n.is_i64() => n.as_i64().map(|a| vec![a]),
            Value::Array(a) => a.iter().map(Value::as_i64).collect::<Option<_>>(),
            _ => None,
        }
        .ok_or_else(|| {
            KerasError::construct(format!(
                "`axis` must be an integer, a tuple of integers or None. Received: axis={}",
                py_repr_json(&self.axis)
            ))
        })
    }

    /// The statistics given in the config, checked as the constructor checks them.
    fn given(&self, axes: &[i64]) -> R<Option<[Stat; 2]>> {
        let (m, v) = (&self.mean, &self.variance);
        if m.is_null() != v.is_null() {
            return Err(KerasError::construct(format!(
                "When setting values directly, both `mean` and `variance` must be set. \
                 Received: mean={} and variance={}",
                py_repr_json(m),
                py_repr_json(v)
            )));
        }
        if m.is_null() {
            return Ok(None);
        }
        let bad = |what: &str, v: &Value| {
            KerasError::construct(format!(
                "`{what}` must be a number or a (nested) list of numbers. Received: {what}={}",
                py_repr_json(v)
            ))
        };
        let mean = array(m).ok_or_else(|| bad("mean", m))?;
        let var = array(v).ok_or_else(|| bad("variance", v))?;
        if mean.0 != var.0 {
            return Err(KerasError::construct(format!(
                "When setting values directly, `mean` and `variance` must have the same \
                 shape. Received: mean shape {} and variance shape {}",
                np_shape(&mean.0),
                np_shape(&var.0)
            )));
        }
        if mean.0.len() > axes.len() {
            return Err(KerasError::construct(format!(
                "The rank of `mean` must be less than or equal to the number of axes ({}). \
                 Received: mean shape {} for axis {}",
                axes.len(),
                np_shape(&mean.0),
                pyfmt::tuple(axes)
            )));
        }
        Ok(Some([mean, var]))
    }

    /// The kept axes of a rank-`ndim` input, sorted and non-negative (`build`'s checks).
    fn keep(&self, axes: &[i64], input: &[Option<i64>]) -> R<Vec<usize>> {
        let ndim = input.len() as i64;
        if axes.iter().any(|&a| a < -ndim || a >= ndim) {
            return Err(KerasError::build(format!(
                "All `axis` values must be in the range [-ndim, ndim). Received inputs with \
                 ndim={ndim}, while axis={}",
                pyfmt::tuple(axes)
            )));
        }
        let mut keep: Vec<usize> = axes
            .iter()
            .map(|&a| (if a < 0 { a + ndim } else { a }) as usize)
            .collect();
        keep.sort_unstable();
        if let Some(&d) = keep.iter().find(|&&d| input[d].is_none()) {
            return Err(KerasError::build(format!(
                "All `axis` values to be kept must have a known shape. Received axis={}, \
                 inputs.shape={}, with unknown axis at index {d}",
                pyfmt::tuple(axes),
                pyfmt::tuple_opt(input)
            )));
        }
        Ok(keep)
    }

    /// Mean and variance broadcast over an input of `shape`.
    fn statistics(&self, shape: &[usize], w: &[ArrayD<f32>]) -> Result<[ArrayD<f32>; 2], String> {
        let axes = self.axes().map_err(|e| e.message)?;
        let dims: Vec<Option<i64>> = shape.iter().map(|&d| Some(d as i64)).collect();
        let keep = self.keep(&axes, &dims).map_err(|e| e.message)?;
        // Kept axes keep their size, the others are 1 (Keras's `_broadcast_shape`).
        let broadcast: Vec<usize> = (0..shape.len())
            .map(|d| if keep.contains(&d) { shape[d] } else { 1 })
            .collect();
        let to_array = |stat_shape: &[usize], data: Vec<f32>| -> Result<ArrayD<f32>, String> {
            // Keras aligns the statistics' axes with the last kept axes.
            let mut expanded = vec![1; shape.len()];
            for i in 1..=stat_shape.len() {
                let ax = *keep
                    .get(keep.len().wrapping_sub(i))
                    .ok_or("the statistics have more axes than axis keeps")?;
                expanded[ax] = stat_shape[stat_shape.len() - i];
            }
            let a = ArrayD::from_shape_vec(IxDyn(&expanded), data).map_err(|e| e.to_string())?;
            a.broadcast(IxDyn(&broadcast))
                .map(|b| b.to_owned())
                .ok_or_else(|| {
                    format!(
                        "statistics of shape {stat_shape:?} do not fit the kept axes {broadcast:?}"
                    )
                })
        };
        let as_f32 = |d: &[f64]| d.iter().map(|&v| v as f32).collect::<Vec<f32>>();
        match self.given(&axes).map_err(|e| e.message)? {
            Some([(ms, md), (vs, vd)]) => Ok([to_array(&ms, as_f32(&md))?, to_array(&vs, as_f32(&vd))?]),
            None => {
                let kept: Vec<usize> = keep.iter().map(|&d| shape[d]).collect();
                let mean = weight(w, 0, "mean")?;
                let var = weight(w, 1, "variance")?;
                let data = |a: &ArrayD<f32>| a.iter().copied().collect::<Vec<f32>>();
                Ok([to_array(&kept, data(mean))?, to_array(&kept, data(var))?])
            }
        }
    }
}

impl LayerSpec for Normalization {
    fn build(&self, cx: &Cx, r: &mut LayerReport) -> R<Shape> {
        let axes = self.axes()?;
        let given = self.given(&axes)?;
        let keep = self.keep(&axes, cx.input)?;
        if given.is_none() {
            let kept: Vec<i64> = keep.iter().filter_map(|&d| cx.input[d]).collect();
            r.weights.push(WeightSpec::frozen("mean", kept.clone(), &initializer("Zeros")));
            r.weights.push(WeightSpec::frozen("variance", kept, &initializer("Ones")));
            r.weights.push(WeightSpec {
                integer: true,
                ..WeightSpec::frozen("count", vec![], &initializer("Zeros"))
            });
        }
        Ok(cx.same_shape(r))
    }

    fn forward(&self, inputs: &[Arc<ArrayD<f32>>], w: &[ArrayD<f32>]) -> Result<ArrayD<f32>, String> {
        let x = first(inputs)?;
        let [mean, var] = self.statistics(x.shape(), w)?;
        let b = x.raw_dim();
        let (mean, var) = (
            mean.broadcast(b.clone()).ok_or("mean does not broadcast")?,
            var.broadcast(b).ok_or("variance does not broadcast")?,
        );
        let invert = self.invert;
        Ok(ndarray::Zip::from(x)
            .and(&mean)
            .and(&var)
            .map_collect(|&x, &m, &v| {
                let sd = v.sqrt().max(EPSILON);
                if invert { m + x * sd } else { (x - m) / sd }
            }))
    }

    /// `(x − mean) / sd` (or `mean + x·sd` inverted): the gradient scaled by `1/sd`
    /// (`sd`); the statistics are not trainable.
    fn backward(&self, bw: Backward) -> Result<Grads, String> {
        let x = first(bw.inputs)?;
        let [_, var] = self.statistics(x.shape(), bw.weights)?;
        let var = var.broadcast(x.raw_dim()).ok_or("variance does not broadcast")?;
        let invert = self.invert;
        let dx = ndarray::Zip::from(&bw.dy).and(&var).map_collect(|&g, &v| {
            let sd = v.sqrt().max(EPSILON);
            if invert { g * sd } else { g / sd }
        });
        Ok(Grads {
            inputs: vec![dx],
            weights: if bw.want_weights { vec![None; bw.weights.len()] } else { Vec::new() },
        })
    }

    fn card(&self) -> String {
        if self.invert {
            "Normalization (inverted)".into()
        } else {
            "Normalization".into()
        }
    }

    fn torch(&self, t: &mut Torch) -> Result<(), String> {
        // In Keras's layout, with the statistics as buffers shaped to broadcast as
        // Keras broadcasts them.
        let axes = self.axes().map_err(|e| e.message)?;
        let keep = self.keep(&axes, t.input).map_err(|e| e.message)?;
        t.as_keras();
        let shape = super::torch::kept_shape(t.input, &keep)?;
        let m = t.m.clone();
        let tuple = super::torch::dims_tuple;
        match self.given(&axes).map_err(|e| e.message)? {
            Some(stats) => {
                for ((stat_shape, data), what) in stats.iter().zip(["mean", "variance"]) {
                    // The given values fill the last kept axes (as Keras reshapes them).
                    let mut expanded = vec![1; shape.len()];
                    for (i, &n) in stat_shape.iter().rev().enumerate() {
                        let ax = keep
                            .len()
                            .checked_sub(i + 1)
                            .and_then(|k| keep.get(k))
                            .ok_or("the statistics have more axes than axis keeps")?;
                        expanded[*ax] = n;
                    }
                    t.init(format!(
                        "self.register_buffer(\"{m}_{what}\", torch.tensor({}, dtype=torch.float32).reshape({}).expand({}).clone())",
                        super::torch::py_floats(data),
                        tuple(&expanded),
                        tuple(&shape)
                    ));
                }
            }
            None => {
                t.init(format!(
                    "self.register_buffer(\"{m}_mean\", torch.zeros({}))",
                    tuple(&shape)
                ));
                t.init(format!(
                    "self.register_buffer(\"{m}_variance\", torch.ones({}))",
                    tuple(&shape)
                ));
                for (i, what) in ["mean", "variance"].into_iter().enumerate() {
                    let src = format!("{}.reshape({})", t.key(i), tuple(&shape));
                    t.copy(&format!("{m}_{what}"), &src);
                }
            }
        }
        let sd = format!("torch.clamp(torch.sqrt(self.{m}_variance), min={EPSILON:e})");
        t.fwd(match self.invert {
            true => format!("x = self.{m}_mean + x * {sd}"),
            false => format!("x = (x - self.{m}_mean) / {sd}"),
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_lists_have_numpy_shapes() {
        let v: Value = serde_json::from_str("[[1, 2], [3, 4.5], [5, 6]]").unwrap();
        assert_eq!(array(&v), Some((vec![3, 2], vec![1.0, 2.0, 3.0, 4.5, 5.0, 6.0])));
        assert_eq!(array(&Value::from(2.0)), Some((vec![], vec![2.0])));
        let ragged: Value = serde_json::from_str("[[1, 2], [3]]").unwrap();
        assert_eq!(array(&ragged), None);
        assert_eq!(np_shape(&[3]), "(3,)");
    }
}
