//! `keras.layers.DepthwiseConv2D`: each input channel convolved with its own
//! `depth_multiplier` kernels.

use super::conv::{self, ACTIVATION, ACTIVITY_REGULARIZER, DEPTH_MULTIPLIER, USE_BIAS};
use super::torch::{self, Torch};
use super::*;
use crate::keras::args::{ArgMut, Visitor, WeightArgs, WeightKeys, object};
use crate::keras::objects::{KerasObject, ObjectKind};
use crate::kernels::{self, activations};

const DEPTHWISE: WeightKeys = crate::weight_keys!("depthwise");
const BIAS: WeightKeys = crate::weight_keys!("bias");

#[derive(Clone, Debug, PartialEq)]
pub struct DepthwiseConv2D {
    pub depth_multiplier: i64,
    pub kernel_size: Pair,
    pub strides: Pair,
    pub padding: Padding,
    pub data_format: DataFormat,
    pub dilation_rate: Pair,
    pub activation: String,
    pub use_bias: bool,
    pub depthwise: WeightArgs,
    pub bias: WeightArgs,
    pub activity_regularizer: Option<KerasObject>,
}

impl DepthwiseConv2D {
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

impl Kind for DepthwiseConv2D {
    const CLASSES: &'static [&'static str] = &["DepthwiseConv2D"];
    fn new(_: &str) -> Option<Self> {
        Some(DepthwiseConv2D {
            depth_multiplier: 1,
            kernel_size: Pair::square(3),
            strides: Pair::square(1),
            padding: Padding::Valid,
            data_format: DataFormat::ChannelsLast,
            dilation_rate: Pair::square(1),
            activation: "linear".into(),
            use_bias: true,
            depthwise: WeightArgs::with_init("GlorotUniform"),
            bias: WeightArgs::with_init("Zeros"),
            activity_regularizer: None,
        })
    }
}

impl LayerSpec for DepthwiseConv2D {
    fn class_name(&self) -> &'static str {
        "DepthwiseConv2D"
    }

    fn args(&mut self, v: &mut dyn Visitor) {
        v.arg(&DEPTH_MULTIPLIER, ArgMut::Int(&mut self.depth_multiplier));
        conv::visit_window(v, &mut self.kernel_size, &mut self.strides, &mut self.padding);
        conv::visit_format_dilation(v, &mut self.data_format, &mut self.dilation_rate);
        v.arg(&ACTIVATION, ArgMut::Activation(&mut self.activation));
        v.arg(&USE_BIAS, ArgMut::Bool(&mut self.use_bias));
        DEPTHWISE.visit_init(v, &mut self.depthwise);
        BIAS.visit_init(v, &mut self.bias);
        DEPTHWISE.visit_regularizer(v, &mut self.depthwise);
        BIAS.visit_regularizer(v, &mut self.bias);
        object(
            v,
            &ACTIVITY_REGULARIZER,
            &mut self.activity_regularizer,
            ObjectKind::Regularizer,
        );
        DEPTHWISE.visit_constraint(v, &mut self.depthwise);
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
        cx.min_ndim(4)?;
        let cin = cx.channels(self.data_format).ok_or_else(|| {
            KerasError::build("unsupported operand type(s) for *: 'int' and 'NoneType'")
        })?;
        let filters = cin.saturating_mul(self.depth_multiplier);
        let out = conv::conv_output(cx, filters, &self.win(), r)?;
        let kshape = conv::weight_shape(
            vec![
                self.kernel_size.h(),
                self.kernel_size.w(),
                cin,
                self.depth_multiplier,
            ],
            &self.depthwise.initializer,
        )?;
        r.macs = spatial_product(&out, self.data_format)
            .saturating_mul(filters)
            .saturating_mul(self.kernel_size.h().saturating_mul(self.kernel_size.w()));
        r.weight("kernel", kshape, &self.depthwise.initializer);
        if self.use_bias {
            r.weight("bias", vec![filters], &self.bias.initializer);
        }
        conv::activation_warnings(&self.activation, Some(self.data_format), r);
        Ok(out)
    }

    fn forward(&self, inputs: &[Arc<ArrayD<f32>>], w: &[ArrayD<f32>]) -> Result<ArrayD<f32>, String> {
        let df = self.data_format;
        let x4 = to_nhwc(first(inputs)?, df)?;
        let win = window_on(&x4.view(), &self.win());
        let k = kernel4(weight(w, 0, "kernel")?)?;
        let bias = bias_of(w, self.use_bias, 1)?;
        let y = kernels::depthwise(x4.view(), k, bias, &win);
        activations::apply(&self.activation, from_nhwc(y, df))
    }

    fn card(&self) -> String {
        format!(
            "DepthwiseConv2D ×{} · {}{} · {}{}",
            self.depth_multiplier,
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
        let same = self.padding == Padding::Same;
        torch::depthwise(t, &m, cin, self.depth_multiplier, k, s, d, same, self.use_bias);
        t.act(&self.activation)?;
        let w0 = torch::depthwise_weight(&t.key(0), k);
        t.copy(&format!("{m}.weight"), &w0);
        if self.use_bias {
            let key1 = t.key(1);
            t.copy(&format!("{m}.bias"), &key1);
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
            presets: true,
        })
    }
}
