//! `keras.layers.Concatenate`: inputs joined along `axis`.

use super::torch::Torch;
use super::*;
use ndarray::Axis;

kind! {
    /// `keras.layers.Concatenate`.
    pub struct Concatenate: ["Concatenate"], Merge, [IN_PALETTE = false, TAKES_LIST = true] {
        axis: i64 = -1 => Axis, "Axis the inputs are joined along (-1: channels for channels_last).";
    }
}

impl LayerSpec for Concatenate {
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
        // Joined along the channels, a pixel sees what each input's pixel sees.
        let channels = if cx.channels_first { 1 } else { rank as usize - 1 };
        r.receptive_field = if ax == channels || rank != 4 {
            cx.merged_rf(&out)
        } else {
            None
        };
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

    fn torch(&self, _: &mut Torch) -> Result<(), String> {
        Err("merge layers are not exported (single chains only)".into())
    }
}
