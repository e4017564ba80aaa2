//! The Inspector: every Keras argument of the selected layer, grouped as Keras
//! documents them, with a tooltip per argument, the output-size formula with this
//! layer's numbers and the `same` padding split. Edits a copy of the layer and hands
//! it back through [`Designer::edit`] (one undo step per gesture).

use super::Designer;
use super::panels::{AMBER, RED, card_args};
use crate::model::layer::*;
use crate::model::objects::{ACTIVATIONS, KerasObject, ObjectKind};
use egui::RichText;
use serde_json::Value;

fn tip(name: &str) -> &'static str {
    match name {
        "filters" => "Number of output channels: how many kernels the layer learns.",
        "kernel_size" => "Height and width of each convolution window.",
        "strides" => "Step of the window in pixels; 2 halves the output size.",
        "padding" => {
            "valid: no padding, the output shrinks. same: zero-pad so that output = ceil(input / stride); the extra pixel goes bottom/right."
        }
        "data_format" => "channels_last: (batch, H, W, C). channels_first: (batch, C, H, W).",
        "dilation_rate" => "Spacing between kernel taps: a 3×3 kernel with dilation 2 covers 5×5.",
        "groups" => {
            "Split input channels into groups convolved separately; filters and input channels must divide by it."
        }
        "activation" => "Function applied to the output. linear means none.",
        "use_bias" => "Add a learned bias per output channel.",
        "depth_multiplier" => "Output channels per input channel in the depthwise step.",
        "units" => "Number of output values of the dense layer.",
        "pool_size" => "Height and width of the pooling window.",
        "rate" => "Fraction of inputs dropped during training (identity at inference).",
        "axis" => "Axis the layer works along (-1 is the channels axis for channels_last).",
        "momentum" => "Momentum of the moving mean and variance.",
        "epsilon" => "Small value added to the variance to avoid dividing by zero.",
        "center" => "Learn an offset (beta).",
        "scale" => "Learn a scale (gamma).",
        "keepdims" => "Keep the spatial axes as size 1.",
        "output_padding" => {
            "Extra rows/columns added to one side of the output; must be smaller than the stride."
        }
        "size" => "Upsampling factors for rows and columns.",
        "interpolation" => "How new pixels are computed: nearest copies, bilinear blends.",
        "negative_slope" => "Slope for negative inputs.",
        "max_value" => "Upper bound of the output (None: unbounded).",
        "threshold" => "Inputs below it use the negative slope.",
        "trainable" => {
            "Whether training updates this layer's weights (frozen weights count as non-trainable)."
        }
        "top" | "bottom" | "left" | "right" => {
            "Rows or columns added (ZeroPadding2D) or removed (Cropping2D) on this side."
        }
        "height" | "width" => "Input size in pixels (the batch size is left free).",
        "channels" => "Input channels: 3 for RGB images, 1 for grayscale.",
        "dimension" => "One dimension of the input shape.",
        "offset" => "Added after scaling: output = input × scale + offset.",
        _ => "A Keras argument of this layer.",
    }
}

fn int(ui: &mut egui::Ui, name: &str, v: &mut i64) {
    let l = ui.label(name).on_hover_text(tip(name));
    ui.add(egui::DragValue::new(v).speed(0.1))
        .labelled_by(l.id)
        .on_hover_text(tip(name));
    ui.end_row();
}

fn float(ui: &mut egui::Ui, name: &str, v: &mut f64) {
    let l = ui.label(name).on_hover_text(tip(name));
    ui.add(egui::DragValue::new(v).speed(0.01).max_decimals(6))
        .labelled_by(l.id)
        .on_hover_text(tip(name));
    ui.end_row();
}

fn boolean(ui: &mut egui::Ui, name: &str, v: &mut bool) {
    let l = ui.label(name).on_hover_text(tip(name));
    ui.checkbox(v, "")
        .labelled_by(l.id)
        .on_hover_text(tip(name));
    ui.end_row();
}

fn choice(ui: &mut egui::Ui, name: &str, v: &mut String, options: &[&str]) {
    let l = ui.label(name).on_hover_text(tip(name));
    egui::ComboBox::from_id_salt(name)
        .selected_text(v.as_str())
        .show_ui(ui, |ui| {
            for o in options {
                ui.selectable_value(v, o.to_string(), *o);
            }
        })
        .response
        .labelled_by(l.id)
        .on_hover_text(tip(name));
    ui.end_row();
}

fn pair(ui: &mut egui::Ui, name: &str, p: &mut Pair, lock: &mut bool) {
    let l = ui.label(name).on_hover_text(tip(name));
    ui.horizontal(|ui| {
        let h = ui
            .add(egui::DragValue::new(&mut p.v[0]).speed(0.1))
            .labelled_by(l.id)
            .on_hover_text(format!("{} (rows)", tip(name)));
        let lock_resp = ui
            .toggle_value(lock, if *lock { "= lock" } else { "free" })
            .on_hover_text("Lock: keep both values equal (a square window).");
        let wl = ui.small("w");
        let w = ui
            .add(egui::DragValue::new(&mut p.v[1]).speed(0.1))
            .labelled_by(wl.id)
            .on_hover_text(format!("{} (columns)", tip(name)));
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
    ui.end_row();
}

fn activation(ui: &mut egui::Ui, v: &mut String) {
    choice(ui, "activation", v, ACTIVATIONS);
}

/// An initializer / regularizer / constraint: class drop-down and its own arguments.
fn object(
    ui: &mut egui::Ui,
    name: &str,
    kind: ObjectKind,
    v: &mut Option<KerasObject>,
    optional: bool,
) {
    let label = ui.label(name).on_hover_text(match kind {
        ObjectKind::Initializer => "How the weights are drawn before training.",
        ObjectKind::Regularizer => "Penalty added to the loss during training.",
        ObjectKind::Constraint => "Projection applied to the weights after each update.",
    });
    ui.vertical(|ui| {
        let current = v
            .as_ref()
            .map_or("None".to_string(), |o| o.class_name.clone());
        egui::ComboBox::from_id_salt(name)
            .selected_text(current)
            .show_ui(ui, |ui| {
                if optional && ui.selectable_label(v.is_none(), "None").clicked() {
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
                                    serde_json::Number::from_f64(f)
                                        .map_or(Value::Null, Value::Number)
                                };
                            }
                        }
                        Value::String(s) => {
                            let opts: &[&str] = match k.as_str() {
                                "mode" if o.class_name == "OrthogonalRegularizer" => {
                                    &["rows", "columns"]
                                }
                                "mode" => &["fan_in", "fan_out", "fan_avg"],
                                "distribution" => {
                                    &["truncated_normal", "untruncated_normal", "uniform"]
                                }
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
    });
    ui.end_row();
}

fn weights(ui: &mut egui::Ui, prefix: &str, w: &mut WeightArgs) {
    object(
        ui,
        &format!("{prefix}_initializer"),
        ObjectKind::Initializer,
        &mut w.initializer,
        false,
    );
    object(
        ui,
        &format!("{prefix}_regularizer"),
        ObjectKind::Regularizer,
        &mut w.regularizer,
        true,
    );
    object(
        ui,
        &format!("{prefix}_constraint"),
        ObjectKind::Constraint,
        &mut w.constraint,
        true,
    );
}

const PADDINGS: &[&str] = &["valid", "same"];
const FORMATS: &[&str] = &["channels_last", "channels_first"];

/// The Inspector panel.
pub fn inspector_panel(d: &mut Designer, ui: &mut egui::Ui) {
    let resp = egui::Panel::right("inspector")
        .resizable(true)
        .default_size(330.0)
        .min_size(260.0)
        .show(ui, |ui| {
            ui.heading("Inspector");
            let i = d.selected.min(d.network.layers.len().saturating_sub(1));
            let Some(layer) = d.network.layers.get(i) else {
                return;
            };
            let mut edited = layer.clone();
            let mut lock = d.lock_square;
            ui.label(RichText::new(card_args(layer)).strong());
            egui::ScrollArea::vertical()
                .auto_shrink([false, false])
                .show(ui, |ui| {
                    egui::Grid::new("args")
                        .num_columns(2)
                        .spacing([10.0, 6.0])
                        .show(ui, |ui| {
                            let l = ui.label("name");
                            ui.text_edit_singleline(&mut edited.name).labelled_by(l.id);
                            ui.end_row();
                            edit_kind(ui, &mut edited.kind, &mut lock);
                            if !matches!(edited.kind, LayerKind::Input(_)) {
                                boolean(ui, "trainable", &mut edited.trainable);
                            }
                        });
                    let r = &d.analysis.layers[i];
                    ui.separator();
                    if let Some(e) = &r.error {
                        ui.colored_label(RED, RichText::new(&e.message).monospace());
                    }
                    for w in &r.warnings {
                        ui.colored_label(AMBER, w);
                    }
                    if let Some(f) = formula(&d.network, i, &d.analysis) {
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
                });
            d.lock_square = lock;
            if edited != *layer {
                edited.construct_error = None;
                d.edit(|net| net.layers[i] = edited);
            }
        });
    d.central_right = resp.response.rect.left();
}

fn edit_kind(ui: &mut egui::Ui, kind: &mut LayerKind, lock: &mut bool) {
    match kind {
        LayerKind::Input(inp) => {
            let n = inp.batch_shape.len();
            for (k, dim) in inp.batch_shape.iter_mut().enumerate().skip(1) {
                let name = match (n, k) {
                    (4, 1) => "height",
                    (4, 2) => "width",
                    (4, 3) => "channels",
                    _ => "dimension",
                };
                let mut v = dim.unwrap_or(0);
                int(ui, name, &mut v);
                *dim = if v == 0 && dim.is_none() {
                    None
                } else {
                    Some(v)
                };
            }
        }
        LayerKind::Conv2D(c) => {
            int(ui, "filters", &mut c.filters);
            pair(ui, "kernel_size", &mut c.kernel_size, lock);
            pair(ui, "strides", &mut c.strides, lock);
            choice(ui, "padding", &mut c.padding, PADDINGS);
            choice(ui, "data_format", &mut c.data_format, FORMATS);
            pair(ui, "dilation_rate", &mut c.dilation_rate, lock);
            int(ui, "groups", &mut c.groups);
            activation(ui, &mut c.activation);
            boolean(ui, "use_bias", &mut c.use_bias);
            weights(ui, "kernel", &mut c.kernel);
            weights(ui, "bias", &mut c.bias);
            object(
                ui,
                "activity_regularizer",
                ObjectKind::Regularizer,
                &mut c.activity_regularizer,
                true,
            );
        }
        LayerKind::Conv2DTranspose(c) => {
            int(ui, "filters", &mut c.filters);
            pair(ui, "kernel_size", &mut c.kernel_size, lock);
            pair(ui, "strides", &mut c.strides, lock);
            choice(ui, "padding", &mut c.padding, PADDINGS);
            ui.label("output_padding")
                .on_hover_text(tip("output_padding"));
            let mut on = c.output_padding.is_some();
            ui.checkbox(&mut on, "set");
            ui.end_row();
            match (on, &mut c.output_padding) {
                (true, Some(p)) => pair(ui, "output_padding", p, lock),
                (true, None) => c.output_padding = Some(Pair::square(0)),
                (false, _) => c.output_padding = None,
            }
            choice(ui, "data_format", &mut c.data_format, FORMATS);
            pair(ui, "dilation_rate", &mut c.dilation_rate, lock);
            activation(ui, &mut c.activation);
            boolean(ui, "use_bias", &mut c.use_bias);
            weights(ui, "kernel", &mut c.kernel);
            weights(ui, "bias", &mut c.bias);
        }
        LayerKind::DepthwiseConv2D(c) => {
            int(ui, "depth_multiplier", &mut c.depth_multiplier);
            pair(ui, "kernel_size", &mut c.kernel_size, lock);
            pair(ui, "strides", &mut c.strides, lock);
            choice(ui, "padding", &mut c.padding, PADDINGS);
            choice(ui, "data_format", &mut c.data_format, FORMATS);
            pair(ui, "dilation_rate", &mut c.dilation_rate, lock);
            activation(ui, &mut c.activation);
            boolean(ui, "use_bias", &mut c.use_bias);
            weights(ui, "depthwise", &mut c.depthwise);
            weights(ui, "bias", &mut c.bias);
        }
        LayerKind::SeparableConv2D(c) => {
            int(ui, "depth_multiplier", &mut c.depth_multiplier);
            int(ui, "filters", &mut c.filters);
            pair(ui, "kernel_size", &mut c.kernel_size, lock);
            pair(ui, "strides", &mut c.strides, lock);
            choice(ui, "padding", &mut c.padding, PADDINGS);
            choice(ui, "data_format", &mut c.data_format, FORMATS);
            pair(ui, "dilation_rate", &mut c.dilation_rate, lock);
            activation(ui, &mut c.activation);
            boolean(ui, "use_bias", &mut c.use_bias);
            weights(ui, "depthwise", &mut c.depthwise);
            weights(ui, "pointwise", &mut c.pointwise);
            weights(ui, "bias", &mut c.bias);
        }
        LayerKind::Pooling2D(p) => {
            pair(ui, "pool_size", &mut p.pool_size, lock);
            ui.label("strides").on_hover_text("Defaults to pool_size.");
            let mut own = p.strides.is_some();
            ui.checkbox(&mut own, "set (else = pool_size)");
            ui.end_row();
            match (own, &mut p.strides) {
                (true, Some(s)) => pair(ui, "strides", s, lock),
                (true, None) => p.strides = Some(p.pool_size),
                (false, _) => p.strides = None,
            }
            choice(ui, "padding", &mut p.padding, PADDINGS);
            choice(ui, "data_format", &mut p.data_format, FORMATS);
        }
        LayerKind::GlobalPooling2D(p) => {
            choice(ui, "data_format", &mut p.data_format, FORMATS);
            boolean(ui, "keepdims", &mut p.keepdims);
        }
        LayerKind::BatchNormalization(b) => {
            int(ui, "axis", &mut b.axis);
            float(ui, "momentum", &mut b.momentum);
            float(ui, "epsilon", &mut b.epsilon);
            boolean(ui, "center", &mut b.center);
            boolean(ui, "scale", &mut b.scale);
            object(
                ui,
                "beta_initializer",
                ObjectKind::Initializer,
                &mut b.beta_initializer,
                false,
            );
            object(
                ui,
                "gamma_initializer",
                ObjectKind::Initializer,
                &mut b.gamma_initializer,
                false,
            );
            object(
                ui,
                "moving_mean_initializer",
                ObjectKind::Initializer,
                &mut b.moving_mean_initializer,
                false,
            );
            object(
                ui,
                "moving_variance_initializer",
                ObjectKind::Initializer,
                &mut b.moving_variance_initializer,
                false,
            );
            object(
                ui,
                "beta_regularizer",
                ObjectKind::Regularizer,
                &mut b.beta_regularizer,
                true,
            );
            object(
                ui,
                "gamma_regularizer",
                ObjectKind::Regularizer,
                &mut b.gamma_regularizer,
                true,
            );
            object(
                ui,
                "beta_constraint",
                ObjectKind::Constraint,
                &mut b.beta_constraint,
                true,
            );
            object(
                ui,
                "gamma_constraint",
                ObjectKind::Constraint,
                &mut b.gamma_constraint,
                true,
            );
        }
        LayerKind::Activation { activation: a } => activation(ui, a),
        LayerKind::ReLU(r) => {
            let mut has = r.max_value.is_some();
            ui.label("max_value").on_hover_text(tip("max_value"));
            ui.checkbox(&mut has, "set");
            ui.end_row();
            match (has, &mut r.max_value) {
                (true, Some(m)) => float(ui, "max_value", m),
                (true, None) => r.max_value = Some(6.0),
                (false, _) => r.max_value = None,
            }
            float(ui, "negative_slope", &mut r.negative_slope);
            float(ui, "threshold", &mut r.threshold);
        }
        LayerKind::LeakyReLU { negative_slope } => float(ui, "negative_slope", negative_slope),
        LayerKind::Softmax { axis } => int(ui, "axis", axis),
        LayerKind::Dropout(dr) => float(ui, "rate", &mut dr.rate),
        LayerKind::SpatialDropout2D(dr) => {
            float(ui, "rate", &mut dr.rate);
            choice(ui, "data_format", &mut dr.data_format, FORMATS);
        }
        LayerKind::Flatten { data_format } => choice(ui, "data_format", data_format, FORMATS),
        LayerKind::Dense(dn) => {
            int(ui, "units", &mut dn.units);
            activation(ui, &mut dn.activation);
            boolean(ui, "use_bias", &mut dn.use_bias);
            weights(ui, "kernel", &mut dn.kernel);
            weights(ui, "bias", &mut dn.bias);
        }
        LayerKind::ZeroPadding2D(p) | LayerKind::Cropping2D(p) => {
            for (k, name) in ["top", "bottom", "left", "right"].iter().enumerate() {
                let v = &mut p.amounts[k / 2][k % 2];
                let before = *v;
                int(ui, name, v);
                if *v != before {
                    p.form = PadForm::Full;
                }
            }
            choice(ui, "data_format", &mut p.data_format, FORMATS);
        }
        LayerKind::UpSampling2D(u) => {
            pair(ui, "size", &mut u.size, lock);
            choice(
                ui,
                "interpolation",
                &mut u.interpolation,
                &["nearest", "bilinear"],
            );
            choice(ui, "data_format", &mut u.data_format, FORMATS);
        }
        LayerKind::Rescaling { scale, offset } => {
            float(ui, "scale", scale);
            float(ui, "offset", offset);
        }
        LayerKind::Merge(_) => {}
        LayerKind::Concatenate { axis } => int(ui, "axis", axis),
    }
}

/// The output-size formula with this layer's numbers, per spatial axis.
fn formula(net: &crate::model::Network, i: usize, a: &crate::model::Analysis) -> Option<String> {
    let layer = net.layers.get(i)?;
    let prev = net.inbound_indices(i)?.first().copied()?;
    let input = a.layers.get(prev)?.output_shape.clone()?;
    if input.len() != 4 {
        return None;
    }
    let cf = layer.kind.data_format() == Some("channels_first");
    let sp = if cf { [2, 3] } else { [1, 2] };
    let (k, s, d, padding) = match &layer.kind {
        LayerKind::Conv2D(c) => (
            c.kernel_size,
            c.strides,
            c.dilation_rate,
            c.padding.to_lowercase(),
        ),
        LayerKind::DepthwiseConv2D(c) => (
            c.kernel_size,
            c.strides,
            c.dilation_rate,
            c.padding.to_lowercase(),
        ),
        LayerKind::SeparableConv2D(c) => (
            c.kernel_size,
            c.strides,
            c.dilation_rate,
            c.padding.to_lowercase(),
        ),
        LayerKind::Pooling2D(p) => (
            p.pool_size,
            p.strides.unwrap_or(p.pool_size),
            Pair::square(1),
            p.padding.clone(),
        ),
        _ => return None,
    };
    let mut lines = Vec::new();
    for (a_i, axis) in ["H", "W"].iter().enumerate() {
        let n = input[sp[a_i]]?;
        let (k, s, d) = (k.v[a_i], s.v[a_i], d.v[a_i]);
        if s <= 0 || d <= 0 || k <= 0 {
            return None;
        }
        let line = if padding == "same" {
            format!("{axis}: ceil({n} / {s}) = {}", (n + s - 1).div_euclid(s))
        } else if d > 1 {
            let keff = (k - 1) * d + 1;
            format!(
                "{axis}: floor(({n} - ({k}-1)·{d} - 1) / {s}) + 1 = floor(({n} - {keff}) / {s}) + 1 = {}",
                (n - keff).div_euclid(s) + 1
            )
        } else {
            format!(
                "{axis}: floor(({n} - {k}) / {s}) + 1 = {}",
                (n - k).div_euclid(s) + 1
            )
        };
        lines.push(line);
    }
    Some(lines.join("\n"))
}
