//! `keras.layers.BatchNormalization`: per-channel normalisation by the moving statistics
//! (inference), with learned scale (gamma) and offset (beta).

use super::torch::{Torch, py_float};
use super::*;
use crate::keras::args::{Arg, ArgMut, Visitor, object};
use crate::keras::objects::{KerasObject, ObjectKind};
use crate::kernels;
use ndarray::Axis;
use serde_json::Value;

const AXIS: Arg = Arg::new(
    "axis",
    "Axis the layer normalises over (-1 is the channels axis for channels_last).",
);
const MOMENTUM: Arg = Arg::new("momentum", "Momentum of the moving mean and variance.");
const EPSILON: Arg = Arg::new(
    "epsilon",
    "Small value added to the variance to avoid dividing by zero.",
);
const CENTER: Arg = Arg::new("center", "Learn an offset (beta).");
const SCALE: Arg = Arg::new("scale", "Learn a scale (gamma).");
const BETA_INIT: Arg = Arg::new("beta_initializer", "How beta starts.");
const GAMMA_INIT: Arg = Arg::new("gamma_initializer", "How gamma starts.");
const MEAN_INIT: Arg = Arg::new("moving_mean_initializer", "How the moving mean starts.");
const VAR_INIT: Arg = Arg::new(
    "moving_variance_initializer",
    "How the moving variance starts.",
);
const BETA_REG: Arg = Arg::new("beta_regularizer", "Penalty on beta added to the loss.");
const GAMMA_REG: Arg = Arg::new("gamma_regularizer", "Penalty on gamma added to the loss.");
const BETA_CON: Arg = Arg::new("beta_constraint", "Projection applied to beta after each update.");
const GAMMA_CON: Arg = Arg::new(
    "gamma_constraint",
    "Projection applied to gamma after each update.",
);
const SYNCHRONIZED: Arg = Arg::new(
    "synchronized",
    "Synchronise the statistics across devices (distributed training only).",
);
const RENORM: Arg = Arg::new("renorm", "Batch renormalisation (training only).");
const RENORM_CLIPPING: Arg = Arg::new("renorm_clipping", "Limits of batch renormalisation.");
const RENORM_MOMENTUM: Arg = Arg::new("renorm_momentum", "Momentum of batch renormalisation.");

#[derive(Clone, Debug, PartialEq)]
pub struct BatchNormalization {
    pub axis: i64,
    pub momentum: f64,
    pub epsilon: f64,
    pub center: bool,
    pub scale: bool,
    pub beta_initializer: Option<KerasObject>,
    pub gamma_initializer: Option<KerasObject>,
    pub moving_mean_initializer: Option<KerasObject>,
    pub moving_variance_initializer: Option<KerasObject>,
    pub beta_regularizer: Option<KerasObject>,
    pub gamma_regularizer: Option<KerasObject>,
    pub beta_constraint: Option<KerasObject>,
    pub gamma_constraint: Option<KerasObject>,
    pub synchronized: bool,
    pub renorm: bool,
    pub renorm_clipping: Value,
    pub renorm_momentum: f64,
}

impl Kind for BatchNormalization {
    const CLASSES: &'static [&'static str] = &["BatchNormalization"];
    fn new(_: &str) -> Option<Self> {
        let init = |c| KerasObject::new(ObjectKind::Initializer, c);
        Some(BatchNormalization {
            axis: -1,
            momentum: 0.99,
            epsilon: 0.001,
            center: true,
            scale: true,
            beta_initializer: init("Zeros"),
            gamma_initializer: init("Ones"),
            moving_mean_initializer: init("Zeros"),
            moving_variance_initializer: init("Ones"),
            beta_regularizer: None,
            gamma_regularizer: None,
            beta_constraint: None,
            gamma_constraint: None,
            synchronized: false,
            renorm: false,
            renorm_clipping: Value::Null,
            renorm_momentum: 0.99,
        })
    }
}

impl BatchNormalization {
    /// The normalised axis of a rank-`rank` input.
    fn axis_of(&self, rank: usize) -> usize {
        let rank = rank as i64;
        (if self.axis < 0 { self.axis + rank } else { self.axis }).max(0) as usize
    }
}

impl LayerSpec for BatchNormalization {
    fn class_name(&self) -> &'static str {
        "BatchNormalization"
    }

    fn args(&mut self, v: &mut dyn Visitor) {
        use ObjectKind::{Constraint, Initializer, Regularizer};
        v.arg(&AXIS, ArgMut::Axis(&mut self.axis));
        v.arg(&MOMENTUM, ArgMut::Float(&mut self.momentum));
        v.arg(&EPSILON, ArgMut::Float(&mut self.epsilon));
        v.arg(&CENTER, ArgMut::Bool(&mut self.center));
        v.arg(&SCALE, ArgMut::Bool(&mut self.scale));
        object(v, &BETA_INIT, &mut self.beta_initializer, Initializer);
        object(v, &GAMMA_INIT, &mut self.gamma_initializer, Initializer);
        object(v, &MEAN_INIT, &mut self.moving_mean_initializer, Initializer);
        object(v, &VAR_INIT, &mut self.moving_variance_initializer, Initializer);
        object(v, &BETA_REG, &mut self.beta_regularizer, Regularizer);
        object(v, &GAMMA_REG, &mut self.gamma_regularizer, Regularizer);
        object(v, &BETA_CON, &mut self.beta_constraint, Constraint);
        object(v, &GAMMA_CON, &mut self.gamma_constraint, Constraint);
        v.arg(&SYNCHRONIZED, ArgMut::Bool(&mut self.synchronized));
        v.arg(&RENORM, ArgMut::Bool(&mut self.renorm));
        v.arg(&RENORM_CLIPPING, ArgMut::Json(&mut self.renorm_clipping));
        v.arg(&RENORM_MOMENTUM, ArgMut::Float(&mut self.renorm_momentum));
        v.fixed("fused", None);
    }

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
        let ax = self.axis_of(x.ndim());
        let c = x.shape().get(ax).copied().ok_or("the normalised axis is missing")?;
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
        if ax + 1 == x.ndim() {
            Ok(kernels::scale_shift_last(x, &scale, &shift))
        } else {
            let mut y = x.clone();
            for (i, mut lane) in y.axis_iter_mut(Axis(ax)).enumerate() {
                let (sc, sh) = (scale[i], shift[i]);
                lane.mapv_inplace(|v| v * sc + sh);
            }
            Ok(y)
        }
    }

    fn card(&self) -> String {
        "BatchNormalization".into()
    }

    fn family(&self) -> Family {
        Family::Normalization
    }

    fn call_kwargs(&self) -> &'static [&'static str] {
        &["mask"]
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
        t.init(format!(
            "self.{m} = nn.{class}({c}, eps={}, momentum={})  # PyTorch momentum = 1 - Keras momentum",
            py_float(self.epsilon),
            py_float(1.0 - self.momentum)
        ));
        t.fwd(format!("x = self.{m}(x)"));
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
