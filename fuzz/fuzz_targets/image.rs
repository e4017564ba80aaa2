//! Image decoding and preprocessing, as the viewer and `convscope run --input` do it:
//! to a 96×96 RGB input (StridedNet's), stretched or centre-cropped, and gray.
#![no_main]
use convscope::io::image::{Preprocess, ResizeMode, load_image};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mode = if data.len() % 2 == 0 {
        ResizeMode::Stretch
    } else {
        ResizeMode::CenterCrop
    };
    let channels = if data.len() % 3 == 0 { 1 } else { 3 };
    let _ = load_image(data, Some((96, 96)), channels, Preprocess::Unit, mode);
});
