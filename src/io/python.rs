//! Export a network as Keras Python code: `keras.Input` plus `keras.Sequential` (or the
//! Functional API), with every argument that differs from Keras's default spelled out.
//! The arguments come from each kind's declaration (the same visitor the config writer
//! uses), compared with a default layer of the same class.

use super::config::args::to_json;
use crate::keras::args::{Arg, ArgMut, Visitor};
use crate::keras::objects::default_config;
use crate::keras::pyfmt;
use crate::layers::LayerKind;
use crate::model::network::{Layer, Network, default_dtype};
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
                        let defaults = default_config(class);
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

/// One argument as the export sees it.
struct Kwarg {
    key: &'static str,
    value: Value,
    required: bool,
    /// A pair written as one integer when square (`kernel_size=3`).
    pair: bool,
    /// Pooling strides left to default to `pool_size`.
    unset: bool,
    /// Its default follows another argument (pooling strides): written whenever set.
    follows: bool,
}

/// Collects a kind's arguments as [`Kwarg`]s.
#[derive(Default)]
struct Collect(Vec<Kwarg>);

impl Visitor for Collect {
    fn arg(&mut self, arg: &Arg, value: ArgMut<'_>) {
        let pair = matches!(
            value,
            ArgMut::Pair(_) | ArgMut::OptPair(_) | ArgMut::PairOr { .. }
        );
        let unset = matches!(
            &value,
            ArgMut::PairOr { value: v, fallback } if v.is_none_or(|p| p.v == fallback.v)
        );
        let follows = matches!(value, ArgMut::PairOr { .. });
        self.0.push(Kwarg {
            key: arg.key,
            value: to_json(&value),
            required: arg.required,
            pair,
            unset,
            follows,
        });
    }
}

fn kwargs_of(kind: &LayerKind) -> Vec<Kwarg> {
    let mut c = Collect::default();
    kind.clone().spec_mut().args(&mut c);
    c.0
}

/// Keyword arguments of `layer` that differ from a default layer of the same class.
fn kwargs(layer: &Layer) -> Vec<String> {
    let default = LayerKind::default_for(layer.class_name())
        .map(|k| kwargs_of(&k))
        .unwrap_or_default();
    let mut out = vec![format!("name={:?}", layer.name)];
    if !layer.trainable {
        out.push("trainable=False".into());
    }
    for k in kwargs_of(&layer.kind) {
        let is_default = default.iter().any(|d| d.key == k.key && d.value == k.value);
        // `strides=2` with `pool_size=3` equals the default layer's strides (2, its
        // pool size) but not this layer's default: only `unset` says it is left out.
        if k.unset || (is_default && !k.required && !k.follows) {
            continue;
        }
        let val = match &k.value {
            // Square sizes read best as one integer.
            Value::Array(a) if k.pair && a.len() == 2 && a[0] == a[1] => py(&a[0]),
            v => py(v),
        };
        out.push(format!("{}={val}", k.key));
    }
    if layer.dtype != default_dtype() {
        out.push(format!("dtype={}", py(&layer.dtype)));
    }
    out
}

fn call(layer: &Layer) -> String {
    let module = layer.kind.facts().module;
    let module = if module == "keras.layers" {
        "layers"
    } else {
        module
    };
    format!(
        "{module}.{}({})",
        layer.class_name(),
        kwargs(layer).join(", ")
    )
}

fn input_args(layer: &Layer) -> String {
    let LayerKind::Input(i) = &layer.kind else {
        return String::new();
    };
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

/// Python source that builds the same model with Keras 3.
pub fn to_python(net: &Network) -> String {
    let mut s = String::new();
    s.push_str("# Generated by convscope: builds the same model with Keras 3.\n");
    s.push_str("import keras\nfrom keras import layers\n\n");
    let layers = net.layers();
    if !net.functional {
        let input = layers.first().map(input_args).unwrap_or_default();
        s.push_str(&format!(
            "model = keras.Sequential(\n    [\n        keras.Input({input}),\n"
        ));
        for l in layers.iter().skip(1) {
            s.push_str(&format!("        {},\n", call(l)));
        }
        s.push_str(&format!("    ],\n    name={:?},\n)\n", net.name));
    } else {
        let var = |name: &str| format!("x_{}", name.replace(|c: char| !c.is_alphanumeric(), "_"));
        let inputs: Vec<String> = net
            .input_layers()
            .into_iter()
            .map(|i| var(&layers[i].name))
            .collect();
        for (i, l) in layers.iter().enumerate() {
            if l.kind.is_input() {
                s.push_str(&format!(
                    "{} = keras.Input({})\n",
                    var(&l.name),
                    input_args(l)
                ));
                continue;
            }
            let srcs: Vec<String> = net
                .inputs_of(i)
                .iter()
                .map(|&j| var(&layers[j].name))
                .collect();
            let facts = l.kind.facts();
            if facts.is_operation() {
                // An operation keeps its name only when built as its class.
                let mut args = srcs;
                if let Some(c) = l.kind.spec().constant_operand() {
                    let number = if c.integer {
                        format!("{}", c.value as i64)
                    } else {
                        crate::layers::torch::py_float(c.value)
                    };
                    args.insert(c.position.min(args.len()), number);
                }
                s.push_str(&format!(
                    "{} = {}.{}(name={:?})({})\n",
                    var(&l.name),
                    facts.module,
                    l.class_name(),
                    l.name,
                    args.join(", ")
                ));
                continue;
            }
            let arg = if facts.takes_list {
                format!("[{}]", srcs.join(", "))
            } else {
                srcs.join(", ")
            };
            s.push_str(&format!("{} = {}({arg})\n", var(&l.name), call(l)));
        }
        let outs: Vec<String> = net
            .outputs()
            .into_iter()
            .map(|i| var(&layers[i].name))
            .collect();
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
