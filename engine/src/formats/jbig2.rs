//! JBIG2 files: PDF readers decode JBIG2 themselves (`JBIG2Decode`), so the segments are
//! copied. A file (ITU-T T.88 Annex D, sequential or random-access) becomes the embedded
//! organization PDF asks for: the page's segments, each header followed by its data, without
//! the file header and the end-of-page and end-of-file segments. Segments the file shares
//! between pages (page 0) are made the page's own, which for a single page means the same.

use super::ximage::{ColorSpace, DEFAULT_DPI, Filter, Prepared, XImage, sane_dpi};

const MAGIC: &[u8] = b"\x97JB2\r\n\x1a\n";
const PAGE_INFORMATION: u8 = 48;
const END_OF_PAGE: u8 = 49;
const END_OF_FILE: u8 = 51;

pub fn sniff(data: &[u8]) -> bool {
    data.starts_with(MAGIC)
}

#[derive(Debug)]
struct Segment {
    /// The header's bytes, with the page association at `page_at` (1 or 4 bytes).
    header: Vec<u8>,
    page_at: usize,
    page_field: usize,
    kind: u8,
    page: u32,
    length: usize,
}

fn be32(data: &[u8], at: usize) -> Result<u32, String> {
    data.get(at..at + 4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(truncated)
}

fn truncated() -> String {
    "the JBIG2 file is truncated".into()
}

/// Reads the segment header at `at` (T.88 7.2); returns it and where it ends.
fn header(data: &[u8], at: usize) -> Result<(Segment, usize), String> {
    let number = be32(data, at)?;
    let flags = *data.get(at + 4).ok_or_else(truncated)?;
    let referred = *data.get(at + 5).ok_or_else(truncated)?;
    let (count, mut end) = match referred >> 5 {
        0..=4 => (u32::from(referred >> 5), at + 6),
        7 => {
            let count = be32(data, at + 5)? & 0x1FFF_FFFF;
            // Then one retention bit for the segment and each it refers to.
            (count, at + 9 + (count as usize + 1).div_ceil(8))
        }
        _ => return Err("a JBIG2 segment header is malformed".into()),
    };
    let number_size = match number {
        0..=256 => 1,
        257..=65536 => 2,
        _ => 4,
    };
    end += count as usize * number_size;
    let page_field = if flags & 0x40 != 0 { 4 } else { 1 };
    let page_at = end - at;
    let page = match page_field {
        4 => be32(data, end)?,
        _ => u32::from(*data.get(end).ok_or_else(truncated)?),
    };
    end += page_field;
    let length = be32(data, end)?;
    end += 4;
    if length == u32::MAX {
        return Err("JBIG2 segments of unstated length are not supported".into());
    }
    let segment = Segment {
        header: data.get(at..end).ok_or_else(truncated)?.to_vec(),
        page_at,
        page_field,
        kind: flags & 0x3F,
        page,
        length: length as usize,
    };
    Ok((segment, end))
}

/// The segments of the file in order, each with its data.
fn segments(data: &[u8]) -> Result<Vec<(Segment, &[u8])>, String> {
    let flags = *data.get(MAGIC.len()).ok_or_else(truncated)?;
    let sequential = flags & 1 != 0;
    let mut at = MAGIC.len() + 1;
    if flags & 2 == 0 {
        let pages = be32(data, at)?;
        if pages != 1 {
            return Err(format!(
                "JBIG2 files of {pages} pages are not supported, only single pages"
            ));
        }
        at += 4;
    }
    let mut out = Vec::new();
    if sequential {
        while at < data.len() {
            let (segment, end) = header(data, at)?;
            let body = data.get(end..end + segment.length).ok_or_else(truncated)?;
            at = end + segment.length;
            let last = segment.kind == END_OF_FILE;
            out.push((segment, body));
            if last {
                break;
            }
        }
    } else {
        // Random access: every header, up to the end-of-file segment, then every body.
        let mut headers = Vec::new();
        loop {
            let (segment, end) = header(data, at)?;
            at = end;
            let last = segment.kind == END_OF_FILE;
            headers.push(segment);
            if last || at >= data.len() {
                break;
            }
        }
        for segment in headers {
            let body = data.get(at..at + segment.length).ok_or_else(truncated)?;
            at += segment.length;
            out.push((segment, body));
        }
    }
    Ok(out)
}

pub fn prepare(data: &[u8]) -> Result<Prepared, String> {
    let segments = segments(data)?;
    if let Some((segment, _)) = segments.iter().find(|(s, _)| s.page > 1) {
        return Err(format!(
            "JBIG2 files of several pages are not supported (a segment of page {})",
            segment.page
        ));
    }
    let (_, info) = segments
        .iter()
        .find(|(s, _)| s.kind == PAGE_INFORMATION)
        .ok_or("the JBIG2 file has no page information segment")?;
    let (width, height) = (be32(info, 0)?, be32(info, 4)?);
    if height == u32::MAX {
        return Err("JBIG2 pages of unstated height are not supported".into());
    }
    // Pixels per metre, 0 when unknown. Some writers (jbig2enc among them) put dots per
    // inch there: values under 50 dpi as pixels per metre (1969) are taken as dots per inch.
    let per_inch = |v: u32| match v {
        0..1969 => f64::from(v),
        _ => f64::from(v) * 0.0254,
    };
    let dpi = match (be32(info, 8)?, be32(info, 12)?) {
        (0, _) | (_, 0) => (DEFAULT_DPI, DEFAULT_DPI),
        (x, y) => sane_dpi(per_inch(x), per_inch(y)),
    };
    let mut stream = Vec::with_capacity(data.len());
    for (mut segment, body) in segments {
        if matches!(segment.kind, END_OF_PAGE | END_OF_FILE) {
            continue;
        }
        if segment.page == 0 {
            let field = &mut segment.header[segment.page_at..][..segment.page_field];
            field.fill(0);
            field[segment.page_field - 1] = 1;
        }
        stream.extend_from_slice(&segment.header);
        stream.extend_from_slice(body);
    }
    Ok(Prepared {
        image: XImage {
            width,
            height,
            // The filter gives 0 for black, as 1-bit DeviceGray shows it.
            color: ColorSpace::Gray,
            icc: None,
            bits: 1,
            filter: Filter::Jbig2,
            invert: false,
            data: stream,
            smask: None,
        },
        dpi,
        orientation: 1,
    })
}
