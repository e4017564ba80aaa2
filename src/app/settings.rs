//! View settings: how the design is shown, never what it is. Panels write them directly
//! (they are not undoable); the persistent part is stored by eframe between sessions.

use crate::io::image::{Preprocess, ResizeMode};
use crate::viz::{Colormap, Norm, Order};
use serde::{Deserialize, Serialize};

/// What the central area shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Tab {
    Summary,
    FeatureMaps,
    /// The network as a graph on a pan/zoom canvas.
    Graph,
    /// Design A (pinned) against the design now.
    Compare,
    /// The selected layer's sliding window on its own numbers.
    Arithmetic,
    /// Attribution maps of the last run: why the network decides.
    Explain,
}

/// What the feature-map area shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Pane {
    Maps,
    Statistics,
    Kernels,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ViewSettings {
    pub tab: Tab,
    pub dark: bool,
    /// Square lock for pair fields (kernel 3x3 lock).
    pub lock_square: bool,
    pub colormap: Colormap,
    pub norm: Norm,
    /// The range used by the fixed normalisation (kept while another one is chosen).
    pub fixed: (f32, f32),
    pub order: Order,
    pub dead_only: bool,
    pub tile: f32,
    pub pane: Pane,
    pub preprocess: Preprocess,
    pub resize: ResizeMode,
    /// Graph cards moved by hand: layer name -> centre on the canvas (scene units).
    pub graph_moved: std::collections::BTreeMap<String, [f32; 2]>,
    /// The graph's collapsed groups (name prefixes or the user's own groups' names).
    pub graph_collapsed: std::collections::BTreeSet<String>,
    /// Groups made by the user: group name -> its layers' names.
    pub graph_groups: std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
    /// The selected layer (position).
    #[serde(skip)]
    pub selected: usize,
    /// The channel shown magnified, if any.
    #[serde(skip)]
    pub focus: Option<usize>,
    /// Magnified view: zoom (1 = fit) and the map point at the view's centre.
    #[serde(skip)]
    pub zoom: f32,
    #[serde(skip)]
    pub center: Option<egui::Vec2>,
    /// Path typed by hand when no file dialog is available.
    #[serde(skip)]
    pub path_field: String,
    /// A layer name being typed (layer position, text), renamed when the field is left.
    #[serde(skip)]
    pub name_buffer: Option<(usize, String)>,
}

impl Default for ViewSettings {
    fn default() -> Self {
        ViewSettings {
            tab: Tab::FeatureMaps,
            dark: true,
            lock_square: true,
            colormap: Colormap::Viridis,
            norm: Norm::PerChannel,
            fixed: (0.0, 1.0),
            order: Order::Index,
            dead_only: false,
            tile: 72.0,
            pane: Pane::Maps,
            preprocess: Preprocess::Unit,
            resize: ResizeMode::Stretch,
            graph_moved: Default::default(),
            graph_collapsed: Default::default(),
            graph_groups: Default::default(),
            selected: 1,
            focus: None,
            zoom: 1.0,
            center: None,
            path_field: String::new(),
            name_buffer: None,
        }
    }
}

impl ViewSettings {
    /// Settings saved by an earlier session (defaults where missing or unreadable).
    pub fn restore(saved: Option<&str>) -> ViewSettings {
        saved
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_default()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}
