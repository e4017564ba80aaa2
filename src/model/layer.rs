//! Layer specifications: one plain struct per Keras layer class, named after its
//! `get_config()` keys, holding every argument a person can edit.
//!
//! Values are stored as typed as the UI needs them but wide enough to hold what a person
//! may type (negative or zero sizes, out-of-range rates): checking them is the job of
//! [`crate::model::analysis`], which reports Keras's own messages. No I/O here.

use super::objects::{KerasObject, ObjectKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A batch shape, batch axis first; `None` is an unknown dimension.
pub type Shape = Vec<Option<i64>>;

/// A two-integer argument such as `kernel_size` or `strides`.
///
/// `scalar` remembers that it was given as one integer (`strides=2`), which only
/// changes how Keras quotes it in messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pair {
    pub v: [i64; 2],
    #[serde(default)]
    pub scalar: bool,
}

impl Pair {
    pub const fn square(x: i64) -> Pair {
        Pair {
            v: [x, x],
            scalar: false,
        }
    }
    pub const fn new(a: i64, b: i64) -> Pair {
        Pair {
            v: [a, b],
            scalar: false,
        }
    }
    pub fn h(&self) -> i64 {
        self.v[0]
    }
    pub fn w(&self) -> i64 {
        self.v[1]
    }
    /// How Keras quotes the value as it was given: `3` or `(3, 3)`.
    pub fn given(&self) -> String {
        if self.scalar {
            self.v[0].to_string()
        } else {
            super::pyfmt::tuple(&self.v)
        }
    }
}

/// `padding="valid"|"same"` as typed (Keras lower-cases it for convolutions).
pub type PaddingStr = String;

/// Arguments shared by the convolution family's weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WeightArgs {
    pub initializer: Option<KerasObject>,
    pub regularizer: Option<KerasObject>,
    pub constraint: Option<KerasObject>,
}

impl WeightArgs {
    pub fn with_init(class: &str) -> WeightArgs {
        WeightArgs {
            initializer: KerasObject::new(ObjectKind::Initializer, class),
            regularizer: None,
            constraint: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Conv2D {
    pub filters: i64,
    pub kernel_size: Pair,
    pub strides: Pair,
    pub padding: PaddingStr,
    pub data_format: String,
    pub dilation_rate: Pair,
    pub groups: i64,
    pub activation: String,
    pub use_bias: bool,
    pub kernel: WeightArgs,
    pub bias: WeightArgs,
    pub activity_regularizer: Option<KerasObject>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Conv2DTranspose {
    pub filters: i64,
    pub kernel_size: Pair,
    pub strides: Pair,
    pub padding: PaddingStr,
    pub output_padding: Option<Pair>,
    pub data_format: String,
    pub dilation_rate: Pair,
    pub activation: String,
    pub use_bias: bool,
    pub kernel: WeightArgs,
    pub bias: WeightArgs,
    pub activity_regularizer: Option<KerasObject>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DepthwiseConv2D {
    pub depth_multiplier: i64,
    pub kernel_size: Pair,
    pub strides: Pair,
    pub padding: PaddingStr,
    pub data_format: String,
    pub dilation_rate: Pair,
    pub activation: String,
    pub use_bias: bool,
    pub depthwise: WeightArgs,
    pub bias: WeightArgs,
    pub activity_regularizer: Option<KerasObject>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeparableConv2D {
    pub depth_multiplier: i64,
    pub filters: i64,
    pub kernel_size: Pair,
    pub strides: Pair,
    pub padding: PaddingStr,
    pub data_format: String,
    pub dilation_rate: Pair,
    pub activation: String,
    pub use_bias: bool,
    pub depthwise: WeightArgs,
    pub pointwise: WeightArgs,
    pub bias: WeightArgs,
    pub activity_regularizer: Option<KerasObject>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PoolMode {
    Max,
    Average,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pooling2D {
    pub mode: PoolMode,
    pub pool_size: Pair,
    /// `None` means "same as pool_size".
    pub strides: Option<Pair>,
    pub padding: PaddingStr,
    pub data_format: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GlobalPooling2D {
    pub mode: PoolMode,
    pub data_format: String,
    pub keepdims: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BatchNormalization {
    pub axis: i64,
    pub momentum: f64,
    pub epsilon: f64,
    pub center: bool,
    pub scale: bool,
    pub beta_initializer: Option<KerasObject>,
    pub gamma_initializer: Option<KerasObject>,
    pub moving_mean_initializer: Option<KerasObject>,
    pub moving_variance_initializer: Option<KerasObject>,
    pub beta_regularizer: Option<KerasObject>,
    pub gamma_regularizer: Option<KerasObject>,
    pub beta_constraint: Option<KerasObject>,
    pub gamma_constraint: Option<KerasObject>,
    pub synchronized: bool,
    pub renorm: bool,
    pub renorm_clipping: Value,
    pub renorm_momentum: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReLU {
    pub max_value: Option<f64>,
    pub negative_slope: f64,
    pub threshold: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dropout {
    pub rate: f64,
    pub seed: Option<i64>,
    pub noise_shape: Value,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpatialDropout2D {
    pub rate: f64,
    pub seed: Option<i64>,
    pub data_format: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dense {
    pub units: i64,
    pub activation: String,
    pub use_bias: bool,
    pub kernel: WeightArgs,
    pub bias: WeightArgs,
    pub activity_regularizer: Option<KerasObject>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Padding2D {
    /// `[[top, bottom], [left, right]]`
    pub amounts: [[i64; 2]; 2],
    /// How the amounts were given (Keras checks the forms differently).
    pub form: PadForm,
    pub data_format: String,
}

/// The three ways Keras accepts `padding`/`cropping`: `1`, `(1, 2)`, `((1, 2), (3, 4))`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PadForm {
    Int,
    Symmetric,
    Full,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UpSampling2D {
    pub size: Pair,
    pub data_format: String,
    pub interpolation: String,
}

/// The input of the network: `batch_shape` with the batch axis first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputLayer {
    pub batch_shape: Shape,
    pub dtype: String,
}

/// Every supported Keras layer class.
// A network holds tens of layers: boxing the larger variants would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum LayerKind {
    Input(InputLayer),
    Conv2D(Conv2D),
    Conv2DTranspose(Conv2DTranspose),
    DepthwiseConv2D(DepthwiseConv2D),
    SeparableConv2D(SeparableConv2D),
    Pooling2D(Pooling2D),
    GlobalPooling2D(GlobalPooling2D),
    BatchNormalization(BatchNormalization),
    Activation {
        activation: String,
    },
    ReLU(ReLU),
    LeakyReLU {
        negative_slope: f64,
    },
    Softmax {
        axis: i64,
    },
    Dropout(Dropout),
    SpatialDropout2D(SpatialDropout2D),
    Flatten {
        data_format: String,
    },
    Dense(Dense),
    ZeroPadding2D(Padding2D),
    Cropping2D(Padding2D),
    UpSampling2D(UpSampling2D),
    Rescaling {
        scale: f64,
        offset: f64,
    },
    /// Merge layers of a Functional model.
    Merge(MergeKind),
    Concatenate {
        axis: i64,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MergeKind {
    Add,
    Subtract,
    Multiply,
    Average,
    Maximum,
    Minimum,
}

impl MergeKind {
    pub const ALL: [MergeKind; 6] = [
        MergeKind::Add,
        MergeKind::Subtract,
        MergeKind::Multiply,
        MergeKind::Average,
        MergeKind::Maximum,
        MergeKind::Minimum,
    ];
    pub fn class_name(self) -> &'static str {
        match self {
            MergeKind::Add => "Add",
            MergeKind::Subtract => "Subtract",
            MergeKind::Multiply => "Multiply",
            MergeKind::Average => "Average",
            MergeKind::Maximum => "Maximum",
            MergeKind::Minimum => "Minimum",
        }
    }
}

/// One layer: its Keras name, whether it trains, its class and arguments, and (in a
/// Functional model) the names of the layers whose outputs it takes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Layer {
    pub name: String,
    pub trainable: bool,
    /// The dtype policy as Keras wrote it (kept for a faithful round trip).
    pub dtype: Value,
    pub kind: LayerKind,
    /// Inbound layer names; empty in a Sequential model (the previous layer feeds it).
    pub inbound: Vec<String>,
    /// An argument Keras refuses when constructing the layer (kept so a loaded file can
    /// show the problem instead of failing to open); cleared when the layer is edited.
    pub construct_error: Option<String>,
}

/// Default Keras dtype policy.
pub fn default_dtype() -> Value {
    serde_json::json!({
        "module": "keras", "class_name": "DTypePolicy",
        "config": {"name": "float32"}, "registered_name": null
    })
}

/// Layer classes the palette offers, in the order it shows them.
pub const PALETTE: &[&str] = &[
    "Conv2D",
    "DepthwiseConv2D",
    "SeparableConv2D",
    "Conv2DTranspose",
    "MaxPooling2D",
    "AveragePooling2D",
    "GlobalAveragePooling2D",
    "GlobalMaxPooling2D",
    "BatchNormalization",
    "Activation",
    "ReLU",
    "LeakyReLU",
    "Softmax",
    "Dropout",
    "SpatialDropout2D",
    "Flatten",
    "Dense",
    "ZeroPadding2D",
    "Cropping2D",
    "UpSampling2D",
    "Rescaling",
];

impl LayerKind {
    /// The Keras class name.
    pub fn class_name(&self) -> &'static str {
        match self {
            LayerKind::Input(_) => "InputLayer",
            LayerKind::Conv2D(_) => "Conv2D",
            LayerKind::Conv2DTranspose(_) => "Conv2DTranspose",
            LayerKind::DepthwiseConv2D(_) => "DepthwiseConv2D",
            LayerKind::SeparableConv2D(_) => "SeparableConv2D",
            LayerKind::Pooling2D(p) => match p.mode {
                PoolMode::Max => "MaxPooling2D",
                PoolMode::Average => "AveragePooling2D",
            },
            LayerKind::GlobalPooling2D(p) => match p.mode {
                PoolMode::Max => "GlobalMaxPooling2D",
                PoolMode::Average => "GlobalAveragePooling2D",
            },
            LayerKind::BatchNormalization(_) => "BatchNormalization",
            LayerKind::Activation { .. } => "Activation",
            LayerKind::ReLU(_) => "ReLU",
            LayerKind::LeakyReLU { .. } => "LeakyReLU",
            LayerKind::Softmax { .. } => "Softmax",
            LayerKind::Dropout(_) => "Dropout",
            LayerKind::SpatialDropout2D(_) => "SpatialDropout2D",
            LayerKind::Flatten { .. } => "Flatten",
            LayerKind::Dense(_) => "Dense",
            LayerKind::ZeroPadding2D(_) => "ZeroPadding2D",
            LayerKind::Cropping2D(_) => "Cropping2D",
            LayerKind::UpSampling2D(_) => "UpSampling2D",
            LayerKind::Rescaling { .. } => "Rescaling",
            LayerKind::Merge(m) => m.class_name(),
            LayerKind::Concatenate { .. } => "Concatenate",
        }
    }

    /// A layer of the given class with Keras's default arguments (required arguments get
    /// the values a tutorial would start with: 32 filters, 3×3 kernel, 10 units, rate 0.5).
    pub fn default_for(class_name: &str) -> Option<LayerKind> {
        let cl = "channels_last".to_string();
        let valid = "valid".to_string();
        let linear = "linear".to_string();
        Some(match class_name {
            "InputLayer" => LayerKind::Input(InputLayer {
                batch_shape: vec![None, Some(28), Some(28), Some(1)],
                dtype: "float32".into(),
            }),
            "Conv2D" => LayerKind::Conv2D(Conv2D {
                filters: 32,
                kernel_size: Pair::square(3),
                strides: Pair::square(1),
                padding: valid,
                data_format: cl,
                dilation_rate: Pair::square(1),
                groups: 1,
                activation: linear,
                use_bias: true,
                kernel: WeightArgs::with_init("GlorotUniform"),
                bias: WeightArgs::with_init("Zeros"),
                activity_regularizer: None,
            }),
            "Conv2DTranspose" => LayerKind::Conv2DTranspose(Conv2DTranspose {
                filters: 32,
                kernel_size: Pair::square(3),
                strides: Pair::square(1),
                padding: valid,
                output_padding: None,
                data_format: cl,
                dilation_rate: Pair::square(1),
                activation: linear,
                use_bias: true,
                kernel: WeightArgs::with_init("GlorotUniform"),
                bias: WeightArgs::with_init("Zeros"),
                activity_regularizer: None,
            }),
            "DepthwiseConv2D" => LayerKind::DepthwiseConv2D(DepthwiseConv2D {
                depth_multiplier: 1,
                kernel_size: Pair::square(3),
                strides: Pair::square(1),
                padding: valid,
                data_format: cl,
                dilation_rate: Pair::square(1),
                activation: linear,
                use_bias: true,
                depthwise: WeightArgs::with_init("GlorotUniform"),
                bias: WeightArgs::with_init("Zeros"),
                activity_regularizer: None,
            }),
            "SeparableConv2D" => LayerKind::SeparableConv2D(SeparableConv2D {
                depth_multiplier: 1,
                filters: 32,
                kernel_size: Pair::square(3),
                strides: Pair::square(1),
                padding: valid,
                data_format: cl,
                dilation_rate: Pair::square(1),
                activation: linear,
                use_bias: true,
                depthwise: WeightArgs::with_init("GlorotUniform"),
                pointwise: WeightArgs::with_init("GlorotUniform"),
                bias: WeightArgs::with_init("Zeros"),
                activity_regularizer: None,
            }),
            "MaxPooling2D" | "AveragePooling2D" => LayerKind::Pooling2D(Pooling2D {
                mode: if class_name == "MaxPooling2D" {
                    PoolMode::Max
                } else {
                    PoolMode::Average
                },
                pool_size: Pair::square(2),
                strides: None,
                padding: valid,
                data_format: cl,
            }),
            "GlobalMaxPooling2D" | "GlobalAveragePooling2D" => {
                LayerKind::GlobalPooling2D(GlobalPooling2D {
                    mode: if class_name == "GlobalMaxPooling2D" {
                        PoolMode::Max
                    } else {
                        PoolMode::Average
                    },
                    data_format: cl,
                    keepdims: false,
                })
            }
            "BatchNormalization" => LayerKind::BatchNormalization(BatchNormalization {
                axis: -1,
                momentum: 0.99,
                epsilon: 0.001,
                center: true,
                scale: true,
                beta_initializer: KerasObject::new(ObjectKind::Initializer, "Zeros"),
                gamma_initializer: KerasObject::new(ObjectKind::Initializer, "Ones"),
                moving_mean_initializer: KerasObject::new(ObjectKind::Initializer, "Zeros"),
                moving_variance_initializer: KerasObject::new(ObjectKind::Initializer, "Ones"),
                beta_regularizer: None,
                gamma_regularizer: None,
                beta_constraint: None,
                gamma_constraint: None,
                synchronized: false,
                renorm: false,
                renorm_clipping: Value::Null,
                renorm_momentum: 0.99,
            }),
            "Activation" => LayerKind::Activation {
                activation: "relu".into(),
            },
            "ReLU" => LayerKind::ReLU(ReLU {
                max_value: None,
                negative_slope: 0.0,
                threshold: 0.0,
            }),
            "LeakyReLU" => LayerKind::LeakyReLU {
                negative_slope: 0.3,
            },
            "Softmax" => LayerKind::Softmax { axis: -1 },
            "Dropout" => LayerKind::Dropout(Dropout {
                rate: 0.5,
                seed: None,
                noise_shape: Value::Null,
            }),
            "SpatialDropout2D" => LayerKind::SpatialDropout2D(SpatialDropout2D {
                rate: 0.5,
                seed: None,
                data_format: cl,
            }),
            "Flatten" => LayerKind::Flatten { data_format: cl },
            "Dense" => LayerKind::Dense(Dense {
                units: 10,
                activation: linear,
                use_bias: true,
                kernel: WeightArgs::with_init("GlorotUniform"),
                bias: WeightArgs::with_init("Zeros"),
                activity_regularizer: None,
            }),
            "ZeroPadding2D" => LayerKind::ZeroPadding2D(Padding2D {
                amounts: [[1, 1], [1, 1]],
                form: PadForm::Full,
                data_format: cl,
            }),
            "Cropping2D" => LayerKind::Cropping2D(Padding2D {
                amounts: [[0, 0], [0, 0]],
                form: PadForm::Full,
                data_format: cl,
            }),
            "UpSampling2D" => LayerKind::UpSampling2D(UpSampling2D {
                size: Pair::square(2),
                data_format: cl,
                interpolation: "nearest".into(),
            }),
            "Rescaling" => LayerKind::Rescaling {
                scale: 1.0 / 255.0,
                offset: 0.0,
            },
            "Concatenate" => LayerKind::Concatenate { axis: -1 },
            other => LayerKind::Merge(
                MergeKind::ALL
                    .into_iter()
                    .find(|m| m.class_name() == other)?,
            ),
        })
    }

    /// The data format of layers that have one.
    pub fn data_format(&self) -> Option<&str> {
        Some(match self {
            LayerKind::Conv2D(c) => &c.data_format,
            LayerKind::Conv2DTranspose(c) => &c.data_format,
            LayerKind::DepthwiseConv2D(c) => &c.data_format,
            LayerKind::SeparableConv2D(c) => &c.data_format,
            LayerKind::Pooling2D(p) => &p.data_format,
            LayerKind::GlobalPooling2D(p) => &p.data_format,
            LayerKind::SpatialDropout2D(d) => &d.data_format,
            LayerKind::Flatten { data_format } => data_format,
            LayerKind::ZeroPadding2D(p) | LayerKind::Cropping2D(p) => &p.data_format,
            LayerKind::UpSampling2D(u) => &u.data_format,
            _ => return None,
        })
    }

    /// The fused activation of layers that have an `activation` argument.
    pub fn activation(&self) -> Option<&str> {
        Some(match self {
            LayerKind::Conv2D(c) => &c.activation,
            LayerKind::Conv2DTranspose(c) => &c.activation,
            LayerKind::DepthwiseConv2D(c) => &c.activation,
            LayerKind::SeparableConv2D(c) => &c.activation,
            LayerKind::Dense(d) => &d.activation,
            LayerKind::Activation { activation } => activation,
            _ => return None,
        })
    }
}

impl Layer {
    /// A new layer of `class_name` with Keras's defaults.
    pub fn new(class_name: &str, name: impl Into<String>) -> Option<Layer> {
        Some(Layer {
            name: name.into(),
            trainable: true,
            dtype: default_dtype(),
            kind: LayerKind::default_for(class_name)?,
            inbound: Vec::new(),
            construct_error: None,
        })
    }

    pub fn class_name(&self) -> &'static str {
        self.kind.class_name()
    }
}
