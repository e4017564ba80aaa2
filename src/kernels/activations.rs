//! Keras 3's built-in activations, element-wise or over the last axis, on `f32` tensors.
//! Semantics follow Keras exactly (gelu is the erf form; `leaky_relu` has slope 0.2;
//! hard_sigmoid is `clip(x/6 + 1/2, 0, 1)`; softmax-like functions use the last axis).

use super::elementwise::Pointwise;
use ndarray::{ArrayD, Axis, IxDyn};

/// Applies the activation `name` (a Keras serialised name) in place or returns a new array
/// (for `glu`, which halves the last axis). Errors name what Keras would say.
pub fn apply(name: &str, x: ArrayD<f32>) -> Result<ArrayD<f32>, String> {
    let mut x = x;
    if name == "linear" {
        return Ok(x);
    }
    if let Some(f) = elementwise(name) {
        x.mapv_inplace(f);
        return Ok(x);
    }
    apply_axis(name, x)
}

/// The element-wise activations, as `Some($wrap(f))` for activation `$name` (`None` for
/// linear and for those that work along an axis, like softmax): one table for the
/// function pointers the epilogues take and the monomorphised [`Pointwise`] steps whose
/// loops inline the function and vectorise.
macro_rules! elementwise_table {
    ($name:expr, $wrap:path) => {
        match $name {
            "relu" => Some($wrap(|v: f32| v.max(0.0))),
            "relu6" => Some($wrap(|v: f32| v.clamp(0.0, 6.0))),
            "leaky_relu" => Some($wrap(|v: f32| if v >= 0.0 { v } else { 0.2 * v })),
            "elu" => Some($wrap(|v: f32| if v > 0.0 { v } else { v.exp_m1() })),
            "selu" => Some($wrap(|v: f32| {
                const ALPHA: f32 = 1.673_263_2;
                const SCALE: f32 = 1.050_701;
                SCALE * if v > 0.0 { v } else { ALPHA * v.exp_m1() }
            })),
            "celu" => Some($wrap(|v: f32| v.max(0.0) + (v.exp_m1()).min(0.0))),
            "gelu" => Some($wrap(|v: f32| {
                0.5 * v * (1.0 + erf_f32(v * std::f32::consts::FRAC_1_SQRT_2))
            })),
            "sigmoid" => Some($wrap(sigmoid_fast)),
            "tanh" => Some($wrap(f32::tanh)),
            "softplus" => Some($wrap(softplus)),
            "softsign" => Some($wrap(|v: f32| v / (1.0 + v.abs()))),
            "silu" | "swish" => Some($wrap(|v: f32| v * sigmoid_fast(v))),
            "hard_sigmoid" => Some($wrap(hard_sigmoid)),
            "hard_silu" | "hard_swish" => Some($wrap(|v: f32| v * hard_sigmoid(v))),
            "hard_tanh" => Some($wrap(|v: f32| v.clamp(-1.0, 1.0))),
            "hard_shrink" => Some($wrap(|v: f32| if v.abs() > 0.5 { v } else { 0.0 })),
            "soft_shrink" => Some($wrap(|v: f32| {
                if v > 0.5 {
                    v - 0.5
                } else if v < -0.5 {
                    v + 0.5
                } else {
                    0.0
                }
            })),
            "tanh_shrink" => Some($wrap(|v: f32| v - v.tanh())),
            "exponential" => Some($wrap(f32::exp)),
            "mish" => Some($wrap(|v: f32| v * softplus(v).tanh())),
            "log_sigmoid" => Some($wrap(|v: f32| -softplus(-v))),
            "squareplus" => Some($wrap(|v: f32| (v + (v * v + 4.0).sqrt()) / 2.0)),
            "sparse_plus" => Some($wrap(|v: f32| {
                if v <= -1.0 {
                    0.0
                } else if v >= 1.0 {
                    v
                } else {
                    (v + 1.0) * (v + 1.0) / 4.0
                }
            })),
            "sparse_sigmoid" => Some($wrap(|v: f32| {
                if v <= -1.0 {
                    0.0
                } else if v >= 1.0 {
                    1.0
                } else {
                    (v + 1.0) / 2.0
                }
            })),
            _ => None,
        }
    };
}

/// The element-wise function of activation `name` (`None` for linear and for those that
/// work along an axis, like softmax).
pub fn elementwise(name: &str) -> Option<fn(f32) -> f32> {
    fn pointer(f: fn(f32) -> f32) -> fn(f32) -> f32 {
        f
    }
    elementwise_table!(name, pointer)
}

/// Activation `name` as a [`Pointwise`] step over runs of elements (`None` as
/// [`elementwise`]).
pub fn pointwise(name: &str) -> Option<Pointwise> {
    elementwise_table!(name, Pointwise::map)
}

fn apply_axis(name: &str, x: ArrayD<f32>) -> Result<ArrayD<f32>, String> {
    let mut x = x;
    let last = x.ndim().saturating_sub(1);
    match name {
        "softmax" => {
            softmax_axis(&mut x, last);
            Ok(x)
        }
        "log_softmax" => {
            log_softmax_axis(&mut x, last);
            Ok(x)
        }
        "sparsemax" => {
            for mut lane in x.lanes_mut(Axis(last)) {
                let mut z: Vec<f32> = lane.to_vec();
                z.sort_by(|a, b| b.total_cmp(a));
                let mut cum = 0.0;
                let mut k = 0;
                let mut cum_k = 0.0;
                for (i, zi) in z.iter().enumerate() {
                    cum += zi;
                    if 1.0 + (i as f32 + 1.0) * zi > cum {
                        k = i + 1;
                        cum_k = cum;
                    }
                }
                let tau = (cum_k - 1.0) / k.max(1) as f32;
                lane.mapv_inplace(|v| (v - tau).max(0.0));
            }
            Ok(x)
        }
        "glu" => {
            let n = x.shape().get(last).copied().unwrap_or(0);
            if n % 2 != 0 {
                return Err(format!(
                    "glu splits the last axis in two halves, but it has {n} elements"
                ));
            }
            let a = x
                .slice_axis(Axis(last), ndarray::Slice::from(0..n / 2))
                .to_owned();
            let b = x.slice_axis(Axis(last), ndarray::Slice::from(n / 2..n));
            let mut out = a;
            ndarray::Zip::from(&mut out)
                .and(&b)
                .for_each(|o, g| *o *= sigmoid(*g));
            Ok(out)
        }
        "threshold" => Err(
            "threshold() missing 2 required positional arguments: 'threshold' and 'default_value'"
                .into(),
        ),
        other => Err(format!(
            "Could not interpret activation function identifier: {other}"
        )),
    }
}

/// The derivative of element-wise activation `name` from its output alone, where the
/// output determines it (the backward pass then needs no pre-activation values).
pub fn derivative_from_output(name: &str) -> Option<fn(f32) -> f32> {
    Some(match name {
        "linear" => |_| 1.0,
        // JAX's rules: relu's derivative is 0 at 0, relu6's 0 at both ends.
        "relu" => |y| if y > 0.0 { 1.0 } else { 0.0 },
        "relu6" => |y| if y > 0.0 && y < 6.0 { 1.0 } else { 0.0 },
        "sigmoid" => |y| y * (1.0 - y),
        "tanh" => |y| 1.0 - y * y,
        "exponential" => |y| y,
        _ => return None,
    })
}

/// The derivative of element-wise activation `name` at its input `z` (`None` for those
/// working along an axis and for unknown names).
pub fn derivative(name: &str) -> Option<fn(f32) -> f32> {
    fn gelu(z: f32) -> f32 {
        let cdf = 0.5 * (1.0 + erf_f32(z * std::f32::consts::FRAC_1_SQRT_2));
        let pdf = (-0.5 * z * z).exp()
            * (0.5 * std::f32::consts::FRAC_2_SQRT_PI)
            * std::f32::consts::FRAC_1_SQRT_2;
        cdf + z * pdf
    }
    fn hard_sigmoid_d(z: f32) -> f32 {
        if z > -3.0 && z < 3.0 { 1.0 / 6.0 } else { 0.0 }
    }
    Some(match name {
        "linear" => |_| 1.0,
        "relu" => |z| if z > 0.0 { 1.0 } else { 0.0 },
        "relu6" => |z| if z > 0.0 && z < 6.0 { 1.0 } else { 0.0 },
        "leaky_relu" => |z| if z >= 0.0 { 1.0 } else { 0.2 },
        "elu" | "celu" => |z| if z > 0.0 { 1.0 } else { z.exp() },
        "selu" => |z| {
            const ALPHA: f32 = 1.673_263_2;
            const SCALE: f32 = 1.050_701;
            SCALE * if z > 0.0 { 1.0 } else { ALPHA * z.exp() }
        },
        "gelu" => gelu,
        "sigmoid" => |z| {
            let s = sigmoid(z);
            s * (1.0 - s)
        },
        "tanh" => |z| {
            let t = z.tanh();
            1.0 - t * t
        },
        "softplus" => sigmoid,
        "softsign" => |z| 1.0 / ((1.0 + z.abs()) * (1.0 + z.abs())),
        "silu" | "swish" => |z| {
            let s = sigmoid(z);
            s + z * s * (1.0 - s)
        },
        "hard_sigmoid" => hard_sigmoid_d,
        "hard_silu" | "hard_swish" => |z| hard_sigmoid(z) + z * hard_sigmoid_d(z),
        "hard_tanh" => |z| if (-1.0..=1.0).contains(&z) { 1.0 } else { 0.0 },
        "hard_shrink" | "soft_shrink" => |z| if z.abs() > 0.5 { 1.0 } else { 0.0 },
        "tanh_shrink" => |z| z.tanh() * z.tanh(),
        "exponential" => f32::exp,
        "mish" => |z| {
            let t = softplus(z).tanh();
            t + z * (1.0 - t * t) * sigmoid(z)
        },
        "log_sigmoid" => |z| sigmoid(-z),
        "squareplus" => |z| 0.5 * (1.0 + z / (z * z + 4.0).sqrt()),
        "sparse_plus" => |z| {
            if z <= -1.0 {
                0.0
            } else if z >= 1.0 {
                1.0
            } else {
                (z + 1.0) / 2.0
            }
        },
        "sparse_sigmoid" => |z| if z > -1.0 && z < 1.0 { 0.5 } else { 0.0 },
        _ => return None,
    })
}

/// Whether [`backward`] needs the activation's input for `name` (not just its output).
pub fn backward_needs_input(name: &str) -> bool {
    derivative_from_output(name).is_none()
        && !matches!(name, "softmax" | "log_softmax" | "sparsemax")
}

/// The gradient of activation `name` with respect to its input, from the gradient `dy`
/// of its output `y` (and its input `z`, when [`backward_needs_input`]). Softmax-like
/// activations work along the last axis, as their forward pass.
pub fn backward(
    name: &str,
    z: Option<&ArrayD<f32>>,
    y: &ArrayD<f32>,
    dy: ArrayD<f32>,
) -> Result<ArrayD<f32>, String> {
    let mut dy = dy;
    if name == "linear" {
        return Ok(dy);
    }
    if let Some(f) = derivative_from_output(name) {
        match (dy.as_slice_mut(), y.as_slice()) {
            // Contiguous (the usual case): parallel runs over two slices, the common
            // rules written out so they vectorise (a function pointer per element
            // does not). ReLU selects, as JAX's rule (`select(y > 0, g, 0)`).
            (Some(g), Some(v)) if g.len() == v.len() => {
                use super::elementwise::zip_in_place;
                match name {
                    "relu" => zip_in_place(g, v, |g, y| if y > 0.0 { g } else { 0.0 }),
                    "sigmoid" => zip_in_place(g, v, |g, y| g * (y * (1.0 - y))),
                    "tanh" => zip_in_place(g, v, |g, y| g * (1.0 - y * y)),
                    _ => zip_in_place(g, v, |g, y| g * f(y)),
                }
            }
            _ => ndarray::Zip::from(&mut dy)
                .and(y)
                .for_each(|g, &v| *g *= f(v)),
        }
        return Ok(dy);
    }
    let last = y.ndim().saturating_sub(1);
    match name {
        "softmax" => {
            softmax_backward(&mut dy, y, last);
            return Ok(dy);
        }
        "log_softmax" => {
            for (mut g, yl) in dy
                .lanes_mut(Axis(last))
                .into_iter()
                .zip(y.lanes(Axis(last)))
            {
                let s: f32 = g.sum();
                ndarray::Zip::from(&mut g)
                    .and(&yl)
                    .for_each(|g, &v| *g -= v.exp() * s);
            }
            return Ok(dy);
        }
        "sparsemax" => {
            for (mut g, yl) in dy
                .lanes_mut(Axis(last))
                .into_iter()
                .zip(y.lanes(Axis(last)))
            {
                let (mut sum, mut count) = (0.0f32, 0usize);
                for (gv, &v) in g.iter().zip(&yl) {
                    if v > 0.0 {
                        sum += gv;
                        count += 1;
                    }
                }
                let mean = sum / count.max(1) as f32;
                ndarray::Zip::from(&mut g)
                    .and(&yl)
                    .for_each(|g, &v| *g = if v > 0.0 { *g - mean } else { 0.0 });
            }
            return Ok(dy);
        }
        _ => {}
    }
    let Some(f) = derivative(name) else {
        return Err(format!(
            "convscope has no gradient rule for the `{name}` activation"
        ));
    };
    let z = z.ok_or_else(|| format!("the `{name}` activation's gradient needs its input"))?;
    if z.shape() != dy.shape() {
        return Err(format!(
            "the `{name}` activation's input and gradient differ in shape"
        ));
    }
    ndarray::Zip::from(&mut dy)
        .and(z)
        .for_each(|g, &v| *g *= f(v));
    Ok(dy)
}

/// Softmax's backward along `axis`: `dz = y ⊙ (dy − Σ dy ⊙ y)`.
pub fn softmax_backward(dy: &mut ArrayD<f32>, y: &ArrayD<f32>, axis: usize) {
    for (mut g, yl) in dy
        .lanes_mut(Axis(axis))
        .into_iter()
        .zip(y.lanes(Axis(axis)))
    {
        let dot: f32 = g.iter().zip(&yl).map(|(a, b)| a * b).sum();
        ndarray::Zip::from(&mut g)
            .and(&yl)
            .for_each(|g, &v| *g = v * (*g - dot));
    }
}

fn sigmoid(v: f32) -> f32 {
    1.0 / (1.0 + (-v).exp())
}

/// `1 / (1 + e^-v)` with [`exp_fast`]: within a few ulp of [`sigmoid`], and its loops
/// vectorise (sigmoid and swish are most of EfficientNet's element-wise work).
#[inline(always)]
fn sigmoid_fast(v: f32) -> f32 {
    1.0 / (1.0 + exp_fast(-v))
}

/// `e^x` without a call or a branch, so a loop of it vectorises: Cephes' `expf` (x split
/// as n·ln 2 plus r with |r| ≤ ln 2 / 2, a degree-7 polynomial for e^r, 2^n from the
/// exponent bits), within 4e-7 relative of libm's on [-87, 88]; 0 below -87 and +∞ above
/// 88 (where e^x is below the normal floats or near the largest), NaN for NaN.
#[inline(always)]
fn exp_fast(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // 1.5 · 2^23: adding it rounds to an integer, which its low mantissa bits then hold.
    const ROUND: f32 = 12_582_912.0;
    let xc = x.clamp(-87.0, 88.0);
    let t = xc * LOG2E + ROUND;
    let n = t - ROUND;
    let ni = (t.to_bits() as i32).wrapping_sub(0x4B40_0000);
    let r = xc - n * LN2_HI - n * LN2_LO;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 1.666_666_5e-1)
        * r
        + 0.5;
    let e = (p * r * r + r + 1.0) * f32::from_bits((ni.wrapping_add(127) as u32) << 23);
    let e = if x > 88.0 { f32::INFINITY } else { e };
    if x < -87.0 { 0.0 } else { e }
}

fn softplus(v: f32) -> f32 {
    // log(1 + e^v) without overflow.
    if v > 20.0 { v } else { v.exp().ln_1p() }
}

fn hard_sigmoid(v: f32) -> f32 {
    (v / 6.0 + 0.5).clamp(0.0, 1.0)
}

/// Softmax over `axis` (numerically stable).
pub fn softmax_axis(x: &mut ArrayD<f32>, axis: usize) {
    for mut lane in x.lanes_mut(Axis(axis)) {
        let m = lane.fold(f32::NEG_INFINITY, |a, &b| a.max(b));
        lane.mapv_inplace(|v| (v - m).exp());
        let s: f32 = lane.sum();
        lane.mapv_inplace(|v| v / s);
    }
}

fn log_softmax_axis(x: &mut ArrayD<f32>, axis: usize) {
    for mut lane in x.lanes_mut(Axis(axis)) {
        let m = lane.fold(f32::NEG_INFINITY, |a, &b| a.max(b));
        let lse = lane.fold(0.0f32, |a, &b| a + (b - m).exp()).ln() + m;
        lane.mapv_inplace(|v| v - lse);
    }
}

/// The error function in single precision, as TensorFlow's CPU kernels compute it
/// (Eigen's rational approximation: odd degree-13 over even degree-8 polynomial on
/// `[-4, 4]`, ±1 beyond): a few multiply-adds instead of [`erf`]'s `exp` and series
/// (ConvNeXtTiny's GELU layers took 200 ms of its 760 ms with those).
#[inline]
pub fn erf_f32(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = x2 * -2.726_142_3e-10 + 2.770_681_4e-8;
    p = x2 * p + -2.101_024e-6;
    p = x2 * p + -5.692_506_4e-5;
    p = x2 * p + -7.349_906_3e-4;
    p = x2 * p + -2.954_600_5e-3;
    p = x2 * p + -1.609_603_3e-2;
    p *= x;
    let mut q = x2 * -1.456_607_2e-5 + -2.133_740_5e-4;
    q = x2 * q + -1.682_827e-3;
    q = x2 * q + -7.373_329_2e-3;
    q = x2 * q + -1.426_474e-2;
    p / q
}

/// The error function, to double precision (W. J. Cody's rational approximations).
pub fn erf(x: f64) -> f64 {
    // Abramowitz–Stegun 7.1.28-style series are not accurate enough for gelu near 0;
    // use erf = 1 - erfc with a Chebyshev-fitted erfc (Numerical Recipes `erfcc`,
    // fractional error < 1.2e-7), and the Taylor series for small |x|.
    if x.abs() < 0.5 {
        // Taylor series: 2/sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1))
        let mut sum = 0.0;
        let mut term = x;
        let x2 = x * x;
        for n in 0..30 {
            let add = term / (2 * n + 1) as f64;
            sum += add;
            if add.abs() < 1e-17 {
                break;
            }
            term *= -x2 / (n + 1) as f64;
        }
        return sum * std::f64::consts::FRAC_2_SQRT_PI;
    }
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 { 1.0 - r } else { r - 1.0 }
}

/// Softmax layer over any axis (Keras's `Softmax(axis)`), negative axes from the end.
/// Keras's `Softmax` layer over `axes` (one, or several taken together).
pub fn softmax_layer(x: ArrayD<f32>, axes: &[i64]) -> Result<ArrayD<f32>, String> {
    let rank = x.ndim() as i64;
    let mut resolved = Vec::with_capacity(axes.len());
    for &axis in axes {
        let ax = if axis < 0 { axis + rank } else { axis };
        if ax < 0 || ax >= rank {
            return Err(format!(
                "`dim` must be in the range [-{rank}, {rank}) where {rank} is the number of \
                 dimensions in the input. Received: dim={axis}"
            ));
        }
        resolved.push(ax as usize);
    }
    let mut x = x;
    if let [ax] = resolved[..] {
        softmax_axis(&mut x, ax);
        return Ok(x);
    }
    // Several axes: move them last, flatten them to one, normalise, and put them back.
    let rest: Vec<usize> = (0..x.ndim()).filter(|a| !resolved.contains(a)).collect();
    let perm: Vec<usize> = rest.iter().chain(&resolved).copied().collect();
    let moved = x
        .permuted_axes(IxDyn(&perm))
        .as_standard_layout()
        .into_owned();
    let moved_shape = moved.shape().to_vec();
    let inner: usize = moved_shape[rest.len()..].iter().product();
    let outer = moved.len() / inner.max(1);
    let mut flat = moved
        .into_shape_with_order(IxDyn(&[outer, inner]))
        .map_err(|e| e.to_string())?;
    softmax_axis(&mut flat, 1);
    let back = flat
        .into_shape_with_order(IxDyn(&moved_shape))
        .map_err(|e| e.to_string())?;
    let mut inverse = vec![0; perm.len()];
    for (i, &p) in perm.iter().enumerate() {
        inverse[p] = i;
    }
    Ok(back
        .permuted_axes(IxDyn(&inverse))
        .as_standard_layout()
        .into_owned())
}

/// A zero-filled tensor of the given shape (used for empty results).
pub fn zeros(shape: &[usize]) -> ArrayD<f32> {
    ArrayD::zeros(IxDyn(shape))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_fast_is_within_a_few_ulp_of_libm() {
        let mut worst = 0f64;
        let mut x = -87.0f32;
        while x <= 88.0 {
            let (e, want) = (exp_fast(x) as f64, (x as f64).exp());
            worst = worst.max((e - want).abs() / want);
            x += 0.001_37;
        }
        assert!(worst < 4e-7, "relative error {worst}");
        assert!(exp_fast(f32::NAN).is_nan());
        assert_eq!(exp_fast(-1e30), 0.0);
        assert_eq!(exp_fast(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp_fast(1e30), f32::INFINITY);
        // Sigmoid and swish at the ends, as `1 / (1 + e^-v)` and `v * sigmoid(v)` give them.
        assert_eq!(sigmoid_fast(f32::NEG_INFINITY), 0.0);
        assert_eq!(sigmoid_fast(f32::INFINITY), 1.0);
        assert!(sigmoid_fast(f32::NAN).is_nan());
        let swish = elementwise("swish").unwrap();
        assert!(
            swish(f32::NEG_INFINITY).is_nan(),
            "-inf * 0 is NaN in Keras too"
        );
        for v in [-30.0f32, -5.0, -0.3, 0.0, 0.7, 6.0, 40.0] {
            assert!((sigmoid_fast(v) - sigmoid(v)).abs() <= 2.0 * f32::EPSILON * sigmoid(v));
        }
    }

    #[test]
    fn single_precision_erf_is_within_a_few_ulps() {
        let mut worst = 0f64;
        for i in -8000..=8000 {
            let x = i as f64 * 1e-3;
            worst = worst.max((erf_f32(x as f32) as f64 - erf(x)).abs());
        }
        assert!(worst < 5e-7, "worst {worst}");
    }

    #[test]
    fn erf_is_accurate() {
        for (x, e) in [
            (0.0, 0.0),
            (0.1, 0.112_462_916_018_284_9),
            (0.5, 0.520_499_877_813_046_5),
            (1.0, 0.842_700_792_949_714_9),
            (2.0, 0.995_322_265_018_952_7),
            (-1.5, -0.966_105_146_475_310_7),
        ] {
            assert!((erf(x) - e).abs() < 2e-7, "erf({x}) = {} vs {e}", erf(x));
        }
    }

    #[test]
    fn keras_conventions() {
        let x = ArrayD::from_shape_vec(IxDyn(&[4]), vec![-3.0f32, -1.0, 0.0, 4.0]).unwrap();
        let close = |a: &ArrayD<f32>, b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-6);
        let lr = apply("leaky_relu", x.clone()).unwrap();
        assert!(close(&lr, &[-0.6, -0.2, 0.0, 4.0]), "{lr}");
        let hs = apply("hard_sigmoid", x.clone()).unwrap();
        assert!(close(&hs, &[0.0, 1.0 / 3.0, 0.5, 1.0]), "{hs}");
        let sm = apply("softmax", x.clone()).unwrap();
        assert!((sm.sum() - 1.0).abs() < 1e-6);
        let sp = apply("sparsemax", x.clone()).unwrap();
        assert_eq!(sp.as_slice().unwrap(), &[0.0, 0.0, 0.0, 1.0]);
        assert!(apply("threshold", x.clone()).is_err());
        let g = apply("glu", x).unwrap();
        assert_eq!(g.shape(), &[2]);
    }
}
