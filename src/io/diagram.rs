//! The architecture diagram as SVG: one box per layer, top to bottom in model order,
//! coloured by kind, with the layer's name and class, its output shape as Keras prints
//! it, and its parameter count; arrows between consecutive layers, and "from …" for a
//! Functional layer fed by other layers; Keras's message on a rejected layer. No
//! graphviz, no fonts embedded: any browser or vector editor renders it.

use crate::model::{Analysis, LayerKind, Network, pyfmt};

const WIDTH: f64 = 420.0;
const BOX_H: f64 = 46.0;
const GAP: f64 = 22.0;
const MARGIN: f64 = 20.0;
const HEADER: f64 = 56.0;

/// Fill colour by layer kind.
fn colour(kind: &LayerKind) -> &'static str {
    match kind {
        LayerKind::Input(_) => "#dfe6ee",
        LayerKind::Conv2D(_)
        | LayerKind::Conv2DTranspose(_)
        | LayerKind::DepthwiseConv2D(_)
        | LayerKind::SeparableConv2D(_) => "#cfe3fa",
        LayerKind::Pooling2D(_) | LayerKind::GlobalPooling2D(_) => "#fde3c4",
        LayerKind::BatchNormalization(_) => "#e6d9f2",
        LayerKind::Dense(_) => "#f9d3cf",
        LayerKind::Dropout(_) | LayerKind::SpatialDropout2D(_) => "#e9ecef",
        LayerKind::Activation { .. }
        | LayerKind::ReLU(_)
        | LayerKind::LeakyReLU { .. }
        | LayerKind::Softmax { .. } => "#d4f2de",
        _ => "#eef0e4",
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

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let t: String = s.chars().take(max.saturating_sub(1)).collect();
        format!("{t}…")
    }
}

/// The diagram of `net` as an SVG document.
pub fn to_svg(net: &Network, analysis: &Analysis) -> String {
    let n = net.layers.len();
    let height = HEADER + MARGIN + n as f64 * (BOX_H + GAP);
    let total_w = WIDTH + 2.0 * MARGIN;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{total_w}\" height=\"{height}\" \
         viewBox=\"0 0 {total_w} {height}\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" \
         markerHeight=\"7\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#555\"/></marker></defs>\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    s += &format!(
        "<text x=\"{MARGIN}\" y=\"28\" font-size=\"17\" font-weight=\"bold\">{}</text>\n\
         <text x=\"{MARGIN}\" y=\"47\" font-size=\"12\" fill=\"#444\">{} layers · {} params \
         ({} trainable) · {} MACs</text>\n",
        escape(&net.name),
        n,
        pyfmt::thousands(analysis.total_params()),
        pyfmt::thousands(analysis.trainable_params),
        pyfmt::thousands(analysis.macs)
    );
    for (i, layer) in net.layers.iter().enumerate() {
        let y = HEADER + MARGIN + i as f64 * (BOX_H + GAP);
        let report = analysis.layers.get(i);
        let error = report.and_then(|r| r.error.as_ref());
        let (stroke, width) = if error.is_some() {
            ("#d63031", 2.0)
        } else {
            ("#555", 1.0)
        };
        s += &format!(
            "<g class=\"layer\" id=\"layer-{i}\"><rect x=\"{MARGIN}\" y=\"{y}\" width=\"{WIDTH}\" \
             height=\"{BOX_H}\" rx=\"6\" fill=\"{}\" stroke=\"{stroke}\" stroke-width=\"{width}\"/>\n",
            colour(&layer.kind)
        );
        s += &format!(
            "<text x=\"{}\" y=\"{}\" font-size=\"13\" font-weight=\"bold\">{} <tspan font-weight=\"normal\" fill=\"#333\">({})</tspan></text>\n",
            MARGIN + 10.0,
            y + 18.0,
            escape(&clip(&layer.name, 40)),
            layer.class_name()
        );
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
        s += &format!(
            "<text x=\"{}\" y=\"{}\" font-size=\"12\" fill=\"{}\">{}</text>\n",
            MARGIN + 10.0,
            y + 36.0,
            if error.is_some() { "#d63031" } else { "#222" },
            escape(&detail)
        );
        // A Functional layer fed by other than the layer above names its inputs.
        let inbound = net.inbound_indices(i).unwrap_or_default();
        if net.functional && !inbound.is_empty() && inbound != [i.saturating_sub(1)] {
            let names: Vec<&str> = inbound
                .iter()
                .filter_map(|&j| net.layers.get(j).map(|l| l.name.as_str()))
                .collect();
            s += &format!(
                "<text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"#555\" text-anchor=\"end\">from {}</text>\n",
                MARGIN + WIDTH - 8.0,
                y + 18.0,
                escape(&clip(&names.join(", "), 36))
            );
        }
        s += "</g>\n";
        if i + 1 < n {
            let x = MARGIN + WIDTH / 2.0;
            s += &format!(
                "<line x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\" stroke=\"#555\" stroke-width=\"1.5\" marker-end=\"url(#arrow)\"/>\n",
                y + BOX_H,
                y + BOX_H + GAP - 1.0
            );
        }
    }
    s += "</svg>\n";
    s
}

#[cfg(test)]
mod tests {
    use super::*;

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
