//! Writing Keras 3 JSON: `model.to_json()` of a Sequential or Functional model, each
//! layer's `get_config()` (its kind's arguments through [`super::args::Writer`]), the
//! `build_config` Keras records and Keras 3's inbound nodes.

use super::args::{Writer, shape_json};
use crate::layers::ConfigHeader;
use crate::model::analysis::Analysis;
use crate::model::network::{Layer, Network, default_dtype};
use serde_json::{Map, Value, json};

/// A layer name as Keras 3 accepts it: Keras 2 allowed `/` (DenseNet's `conv1/conv`),
/// Keras 3 refuses it in names, so it is written as `_`.
pub fn keras3_name(name: &str) -> String {
    name.replace('/', "_")
}

/// The `config` dict Keras's `get_config()` returns for a layer.
pub fn layer_config(layer: &Layer) -> Value {
    let mut m = Map::new();
    let header = layer.kind.facts().header;
    if header == ConfigHeader::Standard {
        m.insert("name".into(), json!(keras3_name(&layer.name)));
        m.insert("trainable".into(), json!(layer.trainable));
        m.insert("dtype".into(), layer.dtype.clone());
    }
    let mut kind = layer.kind.clone();
    kind.spec_mut().args(&mut Writer { out: &mut m });
    match header {
        ConfigHeader::Standard => {}
        ConfigHeader::NameOnly => {
            m.insert("name".into(), json!(keras3_name(&layer.name)));
        }
        ConfigHeader::NameAndDtypeName => {
            m.insert("name".into(), json!(keras3_name(&layer.name)));
            let dtype = layer
                .dtype
                .pointer("/config/name")
                .cloned()
                .unwrap_or_else(|| json!("float32"));
            m.insert("dtype".into(), dtype);
        }
    }
    Value::Object(m)
}

/// The input shape(s) of layer `i` as Keras records them in `build_config`.
fn input_shapes(net: &Network, analysis: &Analysis, i: usize) -> Option<Value> {
    let shapes: Option<Vec<Value>> = net
        .inputs_of(i)
        .iter()
        .map(|&j| {
            analysis
                .layers
                .get(j)?
                .output_shape
                .as_deref()
                .map(shape_json)
        })
        .collect();
    let mut shapes = shapes?;
    match shapes.len() {
        0 => None,
        1 => shapes.pop(),
        _ => Some(Value::Array(shapes)),
    }
}

/// The whole model as Keras 3's `model.to_json()` writes it.
pub fn to_value(net: &Network) -> Value {
    let analysis = net.analyze();
    let mut layers = Vec::new();
    // In Keras's `model.layers` order (what Keras writes, and keys weights by).
    for i in net.keras_order() {
        let l = &net.layers()[i];
        let mut e = Map::new();
        let module = l.kind.facts().module;
        let operation = module != "keras.layers";
        e.insert("module".into(), json!(module));
        e.insert("class_name".into(), json!(l.class_name()));
        e.insert("config".into(), layer_config(l));
        // Keras registers its operations and application layers by class name;
        // built-in layers have none.
        let registered = if operation {
            json!(l.class_name())
        } else {
            Value::Null
        };
        e.insert("registered_name".into(), registered);
        if l.kind.facts().build_config
            && let Some(s) = input_shapes(net, &analysis, i)
        {
            e.insert("build_config".into(), json!({ "input_shape": s }));
        }
        if net.functional {
            e.insert("name".into(), json!(keras3_name(&l.name)));
            e.insert(
                "inbound_nodes".into(),
                inbound_nodes_json(net, i, &analysis),
            );
        }
        layers.push(Value::Object(e));
    }
    let input_shape = net.input_shape().map_or(Value::Null, |s| shape_json(s));
    if net.functional {
        let triple = |i: usize| json!([keras3_name(&net.layers()[i].name), 0, 0]);
        let one_or_list = |v: Vec<Value>| {
            if v.len() == 1 {
                v.into_iter().next().unwrap_or(Value::Null)
            } else {
                Value::Array(v)
            }
        };
        let inputs: Vec<Value> = net.input_layers().into_iter().map(triple).collect();
        let outputs: Vec<Value> = net.outputs().into_iter().map(triple).collect();
        json!({
            "module": "keras.src.models.functional",
            "class_name": "Functional",
            "config": {
                "name": net.name,
                "trainable": true,
                "layers": layers,
                "input_layers": one_or_list(inputs),
                "output_layers": one_or_list(outputs),
            },
            "registered_name": "Functional",
            "build_config": {"input_shape": null},
            "compile_config": {}
        })
    } else {
        json!({
            "module": "keras",
            "class_name": "Sequential",
            "config": {
                "name": net.name,
                "trainable": true,
                "dtype": default_dtype(),
                "layers": layers,
                "build_input_shape": input_shape,
            },
            "registered_name": null,
            "build_config": {"input_shape": input_shape},
            "compile_config": {}
        })
    }
}

fn inbound_nodes_json(net: &Network, i: usize, analysis: &Analysis) -> Value {
    let layer = &net.layers()[i];
    if layer.kind.is_input() {
        return json!([]);
    }
    let tensors: Vec<Value> = net
        .inputs_of(i)
        .iter()
        .map(|&j| {
            let shape = analysis.layers[j]
                .output_shape
                .as_deref()
                .map_or(Value::Null, shape_json);
            json!({
                "class_name": "__keras_tensor__",
                "config": {"shape": shape, "dtype": "float32",
                           "keras_history": [keras3_name(&net.layers()[j].name), 0, 0]}
            })
        })
        .collect();
    let facts = layer.kind.facts();
    let args = if facts.is_operation() {
        // An operation's operands are its positional arguments, numbers in place.
        let mut args = tensors;
        if let Some(c) = layer.kind.spec().constant_operand() {
            let number = if c.integer {
                json!(c.value as i64)
            } else {
                json!(c.value)
            };
            args.insert(c.position.min(args.len()), number);
        }
        args
    } else if facts.takes_list {
        vec![Value::Array(tensors)]
    } else {
        vec![tensors.into_iter().next().unwrap_or(Value::Null)]
    };
    let kwargs: Map<String, Value> = facts
        .call_kwargs
        .iter()
        .map(|k| (k.to_string(), Value::Null))
        .collect();
    json!([{"args": args, "kwargs": kwargs}])
}

/// Keras 3 JSON text, pretty-printed.
pub fn to_json_string(net: &Network) -> String {
    serde_json::to_string_pretty(&to_value(net)).unwrap_or_else(|_| "{}".into())
}
