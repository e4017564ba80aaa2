//! The "Graph" tab: the network drawn as a graph on a pan/zoom canvas (egui's `Scene`).
//! Each layer is a card — name, class and key arguments, output shape and parameters as
//! Keras computes them, its run time — coloured by family as the diagram export is, red
//! with Keras's message when Keras rejects it; each input is a curve from the producer's
//! bottom to the consumer's top, labelled with the tensor's shape. A click selects the
//! layer (the inspector edits it, the Feature maps tab shows it). The layout
//! ([`crate::model::layout`]) is remade only when the wiring changes, so cards stay put
//! while arguments are edited.

use super::panels::{RED, shape_text};
use super::{Command, Designer};
use crate::io::diagram::clip;
use crate::keras::pyfmt::{short_count, thousands};
use crate::model::layout::Layout;
use egui::{Color32, CornerRadius, Pos2, Rect, Sense, Stroke, StrokeKind, Vec2, pos2, vec2};

/// A card's size on the canvas (scene units) and the gap between cards.
pub const NODE: [f32; 2] = [280.0, 70.0];
pub const SPACING: f32 = 36.0;
/// A port's radius.
const PORT: f32 = 5.0;

/// The drag payload of a wire being drawn: the layer whose output it carries.
#[derive(Clone, Copy)]
struct Port(usize);

/// What the canvas keeps between frames.
pub struct GraphView {
    layout: Option<Layout>,
    /// The part of the scene in view (panned and zoomed by the user).
    pub scene: Rect,
    /// The selection the view last followed: a layer selected elsewhere (the stack, the
    /// keyboard) is brought into view.
    followed: Option<usize>,
}

impl Default for GraphView {
    fn default() -> Self {
        GraphView {
            layout: None,
            scene: Rect::NOTHING,
            followed: None,
        }
    }
}

impl GraphView {
    /// The layout last drawn.
    pub fn layout(&self) -> Option<&Layout> {
        self.layout.as_ref()
    }

    /// Remakes the layout when the wiring of `net` changed.
    fn refresh(&mut self, net: &crate::model::Network) {
        let stale = self.layout.as_ref().is_none_or(|l| !l.drawn_for(net));
        if stale {
            self.layout = Some(Layout::of(net, NODE, SPACING));
            // Show the new drawing's top.
            self.scene = Rect::NOTHING;
        }
    }
}

/// The central "Graph" view.
pub fn graph_panel(d: &mut Designer, ui: &mut egui::Ui) {
    let mut fit = false;
    ui.horizontal(|ui| {
        ui.label("Pan: drag · Zoom: Ctrl + scroll · Select: click, arrow keys")
            .on_hover_text(
                "Drag the background to pan; Ctrl + scroll or pinch to zoom. Click a layer to \
                 select it; left and right arrows move along a row, up and down through the \
                 model's order.",
            );
        fit = ui
            .button("Fit")
            .on_hover_text("Show the whole graph.")
            .clicked();
    });
    let net = &d.doc.network;
    d.rt.graph.refresh(net);
    let Some(layout) = d.rt.graph.layout.as_ref() else {
        return;
    };
    let selected = d.view.selected;
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
    if follow.is_some_and(|f| f != selected)
        && let Some(c) = layout.centres.get(selected)
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
            clicked = beside(layout, selected, right);
        }
    }
    egui::Scene::new()
        .zoom_range(0.05..=2.0)
        .show(ui, &mut scene_rect, |ui| {
            let painter = ui.painter().clone();
            let view = ui.clip_rect();
            let card = |i: usize| {
                let c = layout.centres.get(i).copied().unwrap_or([0.0, 0.0]);
                Rect::from_center_size(pos2(c[0], c[1]), Vec2::from(NODE))
            };
            let ink = ui.visuals().text_color();
            // Wires first, under the cards (the layout's key holds each layer's inputs).
            for (i, (_, inputs)) in layout.key.iter().enumerate() {
                for &j in inputs {
                    let (from, to) = (card(j), card(i));
                    let (a, b) = (from.center_bottom(), to.center_top());
                    if !view.intersects(Rect::from_two_pos(a, b).expand(40.0)) {
                        continue;
                    }
                    let bend = ((b.y - a.y).abs() * 0.5).max(20.0);
                    let curve = egui::epaint::CubicBezierShape::from_points_stroke(
                        [a, a + vec2(0.0, bend), b - vec2(0.0, bend), b],
                        false,
                        Color32::TRANSPARENT,
                        Stroke::new(1.5, ink.gamma_multiply(0.6)),
                    );
                    painter.add(curve);
                    // The tensor on the wire: the producer's output shape.
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
            }
            for i in 0..net.len() {
                let rect = card(i);
                if !view.intersects(rect) {
                    continue;
                }
                let (l, r) = (&net.layers()[i], &d.rt.analysis.layers[i]);
                let fill = Color32::from_hex(crate::io::diagram::colour(&l.kind))
                    .unwrap_or(Color32::LIGHT_GRAY);
                let failed = r.error.is_some();
                let stroke = if failed {
                    Stroke::new(3.0, RED)
                } else if i == selected {
                    Stroke::new(3.0, ui.visuals().selection.stroke.color)
                } else {
                    Stroke::new(1.0, Color32::from_gray(90))
                };
                painter.rect(
                    rect,
                    CornerRadius::same(6),
                    fill,
                    stroke,
                    StrokeKind::Inside,
                );
                let text = Color32::from_gray(20);
                let x = rect.left() + 8.0;
                painter.text(
                    pos2(x, rect.top() + 6.0),
                    egui::Align2::LEFT_TOP,
                    &l.name,
                    egui::FontId::proportional(14.0),
                    text,
                );
                painter.text(
                    pos2(x, rect.top() + 25.0),
                    egui::Align2::LEFT_TOP,
                    clip(&l.kind.spec().card(), 40),
                    egui::FontId::proportional(12.0),
                    text,
                );
                let third = match &r.error {
                    Some(e) => clip(&e.message, 44),
                    None => {
                        let mut s = format!(
                            "{} · {} params · {} MACs",
                            shape_text(r),
                            thousands(r.params()),
                            short_count(r.macs)
                        );
                        if let Some(ms) = d.rt.viewer.millis(i).filter(|_| i > 0) {
                            s.push_str(&format!(" · {ms:.1} ms"));
                        }
                        clip(&s, 44)
                    }
                };
                painter.text(
                    pos2(x, rect.top() + 45.0),
                    egui::Align2::LEFT_TOP,
                    third,
                    egui::FontId::proportional(12.0),
                    if failed { RED } else { text },
                );
                let resp = ui
                    .interact(
                        rect,
                        ui.scope_id().with(("graph_node", l.id())),
                        Sense::click(),
                    )
                    .on_hover_text(match &r.error {
                        Some(e) => e.message.clone(),
                        None => format!("{} ({})", l.name, l.class_name()),
                    });
                resp.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, &l.name));
                if resp.clicked() {
                    clicked = Some(i);
                }
                // A wire dragged from another card's output port and dropped here.
                if let Some(from) = resp.dnd_release_payload::<Port>() {
                    connect = Some((from.0, i));
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
                });
                // Ports: inputs enter at the top, the output leaves at the bottom; drag
                // from an output port onto a card to feed it.
                let port_fill = ui.visuals().window_fill;
                if !l.kind.is_input() {
                    painter.circle(rect.center_top(), PORT, port_fill, Stroke::new(1.5, ink));
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
    if let Some(i) = clicked {
        d.command(Command::Select(i));
    }
    if let Some((from, to)) = connect.filter(|(f, t)| f != t) {
        d.command(Command::Connect { from, to });
    }
    for c in menu {
        d.command(c);
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
