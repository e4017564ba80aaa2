//! Helpers shared by the window tests (egui_kittest, headless).
#![allow(dead_code)]

use convscope::app::Designer;
use egui::accesskit::Role;
use egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

/// The window on `d`, large enough for every panel.
pub fn harness_with(d: Designer) -> Harness<'static, Designer> {
    Harness::builder()
        .with_size(egui::vec2(1600.0, 1000.0))
        .build_ui_state(|ui, d: &mut Designer| d.ui(ui), d)
}

/// Focuses the number field labelled `label`, replaces its text and presses Enter.
pub fn type_number(h: &mut Harness<'static, Designer>, label: &str, value: &str) {
    type_number_with(h, label, value, |h| {
        h.run();
    })
}

/// [`type_number`] for a window that keeps repainting (a run in progress shows a
/// spinner): a few frames instead of running until it settles.
pub fn type_number_stepping(h: &mut Harness<'static, Designer>, label: &str, value: &str) {
    type_number_with(h, label, value, |h| {
        for _ in 0..3 {
            h.step();
        }
    })
}

fn type_number_with(
    h: &mut Harness<'static, Designer>,
    label: &str,
    value: &str,
    frames: impl Fn(&mut Harness<'static, Designer>),
) {
    h.get_by(|n| n.role() == Role::SpinButton && n.label().as_deref() == Some(label))
        .focus();
    frames(h);
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    frames(h);
    // Text events go to the focused field (a DragValue edits as text while focused).
    h.get_all_by(|n| n.is_focused())
        .next()
        .expect("a focused field")
        .type_text(value);
    frames(h);
    h.key_press(Key::Enter);
    frames(h);
}

/// Whether some node's label or value contains `text`.
pub fn has_text(h: &Harness<'static, Designer>, text: &str) -> bool {
    h.query_all_by(|n| {
        n.label().is_some_and(|l| l.contains(text)) || n.value().is_some_and(|v| v.contains(text))
    })
    .next()
    .is_some()
}

/// A fresh, empty folder for one test.
pub fn scratch(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("convscope-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp folder");
    d
}

/// Eight frames: enough for a click, its command and the redraw.
pub fn frames(h: &mut Harness<'static, Designer>) {
    h.run_steps(8);
}

/// Picks `option` in the combo box labelled `label` (by accessibility action: a long
/// list scrolls, and the item may be out of the popup's view).
pub fn choose(h: &mut Harness<'static, Designer>, label: &str, option: &str) {
    h.get_by(|n| n.role() == Role::ComboBox && n.label().as_deref() == Some(label))
        .click();
    frames(h);
    h.get_by(|n| n.label().as_deref() == Some(option) && n.role() != Role::ComboBox)
        .click_accesskit();
    frames(h);
    // An accessibility click leaves the popup open.
    if h.query_by(|n| n.label().as_deref() == Some(option) && n.role() != Role::ComboBox)
        .is_some()
    {
        h.key_press(Key::Escape);
        frames(h);
    }
}
