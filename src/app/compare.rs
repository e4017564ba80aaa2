//! The Compare tab: design A pinned — its network, and the weights and activations of
//! its last run on the viewer's image — against the document as B. It lists layer by
//! layer what differs ([`crate::compare`]: arguments, output shape, parameters, MACs,
//! receptive field) with the totals, and for the selected layer one channel of A and of
//! B side by side on the same image, in one colour range, with their difference B - A
//! when the shapes agree. A new image re-runs A on it (on a thread of its own).

use super::Designer;
use crate::compare::{Changed, Diff, diff};
use crate::engine::forward::{EngineError, LayerRun, LayerWeights};
use crate::keras::pyfmt;
use crate::model::{Analysis, Network};
use crate::viz::{self, Colormap};
use egui::{Color32, RichText};
use ndarray::ArrayD;
use std::sync::{Arc, mpsc};

/// What a run of A gives: every layer's output, or why it failed.
type RunResult = Result<Vec<Option<LayerRun>>, String>;

/// Design A as it was pinned.
pub struct Pinned {
    pub network: Network,
    pub analysis: Analysis,
    /// Each layer's weights in A's last run (empty when the viewer had not run it).
    weights: Vec<Option<Arc<LayerWeights>>>,
    /// Each layer's output on [`Pinned::input`].
    pub acts: Vec<Option<LayerRun>>,
    /// The first input array the activations are of (a new one re-runs A).
    input: Option<Arc<ArrayD<f32>>>,
    rerun: Option<mpsc::Receiver<RunResult>>,
    pub error: Option<String>,
    /// Bumped when the activations change (keys the textures).
    version: u64,
}

/// The tab's state (runtime: never saved).
#[derive(Default)]
pub struct CompareView {
    pub pinned: Option<Pinned>,
    /// The diff and the design B it was made for.
    cached: Option<(Network, Arc<Diff>)>,
    /// The channel shown side by side.
    pub channel: usize,
    /// The selected pair's outputs as maps (made again only when a run changes them).
    maps: Option<(MapsKey, Arc<[ndarray::Array3<f32>; 2]>)>,
    /// The channel's textures (A, B and B − A) and B − A's largest magnitude.
    textures: Option<(TextureKey, Vec<egui::TextureHandle>, Option<f32>)>,
}

/// Which maps are held: A's layer, B's layer, the two runs.
type MapsKey = (usize, usize, u64, u64);

/// Which maps the textures show: A's layer, B's layer, channel, the two runs, colormap.
type TextureKey = (usize, usize, usize, u64, u64, Colormap);

impl CompareView {
    /// Pins `net` as A, with the viewer's last run when it is of this design.
    pub fn pin(&mut self, net: &Network, analysis: &Analysis, viewer: &super::viewer::Viewer) {
        let (weights, acts, input) = match viewer.last_run() {
            Some(r) if r.network == net => {
                (r.weights.to_vec(), r.acts.to_vec(), viewer.input.clone())
            }
            _ => (Vec::new(), Vec::new(), None),
        };
        let version = self.pinned.as_ref().map_or(0, |p| p.version + 1);
        self.pinned = Some(Pinned {
            network: net.clone(),
            analysis: analysis.clone(),
            weights,
            acts,
            input,
            rerun: None,
            error: None,
            version,
        });
        self.cached = None;
        self.maps = None;
        self.textures = None;
    }

    pub fn unpin(&mut self) {
        self.pinned = None;
        self.cached = None;
        self.maps = None;
        self.textures = None;
    }

    /// What differs from A to `net` (made again only when the design changes).
    pub fn diff(&mut self, net: &Network, analysis: &Analysis) -> Option<Arc<Diff>> {
        let p = self.pinned.as_ref()?;
        if self.cached.as_ref().is_none_or(|(n, _)| n != net) {
            let d = diff(&p.network, &p.analysis, net, analysis);
            self.cached = Some((net.clone(), Arc::new(d)));
        }
        self.cached.as_ref().map(|(_, d)| d.clone())
    }

    /// Re-runs A when the viewer's input is another array than A's activations are of,
    /// and takes the result of a re-run in flight. `wake` (the window's) runs it on a
    /// thread; without one (tests) it runs now.
    pub fn follow_input(
        &mut self,
        viewer: &super::viewer::Viewer,
        wake: Option<Arc<dyn Fn() + Send + Sync>>,
    ) {
        let Some(p) = &mut self.pinned else { return };
        if let Some(rx) = &p.rerun {
            match rx.try_recv() {
                Ok(r) => {
                    p.rerun = None;
                    match r {
                        Ok(acts) => {
                            p.acts = acts;
                            p.error = None;
                        }
                        Err(e) => p.error = Some(e),
                    }
                    p.version += 1;
                    self.textures = None;
                }
                Err(mpsc::TryRecvError::Empty) => return,
                Err(mpsc::TryRecvError::Disconnected) => p.rerun = None,
            }
        }
        let Some(now) = viewer.input.clone() else {
            return;
        };
        let complete = p.weights.len() == p.network.len() && p.weights.iter().all(Option::is_some);
        if p.input.as_ref().is_some_and(|x| Arc::ptr_eq(x, &now)) || !complete {
            return;
        }
        p.input = Some(now);
        let net = p.network.clone();
        let weights: Vec<Arc<LayerWeights>> = p.weights.iter().flatten().cloned().collect();
        let inputs = viewer.inputs();
        let job = move || -> RunResult {
            let analysis = net.analyze();
            let mut acts: Vec<Option<LayerRun>> = vec![None; net.len()];
            for (i, x) in
                crate::engine::forward::place_inputs(&net, inputs).map_err(|e| e.to_string())?
            {
                acts[i] = Some(LayerRun {
                    output: x,
                    millis: 0.0,
                });
            }
            let dirty = vec![true; net.len()];
            crate::engine::forward::run_dirty(&net, &analysis, &weights, &mut acts, &dirty)
                .map_err(|e: EngineError| e.to_string())?;
            Ok(acts)
        };
        let (tx, rx) = mpsc::channel();
        match wake {
            Some(wake) => {
                std::thread::spawn(move || {
                    let _ = tx.send(job());
                    wake();
                });
            }
            None => {
                let _ = tx.send(job());
            }
        }
        p.rerun = Some(rx);
    }
}

/// The tab.
pub fn compare_panel(d: &mut Designer, ui: &mut egui::Ui) {
    // The central area's visible width (its rect reaches under the inspector).
    let visible =
        (ui.clip_rect().right().min(d.rt.central_right) - ui.max_rect().left()).max(200.0);
    ui.set_max_width(visible);
    d.rt.compare.follow_input(&d.rt.viewer, d.rt.wake.clone());
    if d.rt.compare.pinned.is_none() {
        ui.heading("Compare two designs");
        ui.label(
            "Pin the design as A, then edit it: this tab lists what changed, layer by layer \
             (arguments, output shape, parameters, MACs, receptive field), and shows a \
             layer's feature maps of A and B side by side on the same image.",
        );
        if ui.button("Pin as A").clicked() {
            d.command(super::Command::PinA);
        }
        return;
    }
    let (net, analysis) = (&d.doc.network, &d.rt.analysis);
    let Some(diff) = d.rt.compare.diff(net, analysis) else {
        return;
    };
    ui.horizontal(|ui| {
        let a = d.rt.compare.pinned.as_ref().map_or(0, |p| p.network.len());
        ui.label(
            RichText::new(format!(
                "A: the pinned design ({a} layers)  ·  B: the design now"
            ))
            .strong(),
        );
        if ui
            .button("Pin again")
            .on_hover_text("The design now becomes A.")
            .clicked()
        {
            d.command(super::Command::PinA);
        }
        if ui.button("Unpin").clicked() {
            d.command(super::Command::Unpin);
        }
    });
    let t = &diff.totals;
    ui.label(format!(
        "Totals A -> B: {} -> {} layers · params {} · MACs {}",
        t.layers[0],
        t.layers[1],
        change(
            &pyfmt::thousands(t.params[0]),
            &pyfmt::thousands(t.params[1])
        ),
        change(
            &pyfmt::short_count(t.macs[0]),
            &pyfmt::short_count(t.macs[1])
        ),
    ));
    if diff.is_empty() {
        ui.label("No differences yet: edit the design (B) to compare it with A.");
    }
    ui.separator();
    egui::ScrollArea::both()
        .id_salt("compare-list")
        .max_width(visible)
        .max_height(ui.available_height() * 0.45)
        .show(ui, |ui| differences(d, ui, &diff));
    ui.separator();
    side_by_side(d, ui, &diff, visible);
}

/// `a -> b`, or `a` when they agree.
fn change(a: &str, b: &str) -> String {
    if a == b {
        a.to_string()
    } else {
        format!("{a} -> {b}")
    }
}

/// One row per layer: removed ones (A only), then A's order with each matched pair's
/// differences and the layers B added after their producer.
fn differences(d: &mut Designer, ui: &mut egui::Ui, diff: &Diff) {
    let shape = |s: &Option<crate::model::Shape>| {
        s.as_ref().map_or("?".to_string(), |s| pyfmt::tuple_opt(s))
    };
    let rf = |f: &Option<[f64; 2]>| f.map_or("-".to_string(), |f| format!("{}×{}", f[0], f[1]));
    egui::Grid::new("compare-grid")
        .striped(true)
        .show(ui, |ui| {
            for h in [
                "layer",
                "what differs",
                "output shape",
                "params",
                "MACs",
                "receptive field",
            ] {
                ui.label(RichText::new(h).strong());
            }
            ui.end_row();
            for o in &diff.removed {
                ui.colored_label(
                    crate::app::panels::RED,
                    format!("- {} ({})", o.name, o.class_name),
                );
                ui.label("only in A");
                ui.label(shape(&o.output_shape));
                ui.label(pyfmt::thousands(o.params));
                ui.label("");
                ui.label("");
                ui.end_row();
            }
            let mut rows: Vec<(usize, Row)> =
                diff.pairs.iter().map(|c| (c.at[1], Row::Pair(c))).collect();
            rows.extend(diff.added.iter().map(|o| (o.at, Row::Added(o))));
            rows.sort_by_key(|(at, _)| *at);
            for (at, row) in rows {
                let selected = d.view.selected == at;
                match row {
                    Row::Pair(c) => {
                        let differs = c.differs();
                        let label = format!(
                            "{}{} ({})",
                            if differs { "~ " } else { "" },
                            c.name,
                            c.class_name
                        );
                        let text = if differs {
                            RichText::new(label).strong()
                        } else {
                            RichText::new(label).weak()
                        };
                        if ui.selectable_label(selected, text).clicked() {
                            d.view.selected = at;
                        }
                        let what = what_differs(c);
                        ui.scope(|ui| {
                            ui.set_max_width(260.0);
                            ui.add(egui::Label::new(what.as_str()).truncate())
                                .on_hover_text(what.as_str());
                        });
                        ui.label(change(
                            &shape(&c.output_shape[0]),
                            &shape(&c.output_shape[1]),
                        ));
                        ui.label(change(
                            &pyfmt::thousands(c.params[0]),
                            &pyfmt::thousands(c.params[1]),
                        ));
                        ui.label(change(
                            &pyfmt::short_count(c.macs[0]),
                            &pyfmt::short_count(c.macs[1]),
                        ));
                        ui.label(change(
                            &rf(&c.receptive_field[0]),
                            &rf(&c.receptive_field[1]),
                        ));
                    }
                    Row::Added(o) => {
                        let text = RichText::new(format!("+ {} ({})", o.name, o.class_name))
                            .color(Color32::from_rgb(60, 160, 90));
                        if ui.selectable_label(selected, text).clicked() {
                            d.view.selected = at;
                        }
                        ui.label("only in B");
                        ui.label(shape(&o.output_shape));
                        ui.label(pyfmt::thousands(o.params));
                        ui.label("");
                        ui.label("");
                    }
                }
                ui.end_row();
            }
        });
}

enum Row<'a> {
    Pair(&'a Changed),
    Added(&'a crate::compare::Only),
}

/// The changed arguments and inputs of a pair, `key: a -> b`.
fn what_differs(c: &Changed) -> String {
    let mut parts: Vec<String> = c
        .arguments
        .iter()
        .map(|(k, [a, b])| format!("{k}: {a} -> {b}"))
        .collect();
    if let Some([a, b]) = &c.inputs {
        parts.push(format!("inputs: {} -> {}", a.join(", "), b.join(", ")));
    }
    if parts.is_empty() && c.differs() {
        parts.push("follows an earlier change".into());
    }
    parts.join("; ")
}

/// The selected layer's channel in A and in B, and B - A when the shapes agree.
fn side_by_side(d: &mut Designer, ui: &mut egui::Ui, diff: &Diff, visible: f32) {
    let sel = d.view.selected;
    let Some(pair) = diff.pairs.iter().find(|c| c.at[1] == sel) else {
        let name = d
            .doc
            .network
            .layers()
            .get(sel)
            .map_or("?", |l| l.name.as_str());
        ui.label(format!(
            "'{name}' is new in B: A has no such layer to compare its maps with."
        ));
        return;
    };
    let [ia, ib] = pair.at;
    let cv = &mut d.rt.compare;
    let Some(p) = &cv.pinned else { return };
    if let Some(e) = &p.error {
        ui.colored_label(
            crate::app::panels::RED,
            format!("A could not run on this image: {e}"),
        );
    }
    let out_a = p
        .acts
        .get(ia)
        .and_then(|a| a.as_ref())
        .map(|r| r.output.clone());
    let out_b = match d.rt.viewer.last_run() {
        Some(run) if *run.network == d.doc.network => run
            .acts
            .get(ib)
            .and_then(|a| a.as_ref())
            .map(|r| r.output.clone()),
        _ => None,
    };
    let (Some(xa), Some(xb)) = (out_a, out_b) else {
        ui.label(if p.rerun.is_some() {
            "Running A on this image…"
        } else {
            "Feature maps appear once both designs have run on the image (A: pin it after the viewer ran)."
        });
        return;
    };
    let maps_key: MapsKey = (ia, ib, p.version, d.rt.viewer.version);
    if cv.maps.as_ref().is_none_or(|(k, _)| *k != maps_key) {
        let ma = viz::channel_maps(&xa, p.analysis.layers[ia].channels_first);
        let mb = viz::channel_maps(&xb, d.rt.analysis.layers[ib].channels_first);
        cv.maps = Some((maps_key, Arc::new([ma, mb])));
        cv.textures = None;
    }
    let Some(maps) = cv.maps.as_ref().map(|(_, m)| m.clone()) else {
        return;
    };
    let [ma, mb] = &*maps;
    let channels = ma.shape()[0].min(mb.shape()[0]);
    if channels == 0 {
        return;
    }
    cv.channel = cv.channel.min(channels - 1);
    let same = ma.shape() == mb.shape();
    ui.horizontal(|ui| {
        let l = ui.label(format!("'{}' channel", pair.name));
        ui.add(egui::DragValue::new(&mut cv.channel).range(0..=channels - 1))
            .labelled_by(l.id);
        ui.label(format!("of {channels}; one colour range for A and B"));
    });
    let k = cv.channel;
    let key: TextureKey = (ia, ib, k, p.version, d.rt.viewer.version, d.view.colormap);
    if cv.textures.as_ref().is_none_or(|(old, ..)| *old != key) {
        let (a, b) = (
            ma.index_axis(ndarray::Axis(0), k),
            mb.index_axis(ndarray::Axis(0), k),
        );
        let range = viz::min_max(a.iter().chain(b.iter()));
        let texture = |name: &str, map: ndarray::ArrayView2<f32>, range, cmap| {
            let (h, w) = (map.shape()[0], map.shape()[1]);
            let px = viz::colorize(map, range, cmap)
                .into_iter()
                .map(|[r, g, b]| Color32::from_rgb(r, g, b))
                .collect();
            ui.ctx().load_texture(
                name,
                egui::ColorImage::new([w, h], px),
                egui::TextureOptions::NEAREST,
            )
        };
        let mut tex = vec![
            texture("compare-a", a.view(), range, d.view.colormap),
            texture("compare-b", b.view(), range, d.view.colormap),
        ];
        let mut max_delta = None;
        if same {
            let delta = &b - &a;
            let m = delta.iter().fold(0f32, |m, v| m.max(v.abs()));
            max_delta = Some(m);
            let m = if m > 0.0 { m } else { 1.0 };
            tex.push(texture(
                "compare-diff",
                delta.view(),
                (-m, m),
                Colormap::Diverging,
            ));
        }
        cv.textures = Some((key, tex, max_delta));
    }
    let Some((_, tex, max_delta)) = &cv.textures else {
        return;
    };
    let width = ((visible - 32.0) / 3.0).max(32.0);
    ui.horizontal_top(|ui| {
        let captions = [
            format!(
                "A {}",
                pyfmt::tuple(&ma.shape().iter().map(|&v| v as i64).collect::<Vec<_>>())
            ),
            format!(
                "B {}",
                pyfmt::tuple(&mb.shape().iter().map(|&v| v as i64).collect::<Vec<_>>())
            ),
            max_delta.map_or(String::new(), |m| format!("B - A (max |B - A| {m:.3e})")),
        ];
        for (t, caption) in tex.iter().zip(captions) {
            ui.vertical(|ui| {
                let [w, h] = t.size();
                let scale = width / w.max(1) as f32;
                ui.add(egui::Image::new((
                    t.id(),
                    egui::vec2(width, h as f32 * scale),
                )));
                ui.label(caption);
            });
        }
        if !same {
            ui.label("The shapes differ: no difference map.");
        }
    });
}
