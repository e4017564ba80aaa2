//! `convscope patches`: each channel's most activating patches over a folder of images,
//! strongest first, with the activation the engine computes at that position and the
//! receptive field it sees; files that are not images are skipped and counted.

use convscope::engine;
use convscope::io::image::Preprocess;
use convscope::io::load_model;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn patches(args: &[&str]) -> (i32, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_convscope"))
        .arg("patches")
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn the_strongest_patches_with_their_activation_and_receptive_field() {
    let tmp = std::env::temp_dir().join(format!("convscope-patches-{}", std::process::id()));
    let (images, out) = (tmp.join("images"), tmp.join("out"));
    std::fs::create_dir_all(&images).unwrap();
    for f in ["chelsea.png", "coffee.png", "astronaut.png"] {
        std::fs::copy(root().join("assets/images").join(f), images.join(f)).unwrap();
    }
    std::fs::write(images.join("notes.txt"), "not an image").unwrap();
    let model = root().join("tests/fixtures/golden/stack_conv_bn_act/model.keras");
    let (code, err) = patches(&[
        model.to_str().unwrap(),
        "--layer",
        "conv2d_1",
        "--images",
        images.to_str().unwrap(),
        "--top",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["skipped"], 1);
    assert_eq!(index["images"].as_array().unwrap().len(), 3);
    let channels = index["channels"].as_array().unwrap();
    assert_eq!(channels.len(), 4, "conv2d_1 has 4 filters");
    // The engine's own activations on each image, as the CLI read it.
    let loaded = load_model(&model).unwrap();
    let net = loaded.network;
    let w = convscope::io::weights::from_keras_nested(&loaded.bytes, &net, &net.analyze(), &[])
        .unwrap();
    let layer = net.find("conv2d_1").unwrap();
    let rf = net.analyze().layers[layer].receptive_field.unwrap();
    for (c, list) in channels.iter().enumerate() {
        let list = list.as_array().unwrap();
        assert_eq!(list.len(), 2);
        let scores: Vec<f64> = list.iter().map(|p| p["score"].as_f64().unwrap()).collect();
        assert!(scores[0] >= scores[1], "channel {c}: {scores:?}");
        for p in list {
            let file = PathBuf::from(p["image"].as_str().unwrap());
            let x = convscope::runner::read_input_at(&net, 0, &file, Preprocess::Unit).unwrap();
            let acts = engine::run(&net, &w, x).unwrap();
            let y = &acts[layer].as_ref().unwrap().output;
            let (r, q) = (
                p["row"].as_u64().unwrap() as usize,
                p["col"].as_u64().unwrap() as usize,
            );
            let v = y[[0, r, q, c]] as f64;
            assert!((v - p["score"].as_f64().unwrap()).abs() < 1e-6);
            // No position of this image beats it.
            let best = (0..y.shape()[1])
                .flat_map(|i| (0..y.shape()[2]).map(move |j| (i, j)))
                .map(|(i, j)| y[[0, i, j, c]])
                .fold(f32::NEG_INFINITY, f32::max) as f64;
            assert_eq!(v, best);
            let win = &p["window"];
            let [[r0, r1], [c0, c1]] = rf.window(r, q);
            assert_eq!(win[0][0].as_u64().unwrap(), r0.round().max(0.0) as u64);
            assert_eq!(win[1][1].as_u64().unwrap(), c1.round().min(15.0) as u64);
            assert!(win[0][1].as_u64().unwrap() <= r1.round() as u64);
            assert!(win[1][0].as_u64().unwrap() >= c0.round().max(0.0) as u64);
        }
    }
    // A row per channel, a 48-pixel cell per patch, 2 pixels apart.
    let img = image::open(out.join("patches.png")).unwrap();
    assert_eq!((img.width(), img.height()), (2 * 50 + 2, 4 * 50 + 2));
    // Errors exit 2.
    let empty = tmp.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    for (layer, folder, says) in [
        ("nope", &images, "no layer named 'nope'"),
        ("conv2d_1", &empty, "no readable image"),
    ] {
        let (code, err) = patches(&[
            model.to_str().unwrap(),
            "--layer",
            layer,
            "--images",
            folder.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(says), "{err}");
    }
    std::fs::remove_dir_all(&tmp).ok();
}
