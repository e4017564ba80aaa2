//! `keras.layers.Conv2D`: a 2-D convolution, with groups, dilation and both layouts.

use super::conv::{self, ACTIVATION, ACTIVITY_REGULARIZER, FILTERS, USE_BIAS};
use super::torch::{Torch, pair, py_bool};
use super::*;
use crate::keras::args::{Arg, ArgMut, Visitor, WeightArgs, WeightKeys, object};
use crate::keras::objects::{KerasObject, ObjectKind};
use crate::kernels::{self, Epilogue, activations};

const GROUPS: Arg = Arg::new(
    "groups",
    "Split input channels into groups convolved separately; filters and input channels must divide by it.",
);
const KERNEL: WeightKeys = crate::weight_keys!("kernel");
const BIAS: WeightKeys = crate::weight_keys!("bias");

#[derive(Clone, Debug, PartialEq)]
pub struct Conv2D {
    pub filters: i64,
    pub kernel_size: Pair,
    pub strides: Pair,
    pub padding: Padding,
    pub data_format: DataFormat,
    pub dilation_rate: Pair,
    pub groups: i64,
    pub activation: String,
    pub use_bias: bool,
    pub kernel: WeightArgs,
    pub bias: WeightArgs,
    pub activity_regularizer: Option<KerasObject>,
}

impl Conv2D {
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

impl Kind for Conv2D {
    const CLASSES: &'static [&'static str] = &["Conv2D"];
    fn new(_: &str) -> Option<Self> {
        Some(Conv2D {
            filters: 32,
            kernel_size: Pair::square(3),
            strides: Pair::square(1),
            padding: Padding::Valid,
            data_format: DataFormat::ChannelsLast,
            dilation_rate: Pair::square(1),
            groups: 1,
            activation: "linear".into(),
            use_bias: true,
            kernel: WeightArgs::with_init("GlorotUniform"),
            bias: WeightArgs::with_init("Zeros"),
            activity_regularizer: None,
        })
    }
}

impl LayerSpec for Conv2D {
    fn class_name(&self) -> &'static str {
        "Conv2D"
    }

    fn args(&mut self, v: &mut dyn Visitor) {
        v.arg(&FILTERS, ArgMut::Int(&mut self.filters));
        conv::visit_window(v, &mut self.kernel_size, &mut self.strides, &mut self.padding);
        conv::visit_format_dilation(v, &mut self.data_format, &mut self.dilation_rate);
        v.arg(&GROUPS, ArgMut::Int(&mut self.groups));
        v.arg(&ACTIVATION, ArgMut::Activation(&mut self.activation));
        v.arg(&USE_BIAS, ArgMut::Bool(&mut self.use_bias));
        KERNEL.visit_init(v, &mut self.kernel);
        BIAS.visit_init(v, &mut self.bias);
        KERNEL.visit_regularizer(v, &mut self.kernel);
        BIAS.visit_regularizer(v, &mut self.bias);
        object(
            v,
            &ACTIVITY_REGULARIZER,
            &mut self.activity_regularizer,
            ObjectKind::Regularizer,
        );
        KERNEL.visit_constraint(v, &mut self.kernel);
        BIAS.visit_constraint(v, &mut self.bias);
    }

    fn build(&self, cx: &Cx, r: &mut LayerReport) -> R<Shape> {
        let w = self.win();
        conv::check_window(
            &self.kernel_size,
            &self.strides,
            &self.dilation_rate,
            &self.activation,
        )?;
        conv::positive("filters", self.filters)?;
        if self.groups <= 0 {
            return Err(KerasError::construct(format!(
                "The number of groups must be a positive integer. Received: groups={}.",
                self.groups
            )));
        }
        if self.filters % self.groups != 0 {
            return Err(KerasError::construct(format!(
                "The number of filters must be evenly divisible by the number of groups. \
                 Received: groups={}, filters={}.",
                self.groups, self.filters
            )));
        }
        conv::strides_dilation(&self.strides, &self.dilation_rate)?;
        cx.min_ndim(4)?;
        let cin = cx.channels(self.data_format).ok_or_else(|| {
            KerasError::build("unsupported operand type(s) for %: 'NoneType' and 'int'")
        })?;
        if cin % self.groups != 0 {
            return Err(KerasError::build(format!(
                "The number of input channels must be evenly divisible by the number of \
                 groups. Received groups={}, but the input has {cin} channels (full input \
                 shape is {}).",
                self.groups,
                pyfmt::tuple_opt(cx.input)
            )));
        }
        let out = conv::conv_output(cx, self.filters, &w, r)?;
        let kshape = conv::weight_shape(
            vec![
                self.kernel_size.h(),
                self.kernel_size.w(),
                cin / self.groups,
                self.filters,
            ],
            &self.kernel.initializer,
        )?;
        let per_out = checked_product(&kshape[..3])?;
        r.macs = spatial_product(&out, self.data_format)
            .saturating_mul(self.filters)
            .saturating_mul(per_out);
        r.weight("kernel", kshape, &self.kernel.initializer);
        if self.use_bias {
            r.weight("bias", vec![self.filters], &self.bias.initializer);
        }
        conv::activation_warnings(&self.activation, Some(self.data_format), r);
        if self.groups > 1 {
            r.warnings.push(
                "TensorFlow on CPU cannot run grouped convolutions (groups > 1): Keras accepts \
                 the layer, but running it needs a GPU or the JAX backend."
                    .into(),
            );
        }
        if self.data_format.is_first() {
            r.warnings.push(
                "TensorFlow on CPU cannot run channels_first convolutions: Keras accepts the \
                 layer, but running it needs a GPU or the JAX backend."
                    .into(),
            );
        }
        Ok(out)
    }

    fn forward(&self, inputs: &[Arc<ArrayD<f32>>], w: &[ArrayD<f32>]) -> Result<ArrayD<f32>, String> {
        let df = self.data_format;
        let x4 = to_nhwc(first(inputs)?, df)?;
        let win = window_on(&x4.view(), &self.win());
        let k = kernel4(weight(w, 0, "kernel")?)?;
        let bias = bias_of(w, self.use_bias, 1)?;
        let ep = Epilogue::for_activation(&self.activation);
        let groups = self.groups.max(1) as usize;
        let y = kernels::conv2d(
            x4.view(),
            k,
            bias,
            &win,
            groups,
            ep.unwrap_or(Epilogue::Linear),
        );
        match ep {
            Some(_) => Ok(from_nhwc(y, df)),
            None => activations::apply(&self.activation, from_nhwc(y, df)),
        }
    }

    fn card(&self) -> String {
        format!(
            "Conv2D {} · {}{} · {}{}",
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
        let keff = [(k[0] - 1) * d[0] + 1, (k[1] - 1) * d[1] + 1];
        let same = self.padding == Padding::Same;
        // PyTorch's symmetric padding is Keras's where both sides get the same.
        let symmetric = same && s == [1, 1] && keff.iter().all(|e| e % 2 == 1);
        let padding = if symmetric {
            pair([(keff[0] - 1) / 2, (keff[1] - 1) / 2])
        } else {
            "0".into()
        };
        let m = t.m.clone();
        t.init(format!(
            "self.{m} = nn.Conv2d({cin}, {}, kernel_size={}, stride={}, padding={padding}, dilation={}, groups={}, bias={})",
            self.filters,
            pair(k),
            pair(s),
            pair(d),
            self.groups,
            py_bool(self.use_bias)
        ));
        t.call(&m, same && !symmetric, k, s, d);
        t.act(&self.activation)?;
        let key0 = t.key(0);
        t.copy(&format!("{m}.weight"), &format!("{key0}.permute(3, 2, 0, 1)"));
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
            layout: KernelLayout::Filters,
            presets: true,
        })
    }
}
