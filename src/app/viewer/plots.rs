//! egui_plot views of the selected layer: histogram of its values, per-channel mean and
//! max, share of zeros per channel (dead ReLUs); for non-spatial outputs (Flatten,
//! Dense) a bar per value and, after a softmax, the top-5 classes.

use super::Viewer;
use crate::model::{Layer, Network};
use egui::Color32;
use egui_plot::{Bar, BarChart, Legend, Plot};

const BLUE: Color32 = Color32::from_rgb(0x4c, 0x9b, 0xe8);
const ORANGE: Color32 = Color32::from_rgb(0xf0, 0x9a, 0x3e);

/// Whether the layer's output is a softmax (top-5 makes sense).
pub fn ends_in_softmax(layer: &Layer) -> bool {
    layer.kind.activation() == Some("softmax")
}

pub fn statistics(v: &mut Viewer, net: &Network, ui: &mut egui::Ui, i: usize, layer: &Layer) {
    let Some(p) = v.prepared(net, i) else {
        return;
    };
    let (lo, hi, counts) = crate::viz::histogram(p.maps.iter(), 64);
    let width = ((hi - lo) / 64.0).max(1e-6) as f64;
    let bars: Vec<Bar> = counts
        .iter()
        .enumerate()
        .map(|(b, &c)| Bar::new(lo as f64 + (b as f64 + 0.5) * width, c as f64).width(width))
        .collect();
    let stats = p.stats.clone();
    let spatial = p.spatial;
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            ui.strong("Histogram of the layer's values");
            Plot::new("histogram")
                .height(150.0)
                .x_axis_label("value")
                .y_axis_label("count")
                .show(ui, |pu| {
                    pu.bar_chart(BarChart::new("values", bars).color(BLUE))
                });
            if !spatial {
                values(v, net, ui, i, layer);
                return;
            }
            ui.strong("Per channel: mean and max");
            let mean: Vec<Bar> = stats
                .iter()
                .enumerate()
                .map(|(k, s)| Bar::new(k as f64 - 0.2, s.mean as f64).width(0.4))
                .collect();
            let max: Vec<Bar> = stats
                .iter()
                .enumerate()
                .map(|(k, s)| Bar::new(k as f64 + 0.2, s.max as f64).width(0.4))
                .collect();
            Plot::new("channel-mean-max")
                .height(150.0)
                .legend(Legend::default())
                .x_axis_label("channel")
                .show(ui, |pu| {
                    pu.bar_chart(BarChart::new("mean", mean).color(BLUE));
                    pu.bar_chart(BarChart::new("max", max).color(ORANGE));
                });
            let dead = stats.iter().filter(|s| s.dead).count();
            ui.strong(format!(
                "Share of zeros per channel ({dead} of {} channels dead: all values ≤ 0)",
                stats.len()
            ));
            let zeros: Vec<Bar> = stats
                .iter()
                .enumerate()
                .map(|(k, s)| {
                    Bar::new(k as f64, s.zero_share as f64 * 100.0)
                        .width(0.8)
                        .fill(if s.dead {
                            crate::app::panels::RED
                        } else {
                            BLUE
                        })
                })
                .collect();
            Plot::new("channel-zeros")
                .height(130.0)
                .include_y(0.0)
                .include_y(100.0)
                .x_axis_label("channel")
                .y_axis_label("% zeros")
                .show(ui, |pu| pu.bar_chart(BarChart::new("zeros %", zeros)));
        });
}

/// Non-spatial outputs: one bar per value (first 4096), and the top-5 after a softmax.
pub fn values(v: &mut Viewer, net: &Network, ui: &mut egui::Ui, i: usize, layer: &Layer) {
    let Some(p) = v.prepared(net, i) else {
        return;
    };
    let vals: Vec<f32> = p.maps.iter().copied().collect();
    if ends_in_softmax(layer) {
        ui.strong("Top 5 (softmax)");
        for (rank, (k, pr)) in crate::viz::top_k(&vals, 5).into_iter().enumerate() {
            ui.label(format!(
                "{}. class {k}: {pr:.4} ({:.1} %)",
                rank + 1,
                pr * 100.0
            ));
        }
    }
    let shown = vals.len().min(4096);
    ui.strong(if shown < vals.len() {
        format!("Values (first {shown} of {})", vals.len())
    } else {
        format!("Values ({})", vals.len())
    });
    let bars: Vec<Bar> = vals[..shown]
        .iter()
        .enumerate()
        .map(|(k, &x)| Bar::new(k as f64, x as f64).width(0.8))
        .collect();
    Plot::new("values")
        .height(220.0)
        .x_axis_label("index")
        .show(ui, |pu| {
            pu.bar_chart(BarChart::new("value", bars).color(BLUE))
        });
}
