//! The activation viewer, headless: the bundled photo runs through the example design,
//! a layer's tiles appear, an edit re-runs only from the edited layer, and colormap and
//! normalisation switch. (Here the engine runs inline; the window uses its worker.)

use convscope::app::Designer;
use convscope::app::viewer::{Colormap, Norm};
use convscope::app::worker::{Job, compute};
use convscope::model::LayerKind;
use egui::Key;
use egui::Modifiers;
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

fn harness() -> Harness<'static, Designer> {
    Harness::builder()
        .with_size(egui::vec2(1600.0, 1000.0))
        .build_ui_state(|ui, d: &mut Designer| d.ui(ui), Designer::default())
}

fn has_text(h: &Harness<'static, Designer>, text: &str) -> bool {
    h.query_all_by(|n| {
        n.label().is_some_and(|l| l.contains(text)) || n.value().is_some_and(|v| v.contains(text))
    })
    .next()
    .is_some()
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
    let n = h.state().network.layers.len();
    assert_eq!(h.state().viewer.last_evaluated, (1..n).collect::<Vec<_>>());

    // Select the last Conv2D and give it stride 1: only it and later layers re-run.
    h.get_by_label_contains("conv2d_6  Conv2D 128")
        .scroll_to_me();
    h.run();
    h.get_by_label_contains("conv2d_6  Conv2D 128").click();
    h.run();
    assert_eq!(h.state().selected, 19);
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
    assert_eq!(h.state().viewer.last_evaluated.first(), Some(&19));
    assert!(has_text(&h, "output [1, 12, 12, 128]"));
    assert!(has_text(&h, "ch 127"));
}

#[test]
fn colormap_and_normalisation_switch() {
    let mut h = harness();
    h.run();
    h.get_by_label("Feature maps").click();
    h.run();
    h.get_by_label("per layer").click();
    h.run();
    assert_eq!(h.state().viewer.norm, Norm::PerLayer);
    h.get_by(|n| n.role() == Role::ComboBox && n.label().as_deref() == Some("Colormap:"))
        .click();
    h.run();
    h.get_by_label("magma").click();
    h.run();
    assert_eq!(h.state().viewer.colormap, Colormap::Magma);
    assert!(has_text(&h, "ch 0"));
}

/// The engine behind the viewer re-uses cached activations: resuming gives the same
/// numbers as a full run, and an edit draws new weights only for the changed layer.
#[test]
fn worker_job_resumes_and_keeps_unchanged_weights() {
    let d = Designer::default();
    let net = d.network.clone();
    let a = net.analyze();
    let input = std::sync::Arc::new(ndarray::ArrayD::<f32>::from_elem(
        ndarray::IxDyn(&[1, 96, 96, 3]),
        0.5,
    ));
    let full = compute(Job {
        generation: 1,
        network: net.clone(),
        analysis: a.clone(),
        weights: Vec::new(),
        input: input.clone(),
        cached: Vec::new(),
        from: 1,
        seed: 3,
    });
    assert!(full.error.is_none(), "{:?}", full.error);
    let mut edited = net.clone();
    if let LayerKind::Conv2D(c) = &mut edited.layers[19].kind {
        c.kernel_size = convscope::model::Pair::square(5);
    }
    let ea = edited.analyze();
    let again = compute(Job {
        generation: 2,
        network: edited,
        analysis: ea,
        weights: full.weights.clone(),
        input,
        cached: full.acts.iter().take(19).cloned().collect(),
        from: 19,
        seed: 3,
    });
    assert!(again.error.is_none());
    assert_eq!(again.evaluated.first(), Some(&19));
    // Unchanged layers keep their weights (same Arc), the edited one gets new ones.
    assert!(std::sync::Arc::ptr_eq(
        full.weights[1].as_ref().unwrap(),
        again.weights[1].as_ref().unwrap()
    ));
    assert_eq!(
        again.weights[19].as_ref().unwrap()[0].shape(),
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
    assert_eq!(d.viewer.image_name, "coffee.png");
    assert_eq!(d.tab, Tab::FeatureMaps);
    d.viewer.schedule(&d.network.clone(), &d.analysis.clone());
    assert_eq!(
        d.viewer.input.as_ref().map(|x| x.shape().to_vec()),
        Some(vec![1, 96, 96, 3])
    );
    let before = d.network.clone();
    let bad = std::env::temp_dir().join(format!("convscope-garbage-{}.keras", std::process::id()));
    std::fs::write(&bad, b"garbage, not a model").unwrap();
    d.apply(Command::OpenPath(bad.clone()));
    assert!(d.notice.as_ref().is_some_and(|n| n.error));
    assert_eq!(d.network, before);
    std::fs::remove_file(bad).ok();
}

#[test]
fn preprocessing_and_reinitialise_rerun_the_stack() {
    use convscope::io::image::Preprocess;
    let mut d = Designer::default();
    let (net, a) = (d.network.clone(), d.analysis.clone());
    d.viewer.schedule(&net, &a);
    let unit = d.viewer.acts[1].as_ref().unwrap().output.clone();
    d.viewer.preprocess = Preprocess::Raw;
    d.viewer.schedule(&net, &a);
    let raw_in = d.viewer.input.as_ref().unwrap();
    assert!(raw_in.iter().any(|v| *v > 1.5), "raw pixels go up to 255");
    assert_eq!(d.viewer.last_evaluated.first(), Some(&1));
    let raw = d.viewer.acts[1].as_ref().unwrap().output.clone();
    assert_ne!(unit, raw);
    // New weights from the next seed: the first layer's output changes again.
    d.viewer.reinitialise();
    d.viewer.schedule(&net, &a);
    assert_ne!(d.viewer.acts[1].as_ref().unwrap().output, raw);
}
