//! The activation viewer: runs the stack on an image through the [`worker`], re-running
//! only from the first layer that changed, and shows the selected layer's feature maps
//! as a grid of colour-mapped tiles with a colour bar.
//!
//! Owns the input image, the weights in use, the cached activations and the textures;
//! reads the network and analysis from the [`Designer`].

use super::Designer;
use super::worker::{Job, Worker};
use crate::engine::forward::{LayerRun, LayerWeights};
use crate::io::image::{Preprocess, ResizeMode, load_image};
use crate::model::Network;
use ndarray::{ArrayD, Axis, IxDyn};
use std::collections::HashMap;
use std::sync::Arc;

/// Bundled sample photos (see `assets/images/LICENSES.md`).
pub const SAMPLES: &[(&str, &[u8])] = &[
    (
        "chelsea (cat)",
        include_bytes!("../../assets/images/chelsea.png"),
    ),
    ("coffee", include_bytes!("../../assets/images/coffee.png")),
    (
        "astronaut",
        include_bytes!("../../assets/images/astronaut.png"),
    ),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Colormap {
    Viridis,
    Magma,
    Gray,
    Diverging,
}

impl Colormap {
    pub const ALL: [Colormap; 4] = [
        Colormap::Viridis,
        Colormap::Magma,
        Colormap::Gray,
        Colormap::Diverging,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Colormap::Viridis => "viridis",
            Colormap::Magma => "magma",
            Colormap::Gray => "gray",
            Colormap::Diverging => "diverging (red-blue)",
        }
    }
    /// Colour for `t` in [0, 1].
    pub fn color(self, t: f32) -> egui::Color32 {
        let t = if t.is_finite() {
            t.clamp(0.0, 1.0) as f64
        } else {
            0.0
        };
        let c = match self {
            Colormap::Viridis => colorous::VIRIDIS.eval_continuous(t),
            Colormap::Magma => colorous::MAGMA.eval_continuous(t),
            Colormap::Gray => colorous::GREYS.eval_continuous(1.0 - t),
            Colormap::Diverging => colorous::RED_BLUE.eval_continuous(1.0 - t),
        };
        egui::Color32::from_rgb(c.r, c.g, c.b)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Norm {
    PerChannel,
    PerLayer,
}

/// The viewer's state.
pub struct Viewer {
    pub image_name: String,
    image_bytes: Option<Vec<u8>>,
    pub input: Option<Arc<ArrayD<f32>>>,
    input_shape: Vec<Option<i64>>,
    pub weights: Vec<Option<Arc<LayerWeights>>>,
    pub acts: Vec<Option<LayerRun>>,
    /// The network the activations belong to.
    ran: Option<Network>,
    /// The network of the job in flight.
    pending: Option<Network>,
    generation: u64,
    worker: Option<Worker>,
    pub running: bool,
    pub error: Option<String>,
    /// Layers evaluated by the last completed job (for tests and the timing readout).
    pub last_evaluated: Vec<usize>,
    pub colormap: Colormap,
    pub norm: Norm,
    pub tile: f32,
    pub seed: u64,
    pub preprocess: Preprocess,
    pub resize: ResizeMode,
    prepared_with: Option<(Preprocess, ResizeMode)>,
    thumb: Option<(usize, egui::TextureHandle)>,
    textures: HashMap<(usize, usize), egui::TextureHandle>,
    texture_key: Option<(u64, usize, Colormap, Norm)>,
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
            weights: Vec::new(),
            acts: Vec::new(),
            ran: None,
            pending: None,
            generation: 0,
            worker: None,
            running: false,
            error: None,
            last_evaluated: Vec::new(),
            colormap: Colormap::Viridis,
            norm: Norm::PerChannel,
            tile: 72.0,
            seed: 0,
            preprocess: Preprocess::Unit,
            resize: ResizeMode::Stretch,
            prepared_with: None,
            thumb: None,
            textures: HashMap::new(),
            texture_key: None,
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

    /// Uses image bytes (any supported format) as the input.
    pub fn set_image(&mut self, name: impl Into<String>, bytes: Vec<u8>) {
        self.image_name = name.into();
        self.image_bytes = Some(bytes);
        self.input = None;
        self.input_shape.clear();
    }

    /// Keeps weights loaded from a file (index = layer index).
    pub fn set_weights(&mut self, weights: Vec<LayerWeights>) {
        self.weights = weights.into_iter().map(|w| Some(Arc::new(w))).collect();
        self.ran = None;
    }

    /// Forgets weights and activations (a new design).
    pub fn reset(&mut self) {
        self.weights.clear();
        self.acts.clear();
        self.ran = None;
        self.textures.clear();
        self.texture_key = None;
    }

    fn prepare_input(&mut self, net: &Network) -> Result<(), String> {
        let shape = net.input_shape().cloned().unwrap_or_default();
        let with = Some((self.preprocess, self.resize));
        if self.input.is_some() && shape == self.input_shape && self.prepared_with == with {
            return Ok(());
        }
        let bytes = self.image_bytes.as_ref().ok_or("no input image")?;
        if shape.len() != 4 {
            return Err(format!(
                "images need a rank-4 input; this model's input is {shape:?}"
            ));
        }
        let cf = crate::runner::input_channels_first(net);
        let (h, w, c) = if cf {
            (shape[2], shape[3], shape[1])
        } else {
            (shape[1], shape[2], shape[3])
        };
        let target = match (h, w) {
            (Some(h), Some(w)) => Some((h.max(1) as usize, w.max(1) as usize)),
            _ => None,
        };
        let channels = c.unwrap_or(3).max(0) as usize;
        let img = load_image(bytes, target, channels, self.preprocess, self.resize)
            .map_err(|e| format!("{}: {e}", self.image_name))?;
        let arr =
            ArrayD::from_shape_vec(IxDyn(&[1, img.height, img.width, img.channels]), img.data)
                .map_err(|e| e.to_string())?;
        let arr = if cf {
            arr.permuted_axes(IxDyn(&[0, 3, 1, 2]))
                .as_standard_layout()
                .into_owned()
        } else {
            arr
        };
        self.input = Some(Arc::new(arr));
        self.input_shape = shape;
        self.prepared_with = with;
        self.ran = None;
        Ok(())
    }

    /// First layer whose result may differ from the last run.
    fn first_changed(&self, net: &Network) -> usize {
        let Some(old) = &self.ran else { return 1 };
        if old.layers.len() != net.layers.len() && old.layers.is_empty() {
            return 1;
        }
        let n = old.layers.len().min(net.layers.len());
        (1..n)
            .find(|&i| {
                old.layers[i] != net.layers[i] || self.acts.get(i).is_none_or(|a| a.is_none())
            })
            .unwrap_or(n)
            .max(1)
    }

    /// Submits a run when the network (or input) changed since the last one.
    pub fn schedule(&mut self, net: &Network, analysis: &crate::model::Analysis) {
        if analysis.first_error.is_some() {
            return;
        }
        let input_current = self.prepared_with == Some((self.preprocess, self.resize));
        if input_current
            && (self.pending.as_ref() == Some(net)
                || (self.pending.is_none() && self.ran.as_ref() == Some(net)))
        {
            return;
        }
        if let Err(e) = self.prepare_input(net) {
            self.error = Some(e);
            return;
        }
        let Some(input) = self.input.clone() else {
            return;
        };
        let from = self.first_changed(net).min(net.layers.len());
        // Weights follow their layer by name (layers may have moved); an edited layer
        // keeps them unless their shapes changed (the worker checks shapes).
        let weights: Vec<Option<Arc<LayerWeights>>> = match &self.ran {
            Some(old) => net
                .layers
                .iter()
                .map(|l| {
                    old.layers
                        .iter()
                        .position(|o| o.name == l.name)
                        .and_then(|j| self.weights.get(j).cloned().flatten())
                })
                .collect(),
            None => {
                let mut w = self.weights.clone();
                w.resize(net.layers.len(), None);
                w
            }
        };
        self.generation += 1;
        let job = Job {
            generation: self.generation,
            network: net.clone(),
            analysis: analysis.clone(),
            weights,
            input,
            cached: self.acts.iter().take(from).cloned().collect(),
            from,
            seed: self.seed,
        };
        self.pending = Some(net.clone());
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
        let net = self.pending.take();
        self.error = done.error;
        if self.error.is_none() {
            self.weights = done.weights;
            self.acts = done.acts;
            self.ran = net;
            self.last_evaluated = done.evaluated;
            self.texture_key = None;
        }
    }

    /// Draws new initializer weights for every layer (a new seed).
    pub fn reinitialise(&mut self) {
        self.seed = self.seed.wrapping_add(1);
        self.weights.clear();
        self.ran = None;
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
        if x.ndim() != 4 {
            return None;
        }
        let (h, w, c) = (x.shape()[1], x.shape()[2], x.shape()[3]);
        let (lo, hi) = x
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
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

    /// Milliseconds the last run spent in layer `i`, if it ran.
    pub fn millis(&self, i: usize) -> Option<f64> {
        self.acts.get(i)?.as_ref().map(|r| r.millis)
    }
}

/// Per-channel (or whole-layer) value range for normalisation.
fn ranges(act: &ArrayD<f32>, channel_axis: usize, norm: Norm) -> Vec<(f32, f32)> {
    let c = act.shape()[channel_axis];
    let range = |it: &mut dyn Iterator<Item = f32>| {
        it.filter(|v| v.is_finite())
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            })
    };
    match norm {
        Norm::PerLayer => vec![range(&mut act.iter().copied()); c],
        Norm::PerChannel => (0..c)
            .map(|k| range(&mut act.index_axis(Axis(channel_axis), k).iter().copied()))
            .collect(),
    }
}

/// The central "Feature maps" view.
pub fn feature_maps(d: &mut Designer, ui: &mut egui::Ui) {
    // The visible width of the central area (tiles are laid out in as many columns as fit).
    let visible = (ui.clip_rect().right().min(d.central_right) - ui.max_rect().left()).max(100.0);
    ui.set_max_width(visible);
    let input_cf = crate::runner::input_channels_first(&d.network);
    let v = &mut d.viewer;
    ui.horizontal_wrapped(|ui| {
        let l = ui.label("Image:");
        egui::ComboBox::from_id_salt("sample")
            .selected_text(v.image_name.clone())
            .show_ui(ui, |ui| {
                for (name, bytes) in SAMPLES {
                    if ui.selectable_label(v.image_name == *name, *name).clicked() {
                        v.set_image(*name, bytes.to_vec());
                    }
                }
            })
            .response
            .labelled_by(l.id);
        let l = ui.label("Colormap:");
        egui::ComboBox::from_id_salt("colormap")
            .selected_text(v.colormap.name())
            .show_ui(ui, |ui| {
                for c in Colormap::ALL {
                    ui.selectable_value(&mut v.colormap, c, c.name());
                }
            })
            .response
            .labelled_by(l.id);
    });
    ui.horizontal_wrapped(|ui| {
        let l = ui.label("Preprocess:");
        egui::ComboBox::from_id_salt("preprocess")
            .selected_text(format!("{:?}", v.preprocess).to_lowercase())
            .show_ui(ui, |ui| {
                for (p, what) in [
                    (Preprocess::Unit, "unit (÷255)"),
                    (Preprocess::Raw, "raw (0-255)"),
                    (Preprocess::Symmetric, "symmetric ([-1, 1])"),
                    (Preprocess::Imagenet, "imagenet (mean/std)"),
                ] {
                    ui.selectable_value(&mut v.preprocess, p, what);
                }
            })
            .response
            .labelled_by(l.id);
        let l = ui.label("Resize:");
        egui::ComboBox::from_id_salt("resize")
            .selected_text(match v.resize {
                ResizeMode::Stretch => "stretch",
                ResizeMode::CenterCrop => "centre crop",
                ResizeMode::Letterbox => "letterbox",
            })
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut v.resize, ResizeMode::Stretch, "stretch");
                ui.selectable_value(&mut v.resize, ResizeMode::CenterCrop, "centre crop");
                ui.selectable_value(&mut v.resize, ResizeMode::Letterbox, "letterbox");
            })
            .response
            .labelled_by(l.id);
        if ui
            .button("Re-initialise weights")
            .on_hover_text("Draw new weights for every layer from its initializer (next seed).")
            .clicked()
        {
            v.reinitialise();
        }
        if let Some(t) = v.thumbnail(ui.ctx(), input_cf) {
            ui.add(egui::Image::new(&t).fit_to_exact_size(egui::vec2(48.0, 48.0)))
                .on_hover_text("The exact tensor the network receives (scaled for display).");
        }
    });
    ui.horizontal_wrapped(|ui| {
        ui.radio_value(&mut v.norm, Norm::PerChannel, "per channel");
        ui.radio_value(&mut v.norm, Norm::PerLayer, "per layer");
        let l = ui.label("Tile:");
        ui.add(egui::Slider::new(&mut v.tile, 24.0..=192.0))
            .labelled_by(l.id);
        if v.running {
            ui.spinner();
            ui.label("running…");
        }
    });
    if let Some(e) = &v.error {
        ui.colored_label(super::panels::RED, e);
    }
    let i = d.selected;
    let Some(run) = v.acts.get(i).and_then(|a| a.clone()) else {
        ui.label(if d.analysis.first_error.is_some() {
            "Fix the layer marked red to see feature maps."
        } else {
            "Computing…"
        });
        return;
    };
    let act = run.output;
    let layer = &d.network.layers[i];
    ui.label(format!(
        "{} ({}) — output {:?}, {:.2} ms",
        layer.name,
        layer.class_name(),
        act.shape(),
        run.millis
    ));
    if act.ndim() != 4 {
        // Non-spatial output: one bar per value of the first sample.
        let vals: Vec<f32> = act
            .index_axis(Axis(0), 0)
            .iter()
            .copied()
            .take(512)
            .collect();
        let (lo, hi) = vals
            .iter()
            .fold((0f32, 0f32), |(a, b), &x| (a.min(x), b.max(x)));
        egui::ScrollArea::vertical().show(ui, |ui| {
            for (k, x) in vals.iter().enumerate() {
                ui.horizontal(|ui| {
                    ui.monospace(format!("{k:>4} {x:>10.4}"));
                    let w = 200.0 * (x - lo) / (hi - lo).max(1e-12);
                    let (rect, _) =
                        ui.allocate_exact_size(egui::vec2(w.max(1.0), 10.0), egui::Sense::hover());
                    ui.painter().rect_filled(rect, 0.0, v.colormap.color(0.7));
                });
            }
        });
        return;
    }
    let cf = layer.kind.data_format() == Some("channels_first");
    let (ch_axis, h_axis, w_axis) = if cf { (1, 2, 3) } else { (3, 1, 2) };
    let (h, w, c) = (
        act.shape()[h_axis],
        act.shape()[w_axis],
        act.shape()[ch_axis],
    );
    let rs = ranges(
        &act.index_axis(Axis(0), 0).to_owned().insert_axis(Axis(0)),
        ch_axis,
        v.norm,
    );
    let key = (v.generation, i, v.colormap, v.norm);
    if v.texture_key != Some(key) {
        v.textures.clear();
        v.texture_key = Some(key);
    }
    // Colour bar with the actual values (layer-wide range).
    let (lo, hi) = rs
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), r| {
            (a.min(r.0), b.max(r.1))
        });
    ui.horizontal(|ui| {
        ui.monospace(format!("{lo:.3}"));
        let (rect, _) = ui.allocate_exact_size(egui::vec2(200.0, 12.0), egui::Sense::hover());
        for k in 0..100 {
            let x0 = rect.left() + rect.width() * k as f32 / 100.0;
            let r = egui::Rect::from_min_max(
                egui::pos2(x0, rect.top()),
                egui::pos2(x0 + rect.width() / 100.0 + 0.5, rect.bottom()),
            );
            ui.painter()
                .rect_filled(r, 0.0, v.colormap.color(k as f32 / 99.0));
        }
        ui.monospace(format!("{hi:.3}"));
        ui.label(match v.norm {
            Norm::PerChannel => "(each tile scaled to its own range)",
            Norm::PerLayer => "",
        });
    });
    let tile = v.tile;
    let columns = ((visible - 16.0) / (tile + 10.0)).floor().max(1.0) as usize;
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            egui::Grid::new("tiles").spacing([6.0, 6.0]).show(ui, |ui| {
                for k in 0..c {
                    let tex = v.textures.entry((i, k)).or_insert_with(|| {
                        let (lo, hi) = rs[k];
                        let span = (hi - lo).max(1e-12);
                        let mut pixels = Vec::with_capacity(h * w);
                        for y in 0..h {
                            for x in 0..w {
                                let val = if cf {
                                    act[[0, k, y, x]]
                                } else {
                                    act[[0, y, x, k]]
                                };
                                pixels.push(v.colormap.color((val - lo) / span));
                            }
                        }
                        let img = egui::ColorImage::new([w, h], pixels);
                        ui.ctx().load_texture(
                            format!("fm-{i}-{k}"),
                            img,
                            egui::TextureOptions::NEAREST,
                        )
                    });
                    let aspect = h as f32 / w.max(1) as f32;
                    ui.vertical(|ui| {
                        ui.add(
                            egui::Image::new(&*tex)
                                .fit_to_exact_size(egui::vec2(tile, tile * aspect)),
                        );
                        ui.small(format!("ch {k}"));
                    });
                    if (k + 1) % columns == 0 {
                        ui.end_row();
                    }
                }
            });
        });
}
