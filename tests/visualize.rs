//! `convscope visualize`: activation maximization raises the channel's mean activation,
//! is the same for the same seed, makes a grid for a layer, and refuses what it cannot
//! do. (Its transposes and parameterization: unit tests in `src/visualize.rs`.)

use std::path::{Path, PathBuf};
use std::process::Command;

fn model() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/golden/stack_conv_bn_act/model.keras")
        .display()
        .to_string()
}

fn out(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("convscope-vis-{name}-{}.png", std::process::id()))
}

fn visualize(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_convscope"))
        .arg("visualize")
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// "channel 3: 0.12 -> 0.87" → (0.12, 0.87).
fn first_last(line: &str, channel: usize) -> (f32, f32) {
    let key = format!("channel {channel}: ");
    let rest = &line[line.find(&key).unwrap() + key.len()..];
    let mut it = rest.split([' ', ',', ')']).filter(|s| !s.is_empty());
    let a = it.next().unwrap().parse().unwrap();
    assert_eq!(it.next(), Some("->"));
    (a, it.next().unwrap().parse().unwrap())
}

#[test]
fn the_ascent_raises_the_channel_and_repeats_with_its_seed() {
    let (a, b, c) = (out("a"), out("b"), out("c"));
    let m = model();
    let run = |p: &Path, seed: &str| {
        let (code, stdout, err) = visualize(&[
            &m,
            "--layer",
            "conv2d_1",
            "--channel",
            "3",
            "--steps",
            "80",
            "--seed",
            seed,
            "--out",
            &p.display().to_string(),
        ]);
        assert_eq!(code, 0, "{err}");
        stdout
    };
    let line = run(&a, "1");
    let (first, last) = first_last(&line, 3);
    assert!(last > first + 0.05 * first.abs().max(1.0), "{line}");
    run(&b, "1");
    run(&c, "2");
    let (pa, pb, pc) = (
        std::fs::read(&a).unwrap(),
        std::fs::read(&b).unwrap(),
        std::fs::read(&c).unwrap(),
    );
    assert_eq!(pa, pb, "the same seed gave another picture");
    assert_ne!(pa, pc);
    // The picture has the input's size.
    let img = image::load_from_memory(&pa).unwrap();
    assert_eq!((img.width(), img.height()), (16, 16));
    for p in [a, b, c] {
        std::fs::remove_file(p).ok();
    }
}

#[test]
fn a_grid_shows_a_layers_channels_and_errors_exit_2() {
    let g = out("grid");
    let m = model();
    let (code, stdout, err) = visualize(&[
        &m,
        "--layer",
        "conv2d_1",
        "--grid",
        "4",
        "--steps",
        "8",
        "--out",
        &g.display().to_string(),
    ]);
    assert_eq!(code, 0, "{err}");
    for c in 0..4 {
        first_last(&stdout, c);
    }
    let img = image::open(&g).unwrap();
    // Two by two tiles of 16 pixels, 2 pixels apart.
    assert_eq!((img.width(), img.height()), (2 * 18 + 2, 2 * 18 + 2));
    std::fs::remove_file(&g).ok();
    for (args, says) in [
        (vec!["--layer", "nope"], "no layer named 'nope'"),
        (
            vec!["--layer", "conv2d_1", "--channel", "999"],
            "channel 999 is out of range",
        ),
    ] {
        let mut all = vec![m.as_str(), "--out", "/tmp/never.png", "--steps", "2"];
        all.extend(args.iter().copied());
        let (code, _, err) = visualize(&all);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(says), "{err}");
    }
}

#[test]
fn a_class_is_visualized_by_its_score_before_the_softmax() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let model = root.join("tests/fixtures/golden/stack_flatten_dense/model.keras");
    let p = out("class");
    let (code, stdout, err) = visualize(&[
        model.to_str().unwrap(),
        "--class",
        "1",
        "--steps",
        "60",
        "--out",
        &p.display().to_string(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.starts_with("class score at 'dense"), "{stdout}");
    let key = "class 1: ";
    let rest = &stdout[stdout.find(key).unwrap() + key.len()..];
    let mut it = rest.split([' ', ',', ')']).filter(|s| !s.is_empty());
    let first: f32 = it.next().unwrap().parse().unwrap();
    assert_eq!(it.next(), Some("->"));
    let last: f32 = it.next().unwrap().parse().unwrap();
    assert!(last > first, "{stdout}");
    assert!(image::open(&p).is_ok());
    std::fs::remove_file(&p).ok();
    // The score is the logit: its softmax is the model's output.
    let loaded = convscope::io::load_model(&model).unwrap();
    let net = loaded.network;
    let w = convscope::io::weights::from_keras_nested(&loaded.bytes, &net, &net.analyze(), &[])
        .unwrap();
    let s = convscope::explain::scores_before_softmax(&net).unwrap();
    assert!(s.softmax);
    let shape: Vec<usize> = net
        .input_shape_of(0)
        .unwrap()
        .iter()
        .map(|d| d.unwrap_or(1).max(1) as usize)
        .collect();
    let n = shape.iter().product::<usize>();
    let x = ndarray::ArrayD::from_shape_vec(shape, (0..n).map(|i| (i % 7) as f32 / 7.0).collect())
        .unwrap();
    let probs = convscope::engine::run(&net, &w, x.clone()).unwrap();
    let logits = convscope::engine::run(&s.network, &w, x).unwrap();
    let p = probs[net.outputs()[0]].as_ref().unwrap().output.clone();
    let z = logits[s.score_layer].as_ref().unwrap().output.clone();
    let m = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = z.iter().map(|v| (v - m).exp()).collect();
    let sum: f32 = e.iter().sum();
    for (a, b) in e.iter().zip(p.iter()) {
        assert!((a / sum - b).abs() < 1e-5, "{a} {sum} {b}");
    }
    // --class and --layer exclude each other.
    let (code, _, err) = visualize(&[
        model.to_str().unwrap(),
        "--class",
        "1",
        "--layer",
        "dense",
        "--out",
        "/tmp/never.png",
    ]);
    assert_eq!(code, 2, "{err}");
}
