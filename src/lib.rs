//! convscope: design convolutional networks the way Keras sees them, and look inside.
//!
//! One-way data flow: [`io`] reads files into a [`model::Network`]; [`model`] says what
//! Keras would say about it (shapes, parameters, rejections); the app and the CLI only
//! present what those produce; [`viz`] turns activations into pictures for both.

#[cfg(feature = "gui")]
pub mod app;
pub mod cli;
pub mod engine;
pub mod io;
pub mod model;
pub mod runner;
pub mod viz;
