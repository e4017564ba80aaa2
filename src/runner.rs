//! Running a model file on an input file, headless: the engine behind `convscope run`
//! (and the app's worker). Loads the model and its weights (or draws them from the
//! initializers), reads a `.npy` or an image as input, and writes activations.

use crate::engine::{self, LayerWeights};
use crate::io::image::{self, Preprocess, ResizeMode};
use crate::io::keras_file::FileKind;
use crate::io::{self, npy, weights};
use crate::model::Network;
use ndarray::{ArrayD, IxDyn};
use serde_json::json;
use std::path::Path;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum RunError {
    /// The model is one Keras would reject (exit status 1).
    #[error("{0}")]
    Rejected(String),
    #[error("{0}")]
    Load(String),
    #[error("{0}")]
    Input(String),
    #[error("{0}")]
    Engine(String),
    #[error("cannot write {path}: {message}")]
    Write { path: String, message: String },
}

/// A model ready to run: the network and its weights, and the models its file nests
/// (whose outputs are their output layers').
pub struct Prepared {
    pub network: Network,
    pub weights: Vec<LayerWeights>,
    pub nested: Vec<io::config::NestedModel>,
}

/// Loads a model file and its weights (initializer weights drawn with `seed` when the
/// file has none).
pub fn prepare(model: &Path, seed: u64) -> Result<Prepared, RunError> {
    let loaded =
        io::open_model(model).map_err(|e| RunError::Load(format!("{}: {e}", model.display())))?;
    let io::keras_file::LoadedModel {
        network: net,
        kind,
        provenance,
        ..
    } = loaded;
    let analysis = net.analyze();
    if let Some(msg) = analysis.error(&net) {
        return Err(RunError::Rejected(msg));
    }
    engine::forward::check_memory(&analysis, 1).map_err(|e| RunError::Engine(e.to_string()))?;
    let nested = provenance.nested;
    // The weights are read from the file as they are needed: only the config was read
    // to open it, so the file is never in memory beside them.
    let weights = match kind {
        FileKind::Keras | FileKind::H5 => engine::outside_the_heap(|| {
            weights::from_path(model, kind == FileKind::Keras, &net, &analysis, &nested)
        })
        .map_err(|e| e.to_string()),
        FileKind::Json => {
            engine::weights::initialize(&net, &analysis, seed).map_err(|e| e.to_string())
        }
    }
    .map_err(|e| RunError::Load(format!("{}: {e}", model.display())))?;
    Ok(Prepared {
        network: net,
        weights,
        nested,
    })
}

/// Reads an input file: a `.npy` array (the model's full input shape) or an image,
/// converted and resized to the model's input.
pub fn read_input(net: &Network, path: &Path, pre: Preprocess) -> Result<ArrayD<f32>, RunError> {
    read_input_at(net, 0, path, pre)
}

/// Reads one file per model input (in [`Network::input_layers`] order), shared for the
/// engine.
pub fn read_inputs(
    net: &Network,
    paths: &[std::path::PathBuf],
    pre: Preprocess,
) -> Result<Vec<std::sync::Arc<ArrayD<f32>>>, RunError> {
    let want = net.input_layers();
    if paths.len() != want.len() {
        let names: Vec<&str> = want
            .iter()
            .map(|&i| net.layers()[i].name.as_str())
            .collect();
        return Err(RunError::Input(format!(
            "the model has {} input{} ({}): give --input {} time{}, in that order ({} given)",
            want.len(),
            if want.len() == 1 { "" } else { "s" },
            names.join(", "),
            want.len(),
            if want.len() == 1 { "" } else { "s" },
            paths.len()
        )));
    }
    paths
        .iter()
        .enumerate()
        .map(|(k, p)| read_input_at(net, k, p, pre).map(std::sync::Arc::new))
        .collect()
}

/// [`read_input`] for input `k` of the model.
pub fn read_input_at(
    net: &Network,
    k: usize,
    path: &Path,
    pre: Preprocess,
) -> Result<ArrayD<f32>, RunError> {
    let bytes = std::fs::read(path)
        .map_err(|e| RunError::Input(format!("cannot read {}: {e}", path.display())))?;
    if bytes.starts_with(b"\x93NUMPY") {
        let a = npy::read_npy(&bytes)
            .map_err(|e| RunError::Input(format!("{}: {e}", path.display())))?;
        let arr = ArrayD::from_shape_vec(IxDyn(&a.shape), a.data)
            .map_err(|e| RunError::Input(format!("{}: {e}", path.display())))?;
        engine::forward::check_input_at(net, k, arr.shape())
            .map_err(|e| RunError::Input(format!("{}: {e}", path.display())))?;
        return Ok(arr);
    }
    let shape = net.input_shape_of(k).cloned().unwrap_or_default();
    let cf = net
        .input_layers()
        .get(k)
        .and_then(|&i| net.analyze().layers.get(i).map(|r| r.channels_first))
        .unwrap_or(false);
    image::input_array(&bytes, &shape, cf, pre, ResizeMode::Stretch)
        .map_err(|e| RunError::Input(format!("{}: {e}", path.display())))
}

/// Loads a model and an input and runs every layer: the network and its activations.
pub fn run_model(
    model: &Path,
    inputs: &[std::path::PathBuf],
    seed: u64,
    pre: Preprocess,
) -> Result<(Network, Vec<Option<engine::LayerRun>>), RunError> {
    let p = prepare(model, seed)?;
    let x = read_inputs(&p.network, inputs, pre)?;
    let acts = engine::forward::run_inputs(&p.network, &p.weights, x)
        .map_err(|e| RunError::Engine(e.to_string()))?;
    Ok((p.network, acts))
}

/// How `render` draws a layer.
#[derive(Clone, Copy, Debug)]
pub struct RenderOptions {
    pub colormap: crate::viz::Colormap,
    pub norm: crate::viz::Norm,
    pub order: crate::viz::Order,
    /// Pixel magnification; `None`: [`crate::viz::default_scale`].
    pub scale: Option<usize>,
}

/// The tile grid of one layer's output (see [`crate::viz`] for values → pixels).
pub fn render_layer(
    net: &Network,
    acts: &[Option<engine::LayerRun>],
    layer: &str,
    opts: RenderOptions,
) -> Result<crate::viz::Picture, RunError> {
    use crate::viz;
    let Some(i) = net.find(layer) else {
        let names: Vec<&str> = net.layers().iter().map(|l| l.name.as_str()).collect();
        return Err(RunError::Input(format!(
            "no layer named '{layer}'; the model has: {}",
            names.join(", ")
        )));
    };
    let run = acts
        .get(i)
        .and_then(|a| a.as_ref())
        .ok_or_else(|| RunError::Engine(format!("layer '{layer}' produced no output")))?;
    let cf = net.analyze().layers[i].channels_first;
    let maps = viz::channel_maps(&run.output, cf);
    let stats = viz::channel_stats(&maps);
    let channels = viz::order(&stats, opts.order, false);
    let ranges = viz::ranges(&maps, opts.norm, opts.colormap);
    let scale = opts
        .scale
        .unwrap_or_else(|| viz::default_scale(maps.shape()[1], maps.shape()[2]));
    viz::grid(&maps, &channels, &ranges, opts.colormap, scale).map_err(RunError::Input)
}

/// Every layer's output after the input, keyed by layer name (`numpy.load` gives
/// `npz["conv2d"]`), as `.npz` bytes.
pub fn activations_npz(
    net: &Network,
    acts: &[Option<engine::LayerRun>],
) -> Result<Vec<u8>, String> {
    activations_npz_nested(net, acts, &[])
}

/// [`activations_npz`], plus an entry for each nested model (its output layer's output,
/// keyed by the model's name, as Keras's `model.layers` has it).
pub fn activations_npz_nested(
    net: &Network,
    acts: &[Option<engine::LayerRun>],
    nested: &[io::config::NestedModel],
) -> Result<Vec<u8>, String> {
    let entry = |name: &str, i: usize| {
        let a = acts.get(i)?.as_ref()?.output.as_standard_layout();
        Some((
            name.replace(['/', '\\'], "_"),
            npy::NpyArray {
                shape: a.shape().to_vec(),
                data: a.iter().copied().collect(),
            },
        ))
    };
    let layers = (0..net.len())
        .filter(|&i| !net.layers()[i].kind.is_input())
        .filter_map(|i| entry(&net.layers()[i].name, i));
    let models = nested
        .iter()
        .filter_map(|m| entry(&m.name, net.find(&m.output)?));
    let arrays: Vec<(String, npy::NpyArray)> = layers.chain(models).collect();
    npy::write_npz(&arrays).map_err(|e| e.to_string())
}

/// What `convscope grad` computes besides the input's gradient.
#[derive(Clone, Debug, Default)]
pub struct GradOptions {
    /// The layer (or nested model) whose output the scalar reads; the model's outputs
    /// when `None`.
    pub layer: Option<String>,
    /// The cotangent (the target's output shape); ones when `None`.
    pub cotangent: Option<std::path::PathBuf>,
    /// Also write `output/<layer>`: d scalar / d each layer's output.
    pub activations: bool,
}

/// `convscope grad`: the gradients of `sum(output_of_layer ⊙ cotangent)` in inference
/// mode, written as one `.npz`: `input` (and `input/<name>` per input when there are
/// several), `<layer>/<i>` for each trainable weight (`i` its index in the layer's
/// `get_weights()`), and with `activations` `output/<layer>`. Returns the number of
/// arrays written.
pub fn grad_to_npz(
    model: &Path,
    inputs: &[std::path::PathBuf],
    out: &Path,
    options: &GradOptions,
    seed: u64,
    pre: Preprocess,
) -> Result<usize, RunError> {
    let p = prepare(model, seed)?;
    let net = &p.network;
    let x = read_inputs(net, inputs, pre)?;
    let acts = engine::forward::run_inputs(net, &p.weights, x)
        .map_err(|e| RunError::Engine(e.to_string()))?;
    let targets: Vec<usize> = match &options.layer {
        Some(name) => {
            let inner = p
                .nested
                .iter()
                .find(|m| &m.name == name)
                .map(|m| m.output.as_str());
            let i = net
                .find(inner.unwrap_or(name))
                .ok_or_else(|| RunError::Input(format!("the model has no layer named '{name}'")))?;
            vec![i]
        }
        None => net.outputs(),
    };
    let shape_of = |i: usize| -> Vec<usize> {
        acts.get(i)
            .and_then(|a| a.as_ref())
            .map_or_else(Vec::new, |a| a.output.shape().to_vec())
    };
    let seeds: Vec<(usize, ArrayD<f32>)> = match &options.cotangent {
        Some(path) => {
            let [t] = targets[..] else {
                return Err(RunError::Input(format!(
                    "the model has {} outputs: --cotangent needs --layer to name one",
                    targets.len()
                )));
            };
            let bytes = std::fs::read(path)
                .map_err(|e| RunError::Input(format!("cannot read {}: {e}", path.display())))?;
            let a = npy::read_npy(&bytes)
                .map_err(|e| RunError::Input(format!("{}: {e}", path.display())))?;
            if a.shape != shape_of(t) {
                return Err(RunError::Input(format!(
                    "{}: the cotangent has shape {:?}, the output of '{}' {:?}",
                    path.display(),
                    a.shape,
                    net.layers()[t].name,
                    shape_of(t)
                )));
            }
            let c = ArrayD::from_shape_vec(IxDyn(&a.shape), a.data)
                .map_err(|e| RunError::Input(format!("{}: {e}", path.display())))?;
            vec![(t, c)]
        }
        None => targets
            .iter()
            .map(|&t| (t, ArrayD::from_elem(IxDyn(&shape_of(t)), 1.0f32)))
            .collect(),
    };
    let wanted = engine::backward::Wanted {
        weights: true,
        outputs: options.activations,
        down_to: 0,
    };
    let g = engine::backward::backward(
        net,
        &p.weights,
        &acts,
        seeds,
        wanted,
        &crate::progress::Progress::new(),
    )
    .map_err(|e| RunError::Engine(e.to_string()))?;
    let entry = |key: String, a: &ArrayD<f32>| {
        let a = a.as_standard_layout();
        (
            key,
            npy::NpyArray {
                shape: a.shape().to_vec(),
                data: a.iter().copied().collect(),
            },
        )
    };
    let clean = |name: &str| name.replace(['/', '\\'], "_");
    let mut arrays = Vec::new();
    let input_layers = net.input_layers();
    for (k, gi) in g.inputs.iter().enumerate() {
        if k == 0 {
            arrays.push(entry("input".into(), gi));
        }
        if input_layers.len() > 1 {
            let name = &net.layers()[input_layers[k]].name;
            arrays.push(entry(format!("input/{}", clean(name)), gi));
        }
    }
    for (i, ws) in g.weights.iter().enumerate() {
        for (k, w) in ws.iter().enumerate() {
            if let Some(w) = w {
                arrays.push(entry(format!("{}/{k}", clean(&net.layers()[i].name)), w));
            }
        }
    }
    if options.activations {
        for (i, layer) in net.layers().iter().enumerate() {
            let zeros;
            let a = match &g.outputs[i] {
                Some(a) => a,
                None => {
                    zeros = ArrayD::zeros(IxDyn(&shape_of(i)));
                    &zeros
                }
            };
            arrays.push(entry(format!("output/{}", clean(&layer.name)), a));
        }
    }
    let bytes = npy::write_npz(&arrays).map_err(|e| RunError::Engine(e.to_string()))?;
    io::write_atomic(out, &bytes).map_err(|e| RunError::Write {
        path: out.display().to_string(),
        message: e.to_string(),
    })?;
    Ok(arrays.len())
}

/// What `convscope explain` is asked.
#[derive(Clone, Debug)]
pub struct ExplainOptions {
    /// One of [`crate::explain::Method::NAMES`].
    pub method: String,
    /// The class (default: the top one).
    pub class: Option<usize>,
    /// `LAYER:CHANNEL` instead of a class.
    pub target: Option<String>,
    /// The class activation map's layer (default: the last spatial one).
    pub layer: Option<String>,
    pub out: std::path::PathBuf,
    /// The raw map as a float32 `.npy`.
    pub npy: Option<std::path::PathBuf>,
    pub steps: Option<usize>,
    pub samples: Option<usize>,
    pub noise: Option<f32>,
    pub baseline: Option<f32>,
    pub window: Option<usize>,
    pub stride: Option<usize>,
    pub channels: Option<usize>,
    pub colormap: crate::viz::Colormap,
    pub opacity: f32,
    pub seed: u64,
}

/// `convscope explain`: the attribution map of sample 0 drawn over the input (`out`,
/// PNG) and, with `npy`, the raw map. Returns a line saying what was explained.
pub fn explain_to_files(
    model: &Path,
    inputs: &[std::path::PathBuf],
    o: &ExplainOptions,
    pre: Preprocess,
) -> Result<String, RunError> {
    use crate::explain::{Explainer, Method, Target};
    let p = prepare(model, o.seed)?;
    let net = &p.network;
    let x = read_inputs(net, inputs, pre)?;
    let hw = x
        .first()
        .filter(|a| a.ndim() == 4)
        .map(|a| {
            let cf = net
                .input_layers()
                .first()
                .and_then(|&i| net.analyze().layers.get(i).map(|r| r.channels_first))
                .unwrap_or(false);
            if cf {
                [a.shape()[2], a.shape()[3]]
            } else {
                [a.shape()[1], a.shape()[2]]
            }
        })
        .ok_or_else(|| RunError::Input("attribution maps need an image (rank-4) input".into()))?;
    let mut method = Method::parse(&o.method, hw).ok_or_else(|| {
        RunError::Input(format!(
            "unknown method '{}': one of {}",
            o.method,
            Method::NAMES.join(", ")
        ))
    })?;
    match &mut method {
        Method::ScoreCam { max_channels } => *max_channels = o.channels.unwrap_or(*max_channels),
        Method::SmoothGrad {
            samples,
            noise,
            seed,
        } => {
            *samples = o.samples.unwrap_or(*samples);
            *noise = o.noise.unwrap_or(*noise);
            *seed = o.seed;
        }
        Method::IntegratedGradients { steps, baseline } => {
            *steps = o.steps.unwrap_or(*steps);
            *baseline = o.baseline.unwrap_or(*baseline);
        }
        Method::Occlusion { window, stride } => {
            *window = o.window.unwrap_or(*window);
            *stride = o.stride.unwrap_or((*window / 2).max(1));
        }
        Method::GradCam | Method::GradCamPlusPlus | Method::Saliency => {}
    }
    let image = x[0].clone();
    let e = Explainer::new(net, &p.weights, x).map_err(RunError::Engine)?;
    let layer_at = |name: &str| {
        let inner = p
            .nested
            .iter()
            .find(|m| m.name == name)
            .map(|m| m.output.as_str());
        net.find(inner.unwrap_or(name))
            .ok_or_else(|| RunError::Input(format!("the model has no layer named '{name}'")))
    };
    let target = match (&o.target, o.class) {
        (Some(_), Some(_)) => {
            return Err(RunError::Input("give --class or --target, not both".into()));
        }
        (Some(t), None) => {
            let (name, channel) = t.rsplit_once(':').ok_or_else(|| {
                RunError::Input(format!("--target takes LAYER:CHANNEL, not '{t}'"))
            })?;
            let channel = channel
                .parse()
                .map_err(|_| RunError::Input(format!("'{channel}' is not a channel number")))?;
            Target::Channel {
                layer: layer_at(name)?,
                channel,
            }
        }
        (None, Some(k)) => Target::Class(k),
        (None, None) => {
            let (scores, _) = e.class_scores().map_err(RunError::Engine)?;
            let top = scores
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map_or(0, |(i, _)| i);
            Target::Class(top)
        }
    };
    let layer = o.layer.as_deref().map(layer_at).transpose()?;
    let a = e
        .explain(target, method, layer, &crate::progress::Progress::new())
        .map_err(RunError::Input)?;
    let cf = net
        .input_layers()
        .first()
        .and_then(|&i| net.analyze().layers.get(i).map(|r| r.channels_first))
        .unwrap_or(false);
    let x0 = image.index_axis(ndarray::Axis(0), 0);
    let x0 = x0
        .into_dimensionality::<ndarray::Ix3>()
        .map_err(|e| RunError::Input(e.to_string()))?;
    let x0 = if cf { x0.permuted_axes([1, 2, 0]) } else { x0 };
    let base = crate::viz::image_picture(x0);
    let pic = crate::viz::overlay(&base, a.overlay.view(), o.colormap, o.opacity);
    let png = pic.to_png().map_err(RunError::Engine)?;
    let werr = |path: &Path, e: std::io::Error| RunError::Write {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    io::write_atomic(&o.out, &png).map_err(|e| werr(&o.out, e))?;
    if let Some(npy_path) = &o.npy {
        let m = a.map.as_standard_layout();
        let bytes = npy::write_npy(m.shape(), m.as_slice().unwrap_or(&[]));
        io::write_atomic(npy_path, &bytes).map_err(|e| werr(npy_path, e))?;
    }
    let what = match target {
        Target::Class(k) => format!("class {k}"),
        Target::Channel { layer, channel } => format!("{}:{channel}", net.layers()[layer].name),
    };
    let at = a
        .layer
        .map(|l| {
            format!(
                " at '{}' ({}x{})",
                net.layers()[l].name,
                a.map.dim().0,
                a.map.dim().1
            )
        })
        .unwrap_or_default();
    Ok(format!(
        "{} of {what} (score {:.6}){at}: wrote {}\n",
        method.name(),
        a.score,
        o.out.display()
    ))
}

/// How a picture in [0, 1] becomes a model input under `pre` (what the image reader
/// does to an image's pixels / 255).
pub fn input_map(pre: Preprocess) -> crate::visualize::InputMap {
    use crate::visualize::InputMap;
    match pre {
        Preprocess::Unit => InputMap::default(),
        Preprocess::Raw => InputMap {
            scale: [255.0; 3],
            ..InputMap::default()
        },
        Preprocess::Symmetric => InputMap {
            scale: [2.0; 3],
            offset: [-1.0; 3],
            reverse: false,
        },
        Preprocess::Imagenet => {
            let (mean, std) = ([0.485f32, 0.456, 0.406], [0.229f32, 0.224, 0.225]);
            InputMap {
                scale: std.map(|s| 1.0 / s),
                offset: [0, 1, 2].map(|c| -mean[c] / std[c]),
                reverse: false,
            }
        }
        Preprocess::Caffe => InputMap {
            scale: [255.0; 3],
            offset: [-103.939, -116.779, -123.68],
            reverse: true,
        },
    }
}

/// What `convscope visualize` makes.
#[derive(Clone, Copy, Debug)]
pub enum Visualized<'a> {
    /// One channel of a layer.
    Channel(&'a str, usize),
    /// A layer's channels 0..N in a grid.
    Grid(&'a str, usize),
    /// A class's score, before the model's final softmax.
    Class(usize),
}

/// `convscope visualize`: the picture that maximizes a channel's mean activation (or a
/// grid of a layer's first channels, or a class's score before the final softmax),
/// written as a PNG. Returns a summary line with the objective's first and last values.
pub fn visualize_to_png(
    model: &Path,
    what: Visualized,
    settings: &crate::visualize::Settings,
    out: &Path,
    pre: Preprocess,
) -> Result<String, RunError> {
    use crate::visualize::{Objective, visualize};
    let p = prepare(model, settings.seed)?;
    let find = |layer: &str| {
        let inner = p
            .nested
            .iter()
            .find(|m| m.name == layer)
            .map(|m| m.output.as_str());
        p.network
            .find(inner.unwrap_or(layer))
            .ok_or_else(|| RunError::Input(format!("the model has no layer named '{layer}'")))
    };
    let scored;
    let (net, objectives, title): (&Network, Vec<(String, Objective)>, String) = match what {
        Visualized::Channel(layer, c) => {
            let at = find(layer)?;
            let o = Objective::Channel {
                layer: at,
                channel: c,
            };
            (
                &p.network,
                vec![(format!("channel {c}"), o)],
                format!("channel of '{layer}'"),
            )
        }
        Visualized::Grid(layer, n) => {
            let at = find(layer)?;
            let o = (0..n.max(1))
                .map(|c| {
                    let o = Objective::Channel {
                        layer: at,
                        channel: c,
                    };
                    (format!("channel {c}"), o)
                })
                .collect();
            (&p.network, o, format!("channels of '{layer}'"))
        }
        Visualized::Class(k) => {
            scored = crate::explain::scores_before_softmax(&p.network).map_err(RunError::Input)?;
            let o = Objective::Class {
                layer: scored.score_layer,
                class: k,
            };
            let at = &scored.network.layers()[scored.score_layer].name;
            (
                &scored.network,
                vec![(format!("class {k}"), o)],
                format!("class score at '{at}'"),
            )
        }
    };
    let map = input_map(pre);
    let mut tiles = Vec::new();
    let mut report = Vec::new();
    for (label, objective) in objectives {
        let v = visualize(
            net,
            &p.weights,
            objective,
            &map,
            settings,
            &crate::progress::Progress::new(),
            &mut |_, _| {},
        )
        .map_err(RunError::Input)?;
        let first = v.objective.first().copied().unwrap_or(0.0);
        let last = v.objective.last().copied().unwrap_or(0.0);
        report.push(format!("{label}: {first:.4} -> {last:.4}"));
        tiles.push(v.image);
    }
    let picture = tile_pictures(&tiles);
    let png = picture.to_png().map_err(RunError::Engine)?;
    io::write_atomic(out, &png).map_err(|e| RunError::Write {
        path: out.display().to_string(),
        message: e.to_string(),
    })?;
    Ok(format!(
        "{title} after {} steps ({}): wrote {}\n",
        settings.steps,
        report.join(", "),
        out.display()
    ))
}

/// A scan of a folder for each channel's most activating patches
/// ([`crate::visualize::top_patches`]), with the crops the window and the PNG show.
#[derive(Clone, Debug)]
pub struct PatchScan {
    pub layer: String,
    pub top: usize,
    /// The images read, in scan order ([`crate::visualize::Patch::image`] indexes it).
    pub images: Vec<std::path::PathBuf>,
    /// Files that were not readable images.
    pub skipped: usize,
    /// Per channel, strongest first.
    pub best: Vec<Vec<crate::visualize::Patch>>,
    /// Each patch's receptive-field crop of its image as the model saw it, resampled
    /// (nearest) to `cell`×`cell` pixels; the same layout as `best`.
    pub crops: Vec<Vec<crate::viz::Picture>>,
    pub cell: usize,
}

/// Every file under `folder` (subfolders too, as a folder of class folders), sorted.
fn files_under(folder: &Path) -> Result<Vec<std::path::PathBuf>, RunError> {
    let mut files = Vec::new();
    let mut dirs = vec![folder.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = std::fs::read_dir(&dir)
            .map_err(|e| RunError::Input(format!("cannot read {}: {e}", dir.display())))?;
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.is_file() {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Scans the images under `folder` (read one at a time; files that are not readable
/// images are skipped and counted) for the `top` strongest activations of each channel
/// of the layer at `at`, then crops each patch from its image. `progress` counts the
/// files, then the images cropped; cancelling stops it ("cancelled").
#[allow(clippy::too_many_arguments)]
pub fn scan_patches<W: std::borrow::Borrow<LayerWeights>>(
    net: &Network,
    weights: &[W],
    at: usize,
    folder: &Path,
    top: usize,
    pre: Preprocess,
    cell: usize,
    progress: &crate::progress::Progress,
) -> Result<PatchScan, RunError> {
    let layer = net
        .layers()
        .get(at)
        .map_or(String::new(), |l| l.name.clone());
    let analysis = net.analyze();
    let field = analysis
        .layers
        .get(at)
        .and_then(|r| r.receptive_field)
        .ok_or_else(|| RunError::Input(format!("layer '{layer}' has no receptive field")))?;
    let files = files_under(folder)?;
    progress.set_total(files.len() as u64);
    let used = std::cell::RefCell::new(Vec::new());
    let skipped = std::cell::Cell::new(0usize);
    let images = files
        .iter()
        .filter_map(|f| match read_input_at(net, 0, f, pre) {
            Ok(x) => {
                used.borrow_mut().push(f.clone());
                Some(x)
            }
            Err(_) => {
                skipped.set(skipped.get() + 1);
                progress.advance(1);
                None
            }
        });
    let top = top.max(1);
    let best = crate::visualize::top_patches(net, weights, at, field, images, top, progress)
        .map_err(RunError::Input)?;
    let images = used.into_inner();
    if images.is_empty() {
        return Err(RunError::Input(format!(
            "no readable image in {}",
            folder.display()
        )));
    }
    // The crops, from each image as the model saw it, read once each.
    let cf = net
        .input_layers()
        .first()
        .and_then(|&i| analysis.layers.get(i))
        .is_some_and(|r| r.channels_first);
    let mut wanted: Vec<usize> = best.iter().flatten().map(|p| p.image).collect();
    wanted.sort_unstable();
    wanted.dedup();
    progress.set_total((files.len() + wanted.len()) as u64);
    let cell = cell.max(1);
    let mut crops: Vec<Vec<crate::viz::Picture>> = best
        .iter()
        .map(|l| vec![crate::viz::Picture::default(); l.len()])
        .collect();
    for k in wanted {
        if progress.cancelled() {
            return Err(RunError::Input("cancelled".into()));
        }
        let x = read_input_at(net, 0, &images[k], pre)?;
        let x0 = x.index_axis(ndarray::Axis(0), 0);
        let x0 = x0
            .into_dimensionality::<ndarray::Ix3>()
            .map_err(|e| RunError::Input(e.to_string()))?;
        let x0 = if cf { x0.permuted_axes([1, 2, 0]) } else { x0 };
        let pic = crate::viz::image_picture(x0);
        for (c, list) in best.iter().enumerate() {
            for (j, patch) in list.iter().enumerate() {
                if patch.image == k {
                    crops[c][j] = crop_cell(&pic, patch.window, cell);
                }
            }
        }
        progress.advance(1);
    }
    Ok(PatchScan {
        layer,
        top,
        images,
        skipped: skipped.get(),
        best,
        crops,
        cell,
    })
}

/// The rows and columns `window` (inclusive) of `pic`, resampled (nearest) to a
/// `cell`×`cell` picture.
fn crop_cell(
    pic: &crate::viz::Picture,
    window: [[usize; 2]; 2],
    cell: usize,
) -> crate::viz::Picture {
    let [[r0, r1], [c0, c1]] = window;
    let (ph, pw) = (r1.saturating_sub(r0) + 1, c1.saturating_sub(c0) + 1);
    let mut data = Vec::with_capacity(cell * cell * 3);
    for y in 0..cell {
        for x in 0..cell {
            let (sy, sx) = (r0 + y * ph / cell, c0 + x * pw / cell);
            data.extend(pic.pixel(
                sx.min(pic.width.saturating_sub(1)),
                sy.min(pic.height.saturating_sub(1)),
            ));
        }
    }
    crate::viz::Picture {
        width: cell,
        height: cell,
        data,
    }
}

impl PatchScan {
    /// A row per channel, strongest first, [`crate::viz::GAP`] pixels apart.
    pub fn picture(&self) -> crate::viz::Picture {
        let (cell, gap) = (self.cell, crate::viz::GAP);
        let (width, height) = (
            self.top * (cell + gap) + gap,
            self.best.len() * (cell + gap) + gap,
        );
        let mut data = Vec::with_capacity(width * height * 3);
        for _ in 0..width * height {
            data.extend(crate::viz::BACKGROUND);
        }
        for (c, row) in self.crops.iter().enumerate() {
            for (j, crop) in row.iter().enumerate() {
                for y in 0..crop.height.min(cell) {
                    let o = ((gap + c * (cell + gap) + y) * width + gap + j * (cell + gap)) * 3;
                    let s = y * crop.width * 3;
                    let n = crop.width.min(cell) * 3;
                    data[o..o + n].copy_from_slice(&crop.data[s..s + n]);
                }
            }
        }
        crate::viz::Picture {
            width,
            height,
            data,
        }
    }

    /// `index.json`: the layer, the images, the skipped count and each channel's
    /// patches (image, score, output row and column, input window).
    pub fn index(&self) -> serde_json::Value {
        let names: Vec<String> = self
            .images
            .iter()
            .map(|f| f.display().to_string())
            .collect();
        let channels: Vec<serde_json::Value> = self
            .best
            .iter()
            .map(|list| {
                json!(
                    list.iter()
                        .map(|p| json!({
                            "image": names[p.image], "score": p.score, "row": p.at[0],
                            "col": p.at[1], "window": p.window,
                        }))
                        .collect::<Vec<_>>()
                )
            })
            .collect();
        json!({
            "layer": self.layer, "top": self.top, "images": names, "skipped": self.skipped,
            "channels": channels,
        })
    }

    /// Writes `out/index.json` and `out/patches.png`.
    pub fn write(&self, out: &Path) -> Result<(), RunError> {
        let werr = |path: &Path, e: std::io::Error| RunError::Write {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        std::fs::create_dir_all(out).map_err(|e| werr(out, e))?;
        let png = self.picture().to_png().map_err(RunError::Engine)?;
        let (png_path, index_path) = (out.join("patches.png"), out.join("index.json"));
        io::write_atomic(&png_path, &png).map_err(|e| werr(&png_path, e))?;
        let text = serde_json::to_string_pretty(&self.index())
            .map_err(|e| RunError::Engine(e.to_string()))?;
        io::write_atomic(&index_path, text.as_bytes()).map_err(|e| werr(&index_path, e))
    }
}

/// `convscope patches`: each channel's `top` most activating input patches (their
/// receptive fields) over the images under `folder`, read one at a time; writes
/// `out/index.json` and `out/patches.png` (a row per channel, strongest first, 48-pixel
/// cells). Files that are not readable images are skipped and counted. Returns a
/// summary line.
pub fn patches_to_dir(
    model: &Path,
    layer: &str,
    folder: &Path,
    top: usize,
    out: &Path,
    pre: Preprocess,
) -> Result<String, RunError> {
    let p = prepare(model, 0)?;
    let net = &p.network;
    let at = net
        .find(layer)
        .ok_or_else(|| RunError::Input(format!("the model has no layer named '{layer}'")))?;
    let progress = crate::progress::Progress::new();
    let scan = scan_patches(net, &p.weights, at, folder, top, pre, 48, &progress)?;
    scan.write(out)?;
    Ok(format!(
        "top {} patches of {} channels of '{layer}' over {} images ({} skipped): wrote {}\n",
        scan.top,
        scan.best.len(),
        scan.images.len(),
        scan.skipped,
        out.display()
    ))
}

/// Pictures (h, w, 3) in [0, 1] in a grid, [`crate::viz::GAP`] pixels apart; one
/// picture alone as it is, without a frame.
pub fn tile_pictures(tiles: &[ndarray::Array3<f32>]) -> crate::viz::Picture {
    let gap = if tiles.len() == 1 { 0 } else { crate::viz::GAP };
    tile_pictures_with(tiles, gap)
}

/// Pictures (h, w, 3) in [0, 1] side by side in a grid, `gap` pixels apart.
fn tile_pictures_with(tiles: &[ndarray::Array3<f32>], gap: usize) -> crate::viz::Picture {
    let (h, w) = tiles.first().map_or((0, 0), |t| (t.dim().0, t.dim().1));
    let cols = crate::viz::grid_columns(tiles.len()).max(1);
    let rows = tiles.len().div_ceil(cols);
    let (width, height) = (cols * (w + gap) + gap, rows * (h + gap) + gap);
    let mut data = Vec::with_capacity(width * height * 3);
    for _ in 0..width * height {
        data.extend(crate::viz::BACKGROUND);
    }
    for (k, t) in tiles.iter().enumerate() {
        let (r, c) = (k / cols, k % cols);
        for y in 0..h {
            for x in 0..w {
                let o = ((gap + r * (h + gap) + y) * width + gap + c * (w + gap) + x) * 3;
                for ch in 0..3 {
                    data[o + ch] = (t[[y, x, ch]].clamp(0.0, 1.0) * 255.0).round() as u8;
                }
            }
        }
    }
    crate::viz::Picture {
        width,
        height,
        data,
    }
}

/// `convscope run`: writes `<layer>.npy` for every layer after the input and
/// `index.json`, all or nothing; or, when `out` ends in `.npz`, one archive of them. Returns the number of layers written.
pub fn run_to_dir(
    model: &Path,
    inputs: &[std::path::PathBuf],
    out: &Path,
    seed: u64,
    pre: Preprocess,
) -> Result<usize, RunError> {
    let p = prepare(model, seed)?;
    let x = read_inputs(&p.network, inputs, pre)?;
    let acts = engine::forward::run_inputs(&p.network, &p.weights, x)
        .map_err(|e| RunError::Engine(e.to_string()))?;
    let network = p.network;
    if out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npz"))
    {
        // One archive with every layer (and nested model), written atomically.
        let bytes = activations_npz_nested(&network, &acts, &p.nested).map_err(RunError::Engine)?;
        io::write_atomic(out, &bytes).map_err(|e| RunError::Write {
            path: out.display().to_string(),
            message: e.to_string(),
        })?;
        return Ok(network.len() - network.input_layers().len());
    }
    let werr = |path: &Path, e: std::io::Error| RunError::Write {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    std::fs::create_dir_all(out).map_err(|e| werr(out, e))?;
    // Stage everything in a hidden folder inside `out`, then move it in place.
    let stage = out.join(format!(".convscope-run-{}", std::process::id()));
    std::fs::create_dir_all(&stage).map_err(|e| werr(&stage, e))?;
    let result = (|| {
        let mut index = Vec::new();
        let mut files = Vec::new();
        for (i, layer) in network.layers().iter().enumerate() {
            if layer.kind.is_input() {
                continue;
            }
            let Some(run) = acts.get(i).and_then(|a| a.as_ref()) else {
                continue;
            };
            let a = run.output.as_standard_layout();
            let data = a.as_slice().unwrap_or(&[]);
            let file = format!("{}.npy", layer.name.replace(['/', '\\'], "_"));
            let path = stage.join(&file);
            std::fs::write(&path, npy::write_npy(a.shape(), data)).map_err(|e| werr(&path, e))?;
            let (mut lo, mut hi, mut sum) = (f64::INFINITY, f64::NEG_INFINITY, 0f64);
            for v in data {
                lo = lo.min(*v as f64);
                hi = hi.max(*v as f64);
                sum += *v as f64;
            }
            index.push(json!({
                "layer": layer.name, "class_name": layer.class_name(), "file": file,
                "shape": a.shape(), "min": lo, "max": hi,
                "mean": if data.is_empty() { 0.0 } else { sum / data.len() as f64 },
                "ms": run.millis,
            }));
            files.push(file);
        }
        let ipath = stage.join("index.json");
        let text = serde_json::to_string_pretty(&json!({ "layers": index })).unwrap_or_default();
        std::fs::write(&ipath, text).map_err(|e| werr(&ipath, e))?;
        files.push("index.json".into());
        for f in &files {
            std::fs::rename(stage.join(f), out.join(f)).map_err(|e| werr(&out.join(f), e))?;
        }
        Ok(files.len() - 1)
    })();
    let _ = std::fs::remove_dir_all(&stage);
    result
}

/// Timings of repeated forward passes (`convscope bench`).
#[derive(Clone, Debug, serde::Serialize)]
pub struct BenchReport {
    pub median_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    pub runs: usize,
    pub threads: usize,
    /// Per layer after the input: the median of its time over the runs.
    pub layers: Vec<LayerTime>,
    /// Bytes of layer outputs of one run (input included): all of them with
    /// `all_layers`, else the most alive at once; and the bytes of the weights.
    pub activation_bytes: usize,
    pub weight_bytes: usize,
    /// The process's peak resident memory (Linux), bytes.
    pub peak_rss_bytes: Option<u64>,
    /// Its resident memory before the model was opened (the program itself: code,
    /// libraries, thread stacks), bytes; the peak less this is what the model took.
    pub start_rss_bytes: Option<u64>,
    /// Anonymous memory (not backed by a file) before the model was opened.
    pub start_anon_bytes: Option<u64>,
    /// The timed passes' peak of anonymous memory: weights, activations and buffers,
    /// without the program's code (the high-water mark restarted after the warm-up,
    /// less the file-backed pages then resident; Linux).
    pub pass_peak_anon_bytes: Option<u64>,
    /// Program code (file-backed pages) paged in from opening the model to the end of
    /// the warm-up pass: counted in the peak RSS, shared and reclaimable.
    pub code_paged_in_bytes: Option<u64>,
}

/// The process's peak resident set size (`VmHWM` in /proc/self/status), when known.
pub fn peak_rss_bytes() -> Option<u64> {
    status_bytes("VmHWM:")
}

/// A `kB` line of /proc/self/status, in bytes.
fn status_bytes(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct LayerTime {
    pub name: String,
    pub ms: f64,
    /// With `--grad`: the layer's backward rule (its `ms` is then its forward pass).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backward_ms: Option<f64>,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// An input for timing when none is given: the model's input shape (batch 1), values
/// from a fixed pseudo-random sequence in [0, 1).
pub fn synthetic_input(net: &Network) -> Result<ArrayD<f32>, RunError> {
    synthetic_input_at(net, 0)
}

/// [`synthetic_input`] for input `k` of the model.
pub fn synthetic_input_at(net: &Network, k: usize) -> Result<ArrayD<f32>, RunError> {
    let shape = net.input_shape_of(k).cloned().unwrap_or_default();
    let dims: Option<Vec<usize>> = shape
        .iter()
        .enumerate()
        .map(|(i, d)| match d {
            None if i == 0 => Some(1),
            Some(d) if *d > 0 => Some(*d as usize),
            _ => None,
        })
        .collect();
    let dims = dims.filter(|d| !d.is_empty()).ok_or_else(|| {
        RunError::Input(format!(
            "the model's input shape {shape:?} has free dimensions: give --input"
        ))
    })?;
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let n: usize = dims.iter().product();
    let data = (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32
        })
        .collect();
    ArrayD::from_shape_vec(IxDyn(&dims), data).map_err(|e| RunError::Input(e.to_string()))
}

/// Times `runs` full forward passes (after one warm-up) on `threads` threads: the model's
/// outputs alone ([`engine::forward::predict`], as TensorFlow's graph mode is timed), or
/// with `all_layers` every layer's output kept as the window keeps them.
pub fn bench(
    model: &Path,
    inputs: &[std::path::PathBuf],
    runs: usize,
    threads: usize,
    pre: Preprocess,
    all_layers: bool,
    grad: bool,
) -> Result<BenchReport, RunError> {
    let start_rss_bytes = status_bytes("VmRSS:");
    let start_anon_bytes = status_bytes("RssAnon:");
    let start_file = status_bytes("RssFile:");
    let p = prepare(model, 0)?;
    let x = if inputs.is_empty() {
        (0..p.network.input_layers().len())
            .map(|k| synthetic_input_at(&p.network, k).map(std::sync::Arc::new))
            .collect::<Result<Vec<_>, _>>()?
    } else {
        read_inputs(&p.network, inputs, pre)?
    };
    engine::forward::place_inputs(&p.network, x.clone())
        .map_err(|e| RunError::Input(e.to_string()))?;
    let threads = threads.max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| RunError::Engine(format!("cannot start {threads} threads: {e}")))?;
    let runs = runs.max(1);
    let analysis = p.network.analyze();
    let mut totals = Vec::with_capacity(runs);
    let mut per_layer: Vec<Vec<f64>> = vec![Vec::with_capacity(runs); p.network.len()];
    let mut per_layer_back: Vec<Vec<f64>> = vec![Vec::with_capacity(runs); p.network.len()];
    let mut activation_bytes = 0;
    // The inputs are shared by every run, as TensorFlow's benchmark reuses one tensor.
    // After the warm-up: the process's peak so far, and the program code paged in.
    let mut until_warm = None;
    let mut file_warm = None;
    pool.install(|| -> Result<(), RunError> {
        for r in 0..=runs {
            let engine_err = |e: engine::forward::EngineError| RunError::Engine(e.to_string());
            let t = std::time::Instant::now();
            let mut back = Vec::new();
            let (millis, bytes): (Vec<f64>, usize) = if grad {
                // The forward pass keeping every output, then the gradients of the
                // input and every weight for a cotangent of ones.
                let acts = engine::forward::run_inputs(&p.network, &p.weights, x.clone())
                    .map_err(engine_err)?;
                let seeds = p
                    .network
                    .outputs()
                    .into_iter()
                    .filter_map(|o| {
                        let shape = acts.get(o)?.as_ref()?.output.shape().to_vec();
                        Some((o, ArrayD::from_elem(IxDyn(&shape), 1.0f32)))
                    })
                    .collect();
                let wanted = engine::backward::Wanted {
                    weights: true,
                    ..Default::default()
                };
                back = engine::backward::backward(
                    &p.network,
                    &p.weights,
                    &acts,
                    seeds,
                    wanted,
                    &crate::progress::Progress::new(),
                )
                .map_err(engine_err)?
                .millis;
                let bytes = acts.iter().flatten().map(|a| a.output.len() * 4).sum();
                let millis = acts.iter().map(|a| a.as_ref().map_or(0.0, |a| a.millis));
                (millis.collect(), bytes)
            } else if all_layers {
                let acts = engine::forward::run_inputs(&p.network, &p.weights, x.clone())
                    .map_err(engine_err)?;
                let bytes = acts.iter().flatten().map(|a| a.output.len() * 4).sum();
                let millis = acts.iter().map(|a| a.as_ref().map_or(0.0, |a| a.millis));
                (millis.collect(), bytes)
            } else {
                let pr =
                    engine::forward::predict_inputs(&p.network, &analysis, &p.weights, x.clone())
                        .map_err(engine_err)?;
                (pr.millis, pr.peak_bytes)
            };
            let ms = t.elapsed().as_secs_f64() * 1e3;
            if r == 0 {
                activation_bytes = bytes;
                // From here on the code is all paged in: restart the high-water mark,
                // so the timed passes' peak is their anonymous memory plus that code.
                until_warm = status_bytes("VmHWM:");
                file_warm = status_bytes("RssFile:");
                if std::fs::write("/proc/self/clear_refs", "5").is_err() {
                    until_warm = None;
                }
                continue; // warm-up
            }
            totals.push(ms);
            for (i, m) in millis.into_iter().enumerate() {
                per_layer[i].push(m);
            }
            for (i, m) in back.into_iter().enumerate() {
                per_layer_back[i].push(m);
            }
        }
        Ok(())
    })?;
    let min_ms = totals.iter().copied().fold(f64::INFINITY, f64::min);
    let max_ms = totals.iter().copied().fold(0.0, f64::max);
    let layers = p
        .network
        .layers()
        .iter()
        .zip(per_layer.iter_mut().zip(per_layer_back.iter_mut()))
        .filter(|(l, _)| !l.kind.is_input())
        .map(|(l, (t, b))| LayerTime {
            name: l.name.clone(),
            ms: median(t),
            backward_ms: grad.then(|| median(b)),
        })
        .collect();
    let passes_hwm = peak_rss_bytes();
    let peak_rss_bytes = match until_warm {
        Some(w) => passes_hwm.map(|p| p.max(w)),
        None => passes_hwm,
    };
    let pass_peak_anon_bytes = until_warm
        .and(passes_hwm)
        .zip(file_warm)
        .map(|(h, f)| h - f.min(h));
    Ok(BenchReport {
        median_ms: median(&mut totals),
        min_ms,
        max_ms,
        runs,
        threads,
        layers,
        activation_bytes,
        weight_bytes: p.weights.iter().flatten().map(|w| w.len() * 4).sum(),
        peak_rss_bytes,
        start_rss_bytes,
        start_anon_bytes,
        pass_peak_anon_bytes,
        code_paged_in_bytes: file_warm.zip(start_file).map(|(w, s)| w.saturating_sub(s)),
    })
}

/// What `convscope train` is asked.
#[derive(Clone, Debug)]
pub struct TrainOptions {
    /// `--input` (once per model input) and `--target`: one fixed batch, the whole of it
    /// each step.
    pub inputs: Vec<std::path::PathBuf>,
    pub target: Option<std::path::PathBuf>,
    /// `--data`: an .npz with `x_train`, `y_train` (optionally `x_test`, `y_test`), as
    /// `keras.datasets` returns them (folders and `shapes` are not read yet: refused).
    pub data: Option<String>,
    pub batch_size: usize,
    pub shuffle: bool,
    pub validation_split: Option<f64>,
    pub steps: Option<usize>,
    pub epochs: Option<usize>,
    pub optimizer: String,
    pub loss: String,
    pub seed: u64,
    pub log: Option<std::path::PathBuf>,
}

/// `convscope train`: `train_on_batch` steps as Keras takes them, then the trained
/// weights written as a `.keras` file (the config without an optimizer); with `log`,
/// one JSON line per step `{"step", "epoch", "loss"}` (the step's forward loss before
/// its update, regularization included). Returns a summary line.
pub fn train_to_file(model: &Path, o: &TrainOptions, out: &Path) -> Result<String, RunError> {
    if let Some(d) = &o.data {
        return train_on_npz(model, o, d, out);
    }
    let target = o
        .target
        .as_ref()
        .ok_or_else(|| RunError::Input("--target FILE.npy is needed with --input".into()))?;
    if o.inputs.is_empty() {
        return Err(RunError::Input("--input FILE.npy is needed".into()));
    }
    let mut trainer = trainer_for(model, o)?;
    let x = read_inputs(&trainer.network, &o.inputs, Preprocess::Unit)?;
    let bytes = std::fs::read(target)
        .map_err(|e| RunError::Input(format!("cannot read {}: {e}", target.display())))?;
    let t =
        npy::read_npy(&bytes).map_err(|e| RunError::Input(format!("{}: {e}", target.display())))?;
    let t = ArrayD::from_shape_vec(IxDyn(&t.shape), t.data)
        .map_err(|e| RunError::Input(format!("{}: {e}", target.display())))?;
    // One fixed batch: an epoch is one step.
    let steps = o.steps.or(o.epochs).unwrap_or(1);
    let mut log = TrainLog::create(o.log.as_deref())?;
    let mut losses = Vec::with_capacity(steps);
    for step in 0..steps {
        let s = train_step(&mut trainer, x.clone(), &t, step)?;
        losses.push(s);
        log.line(json!({"step": step, "epoch": step, "loss": s}))?;
    }
    write_trained(&trainer, out)?;
    Ok(format!(
        "{steps} steps: loss {:.6} -> {:.6}; wrote {}\n",
        losses.first().copied().unwrap_or(f32::NAN),
        losses.last().copied().unwrap_or(f32::NAN),
        out.display()
    ))
}

/// The trainer `o` asks for on `model`'s network and weights (its optimizer and loss
/// parsed first, so a typo is reported before the model is read).
fn trainer_for(model: &Path, o: &TrainOptions) -> Result<crate::train::Trainer, RunError> {
    use crate::train::{Loss, OptimizerConfig, Trainer};
    let optimizer = OptimizerConfig::parse(&o.optimizer).map_err(RunError::Input)?;
    let loss = Loss::parse(&o.loss).map_err(RunError::Input)?;
    let p = prepare(model, o.seed)?;
    if !p.nested.is_empty() {
        return Err(RunError::Input(
            "training a model with nested models is not supported yet".into(),
        ));
    }
    Trainer::new(p.network, p.weights, optimizer, loss, o.seed).map_err(RunError::Rejected)
}

/// One step; its loss.
fn train_step(
    trainer: &mut crate::train::Trainer,
    x: Vec<std::sync::Arc<ArrayD<f32>>>,
    target: &ArrayD<f32>,
    step: usize,
) -> Result<f32, RunError> {
    trainer
        .step(x, target, &crate::progress::Progress::new())
        .map(|s| s.loss)
        .map_err(|e| RunError::Engine(format!("step {step}: {e}")))
}

/// The trained model as a `.keras` file at `out`.
fn write_trained(trainer: &crate::train::Trainer, out: &Path) -> Result<(), RunError> {
    let bytes = io::keras_write::write_keras(&trainer.network, &trainer.weights)
        .map_err(RunError::Engine)?;
    io::write_atomic(out, &bytes).map_err(|e| RunError::Write {
        path: out.display().to_string(),
        message: e.to_string(),
    })
}

/// `--log`: one JSON value a line (nothing without a path).
struct TrainLog(Option<(std::fs::File, std::path::PathBuf)>);

impl TrainLog {
    fn create(path: Option<&Path>) -> Result<TrainLog, RunError> {
        let Some(path) = path else {
            return Ok(TrainLog(None));
        };
        let f = std::fs::File::create(path).map_err(|e| RunError::Write {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Ok(TrainLog(Some((f, path.to_path_buf()))))
    }

    fn line(&mut self, v: serde_json::Value) -> Result<(), RunError> {
        use std::io::Write;
        let Some((f, path)) = &mut self.0 else {
            return Ok(());
        };
        writeln!(f, "{v}").map_err(|e| RunError::Write {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }
}

/// The rows `idx` of `a` (batch axis first).
fn rows(a: &ArrayD<f32>, idx: &[usize]) -> ArrayD<f32> {
    a.select(ndarray::Axis(0), idx)
}

/// [`train_to_file`] on an `.npz` dataset: epochs of `batch_size` batches (shuffled each
/// epoch from the seed unless `shuffle` is off), the last fraction of the training rows
/// held out by `validation_split` (as Keras takes it, before shuffling) or `x_test` /
/// `y_test` as validation; the log gets a line per step and one per epoch with its mean
/// loss (weighted by batch size, as Keras's loss tracker) and `val_loss` (inference mode).
fn train_on_npz(
    model: &Path,
    o: &TrainOptions,
    data: &str,
    out: &Path,
) -> Result<String, RunError> {
    let path = Path::new(data);
    if path.extension().is_none_or(|e| e != "npz") {
        return Err(RunError::Input(format!(
            "--data {data}: only an .npz (x_train, y_train) is read yet; folders of images and \
             shapes are not"
        )));
    }
    let bytes =
        std::fs::read(path).map_err(|e| RunError::Input(format!("cannot read {data}: {e}")))?;
    let arrays = npy::read_npz(&bytes).map_err(|e| RunError::Input(format!("{data}: {e}")))?;
    let get = |name: &str| -> Result<Option<ArrayD<f32>>, RunError> {
        arrays
            .iter()
            .find(|(k, _)| k.trim_end_matches(".npy") == name)
            .map(|(_, a)| {
                ArrayD::from_shape_vec(IxDyn(&a.shape), a.data.clone())
                    .map_err(|e| RunError::Input(format!("{data}/{name}: {e}")))
            })
            .transpose()
    };
    let need = |name: &str| -> Result<ArrayD<f32>, RunError> {
        get(name)?.ok_or_else(|| RunError::Input(format!("{data} has no '{name}'")))
    };
    let (mut x, mut y) = (need("x_train")?, need("y_train")?);
    let n = x.shape().first().copied().unwrap_or(0);
    if y.shape().first() != Some(&n) || n == 0 {
        return Err(RunError::Input(format!(
            "x_train has {n} rows and y_train {:?}",
            y.shape().first()
        )));
    }
    let mut trainer = trainer_for(model, o)?;
    // A grey image set (N, H, W) for a model taking (H, W, 1).
    let want = trainer
        .network
        .input_shape_of(0)
        .cloned()
        .unwrap_or_default();
    let fit = |a: ArrayD<f32>| {
        if a.ndim() + 1 == want.len() && want.last() == Some(&Some(1)) {
            let last = a.ndim();
            a.insert_axis(ndarray::Axis(last))
        } else {
            a
        }
    };
    x = fit(x);
    let mut val = match (get("x_test")?, get("y_test")?) {
        (Some(xt), Some(yt)) => Some((fit(xt), yt)),
        _ => None,
    };
    if let Some(f) = o.validation_split {
        if !(0.0..1.0).contains(&f) {
            return Err(RunError::Input(format!(
                "--validation-split {f} must be in [0, 1)"
            )));
        }
        let keep = n - (n as f64 * f) as usize;
        let (a, b): (Vec<usize>, Vec<usize>) = ((0..keep).collect(), (keep..n).collect());
        val = Some((rows(&x, &b), rows(&y, &b)));
        (x, y) = (rows(&x, &a), rows(&y, &a));
    }
    let n = x.shape()[0];
    let batch = o.batch_size.max(1);
    let per_epoch = n.div_ceil(batch);
    let (epochs, limit) = match (o.steps, o.epochs) {
        (Some(s), _) => (s.div_ceil(per_epoch.max(1)), s),
        (None, e) => (e.unwrap_or(1), e.unwrap_or(1) * per_epoch),
    };
    let mut log = TrainLog::create(o.log.as_deref())?;
    let mut order: Vec<usize> = (0..n).collect();
    let mut shuffler = engine::init::Rng::new(o.seed ^ 0x5eed);
    let (mut step, mut last) = (0usize, f32::NAN);
    'epochs: for epoch in 0..epochs {
        if o.shuffle {
            for i in (1..n).rev() {
                let j = (shuffler.uniform() * (i + 1) as f64) as usize;
                order.swap(i, j.min(i));
            }
        }
        let (mut sum, mut seen) = (0f64, 0usize);
        for chunk in order.chunks(batch) {
            if step >= limit {
                break 'epochs;
            }
            let xb = vec![std::sync::Arc::new(rows(&x, chunk))];
            last = train_step(&mut trainer, xb, &rows(&y, chunk), step)?;
            log.line(json!({"step": step, "epoch": epoch, "loss": last}))?;
            sum += last as f64 * chunk.len() as f64;
            seen += chunk.len();
            step += 1;
        }
        let mut line = json!({"epoch": epoch, "loss": sum / seen.max(1) as f64});
        if let Some((xv, yv)) = &val
            && xv.shape()[0] > 0
        {
            let acts = engine::run(&trainer.network, &trainer.weights, xv.clone())
                .map_err(|e| RunError::Engine(e.to_string()))?;
            let outp = trainer.network.outputs()[0];
            let yhat = acts
                .get(outp)
                .and_then(|a| a.as_ref())
                .map(|a| a.output.clone())
                .ok_or_else(|| RunError::Engine("no output".into()))?;
            let (vl, _) = trainer
                .loss
                .value_and_grad(&yhat, yv)
                .map_err(RunError::Input)?;
            line["val_loss"] = json!(vl);
        }
        log.line(line)?;
    }
    write_trained(&trainer, out)?;
    Ok(format!(
        "{step} steps over {n} samples: last loss {last:.6}; wrote {}\n",
        out.display()
    ))
}
