//! AVIF in and out. What Folio writes is decoded by Pillow (libavif with dav1d or aom, code
//! Folio does not use) and by Debian's `avifdec`; what Folio reads is made by `avifenc`
//! (libavif with libaom) in every form a still AVIF takes (sampling, depth, range, alpha,
//! premultiplied alpha, grids, turns, mirrors, clean apertures, colour code points) and
//! compared with Pillow's decode of the same file.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use folio_engine::convert::{self, ConvertError, Format, Plan, Target};
use folio_engine::formats::Limits;
use image::{DynamicImage, GrayImage, Luma, Rgb, RgbImage, Rgba, RgbaImage};
use support::pillow::{self, Request};
use support::*;

fn work_dir() -> PathBuf {
    support::work_dir("folio-avif-tests")
}

fn plan(format: Format, f: impl FnOnce(&mut Plan)) -> Plan {
    let mut plan = Plan {
        target: Target {
            format,
            ..Target::default()
        },
        ..Plan::default()
    };
    f(&mut plan);
    plan
}

fn run(data: &[u8], plan: &Plan) -> convert::Converted {
    run_plan(data, plan)
}

fn png(image: &DynamicImage) -> Vec<u8> {
    encode(image, image::ImageFormat::Png)
}

/// Gradients, hard edges and a transparent band (when `alpha`).
fn picture(w: u32, h: u32, alpha: bool) -> DynamicImage {
    let rgba = RgbaImage::from_fn(w, h, |x, y| {
        let edge = if (x / 16 + y / 16) % 5 == 0 { 60 } else { 0 };
        let a = match alpha {
            true if y < h / 4 => 0,
            true => (64 + x * 191 / w) as u8,
            false => 255,
        };
        Rgba([
            (x * 255 / w) as u8,
            (y * 255 / h) as u8,
            ((x + y) * 255 / (w + h)).saturating_sub(edge) as u8,
            a,
        ])
    });
    match alpha {
        true => DynamicImage::ImageRgba8(rgba),
        false => DynamicImage::ImageRgb8(DynamicImage::ImageRgba8(rgba).to_rgb8()),
    }
}

#[test]
fn avif_output_decodes_in_libavif_within_its_own_encoders_loss() {
    let dir = work_dir();
    let source = picture(160, 96, false);
    let original = save(&dir, "source.png", &png(&source));
    let data = std::fs::read(&original).unwrap();
    let cases = [
        ("default.avif", plan(Format::Avif, |_| {})),
        // From quality 90 the chroma is kept whole (4:4:4), as libvips does.
        (
            "q95.avif",
            plan(Format::Avif, |p| p.target.quality = Some(95)),
        ),
        ("fast.avif", plan(Format::Avif, |p| p.target.speed = 10)),
    ];
    let paths: Vec<PathBuf> = cases
        .iter()
        .map(|(name, plan)| {
            let out = run(&data, plan);
            assert_eq!((out.width, out.height, out.format), (160, 96, Format::Avif));
            save(&dir, name, &out.bytes)
        })
        .collect();
    let requests: Vec<Request> = paths
        .iter()
        .map(|p| Request::Baseline(p, &original, "avif"))
        .collect();
    for (answer, (name, _)) in pillow::ask(&requests).iter().zip(&cases) {
        let words = answer.as_ref().unwrap_or_else(|e| panic!("{name}: {e}"));
        let d = pillow::diff(words);
        let pillow_loss: f64 = words[4].parse().unwrap();
        assert_eq!((d.width, d.height), (160, 96), "{name}");
        assert!(
            d.mean <= 1.5 * pillow_loss + 1.0,
            "{name}: mean {} where Pillow's own AVIF at 50 loses {pillow_loss}",
            d.mean
        );
        if *name == "q95.avif" {
            assert!(d.mean < 1.0, "{name}: {d:?}");
        }
    }
    // A second decoder, Debian's libavif, reads each file too.
    for path in &paths {
        let out = Command::new("avifdec")
            .arg(path)
            .arg(path.with_extension("png"))
            .output()
            .expect("avifdec runs (scripts/system-deps.sh installs libavif-bin)");
        assert!(
            out.status.success(),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let d = pillow::compare(&path.with_extension("png"), &original);
        assert!(d.mean < 4.0, "{}: {d:?}", path.display());
    }
}

#[test]
fn avif_output_keeps_alpha_and_writes_gray_as_gray() {
    let dir = work_dir();
    let rgba = picture(128, 80, true);
    let source = save(&dir, "rgba.png", &png(&rgba));
    let out = save(
        &dir,
        "rgba.avif",
        &run(&png(&rgba), &plan(Format::Avif, |_| {})).bytes,
    );
    let info = pillow::file_info(&out);
    assert_eq!((info.mode.as_str(), info.format.as_str()), ("RGBA", "AVIF"));
    let d = pillow::compare(&out, &source);
    assert!(d.mean < 3.0, "alpha over white: {d:?}");
    // The transparent band stays transparent.
    let decoded = folio_decode(&std::fs::read(&out).unwrap()).to_rgba8();
    assert!(
        (0..128).all(|x| decoded.get_pixel(x, 5).0[3] <= 2),
        "a transparent row came back opaque"
    );
    assert!(decoded.get_pixel(120, 70).0[3] >= 240);

    let gray = DynamicImage::ImageLuma8(GrayImage::from_fn(96, 64, |x, y| {
        Luma([((x * 3 + y * 2) % 256) as u8])
    }));
    let source = save(&dir, "gray.png", &png(&gray));
    let out = save(
        &dir,
        "gray.avif",
        &run(
            &png(&gray),
            &plan(Format::Avif, |p| p.target.quality = Some(90)),
        )
        .bytes,
    );
    let d = pillow::compare(&out, &source);
    assert!(d.mean < 1.5, "gray: {d:?}");
    // Monochrome AV1: the decoder gives equal channels.
    let back = folio_decode(&std::fs::read(&out).unwrap());
    assert!(!back.color().has_color(), "{:?}", back.color());
}

/// Folio's own decode of an AVIF, through a lossless PNG.
fn folio_decode(avif: &[u8]) -> DynamicImage {
    let out = run(avif, &plan(Format::Png, |_| {}));
    image::load_from_memory(&out.bytes).unwrap()
}

#[test]
fn avif_inputs_of_every_form_decode_as_libavif_decodes_them() {
    let dir = work_dir();
    let rgb = save(&dir, "rgb.png", &png(&picture(256, 192, false)));
    let rgba = save(&dir, "rgba.png", &png(&picture(256, 192, true)));
    let deep = save(
        &dir,
        "deep.png",
        &png(&DynamicImage::ImageRgb16(
            picture(256, 192, false).to_rgb16(),
        )),
    );
    let cases: Vec<(&str, &Path, Vec<&str>)> = vec![
        ("420.avif", &rgb, vec!["-y", "420"]),
        ("422.avif", &rgb, vec!["-y", "422"]),
        ("444.avif", &rgb, vec!["-y", "444"]),
        ("400.avif", &rgb, vec!["-y", "400"]),
        ("limited.avif", &rgb, vec!["-r", "limited"]),
        ("bt709.avif", &rgb, vec!["--cicp", "1/13/1"]),
        ("identity.avif", &rgb, vec!["-y", "444", "--cicp", "1/13/0"]),
        ("10bit.avif", &deep, vec!["-d", "10"]),
        ("12bit.avif", &deep, vec!["-d", "12"]),
        ("alpha.avif", &rgba, vec![]),
        ("premultiplied.avif", &rgba, vec!["-p"]),
        ("grid.avif", &rgba, vec!["-g", "2x2"]),
        ("turned.avif", &rgb, vec!["--irot", "1"]),
        ("mirrored0.avif", &rgb, vec!["--imir", "0"]),
        ("mirrored1.avif", &rgb, vec!["--imir", "1"]),
        (
            "turned-mirrored.avif",
            &rgba,
            vec!["--irot", "3", "--imir", "1"],
        ),
        ("lossless.avif", &rgb, vec!["-l"]),
    ];
    let mut pairs = Vec::new();
    for (name, source, args) in &cases {
        let avif = avifenc(&dir, source, name, args);
        let decoded = run(&std::fs::read(&avif).unwrap(), &plan(Format::Png, |_| {}));
        let out = save(&dir, &format!("{name}.png"), &decoded.bytes);
        pairs.push((avif, out));
    }
    // Pillow reports AVIF's turn and mirror as an EXIF orientation: `upright` applies it.
    let requests: Vec<Request> = pairs.iter().map(|(a, b)| Request::Upright(a, b)).collect();
    for (answer, (name, _, _)) in pillow::ask(&requests).iter().zip(&cases) {
        let d = pillow::diff(answer.as_ref().unwrap_or_else(|e| panic!("{name}: {e}")));
        println!("{name}: {d:?}");
        // The two decoders differ only in how chroma is brought to full size and rounded
        // (and Pillow cuts a 16-bit PNG to 8 bits where Folio rounds).
        assert!(d.mean < 1.0 && d.max <= 4, "{name}: {d:?}");
        let turned = name.contains("turned");
        let size = if turned { (192, 256) } else { (256, 192) };
        assert_eq!((d.width, d.height), size, "{name}");
    }
    // Lossless AVIF (4:4:4, identity matrix) gives the source back exactly.
    let lossless = &pairs.last().unwrap().1;
    assert_eq!(pillow::compare(lossless, &rgb).max, 0);
}

#[test]
fn a_clean_aperture_crops_and_a_16_bit_source_stays_deep() {
    let dir = work_dir();
    let source = picture(256, 192, false);
    let path = save(&dir, "source.png", &png(&source));
    let avif = avifenc(
        &dir,
        &path,
        "clap.avif",
        &[
            "--crop",
            "10,20,100,50",
            "-y",
            "444",
            "--min",
            "0",
            "--max",
            "4",
        ],
    );
    let decoded = folio_decode(&std::fs::read(&avif).unwrap());
    assert_eq!((decoded.width(), decoded.height()), (100, 50));
    let expected = DynamicImage::ImageRgb8(source.to_rgb8()).crop_imm(10, 20, 100, 50);
    assert!(
        max_diff(&decoded.to_rgb8(), &expected.to_rgb8()) <= 8,
        "the crop is not the clean aperture"
    );

    let deep = DynamicImage::ImageRgb16(image::ImageBuffer::from_fn(64, 64, |x, y| {
        Rgb([(x * 1000) as u16, (y * 1000) as u16, 30_000])
    }));
    let path = save(&dir, "deep.png", &png(&deep));
    let avif = avifenc(&dir, &path, "deep.avif", &["-d", "12", "-y", "444", "-l"]);
    let decoded = folio_decode(&std::fs::read(&avif).unwrap());
    assert!(
        matches!(decoded, DynamicImage::ImageRgb16(_)),
        "{:?}",
        decoded.color()
    );
}

#[test]
fn avif_round_trips_through_folio_with_exif_when_asked() {
    let source = picture(96, 64, false);
    let data = png(&source);
    let avif = run(&data, &plan(Format::Avif, |p| p.target.quality = Some(92))).bytes;
    let back = folio_decode(&avif);
    assert!(max_diff(&back.to_rgb8(), &source.to_rgb8()) <= 24);

    // EXIF rides along only when asked; GPS never leaks by default.
    let exif_source = jpeg_with_exif(&source.to_rgb8());
    let with = run(
        &exif_source,
        &plan(Format::Avif, |p| p.keep_metadata = true),
    )
    .bytes;
    let without = run(&exif_source, &plan(Format::Avif, |_| {})).bytes;
    assert!(contains(&with, b"Exif") && contains(&with, b"MM\0*"));
    assert!(!contains(&without, b"MM\0*"));
    // Read back: the EXIF item reaches a JPEG written with keep_metadata.
    let jpeg = run(&with, &plan(Format::Jpg, |p| p.keep_metadata = true)).bytes;
    assert!(contains(&jpeg, b"Exif\0\0MM\0*"));
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A JPEG with a big-endian EXIF block (orientation 1).
fn jpeg_with_exif(image: &RgbImage) -> Vec<u8> {
    let jpeg = encode(
        &DynamicImage::ImageRgb8(image.clone()),
        image::ImageFormat::Jpeg,
    );
    let mut tiff = b"MM\0*\0\0\0\x08\0\x01".to_vec();
    tiff.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0]);
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

#[test]
fn an_avif_goes_into_a_pdf_page() {
    let source = picture(120, 80, true);
    let avif = run(
        &png(&source),
        &plan(Format::Avif, |p| p.target.quality = Some(95)),
    )
    .bytes;
    let pdf = Pdf::build(&[(avif, 0)]);
    pdf.check();
    assert_eq!(pdf.page_count(), 1);
    let page = pdf.render_to(0, 120, 80);
    let over_white = RgbImage::from_fn(120, 80, |x, y| {
        let p = source.to_rgba8().get_pixel(x, y).0;
        let a = u32::from(p[3]);
        let mix = |c: u8| ((u32::from(c) * a + 255 * (255 - a) + 127) / 255) as u8;
        Rgb([mix(p[0]), mix(p[1]), mix(p[2])])
    });
    assert!(
        max_diff(&page, &over_white) <= 40,
        "the page does not show the image"
    );
}

#[test]
fn broken_and_oversized_avifs_are_refused_with_a_reason() {
    let avif = run(&png(&picture(64, 64, false)), &plan(Format::Avif, |_| {})).bytes;
    let to_png = plan(Format::Png, |_| {});
    let limits = Limits::default();
    // Cut in its image data.
    let cut = &avif[..avif.len() - 40];
    let err = folio_engine::convert(cut, &to_png, &limits).unwrap_err();
    assert!(matches!(err, ConvertError::Corrupt(_)), "{err}");
    // Cut in its boxes.
    let err = folio_engine::convert(&avif[..60], &to_png, &limits).unwrap_err();
    assert!(matches!(err, ConvertError::Corrupt(_)), "{err}");
    // A size past the limits is refused from the `ispe` property, before decoding.
    let small = Limits {
        max_pixels: 1000,
        ..Limits::default()
    };
    let err = folio_engine::convert(&avif, &to_png, &small).unwrap_err();
    assert!(matches!(err, ConvertError::TooLarge(_)), "{err}");
    // HEIC stays refused, by name.
    let mut heic = avif.clone();
    heic[8..12].copy_from_slice(b"heic");
    if let Some(at) = heic.windows(4).position(|w| w == b"avif") {
        heic[at..at + 4].copy_from_slice(b"heic");
    }
    let err = folio_engine::convert(&heic, &to_png, &limits).unwrap_err();
    assert!(err.to_string().contains("HEIC"), "{err}");
}

#[test]
fn avif_speed_and_subsampling_are_checked() {
    let data = png(&picture(16, 16, false));
    let limits = Limits::default();
    for speed in [0, 11] {
        let err = folio_engine::convert(
            &data,
            &plan(Format::Avif, |p| p.target.speed = speed),
            &limits,
        )
        .unwrap_err();
        assert!(err.to_string().contains("speed"), "{err}");
    }
    let err = folio_engine::convert(
        &data,
        &plan(Format::Avif, |p| {
            p.target.subsampling = convert::Subsampling::S422
        }),
        &limits,
    )
    .unwrap_err();
    assert!(err.to_string().contains("subsampling"), "{err}");
}
