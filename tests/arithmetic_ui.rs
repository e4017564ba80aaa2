//! The Arithmetic tab, headless by label: StridedNet's first Conv2D on its own numbers —
//! `same` padding and stride 2 give Keras's padding split and output size, dilation 2
//! spreads the taps, scrubbing to a position reads its input cells, and the GIF export
//! decodes to one frame per position.

mod common;

use common::{choose, frames, harness_with, has_text, type_number};
use convscope::app::{Command, Designer, arithmetic};
use egui_kittest::kittest::Queryable;
use image::AnimationDecoder;

#[test]
fn stridednets_first_convolution_on_its_own_numbers() {
    let mut h = harness_with(Designer::new(convscope::app::example_network()));
    frames(&mut h);
    h.state_mut().apply(Command::Select(1));
    h.get_by_label("Arithmetic").click();
    frames(&mut h);
    // 96×96, 7×7, stride 2, valid: no padding, 45×45.
    assert!(has_text(
        &h,
        "Input 96×96 · padding top 0, bottom 0, left 0, right 0 · kernel 7×7, strides 2×2, dilation 1×1 · output 45×45"
    ));
    assert!(has_text(&h, "H: floor((96 - 7) / 2) + 1 = 45"));
    // same: 48×48; (48 − 1)·2 + 7 − 96 = 5 padding rows, the odd one at the bottom.
    choose(&mut h, "padding", "same");
    assert!(has_text(&h, "padding top 2, bottom 3, left 2, right 3"));
    assert!(has_text(&h, "output 48×48"));
    assert!(has_text(&h, "H: ceil(96 / 2) = 48"));
    assert!(has_text(
        &h,
        "Output (0, 0) reads input (-2, -2) (-2, -1) (-2, 0)"
    ));
    // Dilation 2: a 13-pixel footprint, taps two apart; 11 padding rows (5 + 6).
    type_number(&mut h, "dilation_rate", "2");
    assert!(has_text(&h, "padding top 5, bottom 6, left 5, right 6"));
    assert!(has_text(
        &h,
        "Output (0, 0) reads input (-5, -5) (-5, -3) (-5, -1) (-5, 1)"
    ));
    // Scrub to position 50: output (1, 2), two strides down and right.
    type_number(&mut h, "position", "50");
    assert!(has_text(
        &h,
        "Output (1, 2) reads input (-3, -1) (-3, 1) (-3, 3)"
    ));
    // 96 rows and columns (plus padding) are more than the view: scroll it by hand.
    h.get_by_label("follow the kernel").click();
    frames(&mut h);
    type_number(&mut h, "first row", "40");
    assert_eq!(h.state().rt.arithmetic.scroll.map(|s| s[0]), Some(40));
    // Play advances the position.
    h.get_by_label("Play").click();
    frames(&mut h);
    assert!(h.state().rt.arithmetic.playing);
    h.get_by_label("Pause").click();
    // The GIF: one frame per position (the first 256), each the frame drawing's size.
    let d = h.state();
    let g = arithmetic::geometry(&d.doc.network, &d.rt.analysis, 1).unwrap();
    assert_eq!(g.positions(), 48 * 48);
    let bytes = arithmetic::gif_bytes(&g, None).unwrap();
    let decoded = image::codecs::gif::GifDecoder::new(std::io::Cursor::new(bytes))
        .unwrap()
        .into_frames()
        .collect_frames()
        .unwrap();
    assert_eq!(decoded.len(), arithmetic::GIF_FRAMES);
    let first = arithmetic::frame_image(&g, 0, None);
    assert_eq!(decoded[0].buffer().dimensions(), first.dimensions());
    let png = arithmetic::frame_png(&g, 50, None).unwrap();
    assert!(image::load_from_memory(&png).is_ok());
    // A layer without a window says so.
    h.state_mut().apply(Command::Select(0));
    frames(&mut h);
    assert!(has_text(&h, "has no sliding window"));
}
