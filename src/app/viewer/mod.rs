//! The activation viewer's runtime: the input image, the weights the last run used, the
//! cached activations and the textures showing them. Runs the network through the
//! [`worker`](super::worker), re-running only the layers an edit made dirty (the changed
//! ones and their descendants); [`view`] draws it, [`plots`] the egui_plot statistics and
//! [`kernels`] the convolution weights. How things are shown is the
//! [`ViewSettings`](super::ViewSettings); where weights come from is the document's
//! [`WeightPlan`]. Pixels come from [`crate::viz`], the same code behind `convscope render`.

mod kernels;
mod plots;
pub mod view;

pub use super::settings::Pane;
pub use crate::viz::{Colormap, Norm, Order};
pub use view::feature_maps;

use super::ViewSettings;
use super::worker::{Job, Worker};
use crate::engine::forward::{LayerRun, LayerWeights};
use crate::engine::weights::{Drawn, WeightPlan};
use crate::io::image::{Preprocess, ResizeMode};
use crate::keras::shape::Shape;
use crate::model::{Analysis, LayerId, Network};
use crate::progress::Progress;
use crate::viz::{self, ChannelStats};
use ndarray::{Array3, ArrayD, IxDyn};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Bundled sample photos (see `assets/images/LICENSES.md`).
pub const SAMPLES: &[(&str, &[u8])] = &[
    (
        "chelsea (cat)",
        include_bytes!("../../../assets/images/chelsea.png"),
    ),
    (
        "coffee",
        include_bytes!("../../../assets/images/coffee.png"),
    ),
    (
        "astronaut",
        include_bytes!("../../../assets/images/astronaut.png"),
    ),
];

/// The feature-map pixel under the pointer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hover {
    pub layer: usize,
    pub channel: usize,
    pub row: usize,
    pub col: usize,
    pub value: f32,
}

/// One layer's output prepared for display: maps (C, H, W) and per-channel statistics.
pub struct Prepared {
    pub key: (u64, usize),
    pub maps: Arc<Array3<f32>>,
    pub stats: Vec<ChannelStats>,
    /// Whether the output was a (1, H, W, C)/(1, C, H, W) image-like tensor.
    pub spatial: bool,
    /// The layer's finite minimum and maximum.
    pub range: (f32, f32),
}

/// An input image kept while a newly opened one is tried.
struct PreviousImage {
    name: String,
    bytes: Vec<u8>,
    input: Option<Arc<ArrayD<f32>>>,
    input_shape: Vec<Option<i64>>,
    more_inputs: Vec<Arc<ArrayD<f32>>>,
    more_shapes: Vec<Shape>,
    prepared_with: Option<(Preprocess, ResizeMode)>,
}

/// A completed run as [`Viewer::last_run`] gives it.
pub struct LastRun<'a> {
    pub network: &'a Network,
    pub weights: &'a [Option<Arc<LayerWeights>>],
    pub acts: &'a [Option<LayerRun>],
}

impl LastRun<'_> {
    /// Whether every layer's weights are there (the run finished).
    pub fn complete(&self) -> bool {
        self.weights.len() == self.network.len() && self.weights.iter().all(Option::is_some)
    }
}

/// The viewer's runtime.
pub struct Viewer {
    pub image_name: String,
    image_bytes: Option<Vec<u8>>,
    /// The array the (first) input layer is given.
    pub input: Option<Arc<ArrayD<f32>>>,
    input_shape: Vec<Option<i64>>,
    /// The arrays of the model's further inputs (the same image, fitted to each).
    more_inputs: Vec<Arc<ArrayD<f32>>>,
    more_shapes: Vec<Shape>,
    /// Per layer of the last run: its weights, and what they were made from.
    drawn: Vec<Option<Drawn>>,
    /// Per layer of the last run: its weights (the arrays of `drawn`).
    pub weights: Vec<Option<Arc<LayerWeights>>>,
    pub acts: Vec<Option<LayerRun>>,
    /// The network the activations belong to.
    ran: Option<Network>,
    /// The network whose last run failed (not retried until something changes).
    failed: Option<(Network, WeightPlan)>,
    /// The network and plan of the job in flight.
    pending: Option<(Network, WeightPlan)>,
    /// The plan the activations were made with.
    ran_plan: Option<WeightPlan>,
    generation: u64,
    /// Bumped whenever new activations arrive (keys the textures).
    pub version: u64,
    worker: Option<Worker>,
    pub running: bool,
    /// The progress of the job in flight (its Cancel button; a newer job cancels it).
    pub progress: Option<Progress>,
    /// The last run was cancelled (its maps are not shown until Run).
    pub cancelled: bool,
    pub error: Option<String>,
    /// Layers evaluated by the last completed job (for tests and the timing readout).
    pub last_evaluated: Vec<usize>,
    pub hover: Option<Hover>,
    prepared_with: Option<(Preprocess, ResizeMode)>,
    thumb: Option<(usize, egui::TextureHandle)>,
    textures: HashMap<(usize, usize), egui::TextureHandle>,
    texture_key: Option<(u64, usize, Colormap, [u32; 2], u8)>,
    /// Each channel's display range under `texture_key` (one scan of the layer per key).
    tile_ranges: Vec<(f32, f32)>,
    pub(crate) kernel_textures: Option<((u64, usize, Colormap), Vec<egui::TextureHandle>)>,
    prepared: Option<Prepared>,
    /// The input in use before `set_image`, until the new image is prepared.
    previous_image: Option<PreviousImage>,
    /// Set when the window has a worker thread; tests may run jobs inline.
    pub inline: bool,
}

impl Default for Viewer {
    fn default() -> Self {
        Viewer {
            image_name: SAMPLES[0].0.to_string(),
            image_bytes: Some(SAMPLES[0].1.to_vec()),
            input: None,
            input_shape: Vec::new(),
            more_inputs: Vec::new(),
            more_shapes: Vec::new(),
            drawn: Vec::new(),
            weights: Vec::new(),
            acts: Vec::new(),
            ran: None,
            failed: None,
            pending: None,
            ran_plan: None,
            generation: 0,
            version: 0,
            worker: None,
            running: false,
            progress: None,
            cancelled: false,
            error: None,
            last_evaluated: Vec::new(),
            hover: None,
            prepared_with: None,
            thumb: None,
            textures: HashMap::new(),
            texture_key: None,
            tile_ranges: Vec::new(),
            kernel_textures: None,
            prepared: None,
            previous_image: None,
            inline: true,
        }
    }
}

impl Viewer {
    /// Starts the background worker (the window does; tests run jobs inline).
    pub fn start_worker(&mut self, ctx: &egui::Context) {
        let ctx = ctx.clone();
        self.worker = Worker::start(move || ctx.request_repaint());
        self.inline = self.worker.is_none();
    }

    /// Runs jobs on `worker` (tests install one with another job runner).
    pub fn use_worker(&mut self, worker: Worker) {
        self.worker = Some(worker);
        self.inline = false;
    }

    /// Uses image bytes (any supported format) as the input.
    pub fn set_image(&mut self, name: impl Into<String>, bytes: Vec<u8>) {
        // The input in use is kept until the new one has been prepared: an image that
        // cannot be used gives a message, not an empty viewer.
        if self.previous_image.is_none()
            && let Some(old) = self.image_bytes.take()
        {
            self.previous_image = Some(PreviousImage {
                name: std::mem::take(&mut self.image_name),
                bytes: old,
                input: self.input.take(),
                input_shape: std::mem::take(&mut self.input_shape),
                more_inputs: std::mem::take(&mut self.more_inputs),
                more_shapes: std::mem::take(&mut self.more_shapes),
                prepared_with: self.prepared_with,
            });
        }
        self.image_name = name.into();
        self.image_bytes = Some(bytes);
        self.input = None;
        self.input_shape.clear();
        self.more_inputs.clear();
        self.more_shapes.clear();
        // Forces the next schedule to prepare the new input and re-run everything.
        self.prepared_with = None;
    }

    /// Prepares the input image for `net` now (when a file is opened, so that an image
    /// that cannot be used is reported at once). On failure the previous image, if any,
    /// is restored and the error names both.
    pub fn prepare_now(
        &mut self,
        net: &Network,
        analysis: &Analysis,
        view: &ViewSettings,
    ) -> Result<(), String> {
        match self.prepare_input(net, analysis, view) {
            Ok(()) => {
                self.previous_image = None;
                Ok(())
            }
            Err(e) => Err(match self.previous_image.take() {
                Some(p) => {
                    let kept = p.name.clone();
                    self.image_name = p.name;
                    self.image_bytes = Some(p.bytes);
                    self.input = p.input;
                    self.input_shape = p.input_shape;
                    self.more_inputs = p.more_inputs;
                    self.more_shapes = p.more_shapes;
                    self.prepared_with = p.prepared_with;
                    format!("{e}. The viewer keeps its previous input, {kept}.")
                }
                None => {
                    // Not tried again every frame: a new image or design is needed.
                    self.image_bytes = None;
                    e
                }
            }),
        }
    }

    /// Forgets weights and activations (a new design).
    pub fn reset(&mut self) {
        self.drawn.clear();
        self.weights.clear();
        self.acts.clear();
        self.ran = None;
        self.ran_plan = None;
        self.failed = None;
        self.hover = None;
        self.textures.clear();
        self.texture_key = None;
        self.prepared = None;
    }

    fn prepare_input(
        &mut self,
        net: &Network,
        analysis: &Analysis,
        view: &ViewSettings,
    ) -> Result<(), String> {
        let at = net.input_layers();
        let shapes: Vec<Shape> = (0..at.len())
            .map(|k| net.input_shape_of(k).cloned().unwrap_or_default())
            .collect();
        let shape = shapes.first().cloned().unwrap_or_default();
        let more = shapes.get(1..).unwrap_or(&[]);
        let with = Some((view.preprocess, view.resize));
        if self.input.is_some()
            && shape == self.input_shape
            && more == self.more_shapes.as_slice()
            && self.prepared_with == with
        {
            return Ok(());
        }
        let bytes = self.image_bytes.as_ref().ok_or("no input image")?;
        let cf = |k: usize| {
            at.get(k)
                .and_then(|&i| analysis.layers.get(i))
                .is_some_and(|r| r.channels_first)
        };
        let first = Arc::new(
            image_array(bytes, &shape, cf(0), view)
                .map_err(|e| format!("{}: {e}", self.image_name))?,
        );
        // Every further input gets the same image (shared when its shape is the same).
        let mut others = Vec::with_capacity(more.len());
        for (k, s) in more.iter().enumerate() {
            others.push(if *s == shape {
                first.clone()
            } else {
                Arc::new(
                    image_array(bytes, s, cf(k + 1), view)
                        .map_err(|e| format!("{} (for input {}): {e}", self.image_name, k + 2))?,
                )
            });
        }
        self.input = Some(first);
        self.more_inputs = others;
        self.input_shape = shape;
        self.more_shapes = more.to_vec();
        self.prepared_with = with;
        self.ran = None;
        self.failed = None;
        Ok(())
    }

    /// The weights each layer of `net` had in the last run, by id.
    fn drawn_by_id(&self) -> HashMap<LayerId, &Drawn> {
        let Some(ran) = &self.ran else {
            return HashMap::new();
        };
        ran.layers()
            .iter()
            .zip(&self.drawn)
            .filter_map(|(l, d)| Some((l.id(), d.as_ref()?)))
            .collect()
    }

    /// Which layers of `net` must be computed again: those that changed since the last
    /// run (arguments, inputs, or the weights the plan gives them) and their descendants.
    fn dirty(&self, net: &Network, analysis: &Analysis, plan: &WeightPlan) -> Vec<bool> {
        let Some(old) = &self.ran else {
            return vec![true; net.len()];
        };
        let drawn = self.drawn_by_id();
        let old_acts: HashSet<LayerId> = old
            .layers()
            .iter()
            .zip(&self.acts)
            .filter(|(_, a)| a.is_some())
            .map(|(l, _)| l.id())
            .collect();
        let changed: HashSet<LayerId> = net
            .layers()
            .iter()
            .zip(&analysis.layers)
            .filter(|(l, r)| {
                let same = old
                    .index_of(l.id())
                    .map(|j| &old.layers()[j])
                    .is_some_and(|o| {
                        o.kind == l.kind
                            && o.inputs() == l.inputs()
                            && o.construct_error == l.construct_error
                    });
                let weights_same = r.weights.is_empty()
                    || drawn
                        .get(&l.id())
                        .is_some_and(|d| d.key == plan.key(l, &r.weights));
                !same || !weights_same || !old_acts.contains(&l.id())
            })
            .map(|(l, _)| l.id())
            .collect();
        net.descendants(&changed)
    }

    /// Submits a run when the network, the input or some weights changed since the last one.
    pub fn schedule(
        &mut self,
        net: &Network,
        analysis: &Analysis,
        plan: &WeightPlan,
        view: &ViewSettings,
    ) {
        if analysis.first_error.is_some() {
            return;
        }
        let input_current = self.prepared_with == Some((view.preprocess, view.resize));
        let same = |x: &Option<(Network, WeightPlan)>| {
            x.as_ref().is_some_and(|(n, p)| n == net && p == plan)
        };
        let ran_current = self.ran.as_ref() == Some(net) && self.ran_plan.as_ref() == Some(plan);
        if input_current
            && (same(&self.pending)
                || (self.pending.is_none() && (ran_current || same(&self.failed))))
        {
            return;
        }
        // Refuse a design too large for this machine before preparing its input.
        if let Err(e) = crate::engine::forward::check_memory(analysis, 1) {
            self.error = Some(e.to_string());
            self.ran = None;
            self.failed = None;
            return;
        }
        if self.image_bytes.is_none() && self.input.is_none() {
            return; // the image could not be used; its error stays on screen
        }
        if let Err(e) = self.prepare_now(net, analysis, view) {
            self.error = Some(e);
            return;
        }
        let Some(input) = self.input.clone() else {
            return;
        };
        let inputs: Vec<_> = std::iter::once(input)
            .chain(self.more_inputs.iter().cloned())
            .collect();
        let dirty = self.dirty(net, analysis, plan);
        // Activations and weights follow their layer by id (layers may have moved).
        let (acts, drawn): (HashMap<LayerId, LayerRun>, HashMap<LayerId, &Drawn>) = match &self.ran
        {
            Some(old) => (
                old.layers()
                    .iter()
                    .zip(&self.acts)
                    .filter_map(|(l, a)| Some((l.id(), a.clone()?)))
                    .collect(),
                self.drawn_by_id(),
            ),
            None => Default::default(),
        };
        let cached = net
            .layers()
            .iter()
            .zip(&dirty)
            .map(|(l, d)| if *d { None } else { acts.get(&l.id()).cloned() })
            .collect();
        let drawn = net
            .layers()
            .iter()
            .map(|l| drawn.get(&l.id()).map(|d| (*d).clone()))
            .collect();
        self.generation += 1;
        // A stale run stops at its next layer: the worker takes this job sooner.
        if let Some(p) = self.progress.take() {
            p.cancel();
        }
        let progress = Progress::new();
        self.progress = Some(progress.clone());
        self.cancelled = false;
        let job = Job {
            generation: self.generation,
            network: net.clone(),
            analysis: analysis.clone(),
            plan: plan.clone(),
            drawn,
            inputs,
            cached,
            dirty,
            progress,
        };
        self.pending = Some((net.clone(), plan.clone()));
        self.running = true;
        match &self.worker {
            Some(w) if !self.inline => {
                w.submit(job);
            }
            _ => {
                let done = super::worker::compute(job);
                self.accept(done);
            }
        }
    }

    /// Stops the run in flight at its next layer; its maps are not shown.
    pub fn cancel_run(&self) {
        if let Some(p) = &self.progress {
            p.cancel();
        }
    }

    /// Runs again after a cancelled run (or any failed one).
    pub fn run_again(&mut self) {
        self.failed = None;
        self.cancelled = false;
        self.error = None;
    }

    /// Takes finished results (dropping stale generations).
    pub fn poll(&mut self) {
        let mut latest = None;
        if let Some(w) = &self.worker {
            while let Ok(done) = w.results.try_recv() {
                latest = Some(done);
            }
        }
        if let Some(done) = latest {
            self.accept(done);
        }
    }

    fn accept(&mut self, done: super::worker::Done) {
        if done.generation != self.generation {
            return;
        }
        self.running = false;
        self.progress = None;
        self.cancelled = done.cancelled;
        let pending = self.pending.take();
        self.error = done.error;
        if self.error.is_some() {
            self.failed = pending;
        } else {
            self.failed = None;
            self.weights = done
                .drawn
                .iter()
                .map(|d| d.as_ref().map(|d| d.weights.clone()))
                .collect();
            self.drawn = done.drawn;
            self.acts = done.acts;
            let (net, plan) = pending.unzip();
            self.ran = net;
            self.ran_plan = plan;
            self.last_evaluated = done.evaluated;
            self.version += 1;
            self.texture_key = None;
            self.prepared = None;
            if let Some(h) = &self.hover
                && self.acts.get(h.layer).is_none_or(|a| a.is_none())
            {
                self.hover = None;
            }
        }
    }

    /// Weights for every layer of `net` under `plan`, as the next run makes them: the
    /// last run's where they were made from the same key, the plan's resolution
    /// elsewhere. What Save writes into `.keras`.
    pub fn weights_for(
        &self,
        net: &Network,
        analysis: &Analysis,
        plan: &WeightPlan,
    ) -> Result<Vec<LayerWeights>, String> {
        if let Some(e) = analysis.error(net) {
            return Err(format!("Keras would reject this design: {e}"));
        }
        let drawn = self.drawn_by_id();
        net.layers()
            .iter()
            .zip(&analysis.layers)
            .map(|(layer, report)| {
                let cached = drawn.get(&layer.id()).copied();
                plan.resolve(layer, &report.weights, cached)
                    .map(|d| d.weights.as_ref().clone())
            })
            .collect()
    }

    /// Weights the last run used for layer `i`.
    pub fn layer_weights(&self, i: usize) -> Option<&LayerWeights> {
        self.weights.get(i)?.as_deref()
    }

    /// The selected layer's output as maps and statistics (cached per result).
    pub fn prepared(&mut self, net: &Network, i: usize) -> Option<&Prepared> {
        let key = (self.version, i);
        if self.prepared.as_ref().is_none_or(|p| p.key != key) {
            let run = self.acts.get(i)?.as_ref()?;
            let cf = self
                .ran
                .as_ref()
                .unwrap_or(net)
                .analyze()
                .layers
                .get(i)
                .is_some_and(|r| r.channels_first);
            let spatial = run.output.ndim() == 4;
            let maps = viz::channel_maps(&run.output, cf);
            let stats = viz::channel_stats(&maps);
            let range = viz::min_max(maps.iter());
            self.prepared = Some(Prepared {
                key,
                maps: Arc::new(maps),
                stats,
                spatial,
                range,
            });
        }
        self.prepared.as_ref()
    }

    /// The tile grid as it is on screen (order, filter, colormap, normalisation), at a
    /// magnification that makes tiles at least 64 pixels across.
    pub fn grid_picture(
        &mut self,
        view: &ViewSettings,
        net: &Network,
        i: usize,
    ) -> Result<viz::Picture, String> {
        let (colormap, norm) = (view.colormap, view.norm);
        let order = view.order;
        let dead_only = view.dead_only;
        let p = self
            .prepared(net, i)
            .ok_or("the selected layer has no activations yet")?;
        let channels = viz::order(&p.stats, order, dead_only);
        if channels.is_empty() {
            return Err("no channel is shown (the dead-channel filter hides them all)".into());
        }
        let ranges = viz::ranges(&p.maps, norm, colormap);
        let (h, w) = (p.maps.shape()[1], p.maps.shape()[2]);
        viz::grid(
            &p.maps,
            &channels,
            &ranges,
            colormap,
            viz::default_scale(h, w),
        )
    }

    /// One channel, magnified so its longer side is at least 256 pixels.
    pub fn map_picture(
        &mut self,
        view: &ViewSettings,
        net: &Network,
        i: usize,
        channel: usize,
    ) -> Result<viz::Picture, String> {
        let (colormap, norm) = (view.colormap, view.norm);
        let p = self
            .prepared(net, i)
            .ok_or("the selected layer has no activations yet")?;
        let ranges = viz::ranges(&p.maps, norm, colormap);
        let (h, w) = (p.maps.shape()[1], p.maps.shape()[2]);
        let scale = 256usize.div_ceil(h.max(w).max(1)).clamp(1, 64);
        viz::grid(&p.maps, &[channel], &ranges, colormap, scale)
    }

    /// The selected layer's activations as `.npy` bytes (the layer's own layout).
    pub fn activations_npy(&self, i: usize) -> Result<Vec<u8>, String> {
        let run = self
            .acts
            .get(i)
            .and_then(|a| a.as_ref())
            .ok_or("the selected layer has no activations yet")?;
        let a = run.output.as_standard_layout();
        Ok(crate::io::npy::write_npy(
            a.shape(),
            a.as_slice().unwrap_or(&[]),
        ))
    }

    /// Every layer's activations of the last run as `.npz` (keyed by layer name).
    pub fn all_activations_npz(&self, net: &Network) -> Result<Vec<u8>, String> {
        let ran = self.ran.as_ref().unwrap_or(net);
        if self.acts.iter().skip(1).all(|a| a.is_none()) {
            return Err("no activations yet".into());
        }
        crate::runner::activations_npz(ran, &self.acts)
    }

    /// A texture of the exact tensor the network receives (min–max scaled for display).
    fn thumbnail(&mut self, ctx: &egui::Context, cf: bool) -> Option<egui::TextureHandle> {
        let input = self.input.clone()?;
        let key = Arc::as_ptr(&input) as usize;
        if let Some((k, t)) = &self.thumb
            && *k == key
        {
            return Some(t.clone());
        }
        let x = if cf {
            input.view().permuted_axes(IxDyn(&[0, 2, 3, 1])).to_owned()
        } else {
            input.as_ref().clone()
        };
        if x.ndim() != 4 || x.shape()[3] == 0 {
            return None;
        }
        let (h, w, c) = (x.shape()[1], x.shape()[2], x.shape()[3]);
        let (lo, hi) = viz::min_max(x.iter());
        let span = (hi - lo).max(1e-12);
        let px = |y: usize, xx: usize, ch: usize| {
            (((x[[0, y, xx, ch.min(c - 1)]] - lo) / span) * 255.0) as u8
        };
        let mut pixels = Vec::with_capacity(h * w);
        for y in 0..h {
            for xx in 0..w {
                pixels.push(egui::Color32::from_rgb(
                    px(y, xx, 0),
                    px(y, xx, 1),
                    px(y, xx, 2),
                ));
            }
        }
        let tex = ctx.load_texture(
            "input-thumb",
            egui::ColorImage::new([w, h], pixels),
            egui::TextureOptions::NEAREST,
        );
        self.thumb = Some((key, tex.clone()));
        Some(tex)
    }

    /// Each channel's display range for the prepared layer `i`, computed once per
    /// (result, layer, colormap, normalisation) together with the texture cache.
    pub(crate) fn tile_ranges(&mut self, view: &ViewSettings, i: usize) -> Option<&[(f32, f32)]> {
        let norm_key = match view.norm {
            Norm::PerChannel => ([0, 0], 0),
            Norm::PerLayer => ([0, 0], 1),
            Norm::Fixed(a, b) => ([a.to_bits(), b.to_bits()], 2),
        };
        let key = (self.version, i, view.colormap, norm_key.0, norm_key.1);
        let p = self
            .prepared
            .as_ref()
            .filter(|p| p.key == (self.version, i))?;
        if self.texture_key != Some(key) {
            self.textures.clear();
            self.tile_ranges = viz::ranges(&p.maps, view.norm, view.colormap);
            self.texture_key = Some(key);
        }
        Some(&self.tile_ranges)
    }

    /// Texture of channel `k` of the prepared layer `i`.
    fn tile_texture(
        &mut self,
        view: &ViewSettings,
        ctx: &egui::Context,
        i: usize,
        k: usize,
    ) -> Option<egui::TextureHandle> {
        let range = *self.tile_ranges(view, i)?.get(k)?;
        if let Some(t) = self.textures.get(&(i, k)) {
            return Some(t.clone());
        }
        let p = self.prepared.as_ref()?;
        let map = p.maps.index_axis(ndarray::Axis(0), k);
        let (h, w) = (map.shape()[0], map.shape()[1]);
        let pixels = viz::colorize(map, range, view.colormap)
            .into_iter()
            .map(|[r, g, b]| egui::Color32::from_rgb(r, g, b))
            .collect();
        let tex = ctx.load_texture(
            format!("fm-{i}-{k}"),
            egui::ColorImage::new([w, h], pixels),
            egui::TextureOptions::NEAREST,
        );
        self.textures.insert((i, k), tex.clone());
        Some(tex)
    }

    /// The last completed run: the network it was of, each layer's weights and output.
    pub fn last_run(&self) -> Option<LastRun<'_>> {
        Some(LastRun {
            network: self.ran.as_ref()?,
            weights: &self.weights,
            acts: &self.acts,
        })
    }

    /// The arrays the model's inputs are given, in its input order.
    pub fn inputs(&self) -> Vec<Arc<ArrayD<f32>>> {
        self.input
            .iter()
            .cloned()
            .chain(self.more_inputs.iter().cloned())
            .collect()
    }

    /// Milliseconds the last run spent in layer `i`, if it ran.
    pub fn millis(&self, i: usize) -> Option<f64> {
        self.acts.get(i)?.as_ref().map(|r| r.millis)
    }
}

/// The image as the array an input of `shape` takes ([`crate::io::image::input_array`]
/// with the view's preprocessing and resize mode).
fn image_array(
    bytes: &[u8],
    shape: &Shape,
    cf: bool,
    view: &ViewSettings,
) -> Result<ArrayD<f32>, String> {
    crate::io::image::input_array(bytes, shape, cf, view.preprocess, view.resize)
}
