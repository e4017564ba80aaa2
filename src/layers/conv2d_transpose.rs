//! `keras.layers.Conv2DTranspose`: the transpose of a convolution (each input pixel
//! scatters a kernel-weighted patch), with Keras's output sizes and `output_padding`.

use super::conv::{self, ACTIVATION, ACTIVITY_REGULARIZER, FILTERS, USE_BIAS};
use super::torch::{Torch, pair, py_bool};
use super::*;
use crate::keras::args::{Arg, ArgMut, Visitor, WeightArgs, WeightKeys, object};
use crate::keras::geometry::{AxisWindow, Window};
use crate::keras::objects::{KerasObject, ObjectKind};
use crate::kernels::{self, activations};

const OUTPUT_PADDING: Arg = Arg::new(
    "output_padding",
    "Extra rows/columns added to one side of the output; must be smaller than the stride.",
);
const KERNEL: WeightKeys = crate::weight_keys!("kernel");
const BIAS: WeightKeys = crate::weight_keys!("bias");

#[derive(Clone, Debug, PartialEq)]
pub struct Conv2DTranspose {
    pub filters: i64,
    pub kernel_size: Pair,
    pub strides: Pair,
    pub padding: Padding,
    pub output_padding: Option<Pair>,
    pub data_format: DataFormat,
    pub dilation_rate: Pair,
    pub activation: String,
    pub use_bias: bool,
    pub kernel: WeightArgs,
    pub bias: WeightArgs,
    pub activity_regularizer: Option<KerasObject>,
}

impl Kind for Conv2DTranspose {
    const CLASSES: &'static [&'static str] = &["Conv2DTranspose"];
    fn new(_: &str) -> Option<Self> {
        Some(Conv2DTranspose {
            filters: 32,
            kernel_size: Pair::square(3),
            strides: Pair::square(1),
            padding: Padding::Valid,
            output_padding: None,
            data_format: DataFormat::ChannelsLast,
            dilation_rate: Pair::square(1),
            activation: "linear".into(),
            use_bias: true,
            kernel: WeightArgs::with_init("GlorotUniform"),
            bias: WeightArgs::with_init("Zeros"),
            activity_regularizer: None,
        })
    }
}

impl LayerSpec for Conv2DTranspose {
    fn class_name(&self) -> &'static str {
        "Conv2DTranspose"
    }

    fn args(&mut self, v: &mut dyn Visitor) {
        v.arg(&FILTERS, ArgMut::Int(&mut self.filters));
        conv::visit_window(v, &mut self.kernel_size, &mut self.strides, &mut self.padding);
        v.arg(&OUTPUT_PADDING, ArgMut::OptPair(&mut self.output_padding));
        conv::visit_format_dilation(v, &mut self.data_format, &mut self.dilation_rate);
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
        tuple_check(&self.kernel_size, "kernel_size", false)?;
        tuple_check(&self.strides, "strides", false)?;
        tuple_check(&self.dilation_rate, "dilation_rate", false)?;
        if let Some(op) = &self.output_padding {
            tuple_check(op, "output_padding", true)?;
        }
        conv::check_activation(&self.activation)?;
        conv::positive("filters", self.filters)?;
        if let Some(op) = &self.output_padding {
            for i in 0..2 {
                if op.v[i] >= self.strides.v[i] {
                    return Err(KerasError::construct(format!(
                        "`output_padding` must be strictly less than `strides` for all \
                         dimensions. At dimension {i}, `output_padding` is {} but `strides` \
                         is {}. Received: output_padding={}, strides={}",
                        op.v[i],
                        self.strides.v[i],
                        pyfmt::tuple(&op.v),
                        pyfmt::tuple(&self.strides.v)
                    )));
                }
            }
        }
        conv::strides_dilation(&self.strides, &self.dilation_rate)?;
        cx.min_ndim(4)?;
        let df = self.data_format;
        let (kh, kw) = (Some(self.kernel_size.h()), Some(self.kernel_size.w()));
        let cin = cx.need_channels(df, "kernel", &[kh, kw, Some(self.filters), None])?;
        let input = cx.input;
        if input.len() != 4 {
            return Err(KerasError::build(format!(
                "Conv2DTranspose expects inputs of rank 4, received input of shape {}.",
                pyfmt::tuple_opt(input)
            )));
        }
        let sp = df.spatial_axes();
        let mut out_sp = [None, None];
        for a in 0..2 {
            out_sp[a] = input[sp[a]].map(|n| {
                AxisWindow::transposed(
                    n,
                    self.kernel_size.v[a],
                    self.strides.v[a],
                    self.dilation_rate.v[a],
                    self.padding,
                    self.output_padding.map(|p| p.v[a]),
                )
                .out
            });
        }
        let kshape = conv::weight_shape(
            vec![self.kernel_size.h(), self.kernel_size.w(), self.filters, cin],
            &self.kernel.initializer,
        )?;
        r.macs = spatial_product(input, df).saturating_mul(checked_product(&kshape)?);
        r.weight("kernel", kshape, &self.kernel.initializer);
        if self.use_bias {
            r.weight("bias", vec![self.filters], &self.bias.initializer);
        }
        let extent = [0, 1].map(|a| {
            (self.kernel_size.v[a] as f64 - 1.0) * self.dilation_rate.v[a] as f64 + 1.0
        });
        r.receptive_field = Some(cx.rf.upsampled(self.strides.v, extent));
        conv::activation_warnings(&self.activation, Some(df), r);
        Ok(image_shape(input[0], out_sp, Some(self.filters), df))
    }

    fn forward(&self, inputs: &[Arc<ArrayD<f32>>], w: &[ArrayD<f32>]) -> Result<ArrayD<f32>, String> {
        let df = self.data_format;
        let x4 = to_nhwc(first(inputs)?, df)?;
        let (_, h, wd, _) = x4.dim();
        let win = Window::transposed(
            [h, wd],
            self.kernel_size.dims(),
            self.strides.dims(),
            self.dilation_rate.dims(),
            self.padding,
            self.output_padding.map(|p| p.v),
        );
        let kern = kernel4(weight(w, 0, "kernel")?)?;
        let bias = bias_of(w, self.use_bias, 1)?;
        let y = kernels::conv_transpose(x4.view(), kern, bias, &win);
        activations::apply(&self.activation, from_nhwc(y, df))
    }

    fn card(&self) -> String {
        format!(
            "Conv2DTranspose {} · {}{} · {}{}",
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
        t.uses.transpose = true;
        t.init(format!(
            "self.{m} = nn.ConvTranspose2d({cin}, {}, kernel_size={}, stride={}, dilation={}, bias=False)",
            self.filters,
            pair(k),
            pair(s),
            pair(d)
        ));
        if self.use_bias {
            t.init(format!(
                "self.{m}_bias = nn.Parameter(torch.zeros({}))",
                self.filters
            ));
        }
        let op = match self.output_padding {
            Some(p) => format!("({}, {})", p.v[0], p.v[1]),
            None => "(None, None)".into(),
        };
        t.fwd("size = (x.shape[2], x.shape[3])");
        t.fwd(format!(
            "x = crop_transposed(self.{m}(x), size, {}, {}, {}, {}, {op})",
            pair(k),
            pair(s),
            pair(d),
            py_bool(self.padding == Padding::Same)
        ));
        if self.use_bias {
            t.fwd(format!("x = x + self.{m}_bias.view(1, -1, 1, 1)"));
        }
        t.act(&self.activation)?;
        let w0 = format!("{}.permute(3, 2, 0, 1)", t.key(0));
        t.copy(&format!("{m}.weight"), &w0);
        if self.use_bias {
            let key1 = t.key(1);
            t.copy(&format!("{m}_bias"), &key1);
        }
        Ok(())
    }

    fn data_format(&self) -> Option<DataFormat> {
        Some(self.data_format)
    }

    fn activation(&self) -> Option<&str> {
        Some(&self.activation)
    }

    fn kernel(&self) -> Option<KernelView> {
        Some(KernelView {
            layout: KernelLayout::Transposed,
            presets: false,
        })
    }
}
