//! The Arithmetic tab: the selected convolution's or pooling's sliding window on its own
//! numbers — the input grid (the part around the window when it is large), the padding
//! cells Keras adds (the exact split: `same` puts the odd one bottom/right), the kernel's
//! taps with their dilation gaps, and the output grid — played or scrubbed in stride
//! steps. Hovering an output cell shows the input cells it reads (padding taps marked),
//! hovering an input cell the outputs it feeds. The taps are `Window::taps`: exactly the
//! coordinates the engine's kernels read. A GIF of the animation (a teacher's slide) and
//! a PNG of one frame are drawn by the same layout, without egui.

use super::Designer;
use crate::keras::geometry::{self, AxisWindow, Window};
use crate::model::{Analysis, Network};
use crate::viz::Colormap;
use egui::{Color32, Pos2, Rect, Sense, Stroke, vec2};
use ndarray::Array2;

/// Cells drawn per axis at most: a larger grid is shown around the window.
const VISIBLE: usize = 24;

/// How a layer's output pixels read its input.
#[derive(Clone, Debug, PartialEq)]
pub enum Map {
    /// A sliding window (convolutions, pooling).
    Window(Window),
    /// Output pixel `o` copies input `o + offset` (ZeroPadding2D: minus the padding before;
    /// Cropping2D: plus the cropping before).
    Shift { offset: [isize; 2], out: [usize; 2] },
    /// UpSampling2D, nearest: output `o` copies input `o / size`.
    Nearest { size: [usize; 2], out: [usize; 2] },
    /// UpSampling2D, bilinear: output `o` blends the 2×2 input pixels around its centre
    /// (the engine's `bilinear_source`).
    Bilinear { input: [usize; 2], out: [usize; 2] },
}

impl Map {
    pub fn out(&self) -> [usize; 2] {
        match self {
            Map::Window(w) => w.out,
            Map::Shift { out, .. } | Map::Nearest { out, .. } | Map::Bilinear { out, .. } => *out,
        }
    }

    /// The input pixels output `o` reads, in kernel order (outside the input: padding).
    pub fn taps(&self, o: [usize; 2]) -> Vec<[isize; 2]> {
        match self {
            Map::Window(w) => w.taps(o),
            Map::Shift { offset, .. } => {
                vec![[o[0] as isize + offset[0], o[1] as isize + offset[1]]]
            }
            Map::Bilinear { input, out } => {
                let [(y0, y1, _), (x0, x1, _)] =
                    [0, 1].map(|a| geometry::bilinear_source(o[a], out[a], input[a]));
                let mut v: Vec<[isize; 2]> = Vec::with_capacity(4);
                for t in [[y0, x0], [y0, x1], [y1, x0], [y1, x1]] {
                    let t = t.map(|x| x as isize);
                    if !v.contains(&t) {
                        v.push(t);
                    }
                }
                v
            }
            Map::Nearest { size, .. } => vec![[
                (o[0] / size[0].max(1)) as isize,
                (o[1] / size[1].max(1)) as isize,
            ]],
        }
    }

    /// The output pixels that read input pixel `t`.
    pub fn readers(&self, t: [isize; 2]) -> Vec<[usize; 2]> {
        match self {
            Map::Window(w) => w.readers(t),
            _ => {
                let out = self.out();
                (0..out[0])
                    .flat_map(|r| (0..out[1]).map(move |c| [r, c]))
                    .filter(|&o| self.taps(o).contains(&t))
                    .collect()
            }
        }
    }
}

/// The window of layer `i` on its input: sizes, padding split, taps.
#[derive(Clone, Debug, PartialEq)]
pub struct Geometry {
    pub class: &'static str,
    /// Input rows and columns.
    pub input: [usize; 2],
    /// Padding rows before and after, columns before and after.
    pub pad: [[usize; 2]; 2],
    pub map: Map,
    /// Conv2DTranspose: the input's pixels are every `inserted`-th cell of the grid
    /// drawn (its strides, zeros between); 1 for the other layers.
    pub inserted: [usize; 2],
    /// Which input channels feed which output channels (groups, depthwise, separable).
    pub channels: Option<String>,
    /// The formula per axis with this layer's numbers.
    pub formula: Vec<String>,
}

impl Geometry {
    /// Output positions in the order the kernel visits them (row-major).
    pub fn positions(&self) -> usize {
        self.map.out()[0] * self.map.out()[1]
    }

    /// Output cell of position `k`.
    pub fn cell(&self, k: usize) -> [usize; 2] {
        let cols = self.map.out()[1].max(1);
        [k / cols, k % cols]
    }

    /// The input pixel grid cell `t` holds: `None` for padding and for the zeros a
    /// transposed convolution inserts between pixels.
    pub fn source(&self, t: [isize; 2]) -> Option<[usize; 2]> {
        if self.is_padding(t) {
            return None;
        }
        let [r, c] = [t[0] as usize, t[1] as usize];
        let [sr, sc] = self.inserted.map(|s| s.max(1));
        (r % sr == 0 && c % sc == 0).then_some([r / sr, c / sc])
    }

    /// Whether input coordinate `t` is padding.
    pub fn is_padding(&self, t: [isize; 2]) -> bool {
        (0..2).any(|a| t[a] < 0 || t[a] as usize >= self.input[a])
    }

    /// The sentence under the grids for position `k`: which input cells it reads.
    pub fn taps_text(&self, k: usize) -> String {
        let [r, c] = self.cell(k);
        let taps = self.map.taps([r, c]);
        let pads = taps.iter().filter(|&&t| self.source(t).is_none()).count();
        let list: Vec<String> = taps
            .iter()
            .map(|t| format!("({}, {})", t[0], t[1]))
            .collect();
        format!(
            "Output ({r}, {c}) reads input {} — {pads} of {} taps on {}",
            list.join(" "),
            taps.len(),
            if self.inserted == [1, 1] {
                "padding"
            } else {
                "zeros (padding or inserted)"
            }
        )
    }

    /// The sizes line: input, padding split, window, output.
    pub fn sizes_text(&self) -> String {
        let out = self.map.out();
        let input = format!("Input {}×{}", self.input[0], self.input[1]);
        let padding = format!(
            "padding top {}, bottom {}, left {}, right {}",
            self.pad[0][0], self.pad[0][1], self.pad[1][0], self.pad[1][1]
        );
        let output = format!("output {}×{}", out[0], out[1]);
        let how = match &self.map {
            Map::Window(w) => format!(
                "{padding} · kernel {}×{}, strides {}×{}, dilation {}×{}",
                w.kernel[0], w.kernel[1], w.strides[0], w.strides[1], w.dilation[0], w.dilation[1]
            ),
            Map::Shift { offset, .. } => format!(
                "{padding} · output pixel (r, c) copies input (r {:+}, c {:+})",
                offset[0], offset[1]
            ),
            Map::Bilinear { .. } => format!(
                "bilinear: output pixel (r, c) blends the 2×2 input pixels around ((r + 0.5)·{}/{} - 0.5, (c + 0.5)·{}/{} - 0.5), clamped at the edges",
                self.input[0], out[0], self.input[1], out[1]
            ),
            Map::Nearest { size, .. } => format!(
                "size {}×{}, nearest: output pixel (r, c) copies input (r / {}, c / {})",
                size[0], size[1], size[0], size[1]
            ),
        };
        format!("{input} · {how} · {output}")
    }

    /// The first coordinate and the count of the padded input's cells per axis.
    pub fn padded(&self) -> [(isize, usize); 2] {
        [0, 1].map(|a| {
            (
                -(self.pad[a][0] as isize),
                self.input[a] + self.pad[a][0] + self.pad[a][1],
            )
        })
    }

    /// The part of the padded input drawn: from `start` when scrolled by hand, else
    /// around position `k`'s taps; first coordinate and count per axis.
    fn input_view(
        &self,
        k: usize,
        visible: usize,
        start: Option<[isize; 2]>,
    ) -> [(isize, usize); 2] {
        let taps = self.map.taps(self.cell(k));
        let padded = self.padded();
        [0, 1].map(|a| {
            let (lo, n) = padded[a];
            if n <= visible {
                return (lo, n);
            }
            if let Some(s) = start {
                return (s[a].clamp(lo, lo + (n - visible) as isize), visible);
            }
            let first = taps.iter().map(|t| t[a]).min().unwrap_or(0);
            let last = taps.iter().map(|t| t[a]).max().unwrap_or(0);
            let span = (last - first + 1) as usize;
            let margin = visible.saturating_sub(span) as isize / 2;
            let start = (first - margin).clamp(lo, lo + (n - visible) as isize);
            (start, visible)
        })
    }

    /// The part of the output drawn around position `k`.
    fn output_view(&self, k: usize, visible: usize) -> [(usize, usize); 2] {
        let cell = self.cell(k);
        [0, 1].map(|a| {
            let n = self.map.out()[a];
            if n <= visible {
                return (0, n);
            }
            let start = cell[a].saturating_sub(visible / 2).min(n - visible);
            (start, visible)
        })
    }
}

/// The geometry of layer `i` (a convolution or pooling layer), or why there is none.
pub fn geometry(net: &Network, analysis: &Analysis, i: usize) -> Result<Geometry, String> {
    let layer = net.layers().get(i).ok_or("no layer selected")?;
    if let Some(g) = copying(net, analysis, i)? {
        return Ok(g);
    }
    let spec = layer.kind.spec();
    // Conv2DTranspose has no forward window of its own (the inspector's formula is the
    // other way round): its convolution arguments are the ones drawn.
    let transposed = matches!(layer.kind, crate::model::LayerKind::Conv2DTranspose(_));
    let args = spec
        .window()
        .or_else(|| {
            transposed
                .then(|| spec.conv().map(|c| c.window()))
                .flatten()
        })
        .ok_or_else(|| {
            format!(
                "{} has no sliding window: select a convolution or pooling layer (Conv2D, \
             DepthwiseConv2D, SeparableConv2D, MaxPooling2D, AveragePooling2D), \
             ZeroPadding2D, Cropping2D or UpSampling2D",
                layer.class_name()
            )
        })?;
    let shape = input_shape(net, analysis, i)?;
    let sp = args.data_format.spatial_axes();
    let dims = [shape[sp[0]], shape[sp[1]]];
    let [Some(h), Some(w)] = dims else {
        return Err("its input's height or width is not fixed".into());
    };
    let k = [args.kernel.h(), args.kernel.w()];
    let s = [args.strides.h(), args.strides.w()];
    let d = [args.dilation.h(), args.dilation.w()];
    if k.iter().chain(&s).chain(&d).any(|&v| v <= 0) {
        return Err("kernel size, strides and dilation must be positive".into());
    }
    let size = |v: [i64; 2]| v.map(|x| x as usize);
    let channels = channels_text(layer, &shape, args.data_format);
    if let crate::model::LayerKind::Conv2DTranspose(t) = &layer.kind {
        // The equivalent convolution: stride 1, the kernel flipped, over the input with
        // strides - 1 zeros inserted between pixels and keff - 1 - crop padded before.
        let op = t.output_padding.map(|p| p.v);
        let axes = [0, 1].map(|a| {
            AxisWindow::transposed(
                [h, w][a],
                k[a],
                s[a],
                d[a],
                args.padding,
                op.map(|p| p[a].max(0)),
            )
        });
        let grid = [0, 1].map(|a| ([h, w][a] as usize - 1) * s[a] as usize + 1);
        let keff = [0, 1].map(|a| geometry::effective_kernel(k[a], d[a]) as usize);
        let out = axes.map(|x| x.out.max(0) as usize);
        if out.contains(&0) {
            return Err("the output is empty".into());
        }
        let crop = axes.map(|x| x.pad_before.max(0) as usize);
        let before = [0, 1].map(|a| keff[a] - 1 - crop[a].min(keff[a] - 1));
        let after = [0, 1].map(|a| (out[a] + crop[a]).saturating_sub(grid[a]));
        let window = Window {
            kernel: size(k),
            strides: [1, 1],
            dilation: size(d),
            pad_before: before,
            out,
        };
        let formula = [0, 1]
            .into_iter()
            .map(|a| {
                format!(
                    "{}: {} pixels, {} zero{} between each -> {} cells; + {} before, {} after; {}×{} window, dilation {} -> {}",
                    ["H", "W"][a], [h, w][a], s[a] - 1, if s[a] == 2 { "" } else { "s" },
                    grid[a], before[a], after[a], k[a], k[a], d[a], out[a]
                )
            })
            .collect();
        return Ok(Geometry {
            class: layer.class_name(),
            input: grid,
            pad: [[before[0], after[0]], [before[1], after[1]]],
            map: Map::Window(window),
            inserted: size(s),
            channels,
            formula,
        });
    }
    let axes = [0, 1].map(|a| AxisWindow::new([h, w][a], k[a], s[a], d[a], args.padding));
    let window = Window::keras(size([h, w]), size(k), size(s), size(d), args.padding);
    if window.out.contains(&0) {
        return Err("the output is empty: the window is larger than the padded input".into());
    }
    let formula = [0, 1]
        .into_iter()
        .filter_map(|a| geometry::formula(["H", "W"][a], [h, w][a], k[a], s[a], d[a], args.padding))
        .collect();
    Ok(Geometry {
        class: layer.class_name(),
        input: size([h, w]),
        pad: axes.map(|x| [x.pad_before.max(0) as usize, x.pad_after.max(0) as usize]),
        map: Map::Window(window),
        inserted: [1, 1],
        channels,
        formula,
    })
}

/// Which input channels feed which output channels, for the layers that do not mix them
/// all: grouped Conv2D, DepthwiseConv2D, SeparableConv2D.
fn channels_text(
    layer: &crate::model::Layer,
    input: &crate::model::Shape,
    df: crate::layers::DataFormat,
) -> Option<String> {
    use crate::model::LayerKind;
    let cin = input.get(df.channel_axis(input.len())).copied().flatten()?;
    if let LayerKind::Conv2D(c) = &layer.kind
        && c.groups > 1
    {
        let (g, per_in, per_out) = (c.groups, cin / c.groups.max(1), c.filters / c.groups.max(1));
        Some(format!(
            "groups {g}: input channels {}·g … {}·g + {} feed filters {}·g … {}·g + {} of group g (g = 0 … {})",
            per_in,
            per_in,
            per_in - 1,
            per_out,
            per_out,
            per_out - 1,
            g - 1
        ))
    } else if let LayerKind::DepthwiseConv2D(c) = &layer.kind {
        Some(format!(
            "depthwise: input channel c alone feeds outputs {m}·c … {m}·c + {} ({cin} channels × multiplier {m} = {} outputs)",
            c.depth_multiplier - 1,
            cin * c.depth_multiplier,
            m = c.depth_multiplier
        ))
    } else if let LayerKind::SeparableConv2D(c) = &layer.kind {
        Some(format!(
            "separable: this window is its depthwise step (input channel c alone -> {m} channels, {} in all), then a 1×1 convolution mixes all of them into {} filters",
            cin * c.depth_multiplier,
            c.filters,
            m = c.depth_multiplier
        ))
    } else {
        None
    }
}

/// The shape of layer `i`'s (first) input, when known and an image's.
fn input_shape(
    net: &Network,
    analysis: &Analysis,
    i: usize,
) -> Result<crate::model::Shape, String> {
    let prev = *net.inputs_of(i).first().ok_or("the layer has no input")?;
    let shape = analysis
        .layers
        .get(prev)
        .and_then(|r| r.output_shape.clone())
        .ok_or("its input's shape is not known (a layer before it is rejected)")?;
    if shape.len() != 4 {
        return Err(format!("its input is not an image: {shape:?}"));
    }
    Ok(shape)
}

/// The input's spatial size of layer `i` (rows, columns), when fixed.
fn input_size(
    net: &Network,
    analysis: &Analysis,
    i: usize,
    cf: bool,
) -> Result<[usize; 2], String> {
    let shape = input_shape(net, analysis, i)?;
    let sp = if cf { [2, 3] } else { [1, 2] };
    match [shape[sp[0]], shape[sp[1]]] {
        [Some(h), Some(w)] if h > 0 && w > 0 => Ok([h as usize, w as usize]),
        _ => Err("its input's height or width is not fixed".into()),
    }
}

/// The layers that copy pixels (ZeroPadding2D, Cropping2D, UpSampling2D nearest); `None`
/// for the others.
fn copying(net: &Network, analysis: &Analysis, i: usize) -> Result<Option<Geometry>, String> {
    use crate::model::LayerKind;
    let layer = &net.layers()[i];
    let cf = layer.kind.data_format().is_some_and(|d| d.is_first());
    let class = layer.class_name();
    let sized = |v: [[i64; 2]; 2]| v.map(|a| a.map(|x| x.max(0) as usize));
    let (pad, map, input) = if let LayerKind::ZeroPadding2D(z) = &layer.kind {
        let input = input_size(net, analysis, i, cf)?;
        let p = sized(z.padding.v);
        let out = [0, 1].map(|a| input[a] + p[a][0] + p[a][1]);
        let offset = [-(p[0][0] as isize), -(p[1][0] as isize)];
        (p, Map::Shift { offset, out }, input)
    } else if let LayerKind::Cropping2D(c) = &layer.kind {
        let input = input_size(net, analysis, i, cf)?;
        let p = sized(c.cropping.v);
        let out = [0, 1].map(|a| input[a].saturating_sub(p[a][0] + p[a][1]));
        let offset = [p[0][0] as isize, p[1][0] as isize];
        ([[0; 2]; 2], Map::Shift { offset, out }, input)
    } else if let LayerKind::UpSampling2D(u) = &layer.kind {
        let input = input_size(net, analysis, i, cf)?;
        let size = u.size.v.map(|x| x.max(1) as usize);
        let out = [input[0] * size[0], input[1] * size[1]];
        let map = if u.interpolation.eq_ignore_ascii_case("bilinear") {
            Map::Bilinear { input, out }
        } else {
            Map::Nearest { size, out }
        };
        ([[0; 2]; 2], map, input)
    } else {
        return Ok(None);
    };
    if map.out().contains(&0) {
        return Err("the output is empty".into());
    }
    Ok(Some(Geometry {
        class,
        input,
        pad,
        map,
        inserted: [1, 1],
        channels: None,
        formula: Vec::new(),
    }))
}

/// What the pointer is on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Hover {
    Output([usize; 2]),
    Input([isize; 2]),
}

/// The tab's state (runtime).
#[derive(Default)]
pub struct ArithmeticView {
    /// The output position shown (row-major).
    pub position: usize,
    pub playing: bool,
    /// When the position last advanced while playing (seconds, egui's clock).
    last_step: f64,
    pub hover: Option<Hover>,
    /// Colour the input cells with the real input's values (first channel).
    pub values: bool,
    /// The first input row and column drawn when scrolled by hand (`None`: the view
    /// follows the kernel).
    pub scroll: Option<[isize; 2]>,
    /// [`input_values`] for (viewer run, layer, colormap).
    values_cache: Option<(ValuesKey, Option<std::sync::Arc<InputValues>>)>,
}

/// Which input values are cached: the viewer's run, the layer, the colormap.
type ValuesKey = (u64, usize, Colormap);

/// A layer input's first channel, the colormap and the value range it is drawn with.
type InputValues = (Array2<f32>, Colormap, (f32, f32));

const BLUE: Color32 = Color32::from_rgb(70, 140, 255);
const ORANGE: Color32 = Color32::from_rgb(255, 160, 60);
const YELLOW: Color32 = Color32::from_rgb(250, 220, 80);
const CELL: Color32 = Color32::from_gray(85);
const PAD: Color32 = Color32::from_gray(50);

/// The tab.
pub fn arithmetic_panel(d: &mut Designer, ui: &mut egui::Ui) {
    let i = d.view.selected;
    let g = match geometry(&d.doc.network, &d.rt.analysis, i) {
        Ok(g) => g,
        Err(e) => {
            ui.heading("Arithmetic");
            ui.label(e);
            return;
        }
    };
    let n = g.positions();
    let values = if d.rt.arithmetic.values {
        // The input's first channel, taken from the last run once per run and layer.
        let key = (d.rt.viewer.version, i, d.view.colormap);
        match &d.rt.arithmetic.values_cache {
            Some((k, v)) if *k == key => v.clone(),
            _ => {
                let v = input_values(d, i).map(std::sync::Arc::new);
                d.rt.arithmetic.values_cache = Some((key, v.clone()));
                v
            }
        }
    } else {
        None
    };
    let av = &mut d.rt.arithmetic;
    av.position = av.position.min(n - 1);
    // Playing: one stride step every 0.4 s.
    let now = ui.input(|inp| inp.time);
    if av.playing {
        if now - av.last_step >= 0.4 {
            av.position = (av.position + 1) % n;
            av.last_step = now;
        }
        ui.ctx()
            .request_repaint_after(std::time::Duration::from_millis(100));
    }
    ui.heading(format!("{} on its input", g.class));
    ui.label(g.sizes_text());
    for f in &g.formula {
        ui.monospace(f);
    }
    if g.inserted != [1, 1] {
        ui.label(
            "Conv2DTranspose as its equivalent convolution: stride 1 and the kernel flipped, \
             over the input with strides - 1 zeros inserted between its pixels (dotted \
             cells); (r, c) are cells of that grid, input pixel (r / strides, c / strides).",
        );
    }
    if let Some(c) = &g.channels {
        ui.label(c);
    }
    ui.horizontal_wrapped(|ui| {
        if ui
            .button(if av.playing { "Pause" } else { "Play" })
            .clicked()
        {
            av.playing = !av.playing;
            av.last_step = now;
        }
        if ui.button("< Step").clicked() {
            av.position = (av.position + n - 1) % n;
        }
        if ui.button("Step >").clicked() {
            av.position = (av.position + 1) % n;
        }
        let l = ui.label("position");
        ui.add(egui::DragValue::new(&mut av.position).range(0..=n - 1))
            .labelled_by(l.id);
        ui.label(format!("of {n}"));
        ui.checkbox(&mut av.values, "input values");
        let v = values.as_ref().map(|v| &v.0);
        if ui.button("Export GIF…").clicked() {
            export(d_path("arithmetic.gif", "GIF"), || gif_bytes(&g, v));
        }
        if ui.button("Export frame PNG…").clicked() {
            let k = av.position;
            export(d_path("arithmetic.png", "PNG"), || frame_png(&g, k, v));
        }
    });
    // A large input: the view follows the kernel, or is scrolled by hand.
    let padded = g.padded();
    if padded.iter().any(|&(_, n)| n > VISIBLE) {
        ui.horizontal_wrapped(|ui| {
            let mut follow = av.scroll.is_none();
            if ui.checkbox(&mut follow, "follow the kernel").changed() {
                av.scroll = if follow {
                    None
                } else {
                    let [(r, _), (c, _)] = g.input_view(av.position, VISIBLE, None);
                    Some([r, c])
                };
            }
            if let Some(s) = &mut av.scroll {
                for (a, name) in ["first row", "first column"].into_iter().enumerate() {
                    let (lo, n) = padded[a];
                    let l = ui.label(name);
                    ui.add(
                        egui::DragValue::new(&mut s[a])
                            .range(lo..=lo + n.saturating_sub(VISIBLE) as isize),
                    )
                    .labelled_by(l.id);
                }
            }
        });
    }
    let shown = match av.hover {
        Some(Hover::Output(c)) => c,
        _ => g.cell(av.position),
    };
    ui.label(match av.hover {
        Some(Hover::Input(t)) => {
            let readers = g.map.readers(t);
            let list: Vec<String> = readers
                .iter()
                .map(|c| format!("({}, {})", c[0], c[1]))
                .collect();
            let what = if g.is_padding(t) {
                "padding cell"
            } else {
                "input"
            };
            format!(
                "{what} ({}, {}) feeds output {}",
                t[0],
                t[1],
                if list.is_empty() {
                    "nothing".into()
                } else {
                    list.join(" ")
                }
            )
        }
        _ => g.taps_text(shown[0] * g.map.out()[1] + shown[1]),
    });
    let k = shown[0] * g.map.out()[1] + shown[1];
    let cell = 20.0f32
        .min(ui.available_width() / (2 * VISIBLE + 4) as f32)
        .max(6.0);
    let [(r0, rn), (c0, cn)] = g.input_view(k, VISIBLE, av.scroll);
    let [(or0, orn), (oc0, ocn)] = g.output_view(k, VISIBLE);
    let size = vec2(
        (cn + ocn) as f32 * cell + 3.0 * cell,
        rn.max(orn) as f32 * cell + cell,
    );
    let (resp, painter) = ui.allocate_painter(size, Sense::hover());
    let origin = resp.rect.min + vec2(cell * 0.5, cell * 0.5);
    let out_origin = origin + vec2((cn as f32 + 2.0) * cell, 0.0);
    let taps = g.map.taps(shown);
    let readers = match av.hover {
        Some(Hover::Input(t)) => g.map.readers(t),
        _ => Vec::new(),
    };
    let mut hover = None;
    let pointer = resp.hover_pos();
    let rect_at = |o: Pos2, r: usize, c: usize| {
        Rect::from_min_size(
            o + vec2(c as f32 * cell, r as f32 * cell),
            vec2(cell - 1.0, cell - 1.0),
        )
    };
    for dr in 0..rn {
        for dc in 0..cn {
            let t = [r0 + dr as isize, c0 + dc as isize];
            let rect = rect_at(origin, dr, dc);
            let source = g.source(t);
            let fill = match (source, &values) {
                (None, _) => PAD,
                (Some([r, c]), Some(v)) => {
                    let [r, g3, b] = v.1.rgb(v.1.position(v.0[[r, c]], v.2));
                    Color32::from_rgb(r, g3, b)
                }
                (Some(_), None) => CELL,
            };
            painter.rect_filled(rect, 1.0, fill);
            if source.is_none() {
                painter.text(
                    rect.center(),
                    egui::Align2::CENTER_CENTER,
                    "0",
                    egui::FontId::monospace(cell * 0.5),
                    Color32::from_gray(120),
                );
            }
            if taps.contains(&t) {
                let colour = if source.is_none() { ORANGE } else { BLUE };
                painter.rect_stroke(
                    rect,
                    1.0,
                    Stroke::new(2.5, colour),
                    egui::StrokeKind::Inside,
                );
            }
            if av.hover == Some(Hover::Input(t)) {
                painter.rect_stroke(
                    rect,
                    1.0,
                    Stroke::new(2.5, YELLOW),
                    egui::StrokeKind::Inside,
                );
            }
            if pointer.is_some_and(|p| rect.contains(p)) {
                hover = Some(Hover::Input(t));
            }
        }
    }
    for dr in 0..orn {
        for dc in 0..ocn {
            let o = [or0 + dr, oc0 + dc];
            let rect = rect_at(out_origin, dr, dc);
            let fill = if o == shown {
                BLUE
            } else if readers.contains(&o) {
                YELLOW
            } else {
                CELL
            };
            painter.rect_filled(rect, 1.0, fill);
            if pointer.is_some_and(|p| rect.contains(p)) {
                hover = Some(Hover::Output(o));
            }
        }
    }
    av.hover = hover;
    ui.label("Blue: the taps of the output cell; orange: taps on padding (zeros for a convolution; not counted by pooling); grey 0: the padding Keras adds.");
}

/// The selected layer's input (first channel) with its range and the colormap, when
/// the viewer has run.
fn input_values(d: &Designer, i: usize) -> Option<InputValues> {
    let prev = *d.doc.network.inputs_of(i).first()?;
    let run = d.rt.viewer.last_run()?;
    if *run.network != d.doc.network {
        return None;
    }
    let out = &run.acts.get(prev)?.as_ref()?.output;
    let cf = d.rt.analysis.layers.get(prev)?.channels_first;
    let maps = crate::viz::channel_maps(out, cf);
    if maps.shape()[0] == 0 {
        return None;
    }
    let m = maps.index_axis(ndarray::Axis(0), 0).to_owned();
    let range = crate::viz::min_max(m.iter());
    Some((m, d.view.colormap, range))
}

/// A save dialog for `name` (the window; nothing in headless tests).
fn d_path(name: &str, kind: &str) -> Option<std::path::PathBuf> {
    if cfg!(test) {
        return None;
    }
    rfd::FileDialog::new()
        .set_file_name(name)
        .add_filter(kind, &[name.rsplit('.').next().unwrap_or("")])
        .save_file()
}

fn export(path: Option<std::path::PathBuf>, bytes: impl FnOnce() -> Result<Vec<u8>, String>) {
    if let Some(p) = path
        && let Ok(b) = bytes()
    {
        let _ = crate::io::write_atomic(&p, &b);
    }
}

/// Frames drawn per position in a GIF: all of them up to this many.
pub const GIF_FRAMES: usize = 256;

/// Pixels per cell in the exported pictures.
const PX: usize = 12;

/// The exported pictures' colours: background, cell, padding, tap, padding tap,
/// current output, then 32 steps of viridis for the input's values.
fn palette() -> Vec<[u8; 3]> {
    let mut p: Vec<[u8; 3]> = [Color32::from_gray(32), CELL, PAD, BLUE, ORANGE, BLUE]
        .iter()
        .map(|c| [c.r(), c.g(), c.b()])
        .collect();
    p.extend((0..32).map(|i| Colormap::Viridis.rgb(i as f32 / 31.0)));
    p
}

/// One frame as palette indices: the input (with padding) on the left, the output on
/// the right, [`PX`] pixels a cell, the taps of position `k` outlined. Returns width,
/// height and the indices row by row.
fn frame_indexed(g: &Geometry, k: usize, values: Option<&Array2<f32>>) -> (usize, usize, Vec<u8>) {
    let [(r0, rn), (c0, cn)] = g.input_view(k, VISIBLE, None);
    let [(or0, orn), (oc0, ocn)] = g.output_view(k, VISIBLE);
    let (w, h) = ((cn + ocn + 3) * PX, (rn.max(orn) + 1) * PX);
    let mut px = vec![0u8; w * h];
    let range = values.map(|v| crate::viz::min_max(v.iter()));
    let mut cell = |x0: usize, y0: usize, fill: u8, border: Option<u8>| {
        for y in 0..PX - 1 {
            for x in 0..PX - 1 {
                let edge = x < 2 || y < 2 || x >= PX - 3 || y >= PX - 3;
                px[(y0 + y) * w + x0 + x] = match border {
                    Some(b) if edge => b,
                    _ => fill,
                };
            }
        }
    };
    let taps = g.map.taps(g.cell(k));
    for dr in 0..rn {
        for dc in 0..cn {
            let t = [r0 + dr as isize, c0 + dc as isize];
            let source = g.source(t);
            let fill = match (source, values, range) {
                (None, ..) => 2,
                (Some([r, c]), Some(v), Some(range)) => {
                    let pos = Colormap::Viridis.position(v[[r, c]], range);
                    6 + (pos.clamp(0.0, 1.0) * 31.0).round() as u8
                }
                _ => 1,
            };
            let border = taps
                .contains(&t)
                .then_some(if source.is_none() { 4 } else { 3 });
            cell(dc * PX + PX / 2, dr * PX + PX / 2, fill, border);
        }
    }
    let current = g.cell(k);
    let x_out = (cn + 2) * PX;
    for dr in 0..orn {
        for dc in 0..ocn {
            let fill = if [or0 + dr, oc0 + dc] == current {
                5
            } else {
                1
            };
            cell(x_out + dc * PX, dr * PX + PX / 2, fill, None);
        }
    }
    (w, h, px)
}

/// Frame `k` as an RGB picture.
pub fn frame_image(g: &Geometry, k: usize, values: Option<&Array2<f32>>) -> image::RgbImage {
    let (w, h, px) = frame_indexed(g, k, values);
    let pal = palette();
    let rgb: Vec<u8> = px.iter().flat_map(|&i| pal[i as usize]).collect();
    image::RgbImage::from_raw(w as u32, h as u32, rgb).unwrap_or_default()
}

/// Frame `k` as PNG bytes.
pub fn frame_png(g: &Geometry, k: usize, values: Option<&Array2<f32>>) -> Result<Vec<u8>, String> {
    let img = frame_image(g, k, values);
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .map_err(|e| e.to_string())?;
    Ok(out.into_inner())
}

/// The animation as a looping GIF: one frame per position (the first [`GIF_FRAMES`]),
/// 0.4 s each, in the pictures' own palette (the `gif` crate, no quantisation: the
/// frames are indices already).
pub fn gif_bytes(g: &Geometry, values: Option<&Array2<f32>>) -> Result<Vec<u8>, String> {
    let (w, h, _) = frame_indexed(g, 0, values);
    let (w16, h16) = (
        u16::try_from(w).map_err(|_| "too wide")?,
        u16::try_from(h).map_err(|_| "too tall")?,
    );
    let pal: Vec<u8> = palette().into_iter().flatten().collect();
    let mut out = Vec::new();
    {
        let mut enc = gif::Encoder::new(&mut out, w16, h16, &pal).map_err(|e| e.to_string())?;
        enc.set_repeat(gif::Repeat::Infinite)
            .map_err(|e| e.to_string())?;
        for k in 0..g.positions().min(GIF_FRAMES) {
            let (fw, fh, px) = frame_indexed(g, k, values);
            // The view follows the window: a frame of another size is cut or padded.
            let px = if (fw, fh) == (w, h) {
                px
            } else {
                let mut fit = vec![0u8; w * h];
                for y in 0..h.min(fh) {
                    let n = w.min(fw);
                    fit[y * w..y * w + n].copy_from_slice(&px[y * fw..y * fw + n]);
                }
                fit
            };
            let mut frame = gif::Frame::from_indexed_pixels(w16, h16, px, None);
            frame.delay = 40;
            enc.write_frame(&frame).map_err(|e| e.to_string())?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LayerKind;

    /// Bilinear upsampling: every output pixel is a blend of exactly its taps (the
    /// engine's output lies between their smallest and largest values).
    #[test]
    fn bilinear_upsampling_blends_its_taps() {
        let mut net = Network::sequential("t", &[4, 5, 1]);
        let i = net.insert_new(0, "UpSampling2D").unwrap();
        if let LayerKind::UpSampling2D(u) = &mut net.layer_mut(i).kind {
            u.size = crate::model::Pair::new(3, 2);
            u.interpolation = "bilinear".into();
        }
        let analysis = net.analyze();
        let g = geometry(&net, &analysis, i).unwrap();
        assert!(matches!(g.map, Map::Bilinear { .. }));
        let x = ndarray::ArrayD::from_shape_fn(vec![1, 4, 5, 1], |d| {
            ((d[1] * 7 + d[2] * 3) % 11) as f32
        });
        let acts = crate::engine::run(&net, &vec![Vec::new(); net.len()], x.clone()).unwrap();
        let y = &acts[i].as_ref().unwrap().output;
        assert_eq!(&y.shape()[1..3], &g.map.out()[..]);
        for r in 0..g.map.out()[0] {
            for c in 0..g.map.out()[1] {
                let vals: Vec<f32> = g
                    .map
                    .taps([r, c])
                    .iter()
                    .map(|t| x[[0, t[0] as usize, t[1] as usize, 0]])
                    .collect();
                let (lo, hi) = vals
                    .iter()
                    .fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
                let v = y[[0, r, c, 0]];
                assert!(
                    v >= lo - 1e-5 && v <= hi + 1e-5,
                    "({r}, {c}): {v} outside {lo}..{hi}"
                );
            }
        }
    }

    /// For the copying layers the taps are what the engine computes: each output pixel is
    /// the input pixel its tap names, or 0 on padding.
    #[test]
    fn copying_layers_taps_are_the_engines_outputs() {
        for (class, set) in [("ZeroPadding2D", 0), ("Cropping2D", 1), ("UpSampling2D", 2)] {
            let mut net = Network::sequential("t", &[5, 6, 2]);
            let i = net.insert_new(0, class).unwrap();
            match set {
                0 => {
                    if let LayerKind::ZeroPadding2D(z) = &mut net.layer_mut(i).kind {
                        z.padding.v = [[1, 2], [3, 0]];
                    }
                }
                1 => {
                    if let LayerKind::Cropping2D(c) = &mut net.layer_mut(i).kind {
                        c.cropping.v = [[1, 0], [2, 1]];
                    }
                }
                _ => {
                    if let LayerKind::UpSampling2D(u) = &mut net.layer_mut(i).kind {
                        u.size = crate::model::Pair::new(2, 3);
                    }
                }
            }
            let analysis = net.analyze();
            let g = geometry(&net, &analysis, i).unwrap();
            let x = ndarray::ArrayD::from_shape_fn(vec![1, 5, 6, 2], |d| {
                (d[1] * 10 + d[2]) as f32 + d[3] as f32 * 0.5 + 1.0
            });
            let acts = crate::engine::run(&net, &vec![Vec::new(); net.len()], x.clone()).unwrap();
            let y = &acts[i].as_ref().unwrap().output;
            assert_eq!(&y.shape()[1..3], &g.map.out()[..], "{class}");
            for r in 0..g.map.out()[0] {
                for c in 0..g.map.out()[1] {
                    let [t] = g.map.taps([r, c])[..] else {
                        panic!("one tap")
                    };
                    for ch in 0..2 {
                        let want = if g.is_padding(t) {
                            0.0
                        } else {
                            x[[0, t[0] as usize, t[1] as usize, ch]]
                        };
                        assert_eq!(y[[0, r, c, ch]], want, "{class} ({r}, {c})");
                    }
                    assert!(g.map.readers(t).contains(&[r, c]));
                }
            }
        }
    }
}

#[cfg(test)]
mod transposed_tests {
    use super::*;
    use crate::model::LayerKind;

    /// Conv2DTranspose's taps over the zero-inserted grid, with the flipped kernel, give
    /// the engine's output (strides, `same` and `valid`, output_padding, dilation).
    #[test]
    fn transposed_taps_with_the_flipped_kernel_are_the_engines_output() {
        for (k, s, same, op, d) in [
            (3, 2, true, None, 1),
            (3, 2, false, None, 1),
            (4, 3, true, Some(1), 1),
            (2, 2, false, Some(0), 1),
            (3, 1, true, None, 2),
        ] {
            let mut net = Network::sequential("t", &[4, 5, 2]);
            let i = net.insert_new(0, "Conv2DTranspose").unwrap();
            if let LayerKind::Conv2DTranspose(t) = &mut net.layer_mut(i).kind {
                t.filters = 3;
                t.base.kernel_size = crate::model::Pair::square(k);
                t.base.strides = crate::model::Pair::square(s);
                t.base.dilation_rate = crate::model::Pair::square(d);
                t.base.padding = if same {
                    crate::layers::Padding::Same
                } else {
                    crate::layers::Padding::Valid
                };
                t.output_padding = op.map(crate::model::Pair::square);
                t.base.use_bias = false;
            }
            let analysis = net.analyze();
            assert!(analysis.error(&net).is_none(), "{:?}", analysis.error(&net));
            let w = crate::engine::weights::initialize(&net, &analysis, 1).unwrap();
            let g = geometry(&net, &analysis, i).unwrap();
            let x = ndarray::ArrayD::from_shape_fn(vec![1, 4, 5, 2], |q| {
                (q[1] * 5 + q[2]) as f32 * 0.1 - q[3] as f32
            });
            let acts = crate::engine::run(&net, &w, x.clone()).unwrap();
            let y = &acts[i].as_ref().unwrap().output;
            let kern = &w[i][0]; // (kh, kw, filters, in)
            assert_eq!(&y.shape()[1..3], &g.map.out()[..]);
            let kk = k as usize;
            for r in 0..g.map.out()[0] {
                for c in 0..g.map.out()[1] {
                    for f in 0..3 {
                        let mut acc = 0f32;
                        for (u, t) in g.map.taps([r, c]).into_iter().enumerate() {
                            let Some([sr, sc]) = g.source(t) else {
                                continue;
                            };
                            let (uy, ux) = (u / kk, u % kk);
                            for ci in 0..2 {
                                acc += x[[0, sr, sc, ci]] * kern[[kk - 1 - uy, kk - 1 - ux, f, ci]];
                            }
                        }
                        let got = y[[0, r, c, f]];
                        assert!(
                            (got - acc).abs() < 1e-4,
                            "k{k} s{s} same {same} op {op:?} d{d} ({r}, {c}, {f}): {got} vs {acc}"
                        );
                    }
                }
            }
        }
    }
}
