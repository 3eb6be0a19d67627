//! Criterion benchmarks of the conversion engine on a generated photograph, one per common
//! path: JPEG to a thumbnail (DCT-scaled decode, Lanczos3), PNG to JPEG, JPEG to WebP, JPEG
//! to PNG. Run by `make bench`.

use common::{encode, picture};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use folio_engine::convert::{Format, Plan, Resize, Target};
use folio_engine::formats::Limits;
use image::DynamicImage;

mod common;

fn plan(format: Format, width: Option<u32>) -> Plan {
    Plan {
        resize: width.map(|w| Resize {
            width: Some(w),
            ..Resize::default()
        }),
        target: Target {
            format,
            ..Target::default()
        },
        ..Plan::default()
    }
}

fn engine(c: &mut Criterion) {
    let photo = DynamicImage::ImageRgb8(picture(2000, 1500));
    let jpeg = encode(&photo, image::ImageFormat::Jpeg);
    let png = encode(&photo, image::ImageFormat::Png);
    let cases = [
        ("jpeg to 256-wide jpeg", &jpeg, plan(Format::Jpg, Some(256))),
        ("png to jpeg", &png, plan(Format::Jpg, None)),
        ("jpeg to webp", &jpeg, plan(Format::Webp, None)),
        ("jpeg to png", &jpeg, plan(Format::Png, None)),
    ];
    let mut group = c.benchmark_group("convert, 2000x1500");
    group.sample_size(10);
    for (name, data, plan) in cases {
        group.throughput(Throughput::Bytes(data.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), data, |b, data| {
            b.iter(|| {
                folio_engine::convert(data, &plan, &Limits::default())
                    .expect("a valid benchmark image")
                    .bytes
                    .len()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, engine);
criterion_main!(benches);
