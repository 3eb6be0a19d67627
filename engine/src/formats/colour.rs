//! Colour: CMYK and CIELab into sRGB, and ICC-tagged pixels into sRGB for targets that
//! cannot carry the profile, by moxcms (pure Rust). Adobe's inverted CMYK is turned back
//! before anything reads it, so a CMYK JPEG never comes out as a negative.

use image::DynamicImage;
use moxcms::{ColorProfile, DataColorSpace, Layout, TransformOptions};

/// 8-bit CMYK samples (inverted, as Adobe's JPEGs store them, when `inverted`) as 8-bit
/// sRGB, through `icc` when it is a usable CMYK profile, else by the plain formula
/// (R = (1 - C)(1 - K)), which is what browsers show for untagged CMYK.
pub fn cmyk_to_srgb(cmyk: &[u8], inverted: bool, icc: Option<&[u8]>) -> Vec<u8> {
    let owned;
    let cmyk = if inverted {
        owned = cmyk.iter().map(|v| 255 - v).collect::<Vec<u8>>();
        &owned[..]
    } else {
        cmyk
    };
    if let Some(rgb) = icc.and_then(|p| through_profile(cmyk, p)) {
        return rgb;
    }
    let mut rgb = Vec::with_capacity(cmyk.len() / 4 * 3);
    for px in cmyk.chunks_exact(4) {
        let k = 255 - px[3] as u32;
        for &c in &px[..3] {
            rgb.push((((255 - c as u32) * k + 127) / 255) as u8);
        }
    }
    rgb
}

fn through_profile(cmyk: &[u8], icc: &[u8]) -> Option<Vec<u8>> {
    let source = ColorProfile::new_from_slice(icc).ok()?;
    if source.color_space != DataColorSpace::Cmyk {
        return None;
    }
    let transform = source
        .create_transform_8bit(
            Layout::Rgba,
            &ColorProfile::new_srgb(),
            Layout::Rgb,
            TransformOptions::default(),
        )
        .ok()?;
    let mut rgb = vec![0u8; cmyk.len() / 4 * 3];
    transform.transform(cmyk, &mut rgb).ok()?;
    Some(rgb)
}

/// Whether `icc` is a profile for the pixels' colour: gray for gray images, RGB for
/// colour ones.
pub fn profile_fits(icc: &[u8], gray: bool) -> bool {
    match ColorProfile::new_from_slice(icc) {
        Ok(p) => match gray {
            true => p.color_space == DataColorSpace::Gray,
            false => p.color_space == DataColorSpace::Rgb,
        },
        Err(_) => false,
    }
}

/// CIELab (L* 0..255 for 0..100, a* and b* 0..255 for -128..127, D65 white as TIFF's
/// CIELab) as sRGB.
pub fn lab_to_srgb(lab: &[u8]) -> Vec<u8> {
    let mut rgb = Vec::with_capacity(lab.len());
    for px in lab.chunks_exact(3) {
        let l = px[0] as f64 * 100.0 / 255.0;
        let (a, b) = (px[1] as f64 - 128.0, px[2] as f64 - 128.0);
        let fy = (l + 16.0) / 116.0;
        let (fx, fz) = (fy + a / 500.0, fy - b / 200.0);
        let inv = |t: f64| {
            if t > 6.0 / 29.0 {
                t * t * t
            } else {
                3.0 * (6.0f64 / 29.0).powi(2) * (t - 4.0 / 29.0)
            }
        };
        let (x, y, z) = (0.950_47 * inv(fx), inv(fy), 1.088_83 * inv(fz));
        let linear = [
            3.240_454_2 * x - 1.537_138_5 * y - 0.498_531_4 * z,
            -0.969_266 * x + 1.876_010_8 * y + 0.041_556 * z,
            0.055_643_4 * x - 0.204_025_9 * y + 1.057_225_2 * z,
        ];
        for c in linear {
            rgb.push((encode_srgb(c) * 255.0).round().clamp(0.0, 255.0) as u8);
        }
    }
    rgb
}

fn encode_srgb(c: f64) -> f64 {
    let c = c.clamp(0.0, 1.0);
    if c <= 0.003_130_8 {
        12.92 * c
    } else {
        1.055 * c.powf(1.0 / 2.4) - 0.055
    }
}

/// The image's pixels moved from the colour space `icc` describes into sRGB (8 bits a
/// sample, alpha kept). An unusable profile leaves the pixels as they are: most such
/// files are sRGB in all but name.
pub fn to_srgb(image: DynamicImage, icc: &[u8]) -> DynamicImage {
    let Ok(source) = ColorProfile::new_from_slice(icc) else {
        return image;
    };
    let gray = source.color_space == DataColorSpace::Gray;
    let alpha = image.color().has_alpha();
    let srgb = ColorProfile::new_srgb();
    let (layout_in, image) = match (gray, alpha) {
        (true, false) => (Layout::Gray, DynamicImage::ImageLuma8(image.into_luma8())),
        (true, true) => (
            Layout::GrayAlpha,
            DynamicImage::ImageLumaA8(image.into_luma_alpha8()),
        ),
        (false, false) => (Layout::Rgb, DynamicImage::ImageRgb8(image.into_rgb8())),
        (false, true) => (Layout::Rgba, DynamicImage::ImageRgba8(image.into_rgba8())),
    };
    // Gray with alpha: moxcms has no such layout; the gray is mapped alone.
    let gray_alpha = layout_in == Layout::GrayAlpha;
    let layout_in = if gray_alpha { Layout::Gray } else { layout_in };
    let layout_out = match (gray, alpha) {
        (true, _) => Layout::Rgb,
        (false, false) => Layout::Rgb,
        (false, true) => Layout::Rgba,
    };
    let Ok(transform) =
        source.create_transform_8bit(layout_in, &srgb, layout_out, TransformOptions::default())
    else {
        return image;
    };
    let (w, h) = (image.width(), image.height());
    let samples = image.as_bytes();
    let input: Vec<u8> = if gray_alpha {
        samples.chunks_exact(2).map(|p| p[0]).collect()
    } else {
        samples.to_vec()
    };
    let channels_out = if layout_out == Layout::Rgba { 4 } else { 3 };
    let pixels = (w as usize) * (h as usize);
    let mut out = vec![0u8; pixels * channels_out];
    if transform.transform(&input, &mut out).is_err() {
        return image;
    }
    if gray_alpha {
        let rgba: Vec<u8> = out
            .chunks_exact(3)
            .zip(samples.chunks_exact(2))
            .flat_map(|(c, p)| [c[0], c[1], c[2], p[1]])
            .collect();
        return image::RgbaImage::from_raw(w, h, rgba).map_or(image, DynamicImage::ImageRgba8);
    }
    match channels_out {
        4 => image::RgbaImage::from_raw(w, h, out).map_or(image, DynamicImage::ImageRgba8),
        _ => image::RgbImage::from_raw(w, h, out).map_or(image, DynamicImage::ImageRgb8),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adobe_cmyk_is_turned_back_before_conversion() {
        // No ink is white; full black ink is black; stored inverted, the same.
        let plain = cmyk_to_srgb(&[0, 0, 0, 0, 0, 0, 0, 255, 255, 0, 0, 0], false, None);
        assert_eq!(plain, vec![255, 255, 255, 0, 0, 0, 0, 255, 255]);
        let inverted = cmyk_to_srgb(&[255, 255, 255, 255, 255, 255, 255, 0], true, None);
        assert_eq!(inverted, vec![255, 255, 255, 0, 0, 0]);
    }

    #[test]
    fn lab_white_black_and_red() {
        let rgb = lab_to_srgb(&[255, 128, 128, 0, 128, 128, 136, 208, 195]);
        assert!(rgb[..3].iter().all(|&v| v >= 254), "{rgb:?}");
        assert!(rgb[3..6].iter().all(|&v| v <= 1), "{rgb:?}");
        assert!(rgb[6] > 230 && rgb[7] < 30 && rgb[8] < 40, "{rgb:?}");
    }
}
