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
    if planes.monochrome {
        return gray_image(planes);
    }
    let (w, h) = (planes.width as u32, planes.height as u32);
    Ok(match planes.depth > 8 {
        true => DynamicImage::ImageRgb16(
            ImageBuffer::<Rgb<u16>, _>::from_raw(w, h, rgb(planes, to_16)).ok_or_else(mismatch)?,
        ),
        false => DynamicImage::ImageRgb8(
            ImageBuffer::<Rgb<u8>, _>::from_raw(w, h, rgb(planes, to_8)).ok_or_else(mismatch)?,
        ),
    })
}

/// The luma plane alone, full range: a monochrome picture, or an alpha plane (whatever its
/// chroma). 8-bit for an 8-bit picture, 16-bit for a deeper one.
pub fn gray_image(planes: &Planes) -> Result<DynamicImage, String> {
    let (w, h) = (planes.width as u32, planes.height as u32);
    let range = Range::new(planes.depth, planes.full_range);
    let luma = |y: &u16| (*y as f32 - range.luma_offset) * range.luma_scale;
    let samples = planes.planes[0].iter().map(luma);
    Ok(match planes.depth > 8 {
        true => DynamicImage::ImageLuma16(
            ImageBuffer::<Luma<u16>, _>::from_raw(w, h, samples.map(to_16).collect())
                .ok_or_else(mismatch)?,
        ),
        false => DynamicImage::ImageLuma8(
            ImageBuffer::<Luma<u8>, _>::from_raw(w, h, samples.map(to_8).collect())
                .ok_or_else(mismatch)?,
        ),
    })
}

fn mismatch() -> String {
    "the AV1 picture's planes do not match its size".to_string()
}

/// RGB samples, stored by `store` (0..1 to the output's depth).
fn rgb<T: Copy + Default>(planes: &Planes, store: fn(f32) -> T) -> Vec<T> {
    let w = planes.width;
    let range = Range::new(planes.depth, planes.full_range);
    let matrix = coefficients(planes.matrix);
    let luma = |s: f32| (s - range.luma_offset) * range.luma_scale;
    let mut out = vec![T::default(); w * planes.height * 3];
    let mut cb = vec![0f32; w];
    let mut cr = vec![0f32; w];
    for (row, (pixels, ys)) in out
        .chunks_exact_mut(w * 3)
        .zip(planes.planes[0].chunks_exact(w))
        .enumerate()
    {
        upsample_row(planes, 1, row, &mut cb);
        upsample_row(planes, 2, row, &mut cr);
        for (((px, &y), &u), &v) in pixels.chunks_exact_mut(3).zip(ys).zip(&cb).zip(&cr) {
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
            px[0] = store(r);
            px[1] = store(g);
            px[2] = store(b);
        }
    }
    out
}

fn to_8(v: f32) -> u8 {
    (v * 255.0).round().clamp(0.0, 255.0) as u8
}

fn to_16(v: f32) -> u16 {
    (v * 65535.0).round().clamp(0.0, 65535.0) as u16
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
