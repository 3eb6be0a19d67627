//! The conversion engine: any input the readers in `formats` accept, through the plan's
//! operations, into JPEG, PNG, WebP, AVIF, GIF, TIFF, BMP or PDF.
//!
//! A conversion is a [`Plan`]: decode (upright unless asked not to; JPEGs scaled down in
//! the DCT when the resize allows it), then crop, resize, turn, mirror, then colour (sRGB
//! for targets that cannot carry the profile, alpha over the background for targets
//! without alpha), then encode. A PDF is not encoded here: [`run`] stops where the PDF
//! engine takes over ([`Converting`]), and the crate's [`crate::convert()`] hands it over.

pub mod encode;
mod ops;
pub mod plan;

use std::borrow::Cow;

use image::DynamicImage;

use crate::formats::pixels::{self, Hints, Raster, Size};
use crate::formats::ximage::DEFAULT_DPI;
use crate::formats::{Limits, check_size, colour, exif};
use encode::Metadata;
pub use plan::{Color, Crop, Fit, Format, Gravity, Plan, Resize, Subsampling, Target};

#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// The plan itself is wrong; the message names the field.
    #[error("invalid options: {0}")]
    Plan(String),
    #[error("unsupported input: {0}")]
    Unsupported(String),
    #[error("input too large: {0}")]
    TooLarge(String),
    #[error("corrupt input: {0}")]
    Corrupt(String),
    #[error("cannot write {format}: {reason}")]
    Encode {
        format: &'static str,
        reason: String,
    },
}

impl ConvertError {
    /// A reader's refusal, sorted by what it says: the readers' messages name limits and
    /// unsupported kinds in these words.
    pub(crate) fn refused(reason: String) -> ConvertError {
        if reason.contains("limit") {
            ConvertError::TooLarge(reason)
        } else if reason.contains("not supported")
            || reason.contains("not yet")
            || reason.contains("not a supported")
            || reason.contains("not an image")
        {
            ConvertError::Unsupported(reason)
        } else {
            ConvertError::Corrupt(reason)
        }
    }
}

/// What the conversion wrote.
#[derive(Debug)]
pub struct Converted {
    pub bytes: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub format: Format,
}

/// How far the conversion engine takes a file.
pub enum Converting {
    /// Converted: the output is written.
    Done(Converted),
    /// Into a PDF, the file as it is: the PDF engine takes it whole (a JPEG byte for byte,
    /// a page per TIFF page).
    WholeFileIntoPdf(Vec<u8>),
    /// Into a PDF, the pixels the plan's operations made, at `dpi`.
    PixelsIntoPdf {
        image: DynamicImage,
        dpi: (f64, f64),
    },
}

/// Converts the file `input` as `plan` says, up to a PDF's writing. Owned bytes are
/// dropped as soon as they are decoded (or handed on unchanged), so the file and its pixels
/// are not both held while the output is encoded.
pub fn run(input: Cow<'_, [u8]>, plan: &Plan, limits: &Limits) -> Result<Converting, ConvertError> {
    plan.validate().map_err(ConvertError::Plan)?;
    let target = &plan.target;
    if target.format == Format::Pdf && copies_into_pdf(plan) {
        return Ok(Converting::WholeFileIntoPdf(input.into_owned()));
    }
    let data = &input[..];
    // Into GIF or WebP, a GIF's (or animated WebP's) frames are read once: several stay an
    // animation, one is the image.
    let frames = match matches!(target.format, Format::Gif | Format::Webp) && plan.page == 1 {
        true => pixels::animation(data, limits).map_err(ConvertError::refused)?,
        false => None,
    };
    let raster = match frames {
        Some(frames) if frames.len() > 1 => {
            return animate(frames, plan, limits).map(Converting::Done);
        }
        Some(mut frames) => pixels::still(frames.remove(0).0),
        None => {
            // A crop is in the full image's pixels: no scaled decode then.
            let resize = plan.resize.filter(|_| plan.crop.is_none());
            let needed = resize.map(|r| move |size| ops::resize_sizes(&r, size).scaled);
            let hints = Hints {
                page: plan.page - 1,
                needed: needed.as_ref().map(|f| f as &dyn Fn(Size) -> Size),
                auto_orient: plan.auto_orient,
            };
            pixels::decode(data, &hints, limits).map_err(ConvertError::refused)?
        }
    };
    drop(input);
    let (image, meta) = process(raster, plan, limits)?;
    let (width, height) = ops::size(&image);
    let encode_error = |reason: String| ConvertError::Encode {
        format: target.format.extension(),
        reason,
    };
    let [r, g, b, _] = plan.background.0;
    let bytes = match target.format {
        Format::Jpg => encode::jpeg::encode(&image, target, &meta),
        Format::Png => encode::png::encode(image, target, &meta, [r, g, b]),
        Format::Webp => encode::webp::encode(&image, target, &meta),
        Format::Avif => encode::avif::encode(&image, target, &meta),
        Format::Gif => encode::gif::encode(
            &[encode::gif::Frame {
                image: &image,
                delay: 0,
            }],
            target,
            [r, g, b],
        ),
        Format::Tiff => encode::tiff::encode(&image, target, &meta),
        Format::Bmp => encode::bmp(&image),
        Format::Pdf => {
            let dpi = meta.dpi.unwrap_or((DEFAULT_DPI, DEFAULT_DPI));
            return Ok(Converting::PixelsIntoPdf { image, dpi });
        }
    }
    .map_err(encode_error)?;
    Ok(Converting::Done(Converted {
        bytes,
        width,
        height,
        format: target.format,
    }))
}

/// The operations and colour handling between decode and encode.
fn process(
    raster: Raster,
    plan: &Plan,
    limits: &Limits,
) -> Result<(DynamicImage, Metadata), ConvertError> {
    let target = &plan.target;
    let Raster {
        mut image,
        icc,
        orientation,
        dpi,
        exif,
    } = raster;
    let turned = plan.auto_orient && orientation != 1;
    if plan.auto_orient {
        image = ops::orient(image, orientation);
    }
    image = geometry(image, plan, limits)?;
    let keep_icc = target.format.has_icc() && !plan.strip;
    let icc = match icc {
        Some(profile) if !keep_icc => {
            image = colour::to_srgb(image, &profile);
            None
        }
        other => other,
    };
    if !target.has_alpha() {
        image = ops::flatten(image, plan.background);
    }
    let exif = match exif {
        Some(mut block) if plan.keep_metadata && !plan.strip => {
            if turned {
                exif::reset_orientation(&mut block);
            }
            Some(block)
        }
        _ => None,
    };
    let dpi = plan.dpi.map(|d| (d, d)).or(Some(dpi));
    Ok((image, Metadata { icc, exif, dpi }))
}

/// Crop, resize, turn and mirror, as the plan asks. Every size a step makes is checked
/// against the limits before it is allocated (a resize with `enlarge`, or a free turn, can
/// ask for far more pixels than the input had).
fn geometry(
    mut image: DynamicImage,
    plan: &Plan,
    limits: &Limits,
) -> Result<DynamicImage, ConvertError> {
    let fits = |(w, h): (u32, u32), what: &str| {
        check_size(w.into(), h.into(), limits)
            .map_err(|reason| ConvertError::TooLarge(format!("{what}: {reason}")))
    };
    if let Some(crop) = &plan.crop {
        let (x, y, w, h) = ops::crop_rect(crop, ops::size(&image)).map_err(ConvertError::Plan)?;
        image = image.crop_imm(x, y, w, h);
    }
    if let Some(resize) = &plan.resize {
        let sizes = ops::resize_sizes(resize, ops::size(&image));
        fits(sizes.scaled, "resize")?;
        fits(sizes.canvas, "resize")?;
        image = ops::resize(image, resize, plan.background).map_err(ConvertError::Corrupt)?;
    }
    fits(ops::rotated_size(ops::size(&image), plan.rotate), "rotate")?;
    image = ops::rotate(image, plan.rotate, plan.background);
    if plan.flip {
        image = image.flipv();
    }
    if plan.flop {
        image = image.fliph();
    }
    Ok(image)
}

/// An animation into an animated GIF or WebP, each frame through the plan's geometry.
fn animate(
    frames: Vec<(image::RgbaImage, u32)>,
    plan: &Plan,
    limits: &Limits,
) -> Result<Converted, ConvertError> {
    let target = &plan.target;
    let frames = frames
        .into_iter()
        .map(|(frame, delay)| {
            let image = geometry(DynamicImage::ImageRgba8(frame), plan, limits)?;
            Ok((image, delay))
        })
        .collect::<Result<Vec<_>, ConvertError>>()?;
    let (width, height) = frames.first().map_or((0, 0), |(f, _)| ops::size(f));
    let encode_error = |reason: String| ConvertError::Encode {
        format: target.format.extension(),
        reason,
    };
    let bytes = match target.format {
        Format::Gif => {
            let [r, g, b, _] = plan.background.0;
            let gif_frames: Vec<_> = frames
                .iter()
                .map(|(image, delay)| encode::gif::Frame {
                    image,
                    // GIF counts hundredths of a second.
                    delay: (delay / 10).min(u16::MAX as u32) as u16,
                })
                .collect();
            encode::gif::encode(&gif_frames, target, [r, g, b])
        }
        _ => encode::webp::encode_animation(&frames, target),
    }
    .map_err(encode_error)?;
    Ok(Converted {
        bytes,
        width,
        height,
        format: target.format,
    })
}

/// Whether the plan leaves the file as it is, so the PDF engine can take it whole (a JPEG
/// goes into the PDF byte for byte, every TIFF page becomes a page).
fn copies_into_pdf(plan: &Plan) -> bool {
    plan.page == 1
        && plan.auto_orient
        && plan.crop.is_none()
        && plan.resize.is_none()
        && plan.rotate.rem_euclid(360.0) == 0.0
        && !plan.flip
        && !plan.flop
        && plan.dpi.is_none()
}
