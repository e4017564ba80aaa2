//! The forward pass over a [`Network`]'s graph in inference mode: each layer's kind
//! computes its output from its inputs' ([`crate::layers::LayerSpec::forward`]), in
//! Keras's own tensor layout. Activations of every layer are kept so the viewer can show
//! all of them, and a run recomputes only the layers an edit made dirty, reusing the
//! cached activations of the others.
//!
//! [`predict`] is the other way to run a network, for when only the model's outputs are
//! wanted (`convscope bench`, as TensorFlow's graph mode is timed): intermediate outputs
//! are dropped once their last reader has run, and element-wise layers run in place.

use crate::kernels::Pointwise;
use crate::model::analysis::Analysis;
use crate::model::network::Network;
use crate::progress::Progress;
use ndarray::ArrayD;
use std::sync::Arc;
use std::time::Instant;
use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum EngineError {
    #[error("the model is invalid: {0}")]
    Invalid(String),
    #[error("layer '{layer}': {message}")]
    Layer { layer: String, message: String },
    #[error(
        "input shape {} does not match the model's input {}",
        crate::keras::pyfmt::tuple(&got.iter().map(|&d| d as i64).collect::<Vec<_>>()),
        crate::keras::pyfmt::tuple_opt(want)
    )]
    InputShape {
        got: Vec<usize>,
        want: Vec<Option<i64>>,
    },
    #[error("the model has {} inputs ({}), {got} given: one array per input, in this order", want.len(), want.join(", "))]
    InputCount { got: usize, want: Vec<String> },
    #[error("the inputs have different batch sizes: {0:?}")]
    InputBatches(Vec<usize>),
    #[error(
        "this run needs about {} for its activations and weights, more than the limit of {} \
         (half of this machine's memory); use a smaller input, fewer filters or larger strides",
        gib(*needed),
        gib(*limit)
    )]
    TooLarge { needed: u64, limit: u64 },
    /// Stopped by the user ([`crate::progress::Progress::cancel`]).
    #[error("cancelled")]
    Cancelled,
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

pub use crate::layers::LayerWeights;

/// Result of one layer: its output and how long it took.
#[derive(Clone, Debug)]
pub struct LayerRun {
    pub output: Arc<ArrayD<f32>>,
    pub millis: f64,
}

/// Runs layers `from..` of `net` (see [`run_dirty`]).
pub fn run_from<W: std::borrow::Borrow<LayerWeights>>(
    net: &Network,
    analysis: &Analysis,
    weights: &[W],
    acts: &mut Vec<Option<LayerRun>>,
    from: usize,
) -> Result<(), EngineError> {
    let dirty: Vec<bool> = (0..net.len()).map(|i| i >= from.max(1)).collect();
    run_dirty(net, analysis, weights, acts, &dirty)
}

/// Runs the layers of `net` marked in `dirty`, reading the others' outputs from `acts`
/// (index = layer position; the input layers' slots hold the inputs) and writing new
/// ones into it.
/// `weights[i]` holds layer `i`'s arrays (owned or shared: anything that borrows as
/// [`LayerWeights`]).
pub fn run_dirty<W: std::borrow::Borrow<LayerWeights>>(
    net: &Network,
    analysis: &Analysis,
    weights: &[W],
    acts: &mut Vec<Option<LayerRun>>,
    dirty: &[bool],
) -> Result<(), EngineError> {
    run_dirty_with(net, analysis, weights, acts, dirty, &Progress::new())
}

/// [`run_dirty`] counting the multiply-accumulates done (one more per layer, so layers
/// without any count too) on `progress`, and stopping with [`EngineError::Cancelled`]
/// before the next layer once it is cancelled (the window's Cancel button).
pub fn run_dirty_with<W: std::borrow::Borrow<LayerWeights>>(
    net: &Network,
    analysis: &Analysis,
    weights: &[W],
    acts: &mut Vec<Option<LayerRun>>,
    dirty: &[bool],
    progress: &Progress,
) -> Result<(), EngineError> {
    if let Some(msg) = analysis.error(net) {
        return Err(EngineError::Invalid(msg));
    }
    let batch = net
        .input_layers()
        .first()
        .and_then(|&i| acts.get(i)?.as_ref())
        .and_then(|a| a.output.shape().first().copied())
        .unwrap_or(1);
    check_memory(analysis, batch)?;
    acts.resize(net.len(), None);
    let to_run = |i: usize, acts: &[Option<LayerRun>]| {
        !net.layers()[i].kind.is_input()
            && (dirty.get(i).copied().unwrap_or(true) || acts[i].is_none())
    };
    let work = |i: usize| analysis.layers.get(i).map_or(0, |r| r.macs.max(0) as u64) + 1;
    progress.set_total((0..net.len()).filter(|&i| to_run(i, acts)).map(work).sum());
    for (i, layer) in net.layers().iter().enumerate() {
        if !to_run(i, acts) {
            continue;
        }
        if progress.cancelled() {
            return Err(EngineError::Cancelled);
        }
        let inputs: Vec<Arc<ArrayD<f32>>> = net
            .inputs_of(i)
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
        let w: &[ArrayD<f32>] = weights.get(i).map_or(&[], |w| w.borrow().as_slice());
        let out = layer
            .kind
            .spec()
            .forward(&inputs, w)
            .map_err(|message| EngineError::Layer {
                layer: layer.name.clone(),
                message,
            })?;
        acts[i] = Some(LayerRun {
            output: Arc::new(out),
            millis: start.elapsed().as_secs_f64() * 1e3,
        });
        progress.advance(work(i));
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
    run_inputs(net, weights, vec![input])
}

/// The whole network on its inputs, one array each in [`Network::input_layers`] order.
pub fn run_inputs<W: std::borrow::Borrow<LayerWeights>>(
    net: &Network,
    weights: &[W],
    inputs: Vec<Arc<ArrayD<f32>>>,
) -> Result<Vec<Option<LayerRun>>, EngineError> {
    let analysis = net.analyze();
    let mut acts: Vec<Option<LayerRun>> = vec![None; net.len()];
    for (i, x) in place_inputs(net, inputs)? {
        acts[i] = Some(LayerRun {
            output: x,
            millis: 0.0,
        });
    }
    run_from(net, &analysis, weights, &mut acts, 1)?;
    Ok(acts)
}

/// An input array and the position of the input layer it feeds.
pub type Placed = (usize, Arc<ArrayD<f32>>);

/// The inputs checked (their number, each one's shape, one batch size) and paired with
/// the positions of the input layers they feed.
pub fn place_inputs(
    net: &Network,
    inputs: Vec<Arc<ArrayD<f32>>>,
) -> Result<Vec<Placed>, EngineError> {
    let at = net.input_layers();
    if at.len() != inputs.len() {
        return Err(EngineError::InputCount {
            got: inputs.len(),
            want: at.iter().map(|&i| net.layers()[i].name.clone()).collect(),
        });
    }
    for (k, x) in inputs.iter().enumerate() {
        check_input_at(net, k, x.shape())?;
    }
    let batches: Vec<usize> = inputs
        .iter()
        .map(|x| x.shape().first().copied().unwrap_or(0))
        .collect();
    if batches.windows(2).any(|w| w[0] != w[1]) {
        return Err(EngineError::InputBatches(batches));
    }
    Ok(at.into_iter().zip(inputs).collect())
}

/// What [`predict`] gives: the model's outputs (in [`Network::outputs`]'s order) and the
/// time each layer took (0 for a layer that ran inside the pass of the one before it),
/// and the most bytes of layer outputs alive at once (the input included).
pub struct Prediction {
    pub outputs: Vec<Arc<ArrayD<f32>>>,
    pub millis: Vec<f64>,
    pub peak_bytes: usize,
}

/// Runs the network on `input` keeping only what is still to be read: each layer's output
/// is dropped once its last consumer has run (unless it is a model output). A layer with
/// a [`crate::layers::LayerSpec::pointwise`] form (BatchNormalization on the last axis,
/// element-wise activations, Rescaling, Dropout) whose input nothing else reads runs in
/// place on that buffer, and a chain of such layers in one pass over memory; the chain
/// that alone follows a layer whose kind takes it ([`crate::layers::LayerSpec::takes_then`]:
/// Conv2D → BatchNormalization → ReLU) runs inside that layer's kernel, block by block.
/// Every element goes through the same `f32` operations in the same order as in [`run`],
/// so the outputs are bit for bit the same.
///
/// `analysis` is `net.analyze()`, made once by the caller (a benchmark runs the same
/// network many times).
pub fn predict<W: std::borrow::Borrow<LayerWeights>>(
    net: &Network,
    analysis: &Analysis,
    weights: &[W],
    input: Arc<ArrayD<f32>>,
) -> Result<Prediction, EngineError> {
    predict_inputs(net, analysis, weights, vec![input])
}

/// [`predict`] on several inputs, one array each in [`Network::input_layers`] order.
pub fn predict_inputs<W: std::borrow::Borrow<LayerWeights>>(
    net: &Network,
    analysis: &Analysis,
    weights: &[W],
    inputs: Vec<Arc<ArrayD<f32>>>,
) -> Result<Prediction, EngineError> {
    if let Some(msg) = analysis.error(net) {
        return Err(EngineError::Invalid(msg));
    }
    let placed = place_inputs(net, inputs)?;
    let batch = placed
        .first()
        .and_then(|(_, x)| x.shape().first().copied())
        .unwrap_or(1);
    check_memory(analysis, batch)?;
    let n = net.len();
    let inputs: Vec<Vec<usize>> = (0..n).map(|i| net.inputs_of(i)).collect();
    let outputs = net.outputs();
    let mut keep = vec![false; n];
    for &o in &outputs {
        keep[o] = true;
    }
    // Readers still to run, per layer; the only reader of each layer read exactly once.
    let mut readers = vec![0usize; n];
    let mut only_reader: Vec<Option<usize>> = vec![None; n];
    for (i, ins) in inputs.iter().enumerate() {
        for &j in ins {
            readers[j] += 1;
            only_reader[j] = Some(i);
        }
    }
    // The one layer that reads `j`'s output, when only one does and it reads nothing else.
    let total = readers.clone();
    let sole = |j: usize| -> Option<usize> {
        only_reader[j].filter(|&k| total[j] == 1 && inputs[k] == [j] && !keep[j])
    };
    let weights_of =
        |i: usize| -> &[ArrayD<f32>] { weights.get(i).map_or(&[], |w| w.borrow().as_slice()) };
    let bytes = |a: &ArrayD<f32>| a.len() * std::mem::size_of::<f32>();
    let mut live = 0;
    let mut acts: Vec<Option<Arc<ArrayD<f32>>>> = vec![None; n];
    let mut done = vec![false; n];
    for (i, x) in placed {
        live += bytes(&x);
        acts[i] = Some(x);
        done[i] = true;
    }
    let mut peak_bytes = live;
    let mut millis = vec![0.0; n];
    for i in 0..n {
        if done[i] {
            continue;
        }
        let layer = &net.layers()[i];
        let fail = |name: &str, message: String| EngineError::Layer {
            layer: name.to_string(),
            message,
        };
        let start = Instant::now();
        let ins: Vec<Arc<ArrayD<f32>>> = inputs[i]
            .iter()
            .map(|&j| {
                acts[j].clone().ok_or_else(|| {
                    fail(
                        &layer.name,
                        format!("input from layer {j} has not been computed"),
                    )
                })
            })
            .collect::<Result<_, _>>()?;
        // In place: this layer and the element-wise layers that alone read it after it.
        let mut last = i;
        let mut chain = Vec::new();
        if let [x] = ins.as_slice() {
            let mut k = i;
            while let Some(p) = net.layers()[k]
                .kind
                .spec()
                .pointwise(x.shape(), weights_of(k))
            {
                let p = p.map_err(|m| fail(&net.layers()[k].name, m))?;
                if !p.fits(x.shape()) {
                    break;
                }
                chain.push(p);
                last = k;
                match sole(k) {
                    Some(next) => k = next,
                    None => break,
                }
            }
        }
        // Not element-wise itself: the element-wise layers that alone read it after it
        // (Conv2D → BatchNormalization → ReLU's last two) go into its kernel's blocks
        // when its kind takes them.
        let mut fused = None;
        if chain.is_empty()
            && layer.kind.spec().takes_then()
            && let Some(shape) = batch_shape(
                analysis,
                i,
                ins.first()
                    .and_then(|x| x.shape().first().copied())
                    .unwrap_or(1),
            )
        {
            let mut then = Vec::new();
            let mut k = i;
            while let Some(next) = sole(k) {
                match net.layers()[next]
                    .kind
                    .spec()
                    .pointwise(&shape, weights_of(next))
                {
                    Some(Ok(p)) if p.fits(&shape) => {
                        then.push(p);
                        k = next;
                    }
                    _ => break,
                }
            }
            if !then.is_empty() {
                let out = layer.kind.spec().forward_then(&ins, weights_of(i), &then);
                fused = Some(out.map_err(|m| fail(&layer.name, m))?);
                last = k;
            }
        }
        let out = if let Some(out) = fused {
            drop(ins);
            live += bytes(&out);
            Arc::new(out)
        } else if chain.is_empty() {
            let out = layer
                .kind
                .spec()
                .forward(&ins, weights_of(i))
                .map_err(|m| fail(&layer.name, m))?;
            drop(ins); // before the inputs' buffers are counted as freed below
            live += bytes(&out);
            Arc::new(out)
        } else {
            let j = inputs[i][0];
            drop(ins);
            let shared = acts[j]
                .take()
                .ok_or_else(|| fail(&layer.name, "no input".into()))?;
            if chain.iter().all(Pointwise::is_identity) {
                acts[j] = Some(shared.clone());
                shared
            } else {
                // The input's own buffer when this chain is its last reader; else the
                // first step writes a new array and the others change that.
                let mut x = if readers[j] == 1 && !keep[j] {
                    Arc::try_unwrap(shared).unwrap_or_else(|a| {
                        live += bytes(&a);
                        a.as_ref().clone()
                    })
                } else {
                    let first = chain.remove(0).apply(&shared);
                    live += bytes(&first);
                    acts[j] = Some(shared);
                    first
                };
                Pointwise::apply_chain(&chain, &mut x);
                Arc::new(x)
            }
        };
        millis[i] = start.elapsed().as_secs_f64() * 1e3;
        let mut k = i;
        while k != last {
            done[k] = true;
            k = only_reader[k].unwrap_or(last);
        }
        done[last] = true;
        acts[last] = Some(out);
        peak_bytes = peak_bytes.max(live);
        for &j in &inputs[i] {
            readers[j] = readers[j].saturating_sub(1);
            if readers[j] == 0 && !keep[j] {
                // Freed unless another slot shares the buffer (an identity layer's).
                if let Some(a) = acts[j].take()
                    && Arc::strong_count(&a) == 1
                {
                    live -= bytes(&a);
                }
            }
        }
    }
    let outputs = outputs
        .iter()
        .map(|&o| {
            acts[o].clone().ok_or_else(|| EngineError::Layer {
                layer: net.layers()[o].name.clone(),
                message: "the output was not computed".into(),
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(Prediction {
        outputs,
        millis,
        peak_bytes,
    })
}

/// Layer `i`'s output shape from the analysis with the batch size `batch`, when every
/// other dimension is known.
fn batch_shape(analysis: &Analysis, i: usize, batch: usize) -> Option<Vec<usize>> {
    let shape = analysis.layers.get(i)?.output_shape.as_ref()?;
    let (_, rest) = shape.split_first()?;
    std::iter::once(Some(batch))
        .chain(rest.iter().map(|d| d.and_then(|v| usize::try_from(v).ok())))
        .collect()
}

/// Checks an input array against the model's (first) `batch_shape` (batch size is free).
pub fn check_input(net: &Network, shape: &[usize]) -> Result<(), EngineError> {
    check_input_at(net, 0, shape)
}

/// Checks the array for input `k` ([`Network::input_layers`] order).
pub fn check_input_at(net: &Network, k: usize, shape: &[usize]) -> Result<(), EngineError> {
    let want = net.input_shape_of(k).cloned().unwrap_or_default();
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
