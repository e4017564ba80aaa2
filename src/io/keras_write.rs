//! Writing `.keras` archives the way Keras 3 does (`../shared/golden/LAYOUT.md`): a STORED
//! zip of `metadata.json`, `config.json` (what `model.to_json()` gives) and
//! `model.weights.h5`, whose `layers/<key>/vars/<n>` groups are keyed by snake-cased class
//! name with per-class counters (not the layer name, which is the `@name` attribute of
//! each `vars` group), with one float32 dataset per weight in `layer.weights` order.

use super::config;
use crate::model::Network;
use hdf5_pure::{AttrValue, FileBuilder};
use ndarray::ArrayD;
use std::io::Write;

/// The Keras version written into `metadata.json` (the one the golden files came from).
pub const KERAS_VERSION: &str = "3.15.1";

/// `.keras` bytes for `net` with `weights` (one list per layer, in `layer.weights` order).
pub fn write_keras(net: &Network, weights: &[Vec<ArrayD<f32>>]) -> Result<Vec<u8>, String> {
    let h5 = weights_h5(net, weights)?;
    let metadata = format!(
        "{{\"keras_version\": \"{KERAS_VERSION}\", \"date_saved\": \"{}\"}}",
        date_saved(std::time::SystemTime::now())
    );
    let config = config::to_json_string(net);
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(h5.len() as u64 >= u32::MAX as u64);
    for (name, bytes) in [
        ("metadata.json", metadata.as_bytes()),
        ("config.json", config.as_bytes()),
        ("model.weights.h5", &h5[..]),
    ] {
        zip.start_file(name, options)
            .and_then(|()| zip.write_all(bytes).map_err(Into::into))
            .map_err(|e| format!("cannot add {name} to the archive: {e}"))?;
    }
    zip.finish()
        .map(|c| c.into_inner())
        .map_err(|e| format!("cannot finish the archive: {e}"))
}

/// The `model.weights.h5` part.
pub fn weights_h5(net: &Network, weights: &[Vec<ArrayD<f32>>]) -> Result<Vec<u8>, String> {
    if weights.len() != net.len() {
        return Err(format!(
            "{} weight lists for {} layers",
            weights.len(),
            net.len()
        ));
    }
    let analysis = net.analyze();
    let mut file = FileBuilder::new();
    let mut layers = file.create_group("layers");
    for (((layer, key), ws), report) in net
        .layers()
        .iter()
        .zip(net.keras_weight_keys())
        .zip(weights)
        .zip(&analysis.layers)
    {
        let Some(key) = key else {
            if !ws.is_empty() {
                return Err(format!(
                    "{} has weights but no place in the file",
                    layer.name
                ));
            }
            continue;
        };
        let mut group = layers.create_group(&key);
        let mut vars = group.create_group("vars");
        vars.set_attr(
            "name",
            AttrValue::VarLenString(config::keras3_name(&layer.name)),
        );
        for (n, w) in ws.iter().enumerate() {
            let shape: Vec<u64> = w.shape().iter().map(|&d| d as u64).collect();
            let ds = vars.create_dataset(&n.to_string());
            if report.weights.get(n).is_some_and(|s| s.integer) {
                let data: Vec<i64> = w.iter().map(|&v| v.round() as i64).collect();
                ds.with_i64_data(&data);
            } else {
                let data: Vec<f32> = w.as_standard_layout().iter().copied().collect();
                ds.with_f32_data(&data);
            }
            ds.with_shape(&shape);
        }
        group.add_group(vars.finish());
        layers.add_group(group.finish());
    }
    file.add_group(layers.finish());
    let mut vars = file.create_group("vars");
    vars.set_attr("name", AttrValue::VarLenString(net.name.clone()));
    file.add_group(vars.finish());
    file.finish()
        .map_err(|e| format!("cannot write model.weights.h5: {e}"))
}

/// `YYYY-MM-DD@HH:MM:SS` (UTC), as Keras writes `date_saved`.
fn date_saved(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}@{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_like_keras() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_795_849_362);
        assert_eq!(date_saved(t), "2026-11-28@07:02:42");
        assert_eq!(date_saved(std::time::UNIX_EPOCH), "1970-01-01@00:00:00");
        let leap = std::time::UNIX_EPOCH + std::time::Duration::from_secs(951_782_400);
        assert_eq!(date_saved(leap), "2000-02-29@00:00:00");
    }
}
