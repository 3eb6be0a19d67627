//! The decode path: formats PDF cannot carry as they are (or PNGs with transparency or
//! interlacing) are decoded under limits and re-encoded losslessly: each row filtered with
//! the PNG predictor that suits it best, then deflated. Alpha becomes a soft mask (never
//! black pixels); an all-opaque alpha channel adds nothing.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageReader};

use super::Limits;
use super::ximage::{ColorSpace, Filter, Predictor, XImage};

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

/// Filters each row with the PNG filter that leaves the smallest residuals (the heuristic
/// libpng and Pillow use: least sum of absolute signed bytes) and deflates the result with
/// libdeflate.
pub fn deflate_rows(pixels: Vec<u8>, width: u32, colors: u8, bits: u8) -> Vec<u8> {
    deflate_rows_at(pixels, width, colors, bits, DEFLATE_LEVEL)
}

/// [`deflate_rows`] at libdeflate level `level` (0 to 12; higher is clamped). The rows are
/// filtered in the pixels' own buffer, grown by a byte a row (the filter type), from the
/// last row up: each row's filtered bytes land at or after where it lay, so the row above
/// it is still unfiltered when it is needed. No second copy of the image is made.
pub fn deflate_rows_at(
    mut pixels: Vec<u8>,
    width: u32,
    colors: u8,
    bits: u8,
    level: i32,
) -> Vec<u8> {
    let bpp = (colors as usize * bits as usize).div_ceil(8).max(1);
    let row = (width as usize * colors as usize * bits as usize)
        .div_ceil(8)
        .max(1);
    let rows = pixels.len() / row;
    pixels.truncate(rows * row);
    pixels.resize(rows * (row + 1), 0);
    // One candidate per filter type (None, Sub, Up, Average, Paeth).
    let mut candidates = [(); 5].map(|_| vec![0u8; row]);
    let zeros = vec![0u8; row];
    for y in (0..rows).rev() {
        let current = &pixels[y * row..(y + 1) * row];
        let above = match y {
            0 => &zeros[..],
            _ => &pixels[(y - 1) * row..y * row],
        };
        filter_row(current, above, bpp, &mut candidates);
        let (kind, best) = candidates
            .iter()
            .enumerate()
            .min_by_key(|(_, c)| cost(c))
            .unwrap_or((4, &candidates[4]));
        let at = y * (row + 1);
        pixels[at] = kind as u8;
        pixels[at + 1..at + 1 + row].copy_from_slice(best);
    }
    zlib_at(&pixels, level)
}

/// libdeflate's level for decoded images. Deflating is two thirds of the time a decoded
/// image takes (perf, on the benchmark's RGBA PNGs); level 4 deflates them 1.4x faster than
/// level 6, and a photograph's filtered rows (Pillow's `exif.png`) to 1.02 of zlib level 6,
/// img2pdf's, where libdeflate level 2 gives 1.04 and level 1 1.14.
const DEFLATE_LEVEL: i32 = 4;

/// Deflates `data` into a zlib stream.
pub fn zlib(data: &[u8]) -> Vec<u8> {
    zlib_at(data, DEFLATE_LEVEL)
}

fn zlib_at(data: &[u8], level: i32) -> Vec<u8> {
    // Invariant: the level is clamped into libdeflate's (0 to 12).
    let level = libdeflater::CompressionLvl::new(level.clamp(0, 12)).expect("a valid level");
    let mut compressor = libdeflater::Compressor::new(level);
    let mut out = vec![0; compressor.zlib_compress_bound(data.len())];
    // Invariant: the buffer is as large as libdeflate says the output can be.
    let written = compressor
        .zlib_compress(data, &mut out)
        .expect("the bound fits the output");
    out.truncate(written);
    out
}

/// The sum of the residuals' sizes (as signed bytes): the smaller, the better it deflates.
fn cost(residuals: &[u8]) -> u32 {
    residuals
        .iter()
        .map(|&v| (v as i8).unsigned_abs() as u32)
        .sum()
}

/// Fills the five candidates with `current` filtered each way. Written as straight loops
/// over equal-length slices (no bounds checks, no branches) so that they vectorise.
fn filter_row(current: &[u8], above: &[u8], bpp: usize, out: &mut [Vec<u8>; 5]) {
    let [none, sub, up, average, paeth_out] = out;
    let lead = bpp.min(current.len());
    // The first pixel has no left neighbour (a = c = 0).
    for i in 0..lead {
        let (x, b) = (current[i], above[i]);
        none[i] = x;
        sub[i] = x;
        up[i] = x.wrapping_sub(b);
        average[i] = x.wrapping_sub(b / 2);
        paeth_out[i] = x.wrapping_sub(b);
    }
    let x = &current[lead..];
    let a = &current[..x.len()];
    let b = &above[lead..];
    let c = &above[..x.len()];
    none[lead..].copy_from_slice(x);
    for (o, (&x, &a)) in sub[lead..].iter_mut().zip(x.iter().zip(a)) {
        *o = x.wrapping_sub(a);
    }
    for (o, (&x, &b)) in up[lead..].iter_mut().zip(x.iter().zip(b)) {
        *o = x.wrapping_sub(b);
    }
    for (o, (&x, (&a, &b))) in average[lead..]
        .iter_mut()
        .zip(x.iter().zip(a.iter().zip(b)))
    {
        *o = x.wrapping_sub(((a as u16 + b as u16) >> 1) as u8);
    }
    for (o, (&x, (&a, (&b, &c)))) in paeth_out[lead..]
        .iter_mut()
        .zip(x.iter().zip(a.iter().zip(b.iter().zip(c))))
    {
        *o = x.wrapping_sub(paeth(a, b, c));
    }
}

pub(crate) fn paeth(a: u8, b: u8, c: u8) -> u8 {
    // p - a = b - c, p - b = a - c, p - c = a + b - 2c, with p = a + b - c.
    let (a16, b16, c16) = (a as i16, b as i16, c as i16);
    let pa = (b16 - c16).abs();
    let pb = (a16 - c16).abs();
    let pc = (a16 + b16 - 2 * c16).abs();
    let ab = if pa <= pb { a } else { b };
    let best = pa.min(pb);
    if best <= pc { ab } else { c }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

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
    fn paeth_matches_the_png_specification_for_every_input() {
        let textbook = |a: u8, b: u8, c: u8| {
            let p = a as i16 + b as i16 - c as i16;
            let (pa, pb, pc) = (
                (p - a as i16).abs(),
                (p - b as i16).abs(),
                (p - c as i16).abs(),
            );
            if pa <= pb && pa <= pc {
                a
            } else if pb <= pc {
                b
            } else {
                c
            }
        };
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                for c in (0..=255u8).step_by(3) {
                    assert_eq!(paeth(a, b, c), textbook(a, b, c), "{a} {b} {c}");
                }
            }
        }
    }

    /// Undoes the PNG row filters, as a PDF reader does.
    fn unfilter(data: &[u8], row: usize, bpp: usize) -> Vec<u8> {
        let mut raw = Vec::new();
        flate2::read::ZlibDecoder::new(data)
            .read_to_end(&mut raw)
            .unwrap();
        let mut out: Vec<u8> = Vec::new();
        for (r, line) in raw.chunks(row + 1).enumerate() {
            for i in 0..row {
                let a = if i >= bpp { out[r * row + i - bpp] } else { 0 };
                let b = if r > 0 { out[(r - 1) * row + i] } else { 0 };
                let c = if r > 0 && i >= bpp {
                    out[(r - 1) * row + i - bpp]
                } else {
                    0
                };
                let predicted = match line[0] {
                    0 => 0,
                    1 => a,
                    2 => b,
                    3 => ((a as u16 + b as u16) / 2) as u8,
                    4 => paeth(a, b, c),
                    other => panic!("filter type {other}"),
                };
                out.push(line[i + 1].wrapping_add(predicted));
            }
        }
        out
    }

    #[test]
    fn filtered_rows_round_trip() {
        let pixels: Vec<u8> = (0..(5 * 4 * 3)).map(|i| (i * 37 % 251) as u8).collect();
        let data = deflate_rows(pixels.clone(), 5, 3, 8);
        assert_eq!(unfilter(&data, 15, 3), pixels);
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
