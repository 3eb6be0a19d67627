//! Criterion benchmarks of the images-to-PDF engine on generated images, one per path:
//! JPEG pass-through, PNG copy, and the decode path (RGBA PNG). Run by `make bench`.

use common::{encode, picture};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use folio_engine::pdf::{PdfBuilder, PdfOptions};
use image::{DynamicImage, Rgba, RgbaImage};

mod common;

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
