//! Small Functional models written as Keras configs, for the numeric tests.
#![allow(dead_code)]

use convscope::io::config::from_json_str;
use convscope::model::Network;
use serde_json::{Value, json};

/// A Functional model from `(name, class, config, inputs)`; the first layer names are
/// the inputs (`InputLayer` with its batch shape).
pub fn model(
    inputs: &[(&str, &[usize])],
    layers: &[(&str, &str, Value, &[&str])],
    out: &str,
) -> Network {
    let mut list = Vec::new();
    for (name, shape) in inputs {
        let mut batch: Vec<Value> = vec![Value::Null];
        batch.extend(shape[1..].iter().map(|&d| json!(d)));
        list.push(json!({
            "class_name": "InputLayer", "name": name, "inbound_nodes": [],
            "config": {"batch_shape": batch, "name": name}
        }));
    }
    for (name, class, config, from) in layers {
        let mut config = config.clone();
        config["name"] = json!(name);
        let tensors: Vec<Value> = from
            .iter()
            .map(|f| json!({"class_name": "__keras_tensor__", "config": {"keras_history": [f, 0, 0]}}))
            .collect();
        let args = if tensors.len() == 1 {
            tensors[0].clone()
        } else {
            json!(tensors)
        };
        // `module.Class` for classes outside keras.layers.
        let (module, class) = class.rsplit_once('.').unwrap_or(("keras.layers", class));
        list.push(json!({
            "module": module, "class_name": class, "name": name, "config": config,
            "inbound_nodes": [{"args": [args], "kwargs": {}}]
        }));
    }
    let ins: Vec<Value> = inputs.iter().map(|(n, _)| json!([n, 0, 0])).collect();
    let text = json!({
        "class_name": "Functional",
        "config": {"name": "fd", "layers": list, "input_layers": ins, "output_layers": [[out, 0, 0]]}
    })
    .to_string();
    let net = from_json_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let a = net.analyze();
    assert!(a.error(&net).is_none(), "{:?}", a.error(&net));
    net
}
