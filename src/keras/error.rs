//! Keras's rejections: the message Keras raises and the stage it raises it at.

use serde::Serialize;

/// Where Keras raises an error: constructing the layer, building it on its input shape,
/// or only when really calling it on data (symbolic analysis accepts those).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Construct,
    Build,
    Call,
}

/// A Keras rejection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KerasError {
    pub stage: Stage,
    pub message: String,
}

impl KerasError {
    pub fn construct(message: impl Into<String>) -> KerasError {
        KerasError {
            stage: Stage::Construct,
            message: message.into(),
        }
    }
    pub fn build(message: impl Into<String>) -> KerasError {
        KerasError {
            stage: Stage::Build,
            message: message.into(),
        }
    }
}

/// Result type of the shape rules.
pub type R<T> = Result<T, KerasError>;
