//! Keras model config JSON: reading the three dialects (Keras 3 `model.to_json()` and
//! `config.json` inside `.keras`; the legacy `.h5` `model_config` attribute; tf.keras 2
//! JSON with `batch_input_shape` and no `module`) and writing Keras 3 JSON that
//! `keras.models.model_from_json` accepts.
//!
//! Argument *values* Keras would refuse are kept on the layer as `construct_error` so the
//! design can still be shown and fixed; only structural problems (not JSON, not a model,
//! unknown class or argument) fail the read.

use crate::model::layer::*;
use crate::model::objects::{self, KerasObject, ObjectKind, py_repr_json};
use crate::model::{Network, pyfmt};
use serde_json::{Map, Value, json};
use thiserror::Error;

#[derive(Debug, Error, PartialEq)]
pub enum ConfigError {
    #[error("not valid JSON: {0}")]
    Json(String),
    #[error("not a Keras model config: {0}")]
    NotAModel(String),
    #[error(
        "layer {index} ('{name}'): unknown layer class '{class}' (convscope supports {supported})"
    )]
    UnknownClass {
        index: usize,
        name: String,
        class: String,
        supported: String,
    },
    #[error("layer '{layer}': {message}")]
    Layer { layer: String, message: String },
}

/// Reads a model config in any supported dialect.
pub fn from_json_str(text: &str) -> Result<Network, ConfigError> {
    let v: Value = serde_json::from_str(text).map_err(|e| ConfigError::Json(e.to_string()))?;
    from_value(&v)
}

/// Reads a model config already parsed as JSON.
pub fn from_value(v: &Value) -> Result<Network, ConfigError> {
    let obj = v
        .as_object()
        .ok_or_else(|| ConfigError::NotAModel("the top level is not an object".into()))?;
    let class = obj.get("class_name").and_then(Value::as_str).unwrap_or("");
    let config = obj.get("config");
    match class {
        "Sequential" => sequential(config),
        "Functional" | "Model" => functional(config),
        "" => Err(ConfigError::NotAModel(
            "no `class_name` at the top level".into(),
        )),
        other => Err(ConfigError::NotAModel(format!(
            "the model class is '{other}'; convscope reads Sequential and Functional models"
        ))),
    }
}

fn layer_list(config: Option<&Value>) -> Result<(String, &Vec<Value>), ConfigError> {
    match config {
        // Keras 2.2 and older: the config *is* the list of layers.
        Some(Value::Array(a)) => Ok(("sequential".into(), a)),
        Some(Value::Object(c)) => {
            let name = c
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("sequential")
                .to_string();
            match c.get("layers") {
                Some(Value::Array(a)) => Ok((name, a)),
                _ => Err(ConfigError::NotAModel(
                    "the model config has no `layers` list".into(),
                )),
            }
        }
        _ => Err(ConfigError::NotAModel(
            "the model has no `config` object".into(),
        )),
    }
}

fn sequential(config: Option<&Value>) -> Result<Network, ConfigError> {
    let (name, layers) = layer_list(config)?;
    let build_input_shape = config
        .and_then(|c| c.get("build_input_shape"))
        .and_then(shape_from_json);
    let mut net = Network {
        name,
        functional: false,
        layers: Vec::new(),
        outputs: Vec::new(),
    };
    for (i, entry) in layers.iter().enumerate() {
        let (layer, batch_input_shape) = parse_layer(entry, i)?;
        if net.layers.is_empty() && !matches!(layer.kind, LayerKind::Input(_)) {
            // tf.keras 2: the first layer carries `batch_input_shape`; Keras 3 may only
            // have `build_input_shape`.
            let shape = batch_input_shape
                .or_else(|| build_input_shape.clone())
                .ok_or_else(|| {
                    ConfigError::NotAModel(
                        "the Sequential model has no InputLayer and no input shape".into(),
                    )
                })?;
            net.layers.push(input_layer("input_layer", shape));
        }
        net.layers.push(layer);
    }
    if net.layers.is_empty() {
        if let Some(shape) = build_input_shape {
            net.layers.push(input_layer("input_layer", shape));
        } else {
            return Err(ConfigError::NotAModel("the model has no layers".into()));
        }
    }
    Ok(net)
}

fn input_layer(name: &str, batch_shape: Shape) -> Layer {
    Layer {
        name: name.into(),
        trainable: true,
        dtype: default_dtype(),
        kind: LayerKind::Input(InputLayer {
            batch_shape,
            dtype: "float32".into(),
        }),
        inbound: Vec::new(),
        construct_error: None,
    }
}

fn functional(config: Option<&Value>) -> Result<Network, ConfigError> {
    let (name, layers) = layer_list(config)?;
    let mut net = Network {
        name,
        functional: true,
        layers: Vec::new(),
        outputs: Vec::new(),
    };
    for (i, entry) in layers.iter().enumerate() {
        let (mut layer, _) = parse_layer(entry, i)?;
        if let Some(name) = entry.get("name").and_then(Value::as_str) {
            layer.name = name.to_string();
        }
        layer.inbound = inbound_names(entry.get("inbound_nodes"));
        net.layers.push(layer);
    }
    if let Some(out) = config.and_then(|c| c.get("output_layers")) {
        net.outputs = history_names(out);
    }
    Ok(net)
}

/// Names of inbound layers, from Keras 3 (`{"args": [tensor...]}`) or tf.keras 2
/// (`[[["name", 0, 0, {}], ...]]`) inbound node lists.
fn inbound_names(nodes: Option<&Value>) -> Vec<String> {
    let mut out = Vec::new();
    let Some(Value::Array(nodes)) = nodes else {
        return out;
    };
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
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
            Value::Array(a) => {
                // tf.keras 2 entry: ["name", node, tensor, {kwargs}]
                if let (Some(Value::String(n)), Some(Value::Number(_))) = (a.first(), a.get(1)) {
                    out.push(n.clone());
                } else {
                    for x in a {
                        walk(x, out);
                    }
                }
            }
            _ => {}
        }
    }
    for n in nodes.iter().take(1) {
        walk(n, &mut out);
    }
    out
}

fn history_names(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) if matches!(a.first(), Some(Value::String(_))) => a
            .first()
            .and_then(Value::as_str)
            .map(|s| vec![s.to_string()])
            .unwrap_or_default(),
        Value::Array(a) => a.iter().flat_map(history_names).collect(),
        _ => Vec::new(),
    }
}

/// A JSON shape like `[null, 28, 28, 1]`.
fn shape_from_json(v: &Value) -> Option<Shape> {
    v.as_array()?
        .iter()
        .map(|d| match d {
            Value::Null => Some(None),
            Value::Number(n) => n.as_i64().map(Some),
            _ => None,
        })
        .collect()
}

/// Keys every layer accepts (Keras's `Layer.__init__` and the legacy loader).
const COMMON_KEYS: &[&str] = &[
    "name",
    "trainable",
    "dtype",
    "autocast",
    "input_dim",
    "input_shape",
    "batch_input_shape",
    "batch_size",
    "activity_regularizer",
];

/// Reads the config of one layer entry.
/// Returns the layer and the tf.keras 2 `batch_input_shape`, if it had one.
fn parse_layer(entry: &Value, index: usize) -> Result<(Layer, Option<Shape>), ConfigError> {
    let class = entry
        .get("class_name")
        .and_then(Value::as_str)
        .ok_or_else(|| ConfigError::NotAModel(format!("layer {index} has no `class_name`")))?;
    let empty = Map::new();
    let config = entry
        .get("config")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let name = config
        .get("name")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| objects::to_snake_case(class));
    let canonical = match class {
        // Keras 2 aliases.
        "MaxPool2D" => "MaxPooling2D",
        "AvgPool2D" => "AveragePooling2D",
        "GlobalAvgPool2D" => "GlobalAveragePooling2D",
        "GlobalMaxPool2D" => "GlobalMaxPooling2D",
        "Convolution2D" => "Conv2D",
        "SeparableConvolution2D" => "SeparableConv2D",
        "Convolution2DTranspose" | "Deconvolution2D" | "Deconv2D" => "Conv2DTranspose",
        other => other,
    };
    let Some(default) = LayerKind::default_for(canonical) else {
        let mut supported: Vec<&str> = PALETTE.to_vec();
        supported.extend(["InputLayer", "Add", "Concatenate"]);
        return Err(ConfigError::UnknownClass {
            index,
            name,
            class: class.to_string(),
            supported: supported.join(", "),
        });
    };
    let mut p = Parser {
        cfg: config,
        used: COMMON_KEYS.iter().map(|s| s.to_string()).collect(),
        error: None,
    };
    let kind = p.kind(default);
    let unknown: Vec<(&String, &Value)> = config
        .iter()
        .filter(|(k, _)| !p.used.contains(*k))
        .collect();
    if !unknown.is_empty() && p.error.is_none() {
        let args = format!(
            "{{{}}}",
            unknown
                .iter()
                .map(|(k, v)| format!("'{k}': {}", py_repr_json(v)))
                .collect::<Vec<_>>()
                .join(", ")
        );
        p.error = Some(format!(
            "Unrecognized keyword arguments passed to {canonical}: {args}"
        ));
    }
    let required: &[&str] = match canonical {
        "Conv2D" | "Conv2DTranspose" | "SeparableConv2D" => &["filters", "kernel_size"],
        "DepthwiseConv2D" => &["kernel_size"],
        "AveragePooling2D" => &["pool_size"],
        "Dense" => &["units"],
        "Dropout" | "SpatialDropout2D" => &["rate"],
        "Rescaling" => &["scale"],
        "Activation" => &["activation"],
        _ => &[],
    };
    let missing: Vec<String> = required
        .iter()
        .filter(|k| !config.contains_key(**k))
        .map(|k| format!("'{k}'"))
        .collect();
    if !missing.is_empty() && p.error.is_none() {
        let n = missing.len();
        let list = match n {
            1 => missing[0].clone(),
            _ => format!("{} and {}", missing[..n - 1].join(", "), missing[n - 1]),
        };
        p.error = Some(format!(
            "{canonical}.__init__() missing {n} required positional argument{}: {list}",
            if n == 1 { "" } else { "s" }
        ));
    }
    let batch_input_shape = config
        .get("batch_input_shape")
        .and_then(shape_from_json)
        .or_else(|| {
            config
                .get("input_shape")
                .and_then(shape_from_json)
                .map(|s| std::iter::once(None).chain(s).collect())
        });
    let layer = Layer {
        name,
        trainable: config
            .get("trainable")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        dtype: match config.get("dtype") {
            Some(Value::Object(d)) => {
                // `.keras` archives tag shared dicts with a random id: not part of the config.
                let mut d = d.clone();
                d.remove("shared_object_id");
                Value::Object(d)
            }
            _ => default_dtype(),
        },
        kind,
        inbound: Vec::new(),
        construct_error: p.error,
    };
    Ok((layer, batch_input_shape))
}

/// Reads typed arguments from a layer config, recording which keys were used and the
/// first argument whose type Keras would refuse.
struct Parser<'a> {
    cfg: &'a Map<String, Value>,
    used: Vec<String>,
    error: Option<String>,
}

impl Parser<'_> {
    fn get(&mut self, key: &str) -> Option<&Value> {
        self.used.push(key.to_string());
        self.cfg.get(key)
    }

    fn fail(&mut self, msg: String) {
        if self.error.is_none() {
            self.error = Some(msg);
        }
    }

    fn int(&mut self, key: &str, default: i64) -> i64 {
        match self.get(key).cloned() {
            None => default,
            Some(Value::Number(n)) => match n.as_i64() {
                Some(i) => i,
                None => {
                    let f = n.as_f64().unwrap_or(f64::NAN);
                    self.fail(format!(
                        "Invalid value for argument `{key}`. Expected an integer. Received \
                         {key}={}.",
                        pyfmt::float(f)
                    ));
                    default
                }
            },
            Some(other) => {
                self.fail(format!(
                    "Invalid value for argument `{key}`. Expected an integer. Received \
                     {key}={}.",
                    py_show(&other)
                ));
                default
            }
        }
    }

    fn float(&mut self, key: &str, default: f64) -> f64 {
        match self.get(key).cloned() {
            None => default,
            Some(Value::Number(n)) => n.as_f64().unwrap_or(default),
            Some(other) => {
                self.fail(format!(
                    "could not convert {} to float: '{}'",
                    key,
                    py_show(&other)
                ));
                default
            }
        }
    }

    fn opt_float(&mut self, key: &str, default: Option<f64>) -> Option<f64> {
        match self.get(key).cloned() {
            None => default,
            Some(Value::Null) => None,
            Some(Value::Number(n)) => n.as_f64(),
            Some(other) => {
                self.fail(format!(
                    "`{key}` must be a number. Received: {key}={}",
                    py_show(&other)
                ));
                default
            }
        }
    }

    fn opt_int(&mut self, key: &str) -> Option<i64> {
        match self.get(key).cloned() {
            Some(Value::Number(n)) => n.as_i64(),
            _ => None,
        }
    }

    fn boolean(&mut self, key: &str, default: bool) -> bool {
        match self.get(key).cloned() {
            None => default,
            Some(Value::Bool(b)) => b,
            Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
            // Python truthiness.
            Some(Value::String(s)) => !s.is_empty(),
            Some(Value::Array(a)) => !a.is_empty(),
            Some(Value::Object(m)) => !m.is_empty(),
            Some(Value::Null) => false,
        }
    }

    fn string(&mut self, key: &str, default: &str) -> String {
        match self.get(key).cloned() {
            None | Some(Value::Null) => default.to_string(),
            Some(Value::String(s)) => s,
            Some(other) => py_show(&other),
        }
    }

    /// A convolution's `padding`: Keras calls `.lower()` on it, or keeps a list/tuple
    /// (then refuses it when computing shapes).
    fn conv_padding(&mut self) -> String {
        match self.get("padding").cloned() {
            None => "valid".into(),
            Some(Value::String(s)) => s,
            Some(Value::Array(a)) => {
                self.fail(format!(
                    "`padding` must be either `'valid'` or `'same'`. Received {}.",
                    py_tuple_show(&Value::Array(a))
                ));
                "valid".into()
            }
            Some(other) => {
                let t = match other {
                    Value::Null => "NoneType",
                    Value::Bool(_) => "bool",
                    Value::Number(n) if n.is_i64() => "int",
                    Value::Number(_) => "float",
                    _ => "dict",
                };
                self.fail(format!("'{t}' object has no attribute 'lower'"));
                "valid".into()
            }
        }
    }

    fn raw(&mut self, key: &str) -> Value {
        self.get(key).cloned().unwrap_or(Value::Null)
    }

    /// `standardize_tuple`'s type checks; value checks happen in analysis.
    fn pair(&mut self, key: &str, default: Pair) -> Pair {
        let v = match self.get(key).cloned() {
            None => return default,
            Some(v) => v,
        };
        match pair_from_json(&v) {
            Some(p) => p,
            None => {
                self.fail(format!(
                    "The `{key}` argument must be a tuple of 2 integers. Received {key}={}",
                    py_tuple_show(&v)
                ));
                default
            }
        }
    }

    fn activation(&mut self, key: &str) -> String {
        let v = self.raw(key);
        match objects::activation(&v) {
            Ok(a) => a,
            Err(e) => {
                self.fail(e);
                "linear".into()
            }
        }
    }

    fn object(
        &mut self,
        kind: ObjectKind,
        key: &str,
        default: Option<&str>,
    ) -> Option<KerasObject> {
        let v = match self.get(key).cloned() {
            None => return default.and_then(|c| KerasObject::new(kind, c)),
            Some(v) => v,
        };
        match objects::resolve(kind, &v) {
            Ok(o) => o,
            Err(e) => {
                self.fail(e);
                default.and_then(|c| KerasObject::new(kind, c))
            }
        }
    }

    fn weights(&mut self, prefix: &str, init: &str) -> WeightArgs {
        WeightArgs {
            initializer: self.object(
                ObjectKind::Initializer,
                &format!("{prefix}_initializer"),
                Some(init),
            ),
            regularizer: self.object(
                ObjectKind::Regularizer,
                &format!("{prefix}_regularizer"),
                None,
            ),
            constraint: self.object(
                ObjectKind::Constraint,
                &format!("{prefix}_constraint"),
                None,
            ),
        }
    }

    fn padding2d(&mut self, key: &str, default: Padding2D) -> Padding2D {
        let data_format = self.string("data_format", "channels_last");
        let v = match self.get(key).cloned() {
            None => {
                return Padding2D {
                    data_format,
                    ..default
                };
            }
            Some(v) => v,
        };
        let (amounts, form) = match &v {
            Value::Number(n) if n.as_i64().is_some() => {
                let x = n.as_i64().unwrap_or(0);
                ([[x, x], [x, x]], PadForm::Int)
            }
            Value::Array(a) if a.len() == 2 => {
                let mut out = [[0i64; 2]; 2];
                let mut form = PadForm::Symmetric;
                let mut ok = true;
                for (i, e) in a.iter().enumerate() {
                    match e {
                        Value::Number(n) if n.as_i64().is_some() => {
                            let x = n.as_i64().unwrap_or(0);
                            out[i] = [x, x];
                        }
                        Value::Array(_) => {
                            form = PadForm::Full;
                            match pair_from_json(e) {
                                Some(p) => out[i] = p.v,
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
                    self.fail(format!(
                        "`{key}` should be either an int, a tuple of 2 ints \
                         (symmetric_height_crop, symmetric_width_crop), or a tuple of 2 \
                         tuples of 2 ints ((top_crop, bottom_crop), (left_crop, \
                         right_crop)). Received: {key}={}.",
                        py_tuple_show(&v)
                    ));
                }
                (out, form)
            }
            Value::Array(_) => {
                self.fail(format!(
                    "`{key}` should have two elements. Received: {key}={}.",
                    py_tuple_show(&v)
                ));
                (default.amounts, default.form)
            }
            _ => {
                self.fail(format!(
                    "`{key}` should be either an int, a tuple of 2 ints \
                     (symmetric_height_crop, symmetric_width_crop), or a tuple of 2 tuples \
                     of 2 ints ((top_crop, bottom_crop), (left_crop, right_crop)). \
                     Received: {key}={}.",
                    py_show(&v)
                ));
                (default.amounts, default.form)
            }
        };
        Padding2D {
            amounts,
            form,
            data_format,
        }
    }

    /// Fills a layer of the right class from the config, starting from its defaults.
    fn kind(&mut self, default: LayerKind) -> LayerKind {
        match default {
            LayerKind::Input(d) => {
                let shape = self
                    .get("batch_shape")
                    .cloned()
                    .or_else(|| self.get("batch_input_shape").cloned())
                    .and_then(|v| shape_from_json(&v))
                    .or_else(|| {
                        let s = self
                            .get("shape")
                            .cloned()
                            .and_then(|v| shape_from_json(&v))?;
                        Some(std::iter::once(None).chain(s).collect())
                    });
                for k in ["sparse", "ragged", "optional", "input_tensor"] {
                    self.get(k);
                }
                let dtype = match self.raw("dtype") {
                    Value::String(s) => s,
                    _ => "float32".into(),
                };
                match shape {
                    Some(batch_shape) => LayerKind::Input(InputLayer { batch_shape, dtype }),
                    None => {
                        self.fail("You must pass a `shape` argument.".into());
                        LayerKind::Input(d)
                    }
                }
            }
            LayerKind::Conv2D(d) => {
                let filters = self.int("filters", d.filters);
                let kernel_size = self.pair("kernel_size", d.kernel_size);
                LayerKind::Conv2D(Conv2D {
                    filters,
                    kernel_size,
                    strides: self.pair("strides", d.strides),
                    padding: self.conv_padding(),
                    data_format: self.string("data_format", "channels_last"),
                    dilation_rate: self.pair("dilation_rate", d.dilation_rate),
                    groups: self.int("groups", 1),
                    activation: self.activation("activation"),
                    use_bias: self.boolean("use_bias", true),
                    kernel: self.weights("kernel", "GlorotUniform"),
                    bias: self.weights("bias", "Zeros"),
                    activity_regularizer: self.object(
                        ObjectKind::Regularizer,
                        "activity_regularizer",
                        None,
                    ),
                })
            }
            LayerKind::Conv2DTranspose(d) => {
                let filters = self.int("filters", d.filters);
                let kernel_size = self.pair("kernel_size", d.kernel_size);
                let strides = self.pair("strides", d.strides);
                let padding = self.conv_padding();
                let output_padding = match self.raw("output_padding") {
                    Value::Null => None,
                    v => match pair_from_json(&v) {
                        Some(p) => Some(p),
                        None => {
                            self.fail(format!(
                                "The `output_padding` argument must be a tuple of 2 integers. \
                                 Received output_padding={}",
                                py_tuple_show(&v)
                            ));
                            None
                        }
                    },
                };
                LayerKind::Conv2DTranspose(Conv2DTranspose {
                    filters,
                    kernel_size,
                    strides,
                    padding,
                    output_padding,
                    data_format: self.string("data_format", "channels_last"),
                    dilation_rate: self.pair("dilation_rate", d.dilation_rate),
                    activation: self.activation("activation"),
                    use_bias: self.boolean("use_bias", true),
                    kernel: self.weights("kernel", "GlorotUniform"),
                    bias: self.weights("bias", "Zeros"),
                    activity_regularizer: self.object(
                        ObjectKind::Regularizer,
                        "activity_regularizer",
                        None,
                    ),
                })
            }
            LayerKind::DepthwiseConv2D(d) => LayerKind::DepthwiseConv2D(DepthwiseConv2D {
                depth_multiplier: self.int("depth_multiplier", 1),
                kernel_size: self.pair("kernel_size", d.kernel_size),
                strides: self.pair("strides", d.strides),
                padding: self.conv_padding(),
                data_format: self.string("data_format", "channels_last"),
                dilation_rate: self.pair("dilation_rate", d.dilation_rate),
                activation: self.activation("activation"),
                use_bias: self.boolean("use_bias", true),
                depthwise: self.weights("depthwise", "GlorotUniform"),
                bias: self.weights("bias", "Zeros"),
                activity_regularizer: self.object(
                    ObjectKind::Regularizer,
                    "activity_regularizer",
                    None,
                ),
            }),
            LayerKind::SeparableConv2D(d) => LayerKind::SeparableConv2D(SeparableConv2D {
                depth_multiplier: self.int("depth_multiplier", 1),
                filters: self.int("filters", d.filters),
                kernel_size: self.pair("kernel_size", d.kernel_size),
                strides: self.pair("strides", d.strides),
                padding: self.conv_padding(),
                data_format: self.string("data_format", "channels_last"),
                dilation_rate: self.pair("dilation_rate", d.dilation_rate),
                activation: self.activation("activation"),
                use_bias: self.boolean("use_bias", true),
                depthwise: self.weights("depthwise", "GlorotUniform"),
                pointwise: self.weights("pointwise", "GlorotUniform"),
                bias: self.weights("bias", "Zeros"),
                activity_regularizer: self.object(
                    ObjectKind::Regularizer,
                    "activity_regularizer",
                    None,
                ),
            }),
            LayerKind::Pooling2D(d) => {
                let pool_size = self.pair("pool_size", d.pool_size);
                let strides = match self.raw("strides") {
                    Value::Null => None,
                    v => match pair_from_json(&v) {
                        Some(p) => Some(p),
                        None => {
                            self.fail(format!(
                                "The `strides` argument must be a tuple of 2 integers. \
                                 Received strides={}",
                                py_tuple_show(&v)
                            ));
                            None
                        }
                    },
                };
                LayerKind::Pooling2D(Pooling2D {
                    mode: d.mode,
                    pool_size,
                    strides,
                    padding: self.string("padding", "valid"),
                    data_format: self.string("data_format", "channels_last"),
                })
            }
            LayerKind::GlobalPooling2D(d) => LayerKind::GlobalPooling2D(GlobalPooling2D {
                mode: d.mode,
                data_format: self.string("data_format", "channels_last"),
                keepdims: self.boolean("keepdims", false),
            }),
            LayerKind::BatchNormalization(d) => {
                let axis = match self.raw("axis") {
                    Value::Array(a) if a.len() == 1 => a[0].as_i64().unwrap_or(-1),
                    Value::Number(n) => n.as_i64().unwrap_or(-1),
                    Value::Null => -1,
                    other => {
                        self.fail(format!(
                            "int() argument must be a string, a bytes-like object or a real \
                             number, not '{}'",
                            py_show(&other)
                        ));
                        -1
                    }
                };
                self.get("fused");
                LayerKind::BatchNormalization(BatchNormalization {
                    axis,
                    momentum: self.float("momentum", d.momentum),
                    epsilon: self.float("epsilon", d.epsilon),
                    center: self.boolean("center", true),
                    scale: self.boolean("scale", true),
                    beta_initializer: self.object(
                        ObjectKind::Initializer,
                        "beta_initializer",
                        Some("Zeros"),
                    ),
                    gamma_initializer: self.object(
                        ObjectKind::Initializer,
                        "gamma_initializer",
                        Some("Ones"),
                    ),
                    moving_mean_initializer: self.object(
                        ObjectKind::Initializer,
                        "moving_mean_initializer",
                        Some("Zeros"),
                    ),
                    moving_variance_initializer: self.object(
                        ObjectKind::Initializer,
                        "moving_variance_initializer",
                        Some("Ones"),
                    ),
                    beta_regularizer: self.object(
                        ObjectKind::Regularizer,
                        "beta_regularizer",
                        None,
                    ),
                    gamma_regularizer: self.object(
                        ObjectKind::Regularizer,
                        "gamma_regularizer",
                        None,
                    ),
                    beta_constraint: self.object(ObjectKind::Constraint, "beta_constraint", None),
                    gamma_constraint: self.object(ObjectKind::Constraint, "gamma_constraint", None),
                    synchronized: self.boolean("synchronized", false),
                    renorm: self.boolean("renorm", false),
                    renorm_clipping: self.raw("renorm_clipping"),
                    renorm_momentum: self.float("renorm_momentum", 0.99),
                })
            }
            LayerKind::Activation { .. } => LayerKind::Activation {
                activation: self.activation("activation"),
            },
            LayerKind::ReLU(d) => LayerKind::ReLU(ReLU {
                max_value: self.opt_float("max_value", None),
                negative_slope: self
                    .opt_float("negative_slope", Some(d.negative_slope))
                    .unwrap_or(f64::NAN),
                threshold: self
                    .opt_float("threshold", Some(d.threshold))
                    .unwrap_or(f64::NAN),
            }),
            LayerKind::LeakyReLU { negative_slope } => {
                let alpha = self.opt_float("alpha", None);
                LayerKind::LeakyReLU {
                    negative_slope: alpha
                        .or(self.opt_float("negative_slope", Some(negative_slope)))
                        .unwrap_or(f64::NAN),
                }
            }
            LayerKind::Softmax { axis } => LayerKind::Softmax {
                axis: match self.raw("axis") {
                    Value::Array(a) if a.len() == 1 => a[0].as_i64().unwrap_or(axis),
                    Value::Number(n) => n.as_i64().unwrap_or(axis),
                    _ => axis,
                },
            },
            LayerKind::Dropout(d) => LayerKind::Dropout(Dropout {
                rate: self.float("rate", d.rate),
                seed: self.opt_int("seed"),
                noise_shape: self.raw("noise_shape"),
            }),
            LayerKind::SpatialDropout2D(d) => {
                self.get("noise_shape");
                LayerKind::SpatialDropout2D(SpatialDropout2D {
                    rate: self.float("rate", d.rate),
                    seed: self.opt_int("seed"),
                    data_format: self.string("data_format", "channels_last"),
                })
            }
            LayerKind::Flatten { .. } => LayerKind::Flatten {
                data_format: self.string("data_format", "channels_last"),
            },
            LayerKind::Dense(d) => {
                let units = match self.get("units").cloned() {
                    Some(Value::Number(n)) if n.as_i64().is_some() => n.as_i64().unwrap_or(0),
                    None => d.units,
                    Some(other) => {
                        self.fail(format!(
                            "Received an invalid value for `units`, expected a positive \
                             integer. Received: units={}",
                            py_show(&other)
                        ));
                        d.units
                    }
                };
                for k in ["lora_rank", "lora_alpha", "quantization_config"] {
                    self.get(k);
                }
                LayerKind::Dense(Dense {
                    units,
                    activation: self.activation("activation"),
                    use_bias: self.boolean("use_bias", true),
                    kernel: self.weights("kernel", "GlorotUniform"),
                    bias: self.weights("bias", "Zeros"),
                    activity_regularizer: self.object(
                        ObjectKind::Regularizer,
                        "activity_regularizer",
                        None,
                    ),
                })
            }
            LayerKind::ZeroPadding2D(d) => LayerKind::ZeroPadding2D(self.padding2d("padding", d)),
            LayerKind::Cropping2D(d) => LayerKind::Cropping2D(self.padding2d("cropping", d)),
            LayerKind::UpSampling2D(d) => LayerKind::UpSampling2D(UpSampling2D {
                size: self.pair("size", d.size),
                data_format: self.string("data_format", "channels_last"),
                interpolation: self.string("interpolation", "nearest"),
            }),
            LayerKind::Rescaling { scale, offset } => LayerKind::Rescaling {
                scale: self.float("scale", scale),
                offset: self.float("offset", offset),
            },
            LayerKind::Merge(m) => LayerKind::Merge(m),
            LayerKind::Concatenate { axis } => LayerKind::Concatenate {
                axis: self.opt_int("axis").unwrap_or(axis),
            },
        }
    }
}

/// An int or a list of two integral numbers.
fn pair_from_json(v: &Value) -> Option<Pair> {
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

/// A value as Python's f-string shows it (strings bare).
fn py_show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => py_repr_json(other),
    }
}

/// Like [`py_show`], but lists show as tuples (Keras passes them through `tuple()`).
fn py_tuple_show(v: &Value) -> String {
    match v {
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(py_tuple_show_inner).collect();
            if items.len() == 1 {
                format!("({},)", items[0])
            } else {
                format!("({})", items.join(", "))
            }
        }
        other => py_show(other),
    }
}

fn py_tuple_show_inner(v: &Value) -> String {
    match v {
        Value::Array(_) => py_tuple_show(v),
        other => py_repr_json(other),
    }
}

// ---------------------------------------------------------------------------------------
// Writing

fn shape_json(s: &Shape) -> Value {
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

fn f(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

/// The `config` dict Keras's `get_config()` returns for a layer.
pub fn layer_config(layer: &Layer) -> Value {
    let mut m = Map::new();
    if let LayerKind::Input(i) = &layer.kind {
        m.insert("batch_shape".into(), shape_json(&i.batch_shape));
        m.insert("dtype".into(), json!(i.dtype));
        m.insert("sparse".into(), json!(false));
        m.insert("ragged".into(), json!(false));
        m.insert("name".into(), json!(layer.name));
        m.insert("optional".into(), json!(false));
        return Value::Object(m);
    }
    let spatial_dropout = matches!(layer.kind, LayerKind::SpatialDropout2D(_));
    if !spatial_dropout {
        m.insert("name".into(), json!(layer.name));
        m.insert("trainable".into(), json!(layer.trainable));
        m.insert("dtype".into(), layer.dtype.clone());
    }
    let ini = ObjectKind::Initializer;
    let reg = ObjectKind::Regularizer;
    let con = ObjectKind::Constraint;
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_string(), v);
    };
    match &layer.kind {
        LayerKind::Input(_) => {}
        LayerKind::Conv2D(c) => {
            put("filters", json!(c.filters));
            put("kernel_size", pair_json(&c.kernel_size));
            put("strides", pair_json(&c.strides));
            put("padding", json!(c.padding.to_lowercase()));
            put("data_format", json!(c.data_format.to_lowercase()));
            put("dilation_rate", pair_json(&c.dilation_rate));
            put("groups", json!(c.groups));
            put("activation", json!(c.activation));
            put("use_bias", json!(c.use_bias));
            put("kernel_initializer", obj_json(ini, &c.kernel.initializer));
            put("bias_initializer", obj_json(ini, &c.bias.initializer));
            put("kernel_regularizer", obj_json(reg, &c.kernel.regularizer));
            put("bias_regularizer", obj_json(reg, &c.bias.regularizer));
            put(
                "activity_regularizer",
                obj_json(reg, &c.activity_regularizer),
            );
            put("kernel_constraint", obj_json(con, &c.kernel.constraint));
            put("bias_constraint", obj_json(con, &c.bias.constraint));
        }
        LayerKind::Conv2DTranspose(c) => {
            put("filters", json!(c.filters));
            put("kernel_size", pair_json(&c.kernel_size));
            put("strides", pair_json(&c.strides));
            put("padding", json!(c.padding.to_lowercase()));
            put(
                "output_padding",
                c.output_padding.as_ref().map_or(Value::Null, pair_json),
            );
            put("data_format", json!(c.data_format.to_lowercase()));
            put("dilation_rate", pair_json(&c.dilation_rate));
            put("activation", json!(c.activation));
            put("use_bias", json!(c.use_bias));
            put("kernel_initializer", obj_json(ini, &c.kernel.initializer));
            put("bias_initializer", obj_json(ini, &c.bias.initializer));
            put("kernel_regularizer", obj_json(reg, &c.kernel.regularizer));
            put("bias_regularizer", obj_json(reg, &c.bias.regularizer));
            put(
                "activity_regularizer",
                obj_json(reg, &c.activity_regularizer),
            );
            put("kernel_constraint", obj_json(con, &c.kernel.constraint));
            put("bias_constraint", obj_json(con, &c.bias.constraint));
        }
        LayerKind::DepthwiseConv2D(c) => {
            put("depth_multiplier", json!(c.depth_multiplier));
            put("kernel_size", pair_json(&c.kernel_size));
            put("strides", pair_json(&c.strides));
            put("padding", json!(c.padding.to_lowercase()));
            put("data_format", json!(c.data_format.to_lowercase()));
            put("dilation_rate", pair_json(&c.dilation_rate));
            put("activation", json!(c.activation));
            put("use_bias", json!(c.use_bias));
            put(
                "depthwise_initializer",
                obj_json(ini, &c.depthwise.initializer),
            );
            put("bias_initializer", obj_json(ini, &c.bias.initializer));
            put(
                "depthwise_regularizer",
                obj_json(reg, &c.depthwise.regularizer),
            );
            put("bias_regularizer", obj_json(reg, &c.bias.regularizer));
            put(
                "activity_regularizer",
                obj_json(reg, &c.activity_regularizer),
            );
            put(
                "depthwise_constraint",
                obj_json(con, &c.depthwise.constraint),
            );
            put("bias_constraint", obj_json(con, &c.bias.constraint));
        }
        LayerKind::SeparableConv2D(c) => {
            put("depth_multiplier", json!(c.depth_multiplier));
            put("filters", json!(c.filters));
            put("kernel_size", pair_json(&c.kernel_size));
            put("strides", pair_json(&c.strides));
            put("padding", json!(c.padding.to_lowercase()));
            put("data_format", json!(c.data_format.to_lowercase()));
            put("dilation_rate", pair_json(&c.dilation_rate));
            put("activation", json!(c.activation));
            put("use_bias", json!(c.use_bias));
            put(
                "depthwise_initializer",
                obj_json(ini, &c.depthwise.initializer),
            );
            put(
                "pointwise_initializer",
                obj_json(ini, &c.pointwise.initializer),
            );
            put("bias_initializer", obj_json(ini, &c.bias.initializer));
            put(
                "depthwise_regularizer",
                obj_json(reg, &c.depthwise.regularizer),
            );
            put(
                "pointwise_regularizer",
                obj_json(reg, &c.pointwise.regularizer),
            );
            put("bias_regularizer", obj_json(reg, &c.bias.regularizer));
            put(
                "activity_regularizer",
                obj_json(reg, &c.activity_regularizer),
            );
            put(
                "depthwise_constraint",
                obj_json(con, &c.depthwise.constraint),
            );
            put(
                "pointwise_constraint",
                obj_json(con, &c.pointwise.constraint),
            );
            put("bias_constraint", obj_json(con, &c.bias.constraint));
        }
        LayerKind::Pooling2D(p) => {
            put("pool_size", pair_json(&p.pool_size));
            put("padding", json!(p.padding));
            put("strides", pair_json(&p.strides.unwrap_or(p.pool_size)));
            put("data_format", json!(p.data_format.to_lowercase()));
        }
        LayerKind::GlobalPooling2D(p) => {
            put("data_format", json!(p.data_format.to_lowercase()));
            put("keepdims", json!(p.keepdims));
        }
        LayerKind::BatchNormalization(b) => {
            put("axis", json!(b.axis));
            put("momentum", f(b.momentum));
            put("epsilon", f(b.epsilon));
            put("center", json!(b.center));
            put("scale", json!(b.scale));
            put("beta_initializer", obj_json(ini, &b.beta_initializer));
            put("gamma_initializer", obj_json(ini, &b.gamma_initializer));
            put(
                "moving_mean_initializer",
                obj_json(ini, &b.moving_mean_initializer),
            );
            put(
                "moving_variance_initializer",
                obj_json(ini, &b.moving_variance_initializer),
            );
            put("beta_regularizer", obj_json(reg, &b.beta_regularizer));
            put("gamma_regularizer", obj_json(reg, &b.gamma_regularizer));
            put("beta_constraint", obj_json(con, &b.beta_constraint));
            put("gamma_constraint", obj_json(con, &b.gamma_constraint));
            put("synchronized", json!(b.synchronized));
            put("renorm", json!(b.renorm));
            put("renorm_clipping", b.renorm_clipping.clone());
            put("renorm_momentum", f(b.renorm_momentum));
        }
        LayerKind::Activation { activation } => put("activation", json!(activation)),
        LayerKind::ReLU(r) => {
            put("max_value", r.max_value.map_or(Value::Null, f));
            put("negative_slope", f(r.negative_slope));
            put("threshold", f(r.threshold));
        }
        LayerKind::LeakyReLU { negative_slope } => put("negative_slope", f(*negative_slope)),
        LayerKind::Softmax { axis } => put("axis", json!(axis)),
        LayerKind::Dropout(d) => {
            put("rate", f(d.rate));
            put("seed", d.seed.map_or(Value::Null, |s| json!(s)));
            put("noise_shape", d.noise_shape.clone());
        }
        LayerKind::SpatialDropout2D(d) => {
            put("rate", f(d.rate));
            put("seed", d.seed.map_or(Value::Null, |s| json!(s)));
            put("name", json!(layer.name));
            // SpatialDropout2D writes its dtype as the bare policy name.
            let dtype = layer
                .dtype
                .pointer("/config/name")
                .cloned()
                .unwrap_or_else(|| json!("float32"));
            put("dtype", dtype);
            put("data_format", json!(d.data_format.to_lowercase()));
        }
        LayerKind::Flatten { data_format } => put("data_format", json!(data_format.to_lowercase())),
        LayerKind::Dense(d) => {
            put("units", json!(d.units));
            put("activation", json!(d.activation));
            put("use_bias", json!(d.use_bias));
            put("kernel_initializer", obj_json(ini, &d.kernel.initializer));
            put("bias_initializer", obj_json(ini, &d.bias.initializer));
            put("kernel_regularizer", obj_json(reg, &d.kernel.regularizer));
            put("bias_regularizer", obj_json(reg, &d.bias.regularizer));
            put("kernel_constraint", obj_json(con, &d.kernel.constraint));
            put("bias_constraint", obj_json(con, &d.bias.constraint));
            put("quantization_config", Value::Null);
            if d.activity_regularizer.is_some() {
                put(
                    "activity_regularizer",
                    obj_json(reg, &d.activity_regularizer),
                );
            }
        }
        LayerKind::ZeroPadding2D(p) => {
            put("padding", json!(p.amounts));
            put("data_format", json!(p.data_format.to_lowercase()));
        }
        LayerKind::Cropping2D(p) => {
            put("cropping", json!(p.amounts));
            put("data_format", json!(p.data_format.to_lowercase()));
        }
        LayerKind::UpSampling2D(u) => {
            put("size", pair_json(&u.size));
            put("data_format", json!(u.data_format.to_lowercase()));
            put("interpolation", json!(u.interpolation.to_lowercase()));
        }
        LayerKind::Rescaling { scale, offset } => {
            put("scale", f(*scale));
            put("offset", f(*offset));
        }
        LayerKind::Merge(_) => {}
        LayerKind::Concatenate { axis } => put("axis", json!(axis)),
    }
    Value::Object(m)
}

/// Whether Keras writes a `build_config` for this class (layers built at construction
/// time do not have one).
fn has_build_config(kind: &LayerKind) -> bool {
    !matches!(
        kind,
        LayerKind::Pooling2D(_)
            | LayerKind::GlobalPooling2D(_)
            | LayerKind::Activation { .. }
            | LayerKind::ReLU(_)
            | LayerKind::LeakyReLU { .. }
            | LayerKind::Softmax { .. }
            | LayerKind::Dropout(_)
            | LayerKind::SpatialDropout2D(_)
            | LayerKind::Input(_)
    )
}

/// The whole model as Keras 3's `model.to_json()` writes it.
pub fn to_value(net: &Network) -> Value {
    let analysis = net.analyze();
    let in_shape = |i: usize| -> Option<Value> {
        let idx = net.inbound_indices(i)?;
        let shapes: Option<Vec<Value>> = idx
            .iter()
            .map(|&j| {
                analysis
                    .layers
                    .get(j)?
                    .output_shape
                    .as_ref()
                    .map(shape_json)
            })
            .collect();
        let shapes = shapes?;
        if shapes.len() == 1 {
            shapes.into_iter().next()
        } else {
            Some(Value::Array(shapes))
        }
    };
    let mut layers = Vec::new();
    for (i, l) in net.layers.iter().enumerate() {
        let mut e = Map::new();
        e.insert("module".into(), json!("keras.layers"));
        e.insert("class_name".into(), json!(l.class_name()));
        e.insert("config".into(), layer_config(l));
        e.insert("registered_name".into(), Value::Null);
        if has_build_config(&l.kind)
            && let Some(s) = in_shape(i)
        {
            e.insert("build_config".into(), json!({ "input_shape": s }));
        }
        if net.functional {
            e.insert("name".into(), json!(l.name));
            e.insert(
                "inbound_nodes".into(),
                inbound_nodes_json(net, i, &analysis),
            );
        }
        layers.push(Value::Object(e));
    }
    let input_shape = net.input_shape().map(shape_json).unwrap_or(Value::Null);
    if net.functional {
        let inputs: Vec<&Layer> = net
            .layers
            .iter()
            .filter(|l| matches!(l.kind, LayerKind::Input(_)))
            .collect();
        let triple = |n: &str| json!([n, 0, 0]);
        let input_layers = if inputs.len() == 1 {
            triple(&inputs[0].name)
        } else {
            Value::Array(inputs.iter().map(|l| triple(&l.name)).collect())
        };
        let outs: Vec<String> = if net.outputs.is_empty() {
            net.layers
                .last()
                .map(|l| vec![l.name.clone()])
                .unwrap_or_default()
        } else {
            net.outputs.clone()
        };
        let output_layers = if outs.len() == 1 {
            triple(&outs[0])
        } else {
            Value::Array(outs.iter().map(|n| triple(n)).collect())
        };
        json!({
            "module": "keras.src.models.functional",
            "class_name": "Functional",
            "config": {
                "name": net.name,
                "trainable": true,
                "layers": layers,
                "input_layers": input_layers,
                "output_layers": output_layers,
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

fn inbound_nodes_json(net: &Network, i: usize, analysis: &crate::model::Analysis) -> Value {
    let layer = &net.layers[i];
    if matches!(layer.kind, LayerKind::Input(_)) {
        return json!([]);
    }
    let idx = net.inbound_indices(i).unwrap_or_default();
    let tensors: Vec<Value> = idx
        .iter()
        .map(|&j| {
            let shape = analysis.layers[j]
                .output_shape
                .as_ref()
                .map_or(Value::Null, shape_json);
            json!({
                "class_name": "__keras_tensor__",
                "config": {"shape": shape, "dtype": "float32",
                           "keras_history": [net.layers[j].name, 0, 0]}
            })
        })
        .collect();
    let arg = if matches!(
        layer.kind,
        LayerKind::Merge(_) | LayerKind::Concatenate { .. }
    ) {
        Value::Array(tensors)
    } else {
        tensors.into_iter().next().unwrap_or(Value::Null)
    };
    let kwargs = if matches!(layer.kind, LayerKind::BatchNormalization(_)) {
        json!({"mask": null})
    } else {
        json!({})
    };
    json!([{"args": [arg], "kwargs": kwargs}])
}

/// Keras 3 JSON text, pretty-printed.
pub fn to_json_string(net: &Network) -> String {
    serde_json::to_string_pretty(&to_value(net)).unwrap_or_else(|_| "{}".into())
}
