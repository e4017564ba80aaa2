//! ConvNeXt's `LayerScale` (module `keras.src.applications.convnext`): the block's
//! output multiplied by a learned per-channel `gamma` before the residual add.

use super::torch::Torch;
use super::*;
use serde_json::json;

kind! {
    /// `keras.src.applications.convnext.LayerScale`.
    pub struct LayerScale: ["keras.src.applications.convnext.LayerScale"], Normalization,
        [IN_PALETTE = false, MODULE = "keras.src.applications.convnext"] {
        init_values: f64 = 1e-6 => Float, "Starting value of every gamma (ConvNeXt uses 1e-6).", required;
        projection_dim: i64 = 1 => Int, "Number of gammas: the channels of the input's last axis.", required;
    }
}

impl LayerSpec for LayerScale {
    fn build(&self, cx: &Cx, r: &mut LayerReport) -> R<Shape> {
        let last = cx.input.last().copied().flatten();
        // `x * gamma` broadcasts gamma (projection_dim,) against the last axis.
        if let Some(c) = last
            && c != self.projection_dim
            && self.projection_dim != 1
            && c != 1
        {
            return Err(cx.call_error(format!(
                "Incompatible shapes for broadcasting: {} and ({},)",
                pyfmt::tuple_opt(cx.input),
                self.projection_dim
            )));
        }
        let init = initializer("Constant").map(|mut o| {
            o.config.insert("value".into(), json!(self.init_values));
            o
        });
        r.weight("gamma", vec![self.projection_dim.max(0)], &init);
        Ok(cx.same_shape(r))
    }

    fn forward(&self, inputs: &[Arc<ArrayD<f32>>], w: &[ArrayD<f32>]) -> Result<ArrayD<f32>, String> {
        let x = first(inputs)?;
        let gamma = weight(w, 0, "gamma")?;
        let g = gamma
            .view()
            .into_dimensionality::<ndarray::Ix1>()
            .map_err(|e| e.to_string())?;
        let n = g.len();
        let mut y = x.as_standard_layout().into_owned();
        let ys = y.as_slice_mut().ok_or("LayerScale: non-contiguous output")?;
        if ys.len() % n.max(1) != 0 {
            return Err("LayerScale: gamma does not match the last axis".into());
        }
        for row in ys.chunks_exact_mut(n.max(1)) {
            for (v, s) in row.iter_mut().zip(g.iter()) {
                *v *= s;
            }
        }
        Ok(y)
    }

    fn backward(&self, bw: Backward) -> Result<Grads, String> {
        let x = first(bw.inputs)?;
        let gamma = slice_of(weight(bw.weights, 0, "gamma")?)?;
        let n = gamma.len().max(1);
        let mut dx = bw.dy.as_standard_layout().into_owned();
        let mut dg = vec![0f32; gamma.len()];
        let xs = x.as_standard_layout();
        let xs = xs.as_slice().ok_or("LayerScale: non-contiguous input")?;
        let ds = dx.as_slice_mut().ok_or("LayerScale: non-contiguous gradient")?;
        for (row, xr) in ds.chunks_exact_mut(n).zip(xs.chunks_exact(n)) {
            for ((g, s), (v, d)) in row.iter_mut().zip(gamma).zip(xr.iter().zip(dg.iter_mut())) {
                *d += *g * v;
                *g *= s;
            }
        }
        let weights = if bw.want_weights {
            vec![Some(ArrayD::from_shape_vec(ndarray::IxDyn(&[gamma.len()]), dg).unwrap_or_default())]
        } else {
            Vec::new()
        };
        Ok(Grads {
            inputs: vec![dx],
            weights,
        })
    }

    fn card(&self) -> String {
        format!("LayerScale {}", self.projection_dim)
    }

    fn torch(&self, t: &mut Torch) -> Result<(), String> {
        // `x * gamma` on Keras's last axis.
        t.as_keras();
        let m = t.m.clone();
        t.init(format!(
            "self.{m}_gamma = nn.Parameter(torch.full(({},), {}))",
            self.projection_dim.max(0),
            super::torch::py_float(self.init_values)
        ));
        t.fwd(format!("x = x * self.{m}_gamma"));
        let src = t.key(0);
        t.copy(&format!("{m}_gamma"), &src);
        Ok(())
    }
}
