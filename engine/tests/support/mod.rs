//! Helpers of the engine tests: building PDFs, and asking qpdf and poppler about them.

#![allow(dead_code)]

pub mod corpus;
pub mod pillow;

use std::path::{Path, PathBuf};
use std::process::Command;

use folio_engine::pdf::{PdfBuilder, PdfOptions};
use image::{DynamicImage, RgbImage};

pub struct Pdf {
    pub dir: PathBuf,
    pub path: PathBuf,
    pub bytes: Vec<u8>,
}

fn tool(name: &str) -> Command {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output();
    assert!(
        found.is_ok_and(|o| o.status.success()),
        "{name} is not installed: `make test` installs it (scripts/system-deps.sh)"
    );
    Command::new(name)
}

fn run(command: &mut Command) -> String {
    let out = command.output().expect("the tool runs");
    assert!(
        out.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Pdf {
    pub fn build(images: &[(Vec<u8>, u16)]) -> Pdf {
        Pdf::build_with(images, PdfOptions::default())
    }

    pub fn build_with(images: &[(Vec<u8>, u16)], options: PdfOptions) -> Pdf {
        let mut builder = PdfBuilder::new(Vec::new(), options).unwrap();
        for (i, (data, rotate)) in images.iter().enumerate() {
            builder
                .add_image(i, data.clone(), *rotate)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let summary = builder.finish().unwrap();
        assert!(
            summary.pages >= images.len(),
            "every input makes at least one page"
        );
        assert_eq!(summary.bytes as usize, summary.sink.len());
        Pdf::from_bytes(summary.sink)
    }

    pub fn from_bytes(bytes: Vec<u8>) -> Pdf {
        let dir =
            std::env::temp_dir().join(format!("folio-pdf-tests/{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out.pdf");
        std::fs::write(&path, &bytes).unwrap();
        Pdf { dir, path, bytes }
    }

    /// `qpdf --check` finds no error (it exits non-zero on errors, 3 on warnings).
    pub fn check(&self) {
        let out = tool("qpdf")
            .arg("--check")
            .arg(&self.path)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "qpdf --check: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn page_count(&self) -> usize {
        let info = run(tool("pdfinfo").arg(&self.path));
        info.lines()
            .find_map(|l| l.strip_prefix("Pages:"))
            .and_then(|n| n.trim().parse().ok())
            .expect("pdfinfo reports the page count")
    }

    /// Page sizes in points, as poppler reads them.
    pub fn page_sizes(&self) -> Vec<(f64, f64)> {
        let n = self.page_count();
        let info = run(tool("pdfinfo")
            .args(["-f", "1", "-l", &n.to_string()])
            .arg(&self.path));
        info.lines()
            .filter(|l| l.starts_with("Page") && l.contains(" size:"))
            .map(|l| {
                let dims: Vec<f64> = l
                    .split_once("size:")
                    .unwrap()
                    .1
                    .split_whitespace()
                    .filter_map(|w| w.parse().ok())
                    .collect();
                (dims[0], dims[1])
            })
            .collect()
    }

    /// Page `page` (1-based) rendered by poppler at `dpi`. pdftocairo, not pdftoppm: the
    /// latter's Splash backend resamples images even at 1:1, so no render would be exact.
    pub fn render(&self, page: usize, dpi: f64) -> RgbImage {
        let prefix = self.dir.join(format!("page{page}"));
        run(tool("pdftocairo")
            .args([
                "-r",
                &dpi.to_string(),
                "-f",
                &page.to_string(),
                "-l",
                &page.to_string(),
            ])
            .args(["-png", "-singlefile"])
            .arg(&self.path)
            .arg(&prefix));
        image::open(prefix.with_extension("png")).unwrap().to_rgb8()
    }

    /// Page `page` rendered to exactly `w` x `h` pixels, whatever its size in points.
    pub fn render_to(&self, page: usize, w: u32, h: u32) -> RgbImage {
        let prefix = self.dir.join(format!("page{page}-{w}x{h}"));
        run(tool("pdftocairo")
            .args(["-f", &page.to_string(), "-l", &page.to_string()])
            .args(["-scale-to-x", &w.to_string(), "-scale-to-y", &h.to_string()])
            // A page of a fractional number of points rounds up a pixel: crop to the size.
            .args(["-W", &w.to_string(), "-H", &h.to_string()])
            .args(["-png", "-singlefile"])
            .arg(&self.path)
            .arg(&prefix));
        image::open(prefix.with_extension("png")).unwrap().to_rgb8()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    /// The data of every stream whose dictionary contains `marker`.
    pub fn streams_with(&self, marker: &str) -> Vec<&[u8]> {
        let b = &self.bytes;
        let mut found = Vec::new();
        let mut at = 0;
        while let Some(start) = find(&b[at..], b"stream\n").map(|i| at + i) {
            if start >= 3 && &b[start - 3..start] == b"end" {
                at = start + 1;
                continue;
            }
            let dict_start = rfind(&b[..start], b"obj\n<<").unwrap_or(0);
            let dict = String::from_utf8_lossy(&b[dict_start..start]);
            let length: usize = dict
                .split("/Length ")
                .nth(1)
                .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            let data_start = start + b"stream\n".len();
            if dict.contains(marker) && !dict.contains("endstream") {
                found.push(&b[data_start..data_start + length]);
            }
            at = data_start + length;
        }
        found
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}

pub fn encode(image: &DynamicImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, format).unwrap();
    out.into_inner()
}

pub fn max_diff(a: &RgbImage, b: &RgbImage) -> u8 {
    assert_eq!(
        a.dimensions(),
        b.dimensions(),
        "render and source differ in size"
    );
    a.as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| x.abs_diff(*y))
        .max()
        .unwrap_or(0)
}

pub fn mean_diff(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(
        a.dimensions(),
        b.dimensions(),
        "render and source differ in size"
    );
    let sum: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| x.abs_diff(*y) as u64)
        .sum();
    sum as f64 / a.as_raw().len() as f64
}

fn chunk(kind: &[u8], body: &[u8]) -> Vec<u8> {
    let mut crc = flate2::Crc::new();
    crc.update(kind);
    crc.update(body);
    let mut v = (body.len() as u32).to_be_bytes().to_vec();
    v.extend_from_slice(kind);
    v.extend_from_slice(body);
    v.extend_from_slice(&crc.sum().to_be_bytes());
    v
}

/// A PNG with an `eXIf` chunk holding the orientation (little-endian TIFF).
pub fn png_with_exif_orientation(picture: &RgbImage, orientation: u8) -> Vec<u8> {
    let png = encode(
        &DynamicImage::ImageRgb8(picture.clone()),
        image::ImageFormat::Png,
    );
    let mut exif = b"II\x2a\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0".to_vec();
    exif.extend_from_slice(&[orientation, 0, 0, 0, 0, 0, 0, 0]);
    let after_ihdr = 8 + 25;
    let mut out = png[..after_ihdr].to_vec();
    out.extend(chunk(b"eXIf", &exif));
    out.extend_from_slice(&png[after_ihdr..]);
    out
}

/// A PNG made of a header that claims `w`x`h`, and nothing else.
pub fn huge_png_header(w: u32, h: u32) -> Vec<u8> {
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(chunk(b"IHDR", &ihdr));
    out.extend(chunk(b"IEND", b""));
    out
}

/// An 8-bit palette PNG of four colours.
pub fn palette_png(w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, w, h);
        encoder.set_color(png::ColorType::Indexed);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_palette(vec![255, 0, 0, 0, 255, 0, 0, 0, 255, 250, 250, 10]);
        let mut writer = encoder.write_header().unwrap();
        let data: Vec<u8> = (0..w * h).map(|i| ((i % w + i / w) % 4) as u8).collect();
        writer.write_image_data(&data).unwrap();
    }
    out
}

/// The corpus directory from `FOLIO_CORPUS`; a test that needs it fails without it.
pub fn corpus_dir() -> PathBuf {
    let dir = std::env::var_os("FOLIO_CORPUS")
        .map(PathBuf::from)
        .expect("FOLIO_CORPUS is not set: point it at shared/corpus (make test does)");
    assert!(
        dir.is_dir(),
        "FOLIO_CORPUS={} is not a directory",
        dir.display()
    );
    dir
}

pub fn corpus(name: &str) -> Vec<u8> {
    let path: PathBuf = corpus_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", Path::new(&path).display()))
}

/// Asserts two pictures are equal, reporting sizes and where they differ (not the pixels).
#[track_caller]
pub fn assert_same(rendered: &RgbImage, expected: &RgbImage, what: &str) {
    assert_eq!(
        rendered.dimensions(),
        expected.dimensions(),
        "{what}: rendered size differs from the source"
    );
    let first = rendered
        .enumerate_pixels()
        .find(|(x, y, p)| *p != expected.get_pixel(*x, *y))
        .map(|(x, y, p)| (x, y, *p, *expected.get_pixel(x, y)));
    assert!(
        first.is_none(),
        "{what}: max diff {}, mean {:.3}; first at {:?}",
        max_diff(rendered, expected),
        mean_diff(rendered, expected),
        first
    );
}

/// A reference decode by OpenJPEG's `opj_decompress`.
pub fn openjpeg_decode(name: &str) -> RgbImage {
    let dir =
        std::env::temp_dir().join(format!("folio-pdf-tests/{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("reference.png");
    run(tool("opj_decompress")
        .arg("-i")
        .arg(corpus_dir().join(name))
        .arg("-o")
        .arg(&out)
        // Components sampled differently are brought to the image grid.
        .arg("-upsample"));
    over_white(&image::open(&out).unwrap().to_rgba8())
}

/// A reference decode of a TIFF the image crate cannot read (fax data in reverse bit order,
/// Group 3): libtiff's `tiffcp` rewrites it uncompressed, which the image crate reads.
pub fn libtiff_decode(path: &Path) -> Option<RgbImage> {
    let dir =
        std::env::temp_dir().join(format!("folio-pdf-tests/{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).ok()?;
    let out = dir.join("reference.tif");
    run(tool("tiffcp")
        .args(["-c", "none", "-f", "msb2lsb"])
        .arg(path)
        .arg(&out));
    if let Ok(copied) = image::open(&out) {
        return Some(copied.to_rgb8());
    }
    // Kinds the image crate does not read either (CIELab, 1-bit palette): libtiff's own
    // conversion to RGBA.
    let rgba = dir.join("reference-rgba.tif");
    let converted = tool("tiff2rgba")
        .args(["-c", "none"])
        .arg(path)
        .arg(&rgba)
        .output()
        .ok()?;
    if !converted.status.success() {
        return None;
    }
    Some(over_white(&image::open(&rgba).ok()?.to_rgba8()))
}

/// A JBIG2 file as jbig2dec decodes it.
pub fn jbig2dec_decode(path: &Path) -> RgbImage {
    let out = std::env::temp_dir().join(format!("folio-jbig2-{}.png", uuid::Uuid::new_v4()));
    run(tool("jbig2dec")
        .args(["-t", "png", "-o"])
        .arg(&out)
        .arg(path));
    let picture = image::open(&out).unwrap().to_rgb8();
    std::fs::remove_file(&out).unwrap();
    picture
}

/// An RGBA picture as a PDF page shows it: composited over white.
pub fn over_white(rgba: &image::RgbaImage) -> RgbImage {
    RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let p = rgba.get_pixel(x, y);
        let a = p[3] as f64 / 255.0;
        image::Rgb([0, 1, 2].map(|c| (p[c] as f64 * a + 255.0 * (1.0 - a)).round() as u8))
    })
}

/// A reference render of an SVG by resvg, from the tree Folio parses (same font, same
/// refusals of external files), at one pixel per CSS pixel, over white.
pub fn resvg_render(svg: &[u8]) -> RgbImage {
    let tree = folio_engine::formats::svg::parse(svg, &Default::default()).unwrap();
    let size = tree.size();
    let (w, h) = (size.width().ceil() as u32, size.height().ceil() as u32);
    let mut pixmap = resvg::tiny_skia::Pixmap::new(w, h).unwrap();
    resvg::render(&tree, Default::default(), &mut pixmap.as_mut());
    // Premultiplied: over white is the colour plus white times the transparency.
    RgbImage::from_fn(w, h, |x, y| {
        let p = pixmap.pixel(x, y).unwrap();
        let a = p.alpha() as u16;
        image::Rgb([p.red(), p.green(), p.blue()].map(|c| (c as u16 + 255 - a).min(255) as u8))
    })
}

/// How a test JPEG is coded by libjpeg-turbo (the processes PDF readers cannot show).
#[derive(Clone, Copy)]
pub struct JpegCoding {
    /// Bits a sample: 8 or 12 for DCT, 2 to 16 for lossless.
    pub precision: u8,
    pub lossless: bool,
    pub arithmetic: bool,
    /// Lossy only.
    pub quality: u8,
    pub subsampling: i32,
}

impl JpegCoding {
    pub fn dct(precision: u8, quality: u8) -> JpegCoding {
        JpegCoding {
            precision,
            lossless: false,
            arithmetic: false,
            quality,
            subsampling: turbojpeg_sys::TJSAMP_TJSAMP_444,
        }
    }

    pub fn lossless(precision: u8) -> JpegCoding {
        JpegCoding {
            lossless: true,
            ..JpegCoding::dct(precision, 100)
        }
    }
}

/// Encodes interleaved samples (1 or 3 a pixel, each under 2^precision) as a JPEG with
/// libjpeg-turbo.
pub fn turbo_jpeg(samples: &[u16], width: u32, components: u8, coding: JpegCoding) -> Vec<u8> {
    use std::ffi::c_int;
    use turbojpeg_sys as tj;
    let height = samples.len() / (width as usize * components as usize);
    let format = if components == 1 {
        tj::TJPF_TJPF_GRAY
    } else {
        tj::TJPF_TJPF_RGB
    };
    let subsampling = if components == 1 {
        tj::TJSAMP_TJSAMP_GRAY
    } else {
        coding.subsampling
    };
    let pitch = (width * components as u32) as c_int;
    unsafe {
        let handle = tj::tj3Init(tj::TJINIT_TJINIT_COMPRESS as c_int);
        assert!(!handle.is_null());
        let set = |param: tj::TJPARAM, value: i32| {
            assert_eq!(
                tj::tj3Set(handle, param as c_int, value),
                0,
                "tj3Set {param}"
            );
        };
        set(tj::TJPARAM_TJPARAM_SUBSAMP, subsampling);
        set(tj::TJPARAM_TJPARAM_PRECISION, coding.precision.into());
        set(tj::TJPARAM_TJPARAM_ARITHMETIC, coding.arithmetic as i32);
        if coding.lossless {
            set(tj::TJPARAM_TJPARAM_LOSSLESS, 1);
            set(tj::TJPARAM_TJPARAM_LOSSLESSPSV, 1);
        } else {
            set(tj::TJPARAM_TJPARAM_QUALITY, coding.quality.into());
        }
        let mut out: *mut u8 = std::ptr::null_mut();
        let mut size: tj::size_t = 0;
        let (w, h) = (width as c_int, height as c_int);
        let status = if coding.precision <= 8 {
            let bytes: Vec<u8> = samples.iter().map(|&s| s as u8).collect();
            tj::tj3Compress8(
                handle,
                bytes.as_ptr(),
                w,
                pitch,
                h,
                format,
                &mut out,
                &mut size,
            )
        } else if coding.precision <= 12 {
            let shorts: Vec<i16> = samples.iter().map(|&s| s as i16).collect();
            tj::tj3Compress12(
                handle,
                shorts.as_ptr(),
                w,
                pitch,
                h,
                format,
                &mut out,
                &mut size,
            )
        } else {
            tj::tj3Compress16(
                handle,
                samples.as_ptr(),
                w,
                pitch,
                h,
                format,
                &mut out,
                &mut size,
            )
        };
        let message = std::ffi::CStr::from_ptr(tj::tj3GetErrorStr(handle))
            .to_string_lossy()
            .into_owned();
        assert_eq!(status, 0, "libjpeg-turbo: {message}");
        let jpeg = std::slice::from_raw_parts(out, size as usize).to_vec();
        tj::tj3Free(out.cast());
        tj::tj3Destroy(handle);
        jpeg
    }
}

/// An uncompressed single-strip little-endian TIFF of `samples` samples of `bits` bits a
/// pixel, with a colour map when one is given (16-bit R, then G, then B entries).
pub fn plain_tiff(
    (w, h): (u32, u32),
    photometric: u16,
    samples: u16,
    bits: u16,
    pixels: &[u8],
    color_map: Option<&[u16]>,
) -> Vec<u8> {
    const SHORT: u16 = 3;
    const LONG: u16 = 4;
    let bits_values = vec![bits; samples as usize];
    let mut entries: Vec<(u16, u16, Vec<u32>)> = vec![
        (256, LONG, vec![w]),
        (257, LONG, vec![h]),
        (258, SHORT, bits_values.iter().map(|&b| b.into()).collect()),
        (259, SHORT, vec![1]),
        (262, SHORT, vec![photometric.into()]),
        (273, LONG, vec![0]), // the strip's offset, set below
        (277, SHORT, vec![samples.into()]),
        (278, LONG, vec![h]),
        (279, LONG, vec![pixels.len() as u32]),
    ];
    if let Some(map) = color_map {
        entries.push((320, SHORT, map.iter().map(|&v| v.into()).collect()));
    }
    let ifd_len = 2 + entries.len() * 12 + 4;
    // Values over 4 bytes go after the directory, then the pixels.
    let mut extra = Vec::new();
    let extra_at = 8 + ifd_len;
    let mut out_of_line = Vec::new();
    for (_, kind, values) in &entries {
        let size = if *kind == SHORT { 2 } else { 4 };
        if values.len() * size > 4 {
            out_of_line.push(Some((extra_at + extra.len()) as u32));
            for v in values {
                if *kind == SHORT {
                    extra.extend_from_slice(&(*v as u16).to_le_bytes());
                } else {
                    extra.extend_from_slice(&v.to_le_bytes());
                }
            }
        } else {
            out_of_line.push(None);
        }
    }
    let pixels_at = (extra_at + extra.len()) as u32;
    let mut file = b"II*\0\x08\0\0\0".to_vec();
    file.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    for ((tag, kind, values), offset) in entries.iter().zip(out_of_line) {
        file.extend_from_slice(&tag.to_le_bytes());
        file.extend_from_slice(&kind.to_le_bytes());
        file.extend_from_slice(&(values.len() as u32).to_le_bytes());
        let mut inline = [0u8; 4];
        match offset {
            Some(at) => inline = at.to_le_bytes(),
            None if *tag == 273 => inline = pixels_at.to_le_bytes(),
            None if *kind == SHORT => {
                for (i, v) in values.iter().enumerate() {
                    inline[i * 2..i * 2 + 2].copy_from_slice(&(*v as u16).to_le_bytes());
                }
            }
            None => inline = values[0].to_le_bytes(),
        }
        file.extend_from_slice(&inline);
    }
    file.extend_from_slice(&[0; 4]);
    file.extend_from_slice(&extra);
    file.extend_from_slice(pixels);
    file
}

/// `avifenc` (libavif with libaom, at speed 8) on `source`, into `dir/name`, with `args`.
pub fn avifenc(dir: &Path, source: &Path, name: &str, args: &[&str]) -> PathBuf {
    let out = dir.join(name);
    run(tool("avifenc")
        .args(["-s", "8"])
        .args(args)
        .arg(source)
        .arg(&out));
    out
}

/// A fresh directory for one test's files.
pub fn work_dir(purpose: &str) -> PathBuf {
    let dir = std::env::temp_dir()
        .join(purpose)
        .join(uuid::Uuid::new_v4().simple().to_string());
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `bytes` to `dir/name`.
pub fn save(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Converts with the default limits; panics with the refusal.
pub fn run_plan(
    data: &[u8],
    plan: &folio_engine::convert::Plan,
) -> folio_engine::convert::Converted {
    folio_engine::convert(data, plan, &folio_engine::formats::Limits::default())
        .unwrap_or_else(|e| panic!("{e}"))
}
