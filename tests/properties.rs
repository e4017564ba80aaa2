//! Property tests: no configuration a person can type makes analysis panic or overflow,
//! and an accepted configuration on a positive input has only positive dimensions.

use convscope::layers::*;
use convscope::model::{Layer, LayerKind, Network};
use proptest::prelude::*;

fn pair() -> impl Strategy<Value = Pair> {
    prop_oneof![
        (-3i64..12, -3i64..12).prop_map(|(a, b)| Pair::new(a, b)),
        (-3i64..12).prop_map(Pair::square),
        (any::<i64>(), any::<i64>()).prop_map(|(a, b)| Pair::new(a, b)),
    ]
}

fn padding() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("valid".to_string()),
        Just("same".to_string()),
        Just("SAME".to_string()),
        Just("causal".to_string()),
        Just(String::new())
    ]
}

fn data_format() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => Just("channels_last".to_string()),
        2 => Just("channels_first".to_string()),
        1 => Just("channels_middle".to_string())
    ]
}

fn count() -> impl Strategy<Value = i64> {
    prop_oneof![
        -2i64..40,
        Just(1_000_000_000),
        Just(i64::MAX),
        Just(i64::MIN)
    ]
}

/// A random layer of any class with random, often invalid, arguments; a padding or data
/// format Keras's constructor refuses comes back as the layer's construction error (as
/// the config reader records it).
fn layer() -> impl Strategy<Value = (LayerKind, Option<String>)> {
    let classes: Vec<&str> = PALETTE.to_vec();
    (
        proptest::sample::select(classes),
        (count(), count(), pair(), pair(), pair(), pair()),
        (
            padding(),
            data_format(),
            any::<bool>(),
            -6i64..6,
            -1.0f64..2.0,
        ),
    )
        .prop_map(
            |(class, (n1, n2, k, s, d, p), (pad_text, df_text, flag, axis, rate))| {
                let mut kind = LayerKind::default_for(class).unwrap();
                let conv_pad = Padding::standardize(&pad_text);
                let format = DataFormat::standardize(&df_text);
                let mut error = None;
                let pad = conv_pad.clone().unwrap_or(Padding::Valid);
                let df = format.clone().unwrap_or(DataFormat::ChannelsLast);
                let uses_pad = matches!(
                    kind,
                    LayerKind::Conv2D(_)
                        | LayerKind::Conv2DTranspose(_)
                        | LayerKind::DepthwiseConv2D(_)
                        | LayerKind::SeparableConv2D(_)
                );
                if kind.data_format().is_some() {
                    error = format.err();
                }
                if uses_pad && error.is_none() {
                    error = conv_pad.err();
                }
                match &mut kind {
                    LayerKind::Conv2D(c) => {
                        (
                            c.filters,
                            c.groups,
                            c.base.kernel_size,
                            c.base.strides,
                            c.base.dilation_rate,
                        ) = (n1, n2, k, s, d);
                        (c.base.padding, c.base.data_format, c.base.use_bias) = (pad, df, flag);
                    }
                    LayerKind::Conv2DTranspose(c) => {
                        (
                            c.filters,
                            c.base.kernel_size,
                            c.base.strides,
                            c.base.dilation_rate,
                        ) = (n1, k, s, d);
                        c.output_padding = flag.then_some(p);
                        (c.base.padding, c.base.data_format) = (pad, df);
                    }
                    LayerKind::DepthwiseConv2D(c) => {
                        (
                            c.depth_multiplier,
                            c.base.kernel_size,
                            c.base.strides,
                            c.base.dilation_rate,
                        ) = (n1, k, s, d);
                        (c.base.padding, c.base.data_format) = (pad, df);
                    }
                    LayerKind::SeparableConv2D(c) => {
                        (
                            c.depth_multiplier,
                            c.filters,
                            c.base.kernel_size,
                            c.base.strides,
                        ) = (n1, n2, k, s);
                        (c.base.dilation_rate, c.base.padding, c.base.data_format) = (d, pad, df);
                    }
                    LayerKind::Pooling2D(pl) => {
                        pl.pool_size = k;
                        pl.strides = flag.then_some(s);
                        (pl.padding, pl.data_format) = (pad_text, df);
                    }
                    LayerKind::GlobalPooling2D(g) => (g.data_format, g.keepdims) = (df, flag),
                    LayerKind::BatchNormalization(b) => {
                        (b.axis, b.center, b.scale) = (axis, flag, !flag)
                    }
                    LayerKind::Dense(dn) => dn.units = n1,
                    LayerKind::Dropout(dr) => dr.rate = rate,
                    LayerKind::SpatialDropout2D(dr) => dr.rate = rate,
                    LayerKind::ZeroPadding2D(ZeroPadding2D {
                        padding: amounts,
                        data_format,
                    })
                    | LayerKind::Cropping2D(Cropping2D {
                        cropping: amounts,
                        data_format,
                    }) => {
                        amounts.v = [k.v, s.v];
                        *data_format = df;
                    }
                    LayerKind::UpSampling2D(u) => (u.size, u.data_format) = (k, df),
                    LayerKind::Softmax(sm) => sm.axis = convscope::keras::args::Axes::one(axis),
                    LayerKind::LeakyReLU(lr) => lr.negative_slope = rate - 0.5,
                    _ => {}
                }
                (kind, error)
            },
        )
}

fn input() -> impl Strategy<Value = Vec<i64>> {
    prop_oneof![
        4 => proptest::collection::vec(1i64..64, 3),
        1 => proptest::collection::vec(prop_oneof![0i64..4, Just(1i64 << 40)], 1..5),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn analysis_never_panics(shape in input(), kinds in proptest::collection::vec(layer(), 1..6)) {
        let mut net = Network::sequential("p", &shape);
        for (i, (kind, error)) in kinds.into_iter().enumerate() {
            let mut l = Layer::new("Dropout", format!("l{i}")).unwrap();
            l.kind = kind;
            l.construct_error = error;
            net.push(l);
        }
        let a = net.analyze();
        prop_assert_eq!(a.layers.len(), net.len());
        let positive_input = shape.iter().all(|d| (1..1 << 20).contains(d));
        for (i, r) in a.layers.iter().enumerate() {
            // Never a made-up shape after a failure.
            if a.first_error.is_some_and(|first| i > first) {
                prop_assert!(r.output_shape.is_none());
            }
            if let Some(s) = &r.output_shape {
                if positive_input {
                    prop_assert!(s.iter().skip(1).flatten().all(|d| *d > 0), "{:?} at {}", s, i);
                }
                prop_assert!(r.params() >= 0);
            }
        }
    }
}

/// Small rank-4 inputs (batch, H, W, C or C, H, W), so that every accepted design runs.
fn small_input() -> impl Strategy<Value = Vec<i64>> {
    proptest::collection::vec(1i64..9, 3)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Whatever the arguments, the engine either refuses the design (analysis error, or
    /// a memory estimate over the limit, with the estimate) or runs it and produces
    /// exactly the shapes the analysis promised. Never a panic, a hang, an overflow or an
    /// allocation failure. (Found: a 10^18-wide pooling window looped over every tap.)
    #[test]
    fn engine_never_panics(shape in small_input(), kinds in proptest::collection::vec(layer(), 1..4), seed in any::<u64>()) {
        use convscope::engine::forward::{check_memory, estimate_bytes, memory_limit, run};
        let mut net = Network::sequential("p", &shape);
        for (i, (kind, error)) in kinds.into_iter().enumerate() {
            let mut l = Layer::new("Dropout", format!("l{i}")).unwrap();
            l.kind = kind;
            l.construct_error = error;
            net.push(l);
        }
        let a = net.analyze();
        if a.first_error.is_some() {
            // Refused by analysis; the engine's weight drawing refuses it too.
            prop_assert!(convscope::engine::weights::initialize(&net, &a, seed).is_err());
            return Ok(());
        }
        let needed = estimate_bytes(&a, 1);
        if needed > memory_limit() {
            let e = check_memory(&a, 1).unwrap_err().to_string();
            prop_assert!(e.contains("GiB") && e.contains("needs about"), "{}", e);
            return Ok(());
        }
        if needed > 256 << 20 {
            return Ok(()); // allowed here, but too slow for a property test
        }
        let weights = convscope::engine::weights::initialize(&net, &a, seed).unwrap();
        let dims: Vec<usize> = std::iter::once(1).chain(shape.iter().map(|&d| d as usize)).collect();
        let n: usize = dims.iter().product();
        let input = ndarray::ArrayD::from_shape_vec(
            ndarray::IxDyn(&dims),
            (0..n).map(|i| (i % 7) as f32 - 3.0).collect(),
        )
        .unwrap();
        match run(&net, &weights, input) {
            Ok(acts) => {
                for (i, (act, r)) in acts.iter().zip(&a.layers).enumerate().skip(1) {
                    let got = act.as_ref().unwrap().output.shape().to_vec();
                    let want: Vec<usize> = r
                        .output_shape
                        .as_ref()
                        .unwrap()
                        .iter()
                        .map(|d| d.unwrap_or(1) as usize)
                        .collect();
                    prop_assert_eq!(got, want, "layer {}", i);
                }
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }
}

/// The designs the engine property found, kept as plain tests: each must run (or be
/// refused) at once, without a hang or an overflow panic.
#[test]
fn regressions_found_by_the_engine_property() {
    use convscope::engine::forward::run;
    let cases: Vec<(Vec<i64>, LayerKind)> = vec![
        // A 10^18-wide `same` pooling window looped over every tap (a hang).
        (vec![6, 5, 5], {
            let mut k = LayerKind::default_for("MaxPooling2D").unwrap();
            if let LayerKind::Pooling2D(p) = &mut k {
                p.pool_size = Pair::new(8423283778338249317, 3003309082160940488);
                p.strides = Some(p.pool_size);
                p.padding = "same".into();
                p.data_format = DataFormat::ChannelsFirst;
            }
            k
        }),
        // A dilation of 2^62: the tap coordinate overflowed.
        (vec![1, 1, 1], {
            let mut k = LayerKind::default_for("DepthwiseConv2D").unwrap();
            if let LayerKind::DepthwiseConv2D(c) = &mut k {
                c.base.kernel_size = Pair::new(3, 1);
                c.base.padding = convscope::layers::Padding::Same;
                c.base.dilation_rate = Pair::new(1 << 62, 1);
            }
            k
        }),
        // The same in a transposed convolution's output-size arithmetic.
        (vec![2, 2, 1], {
            let mut k = LayerKind::default_for("Conv2DTranspose").unwrap();
            if let LayerKind::Conv2DTranspose(c) = &mut k {
                c.filters = 2;
                c.base.kernel_size = Pair::new(2, 1);
                c.base.padding = convscope::layers::Padding::Same;
                c.base.dilation_rate = Pair::new(1 << 62, 1);
            }
            k
        }),
    ];
    for (shape, kind) in cases {
        let mut net = Network::sequential("r", &shape);
        let mut l = Layer::new("Dropout", "l0").unwrap();
        l.kind = kind;
        net.push(l);
        let a = net.analyze();
        let t = std::time::Instant::now();
        assert!(a.first_error.is_none(), "{:?}", a.error(&net));
        let w = convscope::engine::weights::initialize(&net, &a, 1).unwrap();
        let dims: Vec<usize> = std::iter::once(1)
            .chain(shape.iter().map(|&d| d as usize))
            .collect();
        let x = ndarray::ArrayD::from_elem(ndarray::IxDyn(&dims), 1.0f32);
        let acts = run(&net, &w, x).unwrap();
        let got = acts[1].as_ref().unwrap().output.shape().to_vec();
        let want: Vec<usize> = a.layers[1]
            .output_shape
            .as_ref()
            .unwrap()
            .iter()
            .map(|d| d.unwrap_or(1) as usize)
            .collect();
        assert_eq!(got, want);
        assert!(
            t.elapsed().as_secs_f64() < 1.0,
            "{:?}",
            net.layers()[1].kind
        );
    }
}

/// A convolution for the receptive-field property: `filters` 2, no bias, linear.
fn conv(name: &str, k: i64, s: i64, same: bool) -> Layer {
    let mut l = Layer::new("Conv2D", name).unwrap();
    if let LayerKind::Conv2D(c) = &mut l.kind {
        c.filters = 2;
        c.base.kernel_size = Pair::square(k);
        c.base.strides = Pair::square(s);
        c.base.padding = if same { Padding::Same } else { Padding::Valid };
        c.base.use_bias = false;
    }
    l
}

/// A residual-style graph (kernels `[a, b1, b2, d]`): input → a (stride s) and input → b1 (stride s) → b2,
/// added; optionally gated by its own global average (squeeze and excitation); then one
/// more convolution.
fn branchy([h, w]: [i64; 2], [ka, kb, kc, kd]: [i64; 4], s: i64, gate: bool) -> Network {
    let input = Layer::new("InputLayer", "in").map(|mut l| {
        if let LayerKind::Input(i) = &mut l.kind {
            i.batch_shape = vec![None, Some(h), Some(w), Some(1)];
        }
        l
    });
    let mut layers = vec![
        (input.unwrap(), vec![]),
        (conv("a", ka, s, true), vec!["in".to_string()]),
        (conv("b1", kb, s, true), vec!["in".to_string()]),
        (conv("b2", kc, 1, true), vec!["b1".to_string()]),
        (
            Layer::new("Add", "add").unwrap(),
            vec!["a".into(), "b2".into()],
        ),
    ];
    let mut last = "add".to_string();
    if gate {
        let mut g = Layer::new("GlobalAveragePooling2D", "gap").unwrap();
        if let LayerKind::GlobalPooling2D(p) = &mut g.kind {
            p.keepdims = true;
        }
        layers.push((g, vec!["add".into()]));
        layers.push((
            Layer::new("Multiply", "gated").unwrap(),
            vec!["add".into(), "gap".into()],
        ));
        last = "gated".into();
    }
    layers.push((conv("d", kd, 1, false), vec![last]));
    Network::from_named("branchy", true, layers, &["d".to_string()]).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(60))]

    /// The receptive field the analysis gives through branches and merges is what the
    /// engine computes: with positive weights (no cancellation), the input pixels whose
    /// impulse reaches an output pixel lie inside the field, and span it exactly where
    /// the field lies inside the image.
    #[test]
    fn receptive_fields_through_merges_match_the_engine(
        h in 5i64..10, w in 5i64..10, ka in 1i64..4, kb in 1i64..4, kc in 1i64..4,
        s in 1i64..3, gate in any::<bool>(), kd in 1i64..3,
    ) {
        use convscope::engine::{run, weights::initialize};
        let net = branchy([h, w], [ka, kb, kc, kd], s, gate);
        let a = net.analyze();
        prop_assert!(a.first_error.is_none(), "{:?}", a.error(&net));
        let mut weights = initialize(&net, &a, 1).unwrap();
        for lw in &mut weights {
            for arr in lw {
                arr.mapv_inplace(|v| v.abs() + 0.1);
            }
        }
        let last = net.len() - 1;
        let rf = a.layers[last].receptive_field.expect("a receptive field");
        let out = a.layers[last].output_shape.clone().unwrap();
        let (oh, ow) = (out[1].unwrap() as usize, out[2].unwrap() as usize);
        // reach[r][c]: bounding box of the input pixels whose change reaches output
        // pixel (r, c), on a background of ones (so that the gate's product carries it).
        let shape = ndarray::IxDyn(&[1, h as usize, w as usize, 1]);
        let output = |input| run(&net, &weights, input).unwrap()[last].as_ref().unwrap().output.clone();
        let base = output(ndarray::ArrayD::<f32>::ones(shape.clone()));
        let mut reach = vec![vec![None::<[[usize; 2]; 2]>; ow]; oh];
        for y in 0..h as usize {
            for x in 0..w as usize {
                let mut input = ndarray::ArrayD::<f32>::ones(shape.clone());
                input[[0, y, x, 0]] = 2.0;
                let o = output(input);
                for (r, row) in reach.iter_mut().enumerate() {
                    for (c, b) in row.iter_mut().enumerate() {
                        if o[[0, r, c, 0]] != base[[0, r, c, 0]] {
                            let e = b.get_or_insert([[y, y], [x, x]]);
                            e[0] = [e[0][0].min(y), e[0][1].max(y)];
                            e[1] = [e[1][0].min(x), e[1][1].max(x)];
                        }
                    }
                }
            }
        }
        for (r, row) in reach.iter().enumerate() {
            for (c, b) in row.iter().enumerate() {
                let win = rf.window(r, c);
                let b = b.expect("every output pixel sees some input pixel");
                for (ax, n) in [(0, h), (1, w)] {
                    let (lo, hi) = (b[ax][0] as f64, b[ax][1] as f64);
                    prop_assert!(lo >= win[ax][0] && hi <= win[ax][1],
                        "pixel ({}, {}) axis {}: taps {:?} outside {:?}", r, c, ax, b[ax], win[ax]);
                    if win[ax][0] >= 0.0 && win[ax][1] <= (n - 1) as f64 {
                        prop_assert_eq!([lo, hi], win[ax], "pixel ({}, {}) axis {}", r, c, ax);
                    }
                }
            }
        }
    }
}
