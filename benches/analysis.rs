//! Analysis must keep up with typing: a 100-layer stack in well under 1 ms, and
//! keras.applications' NASNetMobile (771 layers, branches and merges; its Keras 3.15.1
//! config in `benches/data/`) within 2 ms; and the graph canvas's layout of ResNet50
//! (≤ 100 ms) and NASNetMobile. `cargo bench --bench analysis`

use convscope::model::Network;
use convscope::model::layout::Layout;
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

/// A 100-layer VGG-like stack: conv / BN / activation / pooling blocks, then a head.
fn hundred_layers() -> Network {
    let mut net = Network::sequential("bench", &[224, 224, 3]);
    let kinds = [
        "Conv2D",
        "BatchNormalization",
        "Activation",
        "Conv2D",
        "BatchNormalization",
        "Activation",
        "DepthwiseConv2D",
        "SeparableConv2D",
        "Dropout",
        "MaxPooling2D",
    ];
    let mut i = 0;
    while net.len() < 98 {
        let k = kinds[i % kinds.len()];
        let at = net.len() - 1;
        if k == "MaxPooling2D" && i / kinds.len() >= 5 {
            // Stop halving once the map is small.
            net.insert_new(at, "ReLU");
        } else if let Some(idx) = net.insert_new(at, k) {
            use convscope::model::LayerKind;
            match &mut net.layer_mut(idx).kind {
                LayerKind::Conv2D(c) => c.base.padding = convscope::layers::Padding::Same,
                LayerKind::DepthwiseConv2D(c) => c.base.padding = convscope::layers::Padding::Same,
                LayerKind::SeparableConv2D(c) => c.base.padding = convscope::layers::Padding::Same,
                _ => {}
            }
        }
        i += 1;
    }
    for k in ["GlobalAveragePooling2D", "Dense", "Activation"] {
        let at = net.len() - 1;
        net.insert_new(at, k);
    }
    net
}

fn bench(c: &mut Criterion) {
    let net = hundred_layers();
    assert_eq!(net.len(), 101);
    let a = net.analyze();
    assert!(a.first_error.is_none(), "{:?}", a.error(&net));
    c.bench_function("analyze 100-layer stack", |b| {
        b.iter(|| black_box(black_box(&net).analyze()))
    });
    let nasnet = nasnet_mobile();
    assert_eq!(nasnet.len(), 771);
    assert!(nasnet.analyze().first_error.is_none());
    c.bench_function("analyze NASNetMobile (771 layers)", |b| {
        b.iter(|| black_box(black_box(&nasnet).analyze()))
    });
    // The graph canvas's layout (its card size and gap), made once per change of wiring
    // (issue 16: ≤ 100 ms for ResNet50).
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/applications/resnet50.json"
    );
    let text = std::fs::read_to_string(path).expect("tests/fixtures/applications/resnet50.json");
    let resnet50 = convscope::io::config::from_json_str(&text).expect("ResNet50 reads");
    let layout = |net: &Network| Layout::of(net, [280.0, 70.0], 36.0);
    c.bench_function("layout ResNet50 (177 layers)", |b| {
        b.iter(|| black_box(layout(black_box(&resnet50))))
    });
    c.bench_function("layout NASNetMobile (771 layers)", |b| {
        b.iter(|| black_box(layout(black_box(&nasnet))))
    });
}

/// NASNetMobile as `keras.applications.NASNetMobile(weights=None)` saves its config.
pub fn nasnet_mobile() -> Network {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/benches/data/nasnet_mobile.json"
    );
    let text = std::fs::read_to_string(path).expect("benches/data/nasnet_mobile.json");
    convscope::io::config::from_json_str(&text).expect("NASNetMobile reads")
}

criterion_group!(benches, bench);
criterion_main!(benches);
