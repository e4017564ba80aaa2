//! Keras's vocabulary, shared by every layer kind: shapes and integer pairs, window
//! geometry (padding, data format, output sizes, taps, receptive fields), activations,
//! initializers, regularizers and constraints, Keras's errors, Python's spelling of
//! values, the per-layer report, and the argument schema each kind declares.
//!
//! Pure data and rules: no ndarray, no I/O, and no other module of the crate.

pub mod args;
pub mod error;
pub mod geometry;
pub mod objects;
pub mod pyfmt;
pub mod report;
pub mod shape;
