//! PNG: a non-interlaced image without transparency keeps its compressed IDAT data, which
//! PDF decodes with the same predictor (`/Predictor 15`). Every chunk's checksum is
//! verified; a file without its closing IEND chunk is also inflated once (the pixels are not
//! kept) to prove its data whole. Anything else goes through the decode path.

use std::io::Write;

use super::exif;
use super::limits::{Limits, check_size};
use super::ximage::{ColorSpace, DEFAULT_DPI, Filter, Icc, Predictor, Prepared, XImage, sane_dpi};

#[derive(Debug, Default)]
struct Chunks<'a> {
    width: u32,
    height: u32,
    bit_depth: u8,
    color_type: u8,
    interlaced: bool,
    palette: Option<Vec<u8>>,
    transparency: bool,
    iccp: Option<Vec<u8>>,
    ppm: Option<(f64, f64)>,
    orientation: Option<u8>,
    /// The image data's pieces, in the file (joined only when they go into a PDF).
    idat: Vec<&'a [u8]>,
    /// The file ended with its IEND chunk.
    complete: bool,
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn read_chunks(data: &[u8]) -> Result<Chunks<'_>, String> {
    if !data.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Err("not a PNG file".into());
    }
    let mut c = Chunks::default();
    let mut pos = 8;
    let mut seen_header = false;
    loop {
        let chunk = be32(data, pos).and_then(|len| {
            let len = len as usize;
            let end = pos.checked_add(8 + len)?;
            Some((
                data.get(pos + 4..pos + 8)?,
                data.get(pos + 8..end)?,
                be32(data, end)?,
                len,
            ))
        });
        let Some((kind, body, crc, len)) = chunk else {
            // A file cut after its image data (no IEND) may still hold every pixel; it is
            // inflated to make sure (see `prepare_copy`).
            if c.has_image_data() {
                return Ok(c);
            }
            return Err("the PNG is truncated".into());
        };
        let mut computed = flate2::Crc::new();
        computed.update(kind);
        computed.update(body);
        if computed.sum() != crc {
            // As libpng: a damaged critical chunk (IHDR, PLTE, IDAT, IEND) is an error, a
            // damaged ancillary one (lowercase first letter) is left out.
            if kind[0].is_ascii_lowercase() {
                pos += 12 + len;
                continue;
            }
            return Err(format!(
                "the PNG {} chunk is corrupt (its checksum does not match)",
                String::from_utf8_lossy(kind)
            ));
        }
        match kind {
            b"IHDR" if body.len() == 13 => {
                c.width = be32(body, 0).unwrap_or(0);
                c.height = be32(body, 4).unwrap_or(0);
                c.bit_depth = body[8];
                c.color_type = body[9];
                c.interlaced = body[12] != 0;
                seen_header = true;
            }
            _ if !seen_header => return Err("the PNG does not start with its header".into()),
            b"PLTE" => c.palette = Some(body.to_vec()),
            b"tRNS" => c.transparency = true,
            b"iCCP" => {
                // name, NUL, compression method (0 = zlib), compressed profile.
                if let Some(nul) = body.iter().position(|&b| b == 0)
                    && body.get(nul + 1) == Some(&0)
                {
                    c.iccp = Some(body[nul + 2..].to_vec());
                }
            }
            b"pHYs" if body.len() == 9 && body[8] == 1 => {
                c.ppm = Some((
                    be32(body, 0).unwrap_or(0) as f64,
                    be32(body, 4).unwrap_or(0) as f64,
                ));
            }
            b"eXIf" => c.orientation = exif::orientation(body),
            b"IDAT" => c.idat.push(body),
            b"IEND" => {
                c.complete = true;
                return Ok(c);
            }
            _ => {}
        }
        pos += 12 + len;
    }
}

/// Counts what is written to it and keeps nothing.
struct Count(u64);

impl Write for Count {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Inflates the IDAT stream into nothing, to check it is whole and of the expected size.
fn check_idat(idat: &[&[u8]], expected: u64) -> Result<(), String> {
    let mut z = flate2::write::ZlibDecoder::new(Count(0));
    idat.iter()
        .try_for_each(|piece| z.write_all(piece))
        .and_then(|_| z.try_finish())
        .map_err(|e| format!("the PNG image data is corrupt: {e}"))?;
    let got = z.get_ref().0;
    if got != expected {
        return Err(format!(
            "the PNG image data holds {got} bytes, not the {expected} its header implies"
        ));
    }
    Ok(())
}

impl Chunks<'_> {
    fn has_image_data(&self) -> bool {
        self.idat.iter().any(|piece| !piece.is_empty())
    }

    fn dpi(&self) -> (f64, f64) {
        let (x, y) = self
            .ppm
            .map(|(x, y)| (x * 0.0254, y * 0.0254))
            .unwrap_or((DEFAULT_DPI, DEFAULT_DPI));
        sane_dpi(x, y)
    }

    fn orientation(&self) -> u8 {
        self.orientation.unwrap_or(1)
    }
}

/// The resolution a PNG states (the default when it states none or cannot be read).
pub(crate) fn dpi(data: &[u8]) -> (f64, f64) {
    read_chunks(data).map_or((DEFAULT_DPI, DEFAULT_DPI), |c| c.dpi())
}

/// What a PNG needs, from one read of its chunks.
pub enum Plan {
    /// The compressed data goes into the PDF as it is.
    Copy(Prepared),
    /// Interlaced or transparent: decode it; the file states this resolution and orientation.
    Decode { dpi: (f64, f64), orientation: u8 },
}

pub fn prepare(data: &[u8], limits: &Limits) -> Result<Plan, String> {
    let c = read_chunks(data)?;
    let decode = Plan::Decode {
        dpi: c.dpi(),
        orientation: c.orientation(),
    };
    check_size(c.width.into(), c.height.into(), limits)?;
    let (color, colors) = match c.color_type {
        0 => (ColorSpace::Gray, 1),
        2 => (ColorSpace::Rgb, 3),
        3 => {
            let mut palette = c.palette.clone().ok_or("the palette PNG has no palette")?;
            if palette.is_empty() || palette.len() % 3 != 0 || palette.len() > 768 {
                return Err("the PNG palette is malformed".into());
            }
            // Indices past the palette show opaque black, as PNG decoders do, rather than
            // whatever a PDF reader makes of an index out of range.
            let full = 3 << c.bit_depth.min(8);
            if palette.len() < full {
                palette.resize(full, 0);
            }
            (ColorSpace::Indexed(palette), 1)
        }
        4 | 6 => return Ok(decode),
        other => return Err(format!("PNG colour type {other} is not valid")),
    };
    let valid_depth = match c.color_type {
        0 => matches!(c.bit_depth, 1 | 2 | 4 | 8 | 16),
        3 => matches!(c.bit_depth, 1 | 2 | 4 | 8),
        _ => matches!(c.bit_depth, 8 | 16),
    };
    if !valid_depth {
        return Err(format!(
            "bit depth {} is not valid for PNG colour type {}",
            c.bit_depth, c.color_type
        ));
    }
    if c.interlaced || c.transparency {
        return Ok(decode);
    }
    if !c.has_image_data() {
        return Err("the PNG has no image data".into());
    }
    // Every chunk's checksum was verified. A file that ends before IEND may lack its last
    // image data chunks, which checksums cannot show: inflate it to be sure.
    if !c.complete {
        let row_bytes = (c.width as u64 * colors as u64 * c.bit_depth as u64).div_ceil(8);
        check_idat(&c.idat, c.height as u64 * (row_bytes + 1))?;
    }
    let icc = match (&c.iccp, &color) {
        (Some(profile), ColorSpace::Gray | ColorSpace::Rgb) => Some(Icc {
            components: colors,
            data: profile.clone(),
            deflated: true,
        }),
        _ => None,
    };
    let (dpi, orientation) = (c.dpi(), c.orientation());
    Ok(Plan::Copy(Prepared {
        image: XImage {
            width: c.width,
            height: c.height,
            color,
            icc,
            bits: c.bit_depth,
            filter: Filter::Flate(Predictor {
                colors,
                bits: c.bit_depth,
                columns: c.width,
            }),
            invert: false,
            data: c.idat.concat(),
            smask: None,
        },
        dpi,
        orientation,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(img: image::DynamicImage) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn opaque_rgb_is_copied() {
        let png = encode(image::DynamicImage::ImageRgb8(image::RgbImage::new(7, 5)));
        let Plan::Copy(p) = prepare(&png, &Limits::default()).unwrap() else {
            panic!("not the copy path");
        };
        assert_eq!((p.image.width, p.image.height, p.image.bits), (7, 5, 8));
        assert_eq!(p.image.color, ColorSpace::Rgb);
        assert!(matches!(
            p.image.filter,
            Filter::Flate(Predictor {
                colors: 3,
                bits: 8,
                columns: 7
            })
        ));
    }

    #[test]
    fn alpha_goes_to_the_decode_path() {
        let png = encode(image::DynamicImage::ImageRgba8(image::RgbaImage::new(3, 3)));
        assert!(matches!(
            prepare(&png, &Limits::default()).unwrap(),
            Plan::Decode { .. }
        ));
    }

    #[test]
    fn corrupt_image_data_is_refused() {
        let mut png = encode(image::DynamicImage::ImageLuma8(image::GrayImage::new(
            64, 64,
        )));
        let idat = png.windows(4).position(|w| w == b"IDAT").unwrap();
        png[idat + 6] ^= 0xFF;
        assert!(
            prepare(&png, &Limits::default())
                .err()
                .unwrap()
                .contains("corrupt")
        );
        assert!(prepare(&png[..40], &Limits::default()).is_err());
    }
}
