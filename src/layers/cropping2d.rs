//! `keras.layers.Cropping2D`: rows and columns removed at the image's borders.

use super::conv::DATA_FORMAT;
use super::torch::Torch;
use super::zero_padding2d::{amount_checks, sizes};
use super::*;
use crate::keras::args::{Arg, ArgMut, Visitor};
use crate::kernels;

const CROPPING: Arg = Arg::new(
    "cropping",
    "Rows or columns removed: one number, (rows, columns), or ((top, bottom), (left, right)).",
);

#[derive(Clone, Debug, PartialEq)]
pub struct Cropping2D {
    pub amounts: Amounts,
    pub data_format: DataFormat,
}

impl Kind for Cropping2D {
    const CLASSES: &'static [&'static str] = &["Cropping2D"];
    fn new(_: &str) -> Option<Self> {
        Some(Cropping2D {
            amounts: Amounts {
                v: [[0, 0], [0, 0]],
                form: AmountForm::Full,
            },
            data_format: DataFormat::ChannelsLast,
        })
    }
}

impl LayerSpec for Cropping2D {
    fn class_name(&self) -> &'static str {
        "Cropping2D"
    }

    fn args(&mut self, v: &mut dyn Visitor) {
        v.arg(&DATA_FORMAT, ArgMut::DataFormat(&mut self.data_format));
        v.arg(&CROPPING, ArgMut::Amounts(&mut self.amounts));
    }

    fn build(&self, cx: &Cx, r: &mut LayerReport) -> R<Shape> {
        amount_checks(&self.amounts, "cropping")?;
        cx.ndim(4)?;
        let input = cx.input;
        let sp = self.data_format.spatial_axes();
        let a = &self.amounts.v;
        let too_big = (0..2)
            .any(|i| input[sp[i]].is_some_and(|n| a[i][0].saturating_add(a[i][1]) >= n));
        if too_big {
            let cropping = format!("(({}, {}), ({}, {}))", a[0][0], a[0][1], a[1][0], a[1][1]);
            return Err(cx.call_error(format!(
                "Values in `cropping` argument should be smaller than the corresponding spatial \
                 dimension of the input. Received: input_shape={}, cropping={cropping}",
                pyfmt::tuple_opt(input)
            )));
        }
        let mut out = input.clone();
        for i in 0..2 {
            out[sp[i]] = out[sp[i]].map(|n| n.saturating_sub(a[i][0]).saturating_sub(a[i][1]));
        }
        r.receptive_field = Some(cx.rf.shifted([-a[0][0], -a[1][0]]));
        Ok(out)
    }

    fn forward(&self, inputs: &[Arc<ArrayD<f32>>], _: &[ArrayD<f32>]) -> Result<ArrayD<f32>, String> {
        let x4 = to_nhwc(first(inputs)?, self.data_format)?;
        Ok(from_nhwc(
            kernels::crop(x4.view(), sizes(&self.amounts)),
            self.data_format,
        ))
    }

    fn card(&self) -> String {
        format!("Cropping2D {:?}", self.amounts.v)
    }

    fn family(&self) -> Family {
        Family::Shape
    }

    fn torch(&self, t: &mut Torch) -> Result<(), String> {
        t.ready_for(self.data_format);
        let [[top, bottom], [left, right]] = self.amounts.v;
        t.fwd(format!(
            "x = x[:, :, {top}:x.shape[2] - {bottom}, {left}:x.shape[3] - {right}]"
        ));
        Ok(())
    }

    fn data_format(&self) -> Option<DataFormat> {
        Some(self.data_format)
    }
}
