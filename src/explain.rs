//! Why a network decides: attribution maps from the engine's forward and backward
//! passes, in inference mode — Grad-CAM, Grad-CAM++, Score-CAM, vanilla saliency,
//! SmoothGrad, integrated gradients and occlusion sensitivity — for a class score or a
//! channel of any layer ("what makes this channel fire"). Pure arrays: `convscope
//! explain` writes them, the window's Explain tab draws them.
//!
//! The class score is taken *before* the model's final softmax (Selvaraju et al., and
//! Keras's own Grad-CAM example, which sets the last layer's activation to `None`): a
//! last layer with `activation="softmax"` is read without it, a final `Softmax` or
//! `Activation("softmax")` layer is skipped. The score is sample 0's value of the class
//! on the last axis (summed over any other axes of a spatial output); a channel's score
//! is its mean over the layer's rows and columns. Grad-CAM's map is
//! `ReLU(Σ_k α_k A_k)` with `α_k` the mean of `d score / d A_k` over rows and columns,
//! at the chosen layer's resolution (default: the last of `model.layers` with a rank-4
//! output that the score depends on); [`Attribution::overlay`] is it resized bilinearly to the input.

use crate::engine::backward::{Wanted, backward};
use crate::engine::forward::{LayerRun, LayerWeights, run_inputs};
use crate::keras::args::{Arg, ArgMut, Visitor};
use crate::layers::LayerKind;
use crate::model::network::Network;
use crate::progress::Progress;
use ndarray::{Array2, Array4, ArrayD, Axis, IxDyn};
use std::sync::Arc;

/// What the map explains.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// A class: its score before the final softmax.
    Class(usize),
    /// The mean activation of `channel` of the layer at position `layer`.
    Channel { layer: usize, channel: usize },
}

/// An attribution method and its arguments.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Method {
    GradCam,
    GradCamPlusPlus,
    /// Forward passes only: each channel of the layer, upsampled and scaled to [0, 1],
    /// masks the input; its weight is the score of the masked input (the class's
    /// probability when the model ends in a softmax). At most `max_channels` channels,
    /// those whose maps vary most.
    ScoreCam {
        max_channels: usize,
    },
    /// `max_c |d score / d x|`.
    Saliency,
    /// Saliency of the mean gradient over `samples` copies of the input with Gaussian
    /// noise of `noise × (max − min of the input)`, seeded.
    SmoothGrad {
        samples: usize,
        noise: f32,
        seed: u64,
    },
    /// `(x − b) ⊙ mean_s ∇score(b + s/steps · (x − b))`, summed over channels; `b` is
    /// the constant `baseline`. The map sums to about `score(x) − score(b)`.
    IntegratedGradients {
        steps: usize,
        baseline: f32,
    },
    /// `score(x) − score(x with a window × window patch set to 0)`, averaged over the
    /// patches (`stride` apart) covering each pixel. Forward passes only.
    Occlusion {
        window: usize,
        stride: usize,
    },
}

impl Method {
    /// The CLI's and the window's names.
    pub const NAMES: [&'static str; 7] = [
        "gradcam",
        "gradcam++",
        "scorecam",
        "saliency",
        "smoothgrad",
        "ig",
        "occlusion",
    ];

    /// The method of `name` with default arguments for an `h`×`w` input.
    pub fn parse(name: &str, [h, w]: [usize; 2]) -> Option<Method> {
        let window = (h.min(w) / 8).max(1);
        Some(match name {
            "gradcam" => Method::GradCam,
            "gradcam++" => Method::GradCamPlusPlus,
            "scorecam" => Method::ScoreCam { max_channels: 64 },
            "saliency" => Method::Saliency,
            "smoothgrad" => Method::SmoothGrad {
                samples: 20,
                noise: 0.2,
                seed: 0,
            },
            "ig" => Method::IntegratedGradients {
                steps: 32,
                baseline: 0.0,
            },
            "occlusion" => Method::Occlusion {
                window,
                stride: (window / 2).max(1),
            },
            _ => return None,
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Method::GradCam => "gradcam",
            Method::GradCamPlusPlus => "gradcam++",
            Method::ScoreCam { .. } => "scorecam",
            Method::Saliency => "saliency",
            Method::SmoothGrad { .. } => "smoothgrad",
            Method::IntegratedGradients { .. } => "ig",
            Method::Occlusion { .. } => "occlusion",
        }
    }

    /// Whether the map is at a layer's resolution (the class activation maps).
    pub fn uses_layer(&self) -> bool {
        matches!(
            self,
            Method::GradCam | Method::GradCamPlusPlus | Method::ScoreCam { .. }
        )
    }
}

/// An attribution map of sample 0.
#[derive(Clone, Debug)]
pub struct Attribution {
    /// The raw map: at the layer's resolution for the class activation maps, at the
    /// input's for the others.
    pub map: Array2<f32>,
    /// The map at the input's resolution (bilinear), for drawing over it.
    pub overlay: Array2<f32>,
    /// The layer of a class activation map.
    pub layer: Option<usize>,
    /// The target's score for the input as given.
    pub score: f32,
    /// Grad-CAM (or Grad-CAM++) at every layer where it applies, from
    /// [`Explainer::cam_at_every_layer`]: the layer and its map at its own resolution.
    pub per_layer: Vec<(usize, Array2<f32>)>,
}

/// A model ready to explain: the network read without its final softmax, its weights,
/// the inputs and the forward pass on them.
pub struct Explainer<'w, W> {
    net: Network,
    weights: &'w [W],
    inputs: Vec<Arc<ArrayD<f32>>>,
    acts: Vec<Option<LayerRun>>,
    /// The layer whose output holds the class scores.
    score_layer: usize,
    /// Whether the model's output was that layer's softmax.
    softmax: bool,
    /// Whether the first input is channels_first.
    input_cf: bool,
    /// Per layer: whether its output is channels_first (from the analysis, once).
    cf: Vec<bool>,
}

/// Sets a softmax activation argument to linear.
struct WithoutSoftmax(bool);

impl Visitor for WithoutSoftmax {
    fn arg(&mut self, _: &Arg, value: ArgMut<'_>) {
        if let ArgMut::Activation(a) = value
            && a == "softmax"
        {
            *a = "linear".into();
            self.0 = true;
        }
    }
}

/// Why an explanation could not be made.
pub type Error = String;

/// A network read for its class scores: the scores before the final softmax.
pub struct ClassScores {
    /// `net` with its output layer's softmax activation made linear (unchanged when the
    /// model ends in a Softmax layer or an `Activation("softmax")`, which are skipped).
    pub network: Network,
    /// The position of the layer holding the scores.
    pub score_layer: usize,
    /// Whether the model ends in a softmax.
    pub softmax: bool,
}

/// The class scores of `net` before its final softmax, as Grad-CAM (Selvaraju et al.,
/// Keras's example) and class visualization take them.
pub fn scores_before_softmax(net: &Network) -> Result<ClassScores, Error> {
    let mut net = net.clone();
    let out = *net.outputs().first().ok_or("the model has no output")?;
    let kind = &net.layers()[out].kind;
    let final_softmax = matches!(kind, LayerKind::Softmax(_))
        || matches!(kind, LayerKind::Activation(a) if a.activation == "softmax");
    let (score_layer, softmax) = match net.inputs_of(out)[..] {
        [from] if final_softmax => (from, true),
        _ => {
            let mut v = WithoutSoftmax(false);
            net.layer_mut(out).kind.spec_mut().args(&mut v);
            (out, v.0)
        }
    };
    Ok(ClassScores {
        network: net,
        score_layer,
        softmax,
    })
}

impl<'w, W: std::borrow::Borrow<LayerWeights>> Explainer<'w, W> {
    /// Reads `net` without its final softmax and runs it on `inputs` (one per model
    /// input, in its input order).
    pub fn new(
        net: &Network,
        weights: &'w [W],
        inputs: Vec<Arc<ArrayD<f32>>>,
    ) -> Result<Self, Error> {
        let ClassScores {
            network: net,
            score_layer,
            softmax,
        } = scores_before_softmax(net)?;
        let analysis = net.analyze();
        let input_cf = net
            .input_layers()
            .first()
            .and_then(|&i| analysis.layers.get(i))
            .is_some_and(|r| r.channels_first);
        let cf = analysis.layers.iter().map(|r| r.channels_first).collect();
        let acts = run_inputs(&net, weights, inputs.clone()).map_err(|e| e.to_string())?;
        Ok(Explainer {
            cf,
            net,
            weights,
            inputs,
            acts,
            score_layer,
            softmax,
            input_cf,
        })
    }

    /// The network as explained (without its final softmax).
    pub fn network(&self) -> &Network {
        &self.net
    }

    /// The position of the layer holding the class scores.
    pub fn score_layer(&self) -> usize {
        self.score_layer
    }

    /// Sample 0's class scores (before the softmax) and, when the model ends in one,
    /// its probabilities.
    pub fn class_scores(&self) -> Result<(Vec<f32>, Option<Vec<f32>>), Error> {
        let y = self.output(&self.acts, self.score_layer)?;
        let classes = y.shape().last().copied().unwrap_or(0);
        if classes == 0 || y.ndim() < 2 {
            return Err(format!("the output has no classes (shape {:?})", y.shape()));
        }
        let mut scores = vec![0f32; classes];
        if let Some(s0) = y.axis_iter(Axis(0)).next() {
            for (i, v) in s0.iter().enumerate() {
                scores[i % classes.max(1)] += v;
            }
        }
        let probs = self.softmax.then(|| softmax(&scores));
        Ok((scores, probs))
    }

    /// The last layer with a rank-4 output that the target's score depends on (the
    /// score layer itself when it is one), in Keras's `model.layers` order, which holds
    /// no operations (`keras.src.ops` nodes such as a residual `x + y`).
    pub fn default_cam_layer(&self, target: Target) -> Option<usize> {
        let from = self.target_layer(target);
        let mut needed = vec![false; self.net.len()];
        if let Some(n) = needed.get_mut(from) {
            *n = true;
        }
        for i in (0..=from.min(self.net.len().saturating_sub(1))).rev() {
            if needed[i] {
                for j in self.net.inputs_of(i) {
                    needed[j] = true;
                }
            }
        }
        // `model.layers` order, without Keras's operations (which are not layers).
        self.net.keras_order().into_iter().rev().find(|&i| {
            let kind = &self.net.layers()[i].kind;
            needed[i]
                && !kind.is_input()
                && !kind.facts().is_operation()
                && self
                    .acts
                    .get(i)
                    .and_then(|a| a.as_ref())
                    .is_some_and(|a| a.output.ndim() == 4)
        })
    }

    fn target_layer(&self, target: Target) -> usize {
        match target {
            Target::Class(_) => self.score_layer,
            Target::Channel { layer, .. } => layer,
        }
    }

    fn output<'a>(&self, acts: &'a [Option<LayerRun>], i: usize) -> Result<&'a ArrayD<f32>, Error> {
        acts.get(i)
            .and_then(|a| a.as_ref())
            .map(|a| a.output.as_ref())
            .ok_or_else(|| format!("layer {i} has no output"))
    }

    fn channels_first(&self, i: usize) -> bool {
        self.cf.get(i).copied().unwrap_or(false)
    }

    /// The cotangent whose product with the target layer's output is the score.
    fn seed(&self, target: Target, y: &ArrayD<f32>) -> Result<ArrayD<f32>, Error> {
        let mut seed = ArrayD::<f32>::zeros(y.raw_dim());
        let Some(mut s0) = seed.axis_iter_mut(Axis(0)).next() else {
            return Err("the batch is empty".into());
        };
        if s0.ndim() == 0 {
            return Err(format!(
                "the output of shape {:?} has no class axis",
                y.shape()
            ));
        }
        match target {
            Target::Class(k) => {
                let classes = y.shape().last().copied().unwrap_or(0);
                if k >= classes {
                    return Err(format!(
                        "class {k} is out of range: the model has {classes} classes"
                    ));
                }
                let last = s0.ndim() - 1;
                s0.index_axis_mut(Axis(last), k).fill(1.0);
            }
            Target::Channel { layer, channel } => {
                let cf = self.channels_first(layer) && y.ndim() == 4;
                let axis = if cf { 0 } else { s0.ndim() - 1 };
                let channels = s0.shape()[axis];
                if channel >= channels {
                    return Err(format!(
                        "channel {channel} is out of range: layer '{}' has {channels} channels",
                        self.net.layers()[layer].name
                    ));
                }
                let mut c = s0.index_axis_mut(Axis(axis), channel);
                let n = c.len().max(1) as f32;
                c.fill(1.0 / n);
            }
        }
        Ok(seed)
    }

    /// The target's score for the activations `acts`.
    fn score_in(&self, acts: &[Option<LayerRun>], target: Target) -> Result<f32, Error> {
        let y = self.output(acts, self.target_layer(target))?;
        let seed = self.seed(target, y)?;
        Ok(y.iter().zip(&seed).map(|(a, b)| a * b).sum())
    }

    /// The score Score-CAM weighs by: the class's probability when the model ends in a
    /// softmax, else the score.
    fn score_cam_weight(&self, acts: &[Option<LayerRun>], target: Target) -> Result<f32, Error> {
        match target {
            Target::Class(k) if self.softmax => {
                let y = self.output(acts, self.score_layer)?;
                let row: Vec<f32> = y
                    .axis_iter(Axis(0))
                    .next()
                    .map(|r| r.iter().copied().collect())
                    .unwrap_or_default();
                Ok(softmax(&row).get(k).copied().unwrap_or(0.0))
            }
            _ => self.score_in(acts, target),
        }
    }

    fn run(&self, inputs: Vec<Arc<ArrayD<f32>>>) -> Result<Vec<Option<LayerRun>>, Error> {
        run_inputs(&self.net, self.weights, inputs).map_err(|e| e.to_string())
    }

    /// d score / d (the outputs of the layers from `down_to` on, and the inputs), for
    /// the activations `acts`.
    fn gradients(
        &self,
        acts: &[Option<LayerRun>],
        target: Target,
        down_to: usize,
        progress: &Progress,
    ) -> Result<crate::engine::backward::Gradients, Error> {
        let t = self.target_layer(target);
        let seed = self.seed(target, self.output(acts, t)?)?;
        let wanted = Wanted {
            weights: false,
            outputs: false,
            down_to,
        };
        // The passes are counted by the caller: a fresh counter for the backward pass.
        cancelled(progress)?;
        backward(
            &self.net,
            self.weights,
            acts,
            vec![(t, seed)],
            wanted,
            &Progress::new(),
        )
        .map_err(|e| e.to_string())
    }

    /// The first input as NHWC, sample 0 kept with its batch axis.
    fn image(&self) -> Result<Array4<f32>, Error> {
        let x = self.inputs.first().ok_or("the model has no input")?;
        nhwc(x, self.input_cf)
    }

    /// The map of `method` for `target` (Grad-CAM's family at `layer`, or the default
    /// layer). Counts its passes on `progress` and stops when it is cancelled.
    pub fn explain(
        &self,
        target: Target,
        method: Method,
        layer: Option<usize>,
        progress: &Progress,
    ) -> Result<Attribution, Error> {
        let x = self.image()?;
        let (_, h, w, _) = x.dim();
        let score = self.score_in(&self.acts, target)?;
        let cam_layer = if method.uses_layer() {
            Some(
                layer
                    .or_else(|| self.default_cam_layer(target))
                    .ok_or("no layer before the score has a spatial (rank-4) output")?,
            )
        } else {
            None
        };
        let map = match (method, cam_layer) {
            (Method::GradCam | Method::GradCamPlusPlus, Some(l)) => {
                progress.set_total(1);
                let a = nhwc(self.output(&self.acts, l)?, self.channels_first(l))?;
                let g = self.gradients(&self.acts, target, l + 1, progress)?;
                let dy = g.outputs.get(l).and_then(|o| o.as_ref());
                let dy = match dy {
                    Some(d) => nhwc(d, self.channels_first(l))?,
                    None => Array4::zeros(a.raw_dim()),
                };
                progress.advance(1);
                if method == Method::GradCam {
                    grad_cam(&a, &dy)
                } else {
                    grad_cam_plus_plus(&a, &dy)
                }
            }
            (Method::ScoreCam { max_channels }, Some(l)) => {
                self.score_cam(target, l, max_channels, progress)?
            }
            (Method::Saliency, _) => {
                progress.set_total(1);
                let g = self.input_gradient(&self.inputs, target, progress)?;
                progress.advance(1);
                channel_max_abs(&g)
            }
            (
                Method::SmoothGrad {
                    samples,
                    noise,
                    seed,
                },
                _,
            ) => {
                let samples = samples.max(1);
                progress.set_total(samples as u64);
                let x0 = self.inputs[0].as_ref();
                let (lo, hi) = x0
                    .iter()
                    .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
                        (a.min(v), b.max(v))
                    });
                let sigma = noise * (hi - lo).max(0.0);
                let mut rng = crate::engine::init::Rng::new(seed);
                let mut sum: Option<Array4<f32>> = None;
                for _ in 0..samples {
                    cancelled(progress)?;
                    let noisy = x0.mapv(|v| v + sigma * rng.normal() as f32);
                    let mut inputs = self.inputs.clone();
                    inputs[0] = Arc::new(noisy);
                    let g = self.input_gradient(&inputs, target, progress)?;
                    sum = Some(match sum {
                        Some(s) => s + &g,
                        None => g,
                    });
                    progress.advance(1);
                }
                let mean = sum.unwrap_or_else(|| Array4::zeros(x.raw_dim())) / samples as f32;
                channel_max_abs(&mean)
            }
            (Method::IntegratedGradients { steps, baseline }, _) => {
                let steps = steps.max(1);
                progress.set_total(steps as u64);
                let x0 = self.inputs[0].as_ref();
                let mut sum: Option<Array4<f32>> = None;
                for s in 1..=steps {
                    cancelled(progress)?;
                    let t = s as f32 / steps as f32;
                    let mut inputs = self.inputs.clone();
                    inputs[0] = Arc::new(x0.mapv(|v| baseline + t * (v - baseline)));
                    let g = self.input_gradient(&inputs, target, progress)?;
                    sum = Some(match sum {
                        Some(acc) => acc + &g,
                        None => g,
                    });
                    progress.advance(1);
                }
                let mean = sum.unwrap_or_else(|| Array4::zeros(x.raw_dim())) / steps as f32;
                let diff = x.mapv(|v| v - baseline);
                let attr = mean * &diff;
                attr.index_axis(Axis(0), 0).sum_axis(Axis(2))
            }
            (Method::Occlusion { window, stride }, _) => {
                self.occlusion(target, window, stride, score, progress)?
            }
            _ => return Err("no layer for the class activation map".into()),
        };
        let overlay = resize(&map, [h, w]);
        Ok(Attribution {
            map,
            overlay,
            layer: cam_layer,
            score,
            per_layer: Vec::new(),
        })
    }

    /// Grad-CAM (`plus`: Grad-CAM++) of `target` at every layer of `model.layers` with a
    /// rank-4 output the score depends on, in that order, from one backward pass that
    /// keeps every output's gradient.
    pub fn cam_at_every_layer(
        &self,
        target: Target,
        plus: bool,
        progress: &Progress,
    ) -> Result<Vec<(usize, Array2<f32>)>, Error> {
        cancelled(progress)?;
        let t = self.target_layer(target);
        let seed = self.seed(target, self.output(&self.acts, t)?)?;
        let wanted = Wanted {
            weights: false,
            outputs: true,
            down_to: 0,
        };
        let g = backward(
            &self.net,
            self.weights,
            &self.acts,
            vec![(t, seed)],
            wanted,
            &Progress::new(),
        )
        .map_err(|e| e.to_string())?;
        let mut maps = Vec::new();
        for i in self.net.keras_order() {
            let kind = &self.net.layers()[i].kind;
            if kind.is_input() || kind.facts().is_operation() {
                continue;
            }
            let (Some(dy), Ok(a)) = (
                g.outputs.get(i).and_then(|o| o.as_ref()),
                self.output(&self.acts, i),
            ) else {
                continue;
            };
            if a.ndim() != 4 || dy.iter().all(|&v| v == 0.0) {
                continue;
            }
            let cf = self.channels_first(i);
            let (a, dy) = (nhwc(a, cf)?, nhwc(dy, cf)?);
            maps.push((
                i,
                if plus {
                    grad_cam_plus_plus(&a, &dy)
                } else {
                    grad_cam(&a, &dy)
                },
            ));
        }
        Ok(maps)
    }

    /// d score / d the first input (sample 0, NHWC) on `inputs`.
    fn input_gradient(
        &self,
        inputs: &[Arc<ArrayD<f32>>],
        target: Target,
        progress: &Progress,
    ) -> Result<Array4<f32>, Error> {
        let acts = self.run(inputs.to_vec())?;
        let g = self.gradients(&acts, target, 0, progress)?;
        let g0 = g.inputs.first().ok_or("the model has no input")?;
        nhwc(g0, self.input_cf)
    }

    fn score_cam(
        &self,
        target: Target,
        l: usize,
        max_channels: usize,
        progress: &Progress,
    ) -> Result<Array2<f32>, Error> {
        let a = nhwc(self.output(&self.acts, l)?, self.channels_first(l))?;
        let x = self.image()?;
        let (_, h, w, _) = x.dim();
        let (_, ah, aw, k) = a.dim();
        let maps: Vec<Array2<f32>> = (0..k)
            .map(|c| a.index_axis(Axis(0), 0).index_axis(Axis(2), c).to_owned())
            .collect();
        // The channels whose maps vary most.
        let mut order: Vec<(usize, f32)> = maps
            .iter()
            .enumerate()
            .map(|(c, m)| {
                let mean = m.mean().unwrap_or(0.0);
                (c, m.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>())
            })
            .filter(|&(_, var)| var > 0.0)
            .collect();
        order.sort_by(|p, q| q.1.total_cmp(&p.1));
        order.truncate(max_channels.max(1));
        progress.set_total(order.len() as u64);
        let mut cam = Array2::<f32>::zeros((ah, aw));
        for &(c, _) in &order {
            cancelled(progress)?;
            let up = resize(&maps[c], [h, w]);
            let (lo, hi) = up
                .iter()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(p, q), &v| {
                    (p.min(v), q.max(v))
                });
            let mask = up.mapv(|v| (v - lo) / (hi - lo).max(f32::MIN_POSITIVE));
            let x0 = self.inputs[0].as_ref();
            let masked = mask_input(x0, &mask, self.input_cf)?;
            let mut inputs = self.inputs.clone();
            inputs[0] = Arc::new(masked);
            let acts = self.run(inputs)?;
            let weight = self.score_cam_weight(&acts, target)?;
            cam.scaled_add(weight, &maps[c]);
            progress.advance(1);
        }
        Ok(cam.mapv(|v| v.max(0.0)))
    }

    fn occlusion(
        &self,
        target: Target,
        window: usize,
        stride: usize,
        score: f32,
        progress: &Progress,
    ) -> Result<Array2<f32>, Error> {
        let x = self.image()?;
        let (_, h, w, _) = x.dim();
        let window = window.clamp(1, h.max(w).max(1));
        let stride = stride.max(1);
        let starts = |n: usize| -> Vec<usize> {
            let last = n.saturating_sub(window);
            let mut v: Vec<usize> = (0..=last).step_by(stride).collect();
            if v.last() != Some(&last) {
                v.push(last);
            }
            v
        };
        let (rows, cols) = (starts(h), starts(w));
        progress.set_total((rows.len() * cols.len()) as u64);
        let mut sum = Array2::<f32>::zeros((h, w));
        let mut count = Array2::<f32>::zeros((h, w));
        let x0 = self.inputs[0].as_ref();
        for &r in &rows {
            for &c in &cols {
                cancelled(progress)?;
                let mut mask = Array2::<f32>::ones((h, w));
                mask.slice_mut(ndarray::s![r..(r + window).min(h), c..(c + window).min(w)])
                    .fill(0.0);
                let mut inputs = self.inputs.clone();
                inputs[0] = Arc::new(mask_input(x0, &mask, self.input_cf)?);
                let acts = self.run(inputs)?;
                let drop = score - self.score_in(&acts, target)?;
                let mut s =
                    sum.slice_mut(ndarray::s![r..(r + window).min(h), c..(c + window).min(w)]);
                s += drop;
                let mut n =
                    count.slice_mut(ndarray::s![r..(r + window).min(h), c..(c + window).min(w)]);
                n += 1.0;
                progress.advance(1);
            }
        }
        Ok(sum / count.mapv(|n| n.max(1.0)))
    }
}

fn cancelled(progress: &Progress) -> Result<(), Error> {
    if progress.cancelled() {
        Err("cancelled".into())
    } else {
        Ok(())
    }
}

/// Grad-CAM: `ReLU(Σ_k α_k A_k)`, `α_k` the mean over rows and columns of `dy_k`
/// (sample 0).
pub fn grad_cam(a: &Array4<f32>, dy: &Array4<f32>) -> Array2<f32> {
    let a0 = a.index_axis(Axis(0), 0);
    let g0 = dy.index_axis(Axis(0), 0);
    let (h, w, k) = a0.dim();
    let n = (h * w).max(1) as f32;
    let alpha: Vec<f32> = (0..k)
        .map(|c| g0.index_axis(Axis(2), c).sum() / n)
        .collect();
    Array2::from_shape_fn((h, w), |(i, j)| {
        let s: f32 = (0..k).map(|c| alpha[c] * a0[[i, j, c]]).sum();
        s.max(0.0)
    })
}

/// Grad-CAM++ (Chattopadhyay et al., eq. 19, with the exponential score's higher
/// derivatives as powers of the gradient): `w_k = Σ_ij α_ij^k ReLU(g_ij^k)`,
/// `α = g² / (2g² + Σ_ab A_ab g³)`, map `ReLU(Σ_k w_k A_k)`.
pub fn grad_cam_plus_plus(a: &Array4<f32>, dy: &Array4<f32>) -> Array2<f32> {
    let a0 = a.index_axis(Axis(0), 0);
    let g0 = dy.index_axis(Axis(0), 0);
    let (h, w, k) = a0.dim();
    let weights: Vec<f32> = (0..k)
        .map(|c| {
            let ac = a0.index_axis(Axis(2), c);
            let gc = g0.index_axis(Axis(2), c);
            let total: f32 = ac.sum();
            gc.iter()
                .map(|&g| {
                    let g2 = g * g;
                    let denom = 2.0 * g2 + total * g2 * g;
                    let alpha = if denom != 0.0 { g2 / denom } else { 0.0 };
                    alpha * g.max(0.0)
                })
                .sum()
        })
        .collect();
    Array2::from_shape_fn((h, w), |(i, j)| {
        let s: f32 = (0..k).map(|c| weights[c] * a0[[i, j, c]]).sum();
        s.max(0.0)
    })
}

/// `max_c |g|` of sample 0.
fn channel_max_abs(g: &Array4<f32>) -> Array2<f32> {
    g.index_axis(Axis(0), 0)
        .map_axis(Axis(2), |px| px.iter().fold(0f32, |m, v| m.max(v.abs())))
}

/// `x` (rank 4, in its layout) as NHWC.
fn nhwc(x: &ArrayD<f32>, cf: bool) -> Result<Array4<f32>, Error> {
    let v = x
        .view()
        .into_dimensionality::<ndarray::Ix4>()
        .map_err(|_| {
            format!(
                "attribution maps need image (rank-4) tensors; this one has shape {:?}",
                x.shape()
            )
        })?;
    Ok(if cf {
        v.permuted_axes([0, 2, 3, 1])
            .as_standard_layout()
            .into_owned()
    } else {
        v.as_standard_layout().into_owned()
    })
}

/// `x ⊙ mask`, the (h, w) mask broadcast over channels and samples.
fn mask_input(x: &ArrayD<f32>, mask: &Array2<f32>, cf: bool) -> Result<ArrayD<f32>, Error> {
    let (h, w) = mask.dim();
    let shape: Vec<usize> = if cf {
        vec![1, 1, h, w]
    } else {
        vec![1, h, w, 1]
    };
    let m = mask
        .clone()
        .into_shape_with_order(IxDyn(&shape))
        .map_err(|e| e.to_string())?;
    let m = m
        .broadcast(x.raw_dim())
        .ok_or("the mask does not fit the input")?;
    Ok(x * &m)
}

/// A map resized bilinearly (half-pixel centres, as the overlay and Keras's example
/// resize it).
pub fn resize(map: &Array2<f32>, [h, w]: [usize; 2]) -> Array2<f32> {
    let (mh, mw) = map.dim();
    if (mh, mw) == (h, w) {
        return map.clone();
    }
    let x = map
        .clone()
        .into_shape_with_order((1, mh, mw, 1))
        .unwrap_or_else(|_| Array4::zeros((1, 0, 0, 1)));
    let y = crate::kernels::resize_bilinear(x.view(), h, w);
    y.into_shape_with_order((h, w))
        .unwrap_or_else(|_| Array2::zeros((h, w)))
}

fn softmax(v: &[f32]) -> Vec<f32> {
    let m = v.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
    let e: Vec<f32> = v.iter().map(|x| (x - m).exp()).collect();
    let s: f32 = e.iter().sum();
    e.iter().map(|x| x / s).collect()
}
