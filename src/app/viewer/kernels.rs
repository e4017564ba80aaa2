//! Kernel view for convolution layers: each filter's weights as small tiles, RGB-combined
//! when the filter sees 3 input channels, otherwise one tile per input channel (red-blue,
//! symmetric around 0). Scales are shared by the whole layer so filters compare.

use super::Viewer;
use crate::layers::KernelLayout;
use crate::model::Layer;
use crate::viz::Colormap;
use egui::{Color32, vec2};
use ndarray::{Array3, ArrayD, Axis};

/// Most filters drawn.
const MAX_FILTERS: usize = 64;
/// Most input channels drawn per filter.
const MAX_INPUTS: usize = 8;

pub fn has_kernels(layer: &Layer) -> bool {
    layer.kind.spec().kernel().is_some()
}

/// Filters as (label, (kh, kw, inputs)) in display order.
fn filters(layer: &Layer, kernel: &ArrayD<f32>) -> Vec<(String, Array3<f32>)> {
    if kernel.ndim() != 4 {
        return Vec::new();
    }
    let pick = |a: ndarray::ArrayViewD<f32>| -> Array3<f32> {
        a.into_dimensionality::<ndarray::Ix3>()
            .map(|v| v.to_owned())
            .unwrap_or_else(|_| Array3::zeros((0, 0, 0)))
    };
    let Some(view) = layer.kind.spec().kernel() else {
        return Vec::new();
    };
    match view.layout {
        KernelLayout::Filters => (0..kernel.shape()[3])
            .map(|f| (format!("filter {f}"), pick(kernel.index_axis(Axis(3), f))))
            .collect(),
        KernelLayout::Transposed => (0..kernel.shape()[2])
            .map(|f| (format!("filter {f}"), pick(kernel.index_axis(Axis(2), f))))
            .collect(),
        KernelLayout::Depthwise => {
            // Depthwise (kh, kw, channels, multiplier): one single-channel filter each.
            let (c, m) = (kernel.shape()[2], kernel.shape()[3]);
            (0..c)
                .flat_map(|ch| (0..m).map(move |k| (ch, k)))
                .map(|(ch, k)| {
                    let a = kernel
                        .index_axis(Axis(3), k)
                        .index_axis(Axis(2), ch)
                        .insert_axis(Axis(2))
                        .to_owned();
                    (format!("channel {ch} × {k}"), pick(a.view()))
                })
                .collect()
        }
    }
}

pub fn kernels(v: &mut Viewer, ui: &mut egui::Ui, i: usize, layer: &Layer) {
    let Some(kernel) = v.layer_weights(i).and_then(|w| w.first()).cloned() else {
        ui.label("No weights yet.");
        return;
    };
    let list = filters(layer, &kernel);
    let m = kernel
        .iter()
        .fold(0f32, |a, &x| if x.is_finite() { a.max(x.abs()) } else { a })
        .max(1e-12);
    let key = (v.version, i, Colormap::Diverging);
    let ctx = ui.ctx().clone();
    let fresh = v.kernel_textures.as_ref().is_none_or(|(k, _)| *k != key);
    if fresh {
        let mut texs = Vec::new();
        for (f, (_, w)) in list.iter().take(MAX_FILTERS).enumerate() {
            let (kh, kw, n) = (w.shape()[0], w.shape()[1], w.shape()[2]);
            if n == 3 {
                let px = w
                    .outer_iter()
                    .flat_map(|row| {
                        row.outer_iter()
                            .map(|rgb| {
                                let c =
                                    |x: f32| ((0.5 + x / (2.0 * m)).clamp(0.0, 1.0) * 255.0) as u8;
                                Color32::from_rgb(c(rgb[0]), c(rgb[1]), c(rgb[2]))
                            })
                            .collect::<Vec<_>>()
                    })
                    .collect();
                texs.push(ctx.load_texture(
                    format!("k-{i}-{f}"),
                    egui::ColorImage::new([kw, kh], px),
                    egui::TextureOptions::NEAREST,
                ));
            } else {
                for c in 0..n.min(MAX_INPUTS) {
                    let px = w
                        .index_axis(Axis(2), c)
                        .iter()
                        .map(|&x| {
                            let [r, g, b] = Colormap::Diverging.rgb(0.5 + x / (2.0 * m));
                            Color32::from_rgb(r, g, b)
                        })
                        .collect();
                    texs.push(ctx.load_texture(
                        format!("k-{i}-{f}-{c}"),
                        egui::ColorImage::new([kw, kh], px),
                        egui::TextureOptions::NEAREST,
                    ));
                }
            }
        }
        v.kernel_textures = Some((key, texs));
    }
    let Some((_, texs)) = &v.kernel_textures else {
        return;
    };
    ui.label(format!(
        "Kernel {:?}; colours span ±{m:.4} (white 0, red positive, blue negative){}",
        kernel.shape(),
        if list.len() > MAX_FILTERS {
            format!("; first {MAX_FILTERS} of {} filters", list.len())
        } else {
            String::new()
        }
    ));
    let px = 40.0;
    let mut t = 0;
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            if list.first().is_some_and(|(_, w)| w.shape()[2] == 3) {
                ui.label("Each filter's RGB weights combined (grey = 0).");
                ui.horizontal_wrapped(|ui| {
                    for (name, w) in list.iter().take(MAX_FILTERS) {
                        if let Some(tex) = texs.get(t) {
                            ui.add(
                                egui::Image::new(tex)
                                    .fit_to_exact_size(vec2(
                                        px,
                                        px * w.shape()[0] as f32 / w.shape()[1].max(1) as f32,
                                    ))
                                    .alt_text(name.clone()),
                            )
                            .on_hover_text(name);
                        }
                        t += 1;
                    }
                });
                return;
            }
            for (name, w) in list.iter().take(MAX_FILTERS) {
                let n = w.shape()[2];
                ui.horizontal(|ui| {
                    ui.add_sized(vec2(110.0, px), egui::Label::new(name.as_str()));
                    for c in 0..n.min(MAX_INPUTS) {
                        if let Some(tex) = texs.get(t) {
                            ui.add(
                                egui::Image::new(tex)
                                    .fit_to_exact_size(vec2(px, px))
                                    .alt_text(format!("{name} input {c}")),
                            )
                            .on_hover_text(format!("input channel {c}"));
                        }
                        t += 1;
                    }
                    if n > MAX_INPUTS {
                        ui.weak(format!("+{} more inputs", n - MAX_INPUTS));
                    }
                });
            }
        });
}
