//! The activation viewer, headless: the bundled photo runs through the example design,
//! a layer's tiles appear, an edit re-runs only from the edited layer, and colormap and
//! normalisation switch; a clicked tile magnifies and the value under the pointer is the
//! activation's; hovering shows the receptive field; presets, per-layer re-initialise,
//! statistics, kernels, softmax top-5 and exports. (Here the engine runs inline; the
//! window uses its worker.)

mod common;

use common::{harness_with, has_text, type_number};
use convscope::app::Command;
use convscope::app::Designer;
use convscope::app::viewer::{Colormap, Norm, Pane};
use convscope::app::worker::{Job, compute};
use convscope::model::LayerKind;
use egui::Key;
use egui::Modifiers;
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};

fn harness() -> Harness<'static, Designer> {
    harness_with(Designer::default())
}

#[test]
fn bundled_photo_runs_and_tiles_appear_then_an_edit_reruns_from_that_layer() {
    let mut h = harness();
    h.run();
    h.get_by_label("Feature maps").click();
    h.run();
    // conv2d (16 filters) is selected: 16 tiles.
    assert!(has_text(&h, "output [1, 45, 45, 16]"));
    for k in 0..16 {
        assert!(has_text(&h, &format!("ch {k}")), "tile {k}");
    }
    assert!(!has_text(&h, "ch 16"));
    // Every layer was computed by the first run.
    let n = h.state().doc.network.len();
    assert_eq!(
        h.state().rt.viewer.last_evaluated,
        (1..n).collect::<Vec<_>>()
    );

    // Select the last Conv2D and give it stride 1: only it and later layers re-run.
    h.get_by_label_contains("conv2d_6  Conv2D 128")
        .scroll_to_me();
    h.run();
    h.get_by_label_contains("conv2d_6  Conv2D 128").click();
    h.run();
    assert_eq!(h.state().view.selected, 19);
    h.get_by(|n| n.role() == Role::SpinButton && n.label().as_deref() == Some("strides"))
        .focus();
    h.run();
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    h.run();
    h.get_all_by(|n| n.is_focused())
        .next()
        .unwrap()
        .type_text("1");
    h.run();
    h.key_press(Key::Enter);
    h.run();
    h.run();
    assert_eq!(h.state().rt.viewer.last_evaluated.first(), Some(&19));
    assert!(has_text(&h, "output [1, 12, 12, 128]"));
    assert!(has_text(&h, "ch 127"));
}

#[test]
fn another_bundled_photo_and_a_kernel_size_edit_recompute_the_maps() {
    let mut h = harness();
    h.run();
    h.get_by_label("Feature maps").click();
    h.run();
    let cat = h.state().rt.viewer.acts[1].as_ref().unwrap().output.clone();
    h.get_by(|n| n.role() == Role::ComboBox && n.label().as_deref() == Some("Image:"))
        .click();
    h.run();
    h.get_by_label("coffee").click();
    h.run();
    h.run();
    assert_eq!(h.state().rt.viewer.image_name, "coffee");
    let coffee = h.state().rt.viewer.acts[1].as_ref().unwrap().output.clone();
    assert_eq!(coffee.shape(), cat.shape());
    assert_ne!(coffee, cat);
    // conv2d: kernel 7 -> 5 (stride 2, valid): 45×45 maps become 46×46.
    type_number(&mut h, "kernel_size", "5");
    assert!(has_text(&h, "output [1, 46, 46, 16]"));
    assert_eq!(h.state().rt.viewer.last_evaluated.first(), Some(&1));
    assert_eq!(
        h.state().rt.viewer.weights[1].as_ref().unwrap()[0].shape(),
        &[5, 5, 3, 16]
    );
    assert!(has_text(&h, "feature map ch 15"));
}

#[test]
fn colormap_and_normalisation_switch() {
    let mut h = harness();
    h.run();
    h.get_by_label("Feature maps").click();
    h.run();
    h.get_by_label("per layer").click();
    h.run();
    assert_eq!(h.state().view.norm, Norm::PerLayer);
    h.get_by(|n| n.role() == Role::ComboBox && n.label().as_deref() == Some("Colormap:"))
        .click();
    h.run();
    h.get_by_label("magma").click();
    h.run();
    assert_eq!(h.state().view.colormap, Colormap::Magma);
    assert!(has_text(&h, "ch 0"));
    h.get_by_label("fixed").click();
    h.run();
    assert_eq!(h.state().view.norm, Norm::Fixed(0.0, 1.0));
    type_number(&mut h, "max", "2.5");
    assert_eq!(h.state().view.norm, Norm::Fixed(0.0, 2.5));
    assert!(has_text(&h, "fixed range; values beyond it are clamped"));
}

/// The engine behind the viewer re-uses cached activations: resuming gives the same
/// numbers as a full run, and an edit draws new weights only for the changed layer.
#[test]
fn worker_job_resumes_and_keeps_unchanged_weights() {
    let d = Designer::default();
    let net = d.doc.network.clone();
    let a = net.analyze();
    let input = std::sync::Arc::new(ndarray::ArrayD::<f32>::from_elem(
        ndarray::IxDyn(&[1, 96, 96, 3]),
        0.5,
    ));
    let n = net.len();
    let plan = convscope::engine::weights::WeightPlan {
        seed: 3,
        ..Default::default()
    };
    let full = compute(Job {
        generation: 1,
        network: net.clone(),
        analysis: a.clone(),
        plan: plan.clone(),
        drawn: Vec::new(),
        inputs: vec![input.clone()],
        cached: Vec::new(),
        dirty: vec![true; n],
        progress: Default::default(),
    });
    assert!(full.error.is_none(), "{:?}", full.error);
    let mut edited = net.clone();
    if let LayerKind::Conv2D(c) = &mut edited.layer_mut(19).kind {
        c.base.kernel_size = convscope::model::Pair::square(5);
    }
    let ea = edited.analyze();
    let again = compute(Job {
        generation: 2,
        network: edited,
        analysis: ea,
        plan,
        drawn: full.drawn.clone(),
        inputs: vec![input],
        cached: full.acts.clone(),
        dirty: (0..n).map(|i| i >= 19).collect(),
        progress: Default::default(),
    });
    assert!(again.error.is_none());
    assert_eq!(again.evaluated.first(), Some(&19));
    // Unchanged layers keep their weights (same Arc), the edited one gets new ones.
    assert!(std::sync::Arc::ptr_eq(
        &full.drawn[1].as_ref().unwrap().weights,
        &again.drawn[1].as_ref().unwrap().weights
    ));
    assert_eq!(
        again.drawn[19].as_ref().unwrap().weights[0].shape(),
        &[5, 5, 128, 128]
    );
    assert_eq!(
        full.acts[18].as_ref().unwrap().output,
        again.acts[18].as_ref().unwrap().output
    );
}

#[test]
fn opening_an_image_sets_the_input_and_a_bad_file_leaves_the_design_intact() {
    use convscope::app::{Command, Tab};
    let mut d = Designer::default();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    d.apply(Command::OpenPath(root.join("assets/images/coffee.png")));
    assert_eq!(d.rt.viewer.image_name, "coffee.png");
    assert_eq!(d.view.tab, Tab::FeatureMaps);
    d.schedule();
    assert_eq!(
        d.rt.viewer.input.as_ref().map(|x| x.shape().to_vec()),
        Some(vec![1, 96, 96, 3])
    );
    let before = d.doc.network.clone();
    let bad = std::env::temp_dir().join(format!("convscope-garbage-{}.keras", std::process::id()));
    std::fs::write(&bad, b"garbage, not a model").unwrap();
    d.apply(Command::OpenPath(bad.clone()));
    assert!(d.rt.notice.as_ref().is_some_and(|n| n.error));
    assert_eq!(d.doc.network, before);
    std::fs::remove_file(bad).ok();
}

#[test]
fn preprocessing_and_reinitialise_rerun_the_stack() {
    use convscope::io::image::Preprocess;
    let mut d = Designer::default();
    d.schedule();
    let unit = d.rt.viewer.acts[1].as_ref().unwrap().output.clone();
    d.view.preprocess = Preprocess::Raw;
    d.schedule();
    let raw_in = d.rt.viewer.input.as_ref().unwrap();
    assert!(raw_in.iter().any(|v| *v > 1.5), "raw pixels go up to 255");
    assert_eq!(d.rt.viewer.last_evaluated.first(), Some(&1));
    let raw = d.rt.viewer.acts[1].as_ref().unwrap().output.clone();
    assert_ne!(unit, raw);
    // New weights from the next seed: the first layer's output changes again.
    d.apply(convscope::app::Command::ReinitialiseAll);
    d.schedule();
    assert_ne!(d.rt.viewer.acts[1].as_ref().unwrap().output, raw);
}

/// A model keras.applications built (known by its name) gets its preprocessing
/// proposed next to the menu; one click takes it, and the proposal goes away.
#[test]
fn an_application_model_proposes_its_preprocessing() {
    use convscope::io::image::Preprocess;
    let mut d = Designer::default();
    d.doc.network.name = "vgg16".into();
    let mut h = harness_with(d);
    h.run();
    h.get_by_label("Feature maps").click();
    h.run();
    assert!(h.query_by_label("Use caffe (BGR, mean)").is_some());
    h.get_by_label("Use caffe (BGR, mean)").click();
    h.run();
    assert_eq!(h.state().view.preprocess, Preprocess::Caffe);
    assert!(h.query_by_label("Use caffe (BGR, mean)").is_none());
    // The bundled example is not an application: nothing is proposed.
    let mut h = harness();
    h.run();
    h.get_by_label("Feature maps").click();
    h.run();
    assert!(h.query_by_label_contains("Use ").is_none());
}

/// The readout label: (row, col, channel, value).
fn readout(h: &Harness<'static, Designer>) -> Option<(usize, usize, usize, f32)> {
    let node = h
        .query_all_by(|n| {
            n.label().is_some_and(|l| l.starts_with("row "))
                || n.value().is_some_and(|l| l.starts_with("row "))
        })
        .next()?
        .accesskit_node();
    let text = node.label().or_else(|| node.value())?;
    // "row 22, col 22, ch 3: 0.123456"
    let (pos, value) = text.split_once(": ")?;
    let nums: Vec<usize> = pos
        .split(", ")
        .map(|p| p.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    Some((nums[0], nums[1], nums[2], value.parse().ok()?))
}

fn activation(d: &Designer, layer: usize, row: usize, col: usize, ch: usize) -> f32 {
    d.rt.viewer.acts[layer].as_ref().unwrap().output[[0, row, col, ch]]
}

#[test]
fn a_clicked_tile_magnifies_and_the_hover_readout_is_the_activation_value() {
    let mut h = harness();
    h.run();
    h.get_by_label("Feature maps").click();
    h.run();
    h.get_by_label("feature map ch 3").click();
    h.run();
    assert_eq!(h.state().view.focus, Some(3));
    let view = h.get_by_label("magnified ch 3").rect();
    // At "fit" the 45×45 map is centred: the view's centre is pixel (22, 22).
    h.hover_at(view.center());
    h.run();
    let (row, col, ch, value) = readout(&h).expect("a readout under the pointer");
    assert_eq!((row, col, ch), (22, 22, 3));
    let want = activation(h.state(), 1, row, col, ch);
    assert!(
        (value - want).abs() <= 5e-7 * (1.0 + want.abs()),
        "{value} vs {want}"
    );
    // Another pixel: a quarter of the map up and left of the centre.
    let fit = view.width().min(view.height()) / 45.0;
    h.hover_at(view.center() - egui::vec2(11.0 * fit, 11.0 * fit));
    h.run();
    let (row, col, _, value) = readout(&h).unwrap();
    assert_eq!((row, col), (11, 11));
    assert_eq!(
        format!("{value:.6}"),
        format!("{:.6}", activation(h.state(), 1, 11, 11, 3))
    );
    // Zoom 2× about the pointer: the same pixel stays under it, the view shows less.
    h.event(egui::Event::Zoom(2.0));
    h.run();
    assert!(
        (h.state().view.zoom - 2.0).abs() < 1e-3,
        "{}",
        h.state().view.zoom
    );
    let (row2, col2, _, _) = readout(&h).unwrap();
    assert_eq!((row2, col2), (11, 11));
    h.hover_at(view.center());
    h.run();
    let (row3, col3, _, _) = readout(&h).unwrap();
    assert!(
        (16..=17).contains(&row3) && (16..=17).contains(&col3),
        "{row3},{col3}"
    );
    // Next channel, then back to the grid.
    h.get_by_label("Next").click();
    h.run();
    assert_eq!(h.state().view.focus, Some(4));
    h.get_by_label("Back to all channels").click();
    h.run();
    assert_eq!(h.state().view.focus, None);
    assert!(has_text(&h, "feature map ch 15"));
}

#[test]
fn hovering_a_tile_reads_the_value_and_outlines_the_receptive_field() {
    let mut h = harness();
    h.run();
    h.get_by_label("Feature maps").click();
    h.run();
    let tile = h.get_by_label("feature map ch 0").rect();
    // Pixel (0, 0) of conv2d (7×7, stride 2, valid): input rows 0..6, cols 0..6.
    h.hover_at(tile.min + egui::vec2(0.5, 0.5));
    h.run();
    h.run();
    let (row, col, ch, value) = readout(&h).unwrap();
    assert_eq!((row, col, ch), (0, 0, 0));
    let want = activation(h.state(), 1, 0, 0, 0);
    assert!((value - want).abs() <= 5e-7 * (1.0 + want.abs()));
    assert!(has_text(
        &h,
        "receptive field: rows 0..6, cols 0..6 (7×7 input pixels)"
    ));
    // The last pixel (44, 44) sees rows 88..94.
    h.hover_at(tile.max - egui::vec2(0.5, 0.5));
    h.run();
    h.run();
    assert_eq!(readout(&h).unwrap().0, 44);
    assert!(has_text(&h, "rows 88..94, cols 88..94"));
}

#[test]
fn a_sobel_preset_and_per_layer_reinitialise_rerun_from_their_layer() {
    let mut h = harness();
    h.run();
    h.get_by_label("Feature maps").click();
    h.run();
    h.get_by(|n| n.role() == Role::ComboBox && n.label().as_deref() == Some("Filter preset:"))
        .click();
    h.run();
    h.get_by_label("Sobel x (vertical edges)").click();
    h.run();
    h.run();
    let d = h.state();
    assert_eq!(d.rt.viewer.last_evaluated.first(), Some(&1));
    // conv2d is 7×7 on RGB: every filter is the 7×7 derivative-of-Gaussian on luminance.
    let k = &d.rt.viewer.weights[1].as_ref().unwrap()[0];
    assert_eq!(k.shape(), &[7, 7, 3, 16]);
    let want = convscope::engine::presets::kernel2d(
        convscope::engine::presets::Preset::SobelX,
        0,
        16,
        7,
        7,
    );
    for (c, lum) in [0.299f32, 0.587, 0.114].into_iter().enumerate() {
        for f in [0, 15] {
            assert!((k[[3, 6, c, f]] - want[[3, 6]] * lum).abs() < 1e-6);
        }
    }
    assert!(
        d.rt.viewer.weights[1].as_ref().unwrap()[1]
            .iter()
            .all(|b| *b == 0.0)
    );
    // A preset follows the kernel size: 3×3 gives the textbook Sobel.
    h.state_mut().edit(|net| {
        if let LayerKind::Conv2D(c) = &mut net.layer_mut(1).kind {
            c.base.kernel_size = convscope::model::Pair::square(3);
        }
    });
    h.run();
    h.run();
    let k = h.state().rt.viewer.weights[1].as_ref().unwrap()[0].clone();
    assert_eq!(k.shape(), &[3, 3, 3, 16]);
    assert!((k[[1, 2, 1, 0]] - 2.0 * 0.587).abs() < 1e-6);

    // Re-initialise conv2d_6 alone: it and later layers re-run, earlier weights stay.
    h.state_mut().apply(Command::Select(19));
    h.run();
    let before19 = h.state().rt.viewer.weights[19].clone().unwrap();
    let before1 = h.state().rt.viewer.weights[1].clone().unwrap();
    h.get_by_label("Re-initialise conv2d_6").click();
    h.run();
    h.run();
    let d = h.state();
    assert_eq!(d.rt.viewer.last_evaluated.first(), Some(&19));
    assert_ne!(d.rt.viewer.weights[19].as_ref().unwrap()[0], before19[0]);
    assert!(std::sync::Arc::ptr_eq(
        d.rt.viewer.weights[1].as_ref().unwrap(),
        &before1
    ));
}

#[test]
fn sort_dead_filter_statistics_kernels_and_softmax_top5() {
    let mut h = harness();
    h.run();
    h.get_by_label("Feature maps").click();
    h.run();
    // activation (ReLU) after conv2d_1: show only its dead channels.
    h.state_mut().apply(Command::Select(3));
    h.run();
    h.get_by_label("dead only").click();
    h.run();
    let d = h.state_mut();
    let net = d.doc.network.clone();
    let stats = d.rt.viewer.prepared(&net, 3).unwrap().stats.clone();
    let dead: Vec<usize> = (0..stats.len()).filter(|&k| stats[k].dead).collect();
    for k in 0..stats.len() {
        assert_eq!(
            h.query_all_by(|n| n.label().as_deref() == Some(&format!("feature map ch {k}")))
                .next()
                .is_some(),
            dead.contains(&k),
            "channel {k}"
        );
    }
    h.get_by_label("dead only").click();
    h.run();
    // Sorted by energy: the first tile is the most energetic channel.
    h.get_by(|n| n.role() == Role::ComboBox && n.label().as_deref() == Some("Sort:"))
        .click();
    h.run();
    h.get_by_label("energy (largest first)").click();
    h.run();
    let top = (0..stats.len())
        .max_by(|&a, &b| stats[a].energy.total_cmp(&stats[b].energy))
        .unwrap();
    let first = h
        .query_all_by(|n| n.label().is_some_and(|l| l.starts_with("feature map ch ")))
        .next()
        .unwrap()
        .accesskit_node()
        .label()
        .unwrap();
    assert_eq!(first, format!("feature map ch {top}"));

    h.get_by_label("Statistics").click();
    h.run();
    assert_eq!(h.state().view.pane, Pane::Statistics);
    assert!(has_text(&h, "Histogram of the layer's values"));
    assert!(has_text(&h, &format!("{} of 32 channels dead", dead.len())));

    h.state_mut().apply(Command::Select(1));
    h.run();
    h.get_by_label("Kernels").click();
    h.run();
    assert!(has_text(&h, "Kernel [7, 7, 3, 16]"));
    assert!(has_text(&h, "filter 15"));

    h.get_by_label("Maps").click();
    h.state_mut().apply(Command::Select(29));
    h.run();
    assert!(has_text(&h, "Top 5 (softmax)"));
    let d = h.state();
    let probs: Vec<f32> = d.rt.viewer.acts[29]
        .as_ref()
        .unwrap()
        .output
        .iter()
        .copied()
        .collect();
    let best = (0..probs.len())
        .max_by(|&a, &b| probs[a].total_cmp(&probs[b]))
        .unwrap();
    assert!(has_text(&h, &format!("1. class {best}: ")));
}

#[test]
fn exports_write_the_grid_the_map_and_the_activations() {
    let mut d = Designer::default();
    d.schedule();
    let dir = std::env::temp_dir().join(format!("convscope-export-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    d.apply(Command::ExportGrid(Some(dir.join("grid.png"))));
    assert!(
        d.rt.notice.as_ref().is_some_and(|n| !n.error),
        "{:?}",
        d.rt.notice
    );
    let img = image::open(dir.join("grid.png")).unwrap().to_rgb8();
    let want =
        d.rt.viewer
            .grid_picture(&d.view, &d.doc.network, 1)
            .unwrap();
    assert_eq!(
        (img.width() as usize, img.height() as usize),
        (want.width, want.height)
    );
    assert_eq!(img.into_raw(), want.data);
    // No magnified channel: the map export says so and writes nothing.
    d.apply(Command::ExportMap(Some(dir.join("map.png"))));
    assert!(d.rt.notice.as_ref().is_some_and(|n| n.error));
    assert!(!dir.join("map.png").exists());
    d.view.focus = Some(2);
    d.apply(Command::ExportMap(Some(dir.join("map.png"))));
    let img = image::open(dir.join("map.png")).unwrap().to_rgb8();
    assert!(img.width() >= 256);
    d.apply(Command::ExportNpy(Some(dir.join("conv2d.npy"))));
    let arr =
        convscope::io::npy::read_npy(&std::fs::read(dir.join("conv2d.npy")).unwrap()).unwrap();
    let act = d.rt.viewer.acts[1].as_ref().unwrap().output.clone();
    assert_eq!(arr.shape, act.shape());
    assert_eq!(arr.data, act.iter().copied().collect::<Vec<_>>());
    d.apply(Command::ExportAllNpz(Some(dir.join("all.npz"))));
    let all = convscope::io::npy::read_npz(&std::fs::read(dir.join("all.npz")).unwrap()).unwrap();
    assert_eq!(all.len(), d.doc.network.len() - 1);
    assert_eq!(all[0].0, "conv2d");
    assert_eq!(all[0].1.data, act.iter().copied().collect::<Vec<_>>());
    // An unwritable place: a message, and the design is untouched.
    let before = d.doc.network.clone();
    d.apply(Command::ExportNpy(Some(dir.join("missing/dir/x.npy"))));
    assert!(d.rt.notice.as_ref().is_some_and(|n| n.error));
    assert_eq!(d.doc.network, before);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_design_with_file_weights_saves_as_keras_with_them() {
    use convscope::io::load_model;
    use convscope::io::weights;
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/golden/stack_mini_vgg/model.keras");
    let mut d = Designer::default();
    d.apply(Command::OpenPath(src.clone()));
    assert!(d.doc.from_file);
    assert_eq!(d.doc.path.as_deref(), Some(src.as_path()));
    let out = std::env::temp_dir().join(format!("convscope-save-{}.keras", std::process::id()));
    // Saved before any run: the file's weights are used as they are.
    d.apply(Command::SaveTo(out.clone()));
    assert!(
        d.rt.notice.as_ref().is_some_and(|n| !n.error),
        "{:?}",
        d.rt.notice
    );
    assert_eq!(d.doc.path.as_deref(), Some(out.as_path()));
    let orig = load_model(&src).unwrap();
    let a = orig.network.analyze();
    let want = weights::from_keras(&orig.bytes, &orig.network, &a).unwrap();
    let back = load_model(&out).unwrap();
    assert_eq!(back.network, orig.network);
    assert_eq!(
        weights::from_keras(&back.bytes, &back.network, &a).unwrap(),
        want
    );
    // After a run and an edit that changes one kernel, Save keeps every other layer's
    // weights and draws the edited layer's anew.
    d.schedule();
    d.edit(|net| {
        if let LayerKind::Conv2D(c) = &mut net.layer_mut(1).kind {
            c.filters += 1;
        }
    });
    d.apply(Command::Save);
    let back = load_model(&out).unwrap();
    let a2 = back.network.analyze();
    let got = weights::from_keras(&back.bytes, &back.network, &a2).unwrap();
    assert_eq!(got[1][0].shape()[3], want[1][0].shape()[3] + 1);
    assert_eq!(got.last(), want.last());
    std::fs::remove_file(out).ok();
}

#[test]
fn a_design_too_large_for_memory_shows_a_message_and_stays_editable() {
    use convscope::model::Network;
    let mut net = Network::sequential("huge", &[20000, 20000, 3]);
    let i = net.insert_new(0, "Conv2D").unwrap();
    if let LayerKind::Conv2D(c) = &mut net.layer_mut(i).kind {
        c.filters = 64;
    }
    let mut h = Harness::builder()
        .with_size(egui::vec2(1600.0, 1000.0))
        .build_ui_state(|ui, d: &mut Designer| d.ui(ui), Designer::new(net));
    h.run();
    assert!(has_text(&h, "needs about"));
    assert!(
        h.state().rt.viewer.input.is_none(),
        "no 4.8 GB input was prepared"
    );
    // Shrinking the input makes it run.
    h.state_mut().edit(|net| {
        if let LayerKind::Input(inp) = &mut net.layer_mut(0).kind {
            inp.batch_shape = vec![None, Some(32), Some(32), Some(3)];
        }
    });
    h.run();
    h.run();
    assert!(
        h.state().rt.viewer.error.is_none(),
        "{:?}",
        h.state().rt.viewer.error
    );
    assert!(
        h.state().rt.viewer.acts[1].is_some(),
        "{:?}",
        h.state().rt.viewer.last_evaluated
    );
    assert!(has_text(&h, "feature map ch 63"));
}

/// *Re-initialise <layer>* and then Save before the run finishes: the saved file holds
/// the weights the screen then shows (the worker and Save resolve the same plan).
#[test]
fn save_after_reinitialise_writes_the_weights_shown() {
    use convscope::io::{load_model, weights};
    let out = std::env::temp_dir().join(format!("convscope-reinit-{}.keras", std::process::id()));
    let mut d = Designer::default();
    d.schedule();
    d.apply(Command::Select(19));
    let before = d.rt.viewer.weights[19].clone().unwrap();
    d.apply(Command::ReinitialiseLayer(19));
    // Saved before the run that re-draws the layer.
    d.apply(Command::SaveTo(out.clone()));
    assert!(
        d.rt.notice.as_ref().is_some_and(|n| !n.error),
        "{:?}",
        d.rt.notice
    );
    // The run the screen then shows.
    d.schedule();
    assert_eq!(d.rt.viewer.last_evaluated.first(), Some(&19));
    let shown: Vec<_> =
        d.rt.viewer
            .weights
            .iter()
            .map(|w| w.as_ref().unwrap().as_ref().clone())
            .collect();
    assert_ne!(shown[19], *before);
    let back = load_model(&out).unwrap();
    let saved = weights::from_keras(&back.bytes, &back.network, &back.network.analyze()).unwrap();
    assert_eq!(saved, shown);
    std::fs::remove_file(out).ok();
}
