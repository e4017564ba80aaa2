//! The layer model: pure data and Keras's rules. No egui, no ndarray, no I/O.
//!
//! - [`layer`]: one spec per Keras layer class, every argument editable;
//! - [`objects`]: activations, initializers, regularizers, constraints;
//! - [`analysis`]: output shapes, Keras-worded rejections, parameters and costs;
//! - [`network`]: the ordered stack (or Functional graph) of layers.

pub mod analysis;
pub mod layer;
pub mod network;
pub mod objects;
pub mod pyfmt;

pub use analysis::{Analysis, KerasError, LayerReport, Stage};
pub use layer::{Layer, LayerKind, Pair, Shape};
pub use network::Network;
