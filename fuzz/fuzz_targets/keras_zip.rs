//! `.keras` archives (and whatever else `load_model_bytes` recognises): the zip, the
//! config inside it, then the weights for that config.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = convscope::io::load_model_bytes(data.to_vec()) {
        let analysis = m.network.analyze();
        let _ = convscope::engine::weights::from_keras(&m.bytes, &m.network, &analysis);
    }
});
