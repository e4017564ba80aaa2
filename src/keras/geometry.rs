//! Window geometry, computed once for everyone: `Padding` and `DataFormat`, the output size
//! and Keras's `same` split along one axis ([`AxisWindow`]), the 2-D [`Window`] the
//! numeric kernels slide (with its taps), transposed-convolution sizes, receptive fields
//! and the output-size formula the inspector prints.
//!
//! The analysis, the engine, the receptive field, the inspector and the PyTorch export all
//! take their numbers from here, so they cannot disagree. Arithmetic saturates: a kernel
//! of 10^18 or a dilation of 2^62 is a legal Keras argument and must not overflow.

use serde::Serialize;

/// `padding="valid"|"same"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Padding {
    Valid,
    Same,
}

impl Padding {
    /// The value as Keras spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Padding::Valid => "valid",
            Padding::Same => "same",
        }
    }

    /// An exact `"valid"` or `"same"` (pooling keeps the case it was given, so `"SAME"`
    /// is not one).
    pub fn parse(s: &str) -> Option<Padding> {
        match s {
            "valid" => Some(Padding::Valid),
            "same" => Some(Padding::Same),
            _ => None,
        }
    }

    /// What a convolution's constructor does: lower-case, then check.
    pub fn standardize(s: &str) -> Result<Padding, String> {
        let l = s.to_lowercase();
        Padding::parse(&l).ok_or_else(|| {
            format!(
                "The `padding` argument must be a list/tuple or one of {{'same', 'valid'}}. \
                 Received: {l}"
            )
        })
    }
}

/// `data_format="channels_last"|"channels_first"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DataFormat {
    ChannelsLast,
    ChannelsFirst,
}

impl DataFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            DataFormat::ChannelsLast => "channels_last",
            DataFormat::ChannelsFirst => "channels_first",
        }
    }

    /// Keras's `standardize_data_format`: lower-cased, then one of the two (so
    /// `"Channels_First"` is channels_first).
    pub fn standardize(s: &str) -> Result<DataFormat, String> {
        match s.to_lowercase().as_str() {
            "channels_last" => Ok(DataFormat::ChannelsLast),
            "channels_first" => Ok(DataFormat::ChannelsFirst),
            l => Err(format!(
                "The `data_format` argument must be one of {{'channels_first', \
                 'channels_last'}}. Received: data_format={l}"
            )),
        }
    }

    pub fn is_first(self) -> bool {
        self == DataFormat::ChannelsFirst
    }

    /// The two spatial axes of a rank-4 shape (batch axis first).
    pub fn spatial_axes(self) -> [usize; 2] {
        match self {
            DataFormat::ChannelsLast => [1, 2],
            DataFormat::ChannelsFirst => [2, 3],
        }
    }

    /// The channel axis of a shape of `rank` (batch axis first).
    pub fn channel_axis(self, rank: usize) -> usize {
        match self {
            DataFormat::ChannelsLast => rank.saturating_sub(1),
            DataFormat::ChannelsFirst => 1,
        }
    }
}

/// The extent of a kernel of `k` taps with dilation `d`: `(k - 1)·d + 1`.
pub fn effective_kernel(k: i64, d: i64) -> i64 {
    k.saturating_sub(1).saturating_mul(d).saturating_add(1)
}

/// A sliding window along one axis, as Keras computes it (tract's `ComputedPaddedDim`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AxisWindow {
    /// Output size; zero or negative when `valid` padding leaves nothing (Keras refuses).
    pub out: i64,
    /// Zero padding before (top/left) and after (bottom/right): `same` puts the odd
    /// pixel after.
    pub pad_before: i64,
    pub pad_after: i64,
}

impl AxisWindow {
    /// A window of `k` taps, stride `s` and dilation `d` over `n` pixels.
    pub fn new(n: i64, k: i64, s: i64, d: i64, padding: Padding) -> AxisWindow {
        let keff = effective_kernel(k, d);
        let s = s.max(1);
        match padding {
            Padding::Same => {
                let out = n.saturating_sub(1).div_euclid(s).saturating_add(1);
                let total = out
                    .saturating_sub(1)
                    .saturating_mul(s)
                    .saturating_add(keff)
                    .saturating_sub(n)
                    .max(0);
                AxisWindow {
                    out,
                    pad_before: total / 2,
                    pad_after: total - total / 2,
                }
            }
            Padding::Valid => AxisWindow {
                out: n.saturating_sub(keff).div_euclid(s).saturating_add(1),
                pad_before: 0,
                pad_after: 0,
            },
        }
    }

    /// A transposed convolution (`deconv_output_length`): output size, and the crop at
    /// the start that makes it Keras's (the padding its forward convolution would add).
    pub fn transposed(
        n: i64,
        k: i64,
        s: i64,
        d: i64,
        padding: Padding,
        output_padding: Option<i64>,
    ) -> AxisWindow {
        let keff = effective_kernel(k, d);
        let span = n.saturating_sub(1).saturating_mul(s);
        let out = match (padding, output_padding) {
            (Padding::Valid, op) => span
                .saturating_add(keff)
                .saturating_add(op.unwrap_or((keff.max(s)).saturating_sub(keff))),
            (Padding::Same, None) => n.saturating_mul(s),
            (Padding::Same, Some(op)) => span.saturating_add(keff % 2).saturating_add(op),
        };
        let crop = match padding {
            Padding::Same => span.saturating_add(keff).saturating_sub(out).max(0) / 2,
            Padding::Valid => 0,
        };
        AxisWindow {
            out,
            pad_before: crop,
            pad_after: 0,
        }
    }
}

/// The output-size formula with this layer's numbers, as the inspector shows it:
/// `H: floor((45 - 5) / 2) + 1 = 21`.
pub fn formula(axis: &str, n: i64, k: i64, s: i64, d: i64, padding: Padding) -> Option<String> {
    if s <= 0 || d <= 0 || k <= 0 {
        return None;
    }
    let out = AxisWindow::new(n, k, s, d, padding).out;
    Some(match padding {
        Padding::Same => format!("{axis}: ceil({n} / {s}) = {out}"),
        Padding::Valid if d > 1 => {
            let keff = effective_kernel(k, d);
            format!(
                "{axis}: floor(({n} - ({k}-1)·{d} - 1) / {s}) + 1 = floor(({n} - {keff}) / {s}) + 1 = {out}"
            )
        }
        Padding::Valid => format!("{axis}: floor(({n} - {k}) / {s}) + 1 = {out}"),
    })
}

/// Geometry of a 2-D sliding window along both spatial axes, in the engine's units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub kernel: [usize; 2],
    pub strides: [usize; 2],
    pub dilation: [usize; 2],
    /// Zero padding before (top, left); padding after is implied by the output size.
    pub pad_before: [usize; 2],
    pub out: [usize; 2],
}

impl Window {
    /// Keras's geometry on an input of `input` pixels ([`AxisWindow::new`] per axis; a
    /// `valid` window wider than the input gives an empty output).
    pub fn keras(
        input: [usize; 2],
        kernel: [usize; 2],
        strides: [usize; 2],
        dilation: [usize; 2],
        padding: Padding,
    ) -> Window {
        Window::per_axis(input, kernel, strides, dilation, |[n, k, s, d], _| {
            AxisWindow::new(n, k, s, d, padding)
        })
    }

    /// The convolution whose transpose is Keras's `Conv2DTranspose` on `input` pixels,
    /// from its kernel size, strides and dilation, padding and `output_padding`.
    pub fn transposed(
        input: [usize; 2],
        [kernel, strides, dilation]: [[usize; 2]; 3],
        padding: Padding,
        output_padding: Option<[i64; 2]>,
    ) -> Window {
        Window::per_axis(input, kernel, strides, dilation, |[n, k, s, d], a| {
            AxisWindow::transposed(n, k, s, d, padding, output_padding.map(|p| p[a].max(0)))
        })
    }

    /// A window whose output size and padding along axis `a` are those of
    /// `axis([input, kernel, stride, dilation], a)` (that axis's values, widened).
    fn per_axis(
        input: [usize; 2],
        kernel: [usize; 2],
        strides: [usize; 2],
        dilation: [usize; 2],
        axis: impl Fn([i64; 4], usize) -> AxisWindow,
    ) -> Window {
        let axes = [0, 1].map(|a| {
            let values = [input, kernel, strides, dilation].map(|v| wide(v[a]));
            axis(values, a)
        });
        Window {
            kernel,
            strides,
            dilation,
            pad_before: axes.map(|w| w.pad_before.max(0) as usize),
            out: axes.map(|w| w.out.max(0) as usize),
        }
    }

    /// The taps `t` of output `o` along axis `a` that land inside an input of `len`
    /// pixels (all others read padding), computed without visiting the outside ones.
    pub fn inside(&self, a: usize, o: usize, len: usize) -> std::ops::Range<usize> {
        let (s, d, p) = (
            self.strides[a] as i128,
            self.dilation[a].max(1) as i128,
            self.pad_before[a] as i128,
        );
        // coord = o*s + t*d - p must lie in [0, len).
        let base = o as i128 * s - p;
        let (first, end) = if d == 1 {
            (0.max(-base), len as i128 - base) // pooling: no division
        } else {
            (
                if base >= 0 { 0 } else { (-base + d - 1) / d },
                if len == 0 || base > len as i128 - 1 {
                    0
                } else {
                    (len as i128 - 1 - base) / d + 1
                },
            )
        };
        let end = end.clamp(0, self.kernel[a] as i128);
        (first.min(end) as usize)..(end as usize)
    }

    /// Input coordinate of output `o`, tap `t` along axis `a` (may be outside the input).
    #[inline]
    pub fn coord(&self, a: usize, o: usize, t: usize) -> isize {
        // Wide arithmetic: strides or dilations near 2^63 are legal Keras arguments.
        let v = o as i128 * self.strides[a] as i128 + t as i128 * self.dilation[a] as i128
            - self.pad_before[a] as i128;
        v.clamp(isize::MIN as i128, isize::MAX as i128) as isize
    }
}

impl Window {
    /// Every tap of output pixel `out` (row, column), in kernel order (row-major over the
    /// kernel's rows and columns): the input pixel it reads, outside `0..input` on an
    /// axis when it reads padding. The engine's kernels read exactly these.
    pub fn taps(&self, out: [usize; 2]) -> Vec<[isize; 2]> {
        let mut v = Vec::with_capacity(self.kernel[0] * self.kernel[1]);
        for ty in 0..self.kernel[0] {
            for tx in 0..self.kernel[1] {
                v.push([self.coord(0, out[0], ty), self.coord(1, out[1], tx)]);
            }
        }
        v
    }

    /// The output pixels that read input pixel `at` (row, column), in row-major order.
    pub fn readers(&self, at: [isize; 2]) -> Vec<[usize; 2]> {
        let along = |a: usize| -> Vec<usize> {
            (0..self.out[a])
                .filter(|&o| (0..self.kernel[a]).any(|t| self.coord(a, o, t) == at[a]))
                .collect()
        };
        let (rows, cols) = (along(0), along(1));
        rows.iter()
            .flat_map(|&r| cols.iter().map(move |&c| [r, c]))
            .collect()
    }
}

/// Bilinear resizing (UpSampling2D, TensorFlow's `resize` with half-pixel centres): the two
/// input pixels output pixel `o` of `out_len` blends along one axis of
/// `in_len` pixels (half-pixel centres, clamped at the edges) and the weight of the second.
pub fn bilinear_source(o: usize, out_len: usize, in_len: usize) -> (usize, usize, f32) {
    let scale = in_len as f32 / out_len as f32;
    let f = ((o as f32 + 0.5) * scale - 0.5).max(0.0);
    let i0 = (f.floor() as usize).min(in_len.saturating_sub(1));
    let i1 = (i0 + 1).min(in_len.saturating_sub(1));
    (i0, i1, f - i0 as f32)
}

fn wide(v: usize) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Receptive field of one output pixel on the network input, per spatial axis (H, W).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ReceptiveField {
    /// Input pixels one output pixel sees.
    pub size: [f64; 2],
    /// Distance in input pixels between neighbouring output pixels.
    pub jump: [f64; 2],
    /// Centre of the first output pixel's field, in input pixel coordinates.
    pub start: [f64; 2],
}

impl ReceptiveField {
    pub const INPUT: ReceptiveField = ReceptiveField {
        size: [1.0; 2],
        jump: [1.0; 2],
        start: [0.0; 2],
    };

    /// Input pixels (first and last row, first and last column, inclusive) that output
    /// pixel (`row`, `col`) sees; may reach beyond the input where padding was added.
    pub fn window(&self, row: usize, col: usize) -> [[f64; 2]; 2] {
        let axis = |a: usize, i: usize| {
            let centre = self.start[a] + i as f64 * self.jump[a];
            let half = (self.size[a] - 1.0) / 2.0;
            [centre - half, centre + half]
        };
        [axis(0, row), axis(1, col)]
    }

    /// After a window layer (kernel `k`, stride `s`, dilation `d`, padding before `p`).
    pub fn through_window(self, k: [i64; 2], s: [i64; 2], d: [i64; 2], p: [i64; 2]) -> Self {
        let mut out = self;
        for a in 0..2 {
            let keff = (k[a] as f64 - 1.0) * d[a] as f64 + 1.0;
            out.size[a] = self.size[a] + (keff - 1.0) * self.jump[a];
            out.start[a] = self.start[a] + ((keff - 1.0) / 2.0 - p[a] as f64) * self.jump[a];
            out.jump[a] = self.jump[a] * s[a] as f64;
        }
        out
    }

    /// After a layer whose every output sees all `n` pixels of each axis (flatten,
    /// dense, global pooling).
    pub fn through_whole(self, n: [f64; 2]) -> Self {
        let mut out = self;
        for (a, n) in n.into_iter().enumerate() {
            out.size[a] = self.size[a] + (n - 1.0) * self.jump[a];
            out.start[a] = self.start[a] + (n - 1.0) / 2.0 * self.jump[a];
            out.jump[a] = self.jump[a] * n;
        }
        out
    }

    /// After padding (`before` > 0) or cropping (`before` < 0) `before` pixels.
    pub fn shifted(self, before: [i64; 2]) -> Self {
        let mut out = self;
        for (a, b) in before.into_iter().enumerate() {
            out.start[a] = self.start[a] - b as f64 * self.jump[a];
        }
        out
    }

    /// After upsampling by `size`, or a transposed convolution of stride `size` and
    /// kernel extent `extent` (1 for plain upsampling).
    pub fn upsampled(self, size: [i64; 2], extent: [f64; 2]) -> Self {
        let mut out = self;
        for a in 0..2 {
            out.jump[a] = self.jump[a] / size[a] as f64;
            out.size[a] = self.size[a] + (extent[a] - 1.0) * out.jump[a];
        }
        out
    }

    /// The field of a layer that combines its inputs pixel by pixel (Add, Multiply,
    /// Concatenate along channels): output pixel `i` sees what pixel `i` of every input
    /// sees, or pixel 0 of an input that is broadcast along the axis (`broadcast[a]`, a
    /// squeeze-and-excitation gate). `n` is the output's size per axis. `None` when the
    /// union is not one window moving by a constant step (a broadcast window that does
    /// not cover the others), or with no inputs.
    pub fn union(inputs: &[(ReceptiveField, [bool; 2])], n: [Option<i64>; 2]) -> Option<Self> {
        let first = inputs.first()?.0;
        let mut out = first;
        for a in 0..2 {
            // The window edges of output pixel i on this axis.
            let edges = |i: f64| {
                inputs.iter().fold(
                    (f64::INFINITY, f64::NEG_INFINITY),
                    |(lo, hi), (rf, broadcast)| {
                        let i = if broadcast[a] { 0.0 } else { i };
                        let centre = rf.start[a] + i * rf.jump[a];
                        let half = (rf.size[a] - 1.0) / 2.0;
                        (lo.min(centre - half), hi.max(centre + half))
                    },
                )
            };
            let (lo0, hi0) = edges(0.0);
            let (lo1, hi1) = edges(1.0);
            let close = |x: f64, y: f64| (x - y).abs() <= 1e-9 * (1.0 + x.abs().max(y.abs()));
            let jump = match n[a] {
                Some(1) => first.jump[a],
                // Edges are piecewise linear (concave low, convex high): straight at the
                // first, second and last pixel means straight everywhere.
                Some(n) => {
                    let (j_lo, j_hi) = (lo1 - lo0, hi1 - hi0);
                    let last = (n - 1) as f64;
                    let (lo_n, hi_n) = edges(last);
                    if !close(j_lo, j_hi)
                        || !close(lo_n, lo0 + last * j_lo)
                        || !close(hi_n, hi0 + last * j_hi)
                    {
                        return None;
                    }
                    j_lo
                }
                // An unknown size: exact only when every input moves alike.
                None => {
                    if inputs
                        .iter()
                        .any(|(rf, b)| b[a] || !close(rf.jump[a], first.jump[a]))
                    {
                        return None;
                    }
                    first.jump[a]
                }
            };
            out.size[a] = hi0 - lo0 + 1.0;
            out.start[a] = (lo0 + hi0) / 2.0;
            out.jump[a] = jump;
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn taps_and_readers_are_each_others_inverse() {
        use super::{Padding, Window};
        for (n, k, st, d, pad) in [
            (7, 3, 2, 1, Padding::Same),
            (8, 3, 2, 2, Padding::Same),
            (9, 2, 3, 1, Padding::Valid),
            (6, 4, 1, 1, Padding::Same),
        ] {
            let w = Window::keras([n, n + 1], [k, k], [st, st], [d, d], pad);
            for r in 0..w.out[0] {
                for c in 0..w.out[1] {
                    for t in w.taps([r, c]) {
                        assert!(w.readers(t).contains(&[r, c]), "{t:?} of {r},{c}");
                    }
                }
            }
            // Same padding, stride 1, odd kernel: the centre tap is the pixel itself.
            if pad == Padding::Same && st == 1 && k % 2 == 1 {
                let taps = w.taps([2, 3]);
                assert_eq!(taps[taps.len() / 2], [2, 3]);
            }
        }
        // The example of the inspector: 7 pixels, 3×3 stride 2 same: one pixel of padding
        // on each side, output 4; output 0 reads rows -1, 0, 1.
        let w = Window::keras([7, 7], [3, 3], [2, 2], [1, 1], Padding::Same);
        assert_eq!(w.out, [4, 4]);
        assert_eq!(w.taps([0, 0])[..3], [[-1, -1], [-1, 0], [-1, 1]]);
    }

    use super::*;

    /// A residual block's add: a 1×1 stride-2 shortcut and a 3×3 path see different
    /// windows on the same grid; a broadcast gate that sees the whole image covers all.
    #[test]
    fn union_of_branches() {
        let input = ReceptiveField::INPUT;
        let short = input.through_window([1, 1], [2, 2], [1, 1], [0, 0]);
        let long = input
            .through_window([3, 3], [2, 2], [1, 1], [1, 1])
            .through_window([3, 3], [1, 1], [1, 1], [1, 1]);
        let u = ReceptiveField::union(&[(short, [false; 2]), (long, [false; 2])], [Some(4); 2])
            .unwrap();
        assert_eq!(u, long);
        for (r, c) in [(0, 0), (1, 2), (3, 3)] {
            let [a, b] = [short.window(r, c), long.window(r, c)];
            let w = u.window(r, c);
            for ax in 0..2 {
                assert_eq!(w[ax][0], a[ax][0].min(b[ax][0]));
                assert_eq!(w[ax][1], a[ax][1].max(b[ax][1]));
            }
        }
        // Shifted windows of equal size: the union is wider than either.
        let left = input.shifted([1, 0]);
        let u = ReceptiveField::union(&[(input, [false; 2]), (left, [false; 2])], [Some(8); 2])
            .unwrap();
        assert_eq!(u.size, [2.0, 1.0]);
        assert_eq!(u.window(0, 0), [[-1.0, 0.0], [0.0, 0.0]]);
        // A gate over the whole 8×8 image: every pixel sees all of it (and moves by 0).
        let gate = input.through_whole([8.0, 8.0]);
        let u =
            ReceptiveField::union(&[(input, [false; 2]), (gate, [true; 2])], [Some(8); 2]).unwrap();
        assert_eq!((u.size, u.jump), ([8.0, 8.0], [0.0, 0.0]));
        assert_eq!(u.window(5, 2), [[0.0, 7.0], [0.0, 7.0]]);
        // A broadcast window that does not cover the others: no single window.
        let corner = input.through_window([2, 2], [1, 1], [1, 1], [0, 0]);
        assert_eq!(
            ReceptiveField::union(&[(input, [false; 2]), (corner, [true; 2])], [Some(8); 2]),
            None
        );
    }

    fn same(n: i64, k: i64, s: i64, d: i64) -> (i64, [i64; 2]) {
        let w = AxisWindow::new(n, k, s, d, Padding::Same);
        (w.out, [w.pad_before, w.pad_after])
    }

    /// TensorFlow's padding-split examples.
    #[test]
    fn same_padding_split() {
        assert_eq!(same(224, 7, 2, 1), (112, [2, 3]));
        assert_eq!(same(10, 4, 1, 1), (10, [1, 2]));
        assert_eq!(same(5, 3, 2, 1), (3, [1, 1]));
        assert_eq!(same(6, 3, 2, 1), (3, [0, 1]));
        // Dilation 2: effective kernel 5.
        assert_eq!(same(7, 3, 1, 2), (7, [2, 2]));
        assert_eq!(AxisWindow::new(7, 3, 1, 2, Padding::Valid).out, 3);
        // Kernel larger than input with `same`: still ceil(n/s).
        assert_eq!(same(3, 5, 1, 1), (3, [2, 2]));
        assert_eq!(AxisWindow::new(3, 5, 1, 1, Padding::Valid).out, -1);
    }

    /// The engine's window is the analysis's, in the engine's units.
    #[test]
    fn window_agrees_with_axis_window() {
        let w = Window::keras([224, 10], [7, 4], [2, 1], [1, 1], Padding::Same);
        assert_eq!(w.out, [112, 10]);
        assert_eq!(w.pad_before, [2, 1]);
        let v = Window::keras([3, 3], [5, 5], [1, 1], [1, 1], Padding::Valid);
        assert_eq!(v.out, [0, 0]);
    }

    /// Keras's transposed-convolution output sizes (`deconv_output_length`).
    #[test]
    fn transposed_sizes() {
        let t = |n, k, s, p, op, d| AxisWindow::transposed(n, k, s, d, p, op).out;
        let (v, sm) = (Padding::Valid, Padding::Same);
        assert_eq!(t(5, 3, 1, v, None, 1), 7);
        assert_eq!(t(5, 3, 2, v, None, 1), 11);
        assert_eq!(t(5, 2, 3, v, None, 1), 15);
        assert_eq!(t(5, 3, 2, v, Some(1), 1), 12);
        assert_eq!(t(5, 3, 2, sm, None, 1), 10);
        assert_eq!(t(5, 4, 2, sm, Some(1), 1), 9);
        assert_eq!(t(5, 3, 1, v, None, 2), 9);
    }

    #[test]
    fn standardize_lower_cases() {
        assert_eq!(
            DataFormat::standardize("Channels_First"),
            Ok(DataFormat::ChannelsFirst)
        );
        assert!(DataFormat::standardize("channels_middle").is_err());
        assert_eq!(Padding::standardize("SAME"), Ok(Padding::Same));
        assert_eq!(Padding::parse("SAME"), None);
    }

    #[test]
    fn receptive_field_grows() {
        let rf = ReceptiveField::INPUT.through_window([3, 3], [1, 1], [1, 1], [1, 1]);
        assert_eq!(rf.size, [3.0, 3.0]);
        assert_eq!(rf.start, [0.0, 0.0]);
        let rf = rf.through_window([2, 2], [2, 2], [1, 1], [0, 0]);
        assert_eq!(rf.size, [4.0, 4.0]);
        assert_eq!(rf.jump, [2.0, 2.0]);
        assert_eq!(rf.start, [0.5, 0.5]);
        // Same padding (1 before): the first output pixel reaches one row into it.
        let same = ReceptiveField::INPUT.through_window([3, 3], [1, 1], [1, 1], [1, 1]);
        assert_eq!(same.window(0, 4), [[-1.0, 1.0], [3.0, 5.0]]);
        // Then a 2×2 pool of stride 2: output (1, 0) sees rows 1..4 of the input.
        assert_eq!(rf.window(1, 0), [[1.0, 4.0], [-1.0, 2.0]]);
    }
}
