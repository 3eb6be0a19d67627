//! TIFF by the tiff crate: 8 or 16-bit gray or RGB, with alpha, uncompressed (as libvips),
//! Deflate or LZW, with its resolution and ICC profile.

use std::borrow::Cow;
use std::io::Cursor;

use image::DynamicImage;
use tiff::encoder::TiffValue;
use tiff::encoder::{Compression, DeflateLevel, Rational, TiffEncoder, colortype};
use tiff::tags::{ResolutionUnit, Tag, Type};

use super::super::plan::{Target, TiffCompression};
use super::Metadata;

pub fn encode(image: &DynamicImage, target: &Target, meta: &Metadata) -> Result<Vec<u8>, String> {
    let mut out = Cursor::new(Vec::new());
    let compression = match target.tiff_compression {
        TiffCompression::None => Compression::Uncompressed,
        TiffCompression::Deflate => Compression::Deflate(DeflateLevel::Balanced),
        TiffCompression::Lzw => Compression::Lzw,
    };
    let mut encoder = TiffEncoder::new(&mut out)
        .map_err(|e| e.to_string())?
        .with_compression(compression);
    let (w, h) = (image.width(), image.height());
    let (x, y) = meta.dpi.unwrap_or((72.0, 72.0));
    let rational = |v: f64| Rational {
        n: (v * 100.0).round() as u32,
        d: 100,
    };
    macro_rules! write {
        ($kind:ty, $data:expr) => {{
            let mut img = encoder
                .new_image::<$kind>(w, h)
                .map_err(|e| e.to_string())?;
            img.resolution(ResolutionUnit::Inch, rational(x));
            img.x_resolution(rational(x));
            img.y_resolution(rational(y));
            if image.color().has_alpha() {
                // Unassociated alpha: without the tag, readers guess what the last sample is.
                img.encoder()
                    .write_tag(Tag::ExtraSamples, 2u16)
                    .map_err(|e| e.to_string())?;
            }
            if let Some(icc) = &meta.icc {
                img.encoder()
                    .write_tag(Tag::IccProfile, Undefined(icc))
                    .map_err(|e| e.to_string())?;
            }
            img.write_data($data).map_err(|e| e.to_string())
        }};
    }
    match image {
        DynamicImage::ImageLuma8(i) => write!(colortype::Gray8, i.as_raw()),
        DynamicImage::ImageRgb8(i) => write!(colortype::RGB8, i.as_raw()),
        DynamicImage::ImageRgba8(i) => write!(colortype::RGBA8, i.as_raw()),
        DynamicImage::ImageLuma16(i) => write!(colortype::Gray16, i.as_raw()),
        DynamicImage::ImageRgb16(i) => write!(colortype::RGB16, i.as_raw()),
        DynamicImage::ImageRgba16(i) => write!(colortype::RGBA16, i.as_raw()),
        DynamicImage::ImageLumaA8(_) => write!(colortype::RGBA8, image.to_rgba8().as_raw()),
        other => write!(colortype::RGBA16, other.to_rgba16().as_raw()),
    }?;
    Ok(out.into_inner())
}

/// Bytes of TIFF's UNDEFINED type, as the ICC profile tag is written.
struct Undefined<'a>(&'a [u8]);

impl TiffValue for Undefined<'_> {
    const BYTE_LEN: u8 = 1;
    const FIELD_TYPE: Type = Type::UNDEFINED;

    fn count(&self) -> usize {
        self.0.len()
    }

    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(self.0)
    }
}
