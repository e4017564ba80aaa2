//! The backward pass: every golden case's gradients (the input's and every trainable
//! weight's) against Keras's own (`grads/`, made with `jax.grad` of
//! `model.stateless_call`; `scripts/keras_grads.py` made those of the cases convscope
//! added), within `1e-4 × max(1, max|expected|)`; finite differences for every layer
//! kind and its arguments; the `convscope grad` contract.

use convscope::engine::backward::{Wanted, backward};
use convscope::engine::{self, LayerWeights};
use convscope::io::{load_model, npy, weights};
use convscope::model::Network;
use convscope::progress::Progress;
use golden_files::{read, roots, worst};
use ndarray::{ArrayD, IxDyn};
use nets::model;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

mod golden_files;
mod nets;

/// One case: the model's gradients for Keras's cotangent, against its files.
fn check_case(case: &Path) -> Result<usize, String> {
    let loaded = load_model(&case.join("model.keras")).map_err(|e| e.to_string())?;
    let net = loaded.network;
    let analysis = net.analyze();
    let w = weights::from_keras_nested(&loaded.bytes, &net, &analysis, &loaded.provenance.nested)
        .map_err(|e| e.to_string())?;
    let input = read(&case.join("input.npy"));
    let acts = engine::run(&net, &w, input).map_err(|e| e.to_string())?;
    let grads = case.join("grads");
    let [out] = net.outputs()[..] else {
        return Err("one output expected".into());
    };
    let seeds = vec![(out, read(&grads.join("cotangent.npy")))];
    let wanted = Wanted {
        weights: true,
        ..Wanted::default()
    };
    let g =
        backward(&net, &w, &acts, seeds, wanted, &Progress::new()).map_err(|e| e.to_string())?;
    worst(&g.inputs[0], &read(&grads.join("input.npy"))).map_err(|e| format!("input: {e}"))?;
    let mut compared = 1;
    for (i, layer) in net.layers().iter().enumerate() {
        for (k, gk) in g.weights[i].iter().enumerate() {
            let file = grads.join(&layer.name).join(format!("{k}.npy"));
            match (gk, file.is_file()) {
                (Some(gk), true) => {
                    worst(gk, &read(&file)).map_err(|e| format!("{}/{k}: {e}", layer.name))?;
                    compared += 1;
                }
                (None, false) => {}
                (Some(_), false) => {
                    return Err(format!("{}/{k}: Keras has no gradient", layer.name));
                }
                (None, true) => return Err(format!("{}/{k}: missing", layer.name)),
            }
        }
        // Every array Keras differentiated was compared.
        let dir = grads.join(&layer.name);
        if dir.is_dir() {
            let files = std::fs::read_dir(&dir).unwrap().count();
            let ours = g.weights[i].iter().flatten().count();
            if files != ours {
                return Err(format!(
                    "{}: Keras has {files} gradients, convscope {ours}",
                    layer.name
                ));
            }
        }
    }
    Ok(compared)
}

#[test]
fn every_golden_gradient_matches_keras() {
    let (mut failures, mut cases, mut arrays) = (Vec::new(), 0, 0);
    for root in roots() {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join("grads").is_dir() && p.join("model.keras").is_file())
            .collect();
        dirs.sort();
        for case in dirs {
            match check_case(&case) {
                Ok(n) => {
                    cases += 1;
                    arrays += n;
                }
                Err(e) => failures.push(format!("{}: {e}", case.display())),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(cases >= 77, "only {cases} cases ({arrays} arrays)");
}

// ----------------------------------------------------------------------------------
// Finite differences.

/// A deterministic pseudo-random stream (SplitMix64), uniform in [-1, 1).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f32 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }

    fn array(&mut self, shape: &[usize]) -> ArrayD<f32> {
        ArrayD::from_shape_simple_fn(IxDyn(shape), || self.next())
    }
}

/// The scalar `Σ output ⊙ c`, in f64.
fn scalar(net: &Network, w: &[LayerWeights], xs: &[ArrayD<f32>], c: &ArrayD<f32>) -> f64 {
    let inputs = xs.iter().cloned().map(Arc::new).collect();
    let acts = engine::forward::run_inputs(net, w, inputs).unwrap();
    let out = net.outputs()[0];
    let y = &acts[out].as_ref().unwrap().output;
    y.iter().zip(c).map(|(&a, &b)| a as f64 * b as f64).sum()
}

/// The analytic gradients of the model's inputs and weights at random points against
/// central differences, a few coordinates per array; coordinates at a kink (where the
/// one-sided differences disagree) are skipped, and most must be checked.
fn finite_differences(what: &str, net: &Network, shapes: &[&[usize]]) {
    let mut rng = Rng(what
        .bytes()
        .fold(17u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64)));
    let analysis = net.analyze();
    let mut w = engine::weights::initialize(net, &analysis, 3).unwrap();
    // Random weights (biases, BatchNormalization's statistics included; variances > 0).
    for (i, lw) in w.iter_mut().enumerate() {
        let specs = &analysis.layers[i].weights;
        for (a, spec) in lw.iter_mut().zip(specs) {
            let positive = spec.name.contains("variance") || spec.name == "count";
            a.mapv_inplace(|_| {
                let v = rng.next();
                if positive { v.abs() + 0.5 } else { v }
            });
        }
    }
    let xs: Vec<ArrayD<f32>> = shapes.iter().map(|s| rng.array(s)).collect();
    let acts =
        engine::forward::run_inputs(net, &w, xs.iter().cloned().map(Arc::new).collect()).unwrap();
    let out = net.outputs()[0];
    let c = rng.array(acts[out].as_ref().unwrap().output.shape());
    let wanted = Wanted {
        weights: true,
        ..Wanted::default()
    };
    let g = backward(
        net,
        &w,
        &acts,
        vec![(out, c.clone())],
        wanted,
        &Progress::new(),
    )
    .unwrap_or_else(|e| panic!("{what}: {e}"));
    let (mut checked, mut kinks) = (0, 0);
    let mut check = |label: String, analytic: f32, f: &mut dyn FnMut(f32) -> f64| {
        // Central differences at two steps: where they disagree the function has a kink
        // (ReLU at 0, a pooling window's maximum changing) within the step.
        let eps = 1e-2f32;
        let wide = (f(eps) - f(-eps)) / (2.0 * eps as f64);
        let fd = (f(eps / 2.0) - f(-eps / 2.0)) / eps as f64;
        if (wide - fd).abs() > 1e-2 * fd.abs().max(1.0) {
            kinks += 1;
            return;
        }
        let tol = 2e-2 * (analytic.abs() as f64).max(1.0);
        assert!(
            (fd - analytic as f64).abs() <= tol,
            "{what}: {label}: analytic {analytic}, finite difference {fd}"
        );
        checked += 1;
    };
    for (k, x) in xs.iter().enumerate() {
        for _ in 0..12 {
            let at = ((rng.next() + 1.0) * 0.5 * x.len() as f32) as usize % x.len();
            let analytic = g.inputs[k].as_slice().unwrap()[at];
            check(format!("input {k}[{at}]"), analytic, &mut |d| {
                let mut xs = xs.clone();
                xs[k].as_slice_mut().unwrap()[at] += d;
                scalar(net, &w, &xs, &c)
            });
        }
    }
    for (i, lw) in w.iter().enumerate() {
        for (j, a) in lw.iter().enumerate() {
            let Some(Some(ga)) = g.weights[i].get(j) else {
                continue;
            };
            for _ in 0..4 {
                let at = ((rng.next() + 1.0) * 0.5 * a.len() as f32) as usize % a.len();
                let analytic = ga.as_standard_layout().as_slice().unwrap()[at];
                check(
                    format!("{}/{j}[{at}]", net.layers()[i].name),
                    analytic,
                    &mut |d| {
                        let mut w = w.clone();
                        w[i][j].as_slice_mut().unwrap()[at] += d;
                        scalar(net, &w, &xs, &c)
                    },
                );
            }
        }
    }
    assert!(
        checked > 2 * kinks && checked >= 4,
        "{what}: {checked} checked, {kinks} at kinks"
    );
}

/// One layer on one input.
fn one(what: &str, shape: &[usize], class: &str, config: Value) {
    let net = model(&[("x", shape)], &[("l", class, config, &["x"])], "l");
    finite_differences(what, &net, &[shape]);
}

const IMAGE: &[usize] = &[2, 7, 6, 4];

#[test]
fn convolutions_match_finite_differences() {
    let conv = |extra: Value| {
        let mut c = json!({"filters": 6, "kernel_size": [3, 3], "use_bias": true});
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };
    for (what, extra) in [
        ("conv valid", json!({})),
        (
            "conv same s2",
            json!({"padding": "same", "strides": [2, 2]}),
        ),
        (
            "conv even kernel same",
            json!({"padding": "same", "kernel_size": [2, 4]}),
        ),
        (
            "conv dilated",
            json!({"dilation_rate": [2, 1], "padding": "same"}),
        ),
        ("conv groups", json!({"groups": 2, "activation": "gelu"})),
        (
            "conv no bias swish",
            json!({"use_bias": false, "activation": "swish"}),
        ),
        (
            "conv softmax",
            json!({"activation": "softmax", "padding": "same"}),
        ),
        (
            "conv channels_first",
            json!({"data_format": "channels_first", "strides": [2, 1], "activation": "tanh"}),
        ),
    ] {
        one(what, IMAGE, "Conv2D", conv(extra));
    }
    one(
        "conv 1x1",
        IMAGE,
        "Conv2D",
        json!({"filters": 5, "kernel_size": [1, 1], "activation": "elu"}),
    );
    one(
        "depthwise",
        IMAGE,
        "DepthwiseConv2D",
        json!({"kernel_size": [3, 3], "depth_multiplier": 2, "strides": [2, 2], "padding": "same", "activation": "mish"}),
    );
    one(
        "depthwise channels_first",
        IMAGE,
        "DepthwiseConv2D",
        json!({"kernel_size": [2, 3], "data_format": "channels_first"}),
    );
    one(
        "separable",
        IMAGE,
        "SeparableConv2D",
        json!({"filters": 5, "kernel_size": [3, 3], "depth_multiplier": 2, "padding": "same", "activation": "sigmoid"}),
    );
    for (what, extra) in [
        (
            "transpose s2 same",
            json!({"strides": [2, 2], "padding": "same"}),
        ),
        (
            "transpose valid output_padding",
            json!({"strides": [2, 2], "output_padding": [1, 0]}),
        ),
        (
            "transpose dilated",
            json!({"dilation_rate": [2, 2], "activation": "softplus"}),
        ),
        (
            "transpose channels_first",
            json!({"data_format": "channels_first", "strides": [1, 2]}),
        ),
    ] {
        one(what, IMAGE, "Conv2DTranspose", conv(extra));
    }
}

#[test]
fn pooling_normalization_and_shape_layers_match_finite_differences() {
    for (what, class, config) in [
        (
            "max pool same",
            "MaxPooling2D",
            json!({"pool_size": [3, 3], "strides": [2, 2], "padding": "same"}),
        ),
        (
            "avg pool same",
            "AveragePooling2D",
            json!({"pool_size": [3, 2], "strides": [2, 2], "padding": "same"}),
        ),
        (
            "avg pool valid cf",
            "AveragePooling2D",
            json!({"pool_size": [2, 2], "data_format": "channels_first"}),
        ),
        ("global avg", "GlobalAveragePooling2D", json!({})),
        (
            "global max keepdims",
            "GlobalMaxPooling2D",
            json!({"keepdims": true}),
        ),
        ("batch norm", "BatchNormalization", json!({})),
        (
            "batch norm axis 1",
            "BatchNormalization",
            json!({"axis": 1, "center": false}),
        ),
        ("layer norm", "LayerNormalization", json!({"axis": -1})),
        (
            "layer norm 3 axes",
            "LayerNormalization",
            json!({"axis": [1, 2, 3]}),
        ),
        (
            "layer norm axes -1 1",
            "LayerNormalization",
            json!({"axis": [-1, 1], "center": false}),
        ),
        (
            "layer norm rms",
            "LayerNormalization",
            json!({"axis": -1, "rms_scaling": true}),
        ),
        (
            "relu",
            "ReLU",
            json!({"max_value": 0.6, "negative_slope": 0.1, "threshold": 0.2}),
        ),
        ("leaky relu", "LeakyReLU", json!({"negative_slope": 0.3})),
        ("softmax 2 axes", "Softmax", json!({"axis": [1, 2]})),
        (
            "rescaling",
            "Rescaling",
            json!({"scale": 0.5, "offset": -1.0}),
        ),
        ("dropout", "Dropout", json!({"rate": 0.5})),
        ("spatial dropout", "SpatialDropout2D", json!({"rate": 0.5})),
        (
            "flatten cf",
            "Flatten",
            json!({"data_format": "channels_first"}),
        ),
        ("reshape", "Reshape", json!({"target_shape": [6, 28]})),
        ("permute", "Permute", json!({"dims": [3, 1, 2]})),
        (
            "layer scale",
            "keras.src.applications.convnext.LayerScale",
            json!({"init_values": 0.1, "projection_dim": 4}),
        ),
        (
            "zero padding",
            "ZeroPadding2D",
            json!({"padding": [[1, 2], [0, 3]]}),
        ),
        (
            "cropping cf",
            "Cropping2D",
            json!({"cropping": [[1, 2], [0, 1]], "data_format": "channels_first"}),
        ),
        (
            "upsampling nearest",
            "UpSampling2D",
            json!({"size": [2, 3]}),
        ),
        (
            "upsampling bilinear",
            "UpSampling2D",
            json!({"size": [2, 2], "interpolation": "bilinear"}),
        ),
        (
            "dense rank 4",
            "Dense",
            json!({"units": 5, "activation": "selu"}),
        ),
        (
            "dense softmax",
            "Dense",
            json!({"units": 3, "activation": "softmax"}),
        ),
        (
            "normalization",
            "Normalization",
            json!({"axis": -1, "mean": [0.1, 0.2, -0.3, 0.0], "variance": [1.0, 2.0, 0.5, 4.0]}),
        ),
    ] {
        one(what, IMAGE, class, config);
    }
}

#[test]
fn every_activation_matches_finite_differences() {
    for a in [
        "relu",
        "relu6",
        "leaky_relu",
        "elu",
        "selu",
        "celu",
        "gelu",
        "sigmoid",
        "tanh",
        "softplus",
        "softsign",
        "silu",
        "hard_sigmoid",
        "hard_silu",
        "hard_tanh",
        "tanh_shrink",
        "exponential",
        "mish",
        "log_sigmoid",
        "squareplus",
        "sparse_plus",
        "sparse_sigmoid",
        "softmax",
        "log_softmax",
        "sparsemax",
        "linear",
    ] {
        one(a, &[2, 3, 5], "Activation", json!({"activation": a}));
    }
}

#[test]
fn merges_match_finite_differences() {
    let a: &[usize] = &[2, 4, 5, 3];
    for class in [
        "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum",
    ] {
        let net = model(
            &[("a", a), ("b", a)],
            &[("m", class, json!({}), &["a", "b"])],
            "m",
        );
        finite_differences(class, &net, &[a, a]);
    }
    // Broadcasting: a lower-rank operand gets axes after the batch axis.
    let v: &[usize] = &[2, 3];
    let net = model(
        &[("a", a), ("b", v)],
        &[("m", "Multiply", json!({}), &["a", "b"])],
        "m",
    );
    finite_differences("multiply broadcast", &net, &[a, v]);
    let c: &[usize] = &[2, 4, 5, 2];
    let net = model(
        &[("a", a), ("b", c)],
        &[("m", "Concatenate", json!({"axis": -1}), &["a", "b"])],
        "m",
    );
    finite_differences("concatenate", &net, &[a, c]);
    let x: &[usize] = &[2, 4, 3];
    let y: &[usize] = &[2, 5, 3];
    for (what, config) in [
        ("dot", json!({"axes": [2, 2]})),
        ("dot normalize", json!({"axes": [2, 2], "normalize": true})),
    ] {
        let net = model(
            &[("x", x), ("y", y)],
            &[("d", "Dot", config, &["x", "y"])],
            "d",
        );
        finite_differences(what, &net, &[x, y]);
    }
    // A layer read twice sums its gradients.
    let net = model(
        &[("x", IMAGE)],
        &[
            (
                "c",
                "Conv2D",
                json!({"filters": 4, "kernel_size": [3, 3], "padding": "same", "activation": "tanh"}),
                &["x"],
            ),
            (
                "p",
                "MaxPooling2D",
                json!({"pool_size": [2, 2], "strides": [1, 1], "padding": "same"}),
                &["c"],
            ),
            ("s", "Add", json!({}), &["c", "p", "x"]),
        ],
        "s",
    );
    finite_differences("residual", &net, &[IMAGE]);
}

// ----------------------------------------------------------------------------------
// The `convscope grad` contract.

fn grad_cli(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_convscope"))
        .arg("grad")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn npz(path: &Path) -> Vec<(String, ArrayD<f32>)> {
    npy::read_npz(&std::fs::read(path).unwrap())
        .unwrap()
        .into_iter()
        .map(|(k, a)| (k, ArrayD::from_shape_vec(IxDyn(&a.shape), a.data).unwrap()))
        .collect()
}

#[test]
fn grad_writes_keras_keys_and_exits_as_run() {
    let case = roots()[0].join("stack_conv_bn_act");
    let p = |f: &str| case.join(f).display().to_string();
    let out = std::env::temp_dir().join(format!("convscope-grad-{}.npz", std::process::id()));
    let o = out.display().to_string();
    let (code, err) = grad_cli(&[
        &p("model.keras"),
        "--input",
        &p("input.npy"),
        "--cotangent",
        &p("grads/cotangent.npy"),
        "--out",
        &o,
        "--activations",
    ]);
    assert_eq!(code, 0, "{err}");
    let arrays = npz(&out);
    let keys: Vec<&str> = arrays.iter().map(|(k, _)| k.as_str()).collect();
    // The input, every trainable weight as <layer>/<i> (BatchNormalization's moving
    // statistics have none), and d/d every layer's output.
    for k in [
        "input",
        "conv2d/0",
        "batch_normalization/0",
        "batch_normalization/1",
        "output/input_layer",
        "output/conv2d",
    ] {
        assert!(keys.contains(&k), "{k} missing from {keys:?}");
    }
    assert!(!keys.contains(&"batch_normalization/2"), "{keys:?}");
    for (k, a) in &arrays {
        let file = case.join("grads").join(format!("{k}.npy"));
        if file.is_file() {
            worst(a, &read(&file)).unwrap_or_else(|e| panic!("{k}: {e}"));
        }
    }
    // The output's own gradient is the cotangent.
    let net = load_model(&case.join("model.keras")).unwrap().network;
    let last = &net.layers()[net.outputs()[0]].name;
    let own = &arrays
        .iter()
        .find(|(k, _)| *k == format!("output/{last}"))
        .unwrap()
        .1;
    assert_eq!(own, &read(&case.join("grads/cotangent.npy")));

    // --layer: the scalar reads that layer's output (default cotangent: ones); the
    // layers after it get nothing.
    let (code, err) = grad_cli(&[
        &p("model.keras"),
        "--input",
        &p("input.npy"),
        "--out",
        &o,
        "--layer",
        "conv2d",
    ]);
    assert_eq!(code, 0, "{err}");
    let arrays = npz(&out);
    assert!(arrays.iter().any(|(k, _)| k == "conv2d/0"));
    assert!(
        !arrays
            .iter()
            .any(|(k, _)| k.starts_with("batch_normalization/"))
    );

    // Errors: unknown layer, a cotangent of the wrong shape, a missing input (exit 2).
    for args in [
        vec![
            p("model.keras"),
            "--input".into(),
            p("input.npy"),
            "--out".into(),
            o.clone(),
            "--layer".into(),
            "nope".into(),
        ],
        vec![
            p("model.keras"),
            "--input".into(),
            p("input.npy"),
            "--out".into(),
            o.clone(),
            "--cotangent".into(),
            p("input.npy"),
        ],
        vec![
            p("model.keras"),
            "--input".into(),
            p("missing.npy"),
            "--out".into(),
            o.clone(),
        ],
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, err) = grad_cli(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.starts_with("error: "), "{err}");
    }
    std::fs::remove_file(&out).ok();
}
