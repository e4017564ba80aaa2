//! The element-wise merge layers of a Functional model: `Add`, `Subtract`, `Multiply`,
//! `Average`, `Maximum`, `Minimum` (with Keras's broadcasting of size-1 axes).

use super::torch::Torch;
use super::*;
use crate::keras::args::Visitor;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MergeKind {
    Add,
    Subtract,
    Multiply,
    Average,
    Maximum,
    Minimum,
}

impl MergeKind {
    pub const ALL: [MergeKind; 6] = [
        MergeKind::Add,
        MergeKind::Subtract,
        MergeKind::Multiply,
        MergeKind::Average,
        MergeKind::Maximum,
        MergeKind::Minimum,
    ];
    pub fn class_name(self) -> &'static str {
        match self {
            MergeKind::Add => "Add",
            MergeKind::Subtract => "Subtract",
            MergeKind::Multiply => "Multiply",
            MergeKind::Average => "Average",
            MergeKind::Maximum => "Maximum",
            MergeKind::Minimum => "Minimum",
        }
    }
    fn combine(self, a: f32, b: f32) -> f32 {
        match self {
            MergeKind::Add | MergeKind::Average => a + b,
            MergeKind::Subtract => a - b,
            MergeKind::Multiply => a * b,
            MergeKind::Maximum => a.max(b),
            MergeKind::Minimum => a.min(b),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Merge {
    pub mode: MergeKind,
}

impl Kind for Merge {
    const CLASSES: &'static [&'static str] =
        &["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"];
    const FAMILY: Family = Family::Merge;
    const TAKES_LIST: bool = true;
    fn new(class: &str) -> Option<Self> {
        MergeKind::ALL
            .into_iter()
            .find(|m| m.class_name() == class)
            .map(|mode| Merge { mode })
    }

    fn class_name(&self) -> &'static str {
        self.mode.class_name()
    }
}

/// The merges have no arguments of their own.
impl Args for Merge {
    fn args(&mut self, _: &mut dyn Visitor) {}
}

impl LayerSpec for Merge {
    fn build(&self, cx: &Cx, r: &mut LayerReport) -> R<Shape> {
        let inputs = cx.inputs;
        let mut out = cx.input.clone();
        for s in &inputs[1..] {
            let a = &out[1..];
            let b = &s[1..];
            let compatible = a.len() == b.len()
                && a.iter().zip(b).all(|(x, y)| match (x, y) {
                    (Some(x), Some(y)) => x == y || *x == 1 || *y == 1,
                    _ => true,
                });
            if !compatible {
                return Err(KerasError::build(format!(
                    "Inputs have incompatible shapes. Received shapes {} and {}",
                    pyfmt::tuple_opt(a),
                    pyfmt::tuple_opt(b)
                )));
            }
            for (i, d) in s.iter().enumerate().skip(1) {
                out[i] = match (out[i], *d) {
                    (Some(1), y) => y,
                    (x, Some(1)) => x,
                    (Some(x), _) => Some(x),
                    (None, y) => y,
                };
            }
        }
        r.receptive_field = cx.merged_rf(&out);
        Ok(out)
    }

    fn forward(&self, inputs: &[Arc<ArrayD<f32>>], _: &[ArrayD<f32>]) -> Result<ArrayD<f32>, String> {
        let mut acc = first(inputs)?.clone();
        for other in &inputs[1..] {
            let b = other
                .broadcast(acc.raw_dim())
                .ok_or("Inputs have incompatible shapes")?;
            ndarray::Zip::from(&mut acc)
                .and(&b)
                .for_each(|a, &v| *a = self.mode.combine(*a, v));
        }
        if self.mode == MergeKind::Average {
            let n = inputs.len() as f32;
            acc.mapv_inplace(|v| v / n);
        }
        Ok(acc)
    }

    fn card(&self) -> String {
        self.mode.class_name().into()
    }

    fn torch(&self, t: &mut Torch) -> Result<(), String> {
        let a = &t.args;
        if a.is_empty() {
            return Err("a merge layer needs its inputs".into());
        }
        let fold = |f: &str| {
            a[1..]
                .iter()
                .fold(a[0].clone(), |acc, e| format!("torch.{f}({acc}, {e})"))
        };
        let e = match self.mode {
            MergeKind::Add => a.join(" + "),
            MergeKind::Subtract if a.len() == 2 => format!("{} - {}", a[0], a[1]),
            MergeKind::Subtract => return Err("Subtract takes exactly 2 inputs".into()),
            MergeKind::Multiply => a.join(" * "),
            MergeKind::Average => format!("({}) / {}", a.join(" + "), a.len()),
            MergeKind::Maximum => fold("maximum"),
            MergeKind::Minimum => fold("minimum"),
        };
        t.fwd(format!("x = {e}"));
        Ok(())
    }
}
