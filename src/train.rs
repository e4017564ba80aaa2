//! Training as Keras's `train_on_batch` does it: the forward pass in training mode
//! ([`crate::engine::training`]), the loss (Keras's own definitions and reduction) plus
//! the weights' regularization penalties, the backward pass through the training-mode
//! rules, then the optimizer's update with Keras's rules, defaults and float32
//! arithmetic (clipping and weight decay first, as `BaseOptimizer.apply`), and the moving
//! statistics the pass assigned. A loss, optimizer, argument, regularizer or constraint
//! convscope does not know is an error naming it, never a guess.

use crate::engine::backward::{Wanted, backward_kept};
use crate::engine::forward::{EngineError, LayerWeights};
use crate::engine::training::forward_training;
use crate::keras::args::{Arg, ArgMut, Visitor};
use crate::keras::objects::{KerasObject, ObjectKind};
use crate::model::network::Network;
use crate::progress::Progress;
use ndarray::{ArrayD, Axis};
use std::sync::Arc;

/// Why a step could not be taken.
pub type Error = String;

/// A Keras loss with its arguments.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Loss {
    MeanSquaredError,
    MeanAbsoluteError,
    Huber {
        delta: f32,
    },
    CategoricalCrossentropy {
        from_logits: bool,
        label_smoothing: f32,
    },
    SparseCategoricalCrossentropy {
        from_logits: bool,
    },
    BinaryCrossentropy {
        from_logits: bool,
        label_smoothing: f32,
    },
}

/// Keras's `backend.epsilon()`.
const EPSILON: f32 = 1e-7;

impl Loss {
    /// The loss by its Keras name (`mse`, `mean_squared_error`, `categorical_crossentropy`,
    /// …), with `:from_logits=true,label_smoothing=0.1,delta=2` arguments.
    pub fn parse(spec: &str) -> Result<Loss, Error> {
        let (name, args) = split_spec(spec)?;
        let mut from_logits = false;
        let mut smoothing = 0.0f32;
        let mut delta = 1.0f32;
        for (k, v) in &args {
            match k.as_str() {
                "from_logits" => from_logits = parse_bool(k, v)?,
                "label_smoothing" => smoothing = parse_f32(k, v)?,
                "delta" => delta = parse_f32(k, v)?,
                _ => return Err(format!("loss '{name}' has no argument '{k}'")),
            }
        }
        let allow = |ok: &[&str]| -> Result<(), Error> {
            match args.iter().find(|(k, _)| !ok.contains(&k.as_str())) {
                Some((k, _)) => Err(format!("loss '{name}' has no argument '{k}'")),
                None => Ok(()),
            }
        };
        Ok(match name.as_str() {
            "mse" | "mean_squared_error" | "MeanSquaredError" => {
                allow(&[])?;
                Loss::MeanSquaredError
            }
            "mae" | "mean_absolute_error" | "MeanAbsoluteError" => {
                allow(&[])?;
                Loss::MeanAbsoluteError
            }
            "huber" | "Huber" | "huber_loss" => {
                allow(&["delta"])?;
                Loss::Huber { delta }
            }
            "categorical_crossentropy" | "CategoricalCrossentropy" => {
                allow(&["from_logits", "label_smoothing"])?;
                Loss::CategoricalCrossentropy {
                    from_logits,
                    label_smoothing: smoothing,
                }
            }
            "sparse_categorical_crossentropy" | "SparseCategoricalCrossentropy" => {
                allow(&["from_logits"])?;
                Loss::SparseCategoricalCrossentropy { from_logits }
            }
            "binary_crossentropy" | "BinaryCrossentropy" => {
                allow(&["from_logits", "label_smoothing"])?;
                Loss::BinaryCrossentropy {
                    from_logits,
                    label_smoothing: smoothing,
                }
            }
            other => {
                return Err(format!(
                    "unknown loss '{other}' (mse, mae, huber, categorical_crossentropy, \
                     sparse_categorical_crossentropy, binary_crossentropy)"
                ));
            }
        })
    }

    /// The loss of `y` against `target` (reduced as Keras's `sum_over_batch_size`: the
    /// mean of the per-sample losses over every axis they have) and its gradient with
    /// respect to `y`.
    pub fn value_and_grad(
        &self,
        y: &ArrayD<f32>,
        target: &ArrayD<f32>,
    ) -> Result<(f32, ArrayD<f32>), Error> {
        let last = y.ndim().checked_sub(1).ok_or("the output has no axes")?;
        let classes = y.shape()[last];
        let same = |t: &ArrayD<f32>| -> Result<(), Error> {
            if t.shape() == y.shape() {
                Ok(())
            } else {
                Err(format!(
                    "the target has shape {:?}, the output {:?}",
                    t.shape(),
                    y.shape()
                ))
            }
        };
        let mut grad = ArrayD::<f32>::zeros(y.raw_dim());
        let total: f64;
        match *self {
            Loss::MeanSquaredError | Loss::MeanAbsoluteError | Loss::Huber { .. } => {
                same(target)?;
                let n = y.len().max(1) as f32;
                let mut sum = 0f64;
                for ((g, &p), &t) in grad.iter_mut().zip(y).zip(target) {
                    let e = p - t;
                    let (v, d) = match *self {
                        Loss::MeanSquaredError => (e * e, 2.0 * e),
                        Loss::MeanAbsoluteError => (e.abs(), sign(e)),
                        Loss::Huber { delta } if e.abs() <= delta => (0.5 * e * e, e),
                        Loss::Huber { delta } => {
                            (delta * e.abs() - 0.5 * delta * delta, delta * sign(e))
                        }
                        _ => (0.0, 0.0),
                    };
                    sum += v as f64;
                    *g = d / n;
                }
                total = sum / n as f64;
            }
            Loss::BinaryCrossentropy {
                from_logits,
                label_smoothing,
            } => {
                same(target)?;
                let n = y.len().max(1) as f32;
                let mut sum = 0f64;
                for ((g, &p), &t) in grad.iter_mut().zip(y).zip(target) {
                    let t = t * (1.0 - label_smoothing) + 0.5 * label_smoothing;
                    let (v, d) = if from_logits {
                        // −t·log σ(p) − (1 − t)·log σ(−p).
                        let (ls, lns) = (log_sigmoid(p), log_sigmoid(-p));
                        let s = 1.0 / (1.0 + (-p).exp());
                        (-t * ls - (1.0 - t) * lns, s - t)
                    } else {
                        let q = p.clamp(EPSILON, 1.0 - EPSILON);
                        let inside = p > EPSILON && p < 1.0 - EPSILON;
                        let v = -(t * q.ln() + (1.0 - t) * (1.0 - q).ln());
                        let d = if inside {
                            -t / q + (1.0 - t) / (1.0 - q)
                        } else {
                            0.0
                        };
                        (v, d)
                    };
                    sum += v as f64;
                    *g = d / n;
                }
                total = sum / n as f64;
            }
            Loss::CategoricalCrossentropy {
                from_logits,
                label_smoothing,
            } => {
                same(target)?;
                let rows = (y.len() / classes.max(1)).max(1);
                let mut sum = 0f64;
                for ((mut g, p), t) in grad
                    .lanes_mut(Axis(last))
                    .into_iter()
                    .zip(y.lanes(Axis(last)))
                    .zip(target.lanes(Axis(last)))
                {
                    let t: Vec<f32> = t
                        .iter()
                        .map(|&t| t * (1.0 - label_smoothing) + label_smoothing / classes as f32)
                        .collect();
                    let p: Vec<f32> = p.iter().copied().collect();
                    let (v, d) = crossentropy_row(&p, &t, from_logits);
                    sum += v as f64;
                    g.iter_mut().zip(d).for_each(|(g, d)| *g = d / rows as f32);
                }
                total = sum / rows as f64;
            }
            Loss::SparseCategoricalCrossentropy { from_logits } => {
                let labels: Vec<f32> = target.iter().copied().collect();
                let rows = y.len() / classes.max(1);
                if labels.len() != rows {
                    return Err(format!(
                        "the target has {} labels for {rows} rows of the output {:?}",
                        labels.len(),
                        y.shape()
                    ));
                }
                let mut sum = 0f64;
                for ((mut g, p), &label) in grad
                    .lanes_mut(Axis(last))
                    .into_iter()
                    .zip(y.lanes(Axis(last)))
                    .zip(&labels)
                {
                    if label < 0.0 || label.fract() != 0.0 || label as usize >= classes {
                        return Err(format!("label {label} is not one of {classes} classes"));
                    }
                    let mut t = vec![0f32; classes];
                    t[label as usize] = 1.0;
                    let p: Vec<f32> = p.iter().copied().collect();
                    let (v, d) = crossentropy_row(&p, &t, from_logits);
                    sum += v as f64;
                    g.iter_mut()
                        .zip(d)
                        .for_each(|(g, d)| *g = d / rows.max(1) as f32);
                }
                total = sum / rows.max(1) as f64;
            }
        }
        Ok((total as f32, grad))
    }
}

fn sign(v: f32) -> f32 {
    if v > 0.0 {
        1.0
    } else if v < 0.0 {
        -1.0
    } else {
        0.0
    }
}

fn log_sigmoid(x: f32) -> f32 {
    // −softplus(−x), stable on both sides.
    -((-x).max(0.0) + (-x.abs()).exp().ln_1p())
}

/// One row's cross-entropy `−Σ t·log q` and its gradient in the row's outputs: `q` the
/// softmax of logits, or the probabilities renormalised to sum 1 and clipped to
/// `[ε, 1 − ε]` (Keras's JAX backend; clipped entries pass no gradient).
fn crossentropy_row(p: &[f32], t: &[f32], from_logits: bool) -> (f32, Vec<f32>) {
    if from_logits {
        let m = p.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let z: f32 = p.iter().map(|v| (v - m).exp()).sum();
        let lse = m + z.ln();
        let ts: f32 = t.iter().sum();
        let v: f32 = -t.iter().zip(p).map(|(t, p)| t * (p - lse)).sum::<f32>();
        let d = p
            .iter()
            .zip(t)
            .map(|(p, t)| (p - lse).exp() * ts - t)
            .collect();
        return (v, d);
    }
    let s: f32 = p.iter().sum();
    let q: Vec<f32> = p.iter().map(|v| v / s).collect();
    let clipped: Vec<f32> = q.iter().map(|v| v.clamp(EPSILON, 1.0 - EPSILON)).collect();
    let v = -t.iter().zip(&clipped).map(|(t, q)| t * q.ln()).sum::<f32>();
    // d/dq_j = −t_j/q_j inside the clip; d/dp_i = (d/dq_i − Σ_j d/dq_j q_j) / s.
    let dq: Vec<f32> = q
        .iter()
        .zip(t)
        .zip(&clipped)
        .map(|((&q, &t), &c)| {
            if q > EPSILON && q < 1.0 - EPSILON {
                -t / c
            } else {
                0.0
            }
        })
        .collect();
    let dot: f32 = dq.iter().zip(&q).map(|(d, q)| d * q).sum();
    (v, dq.iter().map(|d| (d - dot) / s).collect())
}

/// `name:key=value,key=value` → the name and the pairs.
fn split_spec(spec: &str) -> Result<(String, Vec<(String, String)>), Error> {
    let (name, rest) = spec.split_once(':').unwrap_or((spec, ""));
    let name = name.trim().to_string();
    if name.is_empty() {
        return Err(format!("'{spec}' names nothing"));
    }
    let mut args = Vec::new();
    for part in rest.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("'{part}' is not KEY=VALUE"))?;
        args.push((k.trim().to_string(), v.trim().to_string()));
    }
    Ok((name, args))
}

fn parse_f32(k: &str, v: &str) -> Result<f32, Error> {
    v.parse::<f32>()
        .map_err(|_| format!("{k}={v}: not a number"))
}

fn parse_bool(k: &str, v: &str) -> Result<bool, Error> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(format!("{k}={v}: not true or false")),
    }
}

/// An optimizer's update rule and arguments (Keras's names and defaults).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rule {
    Sgd {
        momentum: f32,
        nesterov: bool,
    },
    Adam {
        beta_1: f32,
        beta_2: f32,
        epsilon: f32,
        amsgrad: bool,
    },
    RmsProp {
        rho: f32,
        momentum: f32,
        epsilon: f32,
        centered: bool,
    },
    Adagrad {
        initial_accumulator_value: f32,
        epsilon: f32,
    },
    Nadam {
        beta_1: f32,
        beta_2: f32,
        epsilon: f32,
    },
}

/// An optimizer as `keras.optimizers` configures it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OptimizerConfig {
    pub rule: Rule,
    pub learning_rate: f32,
    pub weight_decay: Option<f32>,
    pub clipnorm: Option<f32>,
    pub clipvalue: Option<f32>,
    pub global_clipnorm: Option<f32>,
}

impl OptimizerConfig {
    /// `sgd`, `adam`, `adamw`, `rmsprop`, `adagrad` or `nadam`, with its arguments by
    /// their Keras names: `sgd:learning_rate=0.01,momentum=0.9,nesterov=true`.
    pub fn parse(spec: &str) -> Result<OptimizerConfig, Error> {
        let (name, args) = split_spec(spec)?;
        // Keras's class names and its configs' snake_case names (`adam_w`, `rm_sprop`).
        // Instance names carry a counter (`sgd_1`).
        let lower = name.to_ascii_lowercase().replace('_', "");
        let lower = lower
            .trim_end_matches(|c: char| c.is_ascii_digit())
            .to_string();
        let (rule, lr, wd) = match lower.as_str() {
            "sgd" => (
                Rule::Sgd {
                    momentum: 0.0,
                    nesterov: false,
                },
                0.01,
                None,
            ),
            "adam" | "adamw" => (
                Rule::Adam {
                    beta_1: 0.9,
                    beta_2: 0.999,
                    epsilon: 1e-7,
                    amsgrad: false,
                },
                0.001,
                (lower == "adamw").then_some(0.004),
            ),
            "rmsprop" => (
                Rule::RmsProp {
                    rho: 0.9,
                    momentum: 0.0,
                    epsilon: 1e-7,
                    centered: false,
                },
                0.001,
                None,
            ),
            "adagrad" => (
                Rule::Adagrad {
                    initial_accumulator_value: 0.1,
                    epsilon: 1e-7,
                },
                0.001,
                None,
            ),
            "nadam" => (
                Rule::Nadam {
                    beta_1: 0.9,
                    beta_2: 0.999,
                    epsilon: 1e-7,
                },
                0.001,
                None,
            ),
            other => {
                return Err(format!(
                    "unknown optimizer '{other}' (sgd, adam, adamw, rmsprop, adagrad, nadam)"
                ));
            }
        };
        let mut c = OptimizerConfig {
            rule,
            learning_rate: lr,
            weight_decay: wd,
            clipnorm: None,
            clipvalue: None,
            global_clipnorm: None,
        };
        for (k, v) in &args {
            let f = || parse_f32(k, v);
            let opt = || -> Result<Option<f32>, Error> {
                if v.eq_ignore_ascii_case("none") {
                    Ok(None)
                } else {
                    f().map(Some)
                }
            };
            let unknown = || format!("optimizer '{name}' has no argument '{k}'");
            match (k.as_str(), &mut c.rule) {
                ("learning_rate", _) => c.learning_rate = f()?,
                ("weight_decay", _) => c.weight_decay = opt()?,
                ("clipnorm", _) => c.clipnorm = opt()?,
                ("clipvalue", _) => c.clipvalue = opt()?,
                ("global_clipnorm", _) => c.global_clipnorm = opt()?,
                ("momentum", Rule::Sgd { momentum, .. })
                | ("momentum", Rule::RmsProp { momentum, .. }) => *momentum = f()?,
                ("nesterov", Rule::Sgd { nesterov, .. }) => *nesterov = parse_bool(k, v)?,
                ("beta_1", Rule::Adam { beta_1, .. } | Rule::Nadam { beta_1, .. }) => {
                    *beta_1 = f()?
                }
                ("beta_2", Rule::Adam { beta_2, .. } | Rule::Nadam { beta_2, .. }) => {
                    *beta_2 = f()?
                }
                (
                    "epsilon",
                    Rule::Adam { epsilon, .. }
                    | Rule::Nadam { epsilon, .. }
                    | Rule::RmsProp { epsilon, .. }
                    | Rule::Adagrad { epsilon, .. },
                ) => *epsilon = f()?,
                ("amsgrad", Rule::Adam { amsgrad, .. }) => *amsgrad = parse_bool(k, v)?,
                ("rho", Rule::RmsProp { rho, .. }) => *rho = f()?,
                ("centered", Rule::RmsProp { centered, .. }) => *centered = parse_bool(k, v)?,
                (
                    "initial_accumulator_value",
                    Rule::Adagrad {
                        initial_accumulator_value,
                        ..
                    },
                ) => *initial_accumulator_value = f()?,
                _ => return Err(unknown()),
            }
        }
        if !(c.learning_rate.is_finite() && c.learning_rate >= 0.0) {
            return Err(format!(
                "learning_rate={} must be a non-negative number",
                c.learning_rate
            ));
        }
        Ok(c)
    }
}

impl OptimizerConfig {
    /// From an optimizer's Keras `get_config()` (as `model.compile` saves it): the
    /// arguments convscope applies; the ones it does not (EMA, loss scaling, gradient
    /// accumulation) must be off, or it is refused.
    pub fn from_keras_config(
        config: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<OptimizerConfig, Error> {
        use serde_json::Value;
        let name = config
            .get("name")
            .and_then(Value::as_str)
            .ok_or("the optimizer config has no name")?;
        let mut parts = Vec::new();
        for (k, v) in config {
            match (k.as_str(), v) {
                ("name", _) | ("ema_momentum", _) | ("ema_overwrite_frequency", _) => {}
                ("use_ema", Value::Bool(false)) | ("loss_scale_factor", Value::Null) => {}
                ("gradient_accumulation_steps", Value::Null) => {}
                ("use_ema" | "loss_scale_factor" | "gradient_accumulation_steps", v) => {
                    return Err(format!("optimizer {k}={v} is not supported"));
                }
                (_, Value::Null) => parts.push(format!("{k}=none")),
                (_, Value::Bool(b)) => parts.push(format!("{k}={b}")),
                (_, Value::Number(n)) => parts.push(format!("{k}={n}")),
                (_, v) => return Err(format!("optimizer argument {k}={v} is not supported")),
            }
        }
        // The defaults of `adamw` carry its weight decay; a config spells it out.
        let parsed = OptimizerConfig::parse(&format!("{name}:{}", parts.join(",")))?;
        Ok(parsed)
    }
}

/// An optimizer's state: its per-variable slots and step count.
#[derive(Clone, Debug)]
pub struct Optimizer {
    pub config: OptimizerConfig,
    /// Steps taken (Keras's `iterations`).
    pub iterations: u64,
    /// Per (layer position, weight index): the rule's slot vectors.
    slots: std::collections::HashMap<(usize, usize), Vec<Vec<f32>>>,
    /// Nadam's running product of momentum schedules.
    u_product: f32,
}

impl Optimizer {
    pub fn new(config: OptimizerConfig) -> Optimizer {
        Optimizer {
            config,
            iterations: 0,
            slots: Default::default(),
            u_product: 1.0,
        }
    }

    /// One update of `weights` by `grads` (per layer position and weight index), as
    /// `BaseOptimizer.apply`: the gradients clipped (`clipnorm` per variable, else
    /// `global_clipnorm`, else `clipvalue`), weight decay `w −= w·wd·lr`, the rule, then
    /// `iterations += 1`.
    pub fn apply(
        &mut self,
        weights: &mut [LayerWeights],
        grads: Vec<(usize, usize, ArrayD<f32>)>,
    ) -> Result<(), Error> {
        let c = self.config;
        let mut grads = grads;
        if let Some(n) = c.clipnorm.filter(|&n| n > 0.0) {
            for (_, _, g) in &mut grads {
                let l2: f32 = g.iter().map(|v| v * v).sum();
                if l2 > 0.0 {
                    let norm = l2.sqrt();
                    g.mapv_inplace(|v| v * n / norm.max(n));
                }
            }
        } else if let Some(n) = c.global_clipnorm.filter(|&n| n > 0.0) {
            let sum: f32 = grads
                .iter()
                .map(|(_, _, g)| g.iter().map(|v| v * v).sum::<f32>())
                .sum();
            let norm = sum.sqrt();
            // Keras adds `norm − norm` so a non-finite norm makes the scale NaN.
            let finite = if norm.is_finite() { 0.0 } else { f32::NAN };
            let scale = n * (1.0 / norm).min(1.0 / n) + finite;
            for (_, _, g) in &mut grads {
                g.mapv_inplace(|v| v * scale);
            }
        } else if let Some(v) = c.clipvalue.filter(|&v| v > 0.0) {
            for (_, _, g) in &mut grads {
                g.mapv_inplace(|x| x.clamp(-v, v));
            }
        }
        let lr = c.learning_rate;
        if let Some(wd) = c.weight_decay {
            for (l, k, _) in &grads {
                let w = weight_mut(weights, *l, *k)?;
                w.mapv_inplace(|v| v - v * wd * lr);
            }
        }
        let step = (self.iterations + 1) as f32;
        if let Rule::Nadam { beta_1, .. } = c.rule {
            self.u_product *= beta_1 * (1.0 - 0.5 * 0.96f32.powf(step));
        }
        for (l, k, g) in grads {
            let w = weight_mut(weights, l, k)?;
            if w.shape() != g.shape() {
                return Err(format!(
                    "layer {l} weight {k}: gradient {:?} for a weight of {:?}",
                    g.shape(),
                    w.shape()
                ));
            }
            let n = w.len();
            // The rule's slots (Keras's optimizer variables) and where they start.
            let (count, init) = match c.rule {
                Rule::Sgd { momentum, .. } => (usize::from(momentum != 0.0), 0.0),
                Rule::Adam { amsgrad, .. } => (2 + usize::from(amsgrad), 0.0),
                Rule::RmsProp {
                    momentum, centered, ..
                } => (1 + usize::from(momentum > 0.0) + usize::from(centered), 0.0),
                Rule::Adagrad {
                    initial_accumulator_value,
                    ..
                } => (1, initial_accumulator_value),
                Rule::Nadam { .. } => (2, 0.0),
            };
            let slots = self
                .slots
                .entry((l, k))
                .or_insert_with(|| vec![vec![init; n]; count]);
            let ws = w.as_slice_mut().ok_or("a weight is not contiguous")?;
            let gs: Vec<f32> = g.iter().copied().collect();
            update(c.rule, lr, step, self.u_product, ws, &gs, slots);
        }
        self.iterations += 1;
        Ok(())
    }
}

fn weight_mut(weights: &mut [LayerWeights], l: usize, k: usize) -> Result<&mut ArrayD<f32>, Error> {
    weights
        .get_mut(l)
        .and_then(|w| w.get_mut(k))
        .ok_or_else(|| format!("layer {l} has no weight {k}"))
}

/// One variable's update by `rule` (Keras's `update_step`), in float32.
fn update(
    rule: Rule,
    lr: f32,
    step: f32,
    u_product: f32,
    w: &mut [f32],
    g: &[f32],
    s: &mut [Vec<f32>],
) {
    match rule {
        Rule::Sgd { momentum, nesterov } => {
            if momentum != 0.0 {
                let m = &mut s[0];
                for ((w, &g), m) in w.iter_mut().zip(g).zip(m.iter_mut()) {
                    *m = *m * momentum - g * lr;
                    if nesterov {
                        *w += *m * momentum - g * lr;
                    } else {
                        *w += *m;
                    }
                }
            } else {
                for (w, &g) in w.iter_mut().zip(g) {
                    *w -= g * lr;
                }
            }
        }
        Rule::Adam {
            beta_1,
            beta_2,
            epsilon,
            amsgrad,
        } => {
            let (b1p, b2p) = (beta_1.powf(step), beta_2.powf(step));
            let alpha = lr * (1.0 - b2p).sqrt() / (1.0 - b1p);
            let (m, rest) = s.split_at_mut(1);
            let (v, hat) = rest.split_at_mut(1);
            for (i, (w, &g)) in w.iter_mut().zip(g).enumerate() {
                let m = &mut m[0][i];
                let v = &mut v[0][i];
                *m += (g - *m) * (1.0 - beta_1);
                *v += (g * g - *v) * (1.0 - beta_2);
                let vv = if amsgrad {
                    let h = &mut hat[0][i];
                    *h = h.max(*v);
                    *h
                } else {
                    *v
                };
                *w -= (*m * alpha) / (vv.sqrt() + epsilon);
            }
        }
        Rule::RmsProp {
            rho,
            momentum,
            epsilon,
            centered,
        } => {
            let (vel, rest) = s.split_at_mut(1);
            let (mom, avg) = if momentum > 0.0 {
                let (a, b) = rest.split_at_mut(1);
                (Some(&mut a[0]), b.first_mut())
            } else {
                (None, rest.first_mut())
            };
            let mut mom = mom;
            let mut avg = avg;
            for (i, (w, &g)) in w.iter_mut().zip(g).enumerate() {
                let v = &mut vel[0][i];
                *v = rho * *v + (1.0 - rho) * g * g;
                let denominator = match avg.as_deref_mut() {
                    Some(a) if centered => {
                        a[i] = rho * a[i] + (1.0 - rho) * g;
                        *v - a[i] * a[i] + epsilon
                    }
                    _ => *v + epsilon,
                };
                let increment = lr * g / denominator.sqrt();
                match mom.as_deref_mut() {
                    Some(m) => {
                        m[i] = momentum * m[i] + increment;
                        *w -= m[i];
                    }
                    None => *w -= increment,
                }
            }
        }
        Rule::Adagrad { epsilon, .. } => {
            for ((w, &g), a) in w.iter_mut().zip(g).zip(s[0].iter_mut()) {
                *a += g * g;
                *w -= lr * g / (*a + epsilon).sqrt();
            }
        }
        Rule::Nadam {
            beta_1,
            beta_2,
            epsilon,
        } => {
            let u_t = beta_1 * (1.0 - 0.5 * 0.96f32.powf(step));
            let u_t_1 = beta_1 * (1.0 - 0.5 * 0.96f32.powf(step + 1.0));
            let u_product_t_1 = u_product * u_t_1;
            let b2p = beta_2.powf(step);
            let (m, v) = s.split_at_mut(1);
            for (i, (w, &g)) in w.iter_mut().zip(g).enumerate() {
                let m = &mut m[0][i];
                let v = &mut v[0][i];
                *m += (g - *m) * (1.0 - beta_1);
                *v += (g * g - *v) * (1.0 - beta_2);
                let m_hat =
                    u_t_1 * *m / (1.0 - u_product_t_1) + (1.0 - u_t) * g / (1.0 - u_product);
                let v_hat = *v / (1.0 - b2p);
                *w -= m_hat * lr / (v_hat.sqrt() + epsilon);
            }
        }
    }
}

/// A weight's penalty: `l1·Σ|w| + l2·Σw²` (Keras's L1, L2 and L1L2).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Penalty {
    pub l1: f32,
    pub l2: f32,
}

impl Penalty {
    fn from_object(o: &KerasObject) -> Result<Penalty, Error> {
        let get = |k: &str, default: f64| {
            o.config.get(k).and_then(|v| v.as_f64()).unwrap_or(default) as f32
        };
        match o.class_name.as_str() {
            "L1" => Ok(Penalty {
                l1: get("l1", 0.01),
                l2: 0.0,
            }),
            "L2" => Ok(Penalty {
                l1: 0.0,
                l2: get("l2", 0.01),
            }),
            "L1L2" => Ok(Penalty {
                l1: get("l1", 0.0),
                l2: get("l2", 0.0),
            }),
            other => Err(format!(
                "the regularizer {other} is not supported in training"
            )),
        }
    }

    fn value(&self, w: &ArrayD<f32>) -> f32 {
        let (mut a, mut b) = (0f32, 0f32);
        for &v in w {
            a += v.abs();
            b += v * v;
        }
        self.l1 * a + self.l2 * b
    }

    fn grad(&self, w: f32) -> f32 {
        self.l1 * sign(w) + 2.0 * self.l2 * w
    }
}

/// The layer's regularizers, constraints and activity regularizer, by argument name.
struct Objects(Vec<(&'static str, ObjectKind, Option<KerasObject>)>);

impl Visitor for Objects {
    fn arg(&mut self, arg: &Arg, value: ArgMut<'_>) {
        if let ArgMut::Object { value, kind, .. } = value
            && matches!(kind, ObjectKind::Regularizer | ObjectKind::Constraint)
        {
            self.0.push((arg.key, kind, value.clone()));
        }
    }
}

/// What a training step did.
#[derive(Clone, Debug, PartialEq)]
pub struct StepLog {
    /// The forward pass's loss before the update, regularization included (what
    /// `train_on_batch` returns).
    pub loss: f32,
}

/// A network being trained: its weights, optimizer and loss.
pub struct Trainer {
    pub network: Network,
    pub weights: Vec<LayerWeights>,
    pub optimizer: Optimizer,
    pub loss: Loss,
    /// (layer, weight index, penalty) for every regularized weight.
    penalties: Vec<(usize, usize, Penalty)>,
    /// The network's analysis (shapes, which weights are trainable), read once.
    analysis: crate::model::Analysis,
    rng: crate::engine::init::Rng,
}

impl Trainer {
    /// Reads the layers' regularizers (refusing what training cannot honour yet:
    /// activity regularizers, constraints, unknown regularizer classes), naming the layer.
    pub fn new(
        network: Network,
        weights: Vec<LayerWeights>,
        optimizer: OptimizerConfig,
        loss: Loss,
        seed: u64,
    ) -> Result<Trainer, Error> {
        let analysis = network.analyze();
        if let Some(e) = analysis.error(&network) {
            return Err(e);
        }
        if network.outputs().len() != 1 {
            return Err("training needs a model with one output".into());
        }
        let mut penalties = Vec::new();
        for (i, layer) in network.layers().iter().enumerate() {
            let mut kind = layer.kind.clone();
            let mut objects = Objects(Vec::new());
            kind.spec_mut().args(&mut objects);
            let names: Vec<&str> = analysis
                .layers
                .get(i)
                .map(|r| r.weights.iter().map(|w| w.name).collect())
                .unwrap_or_default();
            for (key, kind, value) in objects.0 {
                let Some(o) = value else { continue };
                let refuse = |why: String| format!("layer '{}': {why}", layer.name);
                if kind == ObjectKind::Constraint {
                    return Err(refuse(format!(
                        "{key} ({}) is not supported in training yet",
                        o.class_name
                    )));
                }
                if key == "activity_regularizer" {
                    return Err(refuse(format!(
                        "activity_regularizer ({}) is not supported in training yet",
                        o.class_name
                    )));
                }
                let target = key.trim_end_matches("_regularizer");
                let wanted = match target {
                    "depthwise" | "pointwise" => format!("{target}_kernel"),
                    t => t.to_string(),
                };
                let k = names
                    .iter()
                    .position(|n| *n == wanted)
                    .ok_or_else(|| refuse(format!("{key} regularizes no weight '{wanted}'")))?;
                let p = Penalty::from_object(&o).map_err(refuse)?;
                if layer.trainable {
                    penalties.push((i, k, p));
                }
            }
        }
        Ok(Trainer {
            network,
            weights,
            optimizer: Optimizer::new(optimizer),
            loss,
            penalties,
            analysis,
            rng: crate::engine::init::Rng::new(seed),
        })
    }

    /// One `train_on_batch` step on `inputs` (one per model input) against `target`.
    pub fn step(
        &mut self,
        inputs: Vec<Arc<ArrayD<f32>>>,
        target: &ArrayD<f32>,
        progress: &Progress,
    ) -> Result<StepLog, Error> {
        let net = &self.network;
        let err = |e: EngineError| e.to_string();
        let rng = &mut self.rng;
        let mut uniform = || rng.uniform() as f32;
        let pass = forward_training(net, &self.analysis, &self.weights, inputs, &mut uniform)
            .map_err(err)?;
        let out = net.outputs()[0];
        let y = pass
            .acts
            .get(out)
            .and_then(|a| a.as_ref())
            .map(|a| a.output.clone())
            .ok_or("the output was not computed")?;
        let (mut loss, dy) = self.loss.value_and_grad(&y, target)?;
        for &(l, k, p) in &self.penalties {
            if let Some(w) = self.weights.get(l).and_then(|w| w.get(k)) {
                loss += p.value(w);
            }
        }
        if !loss.is_finite() {
            return Err(format!(
                "the loss is {loss}: training stopped before the update, the weights are as they were"
            ));
        }
        let wanted = Wanted {
            weights: true,
            ..Default::default()
        };
        let grads = backward_kept(
            net,
            &self.weights,
            &pass.acts,
            vec![(out, dy)],
            wanted,
            progress,
            &pass.kept,
        )
        .map_err(err)?;
        let mut list = Vec::new();
        for (l, gs) in grads.weights.into_iter().enumerate() {
            let specs = self
                .analysis
                .layers
                .get(l)
                .map_or(&[][..], |r| &r.weights[..]);
            for (k, g) in gs.into_iter().enumerate() {
                if let Some(mut g) = g
                    && specs.get(k).is_some_and(|w| w.trainable)
                {
                    if let Some(&(_, _, p)) = self
                        .penalties
                        .iter()
                        .find(|(pl, pk, _)| (*pl, *pk) == (l, k))
                        && let Some(w) = self.weights.get(l).and_then(|w| w.get(k))
                    {
                        ndarray::Zip::from(&mut g)
                            .and(w)
                            .for_each(|g, &w| *g += p.grad(w));
                    }
                    if g.iter().any(|v| !v.is_finite()) {
                        return Err(format!(
                            "layer '{}': a gradient is not finite; the weights are as they were",
                            net.layers()[l].name
                        ));
                    }
                    list.push((l, k, g));
                }
            }
        }
        self.optimizer.apply(&mut self.weights, list)?;
        for (l, ups) in pass.updates.into_iter().enumerate() {
            for (k, v) in ups {
                *weight_mut(&mut self.weights, l, k)? = v;
            }
        }
        Ok(StepLog { loss })
    }
}
