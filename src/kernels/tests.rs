//! The fast convolution paths against the naive reference (property tests), and the
//! regressions the engine's property tests found.

use super::direct::{STREAM_MIN_BYTES, conv2d_direct, direct_wins};
use super::im2col::conv2d_gemm;
use super::*;
use crate::keras::geometry::{Padding, Window};
use ndarray::{Array4, ArrayView4};
use proptest::prelude::*;

fn pad(same: bool) -> Padding {
    if same { Padding::Same } else { Padding::Valid }
}

/// The definition of a convolution, six loops deep: the reference for the fast path.
fn naive_conv(x: ArrayView4<f32>, k: ArrayView4<f32>, win: &Window, groups: usize) -> Array4<f32> {
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
                    acc += (x[[b, iy as usize, ix as usize, g * cin_g + ci]] * k[[ky, kx, ci, co]])
                        as f64;
                }
            }
        }
        acc as f32
    })
}

/// A `(n, h, w, c)` tensor of [`values`].
fn tensor(d: (usize, usize, usize, usize), seed: u32) -> Array4<f32> {
    Array4::from_shape_vec(d, values(d.0 * d.1 * d.2 * d.3, seed))
        .expect("as many values as the shape holds")
}

/// Same shape and every value within `tol` (absolute), or the first difference.
fn same_values(
    a: &Array4<f32>,
    b: &Array4<f32>,
    tol: f32,
    what: &str,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(a.dim(), b.dim(), "{}", what);
    for (x, y) in a.iter().zip(b.iter()) {
        prop_assert!((x - y).abs() < tol, "{} {} vs {}", what, x, y);
    }
    Ok(())
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
    #![proptest_config(ProptestConfig::with_cases(2000))]
    /// The taps `inside` yields are exactly those whose coordinate is in the input.
    #[test]
    fn inside_is_the_in_range_taps(
        len in 0usize..12, k in 1usize..9, s in 1usize..5, d in 1usize..4,
        pad in 0usize..10, o in 0usize..8,
    ) {
        let win = Window {
            kernel: [k, 1],
            strides: [s, 1],
            dilation: [d, 1],
            pad_before: [pad, 0],
            out: [8, 1],
        };
        let want: Vec<usize> = (0..k)
            .filter(|&t| (0..len as isize).contains(&win.coord(0, o, t)))
            .collect();
        let got: Vec<usize> = win.inside(0, o, len).collect();
        prop_assert_eq!(got, want);
    }
}

/// An output over `STREAM_MIN_BYTES` takes the streaming-store path of the direct
/// kernel (conv512's shape: 512×512×3 → 32 channels, 33 MB): same numbers as GEMM.
#[test]
fn direct_conv_with_streaming_stores_equals_gemm() {
    let (h, w, cin, cout) = (512, 512, 3, 32);
    let win = Window::keras([h, w], [3, 3], [1, 1], [1, 1], Padding::Same);
    assert!(win.out[0] * win.out[1] * cout * 4 > STREAM_MIN_BYTES);
    let x = tensor((1, h, w, cin), 7);
    let kern = tensor((3, 3, cin, cout), 9);
    let bias: Vec<f32> = values(cout, 11);
    for ep in [Epilogue::Relu, Epilogue::Linear] {
        let a = conv2d_direct(ConvOp::new(x.view(), kern.view(), Some(&bias), &win), ep);
        let b = conv2d_gemm(ConvOp::new(x.view(), kern.view(), Some(&bias), &win), 1, ep);
        assert_eq!(a.dim(), b.dim());
        let worst = a
            .iter()
            .zip(b.iter())
            .map(|(p, q)| (p - q).abs())
            .fold(0f32, f32::max);
        assert!(worst < 1e-4, "{worst}");
    }
}

/// Both Winograd variants on wider layers than the property test draws (several
/// 16-channel slices, channel counts off the slice size, batch 2, valid and same).
#[test]
fn winograd_on_wide_layers_equals_naive() {
    use super::winograd::{Variant, conv};
    for (variant, tol) in [(Variant::F2, 1e-4), (Variant::F4, 1e-3)] {
        for (n, h, w, cin, cout, same) in [
            (1, 7, 9, 16, 16, true),
            (2, 6, 5, 17, 33, false),
            (1, 3, 3, 20, 16, false),
            (1, 13, 2, 16, 40, true),
            (1, 40, 37, 32, 48, true),
        ] {
            let win = Window::keras([h, w], [3, 3], [1, 1], [1, 1], pad(same));
            let x = tensor((n, h, w, cin), 3);
            let k = tensor((3, 3, cin, cout), 5);
            let want = naive_conv(x.view(), k.view(), &win, 1);
            let got = conv(
                variant,
                ConvOp::new(x.view(), k.view(), None, &win),
                Epilogue::Linear,
            );
            assert_eq!(got.dim(), want.dim());
            for (a, b) in got.iter().zip(want.iter()) {
                assert!(
                    (a - b).abs() <= tol,
                    "{variant:?} {n}x{h}x{w}x{cin}->{cout}: {a} vs {b}"
                );
            }
        }
    }
}

/// A layer whose transformed kernel is too large for the cache (9 MiB here) runs each
/// image as one band with its GEMMs split between the threads: the same values as the
/// banded plan that the property test checks against the naive convolution.
#[test]
fn winograd_with_a_wide_kernel_equals_the_banded_plan() {
    use super::winograd::{Plan, Variant, conv, conv_planned};
    let (n, h, w, c) = (2, 20, 20, 256);
    let win = Window::keras([h, w], [3, 3], [1, 1], [1, 1], Padding::Same);
    let x = tensor((n, h, w, c), 3);
    let k = tensor((3, 3, c, c), 5);
    let bias: Vec<f32> = values(c, 9);
    let op = || ConvOp::new(x.view(), k.view(), Some(&bias), &win);
    let wide = conv(Variant::F4, op(), Epilogue::Relu);
    let plan = Plan {
        block: None,
        wide: Some(false),
    };
    let banded = conv_planned(Variant::F4, op(), Epilogue::Relu, plan);
    let scale = banded.iter().fold(1f32, |m, v| m.max(v.abs()));
    if let Err(e) = same_values(&wide, &banded, 1e-5 * scale, "wide") {
        panic!("{e}");
    }
}

/// NaN, ±∞ and huge inputs leave the Winograd path (its transforms would spread a
/// NaN over whole tiles and overflow): the result is exactly the GEMM path's.
#[test]
fn non_finite_inputs_take_the_exact_path() {
    // 32 filters × 144 taps: not a direct-kernel layer, so the fallback is GEMM.
    let (h, w, cin, cout) = (30, 30, 16, 32);
    assert!(!direct_wins(9 * cin, cout));
    let win = Window::keras([h, w], [3, 3], [1, 1], [1, 1], Padding::Same);
    assert!(super::winograd::choose([3, 3], &win, 1, cin, cout).is_some());
    let k = tensor((3, 3, cin, cout), 5);
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 3e37] {
        let mut x = tensor((1, h, w, cin), 3);
        x[[0, 13, 17, 5]] = bad;
        let got = conv2d(
            ConvOp::new(x.view(), k.view(), None, &win),
            1,
            Epilogue::Linear,
        );
        let want = conv2d_gemm(
            ConvOp::new(x.view(), k.view(), None, &win),
            1,
            Epilogue::Linear,
        );
        assert_eq!(got.dim(), want.dim());
        for (a, b) in got.iter().zip(want.iter()) {
            assert!(a == b || (a.is_nan() && b.is_nan()), "{bad}: {a} vs {b}");
        }
        // Only the 3×3 neighbourhood of the bad pixel is touched.
        let touched = got
            .iter()
            .filter(|v| !v.is_finite() || v.abs() > 1e30)
            .count();
        assert!(touched <= 9 * cout, "{bad}: {touched}");
    }
}

#[test]
fn a_pool_window_larger_than_any_input_is_instant() {
    let x = Array4::from_shape_fn((1, 6, 5, 2), |(_, y, x, c)| (y * 5 + x + c) as f32);
    let win = Window::keras(
        [6, 5],
        [usize::MAX / 2, 3 << 60],
        [usize::MAX / 2, 3 << 60],
        [1, 1],
        Padding::Same,
    );
    let y = pool(x.view(), &win, true);
    assert_eq!(y.dim(), (1, 1, 1, 2));
    assert_eq!(y[[0, 0, 0, 0]], 29.0);
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
        let win = Window::keras([h, w], [kh, kw], [sh, sw], [dil, dil], pad(same));
        prop_assume!(win.out[0] > 0 && win.out[1] > 0);
        let cin = cin_g * groups;
        let cout = cout_g * groups;
        let x = tensor((n, h, w, cin), seed);
        let k = tensor((kh, kw, cin_g, cout), seed + 7);
        let slow = naive_conv(x.view(), k.view(), &win, groups);
        let fast = conv2d_gemm(ConvOp::new(x.view(), k.view(), None, &win), groups, Epilogue::Linear);
        same_values(&fast, &slow, 1e-4, "gemm")?;
        if groups == 1 {
            let direct = conv2d_direct(ConvOp::new(x.view(), k.view(), None, &win), Epilogue::Linear);
            same_values(&direct, &slow, 1e-4, "direct")?;
        }
    }

    /// Both Winograd variants, for any channel count, padding and batch (the path
    /// itself only takes wide layers, but must be right for all).
    #[test]
    fn winograd_equals_naive(
        n in 1usize..3, h in 1usize..14, w in 1usize..14, cin in 1usize..24,
        cout in 1usize..24, same in any::<bool>(), four in any::<bool>(),
        relu in any::<bool>(), block in 0usize..12, wide in any::<bool>(), seed in 0u32..1000,
    ) {
        use super::winograd::{conv_planned, Plan, Variant};
        let win = Window::keras([h, w], [3, 3], [1, 1], [1, 1], pad(same));
        prop_assume!(win.out[0] > 0 && win.out[1] > 0);
        let x = tensor((n, h, w, cin), seed);
        let k = tensor((3, 3, cin, cout), seed + 7);
        let bias: Vec<f32> = values(cout, seed + 5);
        let ep = if relu { Epilogue::Relu } else { Epilogue::Linear };
        let variant = if four { Variant::F4 } else { Variant::F2 };
        // block 0: the default size; else blocks of 1..11 tiles (ending mid-row).
        let block = (block > 0).then_some(block);
        // wide: each image one band, as layers with a large transformed kernel run.
        let plan = Plan { block, wide: Some(wide) };
        let fast = conv_planned(variant, ConvOp::new(x.view(), k.view(), Some(&bias), &win), ep, plan);
        let mut slow = naive_conv(x.view(), k.view(), &win, 1);
        ep.apply(slow.as_slice_mut().unwrap(), cout, Some(&bias));
        prop_assert_eq!(fast.dim(), slow.dim());
        let tol = if four { 5e-4 } else { 1e-4 };
        for (a, b) in fast.iter().zip(slow.iter()) {
            prop_assert!((a - b).abs() <= tol * b.abs().max(1.0), "{:?} {} vs {}", variant, a, b);
        }
    }

    #[test]
    fn direct_conv_with_many_channels_equals_gemm(
        h in 1usize..14, w in 1usize..20, cin in 1usize..5, cout in 1usize..70,
        k in 1usize..6, s in 1usize..3, dil in 1usize..3, same in any::<bool>(),
        relu in any::<bool>(), seed in 0u32..1000,
    ) {
        let win = Window::keras([h, w], [k, k], [s, s], [dil, dil], pad(same));
        prop_assume!(win.out[0] > 0 && win.out[1] > 0);
        let x = tensor((1, h, w, cin), seed);
        let kern = tensor((k, k, cin, cout), seed + 3);
        let bias: Vec<f32> = values(cout, seed + 5);
        let ep = if relu { Epilogue::Relu } else { Epilogue::Linear };
        let a = conv2d_direct(ConvOp::new(x.view(), kern.view(), Some(&bias), &win), ep);
        let b = conv2d_gemm(ConvOp::new(x.view(), kern.view(), Some(&bias), &win), 1, ep);
        same_values(&a, &b, 1e-4, "")?;
    }

    /// `conv2d` with one input channel per group takes the depthwise kernel: the same
    /// values as the grouped definition, bias and activation included.
    #[test]
    fn one_channel_per_group_conv_equals_naive(
        h in 1usize..9, w in 1usize..9, cin in 2usize..80, mult in 1usize..3,
        k in 1usize..8, s in 1usize..3, same in any::<bool>(), relu in any::<bool>(), seed in 0u32..1000,
    ) {
        let win = Window::keras([h, w], [k, k], [s, s], [1, 1], pad(same));
        prop_assume!(win.out[0] > 0 && win.out[1] > 0);
        let x = tensor((1, h, w, cin), seed);
        let kern = tensor((k, k, 1, cin * mult), seed + 3);
        let bias: Vec<f32> = values(cin * mult, seed + 5);
        let ep = if relu { Epilogue::Relu } else { Epilogue::Linear };
        let fast = super::conv::conv2d(ConvOp::new(x.view(), kern.view(), Some(&bias), &win), cin, ep);
        let mut slow = naive_conv(x.view(), kern.view(), &win, cin);
        ep.apply(slow.as_slice_mut().unwrap(), cin * mult, Some(&bias));
        same_values(&fast, &slow, 1e-4, "")?;
    }

    #[test]
    fn depthwise_equals_grouped_conv(
        n in 1usize..3, h in 1usize..8, w in 1usize..8, cin in 1usize..140,
        mult in 1usize..3, k in 1usize..4, s in 1usize..3, dil in 1usize..3,
        same in any::<bool>(), with_bias in any::<bool>(), seed in 0u32..1000,
    ) {
        let win = Window::keras([h, w], [k, k], [s, s], [dil, dil], pad(same));
        prop_assume!(win.out[0] > 0 && win.out[1] > 0);
        let x = tensor((n, h, w, cin), seed);
        let kd = tensor((k, k, cin, mult), seed + 3);
        let bias: Vec<f32> = values(cin * mult, seed + 5);
        let bias = with_bias.then_some(&bias[..]);
        // Depthwise = grouped conv with groups = cin and the same kernel laid out (k, k, 1, cin*mult).
        let kg = kd.clone().into_shape_with_order((k, k, 1, cin * mult)).unwrap();
        let a = depthwise(ConvOp::new(x.view(), kd.view(), bias, &win));
        let mut b = naive_conv(x.view(), kg.view(), &win, cin);
        if let Some(bias) = bias {
            add_bias(&mut b, bias);
        }
        same_values(&a, &b, 1e-4, "")?;
    }
}

#[test]
fn one_by_one_fast_path_matches_naive() {
    let x = tensor((2, 3, 4, 5), 1);
    let k = tensor((1, 1, 5, 6), 2);
    let win = Window::keras([3, 4], [1, 1], [1, 1], [1, 1], Padding::Valid);
    let fast = conv2d(
        ConvOp::new(x.view(), k.view(), None, &win),
        1,
        Epilogue::Linear,
    );
    let slow = naive_conv(x.view(), k.view(), &win, 1);
    for (a, b) in fast.iter().zip(slow.iter()) {
        assert!((a - b).abs() < 1e-5);
    }
}

#[test]
fn average_pool_same_divides_by_real_pixels() {
    let x = Array4::from_elem((1, 3, 3, 1), 1.0f32);
    let win = Window::keras([3, 3], [2, 2], [2, 2], [1, 1], Padding::Same);
    let y = pool(x.view(), &win, false);
    assert_eq!(y.dim(), (1, 2, 2, 1));
    assert!(y.iter().all(|v| (*v - 1.0).abs() < 1e-6));
}

/// Pooling by its definition: every tap of every window, in order.
fn naive_pool(x: ArrayView4<f32>, win: &Window, k: [usize; 2], max: bool) -> Array4<f32> {
    let (n, h, w, c) = x.dim();
    Array4::from_shape_fn((n, win.out[0], win.out[1], c), |(b, oy, ox, ch)| {
        let (mut acc, mut count) = (if max { f32::NEG_INFINITY } else { 0.0 }, 0);
        for ky in 0..k[0] {
            for kx in 0..k[1] {
                let (iy, ix) = (win.coord(0, oy, ky), win.coord(1, ox, kx));
                if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                    continue;
                }
                let v = x[[b, iy as usize, ix as usize, ch]];
                acc = if max { acc.max(v) } else { acc + v };
                count += 1;
            }
        }
        if max || count == 0 {
            acc
        } else {
            acc / count as f32
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(60))]
    /// The separable pooling (window rows first, then columns) equals the definition.
    #[test]
    fn pooling_equals_its_definition(
        h in 1usize..12, w in 1usize..12, c in 1usize..9,
        kh in 1usize..5, kw in 1usize..5, sh in 1usize..4, sw in 1usize..4,
        same: bool, max: bool, seed in 0u64..1000,
    ) {
        prop_assume!(same || (kh <= h && kw <= w));
        let x = Array4::from_shape_fn((2, h, w, c), |(b, y, xx, ch)| {
            (((b * 131 + y * 31 + xx * 7 + ch) as u64 * 2654435761 + seed) % 1000) as f32 / 100.0 - 5.0
        });
        let win = Window::keras([h, w], [kh, kw], [sh, sw], [1, 1], pad(same));
        let fast = pool(x.view(), &win, max);
        let slow = naive_pool(x.view(), &win, [kh, kw], max);
        prop_assert_eq!(fast.dim(), slow.dim());
        for (a, b) in fast.iter().zip(slow.iter()) {
            prop_assert!((a - b).abs() <= 1e-5 * b.abs().max(1.0), "{} vs {}", a, b);
        }
    }
}
