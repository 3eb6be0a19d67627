//! TIFF pages the tiff crate does not read, whose samples are stored plainly (uncompressed,
//! one plane): gray of 9 to 15 bits a sample (12-bit scans), CIELab, and 1-bit palette
//! images. Their strips are read straight from the file. Also the colour map of palette
//! images, which the tiff crate leaves to its caller.

use std::io::Cursor;

use tiff::decoder::Decoder;
use tiff::tags::Tag;

use super::raster::{colour, plain, rescale};
use super::ximage::{ColorSpace, XImage};

const UNCOMPRESSED: u16 = 1;
const WHITE_IS_ZERO: u16 = 0;
const BLACK_IS_ZERO: u16 = 1;
const PALETTE: u16 = 3;
const CIELAB: u16 = 8;

/// The page as an image, if it is of a kind read here; `None` leaves the tiff crate's
/// refusal standing.
pub fn page(
    d: &mut Decoder<Cursor<&[u8]>>,
    file: &[u8],
    (w, h): (u32, u32),
    jpeg_quality: Option<u8>,
) -> Result<Option<XImage>, String> {
    let mut tag = |t| d.find_tag_unsigned::<u16>(t).ok().flatten();
    let compression = tag(Tag::Compression).unwrap_or(UNCOMPRESSED);
    let planar = tag(Tag::PlanarConfiguration).unwrap_or(1);
    let photometric = tag(Tag::PhotometricInterpretation);
    let samples = tag(Tag::SamplesPerPixel).unwrap_or(1);
    let bits = d
        .find_tag_unsigned_vec::<u16>(Tag::BitsPerSample)
        .ok()
        .flatten()
        .unwrap_or_else(|| vec![1]);
    if compression != UNCOMPRESSED || planar != 1 || bits.iter().any(|&b| b != bits[0]) {
        return Ok(None);
    }
    let (Some(photometric), Some(&bits)) = (photometric, bits.first()) else {
        return Ok(None);
    };
    let kind = match (photometric, samples, bits) {
        (WHITE_IS_ZERO | BLACK_IS_ZERO, 1, 9..=15) => Kind::DeepGray {
            white_is_zero: photometric == WHITE_IS_ZERO,
        },
        (CIELAB, 3, 8) => Kind::Lab,
        (PALETTE, 1, 1) => Kind::Palette,
        _ => return Ok(None),
    };
    let row = (u64::from(w) * u64::from(samples) * u64::from(bits)).div_ceil(8);
    let pixels = strips(d, file, row * u64::from(h))?;
    Ok(Some(match kind {
        Kind::DeepGray { white_is_zero } => {
            let deep = widen(&pixels, w, h, bits as u8, white_is_zero);
            colour(w, h, ColorSpace::Gray, 16, deep, jpeg_quality)
        }
        Kind::Lab => {
            // a* and b* are signed; PDF samples are not: move them up by 128.
            let mut lab = pixels;
            for px in lab.chunks_exact_mut(3) {
                px[1] ^= 0x80;
                px[2] ^= 0x80;
            }
            plain(w, h, ColorSpace::Lab, 8, lab)
        }
        Kind::Palette => {
            let palette = palette(d, 1)?;
            plain(w, h, ColorSpace::Indexed(palette), 1, pixels)
        }
    }))
}

enum Kind {
    DeepGray { white_is_zero: bool },
    Lab,
    Palette,
}

/// The page's `len` bytes, gathered from its strips.
fn strips(d: &mut Decoder<Cursor<&[u8]>>, file: &[u8], len: u64) -> Result<Vec<u8>, String> {
    let list = |d: &mut Decoder<Cursor<&[u8]>>, tag| {
        d.find_tag_unsigned_vec::<u64>(tag)
            .ok()
            .flatten()
            .ok_or("the TIFF page has no strips")
    };
    let offsets = list(d, Tag::StripOffsets)?;
    let counts = list(d, Tag::StripByteCounts)?;
    let len = usize::try_from(len).map_err(|_| "the TIFF page is too large")?;
    let mut pixels = Vec::with_capacity(len);
    for (&offset, &count) in offsets.iter().zip(&counts) {
        let want = (len - pixels.len()) as u64;
        let end = offset.saturating_add(count.min(want));
        let strip = usize::try_from(offset)
            .ok()
            .zip(usize::try_from(end).ok())
            .and_then(|(start, end)| file.get(start..end))
            .ok_or("a TIFF strip lies outside the file")?;
        pixels.extend_from_slice(strip);
    }
    if pixels.len() < len {
        return Err(format!(
            "the TIFF page holds {} bytes of pixels, not {len}",
            pixels.len()
        ));
    }
    Ok(pixels)
}

/// Rows of `bits`-bit samples (most significant bit first, each row padded to a byte) as
/// 16-bit big-endian samples spanning the full range.
fn widen(packed: &[u8], w: u32, h: u32, bits: u8, white_is_zero: bool) -> Vec<u8> {
    let row_bytes = (w as usize * usize::from(bits)).div_ceil(8);
    let max = (1u32 << bits) - 1;
    let mut out = Vec::with_capacity(w as usize * h as usize * 2);
    for row in packed.chunks_exact(row_bytes).take(h as usize) {
        for x in 0..w as usize {
            let first = x * usize::from(bits);
            let mut v = 0u32;
            for bit in first..first + usize::from(bits) {
                v = (v << 1) | u32::from(row[bit / 8] >> (7 - bit % 8) & 1);
            }
            if white_is_zero {
                v = max - v;
            }
            out.extend_from_slice(&(rescale(v, bits, 16) as u16).to_be_bytes());
        }
    }
    out
}

/// The colour map (16-bit R, then G, then B) as 8-bit RGB triples.
pub(super) fn palette(d: &mut Decoder<Cursor<&[u8]>>, bits: u8) -> Result<Vec<u8>, String> {
    let map = d
        .get_tag_u16_vec(Tag::ColorMap)
        .map_err(|_| "the palette TIFF has no colour map".to_string())?;
    let n = 1usize << bits;
    if map.len() < 3 * n {
        return Err("the TIFF colour map is too short".into());
    }
    Ok((0..n)
        .flat_map(|i| [map[i], map[n + i], map[2 * n + i]].map(|v| (v >> 8) as u8))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twelve_bit_samples_are_widened_to_sixteen() {
        // Two 12-bit samples, 0xABC and 0xFFF, then a padded row of 0x000, 0x800.
        let packed = [0xAB, 0xCF, 0xFF, 0x00, 0x08, 0x00];
        let wide = widen(&packed, 2, 2, 12, false);
        let samples: Vec<u16> = wide
            .chunks(2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
            .collect();
        let scale = |v: u32| ((v * 65535 + 2047) / 4095) as u16;
        assert_eq!(samples, vec![scale(0xABC), 65535, 0, scale(0x800)]);
        let inverted = widen(&packed, 2, 2, 12, true);
        assert_eq!(&inverted[2..4], &[0, 0], "white is zero: full is black");
    }
}
