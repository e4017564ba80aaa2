//! The Explain tab: why the network decides, on the viewer's image and the weights of
//! its last run. Pick a class from the top five (or a channel of the selected layer:
//! "what makes this channel fire") and a method ([`crate::explain`]); the map is drawn
//! over the input with a colormap and an opacity, and for the class activation maps
//! also at its layer's resolution, for the default layer or any layer with a spatial
//! output. Each explanation runs on a thread of its own with a progress bar and a
//! Cancel button; a newer request cancels the one in flight, so the window never waits.

use super::Designer;
use super::worker::{job_bar, run_job};
use crate::engine::forward::LayerWeights;
use crate::explain::{Attribution, Explainer, Method, Target};
use crate::model::Network;
use crate::progress::Progress;
use crate::viz::{self, Colormap};
use egui::{Color32, RichText};
use ndarray::{ArrayD, Axis};
use std::sync::{Arc, mpsc};

/// What is asked: the same request is never run twice. With the network it is of (kept
/// beside it, compared but cloned only when a request starts).
#[derive(Clone, Debug, PartialEq)]
struct Request {
    target: Target,
    method: Method,
    layer: Option<usize>,
    /// Also the map at every layer where it applies (Grad-CAM and Grad-CAM++).
    every_layer: bool,
    /// The input array explained (by identity).
    input: usize,
}

struct Job {
    request: Request,
    network: Network,
    progress: Progress,
    rx: mpsc::Receiver<Result<Attribution, String>>,
}

struct Shown {
    request: Request,
    network: Network,
    result: Result<Attribution, String>,
    /// Overlay and map textures, and what they were drawn with.
    textures: Option<(Colormap, u32, Vec<egui::TextureHandle>)>,
}

/// The tab's choices and work (runtime: never saved).
pub struct ExplainView {
    pub method: &'static str,
    /// `None`: the top class.
    pub class: Option<usize>,
    /// Explain a channel of the selected layer instead of a class.
    pub by_channel: bool,
    pub channel: usize,
    /// The class activation map's layer (`None`: the default one).
    pub layer: Option<usize>,
    /// Grad-CAM at every layer where it applies, in a grid.
    pub every_layer: bool,
    pub colormap: Colormap,
    pub opacity: f32,
    pub steps: usize,
    pub samples: usize,
    pub noise: f32,
    pub window: usize,
    pub channels: usize,
    job: Option<Job>,
    shown: Option<Shown>,
    /// What a channel looks for: the visualization in flight or on screen.
    pub features: Features,
    /// Top-activating patches over a folder of images.
    pub patches: super::patches::Patches,
}

/// Feature visualization of the selected layer's channels (one, or the first
/// [`GRID`]), made live on a thread with a progress bar.
#[derive(Default)]
pub struct Features {
    pub steps: usize,
    /// What is shown: a name for the PNG, a label per picture and the pictures (each
    /// its latest step's).
    pub name: Option<String>,
    pub labels: Vec<String>,
    pub tiles: Vec<Option<ndarray::Array3<f32>>>,
    pub error: Option<String>,
    job: Option<FeatureJob>,
    textures: Vec<Option<egui::TextureHandle>>,
}

/// Channels a layer's grid shows.
pub const GRID: usize = 16;

struct FeatureJob {
    progress: Progress,
    rx: mpsc::Receiver<FeatureMessage>,
}

enum FeatureMessage {
    /// Tile `k`'s picture at some step.
    Picture(usize, ndarray::Array3<f32>),
    Done(Result<(), String>),
}

impl Features {
    pub fn running(&self) -> bool {
        self.job.is_some()
    }

    fn poll(&mut self) {
        let Some(job) = &self.job else { return };
        loop {
            match job.rx.try_recv() {
                Ok(FeatureMessage::Picture(k, img)) => {
                    if let Some(t) = self.tiles.get_mut(k) {
                        *t = Some(img);
                    }
                    if let Some(t) = self.textures.get_mut(k) {
                        *t = None;
                    }
                }
                Ok(FeatureMessage::Done(r)) => {
                    self.error = r.err();
                    self.job = None;
                    return;
                }
                Err(mpsc::TryRecvError::Empty) => return,
                Err(mpsc::TryRecvError::Disconnected) => {
                    self.job = None;
                    return;
                }
            }
        }
    }

    /// Starts the visualization of `objectives` (each with its label; `name` names the
    /// PNG), cancelling one in flight.
    fn start(
        &mut self,
        net: Network,
        weights: Vec<Arc<LayerWeights>>,
        name: String,
        objectives: Vec<(String, crate::visualize::Objective)>,
        map: crate::visualize::InputMap,
        wake: Option<Arc<dyn Fn() + Send + Sync>>,
    ) {
        if let Some(old) = self.job.take() {
            old.progress.cancel();
        }
        let settings = crate::visualize::Settings {
            steps: self.steps.max(1),
            ..Default::default()
        };
        let progress = Progress::new();
        let (tx, rx) = mpsc::channel();
        self.name = Some(name);
        self.tiles = vec![None; objectives.len()];
        self.textures = vec![None; objectives.len()];
        self.labels = objectives.iter().map(|o| o.0.clone()).collect();
        self.error = None;
        let count = objectives.len();
        // The bar counts the steps of the channel being made.
        let p = progress.clone();
        let wake2 = wake.clone();
        let job = move || {
            let mut result = Ok(());
            for (k, (_, objective)) in objectives.into_iter().enumerate() {
                let mut each = |_: usize, img: &ndarray::Array3<f32>| {
                    let _ = tx.send(FeatureMessage::Picture(k, img.clone()));
                    if let Some(w) = &wake2 {
                        w();
                    }
                };
                let one = crate::visualize::visualize(
                    &net, &weights, objective, &map, &settings, &p, &mut each,
                );
                match one {
                    Ok(v) => {
                        let _ = tx.send(FeatureMessage::Picture(k, v.image));
                    }
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
            }
            let _ = tx.send(FeatureMessage::Done(result));
        };
        progress.set_total((settings.steps * count) as u64);
        run_job(wake, job);
        self.job = Some(FeatureJob { progress, rx });
        self.poll();
    }
}

impl Default for ExplainView {
    fn default() -> Self {
        ExplainView {
            method: "gradcam",
            class: None,
            by_channel: false,
            channel: 0,
            layer: None,
            every_layer: false,
            colormap: Colormap::Turbo,
            opacity: 0.5,
            steps: 32,
            samples: 20,
            noise: 0.2,
            window: 8,
            channels: 64,
            job: None,
            shown: None,
            features: Features {
                steps: 256,
                ..Features::default()
            },
            patches: Default::default(),
        }
    }
}

impl ExplainView {
    /// Whether an explanation is being computed.
    pub fn running(&self) -> bool {
        self.job.is_some()
    }

    /// The map on screen, if any.
    pub fn attribution(&self) -> Option<&Attribution> {
        self.shown.as_ref()?.result.as_ref().ok()
    }

    /// The error or "cancelled" on screen, if any.
    pub fn error(&self) -> Option<&str> {
        self.shown
            .as_ref()?
            .result
            .as_ref()
            .err()
            .map(String::as_str)
    }

    fn method_for(&self, hw: [usize; 2]) -> Method {
        let mut m = Method::parse(self.method, hw).unwrap_or(Method::GradCam);
        match &mut m {
            Method::ScoreCam { max_channels } => *max_channels = self.channels.max(1),
            Method::SmoothGrad { samples, noise, .. } => {
                *samples = self.samples.max(1);
                *noise = self.noise;
            }
            Method::IntegratedGradients { steps, .. } => *steps = self.steps.max(1),
            Method::Occlusion { window, stride } => {
                *window = self.window.max(1);
                *stride = (self.window / 2).max(1);
            }
            Method::GradCam | Method::GradCamPlusPlus | Method::Saliency => {}
        }
        m
    }

    /// Takes a finished job's result.
    fn poll(&mut self) {
        let Some(job) = &self.job else { return };
        match job.rx.try_recv() {
            Ok(result) => {
                let (request, network) = (job.request.clone(), job.network.clone());
                self.job = None;
                self.shown = Some(Shown {
                    request,
                    network,
                    result,
                    textures: None,
                });
            }
            Err(mpsc::TryRecvError::Empty) => {}
            Err(mpsc::TryRecvError::Disconnected) => self.job = None,
        }
    }

    /// Starts `request` unless it is on screen or being computed (cancelling a stale
    /// job). `wake` (the window's) runs it on a thread; without one (tests) it runs now.
    fn request(
        &mut self,
        request: Request,
        net: &Network,
        weights: &[Option<Arc<LayerWeights>>],
        inputs: Vec<Arc<ArrayD<f32>>>,
        wake: Option<Arc<dyn Fn() + Send + Sync>>,
    ) {
        if self
            .shown
            .as_ref()
            .is_some_and(|s| s.request == request && s.network == *net)
            || self
                .job
                .as_ref()
                .is_some_and(|j| j.request == request && j.network == *net)
        {
            return;
        }
        if let Some(old) = self.job.take() {
            old.progress.cancel();
        }
        let weights: Vec<Arc<LayerWeights>> = weights.iter().flatten().cloned().collect();
        let network = net.clone();
        let explained = network.clone();
        let progress = Progress::new();
        let (tx, rx) = mpsc::channel();
        let (p, r) = (progress.clone(), request.clone());
        let job = move || {
            let result = Explainer::new(&explained, &weights, inputs).and_then(|e| {
                let mut a = e.explain(r.target, r.method, r.layer, &p)?;
                let plus = r.method == Method::GradCamPlusPlus;
                if r.every_layer && matches!(r.method, Method::GradCam | Method::GradCamPlusPlus) {
                    a.per_layer = e.cam_at_every_layer(r.target, plus, &p)?;
                }
                Ok(a)
            });
            let _ = tx.send(result);
        };
        run_job(wake, job);
        self.job = Some(Job {
            request,
            network,
            progress,
            rx,
        });
        self.poll();
    }
}

/// Sample 0's values of a rank-2 output: the classes.
fn class_values(y: &ArrayD<f32>) -> Option<Vec<f32>> {
    (y.ndim() == 2).then(|| y.index_axis(Axis(0), 0).iter().copied().collect())
}

/// The tab.
pub fn explain_panel(d: &mut Designer, ui: &mut egui::Ui) {
    // The central area's visible width (its rect reaches under the inspector).
    let visible =
        (ui.clip_rect().right().min(d.rt.central_right) - ui.max_rect().left()).max(200.0);
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            ui.set_max_width(visible);
            attribution_section(d, ui);
            ui.separator();
            features_section(d, ui, visible);
            ui.separator();
            super::patches::patches_section(d, ui, visible);
        });
}

/// Why the network decides: the attribution map.
fn attribution_section(d: &mut Designer, ui: &mut egui::Ui) {
    let visible =
        (ui.clip_rect().right().min(d.rt.central_right) - ui.max_rect().left()).max(200.0);
    ui.set_max_width(visible);
    d.rt.explain.poll();
    let net = &d.doc.network;
    let Some(run) = d.rt.viewer.last_run().filter(|r| r.network == net) else {
        ui.heading("Explain");
        ui.label(
            "Why the network decides: once the design has run on an image (Feature maps), \
             this tab shows which pixels its class scores depend on (Grad-CAM, saliency, \
             integrated gradients…) and what makes a channel fire.",
        );
        if d.rt.analysis.error(net).is_some() {
            ui.label("The design has an error: fix it first.");
        }
        return;
    };
    if !run.complete() {
        ui.label("Waiting for the run to finish…");
        return;
    }
    let weights = run.weights;
    let out = net.outputs().first().copied().unwrap_or(0);
    let classes = run
        .acts
        .get(out)
        .and_then(|a| a.as_ref())
        .and_then(|a| class_values(&a.output));
    let inputs = d.rt.viewer.inputs();
    let Some(x0) = inputs.first().cloned() else {
        return;
    };
    let input_layer = net.input_layers().first().copied().unwrap_or(0);
    let cf =
        d.rt.analysis
            .layers
            .get(input_layer)
            .is_some_and(|r| r.channels_first);
    if x0.ndim() != 4 {
        ui.label("Attribution maps need an image input (rank 4).");
        return;
    }
    let hw = if cf {
        [x0.shape()[2], x0.shape()[3]]
    } else {
        [x0.shape()[1], x0.shape()[2]]
    };
    let spatial: Vec<usize> = (0..net.len())
        .filter(|&i| {
            !net.layers()[i].kind.is_input()
                && d.rt
                    .analysis
                    .layers
                    .get(i)
                    .and_then(|r| r.output_shape.as_ref())
                    .is_some_and(|s| s.len() == 4)
        })
        .collect();
    let selected = d.view.selected.min(net.len().saturating_sub(1));
    let ev = &mut d.rt.explain;

    ui.horizontal_wrapped(|ui| {
        // What to explain.
        ui.vertical(|ui| {
            ui.strong("Explain");
            ui.radio_value(&mut ev.by_channel, false, "a class");
            match &classes {
                Some(vals) => {
                    let top = viz::top_k(vals, 5);
                    let best = top.first().map_or(0, |t| t.0);
                    for (k, v) in top {
                        let on = !ev.by_channel && ev.class.unwrap_or(best) == k;
                        if ui
                            .selectable_label(on, format!("class {k}: {v:.4}"))
                            .clicked()
                        {
                            ev.by_channel = false;
                            ev.class = Some(k);
                        }
                    }
                }
                None => {
                    ui.label("(the output is not a list of classes)");
                }
            }
            let name = &net.layers()[selected].name;
            ui.radio_value(&mut ev.by_channel, true, format!("a channel of '{name}'"));
            if ev.by_channel {
                ui.horizontal(|ui| {
                    let l = ui.label("channel");
                    ui.add(egui::DragValue::new(&mut ev.channel).range(0..=4095))
                        .labelled_by(l.id);
                });
            }
        });
        ui.separator();
        // How.
        ui.vertical(|ui| {
            ui.strong("Method");
            egui::ComboBox::from_label("method")
                .selected_text(ev.method)
                .show_ui(ui, |ui| {
                    for m in Method::NAMES {
                        ui.selectable_value(&mut ev.method, m, m);
                    }
                });
            let method = ev.method_for(hw);
            if method.uses_layer() {
                let shown = ev.layer.map_or("default (last spatial)".to_string(), |l| {
                    net.layers().get(l).map_or("?".into(), |l| l.name.clone())
                });
                egui::ComboBox::from_label("layer")
                    .selected_text(shown)
                    .show_ui(ui, |ui| {
                        ui.selectable_value(&mut ev.layer, None, "default (last spatial)");
                        for &i in &spatial {
                            ui.selectable_value(&mut ev.layer, Some(i), &net.layers()[i].name);
                        }
                    });
                if matches!(method, Method::GradCam | Method::GradCamPlusPlus) {
                    ui.checkbox(&mut ev.every_layer, "at every layer")
                        .on_hover_text(
                            "The map at each layer with a spatial output, from one backward pass.",
                        );
                }
            }
            let number = |ui: &mut egui::Ui, label: &str, v: &mut usize, max: usize| {
                ui.horizontal(|ui| {
                    let l = ui.label(label);
                    ui.add(egui::DragValue::new(v).range(1..=max))
                        .labelled_by(l.id);
                });
            };
            match method {
                Method::ScoreCam { .. } => number(ui, "channels", &mut ev.channels, 4096),
                Method::SmoothGrad { .. } => {
                    number(ui, "samples", &mut ev.samples, 1000);
                    ui.add(egui::Slider::new(&mut ev.noise, 0.0..=1.0).text("noise"));
                }
                Method::IntegratedGradients { .. } => number(ui, "steps", &mut ev.steps, 1000),
                Method::Occlusion { .. } => number(ui, "window", &mut ev.window, 1024),
                Method::GradCam | Method::GradCamPlusPlus | Method::Saliency => {}
            }
        });
        ui.separator();
        ui.vertical(|ui| {
            ui.strong("Overlay");
            egui::ComboBox::from_label("colormap")
                .selected_text(ev.colormap.label())
                .show_ui(ui, |ui| {
                    for c in Colormap::ALL {
                        ui.selectable_value(&mut ev.colormap, c, c.label());
                    }
                });
            ui.add(egui::Slider::new(&mut ev.opacity, 0.0..=1.0).text("opacity"));
        });
    });

    let target = if ev.by_channel {
        Target::Channel {
            layer: selected,
            channel: ev.channel,
        }
    } else {
        let best = classes
            .as_ref()
            .and_then(|v| viz::top_k(v, 1).first().map(|t| t.0))
            .unwrap_or(0);
        Target::Class(ev.class.unwrap_or(best))
    };
    let method = ev.method_for(hw);
    let request = Request {
        target,
        method,
        layer: if method.uses_layer() { ev.layer } else { None },
        every_layer: ev.every_layer && matches!(method, Method::GradCam | Method::GradCamPlusPlus),
        input: Arc::as_ptr(&x0) as usize,
    };
    ev.request(request, net, weights, inputs, d.rt.wake.clone());

    ui.separator();
    if let Some(job) = &ev.job {
        let (done, total) = job.progress.counts();
        let text = format!("{}: {done} of {total} passes", job.request.method.name());
        job_bar(ui, &job.progress, text, "Cancel", "Stop this explanation.");
    }
    let Some(shown) = &mut ev.shown else { return };
    let a = match &shown.result {
        Ok(a) => a,
        Err(e) if e == "cancelled" => {
            ui.label("Cancelled: change a choice to explain again.");
            return;
        }
        Err(e) => {
            ui.colored_label(
                Color32::from_rgb(220, 80, 80),
                format!("Cannot explain: {e}"),
            );
            return;
        }
    };
    let what = match shown.request.target {
        Target::Class(k) => format!("class {k}"),
        Target::Channel { layer, channel } => format!(
            "channel {channel} of '{}'",
            net.layers().get(layer).map_or("?", |l| l.name.as_str())
        ),
    };
    let at = a.layer.map_or(String::new(), |l| {
        format!(
            " at '{}' ({}x{})",
            net.layers().get(l).map_or("?", |l| l.name.as_str()),
            a.map.dim().0,
            a.map.dim().1
        )
    });
    ui.label(
        RichText::new(format!(
            "{} of {what}{at} · score {:.4}",
            shown.request.method.name(),
            a.score
        ))
        .strong(),
    );
    let opacity_key = (ev.opacity * 1000.0).round() as u32;
    if shown
        .textures
        .as_ref()
        .is_none_or(|(c, o, _)| *c != ev.colormap || *o != opacity_key)
    {
        let x = x0.index_axis(Axis(0), 0);
        let base = match x.into_dimensionality::<ndarray::Ix3>() {
            Ok(v) if cf => viz::image_picture(v.permuted_axes([1, 2, 0])),
            Ok(v) => viz::image_picture(v),
            Err(_) => return,
        };
        let over = viz::overlay(&base, a.overlay.view(), ev.colormap, ev.opacity);
        let tex = |name: &str, p: &viz::Picture, options| {
            let px = p
                .data
                .chunks_exact(3)
                .map(|c| Color32::from_rgb(c[0], c[1], c[2]))
                .collect();
            ui.ctx().load_texture(
                name,
                egui::ColorImage::new([p.width, p.height], px),
                options,
            )
        };
        let range = viz::min_max(a.map.iter());
        let map_px: Vec<u8> = viz::colorize(a.map.view(), range, ev.colormap)
            .into_iter()
            .flatten()
            .collect();
        let map_pic = viz::Picture {
            width: a.map.dim().1,
            height: a.map.dim().0,
            data: map_px,
        };
        let mut textures = vec![
            tex("explain-overlay", &over, egui::TextureOptions::LINEAR),
            // The layer's own pixels, unblurred.
            tex("explain-map", &map_pic, egui::TextureOptions::NEAREST),
        ];
        // Every layer's map over the input.
        for (k, (_, m)) in a.per_layer.iter().enumerate() {
            let up = crate::explain::resize(m, [base.height, base.width]);
            let p = viz::overlay(&base, up.view(), ev.colormap, ev.opacity);
            textures.push(tex(
                &format!("explain-layer-{k}"),
                &p,
                egui::TextureOptions::LINEAR,
            ));
        }
        shown.textures = Some((ev.colormap, opacity_key, textures));
    }
    if let Some((_, _, t)) = &shown.textures {
        let panes = if a.layer.is_some() { 2.0 } else { 1.0 };
        let side = ((visible - 24.0) / panes - 12.0).clamp(96.0, 360.0);
        ui.horizontal(|ui| {
            for (k, tex) in t.iter().enumerate() {
                if k == 1 && a.layer.is_none() {
                    break;
                }
                let [w, h] = tex.size();
                let s = side / (w.max(h).max(1) as f32);
                ui.vertical(|ui| {
                    ui.label(if k == 0 {
                        "over the input"
                    } else {
                        "at the layer's resolution"
                    });
                    ui.image((tex.id(), egui::vec2(w as f32 * s, h as f32 * s)));
                });
            }
        });
        let (lo, hi) = viz::min_max(a.map.iter());
        ui.label(format!("map from {lo:.4} to {hi:.4}"));
        if !a.per_layer.is_empty() {
            ui.strong(format!("{} at every layer", shown.request.method.name()));
            let side = 120.0f32;
            let per_row = ((visible - 16.0) / (side + 12.0)).floor().max(1.0) as usize;
            let tiles: Vec<(String, egui::TextureId)> = a
                .per_layer
                .iter()
                .zip(t.iter().skip(2))
                .map(|((l, m), tex)| {
                    let name = net.layers().get(*l).map_or("?", |l| l.name.as_str());
                    (format!("{name} ({}x{})", m.dim().0, m.dim().1), tex.id())
                })
                .collect();
            for row in tiles.chunks(per_row) {
                ui.horizontal(|ui| {
                    for (label, id) in row {
                        ui.vertical(|ui| {
                            ui.set_max_width(side);
                            ui.small(label);
                            ui.image((*id, egui::vec2(side, side)));
                        });
                    }
                });
            }
        }
    }
}

/// What a channel looks for: the selected layer's channel (or its first [`GRID`]) by
/// activation maximization, drawn live.
fn features_section(d: &mut Designer, ui: &mut egui::Ui, visible: f32) {
    let net = &d.doc.network;
    let f = &mut d.rt.explain.features;
    f.poll();
    ui.strong("What a channel looks for");
    let Some(run) =
        d.rt.viewer
            .last_run()
            .filter(|r| r.network == net && r.complete())
    else {
        return;
    };
    let weights = run.weights;
    let selected = d.view.selected.min(net.len().saturating_sub(1));
    let name = net.layers()[selected].name.clone();
    let channels =
        d.rt.analysis
            .layers
            .get(selected)
            .and_then(|r| r.output_shape.as_ref())
            .and_then(|s| {
                let cf = d.rt.analysis.layers[selected].channels_first && s.len() == 4;
                if cf {
                    s.get(1).copied().flatten()
                } else {
                    s.last().copied().flatten()
                }
            })
            .unwrap_or(0)
            .max(0) as usize;
    let channel = d.rt.explain.channel.min(channels.saturating_sub(1));
    // The class chosen above (or the top one), when the output is a list of classes.
    let out = net.outputs().first().copied().unwrap_or(0);
    let class = run
        .acts
        .get(out)
        .and_then(|a| a.as_ref())
        .and_then(|a| class_values(&a.output))
        .map(|v| {
            let best = viz::top_k(&v, 1).first().map_or(0, |t| t.0);
            d.rt.explain.class.unwrap_or(best)
        });
    let f = &mut d.rt.explain.features;
    let mut start = None;
    let mut start_class = None;
    ui.horizontal_wrapped(|ui| {
        let l = ui.label("steps");
        ui.add(egui::DragValue::new(&mut f.steps).range(1..=4096)).labelled_by(l.id);
        if ui
            .button(format!("Visualize channel {channel} of '{name}'"))
            .on_hover_text("Gradient ascent from noise on the picture that most raises this channel's mean activation (the channel is the one chosen above).")
            .clicked()
        {
            start = Some(vec![channel]);
        }
        let n = channels.min(GRID);
        if ui
            .button(format!("Visualize the layer ({n} channels)"))
            .on_hover_text("The first channels of the layer in a grid, as OpenAI Microscope shows them.")
            .clicked()
        {
            start = Some((0..n).collect::<Vec<_>>());
        }
        if let Some(k) = class
            && ui
                .button(format!("Visualize class {k}"))
                .on_hover_text(
                    "The picture that most raises the class's score before the final softmax \
                     (the class is the one chosen above).",
                )
                .clicked()
        {
            start_class = Some(k);
        }
    });
    let map = crate::runner::input_map(d.view.preprocess);
    let all: Vec<Arc<LayerWeights>> = weights.iter().flatten().cloned().collect();
    if let Some(chs) = start {
        let objectives = chs
            .into_iter()
            .map(|c| {
                let o = crate::visualize::Objective::Channel {
                    layer: selected,
                    channel: c,
                };
                (format!("{name} ch {c}"), o)
            })
            .collect();
        f.start(net.clone(), all, name, objectives, map, d.rt.wake.clone());
    } else if let Some(k) = start_class {
        match crate::explain::scores_before_softmax(net) {
            Ok(s) => {
                let o = crate::visualize::Objective::Class {
                    layer: s.score_layer,
                    class: k,
                };
                let (label, file) = (format!("class {k}"), format!("class_{k}"));
                f.start(
                    s.network,
                    all,
                    file,
                    vec![(label, o)],
                    map,
                    d.rt.wake.clone(),
                );
            }
            Err(e) => f.error = Some(e),
        }
    }
    if let Some(job) = &f.job {
        let (done, total) = job.progress.counts();
        let made = f.tiles.iter().filter(|t| t.is_some()).count();
        let text = format!(
            "{done} of {total} steps · {made} of {} channels",
            f.tiles.len()
        );
        let hover = "Stop the ascent; the pictures so far stay.";
        job_bar(ui, &job.progress, text, "Stop", hover);
    }
    match f.error.as_deref() {
        Some("cancelled") => {
            ui.label("Stopped.");
        }
        Some(e) => {
            ui.colored_label(
                Color32::from_rgb(220, 80, 80),
                format!("Cannot visualize: {e}"),
            );
        }
        None => {}
    }
    let Some(lname) = f.name.clone() else { return };
    if f.tiles.iter().all(Option::is_none) {
        return;
    }
    let side = if f.tiles.len() == 1 { 224.0 } else { 96.0 };
    // Each picture's texture (made again when a newer step's picture arrives).
    for (k, tile) in f.tiles.iter().enumerate() {
        let (Some(img), None) = (tile, &f.textures[k]) else {
            continue;
        };
        let (h, w, _) = img.dim();
        let b = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
        let px = img
            .outer_iter()
            .flat_map(|row| {
                row.outer_iter()
                    .map(|p| Color32::from_rgb(b(p[0]), b(p[1]), b(p[2])))
                    .collect::<Vec<_>>()
            })
            .collect();
        f.textures[k] = Some(ui.ctx().load_texture(
            format!("features-{k}"),
            egui::ColorImage::new([w, h], px),
            egui::TextureOptions::LINEAR,
        ));
    }
    // Rows of as many as fit the visible width.
    let per_row = ((visible - 16.0) / (side + 12.0)).floor().max(1.0) as usize;
    let shown: Vec<(usize, egui::TextureId)> = f
        .textures
        .iter()
        .enumerate()
        .filter_map(|(k, t)| t.as_ref().map(|t| (k, t.id())))
        .collect();
    for row in shown.chunks(per_row) {
        ui.horizontal(|ui| {
            for &(k, id) in row {
                ui.vertical(|ui| {
                    ui.label(&f.labels[k]);
                    ui.image((id, egui::vec2(side, side)));
                });
            }
        });
    }
    if !f.running() && ui.button("Save PNG…").clicked() {
        let tiles: Vec<ndarray::Array3<f32>> = f.tiles.iter().flatten().cloned().collect();
        let picture = crate::runner::tile_pictures(&tiles);
        if let Some(path) = save_dialog(&format!("{lname}_features.png")) {
            match picture
                .to_png()
                .map_err(|e| e.to_string())
                .and_then(|b| crate::io::write_atomic(&path, &b).map_err(|e| e.to_string()))
            {
                Ok(()) => d.notify(format!("Saved {}", path.display()), false),
                Err(e) => d.notify(format!("Cannot save {}: {e}", path.display()), true),
            }
        }
    }
}

/// A save dialog (the window's; none in headless tests).
fn save_dialog(name: &str) -> Option<std::path::PathBuf> {
    if cfg!(test) {
        return None;
    }
    rfd::FileDialog::new()
        .set_file_name(name)
        .add_filter("PNG", &["png"])
        .save_file()
}
