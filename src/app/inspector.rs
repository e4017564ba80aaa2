//! The Inspector: every Keras argument of the selected layer, from its kind's declaration
//! ([`crate::layers::LayerSpec::args`]), each with its tooltip; the output-size formula
//! with this layer's numbers and the `same` padding split. Edits a copy of the layer and
//! hands it back as a [`Command`] (one undo step per gesture).

use super::panels::{AMBER, RED};
use super::{Command, Designer};
use crate::keras::args::{AmountForm, Arg, ArgMut, Visitor};
use crate::keras::geometry::{self, DataFormat, Padding};
use crate::keras::objects::{ACTIVATIONS, KerasObject, ObjectKind};
use crate::keras::shape::Pair;
use egui::RichText;
use serde_json::Value;

/// Draws each argument as a labelled widget in a two-column grid.
struct Fields<'a> {
    ui: &'a mut egui::Ui,
    /// Keep both values of a pair equal.
    lock: &'a mut bool,
}

impl Fields<'_> {
    fn label(&mut self, name: &str, tip: &str) -> egui::Response {
        self.ui.label(name).on_hover_text(tip)
    }

    fn int(&mut self, name: &str, tip: &str, v: &mut i64) {
        let l = self.label(name, tip);
        self.ui
            .add(egui::DragValue::new(v).speed(0.1))
            .labelled_by(l.id)
            .on_hover_text(tip);
        self.ui.end_row();
    }

    fn float(&mut self, name: &str, tip: &str, v: &mut f64) {
        let l = self.label(name, tip);
        self.ui
            .add(egui::DragValue::new(v).speed(0.01).max_decimals(6))
            .labelled_by(l.id)
            .on_hover_text(tip);
        self.ui.end_row();
    }

    fn choice(&mut self, name: &str, tip: &str, v: &mut String, options: &[&str]) {
        let l = self.label(name, tip);
        egui::ComboBox::from_id_salt(name)
            .selected_text(v.as_str())
            .show_ui(self.ui, |ui| {
                for o in options {
                    ui.selectable_value(v, o.to_string(), *o);
                }
            })
            .response
            .labelled_by(l.id)
            .on_hover_text(tip);
        self.ui.end_row();
    }

    fn pick<T: PartialEq + Copy>(
        &mut self,
        name: &str,
        tip: &str,
        v: &mut T,
        options: &[(T, &str)],
    ) {
        let l = self.label(name, tip);
        let current = options.iter().find(|(o, _)| o == v).map_or("", |(_, n)| n);
        egui::ComboBox::from_id_salt(name)
            .selected_text(current)
            .show_ui(self.ui, |ui| {
                for (o, text) in options {
                    ui.selectable_value(v, *o, *text);
                }
            })
            .response
            .labelled_by(l.id)
            .on_hover_text(tip);
        self.ui.end_row();
    }

    fn pair(&mut self, name: &str, tip: &str, p: &mut Pair) {
        let l = self.label(name, tip);
        let lock = &mut *self.lock;
        self.ui.horizontal(|ui| {
            let h = ui
                .add(egui::DragValue::new(&mut p.v[0]).speed(0.1))
                .labelled_by(l.id)
                .on_hover_text(format!("{tip} (rows)"));
            let lock_resp = ui
                .toggle_value(lock, if *lock { "= lock" } else { "free" })
                .on_hover_text("Lock: keep both values equal (a square window).");
            let wl = ui.small("w");
            let w = ui
                .add(egui::DragValue::new(&mut p.v[1]).speed(0.1))
                .labelled_by(wl.id)
                .on_hover_text(format!("{tip} (columns)"));
            if *lock {
                if h.changed() || lock_resp.changed() {
                    p.v[1] = p.v[0];
                } else if w.changed() {
                    p.v[0] = p.v[1];
                }
            }
            if h.changed() || w.changed() {
                p.scalar = false;
            }
        });
        self.ui.end_row();
    }

    /// A "set" checkbox row for an optional value; `true` when it is set.
    fn optional(&mut self, name: &str, tip: &str, set: bool, text: &str) -> bool {
        let mut on = set;
        self.label(name, tip);
        self.ui.checkbox(&mut on, text);
        self.ui.end_row();
        on
    }

    /// An initializer / regularizer / constraint: class drop-down and its own arguments.
    fn object(
        &mut self,
        name: &str,
        tip: &str,
        kind: ObjectKind,
        v: &mut Option<KerasObject>,
        nullable: bool,
    ) {
        let label = self.label(name, tip);
        self.ui.vertical(|ui| {
            let current = v
                .as_ref()
                .map_or("None".to_string(), |o| o.class_name.clone());
            egui::ComboBox::from_id_salt(name)
                .selected_text(current)
                .show_ui(ui, |ui| {
                    if nullable && ui.selectable_label(v.is_none(), "None").clicked() {
                        *v = None;
                    }
                    for c in kind.classes() {
                        let on = v.as_ref().is_some_and(|o| o.class_name == *c);
                        if ui.selectable_label(on, *c).clicked() && !on {
                            *v = KerasObject::new(kind, c);
                        }
                    }
                })
                .response
                .labelled_by(label.id);
            if let Some(o) = v.as_mut() {
                object_config(ui, name, o);
            }
        });
        self.ui.end_row();
    }
}

/// The arguments of an initializer, regularizer or constraint.
fn object_config(ui: &mut egui::Ui, name: &str, o: &mut KerasObject) {
    let class = o.class_name.clone();
    for (k, val) in o.config.iter_mut() {
        ui.horizontal(|ui| {
            let kl = ui.label(RichText::new(k).small());
            match val {
                Value::Number(n) => {
                    let mut f = n.as_f64().unwrap_or(0.0);
                    let is_int = n.is_i64();
                    if ui
                        .add(egui::DragValue::new(&mut f).speed(0.001).max_decimals(6))
                        .labelled_by(kl.id)
                        .changed()
                    {
                        *val = if is_int && f.fract() == 0.0 {
                            Value::from(f as i64)
                        } else {
                            serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
                        };
                    }
                }
                Value::String(s) => {
                    let opts: &[&str] = match k.as_str() {
                        "mode" if class == "OrthogonalRegularizer" => &["rows", "columns"],
                        "mode" => &["fan_in", "fan_out", "fan_avg"],
                        "distribution" => &["truncated_normal", "untruncated_normal", "uniform"],
                        _ => &[],
                    };
                    if opts.is_empty() {
                        ui.text_edit_singleline(s).labelled_by(kl.id);
                    } else {
                        egui::ComboBox::from_id_salt((name, k.as_str()))
                            .selected_text(s.as_str())
                            .show_ui(ui, |ui| {
                                for op in opts {
                                    ui.selectable_value(s, op.to_string(), *op);
                                }
                            })
                            .response
                            .labelled_by(kl.id);
                    }
                }
                Value::Null if k == "seed" => {
                    if ui.small_button("set seed").clicked() {
                        *val = Value::from(0);
                    }
                }
                other => {
                    ui.monospace(other.to_string());
                }
            }
        });
    }
}

impl Visitor for Fields<'_> {
    fn arg(&mut self, arg: &Arg, value: ArgMut<'_>) {
        let (name, tip) = (arg.key, arg.tip);
        match value {
            ArgMut::Int(v) | ArgMut::Axis(v) => self.int(name, tip, v),
            ArgMut::Axes(a) => {
                if let [v] = a.v.as_mut_slice() {
                    self.int(name, tip, v);
                } else {
                    self.label(name, tip);
                    self.ui.monospace(format!("{:?}", a.v));
                    self.ui.end_row();
                }
            }
            ArgMut::OptInt(v) => {
                if self.optional(name, tip, v.is_some(), "set") {
                    let mut x = v.unwrap_or(0);
                    self.int(name, tip, &mut x);
                    *v = Some(x);
                } else {
                    *v = None;
                }
            }
            ArgMut::Float(v) | ArgMut::FloatOrNone(v) => self.float(name, tip, v),
            ArgMut::OptFloat(v) => match (self.optional(name, tip, v.is_some(), "set"), v.as_mut())
            {
                (true, Some(x)) => self.float(name, tip, x),
                (true, None) => *v = Some(6.0),
                (false, _) => *v = None,
            },
            ArgMut::Bool(v) => {
                let l = self.label(name, tip);
                self.ui.checkbox(v, "").labelled_by(l.id).on_hover_text(tip);
                self.ui.end_row();
            }
            ArgMut::Text(v, options) | ArgMut::LowerText(v, options) => {
                self.choice(name, tip, v, options)
            }
            ArgMut::Activation(v) => self.choice(name, tip, v, ACTIVATIONS),
            ArgMut::Padding(v) => self.pick(
                name,
                tip,
                v,
                &[(Padding::Valid, "valid"), (Padding::Same, "same")],
            ),
            ArgMut::DataFormat(v) => self.pick(
                name,
                tip,
                v,
                &[
                    (DataFormat::ChannelsLast, "channels_last"),
                    (DataFormat::ChannelsFirst, "channels_first"),
                ],
            ),
            ArgMut::Pair(p) => self.pair(name, tip, p),
            ArgMut::OptPair(v) => {
                match (self.optional(name, tip, v.is_some(), "set"), v.as_mut()) {
                    (true, Some(p)) => self.pair(name, tip, p),
                    (true, None) => *v = Some(Pair::square(0)),
                    (false, _) => *v = None,
                }
            }
            ArgMut::PairOr { value, fallback } => {
                let set = self.optional(name, tip, value.is_some(), "set (else = pool_size)");
                match (set, value.as_mut()) {
                    (true, Some(p)) => self.pair(name, tip, p),
                    (true, None) => *value = Some(fallback),
                    (false, _) => *value = None,
                }
            }
            ArgMut::Object {
                value,
                kind,
                nullable,
            } => self.object(name, tip, kind, value, nullable),
            ArgMut::Amounts(a) => {
                for (k, side) in ["top", "bottom", "left", "right"].iter().enumerate() {
                    let v = &mut a.v[k / 2][k % 2];
                    let before = *v;
                    self.int(side, tip, v);
                    if *v != before {
                        a.form = AmountForm::Full;
                    }
                }
            }
            ArgMut::Shape(shape) => {
                let n = shape.len();
                for (k, dim) in shape.iter_mut().enumerate().skip(1) {
                    let (label, tip) = match (n, k) {
                        (4, 1) => (
                            "height",
                            "Input height in pixels (the batch size is left free).",
                        ),
                        (4, 2) => (
                            "width",
                            "Input width in pixels (the batch size is left free).",
                        ),
                        (4, 3) => (
                            "channels",
                            "Input channels: 3 for RGB images, 1 for grayscale.",
                        ),
                        _ => ("dimension", "One dimension of the input shape."),
                    };
                    let mut v = dim.unwrap_or(0);
                    self.int(label, tip, &mut v);
                    *dim = if v == 0 && dim.is_none() {
                        None
                    } else {
                        Some(v)
                    };
                }
            }
            ArgMut::Ints(v) => {
                let l = self.label(name, tip);
                let mut text = v
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", ");
                let r = self.ui.text_edit_singleline(&mut text).labelled_by(l.id);
                if r.changed() {
                    let parsed: Option<Vec<i64>> = text
                        .split(',')
                        .map(|s| s.trim())
                        .filter(|s| !s.is_empty())
                        .map(|s| s.parse().ok())
                        .collect();
                    if let Some(p) = parsed.filter(|p| !p.is_empty()) {
                        *v = p;
                    }
                }
                self.ui.end_row();
            }
            ArgMut::Json(v) => {
                self.label(name, tip);
                self.ui.monospace(v.to_string());
                self.ui.end_row();
            }
        }
    }
}

/// The Inspector panel.
pub fn inspector_panel(d: &mut Designer, ui: &mut egui::Ui) {
    let resp = egui::Panel::right("inspector")
        .resizable(true)
        .default_size(330.0)
        .min_size(260.0)
        .show(ui, |ui| {
            ui.heading("Inspector");
            let net = &d.doc.network;
            let i = d.view.selected.min(net.len().saturating_sub(1));
            let Some(layer) = net.layers().get(i) else {
                return;
            };
            let mut edited = layer.clone();
            let mut name = match &d.view.name_buffer {
                Some((j, text)) if *j == i => text.clone(),
                _ => layer.name.clone(),
            };
            let mut lock = d.view.lock_square;
            let mut commands = Vec::new();
            let mut buffer = d.view.name_buffer.clone();
            ui.label(RichText::new(layer.kind.spec().card()).strong());
            egui::ScrollArea::vertical()
                .auto_shrink([false, false])
                .show(ui, |ui| {
                    egui::Grid::new("args")
                        .num_columns(2)
                        .spacing([10.0, 6.0])
                        .show(ui, |ui| {
                            let l = ui.label("name");
                            let r = ui.text_edit_singleline(&mut name).labelled_by(l.id);
                            // Typed into a buffer; the rename happens (or is refused) when
                            // the field is left, not at every keystroke.
                            if r.lost_focus() {
                                commands.push(Command::Rename {
                                    index: i,
                                    name: name.trim().to_string(),
                                });
                                buffer = None;
                            } else if r.changed() {
                                buffer = Some((i, name.clone()));
                            }
                            ui.end_row();
                            edited.kind.spec_mut().args(&mut Fields {
                                ui,
                                lock: &mut lock,
                            });
                            if !edited.kind.is_input() {
                                let tip = "Whether training updates this layer's weights (frozen weights count as non-trainable).";
                                let l = ui.label("trainable").on_hover_text(tip);
                                ui.checkbox(&mut edited.trainable, "")
                                    .labelled_by(l.id)
                                    .on_hover_text(tip);
                                ui.end_row();
                            }
                        });
                    wiring(d, ui, i, &mut commands);
                    report(d, ui, i);
                });
            d.view.lock_square = lock;
            d.view.name_buffer = buffer;
            if edited != *layer {
                commands.push(Command::SetLayer {
                    index: i,
                    layer: Box::new(edited),
                });
            }
            for c in commands {
                d.command(c);
            }
        });
    d.rt.central_right = resp.response.rect.left();
}

/// Layer `i`'s inputs (each can be disconnected), a list to connect one more from (the
/// layers whose output does not depend on `i`), and whether it is a model output.
fn wiring(d: &Designer, ui: &mut egui::Ui, i: usize, commands: &mut Vec<Command>) {
    let net = &d.doc.network;
    let Some(layer) = net.layers().get(i) else {
        return;
    };
    if layer.kind.is_input() && !net.functional {
        return;
    }
    ui.separator();
    let ins = net.inputs_of(i);
    if !layer.kind.is_input() {
        ui.label(RichText::new("Inputs").strong());
        for &j in &ins {
            let name = &net.layers()[j].name;
            ui.horizontal(|ui| {
                ui.monospace(format!(
                    "{name}  {}",
                    super::panels::shape_text(&d.rt.analysis.layers[j])
                ));
                if ins.len() > 1
                    && ui
                        .small_button("Disconnect")
                        .on_hover_text(format!("Stop feeding '{name}' into this layer"))
                        .clicked()
                {
                    commands.push(Command::Disconnect { from: j, to: i });
                }
            });
        }
        let id = layer.id();
        let after = net.descendants(&[id].into());
        let l = ui.label("Connect from").on_hover_text(
            "Feed another layer's output into this one as one more input (a merge takes \
             them all; a Sequential design becomes Functional).",
        );
        egui::ComboBox::from_id_salt(("connect_from", id))
            .selected_text("Layer…")
            .height(320.0)
            .show_ui(ui, |ui| {
                for (j, other) in net.layers().iter().enumerate() {
                    if after[j] || ins.contains(&j) {
                        continue;
                    }
                    if ui.selectable_label(false, &other.name).clicked() {
                        commands.push(Command::Connect { from: j, to: i });
                    }
                }
            })
            .response
            .labelled_by(l.id);
    }
    if net.functional {
        let mut out = net.is_output(i);
        let tip = "Whether this layer's output is one of the model's outputs.";
        if ui
            .checkbox(&mut out, "Model output")
            .on_hover_text(tip)
            .changed()
        {
            commands.push(Command::SetOutput { index: i, on: out });
        }
    }
}

/// What the analysis says about layer `i`: error, warnings, output-size formula, `same`
/// split, receptive field, weights.
fn report(d: &Designer, ui: &mut egui::Ui, i: usize) {
    let r = &d.rt.analysis.layers[i];
    ui.separator();
    if let Some(e) = &r.error {
        ui.colored_label(RED, RichText::new(&e.message).monospace());
    }
    for w in &r.warnings {
        ui.colored_label(AMBER, w);
    }
    if let Some(f) = formula(d, i) {
        ui.label(RichText::new("Output size").strong());
        ui.monospace(f);
    }
    if let Some([t, b, l, rr]) = r.same_padding {
        ui.monospace(format!(
            "same padding: top {t}, bottom {b}, left {l}, right {rr}"
        ));
    }
    if let Some(rf) = r.receptive_field {
        ui.monospace(format!(
            "receptive field {}×{}, jump {}×{}",
            rf.size[0], rf.size[1], rf.jump[0], rf.jump[1]
        ));
    }
    if !r.weights.is_empty() {
        ui.label(RichText::new("Weights").strong());
        for w in &r.weights {
            ui.monospace(format!(
                "{} {:?} = {}{}",
                w.name,
                w.shape,
                w.count(),
                if w.trainable { "" } else { " (non-trainable)" }
            ));
        }
    }
}

/// The output-size formula with this layer's numbers, per spatial axis.
fn formula(d: &Designer, i: usize) -> Option<String> {
    let net = &d.doc.network;
    let w = net.layers().get(i)?.kind.spec().window()?;
    let prev = *net.inputs_of(i).first()?;
    let input = d.rt.analysis.layers.get(prev)?.output_shape.clone()?;
    if input.len() != 4 {
        return None;
    }
    let sp = w.data_format.spatial_axes();
    let lines: Option<Vec<String>> = ["H", "W"]
        .iter()
        .enumerate()
        .map(|(a, axis)| {
            geometry::formula(
                axis,
                input[sp[a]]?,
                w.kernel.v[a],
                w.strides.v[a],
                w.dilation.v[a],
                w.padding,
            )
        })
        .collect();
    Some(lines?.join("\n"))
}
