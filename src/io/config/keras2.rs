//! What only Keras 2 files (tf.keras 2, the legacy `.h5` `model_config`, Keras ≤ 2.2)
//! write: a Sequential config that *is* the layer list, the input shape on the first
//! layer (`batch_input_shape` / `input_shape`), and inbound nodes as
//! `[["name", node, tensor, {kwargs}], ...]`. (Keras 2's class names, `Convolution2D`
//! and friends, are aliases in the layer registry.)

use super::args::shape_from_json;
use crate::keras::shape::Shape;
use serde_json::{Map, Value};

/// Changes a Keras 2 layer config of class `class` into what Keras 3 reads with the same
/// meaning; returns one note per change (`DepthwiseConv2D: `groups: 1` dropped …`).
/// Only changes that keep the numbers: anything else is left for the reader to refuse.
pub fn adapt(class: &str, config: &mut Map<String, Value>) -> Vec<String> {
    let mut notes = Vec::new();
    // tf.keras 2's DepthwiseConv2D inherits Conv2D's `groups` and writes `groups: 1`;
    // Keras 3's has no such argument (keras-team/keras#19151, Teachable Machine models).
    if class == "DepthwiseConv2D" && config.get("groups").and_then(Value::as_i64) == Some(1) {
        config.remove("groups");
        notes.push(
            "DepthwiseConv2D: `groups: 1` dropped (Keras 2 wrote it; it meant nothing)".into(),
        );
    }
    // tf.keras 2's SeparableConv2D inherits Conv2D's `groups: 1` and the `kernel_*`
    // arguments, which it never used (its kernels are the depthwise and pointwise ones).
    if class == "SeparableConv2D" {
        if config.get("groups").and_then(Value::as_i64) == Some(1) {
            config.remove("groups");
            notes.push(
                "SeparableConv2D: `groups: 1` dropped (Keras 2 wrote it; it meant nothing)".into(),
            );
        }
        let unused: Vec<String> = [
            "kernel_initializer",
            "kernel_regularizer",
            "kernel_constraint",
        ]
        .into_iter()
        .filter(|k| config.remove(*k).is_some())
        .map(|k| format!("`{k}`"))
        .collect();
        if !unused.is_empty() {
            notes.push(format!(
                "SeparableConv2D: {} dropped (Keras 2 wrote them; its kernels are the depthwise \
                 and pointwise ones)",
                unused.join(", ")
            ));
        }
    }
    notes
}

/// tf.keras 2 writes the classes keras.applications registers itself with a `Custom>`
/// prefix (`Custom>CustomScaleLayer`): their class name without it.
pub fn registered_class(class: &str) -> Option<&str> {
    class.strip_prefix("Custom>")
}

/// Keras 2.2 and older: the config is the list of layers.
pub fn bare_layer_list(config: Option<&Value>) -> Option<&Vec<Value>> {
    match config {
        Some(Value::Array(a)) => Some(a),
        _ => None,
    }
}

/// The input shape a tf.keras 2 first layer carries, batch axis first.
pub fn batch_input_shape(config: &Map<String, Value>) -> Option<Shape> {
    config
        .get("batch_input_shape")
        .and_then(shape_from_json)
        .or_else(|| {
            config
                .get("input_shape")
                .and_then(shape_from_json)
                .map(|s| std::iter::once(None).chain(s).collect())
        })
}

/// The layer name of one tf.keras 2 inbound entry `["name", node, tensor, {kwargs}]`.
pub fn node_entry_name(entry: &[Value]) -> Option<String> {
    match (entry.first(), entry.get(1)) {
        (Some(Value::String(n)), Some(Value::Number(_))) => Some(n.clone()),
        _ => None,
    }
}

/// tf.keras 2's op layers: `x + 3.0` on a Keras tensor records a `TFOpLambda` whose
/// `function` names the TensorFlow symbol. The Keras 3 operation (in
/// [`crate::layers::OPS_MODULE`]) that computes the same, for the symbols convscope
/// knows; any other is refused.
pub fn op_lambda_class(function: &str) -> Option<&'static str> {
    match function {
        "__operators__.add" | "math.add" => Some("Add"),
        "math.subtract" => Some("Subtract"),
        "math.multiply" => Some("Multiply"),
        "math.truediv" | "math.divide" => Some("TrueDivide"),
        _ => None,
    }
}

/// The TensorFlow symbols [`op_lambda_class`] knows, for messages.
pub const OP_LAMBDA_FUNCTIONS: &str =
    "__operators__.add, math.add, math.subtract, math.multiply, math.truediv, math.divide";

/// An op layer's second operand.
#[derive(Debug, PartialEq)]
pub enum Operand {
    /// A number (`x + 3.0`), kept in the call's keyword arguments.
    Number { value: f64, integer: bool },
    /// Another layer's output (`x * y`), written `["layer", node, tensor]`.
    Tensor(String),
}

/// The second operand of a tf.keras 2 op layer, from its inbound node
/// `["layer", 0, 0, {"y": 3.0, "name": null}]`: tf_keras writes every call argument
/// after the first as a keyword argument named as the function names it (`y`). A call
/// with anything else (more arguments, a second node) is refused.
pub fn op_lambda_operand(nodes: Option<&Value>) -> Result<Operand, String> {
    let node = match nodes {
        Some(Value::Array(n)) if n.len() == 1 => &n[0],
        _ => return Err("the op layer is not called exactly once".into()),
    };
    // Op layers write the node as the one entry itself; other layers a list of entries.
    let entry = match node {
        Value::Array(e) if node_entry_name(e).is_some() => Some(e),
        Value::Array(e) if e.len() == 1 => e[0].as_array(),
        _ => None,
    }
    .ok_or("the op layer's call does not have exactly one tensor input")?;
    let empty = Map::new();
    let kwargs = entry.get(3).and_then(Value::as_object).unwrap_or(&empty);
    for (k, v) in kwargs {
        if k != "y" && !(k == "name" && v.is_null()) {
            return Err(format!("the call's argument `{k}` is not supported"));
        }
    }
    match kwargs.get("y") {
        Some(Value::Number(n)) => Ok(Operand::Number {
            value: n.as_f64().unwrap_or(f64::NAN),
            integer: n.is_i64() || n.is_u64(),
        }),
        Some(Value::Array(t)) => node_entry_name(t)
            .map(Operand::Tensor)
            .ok_or_else(|| "the call's argument `y` is neither a tensor nor a number".into()),
        Some(other) => Err(format!(
            "the call's argument `y` is neither a tensor nor a number: {other}"
        )),
        None => Err("the call has no second operand `y`".into()),
    }
}
