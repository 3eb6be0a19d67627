//! The conversion engine on images the tests make, each output decoded by Pillow (a decoder
//! Folio does not use) and compared with what it should show.

mod support;

use std::path::PathBuf;

use folio_engine::convert::encode::{Metadata, jpeg};
use folio_engine::convert::{self, Color, ConvertError, Crop, Fit, Format, Plan, Resize, Target};
use folio_engine::formats::Limits;
use image::{DynamicImage, Rgb, RgbImage, Rgba, RgbaImage};
use support::pillow::{self, Request};
use support::*;

fn work_dir() -> PathBuf {
    support::work_dir("folio-convert-tests")
}

fn plan(format: Format) -> Plan {
    Plan {
        target: Target {
            format,
            ..Target::default()
        },
        ..Plan::default()
    }
}

fn run(data: &[u8], plan: &Plan) -> convert::Converted {
    run_plan(data, plan)
}

/// A smooth picture with detail: gradients and a few hard edges.
fn picture(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let edge = if (x / 16 + y / 16) % 5 == 0 { 60 } else { 0 };
        Rgb([
            (x * 255 / w) as u8,
            (y * 255 / h) as u8,
            ((x + y) * 255 / (w + h)).saturating_sub(edge) as u8,
        ])
    })
}

#[test]
fn every_target_decodes_to_the_source_exactly_or_within_pillows_own_loss() {
    let dir = work_dir();
    let source = picture(96, 64);
    let png = encode(
        &DynamicImage::ImageRgb8(source.clone()),
        image::ImageFormat::Png,
    );
    let original = save(&dir, "source.png", &png);
    let lossless = |format, f: fn(&mut Target)| {
        let mut p = plan(format);
        f(&mut p.target);
        p
    };
    let exact = [
        ("out.png", lossless(Format::Png, |_| {})),
        ("out.tiff", lossless(Format::Tiff, |_| {})),
        (
            "deflate.tiff",
            lossless(Format::Tiff, |t| {
                t.tiff_compression = convert::plan::TiffCompression::Deflate
            }),
        ),
        (
            "lzw.tiff",
            lossless(Format::Tiff, |t| {
                t.tiff_compression = convert::plan::TiffCompression::Lzw
            }),
        ),
        ("out.bmp", lossless(Format::Bmp, |_| {})),
        (
            "lossless.webp",
            lossless(Format::Webp, |t| t.lossless = true),
        ),
    ];
    let mut requests_paths = Vec::new();
    for (name, p) in &exact {
        let out = run(&png, p);
        assert_eq!((out.width, out.height), (96, 64), "{name}");
        requests_paths.push(save(&dir, name, &out.bytes));
    }
    let requests: Vec<Request> = requests_paths
        .iter()
        .map(|p| Request::Compare(p, &original))
        .collect();
    for (answer, (name, _)) in pillow::ask(&requests).iter().zip(&exact) {
        let d = pillow::diff(answer.as_ref().unwrap_or_else(|e| panic!("{name}: {e}")));
        assert_eq!(d.max, 0, "{name} is lossless: {d:?}");
    }
    let jpeg_tiff = lossless(Format::Tiff, |t| {
        t.tiff_compression = convert::plan::TiffCompression::Jpeg
    });
    let lossy = [
        ("out.jpg", plan(Format::Jpg), "jpg"),
        ("out.webp", plan(Format::Webp), "webp"),
        ("out.gif", plan(Format::Gif), "gif"),
        // JPEG in TIFF, read back by libtiff (through Pillow).
        ("jpeg.tiff", jpeg_tiff.clone(), "jpg"),
    ];
    let paths: Vec<PathBuf> = lossy
        .iter()
        .map(|(name, p, _)| save(&dir, name, &run(&png, p).bytes))
        .collect();
    let requests: Vec<Request> = paths
        .iter()
        .zip(&lossy)
        .map(|(p, (_, _, f))| Request::Baseline(p, &original, f))
        .collect();
    for (answer, (name, _, _)) in pillow::ask(&requests).iter().zip(&lossy) {
        let words = answer.as_ref().unwrap_or_else(|e| panic!("{name}: {e}"));
        let (ours, pillows) = (pillow::diff(words).mean, words[4].parse::<f64>().unwrap());
        assert!(
            ours <= pillows * 1.5 + 1.0,
            "{name}: mean difference {ours:.2}, Pillow's encoder {pillows:.2}"
        );
    }
    // A JPEG-compressed TIFF has no alpha: transparency goes over white.
    let rgba = DynamicImage::ImageRgba8(RgbaImage::from_pixel(8, 8, Rgba([0, 0, 0, 0])));
    let out = run(&encode(&rgba, image::ImageFormat::Png), &jpeg_tiff);
    let back = save(&dir, "clear.tiff", &out.bytes);
    let info = pillow::file_info(&back);
    assert_eq!(info.mode, "RGB", "{info:?}");
    let white = save(
        &dir,
        "white.png",
        &encode(
            &DynamicImage::ImageRgb8(RgbImage::from_pixel(8, 8, Rgb([255; 3]))),
            image::ImageFormat::Png,
        ),
    );
    assert!(pillow::compare(&back, &white).max <= 2);
    // The PDF: one page of the picture's size at 96 dpi, and qpdf finds nothing wrong.
    let pdf = Pdf::from_bytes(run(&png, &plan(Format::Pdf)).bytes);
    assert_eq!(pdf.page_sizes(), vec![(72.0, 48.0)]);
    let rendered = pdf.render_to(1, 96, 64);
    assert_same(&rendered, &source, "the PDF page");
}

#[test]
fn every_exif_orientation_is_turned_upright_as_pillow_turns_it() {
    let dir = work_dir();
    // Asymmetric, so that every turn and mirror shows.
    let mut upright = picture(60, 40);
    for y in 0..10 {
        for x in 0..20 {
            upright.put_pixel(x, y, Rgb([255, 0, 0]));
        }
    }
    let mut requests_paths = Vec::new();
    for orientation in 1..=8u16 {
        let exif = exif_block(orientation);
        let meta = Metadata {
            exif: Some(exif),
            ..Metadata::default()
        };
        let target = Target {
            quality: Some(95),
            subsampling: convert::Subsampling::S444,
            ..Target::default()
        };
        let source =
            jpeg::encode(&DynamicImage::ImageRgb8(upright.clone()), &target, &meta).unwrap();
        let src = save(&dir, &format!("{orientation}.jpg"), &source);
        let out = run(&source, &plan(Format::Png));
        let expected = if orientation >= 5 { (40, 60) } else { (60, 40) };
        assert_eq!(
            (out.width, out.height),
            expected,
            "orientation {orientation}"
        );
        let out = save(&dir, &format!("{orientation}.png"), &out.bytes);
        requests_paths.push((src, out));
    }
    let requests: Vec<Request> = requests_paths
        .iter()
        .map(|(src, out)| Request::Upright(src, out))
        .collect();
    for (i, answer) in pillow::ask(&requests).iter().enumerate() {
        let d = pillow::diff(answer.as_ref().unwrap());
        assert!(d.mean < 1.0, "orientation {}: {d:?}", i + 1);
    }
}

/// An EXIF block (from its TIFF header) holding only the orientation tag.
fn exif_block(orientation: u16) -> Vec<u8> {
    let mut v = b"II\x2a\0".to_vec();
    v.extend_from_slice(&8u32.to_le_bytes());
    v.extend_from_slice(&1u16.to_le_bytes());
    v.extend_from_slice(&0x0112u16.to_le_bytes());
    v.extend_from_slice(&3u16.to_le_bytes());
    v.extend_from_slice(&1u32.to_le_bytes());
    v.extend_from_slice(&orientation.to_le_bytes());
    v.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    v
}

#[test]
fn kept_exif_says_upright_and_no_exif_is_copied_unless_asked() {
    let meta = Metadata {
        exif: Some(exif_block(6)),
        ..Metadata::default()
    };
    let source = jpeg::encode(
        &DynamicImage::ImageRgb8(picture(30, 20)),
        &Target::default(),
        &meta,
    )
    .unwrap();
    let plain = run(&source, &plan(Format::Jpg));
    assert!(!has_exif(&plain.bytes), "EXIF copied without keep_metadata");
    let kept = run(
        &source,
        &Plan {
            keep_metadata: true,
            ..plan(Format::Jpg)
        },
    );
    assert!(has_exif(&kept.bytes));
    let dir = work_dir();
    let path = save(&dir, "kept.jpg", &kept.bytes);
    let info = pillow::file_info(&path);
    // Turned upright once; a reader that honours the kept tag must not turn it again.
    assert_eq!((info.width, info.height), (20, 30));
    let again = run(&kept.bytes, &plan(Format::Png));
    assert_eq!((again.width, again.height), (20, 30));
}

fn has_exif(jpeg: &[u8]) -> bool {
    jpeg.windows(6).any(|w| w == b"Exif\0\0")
}

#[test]
fn transparency_turns_white_in_jpeg_and_stays_in_png() {
    let dir = work_dir();
    // Left half transparent (its colour black), right half opaque blue.
    let rgba = RgbaImage::from_fn(40, 20, |x, _| match x < 20 {
        true => Rgba([0, 0, 0, 0]),
        false => Rgba([0, 0, 255, 255]),
    });
    let png = encode(&DynamicImage::ImageRgba8(rgba), image::ImageFormat::Png);
    let jpg = save(&dir, "out.jpg", &run(&png, &plan(Format::Jpg)).bytes);
    let decoded = image::open(&jpg).unwrap().to_rgb8();
    let left = decoded.get_pixel(5, 10).0;
    assert!(
        left.iter().all(|&v| v >= 250),
        "transparent area is {left:?}, not white"
    );
    // Another background when asked.
    let red_bg = Plan {
        background: Color([255, 0, 0, 255]),
        ..plan(Format::Jpg)
    };
    let red = save(&dir, "red.jpg", &run(&png, &red_bg).bytes);
    let p = image::open(&red).unwrap().to_rgb8().get_pixel(5, 10).0;
    assert!(p[0] > 240 && p[1] < 20 && p[2] < 20, "{p:?}");
    let out = save(&dir, "out.png", &run(&png, &plan(Format::Png)).bytes);
    assert_eq!(pillow::file_info(&out).mode, "RGBA");
}

#[test]
fn cmyk_jpegs_come_out_as_their_colours_not_a_negative() {
    let dir = work_dir();
    let source = corpus("pillow/pil_sample_cmyk.jpg");
    let src = save(&dir, "cmyk.jpg", &source);
    let out = save(&dir, "cmyk.png", &run(&source, &plan(Format::Png)).bytes);
    // Pillow turns Adobe's inverted CMYK back; an inverted result is off by about 180.
    let d = pillow::compare(&out, &src);
    assert!(d.mean < 4.0, "{d:?}");
}

#[test]
fn icc_profiles_are_kept_in_jpeg_png_webp_and_tiff_and_dropped_by_strip() {
    let dir = work_dir();
    for source_name in ["pillow/icc_profile.png", "pillow/icc_profile_big.jpg"] {
        let source = corpus(source_name);
        let src = save(&dir, "src", &source);
        let profile = pillow::file_info(&src)
            .icc
            .expect("the source has a profile");
        for format in [Format::Jpg, Format::Png, Format::Webp, Format::Tiff] {
            let out = save(&dir, "out", &run(&source, &plan(format)).bytes);
            assert_eq!(
                pillow::file_info(&out).icc.as_deref(),
                Some(profile.as_str()),
                "{source_name} -> {format:?}"
            );
        }
        let stripped = Plan {
            strip: true,
            ..plan(Format::Png)
        };
        let out = save(&dir, "out", &run(&source, &stripped).bytes);
        assert_eq!(pillow::file_info(&out).icc, None, "strip drops the profile");
    }
}

#[test]
fn each_fit_gives_its_size_and_keeps_the_aspect() {
    let dir = work_dir();
    let png = encode(
        &DynamicImage::ImageRgb8(picture(400, 300)),
        image::ImageFormat::Png,
    );
    let with = |width, height, fit| Plan {
        resize: Some(Resize {
            width,
            height,
            fit,
            ..Resize::default()
        }),
        ..plan(Format::Png)
    };
    let cases = [
        (with(Some(200), None, Fit::Inside), (200, 150)),
        (with(None, Some(60), Fit::Inside), (80, 60)),
        (with(Some(100), Some(100), Fit::Inside), (100, 75)),
        (with(Some(100), Some(100), Fit::Cover), (100, 100)),
        (with(Some(100), Some(40), Fit::Fill), (100, 40)),
        (with(Some(100), Some(100), Fit::Contain), (100, 100)),
        // No enlargement unless asked.
        (with(Some(800), None, Fit::Inside), (400, 300)),
    ];
    for (p, size) in &cases {
        let out = run(&png, p);
        assert_eq!((out.width, out.height), *size, "{:?}", p.resize);
        let path = save(&dir, "fit.png", &out.bytes);
        let info = pillow::file_info(&path);
        assert_eq!((info.width, info.height), *size);
    }
    // Contain pads with the background: the top rows are white, the middle is the picture.
    let contain = run(&png, &cases[5].0);
    let img = image::load_from_memory(&contain.bytes).unwrap().to_rgb8();
    assert_eq!(img.get_pixel(50, 2).0, [255, 255, 255]);
    assert_ne!(img.get_pixel(50, 50).0, [255, 255, 255]);
}

#[test]
fn a_large_jpeg_resized_with_dct_scaling_matches_pillows_lanczos() {
    let dir = work_dir();
    let big = picture(2400, 1800);
    let target = Target {
        quality: Some(95),
        ..Target::default()
    };
    let source =
        jpeg::encode(&DynamicImage::ImageRgb8(big), &target, &Metadata::default()).unwrap();
    let p = Plan {
        resize: Some(Resize {
            width: Some(300),
            ..Resize::default()
        }),
        ..plan(Format::Png)
    };
    let out = run(&source, &p);
    assert_eq!((out.width, out.height), (300, 225));
    let ours = save(&dir, "small.png", &out.bytes);
    // Pillow's reference: the whole image decoded, then Lanczos.
    let reference = image::load_from_memory(&source).unwrap().resize_exact(
        300,
        225,
        image::imageops::FilterType::Lanczos3,
    );
    let reference = save(
        &dir,
        "ref.png",
        &encode(&reference, image::ImageFormat::Png),
    );
    let d = pillow::compare(&ours, &reference);
    assert!(d.mean < 1.5, "{d:?}");
}

#[test]
fn crops_turns_and_mirrors_land_where_asked() {
    let dir = work_dir();
    let png = encode(
        &DynamicImage::ImageRgb8(picture(64, 32)),
        image::ImageFormat::Png,
    );
    let source = image::load_from_memory(&png).unwrap();
    let cases: Vec<(Plan, DynamicImage)> = vec![
        (
            Plan {
                crop: Some(Crop::Rect {
                    x: 10,
                    y: 4,
                    width: 20,
                    height: 8,
                }),
                ..plan(Format::Png)
            },
            source.crop_imm(10, 4, 20, 8),
        ),
        (
            Plan {
                rotate: 90.0,
                ..plan(Format::Png)
            },
            source.rotate90(),
        ),
        (
            Plan {
                rotate: -90.0,
                flip: true,
                ..plan(Format::Png)
            },
            source.rotate270().flipv(),
        ),
        (
            Plan {
                flop: true,
                ..plan(Format::Png)
            },
            source.fliph(),
        ),
    ];
    for (i, (p, expected)) in cases.iter().enumerate() {
        let out = save(&dir, &format!("{i}.png"), &run(&png, p).bytes);
        let exp = save(
            &dir,
            &format!("{i}.ref.png"),
            &encode(expected, image::ImageFormat::Png),
        );
        assert_eq!(pillow::compare(&out, &exp).max, 0, "case {i}");
    }
}

#[test]
fn bad_input_and_bad_options_are_refused_with_their_reason() {
    let png = encode(
        &DynamicImage::ImageRgb8(picture(8, 8)),
        image::ImageFormat::Png,
    );
    let err =
        folio_engine::convert(b"not an image", &plan(Format::Png), &Limits::default()).unwrap_err();
    assert!(matches!(err, ConvertError::Unsupported(_)), "{err}");
    let err = folio_engine::convert(
        &png[..png.len() / 2],
        &plan(Format::Png),
        &Limits::default(),
    )
    .unwrap_err();
    assert!(matches!(err, ConvertError::Corrupt(_)), "{err}");
    let small = Limits {
        max_side: 4,
        ..Limits::default()
    };
    let err = folio_engine::convert(&png, &plan(Format::Png), &small).unwrap_err();
    assert!(matches!(err, ConvertError::TooLarge(_)), "{err}");
    let outside = Plan {
        crop: Some(Crop::Rect {
            x: 4,
            y: 4,
            width: 10,
            height: 1,
        }),
        ..plan(Format::Png)
    };
    let err = folio_engine::convert(&png, &outside, &Limits::default()).unwrap_err();
    assert!(err.to_string().contains("crop"), "{err}");
    let page = Plan {
        page: 2,
        ..plan(Format::Png)
    };
    let err = folio_engine::convert(&png, &page, &Limits::default()).unwrap_err();
    assert!(err.to_string().contains("page 2"), "{err}");
    // Sizes a step would make are checked before anything is allocated.
    let huge = Plan {
        resize: Some(Resize {
            width: Some(1_000_000),
            enlarge: true,
            ..Resize::default()
        }),
        ..plan(Format::Png)
    };
    let err = folio_engine::convert(&png, &huge, &Limits::default()).unwrap_err();
    assert!(matches!(err, ConvertError::TooLarge(_)), "{err}");
    let tight = Limits {
        max_side: 10,
        ..Limits::default()
    };
    let turned = Plan {
        rotate: 45.0,
        ..plan(Format::Png)
    };
    let err = folio_engine::convert(&png, &turned, &tight).unwrap_err();
    assert!(err.to_string().contains("rotate"), "{err}");
}

#[test]
fn a_tiff_page_is_chosen_by_number() {
    let dir = work_dir();
    let first = picture(20, 10);
    let second = RgbImage::from_pixel(30, 15, Rgb([10, 200, 30]));
    let mut tiff = std::io::Cursor::new(Vec::new());
    {
        let mut encoder = tiff::encoder::TiffEncoder::new(&mut tiff).unwrap();
        encoder
            .write_image::<tiff::encoder::colortype::RGB8>(20, 10, first.as_raw())
            .unwrap();
        encoder
            .write_image::<tiff::encoder::colortype::RGB8>(30, 15, second.as_raw())
            .unwrap();
    }
    let tiff = tiff.into_inner();
    let p = Plan {
        page: 2,
        ..plan(Format::Png)
    };
    let out = run(&tiff, &p);
    assert_eq!((out.width, out.height), (30, 15));
    let out = save(&dir, "page2.png", &out.bytes);
    let exp = save(
        &dir,
        "exp.png",
        &encode(&DynamicImage::ImageRgb8(second), image::ImageFormat::Png),
    );
    assert_eq!(pillow::compare(&out, &exp).max, 0);
    // The whole file into a PDF: both pages.
    let pdf = Pdf::from_bytes(run(&tiff, &plan(Format::Pdf)).bytes);
    assert_eq!(pdf.page_count(), 2);
}

#[test]
fn a_jpeg_goes_into_the_pdf_byte_for_byte() {
    let source = jpeg::encode(
        &DynamicImage::ImageRgb8(picture(64, 48)),
        &Target::default(),
        &Metadata::default(),
    )
    .unwrap();
    let pdf = run(&source, &plan(Format::Pdf)).bytes;
    assert!(
        pdf.windows(source.len()).any(|w| w == source),
        "the JPEG was re-encoded"
    );
}

#[test]
fn an_svg_is_drawn_at_the_asked_size() {
    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg" width="20" height="10"><rect width="10" height="10" fill="red"/><rect x="10" width="10" height="10" fill="blue"/></svg>"#;
    let p = Plan {
        resize: Some(Resize {
            width: Some(200),
            enlarge: true,
            ..Resize::default()
        }),
        ..plan(Format::Png)
    };
    let out = run(svg, &p);
    assert_eq!((out.width, out.height), (200, 100));
    let img = image::load_from_memory(&out.bytes).unwrap().to_rgba8();
    // Sharp at the larger size: drawn there, not scaled up from 20x10.
    assert_eq!(img.get_pixel(98, 50).0, [255, 0, 0, 255]);
    assert_eq!(img.get_pixel(101, 50).0, [0, 0, 255, 255]);
}

#[test]
fn animations_stay_animated_into_gif_and_webp_and_give_their_first_frame_elsewhere() {
    let dir = work_dir();
    let source_bytes = corpus("img2pdf/animation.gif");
    let source = save(&dir, "source.gif", &source_bytes);
    let gif = save(
        &dir,
        "out.gif",
        &run(&source_bytes, &plan(Format::Gif)).bytes,
    );
    let lossless_webp = Plan {
        target: Target {
            format: Format::Webp,
            lossless: true,
            ..Target::default()
        },
        ..Plan::default()
    };
    let webp = save(&dir, "out.webp", &run(&source_bytes, &lossless_webp).bytes);
    let answers = pillow::ask(&[
        Request::Frames(&gif, &source),
        Request::Frames(&webp, &source),
    ]);
    for (what, answer) in ["gif", "webp"].iter().zip(&answers) {
        let words = answer.as_ref().unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(words[0], words[1], "{what}: frame counts differ: {words:?}");
        assert!(words[0].parse::<u32>().unwrap() > 1, "{what}: not animated");
        // The source's own palettes fit in GIF's: both outputs carry every frame exactly.
        assert_eq!(words[2], "0", "{what}: a frame differs: {words:?}");
    }
    let delays = pillow::file_info(&gif);
    assert!(delays.frames > 1);
    // A PNG is the first frame.
    let png = save(
        &dir,
        "out.png",
        &run(&source_bytes, &plan(Format::Png)).bytes,
    );
    assert_eq!(pillow::compare(&png, &source).max, 0);
}

#[test]
fn heic_and_avif_are_refused_naming_the_format() {
    let ftyp = |major: &[u8; 4], compatible: &[u8; 4]| {
        let mut v = 20u32.to_be_bytes().to_vec();
        v.extend_from_slice(b"ftyp");
        v.extend_from_slice(major);
        v.extend_from_slice(&[0, 0, 0, 0]);
        v.extend_from_slice(compatible);
        v.extend_from_slice(&[0; 64]);
        v
    };
    for (file, word) in [
        (ftyp(b"heic", b"mif1"), "HEIC"),
        (ftyp(b"mif1", b"heic"), "HEIC"),
        (ftyp(b"avif", b"mif1"), "AVIF"),
    ] {
        let err = folio_engine::convert(&file, &plan(Format::Jpg), &Limits::default()).unwrap_err();
        assert!(matches!(err, ConvertError::Unsupported(_)), "{err}");
        assert!(err.to_string().contains(word), "{err}");
    }
}
