//! The probe engine: format and dimensions of an image from its first bytes, with limits,
//! without decoding pixels.

use super::model::{ImageExt, ImageFormat, ProbeResult};

/// How much of an object the probe reads at first, and at most.
pub const FIRST_READ: u64 = 64 * 1024;
pub const LAST_READ: u64 = 8 * 1024 * 1024;

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_side: u32,
    pub max_pixels: u64,
}

/// The probe's answer for a prefix of a file.
#[derive(Debug, PartialEq)]
pub enum Probe {
    Done(ProbeResult),
    /// The header runs past the bytes given; read more and ask again.
    NeedMore,
}

/// Probes `head`, the first bytes of a file; `complete` says whether it is the whole file.
pub fn probe(head: &[u8], complete: bool, expected: ImageExt, limits: Limits) -> Probe {
    let refuse = |reason: String| Probe::Done(ProbeResult::Refused { reason });
    let format = match imagesize::image_type(head) {
        Ok(imagesize::ImageType::Png) => ImageFormat::Png,
        Ok(imagesize::ImageType::Jpeg) => ImageFormat::Jpeg,
        Ok(imagesize::ImageType::Gif) => ImageFormat::Gif,
        Ok(other) => {
            return refuse(format!(
                "the file is a {other:?} image; the image library accepts PNG, JPEG and GIF"
            ));
        }
        Err(_) if head.len() < 16 && !complete => return Probe::NeedMore,
        Err(_) => return refuse("the file is not an image".to_string()),
    };
    if format != expected.format() {
        return refuse(format!(
            "the file is a {format:?} image but ImageExt is {}",
            expected.as_str()
        ));
    }
    let size = match imagesize::blob_size(head) {
        Ok(size) => size,
        Err(_) if !complete => return Probe::NeedMore,
        Err(_) => return refuse(format!("the {format:?} header is truncated or corrupt")),
    };
    let (width, height) = (size.width as u64, size.height as u64);
    if width == 0 || height == 0 {
        return refuse(format!("the image has no pixels ({width}x{height})"));
    }
    let side = u64::from(limits.max_side);
    if width > side || height > side || width * height > limits.max_pixels {
        return refuse(format!(
            "the image is {width}x{height}; the limits are {side} pixels a side and {} pixels in all",
            limits.max_pixels
        ));
    }
    Probe::Done(ProbeResult::Image {
        format,
        // Both fit: they are at most `max_side`, a u32.
        width: width as u32,
        height: height as u32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_side: 30_000,
        max_pixels: 200_000_000,
    };

    /// A minimal PNG header: signature and IHDR with the given size.
    fn png_header(w: u32, h: u32) -> Vec<u8> {
        let mut v = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        v.extend_from_slice(&w.to_be_bytes());
        v.extend_from_slice(&h.to_be_bytes());
        v.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
        v
    }

    /// A JPEG whose SOF0 comes after an APP1 segment of `pad` bytes.
    fn jpeg_header(w: u16, h: u16, pad: usize) -> Vec<u8> {
        let mut v = vec![0xFF, 0xD8, 0xFF, 0xE1];
        v.extend_from_slice(&((pad + 2) as u16).to_be_bytes());
        v.extend(std::iter::repeat_n(0u8, pad));
        v.extend_from_slice(&[0xFF, 0xC0, 0, 17, 8]);
        v.extend_from_slice(&h.to_be_bytes());
        v.extend_from_slice(&w.to_be_bytes());
        v.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
        v
    }

    fn done(p: Probe) -> ProbeResult {
        match p {
            Probe::Done(r) => r,
            Probe::NeedMore => panic!("probe wanted more bytes"),
        }
    }

    #[test]
    fn png_dimensions() {
        let r = done(probe(&png_header(640, 480), true, ImageExt::Png, LIMITS));
        assert_eq!(
            r,
            ProbeResult::Image {
                format: ImageFormat::Png,
                width: 640,
                height: 480
            }
        );
    }

    #[test]
    fn jpeg_header_past_the_first_read_asks_for_more() {
        let file = jpeg_header(1200, 800, 30_000);
        assert_eq!(
            probe(&file[..1000], false, ImageExt::Jpg, LIMITS),
            Probe::NeedMore
        );
        let r = done(probe(&file, true, ImageExt::Jpeg, LIMITS));
        assert!(
            matches!(
                r,
                ProbeResult::Image {
                    width: 1200,
                    height: 800,
                    ..
                }
            ),
            "{r:?}"
        );
    }

    #[test]
    fn text_is_not_an_image() {
        let r = done(probe(
            b"hello, this is text and not a picture",
            true,
            ImageExt::Png,
            LIMITS,
        ));
        assert_eq!(
            r,
            ProbeResult::Refused {
                reason: "the file is not an image".into()
            }
        );
    }

    #[test]
    fn wrong_format_for_the_extension() {
        let r = done(probe(&png_header(10, 10), true, ImageExt::Gif, LIMITS));
        let ProbeResult::Refused { reason } = r else {
            panic!("{r:?}")
        };
        assert!(reason.contains("ImageExt is gif"), "{reason}");
    }

    #[test]
    fn truncated_header_is_refused_when_the_file_ends() {
        // The file ends inside the APP1 segment, before the frame header.
        let file = jpeg_header(100, 100, 100);
        let r = done(probe(&file[..50], true, ImageExt::Jpg, LIMITS));
        let ProbeResult::Refused { reason } = r else {
            panic!("{r:?}")
        };
        assert!(reason.contains("truncated"), "{reason}");
    }

    #[test]
    fn limits_are_enforced_from_the_header() {
        let r = done(probe(&png_header(40_000, 10), true, ImageExt::Png, LIMITS));
        assert!(matches!(r, ProbeResult::Refused { .. }));
        let r = done(probe(
            &png_header(20_000, 20_000),
            true,
            ImageExt::Png,
            LIMITS,
        ));
        assert!(matches!(r, ProbeResult::Refused { .. }));
        let r = done(probe(&png_header(0, 10), true, ImageExt::Png, LIMITS));
        assert!(matches!(r, ProbeResult::Refused { .. }));
    }
}
