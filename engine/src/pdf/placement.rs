//! Where an image goes on its page: EXIF orientation (all eight values) and the caller's
//! rotation give the drawn orientation; the page is the image at its resolution, or a
//! chosen size with a fit and a margin. Pages over PDF's 200-inch limit get `/UserUnit`.

/// Largest page side PDF viewers accept, in user units (200 inches).
const MAX_SIDE: f64 = 14_400.0;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Fit {
    /// Scale up or down to fit inside the page, keeping the aspect ratio.
    #[default]
    Into,
    /// Scale to cover the page, keeping the aspect ratio (the overflow is cut).
    Fill,
    /// Stretch to the page exactly.
    Exact,
    /// Like `Into`, but never enlarge.
    Shrink,
    /// Like `Into`, but never shrink.
    Enlarge,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct PageOptions {
    /// Page width and height in points; `None`: the image's own size.
    pub size: Option<(f64, f64)>,
    pub fit: Fit,
    /// Margin on every side, in points.
    pub margin: f64,
    /// Turn the page to landscape for landscape images (and back).
    pub auto_orient: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Placement {
    /// Page width and height in user units.
    pub media: (f64, f64),
    pub user_unit: f64,
    /// Maps the image's unit square onto the page (`a b c d e f cm`).
    pub matrix: [f64; 6],
}

/// Affine maps of the unit square, as `[a b c d e f]`: (u, v) -> (a u + c v + e, b u + d v + f).
type Affine = [f64; 6];

/// `first`, then `then`.
fn compose(first: Affine, then: Affine) -> Affine {
    let [a1, b1, c1, d1, e1, f1] = first;
    let [a2, b2, c2, d2, e2, f2] = then;
    [
        a2 * a1 + c2 * b1,
        b2 * a1 + d2 * b1,
        a2 * c1 + c2 * d1,
        b2 * c1 + d2 * d1,
        a2 * e1 + c2 * f1 + e2,
        b2 * e1 + d2 * f1 + f2,
    ]
}

const IDENTITY: Affine = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0];
const FLIP_H: Affine = [-1.0, 0.0, 0.0, 1.0, 1.0, 0.0];

/// Clockwise rotation of the unit square onto itself.
fn rotation(degrees: u16) -> Affine {
    match degrees {
        90 => [0.0, -1.0, 1.0, 0.0, 0.0, 1.0],
        180 => [-1.0, 0.0, 0.0, -1.0, 1.0, 1.0],
        270 => [0.0, 1.0, -1.0, 0.0, 1.0, 0.0],
        _ => IDENTITY,
    }
}

/// EXIF orientation as (mirror first, then clockwise degrees).
fn exif_transform(orientation: u8) -> (bool, u16) {
    match orientation {
        2 => (true, 0),
        3 => (false, 180),
        4 => (true, 180),
        5 => (true, 270),
        6 => (false, 90),
        7 => (true, 90),
        8 => (false, 270),
        _ => (false, 0),
    }
}

/// Places an image of `pixels` at `dpi`, with its EXIF `orientation` and the caller's
/// clockwise `rotate` (0, 90, 180 or 270) on top.
pub fn place(
    pixels: (f64, f64),
    dpi: (f64, f64),
    orientation: u8,
    rotate: u16,
    page: &PageOptions,
) -> Placement {
    let (mirror, exif_degrees) = exif_transform(orientation);
    let degrees = (exif_degrees + rotate) % 360;
    let (w, h) = (pixels.0 * 72.0 / dpi.0, pixels.1 * 72.0 / dpi.1);
    let (dw, dh) = if degrees % 180 == 90 { (h, w) } else { (w, h) };
    let m = page.margin.max(0.0);

    let (media, (x, y, pw, ph)) = match page.size {
        None => ((dw + 2.0 * m, dh + 2.0 * m), (m, m, dw, dh)),
        Some((mut pw_page, mut ph_page)) => {
            if page.auto_orient && (dw > dh) != (pw_page > ph_page) {
                std::mem::swap(&mut pw_page, &mut ph_page);
            }
            let (aw, ah) = ((pw_page - 2.0 * m).max(1.0), (ph_page - 2.0 * m).max(1.0));
            let into = (aw / dw).min(ah / dh);
            let (sx, sy) = match page.fit {
                Fit::Into => (into, into),
                Fit::Shrink => (into.min(1.0), into.min(1.0)),
                Fit::Enlarge => (into.max(1.0), into.max(1.0)),
                Fit::Fill => {
                    let s = (aw / dw).max(ah / dh);
                    (s, s)
                }
                Fit::Exact => (aw / dw, ah / dh),
            };
            let (iw, ih) = (dw * sx, dh * sy);
            (
                (pw_page, ph_page),
                ((pw_page - iw) / 2.0, (ph_page - ih) / 2.0, iw, ih),
            )
        }
    };
    let mut matrix = compose(
        compose(if mirror { FLIP_H } else { IDENTITY }, rotation(degrees)),
        [pw, 0.0, 0.0, ph, x, y],
    );
    let largest = media.0.max(media.1);
    let user_unit = if largest > MAX_SIDE {
        (largest / MAX_SIDE).ceil()
    } else {
        1.0
    };
    for v in &mut matrix {
        *v /= user_unit;
    }
    Placement {
        media: (media.0 / user_unit, media.1 / user_unit),
        user_unit,
        matrix,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(m: [f64; 6], (u, v): (f64, f64)) -> (f64, f64) {
        (m[0] * u + m[2] * v + m[4], m[1] * u + m[3] * v + m[5])
    }

    #[test]
    fn default_page_is_the_image_at_its_resolution() {
        let p = place((200.0, 100.0), (96.0, 96.0), 1, 0, &PageOptions::default());
        assert_eq!(p.media, (150.0, 75.0));
        assert_eq!(p.matrix, [150.0, 0.0, 0.0, 75.0, 0.0, 0.0]);
    }

    #[test]
    fn a_quarter_turn_swaps_the_page_and_puts_the_top_on_the_right() {
        let p = place((200.0, 100.0), (72.0, 72.0), 1, 90, &PageOptions::default());
        assert_eq!(p.media, (100.0, 200.0));
        // The image's top-left corner (u=0, v=1) lands at the page's top-right.
        assert_eq!(apply(p.matrix, (0.0, 1.0)), (100.0, 200.0));
        // EXIF 6 is the same quarter turn.
        assert_eq!(
            place((200.0, 100.0), (72.0, 72.0), 6, 0, &PageOptions::default()),
            p
        );
        // EXIF 8 plus a caller's 90 degrees is upright.
        let upright = place((200.0, 100.0), (72.0, 72.0), 8, 90, &PageOptions::default());
        assert_eq!(upright.matrix, [200.0, 0.0, 0.0, 100.0, 0.0, 0.0]);
    }

    #[test]
    fn mirrored_orientations_flip() {
        let p = place((10.0, 10.0), (72.0, 72.0), 2, 0, &PageOptions::default());
        assert_eq!(apply(p.matrix, (0.0, 0.0)), (10.0, 0.0));
    }

    #[test]
    fn fit_into_a4_with_a_margin_centres_the_image() {
        let a4 = PageOptions {
            size: Some((595.0, 842.0)),
            margin: 10.0,
            ..Default::default()
        };
        let p = place((1000.0, 500.0), (72.0, 72.0), 1, 0, &a4);
        assert_eq!(p.media, (595.0, 842.0));
        assert_eq!(p.matrix[0], 575.0);
        assert_eq!(p.matrix[3], 287.5);
        assert_eq!(p.matrix[4], 10.0);
        let landscape = place(
            (1000.0, 500.0),
            (72.0, 72.0),
            1,
            0,
            &PageOptions {
                auto_orient: true,
                ..a4
            },
        );
        assert_eq!(landscape.media, (842.0, 595.0));
    }

    #[test]
    fn huge_pages_use_a_user_unit() {
        let p = place(
            (40_000.0, 1000.0),
            (72.0, 72.0),
            1,
            0,
            &PageOptions::default(),
        );
        assert_eq!(p.user_unit, 3.0);
        assert!(p.media.0 <= MAX_SIDE);
    }
}
