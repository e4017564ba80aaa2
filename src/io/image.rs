//! Images in: photo bytes → a preprocessed HWC float tensor ready to feed a model.
//!
//! Owns decoding (PNG, JPEG, WebP, BMP, GIF first frame, TIFF through the `image` crate),
//! the size guard that refuses huge images from their header before decoding, channel
//! conversion (grayscale with Pillow's `convert("L")` weights, as Keras's `load_img`
//! uses), fitting to the model's input size (stretch, Keras's aspect-keeping center
//! crop, or letterbox), bilinear resampling, and the pixel scalings models expect.

use image::imageops::{self, FilterType};
use image::{DynamicImage, ImageBuffer, ImageReader, Limits, Luma, Pixel};
use std::io::Cursor;

/// The pixel scaling applied after decoding and resizing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Preprocess {
    /// x / 255, in [0, 1] (the default; what the golden image cases use).
    #[default]
    Unit,
    /// x, in [0, 255].
    Raw,
    /// x / 127.5 − 1, in [−1, 1] (MobileNet, Inception).
    Symmetric,
    /// (x / 255 − mean) / std with ImageNet's mean [0.485, 0.456, 0.406] and std
    /// [0.229, 0.224, 0.225]; grayscale uses the first (red) pair. keras.applications
    /// calls it `torch`.
    Imagenet,
    /// keras.applications' `caffe` mode (VGG, ResNet v1): RGB → BGR, then ImageNet's
    /// mean pixel [103.939, 116.779, 123.68] (B, G, R) subtracted, no scaling;
    /// grayscale subtracts the mean of the three.
    Caffe,
}

/// ImageNet's mean pixel in BGR order, 0–255 (`imagenet_utils`, `caffe` mode).
const CAFFE_MEAN_BGR: [f32; 3] = [103.939, 116.779, 123.68];

impl Preprocess {
    /// The preprocessing keras.applications defines for a model it built, known by the
    /// name it gives the model (`vgg16`, `mobilenetv2_1.00_224`, `efficientnetb0`…),
    /// with the reason; `None` for any other name.
    pub fn for_application(model_name: &str) -> Option<(Preprocess, &'static str)> {
        let n = model_name.to_ascii_lowercase();
        let starts = |ps: &[&str]| ps.iter().any(|p| n.starts_with(p));
        let v2 = n.ends_with("v2");
        if matches!(
            n.as_str(),
            "vgg16" | "vgg19" | "resnet50" | "resnet101" | "resnet152"
        ) {
            Some((
                Preprocess::Caffe,
                "keras.applications preprocesses VGG and ResNet (v1) inputs in `caffe` mode",
            ))
        } else if (n.starts_with("resnet") && v2)
            || starts(&[
                "inception_v3",
                "inception_resnet_v2",
                "xception",
                "mobilenet_",
                "mobilenetv2_",
                "nasnet_",
            ])
        {
            Some((
                Preprocess::Symmetric,
                "keras.applications preprocesses this model's inputs in `tf` mode ([-1, 1])",
            ))
        } else if n.starts_with("densenet") {
            Some((
                Preprocess::Imagenet,
                "keras.applications preprocesses DenseNet inputs in `torch` mode (ImageNet \
                 mean and std)",
            ))
        } else if starts(&["efficientnet", "convnext_", "mobilenetv3"]) {
            Some((
                Preprocess::Raw,
                "this keras.applications model preprocesses its input itself: it takes raw \
                 0-255 pixels",
            ))
        } else {
            None
        }
    }
}

/// How an image whose size differs from the target is made to fit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ResizeMode {
    /// Resize to the target size, ignoring the aspect ratio.
    #[default]
    Stretch,
    /// Crop the largest centered region with the target's aspect ratio, then resize
    /// (Keras's `load_img(keep_aspect_ratio=True)` arithmetic).
    CenterCrop,
    /// Resize to fit inside the target keeping the aspect ratio, centered on black.
    Letterbox,
}

/// A decoded, resized and preprocessed image: HWC, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageInput {
    pub height: usize,
    pub width: usize,
    pub channels: usize,
    pub data: Vec<f32>,
}

/// Why an image could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("not an image: {0}")]
    NotAnImage(String),
    #[error(
        "image is {width}×{height} = {} pixels; the limit is {} pixels",
        mega(*width as u64 * *height as u64),
        mega(*limit)
    )]
    TooLarge { width: u32, height: u32, limit: u64 },
    #[error("cannot decode the {format} image: {message}")]
    Decode { format: String, message: String },
    #[error("an image can be loaded with 1 (grayscale) or 3 (RGB) channels, not {0}")]
    Channels(usize),
    #[error("bad target size {height}×{width}: {reason}")]
    Target {
        height: usize,
        width: usize,
        reason: String,
    },
}

/// Largest image (width × height) that is decoded.
pub const MAX_PIXELS: u64 = 100_000_000;

/// Bytes per pixel the decoder may allocate: RGBA with 32-bit float samples.
const DECODE_BYTES_PER_PIXEL: u64 = 16;

/// Pillow's ImageNet-style constants as Keras's `preprocess_input(mode="torch")` uses them.
const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// "900 M", "1.5 M", "100 M".
fn mega(pixels: u64) -> String {
    if pixels.is_multiple_of(1_000_000) {
        format!("{} M", pixels / 1_000_000)
    } else {
        format!("{:.1} M", pixels as f64 / 1e6)
    }
}

/// Decode (PNG, JPEG, WebP, BMP, GIF first frame, TIFF), convert to `channels` (1 gray,
/// 3 RGB; anything else is an error; alpha is dropped), resize to `target` = (height,
/// width) when given (`None` keeps the image size) with bilinear filtering (the `image`
/// crate's Triangle filter) and no resampling when the sizes already match, then
/// preprocess. Images over [`MAX_PIXELS`] are refused from their header, before decoding.
pub fn load_image(
    bytes: &[u8],
    target: Option<(usize, usize)>,
    channels: usize,
    pre: Preprocess,
    mode: ResizeMode,
) -> Result<ImageInput, ImageError> {
    load_image_within(bytes, target, channels, pre, mode, MAX_PIXELS)
}

/// The image as the array a model input of batch shape `shape` (rank 4) takes: decoded,
/// resized to its height and width when they are fixed, converted to its channels (3
/// when free), preprocessed, batch 1, channels last or (`channels_first`) first.
pub fn input_array(
    bytes: &[u8],
    shape: &[Option<i64>],
    channels_first: bool,
    pre: Preprocess,
    mode: ResizeMode,
) -> Result<ndarray::ArrayD<f32>, String> {
    use ndarray::IxDyn;
    if shape.len() != 4 {
        return Err(format!(
            "images fit only rank-4 inputs; this model's input is {shape:?}"
        ));
    }
    let (h, w, c) = if channels_first {
        (shape[2], shape[3], shape[1])
    } else {
        (shape[1], shape[2], shape[3])
    };
    let target = match (h, w) {
        (Some(h), Some(w)) => Some((h.max(1) as usize, w.max(1) as usize)),
        _ => None,
    };
    let channels = c.unwrap_or(3).max(0) as usize;
    let img = load_image(bytes, target, channels, pre, mode).map_err(|e| e.to_string())?;
    let arr =
        ndarray::ArrayD::from_shape_vec(IxDyn(&[1, img.height, img.width, img.channels]), img.data)
            .map_err(|e| e.to_string())?;
    Ok(if channels_first {
        arr.permuted_axes(IxDyn(&[0, 3, 1, 2]))
            .as_standard_layout()
            .into_owned()
    } else {
        arr
    })
}

/// [`load_image`] with another pixel limit (at most [`MAX_PIXELS`]); the image fuzz
/// target uses a smaller one so that its one-second hang limit measures stuck code, not
/// the honest cost of decoding a 100 M pixel photo.
pub fn load_image_within(
    bytes: &[u8],
    target: Option<(usize, usize)>,
    channels: usize,
    pre: Preprocess,
    mode: ResizeMode,
    max_pixels: u64,
) -> Result<ImageInput, ImageError> {
    let max_pixels = max_pixels.min(MAX_PIXELS);
    if channels != 1 && channels != 3 {
        return Err(ImageError::Channels(channels));
    }
    let target = target.map(check_target).transpose()?;

    // Size from the header first: nothing is decoded for an image that is too large.
    let reader = || {
        ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| ImageError::NotAnImage(e.to_string()))
    };
    let mut probe = reader()?;
    let Some(format) = probe.format() else {
        return Err(ImageError::NotAnImage(format!(
            "the data does not start like a PNG, JPEG, WebP, BMP, GIF or TIFF file ({})",
            leading_bytes(bytes)
        )));
    };
    let format_name = format!("{format:?}").to_uppercase();
    probe.no_limits(); // reading the header allocates nothing large
    let (width, height) = probe.into_dimensions().map_err(|e| match e {
        image::ImageError::Unsupported(_) => ImageError::NotAnImage(format!(
            "{format_name} images are not supported (PNG, JPEG, WebP, BMP, GIF, TIFF are)"
        )),
        other => ImageError::Decode {
            format: format_name.clone(),
            message: other.to_string(),
        },
    })?;
    if width as u64 * height as u64 > max_pixels {
        return Err(ImageError::TooLarge {
            width,
            height,
            limit: max_pixels,
        });
    }
    if width == 0 || height == 0 {
        return Err(ImageError::NotAnImage(format!(
            "the {format_name} image has no pixels ({width}×{height})"
        )));
    }

    let mut decoder = reader()?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(width);
    limits.max_image_height = Some(height);
    limits.max_alloc = Some(max_pixels * DECODE_BYTES_PER_PIXEL);
    decoder.limits(limits);
    let img = decoder.decode().map_err(|e| ImageError::Decode {
        format: format_name,
        message: e.to_string(),
    })?;

    if channels == 1 {
        let gray = fit(to_gray(&img), target, mode);
        Ok(finish(gray, 1, pre))
    } else {
        let rgb = fit(img.to_rgb8(), target, mode);
        Ok(finish(rgb, 3, pre))
    }
}

fn check_target((height, width): (usize, usize)) -> Result<(u32, u32), ImageError> {
    let bad = |reason: &str| ImageError::Target {
        height,
        width,
        reason: reason.to_string(),
    };
    if height == 0 || width == 0 {
        return Err(bad("both sides must be at least 1"));
    }
    if (height as u64).saturating_mul(width as u64) > MAX_PIXELS {
        return Err(bad(&format!("more than {} pixels", mega(MAX_PIXELS))));
    }
    // Both fit in u32 now: each is at most MAX_PIXELS.
    Ok((
        u32::try_from(width).map_err(|_| bad("too wide"))?,
        u32::try_from(height).map_err(|_| bad("too tall"))?,
    ))
}

fn leading_bytes(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "it is empty".into();
    }
    let hex: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("first bytes {}", hex.join(" "))
}

/// Grayscale as Pillow's `convert("L")`: L = (19595 R + 38470 G + 7471 B + 2¹⁵) >> 16
/// (ITU-R 601-2 luma). Images that are already gray keep their values.
fn to_gray(img: &DynamicImage) -> ImageBuffer<Luma<u8>, Vec<u8>> {
    use image::ColorType;
    match img.color() {
        ColorType::L8 | ColorType::La8 | ColorType::L16 | ColorType::La16 => img.to_luma8(),
        _ => {
            let rgb = img.to_rgb8();
            let (w, h) = rgb.dimensions();
            let data: Vec<u8> = rgb
                .pixels()
                .map(|p| {
                    let [r, g, b] = p.0;
                    let l = (r as u32 * 19595 + g as u32 * 38470 + b as u32 * 7471 + 0x8000) >> 16;
                    l.min(255) as u8
                })
                .collect();
            // The buffer has exactly w*h samples, so this cannot fail; fall back to the
            // crate's own conversion rather than panic.
            ImageBuffer::from_raw(w, h, data).unwrap_or_else(|| img.to_luma8())
        }
    }
}

/// For a large reduction (a 12-megapixel photo to 96×96): averages whole blocks of
/// pixels first, so that the image is at most about 8× the target along each axis
/// before the triangle filter, whose cost grows with the reduction factor (found by the
/// image fuzz target: a 63008-pixel-wide JPEG took over a second). `None` when the image
/// is within 8× of the target.
fn box_shrink<P>(img: &ImageBuffer<P, Vec<u8>>, tw: u32, th: u32) -> Option<ImageBuffer<P, Vec<u8>>>
where
    P: Pixel<Subpixel = u8> + 'static,
{
    let (w, h) = img.dimensions();
    let fx = (w / tw.max(1) / 4).max(1);
    let fy = (h / th.max(1) / 4).max(1);
    if fx < 2 && fy < 2 {
        return None;
    }
    let c = P::CHANNEL_COUNT as usize;
    // Block i covers [i·w/nw, (i+1)·w/nw): fx or fx+1 pixels, evenly spread, so the
    // block centres stay on a uniform grid for the triangle filter that follows.
    let (nw, nh) = ((w / fx).max(1), (h / fy).max(1));
    let edge = |i: u32, n: u32, len: u32| (i as u64 * len as u64 / n as u64) as usize;
    let col_of: Vec<usize> = {
        let mut v = vec![0usize; w as usize];
        for i in 0..nw {
            v[edge(i, nw, w)..edge(i + 1, nw, w)].fill(i as usize);
        }
        v
    };
    let src = img.as_raw();
    let mut out = vec![0u8; nw as usize * nh as usize * c];
    let mut sums = vec![0u64; nw as usize * c];
    for oy in 0..nh {
        sums.fill(0);
        let (y0, y1) = (edge(oy, nh, h), edge(oy + 1, nh, h));
        for y in y0..y1 {
            let row = &src[y * w as usize * c..(y + 1) * w as usize * c];
            for (px, &ox) in row.chunks_exact(c).zip(&col_of) {
                for (s, &v) in sums[ox * c..ox * c + c].iter_mut().zip(px) {
                    *s += v as u64;
                }
            }
        }
        let dst = &mut out[oy as usize * nw as usize * c..(oy as usize + 1) * nw as usize * c];
        for ox in 0..nw {
            let n = ((edge(ox + 1, nw, w) - edge(ox, nw, w)) * (y1 - y0)) as u64;
            for k in 0..c {
                let i = ox as usize * c + k;
                dst[i] = ((sums[i] + n / 2) / n.max(1)) as u8;
            }
        }
    }
    ImageBuffer::from_raw(nw, nh, out)
}

/// Brings `img` to `target` (width, height) according to `mode`.
fn fit<P>(
    img: ImageBuffer<P, Vec<u8>>,
    target: Option<(u32, u32)>,
    mode: ResizeMode,
) -> ImageBuffer<P, Vec<u8>>
where
    P: Pixel<Subpixel = u8> + 'static,
{
    let Some((tw, th)) = target else {
        return img;
    };
    let (w, h) = img.dimensions();
    if (w, h) == (tw, th) {
        return img;
    }
    let resize = |im: &ImageBuffer<P, Vec<u8>>, nw: u32, nh: u32| {
        if im.dimensions() == (nw, nh) {
            im.clone()
        } else {
            match box_shrink(im, nw, nh) {
                Some(small) => imageops::resize(&small, nw, nh, FilterType::Triangle),
                None => imageops::resize(im, nw, nh, FilterType::Triangle),
            }
        }
    };
    match mode {
        ResizeMode::Stretch => resize(&img, tw, th),
        ResizeMode::CenterCrop => {
            // keras.utils.load_img(keep_aspect_ratio=True).
            let (w64, h64, tw64, th64) = (w as u64, h as u64, tw as u64, th as u64);
            let crop_h = ((w64 * th64) / tw64).min(h64).max(1) as u32;
            let crop_w = ((h64 * tw64) / th64).min(w64).max(1) as u32;
            let y0 = (h - crop_h) / 2;
            let x0 = (w - crop_w) / 2;
            let cropped = imageops::crop_imm(&img, x0, y0, crop_w, crop_h).to_image();
            resize(&cropped, tw, th)
        }
        ResizeMode::Letterbox => {
            let scale = (tw as f64 / w as f64).min(th as f64 / h as f64);
            let nw = ((w as f64 * scale).round() as u32).clamp(1, tw);
            let nh = ((h as f64 * scale).round() as u32).clamp(1, th);
            let inner = resize(&img, nw, nh);
            let mut canvas = ImageBuffer::<P, Vec<u8>>::new(tw, th);
            imageops::replace(
                &mut canvas,
                &inner,
                ((tw - nw) / 2) as i64,
                ((th - nh) / 2) as i64,
            );
            canvas
        }
    }
}

fn finish<P>(img: ImageBuffer<P, Vec<u8>>, channels: usize, pre: Preprocess) -> ImageInput
where
    P: Pixel<Subpixel = u8>,
{
    let (w, h) = img.dimensions();
    let raw = img.into_raw();
    let data = raw
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let x = v as f32;
            match pre {
                Preprocess::Caffe if channels == 3 => {
                    let c = i % 3;
                    raw[i - c + 2 - c] as f32 - CAFFE_MEAN_BGR[c]
                }
                Preprocess::Caffe => x - CAFFE_MEAN_BGR.iter().sum::<f32>() / 3.0,
                Preprocess::Unit => x / 255.0,
                Preprocess::Raw => x,
                Preprocess::Symmetric => x / 127.5 - 1.0,
                Preprocess::Imagenet => {
                    let c = if channels == 3 { i % 3 } else { 0 };
                    (x / 255.0 - IMAGENET_MEAN[c]) / IMAGENET_STD[c]
                }
            }
        })
        .collect();
    ImageInput {
        height: h as usize,
        width: w as usize,
        channels,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::npy::read_npy;
    use image::{ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};
    use std::path::Path;

    fn gradient(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            Rgb([(x * 255 / w.max(2)) as u8, (y * 255 / h.max(2)) as u8, 77])
        })
    }

    fn encode(img: DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, format)
            .unwrap_or_else(|e| panic!("encode {format:?}: {e}"));
        out.into_inner()
    }

    fn load_raw(bytes: &[u8], channels: usize) -> ImageInput {
        load_image(bytes, None, channels, Preprocess::Raw, ResizeMode::Stretch).expect("load")
    }

    fn golden_matches(case: &str) {
        let dir = Path::new("/work/shared/golden").join(case);
        let (Ok(png), Ok(npy)) = (
            std::fs::read(dir.join("input.png")),
            std::fs::read(dir.join("input.npy")),
        ) else {
            return; // golden data not present on this machine
        };
        let want = read_npy(&npy).expect("golden npy");
        // input.npy is (batch, H, W, 3); the PNG is one image at exactly that size.
        let (h, w) = (want.shape[1], want.shape[2]);
        let got = load_image(&png, Some((h, w)), 3, Preprocess::Unit, ResizeMode::Stretch)
            .expect("golden png");
        assert_eq!((got.height, got.width, got.channels), (h, w, 3));
        let per_image = h * w * 3;
        assert_eq!(
            got.data.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            want.data[..per_image]
                .iter()
                .map(|x| x.to_bits())
                .collect::<Vec<_>>(),
            "{case}: pixels / 255 differ from input.npy"
        );
        // Same without a target size (the PNG already has the model's size).
        let same =
            load_image(&png, None, 3, Preprocess::Unit, ResizeMode::Letterbox).expect("golden png");
        assert_eq!(same, got);
    }

    #[test]
    fn golden_chelsea_matches_input_npy() {
        golden_matches("img_chelsea_32");
    }

    #[test]
    fn golden_coffee_matches_input_npy() {
        golden_matches("img_coffee_48x64");
    }

    #[test]
    fn every_built_in_format_decodes() {
        let img = gradient(16, 12);
        let want: Vec<f32> = img.as_raw().iter().map(|&v| v as f32).collect();
        for (format, tolerance) in [
            (ImageFormat::Png, 0.0),
            (ImageFormat::Bmp, 0.0),
            (ImageFormat::Tiff, 0.0),
            (ImageFormat::WebP, 0.0), // the crate's WebP encoder is lossless
            (ImageFormat::Jpeg, 24.0),
            (ImageFormat::Gif, 24.0), // palette quantisation
        ] {
            let bytes = encode(DynamicImage::ImageRgb8(img.clone()), format);
            let got = load_raw(&bytes, 3);
            assert_eq!(
                (got.height, got.width, got.channels),
                (12, 16, 3),
                "{format:?}"
            );
            let worst = got
                .data
                .iter()
                .zip(&want)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(worst <= tolerance, "{format:?}: max error {worst}");
        }
    }

    #[test]
    fn gif_gives_its_first_frame() {
        use image::codecs::gif::GifEncoder;
        use image::{Delay, Frame};
        let mut out = Vec::new();
        {
            let mut enc = GifEncoder::new(&mut out);
            let frames = [Rgba([255, 0, 0, 255]), Rgba([0, 0, 255, 255])].map(|c| {
                Frame::from_parts(
                    RgbaImage::from_pixel(5, 4, c),
                    0,
                    0,
                    Delay::from_numer_denom_ms(100, 1),
                )
            });
            enc.encode_frames(frames).expect("gif frames");
        }
        let got = load_raw(&out, 3);
        assert_eq!((got.height, got.width), (4, 5));
        for px in got.data.chunks(3) {
            assert!(
                px[0] > 240.0 && px[2] < 15.0,
                "{px:?}: not the red first frame"
            );
        }
    }

    #[test]
    fn channel_conversions() {
        // RGB → gray with Pillow's weights: pure red 255 → 76, green → 150, blue → 29.
        let rgb = RgbImage::from_fn(3, 1, |x, _| match x {
            0 => Rgb([255, 0, 0]),
            1 => Rgb([0, 255, 0]),
            _ => Rgb([0, 0, 255]),
        });
        let png = encode(DynamicImage::ImageRgb8(rgb), ImageFormat::Png);
        let g = load_raw(&png, 1);
        assert_eq!((g.height, g.width, g.channels), (1, 3, 1));
        assert_eq!(g.data, vec![76.0, 150.0, 29.0]);

        // Gray → RGB repeats the value.
        let gray = image::GrayImage::from_fn(2, 2, |x, y| Luma([(10 + 100 * x + 40 * y) as u8]));
        let png = encode(DynamicImage::ImageLuma8(gray.clone()), ImageFormat::Png);
        let c = load_raw(&png, 3);
        assert_eq!(c.channels, 3);
        assert_eq!(
            c.data,
            vec![
                10., 10., 10., 110., 110., 110., 50., 50., 50., 150., 150., 150.
            ]
        );
        // Gray stays gray as is.
        assert_eq!(load_raw(&png, 1).data, vec![10.0, 110.0, 50.0, 150.0]);

        // RGBA drops alpha (like Pillow's convert("RGB")).
        let rgba = RgbaImage::from_pixel(2, 1, Rgba([9, 8, 7, 0]));
        let png = encode(DynamicImage::ImageRgba8(rgba), ImageFormat::Png);
        assert_eq!(load_raw(&png, 3).data, vec![9., 8., 7., 9., 8., 7.]);

        for bad in [0, 2, 4] {
            let e = load_image(&png, None, bad, Preprocess::Unit, ResizeMode::Stretch);
            assert!(matches!(e, Err(ImageError::Channels(c)) if c == bad));
        }
    }

    #[test]
    fn preprocess_modes() {
        let rgb = RgbImage::from_pixel(1, 1, Rgb([0, 255, 51]));
        let png = encode(DynamicImage::ImageRgb8(rgb), ImageFormat::Png);
        let run = |pre, ch| {
            load_image(&png, None, ch, pre, ResizeMode::Stretch)
                .expect("load")
                .data
        };
        assert_eq!(run(Preprocess::Unit, 3), vec![0.0, 1.0, 0.2]);
        assert_eq!(run(Preprocess::Raw, 3), vec![0.0, 255.0, 51.0]);
        assert_eq!(
            run(Preprocess::Symmetric, 3),
            vec![-1.0, 1.0, 51.0 / 127.5 - 1.0]
        );
        let imagenet = run(Preprocess::Imagenet, 3);
        let want = [
            (0.0 - 0.485) / 0.229,
            (1.0 - 0.456) / 0.224,
            (0.2 - 0.406) / 0.225,
        ];
        for (a, b) in imagenet.iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
        // Gray uses the first mean/std: L = (255*38470 + 51*7471 + 2^15) >> 16 = 156.
        let g = run(Preprocess::Imagenet, 1);
        assert!(
            (g[0] - (156.0 / 255.0 - 0.485) / 0.229).abs() < 1e-6,
            "{g:?}"
        );
        assert_eq!(Preprocess::default(), Preprocess::Unit);
        let json = serde_json::to_string(&Preprocess::Imagenet).expect("json");
        assert_eq!(
            serde_json::from_str::<Preprocess>(&json).expect("back"),
            Preprocess::Imagenet
        );
        // caffe: R, G, B = 0, 255, 51 → B, G, R minus the BGR mean, as
        // imagenet_utils.preprocess_input(mode="caffe") computes.
        let caffe = run(Preprocess::Caffe, 3);
        let want = [51.0 - 103.939, 255.0 - 116.779, 0.0 - 123.68];
        for (a, b) in caffe.iter().zip(want) {
            assert!((a - b).abs() < 1e-4, "{caffe:?}");
        }
    }

    #[test]
    fn applications_propose_their_preprocessing() {
        let mode = |n| Preprocess::for_application(n).map(|(m, _)| m);
        let groups: [(Preprocess, &[&str]); 4] = [
            (Preprocess::Caffe, &["vgg16", "resnet50"]),
            (
                Preprocess::Symmetric,
                &[
                    "resnet50v2",
                    "mobilenetv2_1.00_224",
                    "mobilenet_0.50_160",
                    "inception_v3",
                    "xception",
                    "nasnet_mobile",
                ],
            ),
            (Preprocess::Imagenet, &["densenet121"]),
            (
                Preprocess::Raw,
                &[
                    "efficientnetb0",
                    "efficientnetv2-s",
                    "convnext_tiny",
                    "MobileNetV3Small",
                ],
            ),
        ];
        for (want, names) in groups {
            for name in names {
                assert_eq!(mode(name), Some(want), "{name}");
            }
        }
        assert_eq!(mode("stridednet"), None);
        assert_eq!(mode("my_resnet50_copy"), None);
    }

    /// Large reductions average blocks first; the result stays within 2 grey levels of
    /// the triangle filter applied to the whole image (smooth content), odd sizes and
    /// partial edge blocks included.
    #[test]
    fn large_reductions_shrink_by_blocks_first() {
        for (w, h, tw, th) in [(1203, 901, 30, 20), (4000, 37, 96, 96), (97, 5000, 8, 9)] {
            let img = ImageBuffer::<Rgb<u8>, Vec<u8>>::from_fn(w, h, |x, y| {
                Rgb([
                    (x * 255 / w) as u8,
                    (y * 255 / h) as u8,
                    ((x + y) * 127 / (w + h)) as u8,
                ])
            });
            let small = box_shrink(&img, tw, th).expect("a large reduction");
            assert!(small.width() < 16 * tw && small.height() < 16 * th);
            let fast = fit(img.clone(), Some((tw, th)), ResizeMode::Stretch);
            let exact = imageops::resize(&img, tw, th, FilterType::Triangle);
            let worst = fast
                .as_raw()
                .iter()
                .zip(exact.as_raw())
                .map(|(a, b)| (*a as i32 - *b as i32).abs())
                .max()
                .unwrap();
            assert!(worst <= 2, "{w}×{h} → {tw}×{th}: {worst}");
        }
        // Within 8× of the target: untouched.
        assert!(box_shrink(&gradient(79, 20), 10, 10).is_none());
    }

    /// An 8-bit image's values as the floats `load` gives.
    fn floats(img: &image::RgbImage) -> Vec<f32> {
        img.as_raw().iter().map(|&v| v as f32).collect()
    }

    #[test]
    fn resize_modes() {
        let img = gradient(40, 20);
        let png = encode(DynamicImage::ImageRgb8(img.clone()), ImageFormat::Png);
        let load = |t, mode| load_image(&png, t, 3, Preprocess::Raw, mode).expect("load");
        let want_raw = floats(&img);

        // Same size: untouched, in every mode.
        for mode in [
            ResizeMode::Stretch,
            ResizeMode::CenterCrop,
            ResizeMode::Letterbox,
        ] {
            assert_eq!(load(Some((20, 40)), mode).data, want_raw, "{mode:?}");
        }
        // Stretch = the crate's Triangle resize.
        let s = load(Some((10, 10)), ResizeMode::Stretch);
        let expected = imageops::resize(&img, 10, 10, FilterType::Triangle);
        assert_eq!((s.height, s.width), (10, 10));
        assert_eq!(s.data, floats(&expected));
        // Center crop of a 40×20 image to a square: the middle 20×20 (x 10..30), then
        // resized 20×20 → 10×10.
        let c = load(Some((10, 10)), ResizeMode::CenterCrop);
        let middle = imageops::crop_imm(&img, 10, 0, 20, 20).to_image();
        let expected = imageops::resize(&middle, 10, 10, FilterType::Triangle);
        assert_eq!(c.data, floats(&expected));
        // Center crop with no resize needed after cropping: exactly the middle columns.
        let c = load(Some((20, 20)), ResizeMode::CenterCrop);
        assert_eq!(c.data, floats(&middle));
        // Letterbox 40×20 into 20×20: a 20×10 band in rows 5..15, black above and below.
        let l = load(Some((20, 20)), ResizeMode::Letterbox);
        let row = |r: usize| &l.data[r * 20 * 3..(r + 1) * 20 * 3];
        assert!(
            row(0)
                .iter()
                .chain(row(4))
                .chain(row(15))
                .chain(row(19))
                .all(|&v| v == 0.0)
        );
        assert!(row(5).iter().any(|&v| v > 0.0) && row(14).iter().any(|&v| v > 0.0));
        assert!(
            row(10).iter().skip(2).step_by(3).all(|&v| v == 77.0),
            "blue stays 77"
        );

        for bad in [Some((0, 5)), Some((5, 0)), Some((20_000, 20_000))] {
            assert!(matches!(
                load_image(&png, bad, 3, Preprocess::Unit, ResizeMode::Stretch),
                Err(ImageError::Target { .. })
            ));
        }
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in data {
            crc ^= b as u32;
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32(&body).to_be_bytes());
    }

    /// A PNG whose header claims `width`×`height` pixels of 8-bit `color_type`, with a
    /// token IDAT: enough for the size check, which must happen before any decoding.
    fn png_header_only(width: u32, height: u32, color_type: u8) -> Vec<u8> {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&width.to_be_bytes());
        ihdr.extend_from_slice(&height.to_be_bytes());
        ihdr.extend_from_slice(&[8, color_type, 0, 0, 0]);
        png_chunk(&mut png, b"IHDR", &ihdr);
        png_chunk(
            &mut png,
            b"IDAT",
            &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
        );
        png_chunk(&mut png, b"IEND", &[]);
        png
    }

    #[test]
    fn huge_image_is_refused_from_its_header() {
        // A 30000×30000 RGB PNG header with a token IDAT: 2.7 GB if it were decoded.
        let png = png_header_only(30_000, 30_000, 2);
        let e = load_image(
            &png,
            Some((32, 32)),
            3,
            Preprocess::Unit,
            ResizeMode::Stretch,
        )
        .unwrap_err();
        assert!(matches!(
            e,
            ImageError::TooLarge {
                width: 30_000,
                height: 30_000,
                ..
            }
        ));
        assert_eq!(
            e.to_string(),
            "image is 30000×30000 = 900 M pixels; the limit is 100 M pixels"
        );
        // Just over the limit is refused too; the size shows one decimal.
        let png = png_header_only(10_001, 10_000, 0);
        let e = load_image(&png, None, 1, Preprocess::Unit, ResizeMode::Stretch).unwrap_err();
        assert_eq!(
            e.to_string(),
            "image is 10001×10000 = 100.0 M pixels; the limit is 100 M pixels"
        );
    }

    #[test]
    fn garbage_is_not_an_image() {
        for bytes in [
            &b""[..],
            b"hello, world",
            &[0u8; 64],
            b"PK\x03\x04zipzipzip",
        ] {
            let e = load_image(bytes, None, 3, Preprocess::Unit, ResizeMode::Stretch).unwrap_err();
            assert!(e.to_string().starts_with("not an image: "), "{e}");
        }
        // A real PNG cut short: recognised, then fails to decode with a message.
        let png = encode(DynamicImage::ImageRgb8(gradient(64, 64)), ImageFormat::Png);
        let e = load_image(
            &png[..png.len() / 2],
            None,
            3,
            Preprocess::Unit,
            ResizeMode::Stretch,
        )
        .unwrap_err();
        assert!(matches!(e, ImageError::Decode { .. }), "{e}");
        assert!(
            e.to_string().starts_with("cannot decode the PNG image: "),
            "{e}"
        );
        // A header-only fragment: the size cannot be read.
        let e = load_image(&png[..20], None, 3, Preprocess::Unit, ResizeMode::Stretch).unwrap_err();
        assert!(e.to_string().contains("PNG"), "{e}");
    }
}
