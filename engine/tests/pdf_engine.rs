//! The images-to-PDF engine, checked by tools Folio did not write: every PDF passes
//! `qpdf --check`, `pdfinfo` reports its pages, and `pdftoppm` renders are compared pixel by
//! pixel with the source images (exactly on lossless paths).

mod support;

use folio_engine::pdf::{PageOptions, PdfBuilder, PdfError, PdfOptions};
use image::{DynamicImage, GrayImage, Rgb, RgbImage, Rgba, RgbaImage};
use support::*;

/// A picture with detail in every channel, so any misplaced or altered pixel shows.
fn pattern(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        Rgb([
            (x * 7 + y) as u8,
            (y * 5 + x * 3) as u8,
            ((x ^ y) * 11) as u8,
        ])
    })
}

#[test]
fn opaque_pngs_are_copied_and_render_exactly() {
    let rgb = DynamicImage::ImageRgb8(pattern(61, 37));
    let gray = DynamicImage::ImageLuma8(GrayImage::from_fn(33, 20, |x, y| {
        image::Luma([(x * 8 + y) as u8])
    }));
    let pdf = Pdf::build(&[
        (encode(&rgb, image::ImageFormat::Png), 0),
        (encode(&gray, image::ImageFormat::Png), 0),
    ]);
    pdf.check();
    assert_eq!(
        pdf.page_sizes(),
        vec![(45.75, 27.75), (24.75, 15.0)],
        "pixels at 96 dpi"
    );
    assert_same(&pdf.render(1, 96.0), &rgb.to_rgb8(), "rgb");
    assert_same(&pdf.render(2, 96.0), &gray.to_rgb8(), "gray");
}

#[test]
fn palette_and_16_bit_pngs_render_exactly() {
    let palette = palette_png(20, 12);
    let pdf = Pdf::build(&[(palette.clone(), 0)]);
    pdf.check();
    assert_same(
        &pdf.render(1, 96.0),
        &image::load_from_memory(&palette).unwrap().to_rgb8(),
        "palette",
    );

    let deep = image::ImageBuffer::<Rgb<u16>, _>::from_fn(17, 9, |x, y| {
        Rgb([x as u16 * 3000, y as u16 * 7000, 65535])
    });
    let pdf = Pdf::build(&[(
        encode(
            &DynamicImage::ImageRgb16(deep.clone()),
            image::ImageFormat::Png,
        ),
        0,
    )]);
    pdf.check();
    let expected = DynamicImage::ImageRgb16(deep).to_rgb8();
    assert!(max_diff(&pdf.render(1, 96.0), &expected) <= 1);
}

#[test]
fn transparency_becomes_a_soft_mask_not_black() {
    let rgba = RgbaImage::from_fn(40, 30, |x, y| {
        Rgba([
            200,
            (x * 6) as u8,
            40,
            if x < 20 { 255 } else { (y * 8) as u8 },
        ])
    });
    let pdf = Pdf::build(&[(
        encode(
            &DynamicImage::ImageRgba8(rgba.clone()),
            image::ImageFormat::Png,
        ),
        0,
    )]);
    pdf.check();
    // pdftoppm paints on white: the expected page is the image composited over white.
    let over_white = over_white(&rgba);
    let rendered = pdf.render(1, 96.0);
    assert!(
        max_diff(&rendered, &over_white) <= 2,
        "max diff {}",
        max_diff(&rendered, &over_white)
    );
    assert!(pdf.text().contains("/SMask"));

    let opaque = RgbaImage::from_pixel(8, 8, Rgba([1, 2, 3, 255]));
    let pdf = Pdf::build(&[(
        encode(&DynamicImage::ImageRgba8(opaque), image::ImageFormat::Png),
        0,
    )]);
    assert!(
        !pdf.text().contains("/SMask"),
        "an all-opaque alpha adds no mask"
    );
}

#[test]
fn decoded_formats_render_exactly() {
    let picture = DynamicImage::ImageRgb8(pattern(45, 29));
    let inputs = [
        (encode(&picture, image::ImageFormat::Bmp), 0),
        (encode(&picture, image::ImageFormat::Tiff), 0),
        (
            encode(
                &DynamicImage::ImageRgba8(picture.to_rgba8()),
                image::ImageFormat::WebP,
            ),
            0,
        ),
    ];
    let pdf = Pdf::build(&inputs);
    pdf.check();
    assert_eq!(pdf.page_count(), 3);
    for page in 1..=3 {
        assert_same(
            &pdf.render(page, 96.0),
            &picture.to_rgb8(),
            &format!("page {page}"),
        );
    }
    // GIF is paletted: the expected picture is what a GIF decoder gives back.
    let gif = encode(
        &DynamicImage::ImageRgb8(RgbImage::from_fn(16, 16, |x, _| {
            Rgb([(x * 16) as u8, 0, 0])
        })),
        image::ImageFormat::Gif,
    );
    let pdf = Pdf::build(&[(gif.clone(), 0)]);
    pdf.check();
    assert_same(
        &pdf.render(1, 96.0),
        &image::load_from_memory(&gif).unwrap().to_rgb8(),
        "gif",
    );
}

#[test]
fn jpeg_is_embedded_byte_for_byte() {
    let jpeg = encode(
        &DynamicImage::ImageRgb8(pattern(64, 48)),
        image::ImageFormat::Jpeg,
    );
    let pdf = Pdf::build(&[(jpeg.clone(), 0)]);
    pdf.check();
    let stream = pdf.streams_with("/DCTDecode");
    assert_eq!(stream.len(), 1);
    assert_eq!(
        stream[0],
        jpeg.as_slice(),
        "the image stream is the file's bytes"
    );
    // Decoders round differently; the render stays within a small tolerance of ours.
    let ours = image::load_from_memory(&jpeg).unwrap().to_rgb8();
    let rendered = pdf.render(1, 96.0);
    assert!(
        mean_diff(&rendered, &ours) < 2.0,
        "mean diff {}",
        mean_diff(&rendered, &ours)
    );
}

/// The frame marker and sample precision of a JPEG, read from its segments.
fn jpeg_frame(jpeg: &[u8]) -> (u8, u8) {
    let mut at = 2;
    loop {
        let (marker, len) = (
            jpeg[at + 1],
            u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]),
        );
        if (0xC0..=0xCF).contains(&marker) && ![0xC4, 0xC8, 0xCC].contains(&marker) {
            return (marker, jpeg[at + 4]);
        }
        at += 2 + len as usize;
    }
}

#[test]
fn jpeg_processes_pdf_cannot_carry_are_decoded_losslessly() {
    let (w, h) = (61u32, 37u32);
    let rgb8: Vec<u16> = pattern(w, h)
        .into_raw()
        .into_iter()
        .map(u16::from)
        .collect();
    // The same picture at 12 and 16 bits: each 8-bit value spread over the wider range.
    let rgb12: Vec<u16> = rgb8
        .iter()
        .map(|&v| (u32::from(v) * 4095 / 255) as u16)
        .collect();
    let gray16: Vec<u16> = (0..w * h).map(|i| (i * 1789 % 65536) as u16).collect();
    let lossless8 = turbo_jpeg(&rgb8, w, 3, JpegCoding::lossless(8));
    let lossless12 = turbo_jpeg(&rgb12, w, 3, JpegCoding::lossless(12));
    let lossless16 = turbo_jpeg(&gray16, w, 1, JpegCoding::lossless(16));
    assert_eq!(jpeg_frame(&lossless8), (0xC3, 8));
    assert_eq!(jpeg_frame(&lossless12), (0xC3, 12));
    assert_eq!(jpeg_frame(&lossless16), (0xC3, 16));
    let pdf = Pdf::build(&[(lossless8, 0), (lossless12, 90), (lossless16, 0)]);
    pdf.check();
    assert!(pdf.streams_with("/DCTDecode").is_empty(), "nothing copied");
    assert_eq!(
        pdf.page_sizes(),
        vec![(45.75, 27.75), (27.75, 45.75), (45.75, 27.75)]
    );
    let source = pattern(w, h);
    assert_same(&pdf.render(1, 96.0), &source, "8-bit lossless");
    // 16-bit samples are shown at 8 bits: within one step of the source's top byte.
    let turned = image::imageops::rotate90(&source);
    assert!(
        max_diff(&pdf.render(2, 96.0), &turned) <= 1,
        "12-bit lossless"
    );
    let top_byte = RgbImage::from_fn(w, h, |x, y| {
        let v = (gray16[(y * w + x) as usize] >> 8) as u8;
        Rgb([v, v, v])
    });
    assert!(
        max_diff(&pdf.render(3, 96.0), &top_byte) <= 1,
        "16-bit lossless"
    );
}

#[test]
fn arithmetic_and_12_bit_jpegs_match_their_huffman_8_bit_twins() {
    let (w, h) = (64u32, 48u32);
    let smooth = RgbImage::from_fn(w, h, |x, y| Rgb([(x * 4) as u8, (y * 5) as u8, 128]));
    let rgb8: Vec<u16> = smooth.as_raw().iter().map(|&v| u16::from(v)).collect();
    let rgb12: Vec<u16> = rgb8
        .iter()
        .map(|&v| (u32::from(v) * 4095 / 255) as u16)
        .collect();
    let huffman = turbo_jpeg(&rgb8, w, 3, JpegCoding::dct(8, 90));
    let arithmetic = turbo_jpeg(
        &rgb8,
        w,
        3,
        JpegCoding {
            arithmetic: true,
            ..JpegCoding::dct(8, 90)
        },
    );
    let twelve = turbo_jpeg(&rgb12, w, 3, JpegCoding::dct(12, 95));
    assert_eq!(jpeg_frame(&arithmetic), (0xC9, 8));
    assert_eq!(jpeg_frame(&twelve).1, 12);
    let pdf = Pdf::build(&[(huffman.clone(), 0), (arithmetic, 0), (twelve, 0)]);
    pdf.check();
    assert_eq!(
        pdf.streams_with("/DCTDecode"),
        vec![huffman.as_slice()],
        "only the Huffman-coded file is copied"
    );
    // The same coefficients, entropy-coded two ways: poppler's decode of one and Folio's
    // of the other differ by rounding only.
    let (copied, decoded) = (pdf.render(1, 96.0), pdf.render(2, 96.0));
    assert!(
        max_diff(&copied, &decoded) <= 2,
        "{}",
        max_diff(&copied, &decoded)
    );
    let twelve_bit = pdf.render(3, 96.0);
    assert!(
        mean_diff(&twelve_bit, &smooth) < 1.0,
        "12-bit mean diff {}",
        mean_diff(&twelve_bit, &smooth)
    );
}

#[test]
fn damaged_arithmetic_jpeg_is_refused_by_position() {
    let rgb: Vec<u16> = pattern(40, 30)
        .into_raw()
        .into_iter()
        .map(u16::from)
        .collect();
    let coding = JpegCoding {
        arithmetic: true,
        ..JpegCoding::dct(8, 90)
    };
    let whole = turbo_jpeg(&rgb, 40, 3, coding);
    let cut = whole[..whole.len() / 2].to_vec();
    let mut builder = PdfBuilder::new(Vec::new(), PdfOptions::default()).unwrap();
    builder.add_image(0, whole, 0).unwrap();
    let err = builder.add_image(1, cut, 0).unwrap_err();
    assert!(matches!(err, PdfError::Image { index: 1, .. }), "{err}");
    assert!(err.to_string().contains("truncated"), "{err}");
}

#[test]
fn gif_without_any_colour_table_shows_its_indices_as_gray() {
    let (w, h) = (16u16, 4u16);
    let indices: Vec<u8> = (0..w * h).map(|i| ((i % w) * 16 + i / w) as u8).collect();
    let mut file = Vec::new();
    {
        // The encoder insists on colour tables: both are cut out below.
        let mut encoder = gif::Encoder::new(&mut file, w, h, &[]).unwrap();
        let mut frame = gif::Frame::from_indexed_pixels(w, h, indices.clone(), None);
        frame.palette = Some(vec![9; 768]);
        encoder.write_frame(&frame).unwrap();
    }
    if file[10] & 0x80 != 0 {
        let size = 3 << ((file[10] & 7) + 1);
        file[10] &= !0x87;
        file.drain(13..13 + size);
    }
    // Past any extension blocks, the image descriptor: 10 bytes, flags last.
    let mut at = 13;
    while file[at] == 0x21 {
        at += 2;
        while file[at] != 0 {
            at += usize::from(file[at]) + 1;
        }
        at += 1;
    }
    assert_eq!(file[at], 0x2C);
    assert_eq!(file[at + 9], 0x87, "a local table of 256 colours");
    file[at + 9] = 0;
    file.drain(at + 10..at + 10 + 768);
    let pdf = Pdf::build(&[(file, 0)]);
    pdf.check();
    let gray = RgbImage::from_fn(w.into(), h.into(), |x, y| {
        let v = indices[(y * u32::from(w) + x) as usize];
        Rgb([v, v, v])
    });
    assert_same(&pdf.render(1, 96.0), &gray, "gray levels");
}

/// A JBIG2 segment: header (number, type, no referred segments, page) and data.
fn jbig2_segment(number: u32, kind: u8, page: u8, data: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut header = number.to_be_bytes().to_vec();
    header.extend_from_slice(&[kind, 0, page]);
    header.extend_from_slice(&(data.len() as u32).to_be_bytes());
    (header, data.to_vec())
}

/// A one-page JBIG2 file holding `picture` (black where `true`) as an MMR-coded generic
/// region, in the sequential or the random-access organization.
fn jbig2_file(picture: &[Vec<bool>], sequential: bool) -> Vec<u8> {
    let (w, h) = (picture[0].len() as u32, picture.len() as u32);
    let mut mmr = fax::encoder::Encoder::new(fax::VecWriter::new());
    for row in picture {
        let pels = row.iter().map(|&black| {
            if black {
                fax::Color::Black
            } else {
                fax::Color::White
            }
        });
        mmr.encode_line(pels, w as u16).unwrap();
    }
    let mmr = mmr.finish().unwrap().finish();
    let mut info = [w.to_be_bytes(), h.to_be_bytes()].concat();
    info.extend_from_slice(&[0; 8]); // resolution unknown
    info.extend_from_slice(&[0, 0, 0]); // white page, not striped
    let mut region = [w.to_be_bytes(), h.to_be_bytes(), [0; 4], [0; 4]].concat();
    region.extend_from_slice(&[0, 1]); // OR onto the page; MMR coding
    region.extend_from_slice(&mmr);
    let segments = [
        jbig2_segment(0, 48, 1, &info),
        jbig2_segment(1, 38, 1, &region),
        jbig2_segment(2, 49, 1, &[]),
        jbig2_segment(3, 51, 0, &[]),
    ];
    let mut file = b"\x97JB2\r\n\x1a\n".to_vec();
    file.push(if sequential { 1 } else { 0 });
    file.extend_from_slice(&1u32.to_be_bytes());
    if sequential {
        for (header, data) in &segments {
            file.extend_from_slice(header);
            file.extend_from_slice(data);
        }
    } else {
        segments
            .iter()
            .for_each(|(header, _)| file.extend_from_slice(header));
        segments
            .iter()
            .for_each(|(_, data)| file.extend_from_slice(data));
    }
    file
}

#[test]
fn jbig2_is_copied_for_the_reader_to_decode() {
    let (w, h) = (70usize, 41usize);
    let picture: Vec<Vec<bool>> = (0..h)
        .map(|y| (0..w).map(|x| (x / 3 + y / 2) % 4 == 0 || x == y).collect())
        .collect();
    let sequential = jbig2_file(&picture, true);
    let random_access = jbig2_file(&picture, false);
    let pdf = Pdf::build(&[(sequential, 0), (random_access, 90)]);
    pdf.check();
    assert_eq!(
        pdf.page_sizes(),
        vec![(52.5, 30.75), (30.75, 52.5)],
        "96 dpi"
    );
    let streams = pdf.streams_with("/JBIG2Decode");
    assert_eq!(streams.len(), 2);
    assert_eq!(streams[0], streams[1], "one organization as the other");
    assert!(
        !streams[0].starts_with(b"\x97JB2"),
        "no file header in the stream"
    );
    let expected = RgbImage::from_fn(w as u32, h as u32, |x, y| {
        let v = if picture[y as usize][x as usize] {
            0
        } else {
            255
        };
        Rgb([v, v, v])
    });
    assert_same(&pdf.render(1, 96.0), &expected, "JBIG2");
    let turned = image::imageops::rotate90(&expected);
    assert_same(&pdf.render(2, 96.0), &turned, "JBIG2 turned");
    // Cut short: refused, naming the image.
    let mut builder = PdfBuilder::new(Vec::new(), PdfOptions::default()).unwrap();
    let cut = jbig2_file(&picture, true)[..60].to_vec();
    let err = builder.add_image(0, cut, 0).unwrap_err();
    assert!(err.to_string().contains("truncated"), "{err}");
}

#[test]
fn tiff_kinds_read_from_plain_strips_12_bit_palette_1_bit_and_lab() {
    // 12-bit gray, two samples in three bytes, rows padded to a byte.
    let (w, h) = (15u32, 8u32);
    let value = |x: u32, y: u32| (x * 273 + y * 17) & 0xFFF;
    let mut twelve = Vec::new();
    for y in 0..h {
        let mut bits = Vec::new();
        for x in 0..w {
            bits.extend((0..12).rev().map(|i| (value(x, y) >> i) & 1 == 1));
        }
        twelve.extend(bits.chunks(8).map(|byte| {
            byte.iter()
                .enumerate()
                .fold(0u8, |acc, (i, &b)| acc | (u8::from(b) << (7 - i)))
        }));
    }
    let deep = plain_tiff((w, h), 1, 1, 12, &twelve, None);
    // 1-bit palette: red where the bit is 0, blue where it is 1.
    let mut map = vec![0u16; 6];
    (map[0], map[5]) = (65535, 65535);
    let bits: Vec<u8> = (0..h)
        .flat_map(|y| [0b1010_1100 ^ y as u8, 0b0110_0000])
        .collect();
    let palette = plain_tiff((11, h), 3, 1, 1, &bits, Some(&map));
    // CIELab: white, black, and sRGB red (L* 53.24, a* 80.09, b* 67.20), a* and b* signed.
    let lab_pixels = [255u8, 0, 0, 0, 0, 0, 136, 80, 67];
    let lab = plain_tiff((3, 1), 8, 3, 8, &lab_pixels, None);

    let pdf = Pdf::build(&[(deep, 0), (palette, 0), (lab, 0)]);
    pdf.check();
    let gray = RgbImage::from_fn(w, h, |x, y| {
        let v = (value(x, y) * 255 / 4095) as u8;
        Rgb([v, v, v])
    });
    let rendered = pdf.render(1, 96.0);
    assert!(max_diff(&rendered, &gray) <= 1, "12-bit gray");
    let colours = RgbImage::from_fn(11, h, |x, y| {
        let byte = bits[(y * 2 + x / 8) as usize];
        if byte >> (7 - x % 8) & 1 == 1 {
            Rgb([0, 0, 255])
        } else {
            Rgb([255, 0, 0])
        }
    });
    assert_same(&pdf.render(2, 96.0), &colours, "1-bit palette");
    let lab_render = pdf.render(3, 96.0);
    let expected = [[255u8, 255, 255], [0, 0, 0], [255, 0, 0]];
    for (x, want) in expected.iter().enumerate() {
        let got = lab_render.get_pixel(x as u32, 0).0;
        let off = got
            .iter()
            .zip(want)
            .map(|(a, b)| a.abs_diff(*b))
            .max()
            .unwrap();
        // Poppler's Lab conversion lands red at about (255, 3, 27); a*, b* read unsigned
        // would make it blue-green.
        assert!(off <= 30, "Lab pixel {x}: {got:?}, not {want:?}");
    }
}

/// `tiff` recompressed by libtiff's tiffcp with `args` (a compression, rows per strip).
fn tiffcp(tiff: &[u8], args: &[&str]) -> Vec<u8> {
    let dir = std::env::temp_dir().join(format!("folio-tiffcp-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let (input, output) = (dir.join("in.tif"), dir.join("out.tif"));
    std::fs::write(&input, tiff).unwrap();
    let status = std::process::Command::new("tiffcp")
        .args(args)
        .arg(&input)
        .arg(&output)
        .status()
        .expect("tiffcp runs (make test installs libtiff-tools)");
    assert!(status.success(), "tiffcp {args:?}");
    let out = std::fs::read(&output).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    out
}

#[test]
fn group_3_fax_of_any_dimension_and_strips_is_copied() {
    let (w, h) = (83u32, 45u32);
    let black = |x: u32, y: u32| (x / 4 + y / 3).is_multiple_of(5) || x == y || (x > 60 && y < 10);
    let row = w.div_ceil(8) as usize;
    let mut packed = vec![0u8; row * h as usize];
    for y in 0..h {
        for x in 0..w {
            if black(x, y) {
                packed[y as usize * row + x as usize / 8] |= 0x80 >> (x % 8);
            }
        }
    }
    // WhiteIsZero: a one bit is black.
    let plain = plain_tiff((w, h), 0, 1, 1, &packed, None);
    let expected = RgbImage::from_fn(w, h, |x, y| {
        let v = if black(x, y) { 0 } else { 255 };
        Rgb([v, v, v])
    });
    let kinds: [&[&str]; 4] = [
        &["-c", "g3:2d", "-r", "1000"],
        &["-c", "g3:2d", "-r", "7"],
        &["-c", "g3:2d:fill", "-r", "10"],
        &["-c", "g3:1d", "-r", "7"],
    ];
    for args in kinds {
        let fax = tiffcp(&plain, args);
        let pdf = Pdf::build(&[(fax, 0)]);
        pdf.check();
        assert_eq!(
            pdf.streams_with("/CCITTFaxDecode").len(),
            1,
            "{args:?}: copied"
        );
        assert_same(&pdf.render(1, 96.0), &expected, &format!("{args:?}"));
    }
    // Two-dimensional data cut short: refused, not shown half.
    let mut cut = tiffcp(&plain, &["-c", "g3:2d", "-r", "1000"]);
    let mut decoder = tiff::decoder::Decoder::new(std::io::Cursor::new(&cut)).unwrap();
    let offset = decoder.get_tag_u64(tiff::tags::Tag::StripOffsets).unwrap() as usize;
    let count = decoder
        .get_tag_u64(tiff::tags::Tag::StripByteCounts)
        .unwrap() as usize;
    cut[offset + count / 2..offset + count].fill(0);
    let mut builder = PdfBuilder::new(Vec::new(), PdfOptions::default()).unwrap();
    let err = builder.add_image(0, cut, 0).unwrap_err();
    assert!(err.to_string().contains("damaged"), "{err}");
}

#[test]
fn planar_and_ycbcr_jpeg_tiffs_made_by_libtiff() {
    let source = pattern(57, 33);
    let plain = plain_tiff((57, 33), 2, 3, 8, source.as_raw(), None);
    let planar = tiffcp(&plain, &["-p", "separate", "-c", "lzw"]);
    let ycbcr = tiffcp(&plain, &["-c", "jpeg:95", "-r", "16"]);
    let pdf = Pdf::build(&[(planar, 0), (ycbcr, 0)]);
    pdf.check();
    assert_same(&pdf.render(1, 96.0), &source, "planar LZW");
    let smooth = RgbImage::from_fn(57, 33, |x, y| Rgb([(x * 4) as u8, (y * 7) as u8, 90]));
    let smooth_plain = plain_tiff((57, 33), 2, 3, 8, smooth.as_raw(), None);
    let ycbcr_smooth = tiffcp(&smooth_plain, &["-c", "jpeg:95", "-r", "16"]);
    let mut decoder = tiff::decoder::Decoder::new(std::io::Cursor::new(&ycbcr_smooth)).unwrap();
    assert_eq!(decoder.colortype().unwrap(), tiff::ColorType::YCbCr(8));
    let pdf = Pdf::build(&[(ycbcr_smooth, 0)]);
    let rendered = pdf.render(1, 96.0);
    // JPEG's own loss at quality 95 on a smooth picture; inverted or swapped chroma would
    // be off by far more.
    let diff = mean_diff(&rendered, &smooth);
    assert!(diff < 3.0, "YCbCr JPEG-in-TIFF mean diff {diff}");
}

#[test]
fn every_exif_orientation_and_a_rotation_on_top() {
    let picture = pattern(24, 10);
    for orientation in 1..=8u8 {
        for rotate in [0u16, 90] {
            let png = png_with_exif_orientation(&picture, orientation);
            let pdf = Pdf::build(&[(png, rotate)]);
            pdf.check();
            let mut expected = DynamicImage::ImageRgb8(picture.clone());
            expected
                .apply_orientation(image::metadata::Orientation::from_exif(orientation).unwrap());
            if rotate == 90 {
                expected = expected.rotate90();
            }
            assert_same(
                &pdf.render(1, 96.0),
                &expected.to_rgb8(),
                &format!("orientation {orientation}, rotate {rotate}"),
            );
        }
    }
}

#[test]
fn page_size_fit_and_margin() {
    let png = encode(
        &DynamicImage::ImageRgb8(pattern(200, 100)),
        image::ImageFormat::Png,
    );
    let options = PdfOptions {
        page: PageOptions {
            size: Some((595.0, 842.0)),
            margin: 20.0,
            ..Default::default()
        },
        ..Default::default()
    };
    let pdf = Pdf::build_with(&[(png, 0)], options);
    pdf.check();
    assert_eq!(pdf.page_sizes(), vec![(595.0, 842.0)]);
    // The image fills the width inside the margins, centred: white above and below.
    let page = pdf.render(1, 72.0);
    assert_eq!(page.get_pixel(297, 100), &Rgb([255, 255, 255]));
    assert_ne!(page.get_pixel(297, 421), &Rgb([255, 255, 255]));
    assert_eq!(
        page.get_pixel(10, 421),
        &Rgb([255, 255, 255]),
        "the margin is blank"
    );
}

#[test]
fn bad_images_are_refused_by_position() {
    let good = encode(
        &DynamicImage::ImageRgb8(pattern(8, 8)),
        image::ImageFormat::Png,
    );
    let mut truncated = encode(
        &DynamicImage::ImageRgb8(pattern(64, 64)),
        image::ImageFormat::Png,
    );
    truncated.truncate(truncated.len() / 2);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"plain text, not an image".to_vec(), "not an image"),
        (truncated, "PNG"),
        (huge_png_header(40_000, 40_000), "limits"),
    ];
    for (bad, why) in cases {
        let mut pdf = PdfBuilder::new(Vec::new(), PdfOptions::default()).unwrap();
        pdf.add_image(0, good.clone(), 0).unwrap();
        let err = pdf.add_image(1, bad, 0).unwrap_err();
        match &err {
            PdfError::Image { index: 1, reason } => assert!(reason.contains(why), "{reason}"),
            other => panic!("{other}"),
        }
    }
    let mut pdf = PdfBuilder::new(Vec::new(), PdfOptions::default()).unwrap();
    assert!(matches!(
        pdf.add_image(0, good.clone(), 45),
        Err(PdfError::Rotation(45))
    ));
    assert!(matches!(
        PdfBuilder::new(Vec::new(), PdfOptions::default())
            .unwrap()
            .finish(),
        Err(PdfError::Empty)
    ));
}

#[test]
fn corpus_cmyk_jpeg_is_not_inverted() {
    let cmyk = corpus("pillow/pil_sample_cmyk.jpg");
    let rgb = corpus("pillow/pil_sample_rgb.jpg");
    let pdf = Pdf::build(&[(cmyk.clone(), 0), (rgb, 0)]);
    pdf.check();
    assert_eq!(pdf.streams_with("/DCTDecode")[0], cmyk.as_slice());
    let (a, b) = (pdf.render_to(1, 100, 100), pdf.render_to(2, 100, 100));
    // The same picture, once CMYK and once RGB: close, where an inverted CMYK page would be
    // the photographic negative.
    assert!(mean_diff(&a, &b) < 12.0, "mean diff {}", mean_diff(&a, &b));
}

#[test]
fn corpus_orientation_rectangle_turns_the_page() {
    let pdf = Pdf::build(&[(corpus("pillow/orientation_rectangle.jpg"), 0)]);
    pdf.check();
    let (w, h) = pdf.page_sizes()[0];
    assert!(
        h > w,
        "a 2x1 image with orientation 8 makes a portrait page: {w}x{h}"
    );
}

#[test]
fn corpus_interlaced_png_matches_its_plain_twin() {
    let interlaced = corpus("pngsuite/basi2c08.png");
    let plain = image::load_from_memory(&corpus("pngsuite/basn2c08.png"))
        .unwrap()
        .to_rgb8();
    let pdf = Pdf::build(&[(interlaced, 0)]);
    pdf.check();
    assert_same(&pdf.render(1, 96.0), &plain, "interlaced");
}

#[test]
fn every_tiff_page_is_a_page_and_cmyk_stays_cmyk() {
    use tiff::encoder::{TiffEncoder, colortype};
    use tiff::tags::Tag;
    let picture = pattern(30, 20);
    let mut cmyk = vec![0u8; 10 * 10 * 4];
    for px in cmyk.chunks_exact_mut(4).skip(50) {
        px[3] = 255; // the lower half is pure black ink
    }
    let mut file = std::io::Cursor::new(Vec::new());
    {
        let mut tiff = TiffEncoder::new(&mut file).unwrap();
        let mut page = tiff.new_image::<colortype::RGB8>(30, 20).unwrap();
        page.encoder().write_tag(Tag::Orientation, 6u16).unwrap();
        page.write_data(picture.as_raw()).unwrap();
        tiff.write_image::<colortype::CMYK8>(10, 10, &cmyk).unwrap();
    }
    let pdf = Pdf::build(&[(file.into_inner(), 0)]);
    pdf.check();
    assert_eq!(pdf.page_count(), 2);
    let turned = DynamicImage::ImageRgb8(picture).rotate90().to_rgb8();
    assert_same(&pdf.render(1, 96.0), &turned, "page 1, orientation 6");
    assert!(
        pdf.text().contains("/ColorSpace/DeviceCMYK"),
        "the CMYK page stays CMYK"
    );
    let page2 = pdf.render(2, 96.0);
    assert_eq!(page2.get_pixel(5, 2), &Rgb([255, 255, 255]));
    assert!(
        page2.get_pixel(5, 8).0.iter().all(|&c| c < 64),
        "{:?}",
        page2.get_pixel(5, 8)
    );
}

#[test]
fn jpeg_2000_renders_as_openjpeg_decodes_it() {
    for name in [
        "pillow/test-card-lossy-tiled.jp2",
        "pillow/16bit.cropped.jp2",
        "pillow/16bit.cropped.j2k",
        "pillow/00r0_gray_l.jp2",
    ] {
        let data = corpus(name);
        let pdf = Pdf::build(&[(data.clone(), 0)]);
        pdf.check();
        assert!(pdf.text().contains("/JPXDecode"), "{name}");
        if data.starts_with(b"\0\0\0\x0cjP  ") {
            assert_eq!(
                pdf.streams_with("/JPXDecode")[0],
                data.as_slice(),
                "{name}: a JP2 file is embedded as it is"
            );
        }
        let reference = openjpeg_decode(name);
        let (w, h) = reference.dimensions();
        let rendered = pdf.render_to(1, w, h);
        let (max, mean) = (
            max_diff(&rendered, &reference),
            mean_diff(&rendered, &reference),
        );
        assert!(
            mean < 1.0 && max <= 8,
            "{name}: max diff {max}, mean {mean:.3}"
        );
    }
}

#[test]
fn broken_jpeg_2000_files_are_refused() {
    for name in [
        "pillow/not_enough_data.jp2",
        "pillow/crash-4fb027452e6988530aa5dabee76eecacb3b79f8a.j2k",
        "pillow/balloon_eciRGBv2_aware.jp2",
    ] {
        let mut pdf = PdfBuilder::new(Vec::new(), PdfOptions::default()).unwrap();
        let err = pdf.add_image(0, corpus(name), 0).unwrap_err();
        assert!(
            matches!(err, PdfError::Image { index: 0, .. }),
            "{name}: {err}"
        );
    }
}

#[test]
fn decoded_images_may_be_stored_as_jpeg_with_a_lossless_mask() {
    let smooth = RgbaImage::from_fn(64, 48, |x, y| {
        Rgba([
            (x * 4) as u8,
            (y * 5) as u8,
            128,
            if x < 32 { 255 } else { 128 },
        ])
    });
    let png = encode(
        &DynamicImage::ImageRgba8(smooth.clone()),
        image::ImageFormat::Png,
    );
    let jpeg_copy = encode(
        &DynamicImage::ImageRgb8(pattern(16, 16)),
        image::ImageFormat::Jpeg,
    );
    let options = PdfOptions {
        jpeg_quality: Some(90),
        ..Default::default()
    };
    let pdf = Pdf::build_with(&[(png, 0), (jpeg_copy.clone(), 0)], options);
    pdf.check();
    let dct = pdf.streams_with("/DCTDecode");
    assert_eq!(dct.len(), 2, "the decoded colour and the copied JPEG");
    assert!(
        dct.contains(&jpeg_copy.as_slice()),
        "copied JPEG data is unchanged"
    );
    assert!(
        pdf.text().contains("/SMask"),
        "the alpha stays as a soft mask"
    );
    let over_white = over_white(&smooth);
    let rendered = pdf.render(1, 96.0);
    assert!(
        mean_diff(&rendered, &over_white) < 3.0,
        "mean diff {}",
        mean_diff(&rendered, &over_white)
    );
}

#[test]
fn images_prepared_in_parallel_make_the_same_pdf() {
    use folio_engine::pdf::prepare_pipelined;
    let images: Vec<Vec<u8>> = vec![
        encode(
            &DynamicImage::ImageRgb8(pattern(40, 30)),
            image::ImageFormat::Jpeg,
        ),
        encode(
            &DynamicImage::ImageRgba8(RgbaImage::from_pixel(20, 20, Rgba([9, 8, 7, 100]))),
            image::ImageFormat::Png,
        ),
        encode(
            &DynamicImage::ImageRgb8(pattern(33, 17)),
            image::ImageFormat::Tiff,
        ),
        encode(
            &DynamicImage::ImageRgb8(pattern(5, 9)),
            image::ImageFormat::Bmp,
        ),
        b"not an image".to_vec(),
        encode(
            &DynamicImage::ImageRgb8(pattern(7, 7)),
            image::ImageFormat::Png,
        ),
    ];
    let mut sequential = PdfBuilder::new(Vec::new(), PdfOptions::default()).unwrap();
    for (i, data) in images[..4].iter().enumerate() {
        sequential.add_image(i, data.clone(), 90).unwrap();
    }
    for threads in [1, 2, 3] {
        let mut parallel = PdfBuilder::new(Vec::new(), PdfOptions::default()).unwrap();
        let mut taken = Vec::new();
        let read = |i: usize| Ok(images[i].clone());
        prepare_pipelined(
            images.len(),
            threads,
            &PdfOptions::default(),
            &read,
            &mut |index, prepared| {
                taken.push(index);
                match prepared {
                    Ok(image) => parallel.add_prepared(image, 90).is_ok(),
                    Err(e) => {
                        assert!(
                            matches!(e, PdfError::Image { index: 4, .. }),
                            "errors keep their index: {e}"
                        );
                        false
                    }
                }
            },
        );
        assert_eq!(
            taken,
            vec![0, 1, 2, 3, 4],
            "in order, and nothing after a stop"
        );
        assert_eq!(
            parallel.finish().unwrap().sink,
            sequential_bytes(&images[..4]),
            "the same bytes with {threads} threads"
        );
    }
    let _ = sequential.finish().unwrap();
}

fn sequential_bytes(images: &[Vec<u8>]) -> Vec<u8> {
    let mut pdf = PdfBuilder::new(Vec::new(), PdfOptions::default()).unwrap();
    for (i, data) in images.iter().enumerate() {
        pdf.add_image(i, data.clone(), 90).unwrap();
    }
    pdf.finish().unwrap().sink
}

#[test]
fn svg_is_drawn_as_vectors_with_the_bundled_font() {
    // 200x100 CSS pixels: a red band, a blue square and a line of text.
    let svg = br##"<svg xmlns="http://www.w3.org/2000/svg" width="200" height="100">
        <rect width="200" height="40" fill="#ff0000"/>
        <rect x="150" y="50" width="40" height="40" fill="#0000ff"/>
        <text x="10" y="80" font-family="Helvetica" font-size="20">Folio 42</text></svg>"##;
    let pdf = Pdf::build(&[(svg.to_vec(), 0), (svg.to_vec(), 90)]);
    pdf.check();
    assert_eq!(pdf.page_sizes(), vec![(150.0, 75.0), (75.0, 150.0)]);
    // Vectors and embedded text, not a picture of them.
    assert!(!pdf.text().contains("/Subtype/Image") && !pdf.text().contains("/Subtype /Image"));
    assert!(pdf.text().contains("/FontFile2"), "the font is embedded");
    let words = std::process::Command::new("pdftotext")
        .args(["-f", "1", "-l", "1"])
        .arg(&pdf.path)
        .arg("-")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&words.stdout).contains("Folio 42"));

    let upright = pdf.render(1, 96.0);
    assert_eq!(upright.dimensions(), (200, 100));
    assert_eq!(
        *upright.get_pixel(100, 20),
        Rgb([255, 0, 0]),
        "band at the top"
    );
    assert_eq!(
        *upright.get_pixel(170, 70),
        Rgb([0, 0, 255]),
        "square bottom right"
    );
    // Turned clockwise: the band is on the right, the square bottom left.
    let turned = pdf.render(2, 96.0);
    assert_eq!(turned.dimensions(), (100, 200));
    assert_eq!(*turned.get_pixel(80, 100), Rgb([255, 0, 0]));
    assert_eq!(*turned.get_pixel(30, 170), Rgb([0, 0, 255]));
    let expected = resvg_render(svg);
    assert!(mean_diff(&upright, &expected) < 2.0);
}

#[test]
fn svg_never_loads_files_or_urls_and_bad_svg_is_refused() {
    let dir = std::env::temp_dir().join(format!("folio-svg-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let secret = dir.join("secret.png");
    std::fs::write(
        &secret,
        encode(
            &DynamicImage::ImageRgb8(RgbImage::from_pixel(10, 10, Rgb([0, 0, 0]))),
            image::ImageFormat::Png,
        ),
    )
    .unwrap();
    let svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"
            width="10" height="10"><image width="10" height="10" xlink:href="{}"/>
            <image width="10" height="10" href="file://{}"/></svg>"#,
        secret.display(),
        secret.display()
    );
    let pdf = Pdf::build(&[(svg.into_bytes(), 0)]);
    pdf.check();
    let page = pdf.render(1, 96.0);
    assert!(
        page.pixels().all(|p| *p == Rgb([255, 255, 255])),
        "nothing was loaded"
    );

    let mut builder = PdfBuilder::new(Vec::new(), PdfOptions::default()).unwrap();
    let refused = builder
        .add_image(
            3,
            b"<svg xmlns='http://www.w3.org/2000/svg'><rect".to_vec(),
            0,
        )
        .unwrap_err();
    assert!(
        matches!(&refused, PdfError::Image { index: 3, reason } if reason.contains("SVG")),
        "{refused}"
    );
}

#[test]
fn corpus_fax_pages_are_copied_and_damaged_fax_data_is_refused() {
    // Group 4, BlackIsZero: the strip goes in as it is.
    let fax4 = corpus("image-rs/fax4.tiff");
    let pdf = Pdf::build(&[(fax4.clone(), 0)]);
    pdf.check();
    let streams = pdf.streams_with("/CCITTFaxDecode");
    assert_eq!(streams.len(), 1);
    let (strip_len, strip) = (streams[0].len(), streams[0]);
    let at = fax4
        .windows(strip_len)
        .position(|w| w == strip)
        .expect("the strip is copied byte for byte");
    assert!(
        pdf.text()
            .contains("/K -1/Columns 460/Rows 307/BlackIs1 true")
    );

    // Bits stored in reverse order are turned around.
    let reversed = corpus("pillow/g4-fillorder-test.tif");
    let pdf = Pdf::build(&[(reversed.clone(), 0)]);
    let turned: Vec<u8> = pdf.streams_with("/CCITTFaxDecode")[0]
        .iter()
        .map(|b| b.reverse_bits())
        .collect();
    assert!(
        reversed
            .windows(turned.len())
            .any(|w| w == turned.as_slice())
    );

    // Group 3 (one line at a time, byte-aligned lines), every page of three.
    let g3 = Pdf::build(&[(corpus("pillow/total-pages-zero.tif"), 0)]);
    g3.check();
    assert_eq!(g3.page_count(), 3);
    assert!(
        g3.text()
            .contains("/K 0/Columns 1728/Rows 2156/EncodedByteAlign true")
    );

    // The same Group 4 file with the middle of its data zeroed decodes short: it is not
    // copied (the decoder pads what it reads, as for writers that leave out white lines).
    let mut damaged = fax4;
    let middle = at + strip_len / 2;
    damaged[middle..middle + 64].fill(0);
    let mut builder = PdfBuilder::new(Vec::new(), PdfOptions::default()).unwrap();
    if builder.add_image(0, damaged, 0).is_ok() {
        let pdf = Pdf::from_bytes(builder.finish().unwrap().sink);
        assert!(pdf.streams_with("/CCITTFaxDecode").is_empty());
    }
    // Damaged Group 3 data is refused.
    let mut g3 = corpus("pillow/total-pages-zero.tif");
    let start = g3.len() / 3;
    g3[start..start + 4096].fill(0xFF);
    let mut builder = PdfBuilder::new(Vec::new(), PdfOptions::default()).unwrap();
    let refused = builder.add_image(0, g3, 0).unwrap_err();
    assert!(
        refused.to_string().contains("fax data is damaged"),
        "{refused}"
    );
}

#[test]
fn corpus_bmp_holding_a_jpeg_or_png_is_copied() {
    let bmp = corpus("bmpsuite/q/rgb24jpeg.bmp");
    let pdf = Pdf::build(&[(bmp.clone(), 0), (corpus("bmpsuite/q/rgb24png.bmp"), 0)]);
    pdf.check();
    let jpeg = pdf.streams_with("/DCTDecode")[0];
    assert!(jpeg.starts_with(&[0xFF, 0xD8]));
    assert!(
        bmp.windows(jpeg.len()).any(|w| w == jpeg),
        "the embedded JPEG, byte for byte"
    );
    // The same picture twice (at 72 dpi from JFIF, and 2835 dots per metre from pHYs).
    let sizes = pdf.page_sizes();
    assert!((sizes[0].0 - sizes[1].0).abs() < 0.1 && (sizes[0].1 - sizes[1].1).abs() < 0.1);
}
