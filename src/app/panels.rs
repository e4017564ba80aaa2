//! Menu bar, shortcuts, status bar, the Stack panel (cards, palette, reordering) and the
//! Summary table. Panels read the analysis and queue [`Command`]s; they compute nothing.

use super::{Command, Designer};
use crate::cli::{readable_bytes, short_count, thousands};
use crate::model::layer::{Layer, LayerKind, PALETTE, Pair};
use crate::model::{LayerReport, pyfmt};
use egui::{Color32, RichText};

pub const RED: Color32 = Color32::from_rgb(0xe0, 0x4f, 0x4f);
pub const AMBER: Color32 = Color32::from_rgb(0xe0, 0xa0, 0x30);

/// Keyboard shortcuts (listed in Help > Shortcuts).
pub const SHORTCUTS: &[(&str, &str)] = &[
    ("Ctrl+Z", "Undo"),
    ("Ctrl+Shift+Z / Ctrl+Y", "Redo"),
    ("Ctrl+O", "Open"),
    ("Ctrl+S", "Save"),
    ("Ctrl+Shift+S", "Save As"),
    ("Ctrl+N", "New design"),
    ("Delete", "Delete the selected layer"),
    ("Ctrl+D", "Duplicate the selected layer"),
    ("Alt+Up / Alt+Down", "Move the selected layer"),
    ("Up / Down", "Select the previous / next layer"),
    ("Tab", "Next field; Enter applies"),
];

pub fn shortcuts(d: &mut Designer, ui: &mut egui::Ui) {
    use egui::{Key, KeyboardShortcut, Modifiers};
    let typing = ui.ctx().memory(|m| m.focused().is_some());
    let pressed = |m: Modifiers, k: Key| {
        ui.ctx()
            .input_mut(|i| i.consume_shortcut(&KeyboardShortcut::new(m, k)))
    };
    if pressed(Modifiers::COMMAND | Modifiers::SHIFT, Key::Z) || pressed(Modifiers::COMMAND, Key::Y)
    {
        d.command(Command::Redo);
    } else if pressed(Modifiers::COMMAND, Key::Z) {
        d.command(Command::Undo);
    }
    if pressed(Modifiers::COMMAND | Modifiers::SHIFT, Key::S) {
        d.command(Command::SaveAs);
    } else if pressed(Modifiers::COMMAND, Key::S) {
        d.command(Command::Save);
    }
    if pressed(Modifiers::COMMAND, Key::O) {
        d.command(Command::Open);
    }
    if pressed(Modifiers::COMMAND, Key::N) {
        d.command(Command::New);
    }
    if pressed(Modifiers::COMMAND, Key::D) {
        d.command(Command::Duplicate);
    }
    if pressed(Modifiers::ALT, Key::ArrowUp) {
        d.command(Command::MoveUp);
    }
    if pressed(Modifiers::ALT, Key::ArrowDown) {
        d.command(Command::MoveDown);
    }
    if !typing {
        if pressed(Modifiers::NONE, Key::Delete) {
            d.command(Command::Delete);
        }
        if pressed(Modifiers::NONE, Key::ArrowUp) {
            d.command(Command::Select(d.selected.saturating_sub(1)));
        }
        if pressed(Modifiers::NONE, Key::ArrowDown) {
            d.command(Command::Select(d.selected + 1));
        }
    }
}

pub fn menu_bar(d: &mut Designer, ui: &mut egui::Ui) {
    egui::Panel::top("menu").show(ui, |ui| {
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                if ui.button("New").clicked() {
                    d.command(Command::New);
                }
                if ui.button("Open…").clicked() {
                    d.command(Command::Open);
                }
                if ui.button("Save").clicked() {
                    d.command(Command::Save);
                }
                if ui.button("Save As…").clicked() {
                    d.command(Command::SaveAs);
                }
                if ui.button("Export Keras Python…").clicked() {
                    d.command(Command::ExportPython);
                }
                if ui.button("Export PyTorch…").clicked() {
                    d.command(Command::ExportPytorch(None));
                }
                if ui.button("Export diagram (SVG)…").clicked() {
                    d.command(Command::ExportDiagram(None));
                }
                if ui.button("Export diagram (PNG)…").clicked() {
                    d.command(Command::ExportDiagramPng(None));
                }
                ui.separator();
                ui.label("Path (when no file dialog appears):");
                ui.add(
                    egui::TextEdit::singleline(&mut d.path_field).hint_text("/path/to/model.keras"),
                );
                ui.horizontal(|ui| {
                    let p = std::path::PathBuf::from(d.path_field.trim());
                    let has = !d.path_field.trim().is_empty();
                    if ui
                        .add_enabled(has, egui::Button::new("Open path"))
                        .clicked()
                    {
                        d.command(Command::OpenPath(p.clone()));
                    }
                    if ui
                        .add_enabled(has, egui::Button::new("Save to path"))
                        .clicked()
                    {
                        d.command(Command::SaveTo(p.clone()));
                    }
                    if ui
                        .add_enabled(has, egui::Button::new("Export Keras Python to path"))
                        .clicked()
                    {
                        d.command(Command::ExportPythonTo(p.clone()));
                    }
                    if ui
                        .add_enabled(has, egui::Button::new("Export PyTorch to path"))
                        .clicked()
                    {
                        d.command(Command::ExportPytorch(Some(p.clone())));
                    }
                    if ui
                        .add_enabled(has, egui::Button::new("Export diagram to path"))
                        .on_hover_text("PNG when the path ends in .png, SVG otherwise")
                        .clicked()
                    {
                        let png = p.extension().is_some_and(|e| e.eq_ignore_ascii_case("png"));
                        d.command(if png {
                            Command::ExportDiagramPng(Some(p.clone()))
                        } else {
                            Command::ExportDiagram(Some(p.clone()))
                        });
                    }
                });
                ui.horizontal(|ui| {
                    let p = std::path::PathBuf::from(d.path_field.trim());
                    let has = !d.path_field.trim().is_empty();
                    for (label, c) in [
                        ("Export grid to path", Command::ExportGrid(Some(p.clone()))),
                        ("Export map to path", Command::ExportMap(Some(p.clone()))),
                        (
                            "Export activations to path",
                            Command::ExportNpy(Some(p.clone())),
                        ),
                        (
                            "Export all layers .npz to path",
                            Command::ExportAllNpz(Some(p)),
                        ),
                    ] {
                        if ui.add_enabled(has, egui::Button::new(label)).clicked() {
                            d.command(c);
                        }
                    }
                });
            });
            ui.menu_button("Edit", |ui| {
                if ui
                    .add_enabled(d.can_undo(), egui::Button::new("Undo"))
                    .clicked()
                {
                    d.command(Command::Undo);
                }
                if ui
                    .add_enabled(d.can_redo(), egui::Button::new("Redo"))
                    .clicked()
                {
                    d.command(Command::Redo);
                }
                ui.separator();
                if ui.button("Duplicate layer").clicked() {
                    d.command(Command::Duplicate);
                }
                if ui.button("Delete layer").clicked() {
                    d.command(Command::Delete);
                }
                if ui.button("Move layer up").clicked() {
                    d.command(Command::MoveUp);
                }
                if ui.button("Move layer down").clicked() {
                    d.command(Command::MoveDown);
                }
            });
            ui.menu_button("View", |ui| {
                if ui.radio(d.dark, "Dark theme").clicked() {
                    d.dark = true;
                    ui.ctx().set_visuals(egui::Visuals::dark());
                }
                if ui.radio(!d.dark, "Light theme").clicked() {
                    d.dark = false;
                    ui.ctx().set_visuals(egui::Visuals::light());
                }
            });
            ui.menu_button("Help", |ui| {
                ui.label(RichText::new("Shortcuts").strong());
                egui::Grid::new("shortcuts").show(ui, |ui| {
                    for (k, what) in SHORTCUTS {
                        ui.monospace(*k);
                        ui.label(*what);
                        ui.end_row();
                    }
                });
                ui.separator();
                ui.label("Shapes, parameter counts and messages follow Keras 3 exactly.");
            });
        });
    });
}

pub fn status_bar(d: &mut Designer, ui: &mut egui::Ui) {
    egui::Panel::bottom("status").show(ui, |ui| {
        ui.horizontal(|ui| {
            let a = &d.analysis;
            match a.first_error {
                Some(i) => {
                    let name = d
                        .network
                        .layers
                        .get(i)
                        .map(|l| l.name.as_str())
                        .unwrap_or("?");
                    ui.colored_label(RED, format!("Keras would reject layer '{name}'"));
                }
                None => {
                    ui.label(format!(
                        "{} layers · {} params · {} MACs",
                        d.network.layers.len().saturating_sub(1),
                        thousands(a.total_params()),
                        short_count(a.macs)
                    ));
                }
            }
            if let Some(n) = &d.notice {
                ui.separator();
                if n.error {
                    ui.colored_label(RED, &n.text);
                } else {
                    ui.label(&n.text);
                }
            }
        });
    });
}

/// `3×3` or `3×1`.
fn pair(p: &Pair) -> String {
    format!("{}×{}", p.h(), p.w())
}

/// `23×23×32` (batch axis dropped), `?` when unknown.
pub fn shape_text(r: &LayerReport) -> String {
    match &r.output_shape {
        Some(s) => s
            .iter()
            .skip(1)
            .map(|d| d.map_or("?".to_string(), |x| x.to_string()))
            .collect::<Vec<_>>()
            .join("×"),
        None => "?".into(),
    }
}

/// The short description of a layer's arguments on its card.
pub fn card_args(l: &Layer) -> String {
    let act = |a: &str| {
        if a == "linear" {
            String::new()
        } else {
            format!(" · {a}")
        }
    };
    let s = |p: &Pair| {
        if p.v == [1, 1] {
            String::new()
        } else if p.h() == p.w() {
            format!(" · s{}", p.h())
        } else {
            format!(" · s{}", pair(p))
        }
    };
    match &l.kind {
        LayerKind::Input(i) => format!("Input {}", pyfmt::tuple_opt(&i.batch_shape[1..])),
        LayerKind::Conv2D(c) => format!(
            "Conv2D {} · {}{} · {}{}",
            c.filters,
            pair(&c.kernel_size),
            s(&c.strides),
            c.padding,
            act(&c.activation)
        ),
        LayerKind::Conv2DTranspose(c) => format!(
            "Conv2DTranspose {} · {}{} · {}{}",
            c.filters,
            pair(&c.kernel_size),
            s(&c.strides),
            c.padding,
            act(&c.activation)
        ),
        LayerKind::DepthwiseConv2D(c) => format!(
            "DepthwiseConv2D ×{} · {}{} · {}{}",
            c.depth_multiplier,
            pair(&c.kernel_size),
            s(&c.strides),
            c.padding,
            act(&c.activation)
        ),
        LayerKind::SeparableConv2D(c) => format!(
            "SeparableConv2D {} · {}{} · {}{}",
            c.filters,
            pair(&c.kernel_size),
            s(&c.strides),
            c.padding,
            act(&c.activation)
        ),
        LayerKind::Pooling2D(p) => format!(
            "{} {}{} · {}",
            l.class_name(),
            pair(&p.pool_size),
            s(&p.strides.unwrap_or(p.pool_size)),
            p.padding
        ),
        LayerKind::Dense(dn) => format!("Dense {}{}", dn.units, act(&dn.activation)),
        LayerKind::Activation { activation } => format!("Activation {activation}"),
        LayerKind::Dropout(dr) => format!("Dropout {}", dr.rate),
        LayerKind::SpatialDropout2D(dr) => format!("SpatialDropout2D {}", dr.rate),
        LayerKind::LeakyReLU { negative_slope } => format!("LeakyReLU {negative_slope}"),
        LayerKind::UpSampling2D(u) => {
            format!("UpSampling2D {} · {}", pair(&u.size), u.interpolation)
        }
        LayerKind::ZeroPadding2D(p) | LayerKind::Cropping2D(p) => {
            format!("{} {:?}", l.class_name(), p.amounts)
        }
        LayerKind::Rescaling { scale, offset } => format!("Rescaling ×{scale:.4} {offset:+}"),
        _ => l.class_name().to_string(),
    }
}

/// The full card text: `Conv2D 32 · 3×3 · s2 · same · relu -> 23×23×32 · 9,248 params`.
pub fn card_text(l: &Layer, r: &LayerReport) -> String {
    if matches!(l.kind, LayerKind::Input(_)) {
        return card_args(l);
    }
    format!(
        "{} -> {} · {} params",
        card_args(l),
        shape_text(r),
        thousands(r.params())
    )
}

pub fn stack_panel(d: &mut Designer, ui: &mut egui::Ui) {
    egui::Panel::left("stack")
        .resizable(true)
        .default_size(350.0)
        .min_size(260.0)
        .show(ui, |ui| {
            ui.heading("Stack");
            ui.horizontal_wrapped(|ui| {
                let l = ui.label("Add after selection:");
                egui::ComboBox::from_id_salt("palette")
                    .selected_text("Layer…")
                    .show_ui(ui, |ui| {
                        for class in PALETTE {
                            if ui.selectable_label(false, *class).clicked() {
                                d.command(Command::Add(class));
                            }
                        }
                    })
                    .response
                    .labelled_by(l.id);
            });
            ui.horizontal_wrapped(|ui| {
                for class in [
                    "Conv2D",
                    "MaxPooling2D",
                    "BatchNormalization",
                    "Activation",
                    "Dropout",
                    "Flatten",
                    "Dense",
                ] {
                    if ui
                        .small_button(format!("+ {class}"))
                        .on_hover_text(format!(
                            "Add a {class} with Keras's defaults after the selected layer"
                        ))
                        .clicked()
                    {
                        d.command(Command::Add(class));
                    }
                }
            });
            ui.separator();
            egui::ScrollArea::vertical()
                .auto_shrink([false, false])
                .show(ui, |ui| {
                    let mut drop_target: Option<usize> = None;
                    let mut dragged: Option<usize> = None;
                    for i in 0..d.network.layers.len() {
                        let l = &d.network.layers[i];
                        let r = &d.analysis.layers[i];
                        let mut text = card_text(l, r);
                        if let Some(ms) = d.viewer.millis(i).filter(|_| i > 0) {
                            text.push_str(&format!(" · {ms:.1} ms"));
                        }
                        let failed = r.error.is_some();
                        let unknown = r.output_shape.is_none() && !failed;
                        let mut rich = RichText::new(format!("{}  {}", l.name, text));
                        if failed {
                            rich = rich.color(RED);
                        } else if unknown {
                            rich = rich.weak();
                        } else if !r.warnings.is_empty() {
                            rich = rich.color(AMBER);
                        }
                        let selected = d.selected == i;
                        let frame = egui::Frame::group(ui.style()).fill(if selected {
                            ui.visuals().selection.bg_fill.gamma_multiply(0.35)
                        } else {
                            Color32::TRANSPARENT
                        });
                        let resp = frame
                            .show(ui, |ui| {
                                ui.set_width(ui.available_width());
                                let card = ui.add(
                                    egui::Label::new(rich)
                                        .sense(egui::Sense::click_and_drag())
                                        .wrap(),
                                );
                                if let Some(e) = &r.error {
                                    ui.colored_label(RED, &e.message);
                                }
                                for w in &r.warnings {
                                    ui.colored_label(AMBER, w);
                                }
                                card
                            })
                            .inner;
                        if resp.clicked() {
                            d.command(Command::Select(i));
                        }
                        if i >= 1 {
                            resp.dnd_set_drag_payload(i);
                            if resp.dragged() {
                                dragged = Some(i);
                            }
                            if let Some(p) = resp.dnd_release_payload::<usize>() {
                                drop_target = Some(i);
                                dragged = Some(*p);
                            }
                        }
                    }
                    if let (Some(from), Some(to)) = (dragged, drop_target) {
                        d.command(Command::Move { from, to });
                    }
                });
        });
}

pub fn summary_panel(d: &mut Designer, ui: &mut egui::Ui) {
    {
        ui.heading(format!("Summary — Model: \"{}\"", d.network.name));
        egui::ScrollArea::both()
            .auto_shrink([false, false])
            .show(ui, |ui| {
                egui::Grid::new("summary")
                    .striped(true)
                    .num_columns(6)
                    .spacing([12.0, 4.0])
                    .show(ui, |ui| {
                        for h in [
                            "Layer (type)",
                            "Output Shape",
                            "Param #",
                            "MACs",
                            "Memory",
                            "RF",
                        ] {
                            ui.label(RichText::new(h).strong());
                        }
                        ui.end_row();
                        for (i, l) in d.network.layers.iter().enumerate() {
                            if matches!(l.kind, LayerKind::Input(_)) && !d.network.functional {
                                continue;
                            }
                            let r = &d.analysis.layers[i];
                            let name = format!("{} ({})", l.name, l.class_name());
                            if r.error.is_some() {
                                ui.colored_label(RED, name);
                            } else {
                                ui.label(name);
                            }
                            ui.monospace(
                                r.output_shape
                                    .as_ref()
                                    .map_or("?".to_string(), |s| pyfmt::tuple_opt(s)),
                            );
                            ui.monospace(thousands(r.params()));
                            ui.monospace(short_count(r.macs));
                            ui.monospace(human_bytes(r.output_bytes));
                            ui.monospace(
                                r.receptive_field.map_or("-".into(), |rf| {
                                    format!("{}×{}", rf.size[0], rf.size[1])
                                }),
                            );
                            ui.end_row();
                        }
                    });
                ui.separator();
                let a = &d.analysis;
                ui.label(format!(
                    "Total params: {} ({})",
                    thousands(a.total_params()),
                    readable_bytes(a.total_params())
                ));
                ui.label(format!(
                    "Trainable params: {} ({})",
                    thousands(a.trainable_params),
                    readable_bytes(a.trainable_params)
                ));
                ui.label(format!(
                    "Non-trainable params: {} ({})",
                    thousands(a.non_trainable_params),
                    readable_bytes(a.non_trainable_params)
                ));
                ui.label(format!("Total MACs per image: {}", thousands(a.macs)));
                if let Some(msg) = a.error(&d.network) {
                    ui.colored_label(RED, msg);
                }
            });
    }
}

fn human_bytes(b: i64) -> String {
    let f = b as f64;
    if f >= 1024.0 * 1024.0 {
        format!("{:.1} MB", f / 1024.0 / 1024.0)
    } else if f >= 1024.0 {
        format!("{:.1} KB", f / 1024.0)
    } else {
        format!("{b} B")
    }
}
