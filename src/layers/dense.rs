//! `keras.layers.Dense`: `activation(x @ kernel + bias)` on the last axis (any rank).

use super::conv::{activation_warnings, check_activation};
use super::torch::{Torch, py_bool};
use super::*;
use crate::keras::objects::KerasObject;
use crate::kernels::gemm::{Gemm, Mat, Strided};
use crate::kernels::{Epilogue, activations};
use ndarray::IxDyn;
use serde_json::Value;

kind! {
    /// `keras.layers.Dense`.
    pub struct Dense: ["Dense"], Dense {
        units: i64 = 10 => Int, "Number of output values of the dense layer.", required, type_error("Received an invalid value for `units`, expected a positive integer. Received: units={}");
        activation: String = "linear".into() => Activation, "Function applied to the output. linear means none.";
        use_bias: bool = true => Bool, "Add a learned bias per output unit.";
        kernel_initializer: Option<KerasObject> = initializer("GlorotUniform") => initializer, "How the weights are drawn before training.";
        bias_initializer: Option<KerasObject> = initializer("Zeros") => initializer, "How the bias starts.";
        kernel_regularizer: Option<KerasObject> = None => regularizer, "Penalty on the weights added to the loss.";
        bias_regularizer: Option<KerasObject> = None => regularizer, "Penalty on the bias added to the loss.";
        kernel_constraint: Option<KerasObject> = None => constraint, "Projection applied to the weights after each update.";
        bias_constraint: Option<KerasObject> = None => constraint, "Projection applied to the bias after each update.";
        /// Keras's base `Layer.get_config` writes it only when one is set.
        activity_regularizer: Option<KerasObject> = None => regularizer, "Penalty on the layer's output added to the loss during training.", only_if_set;
    }
    fixed {
        "quantization_config": Some(Value::Null),
        "lora_rank": None,
        "lora_alpha": None,
    }
    activation: activation
}

impl LayerSpec for Dense {
    fn build(&self, cx: &Cx, r: &mut LayerReport) -> R<Shape> {
        if self.units <= 0 {
            return Err(KerasError::construct(format!(
                "Received an invalid value for `units`, expected a positive integer. Received: \
                 units={}",
                self.units
            )));
        }
        check_activation(&self.activation)?;
        cx.min_ndim(2)?;
        let input = cx.input;
        let Some(cin) = input.last().copied().flatten() else {
            return Err(KerasError::build(format!(
                "Shapes used to initialize variables must be fully-defined (no `None` \
                 dimensions). Received: shape=(None, {}) for variable path='{}/kernel'",
                self.units, cx.name
            )));
        };
        let kshape = vec![cin, self.units];
        let n = checked_product(&kshape)?;
        let rows = input[1..input.len() - 1]
            .iter()
            .map(|x| x.unwrap_or(0))
            .fold(1i64, |a, b| a.saturating_mul(b));
        r.macs = rows.saturating_mul(n);
        r.weight("kernel", kshape, &self.kernel_initializer);
        if self.use_bias {
            r.weight("bias", vec![self.units], &self.bias_initializer);
        }
        activation_warnings(&self.activation, None, r);
        let mut out = cx.same_shape(r);
        if let Some(last) = out.last_mut() {
            *last = Some(self.units);
        }
        Ok(out)
    }

    fn forward(&self, inputs: &[Arc<ArrayD<f32>>], w: &[ArrayD<f32>]) -> Result<ArrayD<f32>, String> {
        let x = first(inputs)?;
        let k = weight(w, 0, "kernel")?
            .view()
            .into_dimensionality::<ndarray::Ix2>()
            .map_err(|_| "Dense kernel must be 2-D".to_string())?;
        let (cin, units) = k.dim();
        let xs = x.as_standard_layout();
        let rows = x.len() / cin.max(1);
        let ks = k.as_standard_layout();
        let xsl = xs.as_slice().ok_or("input is not contiguous")?;
        let ksl = ks.as_slice().ok_or("kernel is not contiguous")?;
        let mut y = vec![0f32; rows * units];
        let gemm = Gemm {
            m: rows,
            n: units,
            k: cin,
            threads: rayon::current_num_threads(),
        };
        gemm.run(Mat::new(xsl, cin), Mat::new(ksl, units), &mut y, units);
        let bias = bias_of(w, self.use_bias, 1)?;
        let ep = Epilogue::for_activation(&self.activation);
        ep.unwrap_or(Epilogue::Linear).apply(&mut y, units, bias);
        let mut shape = x.shape().to_vec();
        if let Some(last) = shape.last_mut() {
            *last = units;
        }
        let y = ArrayD::from_shape_vec(IxDyn(&shape), y).map_err(|e| e.to_string())?;
        match ep {
            Some(_) => Ok(y),
            None => activations::apply(&self.activation, y),
        }
    }

    /// `dz = dy` through the activation; `dx = dz·Kᵀ`, `dK = xᵀ·dz` over every leading
    /// axis, `db = Σ dz`.
    fn backward(&self, bw: Backward) -> Result<Grads, String> {
        let x = first(bw.inputs)?;
        let kernel = weight(bw.weights, 0, "kernel")?;
        let (cin, units) = match kernel.shape() {
            [c, u] => (*c, *u),
            _ => return Err("Dense kernel must be 2-D".into()),
        };
        let ks = kernel.as_standard_layout();
        let ksl = ks.as_slice().ok_or("kernel is not contiguous")?;
        let xs = x.as_standard_layout();
        let xsl = xs.as_slice().ok_or("input is not contiguous")?;
        let rows = x.len() / cin.max(1);
        let dz = if self.activation == "linear" {
            bw.dy
        } else {
            let z = if activations::backward_needs_input(&self.activation) {
                let mut z = vec![0f32; rows * units];
                Gemm { m: rows, n: units, k: cin, threads: rayon::current_num_threads() }
                    .run(Mat::new(xsl, cin), Mat::new(ksl, units), &mut z, units);
                Epilogue::Linear.apply(&mut z, units, bias_of(bw.weights, self.use_bias, 1)?);
                Some(ArrayD::from_shape_vec(bw.output.raw_dim(), z).map_err(|e| e.to_string())?)
            } else {
                None
            };
            activations::backward(&self.activation, z.as_ref(), bw.output, bw.dy)?
        };
        let dz = dz.as_standard_layout().into_owned();
        let dzs = dz.as_slice().ok_or("gradient is not contiguous")?;
        let threads = rayon::current_num_threads();
        let mut dx = vec![0f32; rows * cin];
        Gemm { m: rows, n: cin, k: units, threads }.run_strided(
            Strided::rows(dzs, units),
            Strided::transposed(ksl, units),
            &mut dx,
            cin,
            false,
        );
        let mut weights = Vec::new();
        if bw.want_weights {
            let mut dk = vec![0f32; cin * units];
            Gemm { m: cin, n: units, k: rows, threads }.run_strided(
                Strided::transposed(xsl, cin),
                Strided::rows(dzs, units),
                &mut dk,
                units,
                false,
            );
            weights.push(Some(ArrayD::from_shape_vec(IxDyn(&[cin, units]), dk).map_err(|e| e.to_string())?));
            if self.use_bias {
                let db = crate::kernels::grad::bias_grad(dzs, units);
                weights.push(Some(ArrayD::from_shape_vec(IxDyn(&[units]), db).map_err(|e| e.to_string())?));
            }
        }
        Ok(Grads {
            inputs: vec![ArrayD::from_shape_vec(x.raw_dim(), dx).map_err(|e| e.to_string())?],
            weights,
        })
    }

    fn card(&self) -> String {
        format!("Dense {}{}", self.units, card_activation(&self.activation))
    }

    fn torch(&self, t: &mut Torch) -> Result<(), String> {
        t.as_keras();
        let cin = t
            .input
            .last()
            .copied()
            .flatten()
            .ok_or("the input's last axis must be known")?;
        let m = t.m.clone();
        t.module(format!(
            "Linear({cin}, {}, bias={})",
            self.units,
            py_bool(self.use_bias)
        ));
        t.act(&self.activation)?;
        let w0 = format!("{}.T", t.key(0));
        t.copy(&format!("{m}.weight"), &w0);
        if self.use_bias {
            let key1 = t.key(1);
            t.copy(&format!("{m}.bias"), &key1);
        }
        Ok(())
    }
}
