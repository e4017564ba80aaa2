//! PyTorch export: a design as an `nn.Module` that computes what the Keras model
//! computes, plus a loader for the weights (an `.npz` keyed `<layer>/<i>` in Keras's
//! `get_weights()` order, as `convscope export --format pytorch` writes it).
//!
//! What differs between the two frameworks and how the code bridges it:
//! - Layout: the module takes and returns tensors in the Keras model's layout; inside,
//!   images are NCHW. Permutes are emitted only where a layer needs the other layout
//!   (one after the input of a channels_last model, one before `Flatten`/`Dense`).
//! - `same` padding: Keras puts the odd pixel after (bottom/right); PyTorch's
//!   `padding=` is symmetric, so an explicit `F.pad` is used unless both agree
//!   (stride 1, odd effective kernel). Max pooling pads with −∞; average pooling
//!   divides by the pixels inside the image, as Keras does.
//! - Kernels: HWIO → OIHW (`Conv2d`), HW(C·M) → (C·M)1HW (depthwise), HWOI → IOHW
//!   (transposed); Dense `(in, out)` → `Linear` `(out, in)`.
//! - BatchNorm: PyTorch's `momentum` is 1 − Keras's; epsilon is the same.
//! - `Flatten` flattens in Keras's (channels-last) order.
//! - `Conv2DTranspose`: Keras's output size and cropping, computed like the engine does.

use crate::model::layer::{Layer, LayerKind, PoolMode};
use crate::model::{Analysis, Network};
use std::fmt::Write;

/// A Python identifier for a Keras layer name.
fn ident(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    if matches!(s.as_str(), "forward" | "training" | "keras_layout") {
        s.push('_');
    }
    s
}

/// A Python class name for the model.
fn class_name(name: &str) -> String {
    let mut out = String::new();
    let mut up = true;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(if up { c.to_ascii_uppercase() } else { c });
            up = false;
        } else {
            up = true;
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "Model");
    }
    out
}

fn py_float(v: f64) -> String {
    if v.is_finite() {
        let s = format!("{v:?}");
        if s.contains('.') || s.contains('e') {
            s
        } else {
            format!("{s}.0")
        }
    } else if v.is_nan() {
        "float(\"nan\")".into()
    } else if v > 0.0 {
        "float(\"inf\")".into()
    } else {
        "float(\"-inf\")".into()
    }
}

/// `x = <activation>(x)` for a Keras activation name; `dim` is the tensor dimension
/// Keras's last axis is at (for softmax-like activations).
fn activation(name: &str, dim: i64) -> Result<Option<String>, String> {
    let f = match name {
        "linear" | "" => return Ok(None),
        "relu" => "F.relu(x)".to_string(),
        "relu6" => "F.relu6(x)".into(),
        "leaky_relu" => "F.leaky_relu(x, 0.2)".into(),
        "elu" => "F.elu(x)".into(),
        "selu" => "F.selu(x)".into(),
        "celu" => "F.celu(x)".into(),
        "gelu" => "F.gelu(x)".into(),
        "sigmoid" => "torch.sigmoid(x)".into(),
        "tanh" => "torch.tanh(x)".into(),
        "softplus" => "F.softplus(x)".into(),
        "softsign" => "F.softsign(x)".into(),
        "silu" | "swish" => "F.silu(x)".into(),
        "hard_sigmoid" => "F.hardsigmoid(x)".into(),
        "hard_silu" | "hard_swish" => "F.hardswish(x)".into(),
        "hard_tanh" => "F.hardtanh(x)".into(),
        "hard_shrink" => "F.hardshrink(x, 0.5)".into(),
        "soft_shrink" => "F.softshrink(x, 0.5)".into(),
        "tanh_shrink" => "F.tanhshrink(x)".into(),
        "exponential" => "torch.exp(x)".into(),
        "mish" => "F.mish(x)".into(),
        "log_sigmoid" => "F.logsigmoid(x)".into(),
        "squareplus" => "(x + torch.sqrt(x * x + 4.0)) / 2.0".into(),
        "sparse_plus" => {
            "torch.where(x <= -1.0, torch.zeros_like(x), torch.where(x >= 1.0, x, (x + 1.0) ** 2 / 4.0))"
                .into()
        }
        "sparse_sigmoid" => "torch.clamp((x + 1.0) / 2.0, 0.0, 1.0)".into(),
        "softmax" => format!("F.softmax(x, dim={dim})"),
        "log_softmax" => format!("F.log_softmax(x, dim={dim})"),
        "glu" => format!("F.glu(x, dim={dim})"),
        other => {
            return Err(format!(
                "the activation '{other}' has no PyTorch counterpart in this export"
            ));
        }
    };
    Ok(Some(f))
}

/// Where the tensor is, relative to the Keras model's tensor at the same point.
struct Flow {
    rank: usize,
    /// Rank-4 tensor held NCHW while Keras holds it NHWC.
    permuted: bool,
}

impl Flow {
    /// Emits the permute that makes a rank-4 tensor channels-at-1 for a layer with
    /// `data_format` (channels_last Keras tensors are permuted, channels_first ones not).
    fn ready_for(&mut self, fwd: &mut String, data_format: &str) {
        let want = data_format != "channels_first";
        self.set(fwd, want);
    }

    /// Emits what gets the tensor to exactly Keras's layout.
    fn as_keras(&mut self, fwd: &mut String) {
        self.set(fwd, false);
    }

    fn set(&mut self, fwd: &mut String, permuted: bool) {
        if self.rank != 4 || self.permuted == permuted {
            return;
        }
        if permuted {
            fwd.push_str("        x = x.permute(0, 3, 1, 2)  # NHWC -> NCHW\n");
        } else {
            fwd.push_str("        x = x.permute(0, 2, 3, 1)  # NCHW -> NHWC (Keras's layout)\n");
        }
        self.permuted = permuted;
    }

    /// The tensor dimension that Keras's axis `axis` (negative counts from the end) is at.
    fn dim(&self, axis: i64) -> i64 {
        let a = if axis < 0 {
            axis + self.rank as i64
        } else {
            axis
        };
        if self.rank == 4 && self.permuted {
            [0, 2, 3, 1].get(a as usize).copied().unwrap_or(a)
        } else {
            a
        }
    }
}

fn pair(v: [i64; 2]) -> String {
    format!("({}, {})", v[0], v[1])
}

/// The channel count of a shape under `data_format`.
fn channels(shape: &[Option<i64>], data_format: &str) -> Result<i64, String> {
    let c = if data_format == "channels_first" {
        shape.get(1)
    } else {
        shape.last()
    };
    c.copied()
        .flatten()
        .ok_or_else(|| "the channel count must be known".to_string())
}

/// Python source for the design. Fails for designs Keras would reject, graphs with
/// branches, and the few arguments PyTorch has no counterpart for (with the reason).
pub fn to_pytorch(net: &Network, analysis: &Analysis) -> Result<String, String> {
    if let Some(e) = analysis.error(net) {
        return Err(format!("the design has an error Keras would reject: {e}"));
    }
    if net.functional {
        let chain = net
            .layers
            .windows(2)
            .all(|w| w[1].inbound.len() == 1 && w[1].inbound[0] == w[0].name)
            && net.outputs.len() <= 1
            && net
                .outputs
                .first()
                .is_none_or(|o| net.layers.last().is_some_and(|l| &l.name == o));
        if !chain {
            return Err(
                "the PyTorch export handles a single chain of layers; this Functional model \
                 has branches or merges"
                    .into(),
            );
        }
    }
    let cls = class_name(&net.name);
    let mut init = String::new();
    let mut fwd = String::new();
    let mut load = String::new();
    let input_shape = net.input_shape().cloned().unwrap_or_default();
    let mut flow = Flow {
        rank: input_shape.len(),
        permuted: false,
    };
    let mut uses = Uses::default();
    for (i, layer) in net.layers.iter().enumerate().skip(1) {
        let inp = analysis
            .layers
            .get(i - 1)
            .and_then(|r| r.output_shape.clone())
            .ok_or("a layer's input shape is unknown")?;
        let out_rank = analysis.layers[i]
            .output_shape
            .as_ref()
            .map_or(flow.rank, |s| s.len());
        let _ = writeln!(
            fwd,
            "        # {} ({})",
            layer.name,
            layer.kind.class_name()
        );
        emit_layer(
            layer, &inp, &mut flow, &mut init, &mut fwd, &mut load, &mut uses,
        )
        .map_err(|e| format!("layer '{}' ({}): {e}", layer.name, layer.kind.class_name()))?;
        flow.rank = out_rank;
    }
    flow.as_keras(&mut fwd);

    let layout = match input_shape.len() {
        4 if crate::runner::input_channels_first(net) => "(N, C, H, W)",
        4 => "(N, H, W, C)",
        _ => "as the Keras model's input",
    };
    let mut s = String::new();
    let _ = write!(
        s,
        r#""""PyTorch version of the Keras model "{name}", written by convscope {version}.

`{cls}()(x)` computes what the Keras model computes. `x` and the result are in the
Keras model's layout: the input is {layout}. Inside, images are NCHW.

Weights: `load_keras_weights(model, "weights.npz")` reads the arrays convscope exports
(`<layer>/<i>` in Keras's get_weights() order) and converts each to PyTorch's layout.
Call `model.eval()` before inference (Dropout, BatchNorm), as Keras's predict() does.
"""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

"#,
        name = net.name.replace('"', "'"),
        version = env!("CARGO_PKG_VERSION"),
    );
    s.push_str(HELPERS_SAME);
    if uses.avg_same {
        s.push_str(HELPER_AVG_SAME);
    }
    if uses.transpose {
        s.push_str(HELPER_TRANSPOSE);
    }
    let _ = write!(
        s,
        "\n\nclass {cls}(nn.Module):\n    def __init__(self):\n        super().__init__()\n{init}{pass}\n    def forward(self, x):\n{fwd}        return x\n\n\n",
        pass = if init.is_empty() {
            "        pass\n"
        } else {
            ""
        },
    );
    let _ = write!(
        s,
        "def load_keras_weights(model, path):\n    \"\"\"Copies Keras weights from an .npz (keys `<layer>/<i>`) into `model`.\"\"\"\n    w = np.load(path)\n\n    def t(key):\n        return torch.from_numpy(np.ascontiguousarray(w[key], dtype=np.float32))\n\n    with torch.no_grad():\n{body}    return model\n\n\nif __name__ == \"__main__\":\n    model = {cls}().eval()\n    print(model)\n",
        body = if load.is_empty() {
            "        pass\n".to_string()
        } else {
            load
        },
    );
    Ok(s)
}

/// The weights as the `.npz` the generated `load_keras_weights` reads: one array per
/// key `<layer>/<i>`, in Keras's `get_weights()` order and layout.
pub fn weights_npz(
    net: &Network,
    weights: &[crate::engine::forward::LayerWeights],
) -> Result<Vec<u8>, String> {
    let arrays: Vec<(String, super::npy::NpyArray)> = net
        .layers
        .iter()
        .zip(weights)
        .flat_map(|(l, ws)| {
            ws.iter().enumerate().map(move |(i, a)| {
                (
                    format!("{}/{i}", l.name),
                    super::npy::NpyArray {
                        shape: a.shape().to_vec(),
                        data: a.iter().copied().collect(),
                    },
                )
            })
        })
        .collect();
    super::npy::write_npz(&arrays).map_err(|e| e.to_string())
}

/// Writes `code` (from [`to_pytorch`]) to `path` and `weights` beside it (`path` with
/// `.npz`), the weights first so that the code never refers to a missing file. Returns
/// the weights' path; errors are worded for the person saving (full disk, read-only, …).
pub fn write_export(
    path: &std::path::Path,
    code: &str,
    net: &Network,
    weights: &[crate::engine::forward::LayerWeights],
) -> Result<std::path::PathBuf, String> {
    let npz = weights_npz(net, weights)?;
    let npz_path = path.with_extension("npz");
    let io_err = |e: std::io::Error| super::describe_io_error(&e);
    super::write_atomic(&npz_path, &npz).map_err(io_err)?;
    super::write_atomic(path, code.as_bytes()).map_err(io_err)?;
    Ok(npz_path)
}

#[derive(Default)]
struct Uses {
    avg_same: bool,
    transpose: bool,
}

const HELPERS_SAME: &str = r#"
def keras_same_padding(size, kernel, stride, dilation):
    """Keras's `same` padding along one axis as (before, after): the odd pixel goes
    after, where PyTorch's `padding=` would split it evenly."""
    k = (kernel - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + k - size, 0)
    return total // 2, total - total // 2


def pad_same(x, kernel, stride, dilation=(1, 1), value=0.0):
    """Pads an NCHW tensor as Keras's `same` padding does before a window op."""
    top, bottom = keras_same_padding(x.shape[2], kernel[0], stride[0], dilation[0])
    left, right = keras_same_padding(x.shape[3], kernel[1], stride[1], dilation[1])
    return F.pad(x, (left, right, top, bottom), value=value)
"#;

const HELPER_AVG_SAME: &str = r#"

def avg_pool_same(x, kernel, stride):
    """Keras's average pooling with `same` padding: padded pixels are not counted."""
    total = F.avg_pool2d(pad_same(x, kernel, stride), kernel, stride, divisor_override=1)
    ones = pad_same(torch.ones_like(x[:1, :1]), kernel, stride)
    return total / F.avg_pool2d(ones, kernel, stride, divisor_override=1)
"#;

const HELPER_TRANSPOSE: &str = r#"

def keras_transpose_window(size, kernel, stride, dilation, same, output_padding):
    """Keras's Conv2DTranspose output size along one axis and how much of the full
    transposed convolution is cropped before it."""
    k = (kernel - 1) * dilation + 1
    span = (size - 1) * stride
    if same:
        out = size * stride if output_padding is None else span + k % 2 + output_padding
        return out, max(span + k - out, 0) // 2
    extra = max(k, stride) - k if output_padding is None else output_padding
    return span + k + extra, 0


def crop_transposed(y, size, kernel, stride, dilation, same, output_padding):
    """The part of a full (padding=0) transposed convolution that Keras returns."""
    oh, top = keras_transpose_window(size[0], kernel[0], stride[0], dilation[0], same, output_padding[0])
    ow, left = keras_transpose_window(size[1], kernel[1], stride[1], dilation[1], same, output_padding[1])
    y = F.pad(y, (0, max(0, left + ow - y.shape[3]), 0, max(0, top + oh - y.shape[2])))
    return y[:, :, top:top + oh, left:left + ow]
"#;

fn emit_act(fwd: &mut String, name: &str, flow: &Flow) -> Result<(), String> {
    if let Some(a) = activation(name, flow.dim(-1))? {
        let _ = writeln!(fwd, "        x = {a}");
    }
    Ok(())
}

fn emit_layer(
    layer: &Layer,
    inp: &[Option<i64>],
    flow: &mut Flow,
    init: &mut String,
    fwd: &mut String,
    load: &mut String,
    uses: &mut Uses,
) -> Result<(), String> {
    let m = ident(&layer.name);
    let key = |i: usize| format!("t(\"{}/{i}\")", layer.name.replace('"', "\\\""));
    let is_same = |p: &str| p.eq_ignore_ascii_case("same");
    match &layer.kind {
        LayerKind::Input(_) => {}
        LayerKind::Conv2D(c) => {
            flow.ready_for(fwd, &c.data_format);
            let cin = channels(inp, &c.data_format)?;
            let (k, s, d) = (c.kernel_size.v, c.strides.v, c.dilation_rate.v);
            let keff = [(k[0] - 1) * d[0] + 1, (k[1] - 1) * d[1] + 1];
            let symmetric = is_same(&c.padding) && s == [1, 1] && keff.iter().all(|e| e % 2 == 1);
            let padding = if symmetric {
                pair([(keff[0] - 1) / 2, (keff[1] - 1) / 2])
            } else {
                "0".into()
            };
            let _ = writeln!(
                init,
                "        self.{m} = nn.Conv2d({cin}, {}, kernel_size={}, stride={}, padding={padding}, dilation={}, groups={}, bias={})",
                c.filters,
                pair(k),
                pair(s),
                pair(d),
                c.groups,
                py_bool(c.use_bias)
            );
            call(fwd, &m, is_same(&c.padding) && !symmetric, k, s, d);
            emit_act(fwd, &c.activation, flow)?;
            copy(
                load,
                &format!("{m}.weight"),
                &format!("{}.permute(3, 2, 0, 1)", key(0)),
            );
            if c.use_bias {
                copy(load, &format!("{m}.bias"), &key(1));
            }
        }
        LayerKind::DepthwiseConv2D(c) => {
            flow.ready_for(fwd, &c.data_format);
            let cin = channels(inp, &c.data_format)?;
            let (k, s, d) = (c.kernel_size.v, c.strides.v, c.dilation_rate.v);
            depthwise(
                init,
                fwd,
                &m,
                cin,
                c.depth_multiplier,
                k,
                s,
                d,
                &c.padding,
                c.use_bias,
            );
            emit_act(fwd, &c.activation, flow)?;
            copy(
                load,
                &format!("{m}.weight"),
                &format!(
                    "{}.reshape({}, {}, -1).permute(2, 0, 1).unsqueeze(1)",
                    key(0),
                    k[0],
                    k[1]
                ),
            );
            if c.use_bias {
                copy(load, &format!("{m}.bias"), &key(1));
            }
        }
        LayerKind::SeparableConv2D(c) => {
            flow.ready_for(fwd, &c.data_format);
            let cin = channels(inp, &c.data_format)?;
            let (k, s, d) = (c.kernel_size.v, c.strides.v, c.dilation_rate.v);
            let dw = format!("{m}_depthwise");
            depthwise(
                init,
                fwd,
                &dw,
                cin,
                c.depth_multiplier,
                k,
                s,
                d,
                &c.padding,
                false,
            );
            let _ = writeln!(
                init,
                "        self.{m}_pointwise = nn.Conv2d({}, {}, kernel_size=1, bias={})",
                cin * c.depth_multiplier,
                c.filters,
                py_bool(c.use_bias)
            );
            let _ = writeln!(fwd, "        x = self.{m}_pointwise(x)");
            emit_act(fwd, &c.activation, flow)?;
            copy(
                load,
                &format!("{dw}.weight"),
                &format!(
                    "{}.reshape({}, {}, -1).permute(2, 0, 1).unsqueeze(1)",
                    key(0),
                    k[0],
                    k[1]
                ),
            );
            copy(
                load,
                &format!("{m}_pointwise.weight"),
                &format!("{}.permute(3, 2, 0, 1)", key(1)),
            );
            if c.use_bias {
                copy(load, &format!("{m}_pointwise.bias"), &key(2));
            }
        }
        LayerKind::Conv2DTranspose(c) => {
            flow.ready_for(fwd, &c.data_format);
            let cin = channels(inp, &c.data_format)?;
            let (k, s, d) = (c.kernel_size.v, c.strides.v, c.dilation_rate.v);
            uses.transpose = true;
            let _ = writeln!(
                init,
                "        self.{m} = nn.ConvTranspose2d({cin}, {}, kernel_size={}, stride={}, dilation={}, bias=False)",
                c.filters,
                pair(k),
                pair(s),
                pair(d)
            );
            if c.use_bias {
                let _ = writeln!(
                    init,
                    "        self.{m}_bias = nn.Parameter(torch.zeros({}))",
                    c.filters
                );
            }
            let op = match c.output_padding {
                Some(p) => format!("({}, {})", p.v[0], p.v[1]),
                None => "(None, None)".into(),
            };
            let _ = writeln!(
                fwd,
                "        size = (x.shape[2], x.shape[3])\n        x = crop_transposed(self.{m}(x), size, {}, {}, {}, {}, {op})",
                pair(k),
                pair(s),
                pair(d),
                py_bool(is_same(&c.padding))
            );
            if c.use_bias {
                let _ = writeln!(fwd, "        x = x + self.{m}_bias.view(1, -1, 1, 1)");
            }
            emit_act(fwd, &c.activation, flow)?;
            copy(
                load,
                &format!("{m}.weight"),
                &format!("{}.permute(3, 2, 0, 1)", key(0)),
            );
            if c.use_bias {
                copy(load, &format!("{m}_bias"), &key(1));
            }
        }
        LayerKind::Pooling2D(p) => {
            flow.ready_for(fwd, &p.data_format);
            let k = p.pool_size.v;
            let s = p.strides.unwrap_or(p.pool_size).v;
            let (kk, ss) = (pair(k), pair(s));
            let line = match (p.mode, is_same(&p.padding)) {
                (PoolMode::Max, false) => format!("F.max_pool2d(x, {kk}, {ss})"),
                (PoolMode::Max, true) => {
                    format!(
                        "F.max_pool2d(pad_same(x, {kk}, {ss}, value=float(\"-inf\")), {kk}, {ss})"
                    )
                }
                (PoolMode::Average, false) => format!("F.avg_pool2d(x, {kk}, {ss})"),
                (PoolMode::Average, true) => {
                    uses.avg_same = true;
                    format!("avg_pool_same(x, {kk}, {ss})")
                }
            };
            let _ = writeln!(fwd, "        x = {line}");
        }
        LayerKind::GlobalPooling2D(g) => {
            flow.ready_for(fwd, &g.data_format);
            let f = if g.mode == PoolMode::Max {
                "amax"
            } else {
                "mean"
            };
            let _ = writeln!(
                fwd,
                "        x = x.{f}(dim=(2, 3), keepdim={})",
                py_bool(g.keepdims)
            );
            if !g.keepdims {
                flow.permuted = false;
            }
        }
        LayerKind::BatchNormalization(b) => {
            let rank = flow.rank;
            if rank == 4 {
                // Channels to dim 1 for BatchNorm2d, whichever axis Keras normalises.
                match b.axis.rem_euclid(4) {
                    3 => flow.set(fwd, true),
                    1 => flow.set(fwd, false),
                    _ => {}
                }
            }
            let dim = flow.dim(b.axis);
            let class = match (rank, dim) {
                (4, 1) => "BatchNorm2d",
                (2, 1) => "BatchNorm1d",
                (3, 1) => "BatchNorm1d",
                _ => {
                    return Err(format!(
                        "BatchNormalization over axis {} of a rank-{rank} tensor has no PyTorch layer",
                        b.axis
                    ));
                }
            };
            let c = inp
                .get(b.axis.rem_euclid(rank.max(1) as i64) as usize)
                .copied()
                .flatten()
                .ok_or("the normalised axis must have a known size")?;
            let _ = writeln!(
                init,
                "        self.{m} = nn.{class}({c}, eps={}, momentum={})  # PyTorch momentum = 1 - Keras momentum",
                py_float(b.epsilon),
                py_float(1.0 - b.momentum)
            );
            let _ = writeln!(fwd, "        x = self.{m}(x)");
            let mut idx = 0;
            if b.scale {
                copy(load, &format!("{m}.weight"), &key(idx));
                idx += 1;
            }
            if b.center {
                copy(load, &format!("{m}.bias"), &key(idx));
                idx += 1;
            }
            copy(load, &format!("{m}.running_mean"), &key(idx));
            copy(load, &format!("{m}.running_var"), &key(idx + 1));
        }
        LayerKind::Activation { activation: a } => emit_act(fwd, a, flow)?,
        LayerKind::ReLU(r) => {
            let mut e = if r.threshold == 0.0 && r.negative_slope == 0.0 {
                "F.relu(x)".to_string()
            } else {
                format!(
                    "torch.where(x >= {th}, x, {slope} * (x - {th}))",
                    th = py_float(r.threshold),
                    slope = py_float(r.negative_slope)
                )
            };
            if let Some(mx) = r.max_value {
                e = format!("torch.clamp({e}, max={})", py_float(mx));
            }
            let _ = writeln!(fwd, "        x = {e}");
        }
        LayerKind::LeakyReLU { negative_slope } => {
            let _ = writeln!(
                fwd,
                "        x = F.leaky_relu(x, {})",
                py_float(*negative_slope)
            );
        }
        LayerKind::Softmax { axis } => {
            let _ = writeln!(fwd, "        x = F.softmax(x, dim={})", flow.dim(*axis));
        }
        LayerKind::Dropout(d) => {
            let _ = writeln!(init, "        self.{m} = nn.Dropout({})", py_float(d.rate));
            let _ = writeln!(fwd, "        x = self.{m}(x)");
        }
        LayerKind::SpatialDropout2D(d) => {
            flow.ready_for(fwd, &d.data_format);
            let _ = writeln!(
                init,
                "        self.{m} = nn.Dropout2d({})",
                py_float(d.rate)
            );
            let _ = writeln!(fwd, "        x = self.{m}(x)");
        }
        LayerKind::Flatten { data_format } => {
            flow.as_keras(fwd);
            if data_format == "channels_first" && flow.rank >= 3 {
                let mut perm = vec![0usize];
                perm.extend(2..flow.rank);
                perm.push(1);
                let p: Vec<String> = perm.iter().map(|d| d.to_string()).collect();
                let _ = writeln!(
                    fwd,
                    "        x = x.permute({})  # Keras moves channels last first",
                    p.join(", ")
                );
            }
            fwd.push_str("        x = torch.flatten(x, 1)\n");
        }
        LayerKind::Dense(dn) => {
            flow.as_keras(fwd);
            let cin = inp
                .last()
                .copied()
                .flatten()
                .ok_or("the input's last axis must be known")?;
            let _ = writeln!(
                init,
                "        self.{m} = nn.Linear({cin}, {}, bias={})",
                dn.units,
                py_bool(dn.use_bias)
            );
            let _ = writeln!(fwd, "        x = self.{m}(x)");
            emit_act(fwd, &dn.activation, flow)?;
            copy(load, &format!("{m}.weight"), &format!("{}.T", key(0)));
            if dn.use_bias {
                copy(load, &format!("{m}.bias"), &key(1));
            }
        }
        LayerKind::ZeroPadding2D(p) | LayerKind::Cropping2D(p) => {
            flow.ready_for(fwd, &p.data_format);
            let [[t, b], [l, r]] = p.amounts;
            if matches!(layer.kind, LayerKind::ZeroPadding2D(_)) {
                let _ = writeln!(fwd, "        x = F.pad(x, ({l}, {r}, {t}, {b}))");
            } else {
                let _ = writeln!(
                    fwd,
                    "        x = x[:, :, {t}:x.shape[2] - {b}, {l}:x.shape[3] - {r}]"
                );
            }
        }
        LayerKind::UpSampling2D(u) => {
            flow.ready_for(fwd, &u.data_format);
            let [sh, sw] = u.size.v;
            match u.interpolation.as_str() {
                "nearest" => {
                    let _ = writeln!(
                        fwd,
                        "        x = x.repeat_interleave({sh}, dim=2).repeat_interleave({sw}, dim=3)"
                    );
                }
                "bilinear" => {
                    let _ = writeln!(
                        fwd,
                        "        x = F.interpolate(x, scale_factor=({sh}, {sw}), mode=\"bilinear\", align_corners=False)"
                    );
                }
                other => {
                    return Err(format!(
                        "interpolation '{other}' differs between TensorFlow and PyTorch (nearest and bilinear export)"
                    ));
                }
            }
        }
        LayerKind::Rescaling { scale, offset } => {
            let _ = writeln!(
                fwd,
                "        x = x * {} + {}",
                py_float(*scale),
                py_float(*offset)
            );
        }
        LayerKind::Merge(_) | LayerKind::Concatenate { .. } => {
            return Err("merge layers are not exported (single chains only)".into());
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn depthwise(
    init: &mut String,
    fwd: &mut String,
    m: &str,
    cin: i64,
    mult: i64,
    k: [i64; 2],
    s: [i64; 2],
    d: [i64; 2],
    padding: &str,
    bias: bool,
) {
    let _ = writeln!(
        init,
        "        self.{m} = nn.Conv2d({cin}, {}, kernel_size={}, stride={}, dilation={}, groups={cin}, bias={})",
        cin * mult,
        pair(k),
        pair(s),
        pair(d),
        py_bool(bias)
    );
    call(fwd, m, padding.eq_ignore_ascii_case("same"), k, s, d);
}

/// `model.<dst>.copy_(<src>)` in the weight loader.
fn copy(load: &mut String, dst: &str, src: &str) {
    let _ = writeln!(load, "        model.{dst}.copy_({src})");
}

/// `x = self.<m>(x)`, through Keras's `same` padding first when `same`.
fn call(fwd: &mut String, m: &str, same: bool, k: [i64; 2], s: [i64; 2], d: [i64; 2]) {
    if same {
        let _ = writeln!(
            fwd,
            "        x = self.{m}(pad_same(x, {}, {}, {}))",
            pair(k),
            pair(s),
            pair(d)
        );
    } else {
        let _ = writeln!(fwd, "        x = self.{m}(x)");
    }
}

fn py_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(path: &str) -> Network {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/golden")
            .join(path)
            .join("config.json");
        crate::io::load_model(&p).unwrap().network
    }

    #[test]
    fn stridednet_translates_layout_padding_and_weights() {
        let n = net("stridednet");
        let py = to_pytorch(&n, &n.analyze()).unwrap();
        assert!(py.contains("class Stridednet(nn.Module):"), "{py}");
        // One permute in, one before Flatten.
        assert_eq!(py.matches("NHWC -> NCHW").count(), 1, "{py}");
        assert_eq!(py.matches("NCHW -> NHWC").count(), 1, "{py}");
        // 3×3 stride 2 `same`: explicit asymmetric padding; stride 1: PyTorch's own.
        assert!(
            py.contains("x = self.conv2d_2(pad_same(x, (3, 3), (2, 2), (1, 1)))"),
            "{py}"
        );
        assert!(py.contains(
            "self.conv2d_1 = nn.Conv2d(16, 32, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1)"
        ));
        assert!(
            py.contains("momentum=0.010000000000000009") || py.contains("momentum=0.01"),
            "{py}"
        );
        assert!(py.contains("model.conv2d.weight.copy_(t(\"conv2d/0\").permute(3, 2, 0, 1))"));
        assert!(py.contains("model.dense.weight.copy_(t(\"dense/0\").T)"));
        assert!(py.contains("F.softmax(x, dim=1)"), "{py}");
    }

    #[test]
    fn stride_one_odd_same_uses_pytorch_padding() {
        let n = net("conv_k3x3_same");
        let py = to_pytorch(&n, &n.analyze()).unwrap();
        assert!(py.contains("padding=(1, 1)"), "{py}");
        assert!(!py.contains("self.conv2d(pad_same"), "{py}");
    }

    #[test]
    fn errors_and_branches_are_refused_with_a_reason() {
        let mut n = net("conv_k3x3_same");
        if let LayerKind::Conv2D(c) = &mut n.layers[1].kind {
            c.filters = 0;
        }
        let e = to_pytorch(&n, &n.analyze()).unwrap_err();
        assert!(e.contains("Keras would reject"), "{e}");
    }

    #[test]
    fn identifiers_are_python_safe() {
        assert_eq!(ident("conv2d_1"), "conv2d_1");
        assert_eq!(ident("block1/conv-a"), "block1_conv_a");
        assert_eq!(ident("1x"), "_1x");
        assert_eq!(ident("forward"), "forward_");
        assert_eq!(class_name("mini_vgg"), "MiniVgg");
        assert_eq!(class_name("3net"), "Model3net");
    }
}
