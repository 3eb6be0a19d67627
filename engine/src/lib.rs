//! Folio's engines, with no AWS dependency: they take bytes and write to a `Write`, so the
//! CLI, the workers and the benchmarks all call the same code.
//!
//! - [`pdf`]: an ordered list of images in, one PDF out.
//! - [`convert`]: one image in, one image out, in another format, size or orientation;
//!   it decodes through the PDF engine's readers, so both accept the same files.

mod avif;
pub mod convert;
pub mod pdf;
mod turbo;
