//! Folio's engines, with no AWS dependency: they take bytes and write to a `Write`, so the
//! CLI, the workers and the benchmarks all call the same code. Three parts, side by side:
//!
//! - [`formats`]: reading image files. What kind a file is, the limits checked before any
//!   pixel is decoded, EXIF orientation, and a reader for every format, giving a file's
//!   pages as a PDF carries them or its decoded pixels.
//! - [`pdf`]: an ordered list of images in, one PDF out: pages placed and PDF objects
//!   written, from the pages the readers prepared.
//! - [`convert`]: one image in, one image out, in another format, size or orientation: the
//!   plan, the operations on pixels, and an encoder for each format.
//!
//! `pdf` and `convert` build on `formats` and never on each other; `formats` knows neither.
//! A conversion into PDF meets both engines only here ([`convert()`]), where the
//! conversion's result is handed to the PDF engine. Beside them are the helpers they
//! share: `deflate` (PNG row filters and zlib) and libjpeg-turbo's handle.

pub mod convert;
pub(crate) mod deflate;
pub mod formats;
mod into_pdf;
pub mod pdf;
mod turbo;

use std::borrow::Cow;

use convert::{ConvertError, Converted, Plan};
use formats::Limits;

/// Converts the file `data` as `plan` says.
pub fn convert(data: &[u8], plan: &Plan, limits: &Limits) -> Result<Converted, ConvertError> {
    let converting = convert::run(Cow::Borrowed(data), plan, limits)?;
    into_pdf::finish(converting, plan, limits)
}

/// [`convert()`], taking the file's bytes: they are dropped as soon as they are decoded (or
/// moved into the PDF unchanged), so the file and its pixels are not both held while the
/// output is encoded.
pub fn convert_owned(
    data: Vec<u8>,
    plan: &Plan,
    limits: &Limits,
) -> Result<Converted, ConvertError> {
    let converting = convert::run(Cow::Owned(data), plan, limits)?;
    into_pdf::finish(converting, plan, limits)
}
