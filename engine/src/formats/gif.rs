//! GIFs with no colour table at all, neither global nor for the frame: the format leaves the
//! colours to the decoder. Folio shows each index as that level of gray, as Pillow does, by
//! giving the file a gray global table (a frame's own table still wins).

/// The file with a 256-level gray global colour table when it has none.
pub fn with_colour_table(mut data: Vec<u8>) -> Vec<u8> {
    // Byte 10 of the logical screen descriptor: bit 7 says a global table follows it.
    const FLAGS: usize = 10;
    const TABLE_AT: usize = 13;
    if data.len() < TABLE_AT || data[FLAGS] & 0x80 != 0 {
        return data;
    }
    // Present, 2^(7 + 1) entries; the colour resolution and sort bits stay.
    data[FLAGS] |= 0x80 | 0x07;
    let gray = (0..=255u8).flat_map(|v| [v, v, v]);
    data.splice(TABLE_AT..TABLE_AT, gray);
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gray_table_is_added_only_when_there_is_none() {
        let bare = b"GIF87a\x01\x00\x01\x00\x00\x00\x00,rest".to_vec();
        let fixed = with_colour_table(bare.clone());
        assert_eq!(fixed[10], 0x87);
        assert_eq!(fixed.len(), bare.len() + 768);
        assert_eq!(&fixed[13 + 3 * 200..13 + 3 * 201], &[200, 200, 200]);
        assert_eq!(&fixed[13 + 768..], b",rest");
        let with_table = with_colour_table(fixed.clone());
        assert_eq!(with_table, fixed, "a file with a table is left alone");
    }
}
