//! Turning activations into pictures and numbers, with no GUI: colormaps, normalisation,
//! per-channel statistics (mean, energy, dead channels), channel ordering, histograms,
//! top-k, and the tile grid that both the window and `convscope render` draw.
//!
//! Values → pixels (the documented contract of `convscope render` and the PNG export):
//! - a layer output of shape (1, H, W, C) (channels_first: (1, C, H, W)) is C maps of H×W;
//!   any other output is one map of 1×N (its values in order);
//! - each map gets a range (lo, hi) from [`Norm`]: its own min–max (per channel), the
//!   layer's min–max (per layer) or a fixed pair; with the diverging colormap the range is
//!   made symmetric, (−m, m) with m = max(|lo|, |hi|), so 0 is the middle colour;
//! - a value v becomes t = (v − lo) / (hi − lo) clamped to [0, 1] (t = 0 when hi = lo, or
//!   0.5 with the diverging colormap), then a colour: `gray` is round(255·t) on all three
//!   channels, the others are colorous's viridis, magma and red–blue (blue for low);
//! - tiles are laid out left to right, top to bottom, `ceil(sqrt(C))` per row, each map
//!   magnified `scale` times by pixel repetition, with a [`GAP`]-pixel border of
//!   [`BACKGROUND`] around and between tiles.

use ndarray::{Array3, ArrayD, ArrayView2, Axis};

/// Pixels between tiles (and around the grid).
pub const GAP: usize = 2;
/// Colour of the gaps.
pub const BACKGROUND: [u8; 3] = [32, 32, 32];

/// A colour scale for values in [0, 1].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Colormap {
    Viridis,
    Magma,
    Gray,
    Diverging,
    /// Google's improved jet, the heat maps' usual scale (Keras's Grad-CAM example
    /// uses jet).
    Turbo,
}

impl Colormap {
    pub const ALL: [Colormap; 5] = [
        Colormap::Viridis,
        Colormap::Magma,
        Colormap::Gray,
        Colormap::Diverging,
        Colormap::Turbo,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Colormap::Viridis => "viridis",
            Colormap::Magma => "magma",
            Colormap::Gray => "gray",
            Colormap::Diverging => "diverging",
            Colormap::Turbo => "turbo",
        }
    }

    /// What the window shows.
    pub fn label(self) -> &'static str {
        match self {
            Colormap::Diverging => "diverging (red-blue)",
            c => c.name(),
        }
    }

    pub fn parse(s: &str) -> Option<Colormap> {
        match s.to_ascii_lowercase().as_str() {
            "grey" | "greys" | "grays" => Some(Colormap::Gray),
            "rdbu" | "red-blue" | "coolwarm" => Some(Colormap::Diverging),
            "jet" => Some(Colormap::Turbo),
            s => Colormap::ALL.into_iter().find(|c| c.name() == s),
        }
    }

    /// Colour of `t` in [0, 1] (clamped; NaN is 0).
    pub fn rgb(self, t: f32) -> [u8; 3] {
        let t = if t.is_finite() {
            t.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let c = match self {
            Colormap::Gray => {
                let g = (t * 255.0).round() as u8;
                return [g, g, g];
            }
            Colormap::Viridis => colorous::VIRIDIS.eval_continuous(t as f64),
            Colormap::Magma => colorous::MAGMA.eval_continuous(t as f64),
            Colormap::Diverging => colorous::RED_BLUE.eval_continuous(1.0 - t as f64),
            Colormap::Turbo => colorous::TURBO.eval_continuous(t as f64),
        };
        [c.r, c.g, c.b]
    }

    /// Position in [0, 1] of `v` within `range`.
    pub fn position(self, v: f32, (lo, hi): (f32, f32)) -> f32 {
        let span = hi - lo;
        if span > 0.0 && span.is_finite() {
            ((v - lo) / span).clamp(0.0, 1.0)
        } else if self == Colormap::Diverging {
            0.5
        } else {
            0.0
        }
    }
}

/// How a map's value range is chosen.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Norm {
    /// Each channel from its own minimum to its maximum.
    PerChannel,
    /// Every channel from the layer's minimum to its maximum.
    PerLayer,
    /// The same fixed range for every channel.
    Fixed(f32, f32),
}

/// One sample's output as maps: (channels, height, width). 4-D outputs give C maps of
/// H×W; anything else gives one 1×N map of its values.
pub fn channel_maps(act: &ArrayD<f32>, channels_first: bool) -> Array3<f32> {
    if act.ndim() == 4 && act.shape()[0] > 0 {
        let s = act.index_axis(Axis(0), 0);
        let chw = if channels_first {
            s.to_owned()
        } else {
            s.permuted_axes(ndarray::IxDyn(&[2, 0, 1])).to_owned()
        };
        let (c, h, w) = (chw.shape()[0], chw.shape()[1], chw.shape()[2]);
        Array3::from_shape_vec(
            (c, h, w),
            chw.as_standard_layout().iter().copied().collect(),
        )
        .unwrap_or_else(|_| Array3::zeros((0, 0, 0)))
    } else {
        let vals: Vec<f32> = if act.ndim() >= 1 && act.shape()[0] > 0 {
            act.index_axis(Axis(0), 0).iter().copied().collect()
        } else {
            act.iter().copied().collect()
        };
        let n = vals.len();
        Array3::from_shape_vec((1, 1, n), vals).unwrap_or_else(|_| Array3::zeros((0, 0, 0)))
    }
}

/// Finite min and max (`(0, 0)` when there are none).
pub fn min_max<'a>(values: impl IntoIterator<Item = &'a f32>) -> (f32, f32) {
    let (lo, hi) = values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    if lo > hi { (0.0, 0.0) } else { (lo, hi) }
}

/// The range each channel is drawn with.
pub fn ranges(maps: &Array3<f32>, norm: Norm, cmap: Colormap) -> Vec<(f32, f32)> {
    let c = maps.shape()[0];
    let raw: Vec<(f32, f32)> = match norm {
        Norm::PerChannel => maps.outer_iter().map(|m| min_max(m.iter())).collect(),
        Norm::PerLayer => vec![min_max(maps.iter()); c],
        Norm::Fixed(lo, hi) => vec![(lo, hi); c],
    };
    if cmap == Colormap::Diverging && !matches!(norm, Norm::Fixed(..)) {
        raw.into_iter()
            .map(|(lo, hi)| {
                let m = lo.abs().max(hi.abs());
                (-m, m)
            })
            .collect()
    } else {
        raw
    }
}

/// One map as RGB pixels, row by row.
pub fn colorize(map: ArrayView2<f32>, range: (f32, f32), cmap: Colormap) -> Vec<[u8; 3]> {
    map.iter()
        .map(|&v| cmap.rgb(cmap.position(v, range)))
        .collect()
}

/// Summary numbers of one channel.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChannelStats {
    pub mean: f32,
    pub max: f32,
    pub min: f32,
    /// Mean of squares.
    pub energy: f32,
    /// Share of values that are exactly zero.
    pub zero_share: f32,
    /// Every value ≤ 0 (a dead ReLU channel).
    pub dead: bool,
}

pub fn channel_stats(maps: &Array3<f32>) -> Vec<ChannelStats> {
    maps.outer_iter()
        .map(|m| {
            let n = m.len().max(1) as f64;
            let (mut sum, mut sq, mut zeros) = (0f64, 0f64, 0usize);
            let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
            for &v in m.iter() {
                sum += v as f64;
                sq += (v as f64) * (v as f64);
                zeros += (v == 0.0) as usize;
                lo = lo.min(v);
                hi = hi.max(v);
            }
            ChannelStats {
                mean: (sum / n) as f32,
                max: hi,
                min: lo,
                energy: (sq / n) as f32,
                zero_share: zeros as f32 / n as f32,
                dead: hi <= 0.0,
            }
        })
        .collect()
}

/// Channel order in the grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Order {
    Index,
    /// Largest mean first.
    Mean,
    /// Largest mean square first.
    Energy,
}

/// The channels to show, in order; `dead_only` keeps the channels whose values are all ≤ 0.
pub fn order(stats: &[ChannelStats], by: Order, dead_only: bool) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..stats.len())
        .filter(|&k| !dead_only || stats[k].dead)
        .collect();
    let key = |k: usize| match by {
        Order::Index => 0.0,
        Order::Mean => stats[k].mean,
        Order::Energy => stats[k].energy,
    };
    if by != Order::Index {
        // Stable: ties keep channel order; NaN goes last.
        idx.sort_by(|&a, &b| {
            key(b)
                .partial_cmp(&key(a))
                .unwrap_or_else(|| key(a).is_nan().cmp(&key(b).is_nan()))
        });
    }
    idx
}

/// `bins` equal-width bins over the finite values: (lo, hi, counts).
pub fn histogram<'a>(
    values: impl IntoIterator<Item = &'a f32> + Clone,
    bins: usize,
) -> (f32, f32, Vec<usize>) {
    let bins = bins.max(1);
    let (lo, hi) = min_max(values.clone());
    let mut counts = vec![0usize; bins];
    let span = hi - lo;
    for &v in values {
        if !v.is_finite() {
            continue;
        }
        let b = if span > 0.0 {
            (((v - lo) / span) * bins as f32) as usize
        } else {
            0
        };
        counts[b.min(bins - 1)] += 1;
    }
    (lo, hi, counts)
}

/// The `k` largest values with their indices, largest first.
pub fn top_k(values: &[f32], k: usize) -> Vec<(usize, f32)> {
    let mut idx: Vec<(usize, f32)> = values
        .iter()
        .copied()
        .enumerate()
        .filter(|(_, v)| !v.is_nan())
        .collect();
    idx.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    idx.truncate(k);
    idx
}

/// Default magnification so tiles are at least 64 pixels across (1..=16).
pub fn default_scale(h: usize, w: usize) -> usize {
    let m = h.max(w).max(1);
    64usize.div_ceil(m).clamp(1, 16)
}

/// Columns of the grid for `n` tiles.
pub fn grid_columns(n: usize) -> usize {
    let mut c = (n as f64).sqrt().ceil() as usize;
    while c * c < n {
        c += 1;
    }
    c.max(1)
}

/// An RGB picture.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Picture {
    pub width: usize,
    pub height: usize,
    /// RGB bytes, row by row.
    pub data: Vec<u8>,
}

impl Picture {
    pub fn pixel(&self, x: usize, y: usize) -> [u8; 3] {
        let o = (y * self.width + x) * 3;
        [self.data[o], self.data[o + 1], self.data[o + 2]]
    }

    /// PNG bytes.
    pub fn to_png(&self) -> Result<Vec<u8>, String> {
        let mut out = std::io::Cursor::new(Vec::new());
        image::write_buffer_with_format(
            &mut out,
            &self.data,
            self.width as u32,
            self.height as u32,
            image::ExtendedColorType::Rgb8,
            image::ImageFormat::Png,
        )
        .map_err(|e| e.to_string())?;
        Ok(out.into_inner())
    }
}

/// An image tensor `(h, w, c)` as a picture: three channels as RGB, others as grey
/// (their mean), scaled from the smallest value to the largest.
pub fn image_picture(x: ndarray::ArrayView3<f32>) -> Picture {
    let (h, w, c) = x.dim();
    let (lo, hi) = min_max(x.iter());
    let span = if hi > lo { hi - lo } else { 1.0 };
    let byte = |v: f32| (((v - lo) / span).clamp(0.0, 1.0) * 255.0).round() as u8;
    let mut data = Vec::with_capacity(h * w * 3);
    for i in 0..h {
        for j in 0..w {
            let px = x.slice(ndarray::s![i, j, ..]);
            if c == 3 {
                data.extend(px.iter().map(|&v| byte(v)));
            } else {
                let g = byte(px.mean().unwrap_or(0.0));
                data.extend([g, g, g]);
            }
        }
    }
    Picture {
        width: w,
        height: h,
        data,
    }
}

/// `base` with `map` (its size) drawn over it in `cmap` with `opacity` in [0, 1], the
/// map scaled from its smallest value to its largest.
pub fn overlay(base: &Picture, map: ArrayView2<f32>, cmap: Colormap, opacity: f32) -> Picture {
    let range = min_max(map.iter());
    let a = opacity.clamp(0.0, 1.0);
    let mut data = base.data.clone();
    for (k, &v) in map.iter().enumerate().take(base.width * base.height) {
        let rgb = cmap.rgb(cmap.position(v, range));
        for (d, m) in data[k * 3..k * 3 + 3].iter_mut().zip(rgb) {
            *d = (*d as f32 * (1.0 - a) + m as f32 * a).round() as u8;
        }
    }
    Picture {
        width: base.width,
        height: base.height,
        data,
    }
}

/// Largest picture the grid renderer makes (pixels).
pub const MAX_PICTURE_PIXELS: usize = 64 << 20;

/// The tile grid of `channels` (in that order), as documented in the module header.
pub fn grid(
    maps: &Array3<f32>,
    channels: &[usize],
    ranges: &[(f32, f32)],
    cmap: Colormap,
    scale: usize,
) -> Result<Picture, String> {
    let (h, w) = (maps.shape()[1], maps.shape()[2]);
    let scale = scale.max(1);
    let n = channels.len();
    let cols = grid_columns(n);
    let rows = n.div_ceil(cols).max(1);
    let (th, tw) = (h * scale, w * scale);
    let width = cols
        .checked_mul(tw + GAP)
        .and_then(|v| v.checked_add(GAP))
        .ok_or("picture too large")?;
    let height = rows
        .checked_mul(th + GAP)
        .and_then(|v| v.checked_add(GAP))
        .ok_or("picture too large")?;
    if width.saturating_mul(height) > MAX_PICTURE_PIXELS {
        return Err(format!(
            "the grid would be {width}×{height} pixels; use a smaller scale"
        ));
    }
    let mut data = BACKGROUND.repeat(width * height);
    for (slot, &k) in channels.iter().enumerate() {
        if k >= maps.shape()[0] {
            return Err(format!("no channel {k}"));
        }
        let (x0, y0) = (
            GAP + (slot % cols) * (tw + GAP),
            GAP + (slot / cols) * (th + GAP),
        );
        let range = ranges.get(k).copied().unwrap_or((0.0, 0.0));
        let map = maps.index_axis(Axis(0), k);
        for y in 0..th {
            let row = (y0 + y) * width;
            for x in 0..tw {
                let c = cmap.rgb(cmap.position(map[[y / scale, x / scale]], range));
                let o = (row + x0 + x) * 3;
                data[o..o + 3].copy_from_slice(&c);
            }
        }
    }
    Ok(Picture {
        width,
        height,
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array3, IxDyn};

    #[test]
    fn maps_from_both_layouts() {
        let nhwc = ArrayD::from_shape_fn(IxDyn(&[1, 2, 3, 4]), |i| {
            (i[1] * 100 + i[2] * 10 + i[3]) as f32
        });
        let m = channel_maps(&nhwc, false);
        assert_eq!(m.shape(), &[4, 2, 3]);
        assert_eq!(m[[3, 1, 2]], 123.0);
        let nchw = ArrayD::from_shape_fn(IxDyn(&[1, 4, 2, 3]), |i| {
            (i[2] * 100 + i[3] * 10 + i[1]) as f32
        });
        assert_eq!(channel_maps(&nchw, true), m);
        let dense = ArrayD::from_shape_vec(IxDyn(&[1, 5]), vec![1., 2., 3., 4., 5.]).unwrap();
        let d = channel_maps(&dense, false);
        assert_eq!(d.shape(), &[1, 1, 5]);
        assert_eq!(d[[0, 0, 4]], 5.0);
    }

    #[test]
    fn gray_is_linear_and_ranges_follow_norm() {
        assert_eq!(Colormap::Gray.rgb(0.0), [0, 0, 0]);
        assert_eq!(Colormap::Gray.rgb(1.0), [255, 255, 255]);
        assert_eq!(Colormap::Gray.rgb(0.5), [128, 128, 128]);
        assert_eq!(Colormap::Gray.rgb(f32::NAN), [0, 0, 0]);
        let maps = Array3::from_shape_vec((2, 1, 2), vec![0., 1., -3., 5.]).unwrap();
        assert_eq!(
            ranges(&maps, Norm::PerChannel, Colormap::Gray),
            vec![(0., 1.), (-3., 5.)]
        );
        assert_eq!(
            ranges(&maps, Norm::PerLayer, Colormap::Gray),
            vec![(-3., 5.); 2]
        );
        assert_eq!(
            ranges(&maps, Norm::PerChannel, Colormap::Diverging),
            vec![(-1., 1.), (-5., 5.)]
        );
        assert_eq!(
            ranges(&maps, Norm::Fixed(0., 2.), Colormap::Diverging),
            vec![(0., 2.); 2]
        );
        assert_eq!(Colormap::Gray.position(7.0, (0.0, 2.0)), 1.0);
        assert_eq!(Colormap::Gray.position(1.0, (1.0, 1.0)), 0.0);
        assert_eq!(Colormap::Diverging.position(0.0, (0.0, 0.0)), 0.5);
        // The diverging map is white in the middle, blue low, red high.
        let mid = Colormap::Diverging.rgb(0.5);
        assert!(mid.iter().all(|&c| c > 230), "{mid:?}");
        let low = Colormap::Diverging.rgb(0.0);
        assert!(low[2] > low[0]);
        for c in Colormap::ALL {
            assert_eq!(Colormap::parse(c.name()), Some(c));
        }
        // jet, the heat maps' old scale, is read as its successor.
        assert_eq!(Colormap::parse("jet"), Some(Colormap::Turbo));
        assert_eq!(Colormap::parse("rainbow"), None);
    }

    #[test]
    fn stats_order_and_dead_channels() {
        let maps = Array3::from_shape_vec((3, 1, 2), vec![0., 0., 1., 3., -1., -1.]).unwrap();
        let s = channel_stats(&maps);
        assert_eq!(s[0].zero_share, 1.0);
        assert!(s[0].dead && !s[1].dead && s[2].dead);
        assert_eq!(s[1].mean, 2.0);
        assert_eq!(s[1].energy, 5.0);
        assert_eq!(order(&s, Order::Index, false), vec![0, 1, 2]);
        assert_eq!(order(&s, Order::Mean, false), vec![1, 0, 2]);
        assert_eq!(order(&s, Order::Energy, false), vec![1, 2, 0]);
        assert_eq!(order(&s, Order::Index, true), vec![0, 2]);
    }

    #[test]
    fn histogram_and_top_k() {
        let v = [0.0f32, 0.1, 0.5, 1.0, f32::NAN];
        let (lo, hi, c) = histogram(&v, 2);
        assert_eq!((lo, hi), (0.0, 1.0));
        assert_eq!(c, vec![2, 2]);
        assert_eq!(
            top_k(&[0.1, 0.7, 0.2, f32::NAN], 2),
            vec![(1, 0.7), (2, 0.2)]
        );
    }

    #[test]
    fn grid_layout() {
        let maps = Array3::from_shape_fn((5, 2, 3), |(k, y, x)| (k * 10 + y * 3 + x) as f32);
        let ch: Vec<usize> = (0..5).collect();
        let r = ranges(&maps, Norm::PerLayer, Colormap::Gray);
        let p = grid(&maps, &ch, &r, Colormap::Gray, 2).unwrap();
        assert_eq!(grid_columns(5), 3);
        assert_eq!(p.width, GAP + 3 * (6 + GAP));
        assert_eq!(p.height, GAP + 2 * (4 + GAP));
        assert_eq!(p.pixel(0, 0), BACKGROUND);
        // Channel 4 sits in row 1, column 1; its value at (1, 2) is 45 of 0..45.
        let (x0, y0) = (GAP + (6 + GAP), GAP + (4 + GAP));
        assert_eq!(p.pixel(x0 + 2 * 2 + 1, y0 + 2 + 1), [255, 255, 255]);
        assert_eq!(p.pixel(GAP, GAP), [0, 0, 0]);
        let png = p.to_png().unwrap();
        assert!(png.starts_with(b"\x89PNG"));
        assert!(grid(&maps, &[9], &r, Colormap::Gray, 1).is_err());
        assert_eq!(default_scale(3, 3), 16);
        assert_eq!(default_scale(32, 32), 2);
        assert_eq!(default_scale(500, 20), 1);
    }
}
