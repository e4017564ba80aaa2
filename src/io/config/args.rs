//! A layer's own config keys, both ways, driven by its kind's argument declaration
//! ([`crate::layers::LayerSpec::args`]): [`Reader`] fills the arguments from a config
//! dict with Keras's type checks and wording, [`Writer`] writes them as Keras's
//! `get_config()` does. Both match every [`ArgMut`] variant: a new argument type does
//! not compile until it is read and written.

use crate::keras::args::{AmountForm, Amounts, Arg, ArgMut, Axes, Visitor};
use crate::keras::geometry::{DataFormat, Padding};
use crate::keras::objects::{self, KerasObject, ObjectKind, py_repr_json};
use crate::keras::pyfmt;
use crate::keras::shape::{Pair, Shape};
use serde_json::{Map, Value, json};

/// Reads typed arguments from a layer config, recording which keys were used and the
/// first argument whose type or value Keras would refuse on construction.
pub struct Reader<'a> {
    pub cfg: &'a Map<String, Value>,
    pub used: Vec<String>,
    pub error: Option<String>,
    /// Keys Keras's constructor requires that the config lacks.
    pub missing: Vec<&'static str>,
}

impl<'a> Reader<'a> {
    pub fn new(cfg: &'a Map<String, Value>, common: &[&str]) -> Reader<'a> {
        Reader {
            cfg,
            used: common.iter().map(|s| s.to_string()).collect(),
            error: None,
            missing: Vec::new(),
        }
    }

    fn get(&mut self, key: &str) -> Option<Value> {
        self.used.push(key.to_string());
        self.cfg.get(key).cloned()
    }

    fn fail(&mut self, msg: String) {
        if self.error.is_none() {
            self.error = Some(msg);
        }
    }

    /// The value under the argument's key, or its alias when that is set (Keras 2's
    /// `alpha` wins over `negative_slope`).
    fn value(&mut self, arg: &Arg) -> Option<Value> {
        let alias = arg.alias.and_then(|a| self.get(a)).filter(|v| !v.is_null());
        let own = self.get(arg.key);
        alias.or(own)
    }
}

impl Visitor for Reader<'_> {
    fn arg(&mut self, arg: &Arg, value: ArgMut<'_>) {
        let key = arg.key;
        let given = self.value(arg);
        if arg.required && given.is_none() && !matches!(value, ArgMut::Shape(_)) {
            self.missing.push(key);
        }
        match value {
            ArgMut::Int(x) => match given {
                None => {}
                Some(Value::Number(n)) if n.as_i64().is_some() => *x = n.as_i64().unwrap_or(*x),
                Some(other) => self.fail(match arg.type_error {
                    Some(t) => t.replace("{}", &py_show(&other)),
                    None => format!(
                        "Invalid value for argument `{key}`. Expected an integer. Received \
                         {key}={}.",
                        match &other {
                            Value::Number(n) => pyfmt::float(n.as_f64().unwrap_or(f64::NAN)),
                            o => py_show(o),
                        }
                    ),
                }),
            },
            ArgMut::Axis(x) => match given {
                None | Some(Value::Null) => {}
                Some(Value::Array(a)) if a.len() == 1 => *x = a[0].as_i64().unwrap_or(*x),
                Some(Value::Number(n)) => *x = n.as_i64().unwrap_or(*x),
                Some(other) => self.fail(format!(
                    "int() argument must be a string, a bytes-like object or a real number, \
                     not '{}'",
                    py_show(&other)
                )),
            },
            ArgMut::Axes(x) => match given {
                None | Some(Value::Null) => {}
                Some(Value::Number(n)) if n.is_i64() => *x = Axes::one(n.as_i64().unwrap_or(-1)),
                Some(Value::Array(a)) => match a.iter().map(Value::as_i64).collect() {
                    Some(v) => *x = Axes { v, list: true },
                    None => self.fail(format!(
                        "`{key}` must be an integer or a tuple of integers. Received: {key}={}",
                        py_tuple_show(&Value::Array(a))
                    )),
                },
                Some(other) => self.fail(format!(
                    "`{key}` must be an integer or a tuple of integers. Received: {key}={}",
                    py_show(&other)
                )),
            },
            ArgMut::OptInt(x) => {
                if let Some(v) = given {
                    *x = v.as_i64();
                }
            }
            ArgMut::Float(x) => match given {
                None => {}
                Some(Value::Number(n)) => *x = n.as_f64().unwrap_or(*x),
                Some(other) => self.fail(format!(
                    "could not convert {key} to float: '{}'",
                    py_show(&other)
                )),
            },
            ArgMut::FloatOrNone(x) => match given {
                None => {}
                Some(Value::Null) => *x = f64::NAN,
                Some(Value::Number(n)) => *x = n.as_f64().unwrap_or(*x),
                Some(other) => self.fail(not_a_number(key, &other)),
            },
            ArgMut::OptFloat(x) => match given {
                None => {}
                Some(Value::Null) => *x = None,
                Some(Value::Number(n)) => *x = n.as_f64(),
                Some(other) => self.fail(not_a_number(key, &other)),
            },
            ArgMut::Bool(x) => {
                if let Some(v) = given {
                    *x = truthy(&v);
                }
            }
            ArgMut::Text(x, _) => {
                if let Some(v) = given.filter(|v| !v.is_null()) {
                    *x = text(&v);
                }
            }
            ArgMut::LowerText(x, _) => {
                if let Some(v) = given.filter(|v| !v.is_null()) {
                    *x = text(&v).to_lowercase();
                }
            }
            ArgMut::Padding(x) => match given {
                None => {}
                Some(Value::String(s)) => match Padding::standardize(&s) {
                    Ok(p) => *x = p,
                    Err(e) => self.fail(e),
                },
                Some(Value::Array(a)) => self.fail(format!(
                    "`padding` must be either `'valid'` or `'same'`. Received {}.",
                    py_tuple_show(&Value::Array(a))
                )),
                Some(other) => {
                    let t = match other {
                        Value::Null => "NoneType",
                        Value::Bool(_) => "bool",
                        Value::Number(n) if n.is_i64() => "int",
                        Value::Number(_) => "float",
                        _ => "dict",
                    };
                    self.fail(format!("'{t}' object has no attribute 'lower'"));
                }
            },
            ArgMut::DataFormat(x) => {
                if let Some(v) = given.filter(|v| !v.is_null()) {
                    match DataFormat::standardize(&text(&v)) {
                        Ok(df) => *x = df,
                        Err(e) => self.fail(e),
                    }
                }
            }
            ArgMut::Activation(x) => match objects::activation(&given.unwrap_or(Value::Null)) {
                Ok(a) => *x = a,
                Err(e) => {
                    self.fail(e);
                    *x = "linear".into();
                }
            },
            ArgMut::Pair(x) => {
                if let Some(v) = given {
                    match pair_from_json(&v) {
                        Some(p) => *x = p,
                        None => self.fail(not_a_pair(key, &v)),
                    }
                }
            }
            ArgMut::OptPair(x) | ArgMut::PairOr { value: x, .. } => match given {
                None | Some(Value::Null) => *x = None,
                Some(v) => match pair_from_json(&v) {
                    Some(p) => *x = Some(p),
                    None => {
                        self.fail(not_a_pair(key, &v));
                        *x = None;
                    }
                },
            },
            ArgMut::Object { value, kind, .. } => {
                if let Some(v) = given {
                    match objects::resolve(kind, &v) {
                        Ok(o) => *value = o,
                        Err(e) => self.fail(e),
                    }
                }
            }
            ArgMut::Amounts(x) => {
                if let Some(v) = given {
                    self.amounts(key, &v, x);
                }
            }
            ArgMut::Shape(x) => {
                let shape = given.as_ref().and_then(shape_from_json).or_else(|| {
                    let s = self.get("shape").as_ref().and_then(shape_from_json)?;
                    Some(std::iter::once(None).chain(s).collect())
                });
                match shape {
                    Some(s) => *x = s,
                    None => self.fail("You must pass a `shape` argument.".into()),
                }
            }
            ArgMut::Ints(x) => match given {
                None => {}
                Some(Value::Array(a)) => match a.iter().map(Value::as_i64).collect() {
                    Some(v) => *x = v,
                    None => self.fail(format!(
                        "`{key}` must be a tuple of integers. Received: {key}={}",
                        py_tuple_show(&Value::Array(a))
                    )),
                },
                Some(other) => self.fail(format!(
                    "'{}' object is not iterable",
                    match other {
                        Value::Number(n) if n.is_i64() => "int",
                        Value::Number(_) => "float",
                        Value::Bool(_) => "bool",
                        Value::Null => "NoneType",
                        _ => "str",
                    }
                )),
            },
            ArgMut::Json(x) => {
                if let Some(v) = given {
                    *x = v;
                }
            }
        }
    }

    fn fixed(&mut self, key: &'static str, _: Option<Value>) {
        self.used.push(key.to_string());
    }
}

impl Reader<'_> {
    /// `ZeroPadding2D`'s `padding` / `Cropping2D`'s `cropping`: `1`, `(1, 2)` or
    /// `((1, 2), (3, 4))`.
    fn amounts(&mut self, key: &str, v: &Value, out: &mut Amounts) {
        let shapes_msg = |shown: String| {
            format!(
                "`{key}` should be either an int, a tuple of 2 ints (symmetric_height_crop, \
                 symmetric_width_crop), or a tuple of 2 tuples of 2 ints ((top_crop, \
                 bottom_crop), (left_crop, right_crop)). Received: {key}={shown}."
            )
        };
        match v {
            Value::Number(n) if n.as_i64().is_some() => {
                let x = n.as_i64().unwrap_or(0);
                *out = Amounts {
                    v: [[x, x], [x, x]],
                    form: AmountForm::Int,
                };
            }
            Value::Array(a) if a.len() == 2 => {
                let mut vals = [[0i64; 2]; 2];
                let mut form = AmountForm::Symmetric;
                let mut ok = true;
                for (i, e) in a.iter().enumerate() {
                    match e {
                        Value::Number(n) if n.as_i64().is_some() => {
                            let x = n.as_i64().unwrap_or(0);
                            vals[i] = [x, x];
                        }
                        Value::Array(_) => {
                            form = AmountForm::Full;
                            match pair_from_json(e) {
                                Some(p) => vals[i] = p.v,
                                None => {
                                    let ord = if i == 0 { "1st" } else { "2nd" };
                                    self.fail(format!(
                                        "The `{ord} entry of {key}` argument must be a tuple \
                                         of 2 integers. Received {ord} entry of {key}={}",
                                        py_tuple_show(e)
                                    ));
                                }
                            }
                        }
                        _ => ok = false,
                    }
                }
                if !ok {
                    self.fail(shapes_msg(py_tuple_show(v)));
                }
                *out = Amounts { v: vals, form };
            }
            Value::Array(_) => self.fail(format!(
                "`{key}` should have two elements. Received: {key}={}.",
                py_tuple_show(v)
            )),
            _ => self.fail(shapes_msg(py_show(v))),
        }
    }
}

/// Writes arguments as Keras's `get_config()` does.
pub struct Writer<'a> {
    pub out: &'a mut Map<String, Value>,
}

impl Visitor for Writer<'_> {
    fn arg(&mut self, arg: &Arg, value: ArgMut<'_>) {
        if arg.only_if_set && matches!(&value, ArgMut::Object { value: None, .. }) {
            return;
        }
        self.out.insert(arg.key.to_string(), to_json(&value));
    }

    fn fixed(&mut self, key: &'static str, value: Option<Value>) {
        if let Some(v) = value {
            self.out.insert(key.to_string(), v);
        }
    }
}

/// One argument's value as Keras writes it.
pub fn to_json(value: &ArgMut<'_>) -> Value {
    match value {
        ArgMut::Int(x) | ArgMut::Axis(x) => json!(**x),
        ArgMut::Axes(x) if x.list => json!(x.v),
        ArgMut::Axes(x) => json!(x.v.first().copied().unwrap_or(-1)),
        ArgMut::OptInt(x) => x.map_or(Value::Null, |v| json!(v)),
        ArgMut::Float(x) | ArgMut::FloatOrNone(x) => float(**x),
        ArgMut::OptFloat(x) => x.map_or(Value::Null, float),
        ArgMut::Bool(x) => json!(**x),
        ArgMut::Text(x, _) | ArgMut::LowerText(x, _) | ArgMut::Activation(x) => json!(**x),
        ArgMut::Padding(x) => json!(x.as_str()),
        ArgMut::DataFormat(x) => json!(x.as_str()),
        ArgMut::Pair(x) => pair_json(x),
        ArgMut::OptPair(x) => x.as_ref().map_or(Value::Null, pair_json),
        ArgMut::PairOr { value, fallback } => pair_json(&value.unwrap_or(*fallback)),
        ArgMut::Object { value, kind, .. } => obj_json(*kind, value),
        ArgMut::Amounts(x) => json!(x.v),
        ArgMut::Shape(x) => shape_json(x),
        ArgMut::Ints(x) => json!(**x),
        ArgMut::Json(x) => (**x).clone(),
    }
}

fn not_a_number(key: &str, v: &Value) -> String {
    format!("`{key}` must be a number. Received: {key}={}", py_show(v))
}

fn not_a_pair(key: &str, v: &Value) -> String {
    format!(
        "The `{key}` argument must be a tuple of 2 integers. Received {key}={}",
        py_tuple_show(v)
    )
}

/// Python truthiness.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
        Value::Null => false,
    }
}

/// A string argument as Keras holds it (a dtype policy object by its name).
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Object(m) => m
            .get("config")
            .and_then(|c| c.get("name"))
            .and_then(Value::as_str)
            .map_or_else(|| py_show(v), str::to_string),
        other => py_show(other),
    }
}

/// An int or a list of two integral numbers.
pub fn pair_from_json(v: &Value) -> Option<Pair> {
    match v {
        Value::Number(n) => n.as_i64().map(|x| Pair {
            v: [x, x],
            scalar: true,
        }),
        Value::Array(a) if a.len() == 2 => {
            let mut out = [0i64; 2];
            for (i, e) in a.iter().enumerate() {
                // Integral floats (3.0) pass Keras's tuple check but not its shape check.
                out[i] = e.as_i64()?;
            }
            Some(Pair {
                v: out,
                scalar: false,
            })
        }
        _ => None,
    }
}

/// A JSON shape like `[null, 28, 28, 1]`.
pub fn shape_from_json(v: &Value) -> Option<Shape> {
    v.as_array()?
        .iter()
        .map(|d| match d {
            Value::Null => Some(None),
            Value::Number(n) => n.as_i64().map(Some),
            _ => None,
        })
        .collect()
}

/// A value as Python's f-string shows it (strings bare).
pub fn py_show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => py_repr_json(other),
    }
}

/// Like [`py_show`], but lists show as tuples (Keras passes them through `tuple()`).
pub fn py_tuple_show(v: &Value) -> String {
    match v {
        Value::Array(a) => {
            let items: Vec<String> = a
                .iter()
                .map(|e| match e {
                    Value::Array(_) => py_tuple_show(e),
                    other => py_repr_json(other),
                })
                .collect();
            if items.len() == 1 {
                format!("({},)", items[0])
            } else {
                format!("({})", items.join(", "))
            }
        }
        other => py_show(other),
    }
}

pub fn shape_json(s: &[Option<i64>]) -> Value {
    Value::Array(
        s.iter()
            .map(|d| d.map_or(Value::Null, |x| json!(x)))
            .collect(),
    )
}

fn pair_json(p: &Pair) -> Value {
    json!([p.v[0], p.v[1]])
}

fn obj_json(kind: ObjectKind, o: &Option<KerasObject>) -> Value {
    o.as_ref().map_or(Value::Null, |o| o.to_keras_json(kind))
}

fn float(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}
