//! Every page of a file as a PDF carries it: compressed data copied wherever PDF can hold it
//! (JPEG, opaque PNG, JPEG 2000, JBIG2, CCITT fax, TIFF strips), everything else decoded
//! under the limits and encoded losslessly (or as a JPEG when a quality is asked for), and
//! SVG as vector art. The PDF engine writes these pages; the conversion engine decodes them
//! back into pixels where a format has no decoder of its own here.

use super::limits::{Limits, check_size};
use super::sniff::{Kind, sniff};
use super::svg::{self, VectorArt};
use super::ximage::{self, Prepared};
use super::{avif, bmp, gif, jbig2, jp2, jpeg, png, raster, tiff};

/// One page of a file, ready to be written into a PDF.
pub enum Page {
    Raster(Prepared),
    Vector(VectorArt),
}

/// The pages of the file `data` (one, or a TIFF's every page), or why it is refused. Sizes
/// are checked against the limits before any pixel is decoded.
pub fn pages(
    data: Vec<u8>,
    limits: &Limits,
    jpeg_quality: Option<u8>,
) -> Result<Vec<Page>, String> {
    Ok(match sniff(&data)? {
        Kind::Jp2 => {
            // Only headers are read: the limits apply to the size they state.
            let prepared = jp2::prepare(data, limits, jpeg_quality)?;
            check_size(
                prepared.image.width.into(),
                prepared.image.height.into(),
                limits,
            )?;
            vec![Page::Raster(prepared)]
        }
        Kind::Jbig2 => {
            // Copied: the limits apply to the size the page information states.
            let prepared = jbig2::prepare(&data)?;
            let image = &prepared.image;
            check_size(image.width.into(), image.height.into(), limits)?;
            vec![Page::Raster(prepared)]
        }
        Kind::Tiff => {
            // Each page's size is checked before it is decoded; a page's pixels are dropped
            // once compressed.
            let mut pages = tiff::pages(&data, limits, jpeg_quality)?;
            let mut prepared = Vec::new();
            while let Some(page) = pages.next_page() {
                prepared.push(Page::Raster(page?));
            }
            prepared
        }
        Kind::Raster(format) => {
            // The copy paths read only headers; the decode path checks the size its
            // decoder reads from the header before decoding.
            let prepared = prepare(data, format, limits, jpeg_quality)?;
            let image = &prepared.image;
            check_size(image.width.into(), image.height.into(), limits)?;
            vec![Page::Raster(prepared)]
        }
        Kind::Svg => vec![Page::Vector(svg::prepare(&data, limits)?)],
        Kind::Avif => {
            // Decoded: the limits apply to the size its `ispe` property states, before any
            // pixel is decoded.
            let decoded = avif::decode(&data, limits)?;
            let channels = if decoded.image.color().has_color() {
                3
            } else {
                1
            };
            let mut image = raster::encode(decoded.image, jpeg_quality);
            image.icc = decoded.icc.map(|data| ximage::Icc {
                components: channels,
                data,
                deflated: false,
            });
            vec![Page::Raster(Prepared {
                image,
                dpi: (ximage::DEFAULT_DPI, ximage::DEFAULT_DPI),
                orientation: 1,
            })]
        }
    })
}

/// One image, by the copy path where PDF can carry its data, else decoded.
fn prepare(
    data: Vec<u8>,
    format: image::ImageFormat,
    limits: &Limits,
    jpeg_quality: Option<u8>,
) -> Result<Prepared, String> {
    // A BMP holding a JPEG or PNG: that file, by its own path (never a BMP again).
    if format == image::ImageFormat::Bmp
        && let Some((range, inner)) = bmp::embedded(&data)
    {
        let mut data = data;
        data.truncate(range.end);
        data.drain(..range.start);
        return prepare(data, inner, limits, jpeg_quality);
    }
    match format {
        image::ImageFormat::Jpeg => jpeg::prepare(data, limits, jpeg_quality),
        image::ImageFormat::Png => match png::prepare(&data, limits)? {
            png::Plan::Copy(copied) => Ok(copied),
            png::Plan::Decode { dpi, orientation } => {
                let decoded = raster::decode(&data, format, limits, jpeg_quality)?;
                Ok(Prepared {
                    image: decoded.image,
                    dpi,
                    // The eXIf chunk wins; the decoder may know an orientation too.
                    orientation: if orientation != 1 {
                        orientation
                    } else {
                        decoded.orientation
                    },
                })
            }
        },
        image::ImageFormat::Gif | image::ImageFormat::Bmp | image::ImageFormat::WebP => {
            let mut data = data;
            match format {
                image::ImageFormat::Bmp => bmp::normalise(&mut data),
                image::ImageFormat::Gif => data = gif::with_colour_table(data),
                _ => {}
            }
            let decoded = raster::decode(&data, format, limits, jpeg_quality)?;
            Ok(Prepared {
                image: decoded.image,
                dpi: (ximage::DEFAULT_DPI, ximage::DEFAULT_DPI),
                orientation: decoded.orientation,
            })
        }
        other => Err(format!("{other:?} images are not supported")),
    }
}
