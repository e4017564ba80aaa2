//! What the convolution kinds share, as Keras's `BaseConv` shares it: the arguments
//! every convolution has ([`ConvBase`]), the argument checks of the constructor,
//! `compute_conv_output_shape`, Keras's warnings about activations, and the steps of
//! the forward pass and the PyTorch translation that are the same for all of them.

use super::{Cx, DataFormat, Padding, Pair, Shape, WindowArgs, checked_product, image_shape};
use crate::keras::args::{Arg, ArgMut, Visitor, WeightArgs, WeightKeys};
use crate::keras::error::{KerasError, R};
use crate::keras::geometry::{AxisWindow, Window};
use crate::keras::objects::{self, KerasObject};
use crate::keras::pyfmt;
use crate::keras::report::LayerReport;
use crate::kernels::{activations, grad};
use ndarray::{Array4, ArrayD, ArrayView4, CowArray, Ix4};

/// Declares a convolution kind: its struct (its own arguments, one [`WeightArgs`] per
/// kernel, and the [`ConvBase`] every convolution has) and its [`super::Args`], which
/// visits the arguments in Keras's `get_config()` order: the kind's leading ones
/// (`filters`, `depth_multiplier`), `kernel_size`/`strides`/`padding`, those after the
/// window (`output_padding`), `data_format`/`dilation_rate`, those after the format
/// (`groups`), then activation, bias and each kernel's initializer, regularizer and
/// constraint. `args { … }` adds items to the `Args` impl.
macro_rules! conv_kind {
    (
        $(#[$meta:meta])*
        pub struct $name:ident: $class:literal {
            $($lead:ident: $lty:ty = $ldef:expr => $lvar:ident($larg:expr)),* $(,)?
        }
        after_window { $($mid:ident: $mty:ty = $mdef:expr => $mvar:ident($marg:expr)),* $(,)? }
        after_format { $($tail:ident: $tty:ty = $tdef:expr => $tvar:ident($targ:expr)),* $(,)? }
        kernels { $($w:ident: $wkeys:expr),+ $(,)? }
        $(args { $($extra:item)* })?
    ) => {
        kind_struct! {
            $(#[$meta])*
            pub struct $name: [$class], Convolution {
                $($lead: $lty = $ldef,)*
                $($mid: $mty = $mdef,)*
                $($tail: $tty = $tdef,)*
                $($w: $crate::keras::args::WeightArgs =
                    $crate::keras::args::WeightArgs::with_init("GlorotUniform"),)+
                base: $crate::layers::conv::ConvBase = $crate::layers::conv::ConvBase::default()
            }
        }

        impl $crate::layers::Args for $name {
            fn args(&mut self, v: &mut dyn $crate::keras::args::Visitor) {
                use $crate::keras::args::ArgMut;
                $(v.arg(&$larg, ArgMut::$lvar(&mut self.$lead));)*
                self.base.visit_window(v);
                $(v.arg(&$marg, ArgMut::$mvar(&mut self.$mid));)*
                self.base.visit_format_dilation(v);
                $(v.arg(&$targ, ArgMut::$tvar(&mut self.$tail));)*
                self.base.visit_rest(v, &mut [$((&$wkeys, &mut self.$w)),+]);
            }

            fn conv(&self) -> Option<&$crate::layers::conv::ConvBase> {
                Some(&self.base)
            }

            $($($extra)*)?
        }
    };
}
use std::sync::Arc;

const KERNEL_SIZE: Arg = Arg::new(
    "kernel_size",
    "Height and width of each convolution window.",
)
.required();
const STRIDES: Arg = Arg::new(
    "strides",
    "Step of the window in pixels; 2 halves the output size.",
);
const PADDING: Arg = Arg::new(
    "padding",
    "valid: no padding, the output shrinks. same: zero-pad so that output = ceil(input / stride); the extra pixel goes bottom/right.",
);
pub const DATA_FORMAT: Arg = Arg::new(
    "data_format",
    "channels_last: (batch, H, W, C). channels_first: (batch, C, H, W).",
);
const DILATION_RATE: Arg = Arg::new(
    "dilation_rate",
    "Spacing between kernel taps: a 3×3 kernel with dilation 2 covers 5×5.",
);
pub const ACTIVATION: Arg = Arg::new(
    "activation",
    "Function applied to the output. linear means none.",
);
pub const USE_BIAS: Arg = Arg::new("use_bias", "Add a learned bias per output channel.");
pub const FILTERS: Arg = Arg::new(
    "filters",
    "Number of output channels: how many kernels the layer learns.",
)
.required();
pub const DEPTH_MULTIPLIER: Arg = Arg::new(
    "depth_multiplier",
    "Output channels per input channel in the depthwise step.",
);
const ACTIVITY_REGULARIZER: Arg = Arg::new(
    "activity_regularizer",
    "Penalty on the layer's output added to the loss during training.",
);
pub const KERNEL: WeightKeys = crate::weight_keys!("kernel");
pub const BIAS: WeightKeys = crate::weight_keys!("bias");

/// The arguments every convolution has (Keras's `BaseConv`).
#[derive(Clone, Debug, PartialEq)]
pub struct ConvBase {
    pub kernel_size: Pair,
    pub strides: Pair,
    pub padding: Padding,
    pub data_format: DataFormat,
    pub dilation_rate: Pair,
    pub activation: String,
    pub use_bias: bool,
    pub bias: WeightArgs,
    pub activity_regularizer: Option<KerasObject>,
}

impl Default for ConvBase {
    /// Keras's defaults, with the 3×3 kernel a tutorial starts with.
    fn default() -> Self {
        ConvBase {
            kernel_size: Pair::square(3),
            strides: Pair::square(1),
            padding: Padding::Valid,
            data_format: DataFormat::ChannelsLast,
            dilation_rate: Pair::square(1),
            activation: "linear".into(),
            use_bias: true,
            bias: WeightArgs::with_init("Zeros"),
            activity_regularizer: None,
        }
    }
}

impl ConvBase {
    pub fn window(&self) -> WindowArgs {
        WindowArgs {
            kernel: self.kernel_size,
            strides: self.strides,
            dilation: self.dilation_rate,
            padding: self.padding,
            data_format: self.data_format,
        }
    }

    /// `kernel_size`, `strides`, `padding`: the arguments after the first one.
    pub(super) fn visit_window(&mut self, v: &mut dyn Visitor) {
        v.arg(&KERNEL_SIZE, ArgMut::Pair(&mut self.kernel_size));
        v.arg(&STRIDES, ArgMut::Pair(&mut self.strides));
        v.arg(&PADDING, ArgMut::Padding(&mut self.padding));
    }

    /// `data_format`, `dilation_rate` (after Conv2DTranspose's `output_padding`).
    pub(super) fn visit_format_dilation(&mut self, v: &mut dyn Visitor) {
        v.arg(&DATA_FORMAT, ArgMut::DataFormat(&mut self.data_format));
        v.arg(&DILATION_RATE, ArgMut::Pair(&mut self.dilation_rate));
    }

    /// `activation`, `use_bias`, then the initializers, regularizers (and the activity
    /// regularizer) and constraints of `kernels` and the bias, in Keras's order.
    pub(super) fn visit_rest(
        &mut self,
        v: &mut dyn Visitor,
        kernels: &mut [(&WeightKeys, &mut WeightArgs)],
    ) {
        v.arg(&ACTIVATION, ArgMut::Activation(&mut self.activation));
        v.arg(&USE_BIAS, ArgMut::Bool(&mut self.use_bias));
        for (keys, w) in kernels.iter_mut() {
            keys.visit_init(v, w);
        }
        BIAS.visit_init(v, &mut self.bias);
        for (keys, w) in kernels.iter_mut() {
            keys.visit_regularizer(v, w);
        }
        BIAS.visit_regularizer(v, &mut self.bias);
        v.arg(
            &ACTIVITY_REGULARIZER,
            ArgMut::regularizer(&mut self.activity_regularizer),
        );
        for (keys, w) in kernels.iter_mut() {
            keys.visit_constraint(v, w);
        }
        BIAS.visit_constraint(v, &mut self.bias);
    }

    /// The checks every convolution constructor runs first, in Keras's order (padding
    /// and data format were checked when they were read).
    pub fn check(&self) -> R<()> {
        super::tuple_check(&self.kernel_size, "kernel_size", false)?;
        super::tuple_check(&self.strides, "strides", false)?;
        super::tuple_check(&self.dilation_rate, "dilation_rate", false)?;
        check_activation(&self.activation)
    }

    /// `strides > 1` and `dilation_rate > 1` together are refused.
    pub fn check_strides_dilation(&self) -> R<()> {
        let (s, d) = (&self.strides, &self.dilation_rate);
        if s.v.iter().max().copied().unwrap_or(1) > 1 && d.v.iter().max().copied().unwrap_or(1) > 1
        {
            return Err(KerasError::construct(format!(
                "`strides > 1` not supported in conjunction with `dilation_rate > 1`. \
                 Received: strides={} and dilation_rate={}",
                pyfmt::tuple(&s.v),
                pyfmt::tuple(&d.v)
            )));
        }
        Ok(())
    }

    /// `compute_conv_output_shape` (Conv2D, DepthwiseConv2D, SeparableConv2D): the output
    /// shape, the `same` split and the receptive field.
    pub fn output(&self, cx: &Cx, filters: i64, report: &mut LayerReport) -> R<Shape> {
        let input = cx.input;
        let df = self.data_format;
        let kernel_shape_str = pyfmt::tuple_opt(&[
            Some(self.kernel_size.h()),
            Some(self.kernel_size.w()),
            cx.channels(df),
            Some(filters),
        ]);
        if input.len() != 4 {
            return Err(KerasError::build(format!(
                "Kernel shape must have the same length as input, but received kernel of \
                 shape {kernel_shape_str} and input of shape {}.",
                pyfmt::tuple_opt(input)
            )));
        }
        let sp = df.spatial_axes();
        let mut out_sp = [None, None];
        let mut pads = [[0i64; 2]; 2];
        for a in 0..2 {
            if let Some(n) = input[sp[a]] {
                let w = AxisWindow::new(
                    n,
                    self.kernel_size.v[a],
                    self.strides.v[a],
                    self.dilation_rate.v[a],
                    self.padding,
                );
                out_sp[a] = Some(w.out);
                pads[a] = [w.pad_before, w.pad_after];
            }
        }
        if self.padding == Padding::Valid && out_sp.iter().flatten().any(|&o| o <= 0) {
            return Err(KerasError::build(format!(
                "Computed output size would be zero or negative. Received `inputs shape={}`, \
                 `kernel shape={kernel_shape_str}`, `dilation_rate={}`, `strides={}`, \
                 `padding=valid`.",
                pyfmt::tuple_opt(input),
                pyfmt::np_int_array(&self.dilation_rate.v),
                pyfmt::tuple(&self.strides.v),
            )));
        }
        if self.padding == Padding::Same {
            report.same_padding = Some([pads[0][0], pads[0][1], pads[1][0], pads[1][1]]);
        }
        report.receptive_field = Some(cx.rf.through_window(
            self.kernel_size.v,
            self.strides.v,
            self.dilation_rate.v,
            [pads[0][0], pads[1][0]],
        ));
        Ok(image_shape(input[0], out_sp, Some(filters), df))
    }

    /// Records the bias (when used) and the warnings about the activation.
    pub fn finish_report(&self, filters: i64, report: &mut LayerReport) {
        if self.use_bias {
            report.weight("bias", vec![filters], &self.bias.initializer);
        }
        activation_warnings(&self.activation, Some(self.data_format), report);
    }

    /// The spatial product of `shape` (output pixels per sample).
    pub fn pixels(&self, shape: &Shape) -> i64 {
        super::spatial_product(shape, self.data_format)
    }

    /// `kh·kw`.
    pub fn taps(&self) -> i64 {
        self.kernel_size.h().saturating_mul(self.kernel_size.w())
    }

    /// The first input as NHWC, and Keras's window on it.
    pub fn input<'a>(
        &self,
        inputs: &'a [Arc<ArrayD<f32>>],
    ) -> Result<(CowArray<'a, f32, Ix4>, Window), String> {
        let x4 = super::to_nhwc(super::first(inputs)?, self.data_format)?;
        let win = super::window_on(&x4.view(), &self.window());
        Ok((x4, win))
    }

    /// The NHWC result in the layer's layout, through the activation unless it was
    /// fused into the kernel's epilogue.
    pub fn output_of(&self, y: Array4<f32>, fused: bool) -> Result<ArrayD<f32>, String> {
        let y = super::from_nhwc(y, self.data_format);
        if fused {
            Ok(y)
        } else {
            activations::apply(&self.activation, y)
        }
    }
}

impl ConvBase {
    /// The gradient at the layer's output before its activation, NHWC: `dy` through the
    /// activation's derivative, from the `output` (or from the pre-activation values
    /// `pre` recomputes, in the layer's layout, for activations that need them).
    pub fn grad_before_activation(
        &self,
        output: &ArrayD<f32>,
        dy: ArrayD<f32>,
        pre: impl FnOnce() -> Result<ArrayD<f32>, String>,
    ) -> Result<Array4<f32>, String> {
        let z = if activations::backward_needs_input(&self.activation) {
            Some(pre()?)
        } else {
            None
        };
        let dz = activations::backward(&self.activation, z.as_ref(), output, dy)?;
        Ok(super::to_nhwc(&dz, self.data_format)?.into_owned())
    }

    /// A convolution's gradients from `dz` (NHWC, before the activation): the input's
    /// (in the layer's layout) and, when `want_weights`, the kernel's and the bias's.
    pub fn conv_grads(
        &self,
        x4: ArrayView4<f32>,
        kernel: ArrayView4<f32>,
        groups: usize,
        win: &Window,
        dz: &Array4<f32>,
        want_weights: bool,
    ) -> super::Grads {
        let (n, h, w, c) = x4.dim();
        let dx = grad::conv2d_input_grad(dz.view(), kernel, groups, win, [n, h, w, c]);
        let mut weights = Vec::new();
        if want_weights {
            let (kh, kw, ci, co) = kernel.dim();
            let dk = grad::conv2d_kernel_grad(x4, dz.view(), [kh, kw, ci, co], groups, win);
            weights.push(Some(dk.into_dyn()));
            self.push_bias_grad(dz, &mut weights);
        }
        super::Grads {
            inputs: vec![super::from_nhwc(dx, self.data_format)],
            weights,
        }
    }

    /// The bias's gradient from `dz` (NHWC), when the layer has a bias.
    pub fn push_bias_grad(&self, dz: &Array4<f32>, weights: &mut Vec<Option<ArrayD<f32>>>) {
        if self.use_bias {
            let c = dz.dim().3;
            let dz = dz.as_standard_layout();
            let g = grad::bias_grad(dz.as_slice().unwrap_or(&[]), c);
            weights.push(Some(
                ArrayD::from_shape_vec(ndarray::IxDyn(&[c]), g).unwrap_or_default(),
            ));
        }
    }
}

pub fn check_activation(a: &str) -> R<()> {
    objects::canonical_activation(a).map(|_| ()).ok_or_else(|| {
        KerasError::construct(format!(
            "Could not interpret activation function identifier: {a}"
        ))
    })
}

pub fn positive(name: &str, v: i64) -> R<()> {
    if v <= 0 {
        return Err(KerasError::construct(format!(
            "Invalid value for argument `{name}`. Expected a strictly positive value. \
             Received {name}={v}."
        )));
    }
    Ok(())
}

/// Warnings for activations that Keras accepts but that surprise people.
pub fn activation_warnings(
    a: &str,
    conv_data_format: Option<DataFormat>,
    report: &mut LayerReport,
) {
    match a {
        "threshold" => report.warnings.push(
            "The `threshold` activation needs `threshold` and `default_value` arguments: \
             used by name it fails when the layer runs."
                .into(),
        ),
        "glu" => report.warnings.push(
            "The `glu` activation halves the last axis when it runs, but Keras reports the \
             shape before it; later layers may then fail on real data."
                .into(),
        ),
        "softmax" | "log_softmax" | "sparsemax"
            if conv_data_format == Some(DataFormat::ChannelsFirst) =>
        {
            report.warnings.push(format!(
                "`{a}` works on the last axis: on a channels_first layer it normalises over \
                 width, not over channels."
            ))
        }
        _ => {}
    }
}

/// A weight shape Keras can create: the `Identity` initializer only fills 2-D matrices,
/// and the element count must fit.
pub fn weight_shape(shape: Vec<i64>, init: &Option<KerasObject>) -> R<Vec<i64>> {
    if let Some(o) = init
        && o.class_name == "Identity"
        && shape.len() != 2
    {
        return Err(KerasError::build(format!(
            "Identity matrix initializer can only be used for 2D matrices. Received: \
             shape={} of rank {}.",
            pyfmt::tuple(&shape),
            shape.len()
        )));
    }
    checked_product(&shape)?;
    Ok(shape)
}
