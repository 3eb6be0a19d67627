//! Reading image files, for both engines: what kind a file is (`sniff`), the bounds every
//! reader checks before decoding ([`Limits`]), EXIF orientation, and a reader for each format
//! (JPEG, PNG, TIFF, BMP, GIF, WebP, AVIF, JPEG 2000, JBIG2, SVG). A reader gives a file two
//! ways:
//!
//! - [`embed::pages`]: each page as a PDF carries it ([`ximage::XImage`]): the compressed data
//!   copied where PDF can hold it, else decoded and encoded losslessly; SVG as vector art.
//! - [`pixels::decode`]: decoded pixels with their profile, orientation, resolution and EXIF.
//!
//! Nothing here writes a PDF or plans a conversion: the `pdf` and `convert` engines build on
//! this module, and it knows neither.

pub(crate) mod avif;
pub(crate) mod bmp;
pub(crate) mod ccitt;
pub(crate) mod colour;
pub(crate) mod embed;
pub(crate) mod exif;
pub(crate) mod gif;
pub(crate) mod jbig2;
pub(crate) mod jp2;
pub(crate) mod jpeg;
pub(crate) mod jpeg_decode;
pub mod limits;
pub(crate) mod pixels;
pub(crate) mod png;
pub(crate) mod raster;
pub(crate) mod sniff;
pub mod svg;
pub(crate) mod tiff;
pub(crate) mod tiff_raw;
pub(crate) mod ximage;

pub use limits::{Limits, check_size};
