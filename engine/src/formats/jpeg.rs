//! JPEG pass-through: the file's bytes become the image stream (DCTDecode) unchanged. Only
//! the markers are read: frame size and type, Adobe transform, ICC profile, density, EXIF.
//! The processes PDF readers cannot show (arithmetic coding, lossless, over 8 bits a sample)
//! are decoded and re-embedded losslessly instead.

use super::limits::Limits;
use super::ximage::Filter::Dct;
use super::ximage::{ColorSpace, DEFAULT_DPI, Icc, Prepared, XImage, sane_dpi};
use super::{exif, jpeg_decode, raster};

#[derive(Debug, Default)]
struct Markers {
    /// Offset just past the end-of-image marker.
    end: usize,
    frame: Option<Frame>,
    adobe: bool,
    icc_chunks: Vec<(u8, u8, Vec<u8>)>,
    density: Option<(f64, f64)>,
    orientation: Option<u8>,
    /// The first EXIF block, from its TIFF header on.
    exif: Option<Vec<u8>>,
}

#[derive(Debug)]
struct Frame {
    marker: u8,
    precision: u8,
    width: u16,
    height: u16,
    components: u8,
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn read_markers(data: &[u8]) -> Result<Markers, String> {
    if !data.starts_with(&[0xFF, 0xD8]) {
        return Err("not a JPEG file".into());
    }
    let mut m = Markers::default();
    let mut pos = 2;
    loop {
        // Markers are 0xFF, any fill 0xFF bytes, then the code.
        while data.get(pos) == Some(&0xFF) && data.get(pos + 1) == Some(&0xFF) {
            pos += 1;
        }
        let (Some(0xFF), Some(&code)) = (data.get(pos), data.get(pos + 1)) else {
            return Err("the JPEG is truncated: it has no end-of-image marker".into());
        };
        pos += 2;
        if code == 0x01 || (0xD0..=0xD8).contains(&code) {
            continue;
        }
        if code == 0xD9 {
            m.end = pos;
            return Ok(m);
        }
        let len = be16(data, pos).ok_or("the JPEG header is truncated")? as usize;
        let segment = data
            .get(pos + 2..pos + len)
            .filter(|_| len >= 2)
            .ok_or("the JPEG header is truncated")?;
        match code {
            0xC0..=0xCF if code != 0xC4 && code != 0xC8 && code != 0xCC => {
                if segment.len() < 6 {
                    return Err("the JPEG frame header is truncated".into());
                }
                m.frame.get_or_insert(Frame {
                    marker: code,
                    precision: segment[0],
                    height: be16(segment, 1).unwrap_or(0),
                    width: be16(segment, 3).unwrap_or(0),
                    components: segment[5],
                });
            }
            0xE0 if segment.starts_with(b"JFIF\0") && segment.len() >= 12 => {
                let (x, y) = (
                    be16(segment, 8).unwrap_or(0) as f64,
                    be16(segment, 10).unwrap_or(0) as f64,
                );
                m.density = match segment[7] {
                    1 => Some((x, y)),
                    2 => Some((x * 2.54, y * 2.54)),
                    _ => None,
                };
            }
            0xE1 if segment.starts_with(b"Exif\0\0") => {
                m.orientation = m.orientation.or(exif::orientation(segment));
                if m.exif.is_none() {
                    m.exif = Some(segment[6..].to_vec());
                }
            }
            0xE2 if segment.starts_with(b"ICC_PROFILE\0") && segment.len() > 14 => {
                m.icc_chunks
                    .push((segment[12], segment[13], segment[14..].to_vec()));
            }
            0xEE if segment.starts_with(b"Adobe") => m.adobe = true,
            _ => {}
        }
        pos += len;
        if code == 0xDA {
            pos = skip_entropy_coded(data, pos);
        }
    }
}

/// The offset of the marker that ends the entropy-coded data starting at `pos`: the first
/// 0xFF not followed by a stuffed zero, a restart marker or fill.
fn skip_entropy_coded(data: &[u8], mut pos: usize) -> usize {
    while pos < data.len() {
        match memchr::memchr(0xFF, &data[pos..]) {
            None => return data.len(),
            Some(i) => pos += i,
        }
        match data.get(pos + 1) {
            Some(0x00) | Some(0xD0..=0xD7) => pos += 2,
            Some(0xFF) => pos += 1,
            _ => return pos,
        }
    }
    pos
}

/// The profile from its APP2 chunks, if complete, in order, and of `components` colours.
fn icc_profile(mut chunks: Vec<(u8, u8, Vec<u8>)>, components: u8) -> Option<Icc> {
    chunks.sort_by_key(|c| c.0);
    let count = chunks.first()?.1 as usize;
    let complete = chunks.len() == count
        && chunks
            .iter()
            .enumerate()
            .all(|(i, c)| c.0 as usize == i + 1 && c.1 as usize == count);
    if !complete {
        return None;
    }
    let data: Vec<u8> = chunks.into_iter().flat_map(|c| c.2).collect();
    let space = match data.get(16..20)? {
        b"GRAY" => 1,
        b"RGB " => 3,
        b"CMYK" => 4,
        _ => return None,
    };
    (space == components && data.len() >= 128).then_some(Icc {
        components,
        data,
        deflated: false,
    })
}

/// Prepares a JPEG: copied when PDF readers can show it as it is, else decoded.
pub fn prepare(
    mut data: Vec<u8>,
    limits: &Limits,
    jpeg_quality: Option<u8>,
) -> Result<Prepared, String> {
    let m = read_markers(&data)?;
    let frame = m.frame.as_ref().ok_or("the JPEG has no frame header")?;
    if matches!(frame.marker, 0xC5..=0xC7 | 0xCD..=0xCF) {
        return Err("hierarchical JPEGs are not supported".into());
    }
    if frame.width == 0 || frame.height == 0 {
        return Err("the JPEG states no size in its frame header".into());
    }
    if !matches!(frame.components, 1 | 3 | 4) {
        return Err(format!(
            "JPEGs with {} colour components are not supported",
            frame.components
        ));
    }
    // Baseline, extended and progressive Huffman-coded 8-bit JPEGs: every PDF reader's
    // DCTDecode shows them.
    let copyable = matches!(frame.marker, 0xC0..=0xC2) && frame.precision == 8;
    let icc = icc_profile(m.icc_chunks, frame.components);
    let (x, y) = m.density.unwrap_or((DEFAULT_DPI, DEFAULT_DPI));
    // Up to the end of the image: data after it (a gain map, a thumbnail a camera appended)
    // is not part of the picture and makes PDF readers complain.
    data.truncate(m.end);
    let image = if copyable {
        XImage {
            width: frame.width.into(),
            height: frame.height.into(),
            color: color_space(frame.components),
            invert: frame.components == 4 && m.adobe,
            icc,
            bits: 8,
            filter: Dct,
            data,
            smask: None,
        }
    } else {
        let decoded = jpeg_decode::decode(&data, limits)?;
        drop(data);
        let (width, height) = (decoded.width, decoded.height);
        let components = decoded.components;
        let (bits, samples) = decoded.into_pdf_samples();
        let color = color_space(components);
        let mut image = raster::colour(width, height, color, bits, samples, jpeg_quality);
        image.invert = components == 4 && m.adobe;
        image.icc = icc.filter(|p| p.components == components);
        image
    };
    Ok(Prepared {
        image,
        dpi: sane_dpi(x, y),
        orientation: m.orientation.unwrap_or(1),
    })
}

/// What the converter takes from a JPEG's markers.
pub(crate) struct Header {
    pub icc: Option<Vec<u8>>,
    pub orientation: u8,
    /// Four components stored inverted (an Adobe APP14 marker).
    pub adobe_cmyk: bool,
    pub exif: Option<Vec<u8>>,
    pub dpi: (f64, f64),
    /// As the frame header states it.
    pub size: (u32, u32),
}

pub(crate) fn header(data: &[u8]) -> Result<Header, String> {
    let m = read_markers(data)?;
    let frame = m.frame.as_ref().ok_or("the JPEG has no frame header")?;
    if matches!(frame.marker, 0xC5..=0xC7 | 0xCD..=0xCF) {
        return Err("hierarchical JPEGs are not supported".into());
    }
    let (x, y) = m.density.unwrap_or((DEFAULT_DPI, DEFAULT_DPI));
    Ok(Header {
        icc: icc_profile(m.icc_chunks, frame.components).map(|icc| icc.data),
        orientation: m.orientation.unwrap_or(1),
        adobe_cmyk: frame.components == 4 && m.adobe,
        exif: m.exif,
        dpi: sane_dpi(x, y),
        size: (frame.width.into(), frame.height.into()),
    })
}

fn color_space(components: u8) -> ColorSpace {
    match components {
        1 => ColorSpace::Gray,
        4 => ColorSpace::Cmyk,
        _ => ColorSpace::Rgb,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prep(data: Vec<u8>) -> Result<Prepared, String> {
        prepare(data, &Limits::default(), None)
    }

    fn segment(code: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![0xFF, code];
        v.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    fn sof(code: u8, precision: u8, w: u16, h: u16, n: u8) -> Vec<u8> {
        let mut body = vec![precision];
        body.extend_from_slice(&h.to_be_bytes());
        body.extend_from_slice(&w.to_be_bytes());
        body.push(n);
        for i in 0..n {
            body.extend_from_slice(&[i + 1, 0x11, 0]);
        }
        segment(code, &body)
    }

    fn jpeg(parts: &[Vec<u8>]) -> Vec<u8> {
        let mut v = vec![0xFF, 0xD8];
        for p in parts {
            v.extend_from_slice(p);
        }
        v.extend_from_slice(&[0xFF, 0xDA, 0, 2, 0xFF, 0xD9]);
        v
    }

    #[test]
    fn adobe_cmyk_is_inverted_and_density_read() {
        let jfif = segment(0xE0, b"JFIF\0\x01\x02\x01\x01\x2c\x01\x2c\0\0");
        let adobe = segment(0xEE, b"Adobe\0\x64\0\0\0\0\x02");
        let p = prep(jpeg(&[jfif, adobe, sof(0xC2, 8, 40, 30, 4)])).unwrap();
        assert_eq!(p.image.color, ColorSpace::Cmyk);
        assert!(p.image.invert);
        assert_eq!((p.image.width, p.image.height), (40, 30));
        assert_eq!(p.dpi, (300.0, 300.0));
    }

    #[test]
    fn icc_chunks_are_joined_in_order_and_checked() {
        let mut profile = vec![0u8; 200];
        profile[16..20].copy_from_slice(b"RGB ");
        let chunk = |seq: u8, part: &[u8]| {
            let mut b = b"ICC_PROFILE\0".to_vec();
            b.extend_from_slice(&[seq, 2]);
            b.extend_from_slice(part);
            segment(0xE2, &b)
        };
        let parts = [
            chunk(2, &profile[100..]),
            chunk(1, &profile[..100]),
            sof(0xC0, 8, 4, 4, 3),
        ];
        let p = prep(jpeg(&parts)).unwrap();
        assert_eq!(p.image.icc.unwrap().data, profile);
        // A profile for another colour space is left out.
        let gray = [
            chunk(1, &profile[..100]),
            chunk(2, &profile[100..]),
            sof(0xC0, 8, 4, 4, 1),
        ];
        assert!(prep(jpeg(&gray)).unwrap().image.icc.is_none());
    }

    #[test]
    fn orientation_from_exif() {
        let exif = segment(0xE1, &crate::formats::exif::block(6, true));
        assert_eq!(
            prep(jpeg(&[exif, sof(0xC0, 8, 4, 4, 3)]))
                .unwrap()
                .orientation,
            6
        );
    }

    #[test]
    fn the_stream_ends_at_the_end_of_image() {
        let mut file = jpeg(&[sof(0xC0, 8, 4, 4, 3)]);
        // Entropy-coded data with a stuffed 0xFF00 and a restart marker, then EOI.
        let eoi = file.len() - 2;
        file.splice(eoi..eoi, [0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD3, 0x56]);
        let whole = file.len();
        assert_eq!(prep(file.clone()).unwrap().image.data.len(), whole);
        file.extend_from_slice(b"\xFF\xD8 an appended second image");
        assert_eq!(prep(file.clone()).unwrap().image.data.len(), whole);
        assert!(
            prep(file[..whole - 2].to_vec())
                .unwrap_err()
                .contains("truncated")
        );
    }

    #[test]
    fn unsupported_kinds_are_refused_with_a_reason() {
        assert!(
            prep(jpeg(&[sof(0xC5, 8, 4, 4, 3)]))
                .unwrap_err()
                .contains("hierarchical")
        );
        // Headers alone: the decoder is reached and says what is missing.
        for (code, precision) in [(0xC9, 8), (0xC3, 8), (0xC1, 12)] {
            let err = prep(jpeg(&[sof(code, precision, 4, 4, 3)])).unwrap_err();
            assert!(!err.is_empty(), "{code:x}: {err}");
        }
        assert!(
            prep(jpeg(&[sof(0xC0, 8, 4, 0, 3)]))
                .unwrap_err()
                .contains("no size")
        );
        assert!(prep(vec![0xFF, 0xD8, 0xFF]).is_err());
        assert!(prep(b"nope".to_vec()).is_err());
    }
}
