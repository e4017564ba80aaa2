//! No work lost: autosave after every change (atomic, survives `kill -9`), saves on a
//! full or read-only disk say so and keep the design, a panic in the engine is reported
//! and the window keeps working, hostile files leave the design and the input untouched.

mod common;

use common::{harness_with, has_text, scratch, type_number, type_number_stepping};
use convscope::app::autosave::{self, Autosave};
use convscope::app::worker::{Worker, compute};
use convscope::app::{Command, Designer};
use convscope::model::{LayerKind, Network};
use egui_kittest::kittest::Queryable;
use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

fn filters(net: &Network, i: usize) -> i64 {
    match &net.layers()[i].kind {
        LayerKind::Conv2D(c) => c.filters,
        other => panic!("layer {i} is {other:?}"),
    }
}

#[test]
fn autosave_writes_after_an_edit_and_the_next_start_opens_it() {
    let dir = scratch("autosave-edit");
    let file = dir.join("autosave.json");
    let mut d = Designer::with_autosave(Some(file.clone()), None);
    d.rt.autosave.quiet = Duration::ZERO;
    assert!(!file.exists(), "nothing is written before a change");
    let mut h = harness_with(d);
    h.run();
    assert!(!file.exists());
    type_number(&mut h, "filters", "21");
    h.run();
    assert_eq!(filters(&h.state().doc.network, 1), 21);
    let back = autosave::read(&file).unwrap().expect("an autosave file");
    assert_eq!(back.network, h.state().doc.network);
    // The next start opens it.
    let next = Designer::with_autosave(Some(file.clone()), None);
    assert_eq!(next.doc.network, h.state().doc.network);
    assert!(next.rt.notice.is_none());
    // No temporary files are left behind.
    let names: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
    assert_eq!(names.len(), 1, "{names:?}");
}

#[test]
fn autosave_waits_for_a_quiet_moment_but_not_forever() {
    let dir = scratch("autosave-debounce");
    let file = dir.join("a.json");
    let mut a = Autosave::new(Some(file.clone()));
    let mut net = convscope::app::example_network();
    let t0 = Instant::now();
    a.mark_written(&net, None);
    assert_eq!(a.tick(&net, None, t0), None);
    // A change: not written at once, a wake-up is asked for within the quiet time.
    net.name = "changed".into();
    let wait = a.tick(&net, None, t0).expect("a pending write");
    assert!(wait <= autosave::QUIET);
    assert!(!file.exists());
    // Changes every 100 ms (a drag) keep postponing it, up to MAX_DELAY.
    let mut t = t0;
    let mut written_at = None;
    for i in 0..40 {
        t += Duration::from_millis(100);
        net.name = format!("changed{i}");
        a.tick(&net, None, t);
        if file.exists() {
            written_at = Some(t - t0);
            break;
        }
    }
    let at = written_at.expect("written during a long drag");
    assert!(at >= autosave::MAX_DELAY && at <= autosave::MAX_DELAY + Duration::from_millis(100));
    // Quiet: the last state is written after QUIET.
    net.name = "final".into();
    a.tick(&net, None, t);
    a.tick(&net, None, t + autosave::QUIET);
    assert_eq!(
        autosave::read(&file).unwrap().unwrap().network.name,
        "final"
    );
}

/// The child half of `autosave_survives_kill_9`: autosaves a changing design as fast
/// as it can until it is killed.
fn autosave_forever(file: &Path) -> ! {
    let mut a = Autosave::new(Some(file.to_path_buf()));
    a.quiet = Duration::ZERO;
    // A big design, so that a kill often lands in the middle of a write.
    let mut net = convscope::app::example_network();
    let conv = net.layers()[1].clone();
    for k in 0..300 {
        let mut l = conv.clone();
        l.name = format!("extra_{k}");
        net.push(l);
    }
    for i in 1.. {
        if let LayerKind::Conv2D(c) = &mut net.layer_mut(1).kind {
            c.filters = i;
        }
        a.tick(&net, None, Instant::now());
        assert!(a.error.is_none(), "{:?}", a.error);
    }
    unreachable!()
}

#[test]
fn autosave_survives_kill_9() {
    if let Some(f) = std::env::var_os("CONVSCOPE_TEST_AUTOSAVE_CHILD") {
        autosave_forever(Path::new(&f));
    }
    let dir = scratch("autosave-kill");
    let file = dir.join("autosave.json");
    let mut seen = Vec::new();
    for round in 0..6u64 {
        let mut child = Process::new(std::env::current_exe().unwrap())
            .args(["autosave_survives_kill_9", "--exact", "--nocapture"])
            .env("CONVSCOPE_TEST_AUTOSAVE_CHILD", &file)
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(300 + 37 * round));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // Whatever moment the kill hit, the file is a whole design.
        let back = autosave::read(&file)
            .unwrap_or_else(|e| panic!("round {round}: {e}"))
            .expect("some autosave was written");
        assert_eq!(
            back.network.len(),
            convscope::app::example_network().len() + 300
        );
        let f = filters(&back.network, 1);
        assert!(f >= 1);
        seen.push(f);
    }
    assert!(
        seen.iter().any(|&f| f > 1),
        "the child kept writing: {seen:?}"
    );
}

/// Runs `mount` with `args`; false when this machine does not allow it (not root).
fn mount(args: &[&str]) -> bool {
    Process::new("mount")
        .args(args)
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn umount(dir: &Path) {
    let _ = Process::new("umount").arg(dir).status();
}

fn notice(d: &Designer) -> (String, bool) {
    let n = d.rt.notice.as_ref().expect("a notice");
    (n.text.clone(), n.error)
}

#[test]
fn saving_where_it_cannot_be_written_says_why_and_keeps_the_design() {
    let dir = scratch("save-fail");
    let mut d = Designer::default();
    d.apply(Command::Add("Dropout"));
    let design = d.doc.network.clone();
    // A folder that does not exist, a file used as a folder, a folder used as a file.
    std::fs::write(dir.join("plain"), b"x").unwrap();
    for (p, why) in [
        (dir.join("missing/design.json"), "no such file or folder"),
        (dir.join("plain/design.json"), "is a file, not a folder"),
        (dir.clone(), "that is a folder"),
    ] {
        d.apply(Command::SaveTo(p.clone()));
        let (text, error) = notice(&d);
        assert!(error, "{text}");
        assert!(text.contains(why), "{text}");
        assert!(text.contains("Your design is still here"), "{text}");
        assert_eq!(d.doc.network, design);
        assert_eq!(d.doc.path, None);
    }
}

#[test]
fn saving_to_a_full_or_read_only_disk_says_so_and_keeps_the_file_and_the_design() {
    // Real filesystems: a 64 KiB tmpfs filled up, and a read-only tmpfs (needs root to
    // mount; where mounting is not allowed the test says so and checks nothing more).
    let full = scratch("disk-full");
    if !mount(&[
        "-t",
        "tmpfs",
        "-o",
        "size=64k",
        "tmpfs",
        full.to_str().unwrap(),
    ]) {
        eprintln!("mount is not allowed here: full/read-only disk not tested");
        return;
    }
    let target = full.join("design.json");
    let mut d = Designer::default();
    d.apply(Command::SaveTo(target.clone()));
    assert!(!notice(&d).1, "{:?}", notice(&d));
    let first = std::fs::read(&target).unwrap();
    // Fill the disk.
    let filler = vec![7u8; 4096];
    let mut f = std::fs::File::create(full.join("filler")).unwrap();
    use std::io::Write;
    while f.write_all(&filler).is_ok() {}
    drop(f);
    d.apply(Command::Add("Dropout"));
    let design = d.doc.network.clone();
    d.apply(Command::SaveTo(target.clone()));
    let (text, error) = notice(&d);
    umount_later(&full, || {
        assert!(error && text.contains("the disk is full"), "{text}");
        assert!(text.contains("Your design is still here"), "{text}");
        assert_eq!(d.doc.network, design);
        // The previous save is intact and no temporary file is left.
        assert_eq!(std::fs::read(&target).unwrap(), first);
        let names: Vec<String> = std::fs::read_dir(&full)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    });

    let ro = scratch("disk-ro");
    assert!(mount(&[
        "-t",
        "tmpfs",
        "-o",
        "ro,size=64k",
        "tmpfs",
        ro.to_str().unwrap()
    ]));
    d.apply(Command::SaveTo(ro.join("design.keras")));
    let (text, error) = notice(&d);
    umount_later(&ro, || {
        assert!(error && text.contains("the disk is read-only"), "{text}");
        assert_eq!(d.doc.network, design);
    });
    // The design can still be saved elsewhere.
    let ok = scratch("disk-ok").join("design.json");
    d.apply(Command::SaveTo(ok.clone()));
    assert!(!notice(&d).1);
    assert_eq!(d.doc.path.as_deref(), Some(ok.as_path()));
}

/// Runs `check`, unmounting `dir` whatever happens.
fn umount_later(dir: &Path, check: impl FnOnce()) {
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(check));
    umount(dir);
    if let Err(p) = r {
        std::panic::resume_unwind(p);
    }
}

fn wait_for(h: &mut egui_kittest::Harness<'static, Designer>, done: impl Fn(&Designer) -> bool) {
    let t = Instant::now();
    while !done(h.state()) {
        assert!(t.elapsed() < Duration::from_secs(20), "timed out");
        std::thread::sleep(Duration::from_millis(5));
        h.step();
    }
}

#[test]
fn a_panic_in_the_engine_is_reported_and_the_window_keeps_working() {
    let mut d = Designer::default();
    let first = Arc::new(AtomicBool::new(true));
    let f = first.clone();
    d.rt.viewer.use_worker(
        Worker::start_with(
            || {},
            move |job| {
                if f.swap(false, Ordering::SeqCst) {
                    panic!("injected failure");
                }
                compute(job)
            },
        )
        .unwrap(),
    );
    let mut h = harness_with(d);
    h.step();
    wait_for(&mut h, |d| d.rt.viewer.error.is_some());
    let e = h.state().rt.viewer.error.clone().unwrap();
    assert_eq!(e, "the engine failed unexpectedly: injected failure");
    h.run();
    assert!(has_text(&h, "injected failure"));
    // Not retried in a loop: the failed design stays failed until something changes.
    let gen_before = h.state().rt.viewer.version;
    for _ in 0..5 {
        h.run();
    }
    assert_eq!(h.state().rt.viewer.version, gen_before);
    // The same worker thread runs the next edit.
    type_number_stepping(&mut h, "filters", "12");
    wait_for(&mut h, |d| {
        d.rt.viewer.error.is_none() && !d.rt.viewer.running && d.rt.viewer.acts.len() > 1
    });
    let acts = &h.state().rt.viewer.acts;
    assert_eq!(acts[1].as_ref().unwrap().output.shape()[3], 12);
}

/// CRC-32 as PNG chunks use it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut c = 0xffff_ffffu32;
    for &b in bytes {
        c ^= b as u32;
        for _ in 0..8 {
            c = if c & 1 == 1 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// Files that are broken in every way the issue lists; each is opened in the window.
fn hostile_files(dir: &Path) -> Vec<(PathBuf, &'static str)> {
    let keras = std::fs::read(fixture("golden/stack_conv_bn_act/model.keras")).unwrap();
    let h5 = std::fs::read(fixture("golden/stack_conv_bn_act/model.h5")).unwrap();
    let png = std::fs::read(fixture("golden/img_chelsea_32/input.png")).unwrap();
    let mut flipped = h5.clone();
    for i in (0..flipped.len()).step_by(97) {
        flipped[i] ^= 0x55;
    }
    // The photo with a 30000×30000 IHDR (CRC recomputed): 2.7 GB if it were decoded.
    let mut huge = png.clone();
    huge[16..20].copy_from_slice(&30_000u32.to_be_bytes());
    huge[20..24].copy_from_slice(&30_000u32.to_be_bytes());
    let crc = crc32(&huge[12..29]);
    huge[29..33].copy_from_slice(&crc.to_be_bytes());
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    vec![
        (write("empty.keras", b""), "Could not open"),
        (
            write("half.keras", &keras[..keras.len() / 2]),
            "Could not open",
        ),
        (write("flipped.h5", &flipped), "Could not open"),
        (write("text.png", b"this is not a picture"), "not an image"),
        (write("huge.png", &huge), "900 M pixels"),
        (write("half.png", &png[..png.len() / 2]), "Could not use"),
        (
            fixture("hostile/zipbomb.keras"),
            "unpacks to more than 64 MB",
        ),
        (fixture("hostile/zipbomb_lying.keras"), "Could not open"),
        (fixture("hostile/cyclic_model.h5"), "weights not used"),
        (dir.join("does-not-exist.keras"), "Could not open"),
        (dir.to_path_buf(), "is a folder"),
    ]
}

#[test]
fn hostile_files_leave_the_design_and_the_input_untouched() {
    let dir = scratch("hostile-open");
    let mut d = Designer::default();
    d.apply(Command::Add("Dropout"));
    d.schedule();
    let design = d.doc.network.clone();
    let input =
        d.rt.viewer
            .input
            .clone()
            .expect("the sample photo is prepared");
    let image = d.rt.viewer.image_name.clone();
    for (p, says) in hostile_files(&dir) {
        d.apply(Command::OpenPath(p.clone()));
        let (text, error) = notice(&d);
        assert!(error, "{}: {text}", p.display());
        assert!(text.contains(says), "{}: {text}", p.display());
        if says == "weights not used" {
            // A readable config with unusable weights opens the design: undo returns.
            d.apply(Command::Undo);
            d.rt.viewer.reset();
        }
        assert_eq!(d.doc.network, design, "{}", p.display());
        assert_eq!(d.rt.viewer.image_name, image, "{}", p.display());
        let now = d.rt.viewer.input.clone().expect("an input");
        assert!(
            Arc::ptr_eq(&now, &input),
            "{}: the input was replaced",
            p.display()
        );
    }
}

/// The window's Designer: model files read on a thread of their own.
fn threaded() -> Designer {
    let mut d = Designer::default();
    d.rt.wake = Some(Arc::new(|| {}));
    d
}

#[test]
fn a_model_opens_on_its_own_thread_and_an_image_named_after_it_follows() {
    let model = fixture("golden/stack_conv_maxpool/model.keras");
    let image = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/images/coffee.png");
    let mut d = threaded();
    d.apply(Command::OpenPath(model.clone()));
    d.apply(Command::OpenPath(image.clone()));
    // Nothing has changed yet: the file is being read, the image waits for it.
    assert!(d.rt.loading.is_some());
    assert_eq!(d.doc.network, convscope::app::example_network());
    let mut h = harness_with(d);
    wait_for(&mut h, |d| d.rt.loading.is_none());
    h.run();
    let d = h.state();
    assert_eq!(d.doc.path.as_deref(), Some(model.as_path()));
    assert_eq!(d.doc.network.layers()[1].name, "conv2d");
    assert!(
        !d.doc.weights.loaded.is_empty(),
        "the file's weights are used"
    );
    assert_eq!(d.rt.viewer.image_name, "coffee.png");
}

#[test]
fn cancel_stops_opening_a_model_and_keeps_the_design() {
    let mut d = threaded();
    let before = d.doc.network.clone();
    // A reader that counts and waits for the Cancel button.
    let l = convscope::app::loader::Loading::start_with(
        "big.keras".into(),
        || {},
        |p| {
            p.set_total(100);
            p.advance(40);
            while !p.cancelled() {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err("cancelled".into())
        },
    )
    .unwrap();
    d.rt.loading = Some(l);
    let mut h = harness_with(d);
    for _ in 0..3 {
        h.step();
    }
    assert!(has_text(&h, "Opening big.keras: 40 of 100 weights"));
    h.get_by_label("Cancel").click();
    for _ in 0..3 {
        h.step();
    }
    let d = h.state();
    assert!(d.rt.loading.is_none());
    assert_eq!(d.doc.network, before);
    let n = d.rt.notice.clone().unwrap();
    assert_eq!(
        n.text,
        "Opening big.keras cancelled. Your design is unchanged."
    );
}

#[test]
fn cancel_stops_a_run_and_run_starts_it_again() {
    let mut d = Designer::default();
    let go = Arc::new(AtomicBool::new(false));
    let g = go.clone();
    d.rt.viewer.use_worker(
        Worker::start_with(
            || {},
            move |job| {
                // The first run waits (as a long one would) until it is cancelled.
                if !g.swap(true, Ordering::SeqCst) {
                    while !job.progress.cancelled() {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
                compute(job)
            },
        )
        .unwrap(),
    );
    d.view.tab = convscope::app::Tab::FeatureMaps;
    let mut h = harness_with(d);
    for _ in 0..3 {
        h.step();
    }
    assert!(h.state().rt.viewer.running);
    h.get_by_label("Cancel").click();
    wait_for(&mut h, |d| !d.rt.viewer.running);
    h.run();
    assert!(h.state().rt.viewer.cancelled);
    assert!(has_text(&h, "The run was cancelled."));
    // Not started again by itself.
    for _ in 0..3 {
        h.run();
    }
    assert!(!h.state().rt.viewer.running);
    h.get_by_label("Run").click();
    h.step();
    wait_for(&mut h, |d| {
        !d.rt.viewer.running && d.rt.viewer.acts.len() > 1
    });
    assert!(h.state().rt.viewer.error.is_none());
    assert!(!h.state().rt.viewer.cancelled);
}
