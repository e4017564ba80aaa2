//! Opening a model file off the UI thread: its config, the analysis and its weights are
//! read on a thread of its own while the status bar shows a progress bar (values read
//! out of all the weights' values) and a Cancel button. The result is applied in the
//! frame it arrives, as one change of the document; a cancelled or failed open leaves
//! the design as it was. (VGG16's 528 MB `.keras` took 0.9 s on the UI thread, a frozen
//! window with no word of what it was doing.)

use crate::io::keras_file::{FileKind, LoadedModel};
use crate::layers::{LayerWeights, WeightError};
use crate::model::Analysis;
use crate::progress::Progress;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, TryRecvError, channel};

/// A model file as the window takes it: the network, what Keras says about it, and the
/// file's weights (`None` for config JSON, which has none).
pub struct Opened {
    pub model: LoadedModel,
    pub analysis: Analysis,
    pub weights: Option<Result<Vec<LayerWeights>, WeightError>>,
}

/// Why a file did not open: a message for the status bar.
pub type Failed = String;

/// Reads the model at `path` (config, analysis, then weights, counted on `progress`).
/// When `progress` is cancelled the work stops early; what it returns is then dropped.
pub fn open(path: &Path, progress: &Progress) -> Result<Opened, Failed> {
    let model = crate::io::open_model(path).map_err(|e| e.to_string())?;
    let analysis = model.network.analyze();
    if progress.cancelled() {
        return Err(WeightError::Cancelled.to_string());
    }
    // The file's weights, read into their arrays (only its config was read to open it,
    // as `run` does: the file is never in memory beside its weights).
    let weights = match model.kind {
        FileKind::Keras | FileKind::H5 => Some(crate::engine::outside_the_heap(|| {
            crate::io::weights::from_path_with(
                path,
                model.kind == FileKind::Keras,
                &model.network,
                &analysis,
                &model.provenance.nested,
                progress,
            )
        })),
        FileKind::Json => None,
    };
    Ok(Opened {
        model,
        analysis,
        weights,
    })
}

/// An open in flight on its own thread.
pub struct Loading {
    pub path: PathBuf,
    pub progress: Progress,
    results: Receiver<Result<Opened, Failed>>,
}

/// What [`Loading::poll`] found.
pub enum Polled {
    Running,
    /// The file, or why not.
    Done(Box<Result<Opened, Failed>>),
    /// The user pressed Cancel (whatever the thread made is dropped).
    Cancelled,
}

impl Loading {
    /// Starts reading `path` on a new thread; `wake` is called when it is done (the
    /// window passes `egui::Context::request_repaint`).
    pub fn start(path: PathBuf, wake: impl Fn() + Send + 'static) -> Result<Loading, Failed> {
        let p = path.clone();
        Loading::start_with(path, wake, move |progress| open(&p, progress))
    }

    /// Starts `work` as the open of `path` (tests use work that waits for a cancel).
    pub fn start_with(
        path: PathBuf,
        wake: impl Fn() + Send + 'static,
        work: impl FnOnce(&Progress) -> Result<Opened, Failed> + Send + 'static,
    ) -> Result<Loading, Failed> {
        let progress = Progress::new();
        let (tx, results) = channel();
        let p = progress.clone();
        std::thread::Builder::new()
            .name("convscope-open".into())
            .spawn(move || {
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&p)))
                    .unwrap_or_else(|_| Err("the reader failed unexpectedly".into()));
                // The window may have gone: nobody to tell.
                let _ = tx.send(r);
                wake();
            })
            .map_err(|e| format!("cannot start a thread to read the file: {e}"))?;
        Ok(Loading {
            path,
            progress,
            results,
        })
    }

    /// The result, once there is one.
    pub fn poll(&self) -> Polled {
        if self.progress.cancelled() {
            return Polled::Cancelled;
        }
        match self.results.try_recv() {
            Ok(r) => Polled::Done(Box::new(r)),
            Err(TryRecvError::Empty) => Polled::Running,
            Err(TryRecvError::Disconnected) => {
                Polled::Done(Box::new(Err("the reader stopped unexpectedly".into())))
            }
        }
    }

    /// `vgg16.keras`: what the status bar names.
    pub fn file_name(&self) -> String {
        self.path.file_name().map_or_else(
            || self.path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancelled_open_stops_before_reading_the_weights() {
        let dir = std::env::temp_dir().join(format!("convscope-loader-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("m.json");
        std::fs::write(&path, crate::app::EXAMPLE_JSON).unwrap();
        let p = Progress::new();
        assert!(open(&path, &p).is_ok_and(|o| o.weights.is_none()));
        p.cancel();
        assert_eq!(open(&path, &p).err().as_deref(), Some("cancelled"));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_panicking_reader_is_reported_not_fatal() {
        let l = Loading::start_with("x.keras".into(), || {}, |_| panic!("boom")).unwrap();
        let r = loop {
            match l.poll() {
                Polled::Running => std::thread::yield_now(),
                Polled::Done(r) => break *r,
                Polled::Cancelled => unreachable!(),
            }
        };
        assert_eq!(r.err().as_deref(), Some("the reader failed unexpectedly"));
    }
}
