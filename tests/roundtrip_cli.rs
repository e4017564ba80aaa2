//! Round trips (read → write → read gives an equal network), the other config dialects,
//! the Python export, and the CLI contract (output and exit codes).

use convscope::io::{config, load_model, python};
use convscope::model::{LayerKind, Network};
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn golden_cases() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(fixtures().join("golden"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    v.sort();
    v
}

/// Written JSON reads back as the same network, and writing it again is byte-identical.
#[test]
fn keras_json_round_trips_for_every_golden_case() {
    for case in golden_cases() {
        let net = load_model(&case.join("config.json")).unwrap().network;
        let text = config::to_json_string(&net);
        let back = config::from_json_str(&text).unwrap();
        assert_eq!(back, net, "{}", case.display());
        assert_eq!(config::to_json_string(&back), text, "{}", case.display());
        // The three files of a case describe the same network.
        for f in ["model.keras", "model.h5"] {
            if case.join(f).is_file() {
                let other = load_model(&case.join(f)).unwrap().network;
                assert_eq!(
                    config::to_json_string(&other),
                    text,
                    "{} vs config.json",
                    case.join(f).display()
                );
            }
        }
    }
}

/// The config Keras wrote is what convscope writes (up to the `.keras` shared-object ids).
/// A model that nests models is written as their layers (flat): there the written
/// config must read back to the same network instead.
#[test]
fn written_json_equals_keras_own_config() {
    for case in golden_cases() {
        let text = std::fs::read_to_string(case.join("config.json")).unwrap();
        let original: serde_json::Value = serde_json::from_str(&text).unwrap();
        let (net, prov) = config::read_json_str(&text, Default::default()).unwrap();
        if prov.nested.is_empty() {
            assert_eq!(config::to_value(&net), original, "{}", case.display());
        } else {
            let flat = config::to_value(&net);
            assert_eq!(
                config::from_value(&flat).unwrap(),
                net,
                "{}",
                case.display()
            );
            assert!(!config::to_json_string(&net).contains("\"Sequential\""));
        }
    }
}

#[test]
fn tf_keras2_dialect_reads() {
    let net = load_model(&fixtures().join("dialects/tf_keras2.json"))
        .unwrap()
        .network;
    assert_eq!(net.len(), 7);
    let a = net.analyze();
    assert!(a.first_error.is_none());
    assert_eq!(
        a.layers[1].output_shape,
        Some(vec![None, Some(26), Some(26), Some(32)])
    );
    assert_eq!(a.layers[1].params(), 320);
    // BatchNormalization axis [3], four weights of 32.
    assert_eq!(a.layers[3].trainable_params, 64);
    assert_eq!(a.layers[3].non_trainable_params, 64);
    assert_eq!(a.layers[6].output_shape, Some(vec![None, Some(10)]));
    assert_eq!(a.total_params(), 320 + 128 + 5408 * 10 + 10);
    match &net.layers()[1].kind {
        LayerKind::Conv2D(c) => {
            let reg = c.kernel.regularizer.as_ref().unwrap();
            assert_eq!(reg.class_name, "L2");
            assert_eq!(reg.num("l2"), Some(0.0005));
            let con = c.kernel.constraint.as_ref().unwrap();
            assert_eq!(con.num("max_value"), Some(3.0));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn tf_keras2_functional_with_add_reads() {
    let net = load_model(&fixtures().join("dialects/tf_keras2_functional.json"))
        .unwrap()
        .network;
    assert!(net.functional);
    let a = net.analyze();
    assert!(a.first_error.is_none(), "{:?}", a.error(&net));
    assert_eq!(
        a.layers[3].output_shape,
        Some(vec![None, Some(16), Some(16), Some(8)])
    );
    assert_eq!(a.layers[4].output_shape, Some(vec![None, Some(8)]));
    assert_eq!(a.total_params(), 3 * 3 * 3 * 8 + 8 + 3 * 8);
    // Writes as Keras 3 Functional JSON and reads back the same.
    let back = config::from_json_str(&config::to_json_string(&net)).unwrap();
    assert_eq!(back.len(), net.len());
    assert_eq!(
        back.analyze().layers[3].output_shape,
        a.layers[3].output_shape
    );
}

#[test]
fn corrupt_and_foreign_files_give_clear_errors() {
    let dir = std::env::temp_dir().join(format!("convscope-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let keras = std::fs::read(fixtures().join("golden/stack_mini_vgg/model.keras")).unwrap();
    let h5 = std::fs::read(fixtures().join("golden/stack_mini_vgg/model.h5")).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty.json", Vec::new()),
        ("truncated.keras", keras[..keras.len() / 2].to_vec()),
        ("header.h5", h5[..64].to_vec()),
        ("text.json", b"{\"class_name\": \"Sequential\", \"config\": 5}".to_vec()),
        ("binary.bin", vec![0u8, 159, 146, 150, 255, 0, 1]),
        ("unknown_layer.json", br#"{"class_name":"Sequential","config":{"name":"s","layers":[{"class_name":"InputLayer","config":{"batch_shape":[null,4,4,1]}},{"class_name":"Conv3D","config":{"name":"c"}}]}}"#.to_vec()),
    ];
    for (name, bytes) in cases {
        let p = dir.join(name);
        std::fs::write(&p, &bytes).unwrap();
        let err = match load_model(&p) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("{name} should not load"),
        };
        assert!(!err.is_empty(), "{name}");
        if name == "unknown_layer.json" {
            assert!(err.contains("Conv3D") && err.contains("'c'"), "{err}");
        }
    }
    // Truncated HDF5 files either still hold the config or say why not; never a panic.
    for n in [8, 100, 1000, h5.len() / 3, h5.len() - 1] {
        let _ = convscope::io::load_model_bytes(h5[..n].to_vec());
    }
    // Bit flips anywhere in a .keras never panic.
    for i in (0..keras.len()).step_by(97) {
        let mut b = keras.clone();
        b[i] ^= 0x5a;
        let _ = convscope::io::load_model_bytes(b);
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn python_export_spells_out_non_defaults() {
    let net = load_model(&fixtures().join("golden/stridednet/config.json"))
        .unwrap()
        .network;
    let py = python::to_python(&net);
    assert!(py.contains("keras.Input(shape=(96, 96, 3)"));
    assert!(
        py.contains(
            "layers.Conv2D(name=\"conv2d\", filters=16, kernel_size=7, strides=2, \
         kernel_initializer=keras.initializers.HeNormal(), \
         kernel_regularizer=keras.regularizers.L2(l2=0.0005))"
        ),
        "{py}"
    );
    assert!(
        py.contains("layers.Dropout(name=\"dropout\", rate=0.25)"),
        "{py}"
    );
    assert_eq!(py.matches("layers.").count(), net.len() - 1);
    assert!(py.contains("kernel_regularizer=keras.regularizers.L2(l2=0.0005)"));
    let f = load_model(&fixtures().join("dialects/tf_keras2_functional.json"))
        .unwrap()
        .network;
    let py = python::to_python(&f);
    assert!(
        py.contains("x_add = layers.Add(name=\"add\")([x_branch_a, x_shortcut])"),
        "{py}"
    );
    assert!(
        py.contains("kernel_initializer=keras.initializers.HeNormal(seed=7)"),
        "{py}"
    );
    // strides=2 beside pool_size=3 is not the default (which follows pool_size).
    let p = load_model(&fixtures().join("golden/stack_conv_maxpool/config.json"))
        .unwrap()
        .network;
    let py = python::to_python(&p);
    assert!(
        py.contains(
            "layers.MaxPooling2D(name=\"max_pooling2d_1\", pool_size=3, padding=\"same\", strides=2)"
        ),
        "{py}"
    );
    assert!(
        py.contains("layers.MaxPooling2D(name=\"max_pooling2d\")"),
        "{py}"
    );
    // Operations keep their names and their numbers' places.
    let g = load_model(&fixtures().join("golden/graph_ops/config.json"))
        .unwrap()
        .network;
    let py = python::to_python(&g);
    for line in [
        "x_add = keras.src.ops.numpy.Add(name=\"add\")(x_conv, 3.0)",
        "x_subtract = keras.src.ops.numpy.Subtract(name=\"subtract\")(1.0, x_multiply_1)",
        "x_divide = keras.src.ops.numpy.Divide(name=\"divide\")(x_subtract, 2)",
        "x_add_1 = keras.src.ops.numpy.Add(name=\"add_1\")(x_conv, x_multiply)",
    ] {
        assert!(py.contains(line), "{line}\n{py}");
    }
}

fn convscope(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_convscope"))
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
fn cli_summary_contract() {
    let case = fixtures().join("golden/stridednet/config.json");
    let (code, out, _) = convscope(&["summary", case.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["total_params"], 2658307);
    assert_eq!(v["non_trainable_params"], 1920);
    assert_eq!(
        v["layers"][0]["output_shape"],
        serde_json::json!([null, 45, 45, 16])
    );
    let (code, out, _) = convscope(&["summary", case.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(out.contains("conv2d (Conv2D)"));
    assert!(out.contains("Total params: 2,658,307 (10.14 MB)"), "{out}");
    assert!(
        out.contains("Non-trainable params: 1,920 (7.50 KB)"),
        "{out}"
    );

    // A model Keras rejects: exit 1, Keras's message naming the layer.
    let bad = std::env::temp_dir().join(format!("convscope-reject-{}.json", std::process::id()));
    let mut net: Network = load_model(&case).unwrap().network;
    if let LayerKind::Conv2D(c) = &mut net.layer_mut(1).kind {
        c.base.kernel_size = convscope::model::Pair::square(99);
    }
    std::fs::write(&bad, config::to_json_string(&net)).unwrap();
    let (code, _, err) = convscope(&["summary", bad.to_str().unwrap(), "--json"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("'conv2d'") && err.contains("Computed output size would be zero or negative"),
        "{err}"
    );
    std::fs::remove_file(&bad).ok();

    // An unreadable file: exit 2.
    let (code, _, err) = convscope(&["summary", "/nonexistent/model.keras"]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/model.keras"));
}

#[test]
fn cli_export_contract() {
    let case = fixtures().join("golden/stack_separable/model.keras");
    let out = std::env::temp_dir().join(format!("convscope-export-{}.json", std::process::id()));
    let (code, _, err) = convscope(&[
        "export",
        case.to_str().unwrap(),
        "--format",
        "keras-json",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let back = load_model(&out).unwrap().network;
    assert_eq!(back, load_model(&case).unwrap().network);
    std::fs::remove_file(&out).ok();
}

/// `export --format svg`: one box per layer with its name, class, Keras's output shape
/// and parameter count; markup in names is escaped; a rejected layer shows Keras's message.
#[test]
fn svg_diagram_lists_every_layer_as_keras_summarises_it() {
    let case = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden/stack_mini_vgg");
    let out = std::env::temp_dir().join(format!("convscope-diagram-{}.svg", std::process::id()));
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_convscope"))
        .args([
            "export",
            case.join("model.keras").to_str().unwrap(),
            "--format",
            "svg",
        ])
        .args(["--out", out.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
    let svg = std::fs::read_to_string(&out).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(case.join("summary.json")).unwrap()).unwrap();
    for l in summary["layers"].as_array().unwrap() {
        let shape: Vec<String> = l["output_shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                if d.is_null() {
                    "None".into()
                } else {
                    d.to_string()
                }
            })
            .collect();
        let shape = if shape.len() == 1 {
            format!("({},)", shape[0])
        } else {
            format!("({})", shape.join(", "))
        };
        let params = convscope::cli::thousands(l["params"].as_i64().unwrap());
        let line = format!("output {shape} · {params} params");
        assert!(svg.contains(&line), "missing {line}");
        assert!(svg.contains(&format!(
            ">{} <tspan font-weight=\"normal\" fill=\"#333\">({})</tspan>",
            l["name"].as_str().unwrap(),
            l["class_name"].as_str().unwrap()
        )));
    }
    assert_eq!(svg.matches("<g class=\"layer\"").count(), 15); // 14 layers + the input
    std::fs::remove_file(&out).ok();
    // Names with markup are escaped; a rejected layer carries Keras's message.
    let mut net = convscope::model::Network::sequential("a<b>&c", &[8, 8, 3]);
    let i = net.insert_new(0, "Conv2D").unwrap();
    if let convscope::model::LayerKind::Conv2D(c) = &mut net.layer_mut(i).kind {
        c.base.kernel_size = convscope::model::Pair::square(99);
    }
    let a = net.analyze();
    let svg = convscope::io::diagram::to_svg(&net, &a);
    assert!(svg.contains("a&lt;b&gt;&amp;c") && !svg.contains("a<b>"));
    assert!(svg.contains("#d63031"));
}

/// `export --format png`: the same layout drawn to pixels at twice the SVG's size: every
/// layer's box in its kind's colour with dark text on it, arrows between the boxes, a
/// rejected layer outlined in red.
#[test]
fn png_diagram_draws_every_box_with_text() {
    let case = fixtures().join("golden/stack_mini_vgg");
    let out = std::env::temp_dir().join(format!("convscope-diagram-{}.png", std::process::id()));
    let (code, _, err) = convscope(&[
        "export",
        case.join("model.keras").to_str().unwrap(),
        "--format",
        "png",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let img = image::open(&out).unwrap().to_rgba8();
    std::fs::remove_file(&out).ok();
    // 15 boxes: 56 header + 20 margin + 15 × (46 + 22), 460 wide, at 2×.
    assert_eq!(img.dimensions(), (920, 2 * (56 + 20 + 15 * 68)));
    let px = |x: u32, y: u32| img.get_pixel(x, y).0;
    for i in 0..15u32 {
        let top = 2 * (76 + i * 68);
        // Inside the box, right of any text: the fill colour (conv boxes are blue).
        let fill = px(2 * 400, top + 2 * 23);
        assert!(
            fill[0] > 180 && fill[1] > 180 && fill[2] > 180,
            "box {i}: {fill:?}"
        );
        if i == 1 {
            assert_eq!(fill, [0xcf, 0xe3, 0xfa, 255], "conv2d is blue");
        }
        // The name line has dark (text) pixels; the gap below the box has an arrow.
        let dark = (2 * 30..2 * 200)
            .flat_map(|x| (top + 2 * 8..top + 2 * 22).map(move |y| (x, y)))
            .filter(|&(x, y)| px(x, y)[0] < 90)
            .count();
        assert!(dark > 100, "box {i}: {dark} text pixels");
        if i < 14 {
            let arrow = px(2 * 230, top + 2 * 55);
            assert!(arrow[0] < 120, "arrow under box {i}: {arrow:?}");
        }
    }
    // A rejected layer: red outline.
    let mut net = convscope::model::Network::sequential("bad", &[8, 8, 3]);
    let i = net.insert_new(0, "Conv2D").unwrap();
    if let convscope::model::LayerKind::Conv2D(c) = &mut net.layer_mut(i).kind {
        c.base.kernel_size = convscope::model::Pair::square(99);
    }
    let png = convscope::io::diagram::to_png(&net, &net.analyze(), 1.0).unwrap();
    let img = image::load_from_memory(&png).unwrap().to_rgba8();
    let edge = img.get_pixel(20, 76 + 68 + 23).0;
    assert!(edge[0] > 180 && edge[1] < 90, "red outline: {edge:?}");
}

/// Keras's "Connected to": each layer's inputs in a Functional model's summary.
#[test]
fn summary_names_each_layers_inputs_in_functional_models() {
    let case = fixtures().join("golden/graph_custom_scale/model.keras");
    let (code, out, _) = convscope(&["summary", case.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let connected: Vec<&serde_json::Value> = v["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| &l["connected_to"])
        .collect();
    assert_eq!(
        connected,
        [
            &serde_json::json!([]),
            &serde_json::json!(["input[0][0]"]),
            &serde_json::json!(["input[0][0]"]),
            &serde_json::json!(["shortcut[0][0]", "branch[0][0]"]),
            &serde_json::json!(["scaled_sum[0][0]"]),
        ]
    );
    let (_, table, _) = convscope(&["summary", case.to_str().unwrap()]);
    assert!(table.contains("│ Connected to "), "{table}");
    assert!(table.contains(" shortcut[0][0], branch[0][0] │"), "{table}");
    // A Sequential model has no such column, as in Keras.
    let seq = fixtures().join("golden/stridednet/config.json");
    let (_, table, _) = convscope(&["summary", seq.to_str().unwrap()]);
    assert!(!table.contains("Connected to"), "{table}");
}
