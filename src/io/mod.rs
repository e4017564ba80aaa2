//! Files in and out: Keras config JSON (all dialects), `.keras` archives, legacy `.h5`
//! model files, weights from `.keras`/`.h5`/`.npz`, `.keras` writing (config +
//! weights), `.npy`/`.npz`, images, Keras Python and PyTorch code, SVG/PNG diagrams.
//! Readers never panic on bad input: they return an error with a message that names the
//! file part that is wrong.

pub mod config;
pub mod diagram;
pub mod image;
pub mod keras_file;
pub mod keras_write;
pub mod npy;
pub mod python;
pub mod pytorch;
pub mod weights;

pub use keras_file::{LoadError, LoadedModel, load_model, load_model_bytes, open_model};

/// Says what an I/O error means for the person saving or opening a file: a full disk,
/// a read-only disk or folder, a missing folder; the system's wording follows.
pub fn describe_io_error(e: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    let what = match e.kind() {
        K::StorageFull => "the disk is full",
        K::QuotaExceeded => "the disk quota is exceeded",
        K::ReadOnlyFilesystem => "the disk is read-only",
        K::PermissionDenied => {
            "permission denied: the file or its folder is not writable (or not readable) for you"
        }
        K::NotFound => "no such file or folder",
        K::IsADirectory => "that is a folder, not a file",
        K::NotADirectory => "a part of the path is a file, not a folder",
        _ => return e.to_string(),
    };
    format!("{what} ({e})")
}

/// Reads all of `r` if it holds at most `limit` bytes; `Ok(None)` when it holds more
/// (a guard against zip bombs and huge entries: never more than `limit + 1` is read).
pub fn read_at_most(r: impl std::io::Read, limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read;
    let mut out = Vec::new();
    r.take(limit.saturating_add(1)).read_to_end(&mut out)?;
    Ok((out.len() as u64 <= limit).then_some(out))
}

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, then a
/// rename, so a failed save never destroys the previous file.
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| std::path::Path::new("."));
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "convscope".into());
    let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
