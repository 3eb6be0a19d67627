//! GIF: each frame quantised to its own palette (at most 256 colours, dithered), one frame
//! or an animation with its delays, looping forever.

use image::DynamicImage;

use super::super::plan::Target;
use super::quant;

pub struct Frame<'a> {
    pub image: &'a DynamicImage,
    /// Hundredths of a second.
    pub delay: u16,
}

/// Encodes the frames; partly transparent pixels are blended over `background`.
pub fn encode(
    frames: &[Frame<'_>],
    target: &Target,
    background: [u8; 3],
) -> Result<Vec<u8>, String> {
    let first = frames.first().ok_or("a GIF needs at least one frame")?;
    let (w, h) = (first.image.width(), first.image.height());
    let too_large = || "the image is too large for a GIF (65535 pixels a side)".to_string();
    let (w16, h16) = (
        u16::try_from(w).map_err(|_| too_large())?,
        u16::try_from(h).map_err(|_| too_large())?,
    );
    let mut out = Vec::new();
    let mut quantised = frames
        .iter()
        .map(|f| quant::quantise(f.image, target.colours, target.dither, background));
    // The first frame's colours are the global table (readers that show one frame look
    // there); later frames carry their own.
    let first_q = quantised.next().ok_or("a GIF needs at least one frame")?;
    let table = |q: &quant::Quantised| {
        let mut palette: Vec<u8> = q.palette.iter().flat_map(|c| [c[0], c[1], c[2]]).collect();
        // GIF tables hold a power of two entries, at least two.
        let entries = q.palette.len().max(2).next_power_of_two();
        palette.resize(entries * 3, 0);
        palette
    };
    {
        let mut encoder =
            gif::Encoder::new(&mut out, w16, h16, &table(&first_q)).map_err(|e| e.to_string())?;
        if frames.len() > 1 {
            encoder
                .set_repeat(gif::Repeat::Infinite)
                .map_err(|e| e.to_string())?;
        }
        for (i, (frame, q)) in frames
            .iter()
            .zip(std::iter::once(first_q).chain(quantised))
            .enumerate()
        {
            let palette = (i > 0).then(|| table(&q));
            let mut f = gif::Frame {
                width: w16,
                height: h16,
                buffer: q.indices.into(),
                palette,
                transparent: q.transparent,
                delay: frame.delay,
                dispose: gif::DisposalMethod::Background,
                ..gif::Frame::default()
            };
            f.make_lzw_pre_encoded();
            encoder
                .write_lzw_pre_encoded_frame(&f)
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(out)
}
