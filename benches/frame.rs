//! Frame time of the window's UI code while the engine works on its worker thread
//! (issue: a frame stays under 16 ms). Headless via egui_kittest, so this is the CPU
//! cost of building a frame (layout, feature-map textures, accessibility tree), not GPU
//! painting. `cargo bench --bench frame`.
//!
//! - `while_worker_runs`: every frame, if the worker is idle it gets a new job
//!   (re-initialise all weights of StridedNet), so frames overlap with the engine;
//! - `accepting_a_result`: the frame that takes a finished result and builds every tile
//!   texture of the selected layer (the most expensive frame there is);
//! - `edit_to_screen`: from an edit of the last Conv2D's kernel size (3 ↔ 5) to the end
//!   of the frame that shows its new feature maps (worker run + that frame).

use convscope::app::{Designer, Tab};
use criterion::{Criterion, criterion_group, criterion_main};
use egui_kittest::Harness;
use std::time::{Duration, Instant};

fn harness() -> Harness<'static, Designer> {
    let mut h = Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .build_ui_state(|ui, d: &mut Designer| d.ui(ui), Designer::default());
    let ctx = h.ctx.clone();
    h.state_mut().rt.viewer.start_worker(&ctx);
    h.state_mut().view.tab = Tab::FeatureMaps;
    h.step();
    h
}

fn bench(c: &mut Criterion) {
    convscope::engine::keep_freed_memory();
    let mut group = c.benchmark_group("frame");
    group.sample_size(30);
    let mut h = harness();
    group.bench_function("while_worker_runs", |b| {
        b.iter(|| {
            if !h.state().rt.viewer.running {
                h.state_mut()
                    .apply(convscope::app::Command::ReinitialiseAll);
            }
            h.step();
        })
    });
    let mut h = harness();
    group.bench_function("accepting_a_result", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                h.state_mut()
                    .apply(convscope::app::Command::ReinitialiseAll);
                h.step(); // submits the job
                // Let the worker finish (StridedNet: ~30 ms with new weights).
                while h.state().rt.viewer.running {
                    std::thread::sleep(Duration::from_millis(150));
                    let t = Instant::now();
                    h.step(); // polls; when done, accepts and builds the textures
                    total += t.elapsed();
                }
            }
            total
        })
    });
    let mut h = harness();
    h.state_mut().apply(convscope::app::Command::Select(19));
    h.step();
    while h.state().rt.viewer.running {
        h.step();
    }
    let mut k = 3;
    group.bench_function("edit_to_screen", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                k = if k == 3 { 5 } else { 3 };
                let before = h.state().rt.viewer.version;
                let t = Instant::now();
                h.state_mut().edit(|net| {
                    if let convscope::model::LayerKind::Conv2D(c) = &mut net.layer_mut(19).kind {
                        c.base.kernel_size = convscope::model::Pair::square(k);
                    }
                });
                h.step(); // the edit's frame: analysis, job submitted
                while h.state().rt.viewer.version == before {
                    std::thread::sleep(Duration::from_micros(200));
                    h.step(); // polls; the frame that accepts draws the new maps
                }
                total += t.elapsed();
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
