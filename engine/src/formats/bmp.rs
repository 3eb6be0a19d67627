//! BMP files that carry a whole JPEG or PNG (compression `BI_JPEG` or `BI_PNG`): the embedded
//! file takes its own path, so its data is copied as it would be on its own.

use image::ImageFormat;

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

/// The byte range and format of the JPEG or PNG a BMP file holds, if it holds one.
pub fn embedded(data: &[u8]) -> Option<(std::ops::Range<usize>, ImageFormat)> {
    let header_size = u32_at(data, 14)?;
    // BI_JPEG and BI_PNG exist from BITMAPINFOHEADER (40 bytes) on.
    if header_size < 40 {
        return None;
    }
    let format = match u32_at(data, 30)? {
        4 => ImageFormat::Jpeg,
        5 => ImageFormat::Png,
        _ => return None,
    };
    let start = u32_at(data, 10)? as usize;
    let size = u32_at(data, 34)? as usize;
    let end = if size == 0 {
        data.len()
    } else {
        start.checked_add(size)?.min(data.len())
    };
    let inner = data.get(start..end)?;
    (image::guess_format(inner).ok()? == format).then_some((start..end, format))
}

/// Rewrites, in place, two valid header forms the BMP decoder refuses into the equivalent
/// forms it reads:
/// - compression 6 (`BI_ALPHABITFIELDS`: a 40-byte header followed by red, green, blue and
///   alpha masks) is byte for byte a 56-byte V3 header with compression 3 (`BI_BITFIELDS`);
/// - a palette of more than 256 colours for 8-bit pixels, wholly present before the pixel
///   data, is cut to 256 (pixels cannot reach past 255; the pixel data is found by its
///   offset, not after the palette). A count the file does not hold stays, and is refused.
pub fn normalise(data: &mut [u8]) {
    let (Some(header_size), Some(compression)) = (u32_at(data, 14), u32_at(data, 30)) else {
        return;
    };
    if header_size == 40 && compression == 6 && data.len() >= 70 {
        data[14..18].copy_from_slice(&56u32.to_le_bytes());
        data[30..34].copy_from_slice(&3u32.to_le_bytes());
    }
    let bits = data.get(28..30).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let palette_end = u32_at(data, 46).map(|n| 14 + u64::from(header_size) + 4 * u64::from(n));
    let pixels_at = u32_at(data, 10).map(u64::from);
    let palette_present = palette_end
        .zip(pixels_at)
        .is_some_and(|(end, at)| end <= at);
    let oversized = u32_at(data, 46).is_some_and(|n| n > 256);
    if header_size >= 40 && bits == Some(8) && oversized && palette_present {
        data[46..50].copy_from_slice(&256u32.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bmp_around(inner: &[u8], compression: u32) -> Vec<u8> {
        let mut file = vec![0u8; 54];
        file[0..2].copy_from_slice(b"BM");
        file[10..14].copy_from_slice(&54u32.to_le_bytes());
        file[14..18].copy_from_slice(&40u32.to_le_bytes());
        file[30..34].copy_from_slice(&compression.to_le_bytes());
        file[34..38].copy_from_slice(&(inner.len() as u32).to_le_bytes());
        file.extend_from_slice(inner);
        file
    }

    #[test]
    fn finds_the_embedded_file_only_when_it_is_what_the_header_says() {
        let png = b"\x89PNG\r\n\x1a\n rest of a png";
        let file = bmp_around(png, 5);
        assert_eq!(
            embedded(&file),
            Some((54..54 + png.len(), ImageFormat::Png))
        );
        assert_eq!(
            embedded(&bmp_around(png, 4)),
            None,
            "announced JPEG, holds PNG"
        );
        assert_eq!(embedded(&bmp_around(png, 0)), None, "plain BMP");
        assert_eq!(embedded(&file[..20]), None, "truncated header");
    }

    #[test]
    fn alpha_bitfields_and_oversized_palettes_become_readable_forms() {
        let masks: Vec<u8> = [0xFF00_0000u32, 0xFF00, 0xFF, 0xFF_0000]
            .iter()
            .flat_map(|m| m.to_le_bytes())
            .collect();
        let mut abf = bmp_around(&masks, 6);
        normalise(&mut abf);
        assert_eq!((u32_at(&abf, 14), u32_at(&abf, 30)), (Some(56), Some(3)));
        assert_eq!(
            &abf[54..70],
            masks.as_slice(),
            "the masks stay where they are"
        );

        let palette = |count: u32, pixels_at: u32| {
            let mut file = bmp_around(&vec![0u8; 300 * 4], 0);
            file[10..14].copy_from_slice(&pixels_at.to_le_bytes());
            file[28..30].copy_from_slice(&8u16.to_le_bytes());
            file[46..50].copy_from_slice(&count.to_le_bytes());
            normalise(&mut file);
            u32_at(&file, 46)
        };
        assert_eq!(palette(300, 54 + 1200), Some(256));
        assert_eq!(
            palette(200, 54 + 800),
            Some(200),
            "a palette that fits stays"
        );
        assert_eq!(
            palette(305_402_420, 54 + 1200),
            Some(305_402_420),
            "not there: refused"
        );
    }
}
