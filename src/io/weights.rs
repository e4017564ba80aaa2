//! Layer weights read from files: `.keras` archives (`model.weights.h5`), legacy `.h5`
//! model files and `.npz` archives keyed `<layer>/<i>`.
//!
//! Every array is checked against the shape the analysis expects; a mismatch names the
//! layer and the array. Nothing here panics on a corrupt file.

use super::config::NestedModel;
use super::keras_file::zip_entry;
use super::npy;
use crate::keras::report::WeightSpec;
use crate::layers::{LayerWeights, WeightError};
use crate::model::analysis::Analysis;
use crate::model::network::{Layer, Network};
use crate::progress::Progress;
use ndarray::{ArrayD, IxDyn};
use std::collections::HashMap;

/// Checks and converts one layer's arrays (`(shape, data)` in `get_weights()` order).
fn assemble(
    layer: &Layer,
    specs: &[WeightSpec],
    arrays: Vec<Raw>,
) -> Result<LayerWeights, WeightError> {
    if arrays.len() != specs.len() {
        return Err(WeightError::layer(
            &layer.name,
            format!(
                "the file has {} weight arrays, the layer needs {} ({})",
                arrays.len(),
                specs.len(),
                specs.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    specs
        .iter()
        .zip(arrays)
        .map(|(spec, (shape, data))| {
            let want: Vec<usize> = spec.shape.iter().map(|&d| d.max(0) as usize).collect();
            if shape != want {
                return Err(WeightError::layer(
                    &layer.name,
                    format!(
                        "array '{}' has shape {:?}, the layer needs {:?}",
                        spec.name, shape, want
                    ),
                ));
            }
            ArrayD::from_shape_vec(IxDyn(&shape), data)
                .map_err(|e| WeightError::layer(&layer.name, format!("array '{}': {e}", spec.name)))
        })
        .collect()
}

fn valid(net: &Network, analysis: &Analysis) -> Result<(), WeightError> {
    match analysis.error(net) {
        Some(e) => Err(WeightError::Invalid(e)),
        None => Ok(()),
    }
}

fn h5(bytes: Vec<u8>) -> Result<hdf5_pure::File, WeightError> {
    hdf5_pure::File::from_bytes(bytes)
        .map_err(|e| WeightError::File(format!("not a readable HDF5 file: {e}")))
}

/// Where a dataset's bytes can be read directly: the file (or the archive entry) the
/// HDF5 reader reads, for contiguous float32 arrays.
type Direct<'a> = Option<&'a FileWindow>;

/// The values of a contiguous, unfiltered little-endian float32 dataset, read from
/// `window` a piece at a time straight into their vector: no copy of the whole array
/// as bytes beside it (the HDF5 reader's `read_f32` holds both; MobileNetV3Small's
/// 4 MB classifier kernel made its peak a third larger). `None` when the dataset is
/// stored otherwise.
fn read_f32_direct(
    ds: &hdf5_pure::Dataset,
    window: &FileWindow,
    n: usize,
) -> Option<Result<Vec<f32>, String>> {
    use hdf5_pure::{Datatype, DatatypeByteOrder};
    let hdf5_pure::Layout::Contiguous {
        address: Some(address),
        size,
    } = ds.layout().ok()?
    else {
        return None;
    };
    let little_f32 = matches!(
        ds.datatype().ok()?,
        Datatype::FloatingPoint {
            size: 4,
            byte_order: DatatypeByteOrder::LittleEndian,
            ..
        }
    );
    if !little_f32 || !ds.filters().is_empty() || size != n as u64 * 4 {
        return None;
    }
    const PIECE: usize = 64 << 10;
    let mut values = Vec::with_capacity(n);
    let mut buf = vec![0u8; PIECE.min(n * 4)];
    let mut at = address;
    while values.len() < n {
        let len = ((n - values.len()) * 4).min(PIECE);
        if let Err(e) = hdf5_pure::Source::read_at(window, at, &mut buf[..len]) {
            return Some(Err(e.to_string()));
        }
        values.extend(
            buf[..len]
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        );
        at += len as u64;
    }
    Some(Ok(values))
}

fn read_dataset(file: &hdf5_pure::File, direct: Direct, path: &str) -> Result<Raw, String> {
    let ds = file
        .dataset(path)
        .map_err(|e| format!("cannot open {path}: {e}"))?;
    let shape: Vec<usize> = ds
        .shape()
        .map_err(|e| format!("cannot read the shape of {path}: {e}"))?
        .iter()
        .map(|&d| d as usize)
        .collect();
    let n = shape
        .iter()
        .try_fold(1usize, |a, &b| a.checked_mul(b))
        .ok_or("shape overflows")?;
    if n > 1 << 31 {
        return Err(format!("{path} has {n} elements: too large"));
    }
    let data = match ds.dtype().map_err(|e| format!("{path}: {e}"))? {
        hdf5_pure::DType::F32 => match direct.and_then(|w| read_f32_direct(&ds, w, n)) {
            Some(values) => Ok(values.map_err(|e| format!("cannot read {path}: {e}"))?),
            None => ds.read_f32(),
        },
        hdf5_pure::DType::F64 => ds
            .read_f64()
            .map(|v| v.into_iter().map(|x| x as f32).collect()),
        // Counters (Normalization's `count`) are integers.
        hdf5_pure::DType::I64 => ds
            .read_i64()
            .map(|v| v.into_iter().map(|x| x as f32).collect()),
        hdf5_pure::DType::I32 => ds
            .read_i32()
            .map(|v| v.into_iter().map(|x| x as f32).collect()),
        other => return Err(format!("{path} has data type {other:?}; expected float32")),
    }
    .map_err(|e| format!("cannot read {path}: {e}"))?;
    if data.len() != n {
        return Err(format!("{path}: {} values for shape {shape:?}", data.len()));
    }
    Ok((shape, data))
}

/// Weights from a `.keras` archive.
pub fn from_keras(bytes: &[u8], net: &Network, a: &Analysis) -> Weights {
    from_keras_nested(bytes, net, a, &[])
}

/// [`from_keras`] for a file whose config nests the models `nested` (read from the
/// config with the network).
pub fn from_keras_nested(
    bytes: &[u8],
    net: &Network,
    a: &Analysis,
    nested: &[NestedModel],
) -> Weights {
    let h5bytes =
        zip_entry(bytes, "model.weights.h5").map_err(|e| WeightError::File(e.to_string()))?;
    read_weights_h5(h5bytes, net, a, nested, &Progress::new())
}

/// [`from_keras_nested`] taking the archive's bytes, which become the weights file's
/// (no second copy of a large model's weights).
fn from_keras_owned(
    bytes: Vec<u8>,
    net: &Network,
    a: &Analysis,
    nested: &[NestedModel],
    progress: &Progress,
) -> Weights {
    let h5bytes = super::keras_file::zip_entry_owned(bytes, "model.weights.h5")
        .map_err(|e| WeightError::File(e.to_string()))?;
    read_weights_h5(h5bytes, net, a, nested, progress)
}

/// A byte range of a file as an HDF5 source: a legacy `.h5` file whole, or a `.keras`
/// archive's stored `model.weights.h5`, read where it lies.
struct FileWindow {
    file: std::sync::Mutex<std::fs::File>,
    start: u64,
    len: u64,
}

impl hdf5_pure::Source for FileWindow {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), hdf5_pure::FormatError> {
        use std::io::{Read, Seek, SeekFrom};
        let end = offset.checked_add(buf.len() as u64);
        if end.is_none_or(|e| e > self.len) {
            return Err(hdf5_pure::FormatError::UnexpectedEof {
                expected: end.map_or(usize::MAX, |e| e as usize),
                available: self.len as usize,
            });
        }
        let mut f = self
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f.seek(SeekFrom::Start(self.start + offset))
            .and_then(|_| f.read_exact(buf))
            .map_err(|e| hdf5_pure::FormatError::Source(e.to_string()))
    }
}

impl FileWindow {
    fn open(path: &std::path::Path, span: Option<(u64, u64)>) -> Result<FileWindow, WeightError> {
        let file = std::fs::File::open(path).map_err(|e| WeightError::File(e.to_string()))?;
        let (start, len) = match span {
            Some(span) => span,
            None => (
                0,
                file.metadata()
                    .map_err(|e| WeightError::File(e.to_string()))?
                    .len(),
            ),
        };
        Ok(FileWindow {
            file: std::sync::Mutex::new(file),
            start,
            len,
        })
    }
}

/// The window shared by the HDF5 reader and [`read_f32_direct`].
struct Shared(std::sync::Arc<FileWindow>);

impl hdf5_pure::Source for Shared {
    fn len(&self) -> u64 {
        self.0.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), hdf5_pure::FormatError> {
        hdf5_pure::Source::read_at(&*self.0, offset, buf)
    }
}

/// Weights read from the file at `path` as they are needed, never holding the file
/// whole: a legacy `.h5` streamed from disk; a `.keras` archive's stored
/// `model.weights.h5` read where it lies in the archive (its CRC-32 checked first, a
/// piece at a time), or unpacked in memory when the archive compressed it. A contiguous
/// float32 array is decoded straight into its final vector, 64 KiB at a time, so the
/// peak is the weights plus one piece.
pub fn from_path(
    path: &std::path::Path,
    keras_archive: bool,
    net: &Network,
    a: &Analysis,
    nested: &[NestedModel],
) -> Weights {
    from_path_with(path, keras_archive, net, a, nested, &Progress::new())
}

/// [`from_path`] counting the values read on `progress` and stopping with
/// [`WeightError::Cancelled`] when it is cancelled (the window's Open runs this on a
/// thread of its own).
pub fn from_path_with(
    path: &std::path::Path,
    keras_archive: bool,
    net: &Network,
    a: &Analysis,
    nested: &[NestedModel],
    progress: &Progress,
) -> Weights {
    let unreadable =
        |e: hdf5_pure::Error| WeightError::File(format!("not a readable HDF5 file: {e}"));
    let span = match keras_archive {
        false => None,
        true => match super::keras_file::stored_entry_span(path, "model.weights.h5")
            .map_err(|e| WeightError::File(e.to_string()))?
        {
            Some(span) => Some(span),
            None => {
                let bytes = std::fs::read(path).map_err(|e| WeightError::File(e.to_string()))?;
                return from_keras_owned(bytes, net, a, nested, progress);
            }
        },
    };
    let window = std::sync::Arc::new(FileWindow::open(path, span)?);
    let file = hdf5_pure::File::from_source(Shared(window.clone())).map_err(unreadable)?;
    match keras_archive {
        true => read_weights_file(file, Some(&window), net, a, nested, progress),
        false => read_h5(file, Some(&window), net, a, nested, progress),
    }
}

/// The nested model (name, class) that holds layer `name`, if any.
fn scope_of<'a>(nested: &'a [NestedModel], name: &str) -> Option<(&'a str, &'a str)> {
    nested
        .iter()
        .find(|m| m.layers.iter().any(|l| l == name))
        .map(|m| (m.name.as_str(), m.class.as_str()))
}

/// Every layer's weights, or why not.
type Weights = Result<Vec<LayerWeights>, WeightError>;

/// One array as read: its shape and its values.
type Raw = (Vec<usize>, Vec<f32>);

/// Each layer's arrays from `arrays` (not asked for layers without weights), checked
/// against the shapes the analysis expects. `progress` counts the values read out of
/// all the layers' (its total); a cancel stops before the next layer.
fn read_layers(
    net: &Network,
    analysis: &Analysis,
    progress: &Progress,
    mut arrays: impl FnMut(usize, &Layer, usize) -> Result<Vec<Raw>, String>,
) -> Result<Vec<LayerWeights>, WeightError> {
    valid(net, analysis)?;
    let values = |specs: &[WeightSpec]| -> u64 {
        specs
            .iter()
            .map(|s| s.shape.iter().map(|&d| d.max(0) as u64).product::<u64>())
            .sum()
    };
    progress.set_total(analysis.layers.iter().map(|r| values(&r.weights)).sum());
    net.layers()
        .iter()
        .enumerate()
        .map(|(i, layer)| {
            let specs = &analysis.layers[i].weights;
            if specs.is_empty() {
                return Ok(Vec::new());
            }
            if progress.cancelled() {
                return Err(WeightError::Cancelled);
            }
            let a =
                arrays(i, layer, specs.len()).map_err(|e| WeightError::layer(&layer.name, e))?;
            progress.advance(values(specs));
            assemble(layer, specs, a)
        })
        .collect()
}

/// The datasets `names` of group `group`, in that order.
fn read_group(
    file: &hdf5_pure::File,
    direct: Direct,
    group: &str,
    names: &[String],
) -> Result<Vec<Raw>, String> {
    names
        .iter()
        .map(|n| read_dataset(file, direct, &format!("{group}/{n}")))
        .collect()
}

/// Weights from the `model.weights.h5` inside a `.keras` archive (Keras 3's layout:
/// `layers/<key>/vars/<n>`).
pub fn from_weights_h5(h5bytes: Vec<u8>, net: &Network, a: &Analysis) -> Weights {
    read_weights_h5(h5bytes, net, a, &[], &Progress::new())
}

fn read_weights_h5(
    h5bytes: Vec<u8>,
    net: &Network,
    a: &Analysis,
    nested: &[NestedModel],
    progress: &Progress,
) -> Weights {
    read_weights_file(h5(h5bytes)?, None, net, a, nested, progress)
}

/// A `.keras` archive's weights file (`model.weights.h5`), however it is held.
fn read_weights_file(
    file: hdf5_pure::File,
    direct: Direct,
    net: &Network,
    a: &Analysis,
    nested: &[NestedModel],
    progress: &Progress,
) -> Weights {
    let keys = net.keras_weight_keys_in(|name| scope_of(nested, name));
    read_layers(net, a, progress, |i, _, _| {
        let key = keys[i]
            .as_ref()
            .ok_or("the layer has no place in the weights file")?;
        let vars = format!("layers/{key}/vars");
        let group = file
            .group(&vars)
            .map_err(|_| format!("the weights file has no group {vars}"))?;
        let mut names = group
            .datasets()
            .map_err(|e| format!("cannot list {vars}: {e}"))?;
        names.sort_by_key(|n| n.parse::<u64>().unwrap_or(u64::MAX));
        read_group(&file, direct, &vars, &names)
    })
}

/// Weights from a legacy `.h5` full-model file (`model_weights/<layer>/<weight path>`).
pub fn from_h5(bytes: &[u8], net: &Network, a: &Analysis) -> Weights {
    from_h5_nested(bytes, net, a, &[])
}

/// [`from_h5`] for a file whose config nests the models `nested`: a nested model's
/// group holds the weights of all its layers, each listed as `…/<layer>/<weight>`.
pub fn from_h5_nested(
    bytes: &[u8],
    net: &Network,
    a: &Analysis,
    nested: &[NestedModel],
) -> Weights {
    read_h5(h5(bytes.to_vec())?, None, net, a, nested, &Progress::new())
}

fn read_h5(
    file: hdf5_pure::File,
    direct: Direct,
    net: &Network,
    a: &Analysis,
    nested: &[NestedModel],
    progress: &Progress,
) -> Weights {
    read_layers(net, a, progress, |_, layer, _| {
        let model = scope_of(nested, &layer.name).map(|(m, _)| m);
        let gpath = format!("model_weights/{}", model.unwrap_or(&layer.name));
        let group = file
            .group(&gpath)
            .map_err(|_| format!("the file has no group {gpath}"))?;
        let attrs = group
            .attrs()
            .map_err(|e| format!("cannot read {gpath} attributes: {e}"))?;
        let names: Vec<String> = attrs
            .get("weight_names")
            .and_then(|a| a.as_strings())
            .map(|s| s.to_vec())
            .unwrap_or_default();
        let names: Vec<String> = match model {
            // `stem/stem_conv/kernel` (Sequential) or `inner_conv/kernel` (Functional).
            Some(_) => names
                .into_iter()
                .filter(|n| n.rsplit('/').nth(1) == Some(layer.name.as_str()))
                .collect(),
            None => names,
        };
        read_group(&file, direct, &gpath, &names)
    })
}

/// Weights from an `.npz` archive keyed `<layer_name>/<index>`; layers without entries
/// are an error (use [`crate::engine::weights::initialize`] for a design without
/// weights).
pub fn from_npz(bytes: &[u8], net: &Network, a: &Analysis) -> Weights {
    let entries = npy::read_npz(bytes).map_err(|e| WeightError::File(e.to_string()))?;
    let map: HashMap<String, npy::NpyArray> = entries.into_iter().collect();
    read_layers(net, a, &Progress::new(), |_, layer, n| {
        (0..n)
            .map(|k| {
                let key = format!("{}/{k}", layer.name);
                let a = map
                    .get(&key)
                    .ok_or_else(|| format!("the .npz has no array '{key}'"))?;
                Ok((a.shape.clone(), a.data.clone()))
            })
            .collect()
    })
}
