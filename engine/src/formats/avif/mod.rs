//! AVIF input: the HEIF boxes read by Folio ([`container`]), the AV1 image decoded by dav1d
//! ([`av1`]), its planes turned into RGB ([`yuv`]). A still image or the primary image of a
//! sequence; a grid of tiles; an alpha plane (premultiplied or not); the clean aperture,
//! turn and mirror the file asks every reader to apply; the colour it states, as an ICC
//! profile when it is not sRGB; EXIF.

mod av1;
mod container;
mod yuv;

use image::{DynamicImage, ImageBuffer, Luma, Rgba};
use moxcms::{
    CicpColorPrimaries, CicpProfile, ColorProfile, MatrixCoefficients, TransferCharacteristics,
};

use crate::formats::colour;
use crate::formats::limits::{Limits, check_size};
use container::{CleanAperture, Colour, Container, Grid, ItemKind, Properties};

/// A decoded AVIF image.
pub(crate) struct Decoded {
    /// 8-bit for 8-bit files, 16-bit for deeper ones; gray, gray with alpha (as RGBA), RGB
    /// or RGBA.
    pub image: DynamicImage,
    /// The colour's profile when it is not sRGB (stated as ICC, or built from the code
    /// points).
    pub icc: Option<Vec<u8>>,
    /// The EXIF block, from its TIFF header on (its orientation is not applied: AVIF turns
    /// and mirrors by its own properties, which are applied).
    pub exif: Option<Vec<u8>>,
}

const ALPHA_URNS: [&str; 2] = [
    "urn:mpeg:mpegB:cicp:systems:auxiliary:alpha",
    "urn:mpeg:hevc:2015:auxid:1",
];

pub(crate) fn decode(data: &[u8], limits: &Limits) -> Result<Decoded, String> {
    let file = Container::parse(data)?;
    let primary = file.primary;
    let properties = file.properties(primary);
    let (w, h) = properties
        .size
        .ok_or("the AVIF image does not state its size")?;
    check_size(w.into(), h.into(), limits)?;
    let colour = properties.colours.iter().find_map(|c| match c {
        Colour::Nclx {
            matrix, full_range, ..
        } => Some((*matrix, *full_range)),
        Colour::Icc(_) => None,
    });
    let mut image = decode_item(&file, primary, Role::Colour(colour), limits)?;
    let alpha = file.referring(*b"auxl", primary).find(|&id| {
        file.properties(id)
            .auxiliary
            .as_deref()
            .is_some_and(|urn| ALPHA_URNS.contains(&urn))
    });
    if let Some(id) = alpha {
        let alpha = decode_item(&file, id, Role::Alpha, limits)?;
        let premultiplied = file.referred(*b"prem", primary).contains(&id);
        image = with_alpha(image, alpha, premultiplied)?;
    }
    // A profile for other colours than the image has (gray against RGB) is not used.
    let gray = !image.color().has_color();
    let icc = profile(&properties.colours)?.filter(|p| colour::profile_fits(p, gray));
    Ok(Decoded {
        image: transform(image, properties),
        icc,
        exif: file.exif(),
    })
}

#[derive(Clone, Copy)]
enum Role {
    /// The colour image, with the matrix and range its `colr` box states (over the AV1
    /// sequence header's).
    Colour(Option<(u16, bool)>),
    Alpha,
}

fn decode_item(
    file: &Container,
    id: u32,
    role: Role,
    limits: &Limits,
) -> Result<DynamicImage, String> {
    match file.kind(id) {
        ItemKind::Av1 => {
            let mut planes = av1::decode(&file.data(id)?, limits.max_pixels)?;
            check_size(planes.width as u64, planes.height as u64, limits)?;
            match role {
                Role::Colour(stated) => {
                    if let Some((matrix, full_range)) = stated {
                        planes.matrix = matrix;
                        planes.full_range = full_range;
                    }
                    yuv::to_image(&planes)
                }
                Role::Alpha => yuv::gray_image(&planes),
            }
        }
        ItemKind::Grid => {
            let grid = Grid::parse(&file.data(id)?)?;
            check_size(grid.width.into(), grid.height.into(), limits)?;
            let tiles = file.referred(*b"dimg", id);
            // At most 256 x 256 tiles: the grid states each count in a byte.
            if tiles.len() != (grid.rows * grid.columns) as usize {
                return Err(format!(
                    "the AVIF grid has {} tiles for {} rows and {} columns",
                    tiles.len(),
                    grid.rows,
                    grid.columns
                ));
            }
            let mut canvas: Option<DynamicImage> = None;
            let mut tile_size = (0, 0);
            for (index, &tile) in tiles.iter().enumerate() {
                // Tiles are coded images: a grid of grids (or of itself) is refused rather
                // than followed.
                if file.kind(tile) != ItemKind::Av1 {
                    return Err("an AVIF grid tile is not an AV1 image".into());
                }
                let image = decode_item(file, tile, role, limits)?;
                let canvas = canvas.get_or_insert_with(|| {
                    tile_size = (image.width(), image.height());
                    DynamicImage::new(grid.width, grid.height, image.color())
                });
                if (image.width(), image.height()) != tile_size {
                    return Err("the AVIF grid's tiles differ in size".into());
                }
                let (row, column) = (index as u32 / grid.columns, index as u32 % grid.columns);
                let (x, y) = (column * tile_size.0, row * tile_size.1);
                if x >= grid.width || y >= grid.height {
                    return Err("the AVIF grid's tiles lie outside it".into());
                }
                image::imageops::replace(canvas, &image, x.into(), y.into());
            }
            canvas.ok_or_else(|| "the AVIF grid has no tiles".to_string())
        }
        ItemKind::Exif | ItemKind::Other => Err("the AVIF image is not coded as AV1".into()),
    }
}

/// The colour image with the alpha plane as its fourth channel (RGBA; 16-bit when either
/// is), colours divided by alpha when the file stored them premultiplied.
fn with_alpha(
    colour: DynamicImage,
    alpha: DynamicImage,
    premultiplied: bool,
) -> Result<DynamicImage, String> {
    if (colour.width(), colour.height()) != (alpha.width(), alpha.height()) {
        return Err("the AVIF image's alpha plane differs from it in size".into());
    }
    let deep = |i: &DynamicImage| i.color().bytes_per_pixel() > i.color().channel_count();
    Ok(match deep(&colour) || deep(&alpha) {
        true => {
            DynamicImage::ImageRgba16(attach(colour.to_rgba16(), alpha.to_luma16(), premultiplied))
        }
        false => {
            DynamicImage::ImageRgba8(attach(colour.to_rgba8(), alpha.to_luma8(), premultiplied))
        }
    })
}

fn attach<T>(
    mut rgba: ImageBuffer<Rgba<T>, Vec<T>>,
    alpha: ImageBuffer<Luma<T>, Vec<T>>,
    premultiplied: bool,
) -> ImageBuffer<Rgba<T>, Vec<T>>
where
    T: image::Primitive + Into<u32> + TryFrom<u32>,
    Rgba<T>: image::Pixel<Subpixel = T>,
    Luma<T>: image::Pixel<Subpixel = T>,
{
    let max: u32 = T::DEFAULT_MAX_VALUE.into();
    for (p, a) in rgba.pixels_mut().zip(alpha.pixels()) {
        p.0[3] = a.0[0];
        if premultiplied {
            unpremultiply(&mut p.0, max);
        }
    }
    rgba
}

fn unpremultiply<T: Copy + Into<u32> + TryFrom<u32>>(p: &mut [T; 4], max: u32) {
    let a: u32 = p[3].into();
    if a == 0 {
        return;
    }
    for c in &mut p[..3] {
        let v = ((*c).into() * max + a / 2) / a;
        if let Ok(v) = T::try_from(v.min(max)) {
            *c = v;
        }
    }
}

/// The clean aperture's crop, then the turn, then the mirror, in the order HEIF gives them.
fn transform(mut image: DynamicImage, properties: &Properties) -> DynamicImage {
    if let Some((x, y, w, h)) = properties
        .clean_aperture
        .and_then(|c| crop_rect(&c, image.width(), image.height()))
    {
        image = image.crop_imm(x, y, w, h);
    }
    image = match properties.quarter_turns {
        1 => image.rotate270(),
        2 => image.rotate180(),
        3 => image.rotate90(),
        _ => image,
    };
    match properties.mirror {
        // Mode 0 exchanges top and bottom, 1 left and right (HEIF's second edition, as
        // libavif reads it).
        Some(0) => image.flipv(),
        Some(_) => image.fliph(),
        None => image,
    }
}

/// The rectangle a clean aperture keeps, when it is a whole-pixel rectangle inside the
/// image; `None` (the whole image) otherwise, as browsers do with an invalid one.
fn crop_rect(c: &CleanAperture, width: u32, height: u32) -> Option<(u32, u32, u32, u32)> {
    let ratio = |n: f64, d: u32| (d != 0).then(|| n / f64::from(d));
    let w = ratio(c.width.0.into(), c.width.1)?;
    let h = ratio(c.height.0.into(), c.height.1)?;
    let cx = ratio(c.horizontal_offset.0.into(), c.horizontal_offset.1)?
        + (f64::from(width) - 1.0) / 2.0;
    let cy =
        ratio(c.vertical_offset.0.into(), c.vertical_offset.1)? + (f64::from(height) - 1.0) / 2.0;
    let (x, y) = (cx - (w - 1.0) / 2.0, cy - (h - 1.0) / 2.0);
    let whole = |v: f64| v.fract() == 0.0 && v >= 0.0;
    if !(whole(w) && whole(h) && whole(x) && whole(y)) || w < 1.0 || h < 1.0 {
        return None;
    }
    let (x, y, w, h) = (x as u32, y as u32, w as u32, h as u32);
    (x.checked_add(w)? <= width && y.checked_add(h)? <= height).then_some((x, y, w, h))
}

/// The profile of the colour: the ICC profile the file holds, or one made from its code
/// points when they are not sRGB's (BT.709 primaries with the sRGB or BT.709 curve, or
/// unstated).
fn profile(colours: &[Colour]) -> Result<Option<Vec<u8>>, String> {
    if let Some(Colour::Icc(icc)) = colours.iter().find(|c| matches!(c, Colour::Icc(_))) {
        return Ok(Some(icc.clone()));
    }
    let Some(&Colour::Nclx {
        primaries,
        transfer,
        ..
    }) = colours.first()
    else {
        return Ok(None);
    };
    if matches!(primaries, 1 | 2) && matches!(transfer, 1 | 2 | 6 | 13) {
        return Ok(None);
    }
    let code = |v: u16| u8::try_from(v).unwrap_or(2);
    let (Ok(primaries), Ok(transfer)) = (
        CicpColorPrimaries::try_from(code(primaries)),
        TransferCharacteristics::try_from(code(transfer)),
    ) else {
        return Ok(None);
    };
    let profile = ColorProfile::new_from_cicp(CicpProfile {
        color_primaries: primaries,
        transfer_characteristics: transfer,
        matrix_coefficients: MatrixCoefficients::Bt709,
        full_range: true,
    });
    profile
        .encode()
        .map(Some)
        .map_err(|e| format!("the AVIF image's colour cannot be described: {e}"))
}

#[cfg(test)]
mod tests {
    use super::container::tests::b as plain_box;
    use super::*;

    #[test]
    fn clean_aperture_crops_only_whole_rectangles_inside_the_image() {
        let centred = CleanAperture {
            width: (8, 1),
            height: (6, 1),
            horizontal_offset: (0, 1),
            vertical_offset: (0, 1),
        };
        assert_eq!(crop_rect(&centred, 10, 8), Some((1, 1, 8, 6)));
        let outside = CleanAperture {
            horizontal_offset: (5, 1),
            ..centred
        };
        assert_eq!(crop_rect(&outside, 10, 8), None);
        let zero = CleanAperture {
            width: (8, 0),
            ..centred
        };
        assert_eq!(crop_rect(&zero, 10, 8), None);
    }

    fn full_box(kind: &[u8; 4], version: u8, payload: &[u8]) -> Vec<u8> {
        let mut body = vec![version, 0, 0, 0];
        body.extend_from_slice(payload);
        plain_box(kind, &body)
    }

    #[test]
    fn a_grid_that_is_its_own_tile_is_refused_not_followed() {
        // Item 1: a 1x1 grid of 64x64 whose one tile (`dimg`) is item 1 itself.
        let grid = [0u8, 0, 0, 0, 0, 64, 0, 64];
        let mut infe = vec![0, 1, 0, 0];
        infe.extend_from_slice(b"grid\0");
        let mut iinf = vec![0, 1];
        iinf.extend_from_slice(&full_box(b"infe", 2, &infe));
        // iloc v1: 4-byte offsets and lengths, no base; item 1 in idat at 0, 8 bytes.
        let iloc = [
            0x44, 0, 0, 1, 0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 8,
        ];
        let ispe = full_box(b"ispe", 0, &[0, 0, 0, 64, 0, 0, 0, 64]);
        let ipma = [0, 0, 0, 1, 0, 1, 1, 0x81];
        let mut iprp = plain_box(b"ipco", &ispe);
        iprp.extend_from_slice(&full_box(b"ipma", 0, &ipma));
        let dimg = plain_box(b"dimg", &[0, 1, 0, 1, 0, 1]);
        let mut meta = full_box(b"pitm", 0, &[0, 1]);
        meta.extend_from_slice(&full_box(b"iinf", 0, &iinf));
        meta.extend_from_slice(&full_box(b"iloc", 1, &iloc));
        meta.extend_from_slice(&plain_box(b"iprp", &iprp));
        meta.extend_from_slice(&full_box(b"iref", 0, &dimg));
        meta.extend_from_slice(&plain_box(b"idat", &grid));
        let mut file = plain_box(b"ftyp", b"avif\0\0\0\0avifmif1");
        file.extend_from_slice(&full_box(b"meta", 0, &meta));
        let err = decode(&file, &Limits::default()).err().unwrap();
        assert!(err.contains("grid tile"), "{err}");
    }

    #[test]
    fn premultiplied_colours_are_divided_by_alpha() {
        let mut p = [64u8, 128, 0, 128];
        unpremultiply(&mut p, 255);
        assert_eq!(p, [128, 255, 0, 128]);
        let mut clear = [0u8, 0, 0, 0];
        unpremultiply(&mut clear, 255);
        assert_eq!(clear, [0, 0, 0, 0]);
    }
}
