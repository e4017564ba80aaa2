//! `convscope run` contract and engine error paths: outputs, index.json, exit codes,
//! all-or-nothing output folder, seeded initializer weights, weight mismatches.

use convscope::io::weights;
use convscope::io::{load_model, npy};
use convscope::model::{LayerKind, Pair};
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden")
}

fn tmp(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("convscope-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    p
}

fn run(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_convscope"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn npy_values(p: &Path) -> (Vec<usize>, Vec<f32>) {
    let a = npy::read_npy(&std::fs::read(p).unwrap()).unwrap();
    (a.shape, a.data)
}

#[test]
fn run_writes_every_layer_and_an_index() {
    let case = fixtures().join("stack_conv_bn_act");
    let out = tmp("run-ok");
    let (code, err) = run(&[
        "run",
        case.join("model.keras").to_str().unwrap(),
        "--input",
        case.join("input.npy").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("index.json")).unwrap()).unwrap();
    let layers = index["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 6);
    for l in layers {
        let file = out.join(l["file"].as_str().unwrap());
        let (shape, got) = npy_values(&file);
        let (eshape, want) = npy_values(&case.join("expected").join(l["file"].as_str().unwrap()));
        assert_eq!(shape, eshape);
        assert_eq!(l["shape"], serde_json::json!(shape));
        let worst = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(worst < 1e-4, "{}: {worst}", l["layer"]);
        let min = got.iter().cloned().fold(f32::INFINITY, f32::min) as f64;
        assert!((l["min"].as_f64().unwrap() - min).abs() < 1e-6);
    }
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn run_to_an_npz_writes_every_layer_keyed_by_name() {
    let case = fixtures().join("stack_conv_bn_act");
    let dir = tmp("run-npz");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("acts.npz");
    let (code, err) = run(&[
        "run",
        case.join("model.keras").to_str().unwrap(),
        "--input",
        case.join("input.npy").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let arrays = npy::read_npz(&std::fs::read(&out).unwrap()).unwrap();
    let mut expected: Vec<String> = std::fs::read_dir(case.join("expected"))
        .unwrap()
        .map(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .trim_end_matches(".npy")
                .to_string()
        })
        .collect();
    expected.sort();
    let mut names: Vec<String> = arrays.iter().map(|(n, _)| n.clone()).collect();
    names.sort();
    assert_eq!(names, expected);
    for (name, a) in &arrays {
        let (shape, want) = npy_values(&case.join("expected").join(format!("{name}.npy")));
        assert_eq!(a.shape, shape, "{name}");
        let worst = a
            .data
            .iter()
            .zip(&want)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        assert!(worst < 1e-4, "{name}: {worst}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn run_on_an_image_matches_keras() {
    for name in ["img_chelsea_32", "img_coffee_48x64"] {
        let case = fixtures().join(name);
        let out = tmp(&format!("run-img-{name}"));
        let (code, err) = run(&[
            "run",
            case.join("model.keras").to_str().unwrap(),
            "--input",
            case.join("input.png").to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{err}");
        for e in std::fs::read_dir(case.join("expected")).unwrap() {
            let e = e.unwrap().path();
            let (_, want) = npy_values(&e);
            let (_, got) = npy_values(&out.join(e.file_name().unwrap()));
            let scale = want.iter().fold(1f32, |a, v| a.max(v.abs()));
            let worst = got
                .iter()
                .zip(&want)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(worst <= 1e-4 * scale, "{}: {worst}", e.display());
        }
        std::fs::remove_dir_all(&out).ok();
    }
}

#[test]
fn bad_inputs_exit_2_and_leave_nothing() {
    let case = fixtures().join("stack_conv_bn_act");
    let out = tmp("run-bad");
    // Wrong input shape.
    let other = fixtures().join("img_coffee_48x64/input.npy");
    let (code, err) = run(&[
        "run",
        case.join("model.keras").to_str().unwrap(),
        "--input",
        other.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("input shape"), "{err}");
    assert!(!out.exists() || std::fs::read_dir(&out).unwrap().next().is_none());
    // A non-image with an image extension.
    let fake = tmp("fake.png");
    std::fs::write(&fake, b"this is not a png").unwrap();
    let (code, err) = run(&[
        "run",
        case.join("model.keras").to_str().unwrap(),
        "--input",
        fake.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(!err.is_empty());
    assert!(!out.exists() || std::fs::read_dir(&out).unwrap().next().is_none());
    std::fs::remove_file(&fake).ok();
    // A missing model.
    let (code, _) = run(&[
        "run",
        "/nonexistent.keras",
        "--input",
        fake.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
}

#[test]
fn config_json_runs_on_seeded_initializer_weights() {
    let case = fixtures().join("stack_mini_vgg");
    let outs: Vec<PathBuf> = ["a", "b", "c"]
        .iter()
        .map(|s| tmp(&format!("seed-{s}")))
        .collect();
    for (out, seed) in outs.iter().zip(["5", "5", "6"]) {
        let (code, err) = run(&[
            "run",
            case.join("config.json").to_str().unwrap(),
            "--input",
            case.join("input.npy").to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--seed",
            seed,
        ]);
        assert_eq!(code, 0, "{err}");
    }
    let first = |o: &Path| npy_values(&o.join("conv2d.npy")).1;
    assert_eq!(first(&outs[0]), first(&outs[1]));
    assert_ne!(first(&outs[0]), first(&outs[2]));
    for o in outs {
        std::fs::remove_dir_all(o).ok();
    }
}

#[test]
fn weight_mismatches_name_the_layer_and_array() {
    let case = fixtures().join("stack_conv_bn_act/model.keras");
    let loaded = load_model(&case).unwrap();
    let mut net = loaded.network.clone();
    if let LayerKind::Conv2D(c) = &mut net.layer_mut(1).kind {
        c.base.kernel_size = Pair::square(5);
    }
    let a = net.analyze();
    let err = weights::from_keras(&loaded.bytes, &net, &a)
        .unwrap_err()
        .to_string();
    assert!(err.contains("'conv2d'") && err.contains("kernel"), "{err}");
    // A corrupt weights file inside the archive: an error, never a panic.
    let mut bytes = loaded.bytes.clone();
    let n = bytes.len();
    for b in &mut bytes[n / 2..n / 2 + 64] {
        *b = 0xff;
    }
    let _ = weights::from_keras(&bytes, &loaded.network, &loaded.network.analyze());
}

#[test]
fn npz_weights_load_like_keras_weights() {
    use convscope::io::npy::{NpyArray, write_npz};
    let case = fixtures().join("stack_separable/model.keras");
    let loaded = load_model(&case).unwrap();
    let net = &loaded.network;
    let a = net.analyze();
    let w = weights::from_keras(&loaded.bytes, net, &a).unwrap();
    let mut entries = Vec::new();
    for (layer, arrays) in net.layers().iter().zip(&w) {
        for (k, arr) in arrays.iter().enumerate() {
            entries.push((
                format!("{}/{k}", layer.name),
                NpyArray {
                    shape: arr.shape().to_vec(),
                    data: arr.iter().copied().collect(),
                },
            ));
        }
    }
    let bytes = write_npz(&entries).unwrap();
    let from_npz = weights::from_npz(&bytes, net, &a).unwrap();
    assert_eq!(from_npz, w);
    // A missing array names the layer and the key.
    let err = weights::from_npz(&write_npz(&entries[1..]).unwrap(), net, &a)
        .unwrap_err()
        .to_string();
    assert!(err.contains(&entries[0].0), "{err}");
}

#[test]
fn a_run_can_resume_from_any_layer() {
    use convscope::engine::{self, run_from};
    let case = fixtures().join("stack_mini_vgg");
    let loaded = load_model(&case.join("model.keras")).unwrap();
    let net = &loaded.network;
    let a = net.analyze();
    let w = weights::from_keras(&loaded.bytes, net, &a).unwrap();
    let (shape, data) = npy_values(&case.join("input.npy"));
    let x = ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&shape), data).unwrap();
    let full = engine::run(net, &w, x).unwrap();
    for from in 1..net.len() {
        let mut acts: Vec<_> = full.iter().take(from).cloned().collect();
        run_from(net, &a, &w, &mut acts, from).unwrap();
        for i in from..net.len() {
            assert_eq!(
                acts[i].as_ref().unwrap().output,
                full[i].as_ref().unwrap().output,
                "resumed at {from}, layer {i}"
            );
        }
    }
}

/// A design Keras accepts but this machine cannot hold (a 20000×20000 image through 64
/// filters: ~100 GB of activations) is refused with the estimate, before any allocation.
#[test]
fn runs_too_large_for_memory_are_refused_with_the_estimate() {
    use convscope::model::Network;
    let mut net = Network::sequential("huge", &[20000, 20000, 3]);
    let i = net.insert_new(0, "Conv2D").unwrap();
    if let LayerKind::Conv2D(c) = &mut net.layer_mut(i).kind {
        c.filters = 64;
        c.base.padding = convscope::layers::Padding::Same;
    }
    let a = net.analyze();
    assert!(a.first_error.is_none());
    let err = convscope::engine::forward::check_memory(&a, 1)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("needs about") && err.contains("GiB") && err.contains("limit"),
        "{err}"
    );
    // The CLI says so (exit 2) before reading the input or drawing weights.
    let dir = tmp("huge");
    std::fs::create_dir_all(&dir).unwrap();
    let model = dir.join("huge.json");
    std::fs::write(&model, convscope::io::config::to_json_string(&net)).unwrap();
    let (code, err) = run(&[
        "run",
        model.to_str().unwrap(),
        "--input",
        model.to_str().unwrap(),
        "--out",
        dir.join("out").to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("needs about"), "{err}");
    std::fs::remove_dir_all(dir).ok();
}

/// A model with two inputs whose `model.inputs` order (mask, image) is the reverse of its
/// layer order (tests/fixtures/merges/two_inputs.keras, made by scripts/keras_merges.py):
/// one `--input` per input in that order gives Keras's outputs for every layer (Add,
/// Subtract, Multiply, Concatenate with an input, a cosine Dot); a missing or
/// misshapen input exits 2 naming what is expected.
#[test]
fn a_model_with_two_inputs_runs_on_one_array_each_in_keras_order() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/merges");
    let model = dir.join("two_inputs.keras");
    let (x0, x1) = (dir.join("x0.npy"), dir.join("x1.npy"));
    let tmpdir = tmp("two-inputs");
    std::fs::create_dir_all(&tmpdir).unwrap();
    let out = tmpdir.join("acts.npz");
    let path = |p: &Path| p.to_str().unwrap().to_string();
    let (code, err) = run(&[
        "run",
        &path(&model),
        "--input",
        &path(&x0),
        "--input",
        &path(&x1),
        "--out",
        &path(&out),
    ]);
    assert_eq!(code, 0, "{err}");
    let got = npy::read_npz(&std::fs::read(&out).unwrap()).unwrap();
    let want = npy::read_npz(&std::fs::read(dir.join("expected.npz")).unwrap()).unwrap();
    assert_eq!(got.len(), want.len());
    for (name, w) in &want {
        let (_, g) = got.iter().find(|(n, _)| n == name).expect(name);
        assert_eq!(g.shape, w.shape, "{name}");
        let scale = w.data.iter().fold(1f32, |m, v| m.max(v.abs()));
        let worst = g
            .data
            .iter()
            .zip(&w.data)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(worst <= 1e-4 * scale, "{name}: {worst}");
    }
    // One input only: refused, naming both inputs in Keras's order.
    let (code, err) = run(&[
        "run",
        &path(&model),
        "--input",
        &path(&x0),
        "--out",
        &path(&out),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("2 inputs (mask, image)"), "{err}");
    // Swapped: the first file does not fit the first input.
    let (code, err) = run(&[
        "run",
        &path(&model),
        "--input",
        &path(&x1),
        "--input",
        &path(&x0),
        "--out",
        &path(&out),
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("(1, 6, 6, 3) does not match the model's input (None, 6, 6, 2)"),
        "{err}"
    );
    std::fs::remove_dir_all(&tmpdir).ok();
}
