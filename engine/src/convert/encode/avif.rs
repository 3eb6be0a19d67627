//! AVIF by rav1e (its SIMD assembly on), wrapped by avif-serialize: 8-bit full-range
//! BT.601 YCbCr, 4:2:0 below quality 90 and 4:4:4 from it (as libvips), gray pictures as
//! monochrome AV1, alpha as a second monochrome AV1 image at the same quality; EXIF kept
//! when asked. AVIF carries no ICC profile here: the pixels arrive in sRGB (see
//! [`super::super::plan::Format::has_icc`]).

use std::num::NonZeroUsize;

use avif_serialize::Aviffy;
use avif_serialize::constants::MatrixCoefficients as AvifMatrix;
use image::DynamicImage;
use rav1e::prelude::*;

use super::super::plan::{Subsampling, Target};
use super::{Metadata, chroma};

/// The quality when none is asked: libvips's default for AVIF.
pub const DEFAULT_QUALITY: u8 = 50;

/// The largest side an AV1 frame can have.
const MAX_SIDE: u32 = 65_536;

/// The smallest tile worth a thread of its own.
const MIN_TILE_PIXELS: usize = 128 * 128;

pub fn encode(image: &DynamicImage, target: &Target, meta: &Metadata) -> Result<Vec<u8>, String> {
    let (w, h) = (image.width(), image.height());
    if w > MAX_SIDE || h > MAX_SIDE {
        return Err(format!(
            "the image is too large for an AVIF ({MAX_SIDE} pixels a side)"
        ));
    }
    let quality = target.quality.unwrap_or(DEFAULT_QUALITY);
    let gray = !image.color().has_color();
    // `validate` refuses 4:2:2 for AVIF (AV1 carries it only in its professional profile,
    // which browsers do not decode).
    let subsampled = chroma(gray, target, DEFAULT_QUALITY) == Some(Subsampling::S420);
    let pixels = Pixels::of(image);
    let settings = Settings {
        width: w as usize,
        height: h as usize,
        quantizer: quantizer(quality),
        speed: target.speed,
        threads: std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
    };
    let colour = match gray {
        true => settings.encode(ChromaSampling::Cs400, |frame| pixels.fill_channel(frame, 0))?,
        false => {
            let sampling = match subsampled {
                true => ChromaSampling::Cs420,
                false => ChromaSampling::Cs444,
            };
            settings.encode(sampling, |frame| pixels.fill_ycbcr(frame, subsampled))?
        }
    };
    let alpha = match pixels.has_transparency() {
        true => Some(settings.encode(ChromaSampling::Cs400, |frame| {
            pixels.fill_channel(frame, pixels.channels - 1)
        })?),
        false => None,
    };
    let mut file = Aviffy::new();
    file.set_matrix_coefficients(AvifMatrix::Bt601)
        .set_full_color_range(true)
        .set_chroma_subsampling((subsampled || gray, subsampled || gray))
        .set_monochrome(gray)
        // Main profile (0) for 4:2:0 and monochrome; High (1) for 4:4:4.
        .set_seq_profile(u8::from(!subsampled && !gray));
    if let Some(exif) = &meta.exif {
        file.set_exif(exif.clone());
    }
    Ok(file.to_vec(&colour, alpha.as_deref(), w, h, 8))
}

/// Quality 1..=100 onto AV1's quantiser index 0..=255, as libheif maps a quality onto
/// libaom's: the same nominal quality means the same quantiser in both.
fn quantizer(quality: u8) -> usize {
    (100 - usize::from(quality.min(100))) * 255 / 100
}

struct Settings {
    width: usize,
    height: usize,
    quantizer: usize,
    speed: u8,
    threads: usize,
}

impl Settings {
    /// One still AV1 frame of `sampling`, its planes written by `fill`.
    fn encode(
        &self,
        sampling: ChromaSampling,
        fill: impl FnOnce(&mut Frame<u8>),
    ) -> Result<Vec<u8>, String> {
        let mut speed = SpeedSettings::from_preset(self.speed);
        // One frame: no references, no look-ahead, no scene cuts to find.
        speed.multiref = false;
        speed.rdo_lookahead_frames = 1;
        speed.scene_detection_mode = SceneDetectionSpeed::None;
        speed.motion.include_near_mvs = false;
        let colour = sampling != ChromaSampling::Cs400;
        let config = Config::new().with_encoder_config(EncoderConfig {
            width: self.width,
            height: self.height,
            bit_depth: 8,
            chroma_sampling: sampling,
            pixel_range: PixelRange::Full,
            color_description: colour.then_some(ColorDescription {
                color_primaries: ColorPrimaries::BT709,
                transfer_characteristics: TransferCharacteristics::SRGB,
                matrix_coefficients: MatrixCoefficients::BT601,
            }),
            still_picture: true,
            min_key_frame_interval: 0,
            max_key_frame_interval: 0,
            quantizer: self.quantizer,
            min_quantizer: self.quantizer.min(255) as u8,
            tiles: self.threads.min(self.width * self.height / MIN_TILE_PIXELS),
            speed_settings: speed,
            ..EncoderConfig::with_speed_preset(self.speed)
        });
        let mut context: Context<u8> = config.new_context().map_err(|e| e.to_string())?;
        let mut frame = context.new_frame();
        fill(&mut frame);
        context.send_frame(frame).map_err(|e| e.to_string())?;
        context.flush();
        let mut out = Vec::new();
        loop {
            match context.receive_packet() {
                Ok(packet) => out.extend_from_slice(&packet.data),
                Err(EncoderStatus::Encoded) => continue,
                Err(EncoderStatus::LimitReached) => break,
                Err(e) => return Err(e.to_string()),
            }
        }
        Ok(out)
    }
}

/// The picture as 8-bit samples: gray, gray + alpha, RGB or RGBA.
struct Pixels<'a> {
    samples: std::borrow::Cow<'a, [u8]>,
    channels: usize,
    width: usize,
}

impl<'a> Pixels<'a> {
    fn of(image: &'a DynamicImage) -> Pixels<'a> {
        use std::borrow::Cow;
        let width = image.width() as usize;
        let (samples, channels): (Cow<'a, [u8]>, usize) = match image {
            DynamicImage::ImageLuma8(i) => (Cow::Borrowed(i.as_raw()), 1),
            DynamicImage::ImageLumaA8(i) => (Cow::Borrowed(i.as_raw()), 2),
            DynamicImage::ImageRgb8(i) => (Cow::Borrowed(i.as_raw()), 3),
            DynamicImage::ImageRgba8(i) => (Cow::Borrowed(i.as_raw()), 4),
            other => match (other.color().has_color(), other.color().has_alpha()) {
                (false, false) => (Cow::Owned(other.to_luma8().into_raw()), 1),
                (false, true) => (Cow::Owned(other.to_luma_alpha8().into_raw()), 2),
                (true, false) => (Cow::Owned(other.to_rgb8().into_raw()), 3),
                (true, true) => (Cow::Owned(other.to_rgba8().into_raw()), 4),
            },
        };
        Pixels {
            samples,
            channels,
            width,
        }
    }

    fn rows(&self) -> std::slice::ChunksExact<'_, u8> {
        self.samples.chunks_exact(self.width * self.channels)
    }

    fn has_transparency(&self) -> bool {
        self.channels.is_multiple_of(2)
            && self
                .samples
                .chunks_exact(self.channels)
                .any(|p| p[self.channels - 1] != 255)
    }

    /// Plane 0 (luma, or alpha) from one channel of each pixel.
    fn fill_channel(&self, frame: &mut Frame<u8>, channel: usize) {
        let mut plane = frame.planes[0].mut_slice(Default::default());
        for (out, row) in plane.rows_iter_mut().zip(self.rows()) {
            for (o, p) in out.iter_mut().zip(row.chunks_exact(self.channels)) {
                *o = p[channel];
            }
        }
    }

    /// Luma for every pixel; chroma for every pixel, or for the average of each 2x2 block
    /// (of the pixels there are, at odd edges).
    fn fill_ycbcr(&self, frame: &mut Frame<u8>, subsampled: bool) {
        let c = self.channels;
        let [luma, cb, cr] = &mut frame.planes;
        let mut luma = luma.mut_slice(Default::default());
        for (out, row) in luma.rows_iter_mut().zip(self.rows()) {
            for (o, p) in out.iter_mut().zip(row.chunks_exact(c)) {
                *o = ycbcr([p[0].into(), p[1].into(), p[2].into()]).0;
            }
        }
        let mut cb = cb.mut_slice(Default::default());
        let mut cr = cr.mut_slice(Default::default());
        let step = if subsampled { 2 } else { 1 };
        let rows: Vec<&[u8]> = self.rows().collect();
        for ((cb_row, cr_row), pair) in cb
            .rows_iter_mut()
            .zip(cr.rows_iter_mut())
            .zip(rows.chunks(step))
        {
            for (x, (b, r)) in cb_row.iter_mut().zip(cr_row.iter_mut()).enumerate() {
                let first = x * step;
                if first >= self.width {
                    break;
                }
                let last = (first + step).min(self.width);
                let mut sum = [0u32; 3];
                let mut n = 0;
                for row in pair {
                    for p in row[first * c..last * c].chunks_exact(c) {
                        sum[0] += u32::from(p[0]);
                        sum[1] += u32::from(p[1]);
                        sum[2] += u32::from(p[2]);
                        n += 1;
                    }
                }
                let mean = sum.map(|s| (s + n / 2) / n);
                (_, *b, *r) = ycbcr(mean);
            }
        }
    }
}

/// Full-range BT.601 (as JPEG), in 16-bit fixed point.
fn ycbcr([r, g, b]: [u32; 3]) -> (u8, u8, u8) {
    let (r, g, b) = (r as i32, g as i32, b as i32);
    const HALF: i32 = 1 << 15;
    let y = (19595 * r + 38470 * g + 7471 * b + HALF) >> 16;
    let cb = (-11059 * r - 21709 * g + 32768 * b + (128 << 16) + HALF) >> 16;
    let cr = (32768 * r - 27439 * g - 5329 * b + (128 << 16) + HALF) >> 16;
    let clamp = |v: i32| v.clamp(0, 255) as u8;
    (clamp(y), clamp(cb), clamp(cr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ycbcr_keeps_grays_neutral_and_spans_the_range() {
        for v in [0, 1, 127, 128, 254, 255] {
            assert_eq!(ycbcr([v, v, v]), (v as u8, 128, 128));
        }
        assert_eq!(ycbcr([255, 0, 0]), (76, 85, 255));
        assert_eq!(ycbcr([0, 0, 255]), (29, 255, 107));
    }

    #[test]
    fn quality_maps_onto_the_quantiser_as_libheif() {
        assert_eq!(quantizer(100), 0);
        assert_eq!(quantizer(50), 127);
        assert_eq!(quantizer(1), 252);
    }
}
