//! A conversion into PDF: what the conversion engine made of the file (the file itself, or
//! the pixels its operations gave) written by the PDF engine, as one page.

use crate::convert::{ConvertError, Converted, Converting, Format, Plan};
use crate::formats::Limits;
use crate::pdf::{PdfBuilder, PdfError, PdfOptions, prepare_image};

/// The conversion's output: as it is, or written into a PDF.
pub fn finish(
    converting: Converting,
    plan: &Plan,
    limits: &Limits,
) -> Result<Converted, ConvertError> {
    match converting {
        Converting::Done(converted) => Ok(converted),
        Converting::WholeFileIntoPdf(data) => whole_file(data, plan, limits),
        Converting::PixelsIntoPdf { image, dpi } => {
            let (width, height) = (image.width(), image.height());
            let bytes = pixels(image, dpi, plan, limits).map_err(encode_error)?;
            Ok(Converted {
                bytes,
                width,
                height,
                format: Format::Pdf,
            })
        }
    }
}

fn options(plan: &Plan, limits: &Limits) -> PdfOptions {
    PdfOptions {
        limits: *limits,
        jpeg_quality: plan.target.quality,
        ..PdfOptions::default()
    }
}

fn encode_error(e: PdfError) -> ConvertError {
    ConvertError::Encode {
        format: "pdf",
        reason: e.to_string(),
    }
}

fn whole_file(data: Vec<u8>, plan: &Plan, limits: &Limits) -> Result<Converted, ConvertError> {
    let options = options(plan, limits);
    let prepared = prepare_image(0, data, &options).map_err(|e| match e {
        PdfError::Image { reason, .. } => ConvertError::refused(reason),
        other => ConvertError::Corrupt(other.to_string()),
    })?;
    let size = prepared.first_page_size();
    let mut builder = PdfBuilder::new(Vec::new(), options).map_err(encode_error)?;
    builder.add_prepared(prepared, 0).map_err(encode_error)?;
    let summary = builder.finish().map_err(encode_error)?;
    Ok(Converted {
        bytes: summary.sink,
        width: size.0,
        height: size.1,
        format: Format::Pdf,
    })
}

fn pixels(
    image: image::DynamicImage,
    dpi: (f64, f64),
    plan: &Plan,
    limits: &Limits,
) -> Result<Vec<u8>, PdfError> {
    let mut builder = PdfBuilder::new(Vec::new(), options(plan, limits))?;
    builder.add_raster(image, dpi)?;
    Ok(builder.finish()?.sink)
}
