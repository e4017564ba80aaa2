//! Keras initializers: turns an initializer object (class name + config) and a weight
//! shape into numbers.
//!
//! Owns Keras 3's `compute_fans`, the formulas of every built-in initializer class
//! (`VarianceScaling` and its Glorot/He/Lecun presets, normal, truncated normal, uniform,
//! constants, orthogonal, identity), config validation with Keras's wording, and a small
//! self-contained PRNG (SplitMix64 seeding a xoshiro256**, Box–Muller normals) so a seed
//! gives the same weights on every platform. The numbers follow Keras's distributions,
//! not Keras's random streams: no seed reproduces TensorFlow's or JAX's exact draws.

use crate::keras::objects::{KerasObject, default_config, py_repr_json};
use crate::keras::pyfmt;
use serde_json::Value;

/// Standard deviation of a unit normal truncated to ±2 (Keras's constant).
const TRUNCATED_STDDEV_FACTOR: f64 = 0.879_625_661_034_239_8;

/// Largest tensor `draw` fills (4 GiB of f32); larger shapes are refused, not allocated.
const MAX_ELEMENTS: u64 = 1 << 30;

/// Domain separators so that "run seed 5" and "explicit seed 5" give different streams.
const DOMAIN_RUN: u64 = 0x5EED_0FC0_4E5C_0E11;
const DOMAIN_EXPLICIT: u64 = 0xE17C_175E_ED00_0001;

/// Fans as Keras computes them (`compute_fans`): rank 0 → (1,1); rank 1 → (n,n); rank 2 → (shape[0], shape[1]);
/// rank > 2 → receptive = prod(shape[..rank-2]); (shape[rank-2]*receptive, shape[rank-1]*receptive).
pub fn fans(shape: &[usize]) -> (f64, f64) {
    match shape {
        [] => (1.0, 1.0),
        [n] => (*n as f64, *n as f64),
        [a, b] => (*a as f64, *b as f64),
        _ => {
            let rank = shape.len();
            let receptive: f64 = shape[..rank - 2].iter().map(|&d| d as f64).product();
            (
                shape[rank - 2] as f64 * receptive,
                shape[rank - 1] as f64 * receptive,
            )
        }
    }
}

/// Draws a tensor of `shape` (row-major) from a Keras initializer; `seed` is the run's seed,
/// mixed with the initializer's own `seed` config when that is set (then the result must not depend on `seed`).
pub fn draw(init: &KerasObject, shape: &[usize], seed: u64) -> Result<Vec<f32>, String> {
    let count = element_count(shape)?;
    let cfg = Config {
        obj: init,
        defaults: default_config(&init.class_name),
    };
    match init.class_name.as_str() {
        "Zeros" => filled(count, 0.0),
        "Ones" => filled(count, 1.0),
        "Constant" => {
            let value = cfg.scalar("value", 0.0)?;
            filled(count, value as f32)
        }
        "RandomNormal" => {
            let mean = cfg.number("mean", 0.0)?;
            let stddev = cfg.number("stddev", 0.05)?;
            let rng = cfg.rng(seed)?;
            draw_par(count, &rng, |rng| (mean + stddev * rng.normal()) as f32)
        }
        "TruncatedNormal" => {
            let mean = cfg.number("mean", 0.0)?;
            let stddev = cfg.number("stddev", 0.05)?;
            let rng = cfg.rng(seed)?;
            draw_par(count, &rng, |rng| {
                (mean + stddev * rng.truncated_normal()) as f32
            })
        }
        "RandomUniform" => {
            let minval = cfg.number("minval", -0.05)?;
            let maxval = cfg.number("maxval", 0.05)?;
            let rng = cfg.rng(seed)?;
            draw_par(count, &rng, |rng| rng.uniform_in(minval, maxval))
        }
        "VarianceScaling" => {
            let scale = cfg.number("scale", 1.0)?;
            let mode = cfg.string("mode", "fan_in")?;
            let distribution = cfg.string("distribution", "truncated_normal")?;
            variance_scaling(&cfg, shape, count, seed, scale, &mode, &distribution)
        }
        "GlorotUniform" => variance_scaling(&cfg, shape, count, seed, 1.0, "fan_avg", "uniform"),
        "GlorotNormal" => {
            variance_scaling(&cfg, shape, count, seed, 1.0, "fan_avg", "truncated_normal")
        }
        "HeNormal" => variance_scaling(&cfg, shape, count, seed, 2.0, "fan_in", "truncated_normal"),
        "HeUniform" => variance_scaling(&cfg, shape, count, seed, 2.0, "fan_in", "uniform"),
        "LecunNormal" => {
            variance_scaling(&cfg, shape, count, seed, 1.0, "fan_in", "truncated_normal")
        }
        "LecunUniform" => variance_scaling(&cfg, shape, count, seed, 1.0, "fan_in", "uniform"),
        "Orthogonal" => {
            let gain = cfg.number("gain", 1.0)?;
            let mut rng = cfg.rng(seed)?;
            orthogonal(shape, count, gain, &mut rng)
        }
        "Identity" => {
            let gain = cfg.number("gain", 1.0)?;
            let [rows, cols] = shape else {
                return Err(format!(
                    "Identity matrix initializer can only be used for 2D matrices. \
                     Received: shape={} of rank {}.",
                    py_shape(shape),
                    shape.len()
                ));
            };
            let mut out = zeroed(count)?;
            let g = gain as f32;
            for i in 0..(*rows).min(*cols) {
                out[i * cols + i] = g;
            }
            Ok(out)
        }
        "STFT" => Err("STFT initializer is not supported".into()),
        other => Err(format!("unknown initializer class '{other}'")),
    }
}

/// `VarianceScaling.__init__` validation followed by `__call__`.
fn variance_scaling(
    cfg: &Config,
    shape: &[usize],
    count: usize,
    seed: u64,
    scale: f64,
    mode: &str,
    distribution: &str,
) -> Result<Vec<f32>, String> {
    if scale.is_nan() || scale <= 0.0 || scale.is_infinite() {
        return Err(format!(
            "Argument `scale` must be positive float. Received: scale={}",
            pyfmt::float(scale)
        ));
    }
    if !matches!(mode, "fan_in" | "fan_out" | "fan_avg") {
        return Err(format!(
            "Invalid `mode` argument: {mode}. Please use one of {{'fan_in', 'fan_out', 'fan_avg'}}"
        ));
    }
    let distribution = match distribution.to_lowercase().as_str() {
        "normal" | "truncated_normal" => Distribution::Truncated,
        "untruncated_normal" => Distribution::Normal,
        "uniform" => Distribution::Uniform,
        other => {
            return Err(format!(
                "Invalid `distribution` argument: {other}. Please use one of \
                 {{'uniform', 'truncated_normal', 'untruncated_normal'}}"
            ));
        }
    };
    let (fan_in, fan_out) = cfg.fans(shape)?;
    let n = match mode {
        "fan_in" => fan_in,
        "fan_out" => fan_out,
        _ => (fan_in + fan_out) / 2.0,
    };
    let scale = scale / n.max(1.0);
    let rng = cfg.rng(seed)?;
    match distribution {
        Distribution::Truncated => {
            let stddev = scale.sqrt() / TRUNCATED_STDDEV_FACTOR;
            draw_par(count, &rng, |rng| (stddev * rng.truncated_normal()) as f32)
        }
        Distribution::Normal => {
            let stddev = scale.sqrt();
            draw_par(count, &rng, |rng| (stddev * rng.normal()) as f32)
        }
        Distribution::Uniform => {
            let limit = (3.0 * scale).sqrt();
            draw_par(count, &rng, |rng| rng.uniform_in(-limit, limit))
        }
    }
}

enum Distribution {
    Truncated,
    Normal,
    Uniform,
}

/// `Orthogonal.__call__`: QR of a (max, min) normal matrix with R's diagonal made
/// positive, transposed when there are fewer rows than columns, times `gain`.
fn orthogonal(shape: &[usize], count: usize, gain: f64, rng: &mut Rng) -> Result<Vec<f32>, String> {
    if shape.len() < 2 {
        return Err(format!(
            "The tensor to initialize must be at least two-dimensional. \
             Received: shape={} of rank {}.",
            py_shape(shape),
            shape.len()
        ));
    }
    let cols = shape[shape.len() - 1];
    let rows = count.checked_div(cols).unwrap_or(0);
    if count == 0 {
        return Ok(Vec::new());
    }
    let (m, n) = (rows.max(cols), rows.min(cols));
    // The random matrix, row-major (m, n) as Keras draws it, stored column by column.
    let mut q: Vec<f64> = Vec::new();
    q.try_reserve_exact(m * n)
        .map_err(|_| format!("not enough memory for a {m}×{n} orthogonal matrix"))?;
    q.resize(m * n, 0.0);
    for i in 0..m {
        for j in 0..n {
            q[j * m + i] = rng.normal();
        }
    }
    // Classical Gram–Schmidt applied twice ("twice is enough"): gives the Q of the QR
    // factorisation whose R has a positive diagonal, which is what Keras's sign fix yields.
    let mut coeffs = vec![0.0f64; n];
    for j in 0..n {
        let (done, rest) = q.split_at_mut(j * m);
        let col = &mut rest[..m];
        for _pass in 0..2 {
            for (k, c) in coeffs.iter_mut().enumerate().take(j) {
                *c = dot(&done[k * m..(k + 1) * m], col);
            }
            for (k, c) in coeffs.iter().enumerate().take(j) {
                for (x, qk) in col.iter_mut().zip(&done[k * m..(k + 1) * m]) {
                    *x -= c * qk;
                }
            }
        }
        let norm = dot(col, col).sqrt();
        if norm > 0.0 {
            col.iter_mut().for_each(|x| *x /= norm);
        }
    }
    let mut out = zeroed(count)?;
    for i in 0..rows {
        for j in 0..cols {
            // rows >= cols: out = Q (m = rows); otherwise out = Qᵀ (m = cols).
            let v = if rows >= cols {
                q[j * m + i]
            } else {
                q[i * m + j]
            };
            out[i * cols + j] = (gain * v) as f32;
        }
    }
    Ok(out)
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn py_shape(shape: &[usize]) -> String {
    let dims: Vec<i64> = shape
        .iter()
        .map(|&d| i64::try_from(d).unwrap_or(i64::MAX))
        .collect();
    pyfmt::tuple(&dims)
}

fn element_count(shape: &[usize]) -> Result<usize, String> {
    let mut count: u64 = 1;
    for &d in shape {
        count = count.saturating_mul(d as u64);
    }
    if count > MAX_ELEMENTS {
        return Err(format!(
            "a weight of shape {} has {count} values; the limit is {MAX_ELEMENTS}",
            py_shape(shape)
        ));
    }
    usize::try_from(count).map_err(|_| format!("shape {} is too large", py_shape(shape)))
}

fn zeroed(count: usize) -> Result<Vec<f32>, String> {
    filled(count, 0.0)
}

fn filled(count: usize, value: f32) -> Result<Vec<f32>, String> {
    let mut v = Vec::new();
    v.try_reserve_exact(count)
        .map_err(|_| format!("not enough memory for {count} weight values"))?;
    v.resize(count, value);
    Ok(v)
}

/// Values per independently seeded stream of [`draw_par`].
const STREAM: usize = 1 << 14;

/// `count` values of `f`, drawn in parallel: stream `i` (values `i·STREAM..`) has its
/// own generator seeded from `rng` and `i`, so the result depends only on the seed,
/// never on the number of threads. (A new layer's 5×5×128×128 kernel takes ~1 ms
/// instead of ~8 ms on one thread.)
fn draw_par(
    count: usize,
    rng: &Rng,
    f: impl Fn(&mut Rng) -> f32 + Sync,
) -> Result<Vec<f32>, String> {
    use rayon::prelude::*;
    let mut v = Vec::new();
    v.try_reserve_exact(count)
        .map_err(|_| format!("not enough memory for {count} weight values"))?;
    v.resize(count, 0.0);
    let key = rng.s[0] ^ rng.s[2].rotate_left(17);
    let fill = |(i, chunk): (usize, &mut [f32])| {
        let mut r = Rng::new(key ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        for x in chunk.iter_mut() {
            *x = f(&mut r);
        }
    };
    if count > STREAM {
        v.par_chunks_mut(STREAM).enumerate().for_each(fill);
    } else {
        v.chunks_mut(STREAM).enumerate().for_each(fill);
    }
    Ok(v)
}

/// Typed access to an initializer's config, falling back to the class defaults.
struct Config<'a> {
    obj: &'a KerasObject,
    defaults: serde_json::Map<String, Value>,
}

impl Config<'_> {
    fn get(&self, key: &str) -> Option<&Value> {
        self.obj.config.get(key).or_else(|| self.defaults.get(key))
    }

    fn class(&self) -> &str {
        &self.obj.class_name
    }

    /// A finite number (JSON number).
    fn number(&self, key: &str, default: f64) -> Result<f64, String> {
        match self.get(key) {
            None => Ok(default),
            Some(Value::Number(n)) => n
                .as_f64()
                .filter(|x| x.is_finite())
                .ok_or_else(|| self.bad(key, "a finite number")),
            Some(_) => Err(self.bad(key, "a number")),
        }
    }

    /// A Python scalar: number or bool (`Constant(value=True)` is 1.0).
    fn scalar(&self, key: &str, default: f64) -> Result<f64, String> {
        match self.get(key) {
            Some(Value::Bool(b)) => Ok(if *b { 1.0 } else { 0.0 }),
            Some(Value::Number(_)) | None => self.number(key, default),
            Some(_) => Err(self.bad(key, "a scalar number (only scalar values are allowed)")),
        }
    }

    fn string(&self, key: &str, default: &str) -> Result<String, String> {
        match self.get(key) {
            None => Ok(default.to_string()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(self.bad(key, "a string")),
        }
    }

    fn bad(&self, key: &str, wanted: &str) -> String {
        let shown = self.get(key).map_or("None".into(), py_repr_json);
        format!(
            "{}: argument `{key}` must be {wanted}. Received: {key}={shown}",
            self.class()
        )
    }

    /// The explicit `seed` config: `None` when unset, the integer when set.
    fn explicit_seed(&self) -> Result<Option<u64>, String> {
        let err = |v: &Value| {
            format!(
                "`seed` argument should be an instance of `keras.random.SeedGenerator()` \
                 or an integer. Received: seed={}",
                py_repr_json(v)
            )
        };
        match self.get("seed") {
            None | Some(Value::Null) => Ok(None),
            Some(v @ Value::Number(n)) => {
                if let Some(u) = n.as_u64() {
                    Ok(Some(u))
                } else if let Some(i) = n.as_i64() {
                    Ok(Some(i as u64))
                } else {
                    Err(err(v))
                }
            }
            // A serialised SeedGenerator: {"class_name": "SeedGenerator", "config": {"seed": 42}}.
            Some(v @ Value::Object(m)) => {
                match m
                    .get("config")
                    .and_then(|c| c.get("seed"))
                    .and_then(|s| s.as_i64().or_else(|| s.as_u64().map(|u| u as i64)))
                {
                    Some(s) => Ok(Some(s as u64)),
                    None if m.get("class_name").and_then(Value::as_str)
                        == Some("SeedGenerator") =>
                    {
                        Ok(None)
                    }
                    None => Err(err(v)),
                }
            }
            Some(v) => Err(err(v)),
        }
    }

    fn rng(&self, run_seed: u64) -> Result<Rng, String> {
        Ok(match self.explicit_seed()? {
            Some(s) => Rng::new(s ^ DOMAIN_EXPLICIT),
            None => Rng::new(run_seed ^ DOMAIN_RUN),
        })
    }

    /// `compute_fans(shape, input_axes, output_axes)`: the axes count only when both are set.
    fn fans(&self, shape: &[usize]) -> Result<(f64, f64), String> {
        let axes_in = self.axes("input_axes", shape)?;
        let axes_out = self.axes("output_axes", shape)?;
        match (axes_in, axes_out) {
            (Some(a), Some(b)) => {
                let prod = |axes: &[usize]| axes.iter().map(|&i| shape[i] as f64).product();
                Ok((prod(&a), prod(&b)))
            }
            _ => Ok(fans(shape)),
        }
    }

    fn axes(&self, key: &str, shape: &[usize]) -> Result<Option<Vec<usize>>, String> {
        let list = match self.get(key) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Array(a)) => a,
            Some(_) => return Err(self.bad(key, "a list of integers")),
        };
        let rank = shape.len() as i64;
        list.iter()
            .map(|v| {
                let axis = v
                    .as_i64()
                    .ok_or_else(|| self.bad(key, "a list of integers"))?;
                let idx = if axis < 0 { axis + rank } else { axis };
                if (0..rank).contains(&idx) {
                    Ok(idx as usize)
                } else {
                    Err(format!(
                        "{}: axis {axis} in `{key}` is out of range for shape {} of rank {rank}",
                        self.class(),
                        py_shape(shape)
                    ))
                }
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }
}

/// xoshiro256** seeded through SplitMix64; normals by Box–Muller. The engine's one
/// seeded generator: the initializers, and the noise and random transformations of
/// [`crate::explain`] and [`crate::visualize`].
pub struct Rng {
    s: [u64; 4],
    spare: Option<f64>,
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    pub fn new(key: u64) -> Rng {
        let mut st = key;
        let s = [
            splitmix64(&mut st),
            splitmix64(&mut st),
            splitmix64(&mut st),
            splitmix64(&mut st),
        ];
        Rng { s, spare: None }
    }

    fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1) with 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in [lo, hi), rounded to f32 and kept below `hi` after rounding.
    fn uniform_in(&mut self, lo: f64, hi: f64) -> f32 {
        loop {
            let v = (lo + (hi - lo) * self.uniform()) as f32;
            if lo >= hi || (lo as f32) >= (hi as f32) || v < hi as f32 {
                return v;
            }
        }
    }

    /// Standard normal.
    pub fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        // u1 in (0, 1] so the logarithm is finite.
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        let r = (-2.0 * u1.ln()).sqrt();
        let theta = std::f64::consts::TAU * u2;
        self.spare = Some(r * theta.sin());
        r * theta.cos()
    }

    /// A unit normal re-drawn until it lies within two standard deviations.
    fn truncated_normal(&mut self) -> f64 {
        loop {
            let z = self.normal();
            if z.abs() <= 2.0 {
                return z;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keras::objects::ObjectKind;
    use serde_json::json;

    fn init(class: &str) -> KerasObject {
        KerasObject::new(ObjectKind::Initializer, class).expect("built-in class")
    }

    fn with(class: &str, cfg: Value) -> KerasObject {
        let mut o = init(class);
        if let Value::Object(m) = cfg {
            for (k, v) in m {
                o.config.insert(k, v);
            }
        }
        o
    }

    fn stats(v: &[f32]) -> (f64, f64, f64, f64) {
        let n = v.len() as f64;
        let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
        let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
        let min = v.iter().fold(f64::INFINITY, |a, &x| a.min(x as f64));
        let max = v.iter().fold(f64::NEG_INFINITY, |a, &x| a.max(x as f64));
        (mean, var, min, max)
    }

    /// Checks sample mean and variance against the expected ones within 5 standard errors
    /// (the variance's standard error taken as σ²·√(2/n), the normal case, which bounds the
    /// uniform and truncated-normal ones).
    fn check_moments(v: &[f32], mean: f64, var: f64, what: &str) {
        let n = v.len() as f64;
        assert!(n >= 20_000.0, "{what}: too few samples");
        let (m, s2, _, _) = stats(v);
        let se_mean = (var / n).sqrt();
        assert!(
            (m - mean).abs() < 5.0 * se_mean + 1e-12,
            "{what}: mean {m} vs {mean} (se {se_mean})"
        );
        let se_var = var * (2.0 / n).sqrt();
        assert!(
            (s2 - var).abs() < 5.0 * se_var,
            "{what}: variance {s2} vs {var} (se {se_var})"
        );
    }

    #[test]
    fn fans_follow_keras_compute_fans() {
        assert_eq!(fans(&[]), (1.0, 1.0));
        assert_eq!(fans(&[7]), (7.0, 7.0));
        assert_eq!(fans(&[4, 9]), (4.0, 9.0));
        assert_eq!(fans(&[3, 3, 8, 16]), (72.0, 144.0));
        assert_eq!(fans(&[5, 2, 3, 4, 6]), (120.0, 180.0));
        assert_eq!(fans(&[3, 0, 2, 2]), (0.0, 0.0));
    }

    #[test]
    fn parallel_draws_do_not_depend_on_the_thread_count() {
        let o = init("HeNormal");
        let shape = [5, 5, 128, 64]; // 204,800 values: 13 streams
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let two = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let a = one.install(|| draw(&o, &shape, 7).unwrap());
        let b = two.install(|| draw(&o, &shape, 7).unwrap());
        assert_eq!(a, b);
        // Streams differ from each other.
        assert_ne!(a[..100], a[STREAM..STREAM + 100]);
    }

    #[test]
    fn variance_scaling_presets_match_formulas() {
        // (shape, fan_in, fan_out): dense, conv, conv with channel-heavy fans.
        let shapes: [(&[usize], f64, f64); 3] = [
            (&[200, 120], 200.0, 120.0),
            (&[3, 3, 16, 180], 144.0, 1620.0),
            (&[5, 5, 64, 16], 1600.0, 400.0),
        ];
        for (shape, fi, fo) in shapes {
            assert_eq!(fans(shape), (fi, fo));
            let avg = (fi + fo) / 2.0;
            // (class, scale, n, uniform?)
            for (class, scale, n, uniform) in [
                ("GlorotUniform", 1.0, avg, true),
                ("GlorotNormal", 1.0, avg, false),
                ("HeNormal", 2.0, fi, false),
                ("HeUniform", 2.0, fi, true),
                ("LecunNormal", 1.0, fi, false),
                ("LecunUniform", 1.0, fi, true),
            ] {
                let v = draw(&init(class), shape, 11).expect("draw");
                assert_eq!(v.len(), shape.iter().product::<usize>());
                let var = scale / n;
                let (_, _, lo, hi) = stats(&v);
                if uniform {
                    let limit = (3.0 * var).sqrt();
                    assert!(lo >= -limit && hi < limit, "{class} {shape:?} bounds");
                    // The extremes of ≥ 20k uniform draws sit close to the limit.
                    assert!(hi > 0.99 * limit && lo < -0.99 * limit, "{class} spread");
                } else {
                    let bound = 2.0 * var.sqrt() / TRUNCATED_STDDEV_FACTOR;
                    assert!(lo >= -bound * 1.000_001 && hi <= bound * 1.000_001);
                    assert!(hi > 0.98 * bound, "{class} reaches the truncation");
                }
                check_moments(&v, 0.0, var, &format!("{class} {shape:?}"));
            }
        }
    }

    #[test]
    fn variance_scaling_modes_and_distributions() {
        let shape = [3, 3, 32, 72]; // 20736 values; fan_in 288, fan_out 648
        for (mode, n) in [("fan_in", 288.0), ("fan_out", 648.0), ("fan_avg", 468.0)] {
            for dist in [
                "truncated_normal",
                "normal",
                "untruncated_normal",
                "uniform",
            ] {
                let o = with(
                    "VarianceScaling",
                    json!({"scale": 3.0, "mode": mode, "distribution": dist}),
                );
                let v = draw(&o, &shape, 3).expect("draw");
                let var = 3.0 / n;
                check_moments(&v, 0.0, var, &format!("{mode} {dist}"));
                let (_, _, lo, hi) = stats(&v);
                match dist {
                    "uniform" => assert!(hi < (3.0 * var).sqrt() && lo >= -(3.0 * var).sqrt()),
                    "untruncated_normal" => {
                        // 20k draws: values beyond 2.5σ appear (~1.2 % of them).
                        assert!(hi.max(-lo) > 2.5 * var.sqrt());
                    }
                    _ => assert!(
                        hi.max(-lo) <= 2.0 * var.sqrt() / TRUNCATED_STDDEV_FACTOR * 1.000_001
                    ),
                }
            }
        }
        // Fans below 1 are clamped to 1 (Keras's max(1.0, n)).
        let o = with("VarianceScaling", json!({"distribution": "uniform"}));
        let v = draw(&o, &[0, 4], 1).expect("empty");
        assert!(v.is_empty());
        let v = draw(&o, &[], 1).expect("scalar");
        assert!(v.len() == 1 && v[0].abs() < 3f32.sqrt());
    }

    #[test]
    fn explicit_axes_set_the_fans() {
        // Both axes lists set: fan_in = prod(shape[input_axes]), negative axes allowed.
        let o = with(
            "VarianceScaling",
            json!({"mode": "fan_in", "distribution": "uniform",
                   "input_axes": [0, -2], "output_axes": [1]}),
        );
        let v = draw(&o, &[40, 7, 6, 5, 3], 2).expect("draw");
        // input axes 0 and 3 → fan_in = 40 * 5 = 200 (the default rule would give 40*7*6*5).
        let limit = (3.0f64 / 200.0).sqrt();
        let (_, _, lo, hi) = stats(&v);
        assert!(hi < limit && hi > 0.99 * limit && lo >= -limit);
        // Only one list set: Keras ignores it and uses the default rule.
        let o = with(
            "VarianceScaling",
            json!({"mode": "fan_in", "distribution": "uniform", "input_axes": [0]}),
        );
        let v = draw(&o, &[100, 300], 2).expect("draw");
        let (_, _, _, hi) = stats(&v);
        assert!(hi < (3.0f64 / 100.0).sqrt() && hi > 0.99 * (3.0f64 / 100.0).sqrt());
        let bad = with(
            "VarianceScaling",
            json!({"input_axes": [9], "output_axes": [0]}),
        );
        let e = draw(&bad, &[2, 3], 0).unwrap_err();
        assert!(e.contains("axis 9"), "{e}");
        let bad = with(
            "VarianceScaling",
            json!({"input_axes": "x", "output_axes": [0]}),
        );
        assert!(draw(&bad, &[2, 3], 0).unwrap_err().contains("input_axes"));
    }

    #[test]
    fn plain_random_initializers_match_their_configs() {
        let n = [160, 150];
        let sd = 0.5 * TRUNCATED_STDDEV_FACTOR;
        // (class, config, mean, variance, what the extremes must be)
        type Bounds = fn(f64, f64) -> bool;
        let cases: [(&str, Value, f64, f64, Bounds); 3] = [
            (
                "RandomNormal",
                json!({"mean": 1.5, "stddev": 0.3}),
                1.5,
                0.09,
                // It has tails.
                |lo, hi| hi > 1.5 + 3.0 * 0.3 && lo < 1.5 - 3.0 * 0.3,
            ),
            (
                "TruncatedNormal",
                json!({"mean": -2.0, "stddev": 0.5}),
                -2.0,
                sd * sd,
                |lo, hi| lo >= -3.0 && hi <= -1.0 && lo < -2.95 && hi > -1.05,
            ),
            (
                "RandomUniform",
                json!({"minval": 2.0, "maxval": 5.0}),
                3.5,
                0.75,
                |lo, hi| lo >= 2.0 && hi < 5.0 && lo < 2.01 && hi > 4.99,
            ),
        ];
        for (class, config, mean, var, bounds) in cases {
            let v = draw(&with(class, config), &n, 5).expect(class);
            check_moments(&v, mean, var, class);
            let (_, _, lo, hi) = stats(&v);
            assert!(bounds(lo, hi), "{class}: {lo}..{hi}");
        }

        // Defaults: RandomUniform(-0.05, 0.05), RandomNormal(0, 0.05).
        let v = draw(&init("RandomUniform"), &n, 9).expect("default uniform");
        let (_, _, lo, hi) = stats(&v);
        assert!(lo >= -0.05 && hi < 0.05);
        let v = draw(&init("RandomNormal"), &n, 9).expect("default normal");
        check_moments(&v, 0.0, 0.0025, "default RandomNormal");
    }

    #[test]
    fn constant_initializers() {
        assert_eq!(
            draw(&init("Zeros"), &[2, 3], 1).expect("zeros"),
            vec![0.0; 6]
        );
        assert_eq!(draw(&init("Ones"), &[4], 1).expect("ones"), vec![1.0; 4]);
        assert_eq!(draw(&init("Ones"), &[], 1).expect("scalar"), vec![1.0]);
        let c = with("Constant", json!({"value": 0.1}));
        assert_eq!(draw(&c, &[3, 1], 1).expect("constant"), vec![0.1f32; 3]);
        let c = with("Constant", json!({"value": -2}));
        assert_eq!(draw(&c, &[2], 1).expect("int constant"), vec![-2.0; 2]);
        let c = with("Constant", json!({"value": [1.0, 2.0]}));
        assert!(draw(&c, &[2], 1).unwrap_err().contains("value"));
        assert_eq!(
            draw(&init("Constant"), &[2], 1).expect("default"),
            vec![0.0; 2]
        );
    }

    #[test]
    fn seeds_are_deterministic_and_separate() {
        for class in ["GlorotUniform", "HeNormal", "RandomNormal", "Orthogonal"] {
            let o = init(class);
            let a = draw(&o, &[8, 6], 42).expect("a");
            let b = draw(&o, &[8, 6], 42).expect("b");
            let c = draw(&o, &[8, 6], 43).expect("c");
            assert_eq!(a, b, "{class}: same seed, same numbers");
            assert_ne!(a, c, "{class}: different seed, different numbers");
            // An explicit initializer seed wins over the run seed.
            let s = with(class, json!({"seed": 1234}));
            let d = draw(&s, &[8, 6], 1).expect("d");
            let e = draw(&s, &[8, 6], 999_999).expect("e");
            assert_eq!(d, e, "{class}: explicit seed ignores the run seed");
            assert_ne!(d, a);
            let f = draw(&with(class, json!({"seed": 1235})), &[8, 6], 1).expect("f");
            assert_ne!(d, f, "{class}: explicit seeds differ");
        }
        // Platform independence: the generator's outputs are pinned (xoshiro256** seeded
        // by SplitMix64(0), checked against an independent reference implementation),
        // and so are the first values of a draw (from the first of its parallel streams).
        let mut r = Rng::new(0);
        assert_eq!(
            [r.next_u64(), r.next_u64()],
            [0x99ec_5f36_cb75_f2b4, 0xbf6e_1f78_4956_452a]
        );
        let pinned = draw(&init("RandomUniform"), &[3], 0).expect("pinned");
        assert_eq!(
            pinned.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            [3_162_618_738, 3_175_236_148, 1_026_809_589]
        );
        assert_eq!(splitmix64(&mut 0u64), 0xE220_A839_7B1D_CDAF);
        // A serialised SeedGenerator seed counts as explicit.
        let g = with(
            "RandomNormal",
            json!({"seed": {"class_name": "SeedGenerator", "config": {"seed": 7}}}),
        );
        assert_eq!(
            draw(&g, &[5], 1).expect("g1"),
            draw(&with("RandomNormal", json!({"seed": 7})), &[5], 2).expect("g2")
        );
        let bad = with("RandomNormal", json!({"seed": "abc"}));
        let e = draw(&bad, &[2], 0).unwrap_err();
        assert!(e.contains("`seed` argument"), "{e}");
        let bad = with("RandomNormal", json!({"seed": 1.5}));
        assert!(draw(&bad, &[2], 0).is_err());
    }

    fn check_orthogonal(shape: &[usize], gain: f64) {
        let o = with("Orthogonal", json!({"gain": gain}));
        let v = draw(&o, shape, 17).expect("orthogonal");
        let cols = shape[shape.len() - 1];
        let rows = v.len() / cols;
        let at = |i: usize, j: usize| v[i * cols + j] as f64;
        let g2 = gain * gain;
        // The shorter side is orthonormal: QᵀQ = gain² I (columns) or Q Qᵀ (rows).
        let (n, len) = if rows >= cols {
            (cols, rows)
        } else {
            (rows, cols)
        };
        let entry = |vec: usize, k: usize| if rows >= cols { at(k, vec) } else { at(vec, k) };
        for a in 0..n {
            for b in 0..n {
                let s: f64 = (0..len).map(|k| entry(a, k) * entry(b, k)).sum();
                let want = if a == b { g2 } else { 0.0 };
                assert!(
                    (s - want).abs() < 1e-5 * g2.max(1.0),
                    "{shape:?} ({a},{b}) {s}"
                );
            }
        }
    }

    #[test]
    fn orthogonal_is_orthogonal() {
        check_orthogonal(&[30, 12], 1.0);
        check_orthogonal(&[12, 30], 2.0);
        check_orthogonal(&[16, 16], 0.5);
        check_orthogonal(&[3, 3, 4, 10], 1.0); // flattened to (36, 10)
        check_orthogonal(&[1, 1, 3, 20], 1.5); // (3, 20): orthogonal rows
        let e = draw(&init("Orthogonal"), &[5], 0).unwrap_err();
        assert_eq!(
            e,
            "The tensor to initialize must be at least two-dimensional. \
             Received: shape=(5,) of rank 1."
        );
        assert!(
            draw(&init("Orthogonal"), &[0, 4], 0)
                .expect("empty")
                .is_empty()
        );
    }

    #[test]
    fn orthogonal_columns_are_sign_corrected_and_uniform() {
        // With R's diagonal made positive, Q is Haar-distributed: over many seeds an entry
        // has mean 0 and mean square 1/m. (An uncorrected Householder QR gives q00 a fixed
        // sign, which this catches.)
        let o = init("Orthogonal");
        let m = 6;
        let draws = 4000;
        let (mut s, mut s2) = (0.0, 0.0);
        for seed in 0..draws {
            let v = draw(&o, &[m, 3], seed).expect("draw");
            s += v[0] as f64;
            s2 += (v[0] as f64).powi(2);
        }
        let mean = s / draws as f64;
        let msq = s2 / draws as f64;
        assert!(
            mean.abs() < 5.0 * (1.0 / (m * draws as usize) as f64).sqrt(),
            "{mean}"
        );
        assert!((msq - 1.0 / m as f64).abs() < 0.02, "{msq}");
    }

    #[test]
    fn identity_and_unsupported() {
        let v = draw(&with("Identity", json!({"gain": 3.0})), &[2, 3], 0).expect("eye");
        assert_eq!(v, vec![3.0, 0.0, 0.0, 0.0, 3.0, 0.0]);
        let v = draw(&init("Identity"), &[3, 2], 0).expect("eye");
        assert_eq!(v, vec![1.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
        assert_eq!(
            draw(&init("Identity"), &[3, 3, 2, 3], 0).unwrap_err(),
            "Identity matrix initializer can only be used for 2D matrices. \
             Received: shape=(3, 3, 2, 3) of rank 4."
        );
        assert_eq!(
            draw(&init("STFT"), &[4, 1, 3], 0).unwrap_err(),
            "STFT initializer is not supported"
        );
        let unknown = KerasObject {
            class_name: "Mystery".into(),
            config: Default::default(),
        };
        assert!(draw(&unknown, &[2], 0).unwrap_err().contains("Mystery"));
    }

    #[test]
    fn bad_configs_are_errors() {
        let e = draw(
            &with("VarianceScaling", json!({"mode": "fan_middle"})),
            &[2, 2],
            0,
        )
        .unwrap_err();
        assert!(e.contains("Invalid `mode` argument: fan_middle"), "{e}");
        let e = draw(
            &with("VarianceScaling", json!({"distribution": "cauchy"})),
            &[2, 2],
            0,
        )
        .unwrap_err();
        assert!(e.contains("Invalid `distribution` argument: cauchy"), "{e}");
        let e = draw(&with("VarianceScaling", json!({"scale": 0.0})), &[2, 2], 0).unwrap_err();
        assert_eq!(
            e,
            "Argument `scale` must be positive float. Received: scale=0.0"
        );
        let e = draw(&with("VarianceScaling", json!({"scale": -1})), &[2, 2], 0).unwrap_err();
        assert!(e.contains("scale"), "{e}");
        // Distribution names are case-insensitive, as in Keras.
        assert!(
            draw(
                &with("VarianceScaling", json!({"distribution": "Uniform"})),
                &[2, 2],
                0
            )
            .is_ok()
        );
        let e = draw(&with("RandomNormal", json!({"stddev": "big"})), &[2], 0).unwrap_err();
        assert!(e.contains("stddev") && e.contains("'big'"), "{e}");
        let e = draw(&with("RandomUniform", json!({"minval": null})), &[2], 0).unwrap_err();
        assert!(e.contains("minval"), "{e}");
        let e = draw(&init("Zeros"), &[1 << 20, 1 << 20], 0).unwrap_err();
        assert!(e.contains("limit"), "{e}");
    }
}
