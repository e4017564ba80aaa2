//! Keras reference outputs: every layer of every golden case, with weights from
//! `model.keras` and from `model.h5`, must be within
//! `1e-4 × max(1, max|expected|)` of Keras's `expected/<layer>.npy`.

use convscope::engine;
use convscope::engine::weights;
use convscope::io::{load_model, npy};
use convscope::model::LayerKind;
use ndarray::{ArrayD, IxDyn};
use std::path::{Path, PathBuf};

fn roots() -> Vec<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut v = vec![manifest.join("tests/fixtures/golden")];
    let shared = manifest.join("../shared/golden");
    if shared.is_dir() {
        v.push(shared);
    }
    v
}

fn read(path: &Path) -> ArrayD<f32> {
    let a = npy::read_npy(&std::fs::read(path).unwrap()).unwrap();
    ArrayD::from_shape_vec(IxDyn(&a.shape), a.data).unwrap()
}

/// Compares every layer of one case; returns failure descriptions.
fn check_case(case: &Path, file: &str) -> Result<usize, String> {
    let model = case.join(file);
    let loaded = load_model(&model).map_err(|e| e.to_string())?;
    let net = loaded.network;
    let analysis = net.analyze();
    let w = if file.ends_with(".keras") {
        weights::from_keras(&loaded.bytes, &net, &analysis)
    } else {
        weights::from_h5(&loaded.bytes, &net, &analysis)
    }
    .map_err(|e| e.to_string())?;
    let input = read(&case.join("input.npy"));
    let acts = engine::run(&net, &w, input).map_err(|e| e.to_string())?;
    let mut compared = 0;
    for (i, layer) in net.layers.iter().enumerate() {
        if matches!(layer.kind, LayerKind::Input(_)) {
            continue;
        }
        let expected = read(&case.join("expected").join(format!("{}.npy", layer.name)));
        let got = &acts[i].as_ref().ok_or("missing activation")?.output;
        if got.shape() != expected.shape() {
            return Err(format!(
                "{}: shape {:?} vs {:?}",
                layer.name,
                got.shape(),
                expected.shape()
            ));
        }
        let scale = expected.iter().fold(1f32, |a, v| a.max(v.abs()));
        let tol = 1e-4 * scale;
        let worst = got
            .iter()
            .zip(expected.iter())
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        if worst > tol || worst.is_nan() {
            return Err(format!("{}: max |diff| {worst} > {tol}", layer.name));
        }
        compared += 1;
    }
    Ok(compared)
}

#[test]
fn every_golden_layer_matches_keras() {
    let mut failures = Vec::new();
    let mut layers = 0;
    let mut cases = 0;
    for root in roots() {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join("expected").is_dir() && p.join("model.keras").is_file())
            .collect();
        dirs.sort();
        for case in dirs {
            for file in ["model.keras", "model.h5"] {
                if !case.join(file).is_file() {
                    continue;
                }
                match check_case(&case, file) {
                    Ok(n) => {
                        layers += n;
                        cases += 1;
                    }
                    Err(e) => failures.push(format!("{} ({file}): {e}", case.display())),
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        cases >= 138,
        "only {cases} case files compared ({layers} layers)"
    );
}

/// Cases made by Keras 3.15.1 for the Winograd path (`tests/fixtures/winograd`): every
/// layer is within the golden tolerance, and every one of them really takes the
/// variant its case is named after.
#[test]
fn winograd_layers_match_keras() {
    use convscope::engine::ops::Window;
    use convscope::engine::winograd::{Variant, choose};
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/winograd");
    // (case, [(input side, cin, cout, same)], variant)
    type Conv = (usize, usize, usize, bool);
    let cases: [(&str, &[Conv], Variant); 3] = [
        (
            "f4_stack_normal",
            &[(30, 16, 32, true), (30, 32, 48, false), (28, 48, 16, true)],
            Variant::F4,
        ),
        ("f4_raw_pixels_batch2", &[(26, 24, 24, true)], Variant::F4),
        ("f2_wide_520ch", &[(24, 520, 16, true)], Variant::F2),
    ];
    for (case, convs, variant) in cases {
        for &(side, cin, cout, same) in convs {
            let win = Window::keras([side, side], [3, 3], [1, 1], [1, 1], same);
            assert_eq!(choose([3, 3], &win, 1, cin, cout), Some(variant), "{case}");
        }
        let n =
            check_case(&root.join(case), "model.keras").unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(n, convs.len(), "{case}");
    }
}
