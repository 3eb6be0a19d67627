//! Palettes for GIF and palette PNG: NeuQuant (color_quant, MIT) picks the colours, then
//! Floyd-Steinberg error diffusion, scaled by `dither`, maps the pixels. Pixels under half
//! opacity share one transparent entry.

use color_quant::NeuQuant;
use image::DynamicImage;

pub struct Quantised {
    /// RGBA entries, at most the colours asked for.
    pub palette: Vec<[u8; 4]>,
    /// One index a pixel, row by row.
    pub indices: Vec<u8>,
    /// The entry transparent pixels use, if any pixel is.
    pub transparent: Option<u8>,
}

/// NeuQuant's sampling factor: 1 looks at every pixel, 30 at one in 30; 10 is its
/// recommended balance of speed and quality.
const SAMPLE_FACTOR: i32 = 10;

pub fn quantise(image: &DynamicImage, colours: u16, dither: f32) -> Quantised {
    let rgba = image.to_rgba8();
    let (w, h) = (rgba.width() as usize, rgba.height() as usize);
    let pixels = rgba.as_raw();
    let transparent = pixels.chunks_exact(4).any(|p| p[3] < 128);
    let opaque_colours = (colours as usize - usize::from(transparent)).max(1);
    // NeuQuant learns from opaque pixels only (their colour, alpha set full).
    let learn: Vec<u8> = pixels
        .chunks_exact(4)
        .filter(|p| p[3] >= 128)
        .flat_map(|p| [p[0], p[1], p[2], 255])
        .collect();
    let learn = if learn.is_empty() {
        vec![0, 0, 0, 255]
    } else {
        learn
    };
    let nq = NeuQuant::new(SAMPLE_FACTOR, opaque_colours.max(4), &learn);
    let mut palette: Vec<[u8; 4]> = nq
        .color_map_rgba()
        .chunks_exact(4)
        .map(|c| [c[0], c[1], c[2], 255])
        .collect();
    palette.truncate(opaque_colours.max(4).min(256 - usize::from(transparent)));
    let transparent_index = transparent.then(|| {
        palette.push([0, 0, 0, 0]);
        (palette.len() - 1) as u8
    });
    let mut indices = vec![0u8; w * h];
    // Error carried to this row and the next, three channels a pixel, one pixel of margin
    // either side.
    let mut errors = [vec![0f32; (w + 2) * 3], vec![0f32; (w + 2) * 3]];
    for y in 0..h {
        let [current, next] = &mut errors;
        next.fill(0.0);
        for x in 0..w {
            let p = &pixels[(y * w + x) * 4..][..4];
            if p[3] < 128 {
                indices[y * w + x] = transparent_index.unwrap_or(0);
                continue;
            }
            let at = (x + 1) * 3;
            let want: [f32; 3] =
                std::array::from_fn(|c| (p[c] as f32 + current[at + c]).clamp(0.0, 255.0));
            let index = nq.index_of(&[want[0] as u8, want[1] as u8, want[2] as u8, 255]);
            let index = index.min(palette.len() - 1 - usize::from(transparent));
            indices[y * w + x] = index as u8;
            if dither > 0.0 {
                let got = palette[index];
                for c in 0..3 {
                    let e = (want[c] - got[c] as f32) * dither;
                    current[at + 3 + c] += e * 7.0 / 16.0;
                    next[at - 3 + c] += e * 3.0 / 16.0;
                    next[at + c] += e * 5.0 / 16.0;
                    next[at + 3 + c] += e / 16.0;
                }
            }
        }
        errors.swap(0, 1);
    }
    Quantised {
        palette,
        indices,
        transparent: transparent_index,
    }
}
