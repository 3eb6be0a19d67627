//! JPEG by libjpeg-turbo: quality, chroma subsampling (4:2:0 below quality 90 unless asked,
//! as libvips), progressive scans, optimised Huffman tables, resolution, ICC profile and
//! (when kept) the EXIF block.

use std::ffi::c_int;

use image::DynamicImage;

use super::super::plan::{Subsampling, Target};
use super::{Metadata, chroma};
use crate::turbo::{Handle, tj};

/// libvips's default quality.
pub const DEFAULT_QUALITY: u8 = 75;

/// Encodes 8-bit gray or RGB (other layouts are brought to one of those first).
pub fn encode(image: &DynamicImage, target: &Target, meta: &Metadata) -> Result<Vec<u8>, String> {
    let quality = target.quality.unwrap_or(DEFAULT_QUALITY);
    let gray = image.color().channel_count() <= 2;
    let converted;
    let (pixels, format, channels) = match (gray, image) {
        (true, DynamicImage::ImageLuma8(i)) => (i.as_raw(), tj::TJPF_TJPF_GRAY, 1),
        (false, DynamicImage::ImageRgb8(i)) => (i.as_raw(), tj::TJPF_TJPF_RGB, 3),
        (true, other) => {
            converted = other.to_luma8().into_raw();
            (&converted, tj::TJPF_TJPF_GRAY, 1)
        }
        (false, other) => {
            converted = other.to_rgb8().into_raw();
            (&converted, tj::TJPF_TJPF_RGB, 3)
        }
    };
    let too_large = || "the image is too large for a JPEG (65535 pixels a side)".to_string();
    let width = c_int::try_from(image.width()).map_err(|_| too_large())?;
    let height = c_int::try_from(image.height()).map_err(|_| too_large())?;
    if width > 65535 || height > 65535 {
        return Err(too_large());
    }
    let pitch = width * channels;
    let subsampling = match chroma(gray, target, DEFAULT_QUALITY) {
        None => tj::TJSAMP_TJSAMP_GRAY,
        Some(Subsampling::S420 | Subsampling::Auto) => tj::TJSAMP_TJSAMP_420,
        Some(Subsampling::S422) => tj::TJSAMP_TJSAMP_422,
        Some(Subsampling::S444) => tj::TJSAMP_TJSAMP_444,
    };
    let handle = Handle::compressor()?;
    handle.set(tj::TJPARAM_TJPARAM_QUALITY, quality.into())?;
    handle.set(tj::TJPARAM_TJPARAM_SUBSAMP, subsampling as c_int)?;
    handle.set(tj::TJPARAM_TJPARAM_PROGRESSIVE, target.progressive.into())?;
    handle.set(tj::TJPARAM_TJPARAM_OPTIMIZE, target.optimize_coding.into())?;
    if let Some((x, y)) = meta.dpi {
        handle.set(tj::TJPARAM_TJPARAM_DENSITYUNITS, 1)?;
        handle.set(
            tj::TJPARAM_TJPARAM_XDENSITY,
            x.round().clamp(1.0, 65535.0) as c_int,
        )?;
        handle.set(
            tj::TJPARAM_TJPARAM_YDENSITY,
            y.round().clamp(1.0, 65535.0) as c_int,
        )?;
    }
    if let Some(icc) = &meta.icc {
        let mut copy = icc.clone();
        // SAFETY: a live handle; the pointer and length describe `copy`, which libjpeg-turbo
        // copies before the call returns.
        if unsafe { tj::tj3SetICCProfile(handle.0, copy.as_mut_ptr(), copy.len() as _) } != 0 {
            return Err(handle.error());
        }
    }
    let mut out: *mut u8 = std::ptr::null_mut();
    let mut size: tj::size_t = 0;
    // SAFETY: `pixels` holds `height` rows of `pitch` bytes in `format`; with a null output
    // pointer libjpeg-turbo allocates the buffer (freed below with tj3Free).
    let status = unsafe {
        tj::tj3Compress8(
            handle.0,
            pixels.as_ptr(),
            width,
            pitch,
            height,
            format as c_int,
            &mut out,
            &mut size,
        )
    };
    let result = if status == 0 && !out.is_null() {
        // SAFETY: libjpeg-turbo wrote `size` bytes at `out`.
        Ok(unsafe { std::slice::from_raw_parts(out, size as usize) }.to_vec())
    } else {
        Err(handle.error())
    };
    if !out.is_null() {
        // SAFETY: `out` was allocated by libjpeg-turbo and is freed once, here.
        unsafe { tj::tj3Free(out.cast()) };
    }
    let mut jpeg = result?;
    if let Some(exif) = &meta.exif {
        insert_exif(&mut jpeg, exif)?;
    }
    Ok(jpeg)
}

/// Puts an APP1 EXIF segment after the start-of-image marker and any JFIF segment.
fn insert_exif(jpeg: &mut Vec<u8>, exif: &[u8]) -> Result<(), String> {
    let len = exif.len() + 8;
    if len > u16::MAX as usize {
        return Err("the EXIF block is too large for a JPEG segment".into());
    }
    let mut at = 2;
    if jpeg.get(2..4) == Some(&[0xFF, 0xE0]) {
        let app0 = u16::from_be_bytes([jpeg[4], jpeg[5]]) as usize;
        at = 4 + app0;
    }
    let mut segment = vec![0xFF, 0xE1];
    segment.extend_from_slice(&(len as u16).to_be_bytes());
    segment.extend_from_slice(b"Exif\0\0");
    segment.extend_from_slice(exif);
    jpeg.splice(at..at, segment);
    Ok(())
}
