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
//! - Graphs (any number of inputs, taken in the model's input order, and outputs,
//!   returned as a tuple): each layer's output is kept as `v<position>` for
//!   the layers that take it; a merge brings its inputs to one layout (NCHW if any is)
//!   and adds, multiplies, averages, takes the maximum/minimum or `torch.cat`s along
//!   Keras's axis in that layout.

use crate::layers::LayerWeights;
use crate::layers::torch::{Flow, Torch, Uses};
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

/// Python source for the design. Fails for designs Keras would reject, graphs of
/// several inputs or outputs, and the few arguments PyTorch has no counterpart for
/// (with the reason).
pub fn to_pytorch(net: &Network, analysis: &Analysis) -> Result<String, String> {
    if let Some(e) = analysis.error(net) {
        return Err(format!("the design has an error Keras would reject: {e}"));
    }
    // A chain threads `x` through the layers; a graph keeps each layer's output as
    // `v<position>` for the layers that take it.
    let graph = !net.is_chain();
    let input_layers = net.input_layers();
    let input_names: Vec<String> = if input_layers.len() == 1 {
        vec!["x".into()]
    } else {
        (0..input_layers.len()).map(|k| format!("x{k}")).collect()
    };
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
    // Each kept value's layout.
    let mut flows = vec![flow; net.len()];
    for (i, layer) in net.layers().iter().enumerate() {
        if layer.kind.is_input() {
            if graph {
                let k = input_layers.iter().position(|&p| p == i).unwrap_or(0);
                let _ = writeln!(fwd, "        v{i} = {}", input_names[k]);
                let rank = analysis.layers.get(i).and_then(|r| r.output_shape.as_ref());
                flows[i] = Flow {
                    rank: rank.map_or(flow.rank, |s| s.len()),
                    permuted: false,
                };
            }
            continue;
        }
        let ins = net.inputs_of(i);
        let first = if graph {
            ins.first().copied()
        } else {
            i.checked_sub(1)
        };
        let inp = first
            .and_then(|j| analysis.layers.get(j))
            .and_then(|r| r.output_shape.clone())
            .ok_or("a layer's input shape is unknown")?;
        let mut args = Vec::new();
        let mut arg_ranks = Vec::new();
        if graph {
            if layer.kind.facts().takes_list {
                // A merge's inputs in one layout: NCHW if any of them is.
                let rank = first.map_or(flow.rank, |j| flows[j].rank);
                let permuted = ins.iter().any(|&j| flows[j].rank == 4 && flows[j].permuted);
                for &j in &ins {
                    let f = flows[j];
                    arg_ranks.push(f.rank);
                    args.push(if f.rank == 4 && f.permuted != permuted {
                        if permuted {
                            format!("v{j}.permute(0, 3, 1, 2)")
                        } else {
                            format!("v{j}.permute(0, 2, 3, 1)")
                        }
                    } else {
                        format!("v{j}")
                    });
                }
                flow = Flow { rank, permuted };
            } else if let Some(j) = first {
                flow = flows[j];
                let _ = writeln!(fwd, "        x = v{j}");
            }
        }
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
        let mut t = Torch {
            name: &layer.name,
            m: ident(&layer.name),
            input: &inp,
            flow: &mut flow,
            init: &mut init,
            fwd: &mut fwd,
            load: &mut load,
            uses: &mut uses,
            args,
            arg_ranks,
        };
        layer
            .kind
            .spec()
            .torch(&mut t)
            .map_err(|e| format!("layer '{}' ({}): {e}", layer.name, layer.kind.class_name()))?;
        flow.rank = out_rank;
        if graph {
            let _ = writeln!(fwd, "        v{i} = x");
            flows[i] = flow;
        }
    }
    let outputs = net.outputs();
    if graph && outputs.len() > 1 {
        // Several outputs: a tuple in the model's output order, each in Keras's layout.
        let each: Vec<String> = outputs
            .iter()
            .map(|&o| {
                if flows[o].rank == 4 && flows[o].permuted {
                    format!("v{o}.permute(0, 2, 3, 1)")
                } else {
                    format!("v{o}")
                }
            })
            .collect();
        let _ = writeln!(fwd, "        return ({})", each.join(", "));
    } else {
        if graph && let Some(&o) = outputs.first() {
            let _ = writeln!(fwd, "        x = v{o}");
            flow = flows[o];
        }
        if flow.rank == 4 && flow.permuted {
            fwd.push_str("        x = x.permute(0, 2, 3, 1)  # NCHW -> NHWC (Keras's layout)\n");
        }
        fwd.push_str("        return x\n");
    }

    let layout = match input_shape.len() {
        4 if analysis.layers.first().is_some_and(|r| r.channels_first) => "images are (N, C, H, W)",
        4 => "images are (N, H, W, C)",
        _ => "as the Keras model's input",
    };
    let mut s = String::new();
    let _ = write!(
        s,
        r#""""PyTorch version of the Keras model "{name}", written by convscope {version}.

`{cls}()({args})` computes what the Keras model computes.{order}
The inputs and the result are in the Keras model's layout: {layout}.
Inside, images are NCHW.

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
        args = input_names.join(", "),
        order = if input_names.len() > 1 {
            let names: Vec<&str> = input_layers
                .iter()
                .map(|&i| net.layers()[i].name.as_str())
                .collect();
            format!("\nIts inputs are, in order: {}.", names.join(", "))
        } else {
            String::new()
        },
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
        "\n\nclass {cls}(nn.Module):\n    def __init__(self):\n        super().__init__()\n{init}{pass}\n    def forward(self, {args}):\n{fwd}\n\n",
        args = input_names.join(", "),
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
pub fn weights_npz(net: &Network, weights: &[LayerWeights]) -> Result<Vec<u8>, String> {
    let arrays: Vec<(String, super::npy::NpyArray)> = net
        .layers()
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
    weights: &[LayerWeights],
) -> Result<std::path::PathBuf, String> {
    let npz = weights_npz(net, weights)?;
    let npz_path = path.with_extension("npz");
    let io_err = |e: std::io::Error| super::describe_io_error(&e);
    super::write_atomic(&npz_path, &npz).map_err(io_err)?;
    super::write_atomic(path, code.as_bytes()).map_err(io_err)?;
    Ok(npz_path)
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
        if let crate::layers::LayerKind::Conv2D(c) = &mut n.layer_mut(1).kind {
            c.filters = 0;
        }
        let e = to_pytorch(&n, &n.analyze()).unwrap_err();
        assert!(e.contains("Keras would reject"), "{e}");
    }

    /// A graph: the input and each branch kept as values, joined by `torch.cat` along
    /// the channels of the NCHW tensors (`scripts/pytorch-check.sh` and
    /// `scripts/check_blocks_with_keras.py` run such exports against Keras).
    #[test]
    fn branches_and_merges_keep_values_and_join_them() {
        let n = net("graph_normalization");
        assert!(!n.is_chain());
        let py = to_pytorch(&n, &n.analyze()).unwrap();
        assert!(py.contains("v0 = x"), "{py}");
        assert!(py.contains("x = torch.cat([v"), "{py}");
    }

    /// Normalization (given, adapted, inverted, over two axes), LayerNormalization and
    /// LayerScale in a chain (Keras-made config; `scripts/pytorch-check.sh` ran the
    /// export against Keras's output).
    #[test]
    fn normalization_layers_translate_in_keras_layout() {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/pytorch/chain_norm/config.json");
        let n = crate::io::load_model(&p).unwrap().network;
        let py = to_pytorch(&n, &n.analyze()).unwrap();
        for line in [
            "torch.tensor([0.5, 0.2, -0.1], dtype=torch.float32).reshape((1, 1, 1, 3))",
            "model.adapted_mean.copy_(t(\"adapted/0\").reshape((1, 1, 1, 3)))",
            "model.pixels_variance.copy_(t(\"pixels/1\").reshape((1, 6, 5, 1)))",
            "x = self.inverted_mean + x * torch.clamp(torch.sqrt(self.inverted_variance), min=1e-7)",
            ".reshape((1, 6, 1, 3)).expand((1, 6, 1, 3))",
            "inv = torch.rsqrt(x.var(dim=(3,), unbiased=False, keepdim=True) + 0.001)",
            "x = x * inv + (self.ln_beta - mean * inv)",
            "mean = x.mean(dim=(1, 2, 3), keepdim=True)",
            "x = x * inv - mean * inv",
            "x = x * self.scale_gamma",
            "model.scale_gamma.copy_(t(\"scale/0\"))",
        ] {
            assert!(py.contains(line), "{line} not in {py}");
        }
        // Back to Keras's layout for LayerNormalization after the convolution.
        assert_eq!(py.matches("NCHW -> NHWC").count(), 1, "{py}");
        let rms = net("stack_layer_norm");
        let py = to_pytorch(&rms, &rms.analyze()).unwrap();
        assert!(py.contains("x = x * inv\n"), "{py}");
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
