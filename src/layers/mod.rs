//! The layer kinds, one module each: everything a Keras layer class means to convscope
//! lives in its file — its arguments ([`LayerSpec::args`]: keys, defaults, types and
//! tooltips, declared once), its shape rule with Keras's checks and messages
//! ([`LayerSpec::build`]), its weights and their initializers, its forward pass, its
//! card text, its diagram family and its PyTorch translation.
//!
//! [`registry`] lists the kinds once and generates [`LayerKind`], the palette, the
//! "supported classes" message and every dispatch from that list: there is no `match`
//! over layer kinds anywhere else, so a kind that forgets a piece does not compile.
//!
//! Kinds see Keras's vocabulary ([`crate::keras`]) and the numeric kernels
//! ([`crate::kernels`]); they know nothing of networks, files or the window.

#[macro_use]
mod registry;
#[macro_use]
mod conv;
pub mod torch;

/// Declares a kind's struct with Keras's default for each argument, and its [`Kind`]
/// facts (classes, family, and the optional constants in brackets). The kinds with rich
/// arguments (the convolutions, BatchNormalization, Dense) write their [`Args`] by hand.
macro_rules! kind_struct {
    (
        $(#[$meta:meta])*
        pub struct $name:ident: [$($class:literal),+], $family:ident $(, [$($konst:ident = $kval:expr),*])? {
            $($(#[$fmeta:meta])* $field:ident: $ty:ty = $default:expr),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq)]
        pub struct $name {
            $($(#[$fmeta])* pub $field: $ty,)*
        }

        impl $crate::layers::Kind for $name {
            const CLASSES: &'static [&'static str] = &[$($class),+];
            const FAMILY: $crate::layers::Family = $crate::layers::Family::$family;
            $($(kind_struct!(@const $konst = $kval);)*)?
            fn new(_: &str) -> Option<Self> {
                Some($name { $($field: $default,)* })
            }
        }
    };
    (@const BUILD_CONFIG = $v:expr) => { const BUILD_CONFIG: bool = $v; };
    (@const IN_PALETTE = $v:expr) => { const IN_PALETTE: bool = $v; };
    (@const TAKES_LIST = $v:expr) => { const TAKES_LIST: bool = $v; };
    (@const HEADER = $v:expr) => { const HEADER: $crate::layers::ConfigHeader = $v; };
    (@const CALL_KWARGS = $v:expr) => { const CALL_KWARGS: &'static [&'static str] = $v; };
    (@const MODULE = $v:expr) => { const MODULE: &'static str = $v; };
}

/// Declares a kind whose arguments are plain values, in `get_config()` order: its
/// struct and facts as [`kind_struct!`] does, and its [`Args`] from each argument's
/// `ArgMut` variant (how it is read, written and edited) and tooltip (the key is the
/// field's name); then the keys Keras writes that convscope keeps no value of, and
/// which argument is the `data_format` or the `activation`.
macro_rules! kind {
    (
        $(#[$meta:meta])*
        pub struct $name:ident: [$($class:literal),+], $family:ident $(, [$($konst:ident = $kval:expr),*])? {
            $($(#[$fmeta:meta])* $field:ident: $ty:ty = $default:expr => $variant:ident $(($($extra:expr),*))?, $tip:literal $(, $flag:ident $(($farg:expr))?)*;)*
        }
        $(fixed { $($fkey:literal: $fval:expr),* $(,)? })?
        $(data_format: $df:ident)?
        $(activation: $act:ident)?
    ) => {
        kind_struct! {
            $(#[$meta])*
            pub struct $name: [$($class),+], $family $(, [$($konst = $kval),*])? {
                $($(#[$fmeta])* $field: $ty = $default),*
            }
        }

        impl $crate::layers::Args for $name {
            #[allow(unused_variables)]
            fn args(&mut self, v: &mut dyn $crate::keras::args::Visitor) {
                $(v.arg(
                    &$crate::keras::args::Arg::new(stringify!($field), $tip)$(.$flag($($farg)?))*,
                    $crate::keras::args::ArgMut::$variant(&mut self.$field $($(, $extra)*)?),
                );)*
                $($(v.fixed($fkey, $fval);)*)?
            }
            $(fn data_format(&self) -> Option<$crate::layers::DataFormat> {
                Some(self.$df)
            })?
            $(fn activation(&self) -> Option<&str> {
                Some(&self.$act)
            })?
        }
    };
}

// The registry: one line per kind, `Variant(module::Type)`. Declares the module,
// re-exports its type and makes the `LayerKind` variant (see `registry.rs`).
registry! {
    Input(input::InputLayer),
    Conv2D(conv2d::Conv2D),
    DepthwiseConv2D(depthwise_conv2d::DepthwiseConv2D),
    SeparableConv2D(separable_conv2d::SeparableConv2D),
    Conv2DTranspose(conv2d_transpose::Conv2DTranspose),
    Pooling2D(pooling2d::Pooling2D),
    GlobalPooling2D(global_pooling2d::GlobalPooling2D),
    BatchNormalization(batch_normalization::BatchNormalization),
    Normalization(normalization::Normalization),
    LayerNormalization(layer_normalization::LayerNormalization),
    Activation(activation::Activation),
    ReLU(relu::ReLU),
    LeakyReLU(leaky_relu::LeakyReLU),
    Softmax(softmax::Softmax),
    Dropout(dropout::Dropout),
    SpatialDropout2D(spatial_dropout2d::SpatialDropout2D),
    Flatten(flatten::Flatten),
    Reshape(reshape::Reshape),
    Permute(permute::Permute),
    LayerScale(layer_scale::LayerScale),
    Dense(dense::Dense),
    ZeroPadding2D(zero_padding2d::ZeroPadding2D),
    Cropping2D(cropping2d::Cropping2D),
    UpSampling2D(upsampling2d::UpSampling2D),
    Rescaling(rescaling::Rescaling),
    Merge(merge::Merge),
    Concatenate(concatenate::Concatenate),
    Dot(dot::Dot),
    NumpyOp(numpy_op::NumpyOp),
    CustomScaleLayer(custom_scale::CustomScaleLayer),
}

pub use merge::MergeKind;
pub use numpy_op::{Constant, OPS_MODULE, OpKind};
pub use pooling2d::PoolMode;
pub use registry::{Facts, PALETTE, canonical_class, supported_classes};

pub use crate::keras::args::{AmountForm, Amounts, WeightArgs};
pub use crate::keras::geometry::{DataFormat, Padding};
pub use crate::keras::shape::{Pair, Shape};

use crate::keras::args::Visitor;
use crate::keras::error::{KerasError, R};
use crate::keras::geometry::{ReceptiveField, Window};
use crate::keras::pyfmt;
use crate::keras::report::{LayerReport, WeightSpec};
use ndarray::{Array4, ArrayD, ArrayView4, CowArray, Ix4};
use std::sync::Arc;

/// One layer's weights, in Keras's `get_weights()` order.
pub type LayerWeights = Vec<ArrayD<f32>>;

/// Weights that cannot be given to a network: an unreadable file, one layer's arrays that
/// do not fit it, or a model that is invalid. Readers and initializers share it.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum WeightError {
    #[error("{0}")]
    File(String),
    #[error("layer '{layer}': {message}")]
    Layer { layer: String, message: String },
    #[error("the model is invalid: {0}")]
    Invalid(String),
    /// Stopped by the user ([`crate::progress::Progress::cancel`]).
    #[error("cancelled")]
    Cancelled,
}

impl WeightError {
    /// An error that names the layer.
    pub fn layer(layer: &str, message: impl Into<String>) -> WeightError {
        WeightError::Layer {
            layer: layer.to_string(),
            message: message.into(),
        }
    }
}

/// A kind's Keras arguments and the facts that follow from them alone.
pub trait Args {
    /// Shows every Keras argument, in `get_config()` order, to `v`.
    fn args(&mut self, v: &mut dyn Visitor);

    /// The arguments every convolution has (Keras's `BaseConv`), for the kinds that are
    /// convolutions.
    fn conv(&self) -> Option<&conv::ConvBase> {
        None
    }

    /// The `data_format` of layers that have one.
    fn data_format(&self) -> Option<DataFormat> {
        self.conv().map(|c| c.data_format)
    }

    /// The fused activation of layers with an `activation` argument.
    fn activation(&self) -> Option<&str> {
        self.conv().map(|c| c.activation.as_str())
    }

    /// The sliding window of convolutions and pooling (the inspector's formula).
    fn window(&self) -> Option<WindowArgs> {
        self.conv().map(conv::ConvBase::window)
    }

    /// The number an operation was called with in place of a tensor (`x + 3.0`): Keras
    /// keeps it in the call's arguments, not in the config.
    fn constant_operand(&self) -> Option<Constant> {
        None
    }

    /// Gives the operation its number; `false` for kinds that take none.
    fn set_constant_operand(&mut self, _: Constant) -> bool {
        false
    }
}

/// What a layer kind knows. Object-safe: [`LayerKind::spec`] hands out `&dyn LayerSpec`.
pub trait LayerSpec: Args {
    /// Keras's shape rule: the checks of the constructor, `build` and
    /// `compute_output_shape`, in Keras's order and words; records the weights (with
    /// their initializers), costs, receptive field and warnings in `r`; returns the
    /// output shape.
    fn build(&self, cx: &Cx, r: &mut LayerReport) -> R<Shape>;

    /// The output in inference mode, in Keras's layout, from the inputs and the weights
    /// [`LayerSpec::build`] declared. A layer that is a [`LayerSpec::pointwise`] step
    /// leaves this as it is: its step applied to its input.
    fn forward(
        &self,
        inputs: &[Arc<ArrayD<f32>>],
        w: &[ArrayD<f32>],
    ) -> Result<ArrayD<f32>, String> {
        let x = first(inputs)?;
        match self.pointwise(x.shape(), w) {
            Some(step) => Ok(step?.apply(x)),
            None => Err("this layer has no forward pass for this input".into()),
        }
    }

    /// The layer as a [`crate::kernels::Pointwise`] change of its one input (of `shape`),
    /// for layers whose output is their input changed element by element or per channel
    /// on the last axis; `None` for the others. [`LayerSpec::forward`] of such a layer
    /// applies it into a new array; the engine's prediction path applies it in place on
    /// the producer's buffer when nothing else reads that, several in one pass.
    fn pointwise(
        &self,
        _shape: &[usize],
        _w: &[ArrayD<f32>],
    ) -> Option<Result<crate::kernels::Pointwise, String>> {
        None
    }

    /// Whether [`LayerSpec::forward_then`] applies the steps inside this layer's kernel,
    /// so the engine's prediction path hands it the element-wise layers after it.
    fn takes_then(&self) -> bool {
        false
    }

    /// [`LayerSpec::forward`] followed by `then` (the [`LayerSpec::pointwise`] steps of the
    /// layers that alone read this one's output, each fitting it): a kind that
    /// [`LayerSpec::takes_then`] applies them to each block while it is in cache, with
    /// the same values as applying them after, which is what this default does.
    fn forward_then(
        &self,
        inputs: &[Arc<ArrayD<f32>>],
        w: &[ArrayD<f32>],
        then: &[crate::kernels::Pointwise],
    ) -> Result<ArrayD<f32>, String> {
        let mut y = self.forward(inputs, w)?;
        crate::kernels::Pointwise::apply_chain(then, &mut y);
        Ok(y)
    }

    /// The backward rule in inference mode: from the gradient of a scalar with respect to
    /// this layer's output, its gradients with respect to each input and (when
    /// [`Backward::want_weights`]) each weight array. A kind without one says so: the
    /// engine never guesses a gradient.
    fn backward(&self, b: Backward) -> Result<Grads, String> {
        let _ = b;
        Err("convscope has no gradient rule for this layer".into())
    }

    /// Training mode (Keras's `training=True`), for the kinds where it differs from
    /// inference: BatchNormalization's batch statistics (and its moving statistics'
    /// update; a layer with `trainable: false` keeps inference), Dropout's masks (`rng`
    /// draws uniform values in [0, 1)). `None`: the same as [`LayerSpec::forward`].
    fn forward_training(
        &self,
        inputs: &[Arc<ArrayD<f32>>],
        w: &[ArrayD<f32>],
        trainable: bool,
        rng: &mut dyn FnMut() -> f32,
    ) -> Option<Result<Trained, String>> {
        let _ = (inputs, w, trainable, rng);
        None
    }

    /// The backward rule in training mode, given what [`LayerSpec::forward_training`]
    /// kept; the default is [`LayerSpec::backward`].
    fn backward_training(&self, b: Backward, kept: &[ArrayD<f32>]) -> Result<Grads, String> {
        let _ = kept;
        self.backward(b)
    }

    /// The short text on the layer's card: `Conv2D 32 · 3×3 · s2 · same · relu`.
    fn card(&self) -> String;

    /// The PyTorch translation (or the reason there is none).
    fn torch(&self, t: &mut torch::Torch) -> Result<(), String>;

    /// How the first weight array holds spatial filters, for layers that have them.
    fn kernel(&self) -> Option<KernelView> {
        None
    }
}

/// A training-mode forward pass of one layer ([`LayerSpec::forward_training`]).
pub struct Trained {
    pub output: ArrayD<f32>,
    /// New values of weight arrays by index (the moving statistics), applied after the
    /// step as Keras assigns them during the forward pass.
    pub updates: Vec<(usize, ArrayD<f32>)>,
    /// What the backward rule needs (batch statistics, a dropout mask).
    pub kept: Vec<ArrayD<f32>>,
}

/// Dropout in training mode, as Keras's `random.dropout`: a mask of `mask_shape` (each
/// entry kept with probability `1 − rate`, from `rng`'s uniform draws) broadcast over
/// `x`, the kept values scaled by `1 / (1 − rate)`. Kept for the backward rule: the
/// scaled mask at `x`'s shape (`dx = dy · it`).
pub fn dropout_training(
    x: &ArrayD<f32>,
    rate: f64,
    mask_shape: &[usize],
    rng: &mut dyn FnMut() -> f32,
) -> Result<Trained, String> {
    if rate <= 0.0 {
        let ones = ArrayD::from_elem(x.raw_dim(), 1.0f32);
        return Ok(Trained {
            output: x.clone(),
            updates: Vec::new(),
            kept: vec![ones],
        });
    }
    let keep = (1.0 - rate) as f32;
    let mask = ArrayD::from_shape_simple_fn(ndarray::IxDyn(mask_shape), || {
        if rng() < keep { 1.0 / keep } else { 0.0 }
    });
    let scale = mask
        .broadcast(x.raw_dim())
        .ok_or_else(|| {
            format!(
                "a dropout mask of shape {mask_shape:?} does not fit {:?}",
                x.shape()
            )
        })?
        .to_owned();
    Ok(Trained {
        output: x * &scale,
        updates: Vec::new(),
        kept: vec![scale],
    })
}

/// Dropout's training-mode backward rule: `dx = dy · (scaled mask)`.
pub fn dropout_backward(bw: Backward, kept: &[ArrayD<f32>]) -> Result<Grads, String> {
    let [scale] = kept else {
        return Err("the dropout mask was not kept".into());
    };
    Ok(Grads::input(bw.dy * scale))
}

/// What a layer's [`LayerSpec::backward`] reads: its forward pass's inputs and output
/// (in Keras's layout), its weights, and the gradient of the scalar with respect to its
/// output (the output's shape).
pub struct Backward<'a> {
    pub inputs: &'a [Arc<ArrayD<f32>>],
    pub output: &'a ArrayD<f32>,
    pub weights: &'a [ArrayD<f32>],
    pub dy: ArrayD<f32>,
    /// Whether the weights' gradients are wanted (Grad-CAM and saliency need only the
    /// inputs'); when not, [`Grads::weights`] may be empty.
    pub want_weights: bool,
}

impl Backward<'_> {
    /// The first input.
    pub fn x(&self) -> Result<&ArrayD<f32>, String> {
        first(self.inputs)
    }
}

/// A backward rule's result.
#[derive(Debug, Default)]
pub struct Grads {
    /// d scalar / d each input, in the layer's input order, each the input's shape.
    pub inputs: Vec<ArrayD<f32>>,
    /// d scalar / d each weight array, in `get_weights()` order; `None` for arrays
    /// without one (BatchNormalization's moving statistics, constants).
    pub weights: Vec<Option<ArrayD<f32>>>,
}

impl Grads {
    /// The gradient of a layer's one input and no weights.
    pub fn input(dx: ArrayD<f32>) -> Grads {
        Grads {
            inputs: vec![dx],
            weights: Vec::new(),
        }
    }
}

/// What the registry knows of a kind without an instance.
pub trait Kind: LayerSpec + Clone + std::fmt::Debug + PartialEq + Sized {
    /// The Keras classes of this kind.
    const CLASSES: &'static [&'static str];
    /// The family the diagram colours it by.
    const FAMILY: Family;
    /// Offered by the palette (InputLayer and merges are not: a Sequential stack has
    /// one input and no branches).
    const IN_PALETTE: bool = true;
    /// Whether Keras writes a `build_config` (layers built at construction time do not).
    const BUILD_CONFIG: bool = true;
    /// Merges take a list of tensors.
    const TAKES_LIST: bool = false;
    /// Which keys Keras writes around the kind's own in `get_config()`.
    const HEADER: ConfigHeader = ConfigHeader::Standard;
    /// Keyword arguments of the layer's `call` that Keras records (as None) in a
    /// Functional model's inbound nodes.
    const CALL_KWARGS: &'static [&'static str] = &[];
    /// The Python module Keras names in the file (operations are not layers).
    const MODULE: &'static str = "keras.layers";

    /// The layer of `class` with Keras's defaults (required arguments get the values a
    /// tutorial starts with: 32 filters, a 3×3 kernel, 10 units, rate 0.5).
    fn new(class: &str) -> Option<Self>;

    /// The Keras class name (`MaxPooling2D` and `AveragePooling2D` are one kind); a
    /// class known by its module (`keras.src.applications….CustomScaleLayer`) is named
    /// by its last part, as Keras names it.
    fn class_name(&self) -> &'static str {
        let qualified = Self::CLASSES[0];
        qualified.rsplit('.').next().unwrap_or(qualified)
    }
}

/// The keys of a layer's `get_config()` that are not its kind's arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigHeader {
    /// `name`, `trainable` and the dtype policy (most layers).
    Standard,
    /// `name` only (InputLayer).
    NameOnly,
    /// `name` and the dtype policy's name, no `trainable` (SpatialDropout's `get_config`).
    NameAndDtypeName,
}

/// Groups of kinds the diagram colours alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    Input,
    Convolution,
    Pooling,
    Normalization,
    Dense,
    Dropout,
    Activation,
    /// Layers that move or rescale values without weights (flatten, reshape, padding,
    /// cropping, upsampling, rescaling).
    Shape,
    Merge,
}

/// A convolution's or pooling's window arguments.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WindowArgs {
    pub kernel: Pair,
    pub strides: Pair,
    pub dilation: Pair,
    pub padding: Padding,
    pub data_format: DataFormat,
}

/// How a kernel array lays out its filters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelLayout {
    /// `(kh, kw, in, filters)`: one filter per index of the last axis.
    Filters,
    /// `(kh, kw, filters, in)` (Conv2DTranspose).
    Transposed,
    /// `(kh, kw, channels, multiplier)`: one single-channel filter per pair.
    Depthwise,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelView {
    pub layout: KernelLayout,
    /// Hand-made filters (Sobel, Gabor, …) can replace the kernel.
    pub presets: bool,
}

/// The layer under analysis and its inputs.
pub struct Cx<'a> {
    pub name: &'a str,
    pub class: &'static str,
    pub inputs: &'a [Shape],
    /// The first input.
    pub input: &'a Shape,
    /// Position of the layer in the model (names Keras's symbolic tensors in messages).
    pub index: usize,
    /// The first input's receptive field.
    pub rf: ReceptiveField,
    /// Every input's receptive field (`None`: not known), for layers that combine them.
    pub rfs: &'a [Option<ReceptiveField>],
    /// Whether the first input is laid out channels-first.
    pub channels_first: bool,
}

impl Cx<'_> {
    /// Keras's `InputSpec(ndim=n)` check.
    pub fn ndim(&self, n: usize) -> R<()> {
        self.rank_check(n, self.input.len() == n, "ndim")
    }

    /// Keras's `InputSpec(min_ndim=n)` check.
    pub fn min_ndim(&self, n: usize) -> R<()> {
        self.rank_check(n, self.input.len() >= n, "min_ndim")
    }

    fn rank_check(&self, n: usize, ok: bool, what: &str) -> R<()> {
        if ok {
            return Ok(());
        }
        Err(KerasError::build(format!(
            "Input 0 with name 'None' of layer '{}' is incompatible with the layer: \
             expected {what}={n}, found ndim={}. Full shape received: {}",
            self.name,
            self.input.len(),
            pyfmt::tuple_opt(self.input)
        )))
    }

    /// Keras's wrapping of an error raised inside `Layer.call` during symbolic build.
    pub fn call_error(&self, msg: String) -> KerasError {
        let class = self.class;
        let tensor = if self.index <= 1 {
            "keras_tensor".to_string()
        } else {
            format!("keras_tensor_{}", self.index - 1)
        };
        KerasError::build(format!(
            "Exception encountered when calling {class}.call().\n\n{msg}\n\n\
             Arguments received by {class}.call():\n  • args=('<KerasTensor shape={}, \
             dtype=float32, sparse=False, ragged=False, name={tensor}>',)\n  • \
             kwargs=<class 'inspect._empty'>",
            pyfmt::tuple_opt(self.input)
        ))
    }

    /// [`Cx::call_error`] of a layer called on a list of tensors (a merge). Keras names
    /// its symbolic tensors by creation order: the names here are those of a model whose
    /// inputs are its first layers, as the merge's inputs are in the oracle's cases.
    pub fn call_error_list(&self, msg: &str) -> KerasError {
        let class = self.class;
        let tensors: Vec<String> = self
            .inputs
            .iter()
            .enumerate()
            .map(|(k, s)| {
                let name = if k == 0 {
                    "keras_tensor".to_string()
                } else {
                    format!("keras_tensor_{k}")
                };
                format!(
                    "'<KerasTensor shape={}, dtype=float32, sparse=False, ragged=False, \
                     name={name}>'",
                    pyfmt::tuple_opt(s)
                )
            })
            .collect();
        KerasError::build(format!(
            "Exception encountered when calling {class}.call().\n\n{msg}\n\n\
             Arguments received by {class}.call():\n  • args=([{}],)\n  • \
             kwargs=<class 'inspect._empty'>",
            tensors.join(", ")
        ))
    }

    /// The input's channel count under `df`, if known.
    pub fn channels(&self, df: DataFormat) -> Option<i64> {
        self.input
            .get(df.channel_axis(self.input.len()))
            .copied()
            .flatten()
    }

    /// The input channel count, or Keras's error for creating `var` with an unknown
    /// dimension (`shape` is the variable's shape with `None` in place of the channels).
    pub fn need_channels(&self, df: DataFormat, var: &str, shape: &[Option<i64>]) -> R<i64> {
        self.channels(df).ok_or_else(|| {
            KerasError::build(format!(
                "Shapes used to initialize variables must be fully-defined (no `None` \
                 dimensions). Received: shape={} for variable path='{}/{var}'",
                pyfmt::tuple_opt(shape),
                self.name
            ))
        })
    }

    /// The receptive field of a layer that combines its inputs pixel by pixel into
    /// `out` (merges, operations on two tensors, concatenation along channels): the
    /// union of what the inputs' pixels see, an input of size 1 along an axis being
    /// broadcast (the same pixel for every output pixel).
    pub fn merged_rf(&self, out: &Shape) -> Option<ReceptiveField> {
        let spatial = (out.len() == 4).then(|| {
            if self.channels_first {
                DataFormat::ChannelsFirst
            } else {
                DataFormat::ChannelsLast
            }
            .spatial_axes()
        });
        let mut fields = Vec::with_capacity(self.inputs.len());
        for (shape, rf) in self.inputs.iter().zip(self.rfs) {
            let broadcast = spatial.map_or([true; 2], |axes| {
                axes.map(|a| {
                    // Aligned from the last axis, as NumPy broadcasts.
                    let dim = (shape.len() + a).checked_sub(out.len()).map(|i| shape[i]);
                    matches!(dim, None | Some(Some(1))) && out[a] != Some(1)
                })
            });
            fields.push(((*rf)?, broadcast));
        }
        let n = spatial.map_or([Some(1); 2], |axes| axes.map(|a| out[a]));
        ReceptiveField::union(&fields, n)
    }

    /// A layer whose output has the input's shape, and whose pixels see what the
    /// input's saw.
    pub fn same_shape(&self, r: &mut LayerReport) -> Shape {
        r.receptive_field = Some(self.rf);
        self.input.clone()
    }
}

/// An initializer of a built-in class with Keras's defaults.
pub fn initializer(class: &str) -> Option<crate::keras::objects::KerasObject> {
    crate::keras::objects::KerasObject::new(crate::keras::objects::ObjectKind::Initializer, class)
}

/// The product of `values`, or Keras-worded refusal when it overflows.
pub fn checked_product(values: &[i64]) -> R<i64> {
    values.iter().try_fold(1i64, |a, &b| {
        a.checked_mul(b).ok_or_else(|| {
            KerasError::build(
                "The layer's weights would have more elements than fit in memory (the element \
                 count overflows).",
            )
        })
    })
}

/// A float argument that may have been `None` (stored as NaN).
pub fn float_or_none(x: f64) -> String {
    if x.is_nan() {
        "None".into()
    } else {
        pyfmt::float(x)
    }
}

/// `Dropout`'s and `SpatialDropout2D`'s rate check.
pub fn dropout_rate(rate: f64) -> R<()> {
    if !(0.0..=1.0).contains(&rate) {
        return Err(KerasError::construct(format!(
            "Invalid value received for argument `rate`. Expected a float value between 0 \
             and 1. Received: rate={}",
            pyfmt::float(rate)
        )));
    }
    Ok(())
}

/// `standardize_tuple`'s value check (types were checked when reading).
pub fn tuple_check(p: &Pair, name: &str, allow_zero: bool) -> R<()> {
    let bad: Vec<i64> =
        p.v.iter()
            .copied()
            .filter(|&v| if allow_zero { v < 0 } else { v <= 0 })
            .collect();
    if bad.is_empty() {
        return Ok(());
    }
    Err(KerasError::construct(format!(
        "The `{name}` argument must be a tuple of 2 integers. Received {name}={}, \
         including values {} that do not satisfy `value {}`",
        p.given(),
        pyfmt::int_set(&bad),
        if allow_zero { ">= 0" } else { "> 0" }
    )))
}

/// Product of the two spatial dimensions of a rank-4 shape (unknown ones count as 0).
pub fn spatial_product(shape: &Shape, df: DataFormat) -> i64 {
    let [a, b] = df.spatial_axes();
    shape[a].unwrap_or(0).saturating_mul(shape[b].unwrap_or(0))
}

/// The rank-4 shape `(batch, h, w, c)` of `df`.
pub fn image_shape(
    batch: Option<i64>,
    hw: [Option<i64>; 2],
    c: Option<i64>,
    df: DataFormat,
) -> Shape {
    match df {
        DataFormat::ChannelsFirst => vec![batch, c, hw[0], hw[1]],
        DataFormat::ChannelsLast => vec![batch, hw[0], hw[1], c],
    }
}

/// A convolution's card: `Conv2D 32 · 3×3 · s2 · same · relu` (`lead` is the first part).
pub fn card_conv(lead: &str, c: &conv::ConvBase) -> String {
    format!(
        "{lead} · {}{} · {}{}",
        c.kernel_size.text(),
        card_strides(&c.strides),
        c.padding.as_str(),
        card_activation(&c.activation)
    )
}

/// ` · relu` for a card, nothing for `linear`.
pub fn card_activation(a: &str) -> String {
    if a == "linear" {
        String::new()
    } else {
        format!(" · {a}")
    }
}

/// ` · s2` for a card, nothing for stride 1.
pub fn card_strides(p: &Pair) -> String {
    if p.v == [1, 1] {
        String::new()
    } else if p.h() == p.w() {
        format!(" · s{}", p.h())
    } else {
        format!(" · s{}", p.text())
    }
}

// ----------------------------------------------------------------------------------
// Forward-pass helpers shared by the kinds.

/// A gradient `g` of a broadcast result reduced to an operand of `shape`: summed over
/// the leading axes the operand lacks and the axes where it has size 1 (NumPy's rule
/// read backwards).
pub fn unbroadcast(g: ArrayD<f32>, shape: &[usize]) -> Result<ArrayD<f32>, String> {
    if g.shape() == shape {
        return Ok(g);
    }
    let mut g = g;
    while g.ndim() > shape.len() {
        g = g.sum_axis(ndarray::Axis(0));
    }
    for (ax, &d) in shape.iter().enumerate() {
        if d == 1 && g.shape().get(ax).is_some_and(|&n| n != 1) {
            g = g.sum_axis(ndarray::Axis(ax)).insert_axis(ndarray::Axis(ax));
        }
    }
    if g.shape() != shape {
        return Err(format!(
            "a gradient of shape {:?} does not reduce to an operand of {:?}",
            g.shape(),
            shape
        ));
    }
    Ok(g)
}

/// A rank-4 input as NHWC (borrowed when it already is, the usual case).
pub fn to_nhwc(x: &ArrayD<f32>, df: DataFormat) -> Result<CowArray<'_, f32, Ix4>, String> {
    let v = x
        .view()
        .into_dimensionality::<Ix4>()
        .map_err(|_| format!("expected a rank-4 input, got shape {:?}", x.shape()))?;
    Ok(if df.is_first() {
        CowArray::from(
            v.permuted_axes([0, 2, 3, 1])
                .as_standard_layout()
                .into_owned(),
        )
    } else if v.is_standard_layout() {
        CowArray::from(v)
    } else {
        CowArray::from(v.as_standard_layout().into_owned())
    })
}

/// The receptive field after a layer whose every output sees the whole image of a rank-4
/// input (flatten, reshape, global pooling); unchanged for other ranks, `None` when the
/// image size is unknown.
pub fn rf_whole(cx: &Cx, df: DataFormat) -> Option<ReceptiveField> {
    if cx.input.len() != 4 {
        return Some(cx.rf);
    }
    let [h, w] = df.spatial_axes().map(|a| cx.input[a]);
    Some(cx.rf.through_whole([h? as f64, w? as f64]))
}

/// Runs `f` on the first input seen as NHWC and returns its result in the layer's own
/// layout: the frame of every spatial layer's `forward`.
pub fn in_nhwc(
    inputs: &[Arc<ArrayD<f32>>],
    df: DataFormat,
    f: impl FnOnce(ArrayView4<f32>) -> Result<Array4<f32>, String>,
) -> Result<ArrayD<f32>, String> {
    let x4 = to_nhwc(first(inputs)?, df)?;
    Ok(from_nhwc(f(x4.view())?, df))
}

/// An NHWC result back in the layer's layout.
pub fn from_nhwc(y: Array4<f32>, df: DataFormat) -> ArrayD<f32> {
    if df.is_first() {
        y.permuted_axes([0, 3, 1, 2])
            .as_standard_layout()
            .into_owned()
            .into_dyn()
    } else {
        y.into_dyn()
    }
}

/// Weight array `i` (named `what` in the message when missing).
pub fn weight<'a>(w: &'a [ArrayD<f32>], i: usize, what: &str) -> Result<&'a ArrayD<f32>, String> {
    w.get(i)
        .ok_or_else(|| format!("missing weight array {i} ({what})"))
}

/// A rank-4 kernel.
pub fn kernel4(a: &ArrayD<f32>) -> Result<ArrayView4<'_, f32>, String> {
    a.view()
        .into_dimensionality::<Ix4>()
        .map_err(|_| format!("kernel has shape {:?}, expected rank 4", a.shape()))
}

/// A weight array's values in order.
pub fn slice_of(a: &ArrayD<f32>) -> Result<&[f32], String> {
    a.as_slice()
        .ok_or_else(|| "weight array is not contiguous".to_string())
}

/// The bias (weight `i`) when the layer has one.
pub fn bias_of(w: &[ArrayD<f32>], use_bias: bool, i: usize) -> Result<Option<&[f32]>, String> {
    if use_bias {
        Ok(Some(slice_of(weight(w, i, "bias")?)?))
    } else {
        Ok(None)
    }
}

/// Keras's window for a convolution-like layer on an NHWC input.
pub fn window_on(x: &ArrayView4<f32>, a: &WindowArgs) -> Window {
    let (_, h, w, _) = x.dim();
    Window::keras(
        [h, w],
        a.kernel.dims(),
        a.strides.dims(),
        a.dilation.dims(),
        a.padding,
    )
}

/// The first input.
pub fn first(inputs: &[Arc<ArrayD<f32>>]) -> Result<&ArrayD<f32>, String> {
    inputs
        .first()
        .map(|a| a.as_ref())
        .ok_or_else(|| "layer has no input".to_string())
}
