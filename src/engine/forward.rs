//! The forward pass over a [`Network`]'s graph in inference mode: each layer's kind
//! computes its output from its inputs' ([`crate::layers::LayerSpec::forward`]), in
//! Keras's own tensor layout. Activations of every layer are kept so the viewer can show
//! all of them, and a run recomputes only the layers an edit made dirty, reusing the
//! cached activations of the others.

use crate::model::analysis::Analysis;
use crate::model::network::Network;
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
/// (index = layer position; `acts[0]` is the input) and writing new ones into it.
/// `weights[i]` holds layer `i`'s arrays (owned or shared: anything that borrows as
/// [`LayerWeights`]).
pub fn run_dirty<W: std::borrow::Borrow<LayerWeights>>(
    net: &Network,
    analysis: &Analysis,
    weights: &[W],
    acts: &mut Vec<Option<LayerRun>>,
    dirty: &[bool],
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
    acts.resize(net.len(), None);
    for (i, layer) in net.layers().iter().enumerate().skip(1) {
        if !dirty.get(i).copied().unwrap_or(true) && acts[i].is_some() {
            continue;
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
    let mut acts: Vec<Option<LayerRun>> = vec![None; net.len()];
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
