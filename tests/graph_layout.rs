//! The graph canvas's layout of real architectures (keras.applications configs, made by
//! Keras 3.15.1 with `weights=None`): every layer placed, no two cards overlapping, each
//! layer below the layers that feed it.

use convscope::app::graph::{NODE, SPACING};
use convscope::model::layout::Layout;
use std::path::Path;

fn check(name: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/applications")
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap();
    let net = convscope::io::config::from_json_str(&text).unwrap();
    let l = Layout::of(&net, NODE, SPACING);
    let n = net.len();
    assert_eq!(l.centres.len(), n);
    assert!(l.centres.iter().flatten().all(|v| v.is_finite()), "{name}");
    for a in 0..n {
        for b in a + 1..n {
            let (p, q) = (l.centres[a], l.centres[b]);
            let apart =
                (p[0] - q[0]).abs() >= NODE[0] - 0.5 || (p[1] - q[1]).abs() >= NODE[1] - 0.5;
            assert!(
                apart,
                "{name}: '{}' at {p:?} overlaps '{}' at {q:?}",
                net.layers()[a].name,
                net.layers()[b].name
            );
        }
        for j in net.inputs_of(a) {
            assert!(
                l.centres[j][1] < l.centres[a][1],
                "{name}: '{}' is not below its input '{}'",
                net.layers()[a].name,
                net.layers()[j].name
            );
        }
        let c = l.centres[a];
        assert!(c[0] >= NODE[0] / 2.0 - 0.5 && c[0] <= l.size[0] - NODE[0] / 2.0 + 0.5);
        assert!(c[1] >= NODE[1] / 2.0 - 0.5 && c[1] <= l.size[1] - NODE[1] / 2.0 + 0.5);
    }
}

#[test]
fn resnet50_is_laid_out_without_overlaps() {
    check("resnet50");
}

#[test]
fn densenet121_is_laid_out_without_overlaps() {
    check("densenet121");
}

#[test]
fn inceptionv3_is_laid_out_without_overlaps() {
    check("inceptionv3");
}
