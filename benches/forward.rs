//! Forward-pass timings of the three benchmark models in `../shared/bench/` (StridedNet
//! 96×96, a VGG block 224×224, one Conv2D on 512×512), all activations kept.
//! `cargo bench --bench forward`; compare with `../shared/bench/bench_keras.py`
//! (see BENCHMARKS.md and scripts/bench-vs-keras.sh).

use convscope::engine;
use convscope::runner;
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::Path;

fn bench(c: &mut Criterion) {
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

criterion_group!(benches, bench);
criterion_main!(benches);
