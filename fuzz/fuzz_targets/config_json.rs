//! Keras config JSON (every dialect convscope reads): parse, analyse, write back.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(net) = convscope::io::config::from_json_str(text) {
        let analysis = net.analyze();
        let _ = analysis.error(&net);
        // What convscope writes it must read again.
        let written = convscope::io::config::to_json_string(&net);
        let again = convscope::io::config::from_json_str(&written);
        assert!(
            again.is_ok(),
            "written config does not read back: {again:?}"
        );
        let _ = convscope::io::python::to_python(&net);
        let _ = convscope::io::diagram::to_svg(&net, &analysis);
    }
});
