//! Attribution: `convscope explain --method gradcam --npy` against Grad-CAM computed by
//! real Keras (`scripts/keras_gradcam.py --save tests/fixtures/gradcam`), and every
//! other method against its definition.

use convscope::engine::backward::{Wanted, backward};
use convscope::engine::{self, LayerWeights};
use convscope::explain::{Explainer, Method, Target, grad_cam_plus_plus};
use convscope::io::npy;
use convscope::model::Network;
use convscope::progress::Progress;
use ndarray::{Array4, ArrayD, IxDyn};
use nets::model;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

mod nets;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn read(path: &Path) -> ArrayD<f32> {
    let a = npy::read_npy(&std::fs::read(path).unwrap()).unwrap();
    ArrayD::from_shape_vec(IxDyn(&a.shape), a.data).unwrap()
}

fn explain_cli(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_convscope"))
        .arg("explain")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn gradcam_matches_keras_on_golden_cases() {
    let dir = fixtures().join("gradcam");
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("index.json")).unwrap()).unwrap();
    let cases = index.as_object().unwrap();
    assert!(cases.len() >= 12);
    let tmp = std::env::temp_dir().join(format!("convscope-gradcam-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    for (case, want) in cases {
        let golden = fixtures().join("golden").join(case);
        let (npy_out, png) = (
            tmp.join(format!("{case}.npy")),
            tmp.join(format!("{case}.png")),
        );
        let class = want["class"].as_u64().unwrap().to_string();
        let (code, out, err) = explain_cli(&[
            &golden.join("model.keras").display().to_string(),
            "--input",
            &golden.join("input.npy").display().to_string(),
            "--method",
            "gradcam",
            "--class",
            &class,
            "--out",
            &png.display().to_string(),
            "--npy",
            &npy_out.display().to_string(),
        ]);
        assert_eq!(code, 0, "{case}: {err}");
        let layer = want["layer"].as_str().unwrap();
        assert!(out.contains(&format!("at '{layer}'")), "{case}: {out}");
        let (got, expected) = (read(&npy_out), read(&dir.join(format!("{case}.npy"))));
        assert_eq!(got.shape(), expected.shape(), "{case}");
        let tol = 1e-4 * expected.iter().fold(1f32, |a, v| a.max(v.abs()));
        let worst = got
            .iter()
            .zip(&expected)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(worst <= tol, "{case}: max |diff| {worst} > {tol}");
        // The overlay is a PNG of the input's size.
        let img = image::open(&png).unwrap();
        let x = read(&golden.join("input.npy"));
        assert_eq!(
            (img.height() as usize, img.width() as usize),
            (x.shape()[1], x.shape()[2]),
            "{case}"
        );
    }
    std::fs::remove_dir_all(&tmp).ok();
}

/// A small smooth classifier: conv (tanh) → conv (tanh) → global average → Dense(softmax).
fn classifier() -> (Network, Vec<LayerWeights>, ArrayD<f32>) {
    let shape: &[usize] = &[1, 8, 9, 3];
    let net = model(
        &[("x", shape)],
        &[
            (
                "c1",
                "Conv2D",
                json!({"filters": 5, "kernel_size": [3, 3], "padding": "same", "activation": "tanh"}),
                &["x"],
            ),
            (
                "c2",
                "Conv2D",
                json!({"filters": 4, "kernel_size": [3, 3], "strides": [2, 2], "activation": "tanh"}),
                &["c1"],
            ),
            ("gap", "GlobalAveragePooling2D", json!({}), &["c2"]),
            (
                "out",
                "Dense",
                json!({"units": 3, "activation": "softmax"}),
                &["gap"],
            ),
        ],
        "out",
    );
    let mut w = engine::weights::initialize(&net, &net.analyze(), 5).unwrap();
    // Non-zero biases too.
    for (i, a) in w.iter_mut().flatten().enumerate() {
        let k = i as f32;
        a.iter_mut()
            .enumerate()
            .for_each(|(j, v)| *v += 0.05 * ((j as f32 + k).sin()));
    }
    let x = ArrayD::from_shape_fn(IxDyn(shape), |i| {
        ((i[1] * 7 + i[2] * 3 + i[3]) as f32 * 0.37).sin()
    });
    (net, w, x)
}

fn explainer<'a>(
    net: &Network,
    w: &'a [LayerWeights],
    x: &ArrayD<f32>,
) -> Explainer<'a, LayerWeights> {
    Explainer::new(net, w, vec![Arc::new(x.clone())]).unwrap()
}

/// The logit of `class` (the model read without its softmax) at input `x`.
fn logit(e: &Explainer<LayerWeights>, w: &[LayerWeights], x: &ArrayD<f32>, class: usize) -> f32 {
    let acts = engine::forward::run_inputs(e.network(), w, vec![Arc::new(x.clone())]).unwrap();
    acts[e.score_layer()].as_ref().unwrap().output[[0, class]]
}

#[test]
fn the_class_score_is_taken_before_the_softmax() {
    let (net, w, x) = classifier();
    let e = explainer(&net, &w, &x);
    let (scores, probs) = e.class_scores().unwrap();
    let probs = probs.expect("the model ends in a softmax");
    // The model's own output is the softmax of the scores.
    let acts = engine::run(&net, &w, x.clone()).unwrap();
    let y = &acts[net.outputs()[0]].as_ref().unwrap().output;
    let m = scores.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
    let z: f32 = scores.iter().map(|s| (s - m).exp()).sum();
    for k in 0..3 {
        assert!((y[[0, k]] - (scores[k] - m).exp() / z).abs() < 1e-6);
        assert!((probs[k] - y[[0, k]]).abs() < 1e-6);
    }
    let a = e
        .explain(Target::Class(1), Method::Saliency, None, &Progress::new())
        .unwrap();
    assert!((a.score - scores[1]).abs() < 1e-6);
    // The original network is untouched.
    assert_eq!(net.layers()[4].kind.activation(), Some("softmax"));
}

#[test]
fn saliency_is_the_largest_input_gradient_over_channels() {
    let (net, w, x) = classifier();
    let e = explainer(&net, &w, &x);
    let a = e
        .explain(Target::Class(2), Method::Saliency, None, &Progress::new())
        .unwrap();
    // d logit_2 / d x through the engine's backward pass.
    let acts = engine::forward::run_inputs(e.network(), &w, vec![Arc::new(x.clone())]).unwrap();
    let mut seed = ArrayD::zeros(IxDyn(&[1, 3]));
    seed[[0, 2]] = 1.0;
    let g = backward(
        e.network(),
        &w,
        &acts,
        vec![(e.score_layer(), seed)],
        Wanted::default(),
        &Progress::new(),
    )
    .unwrap();
    for i in 0..8 {
        for j in 0..9 {
            let want = (0..3)
                .map(|c| g.inputs[0][[0, i, j, c]].abs())
                .fold(0f32, f32::max);
            assert!((a.map[[i, j]] - want).abs() < 1e-6);
        }
    }
    // Finite differences agree with the largest channel's gradient.
    let eps = 1e-2;
    let (i, j) = (3, 4);
    let c = (0..3)
        .max_by(|&p, &q| {
            g.inputs[0][[0, i, j, p]]
                .abs()
                .total_cmp(&g.inputs[0][[0, i, j, q]].abs())
        })
        .unwrap();
    let bump = |d: f32| {
        let mut y = x.clone();
        y[[0, i, j, c]] += d;
        logit(&e, &w, &y, 2)
    };
    let fd = (bump(eps) - bump(-eps)) / (2.0 * eps);
    assert!(
        (fd.abs() - a.map[[i, j]]).abs() < 1e-2 * a.map[[i, j]].max(1e-2),
        "{fd} vs {}",
        a.map[[i, j]]
    );
}

#[test]
fn integrated_gradients_add_up_to_the_score_difference() {
    let (net, w, x) = classifier();
    let e = explainer(&net, &w, &x);
    let method = Method::IntegratedGradients {
        steps: 256,
        baseline: 0.0,
    };
    let a = e
        .explain(Target::Class(0), method, None, &Progress::new())
        .unwrap();
    let total: f32 = a.map.sum();
    let zero = ArrayD::zeros(x.raw_dim());
    let want = logit(&e, &w, &x, 0) - logit(&e, &w, &zero, 0);
    assert!(
        (total - want).abs() < 1e-2 * want.abs().max(0.1),
        "Σ map {total}, score difference {want}"
    );
}

#[test]
fn occlusion_of_the_whole_image_is_the_score_drop_everywhere() {
    let (net, w, x) = classifier();
    let e = explainer(&net, &w, &x);
    let a = e
        .explain(
            Target::Class(1),
            Method::Occlusion {
                window: 9,
                stride: 9,
            },
            None,
            &Progress::new(),
        )
        .unwrap();
    let zero = ArrayD::zeros(x.raw_dim());
    let drop = logit(&e, &w, &x, 1) - logit(&e, &w, &zero, 1);
    assert!(
        a.map.iter().all(|v| (v - drop).abs() < 1e-5),
        "{:?} vs {drop}",
        a.map
    );
    // A one-pixel patch: the score drop when that pixel alone is zeroed.
    let a = e
        .explain(
            Target::Class(1),
            Method::Occlusion {
                window: 1,
                stride: 1,
            },
            None,
            &Progress::new(),
        )
        .unwrap();
    let mut y = x.clone();
    for c in 0..3 {
        y[[0, 2, 5, c]] = 0.0;
    }
    let want = logit(&e, &w, &x, 1) - logit(&e, &w, &y, 1);
    assert!((a.map[[2, 5]] - want).abs() < 1e-5);
}

#[test]
fn gradcam_and_gradcam_plus_plus_follow_their_definitions() {
    let (net, w, x) = classifier();
    let e = explainer(&net, &w, &x);
    let c2 = net.find("c2").unwrap();
    assert_eq!(e.default_cam_layer(Target::Class(0)), Some(c2));
    let a = e
        .explain(Target::Class(0), Method::GradCam, None, &Progress::new())
        .unwrap();
    assert_eq!(a.layer, Some(c2));
    // Through a global average and a Dense layer, d logit_0 / d A_k is the Dense weight
    // w_k0 / (h·w) everywhere: Grad-CAM is ReLU(Σ_k w_k0/(hw) · A_k).
    let acts = engine::run(&net, &w, x.clone()).unwrap();
    let act = &acts[c2].as_ref().unwrap().output;
    let (h, wd, k) = (act.shape()[1], act.shape()[2], act.shape()[3]);
    let dense = &w[net.find("out").unwrap()][0];
    let n = (h * wd) as f32;
    for i in 0..h {
        for j in 0..wd {
            let s: f32 = (0..k).map(|c| dense[[c, 0]] / n * act[[0, i, j, c]]).sum();
            assert!((a.map[[i, j]] - s.max(0.0)).abs() < 1e-6);
        }
    }
    assert_eq!(a.overlay.dim(), (8, 9));
    // Grad-CAM++ with a constant gradient g_k: α = 1 / (2 + Σ A_k · g_k), weights
    // w_k = α · ReLU(g_k) · h·w.
    let pp = e
        .explain(
            Target::Class(0),
            Method::GradCamPlusPlus,
            None,
            &Progress::new(),
        )
        .unwrap();
    let a4 = ArrayD::clone(act)
        .into_dimensionality::<ndarray::Ix4>()
        .unwrap();
    let g4 = Array4::from_shape_fn(a4.raw_dim(), |(_, _, _, c)| dense[[c, 0]] / n);
    assert_eq!(pp.map, grad_cam_plus_plus(&a4, &g4));
    for i in 0..h {
        for j in 0..wd {
            let s: f32 = (0..k)
                .map(|c| {
                    let g = dense[[c, 0]] / n;
                    let total: f32 = (0..h)
                        .flat_map(|p| (0..wd).map(move |q| (p, q)))
                        .map(|(p, q)| act[[0, p, q, c]])
                        .sum();
                    let alpha = 1.0 / (2.0 + total * g);
                    alpha * g.max(0.0) * n * act[[0, i, j, c]]
                })
                .sum();
            assert!(
                (pp.map[[i, j]] - s.max(0.0)).abs() < 1e-5,
                "{} vs {s}",
                pp.map[[i, j]]
            );
        }
    }
}

#[test]
fn scorecam_weighs_each_channel_by_the_masked_inputs_probability() {
    let (net, w, x) = classifier();
    let e = explainer(&net, &w, &x);
    let c1 = net.find("c1").unwrap();
    let a = e
        .explain(
            Target::Class(2),
            Method::ScoreCam { max_channels: 64 },
            Some(c1),
            &Progress::new(),
        )
        .unwrap();
    let acts = engine::run(&net, &w, x.clone()).unwrap();
    let act = &acts[c1].as_ref().unwrap().output;
    let mut want = ndarray::Array2::<f32>::zeros((8, 9));
    for c in 0..5 {
        let m = act
            .index_axis(ndarray::Axis(0), 0)
            .index_axis(ndarray::Axis(2), c)
            .to_owned();
        let (lo, hi) = m
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(p, q), &v| {
                (p.min(v), q.max(v))
            });
        let masked = ArrayD::from_shape_fn(x.raw_dim(), |i| {
            x[[i[0], i[1], i[2], i[3]]] * (m[[i[1], i[2]]] - lo) / (hi - lo)
        });
        let run = engine::run(&net, &w, masked).unwrap();
        let p = run[net.outputs()[0]].as_ref().unwrap().output[[0, 2]];
        want.scaled_add(p, &m);
    }
    let want = want.mapv(|v| v.max(0.0));
    for (g, v) in a.map.iter().zip(&want) {
        assert!((g - v).abs() < 1e-5, "{g} vs {v}");
    }
}

#[test]
fn smoothgrad_is_seeded_and_a_channel_can_be_the_target() {
    let (net, w, x) = classifier();
    let e = explainer(&net, &w, &x);
    let m = Method::SmoothGrad {
        samples: 8,
        noise: 0.1,
        seed: 3,
    };
    let a = e
        .explain(Target::Class(0), m, None, &Progress::new())
        .unwrap();
    let b = e
        .explain(Target::Class(0), m, None, &Progress::new())
        .unwrap();
    assert_eq!(a.map, b.map);
    let other = Method::SmoothGrad {
        samples: 8,
        noise: 0.1,
        seed: 4,
    };
    assert_ne!(
        a.map,
        e.explain(Target::Class(0), other, None, &Progress::new())
            .unwrap()
            .map
    );
    // What makes channel 1 of c1 fire: its score is the channel's mean.
    let c1 = net.find("c1").unwrap();
    let t = Target::Channel {
        layer: c1,
        channel: 1,
    };
    let s = e
        .explain(t, Method::Saliency, None, &Progress::new())
        .unwrap();
    let acts = engine::run(&net, &w, x.clone()).unwrap();
    let act = &acts[c1].as_ref().unwrap().output;
    let mean = act.index_axis(ndarray::Axis(3), 1).mean().unwrap();
    assert!((s.score - mean).abs() < 1e-6);
    assert!(s.map.iter().any(|&v| v > 0.0));
    // Out of range: refused with the numbers.
    let bad = Target::Channel {
        layer: c1,
        channel: 9,
    };
    let err = e
        .explain(bad, Method::Saliency, None, &Progress::new())
        .unwrap_err();
    assert!(
        err.contains("channel 9 is out of range: layer 'c1' has 5 channels"),
        "{err}"
    );
    let err = e
        .explain(Target::Class(7), Method::GradCam, None, &Progress::new())
        .unwrap_err();
    assert!(
        err.contains("class 7 is out of range: the model has 3 classes"),
        "{err}"
    );
}

#[test]
fn a_cancelled_explanation_stops() {
    let (net, w, x) = classifier();
    let e = explainer(&net, &w, &x);
    let p = Progress::new();
    p.cancel();
    let m = Method::IntegratedGradients {
        steps: 64,
        baseline: 0.0,
    };
    assert_eq!(
        e.explain(Target::Class(0), m, None, &p).unwrap_err(),
        "cancelled"
    );
}

#[test]
fn explain_refuses_what_it_cannot_do() {
    let golden = fixtures().join("golden/stack_gap_dense");
    let m = golden.join("model.keras").display().to_string();
    let i = golden.join("input.npy").display().to_string();
    let out = std::env::temp_dir().join(format!("convscope-explain-{}.png", std::process::id()));
    let o = out.display().to_string();
    for (args, says) in [
        (vec!["--method", "nope"], "unknown method 'nope'"),
        (vec!["--class", "99"], "class 99 is out of range"),
        (vec!["--target", "conv2d"], "--target takes LAYER:CHANNEL"),
        (vec!["--layer", "nope"], "no layer named 'nope'"),
        (vec!["--class", "0", "--target", "conv2d:0"], "not both"),
        (vec!["--colormap", "rainbow"], "unknown colormap"),
    ] {
        let mut all = vec![m.as_str(), "--input", i.as_str(), "--out", o.as_str()];
        all.extend(args.iter().copied());
        let (code, _, err) = explain_cli(&all);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    // Every method runs through the CLI.
    for method in Method::NAMES {
        let (code, out, err) = explain_cli(&[
            &m,
            "--input",
            &i,
            "--out",
            &o,
            "--method",
            method,
            "--samples",
            "2",
            "--steps",
            "4",
        ]);
        assert_eq!(code, 0, "{method}: {err}");
        assert!(out.starts_with(method), "{out}");
    }
    std::fs::remove_file(&out).ok();
}

#[test]
fn gradcam_at_every_layer_agrees_with_each_layers_own() {
    let (net, w, x) = classifier();
    let e = explainer(&net, &w, &x);
    let all = e
        .cam_at_every_layer(Target::Class(1), false, &Progress::new())
        .unwrap();
    let layers: Vec<usize> = all.iter().map(|(l, _)| *l).collect();
    assert_eq!(
        layers,
        vec![net.find("c1").unwrap(), net.find("c2").unwrap()]
    );
    for (l, map) in &all {
        let own = e
            .explain(
                Target::Class(1),
                Method::GradCam,
                Some(*l),
                &Progress::new(),
            )
            .unwrap();
        assert_eq!(&own.map, map, "layer {l}");
    }
    let plus = e
        .cam_at_every_layer(Target::Class(1), true, &Progress::new())
        .unwrap();
    let own = e
        .explain(
            Target::Class(1),
            Method::GradCamPlusPlus,
            Some(layers[0]),
            &Progress::new(),
        )
        .unwrap();
    assert_eq!(plus[0].1, own.map);
}
