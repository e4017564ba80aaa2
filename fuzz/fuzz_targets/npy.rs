//! `.npy` arrays and `.npz` archives (inputs, weights, activations).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = convscope::io::npy::read_npy(data);
    if let Ok(arrays) = convscope::io::npy::read_npz(data) {
        // What was read must write again.
        let _ = convscope::io::npy::write_npz(&arrays);
    }
});
