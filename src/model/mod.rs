//! The network: layers as a graph with stable ids ([`network`]) and what Keras says about
//! it ([`analysis`]: shapes, rejections, parameters, costs, layouts), where its
//! layers sit on the graph canvas ([`layout`]), the blocks that expand into
//! layers ([`blocks`]) and the groups the canvas collapses ([`groups`]). Pure: no ndarray,
//! no I/O; the kinds' own rules are in [`crate::layers`].

pub mod analysis;
pub mod blocks;
pub mod groups;
pub mod layout;
pub mod network;

pub use crate::keras::error::{KerasError, Stage};
pub use crate::keras::report::{LayerReport, WeightSpec};
pub use crate::keras::shape::{Pair, Shape};
pub use crate::layers::LayerKind;
pub use analysis::Analysis;
pub use network::{GraphError, Layer, LayerId, Network, default_dtype};
