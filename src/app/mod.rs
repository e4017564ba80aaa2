//! The window (egui). Its state is in three parts, as egui's demo app and rerun keep
//! theirs:
//!
//! - the [`Document`] (the network, its path, the weights plan, undo history), changed
//!   only by applying [`Command`]s;
//! - the [`ViewSettings`] (tab, selection, colormap, …), written by panels directly and
//!   persisted between sessions;
//! - the [`Runtime`]: the analysis (recomputed after every change: it takes
//!   microseconds), the viewer's worker, results and textures, the graph canvas's
//!   layout, the model file being read, notices, autosave.
//!
//! Each frame: panels read the document and analysis, write view settings and queue
//! commands; the commands are applied; the viewer schedules a run if the design changed.

pub mod arithmetic;
pub mod autosave;
mod commands;
pub mod compare;
pub mod document;
pub mod explain;
pub mod graph;
mod inspector;
pub mod loader;
mod panels;
pub mod patches;
pub mod settings;
pub mod viewer;
pub mod worker;

pub use commands::Command;
pub use document::Document;
pub use settings::{Pane, Tab, ViewSettings};

use crate::io::config;
use crate::model::{Analysis, Network};
use std::path::{Path, PathBuf};

/// The bundled example: StridedNet from the classic Keras Conv2D tutorial.
pub const EXAMPLE_JSON: &str = include_str!("../../assets/stridednet.json");

/// Keys in eframe's persistent storage.
const STORAGE_KEY: &str = "convscope.design.keras_json";
const VIEW_KEY: &str = "convscope.view";

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

/// What the window holds while it runs: derived from the document or the machine, never
/// saved.
pub struct Runtime {
    /// What Keras says about the document's network.
    pub analysis: Analysis,
    /// The viewer's input, runs and textures.
    pub viewer: viewer::Viewer,
    pub notice: Option<Notice>,
    pending: Vec<Command>,
    /// Left edge of the inspector: where the central area really ends.
    pub central_right: f32,
    /// Writes the design to disk after every change (off unless the app enables it).
    pub autosave: autosave::Autosave,
    /// A model file being read on its own thread.
    pub loading: Option<loader::Loading>,
    /// The graph canvas: its layout and the part of it in view.
    pub graph: graph::GraphView,
    /// The block being set up in the palette (kind, name, arguments).
    pub block: Option<crate::model::blocks::Block>,
    /// Layers copied (Edit > Copy), pasted by Edit > Paste.
    pub clipboard: Option<crate::model::blocks::Expansion>,
    /// Commands that wait for `loading` (`convscope MODEL IMAGE`: the image follows).
    pub after_loading: Vec<Command>,
    /// Design A pinned for the Compare tab.
    pub compare: compare::CompareView,
    /// The Arithmetic tab's position, playback and hover.
    pub arithmetic: arithmetic::ArithmeticView,
    /// The Explain tab's choices and the explanation in flight or on screen.
    pub explain: explain::ExplainView,
    /// Asks for a frame from another thread. Set by the window: model files are then read
    /// on a thread of their own; without it (tests) they are read at once.
    pub wake: Option<std::sync::Arc<dyn Fn() + Send + Sync>>,
}

/// The designer's state.
pub struct Designer {
    pub doc: Document,
    pub view: ViewSettings,
    pub rt: Runtime,
}

impl Default for Designer {
    fn default() -> Self {
        Designer::new(example_network())
    }
}

impl Designer {
    pub fn new(network: Network) -> Designer {
        let analysis = network.analyze();
        let view = ViewSettings {
            selected: 1.min(network.len().saturating_sub(1)),
            ..ViewSettings::default()
        };
        Designer {
            doc: Document::new(network),
            view,
            rt: Runtime {
                analysis,
                viewer: viewer::Viewer::default(),
                notice: None,
                pending: Vec::new(),
                central_right: f32::INFINITY,
                autosave: autosave::Autosave::new(None),
                loading: None,
                graph: graph::GraphView::default(),
                block: None,
                clipboard: None,
                after_loading: Vec::new(),
                compare: compare::CompareView::default(),
                arithmetic: arithmetic::ArithmeticView::default(),
                explain: explain::ExplainView::default(),
                wake: None,
            },
        }
    }

    /// Restores the design saved by a previous session (Keras JSON); a corrupt saved
    /// state falls back to the example with a notice.
    pub fn restore(saved: Option<String>) -> Designer {
        match saved {
            None => Designer::default(),
            Some(text) => match config::from_json_str(&text) {
                Ok(net) => Designer::new(net),
                Err(e) => {
                    let mut d = Designer::default();
                    d.notify(
                        format!(
                            "The saved design could not be read ({e}); opened the example instead."
                        ),
                        true,
                    );
                    d
                }
            },
        }
    }

    pub fn notify(&mut self, text: impl Into<String>, error: bool) {
        self.rt.notice = Some(Notice {
            text: text.into(),
            error,
        });
    }

    /// Runs the viewer on the current design if it changed (the window calls this every
    /// frame; tests call it to run inline).
    pub fn schedule(&mut self) {
        self.rt.viewer.schedule(
            &self.doc.network,
            &self.rt.analysis,
            &self.doc.weights,
            &self.view,
        );
    }

    /// Opens the autosaved design from `file` (falling back to `saved`, eframe's copy,
    /// then the example) and keeps autosaving there. An unreadable autosave is kept
    /// beside as `<name>.unreadable` and reported.
    pub fn with_autosave(file: Option<PathBuf>, saved: Option<String>) -> Designer {
        let restored = file.as_deref().map(autosave::read);
        let mut d = match restored {
            Some(Ok(Some(r))) => {
                let mut d = Designer::new(r.network);
                d.doc.path = r.path;
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
        d.rt.autosave = autosave::Autosave::new(file);
        if d.rt.notice.is_none() {
            let path = d.doc.path.clone();
            d.rt.autosave.mark_written(&d.doc.network, path.as_deref());
        }
        d
    }

    /// Takes the model file being read once it is in (or cancelled), then the commands
    /// that waited for it; keeps frames coming while it is read, for the progress bar.
    fn poll_loading(&mut self, ctx: &egui::Context) {
        let Some(l) = &self.rt.loading else { return };
        let path = l.path.clone();
        match l.poll() {
            loader::Polled::Running => {
                ctx.request_repaint_after(std::time::Duration::from_millis(50));
                return;
            }
            loader::Polled::Done(opened) => {
                self.rt.loading = None;
                self.finish_open(&path, *opened);
            }
            loader::Polled::Cancelled => {
                self.rt.loading = None;
                self.notify(
                    format!(
                        "Opening {} cancelled. Your design is unchanged.",
                        path.display()
                    ),
                    false,
                );
            }
        }
        for c in std::mem::take(&mut self.rt.after_loading) {
            self.command(c);
        }
    }

    /// The design as Keras JSON, for persistence.
    pub fn saved_state(&self) -> String {
        config::to_json_string(&self.doc.network)
    }

    /// The central tabs.
    fn central(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.selectable_value(&mut self.view.tab, Tab::Summary, "Summary");
            ui.selectable_value(&mut self.view.tab, Tab::FeatureMaps, "Feature maps");
            ui.selectable_value(&mut self.view.tab, Tab::Graph, "Graph")
                .on_hover_text("The network as a graph: branches and merges, wires with shapes.");
            ui.selectable_value(&mut self.view.tab, Tab::Arithmetic, "Arithmetic")
                .on_hover_text("The selected convolution's or pooling's window on its own numbers: padding, stride, dilation.");
            ui.selectable_value(&mut self.view.tab, Tab::Compare, "Compare")
                .on_hover_text("Design A (pinned) against the design now: what changed, and the maps side by side.");
            ui.selectable_value(&mut self.view.tab, Tab::Explain, "Explain")
                .on_hover_text("Why the network decides: Grad-CAM, saliency, integrated gradients… over the image.");
        });
        ui.separator();
        match self.view.tab {
            Tab::Summary => panels::summary_panel(self, ui),
            Tab::FeatureMaps => viewer::feature_maps(self, ui),
            Tab::Graph => graph::graph_panel(self, ui),
            Tab::Compare => compare::compare_panel(self, ui),
            Tab::Arithmetic => arithmetic::arithmetic_panel(self, ui),
            Tab::Explain => explain::explain_panel(self, ui),
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
        self.rt.viewer.poll();
        self.poll_loading(ui.ctx());
        panels::shortcuts(self, ui);
        panels::menu_bar(self, ui);
        panels::status_bar(self, ui);
        panels::stack_panel(self, ui);
        inspector::inspector_panel(self, ui);
        let central_right = self.rt.central_right;
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
        self.schedule();
        let now = std::time::Instant::now();
        if let Some(wait) = self
            .rt
            .autosave
            .tick(&self.doc.network, self.doc.path.as_deref(), now)
        {
            ui.ctx().request_repaint_after(wait);
        }
        if let Some(e) = self.rt.autosave.error.take() {
            self.notify(e, true);
        }
        let idle =
            ui.ctx().input(|i| !i.pointer.any_down()) && ui.ctx().memory(|m| m.focused().is_none());
        if idle {
            self.doc.end_gesture();
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
        let view = cc.storage.and_then(|s| s.get_string(VIEW_KEY));
        let mut designer = Designer::with_autosave(autosave::default_location(), saved);
        let selected = designer.view.selected;
        designer.view = ViewSettings {
            selected,
            ..ViewSettings::restore(view.as_deref())
        };
        designer.rt.viewer.start_worker(&cc.egui_ctx);
        let ctx = cc.egui_ctx.clone();
        designer.rt.wake = Some(std::sync::Arc::new(move || ctx.request_repaint()));
        // `convscope MODEL`, `convscope IMAGE` or `convscope MODEL IMAGE`.
        for p in open {
            designer.apply(Command::OpenPath(p));
        }
        cc.egui_ctx.set_visuals(if designer.view.dark {
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
        storage.set_string(VIEW_KEY, self.designer.view.to_json());
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
