//! The "Feature maps" tab: toolbars (image, preprocessing, weights and presets, display,
//! export), the header with the input tensor and the hovered pixel's receptive field,
//! and the panes: tile grid or magnified map, statistics plots, kernels.

use super::{Hover, Pane, SAMPLES, Viewer};
use crate::app::{Command, Designer, ViewSettings};
use crate::engine::presets::{self, Preset};
use crate::io::image::{Preprocess, ResizeMode};
use crate::model::Layer;
use crate::viz::{Colormap, Norm, Order};
use egui::{Color32, Pos2, Rect, Sense, Vec2, pos2, vec2};

/// The central "Feature maps" view.
pub fn feature_maps(d: &mut Designer, ui: &mut egui::Ui) {
    // The visible width of the central area (tiles are laid out in as many columns as fit).
    let visible =
        (ui.clip_rect().right().min(d.rt.central_right) - ui.max_rect().left()).max(100.0);
    ui.set_max_width(visible);
    let i = d.view.selected.min(d.doc.network.len().saturating_sub(1));
    input_bar(d, ui);
    weights_bar(d, ui, i);
    display_bar(&mut d.view, ui);
    export_bar(d, ui);
    let v = &mut d.rt.viewer;
    run_bar(v, ui);
    if v.cancelled {
        return;
    }
    if let Some(e) = &v.error {
        ui.colored_label(crate::app::panels::RED, e);
    }
    if v.acts.get(i).and_then(|a| a.as_ref()).is_none() {
        if d.rt.analysis.first_error.is_some() {
            ui.label("Fix the layer marked red to see feature maps.");
        } else if v.error.is_none() || v.running {
            ui.label("Computing…");
        }
        return;
    }
    ui.separator();
    let layer = d.doc.network.layers()[i].clone();
    header(d, ui, i, &layer);
    ui.separator();
    let (s, v, net) = (&mut d.view, &mut d.rt.viewer, &d.doc.network);
    // The central panel's rect reaches under the inspector: keep panes to what is visible.
    let avail = ui.available_rect_before_wrap();
    let rect = Rect::from_min_max(
        avail.min,
        pos2(
            (avail.left() + visible - 8.0).max(avail.left() + 50.0),
            avail.bottom(),
        ),
    );
    ui.scope_builder(egui::UiBuilder::new().max_rect(rect), |ui| match s.pane {
        Pane::Maps => maps_pane(s, v, net, ui, i, &layer, visible),
        Pane::Statistics => super::plots::statistics(v, net, ui, i, &layer),
        Pane::Kernels => super::kernels::kernels(v, ui, i, &layer),
    });
}

fn combo<T: PartialEq + Copy>(
    ui: &mut egui::Ui,
    label: &str,
    value: &mut T,
    options: &[(T, &str)],
) -> bool {
    let l = ui.label(label);
    let current = options
        .iter()
        .find(|(o, _)| o == value)
        .map_or("", |(_, n)| n);
    let mut changed = false;
    egui::ComboBox::from_id_salt(label)
        .selected_text(current)
        .show_ui(ui, |ui| {
            for (o, name) in options {
                changed |= ui.selectable_value(value, *o, *name).changed();
            }
        })
        .response
        .labelled_by(l.id);
    changed
}

const PREPROCESS: &[(Preprocess, &str)] = &[
    (Preprocess::Unit, "unit (÷255)"),
    (Preprocess::Raw, "raw (0-255)"),
    (Preprocess::Symmetric, "symmetric ([-1, 1])"),
    (Preprocess::Imagenet, "imagenet (mean/std)"),
    (Preprocess::Caffe, "caffe (BGR, mean)"),
];

const RESIZE: &[(ResizeMode, &str)] = &[
    (ResizeMode::Stretch, "stretch"),
    (ResizeMode::CenterCrop, "centre crop"),
    (ResizeMode::Letterbox, "letterbox"),
];

const ORDER: &[(Order, &str)] = &[
    (Order::Index, "channel index"),
    (Order::Mean, "mean (largest first)"),
    (Order::Energy, "energy (largest first)"),
];

fn input_bar(d: &mut Designer, ui: &mut egui::Ui) {
    let mut open = false;
    let mut sample = None;
    let proposed = Preprocess::for_application(&d.doc.network.name);
    let (s, v) = (&mut d.view, &d.rt.viewer);
    ui.horizontal_wrapped(|ui| {
        let l = ui.label("Image:");
        egui::ComboBox::from_id_salt("sample")
            .selected_text(v.image_name.clone())
            .show_ui(ui, |ui| {
                for (k, (name, _)) in SAMPLES.iter().enumerate() {
                    if ui.selectable_label(v.image_name == *name, *name).clicked() {
                        sample = Some(k);
                    }
                }
            })
            .response
            .labelled_by(l.id);
        open = ui
            .button("Open image…")
            .on_hover_text("Any PNG, JPEG, WebP, BMP, GIF or TIFF; or drop one on the window.")
            .clicked();
        combo(ui, "Preprocess:", &mut s.preprocess, PREPROCESS);
        if let Some((mode, why)) = proposed
            && mode != s.preprocess
        {
            let label = PREPROCESS
                .iter()
                .find(|(m, _)| *m == mode)
                .map_or("", |(_, l)| l);
            if ui
                .button(format!("Use {label}"))
                .on_hover_text(format!("{why}."))
                .clicked()
            {
                s.preprocess = mode;
            }
        }
        combo(ui, "Resize:", &mut s.resize, RESIZE);
    });
    if open {
        d.command(Command::OpenImage);
    }
    if let Some(k) = sample {
        d.command(Command::UseSample(k));
    }
}

fn weights_bar(d: &mut Designer, ui: &mut egui::Ui, i: usize) {
    let layer = &d.doc.network.layers()[i];
    let has_weights = !d.rt.analysis.layers[i].weights.is_empty();
    let mut commands = Vec::new();
    ui.horizontal_wrapped(|ui| {
        ui.label("Weights:");
        let all = Command::ReinitialiseAll;
        if ui.button(all.label()).on_hover_text(all.tooltip()).clicked() {
            commands.push(all);
        }
        if ui
            .add_enabled(has_weights, egui::Button::new(format!("Re-initialise {}", layer.name)))
            .on_hover_text("Draw new weights for this layer only; the layers before it keep their activations.")
            .clicked()
        {
            commands.push(Command::ReinitialiseLayer(i));
        }
        let supports = presets::supports(layer);
        let current = d.doc.weights.presets.get(&layer.id()).copied();
        let l = ui.label("Filter preset:");
        ui.add_enabled_ui(supports, |ui| {
            egui::ComboBox::from_id_salt("preset")
                .selected_text(current.map_or("(initializer or file)", |p| p.label()))
                .show_ui(ui, |ui| {
                    for p in Preset::ALL {
                        if ui.selectable_label(current == Some(p), p.label()).clicked() {
                            commands.push(Command::SetPreset {
                                index: i,
                                preset: Some(p),
                            });
                        }
                    }
                })
                .response
                .labelled_by(l.id)
                .on_hover_text(
                    "Hand-made filters for a Conv2D or DepthwiseConv2D, so its maps mean \
                     something without training (bias 0; applied to the luminance).",
                )
                .on_disabled_hover_text("Presets fit Conv2D and DepthwiseConv2D layers.");
        });
    });
    for c in commands {
        d.command(c);
    }
}

/// While a run is in flight: its progress (multiply-accumulates done) and Cancel; after a
/// cancelled run: Run.
fn run_bar(v: &mut Viewer, ui: &mut egui::Ui) {
    if let Some(p) = v.progress.as_ref().filter(|_| v.running) {
        let mut cancel = false;
        ui.horizontal(|ui| {
            ui.spinner();
            let (done, total) = p.counts();
            ui.add(
                egui::ProgressBar::new(p.fraction().unwrap_or(0.0))
                    .desired_width(240.0)
                    .text(format!(
                        "running: {} of {} MACs",
                        crate::keras::pyfmt::short_count(done as i64),
                        crate::keras::pyfmt::short_count(total as i64)
                    )),
            );
            cancel = ui
                .button("Cancel")
                .on_hover_text("Stop this run; the design stays as it is.")
                .clicked();
        });
        if cancel {
            v.cancel_run();
        }
    } else if v.cancelled {
        let mut again = false;
        ui.horizontal(|ui| {
            ui.label("The run was cancelled.");
            again = ui
                .button("Run")
                .on_hover_text("Compute the feature maps of this design.")
                .clicked();
        });
        if again {
            v.run_again();
        }
    }
}

fn display_bar(v: &mut ViewSettings, ui: &mut egui::Ui) {
    ui.horizontal_wrapped(|ui| {
        let opts: Vec<(Colormap, &str)> = Colormap::ALL.iter().map(|c| (*c, c.label())).collect();
        combo(ui, "Colormap:", &mut v.colormap, &opts);
        ui.label("Range:");
        let mut kind = match v.norm {
            Norm::PerChannel => 0,
            Norm::PerLayer => 1,
            Norm::Fixed(..) => 2,
        };
        ui.radio_value(&mut kind, 0, "per channel")
            .on_hover_text("Each tile from its own minimum to its maximum.");
        ui.radio_value(&mut kind, 1, "per layer")
            .on_hover_text("Every tile on the layer's range: tiles compare with each other.");
        ui.radio_value(&mut kind, 2, "fixed")
            .on_hover_text("The same range for every layer: maps compare across layers.");
        if kind == 2 {
            let l = ui.label("min");
            ui.add(egui::DragValue::new(&mut v.fixed.0).speed(0.01))
                .labelled_by(l.id);
            let l = ui.label("max");
            ui.add(egui::DragValue::new(&mut v.fixed.1).speed(0.01))
                .labelled_by(l.id);
        }
        v.norm = match kind {
            0 => Norm::PerChannel,
            1 => Norm::PerLayer,
            _ => Norm::Fixed(v.fixed.0, v.fixed.1),
        };
        combo(ui, "Sort:", &mut v.order, ORDER);
        ui.checkbox(&mut v.dead_only, "dead only")
            .on_hover_text("Show only channels whose values are all ≤ 0 (dead after ReLU).");
        let l = ui.label("Tile:");
        ui.add(egui::Slider::new(&mut v.tile, 24.0..=192.0))
            .labelled_by(l.id);
    });
}

const GRID_TIP: &str = "The tiles as shown: order, filter, colormap, range.";
const MAP_TIP: &str = "The magnified channel (at least 256 pixels across); click a tile first.";
const NPY_TIP: &str = "The selected layer's output, float32, in its own layout.";
const NPZ_TIP: &str = "Every layer's output in one archive, keyed by layer name (numpy.load).";

fn export_bar(d: &mut Designer, ui: &mut egui::Ui) {
    let focus = d.view.focus.is_some();
    // (label, tooltip, enabled, command)
    let buttons = [
        ("Grid PNG…", GRID_TIP, true, Command::ExportGrid(None)),
        ("Map PNG…", MAP_TIP, focus, Command::ExportMap(None)),
        ("Activations .npy…", NPY_TIP, true, Command::ExportNpy(None)),
        (
            "All layers .npz…",
            NPZ_TIP,
            true,
            Command::ExportAllNpz(None),
        ),
    ];
    let mut clicked = None;
    ui.horizontal_wrapped(|ui| {
        ui.label("Export:");
        for (label, tip, enabled, c) in buttons {
            let b = ui.add_enabled(enabled, egui::Button::new(label));
            if b.on_hover_text(tip).on_disabled_hover_text(tip).clicked() {
                clicked = Some(c);
            }
        }
    });
    if let Some(c) = clicked {
        d.command(c);
    }
}

/// Receptive-field window of an output pixel, in input pixels (inclusive).
fn rf_window(d: &Designer, h: &Hover) -> Option<[[f64; 2]; 2]> {
    let rf = d.rt.analysis.layers.get(h.layer)?.receptive_field?;
    Some(rf.window(h.row, h.col))
}

fn header(d: &mut Designer, ui: &mut egui::Ui, i: usize, layer: &Layer) {
    let input_cf =
        d.rt.analysis
            .layers
            .first()
            .is_some_and(|r| r.channels_first);
    let hover = d.rt.viewer.hover.filter(|h| h.layer == i);
    let window = hover.as_ref().and_then(|h| rf_window(d, h));
    let (s, v, net) = (&mut d.view, &mut d.rt.viewer, &d.doc.network);
    let (in_h, in_w) = match v.input.as_deref().map(|x| x.shape().to_vec()) {
        Some(s) if s.len() == 4 => {
            if input_cf {
                (s[2], s[3])
            } else {
                (s[1], s[2])
            }
        }
        _ => (1, 1),
    };
    ui.horizontal(|ui| {
        if let Some(t) = v.thumbnail(ui.ctx(), input_cf) {
            let s = 150.0 / in_h.max(in_w) as f32;
            let size = vec2(in_w as f32 * s, in_h as f32 * s);
            let r = ui
                .add(egui::Image::new(&t).fit_to_exact_size(size))
                .on_hover_text(
                    "The exact tensor the network receives (scaled for display). \
                     Hover a feature map: its receptive field is outlined here.",
                );
            if let Some([[r0, r1], [c0, c1]]) = window {
                let sx = r.rect.width() / in_w as f32;
                let sy = r.rect.height() / in_h as f32;
                let full = Rect::from_min_max(
                    pos2(
                        r.rect.left() + c0 as f32 * sx,
                        r.rect.top() + r0 as f32 * sy,
                    ),
                    pos2(
                        r.rect.left() + (c1 + 1.0) as f32 * sx,
                        r.rect.top() + (r1 + 1.0) as f32 * sy,
                    ),
                );
                let shown = full.intersect(r.rect);
                let p = ui.painter_at(r.rect.expand(1.0));
                p.rect_filled(shown, 0.0, Color32::from_rgba_unmultiplied(255, 220, 0, 50));
                p.rect_stroke(
                    shown,
                    0.0,
                    egui::Stroke::new(2.0, Color32::from_rgb(255, 220, 0)),
                    egui::StrokeKind::Inside,
                );
            }
        }
        ui.vertical(|ui| {
            let run = v.acts.get(i).and_then(|a| a.clone());
            if let Some(run) = &run {
                ui.label(format!(
                    "{} ({}) — output {:?}, {:.2} ms",
                    layer.name,
                    layer.class_name(),
                    run.output.shape(),
                    run.millis
                ));
            }
            let Some(p) = v.prepared(net, i) else {
                return;
            };
            let n = p.stats.len();
            let dead = p.stats.iter().filter(|s| s.dead).count();
            let total = p.maps.len().max(1);
            let zeros: f32 = p
                .stats
                .iter()
                .map(|s| s.zero_share * (total / n.max(1)) as f32)
                .sum::<f32>()
                / total as f32;
            let (lo, hi) = p.range;
            ui.label(format!(
                "{n} channel{} · {dead} dead (all ≤ 0) · {:.1} % zeros · values {lo:.4} to {hi:.4}",
                if n == 1 { "" } else { "s" },
                zeros * 100.0
            ));
            // The magnified view shows its own readout under the map.
            match (&hover, window) {
                (Some(h), w) => {
                    if s.focus.is_none() {
                        ui.label(readout(h));
                    }
                    if let Some(w) = w {
                        ui.label(rf_text(w, in_h, in_w));
                    }
                }
                _ => {
                    ui.weak("Hover a map to read its values; click a tile to magnify it.");
                }
            }
            ui.horizontal(|ui| {
                ui.selectable_value(&mut s.pane, Pane::Maps, "Maps");
                ui.selectable_value(&mut s.pane, Pane::Statistics, "Statistics");
                if super::kernels::has_kernels(layer) {
                    ui.selectable_value(&mut s.pane, Pane::Kernels, "Kernels");
                } else if s.pane == Pane::Kernels {
                    s.pane = Pane::Maps;
                }
            });
            colour_bar(s, v, ui, i);
        });
    });
}

/// "row r, col c, ch k: value".
pub fn readout(h: &Hover) -> String {
    format!(
        "row {}, col {}, ch {}: {:.6}",
        h.row, h.col, h.channel, h.value
    )
}

fn rf_text([[r0, r1], [c0, c1]]: [[f64; 2]; 2], h: usize, w: usize) -> String {
    let outside = r0 < 0.0 || c0 < 0.0 || r1 > h as f64 - 1.0 || c1 > w as f64 - 1.0;
    format!(
        "receptive field: rows {r0}..{r1}, cols {c0}..{c1} ({}×{} input pixels{})",
        r1 - r0 + 1.0,
        c1 - c0 + 1.0,
        if outside {
            "; part of it is padding"
        } else {
            ""
        }
    )
}

fn colour_bar(s: &ViewSettings, v: &mut Viewer, ui: &mut egui::Ui, i: usize) {
    let (cmap, norm) = (s.colormap, s.norm);
    let Some(rs) = v.tile_ranges(s, i) else {
        return;
    };
    let (lo, hi) = rs
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), r| {
            (a.min(r.0), b.max(r.1))
        });
    ui.horizontal(|ui| {
        ui.monospace(format!("{lo:.3}"));
        let (rect, _) = ui.allocate_exact_size(vec2(200.0, 12.0), Sense::hover());
        for k in 0..100 {
            let x0 = rect.left() + rect.width() * k as f32 / 100.0;
            let r = Rect::from_min_max(
                pos2(x0, rect.top()),
                pos2(x0 + rect.width() / 100.0 + 0.5, rect.bottom()),
            );
            let [r_, g, b] = cmap.rgb(k as f32 / 99.0);
            ui.painter()
                .rect_filled(r, 0.0, Color32::from_rgb(r_, g, b));
        }
        ui.monospace(format!("{hi:.3}"));
        ui.label(match norm {
            Norm::PerChannel => "(each tile scaled to its own range)",
            Norm::PerLayer => "(one range for the layer)",
            Norm::Fixed(..) => "(fixed range; values beyond it are clamped)",
        });
    });
}

/// Map pixel under `pos` in a tile drawn in `rect`.
fn pixel_at(rect: Rect, pos: Pos2, h: usize, w: usize) -> Option<(usize, usize)> {
    let fx = (pos.x - rect.left()) / rect.width() * w as f32;
    let fy = (pos.y - rect.top()) / rect.height() * h as f32;
    (fx >= 0.0 && fy >= 0.0 && (fx as usize) < w && (fy as usize) < h)
        .then_some((fy as usize, fx as usize))
}

fn maps_pane(
    s: &mut ViewSettings,
    v: &mut Viewer,
    net: &crate::model::Network,
    ui: &mut egui::Ui,
    i: usize,
    layer: &Layer,
    visible: f32,
) {
    let (order, dead_only) = (s.order, s.dead_only);
    let Some(p) = v.prepared(net, i) else {
        return;
    };
    if !p.spatial {
        super::plots::values(v, net, ui, i, layer);
        return;
    }
    let maps = p.maps.clone();
    let channels = crate::viz::order(&p.stats, order, dead_only);
    let (h, w) = (maps.shape()[1], maps.shape()[2]);
    let mut new_hover = None;
    if let Some(k) = s.focus.filter(|&k| k < maps.shape()[0]) {
        magnified(s, v, ui, i, k, &maps, &channels, &mut new_hover);
    } else {
        s.focus = None;
        if channels.is_empty() {
            ui.label("No channel is dead (all ≤ 0) in this layer.");
        }
        let tile = s.tile;
        let columns = ((visible - 16.0) / (tile + 10.0)).floor().max(1.0) as usize;
        let aspect = h as f32 / w.max(1) as f32;
        egui::ScrollArea::vertical()
            .auto_shrink([false, false])
            .show(ui, |ui| {
                egui::Grid::new("tiles").spacing([6.0, 6.0]).show(ui, |ui| {
                    for (slot, &k) in channels.iter().enumerate() {
                        let Some(tex) = v.tile_texture(s, ui.ctx(), i, k) else {
                            continue;
                        };
                        ui.vertical(|ui| {
                            let r = ui.add(
                                egui::Image::new(&tex)
                                    .fit_to_exact_size(vec2(tile, tile * aspect))
                                    .sense(Sense::click())
                                    .alt_text(format!("feature map ch {k}")),
                            );
                            if let Some(pos) = r.hover_pos()
                                && let Some((row, col)) = pixel_at(r.rect, pos, h, w)
                            {
                                new_hover = Some(Hover {
                                    layer: i,
                                    channel: k,
                                    row,
                                    col,
                                    value: maps[[k, row, col]],
                                });
                            }
                            if r.clicked() {
                                s.focus = Some(k);
                                s.zoom = 1.0;
                                s.center = None;
                            }
                            ui.small(format!("ch {k}"));
                        });
                        if (slot + 1) % columns == 0 {
                            ui.end_row();
                        }
                    }
                });
            });
    }
    if new_hover != v.hover {
        v.hover = new_hover;
        ui.ctx().request_repaint();
    }
}

/// One channel, large: nearest-neighbour magnification, scroll to zoom about the
/// pointer, drag to pan, double-click to fit; the value under the pointer below.
#[allow(clippy::too_many_arguments)]
fn magnified(
    s: &mut ViewSettings,
    v: &mut Viewer,
    ui: &mut egui::Ui,
    i: usize,
    k: usize,
    maps: &ndarray::Array3<f32>,
    channels: &[usize],
    new_hover: &mut Option<Hover>,
) {
    let (h, w) = (maps.shape()[1], maps.shape()[2]);
    ui.horizontal(|ui| {
        if ui.button("Back to all channels").clicked() {
            s.focus = None;
        }
        let pos = channels.iter().position(|&c| c == k);
        if ui
            .add_enabled(pos.is_some_and(|p| p > 0), egui::Button::new("Previous"))
            .clicked()
            && let Some(p) = pos
        {
            s.focus = Some(channels[p - 1]);
        }
        if ui
            .add_enabled(
                pos.is_some_and(|p| p + 1 < channels.len()),
                egui::Button::new("Next"),
            )
            .clicked()
            && let Some(p) = pos
        {
            s.focus = Some(channels[p + 1]);
        }
        ui.strong(format!("ch {k}"));
        let l = ui.label("Zoom:");
        ui.add(
            egui::Slider::new(&mut s.zoom, 1.0..=64.0)
                .logarithmic(true)
                .suffix("×"),
        )
        .labelled_by(l.id);
        if ui.button("Fit").clicked() {
            s.zoom = 1.0;
            s.center = None;
        }
    });
    let Some(tex) = v.tile_texture(s, ui.ctx(), i, k) else {
        return;
    };
    let avail = ui.available_size();
    let size = vec2(avail.x.max(100.0), (avail.y - 28.0).max(160.0));
    let (rect, resp) = ui.allocate_exact_size(size, Sense::click_and_drag());
    resp.widget_info(|| {
        egui::WidgetInfo::labeled(egui::Role::Image, true, format!("magnified ch {k}"))
    });
    let fit = (rect.width() / w.max(1) as f32).min(rect.height() / h.max(1) as f32);
    let mut center = s.center.unwrap_or(vec2(w as f32 / 2.0, h as f32 / 2.0));
    let scale = fit * s.zoom;
    if resp.hovered() {
        let (scroll, pinch) = ui.input(|inp| (inp.smooth_scroll_delta.y, inp.zoom_delta()));
        let factor = (scroll / 200.0).exp() * pinch;
        if (factor - 1.0).abs() > 1e-4
            && let Some(p) = resp.hover_pos()
        {
            let under = center + (p - rect.center()) / scale;
            s.zoom = (s.zoom * factor).clamp(1.0, 64.0);
            center = under - (p - rect.center()) / (fit * s.zoom);
        }
    }
    if resp.dragged() {
        center -= resp.drag_delta() / (fit * s.zoom);
    }
    if resp.double_clicked() {
        s.zoom = 1.0;
        center = vec2(w as f32 / 2.0, h as f32 / 2.0);
    }
    let scale = fit * s.zoom;
    s.center = Some(center);
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 0.0, Color32::from_gray(24));
    let img = Rect::from_min_size(
        rect.center() - center * scale,
        vec2(w as f32, h as f32) * scale,
    );
    painter.image(
        tex.id(),
        img,
        Rect::from_min_max(pos2(0.0, 0.0), pos2(1.0, 1.0)),
        Color32::WHITE,
    );
    if let Some(p) = resp.hover_pos()
        && let Some((row, col)) = pixel_at(img, p, h, w)
    {
        let hv = Hover {
            layer: i,
            channel: k,
            row,
            col,
            value: maps[[k, row, col]],
        };
        if scale >= 6.0 {
            let cell = Rect::from_min_size(
                img.min + Vec2::new(col as f32, row as f32) * scale,
                Vec2::splat(scale),
            );
            painter.rect_stroke(
                cell,
                0.0,
                egui::Stroke::new(1.5, Color32::WHITE),
                egui::StrokeKind::Inside,
            );
        }
        ui.label(readout(&hv));
        *new_hover = Some(hv);
    } else {
        ui.weak("Scroll to zoom, drag to pan, double-click to fit.");
    }
}
