//! What the engine benchmarks share: a generated photograph-like picture and encoding it.

use image::{DynamicImage, Rgb, RgbImage};

pub fn picture(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let n = x.wrapping_mul(2654435761) ^ y.wrapping_mul(40503);
        Rgb([
            (x / 4 + (n & 15)) as u8,
            (y / 3 + (n >> 4 & 15)) as u8,
            ((x + y) / 5) as u8,
        ])
    })
}

pub fn encode(image: &DynamicImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    // Invariant: encoding an in-memory image to an in-memory buffer does not fail.
    image
        .write_to(&mut out, format)
        .expect("encoding a benchmark image");
    out.into_inner()
}
