//! The encoders, one module a format; a PDF is written by the PDF engine (see the parent).

pub mod avif;
pub mod gif;
pub mod jpeg;
pub mod png;
mod quant;
pub mod tiff;
pub mod webp;

use std::io::Cursor;

use image::DynamicImage;

use super::plan::{Subsampling, Target};

/// What goes into the file beside the pixels.
#[derive(Clone, Debug, Default)]
pub struct Metadata {
    /// The pixels' profile (gray or RGB).
    pub icc: Option<Vec<u8>>,
    /// From its TIFF header on.
    pub exif: Option<Vec<u8>>,
    pub dpi: Option<(f64, f64)>,
}

/// The chroma subsampling `target` gets (JPEG, JPEG in TIFF, AVIF): `None` for gray; `auto`
/// resolved as libvips does, 4:2:0 below quality 90 (`default_quality` when none is asked)
/// and 4:4:4 from it.
pub fn chroma(gray: bool, target: &Target, default_quality: u8) -> Option<Subsampling> {
    let quality = target.quality.unwrap_or(default_quality);
    match (gray, target.subsampling) {
        (true, _) => None,
        (false, Subsampling::Auto) if quality >= 90 => Some(Subsampling::S444),
        (false, Subsampling::Auto) => Some(Subsampling::S420),
        (false, chosen) => Some(chosen),
    }
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
