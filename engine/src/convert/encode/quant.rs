//! Palettes for GIF and palette PNG. An image of few enough colours keeps them exactly;
//! others go through quantette: Wu's quantiser in Oklab, then Floyd-Steinberg error
//! diffusion scaled by `dither`. Palettes hold transparency as on or off: pixels under half
//! opacity share one transparent entry, the others are first blended over the background,
//! as they would show on it.

use std::collections::HashMap;

use image::{DynamicImage, RgbImage};
use quantette::dither::FloydSteinberg;
use quantette::{ImageBuf, PaletteSize, Pipeline, QuantizeMethod};

pub struct Quantised {
    /// RGBA entries, at most the colours asked for.
    pub palette: Vec<[u8; 4]>,
    /// One index a pixel, row by row.
    pub indices: Vec<u8>,
    /// The entry transparent pixels use, if any pixel is.
    pub transparent: Option<u8>,
}

pub fn quantise(image: &DynamicImage, colours: u16, dither: f32, background: [u8; 3]) -> Quantised {
    let mut rgba = image.to_rgba8();
    for p in rgba.pixels_mut() {
        let a = p.0[3] as u32;
        if (128..255).contains(&a) {
            for (c, bg) in p.0[..3].iter_mut().zip(background) {
                *c = ((*c as u32 * a + bg as u32 * (255 - a) + 127) / 255) as u8;
            }
            p.0[3] = 255;
        }
    }
    let transparent = rgba.pixels().any(|p| p.0[3] < 128);
    if let Some(exact) = exact_palette(rgba.as_raw(), colours as usize, transparent) {
        return exact;
    }
    // Transparent pixels take the background colour, so they pull no entry of their own.
    let (w, h) = rgba.dimensions();
    let rgb = RgbImage::from_fn(w, h, |x, y| {
        let p = rgba.get_pixel(x, y).0;
        image::Rgb(if p[3] < 128 {
            background
        } else {
            [p[0], p[1], p[2]]
        })
    });
    let opaque = colours - u16::from(transparent);
    let quantised = ImageBuf::try_from(rgb).ok().and_then(|buf| {
        let size = PaletteSize::try_from(opaque.max(1)).ok()?;
        let ditherer = (dither > 0.0)
            .then(|| {
                FloydSteinberg::with_error_diffusion(
                    FloydSteinberg::DEFAULT_ERROR_DIFFUSION * dither,
                )
            })
            .flatten();
        let indexed = Pipeline::new()
            .palette_size(size)
            .quantize_method(QuantizeMethod::kmeans())
            .ditherer(ditherer)
            .input_image(buf.as_ref())
            .output_srgb8_indexed_image();
        Some(indexed.into_parts())
    });
    let (palette, mut indices) = match quantised {
        Some((palette, indices)) => (
            palette
                .into_iter()
                .map(|c| [c.red, c.green, c.blue, 255])
                .collect::<Vec<_>>(),
            indices,
        ),
        // Invariant: ImageBuf takes any image of at most u32::MAX pixels, which the limits
        // keep far above; this arm is there so that no input can panic here.
        None => (
            vec![[background[0], background[1], background[2], 255]],
            vec![0; (w * h) as usize],
        ),
    };
    let mut palette = palette;
    let transparent_index = transparent.then(|| {
        palette.push([0, 0, 0, 0]);
        (palette.len() - 1) as u8
    });
    if let Some(t) = transparent_index {
        for (i, p) in indices.iter_mut().zip(rgba.pixels()) {
            if p.0[3] < 128 {
                *i = t;
            }
        }
    }
    Quantised {
        palette,
        indices,
        transparent: transparent_index,
    }
}

/// The image's own colours, when it has no more than `colours` of them (logos, drawings,
/// palette images): nothing to quantise or dither.
fn exact_palette(pixels: &[u8], colours: usize, transparent: bool) -> Option<Quantised> {
    let mut palette: Vec<[u8; 4]> = Vec::new();
    let mut index: HashMap<[u8; 3], u8> = HashMap::new();
    let room = colours - usize::from(transparent);
    let mut indices = Vec::with_capacity(pixels.len() / 4);
    let transparent_index = transparent.then_some(0u8);
    if transparent {
        palette.push([0, 0, 0, 0]);
    }
    for p in pixels.chunks_exact(4) {
        if p[3] < 128 {
            indices.push(0);
            continue;
        }
        let key = [p[0], p[1], p[2]];
        let i = match index.get(&key) {
            Some(&i) => i,
            None => {
                if index.len() == room {
                    return None;
                }
                palette.push([p[0], p[1], p[2], 255]);
                let i = (palette.len() - 1) as u8;
                index.insert(key, i);
                i
            }
        };
        indices.push(i);
    }
    Some(Quantised {
        palette,
        indices,
        transparent: transparent_index,
    })
}
