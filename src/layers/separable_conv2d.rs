//! `keras.layers.SeparableConv2D`: a depthwise convolution, then a 1×1 convolution.

use super::conv::{self, DEPTH_MULTIPLIER, FILTERS};
use super::depthwise_conv2d::DEPTHWISE;
use super::torch::{self, Torch, py_bool};
use super::*;
use crate::keras::args::WeightKeys;
use crate::kernels::{self, ConvOp, Epilogue};

const POINTWISE: WeightKeys = crate::weight_keys!("pointwise");

conv_kind! {
    /// `keras.layers.SeparableConv2D`.
    pub struct SeparableConv2D: "SeparableConv2D" {
        depth_multiplier: i64 = 1 => Int(DEPTH_MULTIPLIER),
        filters: i64 = 32 => Int(FILTERS),
    }
    after_window {}
    after_format {}
    kernels { depthwise: DEPTHWISE, pointwise: POINTWISE }
}

impl LayerSpec for SeparableConv2D {
    fn build(&self, cx: &Cx, r: &mut LayerReport) -> R<Shape> {
        let b = &self.base;
        b.check()?;
        conv::positive("depth_multiplier", self.depth_multiplier)?;
        conv::positive("filters", self.filters)?;
        cx.min_ndim(4)?;
        let (kh, kw) = (b.kernel_size.h(), b.kernel_size.w());
        let shape = [Some(kh), Some(kw), None, Some(self.depth_multiplier)];
        let cin = cx.need_channels(b.data_format, "depthwise_kernel", &shape)?;
        let out = b.output(cx, self.filters, r)?;
        let mid = cin.saturating_mul(self.depth_multiplier);
        let dshape = conv::weight_shape(
            vec![kh, kw, cin, self.depth_multiplier],
            &self.depthwise.initializer,
        )?;
        let pshape =
            conv::weight_shape(vec![1, 1, mid, self.filters], &self.pointwise.initializer)?;
        let hw = b.pixels(&out).saturating_mul(mid);
        r.macs = hw
            .saturating_mul(b.taps())
            .saturating_add(hw.saturating_mul(self.filters));
        r.weight("depthwise_kernel", dshape, &self.depthwise.initializer);
        r.weight("pointwise_kernel", pshape, &self.pointwise.initializer);
        b.finish_report(self.filters, r);
        Ok(out)
    }

    fn forward(&self, inputs: &[Arc<ArrayD<f32>>], w: &[ArrayD<f32>]) -> Result<ArrayD<f32>, String> {
        let b = &self.base;
        let (x4, win) = b.input(inputs)?;
        let dk = kernel4(weight(w, 0, "depthwise_kernel")?)?;
        let pk = kernel4(weight(w, 1, "pointwise_kernel")?)?;
        let bias = bias_of(w, b.use_bias, 2)?;
        let mid = kernels::depthwise(ConvOp::new(x4.view(), dk, None, &win));
        let (_, mh, mw, _) = mid.dim();
        let pw = Window::keras([mh, mw], [1, 1], [1, 1], [1, 1], Padding::Valid);
        let ep = Epilogue::for_activation(&b.activation);
        let y = kernels::conv2d(
            ConvOp::new(mid.view(), pk, bias, &pw),
            1,
            ep.unwrap_or(Epilogue::Linear),
        );
        b.output_of(y, ep.is_some())
    }

    fn backward(&self, bw: Backward) -> Result<Grads, String> {
        let b = &self.base;
        let (x4, win) = b.input(bw.inputs)?;
        let dk = kernel4(weight(bw.weights, 0, "depthwise_kernel")?)?;
        let pk = kernel4(weight(bw.weights, 1, "pointwise_kernel")?)?;
        let mid = kernels::depthwise(ConvOp::new(x4.view(), dk, None, &win));
        let (_, mh, mw, _) = mid.dim();
        let pw = Window::keras([mh, mw], [1, 1], [1, 1], [1, 1], Padding::Valid);
        let dz = b.grad_before_activation(bw.output, bw.dy, || {
            let bias = bias_of(bw.weights, b.use_bias, 2)?;
            let z = kernels::conv2d(ConvOp::new(mid.view(), pk, bias, &pw), 1, Epilogue::Linear);
            Ok(from_nhwc(z, b.data_format))
        })?;
        let dmid = kernels::grad::conv2d_input_grad(dz.view(), pk, 1, &pw, [mid.dim().0, mh, mw, mid.dim().3]);
        let (dx, ddk) =
            kernels::grad::depthwise_grads(x4.view(), dk, dmid.view(), &win, bw.want_weights);
        let mut weights = Vec::new();
        if let Some(ddk) = ddk {
            weights.push(Some(ddk.into_dyn()));
            let (kh, kw, ci, co) = pk.dim();
            let dpk = kernels::grad::conv2d_kernel_grad(mid.view(), dz.view(), [kh, kw, ci, co], 1, &pw);
            weights.push(Some(dpk.into_dyn()));
            b.push_bias_grad(&dz, &mut weights);
        }
        Ok(Grads {
            inputs: vec![from_nhwc(dx, b.data_format)],
            weights,
        })
    }

    fn card(&self) -> String {
        card_conv(&format!("SeparableConv2D {}", self.filters), &self.base)
    }

    fn torch(&self, t: &mut Torch) -> Result<(), String> {
        let c = t.conv_start(&self.base)?;
        let m = t.m.clone();
        let (dw, pw) = (format!("{m}_depthwise"), format!("{m}_pointwise"));
        torch::depthwise(t, &dw, &c, self.depth_multiplier, false);
        t.init(format!(
            "self.{pw} = nn.Conv2d({}, {}, kernel_size=1, bias={})",
            c.cin * self.depth_multiplier,
            self.filters,
            py_bool(self.base.use_bias)
        ));
        t.fwd(format!("x = self.{pw}(x)"));
        t.act(&self.base.activation)?;
        t.copy_weight(&dw, 0, &torch::depthwise_weight(c.k));
        t.copy_weight(&pw, 1, ".permute(3, 2, 0, 1)");
        t.copy_bias(&pw, self.base.use_bias, 2);
        Ok(())
    }

    fn kernel(&self) -> Option<KernelView> {
        Some(KernelView {
            layout: KernelLayout::Depthwise,
            presets: false,
        })
    }
}
