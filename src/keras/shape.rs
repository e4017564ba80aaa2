//! Shapes and integer pairs as Keras writes them.

/// A batch shape, batch axis first; `None` is an unknown dimension.
pub type Shape = Vec<Option<i64>>;

/// A two-integer argument such as `kernel_size` or `strides`.
///
/// `scalar` remembers that it was given as one integer (`strides=2`), which only
/// changes how Keras quotes it in messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pair {
    pub v: [i64; 2],
    pub scalar: bool,
}

impl Pair {
    pub const fn square(x: i64) -> Pair {
        Pair {
            v: [x, x],
            scalar: false,
        }
    }
    pub const fn new(a: i64, b: i64) -> Pair {
        Pair {
            v: [a, b],
            scalar: false,
        }
    }
    pub fn h(&self) -> i64 {
        self.v[0]
    }
    pub fn w(&self) -> i64 {
        self.v[1]
    }
    /// How Keras quotes the value as it was given: `3` or `(3, 3)`.
    pub fn given(&self) -> String {
        if self.scalar {
            self.v[0].to_string()
        } else {
            super::pyfmt::tuple(&self.v)
        }
    }
    /// `3×3` or `3×1`, for cards.
    pub fn text(&self) -> String {
        format!("{}×{}", self.h(), self.w())
    }
    /// The values as engine sizes (non-positive ones, which the analysis refuses,
    /// become 1).
    pub fn dims(&self) -> [usize; 2] {
        self.v
            .map(|x| usize::try_from(x.max(1)).unwrap_or(usize::MAX))
    }
}

/// Product of the non-batch dimensions (unknown dimensions count as 0), saturating.
pub fn elements(shape: &[Option<i64>]) -> i64 {
    shape
        .iter()
        .skip(1)
        .map(|d| d.unwrap_or(0))
        .fold(1i64, |a, b| a.saturating_mul(b))
}
