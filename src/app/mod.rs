//! The designer window (egui). Owns UI state only: the document being edited, the
//! selection, undo/redo history, notices and file-dialog fallbacks. Shapes, parameters
//! and costs come from [`crate::model::analysis`], recomputed every frame (it takes
//! microseconds), so every readout follows the keystroke that changed it.
//!
//! Panels never mutate the network directly from deep inside widgets without going
//! through [`Designer::edit`], which records undo history.

pub mod autosave;
mod inspector;
mod panels;
pub mod viewer;
pub mod worker;

use crate::io::{self, config, python};
use crate::model::{Analysis, Network};
use std::path::{Path, PathBuf};

/// The bundled example: StridedNet from the classic Keras Conv2D tutorial.
pub const EXAMPLE_JSON: &str = include_str!("../../assets/stridednet.json");

/// Key of the design in eframe's persistent storage.
const STORAGE_KEY: &str = "convscope.design.keras_json";

/// The example network (falls back to an empty Sequential model, never panics).
pub fn example_network() -> Network {
    config::from_json_str(EXAMPLE_JSON)
        .unwrap_or_else(|_| Network::sequential("sequential", &[96, 96, 3]))
}

/// A message shown in the status bar.
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    pub text: String,
    pub error: bool,
}

/// What a menu or shortcut asks for; applied after drawing (one-way data flow).
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    New,
    Open,
    OpenPath(PathBuf),
    Save,
    SaveAs,
    SaveTo(PathBuf),
    ExportPython,
    ExportPythonTo(PathBuf),
    /// Choose an image as the viewer's input.
    OpenImage,
    /// The viewer's tile grid as PNG (`None`: ask where).
    ExportGrid(Option<PathBuf>),
    /// The magnified channel as PNG.
    ExportMap(Option<PathBuf>),
    /// The selected layer's activations as `.npy`.
    ExportNpy(Option<PathBuf>),
    /// Every layer's activations as one `.npz`.
    ExportAllNpz(Option<PathBuf>),
    /// The architecture diagram as SVG.
    ExportDiagram(Option<PathBuf>),
    ExportDiagramPng(Option<PathBuf>),
    /// PyTorch code to the path, the weights in use beside it as `.npz`.
    ExportPytorch(Option<PathBuf>),
    Undo,
    Redo,
    Delete,
    Duplicate,
    MoveUp,
    MoveDown,
    Add(&'static str),
    Select(usize),
    Move {
        from: usize,
        to: usize,
    },
}

/// What the central area shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tab {
    Summary,
    FeatureMaps,
}

/// The designer's state.
pub struct Designer {
    pub viewer: viewer::Viewer,
    /// Left edge of the inspector: where the central area really ends.
    pub central_right: f32,
    pub tab: Tab,
    pub network: Network,
    pub analysis: Analysis,
    pub selected: usize,
    pub path: Option<PathBuf>,
    pub notice: Option<Notice>,
    undo: Vec<Network>,
    redo: Vec<Network>,
    /// An edit gesture (drag or typing) in progress: one undo step for all of it.
    gesture_open: bool,
    /// Path typed by hand when no file dialog is available.
    pub path_field: String,
    /// Square lock for pair fields (kernel 3x3 lock).
    pub lock_square: bool,
    pub dark: bool,
    pending: Vec<Command>,
    /// Writes the design to disk after every change (off unless the app enables it).
    pub autosave: autosave::Autosave,
}

impl Default for Designer {
    fn default() -> Self {
        Designer::new(example_network())
    }
}

impl Designer {
    pub fn new(network: Network) -> Designer {
        let analysis = network.analyze();
        Designer {
            viewer: viewer::Viewer::default(),
            central_right: f32::INFINITY,
            tab: Tab::FeatureMaps,
            selected: 1.min(network.layers.len().saturating_sub(1)),
            network,
            analysis,
            path: None,
            notice: None,
            undo: Vec::new(),
            redo: Vec::new(),
            gesture_open: false,
            path_field: String::new(),
            lock_square: true,
            dark: true,
            pending: Vec::new(),
            autosave: autosave::Autosave::new(None),
        }
    }

    /// Restores the design saved by a previous session (Keras JSON); a corrupt saved
    /// state falls back to the example with a notice.
    pub fn restore(saved: Option<String>) -> Designer {
        match saved {
            None => Designer::default(),
            Some(text) => {
                match config::from_json_str(&text) {
                    Ok(net) => Designer::new(net),
                    Err(e) => {
                        let mut d = Designer::default();
                        d.notify(format!("The saved design could not be read ({e}); opened the example instead."), true);
                        d
                    }
                }
            }
        }
    }

    pub fn notify(&mut self, text: impl Into<String>, error: bool) {
        self.notice = Some(Notice {
            text: text.into(),
            error,
        });
    }

    /// Queues a command to apply after this frame's drawing.
    pub fn command(&mut self, c: Command) {
        self.pending.push(c);
    }

    /// Applies an edit to the network with undo history. Edits within one gesture
    /// (a drag, or typing into a field) make one undo step.
    pub fn edit(&mut self, f: impl FnOnce(&mut Network)) {
        let before = self.network.clone();
        f(&mut self.network);
        if self.network != before {
            if !self.gesture_open {
                self.undo.push(before);
                self.redo.clear();
                self.gesture_open = true;
            }
            self.analysis = self.network.analyze();
        }
    }

    /// Closes the current edit gesture (called when no pointer is down and no field
    /// has focus).
    pub fn end_gesture(&mut self) {
        self.gesture_open = false;
    }

    fn replace(&mut self, network: Network, path: Option<PathBuf>) {
        self.undo
            .push(std::mem::replace(&mut self.network, network));
        self.redo.clear();
        self.path = path;
        self.selected = 1.min(self.network.layers.len().saturating_sub(1));
        self.analysis = self.network.analyze();
    }

    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }

    /// Applies queued commands.
    pub fn apply_pending(&mut self) {
        for c in std::mem::take(&mut self.pending) {
            self.apply(c);
        }
    }

    pub fn apply(&mut self, c: Command) {
        self.gesture_open = false;
        let n = self.network.layers.len();
        match c {
            Command::New => {
                self.viewer.reset();
                self.replace(Network::sequential("sequential", &[28, 28, 1]), None);
                self.notify("New design: a 28×28×1 input. Add layers from the palette.", false);
            }
            Command::Open => match rfd::FileDialog::new()
                .add_filter("Keras model", &["keras", "h5", "json"])
                .add_filter("Image (viewer input)", &IMAGE_EXTENSIONS)
                .pick_file()
            {
                Some(p) => self.apply(Command::OpenPath(p)),
                None => self.notify(
                    "No file chosen. If no dialog appeared (no desktop portal), type a path in File > Path and press Open path.",
                    false,
                ),
            },
            Command::OpenPath(p) => self.open_path(&p),
            Command::Save => match self.path.clone() {
                Some(p) if has_ext(&p, "json") || has_ext(&p, "keras") => {
                    self.apply(Command::SaveTo(p))
                }
                _ => self.apply(Command::SaveAs),
            },
            Command::SaveAs => {
                // A design with weights from a file saves as .keras (weights included).
                let keras_first = self.viewer.from_file;
                let dialog = rfd::FileDialog::new();
                let dialog = if keras_first {
                    dialog
                        .add_filter("Keras model with weights", &["keras"])
                        .add_filter("Keras config JSON", &["json"])
                } else {
                    dialog
                        .add_filter("Keras config JSON", &["json"])
                        .add_filter("Keras model with weights", &["keras"])
                };
                let ext = if keras_first { "keras" } else { "json" };
                match dialog
                    .set_file_name(format!("{}.{ext}", self.network.name))
                    .save_file()
                {
                    Some(p) => self.apply(Command::SaveTo(p)),
                    None => self.notify(
                        "Not saved. If no dialog appeared (no desktop portal), type a path in File > Path and press Save to path.",
                        false,
                    ),
                }
            }
            Command::SaveTo(p) => {
                let bytes = if has_ext(&p, "keras") {
                    self.viewer
                        .weights_for(&self.network, &self.analysis)
                        .and_then(|w| io::keras_write::write_keras(&self.network, &w))
                } else {
                    Ok(config::to_json_string(&self.network).into_bytes())
                };
                match bytes.and_then(|b| io::write_atomic(&p, &b).map_err(|e| io::describe_io_error(&e))) {
                    Ok(()) => {
                        self.notify(format!("Saved {}", p.display()), false);
                        self.path = Some(p);
                    }
                    Err(e) => self.notify(
                        format!("Could not save {}: {e}. Your design is still here, unsaved.", p.display()),
                        true,
                    ),
                }
            }
            Command::ExportPython => match rfd::FileDialog::new()
                .add_filter("Python", &["py"])
                .set_file_name(format!("{}.py", self.network.name))
                .save_file()
            {
                Some(p) => self.apply(Command::ExportPythonTo(p)),
                None => self.notify("Not exported. Type a path in File > Path and press Export Keras Python to path.", false),
            },
            Command::ExportPythonTo(p) => {
                let text = python::to_python(&self.network);
                match io::write_atomic(&p, text.as_bytes()) {
                    Ok(()) => self.notify(format!("Exported {}", p.display()), false),
                    Err(e) => self.notify(
                        format!("Could not write {}: {}", p.display(), io::describe_io_error(&e)),
                        true,
                    ),
                }
            }
            Command::OpenImage => match rfd::FileDialog::new()
                .add_filter("Image", &IMAGE_EXTENSIONS)
                .pick_file()
            {
                Some(p) => self.apply(Command::OpenPath(p)),
                None => self.notify(
                    "No image chosen. If no dialog appeared, type its path in File > Path and press Open path.",
                    false,
                ),
            },
            Command::ExportGrid(p) => self.export(p, "png", "grid", |d| {
                let i = d.selected;
                d.viewer.grid_picture(&d.network, i)?.to_png()
            }),
            Command::ExportMap(p) => self.export(p, "png", "map", |d| {
                let i = d.selected;
                let k = d.viewer.focus.ok_or("click a tile first: no channel is magnified")?;
                d.viewer.map_picture(&d.network, i, k)?.to_png()
            }),
            Command::ExportDiagram(p) => self.export(p, "svg", "diagram", |d| {
                Ok(io::diagram::to_svg(&d.network, &d.analysis).into_bytes())
            }),
            Command::ExportDiagramPng(p) => self.export(p, "png", "diagram", |d| {
                io::diagram::to_png(&d.network, &d.analysis, 2.0)
            }),
            Command::ExportPytorch(p) => self.export_pytorch(p),
            Command::ExportAllNpz(p) => self.export(p, "npz", "all activations", |d| {
                d.viewer.all_activations_npz(&d.network)
            }),
            Command::ExportNpy(p) => {
                self.export(p, "npy", "activations", |d| d.viewer.activations_npy(d.selected))
            }
            Command::Undo => {
                if let Some(prev) = self.undo.pop() {
                    self.redo.push(std::mem::replace(&mut self.network, prev));
                    self.after_history();
                }
            }
            Command::Redo => {
                if let Some(next) = self.redo.pop() {
                    self.undo.push(std::mem::replace(&mut self.network, next));
                    self.after_history();
                }
            }
            Command::Delete => {
                let i = self.selected;
                if i >= 1 && i < n {
                    self.edit(|net| {
                        net.layers.remove(i);
                    });
                    self.selected = i.min(self.network.layers.len() - 1);
                }
            }
            Command::Duplicate => {
                let i = self.selected;
                if i >= 1 && i < n {
                    self.edit(|net| {
                        let mut copy = net.layers[i].clone();
                        copy.name = net.unique_name(copy.class_name());
                        net.layers.insert(i + 1, copy);
                    });
                    self.selected = i + 1;
                }
            }
            Command::MoveUp => {
                let i = self.selected;
                if i >= 2 && i < n {
                    self.apply(Command::Move { from: i, to: i - 1 });
                }
            }
            Command::MoveDown => {
                let i = self.selected;
                if i >= 1 && i + 1 < n {
                    self.apply(Command::Move { from: i, to: i + 1 });
                }
            }
            Command::Move { from, to } => {
                if from >= 1 && to >= 1 && from < n && to < n && from != to {
                    self.edit(|net| {
                        let l = net.layers.remove(from);
                        net.layers.insert(to, l);
                    });
                    self.selected = to;
                }
            }
            Command::Add(class) => {
                let after = self.selected.min(n.saturating_sub(1));
                let mut at = None;
                self.edit(|net| at = net.insert_new(after, class));
                if let Some(at) = at {
                    self.selected = at;
                }
            }
            Command::Select(i) => {
                if i < n {
                    self.selected = i;
                }
            }
        }
        self.gesture_open = false;
    }

    fn after_history(&mut self) {
        self.analysis = self.network.analyze();
        self.selected = self
            .selected
            .min(self.network.layers.len().saturating_sub(1));
    }

    /// Writes what `make` produces to `path` (asking with a save dialog when `None`).
    fn export(
        &mut self,
        path: Option<PathBuf>,
        ext: &str,
        what: &str,
        make: impl FnOnce(&mut Designer) -> Result<Vec<u8>, String>,
    ) {
        let layer = self
            .network
            .layers
            .get(self.selected)
            .map_or("layer".to_string(), |l| l.name.clone());
        let path = match path {
            Some(p) => p,
            None => {
                let suffix = match (what, self.viewer.focus) {
                    ("map", Some(k)) => format!("_ch{k}"),
                    ("activations", _) => String::new(),
                    ("all activations", _) => "_activations".into(),
                    ("diagram", _) => String::new(),
                    _ => "_grid".into(),
                };
                match rfd::FileDialog::new()
                    .add_filter(ext.to_uppercase(), &[ext])
                    .set_file_name(if what == "all activations" || what == "diagram" {
                        format!("{}{suffix}.{ext}", self.network.name)
                    } else {
                        format!("{layer}{suffix}.{ext}")
                    })
                    .save_file()
                {
                    Some(p) => p,
                    None => {
                        return self.notify(
                            format!("Not exported. If no dialog appeared, type a path in File > Path and press Export {what} to path."),
                            false,
                        );
                    }
                }
            }
        };
        match make(self).and_then(|bytes| {
            io::write_atomic(&path, &bytes).map_err(|e| io::describe_io_error(&e))
        }) {
            Ok(()) if what == "diagram" => {
                self.notify(format!("Exported the diagram to {}", path.display()), false)
            }
            Ok(()) => self.notify(
                format!("Exported {layer} {what} to {}", path.display()),
                false,
            ),
            Err(e) => self.notify(
                format!("Could not export the {what} to {}: {e}", path.display()),
                true,
            ),
        }
    }

    /// PyTorch code to `path` (a save dialog when `None`) and the weights in use (from
    /// the file or the initializers) beside it as `.npz`.
    fn export_pytorch(&mut self, path: Option<PathBuf>) {
        let path = match path.or_else(|| {
            rfd::FileDialog::new()
                .add_filter("Python (PyTorch)", &["py"])
                .set_file_name(format!("{}_torch.py", self.network.name))
                .save_file()
        }) {
            Some(p) => p,
            None => {
                return self.notify(
                    "Not exported. If no dialog appeared, type a path in File > Path and press Export PyTorch to path.",
                    false,
                );
            }
        };
        let result = io::pytorch::to_pytorch(&self.network, &self.analysis).and_then(|code| {
            let w = self.viewer.weights_for(&self.network, &self.analysis)?;
            io::pytorch::write_export(&path, &code, &self.network, &w)
        });
        match result {
            Ok(npz_path) => self.notify(
                format!(
                    "Exported PyTorch code to {} and its weights to {}",
                    path.display(),
                    npz_path.display()
                ),
                false,
            ),
            Err(e) => self.notify(
                format!("Could not export PyTorch code to {}: {e}", path.display()),
                true,
            ),
        }
    }

    /// Opens a model file, or uses an image file as the viewer's input (recognised by
    /// its content).
    fn open_path(&mut self, p: &Path) {
        let image_name = IMAGE_EXTENSIONS.iter().any(|e| has_ext(p, e));
        if is_image_file(p) {
            match read_limited(p, MAX_IMAGE_FILE_BYTES) {
                Ok(bytes) => {
                    let name = p
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_else(|| p.display().to_string());
                    self.viewer.set_image(name, bytes);
                    self.tab = Tab::FeatureMaps;
                    // Decoded now (once): a broken image is reported at once and the
                    // previous input stays.
                    let checked = if self.analysis.first_error.is_none() {
                        self.viewer.prepare_now(&self.network)
                    } else {
                        Ok(())
                    };
                    match checked {
                        Ok(()) => self.notify(format!("Input image: {}", p.display()), false),
                        Err(e) => self.notify(format!("Could not use {}: {e}", p.display()), true),
                    }
                }
                Err(e) => self.notify(format!("Could not read {}: {e}", p.display()), true),
            }
            return;
        }
        if image_name {
            // Named like an image but not one: say that, not "not a Keras model".
            let e = read_limited(p, 64)
                .map_err(|e| e.to_string())
                .and_then(|b| {
                    crate::io::image::load_image(
                        &b,
                        None,
                        3,
                        Default::default(),
                        Default::default(),
                    )
                    .map(|_| ())
                    .map_err(|e| e.to_string())
                })
                .err()
                .unwrap_or_else(|| "not an image".into());
            return self.notify(
                format!(
                    "Could not open {}: {e}. Your design and input are unchanged.",
                    p.display()
                ),
                true,
            );
        }
        match io::load_model(p) {
            Ok(m) => {
                let a = m.network.analyze();
                // Keep the file's weights for the viewer when it has them.
                use crate::engine::weights;
                use crate::io::keras_file::FileKind;
                let w = match m.kind {
                    FileKind::Keras => Some(weights::from_keras(&m.bytes, &m.network, &a)),
                    FileKind::H5 => Some(weights::from_h5(&m.bytes, &m.network, &a)),
                    FileKind::Json => None,
                };
                self.viewer.reset();
                let mut weight_note = String::new();
                match w {
                    Some(Ok(w)) => self.viewer.set_weights(w),
                    Some(Err(e)) => weight_note = format!(" (weights not used: {e})"),
                    None => {}
                }
                let msg = match a.error(&m.network) {
                    Some(e) => format!("Opened {} — Keras would reject it: {e}", p.display()),
                    None => format!("Opened {}", p.display()),
                };
                let saveable = has_ext(p, "json") || has_ext(p, "keras");
                self.replace(m.network, Some(p.to_path_buf()));
                if !saveable {
                    // Legacy .h5 files are not overwritten by Save (convscope writes .keras).
                    self.path = None;
                }
                let err = a.first_error.is_some() || !weight_note.is_empty();
                self.notify(format!("{msg}{weight_note}"), err);
            }
            Err(e) => self.notify(
                format!(
                    "Could not open {}: {e}. Your design is unchanged.",
                    p.display()
                ),
                true,
            ),
        }
    }

    /// Opens the autosaved design from `file` (falling back to `saved`, eframe's copy,
    /// then the example) and keeps autosaving there. An unreadable autosave is kept
    /// beside as `<name>.unreadable` and reported.
    pub fn with_autosave(file: Option<PathBuf>, saved: Option<String>) -> Designer {
        let restored = file.as_deref().map(autosave::read);
        let mut d = match restored {
            Some(Ok(Some(r))) => {
                let mut d = Designer::new(r.network);
                d.path = r.path;
                d
            }
            Some(Err(e)) => {
                let mut d = Designer::restore(saved);
                let f = file.clone().unwrap_or_default();
                let kept = f.with_extension("json.unreadable");
                let _ = std::fs::rename(&f, &kept);
                d.notify(
                    format!(
                        "The autosaved design could not be read ({e}); it is kept as {}.",
                        kept.display()
                    ),
                    true,
                );
                d
            }
            _ => Designer::restore(saved),
        };
        d.autosave = autosave::Autosave::new(file);
        if d.notice.is_none() {
            let net = d.network.clone();
            let path = d.path.clone();
            d.autosave.mark_written(&net, path.as_deref());
        }
        d
    }

    /// The design as Keras JSON, for persistence.
    pub fn saved_state(&self) -> String {
        config::to_json_string(&self.network)
    }

    /// The central tabs.
    fn central(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.selectable_value(&mut self.tab, Tab::Summary, "Summary");
            ui.selectable_value(&mut self.tab, Tab::FeatureMaps, "Feature maps");
        });
        ui.separator();
        match self.tab {
            Tab::Summary => panels::summary_panel(self, ui),
            Tab::FeatureMaps => viewer::feature_maps(self, ui),
        }
    }

    /// Draws the whole window and applies commands.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        // Files dropped on the window open like File > Open.
        let dropped: Vec<PathBuf> = ui.ctx().input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .collect()
        });
        for p in dropped {
            self.command(Command::OpenPath(p));
        }
        self.viewer.poll();
        panels::shortcuts(self, ui);
        panels::menu_bar(self, ui);
        panels::status_bar(self, ui);
        panels::stack_panel(self, ui);
        inspector::inspector_panel(self, ui);
        let central_right = self.central_right;
        egui::CentralPanel::default().show(ui, |ui| {
            // The central panel's rect reaches under the inspector: keep to what is visible.
            let full = ui.max_rect();
            let right = full
                .right()
                .min(central_right - 8.0)
                .max(full.left() + 100.0);
            let rect = egui::Rect::from_min_max(full.min, egui::pos2(right, full.bottom()));
            ui.scope_builder(egui::UiBuilder::new().max_rect(rect), |ui| self.central(ui));
        });
        self.apply_pending();
        self.viewer.schedule(&self.network, &self.analysis);
        let now = std::time::Instant::now();
        if let Some(wait) = self.autosave.tick(&self.network, self.path.as_deref(), now) {
            ui.ctx().request_repaint_after(wait);
        }
        if let Some(e) = self.autosave.error.take() {
            self.notify(e, true);
        }
        let idle =
            ui.ctx().input(|i| !i.pointer.any_down()) && ui.ctx().memory(|m| m.focused().is_none());
        if idle {
            self.end_gesture();
        }
    }
}

/// File name endings offered for images.
const IMAGE_EXTENSIONS: [&str; 8] = ["png", "jpg", "jpeg", "webp", "bmp", "gif", "tif", "tiff"];

/// Image files larger than this are refused before reading (a 100 M pixel photo as
/// uncompressed 16-bit TIFF is 600 MB).
const MAX_IMAGE_FILE_BYTES: u64 = 1 << 30;

/// Reads at most `limit` bytes of `p`; a larger file is an error naming its size.
fn read_limited(p: &Path, limit: u64) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let f = std::fs::File::open(p).map_err(|e| crate::io::describe_io_error(&e))?;
    let mut bytes = Vec::new();
    f.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| crate::io::describe_io_error(&e))?;
    if bytes.len() as u64 > limit && limit >= 1 << 20 {
        return Err(format!("the file is larger than {} MB", limit >> 20));
    }
    bytes.truncate(limit as usize);
    Ok(bytes)
}

/// Whether `p` ends in `.ext` (any case).
fn has_ext(p: &Path, ext: &str) -> bool {
    p.extension().is_some_and(|e| e.eq_ignore_ascii_case(ext))
}

/// Whether a file starts like an image the viewer can read (PNG, JPEG, GIF, BMP, WebP,
/// TIFF), so that opening or dropping it sets the viewer's input.
pub fn is_image_file(p: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 12];
    let n = std::fs::File::open(p)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    let h = &head[..n];
    h.starts_with(b"\x89PNG")
        || h.starts_with(&[0xff, 0xd8, 0xff])
        || h.starts_with(b"GIF8")
        || h.starts_with(b"BM")
        || (h.starts_with(b"RIFF") && h.get(8..12) == Some(b"WEBP"))
        || h.starts_with(b"II*\0")
        || h.starts_with(b"MM\0*")
}

/// The eframe application: the designer plus persistence.
pub struct App {
    pub designer: Designer,
}

impl App {
    pub fn new(cc: &eframe::CreationContext<'_>, open: Vec<PathBuf>) -> App {
        let saved = cc.storage.and_then(|s| s.get_string(STORAGE_KEY));
        let mut designer = Designer::with_autosave(autosave::default_location(), saved);
        designer.viewer.start_worker(&cc.egui_ctx);
        // `convscope MODEL`, `convscope IMAGE` or `convscope MODEL IMAGE`.
        for p in open {
            designer.apply(Command::OpenPath(p));
        }
        cc.egui_ctx.set_visuals(if designer.dark {
            egui::Visuals::dark()
        } else {
            egui::Visuals::light()
        });
        App { designer }
    }
}

impl eframe::App for App {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.designer.ui(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        storage.set_string(STORAGE_KEY, self.designer.saved_state());
    }

    fn auto_save_interval(&self) -> std::time::Duration {
        std::time::Duration::from_secs(5)
    }
}

/// Opens the window (blocking until it closes).
pub fn run(open: Vec<PathBuf>) -> Result<(), String> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("convscope")
            .with_inner_size([1280.0, 800.0])
            .with_min_inner_size([900.0, 560.0])
            .with_drag_and_drop(true),
        ..Default::default()
    };
    eframe::run_native(
        "convscope",
        options,
        Box::new(move |cc| Ok(Box::new(App::new(cc, open)))),
    )
    .map_err(|e| e.to_string())
}
