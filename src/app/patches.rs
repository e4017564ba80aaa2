//! The Explain tab's top-activating patches: the selected layer's channels scanned over a
//! folder of the user's images ([`crate::runner::scan_patches`]) on a thread with a
//! progress bar and Cancel; then each channel's best crop in an overview (click one to
//! browse it) and the browsed channel's patches with their image and activation; Export
//! writes `index.json` and `patches.png` as `convscope patches` does.

use super::Designer;
use super::worker::{job_bar, run_job};
use crate::model::Network;
use crate::progress::Progress;
use crate::runner::PatchScan;
use egui::{Color32, RichText};
use std::path::PathBuf;
use std::sync::{Arc, mpsc};

/// Pixels of a crop as scanned (drawn larger for the browsed channel).
const CELL: usize = 64;

/// The scan's choices, the scan in flight and the one on screen (runtime: never saved).
pub struct Patches {
    /// The folder scanned: chosen with a folder dialog, or typed or pasted.
    pub folder: String,
    /// Patches kept per channel.
    pub top: usize,
    /// The channel browsed.
    pub channel: usize,
    job: Option<Job>,
    shown: Option<Shown>,
}

struct Job {
    progress: Progress,
    rx: mpsc::Receiver<Result<PatchScan, String>>,
    network: Network,
}

struct Shown {
    network: Network,
    result: Result<PatchScan, String>,
    /// Each channel's best crop, then the browsed channel's crops (for `browsed`).
    overview: Vec<Option<egui::TextureHandle>>,
    browsed: Option<(usize, Vec<egui::TextureHandle>)>,
}

impl Default for Patches {
    fn default() -> Self {
        Patches {
            folder: String::new(),
            top: 9,
            channel: 0,
            job: None,
            shown: None,
        }
    }
}

impl Patches {
    /// Whether a scan is running.
    pub fn running(&self) -> bool {
        self.job.is_some()
    }

    /// The scan on screen, if it succeeded.
    pub fn scan(&self) -> Option<&PatchScan> {
        self.shown.as_ref()?.result.as_ref().ok()
    }

    /// The error (or "cancelled") on screen, if any.
    pub fn error(&self) -> Option<&str> {
        self.shown
            .as_ref()?
            .result
            .as_ref()
            .err()
            .map(String::as_str)
    }

    fn poll(&mut self) {
        let Some(job) = &self.job else { return };
        match job.rx.try_recv() {
            Ok(result) => {
                let network = job.network.clone();
                self.job = None;
                self.channel = 0;
                self.shown = Some(Shown {
                    network,
                    result,
                    overview: Vec::new(),
                    browsed: None,
                });
            }
            Err(mpsc::TryRecvError::Empty) => {}
            Err(mpsc::TryRecvError::Disconnected) => self.job = None,
        }
    }

    /// Scans `folder` for the channels of `layer`, cancelling a scan in flight.
    fn start(
        &mut self,
        net: &Network,
        weights: Vec<Arc<crate::engine::forward::LayerWeights>>,
        layer: usize,
        folder: PathBuf,
        pre: crate::io::image::Preprocess,
        wake: Option<Arc<dyn Fn() + Send + Sync>>,
    ) {
        if let Some(old) = self.job.take() {
            old.progress.cancel();
        }
        let progress = Progress::new();
        let (tx, rx) = mpsc::channel();
        let (p, top, scanned) = (progress.clone(), self.top.max(1), net.clone());
        let job = move || {
            let r =
                crate::runner::scan_patches(&scanned, &weights, layer, &folder, top, pre, CELL, &p)
                    .map_err(|e| e.to_string());
            let _ = tx.send(r);
        };
        run_job(wake, job);
        self.job = Some(Job {
            progress,
            rx,
            network: net.clone(),
        });
        self.poll();
    }
}

fn texture(ui: &egui::Ui, name: String, p: &crate::viz::Picture) -> egui::TextureHandle {
    let px = p
        .data
        .chunks_exact(3)
        .map(|c| Color32::from_rgb(c[0], c[1], c[2]))
        .collect();
    ui.ctx().load_texture(
        name,
        egui::ColorImage::new([p.width, p.height], px),
        egui::TextureOptions::NEAREST,
    )
}

/// The section: choose a folder, scan, browse, export.
pub fn patches_section(d: &mut Designer, ui: &mut egui::Ui, visible: f32) {
    let net = &d.doc.network;
    let pt = &mut d.rt.explain.patches;
    pt.poll();
    ui.strong("Top-activating patches");
    let Some(run) =
        d.rt.viewer
            .last_run()
            .filter(|r| r.network == net && r.complete())
    else {
        return;
    };
    let weights = run.weights;
    let selected = d.view.selected.min(net.len().saturating_sub(1));
    let name = net.layers()[selected].name.clone();
    let spatial =
        d.rt.analysis
            .layers
            .get(selected)
            .is_some_and(|r| r.output_shape.as_ref().is_some_and(|s| s.len() == 4));
    let pt = &mut d.rt.explain.patches;
    let mut start = false;
    ui.horizontal_wrapped(|ui| {
        if ui
            .button("Choose folder…")
            .on_hover_text("A folder of images (subfolders too, as a folder of class folders).")
            .clicked()
            && let Some(f) = rfd::FileDialog::new().pick_folder()
        {
            pt.folder = f.display().to_string();
        }
        let l = ui.label("folder");
        ui.add(
            egui::TextEdit::singleline(&mut pt.folder)
                .hint_text("no folder chosen")
                .desired_width(280.0),
        )
        .labelled_by(l.id);
        let l = ui.label("per channel");
        ui.add(egui::DragValue::new(&mut pt.top).range(1..=64))
            .labelled_by(l.id);
        let can = !pt.folder.trim().is_empty() && spatial;
        if ui
            .add_enabled(can, egui::Button::new(format!("Scan for '{name}'")))
            .on_hover_text(
                "Run the model over every image of the folder and keep, per channel of the \
                 selected layer, the receptive-field crops that excite it most.",
            )
            .on_disabled_hover_text(if spatial {
                "Choose a folder of images first."
            } else {
                "The selected layer has no spatial output: select a convolution or pooling layer."
            })
            .clicked()
        {
            start = true;
        }
    });
    if start {
        let folder = PathBuf::from(pt.folder.trim());
        let weights = weights.iter().flatten().cloned().collect();
        pt.start(
            net,
            weights,
            selected,
            folder,
            d.view.preprocess,
            d.rt.wake.clone(),
        );
    }
    if let Some(job) = &pt.job {
        let (done, total) = job.progress.counts();
        let text = format!("{done} of {total} files");
        job_bar(ui, &job.progress, text, "Cancel scan", "Stop the scan.");
    }
    let Some(shown) = &mut pt.shown else { return };
    let scan = match &shown.result {
        Ok(s) => s,
        Err(e) if e == "cancelled" => {
            ui.label("Scan cancelled.");
            return;
        }
        Err(e) => {
            ui.colored_label(Color32::from_rgb(220, 80, 80), format!("Cannot scan: {e}"));
            return;
        }
    };
    let channels = scan.best.len();
    ui.label(
        RichText::new(format!(
            "Top {} patches of {channels} channels of '{}' over {} images ({} skipped)",
            scan.top,
            scan.layer,
            scan.images.len(),
            scan.skipped
        ))
        .strong(),
    );
    if shown.network != *net {
        ui.label("Scanned before the last edit: scan again for the design as it is.");
    }
    if channels == 0 {
        return;
    }
    pt.channel = pt.channel.min(channels - 1);
    let mut note = None;
    // The browsed channel: its patches, each with its image and activation.
    ui.horizontal(|ui| {
        if ui.button("Previous").clicked() {
            pt.channel = pt.channel.saturating_sub(1);
        }
        let l = ui.label("browse channel");
        ui.add(egui::DragValue::new(&mut pt.channel).range(0..=channels - 1))
            .labelled_by(l.id);
        if ui.button("Next").clicked() {
            pt.channel = (pt.channel + 1).min(channels - 1);
        }
        if ui
            .button("Export…")
            .on_hover_text("index.json and patches.png into a folder, as `convscope patches`.")
            .clicked()
            && let Some(dir) = rfd::FileDialog::new().pick_folder()
        {
            note = Some(match scan.write(&dir) {
                Ok(()) => (format!("Saved {}", dir.display()), false),
                Err(e) => (format!("Cannot save {}: {e}", dir.display()), true),
            });
        }
    });
    let c = pt.channel;
    if shown.browsed.as_ref().is_none_or(|(k, _)| *k != c) {
        let t = scan.crops[c]
            .iter()
            .enumerate()
            .map(|(j, p)| texture(ui, format!("patch-{c}-{j}"), p))
            .collect();
        shown.browsed = Some((c, t));
    }
    // One row when it fits at 64 pixels or more, else rows of 96.
    let n = scan.best[c].len().max(1) as f32;
    let fit = (visible - 24.0) / n - 12.0;
    let side = if fit >= 64.0 { fit.min(128.0) } else { 96.0 };
    let per_row = ((visible - 16.0) / (side + 12.0)).floor().max(1.0) as usize;
    if let Some((_, t)) = &shown.browsed {
        let items: Vec<_> = t.iter().zip(&scan.best[c]).collect();
        for row in items.chunks(per_row) {
            ui.horizontal(|ui| {
                for (tex, p) in row {
                    ui.vertical(|ui| {
                        ui.set_max_width(side);
                        ui.image((tex.id(), egui::vec2(side, side)));
                        let file = scan.images[p.image]
                            .file_name()
                            .map_or(String::new(), |f| f.to_string_lossy().into_owned());
                        ui.small(format!("{:.4}", p.score)).on_hover_text(format!(
                            "{} at output ({}, {}), input rows {}–{}, columns {}–{}",
                            scan.images[p.image].display(),
                            p.at[0],
                            p.at[1],
                            p.window[0][0],
                            p.window[0][1],
                            p.window[1][0],
                            p.window[1][1]
                        ));
                        ui.small(file);
                    });
                }
            });
        }
    }
    // Every channel's best patch: click one to browse it.
    ui.label("Each channel's strongest patch (click to browse it):");
    if shown.overview.len() != channels {
        shown.overview = vec![None; channels];
    }
    let small = 48.0f32;
    // A button frames its picture (padding on both sides) and buttons sit apart.
    let pad = 2.0 * ui.spacing().button_padding.x + ui.spacing().item_spacing.x;
    let per_row = ((visible - 24.0) / (small + pad)).floor().max(1.0) as usize;
    for chunk in (0..channels).collect::<Vec<_>>().chunks(per_row) {
        ui.horizontal(|ui| {
            for &k in chunk {
                let Some(best) = scan.crops[k].first() else {
                    continue;
                };
                let tex = shown.overview[k]
                    .get_or_insert_with(|| texture(ui, format!("patch-best-{k}"), best));
                let b = ui
                    .add(
                        egui::Button::image(
                            egui::Image::new((tex.id(), egui::vec2(small, small)))
                                .alt_text(format!("channel {k}'s strongest patch")),
                        )
                        .selected(k == c),
                    )
                    .on_hover_text(format!("channel {k}"));
                if b.clicked() {
                    pt.channel = k;
                }
            }
        });
    }
    if let Some((text, error)) = note {
        d.notify(text, error);
    }
}
