//! Training steps as Keras's `train_on_batch`: every golden case's `train/<opt>/` (three
//! steps of MSE on `input.npy` against `target.npy` with SGD (momentum, Nesterov), Adam,
//! RMSprop and AdamW, made by real Keras on JAX) — each step's loss and every weight after
//! the three steps (BatchNormalization's moving statistics included) within
//! `1e-4 × max(1, max|expected|)`.

use convscope::io::{load_model, weights};
use convscope::progress::Progress;
use convscope::train::{Loss, OptimizerConfig, Trainer};
use golden_files::{read, roots, worst};
use ndarray::ArrayD;
use std::path::Path;
use std::sync::Arc;

mod golden_files;

/// One case and optimizer: three steps, then the losses and weights against Keras's.
fn check(case: &Path, opt: &Path) -> Result<usize, String> {
    let loaded = load_model(&case.join("model.keras")).map_err(|e| e.to_string())?;
    let net = loaded.network;
    let analysis = net.analyze();
    let w = weights::from_keras_nested(&loaded.bytes, &net, &analysis, &loaded.provenance.nested)
        .map_err(|e| e.to_string())?;
    let log: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(opt.join("losses.json")).unwrap()).unwrap();
    let config = OptimizerConfig::from_keras_config(log["optimizer"].as_object().unwrap())?;
    let loss = Loss::parse(log["loss"].as_str().unwrap())?;
    let initial = w.clone();
    let mut t = Trainer::new(net.clone(), w, config, loss, 0)?;
    let x = Arc::new(read(&case.join("input.npy")));
    let target = read(&opt.join("target.npy"));
    for (k, want) in log["losses"].as_array().unwrap().iter().enumerate() {
        let want = want.as_f64().unwrap() as f32;
        let got = t.step(vec![x.clone()], &target, &Progress::new())?.loss;
        if (got - want).abs() > 1e-4 * want.abs().max(1.0) {
            return Err(format!("step {k}: loss {got} vs Keras's {want}"));
        }
    }
    let mut compared = 0;
    for (i, layer) in net.layers().iter().enumerate() {
        for (k, got) in t.weights[i].iter().enumerate() {
            let file = opt
                .join("weights")
                .join(&layer.name)
                .join(format!("{k}.npy"));
            if !file.is_file() {
                return Err(format!("{}/{k}: no expected file", layer.name));
            }
            let want = read(&file);
            match worst(got, &want) {
                Ok(()) => {}
                // A weight whose exact gradient is 0 (a bias before a training-mode
                // BatchNormalization, a kernel the batch's statistics cancel): Keras's
                // SGD leaves it where it was, and what Adam does with the rounding left
                // in its gradient is that rounding's sign, up to `lr` a step — no
                // implementation reproduces another's rounding. Such a weight must stay
                // within Adam's 3 steps of it.
                Err(e) if noise_only(case, &layer.name, k, &initial[i][k]) => {
                    let lr = config.learning_rate;
                    let d = got
                        .iter()
                        .zip(&want)
                        .map(|(a, b)| (a - b).abs())
                        .fold(0f32, f32::max);
                    if d > 3.0 * lr {
                        return Err(format!("{}/{k} (zero gradient): {e}", layer.name));
                    }
                }
                Err(e) => return Err(format!("{}/{k}: {e}", layer.name)),
            }
            compared += 1;
        }
    }
    Ok(compared)
}

/// Whether Keras's SGD run of `case` left weight `k` of `layer` where it started (within
/// 1e-7): its gradient is 0 up to rounding.
fn noise_only(case: &Path, layer: &str, k: usize, initial: &ArrayD<f32>) -> bool {
    let sgd = case
        .join("train/sgd/weights")
        .join(layer)
        .join(format!("{k}.npy"));
    sgd.is_file()
        && read(&sgd)
            .iter()
            .zip(initial)
            .all(|(a, b)| (a - b).abs() <= 1e-7)
}

#[test]
fn three_train_on_batch_steps_match_keras_on_every_golden_case() {
    let mut failures = Vec::new();
    let mut cases = 0;
    let mut seen = std::collections::BTreeSet::new();
    for root in roots() {
        for case in std::fs::read_dir(&root)
            .unwrap()
            .flatten()
            .map(|e| e.path())
        {
            let train = case.join("train");
            if !train.is_dir() {
                continue;
            }
            for opt in std::fs::read_dir(&train)
                .unwrap()
                .flatten()
                .map(|e| e.path())
            {
                let name = format!(
                    "{}/{}",
                    case.file_name().unwrap().to_string_lossy(),
                    opt.file_name().unwrap().to_string_lossy()
                );
                if !seen.insert(name.clone()) {
                    continue;
                }
                cases += 1;
                if let Err(e) = check(&case, &opt) {
                    failures.push(format!("{name}: {e}"));
                }
            }
        }
    }
    assert!(cases >= 260, "only {cases} cases found");
    assert!(
        failures.is_empty(),
        "{} of {cases} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Optimizers, arguments and losses beyond the golden set (`scripts/keras_train.py`,
/// real Keras on JAX): Nadam, Adagrad, plain and momentum SGD, centered RMSprop with
/// momentum, AMSGrad with clipnorm, global_clipnorm, clipvalue, MAE, Huber, categorical
/// cross-entropy with label smoothing, sparse categorical cross-entropy (into the clip),
/// binary cross-entropy with smoothing and from logits.
#[test]
fn other_optimizers_and_losses_match_keras() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut failures = Vec::new();
    let mut n = 0;
    for dir in std::fs::read_dir(root.join("train_extra"))
        .unwrap()
        .flatten()
    {
        let opt = dir.path();
        let log: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(opt.join("losses.json")).unwrap())
                .unwrap();
        let case = root.join("golden").join(log["case"].as_str().unwrap());
        if opt.join("data.npz").is_file() {
            continue; // an epoch run: the_train_command_trains_epochs_of_an_npz
        }
        n += 1;
        if let Err(e) = check(&case, &opt) {
            failures.push(format!("{}: {e}", opt.display()));
        }
    }
    assert!(n >= 14, "only {n} cases");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The `convscope train` contract on one fixed batch: the log's losses and the written
/// file's weights are Keras's (the golden SGD case); what it cannot do exits 2 with the
/// reason.
#[test]
fn the_train_command_writes_keras_weights_and_a_log() {
    let case =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden/stack_conv_bn_act");
    let sgd = case.join("train/sgd");
    let tmp = std::env::temp_dir().join(format!("convscope-train-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let (out, log) = (tmp.join("trained.keras"), tmp.join("log.jsonl"));
    let run = |extra: &[&str]| {
        let mut args: Vec<String> = vec![
            "train".into(),
            case.join("model.keras").display().to_string(),
            "--input".into(),
            case.join("input.npy").display().to_string(),
            "--out".into(),
            out.display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_convscope"))
            .args(&args)
            .output()
            .unwrap();
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let target = sgd.join("target.npy").display().to_string();
    let (code, err) = run(&[
        "--target",
        &target,
        "--steps",
        "3",
        "--optimizer",
        "sgd:learning_rate=0.01,momentum=0.9,nesterov=true",
        "--loss",
        "mse",
        "--log",
        log.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let want: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sgd.join("losses.json")).unwrap()).unwrap();
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    for (k, line) in lines.iter().enumerate() {
        assert_eq!(line["step"], k);
        let (got, w) = (
            line["loss"].as_f64().unwrap(),
            want["losses"][k].as_f64().unwrap(),
        );
        assert!(
            (got - w).abs() < 1e-4 * w.abs().max(1.0),
            "step {k}: {got} vs {w}"
        );
    }
    let loaded = load_model(&out).unwrap();
    let net = loaded.network;
    let w = weights::from_keras_nested(&loaded.bytes, &net, &net.analyze(), &[]).unwrap();
    for (i, layer) in net.layers().iter().enumerate() {
        for (k, got) in w[i].iter().enumerate() {
            let file = sgd
                .join("weights")
                .join(&layer.name)
                .join(format!("{k}.npy"));
            worst(got, &read(&file)).unwrap_or_else(|e| panic!("{}/{k}: {e}", layer.name));
        }
    }
    for (extra, says) in [
        (
            vec!["--target", target.as_str(), "--optimizer", "sgd:foo=1"],
            "no argument 'foo'",
        ),
        (
            vec!["--target", target.as_str(), "--loss", "hinge"],
            "unknown loss 'hinge'",
        ),
        (
            vec!["--target", case.join("input.npy").to_str().unwrap()],
            "the target has shape",
        ),
    ] {
        let (code, err) = run(&extra);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(says), "{err}");
    }
    std::fs::remove_dir_all(&tmp).ok();
}

/// `--data FILE.npz`: epochs of batches in order (`--no-shuffle`), the last one partial,
/// as Keras's `train_on_batch` over the same batches (`scripts/keras_train.py`); each
/// step's loss and the final weights; an epoch line with the batch-size-weighted mean
/// loss and, with `--validation-split`, `val_loss`.
#[test]
fn the_train_command_trains_epochs_of_an_npz() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let dir = root.join("train_extra/npz_sgd");
    let case = root.join("golden/stack_conv_avgpool");
    let want: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("losses.json")).unwrap()).unwrap();
    let tmp = std::env::temp_dir().join(format!("convscope-train-npz-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let (out, log) = (tmp.join("trained.keras"), tmp.join("log.jsonl"));
    let run = |extra: &[&str]| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_convscope"))
            .arg("train")
            .arg(case.join("model.keras"))
            .arg("--data")
            .arg(dir.join("data.npz"))
            .args(["--batch-size", "4", "--no-shuffle", "--loss", "mse"])
            .args(["--optimizer", "sgd:learning_rate=0.05,momentum=0.9"])
            .arg("--out")
            .arg(&out)
            .arg("--log")
            .arg(&log)
            .args(extra)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .collect::<Vec<_>>()
    };
    let lines = run(&["--epochs", "2"]);
    let steps: Vec<&serde_json::Value> = lines.iter().filter(|l| l.get("step").is_some()).collect();
    let epochs: Vec<&serde_json::Value> =
        lines.iter().filter(|l| l.get("step").is_none()).collect();
    assert_eq!((steps.len(), epochs.len()), (6, 2));
    for (k, line) in steps.iter().enumerate() {
        let (got, w) = (
            line["loss"].as_f64().unwrap(),
            want["losses"][k].as_f64().unwrap(),
        );
        assert!(
            (got - w).abs() < 1e-4 * w.abs().max(1.0),
            "step {k}: {got} vs {w}"
        );
        assert_eq!(line["epoch"], k / 3);
    }
    // Batches of 4, 4 and 2.
    let mean = (4.0 * want["losses"][0].as_f64().unwrap()
        + 4.0 * want["losses"][1].as_f64().unwrap()
        + 2.0 * want["losses"][2].as_f64().unwrap())
        / 10.0;
    assert!((epochs[0]["loss"].as_f64().unwrap() - mean).abs() < 1e-4);
    let loaded = load_model(&out).unwrap();
    let net = loaded.network;
    let w = weights::from_keras_nested(&loaded.bytes, &net, &net.analyze(), &[]).unwrap();
    for (i, layer) in net.layers().iter().enumerate() {
        for (k, got) in w[i].iter().enumerate() {
            let file = dir
                .join("weights")
                .join(&layer.name)
                .join(format!("{k}.npy"));
            worst(got, &read(&file)).unwrap_or_else(|e| panic!("{}/{k}: {e}", layer.name));
        }
    }
    // The last 20 % held out: 8 rows train (2 steps), val_loss each epoch.
    let lines = run(&["--epochs", "1", "--validation-split", "0.2"]);
    assert_eq!(lines.iter().filter(|l| l.get("step").is_some()).count(), 2);
    let epoch = lines.last().unwrap();
    assert!(
        epoch["val_loss"].as_f64().is_some_and(|v| v.is_finite()),
        "{epoch}"
    );
    std::fs::remove_dir_all(&tmp).ok();
}
