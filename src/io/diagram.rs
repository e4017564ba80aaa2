//! The architecture diagram: one box per layer, coloured by kind, with the layer's name
//! and class, its output shape as Keras prints it, and its parameter count; Keras's
//! message on a rejected layer. A chain is a column with arrows between consecutive
//! layers; a graph is drawn as the Graph tab lays it out ([`crate::model::layout`]), with
//! a curved arrow per wire. One layout, two renderings: SVG (no fonts embedded: any browser or vector editor shows it) and
//! PNG (drawn with vello_cpu and the Ubuntu font egui ships; no graphviz, no Python).

use crate::keras::pyfmt;
use crate::layers::{Family, LayerKind};
use crate::model::{Analysis, Network};

const WIDTH: f64 = 420.0;
const BOX_H: f64 = 46.0;
const GAP: f64 = 22.0;
const MARGIN: f64 = 20.0;
const HEADER: f64 = 56.0;

/// Fill colour by layer family, `#rrggbb` (the window's graph canvas uses the same).
pub fn colour(kind: &LayerKind) -> &'static str {
    match kind.facts().family {
        Family::Input => "#dfe6ee",
        Family::Convolution => "#cfe3fa",
        Family::Pooling => "#fde3c4",
        Family::Normalization => "#e6d9f2",
        Family::Dense => "#f9d3cf",
        Family::Dropout => "#e9ecef",
        Family::Activation => "#d4f2de",
        Family::Shape | Family::Merge => "#eef0e4",
    }
}

/// Text safe inside SVG elements and attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if (c as u32) < 0x20 && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// `s` cut to `max` characters with an ellipsis (the graph canvas's cards use it too).
pub fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let t: String = s.chars().take(max.saturating_sub(1)).collect();
        format!("{t}…")
    }
}

/// One piece of text: spans that share a baseline.
struct Text {
    x: f64,
    y: f64,
    size: f64,
    /// (text, bold, colour)
    spans: Vec<(String, bool, &'static str)>,
    /// Right-aligned at `x` instead of starting there.
    end: bool,
}

/// A layer's box.
struct Rect {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
    fill: &'static str,
    stroke: &'static str,
    stroke_w: f64,
}

/// What the diagram is made of (rendered to SVG or to pixels).
enum Item {
    Rect(Rect),
    Text(Text),
    /// A vertical arrow from `y1` down to `y2` at `x`.
    Arrow {
        x: f64,
        y1: f64,
        y2: f64,
    },
    /// A curved arrow from a box's bottom `a` to another's top `b`.
    Wire {
        a: (f64, f64),
        b: (f64, f64),
    },
}

/// A wire's cubic curve: down from `a`, into `b` from above.
fn wire_controls(a: (f64, f64), b: (f64, f64)) -> [(f64, f64); 2] {
    let bend = ((b.1 - a.1).abs() * 0.5).max(12.0);
    [(a.0, a.1 + bend), (b.0, b.1 - bend)]
}

struct Layout {
    width: f64,
    height: f64,
    /// One group of items per layer (the header is group 0's prefix in `header`).
    header: Vec<Item>,
    layers: Vec<Vec<Item>>,
    arrows: Vec<Item>,
}

fn layout(net: &Network, analysis: &Analysis) -> Layout {
    let n = net.len();
    // A chain is a column; a graph is placed as the Graph tab places it.
    let graph = (!net.is_chain())
        .then(|| crate::model::layout::Layout::of(net, [WIDTH as f32, BOX_H as f32], GAP as f32));
    let top_left = |i: usize| -> (f64, f64) {
        match &graph {
            Some(g) => {
                let c = g.centres.get(i).copied().unwrap_or([0.0, 0.0]);
                (
                    MARGIN + c[0] as f64 - WIDTH / 2.0,
                    HEADER + MARGIN + c[1] as f64 - BOX_H / 2.0,
                )
            }
            None => (MARGIN, HEADER + MARGIN + i as f64 * (BOX_H + GAP)),
        }
    };
    let (width, height) = match &graph {
        Some(g) => (
            g.size[0] as f64 + 2.0 * MARGIN,
            HEADER + MARGIN + g.size[1] as f64 + MARGIN,
        ),
        None => (
            WIDTH + 2.0 * MARGIN,
            HEADER + MARGIN + n as f64 * (BOX_H + GAP),
        ),
    };
    let header = vec![
        Item::Text(Text {
            x: MARGIN,
            y: 28.0,
            size: 17.0,
            spans: vec![(net.name.clone(), true, "#000")],
            end: false,
        }),
        Item::Text(Text {
            x: MARGIN,
            y: 47.0,
            size: 12.0,
            spans: vec![(
                format!(
                    "{} layers · {} params ({} trainable) · {} MACs",
                    n,
                    pyfmt::thousands(analysis.total_params()),
                    pyfmt::thousands(analysis.trainable_params),
                    pyfmt::thousands(analysis.macs)
                ),
                false,
                "#444",
            )],
            end: false,
        }),
    ];
    let mut layers = Vec::with_capacity(n);
    let mut arrows = Vec::new();
    for (i, layer) in net.layers().iter().enumerate() {
        let (x, y) = top_left(i);
        let report = analysis.layers.get(i);
        let error = report.and_then(|r| r.error.as_ref());
        let (stroke, stroke_w) = if error.is_some() {
            ("#d63031", 2.0)
        } else {
            ("#555", 1.0)
        };
        let mut items = vec![
            Item::Rect(Rect {
                x,
                y,
                w: WIDTH,
                h: BOX_H,
                fill: colour(&layer.kind),
                stroke,
                stroke_w,
            }),
            Item::Text(Text {
                x: x + 10.0,
                y: y + 18.0,
                size: 13.0,
                spans: vec![
                    (clip(&layer.name, 40), true, "#000"),
                    (format!(" ({})", layer.class_name()), false, "#333"),
                ],
                end: false,
            }),
        ];
        let detail = match (error, report) {
            (Some(e), _) => clip(&e.message, 64),
            (None, Some(r)) => {
                let shape = r
                    .output_shape
                    .as_ref()
                    .map_or("?".to_string(), |sh| pyfmt::tuple_opt(sh));
                format!("output {shape} · {} params", pyfmt::thousands(r.params()))
            }
            (None, None) => String::new(),
        };
        items.push(Item::Text(Text {
            x: x + 10.0,
            y: y + 36.0,
            size: 12.0,
            spans: vec![(
                detail,
                false,
                if error.is_some() { "#d63031" } else { "#222" },
            )],
            end: false,
        }));
        // In a graph each input is a wire; a chain's layers take the one above.
        let inbound = net.inputs_of(i);
        if graph.is_some() {
            for &j in &inbound {
                let (jx, jy) = top_left(j);
                arrows.push(Item::Wire {
                    a: (jx + WIDTH / 2.0, jy + BOX_H),
                    b: (x + WIDTH / 2.0, y - 1.0),
                });
            }
        } else if net.functional && !inbound.is_empty() && inbound != [i.saturating_sub(1)] {
            let names: Vec<&str> = inbound
                .iter()
                .filter_map(|&j| net.layers().get(j).map(|l| l.name.as_str()))
                .collect();
            items.push(Item::Text(Text {
                x: MARGIN + WIDTH - 8.0,
                y: y + 18.0,
                size: 11.0,
                spans: vec![(
                    format!("from {}", clip(&names.join(", "), 36)),
                    false,
                    "#555",
                )],
                end: true,
            }));
        }
        layers.push(items);
        if graph.is_none() && i + 1 < n {
            arrows.push(Item::Arrow {
                x: MARGIN + WIDTH / 2.0,
                y1: y + BOX_H,
                y2: y + BOX_H + GAP - 1.0,
            });
        }
    }
    Layout {
        width,
        height,
        header,
        layers,
        arrows,
    }
}

fn svg_item(s: &mut String, item: &Item) {
    match item {
        Item::Rect(r) => {
            *s += &format!(
                "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"6\" fill=\"{}\" \
                 stroke=\"{}\" stroke-width=\"{}\"/>\n",
                r.x, r.y, r.w, r.h, r.fill, r.stroke, r.stroke_w
            )
        }
        Item::Text(t) => {
            let (first, rest) = t
                .spans
                .split_first()
                .map_or((None, &[][..]), |(f, r)| (Some(f), r));
            let mut attrs = format!("x=\"{}\" y=\"{}\" font-size=\"{}\"", t.x, t.y, t.size);
            if let Some((_, bold, colour)) = first {
                if *bold {
                    attrs += " font-weight=\"bold\"";
                }
                if *colour != "#000" {
                    attrs += &format!(" fill=\"{colour}\"");
                }
            }
            if t.end {
                attrs += " text-anchor=\"end\"";
            }
            *s += &format!(
                "<text {attrs}>{}",
                first.map_or(String::new(), |f| escape(&f.0))
            );
            for (text, bold, colour) in rest {
                // A leading space stays outside the tspan (SVG collapses it inside).
                let trimmed = text.trim_start();
                if trimmed.len() < text.len() {
                    s.push(' ');
                }
                *s += &format!(
                    "<tspan font-weight=\"{}\" fill=\"{colour}\">{}</tspan>",
                    if *bold { "bold" } else { "normal" },
                    escape(trimmed)
                );
            }
            *s += "</text>\n";
        }
        Item::Arrow { x, y1, y2 } => {
            *s += &format!(
                "<line x1=\"{x}\" y1=\"{y1}\" x2=\"{x}\" y2=\"{y2}\" stroke=\"#555\" stroke-width=\"1.5\" marker-end=\"url(#arrow)\"/>\n"
            )
        }
        Item::Wire { a, b } => {
            let [c1, c2] = wire_controls(*a, *b);
            *s += &format!(
                "<path d=\"M{},{} C{},{} {},{} {},{}\" fill=\"none\" stroke=\"#555\" stroke-width=\"1.5\" marker-end=\"url(#arrow)\"/>\n",
                a.0, a.1, c1.0, c1.1, c2.0, c2.1, b.0, b.1
            )
        }
    }
}

/// The diagram of `net` as an SVG document.
pub fn to_svg(net: &Network, analysis: &Analysis) -> String {
    let l = layout(net, analysis);
    let (total_w, height) = (l.width, l.height);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{total_w}\" height=\"{height}\" \
         viewBox=\"0 0 {total_w} {height}\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" \
         markerHeight=\"7\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#555\"/></marker></defs>\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    for item in &l.header {
        svg_item(&mut s, item);
    }
    // A graph's wires first, under the boxes; a chain's arrows between its boxes.
    let wires = l.arrows.iter().any(|a| matches!(a, Item::Wire { .. }));
    if wires {
        for a in &l.arrows {
            svg_item(&mut s, a);
        }
    }
    let mut arrows = l.arrows.iter().filter(|_| !wires);
    for (i, items) in l.layers.iter().enumerate() {
        s += &format!("<g class=\"layer\" id=\"layer-{i}\">");
        for item in items {
            svg_item(&mut s, item);
        }
        s += "</g>\n";
        if let Some(a) = arrows.next() {
            svg_item(&mut s, a);
        }
    }
    s += "</svg>\n";
    s
}

/// Largest PNG side: a diagram of thousands of layers is cut off there.
const MAX_PNG_SIDE: f64 = 16_000.0;

/// The diagram of `net` as a PNG at `scale` × the SVG's size (2 gives a sharp picture
/// on a high-DPI screen). The text is drawn with the Ubuntu font egui ships.
pub fn to_png(net: &Network, analysis: &Analysis, scale: f64) -> Result<Vec<u8>, String> {
    use vello_cpu::kurbo::{Affine, BezPath, Rect, RoundedRect, Shape, Stroke};
    use vello_cpu::{Pixmap, RenderContext, Resources};
    let l = layout(net, analysis);
    let scale = if scale.is_finite() {
        scale.clamp(0.25, 8.0)
    } else {
        1.0
    };
    let w = (l.width * scale).ceil().min(MAX_PNG_SIDE) as u16;
    let h = (l.height * scale).ceil().min(MAX_PNG_SIDE) as u16;
    let mut ctx = RenderContext::new(w, h);
    let mut res = Resources::new();
    ctx.set_transform(Affine::scale(scale));
    ctx.set_paint(colour_of("#ffffff"));
    ctx.fill_rect(&Rect::new(0.0, 0.0, l.width, l.height));
    let font = Font::ubuntu()?;
    let items = l
        .header
        .iter()
        .chain(l.arrows.iter())
        .chain(l.layers.iter().flatten());
    for item in items {
        match item {
            Item::Rect(b) => {
                let r = RoundedRect::new(b.x, b.y, b.x + b.w, b.y + b.h, 6.0);
                ctx.set_paint(colour_of(b.fill));
                ctx.fill_path(&r.to_path(0.1));
                ctx.set_paint(colour_of(b.stroke));
                ctx.set_stroke(Stroke::new(b.stroke_w));
                ctx.stroke_path(&r.to_path(0.1));
            }
            Item::Arrow { x, y1, y2 } => {
                ctx.set_paint(colour_of("#555555"));
                ctx.set_stroke(Stroke::new(1.5));
                let mut line = BezPath::new();
                line.move_to((*x, *y1));
                line.line_to((*x, y2 - 5.0));
                ctx.stroke_path(&line);
                let mut head = BezPath::new();
                head.move_to((x - 4.5, y2 - 7.0));
                head.line_to((*x, *y2));
                head.line_to((x + 4.5, y2 - 7.0));
                head.close_path();
                ctx.fill_path(&head);
            }
            Item::Wire { a, b } => {
                let [c1, c2] = wire_controls(*a, *b);
                ctx.set_paint(colour_of("#555555"));
                ctx.set_stroke(Stroke::new(1.5));
                let mut curve = BezPath::new();
                curve.move_to(*a);
                curve.curve_to(c1, c2, (b.0, b.1 - 5.0));
                ctx.stroke_path(&curve);
                let mut head = BezPath::new();
                head.move_to((b.0 - 4.5, b.1 - 7.0));
                head.line_to(*b);
                head.line_to((b.0 + 4.5, b.1 - 7.0));
                head.close_path();
                ctx.fill_path(&head);
            }
            Item::Text(t) => {
                // Each span laid out once: its glyphs with their advances.
                let runs: Vec<Vec<(u32, f64)>> = t
                    .spans
                    .iter()
                    .map(|(s, _, _)| font.layout(s, t.size))
                    .collect();
                let width: f64 = runs.iter().flatten().map(|g| g.1).sum();
                let mut pen = if t.end { t.x - width } else { t.x };
                for ((_, bold, colour), run) in t.spans.iter().zip(&runs) {
                    let mut glyphs = Vec::with_capacity(run.len());
                    for &(id, adv) in run {
                        glyphs.push((id, pen as f32));
                        pen += adv;
                    }
                    ctx.set_paint(colour_of(colour));
                    // Ubuntu Light has no bold face: a second pass a fraction of a pixel
                    // to the right thickens the strokes.
                    let passes: &[f32] = if *bold { &[0.0, 0.45] } else { &[0.0] };
                    for dx in passes {
                        ctx.glyph_run(&mut res, &font.data)
                            .font_size(t.size as f32)
                            .hint(false)
                            .fill_glyphs(glyphs.iter().map(|&(id, x)| vello_cpu::Glyph {
                                id,
                                x: x + dx,
                                y: t.y as f32,
                            }));
                    }
                }
            }
        }
    }
    let mut pixmap = Pixmap::new(w, h);
    ctx.render(&mut pixmap, &mut res);
    // Opaque white background: premultiplied equals straight RGBA.
    let rgba = pixmap.data_as_u8_slice().to_vec();
    let img = image::RgbaImage::from_raw(w as u32, h as u32, rgba)
        .ok_or("the rendered diagram has the wrong size")?;
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .map_err(|e| format!("cannot encode the PNG: {e}"))?;
    Ok(out.into_inner())
}

/// `#rrggbb` (or `#rgb`) as an opaque colour.
fn colour_of(hex: &str) -> vello_cpu::color::AlphaColor<vello_cpu::color::Srgb> {
    let h = hex.trim_start_matches('#');
    let v = |i: usize, n: usize| {
        u8::from_str_radix(h.get(i..i + n).unwrap_or("0"), 16).unwrap_or(0)
            * if n == 1 { 17 } else { 1 }
    };
    let (r, g, b) = if h.len() == 3 {
        (v(0, 1), v(1, 1), v(2, 1))
    } else {
        (v(0, 2), v(2, 2), v(4, 2))
    };
    vello_cpu::color::AlphaColor::from_rgba8(r, g, b, 255)
}

/// A font for the PNG: glyph ids and advances from skrifa, outlines drawn by vello_cpu.
struct Font {
    data: vello_cpu::peniko::FontData,
    bytes: &'static [u8],
}

impl Font {
    fn ubuntu() -> Result<Font, String> {
        let bytes = epaint_default_fonts::UBUNTU_LIGHT;
        skrifa::FontRef::new(bytes).map_err(|e| format!("the bundled font is unreadable: {e}"))?;
        Ok(Font {
            data: vello_cpu::peniko::FontData::new(
                vello_cpu::peniko::Blob::new(std::sync::Arc::new(bytes)),
                0,
            ),
            bytes,
        })
    }

    fn font(&self) -> Option<skrifa::FontRef<'static>> {
        skrifa::FontRef::new(self.bytes).ok()
    }

    /// Glyph ids and advances of `text` at `size` px (no kerning, no shaping: labels are
    /// plain text).
    fn layout(&self, text: &str, size: f64) -> Vec<(u32, f64)> {
        use skrifa::MetadataProvider;
        let Some(f) = self.font() else {
            return Vec::new();
        };
        let charmap = f.charmap();
        let metrics = f.glyph_metrics(
            skrifa::instance::Size::new(size as f32),
            skrifa::instance::LocationRef::default(),
        );
        let fallback = charmap.map('?').unwrap_or_default();
        text.chars()
            .map(|c| {
                let id = charmap.map(c).unwrap_or(fallback);
                let adv = metrics.advance_width(id).unwrap_or(size as f32 * 0.5) as f64;
                (id.to_u32(), adv)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A graph is drawn as the canvas lays it out: the shortcut beside the main path, a
    /// curved arrow per wire (an Add takes two).
    #[test]
    fn a_residual_block_is_drawn_with_a_wire_per_input() {
        use crate::model::blocks::{Block, BlockKind};
        let mut net = Network::sequential("res", &[8, 8, 4]);
        let input = net.analyze().layers[0].output_shape.clone().unwrap();
        let mut b = Block::new(BlockKind::Basic, &net, &input);
        b.args[0].value = 8.0;
        let e = b.expand(&net, &input).unwrap();
        net.insert_block(0, e).unwrap();
        let a = net.analyze();
        let svg = to_svg(&net, &a);
        let wires: usize = (0..net.len()).map(|i| net.inputs_of(i).len()).sum();
        // (The arrowhead marker in <defs> is a path too.)
        assert_eq!(svg.matches("<path d=\"M").count(), wires + 1);
        assert_eq!(svg.matches("<g class=\"layer\"").count(), net.len());
        assert!(!svg.contains("<line"), "no column arrows in a graph");
        // Two columns: wider than the single column of a chain.
        let l = layout(&net, &a);
        assert!(l.width > WIDTH * 2.0, "{}", l.width);
        assert!(to_png(&net, &a, 1.0).is_ok());
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("a<b & \"c\">'"),
            "a&lt;b &amp; &quot;c&quot;&gt;&#39;"
        );
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(pyfmt::thousands(-2368), "-2,368");
    }
}
