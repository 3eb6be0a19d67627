//! TIFF by the tiff crate: 8 or 16-bit gray or RGB, with alpha, uncompressed (as libvips),
//! Deflate or LZW, with its resolution and ICC profile; or JPEG-compressed (8-bit gray or
//! YCbCr, no alpha), its one strip a JPEG stream from libjpeg-turbo.

use std::borrow::Cow;
use std::io::Cursor;

use image::DynamicImage;
use tiff::encoder::TiffValue;
use tiff::encoder::{Compression, DeflateLevel, Rational, TiffEncoder, colortype};
use tiff::tags::{ResolutionUnit, Tag, Type};

use super::super::plan::{Subsampling, Target, TiffCompression};
use super::{Metadata, chroma, jpeg};

pub fn encode(image: &DynamicImage, target: &Target, meta: &Metadata) -> Result<Vec<u8>, String> {
    let mut out = Cursor::new(Vec::new());
    let compression = match target.tiff_compression {
        TiffCompression::None => Compression::Uncompressed,
        TiffCompression::Deflate => Compression::Deflate(DeflateLevel::Balanced),
        TiffCompression::Lzw => Compression::Lzw,
        TiffCompression::Jpeg => return jpeg_tiff(image, target, meta),
    };
    let mut encoder = TiffEncoder::new(&mut out)
        .map_err(|e| e.to_string())?
        .with_compression(compression);
    let (w, h) = (image.width(), image.height());
    let (x, y) = meta.dpi.unwrap_or((72.0, 72.0));
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

/// TIFF with compression 7: one strip holding a whole JPEG stream (its own tables, so no
/// JPEGTables tag), photometric YCbCr with the stream's subsampling stated, or gray. The
/// JPEG carries no metadata: resolution and ICC profile are TIFF tags.
fn jpeg_tiff(image: &DynamicImage, target: &Target, meta: &Metadata) -> Result<Vec<u8>, String> {
    let gray = !image.color().has_color();
    let stream = jpeg::encode(image, target, &Metadata::default())?;
    let (w, h) = (image.width(), image.height());
    let (x, y) = meta.dpi.unwrap_or((72.0, 72.0));
    let error = |e: tiff::TiffError| e.to_string();
    let mut out = Cursor::new(Vec::new());
    let mut encoder = TiffEncoder::new(&mut out).map_err(error)?;
    let mut dir = encoder.image_directory().map_err(error)?;
    let offset = dir.write_data(&stream[..]).map_err(error)?;
    let too_large = || "the JPEG stream is too large for a TIFF".to_string();
    let offset = u32::try_from(offset).map_err(|_| too_large())?;
    let length = u32::try_from(stream.len()).map_err(|_| too_large())?;
    dir.write_tag(Tag::ImageWidth, w).map_err(error)?;
    dir.write_tag(Tag::ImageLength, h).map_err(error)?;
    dir.write_tag(Tag::Compression, 7u16).map_err(error)?;
    dir.write_tag(Tag::RowsPerStrip, h).map_err(error)?;
    dir.write_tag(Tag::StripOffsets, offset).map_err(error)?;
    dir.write_tag(Tag::StripByteCounts, length).map_err(error)?;
    dir.write_tag(Tag::PlanarConfiguration, 1u16)
        .map_err(error)?;
    dir.write_tag(Tag::XResolution, rational(x))
        .map_err(error)?;
    dir.write_tag(Tag::YResolution, rational(y))
        .map_err(error)?;
    dir.write_tag(Tag::ResolutionUnit, 2u16).map_err(error)?;
    match chroma(gray, target, jpeg::DEFAULT_QUALITY) {
        None => {
            dir.write_tag(Tag::BitsPerSample, 8u16).map_err(error)?;
            dir.write_tag(Tag::SamplesPerPixel, 1u16).map_err(error)?;
            dir.write_tag(Tag::PhotometricInterpretation, 1u16)
                .map_err(error)?;
        }
        Some(sampling) => {
            let factors: [u16; 2] = match sampling {
                Subsampling::S444 => [1, 1],
                Subsampling::S422 => [2, 1],
                Subsampling::S420 | Subsampling::Auto => [2, 2],
            };
            dir.write_tag(Tag::BitsPerSample, &[8u16, 8, 8][..])
                .map_err(error)?;
            dir.write_tag(Tag::SamplesPerPixel, 3u16).map_err(error)?;
            dir.write_tag(Tag::PhotometricInterpretation, 6u16)
                .map_err(error)?;
            dir.write_tag(Tag::ChromaSubsampling, &factors[..])
                .map_err(error)?;
            // Full-range YCbCr, as JPEG stores it.
            let whole = |n: u32| Rational { n, d: 1 };
            let reference = [
                whole(0),
                whole(255),
                whole(128),
                whole(255),
                whole(128),
                whole(255),
            ];
            dir.write_tag(Tag::Unknown(532), &reference[..])
                .map_err(error)?;
        }
    }
    if let Some(icc) = &meta.icc {
        dir.write_tag(Tag::IccProfile, Undefined(icc))
            .map_err(error)?;
    }
    dir.finish().map_err(error)?;
    Ok(out.into_inner())
}

fn rational(v: f64) -> Rational {
    Rational {
        n: (v * 100.0).round() as u32,
        d: 100,
    }
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
