//! The graph designer, driven headless with egui_kittest by label: build a ResNet basic
//! block by clicking (Conv2D → BatchNormalization → ReLU → Conv2D → BatchNormalization,
//! Add with the block's input, ReLU) and read its shapes; make the Add incompatible and
//! find Keras's message; insert a bottleneck block with stride 2 and find its projection
//! shortcut; collapse and expand it on the canvas; undo every step.

mod common;

use common::{choose, frames, harness_with, has_text, type_number};
use convscope::app::Designer;
use convscope::model::Network;
use egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

type H = Harness<'static, Designer>;

/// Chooses `class` in the palette's "Add after selection" list.
fn add(h: &mut H, class: &str) {
    choose(h, "Add after selection:", class);
}

/// The names of the layers feeding layer `name`.
fn inputs_of(h: &H, name: &str) -> Vec<String> {
    let net = &h.state().doc.network;
    let i = net.find(name).unwrap_or_else(|| panic!("no layer {name}"));
    net.inputs_of(i)
        .iter()
        .map(|&j| net.layers()[j].name.clone())
        .collect()
}

fn shape_of(h: &H, name: &str) -> Vec<Option<i64>> {
    let d = h.state();
    let names: Vec<&str> = d
        .doc
        .network
        .layers()
        .iter()
        .map(|l| l.name.as_str())
        .collect();
    let i = d
        .doc
        .network
        .find(name)
        .unwrap_or_else(|| panic!("no layer {name} in {names:?}"));
    d.rt.analysis.layers[i]
        .output_shape
        .clone()
        .unwrap_or_default()
}

/// A pointer drag from `src` to `dst` (screen positions) in ten steps.
fn drag(h: &mut H, src: egui::Pos2, dst: egui::Pos2) {
    h.hover_at(src);
    frames(h);
    h.drag_at(src);
    frames(h);
    for k in 1..=10 {
        h.hover_at(src + (dst - src) * (k as f32 / 10.0));
        frames(h);
    }
    h.drop_at(dst);
    frames(h);
}

fn undo(h: &mut H) {
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    frames(h);
}

#[test]
fn build_a_resnet_block_by_clicking_then_a_bottleneck_and_undo_it_all() {
    let mut h = harness_with(Designer::new(Network::sequential("block", &[56, 56, 64])));
    frames(&mut h);
    h.get_by_label("Functional").click();
    frames(&mut h);
    assert!(h.state().doc.network.functional);
    let mut lens = vec![h.state().doc.network.len()];
    // The residual branch: Conv2D → BatchNormalization → ReLU → Conv2D → BatchNormalization.
    for conv in 0..2 {
        h.get_by_label("+ Conv2D").click();
        frames(&mut h);
        type_number(&mut h, "filters", "64");
        choose(&mut h, "padding", "same");
        h.get_by_label("+ BatchNormalization").click();
        frames(&mut h);
        if conv == 0 {
            add(&mut h, "ReLU");
        }
        lens.push(h.state().doc.network.len());
    }
    assert_eq!(
        shape_of(&h, "batch_normalization_1"),
        [None, Some(56), Some(56), Some(64)]
    );
    // The Add takes the last BatchNormalization; the block's input is connected to it
    // from the inspector's "Connect from" list.
    h.get_by_label("+ Add").click();
    frames(&mut h);
    choose(&mut h, "Connect from", "input_layer");
    assert_eq!(
        inputs_of(&h, "add"),
        ["batch_normalization_1", "input_layer"]
    );
    add(&mut h, "ReLU");
    lens.push(h.state().doc.network.len());
    assert_eq!(
        shape_of(&h, "re_lu_1"),
        [None, Some(56), Some(56), Some(64)]
    );
    // 2 × (3·3·64·64 + 64) + 2 × 4·64 for the batch norms.
    assert_eq!(h.state().rt.analysis.total_params(), 74_368);
    assert!(has_text(&h, "Add -> 56×56×64"));

    // A stride of 2 on the first convolution: Keras refuses the Add, in its words.
    h.state_mut().apply(convscope::app::Command::Select(1));
    frames(&mut h);
    type_number(&mut h, "strides", "2");
    assert!(has_text(
        &h,
        "Inputs have incompatible shapes. Received shapes (28, 28, 64) and (56, 56, 64)"
    ));
    undo(&mut h);
    assert!(!has_text(&h, "Inputs have incompatible shapes"));

    // A bottleneck block with stride 2 after the last ReLU: its 1×1 projection shortcut.
    let last = h.state().doc.network.find("re_lu_1").unwrap();
    h.state_mut().apply(convscope::app::Command::Select(last));
    frames(&mut h);
    choose(&mut h, "Insert block:", "Bottleneck block");
    type_number(&mut h, "stride", "2");
    assert!(has_text(&h, "12 layers -> (None, 28, 28, 256)"));
    h.get_by_label("Insert block").click();
    frames(&mut h);
    assert_eq!(
        shape_of(&h, "conv2_block1_0_conv"),
        [None, Some(28), Some(28), Some(256)]
    );
    assert_eq!(
        shape_of(&h, "conv2_block1_out"),
        [None, Some(28), Some(28), Some(256)]
    );
    assert!(has_text(&h, "conv2_block1_0_conv"));
    let net = &h.state().doc.network;
    let add_i = net.find("conv2_block1_add").unwrap();
    let shortcut = &net.layers()[net.inputs_of(add_i)[0]].name;
    assert_eq!(shortcut, "conv2_block1_0_bn");
    lens.push(net.len());

    // On the canvas the block collapses into one card (its 12 layers) and expands again.
    h.get_by_label("Graph").click();
    frames(&mut h);
    let n = h.state().doc.network.len();
    choose(&mut h, "Collapse:", "conv2_block1 (12 layers)");
    let view = h.state().rt.graph.view().expect("a drawing").clone();
    assert_eq!(view.nodes.len(), n - 12 + 1);
    assert_eq!(h.state().rt.graph.layout().unwrap().centres.len(), n - 11);
    h.get_by_label("conv2_block1").click_accesskit();
    frames(&mut h);
    let d = h.state();
    assert_eq!(
        d.doc.network.layers()[d.view.selected].name,
        "conv2_block1_out"
    );
    h.get_by_label("Expand conv2_block1").click();
    frames(&mut h);
    assert_eq!(h.state().rt.graph.view().unwrap().nodes.len(), n);
    h.get_by_label("conv2_block1_out");

    // Undo: the block goes in one step, then each layer of the hand-built block.
    while lens.len() > 1 {
        assert_eq!(h.state().doc.network.len(), lens.pop().unwrap());
        let before = h.state().doc.network.len();
        let target = *lens.last().unwrap();
        while h.state().doc.network.len() > target {
            undo(&mut h);
            assert!(h.state().doc.network.len() <= before);
        }
        assert_eq!(h.state().doc.network.len(), target);
    }
    assert_eq!(h.state().doc.network.len(), 1);
}

/// A quick-add button dragged onto the wire between two cards of the Graph tab puts
/// the new layer on that wire; undo takes it out again.
#[test]
fn a_palette_layer_dropped_on_a_wire_goes_between_its_ends() {
    let mut h = graph_harness();
    let first = h.state().doc.network.layers()[1].name.clone();
    let (a, b) = (
        h.get_by_label("input_layer").rect(),
        h.get_by_label(&first).rect(),
    );
    // (Widgets inside the scene report scene positions: the pointer needs the screen's.)
    let to_screen = h.state().rt.graph.to_screen.expect("the scene was drawn");
    let dst = to_screen * (a.center_bottom() + (b.center_top() - a.center_bottom()) / 2.0);
    let src = h.get_by_label("+ Dropout").rect().center();
    let n = h.state().doc.network.len();
    drag(&mut h, src, dst);
    let net = &h.state().doc.network;
    assert_eq!(net.len(), n + 1);
    assert_eq!(net.layers()[1].class_name(), "Dropout");
    assert_eq!(net.inputs_of(2), [1], "{first} takes the Dropout");
    assert_eq!(net.layers()[2].name, first);
    undo(&mut h);
    assert_eq!(h.state().doc.network.len(), n);
}

/// A wire dragged from a card's output port onto another card connects them.
#[test]
fn a_wire_dragged_from_a_port_onto_a_card_connects_them() {
    let mut net = Network::sequential("skip", &[8, 8, 4]);
    net.insert_new(0, "Conv2D").unwrap();
    if let convscope::model::LayerKind::Conv2D(c) = &mut net.layer_mut(1).kind {
        c.filters = 4;
        c.base.padding = convscope::layers::Padding::Same;
    }
    net.insert_new(1, "Add").unwrap();
    net.set_functional(true).unwrap();
    let mut d = Designer::new(net);
    d.view.tab = convscope::app::Tab::Graph;
    let mut h = harness_with(d);
    frames(&mut h);
    let to_screen = h.state().rt.graph.to_screen.expect("the scene was drawn");
    let src = to_screen * h.get_by_label("input_layer output port").rect().center();
    let dst = to_screen * h.get_by_label("add").rect().center();
    drag(&mut h, src, dst);
    let net = &h.state().doc.network;
    let add = net.find("add").unwrap();
    assert_eq!(net.inputs_of(add), [1, 0]);
    assert_eq!(
        h.state().rt.analysis.layers[add].output_shape,
        Some(vec![None, Some(8), Some(8), Some(4)])
    );
    undo(&mut h);
    assert_eq!(h.state().doc.network.inputs_of(add), [1]);
}

/// A card dragged by hand stays where it was put (kept in the saved view settings)
/// until Re-layout.
#[test]
fn a_card_moved_by_hand_keeps_its_place_until_relayout() {
    let mut h = graph_harness();
    let name = h.state().doc.network.layers()[1].name.clone();
    let to_screen = h.state().rt.graph.to_screen.expect("the scene was drawn");
    let before = h.get_by_label(&name).rect().center();
    let src = to_screen * before;
    let dst = src + egui::vec2(200.0, 30.0);
    drag(&mut h, src, dst);
    let moved = h
        .state()
        .view
        .graph_moved
        .get(&name)
        .copied()
        .expect("moved");
    let scale = to_screen.scaling;
    assert!(
        (moved[0] - (before.x + 200.0 / scale)).abs() < 2.0,
        "{moved:?}"
    );
    assert!(
        (moved[1] - (before.y + 30.0 / scale)).abs() < 2.0,
        "{moved:?}"
    );
    // Saved with the view settings, and read back.
    let json = h.state().view.to_json();
    let restored = convscope::app::ViewSettings::restore(Some(&json));
    assert_eq!(restored.graph_moved.get(&name), Some(&moved));
    // Re-layout puts it back.
    h.get_by_label("Re-layout").click();
    frames(&mut h);
    assert!(h.state().view.graph_moved.is_empty());
    let again = h.get_by_label(&name).rect().center();
    assert!((again - before).length() < 1.0);
}

/// The window on the bundled example, Graph tab.
fn graph_harness() -> H {
    let mut d = Designer::default();
    d.view.tab = convscope::app::Tab::Graph;
    let mut h = harness_with(d);
    frames(&mut h);
    h
}

/// Ctrl+clicks the cards of layers 1 and 2; their names.
fn pick_first_two(h: &mut H) -> Vec<String> {
    let names: Vec<String> = h.state().doc.network.layers()[1..3]
        .iter()
        .map(|l| l.name.clone())
        .collect();
    let to_screen = h.state().rt.graph.to_screen.expect("the scene was drawn");
    for name in &names {
        let at = to_screen * h.get_by_label(name).rect().center();
        click_at(h, at, Modifiers::COMMAND);
    }
    names
}

/// Clicks at screen position `at` with `modifiers` held.
fn click_at(h: &mut H, at: egui::Pos2, modifiers: Modifiers) {
    h.hover_at(at);
    frames(h);
    h.event(egui::Event::ModifiersChanged(modifiers));
    for pressed in [true, false] {
        h.event(egui::Event::PointerButton {
            pos: at,
            button: egui::PointerButton::Primary,
            pressed,
            modifiers,
        });
    }
    frames(h);
    h.event(egui::Event::ModifiersChanged(Modifiers::NONE));
    frames(h);
}

/// Ctrl+click picks two cards; Ctrl+C copies them, Ctrl+V pastes them after the last
/// layer with fresh names and their wiring; Delete removes a picked pair in one step.
#[test]
fn pick_copy_paste_and_delete_several_layers() {
    let mut h = graph_harness();
    let names = pick_first_two(&mut h);
    assert_eq!(h.state().rt.graph.picked.len(), 2);
    h.event(egui::Event::Copy);
    frames(&mut h);
    let n = h.state().doc.network.len();
    h.state_mut().apply(convscope::app::Command::Select(n - 1));
    frames(&mut h);
    h.event(egui::Event::Paste(String::new()));
    frames(&mut h);
    let net = &h.state().doc.network;
    assert_eq!(net.len(), n + 2);
    let (a, b) = (&net.layers()[n], &net.layers()[n + 1]);
    assert_eq!(a.class_name(), net.layers()[1].class_name());
    assert_eq!(b.class_name(), net.layers()[2].class_name());
    assert_eq!(net.inputs_of(n + 1), [n], "the copy keeps its wiring");
    assert_eq!(net.inputs_of(n), [n - 1], "and takes the paste point");
    assert!(!names.contains(&a.name) && !names.contains(&b.name));
    // Ctrl+D duplicates the picked pair after its last layer; undo takes the copy out.
    h.key_press_modifiers(Modifiers::COMMAND, Key::D);
    frames(&mut h);
    assert_eq!(h.state().doc.network.len(), n + 4);
    assert_eq!(
        h.state().doc.network.inputs_of(3),
        [2],
        "the copy follows the pair"
    );
    undo(&mut h);
    assert_eq!(h.state().doc.network.len(), n + 2);
    // The original pair is still picked: Delete takes both, one undo brings them back.
    h.key_press(Key::Delete);
    frames(&mut h);
    assert_eq!(h.state().doc.network.len(), n);
    assert!(h.state().doc.network.find(&names[0]).is_none());
    undo(&mut h);
    assert_eq!(h.state().doc.network.len(), n + 2);
}

/// Shift + drag on the background draws a box; the cards it touches are picked.
#[test]
fn shift_drag_picks_the_cards_in_a_box() {
    let mut h = graph_harness();
    let to_screen = h.state().rt.graph.to_screen.expect("the scene was drawn");
    let name = h.state().doc.network.layers()[1].name.clone();
    let first = h.get_by_label("input_layer").rect();
    let src = to_screen * (first.left_top() - egui::vec2(30.0, 20.0));
    let dst = to_screen * h.get_by_label(&name).rect().center();
    h.event(egui::Event::ModifiersChanged(Modifiers::SHIFT));
    drag(&mut h, src, dst);
    h.event(egui::Event::ModifiersChanged(Modifiers::NONE));
    frames(&mut h);
    let d = h.state();
    let picked: Vec<&str> =
        d.rt.graph
            .picked
            .iter()
            .filter_map(|&id| d.doc.network.index_of(id))
            .map(|i| d.doc.network.layers()[i].name.as_str())
            .collect();
    assert_eq!(picked, ["input_layer", name.as_str()]);
    // The view did not pan while the box was drawn.
    assert_eq!(d.rt.graph.to_screen, Some(to_screen));
}

/// Picked layers become a group of their own: one card, expanded again by its button.
#[test]
fn picked_layers_group_into_one_card_and_expand() {
    let mut h = graph_harness();
    let n = h.state().doc.network.len();
    pick_first_two(&mut h);
    h.get_by_label("Group picked").click();
    frames(&mut h);
    assert_eq!(h.state().rt.graph.view().unwrap().nodes.len(), n - 1);
    h.get_by_label("group_1").click_accesskit();
    frames(&mut h);
    h.get_by_label("Expand group_1").click();
    frames(&mut h);
    assert_eq!(h.state().rt.graph.view().unwrap().nodes.len(), n);
}

/// A second model input by clicking: "+ Input" adds one shaped as the first, an Add
/// merges the two, the viewer runs the image through both; an input still wired is not
/// deleted (the reason is shown), and undo takes each step back.
#[test]
fn a_second_input_is_added_wired_run_and_undone() {
    let mut h = harness_with(Designer::new(Network::sequential("two", &[8, 8, 3])));
    frames(&mut h);
    h.get_by_label("Functional").click();
    frames(&mut h);
    h.get_by_label("+ Input").click();
    frames(&mut h);
    let net = &h.state().doc.network;
    assert_eq!(net.input_layers().len(), 2);
    assert_eq!(net.layers()[1].name, "input_layer_1");
    assert_eq!(
        shape_of(&h, "input_layer_1"),
        [None, Some(8), Some(8), Some(3)]
    );
    // An Add after the first input, then the second input connected to it.
    h.state_mut().apply(convscope::app::Command::Select(0));
    frames(&mut h);
    h.get_by_label("+ Add").click();
    frames(&mut h);
    choose(&mut h, "Connect from", "input_layer_1");
    assert_eq!(inputs_of(&h, "add"), ["input_layer", "input_layer_1"]);
    assert_eq!(shape_of(&h, "add"), [None, Some(8), Some(8), Some(3)]);
    // The viewer feeds the image to both inputs: the Add is twice the input.
    for _ in 0..4 {
        frames(&mut h);
    }
    let d = h.state();
    let add_i = d.doc.network.find("add").unwrap();
    let input = d.rt.viewer.input.clone().expect("an input");
    let out = d.rt.viewer.acts[add_i]
        .as_ref()
        .expect("the Add ran")
        .output
        .clone();
    assert_eq!(out.shape(), input.shape());
    assert!(
        out.iter()
            .zip(input.iter())
            .all(|(y, x)| (y - 2.0 * x).abs() < 1e-6)
    );
    // The wired input cannot be deleted.
    let second = h.state().doc.network.find("input_layer_1").unwrap();
    h.state_mut().apply(convscope::app::Command::Select(second));
    h.state_mut().apply(convscope::app::Command::Delete);
    frames(&mut h);
    assert!(has_text(
        &h,
        "Input 'input_layer_1' feeds add: disconnect it first."
    ));
    assert_eq!(h.state().doc.network.input_layers().len(), 2);
    // Undo: the connection, the Add, the input.
    for _ in 0..3 {
        undo(&mut h);
    }
    let net = &h.state().doc.network;
    assert_eq!(net.input_layers().len(), 1);
    assert!(net.find("add").is_none());
}

/// A group of the user's own, collapsed, is kept in the view settings by layer name: a
/// new window on the same design (settings restored, layer ids made anew) shows it again.
#[test]
fn user_groups_and_collapsed_state_come_back_with_the_view_settings() {
    let mut h = graph_harness();
    let n = h.state().doc.network.len();
    let names = pick_first_two(&mut h);
    h.get_by_label("Group picked").click();
    frames(&mut h);
    let view = h.state().view.clone();
    let members: Vec<String> = view.graph_groups["group_1"].iter().cloned().collect();
    let mut want = names.clone();
    want.sort();
    assert_eq!(members, want);
    assert!(view.graph_collapsed.contains("group_1"));
    // A new window: the design read again from its Keras JSON, the view settings kept.
    let json = convscope::io::config::to_json_string(&h.state().doc.network);
    let mut d = Designer::new(convscope::io::config::from_json_str(&json).unwrap());
    d.view = view;
    let mut h = harness_with(d);
    frames(&mut h);
    h.get_by_label("Graph").click();
    frames(&mut h);
    assert_eq!(h.state().rt.graph.view().unwrap().nodes.len(), n - 1);
    h.get_by_label("group_1");
}
