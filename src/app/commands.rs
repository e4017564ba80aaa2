//! Commands: everything that changes the document, or reaches outside the window
//! (files, dialogs), is a [`Command`], queued by panels and applied after drawing.
//! The menu commands carry their label, tooltip and shortcuts here, so the menus, the
//! keyboard and Help are made from one list (as rerun's `UICommand`).

use super::{Designer, IMAGE_EXTENSIONS, has_ext, is_image_file, read_limited};
use crate::engine::presets::Preset;
use crate::engine::weights::WeightPlan;
use crate::io::{self, config, python};
use crate::model::{Layer, Network};
use egui::{Key, KeyboardShortcut, Modifiers};
use std::path::{Path, PathBuf};

/// What a menu, shortcut or panel asks for; applied after drawing (one-way data flow).
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
    /// A bundled sample photo as the viewer's input.
    UseSample(usize),
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
    SelectPrevious,
    SelectNext,
    Move {
        from: usize,
        to: usize,
    },
    /// The inspector's edit of layer `index`'s arguments (kind, `trainable`).
    SetLayer {
        index: usize,
        layer: Box<Layer>,
    },
    Rename {
        index: usize,
        name: String,
    },
    /// Feeds layer `from`'s output into layer `to` as one more input (a Sequential
    /// design becomes Functional).
    Connect {
        from: usize,
        to: usize,
    },
    /// Stops feeding `from` into `to`.
    Disconnect {
        from: usize,
        to: usize,
    },
    /// The picked layers (Graph tab; else the selected one) to the clipboard.
    Copy,
    /// The clipboard's layers after the selection (fresh names, their wiring kept).
    Paste,
    /// A new layer of `class` on the wire from layer `from` into layer `to`.
    AddOnWire {
        class: &'static str,
        from: usize,
        to: usize,
    },
    /// A block's layers after the selection.
    AddBlock(Box<crate::model::blocks::Block>),
    /// Sequential (`false`) or Functional (`true`).
    SetFunctional(bool),
    /// Another model input (a Functional design), shaped as the first.
    AddInput,
    /// Keeps a copy of the design, its weights and activations as A (Compare tab).
    PinA,
    /// Drops design A.
    Unpin,
    /// Marks layer `index` as a model output or not.
    SetOutput {
        index: usize,
        on: bool,
    },
    /// New weights from the initializers for every layer (the next seed).
    ReinitialiseAll,
    /// New weights for one layer.
    ReinitialiseLayer(usize),
    /// Hand-made filters for a convolution (`None`: back to its initializer or file).
    SetPreset {
        index: usize,
        preset: Option<Preset>,
    },
}

const fn key(modifiers: Modifiers, key: Key) -> KeyboardShortcut {
    KeyboardShortcut::new(modifiers, key)
}

const CMD: Modifiers = Modifiers::COMMAND;
const CMD_SHIFT: Modifiers = Modifiers {
    shift: true,
    ..Modifiers::COMMAND
};

impl Command {
    /// The commands the File menu offers, in order.
    pub const FILE_MENU: &[Command] = &[
        Command::New,
        Command::Open,
        Command::Save,
        Command::SaveAs,
        Command::ExportPython,
        Command::ExportPytorch(None),
        Command::ExportDiagram(None),
        Command::ExportDiagramPng(None),
    ];
    /// The commands the Edit menu offers.
    pub const EDIT_MENU: &[Command] = &[
        Command::Undo,
        Command::Redo,
        Command::Copy,
        Command::Paste,
        Command::Duplicate,
        Command::Delete,
        Command::MoveUp,
        Command::MoveDown,
        Command::PinA,
    ];
    /// Every command with a keyboard shortcut, the ones with more modifiers first (so
    /// Ctrl+Shift+Z is not taken for Ctrl+Z).
    pub const WITH_SHORTCUTS: &[Command] = &[
        Command::Redo,
        Command::SaveAs,
        Command::Undo,
        Command::Save,
        Command::Open,
        Command::New,
        Command::Duplicate,
        Command::MoveUp,
        Command::MoveDown,
        Command::Delete,
        Command::SelectPrevious,
        Command::SelectNext,
    ];

    /// The text of its menu entry or button.
    pub fn label(&self) -> &'static str {
        match self {
            Command::New => "New",
            Command::Open => "Open…",
            Command::Save => "Save",
            Command::SaveAs => "Save As…",
            Command::ExportPython => "Export Keras Python…",
            Command::ExportPytorch(_) => "Export PyTorch…",
            Command::ExportDiagram(_) => "Export diagram (SVG)…",
            Command::ExportDiagramPng(_) => "Export diagram (PNG)…",
            Command::Undo => "Undo",
            Command::Redo => "Redo",
            Command::Duplicate => "Duplicate layer",
            Command::Copy => "Copy layers",
            Command::Paste => "Paste layers",
            Command::Delete => "Delete layer",
            Command::MoveUp => "Move layer up",
            Command::MoveDown => "Move layer down",
            Command::SelectPrevious => "Select the previous layer",
            Command::SelectNext => "Select the next layer",
            Command::OpenImage => "Open image…",
            Command::ReinitialiseAll => "Re-initialise all",
            Command::AddInput => "+ Input",
            Command::PinA => "Pin as A (compare)",
            Command::Unpin => "Unpin A",
            _ => "",
        }
    }

    /// What it does, for its tooltip and Help.
    pub fn tooltip(&self) -> &'static str {
        match self {
            Command::New => "A new design: a 28×28×1 input.",
            Command::Open => "Open a Keras model (.keras, .h5, config .json) or an image.",
            Command::Save => "Save the design (.keras with weights, or config .json).",
            Command::SaveAs => "Save the design under a new name.",
            Command::ExportPython => "Keras Python that builds this model.",
            Command::ExportPytorch(_) => {
                "An nn.Module computing the same function, with its weights."
            }
            Command::ExportDiagram(_) | Command::ExportDiagramPng(_) => {
                "The architecture as a picture: a box per layer with its shape and parameters."
            }
            Command::PinA => {
                "Keep this design, its weights and feature maps as A; edit it to make B, and \
                 see what changed on the Compare tab."
            }
            Command::AddInput => {
                "Another model input (keras.Input), shaped as the first: drag from its port \
                 to wire it; the viewer gives it the same image."
            }
            Command::Undo => "Undo the last change to the design.",
            Command::Redo => "Redo what was undone.",
            Command::Duplicate => "Duplicate the selected layer",
            Command::Delete => "Delete the selected layer",
            Command::MoveUp | Command::MoveDown => "Move the selected layer",
            Command::SelectPrevious | Command::SelectNext => "Select the previous / next layer",
            Command::ReinitialiseAll => {
                "Draw new weights for every layer from its initializer (next seed); presets are dropped."
            }
            _ => "",
        }
    }

    /// Its keyboard shortcuts (the first is the one shown).
    pub fn shortcuts(&self) -> &'static [KeyboardShortcut] {
        const UNDO: &[KeyboardShortcut] = &[key(CMD, Key::Z)];
        const REDO: &[KeyboardShortcut] = &[key(CMD_SHIFT, Key::Z), key(CMD, Key::Y)];
        const OPEN: &[KeyboardShortcut] = &[key(CMD, Key::O)];
        const SAVE: &[KeyboardShortcut] = &[key(CMD, Key::S)];
        const SAVE_AS: &[KeyboardShortcut] = &[key(CMD_SHIFT, Key::S)];
        const NEW: &[KeyboardShortcut] = &[key(CMD, Key::N)];
        const DUPLICATE: &[KeyboardShortcut] = &[key(CMD, Key::D)];
        const DELETE: &[KeyboardShortcut] = &[key(Modifiers::NONE, Key::Delete)];
        const UP: &[KeyboardShortcut] = &[key(Modifiers::ALT, Key::ArrowUp)];
        const DOWN: &[KeyboardShortcut] = &[key(Modifiers::ALT, Key::ArrowDown)];
        const PREV: &[KeyboardShortcut] = &[key(Modifiers::NONE, Key::ArrowUp)];
        const NEXT: &[KeyboardShortcut] = &[key(Modifiers::NONE, Key::ArrowDown)];
        match self {
            Command::Undo => UNDO,
            Command::Redo => REDO,
            Command::Open => OPEN,
            Command::Save => SAVE,
            Command::SaveAs => SAVE_AS,
            Command::New => NEW,
            Command::Duplicate => DUPLICATE,
            Command::Delete => DELETE,
            Command::MoveUp => UP,
            Command::MoveDown => DOWN,
            Command::SelectPrevious => PREV,
            Command::SelectNext => NEXT,
            _ => &[],
        }
    }

    /// Whether its shortcut would steal a key from a text field (it then waits until
    /// no field has focus).
    pub fn needs_idle_keyboard(&self) -> bool {
        matches!(
            self,
            Command::Delete | Command::SelectPrevious | Command::SelectNext
        )
    }
}

impl Designer {
    /// Queues a command to apply after this frame's drawing.
    pub fn command(&mut self, c: Command) {
        self.rt.pending.push(c);
    }

    /// Applies queued commands.
    pub fn apply_pending(&mut self) {
        for c in std::mem::take(&mut self.rt.pending) {
            self.apply(c);
        }
    }

    /// The layers picked on the Graph tab (positions), or the selected one.
    fn picked_or_selected(&self) -> Vec<usize> {
        let net = &self.doc.network;
        let picked: Vec<usize> = self
            .rt
            .graph
            .picked
            .iter()
            .filter_map(|&id| net.index_of(id))
            .collect();
        if picked.is_empty() {
            vec![self.view.selected.min(net.len().saturating_sub(1))]
        } else {
            picked
        }
    }

    /// Makes the analysis follow the document.
    fn refresh(&mut self) {
        self.rt.analysis = self.doc.network.analyze();
        let n = self.doc.network.len();
        self.view.selected = self.view.selected.min(n.saturating_sub(1));
    }

    /// Changes the network (with undo history); the analysis follows.
    pub fn edit(&mut self, f: impl FnOnce(&mut Network)) {
        if self.doc.edit(f) {
            self.refresh();
        }
    }

    /// A structural edit that Keras (or the graph) may refuse: refused, it says why.
    fn structural<T>(
        &mut self,
        f: impl FnOnce(&mut Network) -> Result<T, crate::model::GraphError>,
    ) -> Option<T> {
        match self.doc.try_edit(f) {
            Ok(v) => {
                self.refresh();
                Some(v)
            }
            Err(e) => {
                self.notify(e.to_string(), true);
                None
            }
        }
    }

    fn replace(&mut self, network: Network, path: Option<PathBuf>, weights: WeightPlan) {
        self.doc.replace(network, path, weights);
        // A big model opens on the Graph tab collapsed by stage (ResNet50: conv1 ...
        // conv5); a small one fully drawn.
        if self.doc.network.len() > 60 {
            self.rt.graph.collapse_stages(&self.doc.network);
        } else {
            self.rt.graph.collapsed.clear();
        }
        self.view.graph_moved.clear();
        self.rt.graph.custom.clear();
        // The new document's own grouping, saved from the next frame on.
        self.rt.graph.restored = true;
        self.view
            .graph_collapsed
            .clone_from(&self.rt.graph.collapsed);
        self.view.graph_groups.clear();
        self.rt.graph.picked.clear();
        self.view.selected = 1;
        self.view.focus = None;
        self.rt.viewer.reset();
        self.refresh();
    }

    pub fn apply(&mut self, c: Command) {
        self.doc.end_gesture();
        let n = self.doc.network.len();
        let selected = self.view.selected;
        match c {
            Command::New => {
                self.replace(
                    Network::sequential("sequential", &[28, 28, 1]),
                    None,
                    WeightPlan::default(),
                );
                self.notify(
                    "New design: a 28×28×1 input. Add layers from the palette.",
                    false,
                );
            }
            Command::Open => {
                let filters = [
                    ("Keras model", &["keras", "h5", "json"][..]),
                    ("Image (viewer input)", &IMAGE_EXTENSIONS[..]),
                ];
                if let Some(p) = self.open_dialog(&filters) {
                    self.apply(Command::OpenPath(p));
                }
            }
            Command::OpenPath(p) => self.open_path(&p),
            Command::Save => match self.doc.path.clone() {
                Some(p) if has_ext(&p, "json") || has_ext(&p, "keras") => {
                    self.apply(Command::SaveTo(p))
                }
                _ => self.apply(Command::SaveAs),
            },
            Command::SaveAs => {
                // A design with weights from a file saves as .keras (weights included).
                let keras = ("Keras model with weights", &["keras"][..]);
                let json = ("Keras config JSON", &["json"][..]);
                let (filters, ext) = if self.doc.from_file {
                    ([keras, json], "keras")
                } else {
                    ([json, keras], "json")
                };
                let name = format!("{}.{ext}", self.doc.network.name);
                if let Some(p) = self.save_dialog(&filters, name, "saved", "Save to path") {
                    self.apply(Command::SaveTo(p));
                }
            }
            Command::SaveTo(p) => {
                let bytes = if has_ext(&p, "keras") {
                    self.weights_in_use()
                        .and_then(|w| io::keras_write::write_keras(&self.doc.network, &w))
                } else {
                    Ok(config::to_json_string(&self.doc.network).into_bytes())
                };
                match bytes
                    .and_then(|b| io::write_atomic(&p, &b).map_err(|e| io::describe_io_error(&e)))
                {
                    Ok(()) => {
                        self.notify(format!("Saved {}", p.display()), false);
                        self.doc.path = Some(p);
                    }
                    Err(e) => self.notify(
                        format!(
                            "Could not save {}: {e}. Your design is still here, unsaved.",
                            p.display()
                        ),
                        true,
                    ),
                }
            }
            Command::ExportPython => self.export_python(None),
            Command::ExportPythonTo(p) => self.export_python(Some(p)),
            Command::OpenImage => {
                if let Some(p) = self.open_dialog(&[("Image", &IMAGE_EXTENSIONS[..])]) {
                    self.apply(Command::OpenPath(p));
                }
            }
            Command::UseSample(k) => {
                if let Some((name, bytes)) = super::viewer::SAMPLES.get(k) {
                    self.rt.viewer.set_image(*name, bytes.to_vec());
                }
            }
            Command::ExportGrid(p) => {
                let name = format!("{}_grid.png", self.selected_name());
                self.export(p, "png", "grid", name, |d| {
                    let i = d.view.selected;
                    d.rt.viewer
                        .grid_picture(&d.view, &d.doc.network, i)?
                        .to_png()
                })
            }
            Command::ExportMap(p) => {
                let k = self.view.focus.unwrap_or(0);
                let name = format!("{}_ch{k}.png", self.selected_name());
                self.export(p, "png", "map", name, |d| {
                    let i = d.view.selected;
                    let k = d
                        .view
                        .focus
                        .ok_or("click a tile first: no channel is magnified")?;
                    d.rt.viewer
                        .map_picture(&d.view, &d.doc.network, i, k)?
                        .to_png()
                })
            }
            Command::ExportDiagram(p) => {
                let name = format!("{}.svg", self.doc.network.name);
                self.export(p, "svg", "diagram", name, |d| {
                    Ok(io::diagram::to_svg(&d.doc.network, &d.rt.analysis).into_bytes())
                })
            }
            Command::ExportDiagramPng(p) => {
                let name = format!("{}.png", self.doc.network.name);
                self.export(p, "png", "diagram", name, |d| {
                    io::diagram::to_png(&d.doc.network, &d.rt.analysis, 2.0)
                })
            }
            Command::ExportPytorch(p) => self.export_pytorch(p),
            Command::ExportAllNpz(p) => {
                let name = format!("{}_activations.npz", self.doc.network.name);
                self.export(p, "npz", "every layer's activations", name, |d| {
                    d.rt.viewer.all_activations_npz(&d.doc.network)
                })
            }
            Command::ExportNpy(p) => {
                let name = format!("{}.npy", self.selected_name());
                self.export(p, "npy", "activations", name, |d| {
                    d.rt.viewer.activations_npy(d.view.selected)
                })
            }
            Command::Undo => {
                if self.doc.undo() {
                    self.refresh();
                }
            }
            Command::Redo => {
                if self.doc.redo() {
                    self.refresh();
                }
            }
            Command::Delete => {
                let picked = self.picked_or_selected();
                if picked.len() > 1 {
                    // Every picked layer, last first, as one step (or none of them).
                    let done = self.structural(|net| {
                        let mut sorted = picked.clone();
                        sorted.sort_unstable();
                        for &i in sorted.iter().rev() {
                            net.remove(i)?;
                        }
                        Ok::<_, crate::model::GraphError>(sorted.len())
                    });
                    if let Some(k) = done {
                        self.rt.graph.picked.clear();
                        self.notify(format!("Deleted {k} layers."), false);
                    }
                } else if selected >= 1 && selected < n {
                    self.structural(|net| net.remove(selected));
                }
            }
            Command::Duplicate => {
                let picked = self.picked_or_selected();
                let copy = (picked.len() > 1)
                    .then(|| crate::model::blocks::Expansion::copy_of(&self.doc.network, &picked))
                    .flatten();
                if let Some(e) = copy {
                    // Several picked layers: a copy of them (their wiring kept) after the
                    // last, fed by it.
                    let after = picked.iter().copied().max().unwrap_or(selected);
                    let e = e.renamed_for(&self.doc.network);
                    if let Some(r) = self.structural(|net| net.insert_block(after, e)) {
                        self.view.selected = r.end.saturating_sub(1);
                    }
                } else if let Some(at) = self.structural(|net| net.duplicate(selected)) {
                    self.view.selected = at;
                }
            }
            Command::MoveUp => {
                if selected >= 2 && selected < n {
                    self.apply(Command::Move {
                        from: selected,
                        to: selected - 1,
                    });
                }
            }
            Command::MoveDown => {
                if selected >= 1 && selected + 1 < n {
                    self.apply(Command::Move {
                        from: selected,
                        to: selected + 1,
                    });
                }
            }
            Command::Move { from, to } => {
                if from != to && self.structural(|net| net.move_layer(from, to)).is_some() {
                    self.view.selected = to;
                }
            }
            Command::Add(class) => {
                let after = selected.min(n.saturating_sub(1));
                let name = self.doc.network.unique_name(class);
                match Layer::new(class, name) {
                    Some(layer) => {
                        // A merge makes the design a graph.
                        let merge = layer.kind.facts().takes_list && !self.doc.network.functional;
                        if let Some(at) = self.structural(|net| {
                            if merge {
                                net.set_functional(true)?;
                            }
                            net.insert_after(after, layer)
                        }) {
                            self.view.selected = at;
                            if merge {
                                self.notify(
                                    format!(
                                        "The design is now Functional (a graph): connect the \
                                         {class}'s other inputs in the inspector or on the Graph tab."
                                    ),
                                    false,
                                );
                            }
                        }
                    }
                    None => self.notify(format!("Unknown layer class {class}"), true),
                }
            }
            Command::Select(i) => {
                if i < n {
                    self.view.selected = i;
                }
            }
            Command::SelectPrevious => self.view.selected = selected.saturating_sub(1),
            Command::SelectNext => self.view.selected = (selected + 1).min(n.saturating_sub(1)),
            Command::SetLayer { index, layer } => {
                self.edit(|net| {
                    if index < net.len() {
                        let l = net.layer_mut(index);
                        l.kind = layer.kind;
                        l.trainable = layer.trainable;
                        l.construct_error = None;
                    }
                });
            }
            Command::Rename { index, name } => {
                if self
                    .doc
                    .network
                    .layers()
                    .get(index)
                    .is_some_and(|l| l.name != name)
                {
                    self.structural(|net| net.rename(index, &name));
                }
            }
            Command::Connect { from, to } => {
                let id = self.doc.network.layers().get(selected).map(|l| l.id());
                let was_sequential = !self.doc.network.functional;
                let done = self.structural(|net| {
                    net.set_functional(true)?;
                    net.connect(from, to, false)
                });
                if done.is_some() && was_sequential {
                    self.notify(
                        "The design is now Functional (a graph): layers can branch and merge.",
                        false,
                    );
                }
                // Connecting may reorder layers: the selection follows its layer.
                if let Some(i) = id.and_then(|id| self.doc.network.index_of(id)) {
                    self.view.selected = i;
                }
            }
            Command::Copy => {
                let picked = self.picked_or_selected();
                match crate::model::blocks::Expansion::copy_of(&self.doc.network, &picked) {
                    Some(e) => {
                        let n = e.layers.len();
                        self.rt.clipboard = Some(e);
                        self.notify(
                            format!("Copied {n} layer{}.", if n == 1 { "" } else { "s" }),
                            false,
                        );
                    }
                    None => self.notify("Nothing to copy: the input layer is not copied.", true),
                }
            }
            Command::Paste => match self.rt.clipboard.clone() {
                None => self.notify("Nothing to paste: copy layers first.", true),
                Some(e) => {
                    let after = selected.min(n.saturating_sub(1));
                    let e = e.renamed_for(&self.doc.network);
                    let count = e.layers.len();
                    if let Some(r) = self.structural(|net| net.insert_block(after, e)) {
                        self.view.selected = r.end.saturating_sub(1);
                        self.notify(format!("Pasted {count} layers."), false);
                    }
                }
            },
            Command::AddOnWire { class, from, to } => {
                let name = self.doc.network.unique_name(class);
                match Layer::new(class, name) {
                    Some(layer) => {
                        if let Some(at) = self.structural(|net| net.insert_between(from, to, layer))
                        {
                            self.view.selected = at;
                        }
                    }
                    None => self.notify(format!("Unknown layer class {class}"), true),
                }
            }
            Command::AddBlock(block) => {
                let after = selected.min(n.saturating_sub(1));
                let input = self
                    .rt
                    .analysis
                    .layers
                    .get(after)
                    .and_then(|r| r.output_shape.clone());
                match input
                    .ok_or_else(|| {
                        "the selected layer has no output shape (fix it first)".to_string()
                    })
                    .and_then(|input| Ok((block.expand(&self.doc.network, &input)?, input)))
                {
                    Ok((e, input)) => {
                        let count = e.layers.len();
                        if let Some(r) = self.structural(|net| net.insert_block(after, e)) {
                            self.view.selected = r.end.saturating_sub(1);
                            self.notify(
                                format!("Inserted {} ({count} layers).", block.name),
                                false,
                            );
                            // The palette's next block of this kind gets the next name.
                            if let Some(b) = &mut self.rt.block {
                                b.name = b.free_name(&self.doc.network, &input);
                            }
                        }
                    }
                    Err(e) => self.notify(format!("Cannot insert {}: {e}", block.name), true),
                }
            }
            Command::Disconnect { from, to } => {
                self.structural(|net| net.disconnect(from, to));
            }
            Command::SetFunctional(on) => {
                self.structural(|net| net.set_functional(on));
            }
            Command::PinA => {
                self.rt
                    .compare
                    .pin(&self.doc.network, &self.rt.analysis, &self.rt.viewer);
                self.view.tab = super::Tab::Compare;
                self.notify(
                    "Pinned the design as A: edit it to make B; the Compare tab shows what changed.",
                    false,
                );
            }
            Command::Unpin => self.rt.compare.unpin(),
            Command::AddInput => {
                let layer = self.doc.network.another_input();
                if let Some(at) = self.structural(|net| net.add_input(layer)) {
                    self.view.selected = at;
                }
            }
            Command::SetOutput { index, on } => {
                self.structural(|net| net.set_output(index, on));
            }
            Command::ReinitialiseAll => {
                let w = &mut self.doc.weights;
                w.seed = w.seed.wrapping_add(1);
                w.loaded.clear();
                w.presets.clear();
            }
            Command::ReinitialiseLayer(i) => {
                if let Some(id) = self.doc.network.layers().get(i).map(|l| l.id()) {
                    let w = &mut self.doc.weights;
                    *w.bumps.entry(id).or_insert(0) += 1;
                    w.presets.remove(&id);
                    w.loaded.remove(&id);
                }
            }
            Command::SetPreset { index, preset } => {
                if let Some(id) = self.doc.network.layers().get(index).map(|l| l.id()) {
                    match preset {
                        Some(p) => self.doc.weights.presets.insert(id, p),
                        None => self.doc.weights.presets.remove(&id),
                    };
                }
            }
        }
        self.doc.end_gesture();
    }

    /// The weights the design runs with now (what Save writes into `.keras`): the ones
    /// the last run used where they are still current, the plan's otherwise — the same
    /// resolution the worker makes.
    pub fn weights_in_use(&self) -> Result<Vec<crate::engine::LayerWeights>, String> {
        self.rt
            .viewer
            .weights_for(&self.doc.network, &self.rt.analysis, &self.doc.weights)
    }

    /// The selected layer's name (for suggested file names).
    fn selected_name(&self) -> String {
        self.doc
            .network
            .layers()
            .get(self.view.selected)
            .map_or("layer".to_string(), |l| l.name.clone())
    }

    /// A file to open, from the system's dialog (or a note on what to do without one).
    fn open_dialog(&mut self, filters: &[(&str, &[&str])]) -> Option<PathBuf> {
        let dialog = filters
            .iter()
            .fold(rfd::FileDialog::new(), |d, (name, exts)| {
                d.add_filter(*name, exts)
            });
        let p = dialog.pick_file();
        if p.is_none() {
            self.notify(
                "No file chosen. If no dialog appeared (no desktop portal), type a path in File > Path and press Open path.",
                false,
            );
        }
        p
    }

    /// Where to save, from the system's dialog (or a note naming the `button` of File >
    /// Path that does the same without one). `what`: "saved", "exported".
    fn save_dialog(
        &mut self,
        filters: &[(&str, &[&str])],
        file_name: String,
        what: &str,
        button: &str,
    ) -> Option<PathBuf> {
        let dialog = filters
            .iter()
            .fold(rfd::FileDialog::new(), |d, (name, exts)| {
                d.add_filter(*name, exts)
            });
        let p = dialog.set_file_name(file_name).save_file();
        if p.is_none() {
            self.notify(
                format!(
                    "Not {what}. If no dialog appeared (no desktop portal), type a path in File > Path and press {button}."
                ),
                false,
            );
        }
        p
    }

    /// Writes what `make` produces to `path` (asking with a save dialog suggesting
    /// `file_name` when `None`), and says how it went.
    fn export(
        &mut self,
        path: Option<PathBuf>,
        ext: &str,
        what: &str,
        file_name: String,
        make: impl FnOnce(&mut Designer) -> Result<Vec<u8>, String>,
    ) {
        let filter = [(&ext.to_uppercase()[..], &[ext][..])];
        let button = format!("Export {what} to path");
        let Some(path) = path.or_else(|| self.save_dialog(&filter, file_name, "exported", &button))
        else {
            return;
        };
        match make(self).and_then(|bytes| {
            io::write_atomic(&path, &bytes).map_err(|e| io::describe_io_error(&e))
        }) {
            Ok(()) => self.notify(format!("Exported the {what} to {}", path.display()), false),
            Err(e) => self.notify(
                format!("Could not export the {what} to {}: {e}", path.display()),
                true,
            ),
        }
    }

    /// Keras Python to `path` (a save dialog when `None`).
    fn export_python(&mut self, path: Option<PathBuf>) {
        let name = format!("{}.py", self.doc.network.name);
        self.export(path, "py", "Keras Python", name, |d| {
            Ok(python::to_python(&d.doc.network).into_bytes())
        })
    }

    /// PyTorch code to `path` (a save dialog when `None`) and the weights in use (from
    /// the file or the initializers) beside it as `.npz`.
    fn export_pytorch(&mut self, path: Option<PathBuf>) {
        let name = format!("{}_torch.py", self.doc.network.name);
        let filter = [("Python (PyTorch)", &["py"][..])];
        let Some(path) =
            path.or_else(|| self.save_dialog(&filter, name, "exported", "Export PyTorch to path"))
        else {
            return;
        };
        let net = &self.doc.network;
        let result = io::pytorch::to_pytorch(net, &self.rt.analysis).and_then(|code| {
            let w = self.weights_in_use()?;
            io::pytorch::write_export(&path, &code, net, &w)
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
            match read_limited(p, super::MAX_IMAGE_FILE_BYTES) {
                Ok(bytes) => {
                    let name = p
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_else(|| p.display().to_string());
                    self.rt.viewer.set_image(name, bytes);
                    self.view.tab = super::Tab::FeatureMaps;
                    // Decoded now (once): a broken image is reported at once and the
                    // previous input stays.
                    let checked = if self.rt.analysis.first_error.is_none() {
                        self.rt
                            .viewer
                            .prepare_now(&self.doc.network, &self.rt.analysis, &self.view)
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
        if let Some(l) = &self.rt.loading {
            // One open at a time: this one follows when the file being read is in.
            let note = format!("{} opens when {} is read.", p.display(), l.file_name());
            self.rt
                .after_loading
                .push(Command::OpenPath(p.to_path_buf()));
            return self.notify(note, false);
        }
        match &self.rt.wake {
            Some(wake) => {
                let wake = wake.clone();
                match super::loader::Loading::start(p.to_path_buf(), move || wake()) {
                    Ok(l) => self.rt.loading = Some(l),
                    Err(e) => self.notify(format!("Could not open {}: {e}", p.display()), true),
                }
            }
            None => {
                let opened = super::loader::open(p, &crate::progress::Progress::new());
                self.finish_open(p, opened);
            }
        }
    }

    /// Takes a model file read by [`super::loader`]: it becomes the design (one undo
    /// step), with the file's weights for the viewer when they could be read.
    pub(super) fn finish_open(&mut self, p: &Path, opened: Result<super::loader::Opened, String>) {
        let super::loader::Opened {
            model: m,
            analysis: a,
            weights: w,
        } = match opened {
            Ok(o) => o,
            Err(e) => {
                return self.notify(
                    format!(
                        "Could not open {}: {e}. Your design is unchanged.",
                        p.display()
                    ),
                    true,
                );
            }
        };
        let mut weight_note = String::new();
        let plan = match w {
            Some(Ok(w)) => WeightPlan::from_file(&m.network, w),
            Some(Err(e)) => {
                weight_note = format!(" (weights not used: {e})");
                WeightPlan::default()
            }
            None => WeightPlan::default(),
        };
        let origin = m
            .provenance
            .describe()
            .map_or(String::new(), |o| format!(" ({o})"));
        let msg = match a.error(&m.network) {
            Some(e) => format!(
                "Opened {}{origin} — Keras would reject it: {e}",
                p.display()
            ),
            None => format!("Opened {}{origin}", p.display()),
        };
        let saveable = has_ext(p, "json") || has_ext(p, "keras");
        // Legacy .h5 files are not overwritten by Save (convscope writes .keras).
        let path = saveable.then(|| p.to_path_buf());
        self.replace(m.network, path, plan);
        let err = a.first_error.is_some() || !weight_note.is_empty();
        self.notify(format!("{msg}{weight_note}"), err);
    }
}
