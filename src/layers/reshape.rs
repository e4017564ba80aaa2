//! `keras.layers.Reshape`: every sample to `target_shape` (one `-1` is inferred).

use super::torch::Torch;
use super::*;
use ndarray::IxDyn;

kind! {
    /// `keras.layers.Reshape`.
    pub struct Reshape: ["Reshape"], Shape, [BUILD_CONFIG = false] {
        target_shape: Vec<i64> = vec![-1] => Ints, "The new shape of each sample (batch axis excluded); one -1 is inferred from the size.", required;
    }
}

impl Reshape {
    /// `validate_reshape_shape`: dimensions ≥ 0, or one `-1`.
    fn validate(&self) -> R<()> {
        let ts = pyfmt::tuple(&self.target_shape);
        if self.target_shape.iter().any(|&d| d < -1) {
            return Err(KerasError::construct(format!(
                "Each dimension in `target_shape` must be a non-negative integer, or `-1` for \
                 a single unknown dimension. Received: target_shape={ts}."
            )));
        }
        if self.target_shape.iter().filter(|&&d| d == -1).count() > 1 {
            return Err(KerasError::construct(format!(
                "There must be at most one unknown dimension (-1) in `target_shape`. \
                 Received: target_shape={ts}."
            )));
        }
        Ok(())
    }

    /// `compute_reshape_output_shape` on one sample's shape.
    fn resolve(&self, sample: &[Option<i64>]) -> Result<Vec<Option<i64>>, String> {
        let ts = &self.target_shape;
        if sample.iter().any(|d| d.is_none()) {
            return Ok(ts.iter().map(|&d| (d != -1).then_some(d)).collect());
        }
        let dims: Vec<i64> = sample.iter().flatten().copied().collect();
        let size = dims.iter().fold(1i64, |a, &b| a.saturating_mul(b));
        let received = format!(
            "Received: input_shape={}, target_shape={}",
            pyfmt::tuple(&dims),
            pyfmt::tuple(ts)
        );
        let Some(unknown) = ts.iter().position(|&d| d == -1) else {
            if size != ts.iter().fold(1i64, |a, &b| a.saturating_mul(b)) {
                return Err(format!(
                    "The total size of the tensor must be unchanged. {received}"
                ));
            }
            return Ok(ts.iter().map(|&d| Some(d)).collect());
        };
        let known = ts
            .iter()
            .filter(|&&d| d != -1)
            .fold(1i64, |a, &b| a.saturating_mul(b));
        if known == 0 || size % known != 0 {
            return Err(format!(
                "The total size of the tensor must be unchanged, however, the input size \
                 cannot by divided by the specified dimensions in target_shape. {received}"
            ));
        }
        let mut out: Vec<Option<i64>> = ts.iter().map(|&d| Some(d)).collect();
        out[unknown] = Some(size / known);
        Ok(out)
    }
}

impl LayerSpec for Reshape {
    fn build(&self, cx: &Cx, r: &mut LayerReport) -> R<Shape> {
        self.validate()?;
        let input = cx.input;
        let sample = self
            .resolve(input.get(1..).unwrap_or(&[]))
            .map_err(|m| cx.call_error(m))?;
        r.receptive_field = rf_whole(cx, DataFormat::ChannelsLast);
        Ok(std::iter::once(input.first().copied().flatten())
            .chain(sample)
            .collect())
    }

    fn forward(&self, inputs: &[Arc<ArrayD<f32>>], _: &[ArrayD<f32>]) -> Result<ArrayD<f32>, String> {
        let x = first(inputs)?;
        let (batch, rest) = x.shape().split_first().ok_or("Reshape needs a batch axis")?;
        let sample: Vec<Option<i64>> = rest.iter().map(|&d| Some(d as i64)).collect();
        let mut shape = vec![*batch];
        for d in self.resolve(&sample)? {
            shape.push(d.ok_or("unknown dimension")?.max(0) as usize);
        }
        x.as_standard_layout()
            .into_owned()
            .into_shape_with_order(IxDyn(&shape))
            .map_err(|e| e.to_string())
    }

    fn backward(&self, bw: Backward) -> Result<Grads, String> {
        let x = first(bw.inputs)?;
        let dy = bw.dy.as_standard_layout().into_owned();
        Ok(Grads::input(dy.into_shape_with_order(x.raw_dim()).map_err(|e| e.to_string())?))
    }

    fn card(&self) -> String {
        format!("Reshape {}", pyfmt::tuple(&self.target_shape))
    }

    fn torch(&self, t: &mut Torch) -> Result<(), String> {
        t.as_keras();
        let dims: Vec<String> = self.target_shape.iter().map(|d| d.to_string()).collect();
        t.fwd(format!("x = x.reshape(x.shape[0], {})", dims.join(", ")));
        t.flow.permuted = false;
        Ok(())
    }
}
