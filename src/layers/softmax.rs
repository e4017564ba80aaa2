//! `keras.layers.Softmax`: softmax along `axis`.

use super::torch::Torch;
use super::*;
use crate::keras::args::Axes;
use crate::kernels::activations;

kind! {
    /// `keras.layers.Softmax`.
    pub struct Softmax: ["Softmax"], Activation, [BUILD_CONFIG = false] {
        axis: Axes = Axes::one(-1) => Axes, "Axis (or axes) the softmax normalises over (-1: the last).";
    }
}

impl LayerSpec for Softmax {
    fn build(&self, cx: &Cx, r: &mut LayerReport) -> R<Shape> {
        let rank = cx.input.len() as i64;
        for &axis in &self.axis.v {
            if axis >= rank || axis < -rank {
                r.warnings.push(format!(
                    "Softmax axis {axis} is out of range for an input of rank {rank}: Keras \
                     accepts the layer but fails when it runs."
                ));
            }
        }
        Ok(cx.same_shape(r))
    }

    fn forward(&self, inputs: &[Arc<ArrayD<f32>>], _: &[ArrayD<f32>]) -> Result<ArrayD<f32>, String> {
        activations::softmax_layer(first(inputs)?.clone(), &self.axis.v)
    }

    /// `dx = y ⊙ (dy − Σ_axes dy ⊙ y)`.
    fn backward(&self, bw: Backward) -> Result<Grads, String> {
        let y = bw.output;
        let rank = y.ndim() as i64;
        let mut axes: Vec<usize> = self
            .axis
            .v
            .iter()
            .map(|&a| (if a < 0 { a + rank } else { a }).clamp(0, rank.max(1) - 1) as usize)
            .collect();
        axes.sort_unstable();
        axes.dedup();
        let mut dot = &bw.dy * y;
        for &ax in axes.iter().rev() {
            dot = dot.sum_axis(ndarray::Axis(ax)).insert_axis(ndarray::Axis(ax));
        }
        let dot = dot.broadcast(y.raw_dim()).ok_or("softmax: shapes do not broadcast")?;
        Ok(Grads::input(ndarray::Zip::from(y).and(&bw.dy).and(&dot).map_collect(|&y, &g, &d| y * (g - d))))
    }

    fn card(&self) -> String {
        "Softmax".into()
    }

    fn torch(&self, t: &mut Torch) -> Result<(), String> {
        let [axis] = self.axis.v[..] else {
            return Err("a softmax over several axes has no PyTorch counterpart in this export".into());
        };
        let d = t.dim(axis);
        t.fwd(format!("x = F.softmax(x, dim={d})"));
        Ok(())
    }
}
