//! What follows a convolution's or Dense layer's matrix product while the block is still in
//! cache: the bias, then an element-wise activation.

use super::activations;

/// What follows a convolution's GEMM on each block of output rows while it is still in
/// cache: the bias, then an element-wise activation.
#[derive(Clone, Copy)]
pub enum Epilogue {
    Linear,
    Relu,
    Map(fn(f32) -> f32),
}

impl Epilogue {
    /// The epilogue computing Keras activation `name`, if it is element-wise.
    pub fn for_activation(name: &str) -> Option<Epilogue> {
        match name {
            "linear" => Some(Epilogue::Linear),
            "relu" => Some(Epilogue::Relu),
            n => activations::elementwise(n).map(Epilogue::Map),
        }
    }

    /// Adds `bias` (one value per column) to every `cols`-wide row of `block`, then
    /// applies the activation.
    #[inline]
    pub fn apply(self, block: &mut [f32], cols: usize, bias: Option<&[f32]>) {
        if cols == 0 {
            return;
        }
        match (self, bias) {
            (Epilogue::Linear, None) => {}
            (Epilogue::Linear, Some(b)) => {
                for row in block.chunks_exact_mut(cols) {
                    for (v, b) in row.iter_mut().zip(b) {
                        *v += b;
                    }
                }
            }
            (Epilogue::Relu, None) => {
                for v in block.iter_mut() {
                    *v = v.max(0.0);
                }
            }
            (Epilogue::Relu, Some(b)) => {
                for row in block.chunks_exact_mut(cols) {
                    for (v, b) in row.iter_mut().zip(b) {
                        *v = (*v + b).max(0.0);
                    }
                }
            }
            (Epilogue::Map(f), b) => {
                for row in block.chunks_exact_mut(cols) {
                    match b {
                        Some(b) => {
                            for (v, b) in row.iter_mut().zip(b) {
                                *v = f(*v + b);
                            }
                        }
                        None => {
                            for v in row.iter_mut() {
                                *v = f(*v);
                            }
                        }
                    }
                }
            }
        }
    }
}
