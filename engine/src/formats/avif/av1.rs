//! One AV1 still image decoded by dav1d (built from its bundled source with its SIMD
//! assembly), on the calling thread, its planes copied out. dav1d is C, fuzzed for years,
//! and answers damaged input with an error code.

use std::ffi::c_int;
use std::mem::MaybeUninit;

use libdav1d_sys::{
    Dav1dContext, Dav1dData, Dav1dPicture, Dav1dPixelLayout, Dav1dSettings, dav1d_close,
    dav1d_data_create, dav1d_data_unref, dav1d_default_settings, dav1d_get_picture, dav1d_open,
    dav1d_picture_unref, dav1d_send_data,
};

/// A decoded picture: its planes (samples widened to 16 bits), sampling and the colour its
/// sequence header states.
pub struct Planes {
    pub width: usize,
    pub height: usize,
    /// 8, 10 or 12.
    pub depth: u8,
    /// Chroma halved across, and down (4:2:0 both; 4:2:2 across only).
    pub halved: (bool, bool),
    pub monochrome: bool,
    /// Y, then Cb and Cr (empty when monochrome), each row after row with no padding.
    pub planes: [Vec<u16>; 3],
    pub matrix: u16,
    pub full_range: bool,
}

impl Planes {
    pub fn chroma_size(&self) -> (usize, usize) {
        let half = |n: usize, halved: bool| if halved { n.div_ceil(2) } else { n };
        (
            half(self.width, self.halved.0),
            half(self.height, self.halved.1),
        )
    }
}

/// dav1d's "try again" (a negative errno).
const EAGAIN: c_int = -11;

struct Context(*mut Dav1dContext);

impl Drop for Context {
    fn drop(&mut self) {
        // SAFETY: the context came from dav1d_open (or is null, which dav1d_close allows);
        // dav1d_close nulls the pointer, so it is closed once.
        unsafe { dav1d_close(&mut self.0) }
    }
}

struct Data(Dav1dData);

impl Drop for Data {
    fn drop(&mut self) {
        // SAFETY: zeroed or from dav1d_data_create; unref of consumed (zeroed) data is a
        // no-op.
        unsafe { dav1d_data_unref(&mut self.0) }
    }
}

struct Picture(Dav1dPicture);

impl Drop for Picture {
    fn drop(&mut self) {
        // SAFETY: zeroed or filled by dav1d_get_picture; unref zeroes it, so it is released
        // once.
        unsafe { dav1d_picture_unref(&mut self.0) }
    }
}

/// Decodes the AV1 image in `obus` (an item's bytes), refusing a frame of more than
/// `max_pixels`.
pub fn decode(obus: &[u8], max_pixels: u64) -> Result<Planes, String> {
    let corrupt =
        |what: &str, code: c_int| format!("the AV1 image data is corrupt ({what}: {code})");
    if obus.is_empty() {
        return Err("the AV1 image data is empty".into());
    }
    let mut settings = MaybeUninit::<Dav1dSettings>::uninit();
    // SAFETY: dav1d_default_settings writes the whole struct.
    let mut settings = unsafe {
        dav1d_default_settings(settings.as_mut_ptr());
        settings.assume_init()
    };
    // One thread: conversions run side by side already; no frame is held back.
    settings.n_threads = 1;
    settings.max_frame_delay = 1;
    settings.all_layers = 0;
    settings.frame_size_limit = max_pixels.min(u32::MAX.into()) as u32;
    let mut context = Context(std::ptr::null_mut());
    // SAFETY: both pointers are to live locals.
    let opened = unsafe { dav1d_open(&mut context.0, &settings) };
    if opened != 0 || context.0.is_null() {
        return Err(corrupt("the AV1 decoder could not start", opened));
    }
    // SAFETY: the all-zero Dav1dData and Dav1dPicture are the empty ones dav1d documents
    // (`Dav1dData data = { 0 }`).
    let mut data = Data(unsafe { std::mem::zeroed() });
    let mut picture = Picture(unsafe { std::mem::zeroed() });
    // SAFETY: dav1d_data_create allocates `obus.len()` bytes and returns them (or null).
    unsafe {
        let buffer = dav1d_data_create(&mut data.0, obus.len());
        if buffer.is_null() {
            return Err("the AV1 image data cannot be held".into());
        }
        std::ptr::copy_nonoverlapping(obus.as_ptr(), buffer, obus.len());
    }
    // Each round consumes data or returns the picture; the bound is a safeguard.
    for _ in 0..obus.len() + 2 {
        if data.0.sz > 0 {
            // SAFETY: live context and data.
            let sent = unsafe { dav1d_send_data(context.0, &mut data.0) };
            if sent < 0 && sent != EAGAIN {
                return Err(corrupt("sending", sent));
            }
        }
        // SAFETY: live context; the picture is written on success.
        match unsafe { dav1d_get_picture(context.0, &mut picture.0) } {
            0 => return planes(&picture.0),
            EAGAIN if data.0.sz > 0 => continue,
            EAGAIN => return Err("the AV1 image data holds no picture".into()),
            code => return Err(corrupt("decoding", code)),
        }
    }
    Err("the AV1 image data holds no picture".into())
}

fn planes(picture: &Dav1dPicture) -> Result<Planes, String> {
    let p = &picture.p;
    let (width, height) = (p.w.max(0) as usize, p.h.max(0) as usize);
    let depth = p.bpc as u8;
    let monochrome = matches!(p.layout, Dav1dPixelLayout::DAV1D_PIXEL_LAYOUT_I400);
    let halved = match p.layout {
        Dav1dPixelLayout::DAV1D_PIXEL_LAYOUT_I420 => (true, true),
        Dav1dPixelLayout::DAV1D_PIXEL_LAYOUT_I422 => (true, false),
        _ => (false, false),
    };
    // SAFETY: a decoded picture's sequence header lives as long as the picture.
    let header = unsafe { picture.seq_hdr.as_ref() };
    let mut out = Planes {
        width,
        height,
        depth,
        halved,
        monochrome,
        planes: Default::default(),
        matrix: header.map_or(2, |h| h.mtrx as u16),
        full_range: header.is_some_and(|h| h.color_range != 0),
    };
    let (cw, ch) = out.chroma_size();
    let count = if monochrome { 1 } else { 3 };
    for (index, plane) in out.planes.iter_mut().enumerate().take(count) {
        let (w, h) = if index == 0 {
            (width, height)
        } else {
            (cw, ch)
        };
        let stride = picture.stride[index.min(1)];
        let base = picture.data[index];
        if base.is_null() {
            return Err("the AV1 picture has no pixels".into());
        }
        if stride < 0 {
            return Err("the AV1 picture is stored bottom up".into());
        }
        let stride = stride as usize;
        plane.reserve_exact(w * h);
        for row in 0..h {
            // SAFETY: dav1d's planes hold `h` rows of `stride` bytes, each with `w`
            // samples of 1 byte (8-bit) or 2 (deeper), live until the picture is released.
            unsafe {
                let start = base.cast::<u8>().add(row * stride);
                match depth {
                    8 => plane.extend(
                        std::slice::from_raw_parts(start, w)
                            .iter()
                            .map(|&s| u16::from(s)),
                    ),
                    _ => {
                        plane.extend_from_slice(std::slice::from_raw_parts(start.cast::<u16>(), w))
                    }
                }
            }
        }
    }
    Ok(out)
}
