//! Keras's named objects: activations, initializers, regularizers and constraints.
//!
//! Owns the catalogue of built-in names and aliases, the default `get_config()` of every
//! class, identifier resolution (`keras.initializers.get` and friends) with Keras's error
//! wording, and snake-casing of class names. Pure data: no I/O, no numerics.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// Every activation name `keras.activations.get` accepts, in Keras 3.15.
pub const ACTIVATIONS: &[&str] = &[
    "celu",
    "elu",
    "exponential",
    "gelu",
    "glu",
    "hard_shrink",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
    "hard_tanh",
    "leaky_relu",
    "linear",
    "log_sigmoid",
    "log_softmax",
    "mish",
    "relu",
    "relu6",
    "selu",
    "sigmoid",
    "silu",
    "soft_shrink",
    "softmax",
    "softplus",
    "softsign",
    "sparse_plus",
    "sparse_sigmoid",
    "sparsemax",
    "squareplus",
    "swish",
    "tanh",
    "tanh_shrink",
    "threshold",
];

/// Resolves an activation identifier to the name Keras serialises (`swish` → `silu`).
pub fn activation(identifier: &Value) -> Result<String, String> {
    match identifier {
        Value::Null => Ok("linear".into()),
        Value::String(s) => canonical_activation(s).ok_or_else(|| activation_error(s)),
        // Keras 3 may serialise a function as {"class_name": "function", "config": "relu", ...}.
        Value::Object(m) => match (m.get("class_name"), m.get("config")) {
            (Some(Value::String(c)), Some(Value::String(name))) if c == "function" => {
                canonical_activation(name).ok_or_else(|| activation_error(name))
            }
            _ => Err(activation_error(&py_repr_json(identifier))),
        },
        other => Err(activation_error(&py_repr_json(other))),
    }
}

fn activation_error(s: &str) -> String {
    format!("Could not interpret activation function identifier: {s}")
}

/// The serialised name of a built-in activation, or `None` if Keras does not know it.
pub fn canonical_activation(s: &str) -> Option<String> {
    match s {
        "swish" => Some("silu".into()),
        "hard_swish" => Some("hard_silu".into()),
        _ if ACTIVATIONS.contains(&s) => Some(s.to_string()),
        _ => None,
    }
}

/// Which catalogue an object belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectKind {
    Initializer,
    Regularizer,
    Constraint,
}

impl ObjectKind {
    fn noun(self) -> &'static str {
        match self {
            ObjectKind::Initializer => "initializer",
            ObjectKind::Regularizer => "regularizer",
            ObjectKind::Constraint => "constraint",
        }
    }

    /// The Python module Keras writes in the serialised form.
    pub fn module(self) -> &'static str {
        match self {
            ObjectKind::Initializer => "keras.initializers",
            ObjectKind::Regularizer => "keras.regularizers",
            ObjectKind::Constraint => "keras.constraints",
        }
    }

    /// Class names of this catalogue, in the order the UI lists them.
    pub fn classes(self) -> &'static [&'static str] {
        match self {
            ObjectKind::Initializer => &[
                "GlorotUniform",
                "GlorotNormal",
                "HeNormal",
                "HeUniform",
                "LecunNormal",
                "LecunUniform",
                "Zeros",
                "Ones",
                "Constant",
                "RandomNormal",
                "RandomUniform",
                "TruncatedNormal",
                "VarianceScaling",
                "Orthogonal",
                "Identity",
                "STFT",
            ],
            ObjectKind::Regularizer => &["L1", "L2", "L1L2", "OrthogonalRegularizer"],
            ObjectKind::Constraint => &["MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm"],
        }
    }
}

/// An initializer, regularizer or constraint: Keras's class name and its full config.
///
/// The config keeps every key Keras writes, in Keras's order, with JSON's own types
/// (so `MaxNorm(max_value=2)` stays an integer and round-trips byte for byte).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KerasObject {
    pub class_name: String,
    pub config: Map<String, Value>,
}

impl KerasObject {
    /// An object of a built-in class with Keras's default arguments.
    pub fn new(kind: ObjectKind, class_name: &str) -> Option<KerasObject> {
        let class = resolve_class(kind, class_name)?;
        Some(KerasObject {
            class_name: class.to_string(),
            config: default_config(class),
        })
    }

    /// A config value as f64, if it is a number.
    pub fn num(&self, key: &str) -> Option<f64> {
        self.config.get(key).and_then(Value::as_f64)
    }

    /// A config value as a string, if it is one.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.config.get(key).and_then(Value::as_str)
    }

    /// The serialised form Keras 3 writes: `{module, class_name, config, registered_name}`.
    pub fn to_keras_json(&self, kind: ObjectKind) -> Value {
        json!({
            "module": kind.module(),
            "class_name": self.class_name,
            "config": Value::Object(self.config.clone()),
            "registered_name": Value::Null,
        })
    }
}

/// Canonical class for a string identifier (class name, snake_case name or alias).
pub fn resolve_class(kind: ObjectKind, name: &str) -> Option<&'static str> {
    let classes = kind.classes();
    if let Some(c) = classes.iter().find(|c| **c == name) {
        return Some(c);
    }
    if let Some(c) = classes.iter().find(|c| to_snake_case(c) == name) {
        return Some(c);
    }
    let alias = match (kind, name) {
        (ObjectKind::Initializer, "IdentityInitializer") => "Identity",
        (ObjectKind::Initializer, "normal") => "RandomNormal",
        (ObjectKind::Initializer, "one") => "Ones",
        (ObjectKind::Initializer, "STFTInitializer") => "STFT",
        (ObjectKind::Initializer, "OrthogonalInitializer") => "Orthogonal",
        (ObjectKind::Initializer, "uniform") => "RandomUniform",
        (ObjectKind::Initializer, "zero") => "Zeros",
        _ => return None,
    };
    classes.iter().copied().find(|c| *c == alias)
}

/// `get_config()` of a built-in class constructed with no arguments.
pub fn default_config(class: &str) -> Map<String, Value> {
    let v = match class {
        "GlorotUniform" | "GlorotNormal" | "HeNormal" | "HeUniform" | "LecunNormal"
        | "LecunUniform" => json!({"seed": null, "input_axes": null, "output_axes": null}),
        "Zeros" | "Ones" | "NonNeg" => json!({}),
        "Constant" => json!({"value": 0.0}),
        "RandomNormal" | "TruncatedNormal" => json!({"seed": null, "mean": 0.0, "stddev": 0.05}),
        "RandomUniform" => json!({"seed": null, "minval": -0.05, "maxval": 0.05}),
        "VarianceScaling" => json!({
            "seed": null, "scale": 1.0, "mode": "fan_in", "distribution": "truncated_normal",
            "input_axes": null, "output_axes": null
        }),
        "Orthogonal" => json!({"seed": null, "gain": 1.0}),
        "Identity" => json!({"gain": 1.0}),
        "STFT" => {
            json!({"side": "real", "window": "hann", "scaling": "density", "periodic": false})
        }
        // Keras stores these through float32: 0.01 reads back as 0.009999999776482582.
        "L1" => json!({"l1": 0.009999999776482582}),
        "L2" => json!({"l2": 0.01}),
        "L1L2" => json!({"l1": 0.0, "l2": 0.0}),
        "OrthogonalRegularizer" => json!({"factor": 0.009999999776482582, "mode": "rows"}),
        "MaxNorm" => json!({"max_value": 2, "axis": 0}),
        "MinMaxNorm" => json!({"min_value": 0.0, "max_value": 1.0, "rate": 1.0, "axis": 0}),
        "UnitNorm" => json!({"axis": 0}),
        _ => json!({}),
    };
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// `keras.<kind>.get(identifier)`: `None` stays `None`; strings and dicts resolve to
/// a built-in class; anything else is rejected with Keras's message.
pub fn resolve(kind: ObjectKind, identifier: &Value) -> Result<Option<KerasObject>, String> {
    let err = |shown: String| format!("Could not interpret {} identifier: {}", kind.noun(), shown);
    match identifier {
        Value::Null => Ok(None),
        Value::String(s) => resolve_class(kind, s)
            .map(|c| {
                Some(KerasObject {
                    class_name: c.to_string(),
                    config: default_config(c),
                })
            })
            .ok_or_else(|| err(s.clone())),
        Value::Object(m) => {
            let class_name = m.get("class_name").and_then(Value::as_str).unwrap_or("");
            let Some(class) = resolve_class(kind, class_name) else {
                return Err(format!(
                    "Could not locate class '{class_name}'. Make sure custom classes are \
                     decorated with `@keras.saving.register_keras_serializable()`. \
                     Full object config: {}",
                    py_repr_json(identifier)
                ));
            };
            let mut config = default_config(class);
            if let Some(Value::Object(given)) = m.get("config") {
                for (k, v) in given {
                    config.insert(k.clone(), v.clone());
                }
            }
            Ok(Some(KerasObject {
                class_name: class.to_string(),
                config,
            }))
        }
        other => Err(err(py_repr_json(other))),
    }
}

/// `keras.src.utils.naming.to_snake_case`.
pub fn to_snake_case(name: &str) -> String {
    let chars: Vec<char> = name
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    // re.sub("(.)([A-Z][a-z]+)", r"\1_\2")
    let mut step1: Vec<char> = Vec::with_capacity(chars.len() + 4);
    let mut i = 0;
    while i < chars.len() {
        step1.push(chars[i]);
        // A match starts at i (the "(.)" char) when chars[i+1] is upper and chars[i+2] lower.
        if i + 2 < chars.len()
            && chars[i + 1].is_ascii_uppercase()
            && chars[i + 2].is_ascii_lowercase()
        {
            step1.push('_');
            // Copy the [A-Z][a-z]+ run; the regex resumes after it.
            let mut j = i + 1;
            step1.push(chars[j]);
            j += 1;
            while j < chars.len() && chars[j].is_ascii_lowercase() {
                step1.push(chars[j]);
                j += 1;
            }
            i = j;
            continue;
        }
        i += 1;
    }
    // re.sub("([a-z])([A-Z])", r"\1_\2").lower()
    let mut out = String::with_capacity(step1.len() + 4);
    let mut k = 0;
    while k < step1.len() {
        out.push(step1[k]);
        if k + 1 < step1.len() && step1[k].is_ascii_lowercase() && step1[k + 1].is_ascii_uppercase()
        {
            out.push('_');
            out.push(step1[k + 1]);
            k += 2;
            continue;
        }
        k += 1;
    }
    out.to_lowercase()
}

/// A JSON value as Python would print it (`None`, `True`, `'text'`, `{'a': 1}`).
pub fn py_repr_json(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(b) => super::pyfmt::boolean(*b).into(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.to_string()
            } else {
                super::pyfmt::float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Value::String(s) => format!("'{s}'"),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(py_repr_json).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("'{k}': {}", py_repr_json(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_matches_keras() {
        for (c, s) in [
            ("Conv2D", "conv2d"),
            ("DepthwiseConv2D", "depthwise_conv2d"),
            ("SeparableConv2D", "separable_conv2d"),
            ("Conv2DTranspose", "conv2d_transpose"),
            ("BatchNormalization", "batch_normalization"),
            ("MaxPooling2D", "max_pooling2d"),
            ("GlobalAveragePooling2D", "global_average_pooling2d"),
            ("ZeroPadding2D", "zero_padding2d"),
            ("Cropping2D", "cropping2d"),
            ("UpSampling2D", "up_sampling2d"),
            ("ReLU", "re_lu"),
            ("LeakyReLU", "leaky_re_lu"),
            ("InputLayer", "input_layer"),
            ("L1L2", "l1l2"),
            ("OrthogonalRegularizer", "orthogonal_regularizer"),
            ("MinMaxNorm", "min_max_norm"),
            ("SpatialDropout2D", "spatial_dropout2d"),
            ("STFT", "stft"),
        ] {
            assert_eq!(to_snake_case(c), s, "{c}");
        }
    }

    #[test]
    fn identifiers_resolve_like_keras() {
        let he = resolve(ObjectKind::Initializer, &json!("he_normal"))
            .unwrap()
            .unwrap();
        assert_eq!(he.class_name, "HeNormal");
        assert_eq!(
            resolve(ObjectKind::Initializer, &json!("zero"))
                .unwrap()
                .unwrap()
                .class_name,
            "Zeros"
        );
        assert_eq!(
            resolve(ObjectKind::Regularizer, &json!("l1l2"))
                .unwrap()
                .unwrap()
                .class_name,
            "L1L2"
        );
        assert_eq!(
            resolve(ObjectKind::Constraint, &json!("nope")).unwrap_err(),
            "Could not interpret constraint identifier: nope"
        );
        assert_eq!(activation(&json!("swish")).unwrap(), "silu");
        assert_eq!(activation(&Value::Null).unwrap(), "linear");
        assert_eq!(
            activation(&json!("nonexistent")).unwrap_err(),
            "Could not interpret activation function identifier: nonexistent"
        );
    }
}
