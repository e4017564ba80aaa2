//! The forward pass: every layer of a [`Network`] in inference mode, in Keras's own
//! tensor layout (channels_first layers see NCHW, compute in NHWC, and give NCHW back).
//!
//! Activations of every layer are kept so the viewer can show all of them, and a run can
//! resume from any layer given the cached activations before it.

use super::activations;
use super::ops::{self, Window};
use crate::model::analysis::Analysis;
use crate::model::layer::*;
use crate::model::network::Network;
use ndarray::{Array4, ArrayD, ArrayView4, Axis, CowArray, Ix4, IxDyn};
use std::sync::Arc;
use std::time::Instant;
use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum EngineError {
    #[error("the model is invalid: {0}")]
    Invalid(String),
    #[error("layer '{layer}': {message}")]
    Layer { layer: String, message: String },
    #[error("input shape {got:?} does not match the model's input {want:?}")]
    InputShape {
        got: Vec<usize>,
        want: Vec<Option<i64>>,
    },
    #[error(
        "this run needs about {} for its activations and weights, more than the limit of {} \
         (half of this machine's memory); use a smaller input, fewer filters or larger strides",
        gib(*needed),
        gib(*limit)
    )]
    TooLarge { needed: u64, limit: u64 },
}

fn gib(bytes: u64) -> String {
    let g = bytes as f64 / (1u64 << 30) as f64;
    if g >= 0.1 {
        format!("{g:.1} GiB")
    } else {
        format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
    }
}

/// Bytes a run of `batch` samples needs: every layer's output (all are kept), the
/// weights, and the per-thread im2col scratch. From the analysis, before allocating.
pub fn estimate_bytes(analysis: &Analysis, batch: usize) -> u64 {
    let outputs = analysis
        .layers
        .iter()
        .map(|r| r.output_bytes.max(0) as u64)
        .fold(0u64, u64::saturating_add)
        .saturating_mul(batch.max(1) as u64);
    let weights = analysis
        .layers
        .iter()
        .flat_map(|r| &r.weights)
        .map(|w| (w.count().max(0) as u64).saturating_mul(4))
        .fold(0u64, u64::saturating_add);
    let scratch = (rayon::current_num_threads() as u64) << 22;
    outputs.saturating_add(weights).saturating_add(scratch)
}

/// The most a run may need: `CONVSCOPE_MEMORY_LIMIT` (bytes) when set, else half of the
/// machine's memory (`MemTotal`; 8 GiB when unknown).
pub fn memory_limit() -> u64 {
    if let Some(v) = std::env::var("CONVSCOPE_MEMORY_LIMIT")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        return v;
    }
    let total = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        let line = m.lines().find(|l| l.starts_with("MemTotal:"))?;
        line.split_whitespace().nth(1)?.parse::<u64>().ok()
    });
    total.map_or(8 << 30, |kb| kb * 1024 / 2)
}

/// Refuses a run whose [`estimate_bytes`] exceeds [`memory_limit`], with both in the
/// message, instead of letting the allocator abort the process.
pub fn check_memory(analysis: &Analysis, batch: usize) -> Result<(), EngineError> {
    let (needed, limit) = (estimate_bytes(analysis, batch), memory_limit());
    if needed > limit {
        Err(EngineError::TooLarge { needed, limit })
    } else {
        Ok(())
    }
}

/// One layer's weights, in Keras's `get_weights()` order.
pub type LayerWeights = Vec<ArrayD<f32>>;

/// Result of one layer: its output and how long it took.
#[derive(Clone, Debug)]
pub struct LayerRun {
    pub output: Arc<ArrayD<f32>>,
    pub millis: f64,
}

/// Runs layers `from..` of `net`, reading earlier outputs from `acts` (index = layer
/// index; `acts[0]` is the input) and writing new ones into it. `weights[i]` holds layer
/// `i`'s arrays (owned or shared: anything that borrows as [`LayerWeights`]). Layers
/// before `from` must already be present in `acts`.
pub fn run_from<W: std::borrow::Borrow<LayerWeights>>(
    net: &Network,
    analysis: &Analysis,
    weights: &[W],
    acts: &mut Vec<Option<LayerRun>>,
    from: usize,
) -> Result<(), EngineError> {
    if let Some(msg) = analysis.error(net) {
        return Err(EngineError::Invalid(msg));
    }
    let batch = acts
        .first()
        .and_then(|a| a.as_ref())
        .and_then(|a| a.output.shape().first().copied())
        .unwrap_or(1);
    check_memory(analysis, batch)?;
    acts.resize(net.layers.len(), None);
    for i in from.max(1)..net.layers.len() {
        let layer = &net.layers[i];
        let inbound = net.inbound_indices(i).unwrap_or_default();
        let inputs: Vec<Arc<ArrayD<f32>>> = inbound
            .iter()
            .map(|&j| {
                acts.get(j)
                    .and_then(|a| a.as_ref())
                    .map(|a| a.output.clone())
                    .ok_or_else(|| EngineError::Layer {
                        layer: layer.name.clone(),
                        message: format!("input from layer {j} has not been computed"),
                    })
            })
            .collect::<Result<_, _>>()?;
        let start = Instant::now();
        let empty = Vec::new();
        let w = weights.get(i).map(|w| w.borrow()).unwrap_or(&empty);
        let out = layer_forward(layer, &inputs, w).map_err(|message| EngineError::Layer {
            layer: layer.name.clone(),
            message,
        })?;
        acts[i] = Some(LayerRun {
            output: Arc::new(out),
            millis: start.elapsed().as_secs_f64() * 1e3,
        });
    }
    Ok(())
}

/// Runs the whole network on `input` (Keras layout, batch axis first).
pub fn run(
    net: &Network,
    weights: &[LayerWeights],
    input: ArrayD<f32>,
) -> Result<Vec<Option<LayerRun>>, EngineError> {
    run_shared(net, weights, Arc::new(input))
}

/// [`run`] on an input shared with the caller (no copy of it is made).
pub fn run_shared(
    net: &Network,
    weights: &[LayerWeights],
    input: Arc<ArrayD<f32>>,
) -> Result<Vec<Option<LayerRun>>, EngineError> {
    let analysis = net.analyze();
    check_input(net, input.shape())?;
    let mut acts: Vec<Option<LayerRun>> = vec![None; net.layers.len()];
    acts[0] = Some(LayerRun {
        output: input,
        millis: 0.0,
    });
    run_from(net, &analysis, weights, &mut acts, 1)?;
    Ok(acts)
}

/// Checks an input array against the model's `batch_shape` (batch size is free).
pub fn check_input(net: &Network, shape: &[usize]) -> Result<(), EngineError> {
    let want = net.input_shape().cloned().unwrap_or_default();
    let ok = want.len() == shape.len()
        && want
            .iter()
            .zip(shape)
            .skip(1)
            .all(|(w, g)| w.is_none_or(|w| w == *g as i64))
        && shape.first().is_some_and(|b| *b > 0);
    if ok {
        Ok(())
    } else {
        Err(EngineError::InputShape {
            got: shape.to_vec(),
            want,
        })
    }
}

fn to4(x: &ArrayD<f32>, channels_first: bool) -> Result<CowArray<'_, f32, Ix4>, String> {
    let v = x
        .view()
        .into_dimensionality::<Ix4>()
        .map_err(|_| format!("expected a rank-4 input, got shape {:?}", x.shape()))?;
    Ok(if channels_first {
        CowArray::from(
            v.permuted_axes([0, 2, 3, 1])
                .as_standard_layout()
                .into_owned(),
        )
    } else if v.is_standard_layout() {
        // Borrowed when already contiguous (the usual case): no copy per layer.
        CowArray::from(v)
    } else {
        CowArray::from(v.as_standard_layout().into_owned())
    })
}

fn from4(y: Array4<f32>, channels_first: bool) -> ArrayD<f32> {
    if channels_first {
        y.permuted_axes([0, 3, 1, 2])
            .as_standard_layout()
            .into_owned()
            .into_dyn()
    } else {
        y.into_dyn()
    }
}

fn weight<'a>(w: &'a LayerWeights, i: usize, what: &str) -> Result<&'a ArrayD<f32>, String> {
    w.get(i)
        .ok_or_else(|| format!("missing weight array {i} ({what})"))
}

fn kernel4(a: &ArrayD<f32>) -> Result<ndarray::ArrayView4<'_, f32>, String> {
    a.view()
        .into_dimensionality::<Ix4>()
        .map_err(|_| format!("kernel has shape {:?}, expected rank 4", a.shape()))
}

fn slice_of(a: &ArrayD<f32>) -> Result<&[f32], String> {
    a.as_slice()
        .ok_or_else(|| "weight array is not contiguous".to_string())
}

/// Keras's window geometry for a convolution-like layer on an NHWC input.
fn conv_window(
    x4: &ArrayView4<f32>,
    kernel: &Pair,
    strides: &Pair,
    dilation: &Pair,
    padding: &str,
) -> Window {
    let (_, h, w, _) = x4.dim();
    Window::keras(
        [h, w],
        dims(kernel),
        dims(strides),
        dims(dilation),
        padding.eq_ignore_ascii_case("same"),
    )
}

fn dims(p: &Pair) -> [usize; 2] {
    [p.v[0].max(1) as usize, p.v[1].max(1) as usize]
}

/// One layer's output from its inputs and weights.
pub fn layer_forward(
    layer: &Layer,
    inputs: &[Arc<ArrayD<f32>>],
    w: &LayerWeights,
) -> Result<ArrayD<f32>, String> {
    let x = inputs.first().ok_or("layer has no input")?;
    let cf = layer.kind.data_format() == Some("channels_first");
    let spatial = |x4: &CowArray<f32, Ix4>| [x4.dim().1, x4.dim().2];
    let out = match &layer.kind {
        LayerKind::Input(_) => x.as_ref().clone(),
        LayerKind::Conv2D(c) => {
            let x4 = to4(x, cf)?;
            let win = conv_window(
                &x4.view(),
                &c.kernel_size,
                &c.strides,
                &c.dilation_rate,
                &c.padding,
            );
            let k = kernel4(weight(w, 0, "kernel")?)?;
            let bias = if c.use_bias {
                Some(slice_of(weight(w, 1, "bias")?)?)
            } else {
                None
            };
            let ep = ops::Epilogue::for_activation(&c.activation);
            let groups = c.groups.max(1) as usize;
            let y = ops::conv2d(
                x4.view(),
                k,
                bias,
                &win,
                groups,
                ep.unwrap_or(ops::Epilogue::Linear),
            );
            if ep.is_some() {
                from4(y, cf)
            } else {
                activations::apply(&c.activation, from4(y, cf))?
            }
        }
        LayerKind::DepthwiseConv2D(c) => {
            let x4 = to4(x, cf)?;
            let win = conv_window(
                &x4.view(),
                &c.kernel_size,
                &c.strides,
                &c.dilation_rate,
                &c.padding,
            );
            let k = kernel4(weight(w, 0, "kernel")?)?;
            let bias = if c.use_bias {
                Some(slice_of(weight(w, 1, "bias")?)?)
            } else {
                None
            };
            let y = ops::depthwise(x4.view(), k, bias, &win);
            activations::apply(&c.activation, from4(y, cf))?
        }
        LayerKind::SeparableConv2D(c) => {
            let x4 = to4(x, cf)?;
            let win = conv_window(
                &x4.view(),
                &c.kernel_size,
                &c.strides,
                &c.dilation_rate,
                &c.padding,
            );
            let dk = kernel4(weight(w, 0, "depthwise_kernel")?)?;
            let pk = kernel4(weight(w, 1, "pointwise_kernel")?)?;
            let bias = if c.use_bias {
                Some(slice_of(weight(w, 2, "bias")?)?)
            } else {
                None
            };
            let mid = ops::depthwise(x4.view(), dk, None, &win);
            let (_, mh, mw, _) = mid.dim();
            let pw = Window::keras([mh, mw], [1, 1], [1, 1], [1, 1], false);
            let ep = ops::Epilogue::for_activation(&c.activation);
            let y = ops::conv2d(
                mid.view(),
                pk,
                bias,
                &pw,
                1,
                ep.unwrap_or(ops::Epilogue::Linear),
            );
            if ep.is_some() {
                from4(y, cf)
            } else {
                activations::apply(&c.activation, from4(y, cf))?
            }
        }
        LayerKind::Conv2DTranspose(c) => {
            let x4 = to4(x, cf)?;
            let [h, wd] = spatial(&x4);
            let k = dims(&c.kernel_size);
            let s = dims(&c.strides);
            let d = dims(&c.dilation_rate);
            let same = c.padding.eq_ignore_ascii_case("same");
            let mut out = [0usize; 2];
            let mut pad = [0usize; 2];
            for a in 0..2 {
                let n = [h, wd][a];
                // Saturating: the analysis accepted the output size, but the window
                // itself may be wider than anything (dilation 2^62).
                let keff = k[a]
                    .saturating_sub(1)
                    .saturating_mul(d[a])
                    .saturating_add(1);
                let span = n.saturating_sub(1).saturating_mul(s[a]);
                let op = c.output_padding.map(|p| p.v[a].max(0) as usize);
                out[a] = if same {
                    match op {
                        None => n.saturating_mul(s[a]),
                        Some(op) => span.saturating_add(keff % 2).saturating_add(op),
                    }
                } else {
                    span.saturating_add(keff)
                        .saturating_add(op.unwrap_or(keff.max(s[a]) - keff))
                };
                // The forward convolution that maps `out` back onto `n` pads this much
                // before; the transpose crops the same amount.
                if same {
                    let total = span.saturating_add(keff).saturating_sub(out[a]);
                    pad[a] = total / 2;
                }
            }
            let win = Window {
                kernel: k,
                strides: s,
                dilation: d,
                pad_before: pad,
                out,
            };
            let kern = kernel4(weight(w, 0, "kernel")?)?;
            let bias = if c.use_bias {
                Some(slice_of(weight(w, 1, "bias")?)?)
            } else {
                None
            };
            let y = ops::conv_transpose(x4.view(), kern, bias, &win);
            activations::apply(&c.activation, from4(y, cf))?
        }
        LayerKind::Pooling2D(p) => {
            let x4 = to4(x, cf)?;
            let strides = p.strides.unwrap_or(p.pool_size);
            let win = Window::keras(
                spatial(&x4),
                dims(&p.pool_size),
                dims(&strides),
                [1, 1],
                p.padding == "same",
            );
            from4(ops::pool(x4.view(), &win, p.mode == PoolMode::Max), cf)
        }
        LayerKind::GlobalPooling2D(p) => {
            let x4 = to4(x, cf)?;
            let (n, h, wd, c) = x4.dim();
            let flat = x4
                .into_owned()
                .into_shape_with_order((n, h * wd, c))
                .map_err(|e| e.to_string())?;
            let red = match p.mode {
                PoolMode::Average => flat.mean_axis(Axis(1)).ok_or("empty input")?,
                PoolMode::Max => flat.fold_axis(Axis(1), f32::NEG_INFINITY, |a, b| a.max(*b)),
            };
            if p.keepdims {
                let y = red
                    .into_shape_with_order((n, 1, 1, c))
                    .map_err(|e| e.to_string())?;
                from4(y, cf)
            } else {
                red.into_dyn()
            }
        }
        LayerKind::BatchNormalization(b) => {
            let rank = x.ndim() as i64;
            let ax = if b.axis < 0 { b.axis + rank } else { b.axis } as usize;
            let c = x.shape()[ax];
            let mut idx = 0;
            let mut next = |on: bool, what: &str| -> Result<Option<&[f32]>, String> {
                if !on {
                    return Ok(None);
                }
                let a = slice_of(weight(w, idx, what)?)?;
                idx += 1;
                Ok(Some(a))
            };
            let gamma = next(b.scale, "gamma")?;
            let beta = next(b.center, "beta")?;
            let mean = next(true, "moving_mean")?.unwrap_or(&[]);
            let var = next(true, "moving_variance")?.unwrap_or(&[]);
            if mean.len() != c || var.len() != c {
                return Err(format!(
                    "moving statistics have {} values for {c} channels",
                    mean.len()
                ));
            }
            let eps = b.epsilon as f32;
            let scale: Vec<f32> = (0..c)
                .map(|i| gamma.map_or(1.0, |g| g[i]) / (var[i] + eps).sqrt())
                .collect();
            let shift: Vec<f32> = (0..c)
                .map(|i| beta.map_or(0.0, |bt| bt[i]) - mean[i] * scale[i])
                .collect();
            if ax + 1 == x.ndim() {
                ops::scale_shift_last(x, &scale, &shift)
            } else {
                let mut y = x.as_ref().clone();
                for (i, mut lane) in y.axis_iter_mut(Axis(ax)).enumerate() {
                    let (sc, sh) = (scale[i], shift[i]);
                    lane.mapv_inplace(|v| v * sc + sh);
                }
                y
            }
        }
        LayerKind::Activation { activation } => match activation.as_str() {
            "relu" => ops::map(x, |v| v.max(0.0)),
            a => match activations::elementwise(a) {
                Some(f) => ops::map(x, f),
                None => activations::apply(a, x.as_ref().clone())?,
            },
        },
        LayerKind::ReLU(r) => {
            let max = r.max_value.map(|m| m as f32);
            let slope = r.negative_slope as f32;
            let th = r.threshold as f32;
            x.mapv(|v| {
                let y = if v >= th { v } else { slope * (v - th) };
                match max {
                    Some(m) if y > m => m,
                    _ => y,
                }
            })
        }
        LayerKind::LeakyReLU { negative_slope } => {
            let s = *negative_slope as f32;
            x.mapv(|v| if v >= 0.0 { v } else { s * v })
        }
        LayerKind::Softmax { axis } => activations::softmax_layer(x.as_ref().clone(), *axis)?,
        LayerKind::Dropout(_) | LayerKind::SpatialDropout2D(_) => x.as_ref().clone(),
        LayerKind::Flatten { data_format } => {
            let n = x.shape()[0];
            let src = if data_format == "channels_first" && x.ndim() >= 3 {
                // Keras moves channels last before flattening.
                let mut perm: Vec<usize> = vec![0];
                perm.extend(2..x.ndim());
                perm.push(1);
                x.view()
                    .permuted_axes(IxDyn(&perm))
                    .as_standard_layout()
                    .into_owned()
            } else {
                x.as_ref().as_standard_layout().into_owned()
            };
            let len = src.len() / n.max(1);
            src.into_shape_with_order(IxDyn(&[n, len]))
                .map_err(|e| e.to_string())?
        }
        LayerKind::Dense(d) => {
            let k = weight(w, 0, "kernel")?
                .view()
                .into_dimensionality::<ndarray::Ix2>()
                .map_err(|_| "Dense kernel must be 2-D".to_string())?;
            let cin = k.dim().0;
            let xs = x.as_standard_layout();
            let rows = x.len() / cin.max(1);
            let units = k.dim().1;
            let ks = k.as_standard_layout();
            let xsl = xs.as_slice().ok_or("input is not contiguous")?;
            let ksl = ks.as_slice().ok_or("kernel is not contiguous")?;
            let mut y = vec![0f32; rows * units];
            crate::engine::gemm::sgemm(
                rows,
                units,
                cin,
                xsl,
                cin,
                ksl,
                units,
                &mut y,
                units,
                rayon::current_num_threads(),
            );
            let bias = if d.use_bias {
                Some(slice_of(weight(w, 1, "bias")?)?)
            } else {
                None
            };
            let ep = ops::Epilogue::for_activation(&d.activation);
            ep.unwrap_or(ops::Epilogue::Linear)
                .apply(&mut y, units, bias);
            let mut shape = x.shape().to_vec();
            if let Some(last) = shape.last_mut() {
                *last = units;
            }
            let y = ArrayD::from_shape_vec(IxDyn(&shape), y).map_err(|e| e.to_string())?;
            if ep.is_some() {
                y
            } else {
                activations::apply(&d.activation, y)?
            }
        }
        LayerKind::ZeroPadding2D(p) => {
            let x4 = to4(x, cf)?;
            let a = p.amounts.map(|r| r.map(|v| v.max(0) as usize));
            if p.amounts.iter().flatten().any(|v| *v < 0) {
                return Err(format!(
                    "Paddings must be non-negative: {} {}",
                    p.amounts[0][0], p.amounts[0][1]
                ));
            }
            from4(ops::zero_pad(x4.view(), a), cf)
        }
        LayerKind::Cropping2D(p) => {
            let x4 = to4(x, cf)?;
            let a = p.amounts.map(|r| r.map(|v| v.max(0) as usize));
            from4(ops::crop(x4.view(), a), cf)
        }
        LayerKind::UpSampling2D(u) => {
            let x4 = to4(x, cf)?;
            let size = dims(&u.size);
            let y = match u.interpolation.to_lowercase().as_str() {
                "nearest" => ops::upsample_nearest(x4.view(), size),
                "bilinear" => {
                    let (_, h, wd, _) = x4.dim();
                    ops::resize_bilinear(x4.view(), h * size[0], wd * size[1])
                }
                other => {
                    return Err(format!(
                        "Invalid value for argument `interpolation`. Expected of one \
                         ('bilinear', 'nearest', 'lanczos3', 'lanczos5', 'bicubic', 'area'). \
                         Received: interpolation={other}{}",
                        if ["lanczos3", "lanczos5", "bicubic", "area"].contains(&other) {
                            " (convscope supports nearest and bilinear)"
                        } else {
                            ""
                        }
                    ));
                }
            };
            from4(y, cf)
        }
        LayerKind::Rescaling { scale, offset } => {
            let (s, o) = (*scale as f32, *offset as f32);
            x.mapv(|v| v * s + o)
        }
        LayerKind::Merge(m) => {
            let mut acc = x.as_ref().clone();
            for other in &inputs[1..] {
                let b = other
                    .broadcast(acc.raw_dim())
                    .ok_or("Inputs have incompatible shapes")?;
                ndarray::Zip::from(&mut acc).and(&b).for_each(|a, &v| {
                    *a = match m {
                        MergeKind::Add | MergeKind::Average => *a + v,
                        MergeKind::Subtract => *a - v,
                        MergeKind::Multiply => *a * v,
                        MergeKind::Maximum => a.max(v),
                        MergeKind::Minimum => a.min(v),
                    }
                });
            }
            if *m == MergeKind::Average {
                let n = inputs.len() as f32;
                acc.mapv_inplace(|v| v / n);
            }
            acc
        }
        LayerKind::Concatenate { axis } => {
            let rank = x.ndim() as i64;
            let ax = if *axis < 0 { axis + rank } else { *axis } as usize;
            let views: Vec<_> = inputs.iter().map(|a| a.view()).collect();
            ndarray::concatenate(Axis(ax), &views).map_err(|e| e.to_string())?
        }
    };
    Ok(out)
}
