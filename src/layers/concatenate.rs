//! `keras.layers.Concatenate`: inputs joined along `axis`.

use super::torch::Torch;
use super::*;
use crate::keras::args::{Arg, ArgMut, Visitor};
use ndarray::Axis;

const AXIS: Arg = Arg::new("axis", "Axis the inputs are joined along (-1: channels for channels_last).");

#[derive(Clone, Debug, PartialEq)]
pub struct Concatenate {
    pub axis: i64,
}

impl Kind for Concatenate {
    const CLASSES: &'static [&'static str] = &["Concatenate"];
    const IN_PALETTE: bool = false;
    fn new(_: &str) -> Option<Self> {
        Some(Concatenate { axis: -1 })
    }
}

impl LayerSpec for Concatenate {
    fn class_name(&self) -> &'static str {
        "Concatenate"
    }

    fn args(&mut self, v: &mut dyn Visitor) {
        v.arg(&AXIS, ArgMut::Axis(&mut self.axis));
    }

    fn build(&self, cx: &Cx, r: &mut LayerReport) -> R<Shape> {
        let inputs = cx.inputs;
        let rank = inputs[0].len() as i64;
        let ax = if self.axis < 0 { self.axis + rank } else { self.axis };
        let shapes_str = || {
            format!(
                "[{}]",
                inputs
                    .iter()
                    .map(|s| pyfmt::tuple_opt(s))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        if ax < 0 || ax >= rank || inputs.iter().any(|s| s.len() as i64 != rank) {
            return Err(KerasError::build(format!(
                "A `Concatenate` layer should be called on a list of at least 1 input with \
                 matching ranks. Received: input_shape={}",
                shapes_str()
            )));
        }
        let ax = ax as usize;
        let mut out = inputs[0].clone();
        for s in &inputs[1..] {
            for i in 1..rank as usize {
                if i == ax {
                    out[i] = match (out[i], s[i]) {
                        (Some(a), Some(b)) => Some(a.saturating_add(b)),
                        _ => None,
                    };
                } else if let (Some(a), Some(b)) = (out[i], s[i])
                    && a != b
                {
                    return Err(KerasError::build(format!(
                        "A `Concatenate` layer requires inputs with matching shapes except for \
                         the concatenation axis. Received: input_shape={}",
                        shapes_str()
                    )));
                }
            }
        }
        r.receptive_field = None;
        Ok(out)
    }

    fn forward(&self, inputs: &[Arc<ArrayD<f32>>], _: &[ArrayD<f32>]) -> Result<ArrayD<f32>, String> {
        let rank = first(inputs)?.ndim() as i64;
        let ax = if self.axis < 0 { self.axis + rank } else { self.axis } as usize;
        let views: Vec<_> = inputs.iter().map(|a| a.view()).collect();
        ndarray::concatenate(Axis(ax), &views).map_err(|e| e.to_string())
    }

    fn card(&self) -> String {
        "Concatenate".into()
    }

    fn family(&self) -> Family {
        Family::Merge
    }

    fn torch(&self, _: &mut Torch) -> Result<(), String> {
        Err("merge layers are not exported (single chains only)".into())
    }

    fn takes_list(&self) -> bool {
        true
    }
}
