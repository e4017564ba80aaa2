//! The engine worker: a named background thread that draws missing weights and runs the
//! forward pass, so the UI never waits on it. Jobs carry a generation number; results
//! of an older generation are dropped by the receiver. A panic inside the engine is
//! caught and reported as an error, never taking the window down.

use crate::engine::forward::{LayerRun, LayerWeights, run_from};
use crate::engine::presets::{Preset, preset_weights};
use crate::engine::weights::initialize_layer;
use crate::model::{Analysis, Network};
use ndarray::ArrayD;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};

/// What to compute.
pub struct Job {
    pub generation: u64,
    pub network: Network,
    pub analysis: Analysis,
    /// Per layer: weights to reuse (`None`: draw them from the initializers).
    pub weights: Vec<Option<Arc<LayerWeights>>>,
    pub input: Arc<ArrayD<f32>>,
    /// Activations to keep (index < `from`).
    pub cached: Vec<Option<LayerRun>>,
    pub from: usize,
    /// Per layer: the seed its initializers draw with.
    pub seeds: Vec<u64>,
    /// Per layer: hand-made filters instead of the initializers.
    pub presets: Vec<Option<Preset>>,
}

/// What came back.
pub struct Done {
    pub generation: u64,
    pub weights: Vec<Option<Arc<LayerWeights>>>,
    pub acts: Vec<Option<LayerRun>>,
    /// Layers actually evaluated by this job.
    pub evaluated: Vec<usize>,
    pub error: Option<String>,
}

/// Handle to the worker thread.
pub struct Worker {
    jobs: Sender<Job>,
    pub results: Receiver<Done>,
}

impl Worker {
    /// Starts the thread; `wake` is called when a result is ready (the app passes
    /// `egui::Context::request_repaint`).
    pub fn start(wake: impl Fn() + Send + 'static) -> Option<Worker> {
        Worker::start_with(wake, compute)
    }

    /// Starts the thread with another job runner (tests use one that panics).
    pub fn start_with(
        wake: impl Fn() + Send + 'static,
        compute: impl Fn(Job) -> Done + Send + 'static,
    ) -> Option<Worker> {
        let (jobs, job_rx) = channel::<Job>();
        let (done_tx, results) = channel::<Done>();
        std::thread::Builder::new()
            .name("convscope-engine".into())
            .spawn(move || {
                while let Ok(mut job) = job_rx.recv() {
                    // Only the newest queued job matters.
                    while let Ok(newer) = job_rx.try_recv() {
                        job = newer;
                    }
                    let generation = job.generation;
                    let done =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| compute(job)))
                            .unwrap_or_else(|p| Done {
                                generation,
                                weights: Vec::new(),
                                acts: Vec::new(),
                                evaluated: Vec::new(),
                                error: Some(format!(
                                    "the engine failed unexpectedly: {}",
                                    p.downcast_ref::<String>()
                                        .cloned()
                                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                                        .unwrap_or_default()
                                )),
                            });
                    if done_tx.send(done).is_err() {
                        break;
                    }
                    wake();
                }
            })
            .ok()?;
        Some(Worker { jobs, results })
    }

    pub fn submit(&self, job: Job) -> bool {
        self.jobs.send(job).is_ok()
    }
}

/// Whether `w` has exactly the arrays `specs` asks for.
pub fn fits(w: &LayerWeights, specs: &[crate::model::analysis::WeightSpec]) -> bool {
    w.len() == specs.len()
        && w.iter().zip(specs).all(|(a, s)| {
            a.shape()
                .iter()
                .map(|&d| d as i64)
                .eq(s.shape.iter().copied())
        })
}

/// Runs one job (also used directly by tests).
pub fn compute(job: Job) -> Done {
    let Job {
        generation,
        network,
        analysis,
        mut weights,
        input,
        mut cached,
        from,
        seeds,
        presets,
    } = job;
    let fail = |e: String, weights, acts| Done {
        generation,
        weights,
        acts,
        evaluated: Vec::new(),
        error: Some(e),
    };
    if let Some(e) = analysis.error(&network) {
        return fail(e, weights, Vec::new());
    }
    // Before drawing weights or running: a design too large for this machine is refused.
    if let Err(e) =
        crate::engine::forward::check_memory(&analysis, input.shape().first().copied().unwrap_or(1))
    {
        return fail(e.to_string(), weights, Vec::new());
    }
    weights.resize(network.layers.len(), None);
    for (i, (layer, report)) in network.layers.iter().zip(&analysis.layers).enumerate() {
        let fits = weights[i]
            .as_ref()
            .is_some_and(|w| fits(w, &report.weights));
        if !fits {
            let drawn = match presets.get(i).copied().flatten() {
                Some(p) => preset_weights(p, layer, &report.weights)
                    .map_err(|e| format!("layer '{}': {e}", layer.name)),
                None => {
                    initialize_layer(layer, &report.weights, seeds.get(i).copied().unwrap_or(0))
                        .map_err(|e| e.to_string())
                }
            };
            match drawn {
                Ok(w) => weights[i] = Some(Arc::new(w)),
                Err(e) => return fail(e, weights, Vec::new()),
            }
        }
    }
    // Shared, not copied: the run borrows each layer's arrays.
    let plain: Vec<Arc<LayerWeights>> = weights
        .iter()
        .map(|w| w.clone().unwrap_or_default())
        .collect();
    cached.resize(network.layers.len(), None);
    cached[0] = Some(LayerRun {
        output: input,
        millis: 0.0,
    });
    let from = from.max(1);
    for a in cached.iter_mut().skip(from) {
        *a = None;
    }
    match run_from(&network, &analysis, &plain, &mut cached, from) {
        Ok(()) => Done {
            generation,
            weights,
            acts: cached,
            evaluated: (from..network.layers.len()).collect(),
            error: None,
        },
        Err(e) => fail(e.to_string(), weights, cached),
    }
}
