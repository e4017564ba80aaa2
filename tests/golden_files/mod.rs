//! Reading golden cases in tests: where they are (the bundled fixtures, and
//! `../shared/golden` when it is there), their `.npy` arrays, and the golden tolerance.
#![allow(dead_code)]

use convscope::io::npy;
use ndarray::{ArrayD, IxDyn};
use std::path::{Path, PathBuf};

/// `tests/fixtures/golden`, then `../shared/golden` if present.
pub fn roots() -> Vec<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut v = vec![manifest.join("tests/fixtures/golden")];
    let shared = manifest.join("../shared/golden");
    if shared.is_dir() {
        v.push(shared);
    }
    v
}

/// A float32 `.npy` file.
pub fn read(path: &Path) -> ArrayD<f32> {
    let a = npy::read_npy(&std::fs::read(path).unwrap()).unwrap();
    ArrayD::from_shape_vec(IxDyn(&a.shape), a.data).unwrap()
}

/// `|got − want| ≤ 1e-4 × max(1, max|want|)` everywhere, or the worst difference.
pub fn worst(got: &ArrayD<f32>, want: &ArrayD<f32>) -> Result<(), String> {
    if got.shape() != want.shape() {
        return Err(format!("shape {:?} vs {:?}", got.shape(), want.shape()));
    }
    let tol = 1e-4 * want.iter().fold(1f32, |a, v| a.max(v.abs()));
    let d = got
        .iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    if d > tol || d.is_nan() {
        return Err(format!("max |diff| {d} > {tol}"));
    }
    Ok(())
}
