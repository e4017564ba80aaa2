//! What only Keras 3 files write in a Functional model's inbound nodes: the call's
//! `args`, holding `__keras_tensor__` objects whose `keras_history` names the layer.

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
