//! `convscope bench` contract: median/min/max and a per-layer breakdown, `--json` with
//! the documented keys, any model (config JSON runs on initializer weights), errors exit
//! 2. (Timings themselves are measured by `benches/`, never asserted here.)

use std::path::{Path, PathBuf};
use std::process::Command;

fn case(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/golden")
        .join(name)
}

fn bench(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_convscope"))
        .arg("bench")
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
fn json_has_the_contract_keys_and_every_layer() {
    let c = case("stack_mini_vgg");
    let (code, out, err) = bench(&[
        c.join("model.keras").to_str().unwrap(),
        "--input",
        c.join("input.npy").to_str().unwrap(),
        "--runs",
        "3",
        "--threads",
        "2",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let (med, min, max) = (
        v["median_ms"].as_f64().unwrap(),
        v["min_ms"].as_f64().unwrap(),
        v["max_ms"].as_f64().unwrap(),
    );
    assert!(min > 0.0 && min <= med && med <= max, "{min} {med} {max}");
    assert_eq!(v["runs"], 3);
    assert_eq!(v["threads"], 2);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(c.join("summary.json")).unwrap()).unwrap();
    let want: Vec<&str> = summary["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    let layers = v["layers"].as_array().unwrap();
    let got: Vec<&str> = layers.iter().map(|l| l["name"].as_str().unwrap()).collect();
    assert_eq!(got, want);
    assert!(layers.iter().all(|l| l["ms"].as_f64().unwrap() >= 0.0));
    assert!(v["activation_bytes"].as_u64().unwrap() > 0);
}

#[test]
fn table_config_json_image_input_and_errors() {
    let c = case("img_chelsea_32");
    // A config without weights runs on initializer weights; an image is an input.
    let (code, out, err) = bench(&[
        c.join("config.json").to_str().unwrap(),
        "--input",
        c.join("input.png").to_str().unwrap(),
        "--runs",
        "2",
        "--threads",
        "1",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("2 runs on 1 thread: median"), "{out}");
    assert!(out.contains("conv2d_1") && out.contains(" ms"), "{out}");
    // No --input: pseudo-random values of the input shape.
    let (code, _, err) = bench(&[c.join("model.keras").to_str().unwrap(), "--runs", "1"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = bench(&["/no/such/model.keras"]);
    assert_eq!(code, 2);
    assert!(err.contains("/no/such/model.keras"), "{err}");
    let (code, _, _) = bench(&[c.join("model.keras").to_str().unwrap(), "--runs", "0"]);
    assert_eq!(code, 2);
    let (code, _, err) = bench(&[
        c.join("model.keras").to_str().unwrap(),
        "--input",
        c.join("summary.json").to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
}

/// `--grad` times the forward pass keeping every output and the backward pass to the
/// input and every weight; a model without a gradient rule would fail here, not later.
#[test]
fn grad_times_the_backward_pass_with_the_same_keys() {
    let c = case("stack_conv_bn_act");
    let (code, out, err) = bench(&[
        c.join("model.keras").to_str().unwrap(),
        "--input",
        c.join("input.npy").to_str().unwrap(),
        "--runs",
        "2",
        "--grad",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v["median_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(v["runs"], 2);
    // Every output kept: the activations of all layers.
    assert!(v["activation_bytes"].as_u64().unwrap() > 0);
}
