//! Criterion benchmarks of the images-to-PDF engine on generated images, one per path:
//! JPEG pass-through, PNG copy, and the decode path (RGBA PNG). Run by `make bench`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use folio_engine::pdf::{PdfBuilder, PdfOptions};
use image::{DynamicImage, Rgb, RgbImage, Rgba, RgbaImage};

fn picture(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let n = x.wrapping_mul(2654435761) ^ y.wrapping_mul(40503);
        Rgb([
            (x / 4 + (n & 15)) as u8,
            (y / 3 + (n >> 4 & 15)) as u8,
            ((x + y) / 5) as u8,
        ])
    })
}

fn encode(image: &DynamicImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    // Invariant: encoding an in-memory image to an in-memory buffer does not fail.
    image
        .write_to(&mut out, format)
        .expect("encoding a benchmark image");
    out.into_inner()
}

fn to_pdf(images: &[Vec<u8>]) -> u64 {
    let mut pdf = PdfBuilder::new(std::io::sink(), PdfOptions::default()).expect("a PDF writer");
    for (i, data) in images.iter().enumerate() {
        pdf.add_image(i, data.clone(), 0)
            .expect("a valid benchmark image");
    }
    pdf.finish().expect("a finished PDF").bytes
}

fn engine(c: &mut Criterion) {
    let rgb = DynamicImage::ImageRgb8(picture(1600, 1200));
    let rgba = DynamicImage::ImageRgba8(RgbaImage::from_fn(800, 600, |x, y| {
        Rgba([(x / 4) as u8, (y / 3) as u8, (x ^ y) as u8, (x + y) as u8])
    }));
    let sets = [
        ("jpeg pass-through", encode(&rgb, image::ImageFormat::Jpeg)),
        ("png copy", encode(&rgb, image::ImageFormat::Png)),
        ("rgba png decode", encode(&rgba, image::ImageFormat::Png)),
    ];
    let mut group = c.benchmark_group("images to pdf, 10 images");
    group.sample_size(10);
    for (name, data) in sets {
        let images = vec![data; 10];
        group.throughput(Throughput::Bytes(
            images.iter().map(|d| d.len() as u64).sum(),
        ));
        group.bench_with_input(BenchmarkId::from_parameter(name), &images, |b, images| {
            b.iter(|| to_pdf(images))
        });
    }
    group.finish();
}

criterion_group!(benches, engine);
criterion_main!(benches);
