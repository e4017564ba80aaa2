//! What the convolution kinds share, as Keras's `BaseConv` shares it: the argument checks
//! of the constructor, `compute_conv_output_shape`, Keras's warnings about activations,
//! and the arguments every convolution declares.

use super::{Cx, DataFormat, Padding, Pair, Shape, WindowArgs, checked_product, image_shape};
use crate::keras::args::{Arg, ArgMut, Visitor};
use crate::keras::error::{KerasError, R};
use crate::keras::geometry::AxisWindow;
use crate::keras::objects::{self, KerasObject};
use crate::keras::pyfmt;
use crate::keras::report::LayerReport;

pub const KERNEL_SIZE: Arg = Arg::new(
    "kernel_size",
    "Height and width of each convolution window.",
)
.required();
pub const STRIDES: Arg = Arg::new(
    "strides",
    "Step of the window in pixels; 2 halves the output size.",
);
pub const PADDING: Arg = Arg::new(
    "padding",
    "valid: no padding, the output shrinks. same: zero-pad so that output = ceil(input / stride); the extra pixel goes bottom/right.",
);
pub const DATA_FORMAT: Arg = Arg::new(
    "data_format",
    "channels_last: (batch, H, W, C). channels_first: (batch, C, H, W).",
);
pub const DILATION_RATE: Arg = Arg::new(
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
pub const ACTIVITY_REGULARIZER: Arg = Arg::new(
    "activity_regularizer",
    "Penalty on the layer's output added to the loss during training.",
);

/// The window arguments every convolution has, in Keras's order after `filters`.
pub fn visit_window(
    v: &mut dyn Visitor,
    kernel_size: &mut Pair,
    strides: &mut Pair,
    padding: &mut Padding,
) {
    v.arg(&KERNEL_SIZE, ArgMut::Pair(kernel_size));
    v.arg(&STRIDES, ArgMut::Pair(strides));
    v.arg(&PADDING, ArgMut::Padding(padding));
}

/// `data_format` and `dilation_rate`, which follow `padding` (and Conv2DTranspose's
/// `output_padding`).
pub fn visit_format_dilation(v: &mut dyn Visitor, df: &mut DataFormat, dilation: &mut Pair) {
    v.arg(&DATA_FORMAT, ArgMut::DataFormat(df));
    v.arg(&DILATION_RATE, ArgMut::Pair(dilation));
}

/// The checks every convolution constructor runs first, in Keras's order.
pub fn check_window(kernel: &Pair, strides: &Pair, dilation: &Pair, activation: &str) -> R<()> {
    super::tuple_check(kernel, "kernel_size", false)?;
    super::tuple_check(strides, "strides", false)?;
    super::tuple_check(dilation, "dilation_rate", false)?;
    check_activation(activation)
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

pub fn strides_dilation(strides: &Pair, dilation: &Pair) -> R<()> {
    if strides.v.iter().max().copied().unwrap_or(1) > 1
        && dilation.v.iter().max().copied().unwrap_or(1) > 1
    {
        return Err(KerasError::construct(format!(
            "`strides > 1` not supported in conjunction with `dilation_rate > 1`. \
             Received: strides={} and dilation_rate={}",
            pyfmt::tuple(&strides.v),
            pyfmt::tuple(&dilation.v)
        )));
    }
    Ok(())
}

/// Keras's `Identity` initializer only fills 2-D matrices.
pub fn check_identity(init: &Option<KerasObject>, shape: &[i64]) -> R<()> {
    if let Some(o) = init
        && o.class_name == "Identity"
        && shape.len() != 2
    {
        return Err(KerasError::build(format!(
            "Identity matrix initializer can only be used for 2D matrices. Received: \
             shape={} of rank {}.",
            pyfmt::tuple(shape),
            shape.len()
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

/// `compute_conv_output_shape` (Conv2D, DepthwiseConv2D, SeparableConv2D): the output
/// shape, the `same` split and the receptive field.
pub fn conv_output(cx: &Cx, filters: i64, w: &WindowArgs, report: &mut LayerReport) -> R<Shape> {
    let input = cx.input;
    let df = w.data_format;
    let cin = cx.channels(df);
    let kernel_shape_str =
        pyfmt::tuple_opt(&[Some(w.kernel.h()), Some(w.kernel.w()), cin, Some(filters)]);
    if input.len() != 4 {
        return Err(KerasError::build(format!(
            "Kernel shape must have the same length as input, but received kernel of shape \
             {kernel_shape_str} and input of shape {}.",
            pyfmt::tuple_opt(input)
        )));
    }
    let sp = df.spatial_axes();
    let mut out_sp = [None, None];
    let mut pads = [[0i64; 2]; 2];
    for a in 0..2 {
        if let Some(n) = input[sp[a]] {
            let aw = AxisWindow::new(n, w.kernel.v[a], w.strides.v[a], w.dilation.v[a], w.padding);
            out_sp[a] = Some(aw.out);
            pads[a] = [aw.pad_before, aw.pad_after];
        }
    }
    if w.padding == Padding::Valid && out_sp.iter().flatten().any(|&o| o <= 0) {
        return Err(KerasError::build(format!(
            "Computed output size would be zero or negative. Received `inputs shape={}`, \
             `kernel shape={kernel_shape_str}`, `dilation_rate={}`, `strides={}`, \
             `padding=valid`.",
            pyfmt::tuple_opt(input),
            pyfmt::np_int_array(&w.dilation.v),
            pyfmt::tuple(&w.strides.v),
        )));
    }
    if w.padding == Padding::Same {
        report.same_padding = Some([pads[0][0], pads[0][1], pads[1][0], pads[1][1]]);
    }
    report.receptive_field = Some(cx.rf.through_window(
        w.kernel.v,
        w.strides.v,
        w.dilation.v,
        [pads[0][0], pads[1][0]],
    ));
    Ok(image_shape(input[0], out_sp, Some(filters), df))
}

/// A weight shape whose elements fit in memory, checked like Keras would fail.
pub fn weight_shape(shape: Vec<i64>, init: &Option<KerasObject>) -> R<Vec<i64>> {
    check_identity(init, &shape)?;
    checked_product(&shape)?;
    Ok(shape)
}
