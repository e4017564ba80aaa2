//! Opening a model file of any supported kind, by content rather than by name:
//! a `.keras` zip (its `config.json`), a legacy HDF5 `.h5` (its `model_config`
//! attribute), or Keras config JSON.

use super::config::{self, ConfigError};
use crate::model::Network;
use std::path::Path;
use thiserror::Error;

/// Model files larger than this are refused before reading (a `.keras` of a large
/// network is a few hundred MB; anything bigger is not a model we can show).
pub const MAX_MODEL_BYTES: u64 = 2 << 30;
/// Largest `config.json` accepted from inside a zip (guards against zip bombs).
const MAX_CONFIG_BYTES: u64 = 64 << 20;

#[derive(Debug, Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Format(String),
    #[error("{0}")]
    Config(#[from] ConfigError),
}

/// What a model file holds. [`load_model`] keeps the file's bytes (weights can be read
/// from them); [`open_model`] leaves them empty.
pub struct LoadedModel {
    pub network: Network,
    pub kind: FileKind,
    pub bytes: Vec<u8>,
    /// The Keras that wrote the file, and what was adapted to read a Keras 2 file.
    pub provenance: config::Provenance,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Keras,
    H5,
    Json,
}

pub fn load_model(path: &Path) -> Result<LoadedModel, LoadError> {
    check_model_file(path)?;
    let bytes = std::fs::read(path).map_err(io_error(path))?;
    load_model_bytes(bytes)
}

/// The model in the file at `path` without holding the file in memory: of a `.keras`
/// archive only `config.json` is read, of an `.h5` file its root attributes (through a
/// streaming reader); JSON is read whole. `bytes` stays empty: weights are read from the
/// path ([`super::weights::from_path`]). Same checks and messages as [`load_model`]
/// (whose whole-file read made `summary` of a 96 MB InceptionV3 peak at 107 MB).
pub fn open_model(path: &Path) -> Result<LoadedModel, LoadError> {
    use std::io::{Read, Seek};
    check_model_file(path)?;
    let mut file = std::fs::File::open(path).map_err(io_error(path))?;
    let mut head = Vec::with_capacity(8);
    (&mut file)
        .take(8)
        .read_to_end(&mut head)
        .and_then(|_| file.rewind())
        .map_err(io_error(path))?;
    if head.starts_with(b"PK") {
        let text = zip_entry_from(file, "config.json")?;
        return keras_archive(&text, Vec::new());
    }
    if head.starts_with(HDF5_MAGIC) {
        let file = hdf5_pure::File::open_streaming(path)
            .map_err(|e| LoadError::Format(format!("not a readable HDF5 file: {e}")))?;
        return legacy_h5(&file, Vec::new());
    }
    load_model(path)
}

/// `path` is a file, not larger than [`MAX_MODEL_BYTES`].
fn check_model_file(path: &Path) -> Result<(), LoadError> {
    let meta = std::fs::metadata(path).map_err(io_error(path))?;
    if meta.is_dir() {
        return Err(LoadError::Format(format!(
            "{} is a folder, not a model file",
            path.display()
        )));
    }
    if meta.len() > MAX_MODEL_BYTES {
        return Err(LoadError::Format(format!(
            "{} is {} MB: larger than any model convscope can open ({} MB)",
            path.display(),
            meta.len() >> 20,
            MAX_MODEL_BYTES >> 20
        )));
    }
    Ok(())
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> LoadError + '_ {
    move |source| LoadError::Io {
        path: path.display().to_string(),
        source,
    }
}

const HDF5_MAGIC: &[u8] = b"\x89HDF\r\n\x1a\n";

/// Opens a model from bytes, recognising the format by its magic number.
pub fn load_model_bytes(bytes: Vec<u8>) -> Result<LoadedModel, LoadError> {
    if bytes.starts_with(b"PK") {
        let text = zip_entry(&bytes, "config.json")?;
        keras_archive(&text, bytes)
    } else if bytes.starts_with(HDF5_MAGIC) {
        let file = hdf5_pure::File::from_bytes(bytes.clone())
            .map_err(|e| LoadError::Format(format!("not a readable HDF5 file: {e}")))?;
        legacy_h5(&file, bytes)
    } else {
        let text = std::str::from_utf8(&bytes).map_err(|_| {
            LoadError::Format(
                "not a Keras model: expected a .keras archive, an HDF5 .h5 file or JSON".into(),
            )
        })?;
        let (network, provenance) =
            config::read_json_str(text.trim_start_matches('\u{feff}'), Default::default())?;
        Ok(LoadedModel {
            network,
            kind: FileKind::Json,
            bytes,
            provenance,
        })
    }
}

/// A `.keras` archive's model from its `config.json`.
fn keras_archive(config_json: &[u8], bytes: Vec<u8>) -> Result<LoadedModel, LoadError> {
    let text = std::str::from_utf8(config_json)
        .map_err(|_| LoadError::Format("config.json in the .keras file is not UTF-8".into()))?;
    let (network, provenance) = config::read_json_str(text, Default::default())?;
    Ok(LoadedModel {
        network,
        kind: FileKind::Keras,
        bytes,
        provenance,
    })
}

/// A legacy `.h5` file's model from its root's `model_config` attribute, with the Keras
/// version and backend it records.
fn legacy_h5(file: &hdf5_pure::File, bytes: Vec<u8>) -> Result<LoadedModel, LoadError> {
    let attrs = file
        .root()
        .attrs()
        .map_err(|e| LoadError::Format(format!("cannot read the HDF5 root attributes: {e}")))?;
    let text = attrs
        .get("model_config")
        .and_then(|a| a.as_str())
        .ok_or_else(|| {
            LoadError::Format(
                "this HDF5 file has no `model_config` attribute: it holds weights only, \
                 not a Keras model"
                    .into(),
            )
        })?
        .to_string();
    let recorded = config::Provenance::recorded(
        attrs.get("keras_version").and_then(|a| a.as_str()),
        attrs.get("backend").and_then(|a| a.as_str()),
    );
    let (network, provenance) = config::read_json_str(&text, recorded)?;
    Ok(LoadedModel {
        network,
        kind: FileKind::H5,
        bytes,
        provenance,
    })
}

/// [`zip_entry`] of an archive the caller gives up: a stored (uncompressed) entry, as
/// Keras writes `model.weights.h5`, is cut out of the archive's own buffer instead of
/// copied (the weights of a large model are otherwise in memory twice), after its
/// CRC-32 is checked as the zip reader would.
pub fn zip_entry_owned(mut bytes: Vec<u8>, name: &str) -> Result<Vec<u8>, LoadError> {
    let stored = {
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&bytes[..]))
            .map_err(|e| LoadError::Format(format!("not a readable .keras (zip) archive: {e}")))?;
        let entry = archive
            .by_name(name)
            .map_err(|_| LoadError::Format(format!("the .keras archive has no {name}")))?;
        stored_span(&entry)
    };
    let Some((start, size, crc)) = stored else {
        return zip_entry(&bytes, name);
    };
    let limit = if name.ends_with(".json") {
        MAX_CONFIG_BYTES
    } else {
        MAX_MODEL_BYTES
    };
    if size > limit {
        return Err(LoadError::Format(format!(
            "{name} in the archive unpacks to more than {} MB",
            limit >> 20
        )));
    }
    let (start, end) = (start as usize, start.saturating_add(size) as usize);
    let data = bytes
        .get(start..end)
        .ok_or_else(|| LoadError::Format(format!("{name} runs past the end of the archive")))?;
    if crc32fast::hash(data) != crc {
        return Err(LoadError::Format(format!(
            "cannot unpack {name}: its CRC-32 does not match (the file is corrupt)"
        )));
    }
    bytes.truncate(end);
    bytes.drain(..start);
    Ok(bytes)
}

/// `(offset, size, CRC-32)` of an entry's bytes in its archive when they are stored as
/// they are (not compressed, not encrypted).
fn stored_span<R: std::io::Read>(entry: &zip::read::ZipFile<'_, R>) -> Option<(u64, u64, u32)> {
    let plain = entry.compression() == zip::CompressionMethod::Stored
        && !entry.encrypted()
        && entry.compressed_size() == entry.size();
    entry
        .data_start()
        .filter(|_| plain)
        .map(|start| (start, entry.size(), entry.crc32()))
}

/// Where the archive at `path` stores entry `name` unpacked: `(offset, size)` of its bytes
/// in the file, after checking their CRC-32 in 1 MiB pieces (so the entry is never held
/// whole in memory). `None` when the entry is compressed or encrypted.
pub fn stored_entry_span(path: &Path, name: &str) -> Result<Option<(u64, u64)>, LoadError> {
    use std::io::{Read, Seek, SeekFrom};
    let io = |source| LoadError::Io {
        path: path.display().to_string(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut archive = zip::ZipArchive::new(file)
        .map_err(|e| LoadError::Format(format!("not a readable .keras (zip) archive: {e}")))?;
    let span = {
        let entry = archive
            .by_name(name)
            .map_err(|_| LoadError::Format(format!("the .keras archive has no {name}")))?;
        stored_span(&entry)
    };
    let Some((start, size, crc)) = span else {
        return Ok(None);
    };
    if size > MAX_MODEL_BYTES {
        return Err(LoadError::Format(format!(
            "{name} in the archive unpacks to more than {} MB",
            MAX_MODEL_BYTES >> 20
        )));
    }
    let mut file = archive.into_inner();
    file.seek(SeekFrom::Start(start)).map_err(io)?;
    let mut hasher = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        file.read_exact(&mut buf[..n])
            .map_err(|_| LoadError::Format(format!("{name} runs past the end of the archive")))?;
        hasher.update(&buf[..n]);
        left -= n as u64;
    }
    if hasher.finalize() != crc {
        return Err(LoadError::Format(format!(
            "cannot unpack {name}: its CRC-32 does not match (the file is corrupt)"
        )));
    }
    Ok(Some((start, size)))
}

/// Reads one entry of a zip archive held in memory, refusing oversized entries.
pub fn zip_entry(bytes: &[u8], name: &str) -> Result<Vec<u8>, LoadError> {
    zip_entry_from(std::io::Cursor::new(bytes), name)
}

/// [`zip_entry`] of an archive read through `reader` (a file: only the central
/// directory and the entry are read).
fn zip_entry_from<R: std::io::Read + std::io::Seek>(
    reader: R,
    name: &str,
) -> Result<Vec<u8>, LoadError> {
    let mut archive = zip::ZipArchive::new(reader)
        .map_err(|e| LoadError::Format(format!("not a readable .keras (zip) archive: {e}")))?;
    let mut entry = archive
        .by_name(name)
        .map_err(|_| LoadError::Format(format!("the .keras archive has no {name}")))?;
    if entry.size() > MAX_CONFIG_BYTES.max(MAX_MODEL_BYTES) {
        return Err(LoadError::Format(format!(
            "{name} in the archive is too large"
        )));
    }
    let limit = if name.ends_with(".json") {
        MAX_CONFIG_BYTES
    } else {
        MAX_MODEL_BYTES
    };
    super::read_at_most(&mut entry, limit)
        .map_err(|e| LoadError::Format(format!("cannot unpack {name}: {e}")))?
        .ok_or_else(|| {
            LoadError::Format(format!(
                "{name} in the archive unpacks to more than {} MB",
                limit >> 20
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn golden_keras() -> Vec<u8> {
        let p = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/golden/stack_mini_vgg/model.keras"
        );
        std::fs::read(p).expect("fixture")
    }

    /// The entry cut out of the archive's buffer is the entry the zip reader unpacks;
    /// one flipped byte inside it is refused by its CRC, never read as weights.
    #[test]
    fn a_stored_entry_is_cut_out_in_place_and_checked() {
        let bytes = golden_keras();
        let copied = zip_entry(&bytes, "model.weights.h5").expect("copy");
        let cut = zip_entry_owned(bytes.clone(), "model.weights.h5").expect("in place");
        assert_eq!(cut, copied);
        assert_eq!(
            zip_entry_owned(bytes.clone(), "config.json").expect("config"),
            zip_entry(&bytes, "config.json").expect("config")
        );
        let at = bytes
            .windows(copied.len().min(64))
            .position(|w| w == &copied[..copied.len().min(64)])
            .expect("entry in archive");
        let mut bad = bytes.clone();
        bad[at + copied.len() / 2] ^= 0x55;
        let e = zip_entry_owned(bad, "model.weights.h5")
            .unwrap_err()
            .to_string();
        assert!(e.contains("CRC-32"), "{e}");
        assert!(zip_entry_owned(bytes, "nothing.h5").is_err());
    }

    /// Opening by path reads the same model as reading the whole file, for every kind,
    /// without keeping its bytes; the Keras 2 provenance comes through the streaming
    /// HDF5 reader too.
    #[test]
    fn open_model_reads_the_config_alone() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
        let dir = std::path::Path::new(root);
        for f in [
            "golden/stack_mini_vgg/model.keras",
            "golden/stack_mini_vgg/model.h5",
            "golden/stack_mini_vgg/config.json",
            "golden/graph_nested/model.keras",
        ] {
            let whole = load_model(&dir.join(f)).expect(f);
            let opened = open_model(&dir.join(f)).expect(f);
            assert_eq!(opened.network, whole.network, "{f}");
            assert_eq!(opened.kind, whole.kind, "{f}");
            assert_eq!(
                opened.provenance.nested.len(),
                whole.provenance.nested.len()
            );
            assert!(
                opened.kind == FileKind::Json || opened.bytes.is_empty(),
                "{f}"
            );
        }
        let keras2 = dir.join("keras2/mobilenet_block/model.h5");
        let whole = load_model(&keras2).expect("keras 2");
        let opened = open_model(&keras2).expect("keras 2");
        assert_eq!(opened.network, whole.network);
        assert_eq!(opened.provenance.describe(), whole.provenance.describe());
        assert!(opened.provenance.describe().is_some());
    }
}
