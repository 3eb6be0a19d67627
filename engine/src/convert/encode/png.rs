//! PNG, written chunk by chunk: rows filtered with the best filter each (`crate::deflate`) and
//! deflated by libdeflate (the zlib stream is the image data as PNG stores it), or, when
//! asked, a quantised palette. ICC profile, resolution and (when kept) EXIF ride along.

use image::DynamicImage;

use super::super::plan::Target;
use super::{Metadata, quant};
use crate::deflate::{deflate_rows_at, zlib};

/// Encodes the image; with a palette, partly transparent pixels are blended over
/// `background`.
pub fn encode(
    image: DynamicImage,
    target: &Target,
    meta: &Metadata,
    background: [u8; 3],
) -> Result<Vec<u8>, String> {
    let (w, h) = (image.width(), image.height());
    let level = target.compression.into();
    let (color_type, bits, idat, palette) = if target.palette {
        let mut q = quant::quantise(&image, target.colours, target.dither, background);
        drop(image);
        let idat = deflate_rows_at(std::mem::take(&mut q.indices), w, 1, 8, level);
        (3u8, 8u8, idat, Some(q))
    } else {
        let (color_type, colors) = match image.color().channel_count() {
            1 => (0, 1),
            2 => (4, 2),
            3 => (2, 3),
            _ => (6, 4),
        };
        let bits = if image.color().bytes_per_pixel() / colors == 2 {
            16
        } else {
            8
        };
        let mut samples = image.into_bytes();
        if bits == 16 {
            // PNG stores samples big-endian; the image holds them in the machine's order.
            for s in samples.chunks_exact_mut(2) {
                let v = u16::from_ne_bytes([s[0], s[1]]);
                s.copy_from_slice(&v.to_be_bytes());
            }
        }
        let idat = deflate_rows_at(samples, w, colors, bits, level);
        (color_type, bits, idat, None)
    };
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[bits, color_type, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &ihdr);
    if let Some(icc) = &meta.icc {
        let mut iccp = b"icc\0\0".to_vec();
        iccp.extend_from_slice(&zlib(icc));
        chunk(&mut png, b"iCCP", &iccp);
    }
    if let Some((x, y)) = meta.dpi {
        let per_metre = |d: f64| ((d / 0.0254).round() as u32).to_be_bytes();
        let mut phys = Vec::with_capacity(9);
        phys.extend_from_slice(&per_metre(x));
        phys.extend_from_slice(&per_metre(y));
        phys.push(1);
        chunk(&mut png, b"pHYs", &phys);
    }
    if let Some(q) = &palette {
        let plte: Vec<u8> = q.palette.iter().flat_map(|c| [c[0], c[1], c[2]]).collect();
        chunk(&mut png, b"PLTE", &plte);
        if q.palette.iter().any(|c| c[3] != 255) {
            let trns: Vec<u8> = q.palette.iter().map(|c| c[3]).collect();
            chunk(&mut png, b"tRNS", &trns);
        }
    }
    if let Some(exif) = &meta.exif {
        chunk(&mut png, b"eXIf", exif);
    }
    chunk(&mut png, b"IDAT", &idat);
    chunk(&mut png, b"IEND", &[]);
    Ok(png)
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = flate2::Crc::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(&crc.sum().to_be_bytes());
}
