//! The decode path: formats PDF cannot carry as they are (or PNGs with transparency or
//! interlacing) are decoded under limits and re-encoded losslessly: each row filtered with
//! the PNG predictor that suits it best, then deflated. Alpha becomes a soft mask (never
//! black pixels); an all-opaque alpha channel adds nothing.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageReader};

use super::limits::Limits;
use super::ximage::{ColorSpace, Filter, Predictor, XImage};
use crate::deflate::deflate_rows;

/// A decoded image, re-encoded for PDF, with the orientation its decoder reported.
pub struct Decoded {
    pub image: XImage,
    pub orientation: u8,
}

pub(crate) fn image_limits(limits: &Limits) -> image::Limits {
    let mut l = image::Limits::default();
    l.max_image_width = Some(limits.max_side);
    l.max_image_height = Some(limits.max_side);
    l.max_alloc = Some(limits.max_decode_bytes);
    l
}

pub fn decode(
    data: &[u8],
    format: image::ImageFormat,
    limits: &Limits,
    jpeg_quality: Option<u8>,
) -> Result<Decoded, String> {
    let mut reader = ImageReader::with_format(Cursor::new(data), format);
    reader.limits(image_limits(limits));
    let mut decoder = reader.into_decoder().map_err(|e| e.to_string())?;
    let (w, h) = decoder.dimensions();
    if w as u64 * h as u64 > limits.max_pixels {
        return Err(format!(
            "the image is {w}x{h}, over the limit of {} pixels",
            limits.max_pixels
        ));
    }
    let orientation = decoder.orientation().map(orientation_number).unwrap_or(1);
    let image = DynamicImage::from_decoder(decoder).map_err(|e| e.to_string())?;
    Ok(Decoded {
        image: encode(image, jpeg_quality),
        orientation,
    })
}

pub(crate) fn orientation_number(o: image::metadata::Orientation) -> u8 {
    use image::metadata::Orientation::*;
    match o {
        NoTransforms => 1,
        FlipHorizontal => 2,
        Rotate180 => 3,
        FlipVertical => 4,
        Rotate90FlipH => 5,
        Rotate90 => 6,
        Rotate270FlipH => 7,
        Rotate270 => 8,
    }
}

/// Splits an image into colour and (if any pixel is not opaque) alpha. Both are deflated,
/// unless `jpeg_quality` asks for the colour as a JPEG.
pub fn encode(image: DynamicImage, jpeg_quality: Option<u8>) -> XImage {
    let (w, h) = (image.width(), image.height());
    let q = jpeg_quality;
    let (gray, rgb) = (ColorSpace::Gray, ColorSpace::Rgb);
    match image {
        DynamicImage::ImageLuma8(i) => colour(w, h, gray, 8, i.into_raw(), q),
        DynamicImage::ImageRgb8(i) => colour(w, h, rgb, 8, i.into_raw(), q),
        DynamicImage::ImageLuma16(i) => colour(w, h, gray, 16, be_bytes(i.into_raw()), q),
        DynamicImage::ImageRgb16(i) => colour(w, h, rgb, 16, be_bytes(i.into_raw()), q),
        DynamicImage::ImageLumaA8(i) => with_alpha(w, h, gray, 8, i.into_raw(), q),
        DynamicImage::ImageRgba8(i) => with_alpha(w, h, rgb, 8, i.into_raw(), q),
        DynamicImage::ImageLumaA16(i) => with_alpha(w, h, gray, 16, be_bytes(i.into_raw()), q),
        DynamicImage::ImageRgba16(i) => with_alpha(w, h, rgb, 16, be_bytes(i.into_raw()), q),
        other if other.color().has_alpha() => {
            with_alpha(w, h, rgb, 16, be_bytes(other.into_rgba16().into_raw()), q)
        }
        other => colour(w, h, rgb, 16, be_bytes(other.into_rgb16().into_raw()), q),
    }
}

/// Colour samples as a JPEG at `jpeg_quality` when asked and possible (8 or 16-bit gray or
/// RGB; 16-bit samples are reduced to 8 first), else deflated.
pub(super) fn colour(
    width: u32,
    height: u32,
    color: ColorSpace,
    bits: u8,
    pixels: Vec<u8>,
    jpeg_quality: Option<u8>,
) -> XImage {
    let kind = match color {
        ColorSpace::Gray => image::ExtendedColorType::L8,
        ColorSpace::Rgb => image::ExtendedColorType::Rgb8,
        _ => return plain(width, height, color, bits, pixels),
    };
    let Some(quality) = jpeg_quality.filter(|_| bits == 8 || bits == 16) else {
        return plain(width, height, color, bits, pixels);
    };
    let eight: Vec<u8> = if bits == 16 {
        pixels.chunks_exact(2).map(|s| s[0]).collect()
    } else {
        pixels.clone()
    };
    let mut jpeg = Vec::with_capacity(eight.len() / 8);
    let encoder =
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, quality.clamp(1, 100));
    match image::ImageEncoder::write_image(encoder, &eight, width, height, kind) {
        Ok(()) => XImage {
            width,
            height,
            color,
            icc: None,
            bits: 8,
            filter: Filter::Dct,
            invert: false,
            data: jpeg,
            smask: None,
        },
        // The encoder refuses sizes JPEG cannot hold (over 65535 a side): stay lossless.
        Err(_) => plain(width, height, color, bits, pixels),
    }
}

pub(super) fn be_bytes(samples: Vec<u16>) -> Vec<u8> {
    samples.into_iter().flat_map(u16::to_be_bytes).collect()
}

pub(super) fn plain(
    width: u32,
    height: u32,
    color: ColorSpace,
    bits: u8,
    pixels: Vec<u8>,
) -> XImage {
    let colors = color.components();
    XImage {
        data: deflate_rows(pixels, width, colors, bits),
        width,
        height,
        color,
        icc: None,
        bits,
        filter: Filter::Flate(Predictor {
            colors,
            bits,
            columns: width,
        }),
        invert: false,
        smask: None,
    }
}

/// A sample of `bits` bits (under 16) stretched to the full range of `full_bits` bits,
/// rounded: how samples of odd depths become PDF's 8 or 16. Values past the depth clamp.
pub(crate) fn rescale(sample: u32, bits: u8, full_bits: u8) -> u32 {
    let (max, full) = ((1u32 << bits) - 1, (1u32 << full_bits) - 1);
    (sample.min(max) * full + max / 2) / max
}

/// Interleaved colour+alpha samples (`bits` 8 or 16, big-endian) split into two images.
pub(super) fn with_alpha(
    width: u32,
    height: u32,
    color: ColorSpace,
    bits: u8,
    mut pixels: Vec<u8>,
    jpeg_quality: Option<u8>,
) -> XImage {
    let colour_bytes = color.components() as usize * (bits as usize / 8);
    let alpha = split_alpha(&mut pixels, colour_bytes, bits as usize / 8);
    let mut image = colour(width, height, color, bits, pixels, jpeg_quality);
    if alpha.iter().any(|&a| a != 0xFF) {
        image.smask = Some(Box::new(plain(
            width,
            height,
            ColorSpace::Gray,
            bits,
            alpha,
        )));
    }
    image
}

/// Moves each pixel's alpha (`alpha_bytes` after `colour_bytes` of colour) out of `pixels`,
/// which keeps the colour, packed, in its own buffer; returns the alpha samples.
fn split_alpha(pixels: &mut Vec<u8>, colour_bytes: usize, alpha_bytes: usize) -> Vec<u8> {
    match (colour_bytes, alpha_bytes) {
        (1, 1) => split_pixels::<2, 1>(pixels),
        (3, 1) => split_pixels::<4, 3>(pixels),
        (2, 2) => split_pixels::<4, 2>(pixels),
        (6, 2) => split_pixels::<8, 6>(pixels),
        (4, 1) => split_pixels::<5, 4>(pixels),
        (8, 2) => split_pixels::<10, 8>(pixels),
        _ => {
            let pixel = colour_bytes + alpha_bytes;
            let count = pixels.len() / pixel;
            let mut alpha = Vec::with_capacity(count * alpha_bytes);
            for i in 0..count {
                let at = i * pixel;
                alpha.extend_from_slice(&pixels[at + colour_bytes..at + pixel]);
                pixels.copy_within(at..at + colour_bytes, i * colour_bytes);
            }
            pixels.truncate(count * colour_bytes);
            alpha
        }
    }
}

/// [`split_alpha`] for pixels of `PIXEL` bytes whose first `COLOUR` are colour. Each
/// pixel's colour moves to an index at or before its own, so the pixels not yet read are
/// never overwritten.
fn split_pixels<const PIXEL: usize, const COLOUR: usize>(pixels: &mut Vec<u8>) -> Vec<u8> {
    let count = pixels.len() / PIXEL;
    let mut alpha = Vec::with_capacity(count * (PIXEL - COLOUR));
    for i in 0..count {
        let mut pixel = [0u8; PIXEL];
        pixel.copy_from_slice(&pixels[i * PIXEL..(i + 1) * PIXEL]);
        pixels[i * COLOUR..(i + 1) * COLOUR].copy_from_slice(&pixel[..COLOUR]);
        alpha.extend_from_slice(&pixel[COLOUR..]);
    }
    pixels.truncate(count * COLOUR);
    alpha
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deflate::tests::unfilter;

    #[test]
    fn alpha_splits_from_colour_for_every_pixel_shape() {
        for (colour, alpha) in [(1, 1), (3, 1), (2, 2), (6, 2), (4, 1), (8, 2), (3, 3)] {
            let pixel = colour + alpha;
            let pixels: Vec<u8> = (0..pixel * 7).map(|i| (i * 37 % 251) as u8).collect();
            let expected_colour: Vec<u8> = pixels
                .chunks(pixel)
                .flat_map(|p| p[..colour].to_vec())
                .collect();
            let expected_alpha: Vec<u8> = pixels
                .chunks(pixel)
                .flat_map(|p| p[colour..].to_vec())
                .collect();
            let mut split = pixels.clone();
            let alpha_out = split_alpha(&mut split, colour, alpha);
            assert_eq!(split, expected_colour, "colour of {colour}+{alpha}");
            assert_eq!(alpha_out, expected_alpha, "alpha of {colour}+{alpha}");
        }
    }

    #[test]
    fn opaque_alpha_adds_no_mask_and_real_alpha_does() {
        let opaque = image::RgbaImage::from_pixel(4, 4, image::Rgba([10, 20, 30, 255]));
        assert!(
            encode(DynamicImage::ImageRgba8(opaque), None)
                .smask
                .is_none()
        );
        let mut clear = image::RgbaImage::from_pixel(4, 4, image::Rgba([10, 20, 30, 255]));
        clear.put_pixel(1, 1, image::Rgba([0, 0, 0, 0]));
        let x = encode(DynamicImage::ImageRgba8(clear), None);
        let mask = x.smask.expect("a soft mask");
        assert_eq!(mask.color, ColorSpace::Gray);
        let alpha = unfilter(&mask.data, 4, 1);
        assert_eq!(alpha[5], 0);
        assert_eq!(alpha.iter().filter(|&&a| a == 255).count(), 15);
        assert_eq!(unfilter(&x.data, 12, 3)[..3], [10, 20, 30]);
    }
}
