//! The bounds every reader checks before it decodes a pixel.

/// Bounds checked before any pixel is decoded.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_side: u32,
    pub max_pixels: u64,
    /// Most memory one decode may allocate.
    pub max_decode_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_side: 30_000,
            max_pixels: 200_000_000,
            max_decode_bytes: 2 << 30,
        }
    }
}

/// Whether an image of `w` x `h` pixels is within `limits` (and has pixels at all).
pub fn check_size(w: u64, h: u64, limits: &Limits) -> Result<(), String> {
    if w == 0 || h == 0 {
        return Err(format!("the image has no pixels ({w}x{h})"));
    }
    if w > limits.max_side as u64 || h > limits.max_side as u64 || w * h > limits.max_pixels {
        return Err(format!(
            "the image is {w}x{h}; the limits are {} pixels a side and {} pixels in all",
            limits.max_side, limits.max_pixels
        ));
    }
    Ok(())
}
