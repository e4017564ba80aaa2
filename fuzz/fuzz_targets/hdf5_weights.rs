//! HDF5: the input read as Keras 3's `model.weights.h5` for a Conv2D + BatchNorm +
//! activation model, and as a legacy full-model `.h5` (config attribute + weights).
#![no_main]
use convscope::engine::weights;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn model() -> &'static (convscope::model::Network, convscope::model::Analysis) {
    static M: OnceLock<(convscope::model::Network, convscope::model::Analysis)> = OnceLock::new();
    M.get_or_init(|| {
        let net = convscope::io::config::from_json_str(include_str!(
            "../../tests/fixtures/golden/stack_conv_bn_act/config.json"
        ))
        .expect("fixture config");
        let a = net.analyze();
        (net, a)
    })
}

fuzz_target!(|data: &[u8]| {
    let (net, a) = model();
    let _ = weights::from_weights_h5(data.to_vec(), net, a);
    if let Ok(m) = convscope::io::load_model_bytes(data.to_vec()) {
        let analysis = m.network.analyze();
        let _ = weights::from_h5(&m.bytes, &m.network, &analysis);
    }
});
