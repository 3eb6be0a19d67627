//! Decoded AV1 planes into RGB: the matrix the file names (BT.601, BT.709, BT.2020, or none
//! for RGB stored as GBR), full or limited range, chroma brought up to full size by
//! bilinear interpolation between sample centres (as libjpeg's fancy upsampling).

use image::{DynamicImage, ImageBuffer, Luma, Rgb};

use super::av1::Planes;

/// Kr and Kb of a matrix (ISO/IEC 23091-4 numbers); `None` for the identity (GBR).
fn coefficients(matrix: u16) -> Option<(f32, f32)> {
    match matrix {
        0 => None,
        1 => Some((0.2126, 0.0722)),
        4 => Some((0.30, 0.11)),
        7 => Some((0.212, 0.087)),
        9 | 10 => Some((0.2627, 0.0593)),
        // 5, 6 (BT.601), 2 (unspecified, read as BT.601 as browsers do) and the rest.
        _ => Some((0.299, 0.114)),
    }
}

/// Samples of `depth` bits normalised: luma (or any full-range plane) to 0..1, chroma to
/// -0.5..0.5.
#[derive(Clone, Copy)]
struct Range {
    luma_offset: f32,
    luma_scale: f32,
    chroma_offset: f32,
    chroma_scale: f32,
}

impl Range {
    fn new(depth: u8, full: bool) -> Range {
        let max = ((1u32 << depth) - 1) as f32;
        let unit = (1u32 << (depth - 8)) as f32;
        match full {
            true => Range {
                luma_offset: 0.0,
                luma_scale: 1.0 / max,
                chroma_offset: (1u32 << (depth - 1)) as f32,
                chroma_scale: 1.0 / max,
            },
            false => Range {
                luma_offset: 16.0 * unit,
                luma_scale: 1.0 / (219.0 * unit),
                chroma_offset: 128.0 * unit,
                chroma_scale: 1.0 / (224.0 * unit),
            },
        }
    }
}

/// The planes as 8-bit pixels (8-bit files) or 16-bit (deeper ones): gray when monochrome.
pub fn to_image(planes: &Planes) -> Result<DynamicImage, String> {
    let (w, h) = (planes.width, planes.height);
    let range = Range::new(planes.depth, planes.full_range);
    let deep = planes.depth > 8;
    let out_max = if deep { 65535.0 } else { 255.0 };
    let channels = if planes.monochrome { 1 } else { 3 };
    let mut out = vec![0u16; w * h * channels];
    let luma = &planes.planes[0];
    if planes.monochrome {
        for (o, &y) in out.iter_mut().zip(luma) {
            *o = quantise((y as f32 - range.luma_offset) * range.luma_scale, out_max);
        }
    } else {
        let matrix = coefficients(planes.matrix);
        let mut cb = vec![0f32; w];
        let mut cr = vec![0f32; w];
        for row in 0..h {
            upsample_row(planes, 1, row, &mut cb);
            upsample_row(planes, 2, row, &mut cr);
            let ys = &luma[row * w..(row + 1) * w];
            let pixels = out[row * w * 3..(row + 1) * w * 3].chunks_exact_mut(3);
            for (((px, &y), &u), &v) in pixels.zip(ys).zip(&cb).zip(&cr) {
                let luma = |s: f32| (s - range.luma_offset) * range.luma_scale;
                let [r, g, b] = match matrix {
                    Some((kr, kb)) => {
                        let y = luma(y as f32);
                        let u = (u - range.chroma_offset) * range.chroma_scale;
                        let v = (v - range.chroma_offset) * range.chroma_scale;
                        let r = y + 2.0 * (1.0 - kr) * v;
                        let b = y + 2.0 * (1.0 - kb) * u;
                        let g = (y - kr * r - kb * b) / (1.0 - kr - kb);
                        [r, g, b]
                    }
                    // GBR: the planes hold G, B and R, each with luma's range.
                    None => [luma(v), luma(y as f32), luma(u)],
                };
                px[0] = quantise(r, out_max);
                px[1] = quantise(g, out_max);
                px[2] = quantise(b, out_max);
            }
        }
    }
    let (w, h) = (w as u32, h as u32);
    let bad = || "the AV1 picture's planes do not match its size".to_string();
    Ok(match (deep, planes.monochrome) {
        (true, true) => DynamicImage::ImageLuma16(
            ImageBuffer::<Luma<u16>, _>::from_raw(w, h, out).ok_or_else(bad)?,
        ),
        (true, false) => DynamicImage::ImageRgb16(
            ImageBuffer::<Rgb<u16>, _>::from_raw(w, h, out).ok_or_else(bad)?,
        ),
        (false, mono) => {
            let bytes: Vec<u8> = out.into_iter().map(|s| s as u8).collect();
            match mono {
                true => {
                    DynamicImage::ImageLuma8(ImageBuffer::from_raw(w, h, bytes).ok_or_else(bad)?)
                }
                false => {
                    DynamicImage::ImageRgb8(ImageBuffer::from_raw(w, h, bytes).ok_or_else(bad)?)
                }
            }
        }
    })
}

/// An alpha plane (the luma of its picture, whatever its chroma), full range: 8-bit for an
/// 8-bit picture, 16-bit for a deeper one.
pub fn alpha(planes: &Planes) -> Result<DynamicImage, String> {
    let gray = Planes {
        monochrome: true,
        planes: [planes.planes[0].clone(), Vec::new(), Vec::new()],
        ..*planes
    };
    to_image(&gray)
}

fn quantise(v: f32, max: f32) -> u16 {
    (v * max).round().clamp(0.0, max) as u16
}

/// Chroma plane `index` at full width for luma row `row`: nearest samples weighted 3:1 by
/// distance between centres, edges repeated.
fn upsample_row(planes: &Planes, index: usize, row: usize, out: &mut [f32]) {
    let (cw, ch) = planes.chroma_size();
    let plane = &planes.planes[index];
    let sample = |x: usize, y: usize| plane[y * cw + x] as f32;
    let (near, far) = match planes.halved.1 {
        false => (row, row),
        true => {
            let near = (row / 2).min(ch - 1);
            let far = match row % 2 {
                0 => near.saturating_sub(1),
                _ => (near + 1).min(ch - 1),
            };
            (near, far)
        }
    };
    let column = |x: usize| 0.75 * sample(x, near) + 0.25 * sample(x, far);
    if !planes.halved.0 {
        for (x, o) in out.iter_mut().enumerate() {
            *o = column(x);
        }
        return;
    }
    for (x, o) in out.iter_mut().enumerate() {
        let near = (x / 2).min(cw - 1);
        let far = match x % 2 {
            0 => near.saturating_sub(1),
            _ => (near + 1).min(cw - 1),
        };
        *o = 0.75 * column(near) + 0.25 * column(far);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn planes(y: Vec<u16>, u: Vec<u16>, v: Vec<u16>, full_range: bool) -> Planes {
        Planes {
            width: 2,
            height: 2,
            depth: 8,
            halved: (true, true),
            monochrome: false,
            planes: [y, u, v],
            matrix: 6,
            full_range,
        }
    }

    #[test]
    fn neutral_chroma_gives_grays_in_either_range() {
        let full = to_image(&planes(vec![0, 128, 200, 255], vec![128], vec![128], true)).unwrap();
        assert_eq!(
            full.to_rgb8().as_raw(),
            &[0, 0, 0, 128, 128, 128, 200, 200, 200, 255, 255, 255]
        );
        let limited =
            to_image(&planes(vec![16, 235, 16, 235], vec![128], vec![128], false)).unwrap();
        assert_eq!(
            limited.to_rgb8().as_raw(),
            &[0, 0, 0, 255, 255, 255, 0, 0, 0, 255, 255, 255]
        );
    }

    #[test]
    fn bt601_red_comes_back_red() {
        // Folio's encoder's red (76, 85, 255).
        let image = to_image(&planes(vec![76; 4], vec![85], vec![255], true)).unwrap();
        for px in image.to_rgb8().pixels() {
            assert!(px.0[0] >= 253 && px.0[1] <= 2 && px.0[2] <= 2, "{px:?}");
        }
    }
}
