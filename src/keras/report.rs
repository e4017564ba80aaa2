//! What Keras says about one layer on its input: output shape or rejection, the weight
//! variables it creates (with their initializers), and the costs a designer wants to see.
//! A layer kind's shape rule fills one [`LayerReport`]; the analysis collects them.

use super::error::KerasError;
use super::geometry::ReceptiveField;
use super::objects::KerasObject;
use super::shape::Shape;
use serde::Serialize;

/// A weight variable of a layer, in `layer.weights` order.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WeightSpec {
    pub name: &'static str,
    pub shape: Vec<i64>,
    pub trainable: bool,
    /// The initializer Keras draws it from (`None`: zeros).
    #[serde(skip)]
    pub init: Option<KerasObject>,
    /// An integer variable (Normalization's `count`): stored as int64 in Keras's files.
    #[serde(skip)]
    pub integer: bool,
}

impl WeightSpec {
    /// A trainable variable drawn from `init`.
    pub fn trainable(name: &'static str, shape: Vec<i64>, init: &Option<KerasObject>) -> Self {
        WeightSpec {
            name,
            shape,
            trainable: true,
            init: init.clone(),
            integer: false,
        }
    }
    /// A variable training does not update (BatchNormalization's moving statistics).
    pub fn frozen(name: &'static str, shape: Vec<i64>, init: &Option<KerasObject>) -> Self {
        WeightSpec {
            trainable: false,
            ..WeightSpec::trainable(name, shape, init)
        }
    }
    pub fn count(&self) -> i64 {
        self.shape.iter().fold(1i64, |a, &b| a.saturating_mul(b))
    }
}

/// Everything known about one layer after analysis.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LayerReport {
    /// Output shape, batch axis first; `None` when the layer or one before it failed.
    pub output_shape: Option<Shape>,
    pub error: Option<KerasError>,
    pub weights: Vec<WeightSpec>,
    pub trainable_params: i64,
    pub non_trainable_params: i64,
    /// Multiply-accumulates for one sample.
    pub macs: i64,
    /// Bytes of this layer's float32 output for one sample.
    pub output_bytes: i64,
    pub receptive_field: Option<ReceptiveField>,
    /// Pixels added by `same` padding: top, bottom, left, right.
    pub same_padding: Option<[i64; 4]>,
    /// Settings Keras accepts but that misbehave or only fail when run.
    pub warnings: Vec<String>,
    /// Whether the output is laid out channels_first (the nearest layer with a
    /// `data_format` at or before it says so; else the model input's).
    pub channels_first: bool,
}

impl LayerReport {
    pub fn params(&self) -> i64 {
        self.trainable_params
            .saturating_add(self.non_trainable_params)
    }
    pub fn unknown() -> LayerReport {
        LayerReport {
            output_shape: None,
            error: None,
            weights: Vec::new(),
            trainable_params: 0,
            non_trainable_params: 0,
            macs: 0,
            output_bytes: 0,
            receptive_field: None,
            same_padding: None,
            warnings: Vec::new(),
            channels_first: false,
        }
    }
    /// Records a trainable weight.
    pub fn weight(&mut self, name: &'static str, shape: Vec<i64>, init: &Option<KerasObject>) {
        self.weights.push(WeightSpec::trainable(name, shape, init));
    }
}
