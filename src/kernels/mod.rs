//! Numbers on NHWC `f32` tensors, one file per strategy (as tract's `ops/cnn/conv/`):
//! im2col + GEMM ([`im2col`]), register-tiled direct convolution ([`direct`]),
//! Winograd F(4×4,3×3)/F(2×2,3×3) ([`winograd`]), the choice between them ([`conv`]),
//! depthwise ([`depthwise`]) and transposed ([`transposed`]) convolution, pooling,
//! resampling, element-wise passes, the fused bias/activation [`epilogue`], Keras's
//! [`activations`], and the one matrix product everything ends in ([`gemm`]).
//!
//! Pure functions of arrays and a [`crate::keras::geometry::Window`]: which padding or
//! layout a layer means is its kind's business (`crate::layers`). Every fast path is
//! checked against the naive reference convolution by property tests (`tests.rs`).

pub mod activations;
pub mod conv;
pub mod depthwise;
pub mod direct;
pub mod elementwise;
pub mod epilogue;
pub mod gemm;
pub mod grad;
pub mod im2col;
pub mod pooling;
pub mod resample;
pub mod transposed;
pub mod winograd;

#[cfg(test)]
mod tests;

use crate::keras::geometry::Window;
use ndarray::ArrayView4;

/// One convolution's operands: the NHWC input, the kernel (HWIO, or each kind's own
/// layout), the bias to add, and the window; and the element-wise steps of the layers
/// that follow it (`then`: BatchNormalization, ReLU…), applied by the kernel to each block
/// of output after its epilogue, while the block is in cache.
#[derive(Clone, Copy)]
pub struct ConvOp<'a> {
    pub x: ArrayView4<'a, f32>,
    pub kernel: ArrayView4<'a, f32>,
    pub bias: Option<&'a [f32]>,
    pub win: &'a Window,
    pub then: &'a [Pointwise],
}

impl<'a> ConvOp<'a> {
    pub fn new(
        x: ArrayView4<'a, f32>,
        kernel: ArrayView4<'a, f32>,
        bias: Option<&'a [f32]>,
        win: &'a Window,
    ) -> ConvOp<'a> {
        ConvOp {
            x,
            kernel,
            bias,
            win,
            then: &[],
        }
    }

    /// The same convolution followed by `steps` (each [`Pointwise::fits`] its output).
    pub fn then(self, steps: &'a [Pointwise]) -> ConvOp<'a> {
        ConvOp {
            then: steps,
            ..self
        }
    }
}

pub use conv::conv2d;
pub use depthwise::depthwise;
pub use elementwise::{Pointwise, add_bias, for_chunks};
pub use epilogue::Epilogue;
pub use pooling::pool;
pub use resample::{crop, resize_bilinear, upsample_nearest, zero_pad};
pub use transposed::conv_transpose;
