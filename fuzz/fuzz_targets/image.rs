//! Image decoding and preprocessing, as the viewer and `convscope run --input` do it:
//! to a 96×96 RGB input (StridedNet's), stretched or centre-cropped, and gray.
//!
//! The pixel limit is 1 M here instead of the app's 100 M: decoding a 100 M pixel image
//! honestly takes seconds (more under AddressSanitizer), and the one-second hang limit
//! is meant to catch stuck code. The 100 M limit itself is tested in
//! `tests/hostile_files.rs` and `src/io/image.rs`.
#![no_main]
use convscope::io::image::{Preprocess, ResizeMode, load_image_within};
use libfuzzer_sys::fuzz_target;

const FUZZ_MAX_PIXELS: u64 = 1_000_000;

fuzz_target!(|data: &[u8]| {
    let mode = if data.len() % 2 == 0 {
        ResizeMode::Stretch
    } else {
        ResizeMode::CenterCrop
    };
    let channels = if data.len() % 3 == 0 { 1 } else { 3 };
    let _ = load_image_within(
        data,
        Some((96, 96)),
        channels,
        Preprocess::Unit,
        mode,
        FUZZ_MAX_PIXELS,
    );
});
