//! What Keras would say about every layer of a network: output shape or rejection (with
//! Keras's own wording and numbers), parameter counts, weight shapes, and the costs a
//! designer wants to see (MACs, activation bytes, receptive field, `same` padding split).
//!
//! This is the one place shape rules live. It is pure and cheap (a 100-layer stack takes
//! microseconds), so the UI recomputes it on every keystroke.

use super::layer::*;
use super::network::Network;
use super::objects;
use super::pyfmt;
use serde::Serialize;

/// Where Keras raises an error: constructing the layer, building it on its input shape,
/// or only when really calling it on data (symbolic analysis accepts those).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Construct,
    Build,
    Call,
}

/// A Keras rejection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KerasError {
    pub stage: Stage,
    pub message: String,
}

impl KerasError {
    fn construct(message: impl Into<String>) -> KerasError {
        KerasError {
            stage: Stage::Construct,
            message: message.into(),
        }
    }
    fn build(message: impl Into<String>) -> KerasError {
        KerasError {
            stage: Stage::Build,
            message: message.into(),
        }
    }
}

/// A weight variable of a layer, in `layer.weights` order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WeightSpec {
    pub name: &'static str,
    pub shape: Vec<i64>,
    pub trainable: bool,
}

impl WeightSpec {
    pub fn count(&self) -> i64 {
        self.shape.iter().fold(1i64, |a, &b| a.saturating_mul(b))
    }
}

/// Receptive field of one output pixel on the network input, per spatial axis (H, W).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ReceptiveField {
    /// Input pixels one output pixel sees.
    pub size: [f64; 2],
    /// Distance in input pixels between neighbouring output pixels.
    pub jump: [f64; 2],
    /// Centre of the first output pixel's field, in input pixel coordinates.
    pub start: [f64; 2],
}

impl ReceptiveField {
    pub const INPUT: ReceptiveField = ReceptiveField {
        size: [1.0; 2],
        jump: [1.0; 2],
        start: [0.0; 2],
    };

    /// Input pixels (first and last row, first and last column, inclusive) that output
    /// pixel (`row`, `col`) sees; may reach beyond the input where padding was added.
    pub fn window(&self, row: usize, col: usize) -> [[f64; 2]; 2] {
        let axis = |a: usize, i: usize| {
            let centre = self.start[a] + i as f64 * self.jump[a];
            let half = (self.size[a] - 1.0) / 2.0;
            [centre - half, centre + half]
        };
        [axis(0, row), axis(1, col)]
    }
}

/// Everything known about one layer after analysis.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LayerReport {
    /// Output shape, batch axis first; `None` when the layer or one before it failed.
    pub output_shape: Option<Shape>,
    pub error: Option<KerasError>,
    pub weights: Vec<WeightSpec>,
    pub trainable_params: i64,
    pub non_trainable_params: i64,
    /// Multiply-accumulates for one sample.
    pub macs: i64,
    /// Bytes of this layer's float32 output for one sample.
    pub output_bytes: i64,
    pub receptive_field: Option<ReceptiveField>,
    /// Pixels added by `same` padding: top, bottom, left, right.
    pub same_padding: Option<[i64; 4]>,
    /// Settings Keras accepts but that misbehave or only fail when run.
    pub warnings: Vec<String>,
}

impl LayerReport {
    pub fn params(&self) -> i64 {
        self.trainable_params
            .saturating_add(self.non_trainable_params)
    }
    fn unknown() -> LayerReport {
        LayerReport {
            output_shape: None,
            error: None,
            weights: Vec::new(),
            trainable_params: 0,
            non_trainable_params: 0,
            macs: 0,
            output_bytes: 0,
            receptive_field: None,
            same_padding: None,
            warnings: Vec::new(),
        }
    }
}

/// The analysis of a whole network: one report per layer (same order as
/// `Network::layers`), and totals.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Analysis {
    pub layers: Vec<LayerReport>,
    /// Index of the first layer Keras rejects.
    pub first_error: Option<usize>,
    pub trainable_params: i64,
    pub non_trainable_params: i64,
    pub macs: i64,
}

impl Analysis {
    pub fn total_params(&self) -> i64 {
        self.trainable_params
            .saturating_add(self.non_trainable_params)
    }
    /// The rejection of the first failing layer, as `summary` reports it.
    pub fn error(&self, net: &Network) -> Option<String> {
        let i = self.first_error?;
        let l = &net.layers[i];
        let e = self.layers[i].error.as_ref()?;
        Some(format!(
            "Layer '{}' ({}): {}",
            l.name,
            l.class_name(),
            e.message
        ))
    }
}

/// Result type of the shape rules.
type R<T> = Result<T, KerasError>;

/// Analyses every layer in order. Layers after a failure, or fed by one, get an unknown
/// shape: never a made-up one.
pub fn analyze(net: &Network) -> Analysis {
    let mut reports: Vec<LayerReport> = Vec::with_capacity(net.layers.len());
    let mut first_error = None;
    let mut rfs: Vec<Option<ReceptiveField>> = Vec::with_capacity(net.layers.len());
    for (i, layer) in net.layers.iter().enumerate() {
        let inputs = net.inbound_indices(i);
        let in_shapes: Option<Vec<Shape>> = match &inputs {
            Some(idx) => idx
                .iter()
                .map(|&j| reports.get(j).and_then(|r| r.output_shape.clone()))
                .collect(),
            None => None,
        };
        let in_rf = inputs
            .as_ref()
            .and_then(|idx| idx.first())
            .and_then(|&j| rfs.get(j).copied().flatten());
        let report = match (&layer.kind, in_shapes) {
            (LayerKind::Input(inp), _) => input_report(inp),
            (_, Some(shapes)) if !shapes.is_empty() => {
                analyze_layer(layer, &shapes, i, in_rf.unwrap_or(ReceptiveField::INPUT))
            }
            (_, _) => {
                let mut r = LayerReport::unknown();
                if inputs.is_none() && first_error.is_none() {
                    r.error = Some(KerasError::build(format!(
                        "Layer '{}' has inputs that are not in the model: {:?}",
                        layer.name, layer.inbound
                    )));
                }
                r
            }
        };
        if report.error.is_some() && first_error.is_none() {
            first_error = Some(i);
        }
        rfs.push(report.receptive_field);
        reports.push(report);
    }
    let mut a = Analysis {
        trainable_params: 0,
        non_trainable_params: 0,
        macs: 0,
        layers: reports,
        first_error,
    };
    for r in &a.layers {
        a.trainable_params = a.trainable_params.saturating_add(r.trainable_params);
        a.non_trainable_params = a
            .non_trainable_params
            .saturating_add(r.non_trainable_params);
        a.macs = a.macs.saturating_add(r.macs);
    }
    a
}

fn input_report(inp: &InputLayer) -> LayerReport {
    let mut r = LayerReport::unknown();
    if let Some(bad) = inp.batch_shape.iter().skip(1).flatten().find(|d| **d < 0) {
        r.error = Some(KerasError::construct(format!(
            "Cannot convert '{}' to a shape. Negative dimensions are not allowed \
             (dimension {bad}).",
            pyfmt::tuple_opt(&inp.batch_shape)
        )));
        return r;
    }
    r.output_bytes = elements(&inp.batch_shape).saturating_mul(4);
    r.output_shape = Some(inp.batch_shape.clone());
    r.receptive_field = Some(ReceptiveField::INPUT);
    r
}

/// Product of the non-batch dimensions (unknown dimensions count as 0).
fn elements(shape: &Shape) -> i64 {
    shape
        .iter()
        .skip(1)
        .map(|d| d.unwrap_or(0))
        .fold(1i64, |a, b| a.saturating_mul(b))
}

fn checked_product(values: &[i64]) -> R<i64> {
    values.iter().try_fold(1i64, |a, &b| {
        a.checked_mul(b)
            .ok_or_else(|| KerasError::build("The layer's weights would have more elements than fit in memory (the element count overflows)."))
    })
}

/// The spatial axes and channel axis of a rank-4 shape for a data format.
fn axes(data_format: &str) -> ([usize; 2], usize) {
    if data_format == "channels_first" {
        ([2, 3], 1)
    } else {
        ([1, 2], 3)
    }
}

fn analyze_layer(layer: &Layer, inputs: &[Shape], index: usize, rf: ReceptiveField) -> LayerReport {
    let mut report = LayerReport::unknown();
    let result = (|| -> R<()> {
        if let Some(msg) = &layer.construct_error {
            return Err(KerasError::construct(msg.clone()));
        }
        let input = &inputs[0];
        let ctx = Ctx {
            layer,
            input,
            index,
        };
        let out = match &layer.kind {
            LayerKind::Input(_) => unreachable_input(),
            LayerKind::Conv2D(c) => conv2d(&ctx, c, &mut report, rf)?,
            LayerKind::Conv2DTranspose(c) => conv_transpose(&ctx, c, &mut report, rf)?,
            LayerKind::DepthwiseConv2D(c) => depthwise(&ctx, c, &mut report, rf)?,
            LayerKind::SeparableConv2D(c) => separable(&ctx, c, &mut report, rf)?,
            LayerKind::Pooling2D(p) => pooling(&ctx, p, &mut report, rf)?,
            LayerKind::GlobalPooling2D(p) => global_pooling(&ctx, p, &mut report)?,
            LayerKind::BatchNormalization(b) => batch_norm(&ctx, b, &mut report, rf)?,
            LayerKind::Activation { activation } => {
                objects::activation(&serde_json::Value::String(activation.clone()))
                    .map_err(KerasError::construct)?;
                activation_warnings(activation, None, &mut report);
                report.receptive_field = Some(rf);
                input.clone()
            }
            LayerKind::ReLU(r) => relu(r, input, &mut report, rf)?,
            LayerKind::LeakyReLU { negative_slope } => {
                if negative_slope.is_nan() || *negative_slope < 0.0 {
                    return Err(KerasError::construct(format!(
                        "The negative_slope value of a Leaky ReLU layer cannot be None or \
                         negative value. Expected a float. Received: negative_slope={}",
                        float_or_none(*negative_slope)
                    )));
                }
                report.receptive_field = Some(rf);
                input.clone()
            }
            LayerKind::Softmax { axis } => {
                let rank = input.len() as i64;
                if *axis >= rank || *axis < -rank {
                    report.warnings.push(format!(
                        "Softmax axis {axis} is out of range for an input of rank {rank}: \
                         Keras accepts the layer but fails when it runs."
                    ));
                }
                report.receptive_field = Some(rf);
                input.clone()
            }
            LayerKind::Dropout(d) => {
                dropout_rate(d.rate)?;
                report.receptive_field = Some(rf);
                input.clone()
            }
            LayerKind::SpatialDropout2D(d) => {
                dropout_rate(d.rate)?;
                data_format(&d.data_format)?;
                ctx.ndim(4)?;
                report.receptive_field = Some(rf);
                input.clone()
            }
            LayerKind::Flatten { data_format: df } => {
                data_format(df)?;
                ctx.min_ndim(1)?;
                let rest = &input[1..];
                let flat = if rest.is_empty() {
                    Some(1)
                } else if rest.iter().any(|d| d.is_none()) {
                    None
                } else {
                    Some(checked_product(
                        &rest.iter().map(|d| d.unwrap_or(0)).collect::<Vec<_>>(),
                    )?)
                };
                report.receptive_field = Some(whole_input(rf, input, "channels_last"));
                vec![input[0], flat]
            }
            LayerKind::Dense(d) => dense(&ctx, d, &mut report, rf)?,
            LayerKind::ZeroPadding2D(p) => zero_padding(&ctx, p, &mut report, rf)?,
            LayerKind::Cropping2D(p) => cropping(&ctx, p, &mut report, rf)?,
            LayerKind::UpSampling2D(u) => upsampling(&ctx, u, &mut report, rf)?,
            LayerKind::Rescaling { .. } => {
                report.receptive_field = Some(rf);
                input.clone()
            }
            LayerKind::Merge(_) => merge(inputs)?,
            LayerKind::Concatenate { axis } => concatenate(inputs, *axis)?,
        };
        if out.iter().skip(1).flatten().any(|d| *d < 0) {
            return Err(KerasError::build(format!(
                "Computed output size would be zero or negative. Received an output shape of {}.",
                pyfmt::tuple_opt(&out)
            )));
        }
        report.output_bytes = elements(&out).saturating_mul(4);
        report.output_shape = Some(out);
        Ok(())
    })();
    if let Err(e) = result {
        let mut r = LayerReport::unknown();
        r.error = Some(e);
        return r;
    }
    // Count parameters from the weight shapes; a frozen layer's are all non-trainable.
    for w in &report.weights {
        let n = w.count();
        if w.trainable && layer.trainable {
            report.trainable_params = report.trainable_params.saturating_add(n);
        } else {
            report.non_trainable_params = report.non_trainable_params.saturating_add(n);
        }
    }
    report
}

/// A float argument that may have been `None` (stored as NaN).
fn float_or_none(x: f64) -> String {
    if x.is_nan() {
        "None".into()
    } else {
        pyfmt::float(x)
    }
}

/// Keras's `Identity` initializer only fills 2-D matrices.
fn check_identity(init: &Option<objects::KerasObject>, shape: &[i64]) -> R<()> {
    if let Some(o) = init
        && o.class_name == "Identity"
        && shape.len() != 2
    {
        return Err(KerasError::build(format!(
            "Identity matrix initializer can only be used for 2D matrices. Received: \
             shape={} of rank {}.",
            pyfmt::tuple(shape),
            shape.len()
        )));
    }
    Ok(())
}

fn unreachable_input() -> Shape {
    Vec::new()
}

/// The layer under analysis and its input.
struct Ctx<'a> {
    layer: &'a Layer,
    input: &'a Shape,
    index: usize,
}

impl Ctx<'_> {
    fn ndim(&self, n: usize) -> R<()> {
        if self.input.len() != n {
            return Err(KerasError::build(format!(
                "Input 0 with name 'None' of layer '{}' is incompatible with the layer: \
                 expected ndim={n}, found ndim={}. Full shape received: {}",
                self.layer.name,
                self.input.len(),
                pyfmt::tuple_opt(self.input)
            )));
        }
        Ok(())
    }
    fn min_ndim(&self, n: usize) -> R<()> {
        if self.input.len() < n {
            return Err(KerasError::build(format!(
                "Input 0 with name 'None' of layer '{}' is incompatible with the layer: \
                 expected min_ndim={n}, found ndim={}. Full shape received: {}",
                self.layer.name,
                self.input.len(),
                pyfmt::tuple_opt(self.input)
            )));
        }
        Ok(())
    }
    /// Keras's wrapping of an error raised inside `Layer.call` during symbolic build.
    fn call_error(&self, msg: String) -> KerasError {
        let class = self.layer.class_name();
        let tensor = if self.index <= 1 {
            "keras_tensor".to_string()
        } else {
            format!("keras_tensor_{}", self.index - 1)
        };
        KerasError::build(format!(
            "Exception encountered when calling {class}.call().\n\n{msg}\n\n\
             Arguments received by {class}.call():\n  • args=('<KerasTensor shape={}, \
             dtype=float32, sparse=False, ragged=False, name={tensor}>',)\n  • \
             kwargs=<class 'inspect._empty'>",
            pyfmt::tuple_opt(self.input)
        ))
    }
    fn channels(&self, data_format: &str) -> Option<i64> {
        if data_format == "channels_first" {
            self.input.get(1).copied().flatten()
        } else {
            self.input.last().copied().flatten()
        }
    }
}

/// `standardize_tuple` for the value checks (types were checked when parsing).
fn tuple_check(p: &Pair, name: &str, allow_zero: bool) -> R<()> {
    let bad: Vec<i64> =
        p.v.iter()
            .copied()
            .filter(|&v| if allow_zero { v < 0 } else { v <= 0 })
            .collect();
    if bad.is_empty() {
        return Ok(());
    }
    Err(KerasError::construct(format!(
        "The `{name}` argument must be a tuple of 2 integers. Received {name}={}, \
         including values {} that do not satisfy `value {}`",
        p.given(),
        pyfmt::int_set(&bad),
        if allow_zero { ">= 0" } else { "> 0" }
    )))
}

/// The argument checks every convolution constructor runs first, in Keras's order;
/// returns the normalised padding and data format.
fn conv_args(
    kernel: &Pair,
    strides: &Pair,
    dilation: &Pair,
    padding: &str,
    df: &str,
    activation: &str,
) -> R<(String, String)> {
    tuple_check(kernel, "kernel_size", false)?;
    tuple_check(strides, "strides", false)?;
    tuple_check(dilation, "dilation_rate", false)?;
    let padding = conv_padding(padding)?;
    let df = data_format(df)?;
    check_activation(activation)?;
    Ok((padding, df))
}

fn conv_padding(p: &str) -> R<String> {
    let l = p.to_lowercase();
    if l == "valid" || l == "same" {
        Ok(l)
    } else {
        Err(KerasError::construct(format!(
            "The `padding` argument must be a list/tuple or one of {{'same', 'valid'}}. \
             Received: {l}"
        )))
    }
}

fn data_format(df: &str) -> R<String> {
    let l = df.to_lowercase();
    if l == "channels_first" || l == "channels_last" {
        Ok(l)
    } else {
        Err(KerasError::construct(format!(
            "The `data_format` argument must be one of {{'channels_first', \
             'channels_last'}}. Received: data_format={l}"
        )))
    }
}

fn check_activation(a: &str) -> R<()> {
    objects::canonical_activation(a).map(|_| ()).ok_or_else(|| {
        KerasError::construct(format!(
            "Could not interpret activation function identifier: {a}"
        ))
    })
}

fn dropout_rate(rate: f64) -> R<()> {
    if !(0.0..=1.0).contains(&rate) {
        return Err(KerasError::construct(format!(
            "Invalid value received for argument `rate`. Expected a float value between 0 \
             and 1. Received: rate={}",
            pyfmt::float(rate)
        )));
    }
    Ok(())
}

fn positive(name: &str, v: i64) -> R<()> {
    if v <= 0 {
        return Err(KerasError::construct(format!(
            "Invalid value for argument `{name}`. Expected a strictly positive value. \
             Received {name}={v}."
        )));
    }
    Ok(())
}

fn strides_dilation(strides: &Pair, dilation: &Pair) -> R<()> {
    if strides.v.iter().max().copied().unwrap_or(1) > 1
        && dilation.v.iter().max().copied().unwrap_or(1) > 1
    {
        return Err(KerasError::construct(format!(
            "`strides > 1` not supported in conjunction with `dilation_rate > 1`. \
             Received: strides={} and dilation_rate={}",
            pyfmt::tuple(&strides.v),
            pyfmt::tuple(&dilation.v)
        )));
    }
    Ok(())
}

/// Warnings for activations that Keras accepts but that surprise people.
fn activation_warnings(a: &str, conv_data_format: Option<&str>, report: &mut LayerReport) {
    match a {
        "threshold" => report.warnings.push(
            "The `threshold` activation needs `threshold` and `default_value` arguments: \
             used by name it fails when the layer runs."
                .into(),
        ),
        "glu" => report.warnings.push(
            "The `glu` activation halves the last axis when it runs, but Keras reports the \
             shape before it; later layers may then fail on real data."
                .into(),
        ),
        "softmax" | "log_softmax" | "sparsemax" if conv_data_format == Some("channels_first") => {
            report.warnings.push(format!(
                "`{a}` works on the last axis: on a channels_first layer it normalises over \
                 width, not over channels."
            ))
        }
        _ => {}
    }
}

/// Output size along one axis, and `same` padding before/after, for a convolution window.
fn window_out(n: Option<i64>, k: i64, s: i64, d: i64, same: bool) -> (Option<i64>, [i64; 2]) {
    let Some(n) = n else { return (None, [0, 0]) };
    let keff = k.saturating_sub(1).saturating_mul(d).saturating_add(1);
    if same {
        let out = n.saturating_sub(1).div_euclid(s.max(1)).saturating_add(1);
        let total = out
            .saturating_sub(1)
            .saturating_mul(s)
            .saturating_add(keff)
            .saturating_sub(n)
            .max(0);
        (Some(out), [total / 2, total - total / 2])
    } else {
        let out = n
            .saturating_sub(keff)
            .div_euclid(s.max(1))
            .saturating_add(1);
        (Some(out), [0, 0])
    }
}

/// Receptive field after a window layer (kernel `k`, stride `s`, dilation `d`, padding
/// before `p`).
fn rf_window(
    rf: ReceptiveField,
    k: [i64; 2],
    s: [i64; 2],
    d: [i64; 2],
    p: [i64; 2],
) -> ReceptiveField {
    let mut out = rf;
    for a in 0..2 {
        let keff = (k[a] as f64 - 1.0) * d[a] as f64 + 1.0;
        out.size[a] = rf.size[a] + (keff - 1.0) * rf.jump[a];
        out.start[a] = rf.start[a] + ((keff - 1.0) / 2.0 - p[a] as f64) * rf.jump[a];
        out.jump[a] = rf.jump[a] * s[a] as f64;
    }
    out
}

/// A layer whose every output sees the whole input (flatten, dense, global pooling).
fn whole_input(rf: ReceptiveField, input: &Shape, df: &str) -> ReceptiveField {
    if input.len() != 4 {
        return rf;
    }
    let (sp, _) = axes(df);
    let mut out = rf;
    for a in 0..2 {
        let n = input[sp[a]].unwrap_or(1) as f64;
        out.size[a] = rf.size[a] + (n - 1.0) * rf.jump[a];
        out.start[a] = rf.start[a] + (n - 1.0) / 2.0 * rf.jump[a];
        out.jump[a] = rf.jump[a] * n;
    }
    out
}

/// Shared body of `compute_conv_output_shape` (Conv2D, DepthwiseConv2D, SeparableConv2D).
#[allow(clippy::too_many_arguments)]
fn conv_output(
    ctx: &Ctx,
    filters: i64,
    kernel: &Pair,
    strides: &Pair,
    dilation: &Pair,
    padding: &str,
    df: &str,
    report: &mut LayerReport,
    rf: ReceptiveField,
) -> R<Shape> {
    let input = ctx.input;
    let cin = if df == "channels_first" {
        input.get(1).copied().flatten()
    } else {
        input.last().copied().flatten()
    };
    let kernel_shape_str = {
        let mut ks: Vec<Option<i64>> = vec![Some(kernel.h()), Some(kernel.w())];
        ks.push(cin);
        ks.push(Some(filters));
        pyfmt::tuple_opt(&ks)
    };
    if input.len() != 4 {
        return Err(KerasError::build(format!(
            "Kernel shape must have the same length as input, but received kernel of shape \
             {kernel_shape_str} and input of shape {}.",
            pyfmt::tuple_opt(input)
        )));
    }
    let (sp, _) = axes(df);
    let same = padding == "same";
    let mut out_sp = [None, None];
    let mut pads = [[0i64; 2]; 2];
    for a in 0..2 {
        let (o, p) = window_out(input[sp[a]], kernel.v[a], strides.v[a], dilation.v[a], same);
        out_sp[a] = o;
        pads[a] = p;
    }
    if !same && out_sp.iter().flatten().any(|&o| o <= 0) {
        return Err(KerasError::build(format!(
            "Computed output size would be zero or negative. Received `inputs shape={}`, \
             `kernel shape={kernel_shape_str}`, `dilation_rate={}`, `strides={}`, \
             `padding={padding}`.",
            pyfmt::tuple_opt(input),
            pyfmt::np_int_array(&dilation.v),
            pyfmt::tuple(&strides.v),
        )));
    }
    if same {
        report.same_padding = Some([pads[0][0], pads[0][1], pads[1][0], pads[1][1]]);
    }
    report.receptive_field = Some(rf_window(
        rf,
        kernel.v,
        strides.v,
        dilation.v,
        [pads[0][0], pads[1][0]],
    ));
    Ok(if df == "channels_first" {
        vec![input[0], Some(filters), out_sp[0], out_sp[1]]
    } else {
        vec![input[0], out_sp[0], out_sp[1], Some(filters)]
    })
}

fn spatial_product(shape: &Shape, df: &str) -> i64 {
    let (sp, _) = axes(df);
    shape[sp[0]]
        .unwrap_or(0)
        .saturating_mul(shape[sp[1]].unwrap_or(0))
}

/// The input channel count, or Keras's error for creating `var` with an unknown
/// dimension (`shape` is the variable's shape with `None` in place of the channels).
fn need_channels(ctx: &Ctx, df: &str, var: &str, shape: &[Option<i64>]) -> R<i64> {
    ctx.channels(df).ok_or_else(|| {
        KerasError::build(format!(
            "Shapes used to initialize variables must be fully-defined (no `None` \
             dimensions). Received: shape={} for variable path='{}/{var}'",
            pyfmt::tuple_opt(shape),
            ctx.layer.name
        ))
    })
}

fn conv2d(ctx: &Ctx, c: &Conv2D, report: &mut LayerReport, rf: ReceptiveField) -> R<Shape> {
    let (padding, df) = conv_args(
        &c.kernel_size,
        &c.strides,
        &c.dilation_rate,
        &c.padding,
        &c.data_format,
        &c.activation,
    )?;
    positive("filters", c.filters)?;
    if c.groups <= 0 {
        return Err(KerasError::construct(format!(
            "The number of groups must be a positive integer. Received: groups={}.",
            c.groups
        )));
    }
    if c.filters % c.groups != 0 {
        return Err(KerasError::construct(format!(
            "The number of filters must be evenly divisible by the number of groups. \
             Received: groups={}, filters={}.",
            c.groups, c.filters
        )));
    }
    strides_dilation(&c.strides, &c.dilation_rate)?;
    ctx.min_ndim(4)?;
    let cin = ctx.channels(&df).ok_or_else(|| {
        KerasError::build("unsupported operand type(s) for %: 'NoneType' and 'int'")
    })?;
    if cin % c.groups != 0 {
        return Err(KerasError::build(format!(
            "The number of input channels must be evenly divisible by the number of \
             groups. Received groups={}, but the input has {cin} channels (full input \
             shape is {}).",
            c.groups,
            pyfmt::tuple_opt(ctx.input)
        )));
    }
    let out = conv_output(
        ctx,
        c.filters,
        &c.kernel_size,
        &c.strides,
        &c.dilation_rate,
        &padding,
        &df,
        report,
        rf,
    )?;
    let kshape = vec![
        c.kernel_size.h(),
        c.kernel_size.w(),
        cin / c.groups,
        c.filters,
    ];
    check_identity(&c.kernel.initializer, &kshape)?;
    let per_out = checked_product(&kshape[..3])?;
    checked_product(&kshape)?;
    report.macs = spatial_product(&out, &df)
        .saturating_mul(c.filters)
        .saturating_mul(per_out);
    report.weights.push(WeightSpec {
        name: "kernel",
        shape: kshape,
        trainable: true,
    });
    if c.use_bias {
        report.weights.push(WeightSpec {
            name: "bias",
            shape: vec![c.filters],
            trainable: true,
        });
    }
    activation_warnings(&c.activation, Some(&df), report);
    if c.groups > 1 {
        report.warnings.push(
            "TensorFlow on CPU cannot run grouped convolutions (groups > 1): Keras accepts \
             the layer, but running it needs a GPU or the JAX backend."
                .into(),
        );
    }
    if df == "channels_first" {
        report.warnings.push(
            "TensorFlow on CPU cannot run channels_first convolutions: Keras accepts the \
             layer, but running it needs a GPU or the JAX backend."
                .into(),
        );
    }
    Ok(out)
}

fn conv_transpose(
    ctx: &Ctx,
    c: &Conv2DTranspose,
    report: &mut LayerReport,
    rf: ReceptiveField,
) -> R<Shape> {
    tuple_check(&c.kernel_size, "kernel_size", false)?;
    tuple_check(&c.strides, "strides", false)?;
    tuple_check(&c.dilation_rate, "dilation_rate", false)?;
    let padding = conv_padding(&c.padding)?;
    if let Some(op) = &c.output_padding {
        tuple_check(op, "output_padding", true)?;
    }
    let df = data_format(&c.data_format)?;
    check_activation(&c.activation)?;
    positive("filters", c.filters)?;
    if let Some(op) = &c.output_padding {
        for i in 0..2 {
            if op.v[i] >= c.strides.v[i] {
                return Err(KerasError::construct(format!(
                    "`output_padding` must be strictly less than `strides` for all \
                     dimensions. At dimension {i}, `output_padding` is {} but `strides` is \
                     {}. Received: output_padding={}, strides={}",
                    op.v[i],
                    c.strides.v[i],
                    pyfmt::tuple(&op.v),
                    pyfmt::tuple(&c.strides.v)
                )));
            }
        }
    }
    strides_dilation(&c.strides, &c.dilation_rate)?;
    ctx.min_ndim(4)?;
    let (kh, kw) = (Some(c.kernel_size.h()), Some(c.kernel_size.w()));
    let cin = need_channels(ctx, &df, "kernel", &[kh, kw, Some(c.filters), None])?;
    let input = ctx.input;
    if input.len() != 4 {
        return Err(KerasError::build(format!(
            "Conv2DTranspose expects inputs of rank 4, received input of shape {}.",
            pyfmt::tuple_opt(input)
        )));
    }
    let (sp, _) = axes(&df);
    let mut out_sp = [None, None];
    for a in 0..2 {
        let k = c.kernel_size.v[a]
            .saturating_sub(1)
            .saturating_mul(c.dilation_rate.v[a])
            .saturating_add(1);
        let s = c.strides.v[a];
        let op = c.output_padding.map(|p| p.v[a]);
        out_sp[a] = input[sp[a]].map(|n| {
            if padding == "valid" {
                let op = op.unwrap_or(k.max(s) - k);
                n.saturating_sub(1)
                    .saturating_mul(s)
                    .saturating_add(k)
                    .saturating_add(op)
            } else {
                match op {
                    None => n.saturating_mul(s),
                    Some(op) => n
                        .saturating_sub(1)
                        .saturating_mul(s)
                        .saturating_add(k % 2)
                        .saturating_add(op),
                }
            }
        });
    }
    let kshape = vec![c.kernel_size.h(), c.kernel_size.w(), c.filters, cin];
    check_identity(&c.kernel.initializer, &kshape)?;
    checked_product(&kshape)?;
    report.macs = spatial_product(input, &df).saturating_mul(checked_product(&kshape)?);
    report.weights.push(WeightSpec {
        name: "kernel",
        shape: kshape,
        trainable: true,
    });
    if c.use_bias {
        report.weights.push(WeightSpec {
            name: "bias",
            shape: vec![c.filters],
            trainable: true,
        });
    }
    let mut r = rf;
    for a in 0..2 {
        let k = (c.kernel_size.v[a] as f64 - 1.0) * c.dilation_rate.v[a] as f64 + 1.0;
        r.jump[a] = rf.jump[a] / c.strides.v[a] as f64;
        r.size[a] = rf.size[a] + (k - 1.0) * r.jump[a];
    }
    report.receptive_field = Some(r);
    activation_warnings(&c.activation, Some(&df), report);
    Ok(if df == "channels_first" {
        vec![input[0], Some(c.filters), out_sp[0], out_sp[1]]
    } else {
        vec![input[0], out_sp[0], out_sp[1], Some(c.filters)]
    })
}

fn depthwise(
    ctx: &Ctx,
    c: &DepthwiseConv2D,
    report: &mut LayerReport,
    rf: ReceptiveField,
) -> R<Shape> {
    let (padding, df) = conv_args(
        &c.kernel_size,
        &c.strides,
        &c.dilation_rate,
        &c.padding,
        &c.data_format,
        &c.activation,
    )?;
    positive("depth_multiplier", c.depth_multiplier)?;
    ctx.min_ndim(4)?;
    let cin = ctx.channels(&df).ok_or_else(|| {
        KerasError::build("unsupported operand type(s) for *: 'int' and 'NoneType'")
    })?;
    let filters = cin.saturating_mul(c.depth_multiplier);
    let out = conv_output(
        ctx,
        filters,
        &c.kernel_size,
        &c.strides,
        &c.dilation_rate,
        &padding,
        &df,
        report,
        rf,
    )?;
    let kshape = vec![
        c.kernel_size.h(),
        c.kernel_size.w(),
        cin,
        c.depth_multiplier,
    ];
    check_identity(&c.depthwise.initializer, &kshape)?;
    checked_product(&kshape)?;
    report.macs = spatial_product(&out, &df)
        .saturating_mul(filters)
        .saturating_mul(c.kernel_size.h().saturating_mul(c.kernel_size.w()));
    report.weights.push(WeightSpec {
        name: "kernel",
        shape: kshape,
        trainable: true,
    });
    if c.use_bias {
        report.weights.push(WeightSpec {
            name: "bias",
            shape: vec![filters],
            trainable: true,
        });
    }
    activation_warnings(&c.activation, Some(&df), report);
    Ok(out)
}

fn separable(
    ctx: &Ctx,
    c: &SeparableConv2D,
    report: &mut LayerReport,
    rf: ReceptiveField,
) -> R<Shape> {
    let (padding, df) = conv_args(
        &c.kernel_size,
        &c.strides,
        &c.dilation_rate,
        &c.padding,
        &c.data_format,
        &c.activation,
    )?;
    positive("depth_multiplier", c.depth_multiplier)?;
    positive("filters", c.filters)?;
    ctx.min_ndim(4)?;
    let (kh, kw) = (Some(c.kernel_size.h()), Some(c.kernel_size.w()));
    let shape = [kh, kw, None, Some(c.depth_multiplier)];
    let cin = need_channels(ctx, &df, "depthwise_kernel", &shape)?;
    let out = conv_output(
        ctx,
        c.filters,
        &c.kernel_size,
        &c.strides,
        &c.dilation_rate,
        &padding,
        &df,
        report,
        rf,
    )?;
    let mid = cin.saturating_mul(c.depth_multiplier);
    let dshape = vec![
        c.kernel_size.h(),
        c.kernel_size.w(),
        cin,
        c.depth_multiplier,
    ];
    let pshape = vec![1, 1, mid, c.filters];
    check_identity(&c.depthwise.initializer, &dshape)?;
    check_identity(&c.pointwise.initializer, &pshape)?;
    checked_product(&dshape)?;
    checked_product(&pshape)?;
    let hw = spatial_product(&out, &df);
    report.macs = hw
        .saturating_mul(mid)
        .saturating_mul(c.kernel_size.h().saturating_mul(c.kernel_size.w()))
        .saturating_add(hw.saturating_mul(mid).saturating_mul(c.filters));
    report.weights.push(WeightSpec {
        name: "depthwise_kernel",
        shape: dshape,
        trainable: true,
    });
    report.weights.push(WeightSpec {
        name: "pointwise_kernel",
        shape: pshape,
        trainable: true,
    });
    if c.use_bias {
        report.weights.push(WeightSpec {
            name: "bias",
            shape: vec![c.filters],
            trainable: true,
        });
    }
    activation_warnings(&c.activation, Some(&df), report);
    Ok(out)
}

fn pooling(ctx: &Ctx, p: &Pooling2D, report: &mut LayerReport, rf: ReceptiveField) -> R<Shape> {
    tuple_check(&p.pool_size, "pool_size", false)?;
    let strides = p.strides.unwrap_or(p.pool_size);
    tuple_check(&strides, "strides", true)?;
    let df = data_format(&p.data_format)?;
    ctx.ndim(4)?;
    let input = ctx.input;
    let padding = p.padding.as_str();
    if padding != "valid" && padding != "same" {
        return Err(ctx.call_error(format!(
            "Argument `padding` must be either 'valid' or 'same'. Received: padding={padding}"
        )));
    }
    if strides.v.contains(&0) {
        return Err(ctx.call_error("division by zero".into()));
    }
    let (sp, _) = axes(&df);
    let same = padding == "same";
    let mut out_sp = [None, None];
    let mut pads = [[0i64; 2]; 2];
    for a in 0..2 {
        let (o, pd) = window_out(input[sp[a]], p.pool_size.v[a], strides.v[a], 1, same);
        out_sp[a] = o;
        pads[a] = pd;
    }
    if !same && out_sp.iter().flatten().any(|&o| o <= 0) {
        return Err(ctx.call_error(format!(
            "Computed output size would be zero or negative. Received: `inputs.shape={}`, \
             `pool_size={}`, `strides={}`, `padding={padding}`.",
            pyfmt::np_obj_array(input),
            pyfmt::np_int_array(&p.pool_size.v),
            pyfmt::tuple(&strides.v)
        )));
    }
    if same {
        report.same_padding = Some([pads[0][0], pads[0][1], pads[1][0], pads[1][1]]);
    }
    report.receptive_field = Some(rf_window(
        rf,
        p.pool_size.v,
        strides.v,
        [1, 1],
        [pads[0][0], pads[1][0]],
    ));
    let mut out = input.clone();
    out[sp[0]] = out_sp[0];
    out[sp[1]] = out_sp[1];
    Ok(out)
}

fn global_pooling(ctx: &Ctx, p: &GlobalPooling2D, report: &mut LayerReport) -> R<Shape> {
    let df = data_format(&p.data_format)?;
    ctx.ndim(4)?;
    let input = ctx.input;
    report.receptive_field = None;
    let (_, ch) = axes(&df);
    Ok(match (df.as_str(), p.keepdims) {
        ("channels_first", true) => vec![input[0], input[1], Some(1), Some(1)],
        (_, true) => vec![input[0], Some(1), Some(1), input[ch]],
        _ => vec![input[0], input[ch]],
    })
}

fn batch_norm(
    ctx: &Ctx,
    b: &BatchNormalization,
    report: &mut LayerReport,
    rf: ReceptiveField,
) -> R<Shape> {
    let input = ctx.input;
    let rank = input.len() as i64;
    if b.axis >= rank || b.axis < -rank {
        return Err(KerasError::build("tuple index out of range"));
    }
    let ax = if b.axis < 0 { b.axis + rank } else { b.axis } as usize;
    let first_var = if b.scale {
        "gamma"
    } else if b.center {
        "beta"
    } else {
        "moving_mean"
    };
    let Some(c) = input[ax] else {
        return Err(KerasError::build(format!(
            "Shapes used to initialize variables must be fully-defined (no `None` \
             dimensions). Received: shape=(None,) for variable path='{}/{first_var}'",
            ctx.layer.name
        )));
    };
    for (on, name, trainable) in [
        (b.scale, "gamma", true),
        (b.center, "beta", true),
        (true, "moving_mean", false),
        (true, "moving_variance", false),
    ] {
        if on {
            report.weights.push(WeightSpec {
                name,
                shape: vec![c],
                trainable,
            });
        }
    }
    if b.renorm {
        for name in ["moving_stddev", "renorm_mean", "renorm_stddev"] {
            report.weights.push(WeightSpec {
                name,
                shape: vec![c],
                trainable: false,
            });
        }
    }
    report.receptive_field = Some(rf);
    if b.epsilon < 0.0 {
        report.warnings.push(format!(
            "epsilon={} is negative: Keras accepts it, but variances near zero then give \
             NaN.",
            pyfmt::float(b.epsilon)
        ));
    }
    Ok(input.clone())
}

fn relu(r: &ReLU, input: &Shape, report: &mut LayerReport, rf: ReceptiveField) -> R<Shape> {
    if let Some(m) = r.max_value
        && m < 0.0
    {
        return Err(KerasError::construct(format!(
            "max_value of a ReLU layer cannot be a negative value. Received: max_value={}",
            pyfmt::float(m)
        )));
    }
    if r.negative_slope.is_nan() || r.negative_slope < 0.0 {
        return Err(KerasError::construct(format!(
            "negative_slope of a ReLU layer cannot be None or a negative value. Received: \
             negative_slope={}",
            float_or_none(r.negative_slope)
        )));
    }
    if r.threshold.is_nan() || r.threshold < 0.0 {
        return Err(KerasError::construct(format!(
            "threshold of a ReLU layer cannot be None or a negative value. Received: \
             threshold={}",
            float_or_none(r.threshold)
        )));
    }
    report.receptive_field = Some(rf);
    Ok(input.clone())
}

fn dense(ctx: &Ctx, d: &Dense, report: &mut LayerReport, rf: ReceptiveField) -> R<Shape> {
    if d.units <= 0 {
        return Err(KerasError::construct(format!(
            "Received an invalid value for `units`, expected a positive integer. Received: \
             units={}",
            d.units
        )));
    }
    check_activation(&d.activation)?;
    ctx.min_ndim(2)?;
    let input = ctx.input;
    let Some(cin) = input.last().copied().flatten() else {
        return Err(KerasError::build(format!(
            "Shapes used to initialize variables must be fully-defined (no `None` \
             dimensions). Received: shape=(None, {}) for variable path='{}/kernel'",
            d.units, ctx.layer.name
        )));
    };
    let kshape = vec![cin, d.units];
    let n = checked_product(&kshape)?;
    let rows = input[1..input.len() - 1]
        .iter()
        .map(|x| x.unwrap_or(0))
        .fold(1i64, |a, b| a.saturating_mul(b));
    report.macs = rows.saturating_mul(n);
    report.weights.push(WeightSpec {
        name: "kernel",
        shape: kshape,
        trainable: true,
    });
    if d.use_bias {
        report.weights.push(WeightSpec {
            name: "bias",
            shape: vec![d.units],
            trainable: true,
        });
    }
    report.receptive_field = Some(rf);
    activation_warnings(&d.activation, None, report);
    let mut out = input.clone();
    if let Some(last) = out.last_mut() {
        *last = Some(d.units);
    }
    Ok(out)
}

fn pad_checks(p: &Padding2D, what: &str) -> R<()> {
    match p.form {
        PadForm::Int => {
            if what == "cropping" && p.amounts[0][0] < 0 {
                return Err(KerasError::construct(format!(
                    "`cropping` cannot be negative. Received: cropping={}.",
                    p.amounts[0][0]
                )));
            }
        }
        PadForm::Symmetric | PadForm::Full => {
            for (i, ord) in ["1st", "2nd"].iter().enumerate() {
                let pair = Pair {
                    v: p.amounts[i],
                    scalar: p.form == PadForm::Symmetric,
                };
                tuple_check(&pair, &format!("{ord} entry of {what}"), true)?;
            }
        }
    }
    Ok(())
}

fn zero_padding(
    ctx: &Ctx,
    p: &Padding2D,
    report: &mut LayerReport,
    rf: ReceptiveField,
) -> R<Shape> {
    let df = data_format(&p.data_format)?;
    pad_checks(p, "padding")?;
    ctx.ndim(4)?;
    let (sp, _) = axes(&df);
    let mut out = ctx.input.clone();
    for a in 0..2 {
        out[sp[a]] = out[sp[a]].map(|n| {
            n.saturating_add(p.amounts[a][0])
                .saturating_add(p.amounts[a][1])
        });
    }
    let mut r = rf;
    for a in 0..2 {
        r.start[a] = rf.start[a] - p.amounts[a][0] as f64 * rf.jump[a];
    }
    report.receptive_field = Some(r);
    Ok(out)
}

fn cropping(ctx: &Ctx, p: &Padding2D, report: &mut LayerReport, rf: ReceptiveField) -> R<Shape> {
    let df = data_format(&p.data_format)?;
    pad_checks(p, "cropping")?;
    ctx.ndim(4)?;
    let input = ctx.input;
    let (sp, _) = axes(&df);
    let too_big = (0..2).any(|a| {
        input[sp[a]].is_some_and(|n| p.amounts[a][0].saturating_add(p.amounts[a][1]) >= n)
    });
    if too_big {
        let cropping = format!(
            "(({}, {}), ({}, {}))",
            p.amounts[0][0], p.amounts[0][1], p.amounts[1][0], p.amounts[1][1]
        );
        return Err(ctx.call_error(format!(
            "Values in `cropping` argument should be smaller than the corresponding spatial \
             dimension of the input. Received: input_shape={}, cropping={cropping}",
            pyfmt::tuple_opt(input)
        )));
    }
    let mut out = input.clone();
    for a in 0..2 {
        out[sp[a]] = out[sp[a]].map(|n| {
            n.saturating_sub(p.amounts[a][0])
                .saturating_sub(p.amounts[a][1])
        });
    }
    let mut r = rf;
    for a in 0..2 {
        r.start[a] = rf.start[a] + p.amounts[a][0] as f64 * rf.jump[a];
    }
    report.receptive_field = Some(r);
    Ok(out)
}

fn upsampling(
    ctx: &Ctx,
    u: &UpSampling2D,
    report: &mut LayerReport,
    rf: ReceptiveField,
) -> R<Shape> {
    let df = data_format(&u.data_format)?;
    tuple_check(&u.size, "size", false)?;
    ctx.ndim(4)?;
    let interp = u.interpolation.to_lowercase();
    if ![
        "bilinear", "nearest", "lanczos3", "lanczos5", "bicubic", "area",
    ]
    .contains(&interp.as_str())
    {
        report.warnings.push(format!(
            "Invalid value for argument `interpolation`. Expected of one ('bilinear', \
             'nearest', 'lanczos3', 'lanczos5', 'bicubic', 'area'). Received: \
             interpolation={interp} (Keras only fails when the layer runs)."
        ));
    }
    let (sp, _) = axes(&df);
    let mut out = ctx.input.clone();
    for a in 0..2 {
        out[sp[a]] = out[sp[a]].map(|n| n.saturating_mul(u.size.v[a]));
    }
    let mut r = rf;
    for a in 0..2 {
        r.jump[a] = rf.jump[a] / u.size.v[a] as f64;
    }
    report.receptive_field = Some(r);
    Ok(out)
}

fn merge(inputs: &[Shape]) -> R<Shape> {
    let mut out = inputs[0].clone();
    for s in &inputs[1..] {
        let a = &out[1..];
        let b = &s[1..];
        let compatible = a.len() == b.len()
            && a.iter().zip(b).all(|(x, y)| match (x, y) {
                (Some(x), Some(y)) => x == y || *x == 1 || *y == 1,
                _ => true,
            });
        if !compatible {
            return Err(KerasError::build(format!(
                "Inputs have incompatible shapes. Received shapes {} and {}",
                pyfmt::tuple_opt(a),
                pyfmt::tuple_opt(b)
            )));
        }
        for (i, d) in s.iter().enumerate().skip(1) {
            out[i] = match (out[i], *d) {
                (Some(1), y) => y,
                (x, Some(1)) => x,
                (Some(x), _) => Some(x),
                (None, y) => y,
            };
        }
    }
    Ok(out)
}

fn concatenate(inputs: &[Shape], axis: i64) -> R<Shape> {
    let rank = inputs[0].len() as i64;
    let ax = if axis < 0 { axis + rank } else { axis };
    let shapes_str = || {
        format!(
            "[{}]",
            inputs
                .iter()
                .map(|s| pyfmt::tuple_opt(s))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    if ax < 0 || ax >= rank || inputs.iter().any(|s| s.len() as i64 != rank) {
        return Err(KerasError::build(format!(
            "A `Concatenate` layer should be called on a list of at least 1 input with \
             matching ranks. Received: input_shape={}",
            shapes_str()
        )));
    }
    let ax = ax as usize;
    let mut out = inputs[0].clone();
    for s in &inputs[1..] {
        for i in 1..rank as usize {
            if i == ax {
                out[i] = match (out[i], s[i]) {
                    (Some(a), Some(b)) => Some(a.saturating_add(b)),
                    _ => None,
                };
            } else if let (Some(a), Some(b)) = (out[i], s[i])
                && a != b
            {
                return Err(KerasError::build(format!(
                    "A `Concatenate` layer requires inputs with matching shapes except for \
                     the concatenation axis. Received: input_shape={}",
                    shapes_str()
                )));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// TensorFlow's padding-split examples.
    #[test]
    fn same_padding_split() {
        assert_eq!(window_out(Some(224), 7, 2, 1, true), (Some(112), [2, 3]));
        assert_eq!(window_out(Some(10), 4, 1, 1, true), (Some(10), [1, 2]));
        assert_eq!(window_out(Some(5), 3, 2, 1, true), (Some(3), [1, 1]));
        assert_eq!(window_out(Some(6), 3, 2, 1, true), (Some(3), [0, 1]));
        // Dilation 2: effective kernel 5.
        assert_eq!(window_out(Some(7), 3, 1, 2, true), (Some(7), [2, 2]));
        assert_eq!(window_out(Some(7), 3, 1, 2, false), (Some(3), [0, 0]));
        // Kernel larger than input with `same`: still ceil(n/s).
        assert_eq!(window_out(Some(3), 5, 1, 1, true), (Some(3), [2, 2]));
        assert_eq!(window_out(Some(3), 5, 1, 1, false).0, Some(-1));
    }

    #[test]
    fn receptive_field_grows() {
        let rf = rf_window(ReceptiveField::INPUT, [3, 3], [1, 1], [1, 1], [1, 1]);
        assert_eq!(rf.size, [3.0, 3.0]);
        assert_eq!(rf.start, [0.0, 0.0]);
        let rf = rf_window(rf, [2, 2], [2, 2], [1, 1], [0, 0]);
        assert_eq!(rf.size, [4.0, 4.0]);
        assert_eq!(rf.jump, [2.0, 2.0]);
        assert_eq!(rf.start, [0.5, 0.5]);
        // Same padding (1 before): the first output pixel reaches one row into it.
        let same = rf_window(ReceptiveField::INPUT, [3, 3], [1, 1], [1, 1], [1, 1]);
        assert_eq!(same.window(0, 4), [[-1.0, 1.0], [3.0, 5.0]]);
        // Then a 2×2 pool of stride 2: output (1, 0) sees rows 1..4 of the input.
        assert_eq!(rf.window(1, 0), [[1.0, 4.0], [-1.0, 2.0]]);
    }
}

#[cfg(test)]
mod transpose_tests {
    use crate::model::layer::{LayerKind, Pair};
    use crate::model::network::Network;

    fn out(n: i64, k: i64, s: i64, padding: &str, op: Option<i64>, d: i64) -> Option<i64> {
        let mut net = Network::sequential("t", &[n, n, 1]);
        let i = net.insert_new(0, "Conv2DTranspose").unwrap();
        if let LayerKind::Conv2DTranspose(c) = &mut net.layers[i].kind {
            c.filters = 1;
            c.kernel_size = Pair::square(k);
            c.strides = Pair::square(s);
            c.padding = padding.into();
            c.output_padding = op.map(Pair::square);
            c.dilation_rate = Pair::square(d);
        }
        net.analyze().layers[i]
            .output_shape
            .as_ref()
            .and_then(|s| s[1])
    }

    /// Keras's transposed-convolution output sizes (`deconv_output_length`).
    #[test]
    fn transposed_conv_table() {
        // valid: (n-1)*s + max(k', s)
        assert_eq!(out(5, 3, 1, "valid", None, 1), Some(7));
        assert_eq!(out(5, 3, 2, "valid", None, 1), Some(11));
        assert_eq!(out(5, 2, 3, "valid", None, 1), Some(15));
        assert_eq!(out(2, 5, 1, "valid", None, 1), Some(6));
        // valid with output_padding: (n-1)*s + k' + p
        assert_eq!(out(5, 3, 2, "valid", Some(1), 1), Some(12));
        // same: n*s; with output_padding: (n-1)*s + k'%2 + p
        assert_eq!(out(5, 3, 2, "same", None, 1), Some(10));
        assert_eq!(out(5, 4, 2, "same", Some(1), 1), Some(9));
        assert_eq!(out(5, 3, 2, "same", Some(0), 1), Some(9));
        assert_eq!(out(3, 2, 1, "same", Some(0), 1), Some(2));
        // dilation: k' = (k-1)*d + 1
        assert_eq!(out(5, 3, 1, "valid", None, 2), Some(9));
    }
}
