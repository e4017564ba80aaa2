//! Classic hand-made filters for a convolution, so feature maps mean something without
//! training: Sobel x/y, Laplacian, Gaussian blur, a Gabor bank, and a mixed bank.
//!
//! Every preset is defined for any kernel size: at 3×3 Sobel, Laplacian and Gaussian are
//! the textbook kernels; at other sizes they are the derivative of a Gaussian, the
//! (negated) Laplacian of a Gaussian and a sampled Gaussian. Kernels are applied to the
//! luminance of 3-channel inputs (0.299 R + 0.587 G + 0.114 B) and to the mean of other
//! inputs; a DepthwiseConv2D gets the kernel on each input channel separately. Biases are 0.
//! Keras convolutions are cross-correlations, so Sobel x is positive where brightness
//! increases to the right and Sobel y where it increases downwards.

use crate::keras::report::WeightSpec;
use crate::layers::{KernelLayout, LayerWeights};
use crate::model::Layer;
use ndarray::{Array2, ArrayD, IxDyn};
use std::f32::consts::PI;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Preset {
    SobelX,
    SobelY,
    Laplacian,
    Gaussian,
    /// Orientations k·180°/n (n = filters clamped to 4..=8), even then odd phase.
    Gabor,
    /// Filters cycle through Sobel x, Sobel y, Laplacian, Gaussian and Gabor at 0°, 45°,
    /// 90°, 135°; every second cycle with the sign flipped.
    Bank,
}

impl Preset {
    pub const ALL: [Preset; 6] = [
        Preset::SobelX,
        Preset::SobelY,
        Preset::Laplacian,
        Preset::Gaussian,
        Preset::Gabor,
        Preset::Bank,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Preset::SobelX => "Sobel x (vertical edges)",
            Preset::SobelY => "Sobel y (horizontal edges)",
            Preset::Laplacian => "Laplacian (blobs, corners)",
            Preset::Gaussian => "Gaussian blur",
            Preset::Gabor => "Gabor bank (orientations)",
            Preset::Bank => "mixed bank (all of the above)",
        }
    }
}

/// Whether `layer` can take a preset.
pub fn supports(layer: &Layer) -> bool {
    layer.kind.spec().kernel().is_some_and(|k| k.presets)
}

fn grid(kh: usize, kw: usize) -> impl Iterator<Item = (usize, usize, f32, f32)> {
    let (cy, cx) = ((kh as f32 - 1.0) / 2.0, (kw as f32 - 1.0) / 2.0);
    (0..kh).flat_map(move |i| (0..kw).map(move |j| (i, j, i as f32 - cy, j as f32 - cx)))
}

fn sigma(k: usize) -> f32 {
    // OpenCV's default for a k-tap Gaussian: 0.8 at k = 3.
    (0.3 * ((k as f32 - 1.0) * 0.5 - 1.0) + 0.8).max(0.5)
}

/// Scales so the absolute weights sum to `total` (kept as is when all are 0).
fn scaled(mut k: Array2<f32>, total: f32) -> Array2<f32> {
    let s: f32 = k.iter().map(|v| v.abs()).sum();
    if s > 1e-12 {
        k.mapv_inplace(|v| v * total / s);
    }
    k
}

fn zero_mean(mut k: Array2<f32>) -> Array2<f32> {
    let m = k.mean().unwrap_or(0.0);
    k.mapv_inplace(|v| v - m);
    k
}

fn sobel(kh: usize, kw: usize, along_x: bool) -> Array2<f32> {
    if (kh, kw) == (3, 3) {
        let s = [[-1., 0., 1.], [-2., 0., 2.], [-1., 0., 1.]];
        return Array2::from_shape_fn((3, 3), |(i, j)| if along_x { s[i][j] } else { s[j][i] });
    }
    let (sy, sx) = (sigma(kh), sigma(kw));
    let mut k = Array2::zeros((kh, kw));
    for (i, j, y, x) in grid(kh, kw) {
        let g = (-(y * y) / (2.0 * sy * sy) - (x * x) / (2.0 * sx * sx)).exp();
        k[[i, j]] = if along_x { x * g } else { y * g };
    }
    scaled(k, 8.0)
}

fn laplacian(kh: usize, kw: usize) -> Array2<f32> {
    if (kh, kw) == (3, 3) {
        return Array2::from_shape_vec((3, 3), vec![0., 1., 0., 1., -4., 1., 0., 1., 0.])
            .unwrap_or_else(|_| Array2::zeros((3, 3)));
    }
    let s = sigma(kh.max(kw)) * 0.7;
    let mut k = Array2::zeros((kh, kw));
    for (i, j, y, x) in grid(kh, kw) {
        let r2 = (x * x + y * y) / (2.0 * s * s);
        k[[i, j]] = (r2 - 1.0) * (-r2).exp();
    }
    scaled(zero_mean(k), 8.0)
}

fn gaussian(kh: usize, kw: usize) -> Array2<f32> {
    let (sy, sx) = (sigma(kh), sigma(kw));
    let mut k = Array2::zeros((kh, kw));
    for (i, j, y, x) in grid(kh, kw) {
        k[[i, j]] = (-(y * y) / (2.0 * sy * sy) - (x * x) / (2.0 * sx * sx)).exp();
    }
    scaled(k, 1.0)
}

fn gabor(kh: usize, kw: usize, theta: f32, odd: bool) -> Array2<f32> {
    let size = kh.max(kw) as f32;
    let lambda = (size * 0.8).max(2.5);
    let s = 0.56 * lambda;
    let gamma = 0.5;
    let (c, sn) = (theta.cos(), theta.sin());
    let mut k = Array2::zeros((kh, kw));
    for (i, j, y, x) in grid(kh, kw) {
        // Rotated coordinates; y points down, angles counter-clockwise on screen.
        let xr = x * c - y * sn;
        let yr = x * sn + y * c;
        let env = (-(xr * xr + gamma * gamma * yr * yr) / (2.0 * s * s)).exp();
        let phase = 2.0 * PI * xr / lambda;
        k[[i, j]] = env * if odd { phase.sin() } else { phase.cos() };
    }
    scaled(zero_mean(k), 4.0)
}

/// The 2-D kernel for filter `f` of `filters`.
pub fn kernel2d(preset: Preset, f: usize, filters: usize, kh: usize, kw: usize) -> Array2<f32> {
    match preset {
        Preset::SobelX => sobel(kh, kw, true),
        Preset::SobelY => sobel(kh, kw, false),
        Preset::Laplacian => laplacian(kh, kw),
        Preset::Gaussian => gaussian(kh, kw),
        Preset::Gabor => {
            let n = filters.clamp(4, 8);
            let theta = (f % n) as f32 * PI / n as f32;
            gabor(kh, kw, theta, (f / n) % 2 == 1)
        }
        Preset::Bank => {
            let k = match f % 8 {
                0 => sobel(kh, kw, true),
                1 => sobel(kh, kw, false),
                2 => laplacian(kh, kw),
                3 => gaussian(kh, kw),
                o => gabor(kh, kw, (o - 4) as f32 * PI / 4.0, false),
            };
            if (f / 8) % 2 == 1 { -k } else { k }
        }
    }
}

/// Weights for `layer` (Conv2D or DepthwiseConv2D) with the preset's kernels; `specs`
/// are the layer's weight shapes from the analysis.
pub fn preset_weights(
    preset: Preset,
    layer: &Layer,
    specs: &[WeightSpec],
) -> Result<LayerWeights, String> {
    if !supports(layer) {
        return Err(format!(
            "filter presets fit Conv2D and DepthwiseConv2D layers, not {}",
            layer.class_name()
        ));
    }
    let depthwise = layer
        .kind
        .spec()
        .kernel()
        .is_some_and(|k| k.layout == KernelLayout::Depthwise);
    specs
        .iter()
        .map(|spec| {
            let shape: Vec<usize> = spec.shape.iter().map(|&d| d.max(0) as usize).collect();
            if spec.name == "bias" || shape.len() != 4 {
                return Ok(ArrayD::zeros(IxDyn(&shape)));
            }
            let (kh, kw, cin, fout) = (shape[0], shape[1], shape[2], shape[3]);
            let kernels: Vec<Array2<f32>> = (0..fout)
                .map(|f| kernel2d(preset, f, fout, kh, kw))
                .collect();
            let mix = |c: usize| {
                if depthwise {
                    1.0
                } else if cin == 3 {
                    [0.299, 0.587, 0.114][c]
                } else {
                    1.0 / cin.max(1) as f32
                }
            };
            Ok(ArrayD::from_shape_fn(IxDyn(&shape), |i| {
                kernels[i[3]][[i[0], i[1]]] * mix(i[2])
            }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn textbook_kernels_at_3x3() {
        let sx = kernel2d(Preset::SobelX, 0, 1, 3, 3);
        assert_eq!(sx.row(1).to_vec(), vec![-2.0, 0.0, 2.0]);
        let sy = kernel2d(Preset::SobelY, 0, 1, 3, 3);
        assert_eq!(sy.column(1).to_vec(), vec![-2.0, 0.0, 2.0]);
        assert_eq!(kernel2d(Preset::Laplacian, 0, 1, 3, 3)[[1, 1]], -4.0);
        let g = kernel2d(Preset::Gaussian, 0, 1, 3, 3);
        assert!((g.sum() - 1.0).abs() < 1e-6);
        assert!(g[[1, 1]] > g[[0, 1]] && g[[0, 1]] > g[[0, 0]]);
    }

    #[test]
    fn every_size_behaves() {
        for (kh, kw) in [(1, 1), (1, 5), (5, 5), (7, 3), (11, 11)] {
            for p in Preset::ALL {
                for f in 0..16 {
                    let k = kernel2d(p, f, 16, kh, kw);
                    assert_eq!(k.shape(), &[kh, kw]);
                    assert!(k.iter().all(|v| v.is_finite()), "{p:?} {kh}x{kw}");
                }
            }
            // Edge detectors ignore flat regions; the blur keeps them.
            assert!(kernel2d(Preset::SobelX, 0, 1, kh, kw).sum().abs() < 1e-4);
            assert!(kernel2d(Preset::Laplacian, 0, 1, kh, kw).sum().abs() < 1e-4);
            assert!(kernel2d(Preset::Gabor, 1, 4, kh, kw).sum().abs() < 1e-4);
            assert!((kernel2d(Preset::Gaussian, 0, 1, kh, kw).sum() - 1.0).abs() < 1e-5);
        }
        // A 5×5 Sobel x still responds to a left-to-right ramp with a positive value.
        let k = kernel2d(Preset::SobelX, 0, 1, 5, 5);
        let resp: f32 = k.indexed_iter().map(|((_, j), v)| v * j as f32).sum();
        assert!(resp > 0.0);
        // The Gabor bank's orientations differ.
        let a = kernel2d(Preset::Gabor, 0, 4, 7, 7);
        let b = kernel2d(Preset::Gabor, 2, 4, 7, 7);
        assert!((&a - &b).iter().any(|v| v.abs() > 1e-3));
        // 90° is the 0° kernel transposed.
        assert!((&b - &a.t()).iter().all(|v| v.abs() < 1e-5));
    }
}
