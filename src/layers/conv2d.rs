//! `keras.layers.Conv2D`: a 2-D convolution, with groups, dilation and both layouts.

use super::conv::{self, FILTERS, KERNEL};
use super::torch::{Torch, pair, py_bool};
use super::*;
use crate::keras::args::Arg;
use crate::kernels::{self, ConvOp, Epilogue};

const GROUPS: Arg = Arg::new(
    "groups",
    "Split input channels into groups convolved separately; filters and input channels must divide by it.",
);

conv_kind! {
    /// `keras.layers.Conv2D`.
    pub struct Conv2D: "Conv2D" {
        filters: i64 = 32 => Int(FILTERS),
    }
    after_window {}
    after_format { groups: i64 = 1 => Int(GROUPS) }
    kernels { kernel: KERNEL }
}

impl Conv2D {
    /// The convolution, then `then` on each block of its output (valid where
    /// `takes_then`).
    fn conv_then(
        &self,
        inputs: &[Arc<ArrayD<f32>>],
        w: &[ArrayD<f32>],
        then: &[kernels::Pointwise],
    ) -> Result<ArrayD<f32>, String> {
        let b = &self.base;
        let (x4, win) = b.input(inputs)?;
        let k = kernel4(weight(w, 0, "kernel")?)?;
        let bias = bias_of(w, b.use_bias, 1)?;
        let ep = Epilogue::for_activation(&b.activation);
        let groups = self.groups.max(1) as usize;
        let y = kernels::conv2d(
            ConvOp::new(x4.view(), k, bias, &win).then(then),
            groups,
            ep.unwrap_or(Epilogue::Linear),
        );
        b.output_of(y, ep.is_some())
    }
}

impl LayerSpec for Conv2D {
    fn build(&self, cx: &Cx, r: &mut LayerReport) -> R<Shape> {
        let b = &self.base;
        b.check()?;
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
        b.check_strides_dilation()?;
        cx.min_ndim(4)?;
        let cin = cx.channels(b.data_format).ok_or_else(|| {
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
        let out = b.output(cx, self.filters, r)?;
        let kshape = conv::weight_shape(
            vec![
                b.kernel_size.h(),
                b.kernel_size.w(),
                cin / self.groups,
                self.filters,
            ],
            &self.kernel.initializer,
        )?;
        let per_out = checked_product(&kshape[..3])?;
        r.macs = b
            .pixels(&out)
            .saturating_mul(self.filters)
            .saturating_mul(per_out);
        r.weight("kernel", kshape, &self.kernel.initializer);
        b.finish_report(self.filters, r);
        if self.groups > 1 {
            r.warnings.push(
                "TensorFlow on CPU cannot run grouped convolutions (groups > 1): Keras accepts \
                 the layer, but running it needs a GPU or the JAX backend."
                    .into(),
            );
        }
        if b.data_format.is_first() {
            r.warnings.push(
                "TensorFlow on CPU cannot run channels_first convolutions: Keras accepts the \
                 layer, but running it needs a GPU or the JAX backend."
                    .into(),
            );
        }
        Ok(out)
    }

    fn forward(&self, inputs: &[Arc<ArrayD<f32>>], w: &[ArrayD<f32>]) -> Result<ArrayD<f32>, String> {
        self.conv_then(inputs, w, &[])
    }

    fn backward(&self, bw: Backward) -> Result<Grads, String> {
        let b = &self.base;
        let (x4, win) = b.input(bw.inputs)?;
        let k = kernel4(weight(bw.weights, 0, "kernel")?)?;
        let groups = self.groups.max(1) as usize;
        let dz = b.grad_before_activation(bw.output, bw.dy, || {
            let bias = bias_of(bw.weights, b.use_bias, 1)?;
            let z = kernels::conv2d(ConvOp::new(x4.view(), k, bias, &win), groups, Epilogue::Linear);
            Ok(from_nhwc(z, b.data_format))
        })?;
        Ok(b.conv_grads(x4.view(), k, groups, &win, &dz, bw.want_weights))
    }

    fn takes_then(&self) -> bool {
        // Where the kernel's NHWC blocks are the output's own layout and the activation
        // is in the epilogue (so the steps come after it, as in Keras).
        !self.base.data_format.is_first() && Epilogue::for_activation(&self.base.activation).is_some()
    }

    fn forward_then(
        &self,
        inputs: &[Arc<ArrayD<f32>>],
        w: &[ArrayD<f32>],
        then: &[kernels::Pointwise],
    ) -> Result<ArrayD<f32>, String> {
        self.conv_then(inputs, w, then)
    }

    fn card(&self) -> String {
        card_conv(&format!("Conv2D {}", self.filters), &self.base)
    }

    fn torch(&self, t: &mut Torch) -> Result<(), String> {
        let c = t.conv_start(&self.base)?;
        let keff = [(c.k[0] - 1) * c.d[0] + 1, (c.k[1] - 1) * c.d[1] + 1];
        // PyTorch's symmetric padding is Keras's where both sides get the same.
        let symmetric = c.same && c.s == [1, 1] && keff.iter().all(|e| e % 2 == 1);
        let padding = if symmetric {
            pair([(keff[0] - 1) / 2, (keff[1] - 1) / 2])
        } else {
            "0".into()
        };
        let m = t.m.clone();
        t.init(format!(
            "self.{m} = nn.Conv2d({}, {}, kernel_size={}, stride={}, padding={padding}, dilation={}, groups={}, bias={})",
            c.cin,
            self.filters,
            pair(c.k),
            pair(c.s),
            pair(c.d),
            self.groups,
            py_bool(self.base.use_bias)
        ));
        t.call(&m, c.same && !symmetric, c.k, c.s, c.d);
        t.act(&self.base.activation)?;
        t.copy_weight(&m, 0, ".permute(3, 2, 0, 1)");
        t.copy_bias(&m, self.base.use_bias, 1);
        Ok(())
    }

    fn kernel(&self) -> Option<KernelView> {
        Some(KernelView {
            layout: KernelLayout::Filters,
            presets: true,
        })
    }
}
