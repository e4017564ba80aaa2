//! Changing an image's size without weights: zero padding, cropping, nearest and bilinear
//! upsampling.

use ndarray::{Array4, ArrayView4, s};

/// Zero padding (`amounts` may not be negative).
pub fn zero_pad(x: ArrayView4<f32>, amounts: [[usize; 2]; 2]) -> Array4<f32> {
    let (n, h, w, c) = x.dim();
    let mut out = Array4::<f32>::zeros((
        n,
        h + amounts[0][0] + amounts[0][1],
        w + amounts[1][0] + amounts[1][1],
        c,
    ));
    out.slice_mut(s![
        ..,
        amounts[0][0]..amounts[0][0] + h,
        amounts[1][0]..amounts[1][0] + w,
        ..
    ])
    .assign(&x);
    out
}

/// Cropping.
pub fn crop(x: ArrayView4<f32>, amounts: [[usize; 2]; 2]) -> Array4<f32> {
    let (_, h, w, _) = x.dim();
    x.slice(s![
        ..,
        amounts[0][0]..h - amounts[0][1],
        amounts[1][0]..w - amounts[1][1],
        ..
    ])
    .to_owned()
}

/// Nearest-neighbour upsampling by integer factors (each pixel repeated).
pub fn upsample_nearest(x: ArrayView4<f32>, size: [usize; 2]) -> Array4<f32> {
    let (n, h, w, c) = x.dim();
    Array4::from_shape_fn((n, h * size[0], w * size[1], c), |(b, y, xx, ch)| {
        x[[b, y / size[0], xx / size[1], ch]]
    })
}

/// Bilinear resize with half-pixel centres (TensorFlow's `tf.image.resize`, Keras's
/// `UpSampling2D(interpolation="bilinear")`).
pub fn resize_bilinear(x: ArrayView4<f32>, oh: usize, ow: usize) -> Array4<f32> {
    let (n, h, w, c) = x.dim();
    let src = crate::keras::geometry::bilinear_source;
    let mut out = Array4::<f32>::zeros((n, oh, ow, c));
    for y in 0..oh {
        let (y0, y1, fy) = src(y, oh, h);
        for xx in 0..ow {
            let (x0, x1, fx) = src(xx, ow, w);
            for b in 0..n {
                for ch in 0..c {
                    let top = x[[b, y0, x0, ch]] * (1.0 - fx) + x[[b, y0, x1, ch]] * fx;
                    let bot = x[[b, y1, x0, ch]] * (1.0 - fx) + x[[b, y1, x1, ch]] * fx;
                    out[[b, y, xx, ch]] = top * (1.0 - fy) + bot * fy;
                }
            }
        }
    }
    out
}
