//! The "Graph" tab: the network drawn as a graph on a pan/zoom canvas (egui's `Scene`).
//! Each layer is a card — name, class and key arguments, output shape and parameters as
//! Keras computes them, its run time — coloured by family as the diagram export is, red
//! with Keras's message when Keras rejects it; each input is a curve from the producer's
//! bottom to the consumer's top, labelled with the tensor's shape. A click selects the
//! layer (the inspector edits it, the Feature maps tab shows it); a drag moves its card,
//! which keeps its place (saved with the view settings) until "Re-layout". The layout
//! ([`crate::model::layout`]) is remade only when the wiring changes, so cards stay put
//! while arguments are edited.
//!
//! Groups of layers sharing a name prefix (ResNet's `conv3`, `conv3_block2`) collapse
//! into one card with the group's input and output shapes, parameters and MACs
//! ([`crate::model::groups`]); a model opened from a file starts collapsed by stage.

use super::panels::{PaletteItem, RED, shape_text};
use super::{Command, Designer};
use crate::io::diagram::clip;
use crate::keras::pyfmt::{short_count, thousands};
use crate::model::groups::{self, Node, ViewGraph};
use crate::model::layout::Layout;
use egui::{Color32, CornerRadius, Pos2, Rect, Sense, Stroke, StrokeKind, Vec2, pos2, vec2};
use std::collections::BTreeSet;

/// A card's size on the canvas (scene units) and the gap between cards.
pub const NODE: [f32; 2] = [280.0, 70.0];
pub const SPACING: f32 = 36.0;
/// A port's radius.
const PORT: f32 = 5.0;

/// The drag payload of a wire being drawn: the layer whose output it carries.
#[derive(Clone, Copy)]
struct Port(usize);

/// How near (scene units) a dropped palette item must be to a wire to land on it.
const WIRE_REACH: f32 = 14.0;

/// The points of a wire's curve from `a` (bottom of a card) to `b` (top of another).
fn wire_points(a: Pos2, b: Pos2) -> [Pos2; 4] {
    let bend = ((b.y - a.y).abs() * 0.5).max(20.0);
    [a, a + vec2(0.0, bend), b - vec2(0.0, bend), b]
}

/// Distance from `p` to the curve through `points` (sampled).
fn distance_to_curve(points: [Pos2; 4], p: Pos2) -> f32 {
    let curve = egui::epaint::CubicBezierShape::from_points_stroke(
        points,
        false,
        Color32::TRANSPARENT,
        Stroke::NONE,
    );
    (0..=24)
        .map(|k| curve.sample(k as f32 / 24.0).distance(p))
        .fold(f32::INFINITY, f32::min)
}

/// What the canvas keeps between frames.
pub struct GraphView {
    layout: Option<Layout>,
    view: Option<ViewGraph>,
    /// The groups to draw collapsed (name prefixes, or the names of `custom` groups).
    pub collapsed: BTreeSet<String>,
    /// Groups made by the user from picked layers (name -> layers).
    pub custom: std::collections::BTreeMap<String, BTreeSet<crate::model::LayerId>>,
    /// The part of the scene in view (panned and zoomed by the user).
    pub scene: Rect,
    /// The selection the view last followed: a layer selected elsewhere (the stack, the
    /// keyboard) is brought into view.
    followed: Option<usize>,
    /// Bring the selection into view on the next frame (the drawing was regrouped).
    refocus: bool,
    /// Scene to screen, as last drawn (widgets inside a scene report scene positions).
    pub to_screen: Option<egui::emath::TSTransform>,
    /// Layers picked together (Ctrl+click, Shift+drag a box) for Copy and Delete.
    pub picked: BTreeSet<crate::model::LayerId>,
    /// Where a Shift+drag box selection started (scene units).
    boxing: Option<Pos2>,
    /// The collapsed and user groups are this document's own (opened from a file, or
    /// taken from the saved view settings once): later frames save them there.
    pub restored: bool,
}

impl Default for GraphView {
    fn default() -> Self {
        GraphView {
            layout: None,
            view: None,
            collapsed: BTreeSet::new(),
            custom: Default::default(),
            scene: Rect::NOTHING,
            followed: None,
            refocus: false,
            to_screen: None,
            picked: BTreeSet::new(),
            boxing: None,
            restored: false,
        }
    }
}

impl GraphView {
    /// The layout last drawn (one centre per node of [`GraphView::view`]; with nothing
    /// collapsed, per layer).
    pub fn layout(&self) -> Option<&Layout> {
        self.layout.as_ref()
    }

    /// The drawing's nodes last drawn.
    pub fn view(&self) -> Option<&ViewGraph> {
        self.view.as_ref()
    }

    /// Collapses `net`'s stages (ResNet50: conv1, pool1, conv2 ... conv5), nothing else.
    pub fn collapse_stages(&mut self, net: &crate::model::Network) {
        self.collapsed = groups::stages(net).into_iter().collect();
    }

    /// Remakes the layout when the wiring of `net` or the collapsed groups changed.
    fn refresh(&mut self, net: &crate::model::Network) {
        let rewired = self.layout.as_ref().is_none_or(|l| !l.drawn_for(net));
        let regrouped = self
            .view
            .as_ref()
            .is_none_or(|v| v.collapsed != self.collapsed);
        if rewired || regrouped {
            let view = ViewGraph::with_groups(net, &self.collapsed, &self.custom);
            // Groups that no longer apply (renamed, split) are forgotten.
            self.collapsed.clone_from(&view.collapsed);
            self.layout = Some(Layout::of_view(net, &view, NODE, SPACING));
            self.view = Some(view);
            if rewired {
                // Show the new drawing's top.
                self.scene = Rect::NOTHING;
            } else {
                // Regrouped: the selection's card is brought into view.
                self.refocus = true;
            }
        }
    }
}

/// Takes the groups the saved view settings hold for this design (once), and writes the
/// canvas's back to them, by layer name (ids are not kept between sessions).
fn keep_groups(d: &mut Designer) {
    let net = &d.doc.network;
    let g = &mut d.rt.graph;
    if !g.restored {
        g.restored = true;
        g.custom = d
            .view
            .graph_groups
            .iter()
            .map(|(name, members)| {
                let ids = members
                    .iter()
                    .filter_map(|m| net.find(m).map(|i| net.layers()[i].id()))
                    .collect();
                (name.clone(), ids)
            })
            .collect();
        g.collapsed.clone_from(&d.view.graph_collapsed);
        return;
    }
    if d.view.graph_collapsed != g.collapsed {
        d.view.graph_collapsed.clone_from(&g.collapsed);
    }
    let by_name: std::collections::BTreeMap<String, BTreeSet<String>> = g
        .custom
        .iter()
        .map(|(name, ids)| {
            let names = ids
                .iter()
                .filter_map(|&id| net.index_of(id).map(|i| net.layers()[i].name.clone()))
                .collect();
            (name.clone(), names)
        })
        .collect();
    if d.view.graph_groups != by_name {
        d.view.graph_groups = by_name;
    }
}

/// The central "Graph" view.
pub fn graph_panel(d: &mut Designer, ui: &mut egui::Ui) {
    keep_groups(d);
    let mut fit = false;
    ui.horizontal_wrapped(|ui| {
        ui.label("Pan: drag · Zoom: Ctrl + scroll · Select: click, arrow keys")
            .on_hover_text(
                "Drag the background to pan; Ctrl + scroll or pinch to zoom. Click a layer to \
                 select it; left and right arrows move along a row, up and down through the \
                 model's order. Drag a card to move it; drag from its bottom port onto \
                 another card to connect them; drop a quick-add button on a wire to insert \
                 the layer there. Ctrl + click or Shift + drag a box picks several layers \
                 for Ctrl+C / Ctrl+V and Delete. Right-click a card to collapse its block.",
            );
        fit = ui
            .button("Fit")
            .on_hover_text("Show the whole graph.")
            .clicked();
        if ui
            .button("Collapse stages")
            .on_hover_text(
                "Draw each stage (layers sharing a name prefix: conv2, conv3, ... in ResNet50) \
                 as one card.",
            )
            .clicked()
        {
            d.rt.graph.collapse_stages(&d.doc.network);
        }
        // The selected layer's groups, to collapse; the collapsed group it is in, to
        // expand.
        let net = &d.doc.network;
        let sel = d.view.selected;
        let l = ui.label("Collapse:");
        egui::ComboBox::from_id_salt("collapse_group")
            .selected_text("group…")
            .show_ui(ui, |ui| {
                for (prefix, count) in groups::groups_of(net, sel) {
                    if ui
                        .selectable_label(false, format!("{prefix} ({count} layers)"))
                        .clicked()
                    {
                        d.rt.graph.collapsed.insert(prefix);
                    }
                }
            })
            .response
            .labelled_by(l.id)
            .on_hover_text(
                "Draw a group of the selected layer (layers sharing a name prefix) as one card.",
            );
        let (name, id) = net
            .layers()
            .get(sel)
            .map_or(("", None), |l| (l.name.as_str(), Some(l.id())));
        let open: Option<String> =
            d.rt.graph
                .collapsed
                .iter()
                .find(|p| match d.rt.graph.custom.get(*p) {
                    Some(ids) => id.is_some_and(|id| ids.contains(&id)),
                    None => groups::in_group(name, p),
                })
                .cloned();
        if let Some(p) = open
            && ui
                .button(format!("Expand {p}"))
                .on_hover_text("Draw the group's layers again.")
                .clicked()
        {
            d.rt.graph.collapsed.remove(&p);
        }
        // The picked layers as a group of their own, collapsed at once.
        let picked: Vec<usize> =
            d.rt.graph
                .picked
                .iter()
                .filter_map(|&id| net.index_of(id))
                .collect();
        if ui
            .add_enabled(
                groups::can_group(net, &picked),
                egui::Button::new("Group picked"),
            )
            .on_hover_text(
                "Collapse the picked layers (Ctrl + click, Shift + drag) into one card; no \
                 path may leave them and come back.",
            )
            .clicked()
        {
            let name = (1..)
                .map(|k| format!("group_{k}"))
                .find(|n| !d.rt.graph.custom.contains_key(n) && net.find(n).is_none())
                .unwrap_or_default();
            let ids = std::mem::take(&mut d.rt.graph.picked);
            d.rt.graph.custom.insert(name.clone(), ids);
            d.rt.graph.collapsed.insert(name);
        }
        if ui
            .add_enabled(
                !d.view.graph_moved.is_empty(),
                egui::Button::new("Re-layout"),
            )
            .on_hover_text(
                "Put the cards moved by hand back where the automatic layout places them.",
            )
            .clicked()
        {
            d.view.graph_moved.clear();
        }
        if ui
            .add_enabled(
                !d.rt.graph.collapsed.is_empty(),
                egui::Button::new("Expand all"),
            )
            .on_hover_text("Draw every layer.")
            .clicked()
        {
            d.rt.graph.collapsed.clear();
        }
    });
    let net = &d.doc.network;
    d.rt.graph.refresh(net);
    let (Some(layout), Some(view)) = (d.rt.graph.layout.as_ref(), d.rt.graph.view.as_ref()) else {
        return;
    };
    let selected = d.view.selected;
    let selected_node = view.node_of.get(selected).copied();
    // Where node k's card is: where it was moved by hand, else the layout's place.
    let moved = &d.view.graph_moved;
    let centre = |k: usize| -> [f32; 2] {
        if !moved.is_empty()
            && let Some(Node::Layer(i)) = view.nodes.get(k)
            && let Some(p) = moved.get(&net.layers()[*i].name)
        {
            return *p;
        }
        layout.centres.get(k).copied().unwrap_or([0.0, 0.0])
    };
    let mut scene_rect = d.rt.graph.scene;
    if fit {
        scene_rect =
            Rect::from_min_size(pos2(-SPACING, -SPACING), Vec2::from(layout.size)).expand(SPACING);
    } else if !scene_rect.is_positive() {
        // The top of the drawing at full size, centred on the input (the whole of a long
        // model is a thin line: Fit shows it).
        let (w, h) = (
            ui.available_width().max(NODE[0] * 1.2),
            ui.available_height(),
        );
        let x = layout.centres.first().map_or(w / 2.0, |c| c[0]);
        scene_rect = Rect::from_min_size(pos2(x - w / 2.0, -SPACING), vec2(w, h.max(NODE[1])));
    }
    // A layer selected elsewhere comes into view (panned to, the zoom kept).
    let follow = d.rt.graph.followed.replace(selected);
    if (follow.is_some_and(|f| f != selected) || std::mem::take(&mut d.rt.graph.refocus))
        && let Some(c) = selected_node.map(centre)
    {
        let card = Rect::from_center_size(pos2(c[0], c[1]), Vec2::from(NODE));
        if !scene_rect.contains_rect(card) {
            scene_rect = scene_rect.translate(pos2(c[0], c[1]) - scene_rect.center());
        }
    }
    let mut clicked = None;
    let mut connect = None;
    let mut dragging = None;
    let mut menu = Vec::new();
    let mut collapse: Option<String> = None;
    let mut dropped_on_wire: Option<(&'static str, usize, usize)> = None;
    let mut to_screen = None;
    let mut moves: Vec<(String, [f32; 2])> = Vec::new();
    let mut toggle = None;
    let mut unpick = false;
    let mut boxed: Option<Vec<crate::model::LayerId>> = None;
    let mut boxing = d.rt.graph.boxing;
    let picked = &d.rt.graph.picked;
    let mut expand: Option<String> = None;
    // Left / right: the neighbouring card on the same row (up / down step through the
    // model's order everywhere).
    if ui.ctx().memory(|m| m.focused().is_none()) {
        let (left, right) = ui.input_mut(|i| {
            (
                i.consume_key(egui::Modifiers::NONE, egui::Key::ArrowLeft),
                i.consume_key(egui::Modifiers::NONE, egui::Key::ArrowRight),
            )
        });
        if left != right {
            clicked = selected_node
                .and_then(|k| beside(layout, k, right))
                .map(|k| representative(view, net, k));
        }
    }
    egui::Scene::new()
        .zoom_range(0.05..=2.0)
        .show(ui, &mut scene_rect, |ui| {
            let painter = ui.painter().clone();
            let sight = ui.clip_rect();
            let card = |k: usize| {
                let c = centre(k);
                Rect::from_center_size(pos2(c[0], c[1]), Vec2::from(NODE))
            };
            let ink = ui.visuals().text_color();
            // Text too small to read (zoomed far out) is not laid out: the whole of
            // NASNetMobile in view draws boxes and wires only.
            let zoom = ui
                .ctx()
                .layer_transform_to_global(ui.layer_id())
                .map_or(1.0, |t| t.scaling);
            let detail = zoom * 12.0 >= 3.0;
            to_screen = ui.ctx().layer_transform_to_global(ui.layer_id());
            // Shift + drag on the background: a box that picks the cards it touches.
            if ui.input(|i| i.modifiers.shift) || boxing.is_some() {
                let bg = ui.interact(sight, ui.scope_id().with("graph_box"), Sense::drag());
                if bg.drag_started() {
                    boxing = bg.interact_pointer_pos();
                }
                if let (Some(start), Some(now)) = (boxing, bg.interact_pointer_pos()) {
                    let area = Rect::from_two_pos(start, now);
                    painter.rect(
                        area,
                        CornerRadius::ZERO,
                        ui.visuals().selection.bg_fill.gamma_multiply(0.2),
                        Stroke::new(1.0, ui.visuals().selection.stroke.color),
                        StrokeKind::Inside,
                    );
                    if bg.drag_stopped() {
                        boxed = Some(
                            view.nodes
                                .iter()
                                .enumerate()
                                .filter(|(k, _)| card(*k).intersects(area))
                                .flat_map(|(_, node)| match node {
                                    Node::Layer(i) => vec![*i],
                                    Node::Group { members, .. } => members.clone(),
                                })
                                .map(|i| net.layers()[i].id())
                                .collect(),
                        );
                        boxing = None;
                    }
                }
                if !bg.dragged() && !bg.drag_stopped() && !bg.drag_started() {
                    boxing = None;
                }
            }
            // A palette item dragged over the canvas: the wire under the pointer lights up
            // and takes the layer when it is dropped.
            let carried = egui::DragAndDrop::payload::<PaletteItem>(ui.ctx());
            let pointer = ui
                .ctx()
                .pointer_hover_pos()
                .map(|p| {
                    ui.ctx()
                        .layer_transform_to_global(ui.layer_id())
                        .map_or(p, |t| t.inverse() * p)
                })
                .filter(|p| sight.contains(*p));
            let target_wire = carried.as_ref().and(pointer).and_then(|p| {
                view.wires
                    .iter()
                    .map(|&(j, from, to)| {
                        let pts = wire_points(card(from).center_bottom(), card(to).center_top());
                        (distance_to_curve(pts, p), j, to)
                    })
                    .filter(|w| w.0 <= WIRE_REACH)
                    .min_by(|a, b| a.0.total_cmp(&b.0))
            });
            if let (Some(item), Some((_, j, to))) = (&carried, target_wire)
                && ui.input(|i| i.pointer.any_released())
                && let Node::Layer(to) = view.nodes[to]
            {
                dropped_on_wire = Some((item.0, j, to));
            }
            // Wires first, under the cards; each carries its producer's output shape.
            for &(j, from, to) in &view.wires {
                let (a, b) = (card(from).center_bottom(), card(to).center_top());
                if !sight.intersects(Rect::from_two_pos(a, b).expand(40.0)) {
                    continue;
                }
                let lit = target_wire.is_some_and(|w| w.1 == j && w.2 == to);
                let stroke = if lit {
                    Stroke::new(4.0, ui.visuals().selection.stroke.color)
                } else {
                    Stroke::new(1.5, ink.gamma_multiply(0.6))
                };
                let curve = egui::epaint::CubicBezierShape::from_points_stroke(
                    wire_points(a, b),
                    false,
                    Color32::TRANSPARENT,
                    stroke,
                );
                painter.add(curve);
                if !detail {
                    continue;
                }
                let label = shape_text(&d.rt.analysis.layers[j]);
                let at = if (b.y - a.y).abs() > NODE[1] + SPACING * 1.5 {
                    a + vec2(6.0, 12.0)
                } else {
                    Pos2::new((a.x + b.x) / 2.0 + 6.0, (a.y + b.y) / 2.0)
                };
                painter.text(
                    at,
                    egui::Align2::LEFT_CENTER,
                    label,
                    egui::FontId::proportional(11.0),
                    ink.gamma_multiply(0.8),
                );
            }
            for (k, node) in view.nodes.iter().enumerate() {
                let rect = card(k);
                if !sight.intersects(rect) {
                    continue;
                }
                let is_selected = selected_node == Some(k);
                match node {
                    Node::Group { prefix, members } => {
                        let resp = group_card(
                            d,
                            ui,
                            &painter,
                            view,
                            k,
                            rect,
                            prefix,
                            members,
                            is_selected,
                            detail,
                        );
                        if resp.clicked() {
                            clicked = Some(representative(view, net, k));
                        }
                        if resp.double_clicked() {
                            expand = Some(prefix.clone());
                        }
                        resp.context_menu(|ui| {
                            if ui.button(format!("Expand {prefix}")).clicked() {
                                expand = Some(prefix.clone());
                            }
                        });
                    }
                    Node::Layer(i) => {
                        let i = *i;
                        let l = &net.layers()[i];
                        let resp = layer_card(
                            d,
                            ui,
                            &painter,
                            i,
                            rect,
                            is_selected || picked.contains(&net.layers()[i].id()),
                            detail,
                        );
                        if resp.clicked() {
                            clicked = Some(i);
                            let id = l.id();
                            if ui.input(|inp| inp.modifiers.command) {
                                toggle = Some(id);
                            } else {
                                unpick = true;
                            }
                        }
                        // Dragged by hand: the card goes where it is put, and stays.
                        if resp.dragged() {
                            let c = rect.center() + resp.drag_delta();
                            moves.push((l.name.clone(), [c.x, c.y]));
                        }
                        // A wire dragged from another card's output port and dropped here.
                        if let Some(from) = resp.dnd_release_payload::<Port>() {
                            connect = Some((from.0, i));
                        }
                        // A palette item dropped on the card (and not on a wire): after it.
                        if target_wire.is_none()
                            && let Some(item) = resp.dnd_release_payload::<PaletteItem>()
                        {
                            menu.push(Command::Select(i));
                            menu.push(Command::Add(item.0));
                        }
                        resp.context_menu(|ui| {
                            for (label, c) in [
                                ("Duplicate", Command::Duplicate),
                                ("Delete", Command::Delete),
                            ] {
                                if ui.button(label).clicked() {
                                    menu.push(Command::Select(i));
                                    menu.push(c);
                                }
                            }
                            for (prefix, count) in groups::groups_of(net, i) {
                                if ui
                                    .button(format!("Collapse {prefix} ({count} layers)"))
                                    .clicked()
                                {
                                    collapse = Some(prefix);
                                }
                            }
                        });
                        // Ports: inputs enter at the top, the output leaves at the
                        // bottom; drag from an output port onto a card to feed it.
                        let port_fill = ui.visuals().window_fill;
                        if !l.kind.is_input() {
                            painter.circle(
                                rect.center_top(),
                                PORT,
                                port_fill,
                                Stroke::new(1.5, ink),
                            );
                        }
                        let out = rect.center_bottom();
                        let port = ui
                            .interact(
                                Rect::from_center_size(out, Vec2::splat(PORT * 3.0)),
                                ui.scope_id().with(("graph_port", l.id())),
                                Sense::drag(),
                            )
                            .on_hover_text("Drag onto a layer to feed this output into it.");
                        port.widget_info(|| {
                            egui::WidgetInfo::labeled(
                                egui::Role::Button,
                                true,
                                format!("{} output port", l.name),
                            )
                        });
                        port.dnd_set_drag_payload(Port(i));
                        let hot = port.hovered() || port.dragged();
                        painter.circle(
                            out,
                            if hot { PORT * 1.5 } else { PORT },
                            if hot { ink } else { port_fill },
                            Stroke::new(1.5, ink),
                        );
                        if port.dragged()
                            && let Some(p) = port.interact_pointer_pos()
                        {
                            dragging = Some((out, p));
                        }
                    }
                }
            }
            // The wire being dragged, to the pointer.
            if let Some((a, b)) = dragging {
                let bend = ((b.y - a.y).abs() * 0.5).max(20.0);
                painter.add(egui::epaint::CubicBezierShape::from_points_stroke(
                    [a, a + vec2(0.0, bend), b - vec2(0.0, bend), b],
                    false,
                    Color32::TRANSPARENT,
                    Stroke::new(2.5, ui.visuals().selection.stroke.color),
                ));
            }
        });
    d.rt.graph.scene = scene_rect;
    d.rt.graph.to_screen = to_screen;
    d.rt.graph.boxing = boxing;
    if unpick {
        d.rt.graph.picked.clear();
    }
    if let Some(id) = toggle
        && !d.rt.graph.picked.remove(&id)
    {
        d.rt.graph.picked.insert(id);
    }
    if let Some(ids) = boxed {
        d.rt.graph.picked = ids.into_iter().collect();
    }
    d.view.graph_moved.extend(moves);
    if let Some(i) = clicked {
        d.command(Command::Select(i));
    }
    if let Some((from, to)) = connect.filter(|(f, t)| f != t) {
        d.command(Command::Connect { from, to });
    }
    for c in menu {
        d.command(c);
    }
    if let Some((class, from, to)) = dropped_on_wire {
        d.command(Command::AddOnWire { class, from, to });
    }
    if let Some(p) = collapse {
        d.rt.graph.collapsed.insert(p);
    }
    if let Some(p) = expand {
        d.rt.graph.collapsed.remove(&p);
    }
}

/// The layer a node stands for when it is selected: itself, or a group's (first)
/// output.
fn representative(view: &ViewGraph, net: &crate::model::Network, k: usize) -> usize {
    match &view.nodes[k] {
        Node::Layer(i) => *i,
        Node::Group { members, .. } => view
            .outputs_of(net, k)
            .first()
            .or(members.last())
            .copied()
            .unwrap_or(0),
    }
}

/// One layer's card: name, class and key arguments, shape · parameters · MACs · time
/// (or Keras's message, in red).
fn layer_card(
    d: &Designer,
    ui: &mut egui::Ui,
    painter: &egui::Painter,
    i: usize,
    rect: Rect,
    selected: bool,
    detail: bool,
) -> egui::Response {
    let (l, r) = (&d.doc.network.layers()[i], &d.rt.analysis.layers[i]);
    let fill =
        Color32::from_hex(crate::io::diagram::colour(&l.kind)).unwrap_or(Color32::LIGHT_GRAY);
    let failed = r.error.is_some();
    let third = match &r.error {
        Some(e) => clip(&e.message, 44),
        None => {
            let mut s = format!(
                "{} · {} params · {} MACs",
                shape_text(r),
                thousands(r.params()),
                short_count(r.macs)
            );
            if let Some(ms) = d.rt.viewer.millis(i).filter(|_| !l.kind.is_input()) {
                s.push_str(&format!(" · {ms:.1} ms"));
            }
            clip(&s, 44)
        }
    };
    let stroke = if failed {
        Stroke::new(3.0, RED)
    } else if selected {
        Stroke::new(3.0, ui.visuals().selection.stroke.color)
    } else {
        Stroke::new(1.0, Color32::from_gray(90))
    };
    draw_card(
        painter,
        rect,
        fill,
        stroke,
        [&l.name, &clip(&l.kind.spec().card(), 40), &third],
        failed,
        detail,
    );
    let resp = ui
        .interact(
            rect,
            ui.scope_id().with(("graph_node", l.id())),
            Sense::click_and_drag(),
        )
        .on_hover_text(match &r.error {
            Some(e) => e.message.clone(),
            None => format!("{} ({})", l.name, l.class_name()),
        });
    resp.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, &l.name));
    resp
}

/// A collapsed group's card: its prefix, how many layers, the shapes it takes and
/// gives, its parameters and MACs.
#[allow(clippy::too_many_arguments)]
fn group_card(
    d: &Designer,
    ui: &mut egui::Ui,
    painter: &egui::Painter,
    view: &ViewGraph,
    k: usize,
    rect: Rect,
    prefix: &str,
    members: &[usize],
    selected: bool,
    detail: bool,
) -> egui::Response {
    let net = &d.doc.network;
    let a = &d.rt.analysis;
    let shapes = |v: Vec<usize>| {
        v.iter()
            .map(|&j| shape_text(&a.layers[j]))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (ins, outs) = (
        shapes(view.inputs_of(net, k)),
        shapes(view.outputs_of(net, k)),
    );
    let params: i64 = members.iter().map(|&j| a.layers[j].params()).sum();
    let macs: i64 = members.iter().map(|&j| a.layers[j].macs).sum();
    let failed = members.iter().find_map(|&j| a.layers[j].error.as_ref());
    let second = format!(
        "{} layers · {} params · {} MACs",
        members.len(),
        thousands(params),
        short_count(macs)
    );
    let third = match failed {
        Some(e) => clip(&e.message, 44),
        None => clip(&format!("{ins} -> {outs}"), 44),
    };
    let stroke = if failed.is_some() {
        Stroke::new(3.0, RED)
    } else if selected {
        Stroke::new(3.0, ui.visuals().selection.stroke.color)
    } else {
        Stroke::new(2.0, Color32::from_gray(60))
    };
    // A stack of two cards: a group.
    painter.rect(
        rect.translate(vec2(5.0, 5.0)),
        CornerRadius::same(6),
        Color32::from_rgb(0xc9, 0xc3, 0xe6),
        Stroke::new(1.0, Color32::from_gray(90)),
        StrokeKind::Inside,
    );
    draw_card(
        painter,
        rect,
        Color32::from_rgb(0xdd, 0xd8, 0xf5),
        stroke,
        [&format!("{prefix} (collapsed)"), &second, &third],
        failed.is_some(),
        detail,
    );
    let resp = ui
        .interact(
            rect,
            ui.scope_id().with(("graph_group", prefix)),
            Sense::click(),
        )
        .on_hover_text(format!(
            "{prefix}: {} layers, {ins} -> {outs}. Double-click to expand.",
            members.len()
        ));
    resp.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, prefix));
    resp
}

/// A card's box and three lines of text (the box only without `detail`).
fn draw_card(
    painter: &egui::Painter,
    rect: Rect,
    fill: Color32,
    stroke: Stroke,
    lines: [&str; 3],
    failed: bool,
    detail: bool,
) {
    painter.rect(
        rect,
        CornerRadius::same(6),
        fill,
        stroke,
        StrokeKind::Inside,
    );
    if !detail {
        return;
    }
    let text = Color32::from_gray(20);
    let x = rect.left() + 8.0;
    for (n, (line, dy)) in lines.into_iter().zip([6.0, 25.0, 45.0]).enumerate() {
        painter.text(
            pos2(x, rect.top() + dy),
            egui::Align2::LEFT_TOP,
            line,
            egui::FontId::proportional(if n == 0 { 14.0 } else { 12.0 }),
            if failed && n == 2 { RED } else { text },
        );
    }
}

/// The card on `i`'s row nearest to its right (or left).
fn beside(layout: &Layout, i: usize, right: bool) -> Option<usize> {
    let [x, y] = *layout.centres.get(i)?;
    layout
        .centres
        .iter()
        .enumerate()
        .filter(|(_, c)| (c[1] - y).abs() < NODE[1] / 2.0)
        .filter(|(_, c)| if right { c[0] > x } else { c[0] < x })
        .min_by(|(_, a), (_, b)| (a[0] - x).abs().total_cmp(&(b[0] - x).abs()))
        .map(|(j, _)| j)
}
