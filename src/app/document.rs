//! The document: the design being edited (the network), where it came from, the weights
//! plan (file arrays, seed, presets), and the undo history. Only
//! [`super::Designer::apply`] changes it, through the methods here.

use crate::engine::weights::WeightPlan;
use crate::model::Network;
use std::path::PathBuf;

pub struct Document {
    pub network: Network,
    /// The file the design came from or was saved to.
    pub path: Option<PathBuf>,
    /// Where each layer's weights come from.
    pub weights: WeightPlan,
    /// The weights came from the opened `.keras`/`.h5` (Save then writes `.keras`).
    pub from_file: bool,
    undo: Vec<Network>,
    redo: Vec<Network>,
    /// An edit gesture (a drag, or typing into a field) in progress: one undo step.
    gesture_open: bool,
}

impl Document {
    pub fn new(network: Network) -> Document {
        Document {
            network,
            path: None,
            weights: WeightPlan::default(),
            from_file: false,
            undo: Vec::new(),
            redo: Vec::new(),
            gesture_open: false,
        }
    }

    /// Changes the network with undo history; edits within one gesture make one undo
    /// step. Returns whether anything changed.
    pub fn edit(&mut self, f: impl FnOnce(&mut Network)) -> bool {
        let before = self.network.clone();
        f(&mut self.network);
        if self.network == before {
            return false;
        }
        if !self.gesture_open {
            self.undo.push(before);
            self.redo.clear();
            self.gesture_open = true;
        }
        true
    }

    /// Like [`Document::edit`] for an edit that may be refused (the network stays as
    /// it was then).
    pub fn try_edit<T, E>(&mut self, f: impl FnOnce(&mut Network) -> Result<T, E>) -> Result<T, E> {
        let mut next = self.network.clone();
        let out = f(&mut next)?;
        self.edit(|net| *net = next);
        Ok(out)
    }

    /// Ends the edit gesture in progress (no pointer down, no field focused).
    pub fn end_gesture(&mut self) {
        self.gesture_open = false;
    }

    /// Replaces the whole design (New, Open) as one undo step.
    pub fn replace(&mut self, network: Network, path: Option<PathBuf>, weights: WeightPlan) {
        self.gesture_open = false;
        let old = std::mem::replace(&mut self.network, network);
        self.network.reserve_ids_of(&old);
        self.undo.push(old);
        self.redo.clear();
        self.path = path;
        self.from_file = !weights.loaded.is_empty();
        self.weights = weights;
    }

    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }

    pub fn undo(&mut self) -> bool {
        Document::step(
            &mut self.network,
            &mut self.undo,
            &mut self.redo,
            &mut self.gesture_open,
        )
    }

    pub fn redo(&mut self) -> bool {
        Document::step(
            &mut self.network,
            &mut self.redo,
            &mut self.undo,
            &mut self.gesture_open,
        )
    }

    /// Takes the network from the top of `from`, keeping the current one on `to`.
    fn step(
        network: &mut Network,
        from: &mut Vec<Network>,
        to: &mut Vec<Network>,
        gesture_open: &mut bool,
    ) -> bool {
        *gesture_open = false;
        let Some(mut next) = from.pop() else {
            return false;
        };
        // Ids used by the network being left are never handed out again.
        next.reserve_ids_of(network);
        to.push(std::mem::replace(network, next));
        true
    }
}
