//! JPEG decoding by libjpeg-turbo, which reads every JPEG process but the hierarchical one:
//! for the PDF engine, the JPEGs PDF readers cannot show as they are (arithmetic-coded,
//! lossless, or over 8 bits a sample); for the converter, every JPEG, scaled down in the
//! DCT when a smaller image is wanted. Buffers are sized from the header before
//! libjpeg-turbo writes to them.

use std::ffi::c_int;

use crate::turbo::{Handle, tj};

use super::limits::{Limits, check_size};
use super::raster::rescale;

/// Decoded samples, interleaved, at the JPEG's own precision.
pub enum Samples {
    /// Precision 2 to 8: one byte a sample.
    Bytes(Vec<u8>),
    /// Precision 9 to 16: one `u16` a sample.
    Words(Vec<u16>),
}

pub struct Decoded {
    pub width: u32,
    pub height: u32,
    /// 1 (gray), 3 (RGB) or 4 (CMYK, as stored: Adobe files keep their inverted values).
    pub components: u8,
    /// Bits a sample holds (2 to 16).
    pub precision: u8,
    pub samples: Samples,
}

/// Decodes `data`, refusing it (before any pixel is decoded) when the header states a size
/// over the limits. Warnings (corrupt or truncated data) stop the decode: a damaged image
/// is refused, not shown half grey.
pub fn decode(data: &[u8], limits: &Limits) -> Result<Decoded, String> {
    decode_scaled(data, limits, None)
}

/// Decodes `data` as [`decode`] does; with `at_least`, a lossy JPEG is scaled down in the
/// DCT by 1/2, 1/4 or 1/8 (libjpeg-turbo's fastest factors, as libvips's shrink-on-load),
/// the most that leaves it at least that wide and high.
pub fn decode_scaled(
    data: &[u8],
    limits: &Limits,
    at_least: Option<(u32, u32)>,
) -> Result<Decoded, String> {
    match decode_with(data, limits, at_least, true) {
        // A damaged ICC marker says nothing of the pixels: decode them, without the profile.
        Err(e) if e.contains("ICC") => decode_with(data, limits, at_least, false),
        other => other,
    }
}

fn decode_with(
    data: &[u8],
    limits: &Limits,
    at_least: Option<(u32, u32)>,
    stop_on_warning: bool,
) -> Result<Decoded, String> {
    let handle = Handle::decompressor()?;
    handle.set(tj::TJPARAM_TJPARAM_STOPONWARNING, stop_on_warning.into())?;
    // A progressive or arithmetic file of thousands of tiny scans is a known way to keep a
    // decoder busy for minutes; real files have a dozen.
    handle.set(tj::TJPARAM_TJPARAM_SCANLIMIT, 500)?;
    // SAFETY: the pointer and length describe `data`, which outlives the call.
    let read = unsafe { tj::tj3DecompressHeader(handle.0, data.as_ptr(), data.len() as _) };
    if handle.failed(read) {
        return Err(handle.error());
    }
    let width = handle.get(tj::TJPARAM_TJPARAM_JPEGWIDTH);
    let height = handle.get(tj::TJPARAM_TJPARAM_JPEGHEIGHT);
    let precision = handle.get(tj::TJPARAM_TJPARAM_PRECISION);
    let (Ok(width), Ok(height), Ok(precision)) = (
        u32::try_from(width),
        u32::try_from(height),
        u8::try_from(precision),
    ) else {
        return Err("the JPEG header states an impossible size or precision".into());
    };
    if width == 0 || height == 0 || !(2..=16).contains(&precision) {
        return Err("the JPEG header states an impossible size or precision".into());
    }
    check_size(width.into(), height.into(), limits)?;
    // Four components of two bytes at most, held twice while scaled for the PDF.
    if u64::from(width) * u64::from(height) * 16 > limits.max_decode_bytes {
        return Err(format!(
            "the image is {width}x{height}, over the decoding memory limit"
        ));
    }
    let lossless = handle.get(tj::TJPARAM_TJPARAM_LOSSLESS) == 1;
    let (width, height) = match at_least {
        Some(wanted) if !lossless => scale_down(&handle, (width, height), wanted)?,
        _ => (width, height),
    };
    let (components, format) = match handle.get(tj::TJPARAM_TJPARAM_COLORSPACE) as tj::TJCS {
        tj::TJCS_TJCS_GRAY => (1u8, tj::TJPF_TJPF_GRAY),
        tj::TJCS_TJCS_CMYK | tj::TJCS_TJCS_YCCK => (4, tj::TJPF_TJPF_CMYK),
        _ => (3, tj::TJPF_TJPF_RGB),
    };
    let row = width as usize * usize::from(components);
    let count = row * height as usize;
    let pitch = c_int::try_from(row).map_err(|_| "the JPEG is too wide".to_string())?;
    let samples = if precision <= 8 {
        Samples::Bytes(decompress(
            &handle,
            data,
            count,
            pitch,
            format,
            tj::tj3Decompress8,
        )?)
    } else if precision <= 12 {
        let shorts = decompress(&handle, data, count, pitch, format, tj::tj3Decompress12)?;
        // Samples are 0 to 4095: the sign bit is never set.
        Samples::Words(shorts.into_iter().map(|s| s as u16).collect())
    } else {
        Samples::Words(decompress(
            &handle,
            data,
            count,
            pitch,
            format,
            tj::tj3Decompress16,
        )?)
    };
    Ok(Decoded {
        width,
        height,
        components,
        precision,
        samples,
    })
}

/// Sets the smallest scaling factor of 1/8, 1/4 and 1/2 that keeps `size` at least
/// `wanted`; returns the size the decode will have.
fn scale_down(handle: &Handle, size: (u32, u32), wanted: (u32, u32)) -> Result<(u32, u32), String> {
    let scaled = |d: u32| (size.0.div_ceil(d), size.1.div_ceil(d));
    let Some(denom) = [8u32, 4, 2].into_iter().find(|&d| {
        let (w, h) = scaled(d);
        w >= wanted.0.max(1) && h >= wanted.1.max(1)
    }) else {
        return Ok(size);
    };
    let factor = tj::tjscalingfactor {
        num: 1,
        denom: denom as c_int,
    };
    // SAFETY: a live handle whose header was read; the factor is one libjpeg-turbo offers.
    if unsafe { tj::tj3SetScalingFactor(handle.0, factor) } != 0 {
        return Err(handle.error());
    }
    Ok(scaled(denom))
}

/// The signature shared by tj3Decompress8, 12 and 16, which differ in the sample type.
type Decompress<T> =
    unsafe extern "C" fn(tj::tjhandle, *const u8, tj::size_t, *mut T, c_int, c_int) -> c_int;

/// Decompresses into `count` samples, rows `pitch` samples apart, in pixel `format`.
fn decompress<T: Copy + Default>(
    handle: &Handle,
    data: &[u8],
    count: usize,
    pitch: c_int,
    format: tj::TJPF,
    function: Decompress<T>,
) -> Result<Vec<T>, String> {
    let mut out = vec![T::default(); count];
    // SAFETY: `out` holds the height the header states times `pitch` samples, as many as the
    // pixel format asks for; `function` takes samples of type T; the input pointer and length
    // describe `data`, which outlives the call.
    let status = unsafe {
        function(
            handle.0,
            data.as_ptr(),
            data.len() as _,
            out.as_mut_ptr(),
            pitch,
            format,
        )
    };
    match handle.failed(status) {
        false => Ok(out),
        true => Err(handle.error()),
    }
}

impl Decoded {
    /// The samples scaled to the full range of 8 bits (precision up to 8) or 16 bits, big
    /// endian, as a PDF image stream holds them; the bits a sample takes there.
    pub fn into_pdf_samples(self) -> (u8, Vec<u8>) {
        let bits = self.precision;
        match self.samples {
            Samples::Bytes(bytes) if bits == 8 => (8, bytes),
            Samples::Bytes(bytes) => {
                let scale = |s: u8| rescale(s.into(), bits, 8) as u8;
                (8, bytes.into_iter().map(scale).collect())
            }
            Samples::Words(words) if bits == 16 => {
                (16, words.into_iter().flat_map(u16::to_be_bytes).collect())
            }
            Samples::Words(words) => {
                let scale = |s: u16| rescale(s.into(), bits, 16) as u16;
                (
                    16,
                    words
                        .into_iter()
                        .flat_map(|s| scale(s).to_be_bytes())
                        .collect(),
                )
            }
        }
    }
}
