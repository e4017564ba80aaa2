//! The Compare tab, driven headless by label: pin a design as A, edit it (B), read what
//! changed layer by layer, see A's and B's maps side by side with their difference, a
//! new image re-runs A on it, unpin.

mod common;

use common::{choose, frames, harness_with, has_text, type_number};
use convscope::app::{Command, Designer};
use convscope::model::Network;
use egui_kittest::kittest::Queryable;

/// Input 16×16×3 -> Conv2D -> MaxPooling2D -> Flatten -> Dense.
fn design() -> Network {
    let mut n = Network::sequential("c", &[16, 16, 3]);
    for class in ["Conv2D", "MaxPooling2D", "Flatten", "Dense"] {
        n.insert_new(n.len() - 1, class).unwrap();
    }
    n
}

#[test]
fn pin_edit_and_compare_layer_by_layer_with_maps_side_by_side() {
    let mut h = harness_with(Designer::new(design()));
    frames(&mut h);
    h.state_mut().apply(Command::Select(1));
    frames(&mut h);
    h.get_by_label("Compare").click();
    frames(&mut h);
    h.get_by_label("Pin as A").click();
    frames(&mut h);
    assert!(h.state().rt.compare.pinned.is_some());
    assert!(has_text(&h, "No differences yet"));
    // B: the convolution gets a ReLU. Same shapes: A, B and B − A side by side.
    choose(&mut h, "activation", "relu");
    frames(&mut h);
    assert!(has_text(&h, "activation: \"linear\" -> \"relu\""));
    assert!(has_text(&h, "B - A (max |B - A|"));
    // The layers after it keep their shapes: listed, unchanged.
    assert!(has_text(&h, "max_pooling2d (MaxPooling2D)"));
    assert!(!has_text(&h, "~ max_pooling2d"));
    // B: 8 filters instead of 32. The shapes differ: no difference map.
    type_number(&mut h, "filters", "8");
    frames(&mut h);
    assert!(has_text(&h, "filters: 32 -> 8"));
    assert!(has_text(&h, "896 -> 224"));
    assert!(has_text(&h, "The shapes differ: no difference map."));
    // The pooling layer's arguments are the same; its shape follows the convolution's.
    assert!(has_text(&h, "~ max_pooling2d (MaxPooling2D)"));
    assert!(has_text(&h, "follows an earlier change"));
    // A new image: A runs on it too.
    let before = h.state().rt.compare.pinned.as_ref().unwrap().acts[1]
        .as_ref()
        .unwrap()
        .output
        .clone();
    let (name, bytes) = convscope::app::viewer::SAMPLES[1];
    h.state_mut().rt.viewer.set_image(name, bytes.to_vec());
    for _ in 0..4 {
        frames(&mut h);
    }
    let after = h.state().rt.compare.pinned.as_ref().unwrap().acts[1]
        .as_ref()
        .unwrap()
        .output
        .clone();
    assert_ne!(
        before.as_ref(),
        after.as_ref(),
        "A was not re-run on the new image"
    );
    h.get_by_label("Unpin").click();
    frames(&mut h);
    assert!(h.state().rt.compare.pinned.is_none());
    h.get_by_label("Pin as A");
}
