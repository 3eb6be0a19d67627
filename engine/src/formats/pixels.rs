//! Any accepted input as pixels, through the same readers as a PDF's pages: one front end for
//! both engines. The formats PDF carries compressed (JPEG 2000, JBIG2, fax, the TIFF kinds
//! read straight from strips) come back as the reader prepared them for a PDF and are
//! decoded here; PNG, GIF, BMP and WebP go through the same normalisations as a PDF page's
//! decode path; SVG is drawn by resvg from the tree the PDF page is made of.

use std::io::{Cursor, Read};

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};

use super::limits::{Limits, check_size};
use super::sniff::{Kind, sniff};
use super::ximage::{self, ColorSpace, DEFAULT_DPI, Filter, Prepared, XImage};
use super::{avif, bmp, colour, exif, gif, jbig2, jp2, jpeg, jpeg_decode, png, raster, svg, tiff};

/// Decoded pixels with what the file said about them.
pub struct Raster {
    /// 8 or 16 bits a sample, gray or RGB, with or without alpha.
    pub image: DynamicImage,
    /// The profile of the pixels' colour (gray or RGB), if the file has one; CMYK and
    /// CIELab inputs are already sRGB.
    pub icc: Option<Vec<u8>>,
    /// EXIF orientation, 1 to 8.
    pub orientation: u8,
    pub dpi: (f64, f64),
    /// The EXIF block, from its TIFF header on.
    pub exif: Option<Vec<u8>>,
}

/// A size in pixels, width by height.
pub type Size = (u32, u32);

/// What the decode needs to know of what follows it, to save work.
#[derive(Clone, Copy, Default)]
pub struct Hints<'a> {
    /// 0-based page of a multi-page input.
    pub page: u32,
    /// The size the pixels are needed at, given the image's own (both as it will be shown:
    /// upright when `auto_orient`), when a resize follows: a JPEG may be decoded smaller
    /// (DCT scaling, never below that size) and an SVG is drawn at it.
    pub needed: Option<&'a dyn Fn(Size) -> Size>,
    /// Whether the image will be turned upright.
    pub auto_orient: bool,
}

impl Hints<'_> {
    /// The smallest decode of an image stored at `stored` size with `orientation` that
    /// still gives what follows all the pixels it needs, in the stored orientation.
    fn at_least(&self, stored: (u32, u32), orientation: u8) -> Option<(u32, u32)> {
        let swap = self.auto_orient && exif::transposes(orientation);
        let turn = |(w, h): (u32, u32)| if swap { (h, w) } else { (w, h) };
        let needed = self.needed?;
        Some(turn(needed(turn(stored))))
    }
}

pub fn decode(data: &[u8], hints: &Hints, limits: &Limits) -> Result<Raster, String> {
    let kind = sniff(data)?;
    if !matches!(kind, Kind::Tiff) && hints.page != 0 {
        return Err(format!(
            "the file has one page; page {} was asked for",
            hints.page + 1
        ));
    }
    match kind {
        Kind::Raster(ImageFormat::Jpeg) => decode_jpeg(data, hints, limits),
        // The PNG decoder refuses some files the PNG chunk reader takes (image data split by
        // another chunk, no IEND): their data as a PDF page copies it.
        Kind::Raster(ImageFormat::Png) => decode_raster(data, ImageFormat::Png, hints, limits)
            .or_else(|refusal| match png::prepare(data, limits) {
                Ok(png::Plan::Copy(copied)) => prepared(copied, limits),
                _ => Err(refusal),
            }),
        Kind::Raster(format) => decode_raster(data, format, hints, limits),
        Kind::Tiff => decode_tiff(data, hints, limits),
        Kind::Jp2 => prepared(jp2::prepare(data.to_vec(), limits, None)?, limits),
        Kind::Jbig2 => prepared(jbig2::prepare(data)?, limits),
        Kind::Svg => decode_svg(data, hints, limits),
        Kind::Avif => {
            let decoded = avif::decode(data, limits)?;
            Ok(Raster {
                image: decoded.image,
                icc: decoded.icc,
                // AVIF's turn and mirror are applied by the reader, as HEIF requires.
                orientation: 1,
                dpi: (DEFAULT_DPI, DEFAULT_DPI),
                exif: decoded.exif,
            })
        }
    }
}

fn decode_jpeg(data: &[u8], hints: &Hints, limits: &Limits) -> Result<Raster, String> {
    let header = jpeg::header(data)?;
    let at_least = hints.at_least(header.size, header.orientation);
    let decoded = jpeg_decode::decode_scaled(data, limits, at_least)?;
    let (w, h) = (decoded.width, decoded.height);
    let components = decoded.components;
    let (bits, samples) = decoded.into_pdf_samples();
    let mut icc = header.icc;
    let image = match (components, bits) {
        (4, _) => {
            // Any depth over 8 was widened to 16; CMYK is brought to 8 first.
            let cmyk = if bits == 16 {
                samples.chunks_exact(2).map(|s| s[0]).collect()
            } else {
                samples
            };
            let rgb = colour::cmyk_to_srgb(&cmyk, header.adobe_cmyk, icc.take().as_deref());
            DynamicImage::ImageRgb8(buffer(w, h, rgb)?)
        }
        (1, 8) => DynamicImage::ImageLuma8(buffer(w, h, samples)?),
        (1, _) => DynamicImage::ImageLuma16(buffer(w, h, words(&samples))?),
        (_, 8) => DynamicImage::ImageRgb8(buffer(w, h, samples)?),
        (_, _) => DynamicImage::ImageRgb16(buffer(w, h, words(&samples))?),
    };
    Ok(Raster {
        image,
        icc,
        orientation: header.orientation,
        dpi: header.dpi,
        exif: header.exif,
    })
}

/// PNG, GIF, BMP and WebP, by the image crate, after the readers' fixes to files its
/// decoders refuse (BMP header forms, GIFs without a colour table); a BMP holding a JPEG or
/// PNG is that file.
fn decode_raster(
    data: &[u8],
    format: ImageFormat,
    hints: &Hints,
    limits: &Limits,
) -> Result<Raster, String> {
    let fixed;
    let data = match format {
        ImageFormat::Bmp => {
            if let Some((range, _)) = bmp::embedded(data) {
                return decode(&data[range], hints, limits);
            }
            let mut copy = data.to_vec();
            bmp::normalise(&mut copy);
            fixed = copy;
            &fixed[..]
        }
        ImageFormat::Gif => {
            fixed = gif::with_colour_table(data.to_vec());
            &fixed[..]
        }
        ImageFormat::Png | ImageFormat::WebP => data,
        other => return Err(format!("{other:?} images are not supported")),
    };
    let mut reader = ImageReader::with_format(Cursor::new(data), format);
    reader.limits(raster::image_limits(limits));
    let mut decoder = reader.into_decoder().map_err(|e| e.to_string())?;
    let (w, h) = decoder.dimensions();
    check_size(w.into(), h.into(), limits)?;
    let orientation = decoder
        .orientation()
        .map(raster::orientation_number)
        .unwrap_or(1);
    let icc = decoder.icc_profile().ok().flatten();
    let exif = decoder.exif_metadata().ok().flatten();
    let image = DynamicImage::from_decoder(decoder).map_err(|e| e.to_string())?;
    let dpi = match format {
        ImageFormat::Png => png::dpi(data),
        _ => (DEFAULT_DPI, DEFAULT_DPI),
    };
    Ok(Raster {
        image: integer_samples(image),
        icc: icc.filter(|p| colour::profile_fits(p, false)),
        orientation,
        dpi,
        exif,
    })
}

/// Floating-point samples (which no accepted format should give, but the decoders may) as
/// 16-bit integers.
fn integer_samples(image: DynamicImage) -> DynamicImage {
    match image {
        DynamicImage::ImageRgb32F(_) => DynamicImage::ImageRgb16(image.into_rgb16()),
        DynamicImage::ImageRgba32F(_) => DynamicImage::ImageRgba16(image.into_rgba16()),
        other => other,
    }
}

fn decode_tiff(data: &[u8], hints: &Hints, limits: &Limits) -> Result<Raster, String> {
    let mut pages = tiff::pages(data, limits, None)?;
    pages.seek(hints.page as usize)?;
    let page = pages
        .next_page()
        .ok_or_else(|| format!("the TIFF has no page {}", hints.page + 1))?;
    prepared(page?, limits)
}

fn decode_svg(data: &[u8], hints: &Hints, limits: &Limits) -> Result<Raster, String> {
    let inflated;
    let data = if data.starts_with(&[0x1F, 0x8B]) {
        inflated = svg::gunzip(data)?;
        &inflated[..]
    } else {
        data
    };
    let tree = svg::parse(data, limits)?;
    let size = tree.size();
    let own = (
        size.width().ceil().max(1.0) as u32,
        size.height().ceil().max(1.0) as u32,
    );
    // Drawn at the size the resize asks for: a vector loses nothing at any size.
    let (w, h) = hints.at_least(own, 1).unwrap_or(own);
    check_size(w.into(), h.into(), limits)?;
    let scale = w as f64 / size.width() as f64;
    let mut pixmap = resvg::tiny_skia::Pixmap::new(w, h)
        .ok_or_else(|| format!("the SVG cannot be drawn at {w}x{h}"))?;
    let transform =
        resvg::tiny_skia::Transform::from_scale(w as f32 / size.width(), h as f32 / size.height());
    resvg::render(&tree, transform, &mut pixmap.as_mut());
    // tiny-skia's pixels are premultiplied.
    let mut rgba = pixmap.take();
    for px in rgba.chunks_exact_mut(4) {
        let a = px[3] as u32;
        if a != 0 && a != 255 {
            for c in &mut px[..3] {
                *c = ((*c as u32 * 255 + a / 2) / a).min(255) as u8;
            }
        }
    }
    Ok(Raster {
        image: DynamicImage::ImageRgba8(buffer(w, h, rgba)?),
        icc: None,
        orientation: 1,
        dpi: (svg::SVG_DPI * scale, svg::SVG_DPI * scale),
        exif: None,
    })
}

/// Most frames an animation may have.
const MAX_FRAMES: usize = 10_000;

/// The frames of a GIF (one or more) or of an animated WebP, each whole (composited as a
/// viewer shows it) with its delay in milliseconds; `None` for any other file. All frames
/// together stay within the decoding memory limit.
pub fn animation(
    data: &[u8],
    limits: &Limits,
) -> Result<Option<Vec<(image::RgbaImage, u32)>>, String> {
    use image::AnimationDecoder;
    let frames = match sniff(data)? {
        Kind::Raster(ImageFormat::Gif) => {
            // As for a still GIF: a file without any colour table shows gray levels.
            let decoder = image::codecs::gif::GifDecoder::new(Cursor::new(gif::with_colour_table(
                data.to_vec(),
            )))
            .map_err(|e| e.to_string())?;
            let (w, h) = decoder.dimensions();
            check_size(w.into(), h.into(), limits)?;
            decoder.into_frames()
        }
        Kind::Raster(ImageFormat::WebP) => {
            let decoder = image::codecs::webp::WebPDecoder::new(Cursor::new(data))
                .map_err(|e| e.to_string())?;
            if !decoder.has_animation() {
                return Ok(None);
            }
            let (w, h) = decoder.dimensions();
            check_size(w.into(), h.into(), limits)?;
            decoder.into_frames()
        }
        _ => return Ok(None),
    };
    let mut out = Vec::new();
    let mut bytes = 0u64;
    for frame in frames {
        let frame = frame.map_err(|e| e.to_string())?;
        let (numerator, denominator) = frame.delay().numer_denom_ms();
        let delay = numerator.checked_div(denominator).unwrap_or(0);
        let buffer = frame.into_buffer();
        bytes += buffer.as_raw().len() as u64;
        if bytes > limits.max_decode_bytes || out.len() == MAX_FRAMES {
            return Err(format!(
                "the animation's frames are over the decoding memory limit ({} frames read)",
                out.len()
            ));
        }
        out.push((buffer, delay));
    }
    Ok((!out.is_empty()).then_some(out))
}

/// A single frame as a raster, as a still decode would give it.
pub fn still(frame: image::RgbaImage) -> Raster {
    Raster {
        image: DynamicImage::ImageRgba8(frame),
        icc: None,
        orientation: 1,
        dpi: (DEFAULT_DPI, DEFAULT_DPI),
        exif: None,
    }
}

/// A page as its reader prepared it for a PDF, decoded.
fn prepared(p: Prepared, limits: &Limits) -> Result<Raster, String> {
    let (image, icc) = ximage_pixels(&p.image, limits)?;
    Ok(Raster {
        image,
        icc,
        orientation: p.orientation,
        dpi: p.dpi,
        exif: None,
    })
}

/// The pixels of an image as the PDF carries it: what a PDF reader does with the stream,
/// its colour space and its soft mask.
fn ximage_pixels(x: &XImage, limits: &Limits) -> Result<(DynamicImage, Option<Vec<u8>>), String> {
    check_size(x.width.into(), x.height.into(), limits)?;
    let (w, h) = (x.width, x.height);
    let profile = match &x.icc {
        Some(p) if p.deflated => Some(inflate(&p.data, 16 << 20)?),
        Some(p) => Some(p.data.clone()),
        None => None,
    };
    // CMYK is turned into sRGB through the profile; other colour keeps it.
    let (cmyk_profile, profile) = match x.color {
        ColorSpace::Cmyk => (profile, None),
        _ => (None, profile),
    };
    let cmyk_profile = cmyk_profile.as_deref();
    let (mut image, mut icc) = match &x.filter {
        Filter::Jpx { .. } => {
            let raster = jp2::decode_pixels(&x.data, limits)?;
            (raster.0, raster.1)
        }
        Filter::Dct => {
            let d = jpeg_decode::decode(&x.data, limits)?;
            let components = d.components;
            let (bits, samples) = d.into_pdf_samples();
            let samples = match bits {
                16 => samples.chunks_exact(2).map(|s| s[0]).collect(),
                _ => samples,
            };
            let image = samples_image(
                w,
                h,
                &x.color,
                components,
                8,
                samples,
                x.invert,
                cmyk_profile,
            )?;
            (image, None)
        }
        Filter::Flate(p) => {
            let raw = unfilter(&x.data, w, p.colors, p.bits, limits)?;
            let image = samples_image(
                w,
                h,
                &x.color,
                p.colors,
                p.bits,
                raw,
                x.invert,
                cmyk_profile,
            )?;
            (image, None)
        }
        Filter::Fax(fax) => (DynamicImage::ImageLuma8(fax_pixels(x, fax)?), None),
        Filter::Jbig2 => (DynamicImage::ImageLuma8(jbig2_pixels(x)?), None),
    };
    if icc.is_none() {
        icc = profile.filter(|p| colour::profile_fits(p, image.color().channel_count() <= 2));
    }
    if let Some(mask) = &x.smask {
        let (alpha, _) = ximage_pixels(mask, limits)?;
        image = with_alpha(image, alpha)?;
    }
    Ok((image, icc))
}

/// Samples of `bits` bits (1 to 16), `components` to a pixel, in a PDF colour space, as an
/// image of 8 or 16 bits; CMYK through `cmyk_profile` when there is one.
#[allow(clippy::too_many_arguments)]
fn samples_image(
    w: u32,
    h: u32,
    color: &ColorSpace,
    components: u8,
    bits: u8,
    raw: Vec<u8>,
    invert: bool,
    cmyk_profile: Option<&[u8]>,
) -> Result<DynamicImage, String> {
    let samples = (w as usize) * (h as usize) * components as usize;
    Ok(match (color, bits) {
        (ColorSpace::Indexed(palette), _) => {
            let indices = unpack(&raw, w, h, bits);
            let rgb = indices
                .iter()
                .flat_map(|&i| {
                    let at = i as usize * 3;
                    palette
                        .get(at..at + 3)
                        .map_or([0, 0, 0], |c| [c[0], c[1], c[2]])
                })
                .collect();
            DynamicImage::ImageRgb8(buffer(w, h, rgb)?)
        }
        (ColorSpace::Gray | ColorSpace::Rgb, 16) => {
            let mut v = words(&raw);
            v.truncate(samples);
            match color {
                ColorSpace::Gray => DynamicImage::ImageLuma16(buffer(w, h, v)?),
                _ => DynamicImage::ImageRgb16(buffer(w, h, v)?),
            }
        }
        (ColorSpace::Gray, _) => {
            let mut v = match bits {
                8 => raw,
                _ => unpack(&raw, w, h, bits)
                    .into_iter()
                    .map(|s| raster::rescale(s.into(), bits, 8) as u8)
                    .collect(),
            };
            v.truncate(samples);
            DynamicImage::ImageLuma8(buffer(w, h, v)?)
        }
        (ColorSpace::Rgb, _) => {
            let mut v = eight_bits(raw, bits);
            v.truncate(samples);
            DynamicImage::ImageRgb8(buffer(w, h, v)?)
        }
        (ColorSpace::Cmyk, _) => {
            let mut v = eight_bits(raw, bits);
            v.truncate(samples);
            let rgb = colour::cmyk_to_srgb(&v, invert, cmyk_profile);
            DynamicImage::ImageRgb8(buffer(w, h, rgb)?)
        }
        (ColorSpace::Lab, _) => {
            let mut v = eight_bits(raw, bits);
            v.truncate(samples);
            DynamicImage::ImageRgb8(buffer(w, h, colour::lab_to_srgb(&v))?)
        }
    })
}

/// Samples of 8 or 16 bits as 8 (others are not carried by the paths that call this).
fn eight_bits(raw: Vec<u8>, bits: u8) -> Vec<u8> {
    match bits {
        16 => raw.chunks_exact(2).map(|s| s[0]).collect(),
        _ => raw,
    }
}

/// Rows of 1, 2 or 4-bit samples (each row padded to a byte) as one value a byte.
fn unpack(raw: &[u8], w: u32, h: u32, bits: u8) -> Vec<u8> {
    if bits == 8 {
        return raw.to_vec();
    }
    let row = (w as usize * bits as usize).div_ceil(8);
    let mask = ((1u16 << bits) - 1) as u8;
    let mut out = Vec::with_capacity(w as usize * h as usize);
    for line in raw.chunks(row.max(1)).take(h as usize) {
        for x in 0..w as usize {
            let bit = x * bits as usize;
            let byte = line.get(bit / 8).copied().unwrap_or(0);
            out.push(byte >> (8 - bits as usize - bit % 8) & mask);
        }
    }
    out
}

fn words(be: &[u8]) -> Vec<u16> {
    be.chunks_exact(2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
        .collect()
}

fn buffer<P: image::Pixel>(
    w: u32,
    h: u32,
    samples: Vec<P::Subpixel>,
) -> Result<image::ImageBuffer<P, Vec<P::Subpixel>>, String> {
    image::ImageBuffer::from_raw(w, h, samples)
        .ok_or_else(|| format!("the image holds too few samples for {w}x{h} pixels"))
}

fn inflate(data: &[u8], cap: u64) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(data)
        .take(cap + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("the compressed image data is corrupt: {e}"))?;
    if out.len() as u64 > cap {
        return Err("the image data inflates past its stated size".into());
    }
    Ok(out)
}

/// Inflates rows filtered with PNG predictors and undoes the filters.
fn unfilter(
    data: &[u8],
    width: u32,
    colors: u8,
    bits: u8,
    limits: &Limits,
) -> Result<Vec<u8>, String> {
    let row = (width as usize * colors as usize * bits as usize).div_ceil(8);
    let bpp = (colors as usize * bits as usize).div_ceil(8).max(1);
    let raw = inflate(data, limits.max_decode_bytes)?;
    let rows = raw.len() / (row + 1);
    let mut out = vec![0u8; rows * row];
    for r in 0..rows {
        let line = &raw[r * (row + 1)..(r + 1) * (row + 1)];
        let (kind, line) = (line[0], &line[1..]);
        let (done, rest) = out.split_at_mut(r * row);
        let above = if r == 0 {
            None
        } else {
            Some(&done[(r - 1) * row..])
        };
        let current = &mut rest[..row];
        for i in 0..row {
            let a = if i >= bpp { current[i - bpp] } else { 0 };
            let b = above.map_or(0, |above| above[i]);
            let c = match above {
                Some(above) if i >= bpp => above[i - bpp],
                _ => 0,
            };
            let predicted = match kind {
                0 => 0,
                1 => a,
                2 => b,
                3 => ((a as u16 + b as u16) / 2) as u8,
                4 => crate::deflate::paeth(a, b, c),
                other => return Err(format!("row filter {other} is not a PNG filter")),
            };
            current[i] = line[i].wrapping_add(predicted);
        }
    }
    Ok(out)
}

fn fax_pixels(x: &XImage, fax: &ximage::Fax) -> Result<image::GrayImage, String> {
    let (w, h) = (x.width, x.height);
    let width = u16::try_from(w).map_err(|_| "the fax page is too wide".to_string())?;
    let mut pixels = Vec::with_capacity(w as usize * h as usize);
    // The data's black runs are 0 on the page unless BlackIs1 turns them round.
    let (black, white) = if fax.black_is_1 { (255, 0) } else { (0, 255) };
    let mut line = |transitions: &[u16]| {
        if pixels.len() < w as usize * h as usize {
            pixels.extend(fax::decoder::pels(transitions, width).map(|c| match c {
                fax::Color::Black => black,
                fax::Color::White => white,
            }));
        }
    };
    match fax.k {
        k if k < 0 => {
            fax::decoder::decode_g4(x.data.iter().copied(), width, None, &mut line)
                .ok_or("the fax data is damaged")?;
        }
        0 => {
            fax::decoder::decode_g3(x.data.iter().copied(), &mut line);
        }
        _ => return Err("two-dimensional Group 3 fax pages are not yet converted".into()),
    }
    // Lines a writer left out at the end are white, as PDF readers show them.
    pixels.resize(w as usize * h as usize, white);
    buffer(w, h, pixels)
}

fn jbig2_pixels(x: &XImage) -> Result<image::GrayImage, String> {
    struct Pixels {
        data: Vec<u8>,
    }
    impl hayro_jbig2::Decoder for Pixels {
        fn push_pixel(&mut self, black: bool) {
            self.data.push(if black { 0 } else { 255 });
        }
        fn push_pixel_chunk(&mut self, black: bool, chunk_count: u32) {
            let v = if black { 0 } else { 255 };
            self.data
                .extend(std::iter::repeat_n(v, chunk_count as usize * 8));
        }
        fn next_line(&mut self) {}
    }
    let unreadable = |e| format!("the JBIG2 data could not be decoded: {e:?}");
    let page =
        hayro_jbig2::Page::new_embedded(&x.data, None, &Default::default()).map_err(unreadable)?;
    let mut pixels = Pixels {
        data: Vec::with_capacity(x.width as usize * x.height as usize),
    };
    page.decode(&mut pixels).map_err(unreadable)?;
    let mut data = pixels.data;
    data.resize(x.width as usize * x.height as usize, 255);
    buffer(x.width, x.height, data)
}

/// `alpha` (gray, the same size) added to `image` as its alpha channel.
fn with_alpha(image: DynamicImage, alpha: DynamicImage) -> Result<DynamicImage, String> {
    if (alpha.width(), alpha.height()) != (image.width(), image.height()) {
        return Err("the soft mask's size differs from the image's".into());
    }
    let deep = matches!(
        image,
        DynamicImage::ImageLuma16(_) | DynamicImage::ImageRgb16(_)
    );
    let gray = image.color().channel_count() == 1;
    Ok(match (gray, deep) {
        (true, false) => {
            let mut out = image.into_luma_alpha8();
            for (px, a) in out.pixels_mut().zip(alpha.into_luma8().pixels()) {
                px.0[1] = a.0[0];
            }
            DynamicImage::ImageLumaA8(out)
        }
        (false, false) => {
            let mut out = image.into_rgba8();
            for (px, a) in out.pixels_mut().zip(alpha.into_luma8().pixels()) {
                px.0[3] = a.0[0];
            }
            DynamicImage::ImageRgba8(out)
        }
        (true, true) => {
            let mut out = image.into_luma_alpha16();
            for (px, a) in out.pixels_mut().zip(alpha.into_luma16().pixels()) {
                px.0[1] = a.0[0];
            }
            DynamicImage::ImageLumaA16(out)
        }
        (false, true) => {
            let mut out = image.into_rgba16();
            for (px, a) in out.pixels_mut().zip(alpha.into_luma16().pixels()) {
                px.0[3] = a.0[0];
            }
            DynamicImage::ImageRgba16(out)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_samples_unpack_per_row() {
        // Two rows of three 2-bit samples, each row padded to a byte.
        let raw = [0b00_01_10_00, 0b11_10_01_00];
        assert_eq!(unpack(&raw, 3, 2, 2), vec![0, 1, 2, 3, 2, 1]);
    }

    #[test]
    fn filtered_rows_come_back() {
        let pixels: Vec<u8> = (0..(6 * 5 * 3)).map(|i| (i * 53 % 241) as u8).collect();
        let deflated = crate::deflate::deflate_rows(pixels.clone(), 6, 3, 8);
        assert_eq!(
            unfilter(&deflated, 6, 3, 8, &Limits::default()).unwrap(),
            pixels
        );
    }
}
