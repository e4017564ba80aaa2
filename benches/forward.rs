//! Forward-pass timings of the three benchmark models in `../shared/bench/` (StridedNet
//! 96×96, a VGG block 224×224, one Conv2D on 512×512), all activations kept, on
//! rayon's default pool (the machine's cores); and the edit latency: StridedNet's last
//! Conv2D gets a 5×5 kernel, the worker job the window submits re-draws that layer's
//! weights and re-runs it and the layers after it.
//! `cargo bench --bench forward`; compare with `../shared/bench/bench_keras.py`
//! (see BENCHMARKS.md and scripts/bench-vs-keras.sh).

use convscope::engine;
use convscope::engine::weights::WeightPlan;
use convscope::runner;
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::Path;

fn bench(c: &mut Criterion) {
    convscope::engine::keep_freed_memory();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bench");
    let mut group = c.benchmark_group("forward");
    group.sample_size(20);
    for name in ["stridednet", "vgg_block", "conv512"] {
        let dir = root.join(name);
        if !dir.is_dir() {
            eprintln!("skipping {name}: {} not found", dir.display());
            continue;
        }
        let prepared = match runner::prepare(&dir.join("model.keras"), 0) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("skipping {name}: {e}");
                continue;
            }
        };
        let x = match runner::read_input(
            &prepared.network,
            &dir.join("input.npy"),
            convscope::io::image::Preprocess::Unit,
        ) {
            Ok(x) => x,
            Err(e) => {
                eprintln!("skipping {name}: {e}");
                continue;
            }
        };
        group.bench_function(name, |b| {
            b.iter(|| black_box(engine::run(&prepared.network, &prepared.weights, x.clone()).ok()))
        });
    }
    group.finish();
}

fn edit_latency(c: &mut Criterion) {
    use convscope::app::worker::{Job, compute};
    use convscope::model::{LayerKind, Pair};
    use std::sync::Arc;
    convscope::engine::keep_freed_memory();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bench/stridednet");
    let Ok(p) = runner::prepare(&dir.join("model.keras"), 0) else {
        eprintln!("skipping edit latency: {} not found", dir.display());
        return;
    };
    let Ok(x) = runner::read_input(
        &p.network,
        &dir.join("input.npy"),
        convscope::io::image::Preprocess::Unit,
    ) else {
        return;
    };
    let net = p.network.clone();
    let n = net.len();
    let plan = WeightPlan::from_file(&net, p.weights.clone());
    let full = compute(Job {
        generation: 0,
        network: net.clone(),
        analysis: net.analyze(),
        plan: plan.clone(),
        drawn: Vec::new(),
        inputs: vec![Arc::new(x)],
        cached: Vec::new(),
        dirty: vec![true; n],
        progress: Default::default(),
    });
    let last_conv = (0..n)
        .rev()
        .find(|&i| matches!(net.layers()[i].kind, LayerKind::Conv2D(_)))
        .unwrap_or(1);
    let mut edited = net.clone();
    if let LayerKind::Conv2D(conv) = &mut edited.layer_mut(last_conv).kind {
        conv.base.kernel_size = Pair::square(5);
    }
    c.bench_function("edit_latency/stridednet_last_conv_kernel_5x5", |b| {
        b.iter(|| {
            // What the window does on that keystroke: analyse, then the worker re-draws
            // the changed layer's weights and runs it and everything after it.
            let analysis = edited.analyze();
            let done = compute(Job {
                generation: 1,
                network: edited.clone(),
                analysis,
                plan: plan.clone(),
                drawn: full.drawn.clone(),
                inputs: vec![
                    full.acts[0]
                        .as_ref()
                        .map(|a| a.output.clone())
                        .unwrap_or_default(),
                ],
                cached: full.acts.clone(),
                dirty: (0..n).map(|i| i >= last_conv).collect(),
                progress: Default::default(),
            });
            assert_eq!(done.evaluated.first(), Some(&last_conv));
            black_box(done)
        })
    });
}

criterion_group!(benches, bench, edit_latency);
criterion_main!(benches);
