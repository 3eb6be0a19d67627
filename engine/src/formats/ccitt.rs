//! Bilevel fax pages of a TIFF: their data goes into the PDF as it is (CCITTFaxDecode) once
//! every line is found in it. Group 4 in one strip, checked by a decode. Group 3, one- or
//! two-dimensional, in any number of strips: each line starts with an end-of-line code, so
//! strips join into one stream; one-dimensional data is checked by a decode, two-dimensional
//! data by its lines' end-of-line codes. Bits stored in reverse order (FillOrder 2) are
//! turned around first.

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
    // Uncompressed stretches are decoded instead.
    if options & 2 != 0 {
        return Ok(None);
    }
    let two_dimensional = !group4 && options & 1 != 0;
    let offsets = d
        .find_tag_unsigned_vec::<u64>(Tag::StripOffsets)
        .ok()
        .flatten();
    let counts = d
        .find_tag_unsigned_vec::<u64>(Tag::StripByteCounts)
        .ok()
        .flatten();
    let (Some(offsets), Some(counts)) = (offsets, counts) else {
        return Ok(None);
    };
    // Group 4 strips each start over from a white reference line: they cannot be joined.
    if offsets.len() != counts.len() || offsets.is_empty() || (group4 && offsets.len() > 1) {
        return Ok(None);
    }
    let mut data = Vec::new();
    for (&offset, &count) in offsets.iter().zip(&counts) {
        let strip = usize::try_from(offset)
            .ok()
            .zip(usize::try_from(count).ok())
            .and_then(|(start, len)| file.get(start..start.checked_add(len)?))
            .ok_or("the fax data runs past the end of the file")?;
        data.extend_from_slice(strip);
    }
    if unsigned(d, Tag::FillOrder) == Some(2) {
        for byte in &mut data {
            *byte = byte.reverse_bits();
        }
    }
    let lines = match two_dimensional {
        true => coded_lines(&data),
        false => decoded_lines(&data, group4, width as u16),
    };
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
            // K > 0: lines are one- or two-dimensional as their tag bits say, at most
            // K - 1 two-dimensional ones in a row.
            k: match (group4, two_dimensional) {
                (true, _) => -1,
                (false, true) => height.min(i32::MAX as u32) as i32,
                (false, false) => 0,
            },
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

/// How many lines of two-dimensional Group 3 data there are: end-of-line codes (eleven or
/// more zero bits, then a one) followed, after their tag bit, by coded bits. Every coded
/// line holds a one bit; fill and the closing return-to-control mark do not.
fn coded_lines(data: &[u8]) -> usize {
    let bits = data
        .iter()
        .flat_map(|&byte| (0..8).rev().map(move |i| byte >> i & 1 == 1));
    let (mut lines, mut zeros) = (0usize, 0usize);
    // Inside a line after its end-of-line code and tag bit: Some(whether a one was seen).
    let mut line: Option<bool> = None;
    let mut tag_pending = false;
    for bit in bits {
        if tag_pending {
            tag_pending = false;
            continue;
        }
        if bit && zeros >= 11 {
            lines += usize::from(line == Some(true));
            line = Some(false);
            tag_pending = true;
        } else if bit && let Some(seen) = line.as_mut() {
            *seen = true;
        }
        zeros = if bit { 0 } else { zeros + 1 };
    }
    lines + usize::from(line == Some(true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn damaged_group4_data_decodes_no_lines() {
        assert_eq!(decoded_lines(&[0xFF; 64], true, 100), 0);
    }

    #[test]
    fn two_dimensional_lines_are_counted_by_their_end_of_line_codes() {
        // EOL, tag 1, a line; EOL with fill before it, tag 0, a line; then RTC (six EOL+1).
        let eol = "000000000001";
        let mut bits = format!("{eol}1{}0000{eol}0{}", "0011010110", "1");
        for _ in 0..6 {
            bits += &format!("{eol}1");
        }
        while bits.len() % 8 != 0 {
            bits.push('0');
        }
        let data: Vec<u8> = bits
            .as_bytes()
            .chunks(8)
            .map(|b| b.iter().fold(0, |acc, &c| acc << 1 | (c - b'0')))
            .collect();
        assert_eq!(coded_lines(&data), 2);
        assert_eq!(coded_lines(&[0; 16]), 0);
    }
}
