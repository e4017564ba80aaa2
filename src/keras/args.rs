//! The argument schema. Each layer kind declares its Keras arguments once, in
//! `get_config()` order, by showing each of them to a [`Visitor`]: the key, its tooltip,
//! whether Keras requires it, and a typed mutable reference to the value ([`ArgMut`]).
//!
//! Every consumer of arguments is a visitor: the config reader and writer
//! ([`crate::io::config`]), which the Python export builds on, and the inspector's fields
//! (the app). A new argument is one line in its kind's `args`, and a new argument
//! *type* is a new [`ArgMut`] variant that every visitor must handle (its `match` has no
//! wildcard), so nothing is forgotten.

use super::geometry::{DataFormat, Padding};
use super::objects::{KerasObject, ObjectKind};
use super::shape::{Pair, Shape};

use serde_json::Value;

/// One argument's declaration.
#[derive(Clone, Copy, Debug)]
pub struct Arg {
    /// The `get_config()` key.
    pub key: &'static str,
    /// What it does, in one sentence (the inspector's tooltip).
    pub tip: &'static str,
    /// Keras's constructor has no default for it: a config without it is refused, and
    /// the Python export always spells it out.
    pub required: bool,
    /// Another name the reader accepts for it (Keras 2's `alpha` for `negative_slope`).
    pub alias: Option<&'static str>,
    /// Written only when it has a value (Keras's base `Layer.get_config` adds
    /// `activity_regularizer` only when one is set).
    pub only_if_set: bool,
    /// Keras's message when the value has the wrong type (`{}` is the value), where it
    /// differs from the generic one.
    pub type_error: Option<&'static str>,
}

impl Arg {
    pub const fn new(key: &'static str, tip: &'static str) -> Arg {
        Arg {
            key,
            tip,
            required: false,
            alias: None,
            only_if_set: false,
            type_error: None,
        }
    }
    pub const fn required(self) -> Arg {
        Arg {
            required: true,
            ..self
        }
    }
    pub const fn alias(self, alias: &'static str) -> Arg {
        Arg {
            alias: Some(alias),
            ..self
        }
    }
    pub const fn only_if_set(self) -> Arg {
        Arg {
            only_if_set: true,
            ..self
        }
    }
    pub const fn type_error(self, template: &'static str) -> Arg {
        Arg {
            type_error: Some(template),
            ..self
        }
    }
}

/// `ZeroPadding2D`'s `padding` and `Cropping2D`'s `cropping`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Amounts {
    /// `[[top, bottom], [left, right]]`
    pub v: [[i64; 2]; 2],
    /// How the amounts were given (Keras checks the forms differently).
    pub form: AmountForm,
}

/// The three ways Keras accepts `padding`/`cropping`: `1`, `(1, 2)`, `((1, 2), (3, 4))`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AmountForm {
    Int,
    Symmetric,
    Full,
}

/// An axis or a tuple of axes (Softmax's `axis`), remembering which form it was given in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Axes {
    pub v: Vec<i64>,
    pub list: bool,
}

impl Axes {
    pub fn one(axis: i64) -> Axes {
        Axes {
            v: vec![axis],
            list: false,
        }
    }
}

/// A typed, mutable view of one argument's value.
pub enum ArgMut<'a> {
    Int(&'a mut i64),
    /// An integer Keras also takes as a one-element list (`axis=[3]`).
    Axis(&'a mut i64),
    /// An integer or a tuple of integers (Softmax's `axis`).
    Axes(&'a mut Axes),
    /// An integer or None (`seed`).
    OptInt(&'a mut Option<i64>),
    Float(&'a mut f64),
    /// A float whose None Keras refuses in the layer's own words: None is kept as NaN
    /// for the shape rule to report.
    FloatOrNone(&'a mut f64),
    /// A float or None (`max_value`).
    OptFloat(&'a mut Option<f64>),
    Bool(&'a mut bool),
    /// A string kept as given (checked by the shape rule), with the values the
    /// inspector offers.
    Text(&'a mut String, &'static [&'static str]),
    /// The same, lower-cased on construction (`interpolation`).
    LowerText(&'a mut String, &'static [&'static str]),
    /// A convolution's padding (lower-cased and checked on construction).
    Padding(&'a mut Padding),
    DataFormat(&'a mut DataFormat),
    Activation(&'a mut String),
    Pair(&'a mut Pair),
    /// A pair that may be None (`output_padding`).
    OptPair(&'a mut Option<Pair>),
    /// A pair whose None means `fallback` (pooling `strides`: None is `pool_size`, and
    /// Keras writes `pool_size` then).
    PairOr {
        value: &'a mut Option<Pair>,
        fallback: Pair,
    },
    /// An initializer, regularizer or constraint; `None` is allowed unless the kind
    /// says otherwise (`nullable`).
    Object {
        value: &'a mut Option<KerasObject>,
        kind: ObjectKind,
        nullable: bool,
    },
    Amounts(&'a mut Amounts),
    /// InputLayer's batch shape.
    Shape(&'a mut Shape),
    /// A tuple of integers (Reshape's `target_shape`).
    Ints(&'a mut Vec<i64>),
    /// Kept verbatim (`renorm_clipping`, `noise_shape`).
    Json(&'a mut Value),
}

impl<'a> ArgMut<'a> {
    /// An initializer argument (never None in the inspector).
    pub fn initializer(value: &'a mut Option<KerasObject>) -> ArgMut<'a> {
        ArgMut::Object {
            value,
            kind: ObjectKind::Initializer,
            nullable: false,
        }
    }

    /// A regularizer argument (None: no penalty).
    pub fn regularizer(value: &'a mut Option<KerasObject>) -> ArgMut<'a> {
        ArgMut::Object {
            value,
            kind: ObjectKind::Regularizer,
            nullable: true,
        }
    }

    /// A constraint argument (None: unconstrained).
    pub fn constraint(value: &'a mut Option<KerasObject>) -> ArgMut<'a> {
        ArgMut::Object {
            value,
            kind: ObjectKind::Constraint,
            nullable: true,
        }
    }
}

/// Something that looks at a kind's arguments.
pub trait Visitor {
    fn arg(&mut self, arg: &Arg, value: ArgMut<'_>);

    /// A key Keras writes and convscope keeps no value of: the reader accepts it, the
    /// writer writes `value` (Dense's `quantization_config: null`), or nothing when
    /// `value` is `None` (`fused`, Keras 2's leftovers).
    fn fixed(&mut self, _key: &'static str, _value: Option<Value>) {}
}

/// The initializer/regularizer/constraint triple of one weight (`kernel_initializer`,
/// `kernel_regularizer`, `kernel_constraint`).
#[derive(Clone, Debug, PartialEq)]
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

/// The three keys of one weight's [`WeightArgs`].
pub struct WeightKeys {
    pub initializer: Arg,
    pub regularizer: Arg,
    pub constraint: Arg,
}

/// Declares the keys of a weight's [`WeightArgs`] (`weight_keys!("kernel")`).
#[macro_export]
macro_rules! weight_keys {
    ($prefix:literal) => {
        $crate::keras::args::WeightKeys {
            initializer: $crate::keras::args::Arg::new(
                concat!($prefix, "_initializer"),
                "How the weights are drawn before training.",
            ),
            regularizer: $crate::keras::args::Arg::new(
                concat!($prefix, "_regularizer"),
                "Penalty added to the loss during training.",
            ),
            constraint: $crate::keras::args::Arg::new(
                concat!($prefix, "_constraint"),
                "Projection applied to the weights after each update.",
            ),
        }
    };
}

impl WeightKeys {
    /// Shows the initializer of `w` (its regularizer and constraint come later in
    /// Keras's order: see [`WeightKeys::visit_rest`]).
    pub fn visit_init(&self, v: &mut dyn Visitor, w: &mut WeightArgs) {
        v.arg(&self.initializer, ArgMut::initializer(&mut w.initializer));
    }
    pub fn visit_regularizer(&self, v: &mut dyn Visitor, w: &mut WeightArgs) {
        v.arg(&self.regularizer, ArgMut::regularizer(&mut w.regularizer));
    }
    pub fn visit_constraint(&self, v: &mut dyn Visitor, w: &mut WeightArgs) {
        v.arg(&self.constraint, ArgMut::constraint(&mut w.constraint));
    }
}
