//! The arithmetic operations of `keras.ops.numpy` that a Functional model records when
//! its code writes `x + 3.0`, `x * y` or `ops.divide(x, 6)` (MobileNetV3's hard-swish,
//! ConvNeXt's residual adds): `Add`, `Subtract`, `Multiply`, `Divide`, `TrueDivide`.
//!
//! They are not the merge layers of the same class name: Keras writes them with module
//! `keras.src.ops.numpy`, their two operands are the call's positional arguments, and
//! either may be a plain number, which Keras keeps in the inbound node (not in the
//! config). Shapes broadcast as NumPy does (`broadcast_shapes`, batch axis included).

use super::torch::{Torch, py_float};
use super::*;
use crate::keras::args::Visitor;

/// Where Keras's operations live, as its files name the module.
pub const OPS_MODULE: &str = "keras.src.ops.numpy";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Subtract,
    Multiply,
    Divide,
    TrueDivide,
}

impl OpKind {
    /// Each operation and its class name (the last part of its `CLASSES` entry).
    const ALL: [(OpKind, &'static str); 5] = [
        (OpKind::Add, "Add"),
        (OpKind::Subtract, "Subtract"),
        (OpKind::Multiply, "Multiply"),
        (OpKind::Divide, "Divide"),
        (OpKind::TrueDivide, "TrueDivide"),
    ];

    fn class_name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(k, _)| *k == self)
            .map_or("Add", |(_, c)| c)
    }

    fn apply(self, a: f32, b: f32) -> f32 {
        match self {
            OpKind::Add => a + b,
            OpKind::Subtract => a - b,
            OpKind::Multiply => a * b,
            OpKind::Divide | OpKind::TrueDivide => a / b,
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            OpKind::Add => "+",
            OpKind::Subtract => "-",
            OpKind::Multiply => "*",
            OpKind::Divide | OpKind::TrueDivide => "/",
        }
    }
}

/// A number given to the operation in place of a tensor, and where.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Constant {
    /// 0: the first operand (`3.0 - x`), 1: the second (`x - 3.0`).
    pub position: usize,
    pub value: f64,
    /// Written as a Python `int` (`x * 2`), not a `float`.
    pub integer: bool,
}

/// One arithmetic operation.
#[derive(Clone, Debug, PartialEq)]
pub struct NumpyOp {
    pub op: OpKind,
    /// `None`: both operands are tensors (the layer's two inputs).
    pub constant: Option<Constant>,
}

impl Kind for NumpyOp {
    const CLASSES: &'static [&'static str] = &[
        "keras.src.ops.numpy.Add",
        "keras.src.ops.numpy.Subtract",
        "keras.src.ops.numpy.Multiply",
        "keras.src.ops.numpy.Divide",
        "keras.src.ops.numpy.TrueDivide",
    ];
    const FAMILY: Family = Family::Merge;
    const IN_PALETTE: bool = false;
    const BUILD_CONFIG: bool = false;
    const HEADER: ConfigHeader = ConfigHeader::NameOnly;
    const MODULE: &'static str = OPS_MODULE;

    fn new(class: &str) -> Option<Self> {
        let short = class.strip_prefix(OPS_MODULE)?.strip_prefix('.')?;
        OpKind::ALL
            .iter()
            .find(|(_, c)| *c == short)
            .map(|(op, _)| NumpyOp {
                op: *op,
                constant: None,
            })
    }

    fn class_name(&self) -> &'static str {
        self.op.class_name()
    }
}

/// An operation's config is its name alone.
impl Args for NumpyOp {
    fn args(&mut self, _: &mut dyn Visitor) {}

    fn constant_operand(&self) -> Option<Constant> {
        self.constant
    }

    fn set_constant_operand(&mut self, c: Constant) -> bool {
        self.constant = Some(c);
        true
    }
}

/// Keras's `broadcast_shapes` (`ops/operation_utils.py`), its asymmetry with `None`
/// included.
pub(super) fn broadcast_shapes(a: &[Option<i64>], b: &[Option<i64>]) -> R<Shape> {
    let n = a.len().max(b.len());
    let pad = |s: &[Option<i64>]| -> Vec<Option<i64>> {
        std::iter::repeat_n(Some(1), n - s.len())
            .chain(s.iter().copied())
            .collect()
    };
    let (s1, s2) = (pad(a), pad(b));
    let mut out = s1.clone();
    for i in 0..n {
        out[i] = match (s1[i], s2[i]) {
            (Some(1), y) => y,
            (None, y) => y.filter(|&y| y != 1),
            (Some(x), y) if y == Some(1) || y.is_none() || y == Some(x) => Some(x),
            (Some(x), y) => {
                let list = |s: &[Option<i64>]| {
                    let items: Vec<String> = s
                        .iter()
                        .map(|d| d.map_or("None".into(), |d| d.to_string()))
                        .collect();
                    format!("[{}]", items.join(", "))
                };
                return Err(KerasError::build(format!(
                    "Cannot broadcast shape, the failure dim has value {x}, which cannot be \
                     broadcasted to {}. Input shapes are: {} and {}.",
                    y.map_or("None".into(), |y| y.to_string()),
                    list(a),
                    list(b)
                )));
            }
        };
    }
    Ok(out)
}

impl LayerSpec for NumpyOp {
    fn build(&self, cx: &Cx, r: &mut LayerReport) -> R<Shape> {
        let operands = cx.inputs.len() + usize::from(self.constant.is_some());
        if operands != 2 {
            return Err(KerasError::build(format!(
                "{}.call() takes 2 operands; the model gives it {operands}",
                self.op.class_name()
            )));
        }
        if self.constant.is_some() {
            return Ok(cx.same_shape(r));
        }
        let out = broadcast_shapes(&cx.inputs[0], &cx.inputs[1])?;
        r.receptive_field = cx.merged_rf(&out);
        Ok(out)
    }

    fn forward(&self, inputs: &[Arc<ArrayD<f32>>], _: &[ArrayD<f32>]) -> Result<ArrayD<f32>, String> {
        let op = self.op;
        if let Some(c) = self.constant {
            let v = c.value as f32;
            let x = first(inputs)?;
            return Ok(if c.position == 0 {
                x.mapv(|a| op.apply(v, a))
            } else {
                x.mapv(|a| op.apply(a, v))
            });
        }
        let [a, b] = inputs else {
            return Err(format!("{} needs two operands", op.class_name()));
        };
        let n = a.ndim().max(b.ndim());
        let dims = |x: &ArrayD<f32>| -> Vec<usize> {
            std::iter::repeat_n(1, n - x.ndim())
                .chain(x.shape().iter().copied())
                .collect()
        };
        let (da, db) = (dims(a), dims(b));
        let out: Vec<usize> = da.iter().zip(&db).map(|(&x, &y)| x.max(y)).collect();
        let shape = ndarray::IxDyn(&out);
        let ba = a
            .broadcast(shape.clone())
            .ok_or("operands of incompatible shapes")?;
        let bb = b.broadcast(shape).ok_or("operands of incompatible shapes")?;
        Ok(ndarray::Zip::from(&ba)
            .and(&bb)
            .map_collect(|&x, &y| op.apply(x, y)))
    }

    /// The operation's partial derivatives; each tensor operand's gradient summed over
    /// the axes it was broadcast along.
    fn backward(&self, bw: Backward) -> Result<Grads, String> {
        let op = self.op;
        // d(a op b)/da and /db at (a, b).
        let partial = move |a: f32, b: f32| -> (f32, f32) {
            match op {
                OpKind::Add => (1.0, 1.0),
                OpKind::Subtract => (1.0, -1.0),
                OpKind::Multiply => (b, a),
                OpKind::Divide | OpKind::TrueDivide => (1.0 / b, -a / (b * b)),
            }
        };
        if let Some(c) = self.constant {
            let v = c.value as f32;
            let x = first(bw.inputs)?;
            let dx = ndarray::Zip::from(&bw.dy).and(x).map_collect(|&g, &a| {
                g * if c.position == 0 { partial(v, a).1 } else { partial(a, v).0 }
            });
            return Ok(Grads::input(dx));
        }
        let [a, b] = bw.inputs else {
            return Err(format!("{} needs two operands", op.class_name()));
        };
        let shape = bw.dy.raw_dim();
        let ba = a.broadcast(shape.clone()).ok_or("operands of incompatible shapes")?;
        let bb = b.broadcast(shape).ok_or("operands of incompatible shapes")?;
        let mut ga = bw.dy.clone();
        let mut gb = bw.dy;
        ndarray::Zip::from(&mut ga).and(&mut gb).and(&ba).and(&bb).for_each(|ga, gb, &x, &y| {
            let (pa, pb) = partial(x, y);
            *ga *= pa;
            *gb *= pb;
        });
        Ok(Grads {
            inputs: vec![unbroadcast(ga, a.shape())?, unbroadcast(gb, b.shape())?],
            weights: Vec::new(),
        })
    }

    fn card(&self) -> String {
        let s = self.op.symbol();
        match self.constant {
            Some(c) if c.position == 0 => format!("{} {s} x", py_float(c.value)),
            Some(c) => format!("x {s} {}", py_float(c.value)),
            None => format!("x {s} y"),
        }
    }

    fn torch(&self, t: &mut Torch) -> Result<(), String> {
        let s = self.op.symbol();
        match self.constant {
            Some(c) if c.position == 0 => t.fwd(format!("x = {} {s} x", py_float(c.value))),
            Some(c) => t.fwd(format!("x = x {s} {}", py_float(c.value))),
            None => return Err("operations on two tensors have no PyTorch translation yet".into()),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_broadcast_as_keras_does() {
        let s = |v: &[i64]| -> Shape { v.iter().map(|&d| (d >= 0).then_some(d)).collect() };
        assert_eq!(
            broadcast_shapes(&s(&[-1, 4, 4, 2]), &s(&[-1, 1, 1, 2])).unwrap(),
            s(&[-1, 4, 4, 2])
        );
        assert_eq!(broadcast_shapes(&s(&[-1, 3]), &s(&[3])).unwrap(), s(&[-1, 3]));
        // None against 1 stays None; None against 5 becomes 5.
        assert_eq!(broadcast_shapes(&s(&[-1]), &s(&[1])).unwrap(), s(&[-1]));
        assert_eq!(broadcast_shapes(&s(&[-1]), &s(&[5])).unwrap(), s(&[5]));
        assert_eq!(
            broadcast_shapes(&s(&[-1, 4, 2]), &s(&[-1, 4, 3]))
                .unwrap_err()
                .message,
            "Cannot broadcast shape, the failure dim has value 2, which cannot be broadcasted \
             to 3. Input shapes are: [None, 4, 2] and [None, 4, 3]."
        );
    }
}
