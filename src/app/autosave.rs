//! Autosave: the design is written to disk shortly after every change, atomically
//! (temporary file + rename), so that a crash or a `kill -9` loses at most the last
//! fraction of a second of work and never leaves a half-written file. The next start
//! opens the autosaved design.
//!
//! The file is JSON: `{"convscope_autosave": 1, "path": <file the design came from or
//! was saved to, or null>, "model": <Keras config JSON>}`.

use crate::io::config;
use crate::model::Network;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Quiet time after the last change before writing.
pub const QUIET: Duration = Duration::from_millis(300);
/// Longest time a change stays unsaved while edits keep coming (a long drag).
pub const MAX_DELAY: Duration = Duration::from_secs(2);

/// Where the autosave goes: `$CONVSCOPE_AUTOSAVE` (a file path; `off` disables it), else
/// `autosave.json` in eframe's storage folder (`~/.local/share/convscope` on Linux).
pub fn default_location() -> Option<PathBuf> {
    match std::env::var_os("CONVSCOPE_AUTOSAVE") {
        Some(v) if v == "off" || v.is_empty() => None,
        Some(v) => Some(PathBuf::from(v)),
        None => eframe::storage_dir("convscope").map(|d| d.join("autosave.json")),
    }
}

/// A design read back from an autosave file.
pub struct Restored {
    pub network: Network,
    pub path: Option<PathBuf>,
}

/// Reads an autosave file (or plain Keras config JSON). `Ok(None)`: there is none.
pub fn read(file: &Path) -> Result<Option<Restored>, String> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(crate::io::describe_io_error(&e)),
    };
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("not JSON ({e})"))?;
    if v.get("convscope_autosave").is_some() {
        let model = v.get("model").ok_or("the autosave has no model")?;
        let network = config::from_value(model).map_err(|e| e.to_string())?;
        let path = v.get("path").and_then(Value::as_str).map(PathBuf::from);
        Ok(Some(Restored { network, path }))
    } else {
        let network = config::from_value(&v).map_err(|e| e.to_string())?;
        Ok(Some(Restored {
            network,
            path: None,
        }))
    }
}

/// The bytes of an autosave file.
pub fn encode(network: &Network, path: Option<&Path>) -> Vec<u8> {
    let v = json!({
        "convscope_autosave": 1,
        "path": path.map(|p| p.display().to_string()),
        "model": config::to_value(network),
    });
    serde_json::to_vec_pretty(&v).unwrap_or_default()
}

/// Tracks what was last written and when the design changed.
pub struct Autosave {
    file: Option<PathBuf>,
    written: Option<(Network, Option<PathBuf>)>,
    first_change: Option<Instant>,
    last_change: Option<Instant>,
    seen: Option<(Network, Option<PathBuf>)>,
    pub quiet: Duration,
    /// The last write error, shown once by the app (the design stays in memory).
    pub error: Option<String>,
}

impl Autosave {
    /// Autosave to `file` (`None`: disabled).
    pub fn new(file: Option<PathBuf>) -> Autosave {
        Autosave {
            file,
            written: None,
            first_change: None,
            last_change: None,
            seen: None,
            quiet: QUIET,
            error: None,
        }
    }

    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// Marks `network` as already on disk (just restored from the autosave).
    pub fn mark_written(&mut self, network: &Network, path: Option<&Path>) {
        self.written = Some((network.clone(), path.map(Path::to_path_buf)));
        self.seen = self.written.clone();
    }

    /// Called every frame with the current design. Writes when the design has been
    /// quiet for [`Autosave::quiet`] (or unsaved for [`MAX_DELAY`]). Returns how long
    /// until it wants to be called again, if a write is pending.
    pub fn tick(
        &mut self,
        network: &Network,
        path: Option<&Path>,
        now: Instant,
    ) -> Option<Duration> {
        let file = self.file.as_ref()?;
        let same = |s: &Option<(Network, Option<PathBuf>)>| {
            s.as_ref()
                .is_some_and(|(n, p)| n == network && p.as_deref() == path)
        };
        if same(&self.written) {
            self.first_change = None;
            return None;
        }
        if !same(&self.seen) {
            self.seen = Some((network.clone(), path.map(Path::to_path_buf)));
            self.last_change = Some(now);
            self.first_change.get_or_insert(now);
        }
        let quiet_for = now.duration_since(self.last_change.unwrap_or(now));
        let waiting = now.duration_since(self.first_change.unwrap_or(now));
        if quiet_for >= self.quiet || waiting >= MAX_DELAY {
            match crate::io::write_atomic(file, &encode(network, path)) {
                Ok(()) => self.error = None,
                Err(e) => {
                    self.error = Some(format!(
                        "Autosave to {} failed: {}. Your design is still here; save it elsewhere.",
                        file.display(),
                        crate::io::describe_io_error(&e)
                    ))
                }
            }
            // Written (or failed: not retried until the next change).
            self.written = self.seen.clone();
            self.first_change = None;
            None
        } else {
            Some(
                (self.quiet - quiet_for.min(self.quiet))
                    .min(MAX_DELAY.saturating_sub(waiting))
                    .max(Duration::from_millis(10)),
            )
        }
    }
}
