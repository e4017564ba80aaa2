//! Keras reference cases (made by Keras 3.15.1 itself): `summary --json` must equal
//! Keras's `summary.json` from `.keras`, `.h5` and `config.json`; every rejected
//! configuration must be rejected with Keras's message, every accepted one accepted
//! with Keras's shape.
//!
//! Runs on the copies in `tests/fixtures/` and, when `../shared/golden` exists, on the
//! full original set as well.

use convscope::cli::summary_json_nested;
use convscope::io::{config, load_model};
use serde_json::{Value, json};
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

/// Keras's summary.json keys, from convscope's summary JSON.
fn comparable(v: &Value) -> Value {
    let layers: Vec<Value> = v["layers"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|l| {
                    json!({
                        "name": l["name"], "class_name": l["class_name"],
                        "output_shape": l["output_shape"], "params": l["params"],
                        "trainable_params": l["trainable_params"],
                        "non_trainable_params": l["non_trainable_params"],
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    json!({
        "layers": layers,
        "total_params": v["total_params"],
        "trainable_params": v["trainable_params"],
        "non_trainable_params": v["non_trainable_params"],
    })
}

#[test]
fn summaries_match_keras_for_every_case_and_format() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for root in roots() {
        let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
            .expect("fixture folder")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join("summary.json").is_file())
            .collect();
        cases.sort();
        assert!(
            cases.len() >= 70,
            "{} has {} cases",
            root.display(),
            cases.len()
        );
        for case in cases {
            let expected: Value =
                serde_json::from_str(&std::fs::read_to_string(case.join("summary.json")).unwrap())
                    .unwrap();
            let expected = comparable(&expected);
            for file in ["model.keras", "model.h5", "config.json"] {
                let path = case.join(file);
                if !path.is_file() {
                    continue;
                }
                let got = match load_model(&path) {
                    Ok(m) => {
                        let a = m.network.analyze();
                        match a.error(&m.network) {
                            Some(e) => {
                                failures.push(format!("{}: rejected: {e}", path.display()));
                                continue;
                            }
                            None => comparable(&summary_json_nested(
                                &m.network,
                                &a,
                                &m.provenance.nested,
                            )),
                        }
                    }
                    Err(e) => {
                        failures.push(format!("{}: {e}", path.display()));
                        continue;
                    }
                };
                checked += 1;
                if got != expected {
                    failures.push(format!(
                        "{}:\n got      {}\n expected {}",
                        path.display(),
                        got,
                        expected
                    ));
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
    assert!(checked >= 200, "only {checked} files checked");
}

/// Turns a reference record into a Sequential config: InputLayer + the layer.
fn model_for(case: &Value) -> Option<Value> {
    let input_shape = case.get("input_shape")?;
    let input = json!({
        "module": "keras.layers", "class_name": "InputLayer",
        "config": {"batch_shape": input_shape, "dtype": "float32", "sparse": false,
                   "ragged": false, "name": "input_layer", "optional": false},
        "registered_name": null
    });
    Some(json!({
        "module": "keras", "class_name": "Sequential",
        "config": {"name": "sequential", "trainable": true, "layers": [input, case["layer"]]},
        "registered_name": null
    }))
}

fn fixture(name: &str) -> Vec<Value> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut all = Vec::new();
    for dir in ["tests/fixtures/invalid", "tests/fixtures/oracle"] {
        let p = manifest.join(dir).join(name);
        if let Ok(text) = std::fs::read_to_string(&p) {
            let v: Value = serde_json::from_str(&text).unwrap();
            all.extend(v.as_array().cloned().unwrap_or_default());
        }
    }
    all
}

/// Analyses a reference record: Ok(output shape) or Err((stage, message)).
fn outcome(case: &Value) -> Result<Value, (String, String)> {
    if case.get("input_shapes").is_some() {
        // A merge layer over several inputs: a small Functional model.
        let net = merge_net(case)?;
        let a = net.analyze();
        let last = a.layers.last().unwrap();
        return match &last.error {
            Some(e) => Err((format!("{:?}", e.stage).to_lowercase(), e.message.clone())),
            None => Ok(json!(last.output_shape)),
        };
    }
    let model = model_for(case).unwrap();
    let net = config::from_value(&model).map_err(|e| ("load".into(), e.to_string()))?;
    let a = net.analyze();
    let r = &a.layers[1];
    match &r.error {
        Some(e) => Err((format!("{:?}", e.stage).to_lowercase(), e.message.clone())),
        None => Ok(json!(r.output_shape)),
    }
}

/// The Functional model of a merge case: an InputLayer `in<i>` per input shape, and the
/// case's layer (named `merge`) on all of them.
fn merge_net(case: &Value) -> Result<convscope::model::Network, (String, String)> {
    let shapes = case["input_shapes"].as_array().cloned().unwrap_or_default();
    let mut layers = Vec::new();
    let mut hist = Vec::new();
    for (i, s) in shapes.iter().enumerate() {
        let name = format!("in{i}");
        layers.push(json!({"class_name": "InputLayer", "name": name,
            "config": {"batch_shape": s, "name": name}, "inbound_nodes": []}));
        hist.push(json!({"class_name": "__keras_tensor__",
            "config": {"keras_history": [name, 0, 0]}}));
    }
    let mut l = case["layer"].clone();
    if l.is_null() {
        l = json!({"class_name": case["class_name"], "config": {"name": "merge"}});
    }
    l["name"] = json!("merge");
    l["inbound_nodes"] = json!([{"args": [hist], "kwargs": {}}]);
    layers.push(l);
    let model = json!({"class_name": "Functional",
        "config": {"name": "m", "layers": layers}});
    config::from_value(&model).map_err(|e| ("load".into(), e.to_string()))
}

/// Nested JSON lists of numbers as an array.
fn array_of(v: &Value) -> ndarray::ArrayD<f32> {
    let mut shape = Vec::new();
    let mut at = v;
    while let Some(a) = at.as_array() {
        shape.push(a.len());
        match a.first() {
            Some(f) => at = f,
            None => break,
        }
    }
    fn flat(v: &Value, out: &mut Vec<f32>) {
        match v {
            Value::Array(a) => a.iter().for_each(|x| flat(x, out)),
            x => out.push(x.as_f64().unwrap_or(f64::NAN) as f32),
        }
    }
    let mut data = Vec::new();
    flat(v, &mut data);
    ndarray::ArrayD::from_shape_vec(shape, data).unwrap()
}

/// Every merge layer on several inputs (tests/fixtures/merges, made by
/// scripts/keras_merges.py with Keras): Keras's output shape or its message, and on
/// seeded inputs the values Keras computes.
#[test]
fn merge_layers_get_keras_shapes_messages_and_values() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/merges/cases.json");
    let cases: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(cases.len() >= 30);
    let mut failures = Vec::new();
    let mut computed = 0;
    for case in &cases {
        let id = case["id"].as_str().unwrap_or("?");
        let got = outcome(case);
        if let Some(want) = case["message"].as_str() {
            match (&got, case["stage"].as_str()) {
                (Err((_, m)), _) if m == want => {}
                (Ok(_), Some("call")) => {}
                _ => failures.push(format!("{id}: expected {want:?}\n   got {got:?}")),
            }
            continue;
        }
        if got.as_ref().ok() != Some(&case["output_shape"]) {
            failures.push(format!(
                "{id}: expected {}, got {got:?}",
                case["output_shape"]
            ));
            continue;
        }
        let net = merge_net(case).unwrap();
        let inputs: Vec<_> = case["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| std::sync::Arc::new(array_of(a)))
            .collect();
        let weights = vec![Vec::new(); net.len()];
        let acts = match convscope::engine::forward::run_inputs(&net, &weights, inputs) {
            Ok(a) => a,
            Err(e) => {
                failures.push(format!("{id}: {e}"));
                continue;
            }
        };
        let out = &acts.last().unwrap().as_ref().unwrap().output;
        let want = array_of(&case["output"]);
        let scale = want.iter().fold(1f32, |m, v| m.max(v.abs()));
        let err = if out.shape() == want.shape() {
            out.iter()
                .zip(&want)
                .fold(0f32, |m, (a, b)| m.max((a - b).abs()))
        } else {
            f32::INFINITY
        };
        if err > 1e-5 * scale {
            failures.push(format!(
                "{id}: values differ by {err} (shapes {:?} / {:?})",
                out.shape(),
                want.shape()
            ));
        }
        computed += 1;
    }
    assert!(computed >= 20, "only {computed} cases computed");
    assert!(
        failures.is_empty(),
        "{} of {}:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Keras messages that are Python or TensorFlow internals (a `TypeError` from comparing a
/// string with an int, a float where a shape needs an int, a TF op failing at run time).
/// For these convscope must reject the layer, with its own clear wording.
fn is_python_internal(message: &str) -> bool {
    [
        "not supported between instances",
        "Cannot convert '",
        "int() argument must be",
        "[Op:",
        "Attempt to convert a value",
    ]
    .iter()
    .any(|p| message.contains(p))
        || message == "'value'"
        || message.starts_with("The number of filters must be evenly divisible by the number of groups. Received: groups=1, filters=2.5")
}

/// Reference cases where convscope knowingly differs from Keras, each with the reason.
const KNOWN_DIVERGENCES: &[(&str, &str)] = &[
    (
        "conv_kinit_constant",
        "Keras fails to deserialise the bare string 'constant'; convscope reads it as Constant()",
    ),
    (
        "rescale_list",
        "per-channel Rescaling scale lists are not supported yet",
    ),
    (
        "conv_filters_none",
        "filters=None is refused when the file is read, not when the layer is built",
    ),
    (
        "norm_mean_only",
        "the oracle passes mean as a tuple, (1.0, 2.0); a file holds a list, which Keras \
         prints [1.0, 2.0], as convscope does",
    ),
    (
        "reshape_float",
        "Keras keeps target_shape=(3.0, 4) and loses that dimension's size (None); \
         convscope refuses a dimension that is not an integer",
    ),
];

#[test]
fn rejected_configurations_get_keras_messages() {
    let cases = fixture("rejected.json");
    assert!(cases.len() >= 22);
    let mut failures = Vec::new();
    for case in &cases {
        let id = case["id"].as_str().unwrap_or("?");
        let stage = case["stage"].as_str().unwrap_or("");
        let want = case["message"].as_str().unwrap_or("");
        if KNOWN_DIVERGENCES.iter().any(|(k, _)| *k == id) {
            continue;
        }
        match (stage, outcome(case)) {
            // Keras only fails these when running on real data: analysis accepts them.
            ("call", Ok(_)) => {}
            (_, Err((_, got))) if got == want => {}
            (_, Err(_)) if is_python_internal(want) => {}
            (_, other) => failures.push(format!("{id}: expected {want:?}\n   got {other:?}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {}:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn accepted_configurations_get_keras_shapes() {
    let cases = fixture("accepted.json");
    assert!(cases.len() >= 10);
    let mut failures = Vec::new();
    for case in &cases {
        let id = case["id"].as_str().unwrap_or("?");
        let want = &case["symbolic_output_shape"];
        if KNOWN_DIVERGENCES.iter().any(|(k, _)| *k == id) {
            continue;
        }
        match outcome(case) {
            Ok(got) if &got == want => {
                if let Some(p) = case.get("params").and_then(Value::as_i64) {
                    let model = model_for(case).unwrap();
                    let net = config::from_value(&model).unwrap();
                    let a = net.analyze();
                    if a.layers[1].params() != p {
                        failures.push(format!("{id}: params {} != {p}", a.layers[1].params()));
                    }
                }
            }
            other => failures.push(format!("{id}: expected {want}, got {other:?}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {}:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Writing a layer gives exactly the `get_config()` Keras wrote for it.
#[test]
fn layer_configs_round_trip_to_keras_exact_json() {
    let cases = fixture("accepted.json");
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in &cases {
        let id = case["id"].as_str().unwrap_or("?");
        if KNOWN_DIVERGENCES.iter().any(|(k, _)| *k == id) {
            continue;
        }
        let model = model_for(case).unwrap();
        let net = config::from_value(&model).unwrap();
        // Python keeps `use_bias="False"`, `keepdims="yes"` and `axis=[1, 2]` as given;
        // convscope stores the bool / single axis they mean.
        if [
            "conv_use_bias_string",
            "gap_keepdims_string",
            "softmax_axis_list",
        ]
        .contains(&id)
        {
            continue;
        }
        let got = numbers_as_f64(&config::layer_config(&net.layers()[1]));
        let want = numbers_as_f64(&case["layer"]["config"]);
        checked += 1;
        if got != want {
            failures.push(format!("{id}:\n  got  {got}\n  want {want}"));
        }
    }
    assert!(checked > 300);
    assert!(
        failures.is_empty(),
        "{} of {checked}:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// JSON with every number as f64, so `6` and `6.0` compare equal (Keras writes back the
/// int or float the user gave; both load the same).
fn numbers_as_f64(v: &Value) -> Value {
    match v {
        Value::Number(n) => json!(n.as_f64()),
        Value::Array(a) => Value::Array(a.iter().map(numbers_as_f64).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), numbers_as_f64(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}
