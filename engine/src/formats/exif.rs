//! The EXIF orientation tag, read from a TIFF-structured EXIF block. Invalid values count
//! as "no orientation" (a tag of 0 is common in the wild and must not fail a conversion).

/// Where the orientation tag's value sits in an EXIF block (starting at the TIFF header),
/// and whether the block is big-endian.
fn orientation_field(tiff: &[u8]) -> Option<(usize, bool)> {
    let big_endian = match tiff.get(..4)? {
        [b'I', b'I', 42, 0] => false,
        [b'M', b'M', 0, 42] => true,
        _ => return None,
    };
    let u16_at = |at: usize| -> Option<u16> {
        let b: [u8; 2] = tiff.get(at..at + 2)?.try_into().ok()?;
        Some(if big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    };
    let u32_at = |at: usize| -> Option<u32> {
        let b: [u8; 4] = tiff.get(at..at + 4)?.try_into().ok()?;
        Some(if big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    };
    let ifd = u32_at(4)? as usize;
    let entries = u16_at(ifd)? as usize;
    for i in 0..entries.min(512) {
        let entry = ifd + 2 + i * 12;
        if u16_at(entry)? == 0x0112 {
            // Type SHORT, count 1: the value sits in the first two bytes of the field.
            tiff.get(entry + 8..entry + 10)?;
            return Some((entry + 8, big_endian));
        }
    }
    None
}

/// Orientation 1..=8 from the bytes of an EXIF block (starting at the TIFF header, after
/// any `Exif\0\0` prefix), or `None`.
pub fn orientation(tiff: &[u8]) -> Option<u8> {
    let tiff = tiff.strip_prefix(b"Exif\0\0").unwrap_or(tiff);
    let (at, big_endian) = orientation_field(tiff)?;
    let b = [tiff[at], tiff[at + 1]];
    let value = if big_endian {
        u16::from_be_bytes(b)
    } else {
        u16::from_le_bytes(b)
    };
    (1..=8).contains(&value).then_some(value as u8)
}

/// Sets the orientation tag of an EXIF block (from its TIFF header on) to 1, in place, for
/// an image that was turned upright. A block without the tag is left as it is.
pub fn reset_orientation(tiff: &mut [u8]) {
    if let Some((at, big_endian)) = orientation_field(tiff) {
        let one = if big_endian { [0, 1] } else { [1, 0] };
        tiff[at..at + 2].copy_from_slice(&one);
    }
}

/// Whether orientation `o` (1 to 8) swaps width and height.
pub fn transposes(o: u8) -> bool {
    (5..=8).contains(&o)
}

#[cfg(test)]
pub(crate) fn block(orientation: u16, big_endian: bool) -> Vec<u8> {
    let mut v = b"Exif\0\0".to_vec();
    type Encoders = (fn(u16) -> [u8; 2], fn(u32) -> [u8; 4]);
    let (u16b, u32b): Encoders = if big_endian {
        v.extend_from_slice(b"MM\0\x2a");
        (u16::to_be_bytes, u32::to_be_bytes)
    } else {
        v.extend_from_slice(b"II\x2a\0");
        (u16::to_le_bytes, u32::to_le_bytes)
    };
    v.extend_from_slice(&u32b(8));
    v.extend_from_slice(&u16b(1));
    v.extend_from_slice(&u16b(0x0112));
    v.extend_from_slice(&u16b(3));
    v.extend_from_slice(&u32b(1));
    v.extend_from_slice(&u16b(orientation));
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(&u32b(0));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_byte_orders_and_ignores_invalid_values() {
        for o in 1..=8 {
            assert_eq!(orientation(&block(o, true)), Some(o as u8));
            assert_eq!(orientation(&block(o, false)), Some(o as u8));
        }
        assert_eq!(orientation(&block(0, false)), None);
        assert_eq!(orientation(&block(9, true)), None);
        assert_eq!(orientation(b"garbage"), None);
        let b = block(6, false);
        assert_eq!(orientation(&b[..20]), None, "truncated");
    }

    #[test]
    fn orientation_is_reset_in_place() {
        for big_endian in [true, false] {
            let mut b = block(6, big_endian);
            reset_orientation(&mut b[6..]);
            assert_eq!(orientation(&b), Some(1));
        }
    }
}
