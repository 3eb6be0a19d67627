//! WebP by libwebp (built from source with its SIMD code): lossy at a quality (75 and
//! effort 4 by default, as libvips) or lossless; ICC profile and EXIF added by libwebp's
//! muxer.

use std::ffi::c_int;

use image::DynamicImage;
use libwebp_sys as webp;

use super::super::plan::Target;
use super::Metadata;

/// libvips's default quality.
pub const DEFAULT_QUALITY: u8 = 75;

/// A picture, freed when dropped.
struct Picture(webp::WebPPicture);

impl Drop for Picture {
    fn drop(&mut self) {
        // SAFETY: the picture was initialised by WebPPictureInitInternal; freeing an
        // initialised picture (allocated or not) is allowed, once.
        unsafe { webp::WebPPictureFree(&mut self.0) }
    }
}

/// A memory writer, its buffer freed when dropped.
struct Writer(webp::WebPMemoryWriter);

impl Drop for Writer {
    fn drop(&mut self) {
        // SAFETY: initialised by WebPMemoryWriterInit; cleared once.
        unsafe { webp::WebPMemoryWriterClear(&mut self.0) }
    }
}

pub fn encode(image: &DynamicImage, target: &Target, meta: &Metadata) -> Result<Vec<u8>, String> {
    let too_large = || "the image is too large for a WebP (16383 pixels a side)".to_string();
    if image.width() > 16383 || image.height() > 16383 {
        return Err(too_large());
    }
    let (w, h) = (image.width() as c_int, image.height() as c_int);
    let alpha = image.color().has_alpha();
    let converted;
    let pixels: &[u8] = match (alpha, image) {
        (false, DynamicImage::ImageRgb8(i)) => i.as_raw(),
        (true, DynamicImage::ImageRgba8(i)) => i.as_raw(),
        (false, other) => {
            converted = other.to_rgb8().into_raw();
            &converted
        }
        (true, other) => {
            converted = other.to_rgba8().into_raw();
            &converted
        }
    };
    let quality = target.quality.unwrap_or(DEFAULT_QUALITY) as f32;
    // SAFETY (this block): every struct is initialised by libwebp's own init function
    // before use; `pixels` holds h rows of w pixels of 3 or 4 bytes and outlives the
    // import, which copies it; the writer's buffer is read before it is cleared.
    unsafe {
        let mut config = std::mem::MaybeUninit::<webp::WebPConfig>::uninit();
        if webp::WebPConfigInitInternal(
            config.as_mut_ptr(),
            webp::WebPPreset::WEBP_PRESET_DEFAULT,
            quality,
            webp::WEBP_ENCODER_ABI_VERSION as c_int,
        ) == 0
        {
            return Err("the WebP encoder could not be set up".into());
        }
        let mut config = config.assume_init();
        config.lossless = target.lossless.into();
        config.method = target.effort.into();
        if target.lossless {
            // In lossless mode the quality is the effort spent compressing.
            config.quality = quality;
        }
        if webp::WebPValidateConfig(&config) == 0 {
            return Err("the WebP settings are not valid".into());
        }
        let mut picture = std::mem::MaybeUninit::<webp::WebPPicture>::uninit();
        if webp::WebPPictureInitInternal(
            picture.as_mut_ptr(),
            webp::WEBP_ENCODER_ABI_VERSION as c_int,
        ) == 0
        {
            return Err("the WebP encoder could not be set up".into());
        }
        let mut picture = Picture(picture.assume_init());
        picture.0.width = w;
        picture.0.height = h;
        picture.0.use_argb = target.lossless.into();
        let imported = match alpha {
            true => webp::WebPPictureImportRGBA(&mut picture.0, pixels.as_ptr(), w * 4),
            false => webp::WebPPictureImportRGB(&mut picture.0, pixels.as_ptr(), w * 3),
        };
        if imported == 0 {
            return Err("the image could not be handed to the WebP encoder".into());
        }
        let mut writer = std::mem::MaybeUninit::<webp::WebPMemoryWriter>::uninit();
        webp::WebPMemoryWriterInit(writer.as_mut_ptr());
        let mut writer = Writer(writer.assume_init());
        picture.0.writer = Some(webp::WebPMemoryWrite);
        picture.0.custom_ptr = (&mut writer.0 as *mut webp::WebPMemoryWriter).cast();
        if webp::WebPEncode(&config, &mut picture.0) == 0 {
            return Err(format!(
                "the WebP encoder failed ({:?})",
                picture.0.error_code
            ));
        }
        let bitstream = std::slice::from_raw_parts(writer.0.mem, writer.0.size).to_vec();
        match (&meta.icc, &meta.exif) {
            (None, None) => Ok(bitstream),
            (icc, exif) => with_chunks(&bitstream, icc.as_deref(), exif.as_deref()),
        }
    }
}

/// The bitstream with ICCP and EXIF chunks, assembled by libwebp's muxer.
fn with_chunks(
    bitstream: &[u8],
    icc: Option<&[u8]>,
    exif: Option<&[u8]>,
) -> Result<Vec<u8>, String> {
    struct Mux(*mut webp::WebPMux);
    impl Drop for Mux {
        fn drop(&mut self) {
            // SAFETY: created by WebPMuxNew, deleted once.
            unsafe { webp::WebPMuxDelete(self.0) }
        }
    }
    let failed = || "the WebP metadata could not be added".to_string();
    let mux = Mux(webp::WebPMuxNew());
    if mux.0.is_null() {
        return Err(failed());
    }
    let data = |bytes: &[u8]| webp::WebPData {
        bytes: bytes.as_ptr(),
        size: bytes.len(),
    };
    // SAFETY: a live mux; every WebPData describes a slice that outlives the calls, and
    // copy_data = 1 makes the mux keep its own copies; the assembled buffer is copied
    // out and freed with WebPFree, once.
    unsafe {
        let ok = webp::WebPMuxError::WEBP_MUX_OK;
        if webp::WebPMuxSetImage(mux.0, &data(bitstream), 1) != ok {
            return Err(failed());
        }
        if let Some(icc) = icc
            && webp::WebPMuxSetChunk(mux.0, c"ICCP".as_ptr(), &data(icc), 1) != ok
        {
            return Err(failed());
        }
        if let Some(exif) = exif
            && webp::WebPMuxSetChunk(mux.0, c"EXIF".as_ptr(), &data(exif), 1) != ok
        {
            return Err(failed());
        }
        let mut out = webp::WebPData {
            bytes: std::ptr::null(),
            size: 0,
        };
        if webp::WebPMuxAssemble(mux.0, &mut out) != ok || out.bytes.is_null() {
            return Err(failed());
        }
        let bytes = std::slice::from_raw_parts(out.bytes, out.size).to_vec();
        webp::WebPFree(out.bytes as *mut _);
        Ok(bytes)
    }
}
