//! What a channel looks for: feature visualization by activation maximization, as
//! Lucid and OpenAI Microscope make it. From seeded noise, gradient ascent (Adam) on
//! the image that maximizes the mean activation of a channel (or a class's score,
//! before the final softmax), with Lucid's regularization: the image lives in a
//! decorrelated frequency space — an orthonormal 2-D DCT whose coefficients are scaled
//! by 1/frequency, then ImageNet's colour correlation, then a sigmoid to [0, 1] — and
//! each step sees it jittered, scaled and rotated at random (and optionally blurred),
//! so only what survives those transformations grows.
//!
//! Every step is one forward and one backward pass of the engine; the gradient goes
//! back through the transformations and the parameterization exactly (each is linear
//! or element-wise, with its transpose written out here).

use crate::engine::backward::{Wanted, backward};
use crate::engine::forward::{LayerWeights, run_inputs};
use crate::engine::init::Rng;
use crate::model::network::Network;
use crate::progress::Progress;
use ndarray::{Array2, Array3, ArrayD, Axis, IxDyn};
use std::sync::Arc;

/// What is maximized.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Objective {
    /// The mean over rows and columns of `channel` of the layer at position `layer`.
    Channel { layer: usize, channel: usize },
    /// A class's score on the last axis of the output layer at position `layer`.
    Class { layer: usize, class: usize },
}

/// How a picture in [0, 1] becomes the model's input: `x_c = p_c · scale_c + offset_c`,
/// the channels reversed first when `reverse` (Caffe's BGR).
#[derive(Clone, Debug, PartialEq)]
pub struct InputMap {
    pub scale: [f32; 3],
    pub offset: [f32; 3],
    pub reverse: bool,
}

impl Default for InputMap {
    fn default() -> Self {
        InputMap {
            scale: [1.0; 3],
            offset: [0.0; 3],
            reverse: false,
        }
    }
}

/// The ascent's settings (Lucid's defaults).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Settings {
    pub steps: usize,
    pub learning_rate: f32,
    pub seed: u64,
    /// Largest random shift, in pixels.
    pub jitter: usize,
    /// Random scaling in `1 ± scale`.
    pub scale: f32,
    /// Random rotation within ± this many degrees.
    pub rotate: f32,
    /// Gaussian blur of the image each step (sigma in pixels; 0: none).
    pub blur: f32,
    /// 1/frequency^decay scaling of the spectrum.
    pub decay: f32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            steps: 256,
            learning_rate: 0.05,
            seed: 0,
            jitter: 8,
            scale: 0.1,
            rotate: 10.0,
            blur: 0.0,
            decay: 1.0,
        }
    }
}

/// The result: the picture (h, w, 3) in [0, 1] and the objective at each step.
#[derive(Clone, Debug)]
pub struct Visualization {
    pub image: Array3<f32>,
    pub objective: Vec<f32>,
}

/// Lucid's colour correlation of ImageNet (the square root of its covariance), rows
/// normalised by the largest column norm.
const COLOR: [[f32; 3]; 3] = [[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]];

fn color_matrix() -> [[f32; 3]; 3] {
    let norm = (0..3)
        .map(|j| {
            (0..3)
                .map(|i| COLOR[i][j] * COLOR[i][j])
                .sum::<f32>()
                .sqrt()
        })
        .fold(0f32, f32::max);
    COLOR.map(|r| r.map(|v| v / norm))
}

/// The orthonormal DCT-II matrix of size n: `C[k][i]`, so `X = C x` and `x = Cᵀ X`.
fn dct_matrix(n: usize) -> Array2<f32> {
    Array2::from_shape_fn((n, n), |(k, i)| {
        let a = if k == 0 {
            (1.0 / n as f64).sqrt()
        } else {
            (2.0 / n as f64).sqrt()
        };
        (a * (std::f64::consts::PI * (i as f64 + 0.5) * k as f64 / n as f64).cos()) as f32
    })
}

/// The frequency-space picture: coefficients `(3, h, w)`, their scales, the DCT matrices.
struct Picture {
    coeffs: Array3<f32>,
    scales: Array2<f32>,
    ch: Array2<f32>,
    cw: Array2<f32>,
    color: [[f32; 3]; 3],
}

impl Picture {
    fn new(h: usize, w: usize, decay: f32, rng: &mut Rng) -> Picture {
        let scales = Array2::from_shape_fn((h, w), |(u, v)| {
            let f =
                ((u as f32 / (2 * h) as f32).powi(2) + (v as f32 / (2 * w) as f32).powi(2)).sqrt();
            1.0 / f.max(1.0 / h.max(w) as f32).powf(decay)
        });
        // Lucid's initial spectrum: N(0, 0.01²).
        let coeffs = Array3::from_shape_fn((3, h, w), |_| 0.01 * rng.normal() as f32);
        Picture {
            coeffs,
            // Lucid's fft_image divides the image by 4.
            scales: scales.mapv(|s| s / 4.0),
            ch: dct_matrix(h),
            cw: dct_matrix(w),
            color: color_matrix(),
        }
    }

    /// The colour-correlated spatial values before the sigmoid, `(h, w, 3)`.
    fn spatial(&self) -> Array3<f32> {
        let (_, h, w) = self.coeffs.dim();
        let mut planes = Vec::with_capacity(3);
        for c in 0..3 {
            let s = &self.coeffs.index_axis(Axis(0), c) * &self.scales;
            planes.push(self.ch.t().dot(&s).dot(&self.cw));
        }
        let m = self.color;
        Array3::from_shape_fn((h, w, 3), |(i, j, c)| {
            (0..3).map(|k| m[c][k] * planes[k][[i, j]]).sum()
        })
    }

    /// The picture in [0, 1], `(h, w, 3)`.
    fn image(&self) -> Array3<f32> {
        self.spatial().mapv(sigmoid)
    }

    /// The gradient with respect to the coefficients of one with respect to the image.
    fn backward(&self, image: &Array3<f32>, d_image: &Array3<f32>) -> Array3<f32> {
        let (_, h, w) = self.coeffs.dim();
        let d_spatial = ndarray::Zip::from(d_image)
            .and(image)
            .map_collect(|&g, &p| g * p * (1.0 - p));
        let m = self.color;
        let mut out = Array3::<f32>::zeros((3, h, w));
        for (k, mut dk) in out.axis_iter_mut(Axis(0)).enumerate() {
            let plane = Array2::from_shape_fn((h, w), |(i, j)| {
                (0..3).map(|c| m[c][k] * d_spatial[[i, j, c]]).sum()
            });
            dk.assign(&(self.ch.dot(&plane).dot(&self.cw.t()) * &self.scales));
        }
        out
    }
}

fn sigmoid(v: f32) -> f32 {
    1.0 / (1.0 + (-v).exp())
}

/// A random similarity transform: output pixel (y, x) samples the source at
/// `A · ((y, x) − centre) + centre + shift`.
#[derive(Clone, Copy)]
struct Warp {
    a: [[f32; 2]; 2],
    shift: [f32; 2],
    centre: [f32; 2],
}

impl Warp {
    fn random(s: &Settings, h: usize, w: usize, rng: &mut Rng) -> Warp {
        let scale = 1.0 + s.scale * (2.0 * (rng.uniform() as f32) - 1.0);
        let angle = s.rotate.to_radians() * (2.0 * (rng.uniform() as f32) - 1.0);
        let (sin, cos) = angle.sin_cos();
        let j = s.jitter as f32;
        Warp {
            a: [[cos / scale, -sin / scale], [sin / scale, cos / scale]],
            shift: [
                j * (2.0 * (rng.uniform() as f32) - 1.0),
                j * (2.0 * (rng.uniform() as f32) - 1.0),
            ],
            centre: [(h as f32 - 1.0) / 2.0, (w as f32 - 1.0) / 2.0],
        }
    }

    /// The source position of output pixel (y, x), clamped to the image (edge pixels
    /// repeat).
    fn source(
        &self,
        y: usize,
        x: usize,
        h: usize,
        w: usize,
    ) -> (usize, usize, usize, usize, f32, f32) {
        let (dy, dx) = (y as f32 - self.centre[0], x as f32 - self.centre[1]);
        let sy = (self.a[0][0] * dy + self.a[0][1] * dx + self.centre[0] + self.shift[0])
            .clamp(0.0, h as f32 - 1.0);
        let sx = (self.a[1][0] * dy + self.a[1][1] * dx + self.centre[1] + self.shift[1])
            .clamp(0.0, w as f32 - 1.0);
        let (y0, x0) = (sy.floor() as usize, sx.floor() as usize);
        (
            (y0),
            (y0 + 1).min(h - 1),
            x0,
            (x0 + 1).min(w - 1),
            sy - y0 as f32,
            sx - x0 as f32,
        )
    }

    /// Bilinear sampling of `img` (h, w, c).
    fn apply(&self, img: &Array3<f32>) -> Array3<f32> {
        let (h, w, c) = img.dim();
        Array3::from_shape_fn((h, w, c), |(y, x, ch)| {
            let (y0, y1, x0, x1, fy, fx) = self.source(y, x, h, w);
            let top = img[[y0, x0, ch]] * (1.0 - fx) + img[[y0, x1, ch]] * fx;
            let bot = img[[y1, x0, ch]] * (1.0 - fx) + img[[y1, x1, ch]] * fx;
            top * (1.0 - fy) + bot * fy
        })
    }

    /// The transpose of [`Warp::apply`]: each output's gradient back to its four taps.
    fn backward(&self, d: &Array3<f32>) -> Array3<f32> {
        let (h, w, c) = d.dim();
        let mut out = Array3::<f32>::zeros((h, w, c));
        for y in 0..h {
            for x in 0..w {
                let (y0, y1, x0, x1, fy, fx) = self.source(y, x, h, w);
                for ch in 0..c {
                    let g = d[[y, x, ch]];
                    out[[y0, x0, ch]] += g * (1.0 - fy) * (1.0 - fx);
                    out[[y0, x1, ch]] += g * (1.0 - fy) * fx;
                    out[[y1, x0, ch]] += g * fy * (1.0 - fx);
                    out[[y1, x1, ch]] += g * fy * fx;
                }
            }
        }
        out
    }
}

/// The Gaussian taps of `sigma` (radius 3σ), summing to 1.
fn gaussian(sigma: f32) -> (isize, Vec<f32>) {
    let r = (3.0 * sigma).ceil() as isize;
    let k: Vec<f32> = (-r..=r)
        .map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp())
        .collect();
    let total: f32 = k.iter().sum();
    (r, k.iter().map(|v| v / total).collect())
}

/// A separable Gaussian blur, edges clamped (`transpose`: its transpose, which differs
/// from it at the edges: a clamped tap's weight goes back to the edge pixel it read).
fn blur_with(img: &Array3<f32>, sigma: f32, transpose: bool) -> Array3<f32> {
    if sigma <= 0.0 {
        return img.clone();
    }
    let (r, k) = gaussian(sigma);
    let (h, w, c) = img.dim();
    let pass = |src: &Array3<f32>, vertical: bool| {
        let mut out = Array3::<f32>::zeros((h, w, c));
        let n = if vertical { h } else { w } as isize;
        for y in 0..h {
            for x in 0..w {
                let at = if vertical { y } else { x } as isize;
                for (t, kv) in k.iter().enumerate() {
                    let o = (at + t as isize - r).clamp(0, n - 1) as usize;
                    let (yy, xx) = if vertical { (o, x) } else { (y, o) };
                    for ch in 0..c {
                        if transpose {
                            out[[yy, xx, ch]] += kv * src[[y, x, ch]];
                        } else {
                            out[[y, x, ch]] += kv * src[[yy, xx, ch]];
                        }
                    }
                }
            }
        }
        out
    };
    if transpose {
        pass(&pass(img, false), true)
    } else {
        pass(&pass(img, true), false)
    }
}

fn blur(img: &Array3<f32>, sigma: f32) -> Array3<f32> {
    blur_with(img, sigma, false)
}

/// The input map's forward: the picture (h, w, 3) as the model's input (1, h, w, c) or
/// (1, c, h, w). Grey models take the mean of the channels.
fn to_input(p: &Array3<f32>, map: &InputMap, channels: usize, cf: bool) -> ArrayD<f32> {
    let (h, w, _) = p.dim();
    let value = |y: usize, x: usize, c: usize| -> f32 {
        if channels == 3 {
            let src = if map.reverse { 2 - c } else { c };
            p[[y, x, src]] * map.scale[c] + map.offset[c]
        } else {
            (p[[y, x, 0]] + p[[y, x, 1]] + p[[y, x, 2]]) / 3.0 * map.scale[0] + map.offset[0]
        }
    };
    if cf {
        ArrayD::from_shape_fn(IxDyn(&[1, channels, h, w]), |i| value(i[2], i[3], i[1]))
    } else {
        ArrayD::from_shape_fn(IxDyn(&[1, h, w, channels]), |i| value(i[1], i[2], i[3]))
    }
}

/// The transpose of [`to_input`].
fn from_input_grad(
    g: &ArrayD<f32>,
    map: &InputMap,
    cf: bool,
    (h, w): (usize, usize),
) -> Array3<f32> {
    let channels = if cf { g.shape()[1] } else { g.shape()[3] };
    let at = |y: usize, x: usize, c: usize| if cf { g[[0, c, y, x]] } else { g[[0, y, x, c]] };
    Array3::from_shape_fn((h, w, 3), |(y, x, c)| {
        if channels == 3 {
            let dst = if map.reverse { 2 - c } else { c };
            at(y, x, dst) * map.scale[dst]
        } else {
            at(y, x, 0) * map.scale[0] / 3.0
        }
    })
}

/// Steps between two pictures handed to [`visualize`]'s `each` (the window's live view).
pub const SNAPSHOT_EVERY: usize = 16;

/// Maximizes `objective` of `net` (one image input of `h`×`w` pixels and 1 or 3
/// channels) with `weights`; one unit of `progress` per step (added to its total when
/// that is smaller), stopping with
/// "cancelled" when it is cancelled. `each(step, picture)` sees the picture every
/// [`SNAPSHOT_EVERY`] steps.
pub fn visualize<W: std::borrow::Borrow<LayerWeights>>(
    net: &Network,
    weights: &[W],
    objective: Objective,
    map: &InputMap,
    s: &Settings,
    progress: &Progress,
    each: &mut dyn FnMut(usize, &Array3<f32>),
) -> Result<Visualization, String> {
    let input = *net.input_layers().first().ok_or("the model has no input")?;
    if net.input_layers().len() != 1 {
        return Err("feature visualization needs a model with one input".into());
    }
    let analysis = net.analyze();
    if let Some(e) = analysis.error(net) {
        return Err(e);
    }
    let shape = analysis.layers[input]
        .output_shape
        .clone()
        .ok_or("the input has no shape")?;
    let cf = analysis.layers[input].channels_first;
    let dims: Vec<usize> = shape
        .iter()
        .skip(1)
        .map(|d| d.unwrap_or(0).max(0) as usize)
        .collect();
    let (h, w, channels) = match dims[..] {
        [a, b, c] if cf => (b, c, a),
        [a, b, c] => (a, b, c),
        _ => return Err("feature visualization needs an image (rank-4) input".into()),
    };
    if !(channels == 1 || channels == 3) || h == 0 || w == 0 {
        return Err(format!(
            "feature visualization needs 1 or 3 channels, not {channels}"
        ));
    }
    let mut rng = Rng::new(s.seed);
    let mut pic = Picture::new(h, w, s.decay, &mut rng);
    let mut adam = Adam::new(pic.coeffs.len());
    let mut values = Vec::with_capacity(s.steps);
    // This run's steps join the total (a caller making several sets it beforehand).
    let (done, total) = progress.counts();
    if total < done + s.steps as u64 {
        progress.set_total(done + s.steps as u64);
    }
    for step in 0..s.steps {
        if progress.cancelled() {
            return Err("cancelled".into());
        }
        let image = pic.image();
        if step % SNAPSHOT_EVERY == 0 {
            each(step, &image);
        }
        let warp = Warp::random(s, h, w, &mut rng);
        let seen = blur(&warp.apply(&image), s.blur);
        let x = to_input(&seen, map, channels, cf);
        let acts = run_inputs(net, weights, vec![Arc::new(x)]).map_err(|e| e.to_string())?;
        let (layer, seed, value) = seed_for(net, &acts, objective, &analysis)?;
        values.push(value);
        let wanted = Wanted::default();
        let g = backward(
            net,
            weights,
            &acts,
            vec![(layer, seed)],
            wanted,
            &Progress::new(),
        )
        .map_err(|e| e.to_string())?;
        let d_seen = from_input_grad(&g.inputs[0], map, cf, (h, w));
        let d_image = warp.backward(&blur_with(&d_seen, s.blur, true));
        let d_coeffs = pic.backward(&image, &d_image);
        // Ascent: Adam on the negated objective.
        adam.step(
            pic.coeffs
                .as_slice_mut()
                .ok_or("coefficients not contiguous")?,
            d_coeffs.as_slice().ok_or("gradient not contiguous")?,
            s.learning_rate,
        );
        progress.advance(1);
    }
    Ok(Visualization {
        image: pic.image(),
        objective: values,
    })
}

/// The cotangent of the objective's layer and the objective's value.
fn seed_for(
    net: &Network,
    acts: &[Option<crate::engine::forward::LayerRun>],
    objective: Objective,
    analysis: &crate::model::analysis::Analysis,
) -> Result<(usize, ArrayD<f32>, f32), String> {
    let layer = match objective {
        Objective::Channel { layer, .. } | Objective::Class { layer, .. } => layer,
    };
    let y = acts
        .get(layer)
        .and_then(|a| a.as_ref())
        .map(|a| a.output.clone())
        .ok_or("the layer has no output")?;
    let mut seed = ArrayD::<f32>::zeros(y.raw_dim());
    let name = &net.layers()[layer].name;
    match objective {
        Objective::Channel { channel, .. } => {
            let cf = analysis.layers.get(layer).is_some_and(|r| r.channels_first) && y.ndim() == 4;
            let axis = if cf { 1 } else { y.ndim() - 1 };
            let n = y.shape()[axis];
            if channel >= n {
                return Err(format!(
                    "channel {channel} is out of range: layer '{name}' has {n} channels"
                ));
            }
            let mut c = seed.index_axis_mut(Axis(axis), channel);
            let count = c.len().max(1) as f32;
            c.fill(1.0 / count);
        }
        Objective::Class { class, .. } => {
            let n = y.shape().last().copied().unwrap_or(0);
            if class >= n {
                return Err(format!(
                    "class {class} is out of range: layer '{name}' has {n} outputs"
                ));
            }
            let last = y.ndim() - 1;
            seed.index_axis_mut(Axis(last), class).fill(1.0);
        }
    }
    let value = y.iter().zip(&seed).map(|(a, b)| a * b).sum();
    Ok((layer, seed, value))
}

/// Adam (Kingma and Ba's defaults) ascending.
struct Adam {
    m: Vec<f32>,
    v: Vec<f32>,
    t: i32,
}

impl Adam {
    fn new(n: usize) -> Adam {
        Adam {
            m: vec![0.0; n],
            v: vec![0.0; n],
            t: 0,
        }
    }

    fn step(&mut self, params: &mut [f32], grad: &[f32], lr: f32) {
        let (b1, b2, eps) = (0.9f32, 0.999f32, 1e-8f32);
        self.t += 1;
        let (c1, c2) = (1.0 - b1.powi(self.t), 1.0 - b2.powi(self.t));
        for (((p, &g), m), v) in params
            .iter_mut()
            .zip(grad)
            .zip(&mut self.m)
            .zip(&mut self.v)
        {
            *m = b1 * *m + (1.0 - b1) * g;
            *v = b2 * *v + (1.0 - b2) * g * g;
            *p += lr * (*m / c1) / ((*v / c2).sqrt() + eps);
        }
    }
}

/// One of a channel's top-activating input patches.
#[derive(Clone, Debug, PartialEq)]
pub struct Patch {
    /// The image's position in the scan.
    pub image: usize,
    /// The channel's activation there.
    pub score: f32,
    /// The output pixel (row, column) of the layer.
    pub at: [usize; 2],
    /// The input rows and columns it sees (first, last; inclusive, clamped to the
    /// image): its receptive field.
    pub window: [[usize; 2]; 2],
}

/// The `top` strongest activations of every channel of `layer` over `images` (one
/// model input each, sample 0), the best position of each image per channel, strongest
/// first; each with the receptive field it sees (`field`: the layer's, from the
/// analysis). Images are read one at a time (`images` may stream a folder); one unit of
/// `progress` per image.
pub fn top_patches<W: std::borrow::Borrow<LayerWeights>>(
    net: &Network,
    weights: &[W],
    layer: usize,
    field: crate::keras::geometry::ReceptiveField,
    images: impl Iterator<Item = ArrayD<f32>>,
    top: usize,
    progress: &Progress,
) -> Result<Vec<Vec<Patch>>, String> {
    let analysis = net.analyze();
    let input = *net.input_layers().first().ok_or("the model has no input")?;
    let cf_in = analysis.layers.get(input).is_some_and(|r| r.channels_first);
    let cf = analysis.layers.get(layer).is_some_and(|r| r.channels_first);
    let mut best: Vec<Vec<Patch>> = Vec::new();
    for (k, x) in images.enumerate() {
        if progress.cancelled() {
            return Err("cancelled".into());
        }
        let (ih, iw) = match x.shape() {
            [_, _, h, w] if cf_in => (*h, *w),
            [_, h, w, _] => (*h, *w),
            _ => return Err("top patches need an image (rank-4) input".into()),
        };
        let acts = run_inputs(net, weights, vec![Arc::new(x)]).map_err(|e| e.to_string())?;
        let y = acts
            .get(layer)
            .and_then(|a| a.as_ref())
            .map(|a| a.output.clone())
            .ok_or("the layer has no output")?;
        let y = y
            .view()
            .into_dimensionality::<ndarray::Ix4>()
            .map_err(|_| "top patches need a layer with a spatial (rank-4) output".to_string())?;
        let y = if cf { y.permuted_axes([0, 2, 3, 1]) } else { y };
        let (_, oh, ow, channels) = y.dim();
        best.resize(channels, Vec::new());
        for (c, list) in best.iter_mut().enumerate() {
            let mut at = [0, 0];
            let mut score = f32::NEG_INFINITY;
            for r in 0..oh {
                for q in 0..ow {
                    let v = y[[0, r, q, c]];
                    if v > score {
                        (score, at) = (v, [r, q]);
                    }
                }
            }
            if !score.is_finite() {
                continue;
            }
            let [[r0, r1], [c0, c1]] = field.window(at[0], at[1]);
            let clamp = |v: f64, n: usize| (v.round().max(0.0) as usize).min(n.saturating_sub(1));
            let patch = Patch {
                image: k,
                score,
                at,
                window: [
                    [clamp(r0, ih), clamp(r1, ih)],
                    [clamp(c0, iw), clamp(c1, iw)],
                ],
            };
            let pos = list.partition_point(|p| p.score >= score);
            if pos < top {
                list.insert(pos, patch);
                list.truncate(top);
            }
        }
        progress.advance(1);
    }
    Ok(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each transpose written out here is the transpose of its forward map:
    /// `<A x, y> = <x, Aᵀ y>` on random arrays.
    #[test]
    fn every_backward_step_is_its_forward_steps_transpose() {
        let mut rng = Rng::new(7);
        let (h, w) = (9, 7);
        let s = Settings::default();
        let rand3 = |rng: &mut Rng, d: (usize, usize, usize)| {
            Array3::from_shape_fn(d, |_| rng.normal() as f32)
        };
        let dot = |a: &Array3<f32>, b: &Array3<f32>| {
            a.iter().zip(b).map(|(x, y)| (x * y) as f64).sum::<f64>()
        };
        let warp = Warp::random(&s, h, w, &mut rng);
        let (x, y) = (rand3(&mut rng, (h, w, 3)), rand3(&mut rng, (h, w, 3)));
        let (l, r) = (dot(&warp.apply(&x), &y), dot(&x, &warp.backward(&y)));
        assert!((l - r).abs() < 1e-3 * l.abs().max(1.0), "warp {l} vs {r}");
        let (l, r) = (dot(&blur(&x, 1.3), &y), dot(&x, &blur_with(&y, 1.3, true)));
        assert!((l - r).abs() < 1e-3 * l.abs().max(1.0), "blur {l} vs {r}");
        // The parameterization: finite differences of <image(c), y> in the coefficients.
        let mut pic = Picture::new(h, w, 1.0, &mut rng);
        pic.coeffs.mapv_inplace(|_| rng.normal() as f32 * 0.3);
        let image = pic.image();
        let g = pic.backward(&image, &y);
        for at in [0, 17, 100, 188] {
            let f = |pic: &mut Picture, d: f32| {
                pic.coeffs.as_slice_mut().unwrap()[at] += d;
                let v = dot(&pic.image(), &y);
                pic.coeffs.as_slice_mut().unwrap()[at] -= d;
                v
            };
            let fd = (f(&mut pic, 1e-2) - f(&mut pic, -1e-2)) / 2e-2;
            let an = g.as_slice().unwrap()[at] as f64;
            assert!(
                (fd - an).abs() < 1e-2 * an.abs().max(1e-2),
                "coefficient {at}: {fd} vs {an}"
            );
        }
        // The DCT is orthonormal.
        let c = dct_matrix(6);
        let id = c.dot(&c.t());
        for i in 0..6 {
            for j in 0..6 {
                assert!((id[[i, j]] - if i == j { 1.0 } else { 0.0 }).abs() < 1e-5);
            }
        }
    }
}
