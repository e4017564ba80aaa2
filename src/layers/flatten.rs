//! `keras.layers.Flatten`: every sample to one vector, in channels-last order.

use super::torch::Torch;
use super::*;
use ndarray::IxDyn;

kind! {
    /// `keras.layers.Flatten`.
    pub struct Flatten: ["Flatten"], Shape {
        data_format: DataFormat = DataFormat::ChannelsLast => DataFormat, "The layout of the input: channels_first is moved to channels_last before flattening.";
    }
    data_format: data_format
}

impl LayerSpec for Flatten {
    fn build(&self, cx: &Cx, r: &mut LayerReport) -> R<Shape> {
        cx.min_ndim(1)?;
        let input = cx.input;
        let rest = &input[1..];
        let flat = if rest.is_empty() {
            Some(1)
        } else if rest.iter().any(|d| d.is_none()) {
            None
        } else {
            Some(checked_product(
                &rest.iter().map(|d| d.unwrap_or(0)).collect::<Vec<_>>(),
            )?)
        };
        r.receptive_field = rf_whole(cx, self.data_format);
        Ok(vec![input[0], flat])
    }

    fn forward(&self, inputs: &[Arc<ArrayD<f32>>], _: &[ArrayD<f32>]) -> Result<ArrayD<f32>, String> {
        let x = first(inputs)?;
        let n = x.shape().first().copied().unwrap_or(0);
        let src = if self.data_format.is_first() && x.ndim() >= 3 {
            // Keras moves channels last before flattening.
            let mut perm: Vec<usize> = vec![0];
            perm.extend(2..x.ndim());
            perm.push(1);
            x.view()
                .permuted_axes(IxDyn(&perm))
                .as_standard_layout()
                .into_owned()
        } else {
            x.as_standard_layout().into_owned()
        };
        let len = src.len() / n.max(1);
        src.into_shape_with_order(IxDyn(&[n, len]))
            .map_err(|e| e.to_string())
    }

    /// The gradient reshaped back (through Keras's move of channels last).
    fn backward(&self, bw: Backward) -> Result<Grads, String> {
        let x = first(bw.inputs)?;
        let dy = bw.dy.as_standard_layout().into_owned();
        if self.data_format.is_first() && x.ndim() >= 3 {
            let mut perm: Vec<usize> = vec![0];
            perm.extend(2..x.ndim());
            perm.push(1);
            let moved: Vec<usize> = perm.iter().map(|&a| x.shape()[a]).collect();
            let mut inverse = vec![0; perm.len()];
            for (i, &p) in perm.iter().enumerate() {
                inverse[p] = i;
            }
            let g = dy.into_shape_with_order(IxDyn(&moved)).map_err(|e| e.to_string())?;
            return Ok(Grads::input(g.permuted_axes(IxDyn(&inverse)).as_standard_layout().into_owned()));
        }
        Ok(Grads::input(dy.into_shape_with_order(x.raw_dim()).map_err(|e| e.to_string())?))
    }

    fn card(&self) -> String {
        "Flatten".into()
    }

    fn torch(&self, t: &mut Torch) -> Result<(), String> {
        t.as_keras();
        if self.data_format.is_first() && t.flow.rank >= 3 {
            let mut perm = vec![0usize];
            perm.extend(2..t.flow.rank);
            perm.push(1);
            let p: Vec<String> = perm.iter().map(|d| d.to_string()).collect();
            t.fwd(format!(
                "x = x.permute({})  # Keras moves channels last first",
                p.join(", ")
            ));
        }
        t.fwd("x = torch.flatten(x, 1)");
        Ok(())
    }
}
