//! Numeric kernels on NHWC `f32` tensors: convolution (tiled im2col + GEMM, a 1×1 fast
//! path, groups), depthwise and transposed convolution, pooling, padding, resizing.
//!
//! Pure functions of their inputs; the layer semantics (which padding, which layout)
//! are decided by [`super::forward`]. A naive reference convolution lives in the tests
//! and is compared against the fast path by property tests.

use ndarray::{Array2, Array4, ArrayView2, ArrayView4, Axis, s};

/// Geometry of a 2-D sliding window along both spatial axes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub kernel: [usize; 2],
    pub strides: [usize; 2],
    pub dilation: [usize; 2],
    /// Zero padding before (top, left); padding after is implied by the output size.
    pub pad_before: [usize; 2],
    pub out: [usize; 2],
}

impl Window {
    /// Keras's geometry for `padding="valid"|"same"` on an input of `input` pixels.
    pub fn keras(
        input: [usize; 2],
        kernel: [usize; 2],
        strides: [usize; 2],
        dilation: [usize; 2],
        same: bool,
    ) -> Window {
        let mut out = [0; 2];
        let mut pad_before = [0; 2];
        for a in 0..2 {
            let keff = (kernel[a] - 1) * dilation[a] + 1;
            if same {
                out[a] = input[a].div_ceil(strides[a]);
                let total =
                    ((out[a].saturating_sub(1)) * strides[a] + keff).saturating_sub(input[a]);
                pad_before[a] = total / 2;
            } else {
                out[a] = if input[a] >= keff {
                    (input[a] - keff) / strides[a] + 1
                } else {
                    0
                };
            }
        }
        Window {
            kernel,
            strides,
            dilation,
            pad_before,
            out,
        }
    }

    /// Input coordinate of output `o`, tap `t` along axis `a` (may be outside the input).
    #[inline]
    fn coord(&self, a: usize, o: usize, t: usize) -> isize {
        (o * self.strides[a] + t * self.dilation[a]) as isize - self.pad_before[a] as isize
    }
}

/// `y = x @ w` for row-major matrices (the GEMM every convolution ends in).
fn matmul(x: ArrayView2<f32>, w: ArrayView2<f32>) -> Array2<f32> {
    x.dot(&w)
}

/// Rows of im2col computed per tile: keeps the column buffer in cache.
const TILE_ROWS: usize = 256;

/// Convolution of NHWC `x` with an HWIO kernel `(kh, kw, cin/groups, cout)`.
pub fn conv2d(
    x: ArrayView4<f32>,
    kernel: ArrayView4<f32>,
    bias: Option<&[f32]>,
    win: &Window,
    groups: usize,
) -> Array4<f32> {
    let (n, h, w, cin) = x.dim();
    let (kh, kw, cin_g, cout) = kernel.dim();
    let [oh, ow] = win.out;
    let cout_g = cout / groups.max(1);
    let mut out = Array4::<f32>::zeros((n, oh, ow, cout));
    let pointwise = kh == 1
        && kw == 1
        && win.strides == [1, 1]
        && win.pad_before == [0, 0]
        && oh == h
        && ow == w
        && groups == 1;
    if pointwise {
        // 1×1 fast path: the whole batch is one GEMM, no im2col.
        let xs = x.as_standard_layout();
        let x2 = xs
            .view()
            .into_shape_with_order((n * h * w, cin))
            .expect("contiguous NHWC reshapes");
        let k2 = kernel
            .as_standard_layout()
            .into_owned()
            .into_shape_with_order((cin, cout))
            .expect("contiguous kernel reshapes");
        let y = matmul(x2, k2.view());
        out = y
            .into_shape_with_order((n, oh, ow, cout))
            .expect("GEMM output reshapes");
    } else {
        let kdim = kh * kw * cin_g;
        let kmat: Vec<Array2<f32>> = (0..groups)
            .map(|g| {
                let kg = kernel.slice(s![.., .., .., g * cout_g..(g + 1) * cout_g]);
                kg.as_standard_layout()
                    .into_owned()
                    .into_shape_with_order((kdim, cout_g))
                    .expect("contiguous kernel reshapes")
            })
            .collect();
        let rows = oh * ow;
        let mut col = Array2::<f32>::zeros((TILE_ROWS.min(rows.max(1)), kdim));
        for b in 0..n {
            let xb = x.index_axis(Axis(0), b);
            for (g, kg) in kmat.iter().enumerate() {
                let c0 = g * cin_g;
                let mut r0 = 0;
                while r0 < rows {
                    let r1 = (r0 + TILE_ROWS).min(rows);
                    let mut tile = col.slice_mut(s![..r1 - r0, ..]);
                    tile.fill(0.0);
                    for r in r0..r1 {
                        let (oy, ox) = (r / ow, r % ow);
                        let mut row = tile.row_mut(r - r0);
                        let row = row.as_slice_mut().expect("im2col rows are contiguous");
                        for ky in 0..kh {
                            let iy = win.coord(0, oy, ky);
                            if iy < 0 || iy >= h as isize {
                                continue;
                            }
                            for kx in 0..kw {
                                let ix = win.coord(1, ox, kx);
                                if ix < 0 || ix >= w as isize {
                                    continue;
                                }
                                let src = xb.slice(s![iy as usize, ix as usize, c0..c0 + cin_g]);
                                let dst =
                                    &mut row[(ky * kw + kx) * cin_g..(ky * kw + kx + 1) * cin_g];
                                for (d, s) in dst.iter_mut().zip(src.iter()) {
                                    *d = *s;
                                }
                            }
                        }
                    }
                    let y = matmul(col.slice(s![..r1 - r0, ..]), kg.view());
                    for r in r0..r1 {
                        let (oy, ox) = (r / ow, r % ow);
                        out.slice_mut(s![b, oy, ox, g * cout_g..(g + 1) * cout_g])
                            .assign(&y.row(r - r0));
                    }
                    r0 = r1;
                }
            }
        }
    }
    if let Some(bias) = bias {
        add_bias(&mut out, bias);
    }
    out
}

/// Adds a per-channel bias on the last axis.
pub fn add_bias(out: &mut Array4<f32>, bias: &[f32]) {
    for mut px in out.lanes_mut(Axis(3)) {
        for (v, b) in px.iter_mut().zip(bias) {
            *v += *b;
        }
    }
}

/// Depthwise convolution: kernel `(kh, kw, cin, mult)`, output channel `c*mult + m`.
pub fn depthwise(
    x: ArrayView4<f32>,
    kernel: ArrayView4<f32>,
    bias: Option<&[f32]>,
    win: &Window,
) -> Array4<f32> {
    let (n, h, w, cin) = x.dim();
    let (kh, kw, _, mult) = kernel.dim();
    let [oh, ow] = win.out;
    let mut out = Array4::<f32>::zeros((n, oh, ow, cin * mult));
    let k = kernel.as_standard_layout();
    let ks = k.as_slice().expect("standard layout kernel");
    for b in 0..n {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut acc = out.slice_mut(s![b, oy, ox, ..]);
                let acc = acc.as_slice_mut().expect("NHWC pixels are contiguous");
                for ky in 0..kh {
                    let iy = win.coord(0, oy, ky);
                    if iy < 0 || iy >= h as isize {
                        continue;
                    }
                    for kx in 0..kw {
                        let ix = win.coord(1, ox, kx);
                        if ix < 0 || ix >= w as isize {
                            continue;
                        }
                        let px = x.slice(s![b, iy as usize, ix as usize, ..]);
                        let kt = &ks[(ky * kw + kx) * cin * mult..(ky * kw + kx + 1) * cin * mult];
                        for (c, xv) in px.iter().enumerate() {
                            for m in 0..mult {
                                acc[c * mult + m] += xv * kt[c * mult + m];
                            }
                        }
                    }
                }
            }
        }
    }
    if let Some(bias) = bias {
        add_bias(&mut out, bias);
    }
    out
}

/// Transposed convolution: kernel `(kh, kw, cout, cin)`; output `out` pixels with
/// `pad_before` cropped from the full scatter result (TensorFlow's `conv2d_transpose`).
pub fn conv_transpose(
    x: ArrayView4<f32>,
    kernel: ArrayView4<f32>,
    bias: Option<&[f32]>,
    win: &Window,
) -> Array4<f32> {
    let (n, h, w, _cin) = x.dim();
    let (kh, kw, cout, _) = kernel.dim();
    let [oh, ow] = win.out;
    let mut out = Array4::<f32>::zeros((n, oh, ow, cout));
    // Per tap: (cin, cout) matrix, so one input pixel row times it gives its contribution.
    let taps: Vec<Array2<f32>> = (0..kh * kw)
        .map(|t| {
            let kt = kernel.slice(s![t / kw, t % kw, .., ..]);
            kt.t().as_standard_layout().into_owned()
        })
        .collect();
    for b in 0..n {
        let xb = x.index_axis(Axis(0), b);
        let xs = xb.as_standard_layout();
        let x2 = xs
            .view()
            .into_shape_with_order((h * w, xb.dim().2))
            .expect("contiguous NHWC reshapes");
        for (t, kt) in taps.iter().enumerate() {
            let (ky, kx) = (t / kw, t % kw);
            let contrib = matmul(x2, kt.view());
            for iy in 0..h {
                let oy = (iy * win.strides[0] + ky * win.dilation[0]) as isize
                    - win.pad_before[0] as isize;
                if oy < 0 || oy >= oh as isize {
                    continue;
                }
                for ix in 0..w {
                    let ox = (ix * win.strides[1] + kx * win.dilation[1]) as isize
                        - win.pad_before[1] as isize;
                    if ox < 0 || ox >= ow as isize {
                        continue;
                    }
                    let mut dst = out.slice_mut(s![b, oy as usize, ox as usize, ..]);
                    dst += &contrib.row(iy * w + ix);
                }
            }
        }
    }
    if let Some(bias) = bias {
        add_bias(&mut out, bias);
    }
    out
}

/// Max or average pooling; average divides by the real (non-padded) pixels of a window.
pub fn pool(x: ArrayView4<f32>, win: &Window, max: bool) -> Array4<f32> {
    let (n, h, w, c) = x.dim();
    let [oh, ow] = win.out;
    let mut out = Array4::<f32>::zeros((n, oh, ow, c));
    let mut acc = vec![0f32; c];
    for b in 0..n {
        for oy in 0..oh {
            for ox in 0..ow {
                acc.fill(if max { f32::NEG_INFINITY } else { 0.0 });
                let mut count = 0usize;
                for ky in 0..win.kernel[0] {
                    let iy = win.coord(0, oy, ky);
                    if iy < 0 || iy >= h as isize {
                        continue;
                    }
                    for kx in 0..win.kernel[1] {
                        let ix = win.coord(1, ox, kx);
                        if ix < 0 || ix >= w as isize {
                            continue;
                        }
                        count += 1;
                        let px = x.slice(s![b, iy as usize, ix as usize, ..]);
                        for (a, v) in acc.iter_mut().zip(px.iter()) {
                            if max {
                                if *v > *a || v.is_nan() {
                                    *a = *v;
                                }
                            } else {
                                *a += *v;
                            }
                        }
                    }
                }
                let mut dst = out.slice_mut(s![b, oy, ox, ..]);
                for (d, a) in dst.iter_mut().zip(acc.iter()) {
                    *d = if max { *a } else { *a / count.max(1) as f32 };
                }
            }
        }
    }
    out
}

/// Zero padding (`amounts` may not be negative).
pub fn zero_pad(x: ArrayView4<f32>, amounts: [[usize; 2]; 2]) -> Array4<f32> {
    let (n, h, w, c) = x.dim();
    let mut out = Array4::<f32>::zeros((
        n,
        h + amounts[0][0] + amounts[0][1],
        w + amounts[1][0] + amounts[1][1],
        c,
    ));
    out.slice_mut(s![
        ..,
        amounts[0][0]..amounts[0][0] + h,
        amounts[1][0]..amounts[1][0] + w,
        ..
    ])
    .assign(&x);
    out
}

/// Cropping.
pub fn crop(x: ArrayView4<f32>, amounts: [[usize; 2]; 2]) -> Array4<f32> {
    let (_, h, w, _) = x.dim();
    x.slice(s![
        ..,
        amounts[0][0]..h - amounts[0][1],
        amounts[1][0]..w - amounts[1][1],
        ..
    ])
    .to_owned()
}

/// Nearest-neighbour upsampling by integer factors (each pixel repeated).
pub fn upsample_nearest(x: ArrayView4<f32>, size: [usize; 2]) -> Array4<f32> {
    let (n, h, w, c) = x.dim();
    Array4::from_shape_fn((n, h * size[0], w * size[1], c), |(b, y, xx, ch)| {
        x[[b, y / size[0], xx / size[1], ch]]
    })
}

/// Bilinear resize with half-pixel centres (TensorFlow's `tf.image.resize`, Keras's
/// `UpSampling2D(interpolation="bilinear")`).
pub fn resize_bilinear(x: ArrayView4<f32>, oh: usize, ow: usize) -> Array4<f32> {
    let (n, h, w, c) = x.dim();
    let src = |o: usize, out_len: usize, in_len: usize| -> (usize, usize, f32) {
        let scale = in_len as f32 / out_len as f32;
        let f = ((o as f32 + 0.5) * scale - 0.5).max(0.0);
        let i0 = (f.floor() as usize).min(in_len - 1);
        let i1 = (i0 + 1).min(in_len - 1);
        (i0, i1, f - i0 as f32)
    };
    let mut out = Array4::<f32>::zeros((n, oh, ow, c));
    for y in 0..oh {
        let (y0, y1, fy) = src(y, oh, h);
        for xx in 0..ow {
            let (x0, x1, fx) = src(xx, ow, w);
            for b in 0..n {
                for ch in 0..c {
                    let top = x[[b, y0, x0, ch]] * (1.0 - fx) + x[[b, y0, x1, ch]] * fx;
                    let bot = x[[b, y1, x0, ch]] * (1.0 - fx) + x[[b, y1, x1, ch]] * fx;
                    out[[b, y, xx, ch]] = top * (1.0 - fy) + bot * fy;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The definition of a convolution, six loops deep: the reference for the fast path.
    fn naive_conv(
        x: ArrayView4<f32>,
        k: ArrayView4<f32>,
        win: &Window,
        groups: usize,
    ) -> Array4<f32> {
        let (n, h, w, _) = x.dim();
        let (kh, kw, cin_g, cout) = k.dim();
        let cout_g = cout / groups;
        Array4::from_shape_fn((n, win.out[0], win.out[1], cout), |(b, oy, ox, co)| {
            let g = co / cout_g;
            let mut acc = 0f64;
            for ky in 0..kh {
                for kx in 0..kw {
                    let iy = win.coord(0, oy, ky);
                    let ix = win.coord(1, ox, kx);
                    if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                        continue;
                    }
                    for ci in 0..cin_g {
                        acc += (x[[b, iy as usize, ix as usize, g * cin_g + ci]]
                            * k[[ky, kx, ci, co]]) as f64;
                    }
                }
            }
            acc as f32
        })
    }

    fn values(len: usize, seed: u32) -> Vec<f32> {
        (0..len)
            .map(|i| {
                let v = (i as u32)
                    .wrapping_mul(2654435761)
                    .wrapping_add(seed.wrapping_mul(40503));
                ((v >> 8) % 2000) as f32 / 1000.0 - 1.0
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn fast_conv_equals_naive(
            n in 1usize..3, h in 1usize..12, w in 1usize..12, groups in 1usize..4,
            cin_g in 1usize..4, cout_g in 1usize..4, kh in 1usize..5, kw in 1usize..5,
            sh in 1usize..4, sw in 1usize..4, dil in 1usize..3, same in any::<bool>(), seed in 0u32..1000,
        ) {
            let (sh, sw) = if dil > 1 { (1, 1) } else { (sh, sw) };
            let win = Window::keras([h, w], [kh, kw], [sh, sw], [dil, dil], same);
            prop_assume!(win.out[0] > 0 && win.out[1] > 0);
            let cin = cin_g * groups;
            let cout = cout_g * groups;
            let x = Array4::from_shape_vec((n, h, w, cin), values(n * h * w * cin, seed)).unwrap();
            let k = Array4::from_shape_vec((kh, kw, cin_g, cout), values(kh * kw * cin_g * cout, seed + 7)).unwrap();
            let fast = conv2d(x.view(), k.view(), None, &win, groups);
            let slow = naive_conv(x.view(), k.view(), &win, groups);
            prop_assert_eq!(fast.dim(), slow.dim());
            for (a, b) in fast.iter().zip(slow.iter()) {
                prop_assert!((a - b).abs() < 1e-4, "{} vs {}", a, b);
            }
        }

        #[test]
        fn depthwise_equals_grouped_conv(
            h in 1usize..10, w in 1usize..10, cin in 1usize..4, mult in 1usize..3,
            k in 1usize..4, s in 1usize..3, same in any::<bool>(), seed in 0u32..1000,
        ) {
            let win = Window::keras([h, w], [k, k], [s, s], [1, 1], same);
            prop_assume!(win.out[0] > 0 && win.out[1] > 0);
            let x = Array4::from_shape_vec((1, h, w, cin), values(h * w * cin, seed)).unwrap();
            let kd = Array4::from_shape_vec((k, k, cin, mult), values(k * k * cin * mult, seed + 3)).unwrap();
            // Depthwise = grouped conv with groups = cin and the same kernel laid out (k, k, 1, cin*mult).
            let kg = kd.clone().into_shape_with_order((k, k, 1, cin * mult)).unwrap();
            let a = depthwise(x.view(), kd.view(), None, &win);
            let b = naive_conv(x.view(), kg.view(), &win, cin);
            for (p, q) in a.iter().zip(b.iter()) {
                prop_assert!((p - q).abs() < 1e-4);
            }
        }
    }

    #[test]
    fn one_by_one_fast_path_matches_naive() {
        let x = Array4::from_shape_vec((2, 3, 4, 5), values(120, 1)).unwrap();
        let k = Array4::from_shape_vec((1, 1, 5, 6), values(30, 2)).unwrap();
        let win = Window::keras([3, 4], [1, 1], [1, 1], [1, 1], false);
        let fast = conv2d(x.view(), k.view(), None, &win, 1);
        let slow = naive_conv(x.view(), k.view(), &win, 1);
        for (a, b) in fast.iter().zip(slow.iter()) {
            assert!((a - b).abs() < 1e-5);
        }
    }

    #[test]
    fn average_pool_same_divides_by_real_pixels() {
        let x = Array4::from_elem((1, 3, 3, 1), 1.0f32);
        let win = Window::keras([3, 3], [2, 2], [2, 2], [1, 1], true);
        let y = pool(x.view(), &win, false);
        assert_eq!(y.dim(), (1, 2, 2, 1));
        assert!(y.iter().all(|v| (*v - 1.0).abs() < 1e-6));
    }
}
