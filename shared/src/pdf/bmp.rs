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
}
