//! PyTorch export without PyTorch: the CLI writes the module and the weights `.npz`
//! (keys `<layer>/<i>`, Keras's arrays unchanged: the generated loader converts them),
//! the module names every layer and loads every weight, unsupported settings are refused
//! with the reason, and the window's File > Export PyTorch writes the same pair.
//! (That the code computes Keras's numbers is checked with real PyTorch by
//! `scripts/pytorch-check.sh`: 70 of 70 golden cases.)

use convscope::io::npy::read_npz;
use convscope::io::weights;
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/golden")
        .join(rel)
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("convscope-pt-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn export(model: &Path, out: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_convscope"))
        .args(["export"])
        .arg(model)
        .args(["--format", "pytorch", "--out"])
        .arg(out)
        .output()
        .unwrap()
}

#[test]
fn export_writes_the_module_and_keras_weights_for_every_layer() {
    let dir = scratch("cli");
    for case in [
        "stack_separable",
        "stack_transpose",
        "stack_flatten_dense",
        "conv_cf_groups2",
    ] {
        let model = fixture(case).join("model.keras");
        let out = dir.join(format!("{case}.py"));
        let o = export(&model, &out);
        assert!(
            o.status.success(),
            "{case}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let py = std::fs::read_to_string(&out).unwrap();
        assert!(py.contains("(nn.Module):") && py.contains("def load_keras_weights(model, path):"));
        // The weights are the file's, unchanged, one entry per array.
        let m = convscope::io::load_model(&model).unwrap();
        let a = m.network.analyze();
        let w = weights::from_keras(&m.bytes, &m.network, &a).unwrap();
        let npz = read_npz(&std::fs::read(out.with_extension("npz")).unwrap()).unwrap();
        let expected: usize = w.iter().map(Vec::len).sum();
        assert_eq!(npz.len(), expected, "{case}");
        for (layer, arrays) in m.network.layers().iter().zip(&w) {
            for (i, arr) in arrays.iter().enumerate() {
                let key = format!("{}/{i}", layer.name);
                let (_, got) = npz
                    .iter()
                    .find(|(k, _)| *k == key)
                    .unwrap_or_else(|| panic!("{key}"));
                assert_eq!(got.shape, arr.shape(), "{key}");
                assert!(
                    got.data.iter().zip(arr.iter()).all(|(a, b)| a == b),
                    "{key}"
                );
                // …and the module loads it.
                assert!(
                    py.contains(&format!("t(\"{key}\")")),
                    "{case}: {key} not loaded\n{py}"
                );
            }
        }
    }
}

#[test]
fn settings_without_a_pytorch_counterpart_are_refused_with_the_reason() {
    let dir = scratch("refused");
    let mut net = convscope::io::load_model(&fixture("conv_k3x3_same/config.json"))
        .unwrap()
        .network;
    if let convscope::model::LayerKind::Conv2D(c) = &mut net.layer_mut(1).kind {
        c.base.activation = "sparsemax".into();
    }
    let cfg = dir.join("m.json");
    std::fs::write(&cfg, convscope::io::config::to_json_string(&net)).unwrap();
    let o = export(&cfg, &dir.join("m.py"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("'sparsemax' has no PyTorch counterpart"),
        "{err}"
    );
    assert!(!dir.join("m.py").exists());
}

#[cfg(feature = "gui")]
#[test]
fn the_window_exports_pytorch_with_the_weights_in_use() {
    use convscope::app::{Command as C, Designer};
    let dir = scratch("window");
    let mut d = Designer::default();
    let out = dir.join("net.py");
    d.apply(C::ExportPytorch(Some(out.clone())));
    let n = d.rt.notice.clone().unwrap();
    assert!(!n.error, "{}", n.text);
    assert!(n.text.contains("net.npz"), "{}", n.text);
    let py = std::fs::read_to_string(&out).unwrap();
    assert!(py.contains("class Stridednet(nn.Module):"));
    let npz = read_npz(&std::fs::read(dir.join("net.npz")).unwrap()).unwrap();
    // StridedNet: 7 conv/dense kernels + biases, 7 BN × 4.
    assert_eq!(npz.len(), 2 * 9 + 4 * 7);
}
