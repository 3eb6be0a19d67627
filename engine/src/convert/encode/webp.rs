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

/// libwebp's settings for `target`.
fn config(target: &Target) -> Result<webp::WebPConfig, String> {
    let quality = target.quality.unwrap_or(DEFAULT_QUALITY) as f32;
    let mut config = std::mem::MaybeUninit::<webp::WebPConfig>::uninit();
    // SAFETY: WebPConfigInitInternal fills the whole struct; it is read only on success.
    let mut config = unsafe {
        if webp::WebPConfigInitInternal(
            config.as_mut_ptr(),
            webp::WebPPreset::WEBP_PRESET_DEFAULT,
            quality,
            webp::WEBP_ENCODER_ABI_VERSION as c_int,
        ) == 0
        {
            return Err("the WebP encoder could not be set up".into());
        }
        config.assume_init()
    };
    config.lossless = target.lossless.into();
    config.method = target.effort.into();
    // SAFETY: a fully initialised config.
    if unsafe { webp::WebPValidateConfig(&config) } == 0 {
        return Err("the WebP settings are not valid".into());
    }
    Ok(config)
}

/// A picture holding a copy of `image`'s pixels (8-bit RGB, or RGBA when it has alpha).
fn picture(image: &DynamicImage, lossless: bool) -> Result<Picture, String> {
    if image.width() > 16383 || image.height() > 16383 {
        return Err("the image is too large for a WebP (16383 pixels a side)".into());
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
    let mut picture = std::mem::MaybeUninit::<webp::WebPPicture>::uninit();
    // SAFETY: WebPPictureInitInternal fills the struct (read only on success); the import
    // copies `pixels`, which hold h rows of w pixels of 3 or 4 bytes.
    unsafe {
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
        picture.0.use_argb = lossless.into();
        let imported = match alpha {
            true => webp::WebPPictureImportRGBA(&mut picture.0, pixels.as_ptr(), w * 4),
            false => webp::WebPPictureImportRGB(&mut picture.0, pixels.as_ptr(), w * 3),
        };
        if imported == 0 {
            return Err("the image could not be handed to the WebP encoder".into());
        }
        Ok(picture)
    }
}

pub fn encode(image: &DynamicImage, target: &Target, meta: &Metadata) -> Result<Vec<u8>, String> {
    let config = config(target)?;
    let mut picture = picture(image, target.lossless)?;
    let mut writer = std::mem::MaybeUninit::<webp::WebPMemoryWriter>::uninit();
    // SAFETY: the writer is initialised before use and its buffer read before it is
    // cleared (on drop); the picture and config are initialised.
    let bitstream = unsafe {
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
        std::slice::from_raw_parts(writer.0.mem, writer.0.size).to_vec()
    };
    match (&meta.icc, &meta.exif) {
        (None, None) => Ok(bitstream),
        (icc, exif) => with_chunks(&bitstream, icc.as_deref(), exif.as_deref()),
    }
}

/// An animated WebP of `frames` (each with its delay in milliseconds), looping forever.
pub fn encode_animation(
    frames: &[(DynamicImage, u32)],
    target: &Target,
) -> Result<Vec<u8>, String> {
    struct Encoder(*mut webp::WebPAnimEncoder);
    impl Drop for Encoder {
        fn drop(&mut self) {
            // SAFETY: created by WebPAnimEncoderNewInternal, deleted once.
            unsafe { webp::WebPAnimEncoderDelete(self.0) }
        }
    }
    let (first, _) = frames
        .first()
        .ok_or("an animation needs at least one frame")?;
    let (w, h) = (first.width() as c_int, first.height() as c_int);
    let config = config(target)?;
    let failed = |encoder: &Encoder| {
        // SAFETY: a live encoder; the message is a NUL-terminated string it owns.
        let message = unsafe { std::ffi::CStr::from_ptr(webp::WebPAnimEncoderGetError(encoder.0)) };
        format!(
            "the WebP animation encoder failed: {}",
            message.to_string_lossy()
        )
    };
    // SAFETY (this block): the options are initialised by libwebp before use; every picture
    // is initialised and outlives the call that reads it; the assembled data is copied out
    // and freed once with WebPFree.
    unsafe {
        let mut options = std::mem::MaybeUninit::<webp::WebPAnimEncoderOptions>::uninit();
        if webp::WebPAnimEncoderOptionsInitInternal(
            options.as_mut_ptr(),
            webp::WEBP_MUX_ABI_VERSION as c_int,
        ) == 0
        {
            return Err("the WebP animation encoder could not be set up".into());
        }
        let mut options = options.assume_init();
        options.anim_params.loop_count = 0;
        let encoder = Encoder(webp::WebPAnimEncoderNewInternal(
            w,
            h,
            &options,
            webp::WEBP_MUX_ABI_VERSION as c_int,
        ));
        if encoder.0.is_null() {
            return Err("the WebP animation encoder could not be set up".into());
        }
        let mut timestamp: c_int = 0;
        for (image, delay) in frames {
            let mut picture = picture(image, target.lossless)?;
            if webp::WebPAnimEncoderAdd(encoder.0, &mut picture.0, timestamp, &config) == 0 {
                return Err(failed(&encoder));
            }
            timestamp = timestamp.saturating_add((*delay).min(i32::MAX as u32) as c_int);
        }
        if webp::WebPAnimEncoderAdd(encoder.0, std::ptr::null_mut(), timestamp, std::ptr::null())
            == 0
        {
            return Err(failed(&encoder));
        }
        let mut data = webp::WebPData {
            bytes: std::ptr::null(),
            size: 0,
        };
        if webp::WebPAnimEncoderAssemble(encoder.0, &mut data) == 0 || data.bytes.is_null() {
            return Err(failed(&encoder));
        }
        let bytes = std::slice::from_raw_parts(data.bytes, data.size).to_vec();
        webp::WebPFree(data.bytes as *mut _);
        Ok(bytes)
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
