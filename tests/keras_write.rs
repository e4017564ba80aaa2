//! Writing `.keras` archives: for every golden case, convscope reads Keras's
//! `model.keras`, writes it back, and the written file reads back to the same network and
//! bit-identical weights, with Keras's layout (entry order, STORED, group keys, `@name`
//! attributes). Real Keras loading the written files is checked by
//! `scripts/keras-roundtrip.sh`.

use convscope::io::keras_write::write_keras;
use convscope::io::weights;
use convscope::io::{keras_file, load_model, load_model_bytes};
use std::path::{Path, PathBuf};

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden");
    let mut v: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("model.keras").exists())
        .collect();
    v.sort();
    v
}

/// (group key, @name, dataset shapes) of every `layers/*/vars` group.
fn layout(keras: &[u8]) -> Vec<(String, String, Vec<Vec<u64>>)> {
    let h5 = keras_file::zip_entry(keras, "model.weights.h5").unwrap();
    let file = hdf5_pure::File::from_bytes(h5).unwrap();
    let mut keys = file.group("layers").unwrap().groups().unwrap();
    keys.sort();
    keys.into_iter()
        .map(|k| {
            let vars = file.group(&format!("layers/{k}/vars")).unwrap();
            let name = match vars.attrs().unwrap().remove("name") {
                Some(hdf5_pure::AttrValue::VarLenString(s))
                | Some(hdf5_pure::AttrValue::VarLenAsciiString(s)) => s,
                other => panic!("{k}: @name is {other:?}"),
            };
            let mut ds = vars.datasets().unwrap();
            ds.sort_by_key(|n| n.parse::<u32>().unwrap());
            let shapes = ds
                .iter()
                .map(|d| vars.dataset(d).unwrap().shape().unwrap())
                .collect();
            (k, name, shapes)
        })
        .collect()
}

#[test]
fn every_golden_model_writes_back_identically() {
    let cases = cases();
    assert!(cases.len() >= 60, "{} cases", cases.len());
    for case in cases {
        let original = std::fs::read(case.join("model.keras")).unwrap();
        let m = load_model(&case.join("model.keras")).unwrap();
        let a = m.network.analyze();
        let w = weights::from_keras_nested(&m.bytes, &m.network, &a, &m.provenance.nested).unwrap();
        let written = write_keras(&m.network, &w).unwrap();
        // Keras's entry order, all STORED.
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&written)).unwrap();
        let names: Vec<String> = (0..zip.len())
            .map(|i| {
                let e = zip.by_index(i).unwrap();
                assert_eq!(e.compression(), zip::CompressionMethod::Stored);
                e.name().unwrap().to_string()
            })
            .collect();
        assert_eq!(names, ["metadata.json", "config.json", "model.weights.h5"]);
        let meta: serde_json::Value =
            serde_json::from_slice(&keras_file::zip_entry(&written, "metadata.json").unwrap())
                .unwrap();
        assert_eq!(meta["keras_version"], "3.15.1");
        // Same network, same weights, same HDF5 layout as Keras's own file.
        let back = load_model_bytes(written.clone()).unwrap();
        assert_eq!(back.network, m.network, "{}", case.display());
        let w2 = weights::from_keras(&back.bytes, &back.network, &a).unwrap();
        assert_eq!(w2, w, "{}", case.display());
        // A model the file nests (graph_nested) is written as its layers: same network
        // and numbers, a flat file.
        if m.provenance.nested.is_empty() {
            assert_eq!(layout(&written), layout(&original), "{}", case.display());
        }
    }
}

#[test]
fn export_keras_from_config_json_carries_its_initializer_weights() {
    let case = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden/stack_mini_vgg");
    let out = std::env::temp_dir().join(format!("convscope-export-{}.keras", std::process::id()));
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_convscope"))
        .args([
            "export",
            case.join("config.json").to_str().unwrap(),
            "--format",
            "keras",
        ])
        .args(["--out", out.to_str().unwrap(), "--seed", "3"])
        .status()
        .unwrap();
    assert!(status.success());
    let m = load_model(&out).unwrap();
    let a = m.network.analyze();
    let from_file = weights::from_keras(&m.bytes, &m.network, &a).unwrap();
    let drawn = convscope::engine::weights::initialize(&m.network, &a, 3).unwrap();
    assert_eq!(from_file, drawn);
    std::fs::remove_file(out).ok();
}

/// Keras writes a Functional config in its `model.layers` order (`map_graph`'s), and
/// keys the weights by it: convscope's [`convscope::model::Network::keras_order`] of a
/// file Keras wrote is the file's own order — ResNet50, DenseNet121 and InceptionV3, and
/// every golden case.
#[test]
fn keras_order_of_a_keras_file_is_its_own_order() {
    let apps = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/applications");
    for name in ["resnet50", "densenet121", "inceptionv3"] {
        let text = std::fs::read_to_string(apps.join(format!("{name}.json"))).unwrap();
        let net = convscope::io::config::from_json_str(&text).unwrap();
        let own: Vec<usize> = (0..net.len()).collect();
        assert_eq!(net.keras_order(), own, "{name}");
    }
    for case in cases() {
        let net = load_model(&case.join("model.keras")).unwrap().network;
        let own: Vec<usize> = (0..net.len()).collect();
        assert_eq!(net.keras_order(), own, "{}", case.display());
    }
}
