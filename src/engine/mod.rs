//! The engine: turns a [`crate::model::Network`] plus weights into activations.
//!
//! - [`ops`]: numeric kernels (im2col + GEMM convolution, pooling, resizing) on NHWC;
//! - [`activations`]: Keras's activation functions;
//! - [`forward`]: per-layer semantics and the (resumable) forward pass;
//! - [`weights`]: weights from `.keras`/`.h5`/`.npz` or seeded Keras initializers;
//! - [`init`]: the initializers themselves;
//! - [`presets`]: hand-made filters (Sobel, Laplacian, Gaussian, Gabor) for convolutions.
//!
//! No egui here; the app runs this on a worker thread.

pub mod activations;
pub mod forward;
pub mod init;
pub mod ops;
pub mod presets;
pub mod weights;

pub use forward::{EngineError, LayerRun, LayerWeights, run, run_from};
