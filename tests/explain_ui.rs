//! The Explain tab, driven headless by label: the map of the top class appears, picking
//! another class and switching the method change it, a channel can be the target, and a
//! long run shows its progress and can be cancelled.

mod common;

use common::{choose, frames, harness_with, has_text};
use convscope::app::Designer;
use convscope::model::Network;
use egui_kittest::kittest::{NodeT, Queryable};

/// Input 16×16×3 -> Conv2D -> MaxPooling2D -> Flatten -> Dense(10).
fn design() -> Network {
    let mut n = Network::sequential("e", &[16, 16, 3]);
    for class in ["Conv2D", "MaxPooling2D", "Flatten", "Dense"] {
        n.insert_new(n.len() - 1, class).unwrap();
    }
    n
}

fn map(h: &egui_kittest::Harness<'static, Designer>) -> ndarray::Array2<f32> {
    h.state()
        .rt
        .explain
        .attribution()
        .expect("a map on screen")
        .map
        .clone()
}

#[test]
fn pick_a_class_switch_the_method_and_the_map_changes() {
    let mut d = Designer::new(design());
    let (name, bytes) = convscope::app::viewer::SAMPLES[0];
    d.rt.viewer.set_image(name, bytes.to_vec());
    let mut h = harness_with(d);
    frames(&mut h);
    h.get_by_label("Explain").click();
    frames(&mut h);
    // The top class, Grad-CAM at the last spatial layer, drawn over the image.
    assert!(has_text(&h, "gradcam of class"), "no Grad-CAM on screen");
    assert!(has_text(&h, "at 'max_pooling2d' (7x7)"));
    assert!(has_text(&h, "over the input"));
    let first = map(&h);
    let top = h.state().rt.explain.attribution().unwrap().score;
    // Another class from the top five.
    let other = h
        .query_all_by(|n| {
            n.label()
                .is_some_and(|l| l.starts_with("class ") && l.contains(": "))
        })
        .nth(1)
        .expect("a second class")
        .accesskit_node()
        .label()
        .unwrap();
    h.get_by_label(&other).click();
    frames(&mut h);
    let k = other
        .trim_start_matches("class ")
        .split(':')
        .next()
        .unwrap()
        .to_string();
    assert!(has_text(&h, &format!("gradcam of class {k} ")), "{other}");
    let second = map(&h);
    assert_ne!(first, second, "the map did not change with the class");
    assert!(h.state().rt.explain.attribution().unwrap().score <= top);
    // Another method: saliency at the input's resolution, no layer map.
    choose(&mut h, "method", "saliency");
    frames(&mut h);
    assert!(has_text(&h, &format!("saliency of class {k}")));
    assert_eq!(map(&h).dim(), (16, 16));
    assert!(!has_text(&h, "at the layer's resolution"));
    // A channel of the selected layer (the convolution) as the target.
    h.state_mut().view.selected = 1;
    frames(&mut h);
    h.get_by_label("a channel of 'conv2d'").click();
    frames(&mut h);
    assert!(has_text(&h, "saliency of channel 0 of 'conv2d'"));
    // Grad-CAM at a chosen layer.
    choose(&mut h, "method", "gradcam++");
    frames(&mut h);
    choose(&mut h, "layer", "conv2d");
    frames(&mut h);
    assert!(has_text(
        &h,
        "gradcam++ of channel 0 of 'conv2d' at 'conv2d' (14x14)"
    ));
    // At every layer: a tile per layer with a spatial output.
    h.get_by_label("a class").click();
    frames(&mut h);
    h.get_by_label("at every layer").click();
    frames(&mut h);
    assert!(has_text(&h, "gradcam++ at every layer"));
    assert!(has_text(&h, "conv2d (14x14)"));
    assert!(has_text(&h, "max_pooling2d (7x7)"));
    assert_eq!(
        h.state().rt.explain.attribution().unwrap().per_layer.len(),
        2
    );
}

#[test]
fn a_long_explanation_shows_progress_and_can_be_cancelled() {
    let mut d = Designer::new(design());
    let (name, bytes) = convscope::app::viewer::SAMPLES[0];
    d.rt.viewer.set_image(name, bytes.to_vec());
    let mut h = harness_with(d);
    frames(&mut h);
    // Explanations on a thread of their own, as in the window.
    h.state_mut().rt.wake = Some(std::sync::Arc::new(|| {}));
    h.state_mut().rt.explain.steps = 1_000_000;
    h.get_by_label("Explain").click();
    frames(&mut h);
    choose(&mut h, "method", "ig");
    frames(&mut h);
    assert!(
        h.state().rt.explain.running(),
        "integrated gradients finished at once"
    );
    assert!(has_text(&h, "passes"), "no progress bar");
    h.get_by_label("Cancel").click_accesskit();
    until(&mut h, |d| !d.rt.explain.running());
    assert!(!h.state().rt.explain.running());
    assert_eq!(h.state().rt.explain.error(), Some("cancelled"));
    assert!(has_text(&h, "Cancelled"));
    // The window still works: another method explains again.
    choose(&mut h, "method", "gradcam");
    until(&mut h, |d| d.rt.explain.attribution().is_some());
    assert!(has_text(&h, "gradcam of class"));
}

#[test]
fn a_layers_channels_are_visualized_live_and_can_be_stopped() {
    let mut d = Designer::new(design());
    let (name, bytes) = convscope::app::viewer::SAMPLES[0];
    d.rt.viewer.set_image(name, bytes.to_vec());
    let mut h = harness_with(d);
    frames(&mut h);
    h.state_mut().rt.wake = Some(std::sync::Arc::new(|| {}));
    h.state_mut().view.selected = 1;
    h.state_mut().rt.explain.features.steps = 24;
    h.get_by_label("Explain").click();
    // The map above arrives from its thread and moves the section down: wait for it,
    // and click by accessibility action, not by position.
    until(&mut h, |d| d.rt.explain.attribution().is_some());
    h.get_by_label("Visualize the layer (16 channels)")
        .click_accesskit();
    until(&mut h, |d| !d.rt.explain.features.running());
    let f = &h.state().rt.explain.features;
    assert!(!f.running(), "the visualization did not finish");
    assert_eq!(f.error, None);
    assert_eq!(f.tiles.len(), 16);
    assert!(
        f.tiles
            .iter()
            .all(|t| t.as_ref().is_some_and(|t| t.dim() == (16, 16, 3)))
    );
    assert!(has_text(&h, "conv2d ch 15"));
    // A long one stops on Stop, keeping the pictures made so far.
    h.state_mut().rt.explain.features.steps = 100_000;
    h.get_by_label("Visualize channel 0 of 'conv2d'")
        .click_accesskit();
    until(&mut h, |d| {
        d.rt.explain.features.tiles.iter().any(Option::is_some)
    });
    assert!(h.state().rt.explain.features.running());
    h.get_by_label("Stop").click_accesskit();
    until(&mut h, |d| !d.rt.explain.features.running());
    let f = &h.state().rt.explain.features;
    assert_eq!(f.error.as_deref(), Some("cancelled"));
    assert!(f.tiles[0].is_some());
    assert!(has_text(&h, "Stopped."));
    // A class: its score before the softmax, the class chosen above (the top one).
    h.state_mut().rt.explain.features.steps = 16;
    let class = h
        .query_all_by(|n| n.label().is_some_and(|l| l.starts_with("Visualize class ")))
        .next()
        .expect("a class button")
        .accesskit_node()
        .label()
        .unwrap();
    let k = class.trim_start_matches("Visualize class ").to_string();
    h.get_by_label(&class).click_accesskit();
    until(&mut h, |d| !d.rt.explain.features.running());
    let f = &h.state().rt.explain.features;
    assert_eq!(f.error, None);
    assert_eq!(f.labels, vec![format!("class {k}")]);
    assert!(f.tiles[0].as_ref().is_some_and(|t| t.dim() == (16, 16, 3)));
}

/// Waits (threaded jobs) until `done` holds, a few frames at a time.
fn until(h: &mut egui_kittest::Harness<'static, Designer>, done: impl Fn(&Designer) -> bool) {
    for _ in 0..600 {
        frames(h);
        if done(h.state()) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn top_patches_over_a_folder_are_scanned_browsed_and_can_be_cancelled() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = std::env::temp_dir().join(format!("convscope-patches-ui-{}", std::process::id()));
    // Two class folders, as a dataset has them, and a file that is not an image.
    let (a, b) = (tmp.join("images/cats"), tmp.join("images/other"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    std::fs::copy(
        root.join("assets/images/chelsea.png"),
        a.join("chelsea.png"),
    )
    .unwrap();
    for f in ["coffee.png", "astronaut.png"] {
        std::fs::copy(root.join("assets/images").join(f), b.join(f)).unwrap();
    }
    std::fs::write(b.join("notes.txt"), "not an image").unwrap();
    let mut d = Designer::new(design());
    let (name, bytes) = convscope::app::viewer::SAMPLES[0];
    d.rt.viewer.set_image(name, bytes.to_vec());
    let mut h = harness_with(d);
    frames(&mut h);
    h.state_mut().rt.wake = Some(std::sync::Arc::new(|| {}));
    h.state_mut().view.selected = 1;
    h.get_by_label("Explain").click();
    frames(&mut h);
    // The folder typed (or chosen with the dialog).
    h.get_by_label("folder").focus();
    frames(&mut h);
    h.get_by_label("folder")
        .type_text(tmp.join("images").to_str().unwrap());
    frames(&mut h);
    assert_eq!(
        h.state().rt.explain.patches.folder,
        tmp.join("images").display().to_string()
    );
    h.get_by_label("Scan for 'conv2d'").click_accesskit();
    until(&mut h, |d| !d.rt.explain.patches.running());
    let p = &h.state().rt.explain.patches;
    assert_eq!(p.error(), None);
    let scan = p.scan().expect("a scan on screen");
    assert_eq!((scan.images.len(), scan.skipped), (3, 1));
    let filters = scan.best.len();
    assert!(filters > 2);
    assert!(
        scan.best.iter().all(|l| l.len() == 3),
        "three images, nine asked"
    );
    assert!(scan.crops.iter().flatten().all(|c| c.width == 64));
    assert!(has_text(
        &h,
        &format!("Top 9 patches of {filters} channels of 'conv2d' over 3 images (1 skipped)")
    ));
    // The same as the CLI's scan of the design's weights.
    let want = {
        let s = h.state();
        let net = &s.doc.network;
        let run = s.rt.viewer.last_run().unwrap();
        let w: Vec<_> = run.weights.iter().flatten().cloned().collect();
        convscope::runner::scan_patches(
            net,
            &w,
            1,
            &tmp.join("images"),
            9,
            s.view.preprocess,
            64,
            &convscope::progress::Progress::new(),
        )
        .unwrap()
    };
    assert_eq!(scan.best, want.best);
    // Browse: Next, then a channel's best patch in the overview.
    h.get_by_label("Next").click_accesskit();
    frames(&mut h);
    assert_eq!(h.state().rt.explain.patches.channel, 1);
    h.get_by_label("channel 2's strongest patch")
        .click_accesskit();
    frames(&mut h);
    assert_eq!(h.state().rt.explain.patches.channel, 2);
    let s = format!("{:.4}", want.best[2][0].score);
    assert!(has_text(&h, &s), "channel 2's best score {s} not shown");
    // A long scan (many files) shows its progress and stops on Cancel.
    let many = tmp.join("many");
    std::fs::create_dir_all(&many).unwrap();
    for k in 0..400 {
        std::os::unix::fs::symlink(
            root.join("assets/images/astronaut.png"),
            many.join(format!("{k:03}.png")),
        )
        .unwrap();
    }
    h.state_mut().rt.explain.patches.folder = many.display().to_string();
    frames(&mut h);
    h.get_by_label("Scan for 'conv2d'").click_accesskit();
    frames(&mut h);
    assert!(h.state().rt.explain.patches.running(), "400 images at once");
    assert!(has_text(&h, "of 400 files"));
    h.get_by_label("Cancel scan").click_accesskit();
    until(&mut h, |d| !d.rt.explain.patches.running());
    assert_eq!(h.state().rt.explain.patches.error(), Some("cancelled"));
    assert!(has_text(&h, "Scan cancelled."));
    std::fs::remove_dir_all(&tmp).ok();
}
