//! Bilevel fax pages of a TIFF (CCITT Group 4, and Group 3 coded one line at a time) in one
//! strip: their data goes into the PDF as it is (CCITTFaxDecode), once a decode has found
//! every line in it. Bits stored in reverse order (FillOrder 2) are turned around first.

use std::io::Cursor;

use tiff::decoder::Decoder;
use tiff::tags::Tag;

use super::ximage::{ColorSpace, Fax, Filter, XImage};

const T4_OPTIONS: Tag = Tag::Unknown(292);
const T6_OPTIONS: Tag = Tag::Unknown(293);

fn unsigned(d: &mut Decoder<Cursor<&[u8]>>, tag: Tag) -> Option<u64> {
    d.find_tag_unsigned::<u64>(tag).ok().flatten()
}

/// The page as copied fax data, or `None` when it is not a page this path carries (it is
/// decoded instead). A page that claims to be one but whose data is damaged is refused.
pub fn copy(
    d: &mut Decoder<Cursor<&[u8]>>,
    file: &[u8],
    width: u32,
    height: u32,
) -> Result<Option<XImage>, String> {
    let compression = unsigned(d, Tag::Compression);
    let group4 = match compression {
        Some(4) => true,
        Some(3) => false,
        _ => return Ok(None),
    };
    let single_channel = unsigned(d, Tag::SamplesPerPixel).unwrap_or(1) == 1
        && unsigned(d, Tag::BitsPerSample).unwrap_or(1) == 1;
    let photometric = unsigned(d, Tag::PhotometricInterpretation);
    let tiled = d.find_tag(Tag::TileOffsets).ok().flatten().is_some();
    let fits_u16 = width <= u16::MAX as u32 && height <= u16::MAX as u32;
    if !single_channel || !matches!(photometric, Some(0 | 1)) || tiled || !fits_u16 {
        return Ok(None);
    }
    let options = unsigned(d, if group4 { T6_OPTIONS } else { T4_OPTIONS }).unwrap_or(0);
    // Group 3 with two-dimensional lines, and uncompressed stretches, are decoded instead.
    let two_dimensional_g3 = !group4 && options & 1 != 0;
    if two_dimensional_g3 || options & 2 != 0 {
        return Ok(None);
    }
    let offsets = d
        .find_tag_unsigned_vec::<u64>(Tag::StripOffsets)
        .ok()
        .flatten();
    let counts = d
        .find_tag_unsigned_vec::<u64>(Tag::StripByteCounts)
        .ok()
        .flatten();
    let (Some([offset]), Some([count])) = (offsets.as_deref(), counts.as_deref()) else {
        return Ok(None);
    };
    let strip = usize::try_from(*offset)
        .ok()
        .zip(usize::try_from(*count).ok())
        .and_then(|(start, len)| file.get(start..start.checked_add(len)?))
        .ok_or("the fax data runs past the end of the file")?;
    let mut data = strip.to_vec();
    if unsigned(d, Tag::FillOrder) == Some(2) {
        for byte in &mut data {
            *byte = byte.reverse_bits();
        }
    }
    let lines = decoded_lines(&data, group4, width as u16);
    if lines < height as usize {
        // Some Group 4 writers leave out trailing white lines, which only a decode can
        // put back; damaged data decodes short too. Either way the page is not copied:
        // the decoder pads what it can read. Short Group 3 data is refused.
        if group4 {
            return Ok(None);
        }
        return Err(format!(
            "the fax data is damaged: {lines} of {height} lines decode"
        ));
    }
    Ok(Some(XImage {
        width,
        height,
        color: ColorSpace::Gray,
        icc: None,
        bits: 1,
        filter: Filter::Fax(Fax {
            k: if group4 { -1 } else { 0 },
            byte_align: !group4 && options & 4 != 0,
            // The data codes white and black runs; with BlackIsZero the page shows them the
            // other way round.
            black_is_1: photometric == Some(1),
        }),
        invert: false,
        data,
        smask: None,
    }))
}

/// How many lines decode before the data ends (a damaged line ends the count).
fn decoded_lines(data: &[u8], group4: bool, width: u16) -> usize {
    let mut lines = 0usize;
    let complete = if group4 {
        fax::decoder::decode_g4(data.iter().copied(), width, None, |_| lines += 1)
    } else {
        // Strips seldom end with the return-to-control mark (six end-of-line codes) that
        // lets the decoder finish its last line: one is added here, for this check only.
        // Zero bits before an end-of-line code are fill, so alignment does not matter.
        const RTC: [u8; 9] = [0x00, 0x10, 0x01, 0x00, 0x10, 0x01, 0x00, 0x10, 0x01];
        fax::decoder::decode_g3(data.iter().copied().chain(RTC), |_| lines += 1);
        Some(())
    };
    if complete.is_none() { 0 } else { lines }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn damaged_group4_data_decodes_no_lines() {
        assert_eq!(decoded_lines(&[0xFF; 64], true, 100), 0);
    }
}
