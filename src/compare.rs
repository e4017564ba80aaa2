//! What differs between two designs A and B (`convscope diff`, the window's compare
//! view). Layers are matched by name, then the ones left by position and class; a
//! matched pair differs in its Keras arguments (the layer configs Keras writes, key by
//! key), its inputs (through the matching: a renamed producer is not a change), its
//! output shape, parameters, MACs or receptive field. Layers only B has are added,
//! only A has removed. Pure: two networks and their analyses in, a [`Diff`] out.

use crate::io::config;
use crate::keras::report::LayerReport;
use crate::keras::shape::Shape;
use crate::model::{Analysis, Network};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// A layer only one side has.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Only {
    pub name: String,
    pub class_name: String,
    pub output_shape: Option<Shape>,
    pub params: i64,
    /// Its position in its network.
    #[serde(skip)]
    pub at: usize,
}

/// A matched pair of layers; each field is `[A's, B's]`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Changed {
    /// A's name (a pair matched by position and class may be named differently: its
    /// `name` argument then differs).
    pub name: String,
    pub class_name: String,
    /// Every `get_config()` key whose value differs (a key one side lacks is `null`).
    pub arguments: BTreeMap<String, [Value; 2]>,
    pub output_shape: [Option<Shape>; 2],
    pub params: [i64; 2],
    pub macs: [i64; 2],
    /// Receptive field size (rows, columns), `null` where it is not known.
    pub receptive_field: [Option<[f64; 2]>; 2],
    /// The names of the layers it takes, when they are not the matched ones.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inputs: Option<[Vec<String>; 2]>,
    /// Positions in A and B.
    #[serde(skip)]
    pub at: [usize; 2],
}

impl Changed {
    /// Whether anything differs.
    pub fn differs(&self) -> bool {
        !self.arguments.is_empty()
            || self.inputs.is_some()
            || self.output_shape[0] != self.output_shape[1]
            || self.params[0] != self.params[1]
            || self.macs[0] != self.macs[1]
            || self.receptive_field[0] != self.receptive_field[1]
    }
}

/// Model totals, `[A, B]`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Totals {
    pub layers: [usize; 2],
    pub params: [i64; 2],
    pub trainable_params: [i64; 2],
    pub non_trainable_params: [i64; 2],
    pub macs: [i64; 2],
}

/// Everything that differs from A to B.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Diff {
    pub added: Vec<Only>,
    pub removed: Vec<Only>,
    /// The matched pairs that differ, in A's order.
    pub changed: Vec<Changed>,
    pub totals: Totals,
    /// Every matched pair in A's order, the unchanged ones too (for the compare view).
    #[serde(skip)]
    pub pairs: Vec<Changed>,
}

impl Diff {
    /// Whether A and B are the same design.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
            && self.totals.layers[0] == self.totals.layers[1]
    }
}

/// Compares design A with design B (`a` and `b` their analyses).
pub fn diff(na: &Network, a: &Analysis, nb: &Network, b: &Analysis) -> Diff {
    let (la, lb) = (na.layers(), nb.layers());
    // B's partner of each of A's layers: by name; then the layers left on both sides,
    // in order, each of A's with the next of B's of the same class.
    let mut partner: Vec<Option<usize>> = la.iter().map(|l| nb.find(&l.name)).collect();
    let mut taken = vec![false; lb.len()];
    for j in partner.iter().flatten() {
        taken[*j] = true;
    }
    let mut next = 0;
    for (i, p) in partner.iter_mut().enumerate() {
        if p.is_some() {
            continue;
        }
        let found = (next..lb.len()).find(|&j| {
            !taken[j] && na.find(&lb[j].name).is_none() && lb[j].class_name() == la[i].class_name()
        });
        if let Some(j) = found {
            *p = Some(j);
            taken[j] = true;
            next = j + 1;
        }
    }
    let only = |net: &Network, an: &Analysis, i: usize| {
        let r = &an.layers[i];
        Only {
            name: net.layers()[i].name.clone(),
            class_name: net.layers()[i].class_name().to_string(),
            output_shape: r.output_shape.clone(),
            params: r.params(),
            at: i,
        }
    };
    let removed = (0..la.len())
        .filter(|&i| partner[i].is_none())
        .map(|i| only(na, a, i))
        .collect();
    let added = (0..lb.len())
        .filter(|&j| !taken[j])
        .map(|j| only(nb, b, j))
        .collect();
    let mut pairs = Vec::new();
    for (i, p) in partner.iter().enumerate() {
        let Some(j) = *p else { continue };
        let (ra, rb) = (&a.layers[i], &b.layers[j]);
        // A's inputs seen through the matching, against B's own.
        let ins_a: Vec<Option<usize>> = na.inputs_of(i).iter().map(|&k| partner[k]).collect();
        let ins_b: Vec<Option<usize>> = nb.inputs_of(j).into_iter().map(Some).collect();
        let names = |net: &Network, ins: Vec<usize>| -> Vec<String> {
            ins.into_iter()
                .map(|k| net.layers()[k].name.clone())
                .collect()
        };
        let inputs =
            (ins_a != ins_b).then(|| [names(na, na.inputs_of(i)), names(nb, nb.inputs_of(j))]);
        pairs.push(Changed {
            name: la[i].name.clone(),
            class_name: la[i].class_name().to_string(),
            arguments: arguments(
                &config::layer_config(&la[i]),
                &config::layer_config(&lb[j]),
                la[i].class_name() != lb[j].class_name(),
            ),
            output_shape: [ra.output_shape.clone(), rb.output_shape.clone()],
            params: [ra.params(), rb.params()],
            macs: [ra.macs, rb.macs],
            receptive_field: [field(ra), field(rb)],
            inputs,
            at: [i, j],
        });
    }
    let changed = pairs.iter().filter(|c| c.differs()).cloned().collect();
    Diff {
        added,
        removed,
        changed,
        totals: Totals {
            layers: [la.len(), lb.len()],
            params: [a.total_params(), b.total_params()],
            trainable_params: [a.trainable_params, b.trainable_params],
            non_trainable_params: [a.non_trainable_params, b.non_trainable_params],
            macs: [a.macs, b.macs],
        },
        pairs,
    }
}

fn field(r: &LayerReport) -> Option<[f64; 2]> {
    r.receptive_field.map(|f| f.size)
}

/// The keys of two `get_config()`s whose values differ, in A's key order then B's
/// extra keys (a class change is shown as `class_name`).
fn arguments(a: &Value, b: &Value, class_differs: bool) -> BTreeMap<String, [Value; 2]> {
    let empty = serde_json::Map::new();
    let (ma, mb) = (
        a.as_object().unwrap_or(&empty),
        b.as_object().unwrap_or(&empty),
    );
    let mut out = BTreeMap::new();
    for k in ma.keys().chain(mb.keys().filter(|k| !ma.contains_key(*k))) {
        let (x, y) = (
            ma.get(k).unwrap_or(&Value::Null),
            mb.get(k).unwrap_or(&Value::Null),
        );
        if !same_value(x, y) {
            out.insert(k.clone(), [x.clone(), y.clone()]);
        }
    }
    if class_differs {
        out.insert("class_name".into(), [Value::Null, Value::Null]);
    }
    out
}

/// JSON values equal as Keras means them: numbers by value (`1` and `1.0` are one).
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_value(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_value(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Pair;

    fn stack() -> Network {
        let mut n = Network::sequential("s", &[28, 28, 1]);
        for class in ["Conv2D", "MaxPooling2D", "Flatten", "Dense"] {
            n.insert_new(n.len() - 1, class);
        }
        n
    }

    #[test]
    fn same_design_has_no_differences() {
        let n = stack();
        let d = diff(&n, &n.analyze(), &n, &n.analyze());
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(d.pairs.len(), n.len());
    }

    #[test]
    fn an_edited_kernel_changes_its_layer_and_those_whose_shapes_follow() {
        let a = stack();
        let mut b = a.clone();
        if let crate::model::LayerKind::Conv2D(c) = &mut b.layer_mut(1).kind {
            c.base.kernel_size = Pair::square(5);
        }
        let d = diff(&a, &a.analyze(), &b, &b.analyze());
        let names: Vec<&str> = d.changed.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["conv2d", "max_pooling2d", "flatten", "dense"]);
        let conv = &d.changed[0];
        assert_eq!(conv.arguments.keys().collect::<Vec<_>>(), ["kernel_size"]);
        assert_eq!(
            conv.arguments["kernel_size"],
            [serde_json::json!([3, 3]), serde_json::json!([5, 5])]
        );
        assert_eq!(conv.params, [320, 832]);
        // The pooling layer's own arguments are the same: only its shape moved.
        assert!(d.changed[1].arguments.is_empty());
        assert!(d.added.is_empty() && d.removed.is_empty());
    }

    #[test]
    fn layers_match_by_name_then_by_position_and_class() {
        let a = stack();
        let mut b = a.clone();
        b.rename(4, "classifier").unwrap(); // the Dense, renamed: matched by position
        b.insert_new(2, "Dropout"); // a new layer
        let d = diff(&a, &a.analyze(), &b, &b.analyze());
        assert_eq!(
            d.added.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(),
            ["dropout"]
        );
        assert!(d.removed.is_empty(), "{:?}", d.removed);
        let dense = d.pairs.iter().find(|c| c.name == "dense").unwrap();
        assert_eq!(
            dense.arguments["name"],
            [serde_json::json!("dense"), serde_json::json!("classifier")]
        );
        // The flatten now takes the dropout, not the pooling layer's partner.
        let flatten = d.changed.iter().find(|c| c.name == "flatten").unwrap();
        assert_eq!(flatten.inputs.as_ref().unwrap()[1], ["dropout"]);
    }
}
