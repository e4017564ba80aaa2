//! The taps the arithmetic view shows (`Window::taps`: for an output pixel, the input
//! pixels its kernel reads, padding included) are the ones Keras reads: for every
//! convolution and pooling layer of every golden case, a naive convolution / pooling
//! that reads only those taps gives Keras's output (from the layer's input as Keras
//! computed it).

use convscope::io::npy;
use convscope::keras::geometry::Window;
use convscope::model::LayerKind;
use ndarray::{Array4, ArrayD, Ix4, IxDyn};
use std::path::Path;

fn load(p: &Path) -> ArrayD<f32> {
    let a = npy::read_npy(&std::fs::read(p).unwrap()).unwrap();
    ArrayD::from_shape_vec(IxDyn(&a.shape), a.data).unwrap()
}

fn nhwc(a: ArrayD<f32>, cf: bool) -> Array4<f32> {
    let a = a.into_dimensionality::<Ix4>().unwrap();
    if cf {
        a.permuted_axes([0, 2, 3, 1])
            .as_standard_layout()
            .into_owned()
    } else {
        a
    }
}

#[test]
fn taps_are_what_keras_reads_in_every_golden_convolution_and_pooling() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden");
    let mut checked = 0;
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    cases.sort();
    for case in cases {
        if !case.join("model.keras").exists() {
            continue;
        }
        let p = convscope::runner::prepare(&case.join("model.keras"), 0).unwrap();
        let (net, w) = (&p.network, &p.weights);
        for (i, layer) in net.layers().iter().enumerate() {
            let spec = layer.kind.spec();
            let Some(args) = spec.window() else { continue };
            let ins = net.inputs_of(i);
            let [j] = ins[..] else { continue };
            let src = &net.layers()[j];
            let x = if src.kind.is_input() {
                load(&case.join("input.npy"))
            } else {
                let f = case.join("expected").join(format!("{}.npy", src.name));
                if !f.exists() {
                    continue;
                }
                load(&f)
            };
            let want_file = case.join("expected").join(format!("{}.npy", layer.name));
            if !want_file.exists() {
                continue;
            }
            let cf = args.data_format.is_first();
            let (x, want) = (nhwc(x, cf), nhwc(load(&want_file), cf));
            let (n, h, wd, cin) = x.dim();
            let win = Window::keras(
                [h, wd],
                [args.kernel.h() as usize, args.kernel.w() as usize],
                [args.strides.h() as usize, args.strides.w() as usize],
                [args.dilation.h() as usize, args.dilation.w() as usize],
                args.padding,
            );
            let (_, oh, ow, cout) = want.dim();
            assert_eq!([oh, ow], win.out, "{}: {}", case.display(), layer.name);
            let inside = |t: [isize; 2]| {
                t[0] >= 0 && t[1] >= 0 && (t[0] as usize) < h && (t[1] as usize) < wd
            };
            let got = match &layer.kind {
                LayerKind::Conv2D(c) => {
                    if !matches!(c.base.activation.as_str(), "linear" | "relu") {
                        continue;
                    }
                    let k = w[i][0].view().into_dimensionality::<Ix4>().unwrap();
                    let groups = c.groups.max(1) as usize;
                    let (per_in, per_out) = (cin / groups, cout / groups);
                    Array4::from_shape_fn((n, oh, ow, cout), |(b, r, col, f)| {
                        let g = f / per_out;
                        let mut acc = if c.base.use_bias { w[i][1][[f]] } else { 0.0 };
                        for (t, at) in win.taps([r, col]).into_iter().enumerate() {
                            if !inside(at) {
                                continue; // padding: zeros
                            }
                            let (ty, tx) = (t / win.kernel[1], t % win.kernel[1]);
                            for ci in 0..per_in {
                                acc += x[[b, at[0] as usize, at[1] as usize, g * per_in + ci]]
                                    * k[[ty, tx, ci, f]];
                            }
                        }
                        if c.base.activation == "relu" {
                            acc.max(0.0)
                        } else {
                            acc
                        }
                    })
                }
                LayerKind::DepthwiseConv2D(c) => {
                    if !matches!(c.base.activation.as_str(), "linear" | "relu") {
                        continue;
                    }
                    let k = w[i][0].view().into_dimensionality::<Ix4>().unwrap();
                    let m = k.dim().3;
                    Array4::from_shape_fn((n, oh, ow, cout), |(b, r, col, f)| {
                        let (ci, mi) = (f / m, f % m);
                        let mut acc = if c.base.use_bias { w[i][1][[f]] } else { 0.0 };
                        for (t, at) in win.taps([r, col]).into_iter().enumerate() {
                            if inside(at) {
                                let (ty, tx) = (t / win.kernel[1], t % win.kernel[1]);
                                acc += x[[b, at[0] as usize, at[1] as usize, ci]]
                                    * k[[ty, tx, ci, mi]];
                            }
                        }
                        if c.base.activation == "relu" {
                            acc.max(0.0)
                        } else {
                            acc
                        }
                    })
                }
                LayerKind::Pooling2D(pl) => {
                    Array4::from_shape_fn((n, oh, ow, cout), |(b, r, col, ch)| {
                        // Padding never wins a maximum and is not counted in an average.
                        let vals: Vec<f32> = win
                            .taps([r, col])
                            .into_iter()
                            .filter(|&t| inside(t))
                            .map(|t| x[[b, t[0] as usize, t[1] as usize, ch]])
                            .collect();
                        match pl.mode {
                            convscope::layers::PoolMode::Max => {
                                vals.iter().copied().fold(f32::NEG_INFINITY, f32::max)
                            }
                            convscope::layers::PoolMode::Average => {
                                vals.iter().sum::<f32>() / vals.len() as f32
                            }
                        }
                    })
                }
                _ => continue,
            };
            let scale = want.iter().fold(1f32, |m, v| m.max(v.abs()));
            let worst = got
                .iter()
                .zip(want.iter())
                .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
            assert!(
                worst <= 1e-4 * scale,
                "{} {}: the taps' output differs from Keras's by {worst}",
                case.display(),
                layer.name
            );
            checked += 1;
        }
    }
    assert!(checked >= 50, "only {checked} layers checked");
}
