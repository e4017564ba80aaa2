//! convscope: design convolutional networks the way Keras sees them, and look inside.
//!
//! The modules in their layers (each uses only the ones above it; `ARCHITECTURE.md`
//! draws the picture and follows an edit from keystroke to pixels):
//!
//! - [`keras`]: Keras's vocabulary — shapes, geometry, named objects, errors, arguments;
//! - [`kernels`]: numbers on NHWC tensors (convolution strategies, pooling, activations);
//! - [`layers`]: one module per layer kind, and the registry of kinds;
//! - [`model`]: the network as a graph, and what Keras says about it (the analysis);
//! - [`engine`]: forward and backward passes over the graph, weight initializers and
//!   presets;
//! - [`explain`], [`visualize`]: attribution maps (why the network decides) and feature
//!   visualization (what a channel looks for), from the engine's passes;
//! - [`io`]: every file format in and out;
//! - [`compare`]: what differs between two designs (`convscope diff`, the compare view);
//! - [`runner`], [`viz`]: headless runs and pictures of activations, for the CLI and app;
//! - [`progress`]: progress counts and cancellation of long work (weights read, layers
//!   run), shared by the thread doing it and the window;
//! - [`cli`] and `app` (the window): the two front ends.

#[cfg(feature = "gui")]
pub mod app;
pub mod cli;
pub mod compare;
pub mod engine;
pub mod explain;
pub mod io;
pub mod keras;
pub mod kernels;
pub mod layers;
pub mod model;
pub mod progress;
pub mod runner;
pub mod train;
pub mod visualize;
pub mod viz;
