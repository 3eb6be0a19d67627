//! TIFF: every page becomes a page, decoded one at a time (each is written before the next
//! is read). CMYK stays CMYK; bilevel and 2/4-bit images keep their packed rows; palette
//! images stay indexed; alpha becomes a soft mask. Fax pages in one strip are copied.

use std::io::Cursor;

use tiff::ColorType;
use tiff::decoder::{Decoder, DecodingResult};
use tiff::tags::Tag;

use super::limits::Limits;
use super::raster::{be_bytes, colour, plain, with_alpha};
use super::tiff_raw::palette;
use super::ximage::{ColorSpace, DEFAULT_DPI, Prepared, XImage, sane_dpi};

pub struct Pages<'a> {
    data: &'a [u8],
    decoder: Decoder<Cursor<&'a [u8]>>,
    limits: Limits,
    jpeg_quality: Option<u8>,
    done: bool,
}

pub fn pages<'a>(
    data: &'a [u8],
    limits: &Limits,
    jpeg_quality: Option<u8>,
) -> Result<Pages<'a>, String> {
    let mut tiff_limits = tiff::decoder::Limits::default();
    tiff_limits.decoding_buffer_size = limits.max_decode_bytes as usize;
    tiff_limits.intermediate_buffer_size = limits.max_decode_bytes as usize;
    let decoder = Decoder::new(Cursor::new(data))
        .map_err(|e| e.to_string())?
        .with_limits(tiff_limits);
    Ok(Pages {
        data,
        decoder,
        limits: *limits,
        jpeg_quality,
        done: false,
    })
}

impl Pages<'_> {
    /// Moves to page `index` (0-based) without decoding the pages before it.
    pub fn seek(&mut self, index: usize) -> Result<(), String> {
        self.decoder
            .seek_to_image(index)
            .map_err(|_| format!("the TIFF has no page {}", index + 1))
    }

    /// The next page, or `None` after the last.
    pub fn next_page(&mut self) -> Option<Result<Prepared, String>> {
        if self.done {
            return None;
        }
        let page = self.read_page();
        if page.is_err() || !self.decoder.more_images() {
            self.done = true;
        } else if let Err(e) = self.decoder.next_image() {
            self.done = true;
            return Some(Err(e.to_string()));
        }
        Some(page)
    }

    fn read_page(&mut self) -> Result<Prepared, String> {
        let d = &mut self.decoder;
        let (w, h) = d.dimensions().map_err(|e| e.to_string())?;
        let l = &self.limits;
        if w == 0 || h == 0 {
            return Err(format!("a TIFF page has no pixels ({w}x{h})"));
        }
        if w > l.max_side || h > l.max_side || w as u64 * h as u64 > l.max_pixels {
            return Err(format!(
                "a TIFF page is {w}x{h}; the limits are {} pixels a side and {} pixels in all",
                l.max_side, l.max_pixels
            ));
        }
        let dpi = resolution(d);
        let orientation = d
            .find_tag(Tag::Orientation)
            .ok()
            .flatten()
            .and_then(|v| v.into_u32().ok())
            .filter(|o| (1..=8).contains(o))
            .unwrap_or(1) as u8;
        // Kinds the tiff crate does not read, stored plainly: read here.
        if let Some(image) = super::tiff_raw::page(d, self.data, (w, h), self.jpeg_quality)? {
            return Ok(Prepared {
                image,
                dpi,
                orientation,
            });
        }
        let color = d.colortype().map_err(|e| e.to_string())?;
        let palette = match color {
            ColorType::Palette(bits) => Some(palette(d, bits)?),
            _ => None,
        };
        if let Some(fax) = super::ccitt::copy(d, self.data, w, h)? {
            return Ok(Prepared {
                image: fax,
                dpi,
                orientation,
            });
        }
        let pixels = read_pixels(d, color)?;
        Ok(Prepared {
            image: to_ximage(w, h, color, pixels, palette, self.jpeg_quality)?,
            dpi,
            orientation,
        })
    }
}

/// The page's samples, interleaved (planar pages are read plane by plane and interleaved).
fn read_pixels(d: &mut Decoder<Cursor<&[u8]>>, color: ColorType) -> Result<DecodingResult, String> {
    let planar = d
        .find_tag_unsigned::<u16>(Tag::PlanarConfiguration)
        .ok()
        .flatten()
        == Some(2);
    if !planar {
        return d.read_image().map_err(|e| e.to_string());
    }
    let mut pixels = DecodingResult::U8(Vec::new());
    let layout = d
        .read_image_to_buffer(&mut pixels)
        .map_err(|e| e.to_string())?;
    if pixels.as_buffer(0).as_bytes().len() < layout.complete_len {
        return Err("the planar TIFF page is over the decoding memory limit".into());
    }
    let planes = samples_per_pixel(color)?;
    if color.bit_depth() < 8 {
        return Err("planar TIFF pages under 8 bits a sample are not supported".into());
    }
    Ok(match pixels {
        DecodingResult::U8(v) => DecodingResult::U8(interleave(v, planes)),
        DecodingResult::U16(v) => DecodingResult::U16(interleave(v, planes)),
        DecodingResult::F32(v) => DecodingResult::F32(interleave(v, planes)),
        _ => return Err(format!("TIFF samples of type {color:?} are not supported")),
    })
}

/// How many samples a pixel of `color` has, for the colour types Folio reads.
fn samples_per_pixel(color: ColorType) -> Result<usize, String> {
    Ok(match color {
        ColorType::Gray(_) | ColorType::Palette(_) => 1,
        ColorType::GrayA(_) => 2,
        ColorType::RGB(_) | ColorType::YCbCr(8) => 3,
        ColorType::RGBA(_) | ColorType::CMYK(_) => 4,
        ColorType::CMYKA(_) => 5,
        other => return Err(format!("TIFF colour type {other:?} is not supported")),
    })
}

/// Samples stored plane after plane (RRR..GGG..BBB..) as pixels (RGBRGB..).
fn interleave<T: Copy>(planar: Vec<T>, planes: usize) -> Vec<T> {
    let n = planar.len() / planes;
    (0..n * planes)
        .map(|i| planar[(i % planes) * n + i / planes])
        .collect()
}

/// YCbCr samples (ITU-R BT.601, full range, as TIFF and JPEG store them) as RGB, in place.
fn ycbcr_to_rgb(samples: &mut [u8]) {
    for px in samples.chunks_exact_mut(3) {
        let y = f32::from(px[0]);
        let (cb, cr) = (f32::from(px[1]) - 128.0, f32::from(px[2]) - 128.0);
        let clamp = |v: f32| v.round().clamp(0.0, 255.0) as u8;
        px[0] = clamp(y + 1.402 * cr);
        px[1] = clamp(y - 0.344_136 * cb - 0.714_136 * cr);
        px[2] = clamp(y + 1.772 * cb);
    }
}

fn resolution(d: &mut Decoder<Cursor<&[u8]>>) -> (f64, f64) {
    let mut rational = |tag| -> Option<f64> {
        match d.find_tag(tag).ok()?? {
            tiff::decoder::ifd::Value::Rational(n, den) if den != 0 => Some(n as f64 / den as f64),
            other => other.into_f64().ok(),
        }
    };
    let (Some(x), Some(y)) = (rational(Tag::XResolution), rational(Tag::YResolution)) else {
        return (DEFAULT_DPI, DEFAULT_DPI);
    };
    let per_inch = match d
        .find_tag(Tag::ResolutionUnit)
        .ok()
        .flatten()
        .and_then(|v| v.into_u16().ok())
    {
        Some(3) => 2.54,
        Some(1) => return (DEFAULT_DPI, DEFAULT_DPI),
        _ => 1.0,
    };
    sane_dpi(x * per_inch, y * per_inch)
}

fn to_ximage(
    w: u32,
    h: u32,
    color: ColorType,
    pixels: DecodingResult,
    palette: Option<Vec<u8>>,
    q: Option<u8>,
) -> Result<XImage, String> {
    let (mut bytes, bits) = match pixels {
        DecodingResult::U8(v) => (v, color.bit_depth()),
        DecodingResult::U16(v) => (be_bytes(v), 16),
        // Floating-point samples (0.0 to 1.0) become 16-bit integers, losing nothing visible.
        DecodingResult::F32(v) => (
            be_bytes(
                v.into_iter()
                    .map(|f| (f.clamp(0.0, 1.0) * 65535.0).round() as u16)
                    .collect(),
            ),
            16,
        ),
        _ => return Err(format!("TIFF samples of type {color:?} are not supported")),
    };
    let samples = samples_per_pixel(color)? as u64;
    let expected = (w as u64 * samples * bits as u64).div_ceil(8) * h as u64;
    if bytes.len() as u64 != expected {
        return Err(format!(
            "a TIFF page holds {} bytes of pixels, not {expected}",
            bytes.len()
        ));
    }
    let alpha_ok = bits >= 8;
    Ok(match (color, palette) {
        (ColorType::YCbCr(_), _) => {
            ycbcr_to_rgb(&mut bytes);
            colour(w, h, ColorSpace::Rgb, bits, bytes, q)
        }
        (ColorType::Gray(_), _) => colour(w, h, ColorSpace::Gray, bits, bytes, q),
        (ColorType::RGB(_), _) => colour(w, h, ColorSpace::Rgb, bits, bytes, q),
        (ColorType::CMYK(_), _) => plain(w, h, ColorSpace::Cmyk, bits, bytes),
        (ColorType::Palette(_), Some(p)) => plain(w, h, ColorSpace::Indexed(p), bits, bytes),
        (ColorType::GrayA(_), _) if alpha_ok => with_alpha(w, h, ColorSpace::Gray, bits, bytes, q),
        (ColorType::RGBA(_), _) if alpha_ok => with_alpha(w, h, ColorSpace::Rgb, bits, bytes, q),
        (ColorType::CMYKA(_), _) if alpha_ok => with_alpha(w, h, ColorSpace::Cmyk, bits, bytes, q),
        (other, _) => return Err(format!("TIFF colour type {other:?} is not supported")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planes_are_interleaved_into_pixels() {
        let planar = vec![1u16, 2, 3, 10, 20, 30, 100, 200, 300];
        assert_eq!(
            interleave(planar, 3),
            vec![1, 10, 100, 2, 20, 200, 3, 30, 300]
        );
    }

    #[test]
    fn ycbcr_becomes_rgb() {
        // Gray has neutral chroma; pure red, green and blue come back within a unit.
        let mut px = vec![128, 128, 128, 76, 85, 255, 150, 44, 21, 29, 255, 107];
        ycbcr_to_rgb(&mut px);
        let expected = [128, 128, 128, 255, 0, 0, 0, 255, 0, 0, 0, 255];
        for (got, want) in px.iter().zip(expected) {
            assert!(got.abs_diff(want) <= 1, "{px:?}");
        }
    }
}
