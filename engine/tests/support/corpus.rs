//! The third-party corpus (`FOLIO_CORPUS`): which files are corrupt, which no reference
//! decoder reads, and the reference decode each converted file is compared with.

use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageDecoder, ImageReader, RgbImage};

use super::*;

/// Marked "expect error" in the corpus README: corrupt, truncated or hostile. Refusing them
/// is the right answer; those marked "or lenient"/"or partial" there may also convert.
pub const CORRUPT: &[&str] = &[
    "pngsuite/xs1n0g01.png",
    "pngsuite/xs2n0g01.png",
    "pngsuite/xs4n0g01.png",
    "pngsuite/xs7n0g01.png",
    "pngsuite/xcrn0g04.png",
    "pngsuite/xhdn0g08.png",
    "pngsuite/xc1n0g08.png",
    "pngsuite/xc9n2c08.png",
    "pngsuite/xd0n2c08.png",
    "pngsuite/xd3n2c08.png",
    "pngsuite/xd9n2c08.png",
    "pngsuite/xdtn0g01.png",
    "pngsuite/xlfn0g04.png",
    "pngsuite/xcsn0g01.png",
    "image-png-extra/x_ihdr_missing.png",
    "image-png-extra/x_unexpected_eof.png",
    "pillow/broken.png",
    "pillow/png_decompression_dos.png",
    "pillow/truncated_image.png",
    "pillow/not_enough_data.jp2",
    "pillow/crash-4fb027452e6988530aa5dabee76eecacb3b79f8a.j2k",
    "pillow/balloon_eciRGBv2_aware.jp2",
    "pillow/truncated_jpeg.jpg",
    "pillow/truncated_app14.jpg",
    "pillow/ultrahdr.jpg",
    "pillow/decompression_bomb.gif",
    "pillow/decompression_bomb_extents.gif",
    "bmpsuite/b/badbitcount.bmp",
    "bmpsuite/b/badheadersize.bmp",
    "bmpsuite/b/badpalettesize.bmp",
    "bmpsuite/b/badrle.bmp",
    "bmpsuite/b/badwidth.bmp",
    "bmpsuite/b/pal8badindex.bmp",
    "bmpsuite/b/rletopdown.bmp",
    "bmpsuite/b/shortfile.bmp",
    "bmpsuite/b/reallybig.bmp",
    "image-rs/oss-fuzz-36829.jpeg",
    "image-rs/cmyk_u8_trunc_case.tif",
    "image-rs/pal4rlecut.bmp",
    "image-rs/rle_overflow.bmp",
    "image-rs/Bad_height.bmp",
    "image-rs/Bad_width.bmp",
    "pillow/hopper_idat_after_image_end.png",
    "pillow/junk_jpeg_header.jpg",
    // "expect error or default size": refused, as resvg does.
    "resvg/zero-size.svg",
    "resvg/negative-size.svg",
];

/// Valid files of kinds Folio does not convert yet. Each must still be refused cleanly;
/// take a name out when its kind is supported, and the test holds Folio to it.
pub const NOT_YET: &[(&str, &str)] = &[];

/// Files that convert but that no reference decoder here reads; they are checked by qpdf
/// and rendered, not compared.
pub const NO_REFERENCE: &[(&str, &str)] = &[
    (
        "pillow/12bit.cropped.tif",
        "neither the image crate nor libtiff's tools read 12-bit TIFF",
    ),
    (
        "pillow/no_palette.gif",
        "the image crate refuses a GIF without any colour table",
    ),
    (
        "image-png-extra/x_consecutive_idat.png",
        "the png crate refuses IDAT chunks split by another chunk",
    ),
    (
        "pillow/truncated_end_chunk.png",
        "the png crate needs the IEND chunk",
    ),
    (
        "pillow/hopper_gray_4bpp.tif",
        "the image crate does not read 4-bit TIFF",
    ),
];

pub fn not_yet(name: &str) -> Option<&'static str> {
    NOT_YET.iter().find_map(|(pattern, why)| {
        let matches = match pattern.split_once('*') {
            Some((prefix, suffix)) => name.starts_with(prefix) && name.ends_with(suffix),
            None => name == *pattern,
        };
        matches.then_some(*why)
    })
}

/// Every image of the corpus, sorted, with its name (the path below the corpus, with `/`).
/// Fails when the corpus looks incomplete: the tests that use it must not pass on a part.
pub fn all_files() -> Vec<(String, PathBuf)> {
    let root = corpus_dir();
    let mut all = Vec::new();
    files(&root, &mut all);
    all.sort();
    assert!(
        all.len() > 300,
        "the corpus at {} looks incomplete: {} files",
        root.display(),
        all.len()
    );
    all.into_iter()
        .map(|path| {
            let name = path
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            (name, path)
        })
        .collect()
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else {
            let name = path.file_name().unwrap().to_string_lossy().to_lowercase();
            let is_doc = name.ends_with(".md")
                || name.ends_with(".txt")
                || name.ends_with(".toml")
                || name.contains("license")
                || name.contains("readme");
            if !is_doc {
                out.push(path);
            }
        }
    }
}

/// TIFFs of JPEG data that the tiff crate (zune-jpeg) decodes for Folio and libtiff (libjpeg)
/// for the reference: upsampling and rounding differ by a few units.
pub const JPEG_IN_TIFF: &[&str] = &[
    "image-rs/ycbcr_jpeg_8bit.tif",
    "pillow/tiff_tiled_ycbcr_jpeg_2x2_sampling.tif",
];

/// How close a render must be to the reference decode, by how the page carries the image.
pub enum Tolerance {
    /// Lossless paths: alpha compositing may round by a unit or two.
    Exact,
    /// JPEG data decoded by another decoder than the reference's.
    Jpeg,
    /// Colour converted differently: poppler applies ICC profiles and its own CMYK and Lab
    /// conversions, the reference neither (libtiff shows Lab white as (255, 252, 222)). (An inverted CMYK page is off by about 180.)
    ColourManaged,
    /// A JPEG compared with the lossless picture it was made from: its own loss counts.
    LossyAgainstOriginal,
    /// Vectors: cairo and resvg smooth edges each their own way (a detailed 80-pixel
    /// icon differs by a mean of 5.4; an empty page by 96).
    Vector,
}

impl Tolerance {
    pub fn of(name: &str, pdf: &Pdf) -> Tolerance {
        let text = pdf.text();
        if name.ends_with(".svg") {
            Tolerance::Vector
        } else if name == "bmpsuite/q/rgb24jpeg.bmp" {
            Tolerance::LossyAgainstOriginal
        } else if text.contains("/ICCBased")
            || text.contains("/DeviceCMYK")
            || text.contains("/Lab")
        {
            Tolerance::ColourManaged
        } else if text.contains("/DCTDecode") || JPEG_IN_TIFF.contains(&name) {
            Tolerance::Jpeg
        } else {
            Tolerance::Exact
        }
    }

    pub fn accepts(&self, max: u8, mean: f64) -> bool {
        match self {
            Tolerance::Exact => max <= 3,
            Tolerance::Jpeg => mean < 3.0,
            Tolerance::ColourManaged => mean < 24.0,
            Tolerance::Vector => mean < 8.0,
            Tolerance::LossyAgainstOriginal => mean < 6.0,
        }
    }
}

/// The reference picture: decoded by the image crate (OpenJPEG for JPEG 2000, jbig2dec for
/// JBIG2), oriented, composited over white as a PDF page shows it.
pub fn reference(name: &str, path: &Path) -> Option<RgbImage> {
    if name.ends_with(".jp2") || name.ends_with(".j2k") {
        return Some(openjpeg_decode(name));
    }
    if name == "resvg/not-UTF-8-encoding.svg" {
        // Converted by iconv, then drawn as any UTF-8 SVG.
        let out = std::process::Command::new("iconv")
            .args(["-f", "WINDOWS-1251", "-t", "UTF-8"])
            .arg(path)
            .output()
            .ok()?;
        let text = String::from_utf8(out.stdout).ok()?;
        let text = text.replace("encoding=\"Windows-1251\"", "encoding=\"UTF-8\"");
        return Some(resvg_render(text.as_bytes()));
    }
    if name.ends_with(".jb2") {
        return Some(jbig2dec_decode(path));
    }
    if name.ends_with(".svg") {
        return Some(resvg_render(&std::fs::read(path).ok()?));
    }
    // BMPs the image crate does not read show the picture of a plain sibling (bmpsuite says
    // so): those holding a JPEG or PNG, alpha bitfields, an oversized palette.
    let sibling = match name {
        "bmpsuite/q/rgb24jpeg.bmp" | "bmpsuite/q/rgb24png.bmp" => Some("g/rgb24.bmp"),
        "bmpsuite/q/rgba32abf.bmp" => Some("q/rgba32.bmp"),
        "bmpsuite/q/pal8oversizepal.bmp" => Some("g/pal8.bmp"),
        _ => None,
    };
    if let Some(sibling) = sibling {
        let path = path.with_file_name(format!("../{sibling}"));
        return reference(&format!("bmpsuite/{sibling}"), &path);
    }
    let is_tiff = name.ends_with(".tif") || name.ends_with(".tiff");
    let decoder = ImageReader::open(path)
        .ok()?
        .with_guessed_format()
        .ok()?
        .into_decoder();
    let mut decoder = match decoder {
        Ok(decoder) => decoder,
        Err(_) if is_tiff => return libtiff_decode(path),
        Err(_) => return None,
    };
    let orientation = decoder.orientation().ok();
    let mut picture = match DynamicImage::from_decoder(decoder) {
        Ok(picture) => picture,
        Err(_) if is_tiff => return libtiff_decode(path),
        Err(_) => return None,
    };
    if let Some(o) = orientation {
        picture.apply_orientation(o);
    }
    Some(over_white(&picture.to_rgba8()))
}
