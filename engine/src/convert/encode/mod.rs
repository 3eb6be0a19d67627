//! The encoders, one module a format; PDF goes through the PDF engine (see the parent).

pub mod avif;
pub mod gif;
pub mod jpeg;
pub mod png;
mod quant;
pub mod tiff;
pub mod webp;

use std::io::Cursor;

use image::DynamicImage;

/// What goes into the file beside the pixels.
#[derive(Clone, Debug, Default)]
pub struct Metadata {
    /// The pixels' profile (gray or RGB).
    pub icc: Option<Vec<u8>>,
    /// From its TIFF header on.
    pub exif: Option<Vec<u8>>,
    pub dpi: Option<(f64, f64)>,
}

/// BMP by the image crate: 8-bit RGB, or RGBA when the image has alpha.
pub fn bmp(image: &DynamicImage) -> Result<Vec<u8>, String> {
    let image = match image.color().has_alpha() {
        true => DynamicImage::ImageRgba8(image.to_rgba8()),
        false => DynamicImage::ImageRgb8(image.to_rgb8()),
    };
    let mut out = Cursor::new(Vec::new());
    image
        .write_to(&mut out, image::ImageFormat::Bmp)
        .map_err(|e| e.to_string())?;
    Ok(out.into_inner())
}
