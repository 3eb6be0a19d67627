//! What kind of file the bytes are, by their signature, before any reader is chosen.

use super::{jbig2, svg};

/// The kinds of file Folio reads; each has its own reader.
pub(crate) enum Kind {
    Avif,
    Jbig2,
    Jp2,
    Svg,
    Tiff,
    Raster(image::ImageFormat),
}

/// The brands of an ISO base media file (HEIF, AVIF): its major brand and the compatible
/// ones of its leading `ftyp` box.
fn ftyp_brands(data: &[u8]) -> Vec<&[u8]> {
    if data.get(4..8) != Some(b"ftyp") {
        return Vec::new();
    }
    let size = data
        .get(..4)
        .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .min(data.len());
    let mut brands = Vec::new();
    if let Some(major) = data.get(8..12) {
        brands.push(major);
    }
    let mut at = 16;
    while at + 4 <= size {
        brands.push(&data[at..at + 4]);
        at += 4;
    }
    brands
}

/// The kind of `data`, or why it is refused (HEIC, an unknown format).
pub(crate) fn sniff(data: &[u8]) -> Result<Kind, String> {
    let brands = ftyp_brands(data);
    if brands.iter().any(|b| matches!(*b, b"avif" | b"avis")) {
        return Ok(Kind::Avif);
    }
    if brands.iter().any(|b| {
        matches!(
            *b,
            b"heic" | b"heix" | b"hevc" | b"hevx" | b"heim" | b"heis" | b"mif1" | b"msf1"
        )
    }) {
        return Err("HEIC/HEIF images are not supported: no HEVC decoder exists under a licence Folio can ship (libheif and libde265 are LGPL)".to_string());
    }
    if data.starts_with(b"\0\0\0\x0cjP  \r\n\x87\n") || data.starts_with(&[0xFF, 0x4F, 0xFF, 0x51])
    {
        return Ok(Kind::Jp2);
    }
    if jbig2::sniff(data) {
        return Ok(Kind::Jbig2);
    }
    // BigTIFF, which the tiff crate reads but format guessing does not know.
    if data.starts_with(b"II\x2b\0") || data.starts_with(b"MM\0\x2b") {
        return Ok(Kind::Tiff);
    }
    match image::guess_format(data) {
        Ok(image::ImageFormat::Tiff) => Ok(Kind::Tiff),
        Ok(format) => Ok(Kind::Raster(format)),
        Err(_) if svg::sniff(data) || data.starts_with(&[0x1F, 0x8B]) => Ok(Kind::Svg),
        Err(_) => Err("the file is not an image of a supported format".to_string()),
    }
}
