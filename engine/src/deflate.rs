//! Rows of pixels filtered with PNG's predictors and deflated into a zlib stream, by
//! libdeflate: the data of the images Folio encodes losslessly into PDFs (FlateDecode with
//! predictor 15) and of the PNGs the conversion engine writes.

/// Filters each row with the PNG filter that leaves the smallest residuals (the heuristic
/// libpng and Pillow use: least sum of absolute signed bytes) and deflates the result with
/// libdeflate.
pub fn deflate_rows(pixels: Vec<u8>, width: u32, colors: u8, bits: u8) -> Vec<u8> {
    deflate_rows_at(pixels, width, colors, bits, DEFLATE_LEVEL)
}

/// [`deflate_rows`] at libdeflate level `level` (0 to 12; higher is clamped). The rows are
/// filtered in the pixels' own buffer, grown by a byte a row (the filter type), from the
/// last row up: each row's filtered bytes land at or after where it lay, so the row above
/// it is still unfiltered when it is needed. No second copy of the image is made.
pub fn deflate_rows_at(
    mut pixels: Vec<u8>,
    width: u32,
    colors: u8,
    bits: u8,
    level: i32,
) -> Vec<u8> {
    let bpp = (colors as usize * bits as usize).div_ceil(8).max(1);
    let row = (width as usize * colors as usize * bits as usize)
        .div_ceil(8)
        .max(1);
    let rows = pixels.len() / row;
    pixels.truncate(rows * row);
    pixels.resize(rows * (row + 1), 0);
    // One candidate per filter type (None, Sub, Up, Average, Paeth).
    let mut candidates = [(); 5].map(|_| vec![0u8; row]);
    let zeros = vec![0u8; row];
    for y in (0..rows).rev() {
        let current = &pixels[y * row..(y + 1) * row];
        let above = match y {
            0 => &zeros[..],
            _ => &pixels[(y - 1) * row..y * row],
        };
        filter_row(current, above, bpp, &mut candidates);
        let (kind, best) = candidates
            .iter()
            .enumerate()
            .min_by_key(|(_, c)| cost(c))
            .unwrap_or((4, &candidates[4]));
        let at = y * (row + 1);
        pixels[at] = kind as u8;
        pixels[at + 1..at + 1 + row].copy_from_slice(best);
    }
    zlib_at(&pixels, level)
}

/// libdeflate's level for decoded images. Deflating is two thirds of the time a decoded
/// image takes (perf, on the benchmark's RGBA PNGs); level 4 deflates them 1.4x faster than
/// level 6, and a photograph's filtered rows (Pillow's `exif.png`) to 1.02 of zlib level 6,
/// img2pdf's, where libdeflate level 2 gives 1.04 and level 1 1.14.
const DEFLATE_LEVEL: i32 = 4;

/// Deflates `data` into a zlib stream.
pub fn zlib(data: &[u8]) -> Vec<u8> {
    zlib_at(data, DEFLATE_LEVEL)
}

fn zlib_at(data: &[u8], level: i32) -> Vec<u8> {
    // Invariant: the level is clamped into libdeflate's (0 to 12).
    let level = libdeflater::CompressionLvl::new(level.clamp(0, 12)).expect("a valid level");
    let mut compressor = libdeflater::Compressor::new(level);
    let mut out = vec![0; compressor.zlib_compress_bound(data.len())];
    // Invariant: the buffer is as large as libdeflate says the output can be.
    let written = compressor
        .zlib_compress(data, &mut out)
        .expect("the bound fits the output");
    out.truncate(written);
    out
}

/// The sum of the residuals' sizes (as signed bytes): the smaller, the better it deflates.
fn cost(residuals: &[u8]) -> u32 {
    residuals
        .iter()
        .map(|&v| (v as i8).unsigned_abs() as u32)
        .sum()
}

/// Fills the five candidates with `current` filtered each way. Written as straight loops
/// over equal-length slices (no bounds checks, no branches) so that they vectorise.
fn filter_row(current: &[u8], above: &[u8], bpp: usize, out: &mut [Vec<u8>; 5]) {
    let [none, sub, up, average, paeth_out] = out;
    let lead = bpp.min(current.len());
    // The first pixel has no left neighbour (a = c = 0).
    for i in 0..lead {
        let (x, b) = (current[i], above[i]);
        none[i] = x;
        sub[i] = x;
        up[i] = x.wrapping_sub(b);
        average[i] = x.wrapping_sub(b / 2);
        paeth_out[i] = x.wrapping_sub(b);
    }
    let x = &current[lead..];
    let a = &current[..x.len()];
    let b = &above[lead..];
    let c = &above[..x.len()];
    none[lead..].copy_from_slice(x);
    for (o, (&x, &a)) in sub[lead..].iter_mut().zip(x.iter().zip(a)) {
        *o = x.wrapping_sub(a);
    }
    for (o, (&x, &b)) in up[lead..].iter_mut().zip(x.iter().zip(b)) {
        *o = x.wrapping_sub(b);
    }
    for (o, (&x, (&a, &b))) in average[lead..]
        .iter_mut()
        .zip(x.iter().zip(a.iter().zip(b)))
    {
        *o = x.wrapping_sub(((a as u16 + b as u16) >> 1) as u8);
    }
    for (o, (&x, (&a, (&b, &c)))) in paeth_out[lead..]
        .iter_mut()
        .zip(x.iter().zip(a.iter().zip(b.iter().zip(c))))
    {
        *o = x.wrapping_sub(paeth(a, b, c));
    }
}

pub(crate) fn paeth(a: u8, b: u8, c: u8) -> u8 {
    // p - a = b - c, p - b = a - c, p - c = a + b - 2c, with p = a + b - c.
    let (a16, b16, c16) = (a as i16, b as i16, c as i16);
    let pa = (b16 - c16).abs();
    let pb = (a16 - c16).abs();
    let pc = (a16 + b16 - 2 * c16).abs();
    let ab = if pa <= pb { a } else { b };
    let best = pa.min(pb);
    if best <= pc { ab } else { c }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn paeth_matches_the_png_specification_for_every_input() {
        let textbook = |a: u8, b: u8, c: u8| {
            let p = a as i16 + b as i16 - c as i16;
            let (pa, pb, pc) = (
                (p - a as i16).abs(),
                (p - b as i16).abs(),
                (p - c as i16).abs(),
            );
            if pa <= pb && pa <= pc {
                a
            } else if pb <= pc {
                b
            } else {
                c
            }
        };
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                for c in (0..=255u8).step_by(3) {
                    assert_eq!(paeth(a, b, c), textbook(a, b, c), "{a} {b} {c}");
                }
            }
        }
    }

    /// Undoes the PNG row filters, as a PDF reader does.
    pub(crate) fn unfilter(data: &[u8], row: usize, bpp: usize) -> Vec<u8> {
        let mut raw = Vec::new();
        flate2::read::ZlibDecoder::new(data)
            .read_to_end(&mut raw)
            .unwrap();
        let mut out: Vec<u8> = Vec::new();
        for (r, line) in raw.chunks(row + 1).enumerate() {
            for i in 0..row {
                let a = if i >= bpp { out[r * row + i - bpp] } else { 0 };
                let b = if r > 0 { out[(r - 1) * row + i] } else { 0 };
                let c = if r > 0 && i >= bpp {
                    out[(r - 1) * row + i - bpp]
                } else {
                    0
                };
                let predicted = match line[0] {
                    0 => 0,
                    1 => a,
                    2 => b,
                    3 => ((a as u16 + b as u16) / 2) as u8,
                    4 => paeth(a, b, c),
                    other => panic!("filter type {other}"),
                };
                out.push(line[i + 1].wrapping_add(predicted));
            }
        }
        out
    }

    #[test]
    fn filtered_rows_round_trip() {
        let pixels: Vec<u8> = (0..(5 * 4 * 3)).map(|i| (i * 37 % 251) as u8).collect();
        let data = deflate_rows(pixels.clone(), 5, 3, 8);
        assert_eq!(unfilter(&data, 15, 3), pixels);
    }
}
