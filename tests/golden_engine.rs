//! Keras reference outputs: every layer of every golden case, with weights from
//! `model.keras` and from `model.h5`, must be within
//! `1e-4 × max(1, max|expected|)` of Keras's `expected/<layer>.npy`.

use convscope::engine;
use convscope::io::weights;
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
    let nested = &loaded.provenance.nested;
    let w = if file.ends_with(".keras") {
        weights::from_keras_nested(&loaded.bytes, &net, &analysis, nested)
    } else {
        weights::from_h5_nested(&loaded.bytes, &net, &analysis, nested)
    }
    .map_err(|e| e.to_string())?;
    // Read from the path as `run` and `bench` read it (streamed, never the file whole):
    // the same arrays.
    let streamed = weights::from_path(&model, file.ends_with(".keras"), &net, &analysis, nested)
        .map_err(|e| e.to_string())?;
    if streamed != w {
        return Err("weights read from the path differ from the file's bytes".into());
    }
    compare(case, &net, &w)
}

/// A byte changed inside a `.keras` archive's weights file is caught by its CRC-32 when
/// the weights are streamed from the path, as when they are read from memory.
#[test]
fn a_corrupt_weights_entry_is_refused_when_streamed() {
    let case = roots()[0].join("stack_conv_bn_act");
    let model = case.join("model.keras");
    let (start, len) = convscope::io::keras_file::stored_entry_span(&model, "model.weights.h5")
        .unwrap()
        .expect("convscope's fixtures store the weights file unpacked");
    let mut bytes = std::fs::read(&model).unwrap();
    let at = (start + len / 2) as usize;
    bytes[at] ^= 0x40;
    let bad = std::env::temp_dir().join(format!("convscope-crc-{}.keras", std::process::id()));
    std::fs::write(&bad, &bytes).unwrap();
    let loaded = load_model(&bad).unwrap();
    let net = loaded.network;
    let err = weights::from_path(&bad, true, &net, &net.analyze(), &[]).unwrap_err();
    std::fs::remove_file(&bad).ok();
    assert!(err.to_string().contains("CRC-32 does not match"), "{err}");
}

/// Runs `net` with `w` on the case's input; every layer against Keras's output.
fn compare(
    case: &Path,
    net: &convscope::model::Network,
    w: &[engine::LayerWeights],
) -> Result<usize, String> {
    let input = read(&case.join("input.npy"));
    let acts = engine::run(net, w, input.clone()).map_err(|e| e.to_string())?;
    // The prediction path (outputs alone, element-wise layers in place) gives the same
    // bits as the run that keeps every layer.
    let pred = engine::forward::predict(net, &net.analyze(), w, std::sync::Arc::new(input))
        .map_err(|e| e.to_string())?;
    for (o, got) in net.outputs().into_iter().zip(&pred.outputs) {
        let all = &acts[o].as_ref().ok_or("missing activation")?.output;
        if all.shape() != got.shape()
            || all
                .iter()
                .zip(got.iter())
                .any(|(a, b)| a.to_bits() != b.to_bits())
        {
            return Err(format!(
                "{}: predict differs from run",
                net.layers()[o].name
            ));
        }
    }
    let kept: usize = acts.iter().flatten().map(|a| a.output.len() * 4).sum();
    if pred.peak_bytes > kept {
        return Err(format!(
            "predict kept {} bytes, run {kept}",
            pred.peak_bytes
        ));
    }
    let mut compared = 0;
    for (i, layer) in net.layers().iter().enumerate() {
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

/// Keras 2 files as tf_keras 2.21 wrote them (`scripts/make_keras2_fixtures.py`): read
/// as Keras 2 did (DepthwiseConv2D's `groups: 1` dropped, and said so), every layer
/// within the golden tolerance of tf_keras's own outputs.
#[test]
fn keras2_files_run_as_keras2_computed_them() {
    let case = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/keras2/mobilenet_block");
    let loaded = load_model(&case.join("model.h5")).unwrap();
    let p = &loaded.provenance;
    assert!(p.is_keras2(), "{p:?}");
    assert_eq!(
        p.adapted,
        [
            "DepthwiseConv2D: `groups: 1` dropped (Keras 2 wrote it; it meant nothing) (1 layer)",
            "SeparableConv2D: `groups: 1` dropped (Keras 2 wrote it; it meant nothing) (1 layer)",
            "SeparableConv2D: `kernel_initializer`, `kernel_regularizer`, `kernel_constraint` \
             dropped (Keras 2 wrote them; its kernels are the depthwise and pointwise ones) \
             (1 layer)",
            "CustomScaleLayer: read as keras.applications' own class (Keras 2 wrote \
             `Custom>CustomScaleLayer`) (1 layer)",
        ]
    );
    assert!(p.describe().unwrap().starts_with(
        "Keras 2.21.0 file, backend tensorflow; adapted for Keras 3: DepthwiseConv2D: "
    ));
    assert_eq!(check_case(&case, "model.h5"), Ok(12));
    // Migrated to Keras 3 JSON, the file no longer carries the Keras 2 argument.
    let json = convscope::io::config::to_value(&loaded.network);
    let dw = json["config"]["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "dw")
        .unwrap();
    assert_eq!(dw["class_name"], "DepthwiseConv2D");
    assert!(dw["config"].get("groups").is_none(), "{dw}");
    let again = convscope::io::config::from_value(&json).unwrap();
    assert_eq!(again, loaded.network);
    // Keras 2 allowed `/` in names (DenseNet's `conv1/conv`); Keras 3 refuses it, so a
    // migrated file writes `_`, in the layer and in every reference to it.
    let mut net = loaded.network.clone();
    let dw = net.find("dw").unwrap();
    net.layer_mut(dw).name = "block/dw".into();
    let text = convscope::io::config::to_json_string(&net);
    assert!(!text.contains("block/dw"), "{text}");
    let back = convscope::io::config::from_json_str(&text).unwrap();
    let i = back.find("block_dw").expect("renamed layer");
    assert_eq!(back.consumers_of(i).len(), 1);
}

/// tf.keras 2's op layers (`TFOpLambda`: what MobileNetV3's `x + 3.0` and `* (1/6)`
/// become in a Keras 2 file): read as the Keras 3 operations, with numbers and tensors
/// as second operands, every layer within tolerance of tf_keras; an unknown TensorFlow
/// call is refused naming the layer.
#[test]
fn keras2_op_layers_run_as_keras2_computed_them() {
    let case = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/keras2/op_layers");
    let loaded = load_model(&case.join("model.h5")).unwrap();
    let adapted = &loaded.provenance.adapted;
    for (function, op, n) in [
        ("__operators__.add", "Add", 2),
        ("math.multiply", "Multiply", 2),
        ("math.subtract", "Subtract", 1),
        ("math.truediv", "TrueDivide", 1),
    ] {
        let s = if n == 1 { "" } else { "s" };
        let note = format!(
            "TFOpLambda: TensorFlow's `tf.{function}` read as the Keras 3 operation {op} \
             ({n} layer{s})"
        );
        assert!(adapted.contains(&note), "{note} not in {adapted:?}");
    }
    assert_eq!(check_case(&case, "model.h5"), Ok(12));
    // An op layer convscope does not know is refused, never guessed.
    let cfg = std::fs::read_to_string(case.join("config.json")).unwrap();
    let edited = cfg.replace("math.truediv", "math.floordiv");
    let e = convscope::io::config::from_json_str(&edited)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("TFOpLambda") && e.contains("tf.math.floordiv") && e.contains("layer 'tf."),
        "{e}"
    );
}

/// Cases made by Keras 3.15.1 for the Winograd path (`tests/fixtures/winograd`): every
/// layer is within the golden tolerance, and every one of them really takes the
/// variant its case is named after.
#[test]
fn winograd_layers_match_keras() {
    use convscope::keras::geometry::{Padding, Window};
    use convscope::kernels::winograd::{Variant, choose};
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
            let pad = if same { Padding::Same } else { Padding::Valid };
            let win = Window::keras([side, side], [3, 3], [1, 1], [1, 1], pad);
            assert_eq!(choose([3, 3], &win, 1, cin, cout), Some(variant), "{case}");
        }
        let n =
            check_case(&root.join(case), "model.keras").unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(n, convs.len(), "{case}");
    }
}

/// Keras lower-cases `data_format` (`standardize_data_format`): a config saying
/// "Channels_First" is the channels_first model, and computes Keras's numbers.
#[test]
fn channels_first_in_any_case_is_channels_first() {
    use convscope::io::config;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden");
    for name in ["stack_channels_first", "conv_cf_k3", "conv_cf_s2_k4_same"] {
        let case = root.join(name);
        let text = std::fs::read_to_string(case.join("config.json")).unwrap();
        assert!(text.contains("\"channels_first\""), "{name}");
        let odd = config::from_json_str(&text.replace("\"channels_first\"", "\"Channels_First\""))
            .unwrap();
        let plain = config::from_json_str(&text).unwrap();
        assert_eq!(odd, plain, "{name}");
        assert_eq!(odd.analyze(), plain.analyze(), "{name}");
        let loaded = load_model(&case.join("model.keras")).unwrap();
        let w = weights::from_keras(&loaded.bytes, &odd, &odd.analyze()).unwrap();
        compare(&case, &odd, &w).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

/// The prediction path runs Conv2D → BatchNormalization (→ ReLU) in the convolution's
/// kernel, each block of output through the following layers' steps while in cache (the
/// Winograd, 1×1 and strided im2col paths here, all threads), with the same bits as
/// the run that keeps every layer; a Conv2D whose activation is not element-wise
/// (softmax) leaves its BatchNormalization to run after it.
#[test]
fn convolutions_take_the_element_wise_layers_after_them() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fused/config.json");
    let net = load_model(&path).expect("fixture").network;
    let a = net.analyze();
    // BatchNormalization with statistics that matter.
    let mut w = engine::weights::initialize(&net, &a, 11).expect("weights");
    for (i, layer) in net.layers().iter().enumerate() {
        if layer.kind.class_name() == "BatchNormalization" {
            for (j, arr) in w[i].iter_mut().enumerate() {
                for (k, v) in arr.iter_mut().enumerate() {
                    *v = 0.5 + ((k * 7 + j * 3) % 5) as f32 * 0.25;
                }
            }
        }
    }
    let x = ndarray::ArrayD::from_shape_fn(ndarray::IxDyn(&[2, 32, 32, 16]), |d| {
        ((d[1] * 31 + d[2] * 7 + d[3] * 3) % 17) as f32 * 0.1 - 0.8
    });
    let all = engine::run(&net, &w, x.clone()).expect("run");
    let pred = engine::forward::predict(&net, &a, &w, std::sync::Arc::new(x)).expect("predict");
    let last = net.len() - 1;
    let want = &all[last].as_ref().expect("kept").output;
    assert_eq!(want.shape(), pred.outputs[0].shape());
    assert!(
        want.iter()
            .zip(pred.outputs[0].iter())
            .all(|(a, b)| a.to_bits() == b.to_bits())
    );
    let idx = |name: &str| {
        net.layers()
            .iter()
            .position(|l| l.name == name)
            .expect(name)
    };
    // Folded into the convolution before them: no time of their own.
    for name in ["bn1", "relu1", "bn2", "bn3", "act3"] {
        assert_eq!(pred.millis[idx(name)], 0.0, "{name}");
    }
    assert!(pred.millis[idx("bn4")] > 0.0, "bn4 runs after the softmax");
}
