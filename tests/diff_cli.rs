//! `convscope diff A B [--json]` contract: every JSON key, the text form, exit codes
//! (0 the same, 1 different, 2 errors).

use convscope::io::config;
use convscope::model::{LayerKind, Network, Pair};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

fn tmp(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("convscope-diff-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).unwrap();
    p
}

fn diff(args: &[&Path], json: bool) -> (i32, String, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_convscope"));
    c.arg("diff").args(args);
    if json {
        c.arg("--json");
    }
    let out = c.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Input 28×28×1 → Conv2D → MaxPooling2D → Flatten → Dense.
fn stack() -> Network {
    let mut n = Network::sequential("s", &[28, 28, 1]);
    for class in ["Conv2D", "MaxPooling2D", "Flatten", "Dense"] {
        n.insert_new(n.len() - 1, class).unwrap();
    }
    n
}

fn write(dir: &Path, name: &str, net: &Network) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, config::to_json_string(net)).unwrap();
    p
}

#[test]
fn the_same_design_exits_0_with_nothing_listed() {
    let dir = tmp("same");
    let a = write(&dir, "a.json", &stack());
    let (code, out, err) = diff(&[&a, &a], true);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["added"], json!([]));
    assert_eq!(v["removed"], json!([]));
    assert_eq!(v["changed"], json!([]));
    assert_eq!(v["totals"]["params"][0], v["totals"]["params"][1]);
    let (code, out, _) = diff(&[&a, &a], false);
    assert_eq!(code, 0);
    assert!(out.contains("The designs are the same."), "{out}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn changed_added_and_removed_layers_with_both_values_exit_1() {
    let dir = tmp("changed");
    let a_net = stack();
    let mut b_net = a_net.clone();
    // The convolution's kernel 3×3 → 5×5; a Dropout after the pooling; the Dense gone,
    // a Softmax in its place (another class: removed and added).
    if let LayerKind::Conv2D(c) = &mut b_net.layer_mut(1).kind {
        c.base.kernel_size = Pair::square(5);
    }
    b_net.insert_new(2, "Dropout").unwrap();
    let dense = b_net.find("dense").unwrap();
    b_net.remove(dense).unwrap();
    b_net.insert_new(b_net.len() - 1, "Softmax").unwrap();
    let a = write(&dir, "a.json", &a_net);
    let b = write(&dir, "b.json", &b_net);
    let (code, out, err) = diff(&[&a, &b], true);
    assert_eq!(code, 1, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let names = |k: &str| -> Vec<String> {
        v[k].as_array()
            .unwrap()
            .iter()
            .map(|o| o["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names("added"), ["dropout", "softmax"]);
    assert_eq!(names("removed"), ["dense"]);
    assert_eq!(v["removed"][0]["class_name"], "Dense");
    assert_eq!(v["removed"][0]["params"], 5408 * 10 + 10);
    assert_eq!(v["removed"][0]["output_shape"], json!([null, 10]));
    let conv = v["changed"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "conv2d")
        .expect("conv2d changed");
    assert_eq!(conv["class_name"], "Conv2D");
    assert_eq!(conv["arguments"], json!({"kernel_size": [[3, 3], [5, 5]]}));
    assert_eq!(
        conv["output_shape"],
        json!([[null, 26, 26, 32], [null, 24, 24, 32]])
    );
    assert_eq!(conv["params"], json!([320, 832]));
    assert_eq!(conv["macs"][0], 26 * 26 * 32 * 9);
    assert_eq!(conv["receptive_field"], json!([[3.0, 3.0], [5.0, 5.0]]));
    // The flatten takes the dropout now; its shape follows the convolution's.
    let flatten = v["changed"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "flatten")
        .unwrap();
    assert_eq!(flatten["arguments"], json!({}));
    assert_eq!(flatten["inputs"], json!([["max_pooling2d"], ["dropout"]]));
    assert_eq!(flatten["output_shape"], json!([[null, 5408], [null, 4608]]));
    let t = &v["totals"];
    assert_eq!(t["layers"], json!([5, 6]));
    assert_eq!(t["params"], json!([320 + 54090, 832]));
    assert_eq!(t["trainable_params"], t["params"]);
    assert_eq!(t["non_trainable_params"], json!([0, 0]));
    assert_ne!(t["macs"][0], t["macs"][1]);
    // The text form: one line per added and removed layer, each change A -> B.
    let (code, out, _) = diff(&[&a, &b], false);
    assert_eq!(code, 1);
    for line in [
        "- dense (Dense) (None, 10), 54,090 params",
        "+ dropout (Dropout) (None, 12, 12, 32), 0 params",
        "~ conv2d (Conv2D)",
        "    kernel_size: [3,3] -> [5,5]",
        "    output shape: (None, 26, 26, 32) -> (None, 24, 24, 32)",
        "    params: 320 -> 832 (+512)",
        "    receptive field: 3×3 -> 5×5",
        "    inputs: max_pooling2d -> dropout",
    ] {
        assert!(out.contains(line), "{line:?} not in\n{out}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn keras_files_compare_and_unreadable_ones_exit_2() {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden");
    let (max, avg) = (
        golden.join("stack_conv_maxpool/model.keras"),
        golden.join("stack_conv_avgpool/model.keras"),
    );
    let (code, out, err) = diff(&[&max, &avg], true);
    assert_eq!(code, 1, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    // Max and average pooling are one kind in convscope but two Keras classes.
    assert!(
        !v["added"].as_array().unwrap().is_empty() || !v["changed"].as_array().unwrap().is_empty()
    );
    let (code, _, _) = diff(&[&max, &max], false);
    assert_eq!(code, 0);
    let missing = golden.join("no_such_model.keras");
    let (code, out, err) = diff(&[&max, &missing], true);
    assert_eq!(code, 2);
    assert!(
        out.is_empty() && err.contains("no_such_model.keras"),
        "{err}"
    );
    let dir = tmp("bad");
    let bad = dir.join("bad.json");
    std::fs::write(&bad, "{ not json").unwrap();
    let (code, _, err) = diff(&[&bad, &max], false);
    assert_eq!(code, 2, "{err}");
    std::fs::remove_dir_all(&dir).ok();
}
