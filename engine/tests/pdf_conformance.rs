//! Conformance over the third-party corpus (`FOLIO_CORPUS`): every file either converts to
//! a PDF that qpdf accepts and whose render matches a reference decode, or is refused with
//! a clean error. No file may panic. The test prints the counts.

mod support;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use folio_engine::pdf::{PdfBuilder, PdfError, PdfOptions};
use image::{DynamicImage, ImageDecoder, ImageReader, RgbImage};
use support::*;

/// Marked "expect error" in the corpus README: corrupt, truncated or hostile. Refusing them
/// is the right answer; those marked "or lenient"/"or partial" there may also convert.
const CORRUPT: &[&str] = &[
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
const NOT_YET: &[(&str, &str)] = &[];

/// Files that convert but that no reference decoder here reads; they are checked by qpdf
/// and rendered, not compared.
const NO_REFERENCE: &[(&str, &str)] = &[
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

fn not_yet(name: &str) -> Option<&'static str> {
    NOT_YET.iter().find_map(|(pattern, why)| {
        let matches = match pattern.split_once('*') {
            Some((prefix, suffix)) => name.starts_with(prefix) && name.ends_with(suffix),
            None => name == *pattern,
        };
        matches.then_some(*why)
    })
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
const JPEG_IN_TIFF: &[&str] = &[
    "image-rs/ycbcr_jpeg_8bit.tif",
    "pillow/tiff_tiled_ycbcr_jpeg_2x2_sampling.tif",
];

/// How close a render must be to the reference decode, by how the page carries the image.
enum Tolerance {
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
    fn of(name: &str, pdf: &Pdf) -> Tolerance {
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

    fn accepts(&self, max: u8, mean: f64) -> bool {
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
fn reference(name: &str, path: &Path) -> Option<RgbImage> {
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

#[test]
fn every_corpus_file_converts_or_is_refused_cleanly() {
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

    let (mut converted, mut refused_corrupt, mut refused_not_yet, mut lenient) = (0, 0, 0, 0);
    let mut failures = Vec::new();
    for path in &all {
        let name = path
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let data = std::fs::read(path).unwrap();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let mut pdf = PdfBuilder::new(Vec::new(), PdfOptions::default()).unwrap();
            pdf.add_image(0, data.clone(), 0)?;
            pdf.finish()
        }));
        match outcome {
            Err(_) => failures.push(format!("{name}: panicked")),
            Ok(Err(PdfError::Image { reason, .. })) => {
                if CORRUPT.contains(&name.as_str()) {
                    refused_corrupt += 1;
                } else if let Some(why) = not_yet(&name) {
                    refused_not_yet += 1;
                    println!("not yet supported ({why}): {name}: {reason}");
                } else {
                    failures.push(format!("{name}: refused a valid file: {reason}"));
                }
            }
            Ok(Err(other)) => failures.push(format!("{name}: {other}")),
            Ok(Ok(summary)) => {
                if CORRUPT.contains(&name.as_str()) {
                    lenient += 1;
                }
                let pdf = Pdf::from_bytes(summary.sink);
                let checked = std::process::Command::new("qpdf")
                    .arg("--check")
                    .arg(&pdf.path)
                    .output()
                    .unwrap();
                if checked.status.code() != Some(0) {
                    failures.push(format!(
                        "{name}: qpdf --check: {}",
                        String::from_utf8_lossy(&checked.stdout)
                            .lines()
                            .last()
                            .unwrap_or_default()
                    ));
                    continue;
                }
                let unreferenced = NO_REFERENCE.iter().find(|(n, _)| *n == name);
                match reference(&name, path) {
                    None if CORRUPT.contains(&name.as_str()) => {}
                    None if unreferenced.is_some() => {
                        pdf.render(1, 72.0);
                        println!(
                            "converted, not compared ({}): {name}",
                            unreferenced.map_or("", |u| u.1)
                        );
                    }
                    None => failures.push(format!(
                        "{name}: converted, but no reference decoder reads it"
                    )),
                    Some(expected) => {
                        let tolerance = Tolerance::of(&name, &pdf);
                        let (w, h) = expected.dimensions();
                        let rendered = pdf.render_to(1, w, h);
                        let (max, mean) = (
                            max_diff(&rendered, &expected),
                            mean_diff(&rendered, &expected),
                        );
                        // Vector tolerance is loose on edges; it must still be far
                        // closer than an empty page (a drawing left out would not be).
                        let blank = RgbImage::from_pixel(w, h, image::Rgb([255; 3]));
                        let empty = mean_diff(&blank, &expected);
                        let drawn = matches!(tolerance, Tolerance::Vector)
                            .then(|| empty == 0.0 || mean < empty / 4.0)
                            .unwrap_or(true);
                        if !tolerance.accepts(max, mean) || !drawn {
                            // Kept beside the PDF for a look.
                            rendered.save(pdf.dir.join("rendered.png")).unwrap();
                            expected.save(pdf.dir.join("expected.png")).unwrap();
                            failures.push(format!("{name}: render differs from the reference: max {max}, mean {mean:.2} (an empty page: {empty:.2}); renders in {}", pdf.dir.display()));
                        }
                    }
                }
                converted += 1;
            }
        }
    }
    println!(
        "corpus: {} files; {converted} converted ({lenient} of them marked corrupt but decodable), \
         {refused_corrupt} corrupt files refused, {refused_not_yet} refused as not yet supported, {} failures",
        all.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} files failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
