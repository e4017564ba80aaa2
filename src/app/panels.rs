//! Menu bar, shortcuts, status bar, the Stack panel (cards, palette, reordering) and the
//! Summary table. Panels read the document and the analysis, write view settings, and
//! queue [`Command`]s; they compute nothing.

use super::{Command, Designer};
use crate::keras::pyfmt::{self, readable_bytes, short_count, thousands};
use crate::layers::PALETTE;
use crate::model::blocks::{Block, BlockKind};
use crate::model::{Layer, LayerReport};
use egui::{Color32, RichText};

/// The drag payload of a palette button: the class to insert where it is dropped on the
/// Graph tab (on a wire: between its ends; on a card: after it).
#[derive(Clone, Copy)]
pub struct PaletteItem(pub &'static str);

pub const RED: Color32 = Color32::from_rgb(0xe0, 0x4f, 0x4f);
pub const AMBER: Color32 = Color32::from_rgb(0xe0, 0xa0, 0x30);

/// Keys that move between fields (listed in Help beside the commands' shortcuts).
const FIELD_KEYS: (&str, &str) = ("Tab", "Next field; Enter applies");

/// Applies the shortcuts of [`Command::WITH_SHORTCUTS`].
pub fn shortcuts(d: &mut Designer, ui: &mut egui::Ui) {
    let typing = ui.ctx().memory(|m| m.focused().is_some());
    for c in Command::WITH_SHORTCUTS {
        if c.needs_idle_keyboard() && typing {
            continue;
        }
        let pressed = c
            .shortcuts()
            .iter()
            .any(|k| ui.ctx().input_mut(|i| i.consume_shortcut(k)));
        if pressed {
            d.command(c.clone());
        }
    }
    // Ctrl+C / Ctrl+V arrive as copy and paste events (outside text fields: layers).
    if !typing {
        let (copy, paste) = ui.input(|i| {
            (
                i.events.iter().any(|e| matches!(e, egui::Event::Copy)),
                i.events.iter().any(|e| matches!(e, egui::Event::Paste(_))),
            )
        });
        if copy {
            d.command(Command::Copy);
        }
        if paste {
            d.command(Command::Paste);
        }
    }
}

/// A menu entry for `c`, with its shortcut and tooltip; queues it when clicked.
fn entry(d: &mut Designer, ui: &mut egui::Ui, c: &Command, enabled: bool) {
    let mut button = egui::Button::new(c.label());
    if let Some(k) = c.shortcuts().first() {
        button = button.shortcut_text(ui.ctx().format_shortcut(k));
    }
    if ui
        .add_enabled(enabled, button)
        .on_hover_text(c.tooltip())
        .clicked()
    {
        d.command(c.clone());
    }
}

pub fn menu_bar(d: &mut Designer, ui: &mut egui::Ui) {
    egui::Panel::top("menu").show(ui, |ui| {
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                for c in Command::FILE_MENU {
                    entry(d, ui, c, true);
                }
                ui.separator();
                ui.label("Path (when no file dialog appears):");
                ui.add(
                    egui::TextEdit::singleline(&mut d.view.path_field)
                        .hint_text("/path/to/model.keras"),
                );
                let p = std::path::PathBuf::from(d.view.path_field.trim());
                let has = !d.view.path_field.trim().is_empty();
                let png = p.extension().is_some_and(|e| e.eq_ignore_ascii_case("png"));
                let diagram = if png {
                    Command::ExportDiagramPng(Some(p.clone()))
                } else {
                    Command::ExportDiagram(Some(p.clone()))
                };
                // Two rows: the design, then the selected layer's pictures and values.
                let rows = [
                    vec![
                        ("Open path", Command::OpenPath(p.clone())),
                        ("Save to path", Command::SaveTo(p.clone())),
                        (
                            "Export Keras Python to path",
                            Command::ExportPythonTo(p.clone()),
                        ),
                        (
                            "Export PyTorch to path",
                            Command::ExportPytorch(Some(p.clone())),
                        ),
                        ("Export diagram to path", diagram),
                    ],
                    vec![
                        ("Export grid to path", Command::ExportGrid(Some(p.clone()))),
                        ("Export map to path", Command::ExportMap(Some(p.clone()))),
                        (
                            "Export activations to path",
                            Command::ExportNpy(Some(p.clone())),
                        ),
                        (
                            "Export every layer's activations to path",
                            Command::ExportAllNpz(Some(p)),
                        ),
                    ],
                ];
                for row in rows {
                    ui.horizontal(|ui| {
                        for (label, c) in row {
                            let b = ui.add_enabled(has, egui::Button::new(label));
                            let b = if label == "Export diagram to path" {
                                b.on_hover_text("PNG when the path ends in .png, SVG otherwise")
                            } else {
                                b
                            };
                            if b.clicked() {
                                d.command(c);
                            }
                        }
                    });
                }
            });
            ui.menu_button("Edit", |ui| {
                for c in Command::EDIT_MENU {
                    let enabled = match c {
                        Command::Undo => d.doc.can_undo(),
                        Command::Redo => d.doc.can_redo(),
                        _ => true,
                    };
                    entry(d, ui, c, enabled);
                }
            });
            ui.menu_button("View", |ui| {
                if ui.radio(d.view.dark, "Dark theme").clicked() {
                    d.view.dark = true;
                    ui.ctx().set_visuals(egui::Visuals::dark());
                }
                if ui.radio(!d.view.dark, "Light theme").clicked() {
                    d.view.dark = false;
                    ui.ctx().set_visuals(egui::Visuals::light());
                }
            });
            ui.menu_button("Help", |ui| {
                ui.label(RichText::new("Shortcuts").strong());
                egui::Grid::new("shortcuts").show(ui, |ui| {
                    for c in Command::WITH_SHORTCUTS {
                        let keys: Vec<String> = c
                            .shortcuts()
                            .iter()
                            .map(|k| ui.ctx().format_shortcut(k))
                            .collect();
                        ui.monospace(keys.join(" / "));
                        ui.label(c.tooltip());
                        ui.end_row();
                    }
                    ui.monospace(FIELD_KEYS.0);
                    ui.label(FIELD_KEYS.1);
                    ui.end_row();
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
            let a = &d.rt.analysis;
            match a.first_error {
                Some(i) => {
                    let name = d
                        .doc
                        .network
                        .layers()
                        .get(i)
                        .map(|l| l.name.as_str())
                        .unwrap_or("?");
                    ui.colored_label(RED, format!("Keras would reject layer '{name}'"));
                }
                None => {
                    ui.label(format!(
                        "{} layers · {} params · {} MACs",
                        d.doc.network.len().saturating_sub(1),
                        thousands(a.total_params()),
                        short_count(a.macs)
                    ));
                }
            }
            if let Some(l) = &d.rt.loading {
                ui.separator();
                let (done, total) = l.progress.counts();
                let bar = egui::ProgressBar::new(l.progress.fraction().unwrap_or(0.0))
                    .desired_width(220.0)
                    .text(match total {
                        0 => format!("Opening {}…", l.file_name()),
                        _ => format!(
                            "Opening {}: {} of {} weights",
                            l.file_name(),
                            short_count(done as i64),
                            short_count(total as i64)
                        ),
                    });
                ui.add(bar);
                if ui
                    .button("Cancel")
                    .on_hover_text("Stop reading the file; the design stays as it is.")
                    .clicked()
                {
                    l.progress.cancel();
                }
                return;
            }
            if let Some(n) = &d.rt.notice {
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

/// The full card text: `Conv2D 32 · 3×3 · s2 · same · relu -> 23×23×32 · 9,248 params`.
pub fn card_text(l: &Layer, r: &LayerReport) -> String {
    let args = l.kind.spec().card();
    if l.kind.is_input() {
        return args;
    }
    format!(
        "{} -> {} · {} params",
        args,
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
            ui.horizontal(|ui| {
                ui.heading("Stack");
                let functional = d.doc.network.functional;
                for (on, label, tip) in [
                    (
                        false,
                        "Sequential",
                        "One chain of layers (keras.Sequential).",
                    ),
                    (
                        true,
                        "Functional",
                        "A graph: layers can branch and merge (the Functional API).",
                    ),
                ] {
                    if ui
                        .selectable_label(functional == on, label)
                        .on_hover_text(tip)
                        .clicked()
                        && functional != on
                    {
                        d.command(Command::SetFunctional(on));
                    }
                }
                if functional {
                    let c = Command::AddInput;
                    if ui
                        .small_button(c.label())
                        .on_hover_text(c.tooltip())
                        .clicked()
                    {
                        d.command(c);
                    }
                }
            });
            ui.horizontal_wrapped(|ui| {
                let l = ui.label("Add after selection:");
                egui::ComboBox::from_id_salt("palette")
                    .selected_text("Layer…")
                    .show_ui(ui, |ui| {
                        for class in PALETTE.iter() {
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
                    "Add",
                    "Concatenate",
                ] {
                    // Click: after the selection; drag: onto a wire or card of the
                    // Graph tab.
                    let button = ui
                        .add(
                            egui::Button::new(format!("+ {class}"))
                                .small()
                                .sense(egui::Sense::click_and_drag()),
                        )
                        .on_hover_text(format!(
                            "Add a {class} with Keras's defaults after the selected layer \
                             (or drag it onto a wire or a card on the Graph tab)"
                        ));
                    button.dnd_set_drag_payload(PaletteItem(class));
                    let clicked = button.clicked();
                    if clicked {
                        d.command(Command::Add(class));
                    }
                }
            });
            block_palette(d, ui);
            ui.separator();
            egui::ScrollArea::vertical()
                .auto_shrink([false, false])
                .show_viewport(ui, |ui, viewport| {
                    let mut drop_target: Option<usize> = None;
                    let mut dragged: Option<usize> = None;
                    let mut clicked = None;
                    let net = &d.doc.network;
                    // Only the cards in view are laid out (NASNetMobile has 771); the
                    // others take the height they had when last shown.
                    let heights_id = ui.scope_id().with("stack_card_heights");
                    let mut heights: Vec<f32> =
                        ui.data(|m| m.get_temp(heights_id)).unwrap_or_default();
                    heights.resize(net.len(), 0.0);
                    let origin = ui.min_rect().top();
                    let (view_top, view_bottom) = (viewport.min.y - 200.0, viewport.max.y + 200.0);
                    for (i, height) in heights.iter_mut().enumerate() {
                        let top = ui.cursor().top() - origin;
                        let guess = if *height > 0.0 { *height } else { 32.0 };
                        if (top + guess < view_top || top > view_bottom) && i != d.view.selected {
                            ui.add_space(guess);
                            continue;
                        }
                        let l = &net.layers()[i];
                        let r = &d.rt.analysis.layers[i];
                        let mut text = card_text(l, r);
                        if let Some(ms) = d.rt.viewer.millis(i).filter(|_| !l.kind.is_input()) {
                            text.push_str(&format!(" · {ms:.1} ms"));
                        }
                        // A layer not fed by the one above shows where its inputs come from.
                        let ins = net.inputs_of(i);
                        if i > 0 && !ins.is_empty() && ins != [i - 1] {
                            let names: Vec<&str> =
                                ins.iter().map(|&j| net.layers()[j].name.as_str()).collect();
                            text.push_str(&format!(" · from {}", names.join(", ")));
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
                        let selected = d.view.selected == i;
                        let frame = egui::Frame::group(ui.style()).fill(if selected {
                            ui.visuals().selection.bg_fill.gamma_multiply(0.35)
                        } else {
                            Color32::TRANSPARENT
                        });
                        let before = ui.cursor().top();
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
                        *height = ui.cursor().top() - before;
                        if resp.clicked() {
                            clicked = Some(i);
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
                    ui.data_mut(|m| m.insert_temp(heights_id, heights));
                    if let Some(i) = clicked {
                        d.command(Command::Select(i));
                    }
                    if let (Some(from), Some(to)) = (dragged, drop_target) {
                        d.command(Command::Move { from, to });
                    }
                });
        });
}

/// The block palette: choose a block, set its name and arguments (the preview says
/// how many layers it makes and its output shape, or why Keras would refuse it), insert.
fn block_palette(d: &mut Designer, ui: &mut egui::Ui) {
    let sel = d.view.selected.min(d.doc.network.len().saturating_sub(1));
    let input =
        d.rt.analysis
            .layers
            .get(sel)
            .and_then(|r| r.output_shape.clone());
    ui.horizontal_wrapped(|ui| {
        let l = ui.label("Insert block:");
        let current = d.rt.block.as_ref().map_or("Block…", |b| b.kind.label());
        egui::ComboBox::from_id_salt("block_palette")
            .selected_text(current)
            .show_ui(ui, |ui| {
                for kind in BlockKind::ALL {
                    if ui
                        .selectable_label(false, kind.label())
                        .on_hover_text(kind.tip())
                        .clicked()
                    {
                        let input = input.clone().unwrap_or_default();
                        d.rt.block = Some(Block::new(kind, &d.doc.network, &input));
                    }
                }
            })
            .response
            .labelled_by(l.id);
    });
    let Some(block) = d.rt.block.as_mut() else {
        return;
    };
    let mut insert = false;
    let mut close = false;
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.label(RichText::new(block.kind.label()).strong())
            .on_hover_text(block.kind.tip());
        egui::Grid::new("block_args").num_columns(2).show(ui, |ui| {
            let l = ui.label("block name");
            ui.text_edit_singleline(&mut block.name).labelled_by(l.id);
            ui.end_row();
            for a in &mut block.args {
                let l = ui.label(a.key).on_hover_text(a.tip);
                let v = egui::DragValue::new(&mut a.value).range(0.0..=f64::MAX);
                let v = if a.integer {
                    v.speed(1.0).fixed_decimals(0)
                } else {
                    v.speed(0.01).max_decimals(4)
                };
                ui.add(v).labelled_by(l.id).on_hover_text(a.tip);
                ui.end_row();
            }
        });
        // What it would make after the selection.
        let preview = match &input {
            None => Err("the selected layer has no output shape".to_string()),
            Some(shape) => block.preview(&d.doc.network, shape),
        };
        match preview {
            Ok(p) => match p.error {
                Some(e) => {
                    ui.colored_label(RED, e);
                }
                None => {
                    ui.label(format!(
                        "{} layers -> {} · {} params",
                        p.layers,
                        p.output.as_deref().map_or(String::new(), pyfmt::tuple_opt),
                        thousands(p.params)
                    ));
                }
            },
            Err(e) => {
                ui.colored_label(RED, e);
            }
        }
        ui.horizontal(|ui| {
            insert = ui
                .button("Insert block")
                .on_hover_text("Insert the block's layers after the selected layer")
                .clicked();
            close = ui.button("Close").clicked();
        });
    });
    let chosen = insert.then(|| block.clone());
    if let Some(b) = chosen {
        d.command(Command::AddBlock(Box::new(b)));
    }
    if close {
        d.rt.block = None;
    }
}

pub fn summary_panel(d: &mut Designer, ui: &mut egui::Ui) {
    {
        ui.heading(format!("Summary — Model: \"{}\"", d.doc.network.name));
        // One monospace line per layer, columns padded as Keras's own summary is: only
        // the rows in view are laid out (NASNetMobile has 771).
        let net = &d.doc.network;
        let header = [
            "Layer (type)",
            "Output Shape",
            "Param #",
            "MACs",
            "Memory",
            "RF",
        ]
        .map(String::from);
        let rows: Vec<([String; 6], bool)> = (0..net.len())
            .filter(|&i| net.functional || !net.layers()[i].kind.is_input())
            .map(|i| {
                let (l, r) = (&net.layers()[i], &d.rt.analysis.layers[i]);
                let cells = [
                    format!("{} ({})", l.name, l.class_name()),
                    r.output_shape
                        .as_ref()
                        .map_or("?".to_string(), |s| pyfmt::tuple_opt(s)),
                    thousands(r.params()),
                    short_count(r.macs),
                    human_bytes(r.output_bytes),
                    r.receptive_field
                        .map_or("-".into(), |rf| format!("{}×{}", rf.size[0], rf.size[1])),
                ];
                (cells, r.error.is_some())
            })
            .collect();
        let mut widths = header.clone().map(|h| h.chars().count());
        for (cells, _) in &rows {
            for (w, c) in widths.iter_mut().zip(cells) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |cells: &[String; 6]| {
            let mut t = String::new();
            for (k, (c, w)) in cells.iter().zip(widths).enumerate() {
                let pad = w.saturating_sub(c.chars().count());
                // Numbers right-aligned, text left-aligned.
                if (2..5).contains(&k) {
                    t.push_str(&" ".repeat(pad));
                    t.push_str(c);
                } else {
                    t.push_str(c);
                    t.push_str(&" ".repeat(pad));
                }
                t.push_str("   ");
            }
            t.trim_end().to_string()
        };
        let row_h = ui.text_style_height(&egui::TextStyle::Monospace);
        let footer_h = 6.0 * (row_h + ui.spacing().item_spacing.y) + 12.0;
        let header = line(&header);
        // Row 0 is the header; when the rows scroll down it stays painted at the top of
        // the view, and sideways it moves with them (one scroll area for both).
        egui::ScrollArea::both()
            .auto_shrink([false, false])
            .max_height((ui.available_height() - footer_h).max(row_h * 4.0))
            .show_rows(ui, row_h, rows.len() + 1, |ui, range| {
                let scrolled = range.start > 0;
                for i in range {
                    let Some((cells, failed)) = i.checked_sub(1).and_then(|r| rows.get(r)) else {
                        let text = RichText::new(header.as_str()).monospace().strong();
                        ui.add(egui::Label::new(text).extend());
                        continue;
                    };
                    let text = RichText::new(line(cells)).monospace();
                    // One line each (no wrapping): the area scrolls sideways.
                    let text = if *failed { text.color(RED) } else { text };
                    ui.add(egui::Label::new(text).extend());
                }
                let view = ui.clip_rect();
                if scrolled || ui.min_rect().top() < view.top() {
                    sticky_header(ui, &header, view, row_h);
                }
            });
        {
            {
                ui.separator();
                let a = &d.rt.analysis;
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
                if let Some(msg) = a.error(&d.doc.network) {
                    ui.colored_label(RED, msg);
                }
            }
        }
    }
}

/// The summary's column header painted over the top row of the view `view`, at the
/// rows' own horizontal position (so it scrolls sideways with them).
fn sticky_header(ui: &egui::Ui, header: &str, view: egui::Rect, row_h: f32) {
    let font = egui::TextStyle::Monospace.resolve(ui.style());
    let color = ui.visuals().strong_text_color();
    let left = ui.max_rect().left();
    let band = egui::Rect::from_min_max(
        egui::pos2(view.left(), view.top()),
        egui::pos2(
            view.right(),
            view.top() + row_h + ui.spacing().item_spacing.y,
        ),
    );
    let painter = ui.painter_at(view);
    painter.rect_filled(band, 0.0, ui.visuals().panel_fill);
    let galley = painter.layout_no_wrap(header.to_string(), font, color);
    painter.galley(egui::pos2(left, view.top()), galley, color);
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
