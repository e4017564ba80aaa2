//! `keras.layers.SeparableConv2D`: a depthwise convolution, then a 1×1 convolution.

use super::conv::{
    self, ACTIVATION, ACTIVITY_REGULARIZER, DEPTH_MULTIPLIER, FILTERS, USE_BIAS,
};
use super::torch::{self, Torch, py_bool};
use super::*;
use crate::keras::args::{ArgMut, Visitor, WeightArgs, WeightKeys, object};
use crate::keras::geometry::Window;
use crate::keras::objects::{KerasObject, ObjectKind};
use crate::kernels::{self, Epilogue, activations};

const DEPTHWISE: WeightKeys = crate::weight_keys!("depthwise");
const POINTWISE: WeightKeys = crate::weight_keys!("pointwise");
const BIAS: WeightKeys = crate::weight_keys!("bias");

#[derive(Clone, Debug, PartialEq)]
pub struct SeparableConv2D {
    pub depth_multiplier: i64,
    pub filters: i64,
    pub kernel_size: Pair,
    pub strides: Pair,
    pub padding: Padding,
    pub data_format: DataFormat,
    pub dilation_rate: Pair,
    pub activation: String,
    pub use_bias: bool,
    pub depthwise: WeightArgs,
    pub pointwise: WeightArgs,
    pub bias: WeightArgs,
    pub activity_regularizer: Option<KerasObject>,
}

impl SeparableConv2D {
    fn win(&self) -> WindowArgs {
        WindowArgs {
            kernel: self.kernel_size,
            strides: self.strides,
            dilation: self.dilation_rate,
            padding: self.padding,
            data_format: self.data_format,
        }
    }
}

impl Kind for SeparableConv2D {
    const CLASSES: &'static [&'static str] = &["SeparableConv2D"];
    fn new(_: &str) -> Option<Self> {
        Some(SeparableConv2D {
            depth_multiplier: 1,
            filters: 32,
            kernel_size: Pair::square(3),
            strides: Pair::square(1),
            padding: Padding::Valid,
            data_format: DataFormat::ChannelsLast,
            dilation_rate: Pair::square(1),
            activation: "linear".into(),
            use_bias: true,
            depthwise: WeightArgs::with_init("GlorotUniform"),
            pointwise: WeightArgs::with_init("GlorotUniform"),
            bias: WeightArgs::with_init("Zeros"),
            activity_regularizer: None,
        })
    }
}

impl LayerSpec for SeparableConv2D {
    fn class_name(&self) -> &'static str {
        "SeparableConv2D"
    }

    fn args(&mut self, v: &mut dyn Visitor) {
        v.arg(&DEPTH_MULTIPLIER, ArgMut::Int(&mut self.depth_multiplier));
        v.arg(&FILTERS, ArgMut::Int(&mut self.filters));
        conv::visit_window(v, &mut self.kernel_size, &mut self.strides, &mut self.padding);
        conv::visit_format_dilation(v, &mut self.data_format, &mut self.dilation_rate);
        v.arg(&ACTIVATION, ArgMut::Activation(&mut self.activation));
        v.arg(&USE_BIAS, ArgMut::Bool(&mut self.use_bias));
        DEPTHWISE.visit_init(v, &mut self.depthwise);
        POINTWISE.visit_init(v, &mut self.pointwise);
        BIAS.visit_init(v, &mut self.bias);
        DEPTHWISE.visit_regularizer(v, &mut self.depthwise);
        POINTWISE.visit_regularizer(v, &mut self.pointwise);
        BIAS.visit_regularizer(v, &mut self.bias);
        object(
            v,
            &ACTIVITY_REGULARIZER,
            &mut self.activity_regularizer,
            ObjectKind::Regularizer,
        );
        DEPTHWISE.visit_constraint(v, &mut self.depthwise);
        POINTWISE.visit_constraint(v, &mut self.pointwise);
        BIAS.visit_constraint(v, &mut self.bias);
    }

    fn build(&self, cx: &Cx, r: &mut LayerReport) -> R<Shape> {
        conv::check_window(
            &self.kernel_size,
            &self.strides,
            &self.dilation_rate,
            &self.activation,
        )?;
        conv::positive("depth_multiplier", self.depth_multiplier)?;
        conv::positive("filters", self.filters)?;
        cx.min_ndim(4)?;
        let (kh, kw) = (Some(self.kernel_size.h()), Some(self.kernel_size.w()));
        let shape = [kh, kw, None, Some(self.depth_multiplier)];
        let cin = cx.need_channels(self.data_format, "depthwise_kernel", &shape)?;
        let out = conv::conv_output(cx, self.filters, &self.win(), r)?;
        let mid = cin.saturating_mul(self.depth_multiplier);
        let dshape = vec![
            self.kernel_size.h(),
            self.kernel_size.w(),
            cin,
            self.depth_multiplier,
        ];
        let pshape = vec![1, 1, mid, self.filters];
        conv::check_identity(&self.depthwise.initializer, &dshape)?;
        conv::check_identity(&self.pointwise.initializer, &pshape)?;
        checked_product(&dshape)?;
        checked_product(&pshape)?;
        let hw = spatial_product(&out, self.data_format);
        r.macs = hw
            .saturating_mul(mid)
            .saturating_mul(self.kernel_size.h().saturating_mul(self.kernel_size.w()))
            .saturating_add(hw.saturating_mul(mid).saturating_mul(self.filters));
        r.weight("depthwise_kernel", dshape, &self.depthwise.initializer);
        r.weight("pointwise_kernel", pshape, &self.pointwise.initializer);
        if self.use_bias {
            r.weight("bias", vec![self.filters], &self.bias.initializer);
        }
        conv::activation_warnings(&self.activation, Some(self.data_format), r);
        Ok(out)
    }

    fn forward(&self, inputs: &[Arc<ArrayD<f32>>], w: &[ArrayD<f32>]) -> Result<ArrayD<f32>, String> {
        let df = self.data_format;
        let x4 = to_nhwc(first(inputs)?, df)?;
        let win = window_on(&x4.view(), &self.win());
        let dk = kernel4(weight(w, 0, "depthwise_kernel")?)?;
        let pk = kernel4(weight(w, 1, "pointwise_kernel")?)?;
        let bias = bias_of(w, self.use_bias, 2)?;
        let mid = kernels::depthwise(x4.view(), dk, None, &win);
        let (_, mh, mw, _) = mid.dim();
        let pw = Window::keras([mh, mw], [1, 1], [1, 1], [1, 1], Padding::Valid);
        let ep = Epilogue::for_activation(&self.activation);
        let y = kernels::conv2d(mid.view(), pk, bias, &pw, 1, ep.unwrap_or(Epilogue::Linear));
        match ep {
            Some(_) => Ok(from_nhwc(y, df)),
            None => activations::apply(&self.activation, from_nhwc(y, df)),
        }
    }

    fn card(&self) -> String {
        format!(
            "SeparableConv2D {} · {}{} · {}{}",
            self.filters,
            self.kernel_size.text(),
            card_strides(&self.strides),
            self.padding.as_str(),
            card_activation(&self.activation)
        )
    }

    fn family(&self) -> Family {
        Family::Convolution
    }

    fn torch(&self, t: &mut Torch) -> Result<(), String> {
        t.ready_for(self.data_format);
        let cin = t.channels(self.data_format)?;
        let (k, s, d) = (self.kernel_size.v, self.strides.v, self.dilation_rate.v);
        let m = t.m.clone();
        let dw = format!("{m}_depthwise");
        let same = self.padding == Padding::Same;
        torch::depthwise(t, &dw, cin, self.depth_multiplier, k, s, d, same, false);
        t.init(format!(
            "self.{m}_pointwise = nn.Conv2d({}, {}, kernel_size=1, bias={})",
            cin * self.depth_multiplier,
            self.filters,
            py_bool(self.use_bias)
        ));
        t.fwd(format!("x = self.{m}_pointwise(x)"));
        t.act(&self.activation)?;
        let w0 = torch::depthwise_weight(&t.key(0), k);
        t.copy(&format!("{dw}.weight"), &w0);
        let w1 = format!("{}.permute(3, 2, 0, 1)", t.key(1));
        t.copy(&format!("{m}_pointwise.weight"), &w1);
        if self.use_bias {
            let key2 = t.key(2);
            t.copy(&format!("{m}_pointwise.bias"), &key2);
        }
        Ok(())
    }

    fn data_format(&self) -> Option<DataFormat> {
        Some(self.data_format)
    }

    fn activation(&self) -> Option<&str> {
        Some(&self.activation)
    }

    fn window(&self) -> Option<WindowArgs> {
        Some(self.win())
    }

    fn kernel(&self) -> Option<KernelView> {
        Some(KernelView {
            layout: KernelLayout::Depthwise,
            presets: false,
        })
    }
}
