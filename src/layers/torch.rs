//! What a kind's PyTorch translation writes into: the `__init__`, `forward` and weight
//! loader being built, where the tensor's layout stands, and the Python spellings the
//! kinds share. [`crate::io::pytorch`] drives it and writes the file around it.

use super::conv::ConvBase;
use super::{DataFormat, Padding, Shape};
use std::fmt::Write;

/// Where the tensor is, relative to the Keras model's tensor at the same point.
#[derive(Clone, Copy, Debug)]
pub struct Flow {
    pub rank: usize,
    /// Rank-4 tensor held NCHW while Keras holds it NHWC.
    pub permuted: bool,
}

/// Python helpers the generated file needs (written once, when used).
#[derive(Default, Debug)]
pub struct Uses {
    pub avg_same: bool,
    pub transpose: bool,
}

/// One layer's translation in progress.
pub struct Torch<'a> {
    /// The layer's Keras name.
    pub name: &'a str,
    /// Its module attribute (a Python identifier).
    pub m: String,
    /// Its input's Keras shape.
    pub input: &'a Shape,
    pub flow: &'a mut Flow,
    pub init: &'a mut String,
    pub fwd: &'a mut String,
    pub load: &'a mut String,
    pub uses: &'a mut Uses,
    /// A merge's inputs as Python expressions, all in the flow's layout (empty for a
    /// layer of one input, which is `x`).
    pub args: Vec<String>,
    /// The Keras rank of each of `args`.
    pub arg_ranks: Vec<usize>,
}

impl Torch<'_> {
    /// A merge's inputs: [`Torch::args`], or in a chain (a merge of one input) `x`.
    pub fn merge_inputs(&mut self) {
        if self.args.is_empty() {
            self.args.push("x".into());
            self.arg_ranks.push(self.flow.rank);
        }
    }

    /// `t("<layer>/<i>")`: weight array `i` in the loader.
    pub fn key(&self, i: usize) -> String {
        format!("t(\"{}/{i}\")", self.name.replace('"', "\\\""))
    }

    /// A line of `__init__`.
    pub fn init(&mut self, line: impl AsRef<str>) {
        let _ = writeln!(self.init, "        {}", line.as_ref());
    }

    /// A submodule `self.<m> = nn.<ctor>` applied as `x = self.<m>(x)`: the usual pair.
    pub fn module(&mut self, ctor: impl AsRef<str>) {
        let m = self.m.clone();
        self.init(format!("self.{m} = nn.{}", ctor.as_ref()));
        self.fwd(format!("x = self.{m}(x)"));
    }

    /// A line of `forward`.
    pub fn fwd(&mut self, line: impl AsRef<str>) {
        let _ = writeln!(self.fwd, "        {}", line.as_ref());
    }

    /// `model.<dst>.copy_(<src>)` in the weight loader.
    pub fn copy(&mut self, dst: &str, src: &str) {
        let _ = writeln!(self.load, "        model.{dst}.copy_({src})");
    }

    /// `module.weight` from Keras's array `i`, converted by `convert` (`.T`, a permute).
    pub fn copy_weight(&mut self, module: &str, i: usize, convert: &str) {
        let src = format!("{}{convert}", self.key(i));
        self.copy(&format!("{module}.weight"), &src);
    }

    /// `module.bias` from Keras's array `i`, when the layer has a bias.
    pub fn copy_bias(&mut self, module: &str, use_bias: bool, i: usize) {
        if use_bias {
            let src = self.key(i);
            self.copy(&format!("{module}.bias"), &src);
        }
    }

    /// Makes a rank-4 tensor channels-at-1 for a layer with `data_format`
    /// (channels_last Keras tensors are permuted, channels_first ones not).
    pub fn ready_for(&mut self, df: DataFormat) {
        self.set_permuted(!df.is_first());
    }

    /// Gets the tensor to exactly Keras's layout.
    pub fn as_keras(&mut self) {
        self.set_permuted(false);
    }

    pub fn set_permuted(&mut self, permuted: bool) {
        if self.flow.rank != 4 || self.flow.permuted == permuted {
            return;
        }
        if permuted {
            self.fwd("x = x.permute(0, 3, 1, 2)  # NHWC -> NCHW");
        } else {
            self.fwd("x = x.permute(0, 2, 3, 1)  # NCHW -> NHWC (Keras's layout)");
        }
        self.flow.permuted = permuted;
    }

    /// The tensor dimension that Keras's axis `axis` (negative counts from the end) is at.
    pub fn dim(&self, axis: i64) -> i64 {
        let a = if axis < 0 {
            axis + self.flow.rank as i64
        } else {
            axis
        };
        if self.flow.rank == 4 && self.flow.permuted {
            [0, 2, 3, 1].get(a as usize).copied().unwrap_or(a)
        } else {
            a
        }
    }

    /// `x = <activation>(x)` for a Keras activation name (nothing for `linear`).
    pub fn act(&mut self, name: &str) -> Result<(), String> {
        if let Some(a) = activation(name, self.dim(-1))? {
            self.fwd(format!("x = {a}"));
        }
        Ok(())
    }

    /// Gets the tensor NCHW for a PyTorch convolution: its input channels and the
    /// kernel, strides and dilation.
    pub fn conv_start(&mut self, c: &ConvBase) -> Result<TorchConv, String> {
        self.ready_for(c.data_format);
        Ok(TorchConv {
            cin: self.channels(c.data_format)?,
            k: c.kernel_size.v,
            s: c.strides.v,
            d: c.dilation_rate.v,
            same: c.padding == Padding::Same,
        })
    }

    /// The input's channel count under `df`.
    pub fn channels(&self, df: DataFormat) -> Result<i64, String> {
        self.input
            .get(df.channel_axis(self.input.len()))
            .copied()
            .flatten()
            .ok_or_else(|| "the channel count must be known".to_string())
    }

    /// `x = self.<module>(x)`, through Keras's `same` padding first when `same`.
    pub fn call(&mut self, module: &str, same: bool, k: [i64; 2], s: [i64; 2], d: [i64; 2]) {
        if same {
            self.fwd(format!(
                "x = self.{module}(pad_same(x, {}, {}, {}))",
                pair(k),
                pair(s),
                pair(d)
            ));
        } else {
            self.fwd(format!("x = self.{module}(x)"));
        }
    }
}

/// What a PyTorch convolution needs from [`Torch::conv_start`].
pub struct TorchConv {
    pub cin: i64,
    pub k: [i64; 2],
    pub s: [i64; 2],
    pub d: [i64; 2],
    pub same: bool,
}

/// A Python tuple of sizes, `(1, 3)`, `(5,)`.
pub fn dims_tuple(d: &[usize]) -> String {
    match d {
        [one] => format!("({one},)"),
        _ => format!(
            "({})",
            d.iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A Python list of floats.
pub fn py_floats(v: &[f64]) -> String {
    let items: Vec<String> = v.iter().map(|&x| py_float(x)).collect();
    format!("[{}]", items.join(", "))
}

/// The broadcast shape of per-axis statistics: `input`'s sizes on `kept` axes, 1 on the
/// others (the batch included).
pub fn kept_shape(input: &Shape, kept: &[usize]) -> Result<Vec<usize>, String> {
    (0..input.len())
        .map(|d| match kept.contains(&d) {
            true => input[d]
                .filter(|&n| n >= 0)
                .map(|n| n as usize)
                .ok_or_else(|| format!("axis {d} must have a known size")),
            false => Ok(1),
        })
        .collect()
}

/// `(a, b)`.
pub fn pair(v: [i64; 2]) -> String {
    format!("({}, {})", v[0], v[1])
}

pub fn py_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

pub fn py_float(v: f64) -> String {
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

/// PyTorch for a Keras activation name; `dim` is the tensor dimension Keras's last axis
/// is at (for softmax-like activations).
pub fn activation(name: &str, dim: i64) -> Result<Option<String>, String> {
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

/// A depthwise `nn.Conv2d` (`groups` = channels) and its call.
pub fn depthwise(t: &mut Torch, module: &str, c: &TorchConv, mult: i64, bias: bool) {
    t.init(format!(
        "self.{module} = nn.Conv2d({}, {}, kernel_size={}, stride={}, dilation={}, groups={}, bias={})",
        c.cin,
        c.cin * mult,
        pair(c.k),
        pair(c.s),
        pair(c.d),
        c.cin,
        py_bool(bias)
    ));
    t.call(module, c.same, c.k, c.s, c.d);
}

/// The loader's conversion of a Keras depthwise kernel `(kh, kw, c, m)` to PyTorch's
/// `(c·m, 1, kh, kw)`.
pub fn depthwise_weight(k: [i64; 2]) -> String {
    format!(
        ".reshape({}, {}, -1).permute(2, 0, 1).unsqueeze(1)",
        k[0], k[1]
    )
}
