//! Export a network as Keras Python code: `keras.Input` plus `keras.Sequential` (or the
//! Functional API), with every argument that differs from Keras's default spelled out.

use super::config::layer_config;
use crate::model::layer::{Layer, LayerKind};
use crate::model::{Network, pyfmt};
use serde_json::Value;

/// A JSON value as a Python literal (lists of numbers as tuples for readability).
fn py(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(b) => pyfmt::boolean(*b).into(),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.to_string(),
            None => pyfmt::float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => format!("{s:?}"),
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(py).collect();
            if items.len() == 1 {
                format!("({},)", items[0])
            } else {
                format!("({})", items.join(", "))
            }
        }
        Value::Object(m) => {
            // A serialised Keras object: {"module", "class_name", "config"}.
            if let (Some(Value::String(module)), Some(Value::String(class))) =
                (m.get("module"), m.get("class_name"))
            {
                let args: Vec<String> = m
                    .get("config")
                    .and_then(Value::as_object)
                    .map(|c| {
                        let defaults = crate::model::objects::default_config(class);
                        c.iter()
                            .filter(|(k, v)| defaults.get(*k) != Some(*v))
                            .map(|(k, v)| format!("{k}={}", py(v)))
                            .collect()
                    })
                    .unwrap_or_default();
                return format!("{module}.{class}({})", args.join(", "));
            }
            let items: Vec<String> = m.iter().map(|(k, v)| format!("{k:?}: {}", py(v))).collect();
            format!("{{{}}}", items.join(", "))
        }
    }
}

/// Keyword arguments of `layer` that differ from a default layer of the same class.
fn kwargs(layer: &Layer) -> Vec<String> {
    let cfg = layer_config(layer);
    let default = Layer::new(layer.class_name(), layer.name.clone()).map(|l| layer_config(&l));
    let Value::Object(cfg) = cfg else {
        return Vec::new();
    };
    let default = default
        .and_then(|d| d.as_object().cloned())
        .unwrap_or_default();
    let mut out = Vec::new();
    for (k, v) in &cfg {
        if k == "dtype" && *v == crate::model::layer::default_dtype() {
            continue;
        }
        // Pooling strides default to pool_size (not to the default layer's strides).
        if k == "strides"
            && let LayerKind::Pooling2D(p) = &layer.kind
        {
            if p.strides.is_some_and(|s| s.v != p.pool_size.v) {
                out.push(format!("{k}={}", square_or_tuple(v)));
            }
            continue;
        }
        let required = matches!(
            (layer.class_name(), k.as_str()),
            (
                "Conv2D" | "Conv2DTranspose" | "SeparableConv2D",
                "filters" | "kernel_size"
            ) | ("DepthwiseConv2D", "kernel_size")
                | ("AveragePooling2D", "pool_size")
                | ("Dense", "units")
                | ("Dropout" | "SpatialDropout2D", "rate")
                | ("Rescaling", "scale")
                | ("Activation", "activation")
        );
        if required || default.get(k) != Some(v) || k == "name" {
            let val = match (k.as_str(), v) {
                // Square sizes read best as one integer.
                (
                    "kernel_size" | "strides" | "dilation_rate" | "pool_size" | "size",
                    Value::Array(a),
                ) if a.len() == 2 && a[0] == a[1] => py(&a[0]),
                _ => py(v),
            };
            out.push(format!("{k}={val}"));
        }
    }
    out
}

/// Square sizes read best as one integer: `3` rather than `(3, 3)`.
fn square_or_tuple(v: &Value) -> String {
    match v {
        Value::Array(a) if a.len() == 2 && a[0] == a[1] => py(&a[0]),
        _ => py(v),
    }
}

fn call(layer: &Layer) -> String {
    format!(
        "layers.{}({})",
        layer.class_name(),
        kwargs(layer).join(", ")
    )
}

fn input_args(layer: &Layer) -> String {
    match &layer.kind {
        LayerKind::Input(i) => {
            let shape: Vec<String> = i
                .batch_shape
                .iter()
                .skip(1)
                .map(|d| d.map_or("None".into(), |x| x.to_string()))
                .collect();
            let shape = if shape.len() == 1 {
                format!("({},)", shape[0])
            } else {
                format!("({})", shape.join(", "))
            };
            format!("shape={shape}, name={:?}", layer.name)
        }
        _ => String::new(),
    }
}

/// Python source that builds the same model with Keras 3.
pub fn to_python(net: &Network) -> String {
    let mut s = String::new();
    s.push_str("# Generated by convscope: builds the same model with Keras 3.\n");
    s.push_str("import keras\nfrom keras import layers\n\n");
    if !net.functional {
        let input = net.layers.first().map(input_args).unwrap_or_default();
        s.push_str(&format!(
            "model = keras.Sequential(\n    [\n        keras.Input({input}),\n"
        ));
        for l in net.layers.iter().skip(1) {
            s.push_str(&format!("        {},\n", call(l)));
        }
        s.push_str(&format!("    ],\n    name={:?},\n)\n", net.name));
    } else {
        let var = |name: &str| format!("x_{}", name.replace(|c: char| !c.is_alphanumeric(), "_"));
        let mut inputs = Vec::new();
        for (i, l) in net.layers.iter().enumerate() {
            if matches!(l.kind, LayerKind::Input(_)) {
                s.push_str(&format!(
                    "{} = keras.Input({})\n",
                    var(&l.name),
                    input_args(l)
                ));
                inputs.push(var(&l.name));
                continue;
            }
            let srcs: Vec<String> = net
                .inbound_indices(i)
                .unwrap_or_default()
                .iter()
                .map(|&j| var(&net.layers[j].name))
                .collect();
            let arg = if matches!(l.kind, LayerKind::Merge(_) | LayerKind::Concatenate { .. }) {
                format!("[{}]", srcs.join(", "))
            } else {
                srcs.join(", ")
            };
            s.push_str(&format!("{} = {}({arg})\n", var(&l.name), call(l)));
        }
        let outs: Vec<String> = if net.outputs.is_empty() {
            net.layers
                .last()
                .map(|l| vec![var(&l.name)])
                .unwrap_or_default()
        } else {
            net.outputs.iter().map(|n| var(n)).collect()
        };
        let one = |v: Vec<String>| {
            if v.len() == 1 {
                v[0].clone()
            } else {
                format!("[{}]", v.join(", "))
            }
        };
        s.push_str(&format!(
            "model = keras.Model(inputs={}, outputs={}, name={:?})\n",
            one(inputs),
            one(outs),
            net.name
        ));
    }
    s.push_str("\nif __name__ == \"__main__\":\n    model.summary()\n");
    s
}
