//! `keras.layers.DepthwiseConv2D`: each input channel convolved with its own
//! `depth_multiplier` kernels.

use super::conv::{self, DEPTH_MULTIPLIER};
use super::torch::{self, Torch};
use super::*;
use crate::keras::args::WeightKeys;
use crate::kernels::{self, ConvOp};

pub(super) const DEPTHWISE: WeightKeys = crate::weight_keys!("depthwise");

conv_kind! {
    /// `keras.layers.DepthwiseConv2D`.
    pub struct DepthwiseConv2D: "DepthwiseConv2D" {
        depth_multiplier: i64 = 1 => Int(DEPTH_MULTIPLIER),
    }
    after_window {}
    after_format {}
    kernels { depthwise: DEPTHWISE }
}

impl LayerSpec for DepthwiseConv2D {
    fn build(&self, cx: &Cx, r: &mut LayerReport) -> R<Shape> {
        let b = &self.base;
        b.check()?;
        conv::positive("depth_multiplier", self.depth_multiplier)?;
        cx.min_ndim(4)?;
        let cin = cx.channels(b.data_format).ok_or_else(|| {
            KerasError::build("unsupported operand type(s) for *: 'int' and 'NoneType'")
        })?;
        let filters = cin.saturating_mul(self.depth_multiplier);
        let out = b.output(cx, filters, r)?;
        let kshape = conv::weight_shape(
            vec![
                b.kernel_size.h(),
                b.kernel_size.w(),
                cin,
                self.depth_multiplier,
            ],
            &self.depthwise.initializer,
        )?;
        r.macs = b
            .pixels(&out)
            .saturating_mul(filters)
            .saturating_mul(b.taps());
        r.weight("kernel", kshape, &self.depthwise.initializer);
        b.finish_report(filters, r);
        Ok(out)
    }

    fn forward(&self, inputs: &[Arc<ArrayD<f32>>], w: &[ArrayD<f32>]) -> Result<ArrayD<f32>, String> {
        let (x4, win) = self.base.input(inputs)?;
        let k = kernel4(weight(w, 0, "kernel")?)?;
        let bias = bias_of(w, self.base.use_bias, 1)?;
        self.base
            .output_of(kernels::depthwise(ConvOp::new(x4.view(), k, bias, &win)), false)
    }

    fn backward(&self, bw: Backward) -> Result<Grads, String> {
        let b = &self.base;
        let (x4, win) = b.input(bw.inputs)?;
        let k = kernel4(weight(bw.weights, 0, "kernel")?)?;
        let dz = b.grad_before_activation(bw.output, bw.dy, || {
            let bias = bias_of(bw.weights, b.use_bias, 1)?;
            let z = kernels::depthwise(ConvOp::new(x4.view(), k, bias, &win));
            Ok(from_nhwc(z, b.data_format))
        })?;
        let (dx, dk) = kernels::grad::depthwise_grads(x4.view(), k, dz.view(), &win, bw.want_weights);
        let mut weights = Vec::new();
        if let Some(dk) = dk {
            weights.push(Some(dk.into_dyn()));
            b.push_bias_grad(&dz, &mut weights);
        }
        Ok(Grads {
            inputs: vec![from_nhwc(dx, b.data_format)],
            weights,
        })
    }

    fn card(&self) -> String {
        card_conv(
            &format!("DepthwiseConv2D ×{}", self.depth_multiplier),
            &self.base,
        )
    }

    fn torch(&self, t: &mut Torch) -> Result<(), String> {
        let c = t.conv_start(&self.base)?;
        let m = t.m.clone();
        let bias = self.base.use_bias;
        torch::depthwise(t, &m, &c, self.depth_multiplier, bias);
        t.act(&self.base.activation)?;
        t.copy_weight(&m, 0, &torch::depthwise_weight(c.k));
        t.copy_bias(&m, bias, 1);
        Ok(())
    }

    fn kernel(&self) -> Option<KernelView> {
        Some(KernelView {
            layout: KernelLayout::Depthwise,
            presets: true,
        })
    }
}
