//! `keras.layers.BatchNormalization`: per-channel normalisation by the moving statistics
//! (inference), with learned scale (gamma) and offset (beta).

use super::torch::{Torch, py_float};
use super::*;
use crate::keras::objects::{KerasObject, ObjectKind};
use crate::kernels::Pointwise;
use ndarray::Axis;
use serde_json::Value;

kind! {
    /// `keras.layers.BatchNormalization`.
    pub struct BatchNormalization: ["BatchNormalization"], Normalization, [CALL_KWARGS = &["mask"]] {
        axis: i64 = -1 => Axis, "Axis the layer normalises over (-1 is the channels axis for channels_last).";
        momentum: f64 = 0.99 => Float, "Momentum of the moving mean and variance.";
        epsilon: f64 = 0.001 => Float, "Small value added to the variance to avoid dividing by zero.";
        center: bool = true => Bool, "Learn an offset (beta).";
        scale: bool = true => Bool, "Learn a scale (gamma).";
        beta_initializer: Option<KerasObject> = initializer("Zeros") => initializer, "How beta starts.";
        gamma_initializer: Option<KerasObject> = initializer("Ones") => initializer, "How gamma starts.";
        moving_mean_initializer: Option<KerasObject> = initializer("Zeros") => initializer, "How the moving mean starts.";
        moving_variance_initializer: Option<KerasObject> = initializer("Ones") => initializer, "How the moving variance starts.";
        beta_regularizer: Option<KerasObject> = None => regularizer, "Penalty on beta added to the loss.";
        gamma_regularizer: Option<KerasObject> = None => regularizer, "Penalty on gamma added to the loss.";
        beta_constraint: Option<KerasObject> = None => constraint, "Projection applied to beta after each update.";
        gamma_constraint: Option<KerasObject> = None => constraint, "Projection applied to gamma after each update.";
        synchronized: bool = false => Bool, "Synchronise the statistics across devices (distributed training only).";
        renorm: bool = false => Bool, "Batch renormalisation (training only).";
        renorm_clipping: Value = Value::Null => Json, "Limits of batch renormalisation.";
        renorm_momentum: f64 = 0.99 => Float, "Momentum of batch renormalisation.";
    }
    fixed { "fused": None }
}

impl BatchNormalization {
    /// The normalised axis of an input of `shape` and the per-channel scale and shift
    /// inference applies along it.
    fn scale_shift(
        &self,
        shape: &[usize],
        w: &[ArrayD<f32>],
    ) -> Result<(usize, Vec<f32>, Vec<f32>), String> {
        let ax = self.axis_of(shape.len());
        let c = shape.get(ax).copied().ok_or("the normalised axis is missing")?;

        let mut idx = 0;
        let mut next = |on: bool, what: &str| -> Result<Option<&[f32]>, String> {
            if !on {
                return Ok(None);
            }
            let a = slice_of(weight(w, idx, what)?)?;
            idx += 1;
            Ok(Some(a))
        };
        let gamma = next(self.scale, "gamma")?;
        let beta = next(self.center, "beta")?;
        let mean = next(true, "moving_mean")?.unwrap_or(&[]);
        let var = next(true, "moving_variance")?.unwrap_or(&[]);
        if mean.len() != c || var.len() != c {
            return Err(format!(
                "moving statistics have {} values for {c} channels",
                mean.len()
            ));
        }
        let eps = self.epsilon as f32;
        let scale: Vec<f32> = (0..c)
            .map(|i| gamma.map_or(1.0, |g| g[i]) / (var[i] + eps).sqrt())
            .collect();
        let shift: Vec<f32> = (0..c)
            .map(|i| beta.map_or(0.0, |bt| bt[i]) - mean[i] * scale[i])
            .collect();
        Ok((ax, scale, shift))
    }

    /// [`LayerSpec::forward_training`]: the output by the batch's statistics, the new
    /// moving statistics, and (kept for the backward rule) the batch mean and `1/√(σ²+ε)`.
    fn batch_statistics(
        &self,
        inputs: &[Arc<ArrayD<f32>>],
        w: &[ArrayD<f32>],
    ) -> Result<Trained, String> {
        let x = first(inputs)?;
        let ax = self.axis_of(x.ndim());
        let c = *x.shape().get(ax).ok_or("the normalised axis is missing")?;
        let xs = x.as_standard_layout();
        let xs = xs.as_slice().ok_or("BatchNormalization: non-contiguous input")?;
        let inner: usize = x.shape()[ax + 1..].iter().product::<usize>().max(1);
        let count = (x.len() / c.max(1)).max(1) as f64;
        // Two passes, as jnp.var: the mean, then the mean squared deviation. Run k of
        // `inner` values is channel k % c (channels last: one value a run).
        let channel = |k: usize| k % c.max(1);
        let mut sum = vec![0f64; c];
        for (k, run) in xs.chunks(inner).enumerate() {
            sum[channel(k)] += run.iter().map(|&v| v as f64).sum::<f64>();
        }
        let mean: Vec<f32> = sum.iter().map(|s| (s / count) as f32).collect();
        let mut dev = vec![0f64; c];
        for (k, run) in xs.chunks(inner).enumerate() {
            let ch = channel(k);
            for &v in run {
                let d = (v - mean[ch]) as f64;
                dev[ch] += d * d;
            }
        }
        let var: Vec<f32> = dev.iter().map(|s| (s / count) as f32).collect();
        let eps = self.epsilon as f32;
        let inv: Vec<f32> = var.iter().map(|v| 1.0 / (v + eps).sqrt()).collect();
        let mut idx = 0;
        let mut next = |on: bool| -> Result<Option<(usize, &[f32])>, String> {
            if !on {
                return Ok(None);
            }
            idx += 1;
            Ok(Some((idx - 1, slice_of(weight(w, idx - 1, "BatchNormalization weight")?)?)))
        };
        let gamma = next(self.scale)?.map(|g| g.1);
        let beta = next(self.center)?.map(|b| b.1);
        let (mi, moving_mean) = next(true)?.ok_or("no moving mean")?;
        let (vi, moving_var) = next(true)?.ok_or("no moving variance")?;
        let scale: Vec<f32> = (0..c).map(|j| inv[j] * gamma.map_or(1.0, |g| g[j])).collect();
        let shift: Vec<f32> = (0..c)
            .map(|j| beta.map_or(0.0, |b| b[j]) - mean[j] * scale[j])
            .collect();
        let mut y = xs.to_vec();
        for (k, run) in y.chunks_mut(inner).enumerate() {
            let ch = channel(k);
            run.iter_mut().for_each(|v| *v = *v * scale[ch] + shift[ch]);
        }
        let output = ArrayD::from_shape_vec(x.raw_dim(), y).map_err(|e| e.to_string())?;
        let m = self.momentum as f32;
        let rest = (1.0 - self.momentum) as f32;
        let update = |old: &[f32], new: &[f32]| {
            let v: Vec<f32> = old.iter().zip(new).map(|(o, n)| o * m + n * rest).collect();
            ArrayD::from_shape_vec(ndarray::IxDyn(&[c]), v).unwrap_or_default()
        };
        let vec1 = |v: Vec<f32>| ArrayD::from_shape_vec(ndarray::IxDyn(&[c]), v).unwrap_or_default();
        Ok(Trained {
            output,
            updates: vec![(mi, update(moving_mean, &mean)), (vi, update(moving_var, &var))],
            kept: vec![vec1(mean), vec1(inv)],
        })
    }

    /// The normalised axis of a rank-`rank` input.
    fn axis_of(&self, rank: usize) -> usize {
        let rank = rank as i64;
        (if self.axis < 0 { self.axis + rank } else { self.axis }).max(0) as usize
    }
}

impl LayerSpec for BatchNormalization {
    fn build(&self, cx: &Cx, r: &mut LayerReport) -> R<Shape> {
        let input = cx.input;
        let rank = input.len() as i64;
        if self.axis >= rank || self.axis < -rank {
            return Err(KerasError::build("tuple index out of range"));
        }
        let first_var = if self.scale {
            "gamma"
        } else if self.center {
            "beta"
        } else {
            "moving_mean"
        };
        let Some(c) = input[self.axis_of(input.len())] else {
            return Err(KerasError::build(format!(
                "Shapes used to initialize variables must be fully-defined (no `None` \
                 dimensions). Received: shape=(None,) for variable path='{}/{first_var}'",
                cx.name
            )));
        };
        if self.scale {
            r.weight("gamma", vec![c], &self.gamma_initializer);
        }
        if self.center {
            r.weight("beta", vec![c], &self.beta_initializer);
        }
        r.weights.push(WeightSpec::frozen(
            "moving_mean",
            vec![c],
            &self.moving_mean_initializer,
        ));
        r.weights.push(WeightSpec::frozen(
            "moving_variance",
            vec![c],
            &self.moving_variance_initializer,
        ));
        if self.renorm {
            let ones = KerasObject::new(ObjectKind::Initializer, "Ones");
            r.weights
                .push(WeightSpec::frozen("moving_stddev", vec![c], &ones));
            r.weights.push(WeightSpec::frozen(
                "renorm_mean",
                vec![c],
                &self.moving_mean_initializer,
            ));
            r.weights
                .push(WeightSpec::frozen("renorm_stddev", vec![c], &ones));
        }
        if self.epsilon < 0.0 {
            r.warnings.push(format!(
                "epsilon={} is negative: Keras accepts it, but variances near zero then give \
                 NaN.",
                pyfmt::float(self.epsilon)
            ));
        }
        Ok(cx.same_shape(r))
    }

    fn forward(&self, inputs: &[Arc<ArrayD<f32>>], w: &[ArrayD<f32>]) -> Result<ArrayD<f32>, String> {
        let x = first(inputs)?;
        if let Some(p) = self.pointwise(x.shape(), w) {
            return Ok(p?.apply(x));
        }
        let (ax, scale, shift) = self.scale_shift(x.shape(), w)?;
        let mut y = x.clone();
        for (i, mut lane) in y.axis_iter_mut(Axis(ax)).enumerate() {
            let (sc, sh) = (scale[i], shift[i]);
            lane.mapv_inplace(|v| v * sc + sh);
        }
        Ok(y)
    }

    fn pointwise(&self, shape: &[usize], w: &[ArrayD<f32>]) -> Option<Result<Pointwise, String>> {
        if self.axis_of(shape.len()) + 1 != shape.len() {
            return None;
        }
        Some(
            self.scale_shift(shape, w)
                .map(|(_, scale, shift)| Pointwise::scale_shift(scale, shift)),
        )
    }

    /// Inference: `y = x·scale + shift` per channel, so `dx = dy·scale`, `dγ = Σ dy·x̂`,
    /// `dβ = Σ dy`; the moving statistics have no gradient.
    fn backward(&self, bw: Backward) -> Result<Grads, String> {
        let x = first(bw.inputs)?;
        let (ax, scale, _) = self.scale_shift(x.shape(), bw.weights)?;
        let c = scale.len();
        // Contiguous runs of `inner` values share a channel: run k is channel k % c
        // (one pass over memory in order, whichever axis is normalised).
        let inner: usize = x.shape()[ax + 1..].iter().product::<usize>().max(1);
        let mut dx = bw.dy.as_standard_layout().into_owned();
        let xs = x.as_standard_layout();
        let xs = xs.as_slice().ok_or("BatchNormalization: non-contiguous input")?;
        let mut weights = Vec::new();
        if bw.want_weights {
            let mut idx = 0;
            let mut stat = |on: bool| -> Result<Option<&[f32]>, String> {
                if !on {
                    return Ok(None);
                }
                idx += 1;
                slice_of(weight(bw.weights, idx - 1, "BatchNormalization weight")?).map(Some)
            };
            let _gamma = stat(self.scale)?;
            let _beta = stat(self.center)?;
            let mean = stat(true)?.unwrap_or(&[]);
            let var = stat(true)?.unwrap_or(&[]);
            let eps = self.epsilon as f32;
            let inv: Vec<f32> = var.iter().map(|v| 1.0 / (v + eps).sqrt()).collect();
            let (mut dg, mut db) = (vec![0f32; c], vec![0f32; c]);
            let ds = dx.as_slice().ok_or("BatchNormalization: non-contiguous gradient")?;
            if inner == 1 {
                // Channels last: each pixel's channels side by side.
                for (g, v) in ds.chunks(c.max(1)).zip(xs.chunks(c.max(1))) {
                    for ch in 0..g.len() {
                        dg[ch] += g[ch] * (v[ch] - mean[ch]);
                        db[ch] += g[ch];
                    }
                }
                dg.iter_mut().zip(&inv).for_each(|(d, r)| *d *= r);
            } else {
                for (k, (g, v)) in ds.chunks(inner).zip(xs.chunks(inner)).enumerate() {
                let ch = k % c.max(1);
                let (m, r) = (mean[ch], inv[ch]);
                let (mut sg, mut sb) = (0f32, 0f32);
                for (&g, &v) in g.iter().zip(v) {
                    sg += g * (v - m);
                    sb += g;
                }
                dg[ch] += sg * r;
                db[ch] += sb;
                }
            }
            let arr = |v: Vec<f32>| ArrayD::from_shape_vec(ndarray::IxDyn(&[c]), v).unwrap_or_default();
            if self.scale {
                weights.push(Some(arr(dg)));
            }
            if self.center {
                weights.push(Some(arr(db)));
            }
            weights.extend([None, None]);
        }
        let ds = dx.as_slice_mut().ok_or("BatchNormalization: non-contiguous gradient")?;
        if inner == 1 {
            for px in ds.chunks_mut(c.max(1)) {
                px.iter_mut().zip(&scale).for_each(|(v, s)| *v *= s);
            }
        } else {
            for (k, g) in ds.chunks_mut(inner).enumerate() {
                let s = scale[k % c.max(1)];
                g.iter_mut().for_each(|v| *v *= s);
            }
        }
        Ok(Grads {
            inputs: vec![dx],
            weights,
        })
    }

    /// Batch statistics: each channel normalised by its mean and (biased) variance over
    /// the batch and every other axis, as `ops.moments`; the moving statistics become
    /// `moving·momentum + batch·(1 − momentum)` (Keras assigns them in the pass).
    fn forward_training(
        &self,
        inputs: &[Arc<ArrayD<f32>>],
        w: &[ArrayD<f32>],
        trainable: bool,
        _rng: &mut dyn FnMut() -> f32,
    ) -> Option<Result<Trained, String>> {
        // Keras: `if training and self.trainable` — a frozen layer keeps its moving
        // statistics, as in inference.
        trainable.then(|| self.batch_statistics(inputs, w))
    }

    /// Through the batch statistics: with `x̂ = (x − μ)·r`, `r = 1/√(σ² + ε)`,
    /// `dx = γr · (dy − mean(dy) − x̂·mean(dy·x̂))`, `dγ = Σ dy·x̂`, `dβ = Σ dy`.
    fn backward_training(&self, bw: Backward, kept: &[ArrayD<f32>]) -> Result<Grads, String> {
        let x = first(bw.inputs)?;
        let [mean, inv] = kept else {
            return Err("BatchNormalization: the batch statistics were not kept".into());
        };
        let (mean, inv) = (slice_of(mean)?, slice_of(inv)?);
        let ax = self.axis_of(x.ndim());
        let c = mean.len().max(1);
        let inner: usize = x.shape()[ax + 1..].iter().product::<usize>().max(1);
        let count = (x.len() / c).max(1) as f32;
        let gamma = if self.scale {
            Some(slice_of(weight(bw.weights, 0, "gamma")?)?)
        } else {
            None
        };
        let xs = x.as_standard_layout();
        let xs = xs.as_slice().ok_or("BatchNormalization: non-contiguous input")?;
        let mut dx = bw.dy.as_standard_layout().into_owned();
        let ds = dx.as_slice_mut().ok_or("BatchNormalization: non-contiguous gradient")?;
        // Sums in f64: the input gradient is (almost) orthogonal to the batch's
        // constants, and what is left of a layer's bias gradient before it is rounding.
        let (mut sum_dy, mut sum_dyx) = (vec![0f64; c], vec![0f64; c]);
        // Run k of `inner` values is channel k % c (channels last: one value a run).
        for (k, (g, v)) in ds.chunks(inner).zip(xs.chunks(inner)).enumerate() {
            let ch = k % c;
            let (m, r) = (mean[ch], inv[ch]);
            for (&g, &v) in g.iter().zip(v) {
                sum_dy[ch] += g as f64;
                sum_dyx[ch] += (g * ((v - m) * r)) as f64;
            }
        }
        // JAX's form: dx = γr · (dy − mean(dy) − x̂ · mean(dy·x̂)).
        let scale: Vec<f32> = (0..c).map(|j| gamma.map_or(1.0, |g| g[j]) * inv[j]).collect();
        let mean_dy: Vec<f32> = sum_dy.iter().map(|s| (s / count as f64) as f32).collect();
        let mean_dyx: Vec<f32> = sum_dyx.iter().map(|s| (s / count as f64) as f32).collect();
        let step = |j: usize, g: &mut f32, v: f32| {
            let xh = (v - mean[j]) * inv[j];
            *g = scale[j] * (*g - mean_dy[j] - xh * mean_dyx[j]);
        };
        for (k, (g, v)) in ds.chunks_mut(inner).zip(xs.chunks(inner)).enumerate() {
            for (g, &v) in g.iter_mut().zip(v) {
                step(k % c, g, v);
            }
        }
        let sum_dy: Vec<f32> = sum_dy.iter().map(|&s| s as f32).collect();
        let sum_dyx: Vec<f32> = sum_dyx.iter().map(|&s| s as f32).collect();
        let mut weights = Vec::new();
        if bw.want_weights {
            let arr = |v: Vec<f32>| ArrayD::from_shape_vec(ndarray::IxDyn(&[c]), v).unwrap_or_default();
            if self.scale {
                weights.push(Some(arr(sum_dyx)));
            }
            if self.center {
                weights.push(Some(arr(sum_dy)));
            }
            weights.extend([None, None]);
        }
        Ok(Grads {
            inputs: vec![dx],
            weights,
        })
    }

    fn card(&self) -> String {
        "BatchNormalization".into()
    }

    fn torch(&self, t: &mut Torch) -> Result<(), String> {
        let rank = t.flow.rank;
        if rank == 4 {
            // Channels to dim 1 for BatchNorm2d, whichever axis Keras normalises.
            match self.axis.rem_euclid(4) {
                3 => t.set_permuted(true),
                1 => t.set_permuted(false),
                _ => {}
            }
        }
        let class = match (rank, t.dim(self.axis)) {
            (4, 1) => "BatchNorm2d",
            (2, 1) | (3, 1) => "BatchNorm1d",
            _ => {
                return Err(format!(
                    "BatchNormalization over axis {} of a rank-{rank} tensor has no PyTorch layer",
                    self.axis
                ));
            }
        };
        let c = t
            .input
            .get(self.axis.rem_euclid(rank.max(1) as i64) as usize)
            .copied()
            .flatten()
            .ok_or("the normalised axis must have a known size")?;
        let m = t.m.clone();
        t.module(format!(
            "{class}({c}, eps={}, momentum={})  # PyTorch momentum = 1 - Keras momentum",
            py_float(self.epsilon),
            py_float(1.0 - self.momentum)
        ));
        let mut idx = 0;
        for (on, dst) in [
            (self.scale, "weight"),
            (self.center, "bias"),
            (true, "running_mean"),
            (true, "running_var"),
        ] {
            if on {
                let key = t.key(idx);
                t.copy(&format!("{m}.{dst}"), &key);
                idx += 1;
            }
        }
        Ok(())
    }
}
