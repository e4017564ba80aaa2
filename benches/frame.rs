//! Frame time of the window's UI code while the engine works on its worker thread
//! (issue: a frame stays under 16 ms). Headless via egui_kittest, so this is the CPU
//! cost of building a frame (layout, feature-map textures, accessibility tree), not GPU
//! painting. `cargo bench --bench frame`.
//!
//! - `while_worker_runs`: every frame, if the worker is idle it gets a new job
//!   (re-initialise all weights of StridedNet), so frames overlap with the engine;
//! - `accepting_a_result`: the frame that takes a finished result and builds every tile
//!   texture of the selected layer (the most expensive frame there is).

use convscope::app::{Designer, Tab};
use criterion::{Criterion, criterion_group, criterion_main};
use egui_kittest::Harness;
use std::time::{Duration, Instant};

fn harness() -> Harness<'static, Designer> {
    let mut h = Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .build_ui_state(|ui, d: &mut Designer| d.ui(ui), Designer::default());
    let ctx = h.ctx.clone();
    h.state_mut().viewer.start_worker(&ctx);
    h.state_mut().tab = Tab::FeatureMaps;
    h.step();
    h
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("frame");
    group.sample_size(30);
    let mut h = harness();
    group.bench_function("while_worker_runs", |b| {
        b.iter(|| {
            if !h.state().viewer.running {
                h.state_mut().viewer.reinitialise();
            }
            h.step();
        })
    });
    let mut h = harness();
    group.bench_function("accepting_a_result", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                h.state_mut().viewer.reinitialise();
                h.step(); // submits the job
                // Let the worker finish (StridedNet: ~30 ms with new weights).
                while h.state().viewer.running {
                    std::thread::sleep(Duration::from_millis(150));
                    let t = Instant::now();
                    h.step(); // polls; when done, accepts and builds the textures
                    total += t.elapsed();
                }
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
