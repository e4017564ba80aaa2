//! `convscope render` contract: the PNG grid of a golden case's layer equals Keras's
//! `expected/` activations mapped to pixels as documented in `convscope::viz`
//! (computed independently here), for channels_last and channels_first layers, dense
//! outputs, fixed ranges and sorting; bad arguments exit 2 with a message.

use convscope::io::npy;
use std::path::{Path, PathBuf};
use std::process::Command;

const GAP: usize = 2;

fn case(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/golden")
        .join(name)
}

fn tmp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "convscope-render-{name}-{}.png",
        std::process::id()
    ))
}

fn render(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_convscope"))
        .arg("render")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Keras's expected output as maps[channel][y][x] (sample 0).
fn expected_maps(case: &Path, layer: &str, channels_first: bool) -> Vec<Vec<Vec<f32>>> {
    let a =
        npy::read_npy(&std::fs::read(case.join("expected").join(format!("{layer}.npy"))).unwrap())
            .unwrap();
    let s = &a.shape;
    if s.len() != 4 {
        let n: usize = s[1..].iter().product();
        return vec![vec![a.data[..n].to_vec()]];
    }
    let (c, h, w) = if channels_first {
        (s[1], s[2], s[3])
    } else {
        (s[3], s[1], s[2])
    };
    (0..c)
        .map(|k| {
            (0..h)
                .map(|y| {
                    (0..w)
                        .map(|x| {
                            if channels_first {
                                a.data[(k * h + y) * w + x]
                            } else {
                                a.data[(y * w + x) * c + k]
                            }
                        })
                        .collect()
                })
                .collect()
        })
        .collect()
}

fn min_max(m: &[Vec<f32>]) -> (f32, f32) {
    m.iter()
        .flatten()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        })
}

/// Checks every pixel of `png` against the documented gray mapping.
fn check_gray_grid(
    png: &Path,
    maps: &[Vec<Vec<f32>>],
    order: &[usize],
    range: impl Fn(usize) -> (f32, f32),
    scale: usize,
) {
    let img = image::open(png).unwrap().to_rgb8();
    let (h, w) = (maps[0].len(), maps[0][0].len());
    let n = order.len();
    let cols = (n as f64).sqrt().ceil() as usize;
    let rows = n.div_ceil(cols);
    assert_eq!(img.width() as usize, GAP + cols * (w * scale + GAP));
    assert_eq!(img.height() as usize, GAP + rows * (h * scale + GAP));
    assert_eq!(img.get_pixel(0, 0).0, [32, 32, 32]);
    let mut worst = 0i32;
    for (slot, &k) in order.iter().enumerate() {
        let (x0, y0) = (
            GAP + (slot % cols) * (w * scale + GAP),
            GAP + (slot / cols) * (h * scale + GAP),
        );
        let (lo, hi) = range(k);
        for y in 0..h * scale {
            for x in 0..w * scale {
                let v = maps[k][y / scale][x / scale];
                let t = if hi > lo {
                    ((v - lo) / (hi - lo)).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                let want = (t * 255.0).round() as i32;
                let got = img.get_pixel((x0 + x) as u32, (y0 + y) as u32).0;
                assert!(got[0] == got[1] && got[1] == got[2]);
                worst = worst.max((got[0] as i32 - want).abs());
            }
        }
    }
    // Engine vs Keras differ by < 1e-4 relative: at most one grey level at a boundary.
    assert!(worst <= 1, "worst pixel differs by {worst} grey levels");
}

#[test]
fn render_matches_keras_activations_per_channel() {
    let c = case("img_chelsea_32");
    let out = tmp("chelsea");
    let (code, err) = render(&[
        c.join("model.keras").to_str().unwrap(),
        "--input",
        c.join("input.png").to_str().unwrap(),
        "--layer",
        "conv2d",
        "--out",
        out.to_str().unwrap(),
        "--colormap",
        "gray",
        "--scale",
        "3",
    ]);
    assert_eq!(code, 0, "{err}");
    let maps = expected_maps(&c, "conv2d", false);
    let order: Vec<usize> = (0..maps.len()).collect();
    check_gray_grid(&out, &maps, &order, |k| min_max(&maps[k]), 3);
    let _ = std::fs::remove_file(out);
}

#[test]
fn render_channels_first_layer_range_and_sorted_by_mean() {
    let c = case("stack_channels_first");
    let out = tmp("cf");
    let (code, err) = render(&[
        c.join("model.keras").to_str().unwrap(),
        "--input",
        c.join("input.npy").to_str().unwrap(),
        "--layer",
        "batch_normalization",
        "--out",
        out.to_str().unwrap(),
        "--colormap",
        "grey",
        "--norm",
        "layer",
        "--sort",
        "mean",
        "--scale",
        "2",
    ]);
    assert_eq!(code, 0, "{err}");
    let maps = expected_maps(&c, "batch_normalization", true);
    let all = min_max(&maps.iter().flatten().cloned().collect::<Vec<_>>());
    let mean = |k: usize| {
        let m = &maps[k];
        m.iter().flatten().map(|&v| v as f64).sum::<f64>() / (m.len() * m[0].len()) as f64
    };
    let mut order: Vec<usize> = (0..maps.len()).collect();
    order.sort_by(|&a, &b| mean(b).partial_cmp(&mean(a)).unwrap());
    check_gray_grid(&out, &maps, &order, |_| all, 2);
    let _ = std::fs::remove_file(out);
}

#[test]
fn render_dense_output_as_a_strip_with_a_fixed_range() {
    let c = case("img_chelsea_32");
    let out = tmp("dense");
    let (code, err) = render(&[
        c.join("model.keras").to_str().unwrap(),
        "--input",
        c.join("input.npy").to_str().unwrap(),
        "--layer",
        "dense",
        "--out",
        out.to_str().unwrap(),
        "--colormap",
        "gray",
        "--min",
        "-0.5",
        "--max",
        "0.5",
        "--scale",
        "4",
    ]);
    assert_eq!(code, 0, "{err}");
    let maps = expected_maps(&c, "dense", false);
    check_gray_grid(&out, &maps, &[0], |_| (-0.5, 0.5), 4);
    let _ = std::fs::remove_file(out);
}

#[test]
fn render_viridis_uses_the_colormap_crate() {
    let c = case("conv_k3x3_same");
    let out = tmp("viridis");
    let (code, err) = render(&[
        c.join("model.keras").to_str().unwrap(),
        "--input",
        c.join("input.npy").to_str().unwrap(),
        "--layer",
        "conv2d",
        "--out",
        out.to_str().unwrap(),
        "--scale",
        "1",
    ]);
    assert_eq!(code, 0, "{err}");
    let maps = expected_maps(&c, "conv2d", false);
    let img = image::open(&out).unwrap().to_rgb8();
    let cols = (maps.len() as f64).sqrt().ceil() as usize;
    let (h, w) = (maps[0].len(), maps[0][0].len());
    let mut worst = 0i32;
    for (k, m) in maps.iter().enumerate() {
        let (lo, hi) = min_max(m);
        let (x0, y0) = (GAP + (k % cols) * (w + GAP), GAP + (k / cols) * (h + GAP));
        for (y, row) in m.iter().enumerate() {
            for (x, &v) in row.iter().enumerate() {
                let want = colorous::VIRIDIS.eval_continuous(((v - lo) / (hi - lo)) as f64);
                let got = img.get_pixel((x0 + x) as u32, (y0 + y) as u32).0;
                for (g, e) in got.iter().zip([want.r, want.g, want.b]) {
                    worst = worst.max((*g as i32 - e as i32).abs());
                }
            }
        }
    }
    assert!(worst <= 2, "worst channel differs by {worst}");
    let _ = std::fs::remove_file(out);
}

#[test]
fn render_errors_exit_2_and_name_the_problem() {
    let c = case("img_chelsea_32");
    let out = tmp("bad");
    let model = c.join("model.keras");
    let input = c.join("input.png");
    let (code, err) = render(&[
        model.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--layer",
        "nope",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("no layer named 'nope'") && err.contains("conv2d_1"),
        "{err}"
    );
    let (code, err) = render(&[
        model.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--layer",
        "conv2d",
        "--out",
        out.to_str().unwrap(),
        "--colormap",
        "jet",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("jet"), "{err}");
    let (code, err) = render(&[
        model.to_str().unwrap(),
        "--input",
        c.join("config.json").to_str().unwrap(),
        "--layer",
        "conv2d",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(!out.exists());
}
