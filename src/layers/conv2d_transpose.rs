//! `keras.layers.Conv2DTranspose`: the transpose of a convolution (each input pixel
//! scatters a kernel-weighted patch), with Keras's output sizes and `output_padding`.

use super::conv::{self, FILTERS, KERNEL};
use super::torch::{Torch, pair, py_bool};
use super::*;
use crate::keras::args::Arg;
use crate::keras::geometry::AxisWindow;
use crate::kernels::{self, ConvOp};

const OUTPUT_PADDING: Arg = Arg::new(
    "output_padding",
    "Extra rows/columns added to one side of the output; must be smaller than the stride.",
);

conv_kind! {
    /// `keras.layers.Conv2DTranspose`.
    pub struct Conv2DTranspose: "Conv2DTranspose" {
        filters: i64 = 32 => Int(FILTERS),
    }
    after_window { output_padding: Option<Pair> = None => OptPair(OUTPUT_PADDING) }
    after_format {}
    kernels { kernel: KERNEL }
    args {
        /// The output-size formula of a forward window does not apply.
        fn window(&self) -> Option<WindowArgs> {
            None
        }
    }
}

impl LayerSpec for Conv2DTranspose {
    fn build(&self, cx: &Cx, r: &mut LayerReport) -> R<Shape> {
        let b = &self.base;
        b.check()?;
        if let Some(op) = &self.output_padding {
            tuple_check(op, "output_padding", true)?;
        }
        conv::positive("filters", self.filters)?;
        if let Some(op) = &self.output_padding {
            for i in 0..2 {
                if op.v[i] >= b.strides.v[i] {
                    return Err(KerasError::construct(format!(
                        "`output_padding` must be strictly less than `strides` for all \
                         dimensions. At dimension {i}, `output_padding` is {} but `strides` \
                         is {}. Received: output_padding={}, strides={}",
                        op.v[i],
                        b.strides.v[i],
                        pyfmt::tuple(&op.v),
                        pyfmt::tuple(&b.strides.v)
                    )));
                }
            }
        }
        b.check_strides_dilation()?;
        cx.min_ndim(4)?;
        let df = b.data_format;
        let (kh, kw) = (Some(b.kernel_size.h()), Some(b.kernel_size.w()));
        let cin = cx.need_channels(df, "kernel", &[kh, kw, Some(self.filters), None])?;
        let input = cx.input;
        if input.len() != 4 {
            return Err(KerasError::build(format!(
                "Conv2DTranspose expects inputs of rank 4, received input of shape {}.",
                pyfmt::tuple_opt(input)
            )));
        }
        let sp = df.spatial_axes();
        let out_sp = [0, 1].map(|a| {
            input[sp[a]].map(|n| {
                AxisWindow::transposed(
                    n,
                    b.kernel_size.v[a],
                    b.strides.v[a],
                    b.dilation_rate.v[a],
                    b.padding,
                    self.output_padding.map(|p| p.v[a]),
                )
                .out
            })
        });
        let kshape = conv::weight_shape(
            vec![b.kernel_size.h(), b.kernel_size.w(), self.filters, cin],
            &self.kernel.initializer,
        )?;
        r.macs = b.pixels(input).saturating_mul(checked_product(&kshape)?);
        r.weight("kernel", kshape, &self.kernel.initializer);
        let extent = [0, 1].map(|a| {
            (b.kernel_size.v[a] as f64 - 1.0) * b.dilation_rate.v[a] as f64 + 1.0
        });
        r.receptive_field = Some(cx.rf.upsampled(b.strides.v, extent));
        b.finish_report(self.filters, r);
        Ok(image_shape(input[0], out_sp, Some(self.filters), df))
    }

    fn forward(&self, inputs: &[Arc<ArrayD<f32>>], w: &[ArrayD<f32>]) -> Result<ArrayD<f32>, String> {
        let b = &self.base;
        let x4 = to_nhwc(first(inputs)?, b.data_format)?;
        let (_, h, wd, _) = x4.dim();
        let win = Window::transposed(
            [h, wd],
            [b.kernel_size.dims(), b.strides.dims(), b.dilation_rate.dims()],
            b.padding,
            self.output_padding.map(|p| p.v),
        );
        let kern = kernel4(weight(w, 0, "kernel")?)?;
        let bias = bias_of(w, b.use_bias, 1)?;
        b.output_of(kernels::conv_transpose(ConvOp::new(x4.view(), kern, bias, &win)), false)
    }

    /// The transpose of a convolution from the output's space to the input's: the
    /// input's gradient is that convolution of the output's gradient, the kernel's its
    /// correlation with the input.
    fn backward(&self, bw: Backward) -> Result<Grads, String> {
        let b = &self.base;
        let x4 = to_nhwc(first(bw.inputs)?, b.data_format)?;
        let (n, h, wd, cin) = x4.dim();
        let win = Window::transposed(
            [h, wd],
            [b.kernel_size.dims(), b.strides.dims(), b.dilation_rate.dims()],
            b.padding,
            self.output_padding.map(|p| p.v),
        );
        let kern = kernel4(weight(bw.weights, 0, "kernel")?)?;
        let dz = b.grad_before_activation(bw.output, bw.dy, || {
            let bias = bias_of(bw.weights, b.use_bias, 1)?;
            Ok(from_nhwc(
                kernels::conv_transpose(ConvOp::new(x4.view(), kern, bias, &win)),
                b.data_format,
            ))
        })?;
        // The convolution read forwards: from the output (its input) to this layer's input.
        let forward = Window {
            out: [h, wd],
            ..win
        };
        let dx = kernels::conv2d(
            ConvOp::new(dz.view(), kern, None, &forward),
            1,
            kernels::Epilogue::Linear,
        );
        debug_assert_eq!(dx.dim(), (n, h, wd, cin));
        let mut weights = Vec::new();
        if bw.want_weights {
            let (kh, kw, co, ci) = kern.dim();
            let dk = kernels::grad::conv2d_kernel_grad(dz.view(), x4.view(), [kh, kw, co, ci], 1, &forward);
            weights.push(Some(dk.into_dyn()));
            b.push_bias_grad(&dz, &mut weights);
        }
        Ok(Grads {
            inputs: vec![from_nhwc(dx, b.data_format)],
            weights,
        })
    }

    fn card(&self) -> String {
        card_conv(&format!("Conv2DTranspose {}", self.filters), &self.base)
    }

    fn torch(&self, t: &mut Torch) -> Result<(), String> {
        let c = t.conv_start(&self.base)?;
        let use_bias = self.base.use_bias;
        let m = t.m.clone();
        t.uses.transpose = true;
        t.init(format!(
            "self.{m} = nn.ConvTranspose2d({}, {}, kernel_size={}, stride={}, dilation={}, bias=False)",
            c.cin,
            self.filters,
            pair(c.k),
            pair(c.s),
            pair(c.d)
        ));
        if use_bias {
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
            pair(c.k),
            pair(c.s),
            pair(c.d),
            py_bool(c.same)
        ));
        if use_bias {
            t.fwd(format!("x = x + self.{m}_bias.view(1, -1, 1, 1)"));
        }
        t.act(&self.base.activation)?;
        t.copy_weight(&m, 0, ".permute(3, 2, 0, 1)");
        if use_bias {
            let key = t.key(1);
            t.copy(&format!("{m}_bias"), &key);
        }
        Ok(())
    }

    fn kernel(&self) -> Option<KernelView> {
        Some(KernelView {
            layout: KernelLayout::Transposed,
            presets: false,
        })
    }
}
