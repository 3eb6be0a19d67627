//! SVG pages, drawn as vectors: usvg parses the file with a bundled font and without access
//! to any file or network, and svg2pdf turns the tree into a Form XObject that the page
//! places like an image (its unit square).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use pdf_writer::{Chunk, Ref as ChunkRef};
use svg2pdf::usvg::{self, ImageHrefResolver, ImageKind, fontdb};

use super::limits::Limits;

/// The family every generic name (serif, sans-serif, monospace...) and every font the
/// SVG names but Folio does not have falls back to.
const FONT_FAMILY: &str = "DejaVu Sans";

/// CSS pixels: SVG lengths are at 96 per inch.
pub const SVG_DPI: f64 = 96.0;

/// An SVG converted to PDF objects, with its size in CSS pixels.
pub struct VectorArt {
    pub width: f64,
    pub height: f64,
    chunk: Chunk,
    form: ChunkRef,
}

impl std::fmt::Debug for VectorArt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VectorArt")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("bytes", &self.chunk.len())
            .finish()
    }
}

/// The objects of one SVG renumbered from `first`: their bytes, each object's number and
/// offset in them, and the number of the Form XObject to draw.
pub struct Renumbered {
    pub bytes: Vec<u8>,
    pub objects: Vec<(u32, usize)>,
    pub form: u32,
}

impl VectorArt {
    /// Gives the objects the numbers `next` hands out, and finds where each one starts.
    pub fn renumber(&self, mut next: impl FnMut() -> u32) -> Result<Renumbered, String> {
        let mut map = HashMap::new();
        let chunk = self.chunk.renumber(|old| {
            *map.entry(old)
                .or_insert_with(|| ChunkRef::new(next() as i32))
        });
        let form = map
            .get(&self.form)
            .ok_or("the SVG converter returned no drawing")?
            .get() as u32;
        // pdf-writer keeps each object's offset but only shows it in a cross-reference
        // table: write one and read the offsets back.
        let mut pdf = pdf_writer::Pdf::new();
        let header = pdf.len();
        pdf.extend(&chunk);
        let file = pdf.finish();
        let mut objects = xref_offsets(&file, chunk.refs().map(|r| r.get() as u32))?;
        for (_, offset) in &mut objects {
            *offset -= header;
        }
        Ok(Renumbered {
            bytes: chunk.as_bytes().to_vec(),
            objects,
            form,
        })
    }
}

/// Offsets of `ids` read from the cross-reference table at the end of `file`.
fn xref_offsets(file: &[u8], ids: impl Iterator<Item = u32>) -> Result<Vec<(u32, usize)>, String> {
    let bad = || "the SVG converter wrote an unreadable object table".to_string();
    // The last "\nxref\n": the table follows every object ("startxref" comes after it).
    let start = memchr::memmem::rfind(file, b"\nxref\n").ok_or_else(bad)?;
    let table = std::str::from_utf8(&file[start + 1..]).map_err(|_| bad())?;
    // "xref", "0 N", then one line per object number from 0.
    let entries: Vec<&str> = table.lines().skip(2).collect();
    ids.map(|id| {
        let entry = entries.get(id as usize).ok_or_else(bad)?;
        let offset = entry
            .get(..10)
            .and_then(|s| s.parse().ok())
            .ok_or_else(bad)?;
        Ok((id, offset))
    })
    .collect()
}

/// Whether `data` looks like an SVG document (or gzip, for SVGZ, checked by the parser).
pub fn sniff(data: &[u8]) -> bool {
    let head = &data[..data.len().min(4096)];
    let text = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let start = text
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .map_or(&[][..], |i| &text[i..]);
    (start.starts_with(b"<?xml") || start.starts_with(b"<svg") || start.starts_with(b"<!"))
        && memchr::memmem::find(head, b"<svg").is_some()
}

const GZIP: &[u8] = &[0x1F, 0x8B];

/// The largest SVG text Folio inflates from SVGZ data.
const MAX_INFLATED: u64 = 64 << 20;

/// Inflates SVGZ data, refusing what would grow past [`MAX_INFLATED`].
pub(crate) fn gunzip(data: &[u8]) -> Result<Vec<u8>, String> {
    let max = MAX_INFLATED;
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .take(max + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("the compressed SVG is damaged: {e}"))?;
    if out.len() as u64 > max {
        return Err(format!(
            "the compressed SVG inflates past {} MiB",
            max >> 20
        ));
    }
    Ok(out)
}

/// The fonts: DejaVu Sans in four styles, loaded once.
fn fonts() -> Arc<fontdb::Database> {
    static FONTS: OnceLock<Arc<fontdb::Database>> = OnceLock::new();
    FONTS
        .get_or_init(|| {
            let mut db = fontdb::Database::new();
            for face in [
                dejavu::sans::regular(),
                dejavu::sans::bold(),
                dejavu::sans::oblique(),
                dejavu::sans::bold_oblique(),
            ] {
                db.load_font_data(face.to_vec());
            }
            db.set_serif_family(FONT_FAMILY);
            db.set_sans_serif_family(FONT_FAMILY);
            db.set_monospace_family(FONT_FAMILY);
            db.set_cursive_family(FONT_FAMILY);
            db.set_fantasy_family(FONT_FAMILY);
            Arc::new(db)
        })
        .clone()
}

/// Parses an SVG the way Folio draws it: the bundled font; images only from `data:` URLs,
/// and only when their stated size is within `limits`; no file, URL or stylesheet loaded.
pub fn parse(data: &[u8], limits: &Limits) -> Result<usvg::Tree, String> {
    let limits = *limits;
    let options = usvg::Options {
        resources_dir: None,
        font_family: FONT_FAMILY.to_string(),
        fontdb: fonts(),
        image_href_resolver: ImageHrefResolver {
            resolve_data: Box::new(move |mime, data, options| {
                // A compressed SVG inside an SVG is inflated here, under the same cap.
                let data = if data.starts_with(GZIP) {
                    Arc::new(gunzip(&data).ok()?)
                } else {
                    data
                };
                let kind = (ImageHrefResolver::default_data_resolver())(mime, data, options)?;
                embedded_within(&kind, &limits).then_some(kind)
            }),
            // Relative paths and URLs: never followed.
            resolve_string: Box::new(|_, _| None),
        },
        ..usvg::Options::default()
    };
    let data = as_utf8(data)?;
    usvg::Tree::from_data(&data, &options).map_err(|e| format!("the SVG could not be read: {e}"))
}

/// The SVG's text as UTF-8, the only encoding the XML parser reads: text with a UTF-16 byte
/// order mark, or in the encoding its XML declaration names, is converted (and the
/// declaration made to say UTF-8).
fn as_utf8(data: &[u8]) -> Result<Cow<'_, [u8]>, String> {
    if let Some((encoding, _)) = encoding_rs::Encoding::for_bom(data) {
        let (text, _) = encoding.decode_with_bom_removal(data);
        return Ok(Cow::Owned(text.into_owned().into_bytes()));
    }
    if std::str::from_utf8(data).is_ok() {
        return Ok(Cow::Borrowed(data));
    }
    let declared = declared_encoding(data)
        .ok_or("the SVG is not UTF-8 and its XML declaration names no encoding")?;
    let encoding = encoding_rs::Encoding::for_label(declared.as_bytes())
        .ok_or_else(|| format!("the SVG's encoding {declared:?} is not known"))?;
    let (text, _, had_errors) = encoding.decode(data);
    if had_errors {
        return Err(format!("the SVG is not valid {declared} text"));
    }
    let quoted = |q: char| format!("encoding={q}{declared}{q}");
    let text = text
        .replacen(&quoted('"'), "encoding=\"UTF-8\"", 1)
        .replacen(&quoted('\''), "encoding='UTF-8'", 1);
    Ok(Cow::Owned(text.into_bytes()))
}

/// The `encoding` of a leading `<?xml ...?>` declaration (always ASCII).
fn declared_encoding(data: &[u8]) -> Option<String> {
    let head = &data[..data.len().min(200)];
    let rest = head.strip_prefix(b"<?xml")?;
    let end = memchr::memmem::find(rest, b"?>")?;
    let declaration = std::str::from_utf8(&rest[..end]).ok()?;
    let after = declaration.split_once("encoding")?.1.trim_start();
    let value = after.strip_prefix('=')?.trim_start();
    let quote = value.chars().next().filter(|q| *q == '"' || *q == '\'')?;
    Some(value[1..].split(quote).next()?.to_string())
}

/// Whether a raster image embedded in an SVG states a size within the limits (a nested SVG
/// is parsed already, so its size is known and small to draw).
fn embedded_within(kind: &ImageKind, limits: &Limits) -> bool {
    let data = match kind {
        ImageKind::JPEG(d) | ImageKind::PNG(d) | ImageKind::GIF(d) | ImageKind::WEBP(d) => d,
        ImageKind::SVG(_) => return true,
    };
    match imagesize::blob_size(data) {
        Ok(size) => {
            super::limits::check_size(size.width as u64, size.height as u64, limits).is_ok()
        }
        Err(_) => false,
    }
}

/// Converts an SVG into PDF objects; its size (in CSS pixels, rounded up) must be within
/// the limits, since filters are drawn as pixels at that size.
pub fn prepare(data: &[u8], limits: &Limits) -> Result<VectorArt, String> {
    let inflated;
    let data = if data.starts_with(GZIP) {
        inflated = gunzip(data)?;
        &inflated[..]
    } else {
        data
    };
    let tree = parse(data, limits)?;
    let size = tree.size();
    let (width, height) = (size.width() as f64, size.height() as f64);
    super::limits::check_size(width.ceil() as u64, height.ceil() as u64, limits)?;
    let options = svg2pdf::ConversionOptions {
        // Filters are rasterised at the page's own resolution and no finer.
        raster_scale: 1.0,
        ..svg2pdf::ConversionOptions::default()
    };
    let (chunk, form) = svg2pdf::to_chunk(&tree, options)
        .map_err(|e| format!("the SVG could not be converted: {e}"))?;
    Ok(VectorArt {
        width,
        height,
        chunk,
        form,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_svg_documents_only() {
        assert!(sniff(b"<svg xmlns='http://www.w3.org/2000/svg'/>"));
        assert!(sniff(b"\xEF\xBB\xBF\n <?xml version='1.0'?>\n<svg/>"));
        assert!(sniff(b"<!-- drawn by hand -->\n<svg/>"));
        assert!(!sniff(b"<html><body>not an image</body></html>"));
        assert!(!sniff(b"\x89PNG\r\n\x1a\n<svg"));
    }

    #[test]
    fn renumbered_objects_start_where_the_table_says() {
        let svg = br#"<svg xmlns="http://www.w3.org/2000/svg" width="20" height="10">
            <rect width="20" height="10" fill="red"/><text y="8" font-size="8">Hi</text></svg>"#;
        let art = prepare(svg, &Limits::default()).unwrap();
        assert_eq!((art.width, art.height), (20.0, 10.0));
        let mut n = 100;
        let out = art
            .renumber(|| {
                n += 1;
                n
            })
            .unwrap();
        assert!(out.objects.len() > 1, "a font and a drawing at least");
        for (id, offset) in &out.objects {
            assert!(out.bytes[*offset..].starts_with(format!("{id} 0 obj").as_bytes()));
        }
        assert!(out.objects.iter().any(|(id, _)| *id == out.form));
    }

    #[test]
    fn files_and_urls_are_never_loaded() {
        let svg = br#"<svg xmlns="http://www.w3.org/2000/svg"
            xmlns:xlink="http://www.w3.org/1999/xlink" width="10" height="10">
            <image width="10" height="10" xlink:href="/etc/passwd"/>
            <image width="10" height="10" xlink:href="https://example.com/a.png"/></svg>"#;
        let tree = parse(svg, &Limits::default()).unwrap();
        assert!(!tree.root().has_children());
    }

    #[test]
    fn svgz_bombs_are_refused() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut gz, b"<svg xmlns='http://www.w3.org/2000/svg'>").unwrap();
        for _ in 0..(MAX_INFLATED / (1 << 20)) + 1 {
            std::io::Write::write_all(&mut gz, &[b' '; 1 << 20]).unwrap();
        }
        let bomb = gz.finish().unwrap();
        assert!(bomb.len() < 1 << 20);
        let err = prepare(&bomb, &Limits::default()).unwrap_err();
        assert!(err.contains("inflates past 64 MiB"), "{err}");
    }

    #[test]
    fn oversized_drawings_are_refused() {
        let svg = br#"<svg xmlns="http://www.w3.org/2000/svg" width="90000" height="10"/>"#;
        let err = prepare(svg, &Limits::default()).unwrap_err();
        assert!(err.contains("90000x10"), "{err}");
    }

    #[test]
    fn text_in_other_encodings_becomes_utf8() {
        let utf8 = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><svg>Привет</svg>";
        let declared = utf8.replace("UTF-8", "windows-1251");
        let (cp1251, _, _) = encoding_rs::WINDOWS_1251.encode(&declared);
        assert_eq!(as_utf8(&cp1251).unwrap().as_ref(), utf8.as_bytes());
        let single = "<?xml version='1.0' encoding='ISO-8859-1'?><svg>caf\u{e9}</svg>";
        let (latin1, _, _) = encoding_rs::WINDOWS_1252.encode(single);
        assert_eq!(
            as_utf8(&latin1).unwrap().as_ref(),
            single.replace("ISO-8859-1", "UTF-8").as_bytes()
        );
        let mut utf16 = vec![0xFF, 0xFE];
        utf16.extend("<svg/>".encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(as_utf8(&utf16).unwrap().as_ref(), b"<svg/>");
        assert_eq!(as_utf8(utf8.as_bytes()).unwrap().as_ref(), utf8.as_bytes());
        assert!(
            as_utf8(b"<svg>\xff</svg>")
                .unwrap_err()
                .contains("names no encoding")
        );
        let unknown = b"<?xml version=\"1.0\" encoding=\"klingon\"?><svg>\xff</svg>";
        assert!(as_utf8(unknown).unwrap_err().contains("klingon"));
    }
}
