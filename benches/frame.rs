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
//!   of the frame that shows its new feature maps (worker run + that frame);
//! - `nasnet_idle_summary`: a frame of the Summary tab (and the stack of cards beside
//!   it) with keras.applications' NASNetMobile (771 layers) open, nothing running;
//! - `nasnet_scrolling_summary`: the same while the mouse wheel scrolls the summary
//!   (60 points a frame, down to the end and back), each frame laying out new rows;
//! - `nasnet_scrolling_stack`: the same for the stack of layer cards;
//! - `nasnet_idle_graph`: a frame of the Graph tab (cards and wires in view);
//! - `nasnet_panning_graph`, `nasnet_panning_graph_fit`: the Graph tab while the
//!   background is dragged, at full size and with the whole graph in view;
//! - `explain/resnet50_gradcam_click_to_screen`: Grad-CAM of another class on ResNet50
//!   at 224×224, from the click to the frame showing it.

use convscope::app::{Designer, Tab};
use criterion::{Criterion, criterion_group, criterion_main};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
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
    let mut h = nasnet_harness(Tab::Summary);
    group.bench_function("nasnet_idle_summary", |b| b.iter(|| h.step()));
    // The Graph tab: the layout is made once; each frame draws the cards and wires in
    // view of 771 (and checks the wiring against the layout's).
    let mut h = nasnet_harness(Tab::Graph);
    group.bench_function("nasnet_idle_graph", |b| b.iter(|| h.step()));
    // Panning: the background dragged 3 points a frame (left for 100 frames, then
    // right), at full size and after Fit (all 771 cards in view, the worst case).
    for (name, fit) in [
        ("nasnet_panning_graph", false),
        ("nasnet_panning_graph_fit", true),
    ] {
        let mut h = nasnet_harness(Tab::Graph);
        if fit {
            h.get_by_label("Fit").click();
            h.step();
            h.step();
        }
        // After Fit the 771 cards are a narrow column in the middle: grab the
        // background beside it.
        let mut at = if fit {
            egui::pos2(420.0, 450.0)
        } else {
            egui::pos2(650.0, 450.0)
        };
        h.event(egui::Event::PointerMoved(at));
        h.event(egui::Event::PointerButton {
            pos: at,
            button: egui::PointerButton::Primary,
            pressed: true,
            modifiers: egui::Modifiers::NONE,
        });
        h.step();
        let mut frame = 0u64;
        let mut pan = move |h: &mut Harness<'static, Designer>| {
            frame += 1;
            at.x += if (frame / 100).is_multiple_of(2) {
                -3.0
            } else {
                3.0
            };
            h.event(egui::Event::PointerMoved(at));
            h.step();
        };
        // The drag really pans the scene.
        let before = h.state().rt.graph.scene;
        for _ in 0..5 {
            pan(&mut h);
        }
        assert_ne!(h.state().rt.graph.scene, before, "{name}: the drag pans");
        group.bench_function(name, |b| b.iter(|| pan(&mut h)));
    }
    for (name, at) in [
        ("nasnet_scrolling_summary", egui::pos2(640.0, 400.0)),
        ("nasnet_scrolling_stack", egui::pos2(170.0, 400.0)),
    ] {
        let mut h = nasnet_harness(Tab::Summary);
        h.hover_at(at);
        h.step();
        let mut frame = 0u64;
        let mut scroll = || {
            // 771 rows of ~16 points: down for 250 frames, then back up.
            frame += 1;
            let dy = if (frame / 250).is_multiple_of(2) {
                -60.0
            } else {
                60.0
            };
            h.event(egui::Event::MouseWheel {
                unit: egui::MouseWheelUnit::Point,
                delta: egui::vec2(0.0, dy),
                phase: egui::TouchPhase::Move,
                source: egui::MouseWheelSource::Unknown,
                modifiers: egui::Modifiers::NONE,
            });
            h.step();
        };
        group.bench_function(name, |b| b.iter(&mut scroll));
    }
    group.finish();
}

/// The window with NASNetMobile (`benches/data/nasnet_mobile.json`) open on `tab`.
fn nasnet_harness(tab: Tab) -> Harness<'static, Designer> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/benches/data/nasnet_mobile.json"
    );
    let text = std::fs::read_to_string(path).expect("benches/data/nasnet_mobile.json");
    let net = convscope::io::config::from_json_str(&text).expect("NASNetMobile reads");
    let mut h = Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .build_ui_state(|ui, d: &mut Designer| d.ui(ui), Designer::new(net));
    h.state_mut().view.tab = tab;
    h.step();
    h.step();
    h
}

/// Grad-CAM in the Explain tab on ResNet50 (`benches/data/resnet50.json`, its own
/// initial weights: the time does not depend on their values) at 224×224 on the bundled
/// photo: from picking another class (the click) to the frame that shows its map — one
/// forward pass and one backward pass from the score to `conv5_block3_out`, on the
/// explanation's own thread (issue: ≤ 0.5 s).
fn explain(c: &mut Criterion) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/data/resnet50.json");
    let text = std::fs::read_to_string(path).expect("benches/data/resnet50.json");
    let net = convscope::io::config::from_json_str(&text).expect("ResNet50 reads");
    let mut d = Designer::new(net);
    let (name, bytes) = convscope::app::viewer::SAMPLES[0];
    d.rt.viewer.set_image(name, bytes.to_vec());
    let mut h = Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .build_ui_state(|ui, d: &mut Designer| d.ui(ui), d);
    let ctx = h.ctx.clone();
    h.state_mut().rt.viewer.start_worker(&ctx);
    h.state_mut().rt.wake = Some(std::sync::Arc::new(|| {}));
    h.state_mut().view.tab = Tab::Explain;
    // The viewer's run, then the first map.
    while h.state().rt.explain.attribution().is_none() {
        std::thread::sleep(Duration::from_millis(20));
        h.step();
    }
    let mut group = c.benchmark_group("explain");
    group.sample_size(10);
    let mut class = 0;
    group.bench_function("resnet50_gradcam_click_to_screen", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                class = (class + 1) % 1000;
                let t = Instant::now();
                h.state_mut().rt.explain.class = Some(class);
                h.step(); // the click's frame: the request starts
                while h.state().rt.explain.running() {
                    std::thread::sleep(Duration::from_micros(500));
                    h.step(); // polls; the frame that takes the map draws it
                }
                total += t.elapsed();
            }
            total
        })
    });
}

criterion_group!(benches, explain, bench);
criterion_main!(benches);
