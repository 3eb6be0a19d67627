//! An image as the PDF will carry it: pixel size, colour, bits, filter and the stream bytes
//! (compressed data copied from the file, or pixels Folio encoded losslessly).

#[derive(Clone, Debug, PartialEq)]
pub enum ColorSpace {
    Gray,
    Rgb,
    Cmyk,
    /// Palette of RGB triples.
    Indexed(Vec<u8>),
    /// CIE L*a*b* (D65 white, as TIFF's CIELab), samples 0..255 standing for L* 0..100 and
    /// a*, b* -128..127.
    Lab,
}

impl ColorSpace {
    pub fn components(&self) -> u8 {
        match self {
            ColorSpace::Gray | ColorSpace::Indexed(_) => 1,
            ColorSpace::Rgb | ColorSpace::Lab => 3,
            ColorSpace::Cmyk => 4,
        }
    }

    pub fn device_name(&self) -> &'static str {
        match self {
            ColorSpace::Gray | ColorSpace::Indexed(_) => "/DeviceGray",
            ColorSpace::Rgb => "/DeviceRGB",
            ColorSpace::Cmyk => "/DeviceCMYK",
            ColorSpace::Lab => "[/Lab<</WhitePoint[0.9505 1 1.089]/Range[-128 127 -128 127]>>]",
        }
    }
}

/// An embedded ICC profile, raw or zlib-compressed (as PNG's iCCP chunk holds it).
#[derive(Clone, Debug, PartialEq)]
pub struct Icc {
    pub components: u8,
    pub data: Vec<u8>,
    pub deflated: bool,
}

/// The PNG predictor parameters of copied (or Folio-filtered) rows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Predictor {
    pub colors: u8,
    pub bits: u8,
    pub columns: u32,
}

/// CCITT fax parameters (`CCITTFaxDecode`): `k` < 0 for Group 4, 0 for Group 3 coded a
/// line at a time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fax {
    pub k: i32,
    /// Each line starts on a byte boundary.
    pub byte_align: bool,
    /// The page shows the data's black runs as white (a BlackIsZero TIFF).
    pub black_is_1: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    Dct,
    Fax(Fax),
    /// JBIG2 segments of one page, in the embedded organization.
    Jbig2,
    Flate(Predictor),
    /// JPEG 2000; the file carries its colour space, and `smask_in_data` says it carries
    /// an opacity channel too.
    Jpx {
        smask_in_data: bool,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct XImage {
    pub width: u32,
    pub height: u32,
    pub color: ColorSpace,
    pub icc: Option<Icc>,
    pub bits: u8,
    pub filter: Filter,
    /// Adobe CMYK JPEGs store inverted values; `/Decode [1 0 1 0 1 0 1 0]` turns them back.
    pub invert: bool,
    pub data: Vec<u8>,
    pub smask: Option<Box<XImage>>,
}

/// An image ready to place: the XObject, its resolution and its EXIF orientation.
#[derive(Debug)]
pub struct Prepared {
    pub image: XImage,
    /// Dots per inch, horizontally and vertically.
    pub dpi: (f64, f64),
    /// EXIF orientation, 1 to 8 (1 when absent or invalid).
    pub orientation: u8,
}

/// The resolution assumed when a file states none.
pub const DEFAULT_DPI: f64 = 96.0;

/// Turns a stated resolution into one usable for page sizes: non-positive or absurd
/// values fall back to the default.
pub fn sane_dpi(x: f64, y: f64) -> (f64, f64) {
    let ok = |v: f64| v.is_finite() && (1.0..=100_000.0).contains(&v);
    if ok(x) && ok(y) {
        (x, y)
    } else {
        (DEFAULT_DPI, DEFAULT_DPI)
    }
}
