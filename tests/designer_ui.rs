//! The designer window, driven headless with egui_kittest by label: add a layer from the
//! palette, type arguments, read the live shape and parameter readouts, make a layer
//! invalid and find Keras's message, undo, and reorder by drag.

mod common;

use common::{harness_with, has_text, type_number, type_number_stepping};
use convscope::app::Designer;
use egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

fn harness() -> Harness<'static, Designer> {
    harness_with(Designer::default())
}

#[test]
fn add_conv_type_kernel_and_stride_and_read_the_readouts() {
    let mut h = harness();
    h.run();
    // The window opens on the feature maps; the summary is one click away.
    h.get_by_label("Summary").click();
    h.run();
    // The example opens with StridedNet's first Conv2D selected.
    assert!(has_text(
        &h,
        "Conv2D 16 · 7×7 · s2 · valid -> 45×45×16 · 2,368 params"
    ));
    h.get_by_label("+ Conv2D").click();
    h.run();
    assert_eq!(h.state().doc.network.layers()[2].name, "conv2d_7");
    assert!(has_text(
        &h,
        "Conv2D 32 · 3×3 · valid -> 43×43×32 · 4,640 params"
    ));
    type_number(&mut h, "kernel_size", "5");
    type_number(&mut h, "strides", "2");
    // floor((45 - 5) / 2) + 1 = 21; 5·5·16·32 + 32 = 12,832 — on the card and in the summary.
    assert!(has_text(
        &h,
        "Conv2D 32 · 5×5 · s2 · valid -> 21×21×32 · 12,832 params"
    ));
    assert!(has_text(&h, "(None, 21, 21, 32)"));
    assert!(has_text(&h, "12,832"));
    assert!(has_text(&h, "H: floor((45 - 5) / 2) + 1 = 21"));
}

#[test]
fn invalid_argument_shows_keras_message_and_undo_restores() {
    let mut h = harness();
    h.run();
    type_number(&mut h, "kernel_size", "99");
    assert!(has_text(
        &h,
        "Computed output size would be zero or negative"
    ));
    assert!(has_text(&h, "Keras would reject layer 'conv2d'"));
    // Later layers have no made-up shape.
    assert!(h.state().rt.analysis.layers[2].output_shape.is_none());
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run();
    assert!(!has_text(
        &h,
        "Computed output size would be zero or negative"
    ));
    assert!(has_text(&h, "-> 45×45×16 · 2,368 params"));
    // Redo brings the error back.
    h.key_press_modifiers(Modifiers::COMMAND, Key::Y);
    h.run();
    assert!(has_text(
        &h,
        "Computed output size would be zero or negative"
    ));
}

#[test]
fn reorder_two_layers_by_drag() {
    let mut h = harness();
    h.run();
    let names = |h: &Harness<'static, Designer>| -> Vec<String> {
        h.state()
            .doc
            .network
            .layers()
            .iter()
            .map(|l| l.name.clone())
            .collect()
    };
    assert_eq!(
        names(&h)[2..4],
        ["conv2d_1".to_string(), "activation".to_string()]
    );
    let src = h
        .get_by_label_contains("activation  Activation relu")
        .rect()
        .center();
    let dst = h
        .get_by_label_contains("conv2d_1  Conv2D 32")
        .rect()
        .center();
    h.hover_at(src);
    h.run();
    h.drag_at(src);
    h.run();
    for k in 1..=10 {
        let t = k as f32 / 10.0;
        h.hover_at(src + (dst - src) * t);
        h.run();
    }
    h.drop_at(dst);
    h.run();
    assert_eq!(
        names(&h)[2..4],
        ["activation".to_string(), "conv2d_1".to_string()]
    );
    // Shapes follow: the activation now sees conv2d's 45×45×16.
    assert_eq!(
        h.state().rt.analysis.layers[2].output_shape,
        Some(vec![None, Some(45), Some(45), Some(16)])
    );
}

#[test]
fn keyboard_duplicate_delete_and_move() {
    let mut h = harness();
    h.run();
    let n = h.state().doc.network.len();
    h.key_press_modifiers(Modifiers::COMMAND, Key::D);
    h.run();
    assert_eq!(h.state().doc.network.len(), n + 1);
    assert_eq!(h.state().doc.network.layers()[2].class_name(), "Conv2D");
    assert_eq!(h.state().view.selected, 2);
    h.key_press(Key::Delete);
    h.run();
    assert_eq!(h.state().doc.network.len(), n);
    assert_eq!(h.state().doc.network.layers()[2].name, "conv2d_1");
    h.key_press_modifiers(Modifiers::ALT, Key::ArrowDown);
    h.run();
    assert_eq!(h.state().doc.network.layers()[3].name, "conv2d_1");
    assert_eq!(h.state().view.selected, 3);
}

#[test]
fn corrupt_saved_state_falls_back_to_the_example_with_a_notice() {
    let d = Designer::restore(Some("{not json".into()));
    assert_eq!(d.doc.network.name, "stridednet");
    assert!(d.rt.notice.as_ref().is_some_and(|n| n.error));
    let saved = Designer::default().saved_state();
    let back = Designer::restore(Some(saved));
    assert_eq!(back.doc.network, Designer::default().doc.network);
}

/// The Summary of a 771-layer model scrolls with the mouse wheel: rows far down are laid
/// out, and the header row (row 0 of the same scroll area, painted at the top of the
/// view when scrolled away) leaves the laid-out rows with the layers above.
#[test]
fn a_long_summary_scrolls_with_the_wheel() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/benches/data/nasnet_mobile.json"
    );
    let text = std::fs::read_to_string(path).expect("benches/data/nasnet_mobile.json");
    let net = convscope::io::config::from_json_str(&text).expect("NASNetMobile reads");
    let mut h = harness_with(Designer::new(net));
    h.run();
    h.get_by_label("Summary").click();
    h.run();
    assert!(has_text(&h, "Layer (type)"));
    assert!(has_text(&h, "stem_conv1 (Conv2D)"));
    assert!(!has_text(&h, "normal_conv_1_2 (Conv2D)"));
    h.hover_at(egui::pos2(800.0, 500.0));
    for _ in 0..40 {
        h.event(egui::Event::MouseWheel {
            unit: egui::MouseWheelUnit::Point,
            delta: egui::vec2(0.0, -200.0),
            phase: egui::TouchPhase::Move,
            source: egui::MouseWheelSource::Unknown,
            modifiers: Modifiers::NONE,
        });
        h.step();
    }
    h.run();
    assert!(
        !has_text(&h, "Layer (type)"),
        "the header row scrolled away"
    );
    assert!(!has_text(&h, "stem_conv1 (Conv2D)"));
    // Further down (the total line below the area stays).
    assert!(has_text(&h, "Total params:"));
}

/// The Graph tab draws a Functional model's branches and merge as cards; clicking one
/// selects it; the layout stays while arguments change and follows a change of wiring.
#[test]
fn the_graph_tab_draws_branches_and_selects_a_layer_by_click() {
    let model = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/golden/graph_normalization/model.keras");
    let mut d = Designer::default();
    d.apply(convscope::app::Command::OpenPath(model));
    d.view.tab = convscope::app::Tab::Graph;
    let mut h = harness_with(d);
    // The inspector's grid settles over a few frames.
    h.run_steps(8);
    // It opens at full size on the input; Fit shows the whole graph.
    h.get_by_label("input");
    h.get_by_label("Fit").click();
    h.run_steps(8);
    // Six Normalization branches from the input, joined by a Concatenate.
    for name in [
        "given",
        "adapted",
        "whole",
        "pixels",
        "inverted",
        "rows_channels",
    ] {
        h.get_by_label(name);
    }
    let layout = h.state().rt.graph.layout().expect("a layout").clone();
    let net = &h.state().doc.network;
    let [input, given, joined] = ["input", "given", "joined"].map(|n| {
        let i = net.layers().iter().position(|l| l.name == n).unwrap();
        layout.centres[i]
    });
    assert!(
        input[1] < given[1] && given[1] < joined[1],
        "{:?}",
        layout.centres
    );
    // (By accessibility action: the tree's bounds of a widget inside a zoomed Scene are
    // its unzoomed ones, so a simulated pointer click would land elsewhere.)
    h.get_by_label("joined").click_accesskit();
    h.run_steps(8);
    let d = h.state();
    assert_eq!(d.doc.network.layers()[d.view.selected].name, "joined");
    // ← → step along a row: from one branch to its neighbour and back.
    let given_i = h
        .state()
        .doc
        .network
        .layers()
        .iter()
        .position(|l| l.name == "given")
        .unwrap();
    h.state_mut()
        .apply(convscope::app::Command::Select(given_i));
    h.run_steps(8);
    let right_of = |h: &egui_kittest::Harness<'static, Designer>| {
        let d = h.state();
        let c = d.rt.graph.layout().unwrap().centres.clone();
        (d.view.selected, c)
    };
    let (before, c) = right_of(&h);
    let (key, back) = if c
        .iter()
        .any(|p| (p[1] - c[before][1]).abs() < 1.0 && p[0] > c[before][0])
    {
        (Key::ArrowRight, Key::ArrowLeft)
    } else {
        (Key::ArrowLeft, Key::ArrowRight)
    };
    h.key_press(key);
    h.run_steps(8);
    let (now, _) = right_of(&h);
    assert_ne!(now, before);
    assert!((c[now][1] - c[before][1]).abs() < 1.0, "the same row");
    h.key_press(back);
    h.run_steps(8);
    assert_eq!(h.state().view.selected, before);
    let joined_i = d_joined(&h);
    h.state_mut()
        .apply(convscope::app::Command::Select(joined_i));
    h.run_steps(8);
    // An argument edit keeps the cards where they are.
    type_number_stepping(&mut h, "axis", "-1");
    h.run_steps(8);
    assert_eq!(h.state().rt.graph.layout(), Some(&layout));
    // A new layer is new wiring: the layout is made again, with it.
    h.get_by_label("+ Dropout").click();
    h.run_steps(8);
    let n = h.state().doc.network.len();
    assert_eq!(h.state().rt.graph.layout().unwrap().centres.len(), n);
    assert_ne!(h.state().rt.graph.layout(), Some(&layout));
}

/// A layer selected elsewhere (the stack, the keyboard) is brought into view on the
/// graph canvas.
#[test]
fn the_graph_follows_a_selection_made_elsewhere() {
    let mut d = Designer::default();
    d.view.tab = convscope::app::Tab::Graph;
    let mut h = harness_with(d);
    h.run_steps(8);
    let net = &h.state().doc.network;
    let (last, name) = (net.len() - 1, net.layers()[net.len() - 1].name.clone());
    assert!(
        h.query_by_label(&name).is_none(),
        "StridedNet's last layer starts out of view"
    );
    h.state_mut().apply(convscope::app::Command::Select(last));
    h.run_steps(8);
    h.get_by_label(&name);
}

fn d_joined(h: &Harness<'static, Designer>) -> usize {
    h.state()
        .doc
        .network
        .layers()
        .iter()
        .position(|l| l.name == "joined")
        .unwrap()
}
