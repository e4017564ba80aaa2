//! The engine worker: a named background thread that draws missing weights and runs the
//! forward pass, so the UI never waits on it. Jobs carry a generation number; results
//! of an older generation are dropped by the receiver. A panic inside the engine is
//! caught and reported as an error, never taking the window down.

use crate::engine::forward::{EngineError, LayerRun, run_dirty_with};
use crate::engine::weights::{Drawn, WeightPlan};
use crate::model::{Analysis, Network};
use crate::progress::Progress;
use ndarray::ArrayD;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};

/// What to compute.
pub struct Job {
    pub generation: u64,
    pub network: Network,
    pub analysis: Analysis,
    /// Where each layer's weights come from.
    pub plan: WeightPlan,
    /// Per layer: weights already made (reused when the plan makes the same ones).
    pub drawn: Vec<Option<Drawn>>,
    /// The model's inputs, one array per input layer in [`Network::input_layers`] order.
    pub inputs: Vec<Arc<ArrayD<f32>>>,
    /// Per layer: activations to keep (where `dirty` is false).
    pub cached: Vec<Option<LayerRun>>,
    /// Per layer: whether it must be computed.
    pub dirty: Vec<bool>,
    /// Counts the work done; cancelled by the window's Cancel button or by a newer job.
    pub progress: Progress,
}

/// What came back.
pub struct Done {
    pub generation: u64,
    pub drawn: Vec<Option<Drawn>>,
    pub acts: Vec<Option<LayerRun>>,
    /// Layers actually evaluated by this job.
    pub evaluated: Vec<usize>,
    pub error: Option<String>,
    /// The job stopped because its progress was cancelled.
    pub cancelled: bool,
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
                                drawn: Vec::new(),
                                acts: Vec::new(),
                                evaluated: Vec::new(),
                                cancelled: false,
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

/// Runs one job (also used directly by tests): makes the weights the plan asks for
/// (reusing the ones already made from the same key), then computes the dirty layers.
pub fn compute(job: Job) -> Done {
    let Job {
        generation,
        network,
        analysis,
        plan,
        mut drawn,
        inputs,
        mut cached,
        mut dirty,
        progress,
    } = job;
    let fail = |e: String, drawn, acts| Done {
        generation,
        drawn,
        acts,
        evaluated: Vec::new(),
        cancelled: progress.cancelled(),
        error: Some(e),
    };
    if let Some(e) = analysis.error(&network) {
        return fail(e, drawn, Vec::new());
    }
    // Before making weights or running: a design too large for this machine is refused.
    let batch = inputs
        .first()
        .and_then(|x| x.shape().first().copied())
        .unwrap_or(1);
    if let Err(e) = crate::engine::forward::check_memory(&analysis, batch) {
        return fail(e.to_string(), drawn, Vec::new());
    }
    let placed = match crate::engine::forward::place_inputs(&network, inputs) {
        Ok(p) => p,
        Err(e) => return fail(e.to_string(), drawn, Vec::new()),
    };
    let n = network.len();
    drawn.resize(n, None);
    dirty.resize(n, true);
    for (i, (layer, report)) in network.layers().iter().zip(&analysis.layers).enumerate() {
        if progress.cancelled() {
            return fail(EngineError::Cancelled.to_string(), drawn, Vec::new());
        }
        match plan.resolve(layer, &report.weights, drawn[i].as_ref()) {
            Ok(d) => drawn[i] = Some(d),
            Err(e) => return fail(e, drawn, Vec::new()),
        }
    }
    // Shared, not copied: the run borrows each layer's arrays.
    let weights: Vec<Arc<crate::engine::LayerWeights>> = drawn
        .iter()
        .map(|d| d.as_ref().map(|d| d.weights.clone()).unwrap_or_default())
        .collect();
    cached.resize(n, None);
    for (a, d) in cached.iter_mut().zip(&dirty) {
        if *d {
            *a = None;
        }
    }
    for (i, x) in placed {
        cached[i] = Some(LayerRun {
            output: x,
            millis: 0.0,
        });
        dirty[i] = false;
    }
    let evaluated = (0..n)
        .filter(|&i| !network.layers()[i].kind.is_input())
        .filter(|&i| dirty[i] || cached[i].is_none())
        .collect();
    match run_dirty_with(
        &network,
        &analysis,
        &weights,
        &mut cached,
        &dirty,
        &progress,
    ) {
        Ok(()) => Done {
            generation,
            drawn,
            acts: cached,
            evaluated,
            cancelled: false,
            error: None,
        },
        Err(e) => fail(e.to_string(), drawn, cached),
    }
}

/// Runs `job` on a thread of its own, then asks the window for a frame (`wake`); without
/// a window (the headless tests) runs it now.
pub fn run_job(wake: Option<Arc<dyn Fn() + Send + Sync>>, job: impl FnOnce() + Send + 'static) {
    match wake {
        Some(wake) => {
            std::thread::spawn(move || {
                job();
                wake();
            });
        }
        None => job(),
    }
}

/// A job's progress bar with `text` and a button (`label`, explained by `hover`) that
/// cancels it; asks for frames while the job runs.
pub fn job_bar(ui: &mut egui::Ui, progress: &Progress, text: String, label: &str, hover: &str) {
    ui.horizontal(|ui| {
        ui.add(
            egui::ProgressBar::new(progress.fraction().unwrap_or(0.0))
                .desired_width(260.0)
                .text(text),
        );
        if ui.button(label).on_hover_text(hover).clicked() {
            progress.cancel();
        }
    });
    ui.ctx()
        .request_repaint_after(std::time::Duration::from_millis(100));
}
