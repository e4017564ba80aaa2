//! `keras.layers.MaxPooling2D` and `AveragePooling2D`: one kind, two modes.

use super::conv::DATA_FORMAT;
use super::torch::{Torch, pair};
use super::*;
use crate::keras::args::{Arg, ArgMut, Visitor};
use crate::keras::geometry::AxisWindow;
use crate::kernels;

const POOL_SIZE: Arg = Arg::new("pool_size", "Height and width of the pooling window.");
const STRIDES: Arg = Arg::new("strides", "Step of the window; defaults to pool_size.");
const PADDING: Arg = Arg::new(
    "padding",
    "valid: windows stay inside the input. same: output = ceil(input / stride); average pooling counts only real pixels.",
);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolMode {
    Max,
    Average,
}

impl PoolMode {
    /// The mode a class of a `[max, average]` pair names.
    pub(super) fn of(class: &str, names: [&str; 2]) -> Option<PoolMode> {
        match names.iter().position(|n| *n == class)? {
            0 => Some(PoolMode::Max),
            _ => Some(PoolMode::Average),
        }
    }

    /// This mode's class of a `[max, average]` pair.
    pub(super) fn class(self, names: [&'static str; 2]) -> &'static str {
        match self {
            PoolMode::Max => names[0],
            PoolMode::Average => names[1],
        }
    }
}

const CLASSES: [&str; 2] = ["MaxPooling2D", "AveragePooling2D"];

#[derive(Clone, Debug, PartialEq)]
pub struct Pooling2D {
    pub mode: PoolMode,
    pub pool_size: Pair,
    /// `None` means "same as pool_size".
    pub strides: Option<Pair>,
    /// Kept as given: Keras checks it only when the layer runs.
    pub padding: String,
    pub data_format: DataFormat,
}

impl Pooling2D {
    fn strides(&self) -> Pair {
        self.strides.unwrap_or(self.pool_size)
    }
}

impl Kind for Pooling2D {
    const CLASSES: &'static [&'static str] = &CLASSES;
    const FAMILY: Family = Family::Pooling;
    const BUILD_CONFIG: bool = false;
    fn new(class: &str) -> Option<Self> {
        Some(Pooling2D {
            mode: PoolMode::of(class, CLASSES)?,
            pool_size: Pair::square(2),
            strides: None,
            padding: "valid".into(),
            data_format: DataFormat::ChannelsLast,
        })
    }

    fn class_name(&self) -> &'static str {
        self.mode.class(CLASSES)
    }
}

impl Args for Pooling2D {
    fn args(&mut self, v: &mut dyn Visitor) {
        // MaxPooling2D has a default pool_size; AveragePooling2D requires one.
        let pool_size = match self.mode {
            PoolMode::Max => POOL_SIZE,
            PoolMode::Average => POOL_SIZE.required(),
        };
        v.arg(&pool_size, ArgMut::Pair(&mut self.pool_size));
        v.arg(&PADDING, ArgMut::Text(&mut self.padding, &["valid", "same"]));
        let fallback = self.pool_size;
        v.arg(
            &STRIDES,
            ArgMut::PairOr {
                value: &mut self.strides,
                fallback,
            },
        );
        v.arg(&DATA_FORMAT, ArgMut::DataFormat(&mut self.data_format));
    }

    fn data_format(&self) -> Option<DataFormat> {
        Some(self.data_format)
    }

    fn window(&self) -> Option<WindowArgs> {
        Some(WindowArgs {
            kernel: self.pool_size,
            strides: self.strides(),
            dilation: Pair::square(1),
            padding: Padding::parse(&self.padding)?,
            data_format: self.data_format,
        })
    }
}

impl LayerSpec for Pooling2D {
    fn build(&self, cx: &Cx, r: &mut LayerReport) -> R<Shape> {
        tuple_check(&self.pool_size, "pool_size", false)?;
        let strides = self.strides();
        tuple_check(&strides, "strides", true)?;
        cx.ndim(4)?;
        let input = cx.input;
        let Some(padding) = Padding::parse(&self.padding) else {
            return Err(cx.call_error(format!(
                "Argument `padding` must be either 'valid' or 'same'. Received: padding={}",
                self.padding
            )));
        };
        if strides.v.contains(&0) {
            return Err(cx.call_error("division by zero".into()));
        }
        let sp = self.data_format.spatial_axes();
        let mut out = input.clone();
        let mut pads = [[0i64; 2]; 2];
        for a in 0..2 {
            if let Some(n) = input[sp[a]] {
                let w = AxisWindow::new(n, self.pool_size.v[a], strides.v[a], 1, padding);
                out[sp[a]] = Some(w.out);
                pads[a] = [w.pad_before, w.pad_after];
            }
        }
        if padding == Padding::Valid && sp.iter().any(|&a| out[a].is_some_and(|o| o <= 0)) {
            return Err(cx.call_error(format!(
                "Computed output size would be zero or negative. Received: `inputs.shape={}`, \
                 `pool_size={}`, `strides={}`, `padding={}`.",
                pyfmt::np_obj_array(input),
                pyfmt::np_int_array(&self.pool_size.v),
                pyfmt::tuple(&strides.v),
                self.padding
            )));
        }
        if padding == Padding::Same {
            r.same_padding = Some([pads[0][0], pads[0][1], pads[1][0], pads[1][1]]);
        }
        r.receptive_field = Some(cx.rf.through_window(
            self.pool_size.v,
            strides.v,
            [1, 1],
            [pads[0][0], pads[1][0]],
        ));
        Ok(out)
    }

    fn forward(&self, inputs: &[Arc<ArrayD<f32>>], _: &[ArrayD<f32>]) -> Result<ArrayD<f32>, String> {
        in_nhwc(inputs, self.data_format, |x| {
            let win = self.window().map(|a| window_on(&x, &a)).ok_or("bad padding")?;
            Ok(kernels::pool(x, &win, self.mode == PoolMode::Max))
        })
    }

    fn backward(&self, bw: Backward) -> Result<Grads, String> {
        let x4 = to_nhwc(first(bw.inputs)?, self.data_format)?;
        let win = self.window().map(|a| window_on(&x4.view(), &a)).ok_or("bad padding")?;
        let g = to_nhwc(&bw.dy, self.data_format)?;
        let dx = kernels::grad::pool_grad(x4.view(), g.view(), &win, self.mode == PoolMode::Max);
        Ok(Grads::input(from_nhwc(dx, self.data_format)))
    }

    fn card(&self) -> String {
        format!(
            "{} {}{} · {}",
            Kind::class_name(self),
            self.pool_size.text(),
            card_strides(&self.strides()),
            self.padding
        )
    }

    fn torch(&self, t: &mut Torch) -> Result<(), String> {
        t.ready_for(self.data_format);
        let (kk, ss) = (pair(self.pool_size.v), pair(self.strides().v));
        let same = Padding::parse(&self.padding) == Some(Padding::Same);
        let line = match (self.mode, same) {
            (PoolMode::Max, false) => format!("F.max_pool2d(x, {kk}, {ss})"),
            (PoolMode::Max, true) => {
                format!("F.max_pool2d(pad_same(x, {kk}, {ss}, value=float(\"-inf\")), {kk}, {ss})")
            }
            (PoolMode::Average, false) => format!("F.avg_pool2d(x, {kk}, {ss})"),
            (PoolMode::Average, true) => {
                t.uses.avg_same = true;
                format!("avg_pool_same(x, {kk}, {ss})")
            }
        };
        t.fwd(format!("x = {line}"));
        Ok(())
    }
}
