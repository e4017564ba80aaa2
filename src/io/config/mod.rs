//! Keras model config JSON: reading the three dialects (Keras 3 `model.to_json()` and
//! `config.json` inside `.keras` — [`keras3`]; the legacy `.h5` `model_config` and
//! tf.keras 2 JSON with `batch_input_shape` and nested inbound lists — [`keras2`]) and
//! writing Keras 3 JSON that `keras.models.model_from_json` accepts ([`write`]). Each
//! layer's own keys are read and written by [`args`] from its kind's declaration.
//!
//! Argument *values* Keras would refuse are kept on the layer as `construct_error` so the
//! design can still be shown and fixed; only structural problems (not JSON, not a model,
//! unknown class or argument, a broken graph) fail the read.

pub mod args;
mod keras2;
mod keras3;
mod write;

pub use write::{keras3_name, layer_config, to_json_string, to_value};

use crate::keras::objects::{self, py_repr_json};
use crate::keras::shape::Shape;
use crate::layers::{LayerKind, canonical_class, supported_classes};
use crate::model::network::{Layer, LayerId, Network, default_dtype};
use serde_json::{Map, Value};
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
    #[error(
        "layer {index} ('{name}'): the operation `{module}.{class}` (a `keras.ops` call in \
         the model's code, not a layer) is not supported"
    )]
    UnknownOp {
        index: usize,
        name: String,
        module: String,
        class: String,
    },
    #[error("layer '{layer}': {message}")]
    Layer { layer: String, message: String },
    #[error("{0}")]
    Graph(String),
}

/// The Keras that wrote a config, as far as the file says, and what convscope changed
/// to read a Keras 2 file the way Keras 2 did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Provenance {
    pub keras_version: Option<String>,
    pub backend: Option<String>,
    /// One line per adaptation: the class, what was changed, how many layers.
    pub adapted: Vec<String>,
    /// The Sequential or Functional models the file uses as layers (ConvNeXt's stem and
    /// downsampling blocks): the network holds their layers in their place; these
    /// records say where the file keeps their weights and how Keras's summary shows
    /// them.
    pub nested: Vec<NestedModel>,
}

/// A model used as a layer, as the file has it: convscope's network holds its layers
/// (`layers`, in order) where the file has the model; its consumers take `output`.
#[derive(Clone, Debug, PartialEq)]
pub struct NestedModel {
    pub name: String,
    /// `Sequential` or `Functional`.
    pub class: String,
    pub layers: Vec<String>,
    pub output: String,
}

impl Provenance {
    /// What a file records: the `keras_version`/`backend` of an `.h5`'s attributes or
    /// of a JSON's top level.
    pub fn recorded(keras_version: Option<&str>, backend: Option<&str>) -> Provenance {
        Provenance {
            keras_version: keras_version.map(str::to_string),
            backend: backend.map(str::to_string),
            adapted: Vec::new(),
            nested: Vec::new(),
        }
    }

    /// Written by Keras 1 or 2 (tf.keras 2, Teachable Machine).
    pub fn is_keras2(&self) -> bool {
        self.keras_version
            .as_deref()
            .is_some_and(|v| v.starts_with("2.") || v.starts_with("1."))
    }

    /// A sentence for the window and the summary (`None` for Keras 3 files without
    /// nested models).
    pub fn describe(&self) -> Option<String> {
        let nested = (!self.nested.is_empty()).then(|| {
            let models: Vec<String> = self
                .nested
                .iter()
                .map(|n| format!("{} ({}, {} layers)", n.name, n.class, n.layers.len()))
                .collect();
            format!("nested models shown as their layers: {}", models.join(", "))
        });
        if !self.is_keras2() {
            return nested.map(|n| format!("{}{}.", n[..1].to_uppercase(), &n[1..]));
        }
        let version = self.keras_version.as_deref().unwrap_or("?");
        let backend = self
            .backend
            .as_deref()
            .map_or(String::new(), |b| format!(", backend {b}"));
        let adapted = if self.adapted.is_empty() {
            String::from("nothing needed adapting")
        } else {
            format!("adapted for Keras 3: {}", self.adapted.join("; "))
        };
        let nested = nested.map_or(String::new(), |n| format!("; {n}"));
        Some(format!("Keras {version} file{backend}; {adapted}{nested}."))
    }

    fn note(&mut self, what: String) {
        self.adapted.push(what);
    }

    /// Counts repeated notes: `DepthwiseConv2D: … (17 layers)`.
    fn tally(&mut self) {
        let mut counted: Vec<(String, usize)> = Vec::new();
        for n in self.adapted.drain(..) {
            match counted.iter_mut().find(|(m, _)| *m == n) {
                Some((_, k)) => *k += 1,
                None => counted.push((n, 1)),
            }
        }
        self.adapted = counted
            .into_iter()
            .map(|(n, k)| match k {
                1 => format!("{n} (1 layer)"),
                k => format!("{n} ({k} layers)"),
            })
            .collect();
    }
}

/// Reads a model config in any supported dialect.
pub fn from_json_str(text: &str) -> Result<Network, ConfigError> {
    read_json_str(text, Provenance::default()).map(|(n, _)| n)
}

/// Reads a model config, knowing what the file records of the Keras that wrote it (a
/// JSON's own `keras_version` counts too); returns what was adapted.
pub fn read_json_str(
    text: &str,
    recorded: Provenance,
) -> Result<(Network, Provenance), ConfigError> {
    let v: Value = serde_json::from_str(text).map_err(|e| ConfigError::Json(e.to_string()))?;
    read_value(&v, recorded)
}

/// Reads a model config already parsed as JSON.
pub fn from_value(v: &Value) -> Result<Network, ConfigError> {
    read_value(v, Provenance::default()).map(|(n, _)| n)
}

/// [`read_json_str`] on parsed JSON.
pub fn read_value(v: &Value, mut prov: Provenance) -> Result<(Network, Provenance), ConfigError> {
    let obj = v
        .as_object()
        .ok_or_else(|| ConfigError::NotAModel("the top level is not an object".into()))?;
    if prov.keras_version.is_none() {
        prov.keras_version = obj
            .get("keras_version")
            .and_then(Value::as_str)
            .map(str::to_string);
        prov.backend = obj
            .get("backend")
            .and_then(Value::as_str)
            .map(str::to_string);
    }
    let class = obj.get("class_name").and_then(Value::as_str).unwrap_or("");
    let config = obj.get("config");
    let net = match class {
        "Sequential" => sequential(config, &mut prov),
        "Functional" | "Model" => functional(config, &mut prov),
        "" => Err(ConfigError::NotAModel(
            "no `class_name` at the top level".into(),
        )),
        other => Err(ConfigError::NotAModel(format!(
            "the model class is '{other}'; convscope reads Sequential and Functional models"
        ))),
    }?;
    prov.tally();
    Ok((net, prov))
}

/// The model's name and its list of layer entries.
fn layer_list(config: Option<&Value>) -> Result<(String, &Vec<Value>), ConfigError> {
    if let Some(list) = keras2::bare_layer_list(config) {
        return Ok(("sequential".into(), list));
    }
    match config {
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

fn graph_error(e: crate::model::GraphError) -> ConfigError {
    ConfigError::Graph(e.to_string())
}

fn sequential(config: Option<&Value>, prov: &mut Provenance) -> Result<Network, ConfigError> {
    let (name, entries) = layer_list(config)?;
    let build_input_shape = config
        .and_then(|c| c.get("build_input_shape"))
        .and_then(args::shape_from_json);
    let mut layers: Vec<(Layer, Vec<String>)> = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let (layer, batch_input_shape) = parse_layer(entry, i, prov)?;
        if layers.is_empty() && !layer.kind.is_input() {
            // tf.keras 2: the first layer carries `batch_input_shape`; Keras 3 may only
            // have `build_input_shape`.
            let shape = batch_input_shape
                .or_else(|| build_input_shape.clone())
                .ok_or_else(|| {
                    ConfigError::NotAModel(
                        "the Sequential model has no InputLayer and no input shape".into(),
                    )
                })?;
            layers.push((input_layer("input_layer", shape), Vec::new()));
        }
        layers.push((layer, Vec::new()));
    }
    if layers.is_empty() {
        let shape = build_input_shape
            .ok_or_else(|| ConfigError::NotAModel("the model has no layers".into()))?;
        layers.push((input_layer("input_layer", shape), Vec::new()));
    }
    Network::from_named(&name, false, layers, &[]).map_err(graph_error)
}

fn input_layer(name: &str, batch_shape: Shape) -> Layer {
    Layer::of(
        LayerKind::Input(crate::layers::InputLayer {
            batch_shape,
            dtype: "float32".into(),
        }),
        name,
    )
}

fn functional(config: Option<&Value>, prov: &mut Provenance) -> Result<Network, ConfigError> {
    let (name, layers, outputs) = functional_layers(config, prov, true)?;
    let mut net = Network::from_named(&name, true, layers, &outputs).map_err(graph_error)?;
    let inputs = config
        .and_then(|c| c.get("input_layers"))
        .map(history_names)
        .unwrap_or_default();
    // The order matters only when there are several (a run takes one array each).
    if inputs.len() > 1 {
        net.set_input_order(&inputs).map_err(graph_error)?;
    }
    Ok(net)
}

/// A layer with the names of the layers it takes.
type Named = (Layer, Vec<String>);

/// Whether an entry is a model used as a layer.
fn is_model_entry(entry: &Value) -> bool {
    matches!(
        entry.get("class_name").and_then(Value::as_str),
        Some("Sequential" | "Functional" | "Model")
    )
}

/// A Functional model's name, layers and output layer names. Models used as layers
/// (when `outer`) are replaced by their layers, and the layers that take a nested
/// model's output take its output layer's.
fn functional_layers(
    config: Option<&Value>,
    prov: &mut Provenance,
    outer: bool,
) -> Result<(String, Vec<Named>, Vec<String>), ConfigError> {
    let (name, entries) = layer_list(config)?;
    let mut layers = Vec::new();
    let mut aliases: std::collections::HashMap<String, String> = Default::default();
    for (i, entry) in entries.iter().enumerate() {
        if is_model_entry(entry) {
            if !outer {
                return Err(ConfigError::Layer {
                    layer: entry_name(entry),
                    message: "a model nested inside a nested model is not supported yet".into(),
                });
            }
            let (nested, inner) = nested_model(entry, prov)?;
            aliases.insert(nested.name.clone(), nested.output.clone());
            prov.nested.push(nested);
            layers.extend(inner);
            continue;
        }
        let (mut layer, _) = parse_layer(entry, i, prov)?;
        if let Some(name) = entry.get("name").and_then(Value::as_str) {
            layer.name = name.to_string();
        }
        let mut inbound = inbound_names(entry.get("inbound_nodes"));
        if entry.get("class_name").and_then(Value::as_str) == Some("TFOpLambda") {
            op_lambda_operand(&mut layer, &mut inbound, entry.get("inbound_nodes"))?;
        }
        if let Some(c) =
            keras3::constant_operand(entry.get("inbound_nodes")).map_err(|message| {
                ConfigError::Layer {
                    layer: layer.name.clone(),
                    message,
                }
            })?
            && !layer.kind.spec_mut().set_constant_operand(c)
        {
            return Err(ConfigError::Layer {
                layer: layer.name.clone(),
                message: format!(
                    "{} is called with a number ({}) in place of a tensor",
                    layer.class_name(),
                    c.value
                ),
            });
        }
        layers.push((layer, inbound));
    }
    let mut outputs = config
        .and_then(|c| c.get("output_layers"))
        .map(history_names)
        .unwrap_or_default();
    let alias = |n: &mut String| {
        if let Some(a) = aliases.get(n.as_str()) {
            *n = a.clone();
        }
    };
    for (_, inbound) in layers.iter_mut() {
        inbound.iter_mut().for_each(alias);
    }
    outputs.iter_mut().for_each(alias);
    Ok((name, layers, outputs))
}

/// An entry's name: its own, else its config's.
fn entry_name(entry: &Value) -> String {
    entry
        .get("name")
        .or_else(|| entry.get("config").and_then(|c| c.get("name")))
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_string()
}

/// The layers of a Sequential or Functional model used as a layer, fed by what the
/// model is fed (its input layers dropped), and the record of where they came from.
fn nested_model(
    entry: &Value,
    prov: &mut Provenance,
) -> Result<(NestedModel, Vec<Named>), ConfigError> {
    let name = entry_name(entry);
    let class = entry
        .get("class_name")
        .and_then(Value::as_str)
        .unwrap_or("Functional");
    let refuse = |message: String| ConfigError::Layer {
        layer: name.clone(),
        message,
    };
    let config = entry.get("config");
    if let Some(Value::Array(inner)) = config.and_then(|c| c.get("layers"))
        && let Some(deeper) = inner.iter().find(|e| is_model_entry(e))
    {
        return Err(refuse(format!(
            "the nested model '{}' inside it is not supported yet (one level of nesting is)",
            entry_name(deeper)
        )));
    }
    let outer_inputs = inbound_names(entry.get("inbound_nodes"));
    // A nested config that is not a model is named by the layer it stands for.
    let named = |e: ConfigError| match e {
        ConfigError::NotAModel(m) => refuse(format!("its {class} config: {m}")),
        other => other,
    };
    let (layers, inputs, outputs) = if class == "Sequential" {
        let net = sequential(config, prov).map_err(named)?;
        let names = |ids: &[LayerId]| -> Vec<String> {
            ids.iter()
                .filter_map(|&id| net.index_of(id))
                .map(|j| net.layers()[j].name.clone())
                .collect()
        };
        let inputs: Vec<String> = net
            .layers()
            .iter()
            .filter(|l| l.kind.is_input())
            .map(|l| l.name.clone())
            .collect();
        let layers: Vec<Named> = net
            .layers()
            .iter()
            .map(|l| (l.clone(), names(l.inputs())))
            .collect();
        let last = net.layers().last().map(|l| l.name.clone());
        (layers, inputs, last.into_iter().collect())
    } else {
        let (_, layers, outputs) = functional_layers(config, prov, false).map_err(named)?;
        let inputs = config
            .and_then(|c| c.get("input_layers"))
            .map(history_names)
            .unwrap_or_default();
        (layers, inputs, outputs)
    };
    let [output] = &outputs[..] else {
        return Err(refuse(format!(
            "a nested {class} model with {} outputs is not supported",
            outputs.len()
        )));
    };
    if inputs.len() != outer_inputs.len() {
        return Err(refuse(format!(
            "the nested {class} model has {} inputs but is called on {}",
            inputs.len(),
            outer_inputs.len()
        )));
    }
    // Its input layers are what the model is called on.
    let feed: std::collections::HashMap<&str, &str> = inputs
        .iter()
        .map(String::as_str)
        .zip(outer_inputs.iter().map(String::as_str))
        .collect();
    let layers: Vec<Named> = layers
        .into_iter()
        .filter(|(l, _)| !l.kind.is_input())
        .map(|(l, inbound)| {
            let inbound = inbound
                .into_iter()
                .map(|n| feed.get(n.as_str()).map_or(n, |o| o.to_string()))
                .collect();
            (l, inbound)
        })
        .collect();
    if feed.contains_key(output.as_str()) {
        return Err(refuse(format!("the nested {class} model has no layers")));
    }
    let nested = NestedModel {
        name: name.clone(),
        class: if class == "Sequential" {
            "Sequential"
        } else {
            "Functional"
        }
        .into(),
        layers: layers.iter().map(|(l, _)| l.name.clone()).collect(),
        output: output.clone(),
    };
    Ok((nested, layers))
}

/// A tf.keras 2 op layer's second operand: a number becomes the operation's constant, a
/// tensor its second input.
fn op_lambda_operand(
    layer: &mut Layer,
    inbound: &mut Vec<String>,
    nodes: Option<&Value>,
) -> Result<(), ConfigError> {
    let name = layer.name.clone();
    let refuse = |message: String| ConfigError::Layer {
        layer: name.clone(),
        message,
    };
    match keras2::op_lambda_operand(nodes).map_err(refuse)? {
        keras2::Operand::Number { value, integer } => {
            let c = crate::layers::Constant {
                position: 1,
                value,
                integer,
            };
            if !layer.kind.spec_mut().set_constant_operand(c) {
                return Err(refuse(format!(
                    "{} cannot take a number operand",
                    layer.class_name()
                )));
            }
        }
        keras2::Operand::Tensor(name) => inbound.push(name),
    }
    Ok(())
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
            Value::Object(_) => keras3::tensor_names(v, out, walk),
            Value::Array(a) => {
                if let Some(n) = keras2::node_entry_name(a) {
                    out.push(n);
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

/// Whether a Keras 3 entry's `module` is where layers live (`keras.layers`, or a
/// `keras.src.layers.*` module), rather than `keras.src.ops.*` operations or models.
fn is_layer_module(module: &str) -> bool {
    module == "keras.layers" || module.starts_with("keras.src.layers")
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

/// Reads the config of one layer entry. Returns the layer and the tf.keras 2
/// `batch_input_shape`, if it had one.
fn parse_layer(
    entry: &Value,
    index: usize,
    prov: &mut Provenance,
) -> Result<(Layer, Option<Shape>), ConfigError> {
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
    // Keras 3 records `x + 3.0`, `ops.multiply(x, y)`… as operations with class names
    // like `Add`, and custom classes keep their own module: neither is the built-in
    // layer of the same name.
    if matches!(class, "Sequential" | "Functional" | "Model") {
        return Err(ConfigError::Layer {
            layer: name,
            message: format!(
                "a {class} model used as a layer is supported in Functional models only"
            ),
        });
    }
    let module = entry.get("module").and_then(Value::as_str);
    // tf.keras 2's op layers: the TensorFlow call as the Keras 3 operation.
    let op_lambda_config;
    let (op_lambda, config) = if class == "TFOpLambda" {
        let function = config.get("function").and_then(Value::as_str).unwrap_or("");
        let op = keras2::op_lambda_class(function).ok_or_else(|| ConfigError::Layer {
            layer: name.clone(),
            message: format!(
                "a TFOpLambda layer (tf.keras 2's record of the TensorFlow call \
                 `tf.{function}`) is not supported; convscope reads the calls {}",
                keras2::OP_LAMBDA_FUNCTIONS
            ),
        })?;
        prov.note(format!(
            "TFOpLambda: TensorFlow's `tf.{function}` read as the Keras 3 operation {op}"
        ));
        let mut c = config.clone();
        c.remove("function");
        op_lambda_config = c;
        (Some(op), &op_lambda_config)
    } else {
        (None, config)
    };
    let lookup: String = match module {
        _ if op_lambda.is_some() => {
            format!(
                "{}.{}",
                crate::layers::OPS_MODULE,
                op_lambda.unwrap_or_default()
            )
        }
        Some(m) if is_layer_module(m) => class.to_string(),
        // Operations and the layers keras.applications defines itself
        // (InceptionResNetV2's CustomScaleLayer) are known by module and class.
        Some(m) => {
            let qualified = format!("{m}.{class}");
            if canonical_class(&qualified).is_some() {
                qualified
            } else if m.starts_with("keras.src.ops") || m.starts_with("keras.ops") {
                return Err(ConfigError::UnknownOp {
                    index,
                    name,
                    module: m.to_string(),
                    class: class.to_string(),
                });
            } else {
                return Err(ConfigError::UnknownClass {
                    index,
                    name,
                    class: qualified,
                    supported: supported_classes().join(", "),
                });
            }
        }
        // Keras 3's legacy `.h5` drops the module; an operation still shows by its
        // config, which is its name alone (every layer also writes `trainable`/`dtype`).
        None => {
            // An application's own layer, by its class name alone (`CustomScaleLayer`;
            // tf.keras 2 writes `Custom>CustomScaleLayer`). Never a built-in layer: a
            // `Custom>Conv2D` is someone's own class.
            let application = |c: &str| {
                supported_classes().into_iter().find(|q| {
                    q.contains('.')
                        && !q.starts_with("keras.src.ops")
                        && q.rsplit('.').next() == Some(c)
                })
            };
            let op = format!("{}.{class}", crate::layers::OPS_MODULE);
            if config.len() == 1 && config.contains_key("name") && canonical_class(&op).is_some() {
                op
            } else if let Some(q) = keras2::registered_class(class)
                .filter(|_| prov.is_keras2())
                .and_then(application)
            {
                q.to_string()
            } else if canonical_class(class).is_some() {
                class.to_string()
            } else {
                application(class).map_or_else(|| class.to_string(), str::to_string)
            }
        }
    };
    if module.is_none() && class.starts_with("Custom>") && lookup.ends_with(&class[7..]) {
        prov.note(format!(
            "{}: read as keras.applications' own class (Keras 2 wrote `{class}`)",
            &class[7..]
        ));
    }
    let Some(mut kind) = canonical_class(&lookup).and_then(LayerKind::default_for) else {
        return Err(ConfigError::UnknownClass {
            index,
            name,
            class: class.to_string(),
            supported: supported_classes().join(", "),
        });
    };
    let canonical = kind.class_name();
    // Keras 2 wrote some arguments Keras 3 no longer has: read the file as Keras 2 did.
    let adapted;
    let config = if prov.is_keras2() {
        let mut c = config.clone();
        for note in keras2::adapt(canonical, &mut c) {
            prov.note(note);
        }
        adapted = c;
        &adapted
    } else {
        config
    };
    let mut p = args::Reader::new(config, COMMON_KEYS);
    kind.spec_mut().args(&mut p);
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
    if !p.missing.is_empty() && p.error.is_none() {
        let missing: Vec<String> = p.missing.iter().map(|k| format!("'{k}'")).collect();
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
    if prov.is_keras2() && name.contains('/') {
        prov.note(
            "layer names: `/` written as `_` in Keras 3 files (Keras 3 refuses `/` in names)"
                .into(),
        );
    }
    let mut layer = Layer::of(kind, name);
    layer.trainable = config
        .get("trainable")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    layer.dtype = match config.get("dtype") {
        Some(Value::Object(d)) => {
            // `.keras` archives tag shared dicts with a random id: not part of the config.
            let mut d = d.clone();
            d.remove("shared_object_id");
            Value::Object(d)
        }
        _ => default_dtype(),
    };
    layer.construct_error = p.error;
    Ok((layer, keras2::batch_input_shape(config)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `Activation("relu6")(x + 3.0) * 0.1666…` as Keras 3.15.1 writes it
    /// (`tests/fixtures/ops/`): the `+` and `*` are `keras.src.ops.numpy` operations.
    fn hard_swish() -> Value {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/ops/hard_swish_ops.json"
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn operations_are_read_with_their_numbers_not_taken_for_merge_layers() {
        use crate::layers::{Constant, OpKind};
        let net = from_value(&hard_swish()).unwrap();
        let ops: Vec<_> = net
            .layers()
            .iter()
            .filter_map(|l| match &l.kind {
                LayerKind::NumpyOp(op) => {
                    Some((l.name.as_str(), op.op, op.constant, l.inputs().len()))
                }
                _ => None,
            })
            .collect();
        let c = |value| {
            Some(Constant {
                position: 1,
                value,
                integer: false,
            })
        };
        assert_eq!(
            ops,
            [
                ("add", OpKind::Add, c(3.0), 1),
                ("multiply", OpKind::Multiply, c(0.16666666), 1)
            ]
        );
    }

    #[test]
    fn unknown_operations_are_refused_naming_the_layer() {
        let mut v = hard_swish();
        v["config"]["layers"][2]["class_name"] = json!("Sinh");
        let err = from_value(&v).unwrap_err();
        assert_eq!(
            err,
            ConfigError::UnknownOp {
                index: 2,
                name: "add".into(),
                module: "keras.src.ops.numpy".into(),
                class: "Sinh".into(),
            }
        );
        assert_eq!(
            err.to_string(),
            "layer 2 ('add'): the operation `keras.src.ops.numpy.Sinh` (a `keras.ops` call in \
             the model's code, not a layer) is not supported"
        );
        // An operand that is neither a tensor nor a number.
        let mut v = hard_swish();
        v["config"]["layers"][2]["inbound_nodes"][0]["args"][1] =
            json!({"class_name": "__numpy__", "config": {"value": [1.0, 2.0], "dtype": "float32"}});
        let msg = from_value(&v).unwrap_err().to_string();
        assert!(
            msg.starts_with("layer 'add': call argument 1 is neither a tensor nor a number"),
            "{msg}"
        );
    }

    #[test]
    fn custom_classes_are_refused_even_when_named_like_a_keras_layer() {
        let mut v = hard_swish();
        v["config"]["layers"][2]["module"] = json!("my_lib.blocks");
        match from_value(&v).unwrap_err() {
            ConfigError::UnknownClass {
                index, name, class, ..
            } => assert_eq!(
                (index, name.as_str(), class.as_str()),
                (2, "add", "my_lib.blocks.Add")
            ),
            other => panic!("{other:?}"),
        }
        v["config"]["layers"][2]["module"] = json!("keras.layers");
        v["config"]["layers"][2]["class_name"] = json!("Lambda");
        let msg = from_value(&v).unwrap_err().to_string();
        assert!(
            msg.starts_with("layer 2 ('add'): unknown layer class 'Lambda' (convscope supports "),
            "{msg}"
        );
        // ConvNeXt's stem: a Sequential model used as a layer.
        v["config"]["layers"][2]["module"] = json!("keras");
        v["config"]["layers"][2]["class_name"] = json!("Sequential");
        // (a layer's config in place of the model's is refused naming the layer).
        assert_eq!(
            from_value(&v).unwrap_err().to_string(),
            "layer 'add': its Sequential config: the model config has no `layers` list"
        );
        // A model nested two levels deep is refused.
        let inner = json!({"module": "keras", "class_name": "Sequential", "name": "deep",
            "config": {"name": "deep", "layers": []}});
        v["config"]["layers"][2]["config"] = json!({"name": "add", "layers": [inner]});
        let msg = from_value(&v).unwrap_err().to_string();
        assert!(
            msg.contains("layer 'add': the nested model 'deep'"),
            "{msg}"
        );
    }
}
