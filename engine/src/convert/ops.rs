//! The operations between decode and encode, each taking the image by value so that no
//! step keeps a copy it no longer needs: orientation, crop, resize (SIMD Lanczos3 with
//! premultiplied alpha, so edges do not darken), turns, mirrors, and flattening onto the
//! background.

use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
use image::{DynamicImage, GenericImageView, metadata::Orientation};

use super::plan::{Color, Crop, Fit, Gravity, Resize};

/// The image turned upright as EXIF orientation `o` (1 to 8) says.
pub fn orient(mut image: DynamicImage, o: u8) -> DynamicImage {
    if let Some(o) = Orientation::from_exif(o) {
        image.apply_orientation(o);
    }
    image
}

/// The rectangle `crop` asks for, checked against the image's size.
pub fn crop_rect(crop: &Crop, (w, h): (u32, u32)) -> Result<(u32, u32, u32, u32), String> {
    match *crop {
        Crop::Rect {
            x,
            y,
            width,
            height,
        } => {
            let fits = x.checked_add(width).is_some_and(|r| r <= w)
                && y.checked_add(height).is_some_and(|b| b <= h);
            if !fits {
                return Err(format!(
                    "crop: {width}x{height} at {x},{y} reaches outside the {w}x{h} image"
                ));
            }
            Ok((x, y, width, height))
        }
        Crop::Gravity {
            width,
            height,
            gravity,
        } => {
            let (cw, ch) = (width.min(w), height.min(h));
            let (x, y) = place(gravity, (w, h), (cw, ch));
            Ok((x, y, cw, ch))
        }
    }
}

/// Where an `inner` rectangle sits within `outer` by `gravity`.
fn place(gravity: Gravity, outer: (u32, u32), inner: (u32, u32)) -> (u32, u32) {
    let (fx, fy) = gravity.fractions();
    (
        ((outer.0 - inner.0) as f64 * fx).round() as u32,
        ((outer.1 - inner.1) as f64 * fy).round() as u32,
    )
}

/// What a resize makes of an image of `size`: the size it is scaled to, and the canvas it
/// ends on (cut for `cover`, padded for `contain`; the scaled size otherwise).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sizes {
    pub scaled: (u32, u32),
    pub canvas: (u32, u32),
}

pub fn resize_sizes(r: &Resize, (w, h): (u32, u32)) -> Sizes {
    let (wf, hf) = (w as f64, h as f64);
    let sx = r.width.map_or(f64::INFINITY, |t| t as f64 / wf);
    let sy = r.height.map_or(f64::INFINITY, |t| t as f64 / hf);
    let limit = |s: f64| if r.enlarge { s } else { s.min(1.0) };
    let scaled = |s: f64| {
        (
            ((wf * s).round() as u32).max(1),
            ((hf * s).round() as u32).max(1),
        )
    };
    // Invariant for the unwraps: validation makes cover, fill and contain give both sides.
    let box_size = || (r.width.unwrap_or(w), r.height.unwrap_or(h));
    match r.fit {
        Fit::Inside => {
            let s = limit(sx.min(sy));
            let size = scaled(s);
            // The side that decides keeps its exact size, whatever rounding does.
            let size = match (sx <= sy, r.width, r.height) {
                (true, Some(tw), _) if s == sx => (tw, size.1),
                (false, _, Some(th)) if s == sy => (size.0, th),
                _ => size,
            };
            Sizes {
                scaled: size,
                canvas: size,
            }
        }
        Fit::Cover => {
            let s = limit(sx.max(sy));
            let size = scaled(s);
            let (bw, bh) = box_size();
            Sizes {
                scaled: size,
                canvas: (bw.min(size.0), bh.min(size.1)),
            }
        }
        Fit::Fill => {
            let (bw, bh) = box_size();
            let size = match r.enlarge {
                true => (bw, bh),
                false => (bw.min(w), bh.min(h)),
            };
            Sizes {
                scaled: size,
                canvas: size,
            }
        }
        Fit::Contain => {
            let s = limit(sx.min(sy));
            let (bw, bh) = box_size();
            let size = scaled(s);
            let size = (size.0.min(bw), size.1.min(bh));
            Sizes {
                scaled: size,
                canvas: (bw, bh),
            }
        }
    }
}

/// Scales `image` to `size` with Lanczos3; alpha is premultiplied for the filter and
/// divided out after, so transparent pixels' colours do not bleed into edges.
pub fn scale(image: DynamicImage, size: (u32, u32)) -> Result<DynamicImage, String> {
    if (image.width(), image.height()) == size {
        return Ok(image);
    }
    let mut out = DynamicImage::new(size.0, size.1, image.color());
    let options = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3))
        .use_alpha(true);
    Resizer::new()
        .resize(&image, &mut out, &options)
        .map_err(|e| format!("the resize failed: {e}"))?;
    Ok(out)
}

/// A resize as `r` asks: scale, then cut (`cover`, by its gravity) or pad (`contain`,
/// centred, with `background`).
pub fn resize(image: DynamicImage, r: &Resize, background: Color) -> Result<DynamicImage, String> {
    let sizes = resize_sizes(r, (image.width(), image.height()));
    let image = scale(image, sizes.scaled)?;
    if sizes.canvas == sizes.scaled {
        return Ok(image);
    }
    match r.fit {
        Fit::Contain => Ok(pad(image, sizes.canvas, background)),
        _ => {
            let (x, y) = place(r.gravity, sizes.scaled, sizes.canvas);
            Ok(image.crop_imm(x, y, sizes.canvas.0, sizes.canvas.1))
        }
    }
}

/// `image` centred on a canvas of `size` filled with `background` (alpha added when the
/// background is not opaque).
fn pad(image: DynamicImage, size: (u32, u32), background: Color) -> DynamicImage {
    let opaque = background.0[3] == 255;
    let mut canvas = match (opaque && !image.color().has_alpha(), image.color()) {
        (true, image::ColorType::L8 | image::ColorType::Rgb8) => {
            let [r, g, b, _] = background.0;
            DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
                size.0,
                size.1,
                image::Rgb([r, g, b]),
            ))
        }
        _ => DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(
            size.0,
            size.1,
            image::Rgba(background.0),
        )),
    };
    let (x, y) = place(Gravity::Centre, size, (image.width(), image.height()));
    let image = match canvas {
        DynamicImage::ImageRgb8(_) => DynamicImage::ImageRgb8(image.into_rgb8()),
        _ => DynamicImage::ImageRgba8(image.into_rgba8()),
    };
    image::imageops::replace(&mut canvas, &image, x.into(), y.into());
    canvas
}

/// The size of an image of `size` turned by `degrees` (the canvas that holds it all).
pub fn rotated_size((w, h): (u32, u32), degrees: f64) -> (u32, u32) {
    let d = degrees.rem_euclid(360.0);
    if d == 0.0 || d == 180.0 {
        return (w, h);
    }
    if d == 90.0 || d == 270.0 {
        return (h, w);
    }
    let (sin, cos) = d.to_radians().sin_cos();
    let (w, h) = (w as f64, h as f64);
    (
        (w * cos.abs() + h * sin.abs()).ceil() as u32,
        (w * sin.abs() + h * cos.abs()).ceil() as u32,
    )
}

/// Turns `image` clockwise by `degrees`: right angles exactly; other angles by bilinear
/// sampling onto a canvas that holds the whole turned image, corners filled with
/// `background`.
pub fn rotate(image: DynamicImage, degrees: f64, background: Color) -> DynamicImage {
    let d = degrees.rem_euclid(360.0);
    if d == 0.0 {
        return image;
    }
    if d == 90.0 {
        return image.rotate90();
    }
    if d == 180.0 {
        return image.rotate180();
    }
    if d == 270.0 {
        return image.rotate270();
    }
    let source = image.into_rgba8();
    let (nw, nh) = rotated_size(source.dimensions(), d);
    let (w, h) = (source.width() as f64, source.height() as f64);
    let (sin, cos) = d.to_radians().sin_cos();
    let mut out = image::RgbaImage::new(nw, nh);
    let (cx, cy) = (w / 2.0, h / 2.0);
    let (ncx, ncy) = (nw as f64 / 2.0, nh as f64 / 2.0);
    let fetch = |x: i64, y: i64| -> [f64; 4] {
        if x < 0 || y < 0 || x >= w as i64 || y >= h as i64 {
            let [r, g, b, a] = background.0;
            let a = a as f64 / 255.0;
            return [r as f64 * a, g as f64 * a, b as f64 * a, a * 255.0];
        }
        let p = source.get_pixel(x as u32, y as u32).0;
        let a = p[3] as f64 / 255.0;
        [
            p[0] as f64 * a,
            p[1] as f64 * a,
            p[2] as f64 * a,
            p[3] as f64,
        ]
    };
    for (x, y, px) in out.enumerate_pixels_mut() {
        // The pixel's centre, turned back into the source.
        let (dx, dy) = (x as f64 + 0.5 - ncx, y as f64 + 0.5 - ncy);
        let sx = dx * cos + dy * sin + cx - 0.5;
        let sy = -dx * sin + dy * cos + cy - 0.5;
        let (x0, y0) = (sx.floor(), sy.floor());
        let (fx, fy) = (sx - x0, sy - y0);
        let (x0, y0) = (x0 as i64, y0 as i64);
        let corners = [
            (fetch(x0, y0), (1.0 - fx) * (1.0 - fy)),
            (fetch(x0 + 1, y0), fx * (1.0 - fy)),
            (fetch(x0, y0 + 1), (1.0 - fx) * fy),
            (fetch(x0 + 1, y0 + 1), fx * fy),
        ];
        let mut sum = [0.0; 4];
        for (c, weight) in corners {
            for i in 0..4 {
                sum[i] += c[i] * weight;
            }
        }
        let a = sum[3] / 255.0;
        let un = |v: f64| {
            if a > 0.0 {
                (v / a).round().clamp(0.0, 255.0) as u8
            } else {
                0
            }
        };
        *px = image::Rgba([un(sum[0]), un(sum[1]), un(sum[2]), sum[3].round() as u8]);
    }
    DynamicImage::ImageRgba8(out)
}

/// The image over an opaque `background` (its alpha, if any, used up): for targets
/// without alpha. Samples are blended as stored (as libvips's flatten).
pub fn flatten(image: DynamicImage, background: Color) -> DynamicImage {
    let [r, g, b, _] = background.0;
    match image {
        DynamicImage::ImageLumaA8(_) | DynamicImage::ImageRgba8(_) => {
            let rgba = image.into_rgba8();
            let (w, h) = rgba.dimensions();
            let mut rgb = Vec::with_capacity(w as usize * h as usize * 3);
            for p in rgba.pixels() {
                let a = p.0[3] as u32;
                for (c, bg) in p.0[..3].iter().zip([r, g, b]) {
                    rgb.push(((*c as u32 * a + bg as u32 * (255 - a) + 127) / 255) as u8);
                }
            }
            // Invariant: three samples for each of the w*h pixels were pushed.
            DynamicImage::ImageRgb8(image::RgbImage::from_raw(w, h, rgb).expect("w*h*3 samples"))
        }
        DynamicImage::ImageLumaA16(_) | DynamicImage::ImageRgba16(_) => {
            let rgba = image.into_rgba16();
            let (w, h) = rgba.dimensions();
            let mut rgb = Vec::with_capacity(w as usize * h as usize * 3);
            for p in rgba.pixels() {
                let a = p.0[3] as u64;
                for (c, bg) in p.0[..3].iter().zip([r, g, b]) {
                    let bg = bg as u64 * 257;
                    rgb.push(((*c as u64 * a + bg * (65535 - a) + 32767) / 65535) as u16);
                }
            }
            // Invariant: three samples for each of the w*h pixels were pushed.
            DynamicImage::ImageRgb16(
                image::ImageBuffer::from_raw(w, h, rgb).expect("w*h*3 samples"),
            )
        }
        other => other,
    }
}

/// The image's size as `(width, height)`.
pub fn size(image: &DynamicImage) -> (u32, u32) {
    image.dimensions()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(width: Option<u32>, height: Option<u32>, fit: Fit, enlarge: bool) -> Resize {
        Resize {
            width,
            height,
            fit,
            enlarge,
            gravity: Gravity::Centre,
        }
    }

    #[test]
    fn each_fit_gives_its_sizes() {
        let src = (4000, 3000);
        let inside = resize_sizes(&r(Some(1024), None, Fit::Inside, false), src);
        assert_eq!(inside.scaled, (1024, 768));
        let inside = resize_sizes(&r(Some(500), Some(500), Fit::Inside, false), src);
        assert_eq!(inside.canvas, (500, 375));
        let cover = resize_sizes(&r(Some(500), Some(500), Fit::Cover, false), src);
        assert_eq!((cover.scaled, cover.canvas), ((667, 500), (500, 500)));
        let fill = resize_sizes(&r(Some(500), Some(100), Fit::Fill, false), src);
        assert_eq!(fill.canvas, (500, 100));
        let contain = resize_sizes(&r(Some(500), Some(500), Fit::Contain, false), src);
        assert_eq!((contain.scaled, contain.canvas), ((500, 375), (500, 500)));
        // No enlargement unless asked.
        let small = resize_sizes(&r(Some(800), None, Fit::Inside, false), (100, 50));
        assert_eq!(small.canvas, (100, 50));
        let grown = resize_sizes(&r(Some(800), None, Fit::Inside, true), (100, 50));
        assert_eq!(grown.canvas, (800, 400));
    }

    #[test]
    fn resizing_keeps_transparent_edges_from_darkening() {
        // Opaque white on the left half, fully transparent black on the right.
        let mut img = image::RgbaImage::new(64, 8);
        for (x, _, p) in img.enumerate_pixels_mut() {
            *p = if x < 32 {
                image::Rgba([255, 255, 255, 255])
            } else {
                image::Rgba([0, 0, 0, 0])
            };
        }
        let out = scale(DynamicImage::ImageRgba8(img), (16, 2))
            .unwrap()
            .into_rgba8();
        for p in out.pixels().filter(|p| p.0[3] > 0) {
            assert!(p.0[0] >= 250, "an edge pixel darkened: {p:?}");
        }
    }

    #[test]
    fn crops_are_checked_and_placed() {
        let rect = Crop::Rect {
            x: 10,
            y: 10,
            width: 100,
            height: 5,
        };
        assert!(crop_rect(&rect, (50, 50)).unwrap_err().contains("outside"));
        let g = Crop::Gravity {
            width: 10,
            height: 10,
            gravity: Gravity::SouthEast,
        };
        assert_eq!(crop_rect(&g, (50, 40)).unwrap(), (40, 30, 10, 10));
    }

    #[test]
    fn a_free_turn_widens_the_canvas_and_fills_corners() {
        let img = DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
            100,
            50,
            image::Rgb([0, 0, 255]),
        ));
        let out = rotate(img, 45.0, Color::WHITE).into_rgba8();
        assert_eq!(out.dimensions(), (107, 107));
        assert_eq!(out.get_pixel(0, 0).0, [255, 255, 255, 255]);
        let centre = out.get_pixel(53, 53).0;
        assert_eq!(centre, [0, 0, 255, 255]);
    }

    #[test]
    fn flattening_puts_alpha_over_the_background() {
        let img = image::RgbaImage::from_pixel(2, 2, image::Rgba([0, 0, 0, 0]));
        let out = flatten(DynamicImage::ImageRgba8(img), Color::WHITE).into_rgb8();
        assert!(out.pixels().all(|p| p.0 == [255, 255, 255]));
    }
}
