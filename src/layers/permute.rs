//! `keras.layers.Permute`: reorders the axes of every sample (`dims` counts from 1; the
//! batch axis stays first).

use super::torch::Torch;
use super::*;

kind! {
    /// `keras.layers.Permute`.
    pub struct Permute: ["Permute"], Shape {
        dims: Vec<i64> = vec![1] => Ints, "The new order of the sample's axes, counted from 1 (the batch axis is not included): (2, 1) swaps the two axes of a 2-D sample.", required;
    }
}

impl Permute {
    /// `Permute.__init__`: `dims` must be a permutation of 1…n. (Keras prints `dims` as
    /// given: a tuple from code, a list when read from a file; the tuple is shown.)
    fn validate(&self) -> R<()> {
        let mut sorted = self.dims.clone();
        sorted.sort_unstable();
        if !sorted.iter().zip(1..).all(|(&d, i)| d == i) {
            return Err(KerasError::construct(format!(
                "Invalid permutation argument `dims` for Permute Layer. The set of indices in \
                 `dims` must be consecutive and start from 1. Received dims={}",
                pyfmt::tuple(&self.dims)
            )));
        }
        Ok(())
    }

    /// The axes of the whole tensor in their new order: `(0,) + dims`.
    fn axes(&self) -> Vec<usize> {
        std::iter::once(0)
            .chain(self.dims.iter().map(|&d| d.max(0) as usize))
            .collect()
    }
}

impl LayerSpec for Permute {
    fn build(&self, cx: &Cx, r: &mut LayerReport) -> R<Shape> {
        self.validate()?;
        cx.ndim(self.dims.len() + 1)?;
        // A permutation that keeps the spatial axes in place (channels_last images keep
        // axes 1 and 2) keeps the receptive field; any other mixes rows and columns.
        r.receptive_field = if self.dims.len() == 3 && self.dims[..2] == [1, 2] {
            Some(cx.rf)
        } else {
            rf_whole(cx, DataFormat::ChannelsLast)
        };
        Ok(self.axes().iter().map(|&a| cx.input[a]).collect())
    }

    fn forward(&self, inputs: &[Arc<ArrayD<f32>>], _: &[ArrayD<f32>]) -> Result<ArrayD<f32>, String> {
        let x = first(inputs)?;
        let axes = self.axes();
        if axes.len() != x.ndim() {
            return Err(format!(
                "Permute with dims {} needs a rank-{} input, got rank {}",
                pyfmt::tuple(&self.dims),
                axes.len(),
                x.ndim()
            ));
        }
        Ok(x.view()
            .permuted_axes(ndarray::IxDyn(&axes))
            .as_standard_layout()
            .into_owned())
    }

    /// The gradient through the inverse permutation.
    fn backward(&self, bw: Backward) -> Result<Grads, String> {
        let axes = self.axes();
        let mut inverse = vec![0; axes.len()];
        for (i, &p) in axes.iter().enumerate() {
            if let Some(v) = inverse.get_mut(p) {
                *v = i;
            }
        }
        if axes.len() != bw.dy.ndim() {
            return Err("Permute: the gradient's rank differs from the permutation's".into());
        }
        Ok(Grads::input(bw.dy.permuted_axes(ndarray::IxDyn(&inverse)).as_standard_layout().into_owned()))
    }

    fn card(&self) -> String {
        format!("Permute {}", pyfmt::tuple(&self.dims))
    }

    fn torch(&self, t: &mut Torch) -> Result<(), String> {
        t.as_keras();
        let axes: Vec<String> = self.axes().iter().map(|a| a.to_string()).collect();
        t.fwd(format!("x = x.permute({})", axes.join(", ")));
        t.flow.permuted = false;
        Ok(())
    }
}
