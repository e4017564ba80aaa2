//! What only Keras 3 files write in a Functional model's inbound nodes: the call's
//! `args`, holding `__keras_tensor__` objects whose `keras_history` names the layer.

use crate::keras::objects::py_repr_json;
use crate::layers::Constant;
use serde_json::Value;

/// Collects the layer names of the tensors in one Keras 3 inbound-node object (`walk`
/// goes on into nested lists).
pub fn tensor_names(v: &Value, out: &mut Vec<String>, walk: fn(&Value, &mut Vec<String>)) {
    let Value::Object(m) = v else { return };
    if let Some(Value::Array(h)) = m.get("config").and_then(|c| c.get("keras_history"))
        && let Some(Value::String(n)) = h.first()
    {
        out.push(n.clone());
        return;
    }
    if let Some(args) = m.get("args") {
        walk(args, out);
    }
}

/// The number among the first call's positional arguments (`x + 3.0` is written
/// `"args": [tensor, 3.0]`), if there is one. An argument that is neither a tensor nor
/// a number (a NumPy array, a string…), or two numbers, is refused.
pub fn constant_operand(nodes: Option<&Value>) -> Result<Option<Constant>, String> {
    let Some(Value::Array(args)) = nodes.and_then(|n| n.get(0)).and_then(|n| n.get("args")) else {
        return Ok(None);
    };
    let mut found = None;
    for (position, a) in args.iter().enumerate() {
        match a {
            Value::Number(n) => {
                if found.is_some() {
                    return Err("the call's operands are all numbers, not tensors".into());
                }
                found = Some(Constant {
                    position,
                    value: n.as_f64().unwrap_or(f64::NAN),
                    integer: n.is_i64() || n.is_u64(),
                });
            }
            Value::Object(m)
                if m.get("class_name").and_then(Value::as_str) == Some("__keras_tensor__") => {}
            Value::Array(_) => {}
            other => {
                return Err(format!(
                    "call argument {position} is neither a tensor nor a number: {}",
                    py_repr_json(other)
                ));
            }
        }
    }
    Ok(found)
}
