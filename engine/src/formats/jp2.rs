//! JPEG 2000: a JP2 file is embedded as it is (JPXDecode); a raw codestream is wrapped in a
//! minimal JP2 container first, since PDF's JPXDecode reads the JP2 format. Colour comes
//! from the file; an opacity channel becomes `/SMaskInData 1`. Files whose components differ
//! in depth, sign or sampling, or whose opacity channel is not declared, which PDF readers
//! cannot show, are decoded (hayro-jpeg2000) and re-embedded losslessly when every component
//! has at most 8 bits.

use super::limits::Limits;
use super::raster::{colour, with_alpha};
use super::ximage::{ColorSpace, DEFAULT_DPI, Filter, Icc, Prepared, XImage, sane_dpi};

const SIGNATURE: &[u8] = b"\0\0\0\x0cjP  \r\n\x87\n";

/// A box's type and content.
type Jp2Box<'a> = ([u8; 4], &'a [u8]);

/// Top-level or child boxes of `data`.
fn boxes(mut data: &[u8]) -> Result<Vec<Jp2Box<'_>>, String> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let short = || "a JPEG 2000 box is truncated".to_string();
        let len = u32::from_be_bytes(
            data.get(..4)
                .ok_or_else(short)?
                .try_into()
                .map_err(|_| short())?,
        ) as u64;
        let kind: [u8; 4] = data
            .get(4..8)
            .ok_or_else(short)?
            .try_into()
            .map_err(|_| short())?;
        let (header, total) = match len {
            0 => (8, data.len() as u64),
            1 => {
                let xl = data.get(8..16).ok_or_else(short)?;
                (16, u64::from_be_bytes(xl.try_into().map_err(|_| short())?))
            }
            n => (8, n),
        };
        if total < header as u64 {
            return Err(short());
        }
        // Some writers overstate the length of the last box, the codestream; what it holds
        // is checked on its own (it must end with its end marker).
        let total = if total > data.len() as u64 && &kind == b"jp2c" {
            data.len() as u64
        } else {
            total
        };
        if total > data.len() as u64 {
            return Err(short());
        }
        out.push((kind, &data[header..total as usize]));
        data = &data[total as usize..];
    }
    Ok(out)
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// What a codestream's SIZ segment says.
struct Info {
    width: u32,
    height: u32,
    components: u16,
    /// Every component has the same depth, sign and sampling (what PDF readers show).
    uniform: bool,
    /// The deepest component's bits.
    depth: u8,
}

/// Size and component count from a codestream's SIZ segment, after checking it is whole.
fn codestream_info(cs: &[u8]) -> Result<Info, String> {
    if !cs.starts_with(&[0xFF, 0x4F, 0xFF, 0x51]) {
        return Err("the JPEG 2000 codestream does not start with SOC and SIZ".into());
    }
    if !cs.ends_with(&[0xFF, 0xD9]) {
        return Err("the JPEG 2000 codestream is truncated: it has no end marker".into());
    }
    let siz = &cs[4..];
    let (x, y, x0, y0) = (be32(siz, 4), be32(siz, 8), be32(siz, 12), be32(siz, 16));
    let components = be16(siz, 36).ok_or("the JPEG 2000 SIZ segment is truncated")?;
    // Each component: depth and sign (Ssiz), horizontal and vertical sampling.
    let specs = siz
        .get(38..38 + 3 * components as usize)
        .ok_or("the JPEG 2000 SIZ segment is truncated")?;
    let first = &specs[..3];
    if specs.chunks_exact(3).any(|c| c[1] == 0 || c[2] == 0) {
        return Err("the JPEG 2000 SIZ segment states a sampling of zero".into());
    }
    let uniform = specs.chunks_exact(3).all(|c| c == first) && (first[0] & 0x7F) <= 15;
    let depth = specs
        .chunks_exact(3)
        .map(|c| (c[0] & 0x7F) + 1)
        .max()
        .unwrap_or(8);
    // The decoded image has the size of the component grid (of the reference grid when the
    // components differ, since a decoder brings them all to it).
    let (xr, yr) = match uniform {
        true => (first[1] as u32, first[2] as u32),
        false => (1, 1),
    };
    match (x, y, x0, y0) {
        (Some(x), Some(y), Some(x0), Some(y0)) if x > x0 && y > y0 && components > 0 => Ok(Info {
            width: x.div_ceil(xr) - x0.div_ceil(xr),
            height: y.div_ceil(yr) - y0.div_ceil(yr),
            components,
            uniform,
            depth,
        }),
        _ => Err("the JPEG 2000 SIZ segment states no size".into()),
    }
}

/// Decodes a file PDF readers cannot show as it is, within the limits, and re-encodes it
/// losslessly (components of over 8 bits are refused: the decoder gives 8).
fn decode(
    data: &[u8],
    info: &Info,
    limits: &Limits,
    jpeg_quality: Option<u8>,
) -> Result<XImage, String> {
    if info.depth > 8 {
        return Err("JPEG 2000 files whose components differ in depth, sign or sampling are supported up to 8 bits a component".into());
    }
    let (image, icc) = decode_pixels(data, limits)?;
    let (width, height) = (image.width(), image.height());
    let color = match image.color().channel_count() {
        1 | 2 => ColorSpace::Gray,
        _ => ColorSpace::Rgb,
    };
    let alpha = image.color().has_alpha();
    let samples = image.into_bytes();
    let components = color.components();
    let mut x = match alpha {
        true => with_alpha(width, height, color, 8, samples, jpeg_quality),
        false => colour(width, height, color, 8, samples, jpeg_quality),
    };
    x.icc = icc.map(|data| Icc {
        components,
        data,
        deflated: false,
    });
    Ok(x)
}

/// Decodes a JPEG 2000 file (or codestream) within the limits to 8-bit gray or RGB, with
/// alpha when it has an opacity channel (CMYK is turned into sRGB); the ICC profile of
/// gray or RGB colour comes with it.
pub(crate) fn decode_pixels(
    data: &[u8],
    limits: &Limits,
) -> Result<(image::DynamicImage, Option<Vec<u8>>), String> {
    let unreadable =
        |e: hayro_jpeg2000::DecodeError| format!("the JPEG 2000 file could not be decoded: {e}");
    let image = match hayro_jpeg2000::Image::new(data, &Default::default()) {
        Ok(image) => image,
        // A box structure the decoder refuses: its codestream alone, when it has one.
        Err(e) => {
            let codestream = boxes(data)
                .ok()
                .and_then(|top| top.into_iter().find(|(k, _)| k == b"jp2c"))
                .map(|(_, c)| c)
                .ok_or_else(|| unreadable(e))?;
            hayro_jpeg2000::Image::new(codestream, &Default::default()).map_err(unreadable)?
        }
    };
    let (width, height) = (image.width(), image.height());
    super::limits::check_size(width.into(), height.into(), limits)?;
    let (color, icc) = match image.color_space() {
        hayro_jpeg2000::ColorSpace::Gray => (ColorSpace::Gray, None),
        hayro_jpeg2000::ColorSpace::RGB => (ColorSpace::Rgb, None),
        hayro_jpeg2000::ColorSpace::CMYK => (ColorSpace::Cmyk, None),
        hayro_jpeg2000::ColorSpace::Icc {
            profile,
            num_channels,
        } => {
            let color = match num_channels {
                1 => ColorSpace::Gray,
                3 => ColorSpace::Rgb,
                4 => ColorSpace::Cmyk,
                n => {
                    return Err(format!(
                        "JPEG 2000 files of {n} colour channels are not supported"
                    ));
                }
            };
            let icc = Icc {
                components: *num_channels,
                data: profile.clone(),
                deflated: false,
            };
            (color, Some(icc))
        }
        hayro_jpeg2000::ColorSpace::Unknown { num_channels } => {
            return Err(format!(
                "JPEG 2000 files of {num_channels} channels in an unknown colour space are not supported"
            ));
        }
    };
    let alpha = image.has_alpha();
    let mut context = hayro_jpeg2000::DecoderContext::default();
    let samples = image.decode(&mut context).map_err(unreadable)?.data_u8();
    let short = || "the JPEG 2000 decoder gave too few samples".to_string();
    let icc = icc.map(|p| p.data);
    let plain = |samples: Vec<u8>| {
        let image =
            match (&color, alpha) {
                (ColorSpace::Gray, false) => image::GrayImage::from_raw(width, height, samples)
                    .map(image::DynamicImage::from),
                (ColorSpace::Gray, true) => image::GrayAlphaImage::from_raw(width, height, samples)
                    .map(image::DynamicImage::from),
                (_, false) => {
                    image::RgbImage::from_raw(width, height, samples).map(image::DynamicImage::from)
                }
                (_, true) => image::RgbaImage::from_raw(width, height, samples)
                    .map(image::DynamicImage::from),
            };
        image.ok_or_else(short)
    };
    Ok(match color {
        ColorSpace::Gray | ColorSpace::Rgb => (plain(samples)?, icc),
        // CMYK (with or without opacity): into sRGB through its profile, if any.
        _ => {
            let per = if alpha { 5 } else { 4 };
            let cmyk: Vec<u8> = samples
                .chunks_exact(per)
                .flat_map(|p| [p[0], p[1], p[2], p[3]])
                .collect();
            let rgb = crate::formats::colour::cmyk_to_srgb(&cmyk, false, icc.as_deref());
            let image = image::RgbImage::from_raw(width, height, rgb).ok_or_else(short)?;
            let mut image = image::DynamicImage::ImageRgb8(image);
            if alpha {
                let mut rgba = image.into_rgba8();
                for (px, p) in rgba.pixels_mut().zip(samples.chunks_exact(5)) {
                    px.0[3] = p[4];
                }
                image = image::DynamicImage::ImageRgba8(rgba);
            }
            (image, None)
        }
    })
}

fn jp2_box(kind: &[u8; 4], content: &[u8]) -> Vec<u8> {
    let mut b = ((content.len() + 8) as u32).to_be_bytes().to_vec();
    b.extend_from_slice(kind);
    b.extend_from_slice(content);
    b
}

/// A JP2 file around a raw codestream: greyscale for one component, sRGB for three.
fn wrap(codestream: &[u8], width: u32, height: u32, components: u16) -> Result<Vec<u8>, String> {
    let colour: u32 = match components {
        1 => 17,
        3 => 16,
        n => {
            return Err(format!(
                "a raw JPEG 2000 codestream with {n} components has no known colour space"
            ));
        }
    };
    let depth = codestream.get(4 + 38).map_or(7, |ssiz| ssiz & 0x7F);
    let mut ihdr = height.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&components.to_be_bytes());
    ihdr.extend_from_slice(&[depth, 7, 0, 0]);
    let mut colr = vec![1, 0, 0];
    colr.extend_from_slice(&colour.to_be_bytes());
    let mut header = jp2_box(b"ihdr", &ihdr);
    header.extend(jp2_box(b"colr", &colr));
    let mut file = SIGNATURE.to_vec();
    file.extend(jp2_box(b"ftyp", b"jp2 \0\0\0\0jp2 "));
    file.extend(jp2_box(b"jp2h", &header));
    file.extend(jp2_box(b"jp2c", codestream));
    Ok(file)
}

/// Capture or display resolution (`res ` box) in dots per inch.
fn resolution(res: &[u8]) -> Option<(f64, f64)> {
    let sub = boxes(res).ok()?;
    let (_, r) = sub
        .iter()
        .find(|(k, _)| k == b"resd")
        .or_else(|| sub.iter().find(|(k, _)| k == b"resc"))?;
    let (vn, vd, hn, hd) = (be16(r, 0)?, be16(r, 2)?, be16(r, 4)?, be16(r, 6)?);
    let (ve, he) = (*r.get(8)? as i8, *r.get(9)? as i8);
    if vd == 0 || hd == 0 {
        return None;
    }
    let per_metre = |n: u16, d: u16, e: i8| n as f64 / d as f64 * 10f64.powi(e as i32);
    Some((
        per_metre(hn, hd, he) * 0.0254,
        per_metre(vn, vd, ve) * 0.0254,
    ))
}

pub fn prepare(
    data: Vec<u8>,
    limits: &Limits,
    jpeg_quality: Option<u8>,
) -> Result<Prepared, String> {
    let image = |width, height, components: u16, alpha, stream: Vec<u8>| XImage {
        width,
        height,
        color: if components >= 3 {
            ColorSpace::Rgb
        } else {
            ColorSpace::Gray
        },
        icc: None,
        bits: 8,
        filter: Filter::Jpx {
            smask_in_data: alpha,
        },
        invert: false,
        data: stream,
        smask: None,
    };
    if data.starts_with(&[0xFF, 0x4F]) {
        let info = codestream_info(&data)?;
        let (w, h, n) = (info.width, info.height, info.components);
        let image = match info.uniform {
            true => image(w, h, n, false, wrap(&data, w, h, n)?),
            false => decode(&data, &info, limits, jpeg_quality)?,
        };
        return Ok(Prepared {
            image,
            dpi: (DEFAULT_DPI, DEFAULT_DPI),
            orientation: 1,
        });
    }
    if !data.starts_with(SIGNATURE) {
        return Err("not a JPEG 2000 file".into());
    }
    let top = boxes(&data)?;
    let header = top
        .iter()
        .find(|(k, _)| k == b"jp2h")
        .map(|(_, c)| boxes(c))
        .transpose()?
        .ok_or("the JP2 file has no header box")?;
    let codestream = top
        .iter()
        .find(|(k, _)| k == b"jp2c")
        .map(|(_, c)| *c)
        .ok_or("the JP2 file has no codestream")?;
    let info = codestream_info(codestream)?;
    let (w, h, n) = (info.width, info.height, info.components);
    let cdef = header.iter().find(|(k, _)| k == b"cdef");
    let cmyk = header
        .iter()
        .find(|(k, _)| k == b"colr")
        .is_some_and(|(_, c)| c.first() == Some(&1) && be32(c, 3) == Some(12));
    let alpha = cdef.is_some_and(|(_, c)| {
        (0..be16(c, 0).unwrap_or(0) as usize).any(|i| matches!(be16(c, 4 + i * 6), Some(1 | 2)))
    });
    // No channel definitions, and one component more than the colour takes: decoders read
    // it as opacity, but PDF readers' `/SMaskInData` does not (poppler shows noise), so the
    // file is decoded and the opacity becomes a soft mask.
    let undeclared_opacity = cdef.is_none() && (n == 2 || (n == 4 && !cmyk));
    let dpi = header
        .iter()
        .find(|(k, _)| k == b"res ")
        .and_then(|(_, c)| resolution(c))
        .map_or((DEFAULT_DPI, DEFAULT_DPI), |(x, y)| sane_dpi(x, y));
    let image = match info.uniform && !undeclared_opacity {
        true => image(w, h, n, alpha, data),
        false => decode(&data, &info, limits, jpeg_quality)?,
    };
    Ok(Prepared {
        image,
        dpi,
        orientation: 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prep(data: Vec<u8>) -> Result<Prepared, String> {
        prepare(data, &Limits::default(), None)
    }

    /// A codestream of the given size: SOC, SIZ, then EOC (no tiles: only headers are read).
    fn codestream(w: u32, h: u32, components: u16) -> Vec<u8> {
        let mut cs = vec![0xFF, 0x4F, 0xFF, 0x51, 0, 41, 0, 0];
        for v in [w, h, 0, 0, w, h, 0, 0] {
            cs.extend_from_slice(&v.to_be_bytes());
        }
        cs.extend_from_slice(&components.to_be_bytes());
        for _ in 0..components {
            cs.extend_from_slice(&[7, 1, 1]);
        }
        cs[5] = 38 + 3 * components as u8;
        cs.extend_from_slice(&[0xFF, 0xD9]);
        cs
    }

    #[test]
    fn raw_codestreams_are_wrapped_and_read_back() {
        let p = prep(codestream(40, 30, 3)).unwrap();
        assert_eq!((p.image.width, p.image.height), (40, 30));
        let wrapped = prep(p.image.data.clone()).unwrap();
        assert_eq!((wrapped.image.width, wrapped.image.height), (40, 30));
        assert_eq!(
            wrapped.image.data, p.image.data,
            "a JP2 file is embedded as it is"
        );
    }

    #[test]
    fn truncated_and_broken_files_are_refused() {
        let cs = codestream(4, 4, 1);
        assert!(
            prep(cs[..cs.len() - 2].to_vec())
                .unwrap_err()
                .contains("truncated")
        );
        let jp2 = prep(cs.clone()).unwrap().image.data;
        assert!(prep(jp2[..jp2.len() - 5].to_vec()).is_err());
        assert!(
            prep(codestream(4, 4, 2))
                .unwrap_err()
                .contains("colour space")
        );
        let mut mixed = codestream(4, 4, 3);
        mixed[4 + 38 + 4] = 2;
        // Mixed sampling goes to the decoder, which finds no tile data.
        assert!(prep(mixed).unwrap_err().contains("could not be decoded"));
        let mut deep = codestream(4, 4, 3);
        deep[4 + 38 + 3] = 11;
        assert!(prep(deep).unwrap_err().contains("up to 8 bits"));
        // One sampling for all components: the image is the component grid.
        let mut sampled = codestream(76, 13, 1);
        sampled[4 + 38 + 1] = 13;
        let p = prep(sampled).unwrap();
        assert_eq!((p.image.width, p.image.height), (6, 13));
    }
}
