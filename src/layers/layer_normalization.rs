//! `keras.layers.LayerNormalization`: each sample normalised over `axis` by its own mean
//! and variance, then scaled by gamma and shifted by beta (ConvNeXt's blocks), as
//! `ops.layer_normalization` computes it: `x · inv + (β − mean · inv)` with
//! `inv = γ / √(var + ε)`; or the deprecated `rms_scaling`, `x · γ / √(var + ε)`.

use super::torch::Torch;
use super::*;
use crate::keras::objects::{KerasObject, py_repr_json};
use serde_json::Value;
use ndarray::{Axis, IxDyn};

kind! {
    /// `keras.layers.LayerNormalization`.
    pub struct LayerNormalization: ["LayerNormalization"], Normalization {
        axis: Value = Value::from(-1) => Json, "Axis (or axes, a list) each sample is normalised over (-1: the channels for channels_last).";
        epsilon: f64 = 0.001 => Float, "Small value added to the variance to avoid dividing by zero.";
        center: bool = true => Bool, "Learn an offset (beta).";
        scale: bool = true => Bool, "Learn a scale (gamma).";
        rms_scaling: bool = false => Bool, "Deprecated: scale by the variance only, no centring (Keras warns; use RMSNormalization).";
        beta_initializer: Option<KerasObject> = initializer("Zeros") => initializer, "How beta starts.";
        gamma_initializer: Option<KerasObject> = initializer("Ones") => initializer, "How gamma starts.";
        beta_regularizer: Option<KerasObject> = None => regularizer, "Penalty on beta added to the loss.";
        gamma_regularizer: Option<KerasObject> = None => regularizer, "Penalty on gamma added to the loss.";
        beta_constraint: Option<KerasObject> = None => constraint, "Projection applied to beta after each update.";
        gamma_constraint: Option<KerasObject> = None => constraint, "Projection applied to gamma after each update.";
    }
}

impl LayerNormalization {
    /// `build`'s axes: sorted as given (Python sorts -1 before 1), each resolved on a
    /// rank-`ndim` input; `None` when one is out of range (Python's IndexError).
    fn axes(&self, ndim: usize) -> Option<Vec<(i64, usize)>> {
        let mut axes = self.given_axes().ok()?;
        axes.sort_unstable();
        axes.iter()
            .map(|&a| {
                let r = if a < 0 { a + ndim as i64 } else { a };
                (0..ndim as i64).contains(&r).then_some((a, r as usize))
            })
            .collect()
    }

    /// `axis` as the constructor takes it: an int or a list of ints.
    fn given_axes(&self) -> R<Vec<i64>> {
        match &self.axis {
            Value::Number(n) if n.is_i64() => n.as_i64().map(|a| vec![a]),
            Value::Array(a) => a.iter().map(Value::as_i64).collect(),
            _ => None,
        }
        .ok_or_else(|| {
            KerasError::construct(format!(
                "Expected an int or a list/tuple of ints for the argument 'axis', but \
                 received: {}",
                py_repr_json(&self.axis)
            ))
        })
    }

    fn has_gamma(&self) -> bool {
        self.scale || self.rms_scaling
    }

    fn has_beta(&self) -> bool {
        self.center && !self.rms_scaling
    }
}

impl LayerSpec for LayerNormalization {
    fn build(&self, cx: &Cx, r: &mut LayerReport) -> R<Shape> {
        self.given_axes()?;
        let axes = self
            .axes(cx.input.len())
            .ok_or_else(|| KerasError::build("tuple index out of range"))?;
        let dims: Vec<Option<i64>> = axes.iter().map(|&(_, d)| cx.input[d]).collect();
        let first = if self.has_gamma() { "gamma" } else { "beta" };
        if (self.has_gamma() || self.has_beta()) && dims.iter().any(Option::is_none) {
            return Err(KerasError::build(format!(
                "Shapes used to initialize variables must be fully-defined (no `None` \
                 dimensions). Received: shape={} for variable path='{}/{first}'",
                pyfmt::tuple_opt(&dims),
                cx.name
            )));
        }
        let shape: Vec<i64> = dims.into_iter().flatten().collect();
        if self.has_gamma() {
            r.weight("gamma", shape.clone(), &self.gamma_initializer);
        }
        if self.has_beta() {
            r.weight("beta", shape, &self.beta_initializer);
        }
        Ok(cx.same_shape(r))
    }

    fn forward(&self, inputs: &[Arc<ArrayD<f32>>], w: &[ArrayD<f32>]) -> Result<ArrayD<f32>, String> {
        let x = first(inputs)?;
        let ndim = x.ndim();
        let axes: Vec<usize> = self
            .axes(ndim)
            .ok_or("axis out of range")?
            .into_iter()
            .map(|(_, d)| d)
            .collect();
        // gamma and beta as ops.layer_normalization broadcasts them: their values, in
        // their own order, reshaped to the input's rank with the normalised axes kept.
        let broadcast: Vec<usize> = (0..ndim)
            .map(|d| if axes.contains(&d) { x.shape()[d] } else { 1 })
            .collect();
        let param = |i: usize, what: &str| -> Result<ArrayD<f32>, String> {
            let a = weight(w, i, what)?;
            ArrayD::from_shape_vec(IxDyn(&broadcast), a.iter().copied().collect())
                .map_err(|e| format!("{what}: {e}"))
        };
        let gamma = self.has_gamma().then(|| param(0, "gamma")).transpose()?;
        let beta = self
            .has_beta()
            .then(|| param(usize::from(self.has_gamma()), "beta"))
            .transpose()?;
        // The normalised axes last, so that each sample's group is one contiguous run.
        let rest: Vec<usize> = (0..ndim).filter(|d| !axes.contains(d)).collect();
        let order: Vec<usize> = rest.iter().chain(&axes).copied().collect();
        let moved = x.view().permuted_axes(IxDyn(&order));
        let moved = moved.as_standard_layout();
        let group: usize = axes.iter().map(|&d| x.shape()[d]).product();
        let eps = self.epsilon;
        let mut stats = Vec::with_capacity(moved.len() / group.max(1));
        for g in moved.as_slice().ok_or("not contiguous")?.chunks(group.max(1)) {
            let n = g.len() as f64;
            let mean = g.iter().map(|&v| v as f64).sum::<f64>() / n;
            let var = g.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
            stats.push((mean, 1.0 / (var + eps).sqrt()));
        }
        // Back to the input's layout: statistics per sample group, broadcast over axes.
        let stat_shape: Vec<usize> = (0..ndim)
            .map(|d| if axes.contains(&d) { 1 } else { x.shape()[d] })
            .collect();
        let to_array = |f: &dyn Fn(&(f64, f64)) -> f32| {
            ArrayD::from_shape_vec(IxDyn(&stat_shape), stats.iter().map(f).collect())
                .map_err(|e| e.to_string())
        };
        let mean = to_array(&|s| s.0 as f32)?;
        let inv = to_array(&|s| s.1 as f32)?;
        let shape = x.raw_dim();
        let b = |a: &ArrayD<f32>| a.broadcast(shape.clone()).map(|v| v.to_owned());
        let mean = b(&mean).ok_or("mean does not broadcast")?;
        let mut inv = b(&inv).ok_or("inv does not broadcast")?;
        if let Some(g) = &gamma {
            inv *= &g.broadcast(shape.clone()).ok_or("gamma does not broadcast")?;
        }
        if self.rms_scaling {
            return Ok(x * &inv);
        }
        let mut res = -&mean * &inv;
        if let Some(bt) = &beta {
            res += &bt.broadcast(shape.clone()).ok_or("beta does not broadcast")?;
        }
        Ok(x * &inv + res)
    }

    /// Per group of the normalised axes, `x̂ = (x − μ)·r` with `r = 1/√(var + ε)`:
    /// `dx = r·(g − mean g − x̂·mean(g·x̂))` for `g = dy·γ`; with `rms_scaling`
    /// (`y = x·γ·r`), `dx = r·g − r³·(x − μ)·mean(g·x)`. `dγ = Σ dy·x̂` (`Σ dy·x·r`),
    /// `dβ = Σ dy` over the other axes, in the weights' own shapes.
    fn backward(&self, bw: Backward) -> Result<Grads, String> {
        let x = first(bw.inputs)?;
        let ndim = x.ndim();
        let axes: Vec<usize> = self
            .axes(ndim)
            .ok_or("axis out of range")?
            .into_iter()
            .map(|(_, d)| d)
            .collect();
        let others: Vec<usize> = (0..ndim).filter(|d| !axes.contains(d)).collect();
        let group: usize = axes.iter().map(|&d| x.shape()[d]).product();
        let n = group.max(1) as f32;
        let sum_over = |a: &ArrayD<f32>, over: &[usize]| -> ArrayD<f32> {
            let mut s = a.clone();
            for &d in over {
                s = s.sum_axis(Axis(d)).insert_axis(Axis(d));
            }
            s
        };
        let shape = x.raw_dim();
        let bc = |a: &ArrayD<f32>| -> Result<ArrayD<f32>, String> {
            a.broadcast(shape.clone())
                .map(|v| v.to_owned())
                .ok_or_else(|| "shapes do not broadcast".to_string())
        };
        let mean_over_axes = |a: &ArrayD<f32>| -> Result<ArrayD<f32>, String> { bc(&(sum_over(a, &axes) / n)) };
        let broadcast: Vec<usize> = (0..ndim)
            .map(|d| if axes.contains(&d) { x.shape()[d] } else { 1 })
            .collect();
        let gamma = if self.has_gamma() {
            let a = weight(bw.weights, 0, "gamma")?;
            let g = ArrayD::from_shape_vec(IxDyn(&broadcast), a.iter().copied().collect())
                .map_err(|e| format!("gamma: {e}"))?;
            Some(bc(&g)?)
        } else {
            None
        };
        let g = match &gamma {
            Some(gm) => &bw.dy * gm,
            None => bw.dy.clone(),
        };
        let mu = mean_over_axes(x)?;
        let xc = x - &mu;
        let var = mean_over_axes(&xc.mapv(|v| v * v))?;
        let eps = self.epsilon as f32;
        let r = var.mapv(|v| 1.0 / (v + eps).sqrt());
        let (dx, scaled) = if self.rms_scaling {
            let gx = mean_over_axes(&(&g * x))?;
            let r3 = r.mapv(|v| v * v * v);
            (&r * &g - &(&r3 * &xc * &gx), x * &r)
        } else {
            let xhat = &xc * &r;
            let mg = mean_over_axes(&g)?;
            let mgx = mean_over_axes(&(&g * &xhat))?;
            (&r * &(&g - &mg - &(&xhat * &mgx)), xhat)
        };
        let mut weights = Vec::new();
        if bw.want_weights {
            let own = |a: ArrayD<f32>, i: usize| -> Result<Option<ArrayD<f32>>, String> {
                let w = weight(bw.weights, i, "LayerNormalization weight")?;
                let flat: Vec<f32> = a.as_standard_layout().iter().copied().collect();
                ArrayD::from_shape_vec(w.raw_dim(), flat).map(Some).map_err(|e| e.to_string())
            };
            if self.has_gamma() {
                weights.push(own(sum_over(&(&bw.dy * &scaled), &others), 0)?);
            }
            if self.has_beta() {
                weights.push(own(sum_over(&bw.dy, &others), usize::from(self.has_gamma()))?);
            }
        }
        Ok(Grads {
            inputs: vec![dx],
            weights,
        })
    }

    fn card(&self) -> String {
        format!(
            "LayerNormalization axis {}",
            self.given_axes().map_or("?".into(), |a| pyfmt::tuple(&a))
        )
    }

    fn torch(&self, t: &mut Torch) -> Result<(), String> {
        // ops.layer_normalization in Keras's layout: per-sample moments over the axes,
        // `x · inv + (β − mean · inv)` with `inv = γ / √(var + ε)`.
        let axes: Vec<usize> = self
            .axes(t.input.len())
            .ok_or("axis out of range")?
            .into_iter()
            .map(|(_, d)| d)
            .collect();
        t.as_keras();
        let shape = super::torch::kept_shape(t.input, &axes)?;
        let tuple = super::torch::dims_tuple;
        let m = t.m.clone();
        let mut params = Vec::new();
        if self.has_gamma() {
            params.push(("gamma", "ones"));
        }
        if self.has_beta() {
            params.push(("beta", "zeros"));
        }
        for (i, (what, init)) in params.iter().enumerate() {
            t.init(format!(
                "self.{m}_{what} = nn.Parameter(torch.{init}({}))",
                tuple(&shape)
            ));
            let src = format!("{}.reshape({})", t.key(i), tuple(&shape));
            t.copy(&format!("{m}_{what}"), &src);
        }
        let dims = super::torch::dims_tuple(&axes);
        t.fwd(format!(
            "mean = x.mean(dim={dims}, keepdim=True)"
        ));
        t.fwd(format!(
            "inv = torch.rsqrt(x.var(dim={dims}, unbiased=False, keepdim=True) + {})",
            super::torch::py_float(self.epsilon)
        ));
        if self.has_gamma() {
            t.fwd(format!("inv = inv * self.{m}_gamma"));
        }
        if self.rms_scaling {
            t.fwd("x = x * inv");
        } else if self.has_beta() {
            t.fwd(format!("x = x * inv + (self.{m}_beta - mean * inv)"));
        } else {
            t.fwd("x = x * inv - mean * inv");
        }
        Ok(())
    }
}
