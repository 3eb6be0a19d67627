//! Page options as people write them: `A4`, `Letter`, `210mmx297mm`, `10mm`, `0.5in`, `into`.

use super::placement::Fit;

/// Points in one unit.
fn unit(suffix: &str) -> Option<f64> {
    match suffix {
        "" | "pt" => Some(1.0),
        "mm" => Some(72.0 / 25.4),
        "cm" => Some(72.0 / 2.54),
        "in" => Some(72.0),
        "px" => Some(72.0 / 96.0),
        _ => None,
    }
}

/// A length in points from `12`, `12pt`, `10mm`, `1.5cm`, `0.5in`.
pub fn parse_length(text: &str) -> Result<f64, String> {
    let t = text.trim().to_ascii_lowercase();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (number, suffix) = t.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a length (like 10mm, 0.5in, 12pt)"))?;
    let factor =
        unit(suffix).ok_or_else(|| format!("{text:?}: the unit must be pt, mm, cm, in or px"))?;
    if !value.is_finite() || value < 0.0 {
        return Err(format!("{text:?} is not a length of zero or more"));
    }
    Ok(value * factor)
}

/// A page size in points from a name (A0..A6, Letter, Legal, Tabloid) or `WxH` with units.
pub fn parse_page_size(text: &str) -> Result<(f64, f64), String> {
    let mm = |w: f64, h: f64| (w * 72.0 / 25.4, h * 72.0 / 25.4);
    let named = match text.trim().to_ascii_lowercase().as_str() {
        "a0" => Some(mm(841.0, 1189.0)),
        "a1" => Some(mm(594.0, 841.0)),
        "a2" => Some(mm(420.0, 594.0)),
        "a3" => Some(mm(297.0, 420.0)),
        "a4" => Some(mm(210.0, 297.0)),
        "a5" => Some(mm(148.0, 210.0)),
        "a6" => Some(mm(105.0, 148.0)),
        "letter" => Some((612.0, 792.0)),
        "legal" => Some((612.0, 1008.0)),
        "tabloid" => Some((792.0, 1224.0)),
        _ => None,
    };
    if let Some(size) = named {
        return Ok(size);
    }
    let (w, h) = text
        .to_ascii_lowercase()
        .split_once('x')
        .map(|(w, h)| (w.to_string(), h.to_string()))
        .ok_or_else(|| {
            format!("{text:?} is not a page size (A4, Letter, or WxH like 210mmx297mm)")
        })?;
    let (w, h) = (parse_length(&w)?, parse_length(&h)?);
    if w < 1.0 || h < 1.0 {
        return Err(format!(
            "{text:?}: a page must be at least 1pt on each side"
        ));
    }
    Ok((w, h))
}

pub fn parse_fit(text: &str) -> Result<Fit, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "into" => Ok(Fit::Into),
        "fill" => Ok(Fit::Fill),
        "exact" => Ok(Fit::Exact),
        "shrink" => Ok(Fit::Shrink),
        "enlarge" => Ok(Fit::Enlarge),
        _ => Err(format!(
            "{text:?} is not a fit: use into, fill, exact, shrink or enlarge"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_sizes() {
        assert_eq!(parse_length("72").unwrap(), 72.0);
        assert_eq!(parse_length("1in").unwrap(), 72.0);
        assert!((parse_length("25.4mm").unwrap() - 72.0).abs() < 1e-9);
        assert!(parse_length("3 parsecs").is_err());
        assert!(parse_length("-1mm").is_err());
        let (w, h) = parse_page_size("A4").unwrap();
        assert!((w - 595.2756).abs() < 1e-3 && (h - 841.8898).abs() < 1e-3);
        assert_eq!(parse_page_size("4inx6in").unwrap(), (288.0, 432.0));
        assert!(parse_page_size("B7").is_err());
        assert_eq!(parse_fit("Fill").unwrap(), Fit::Fill);
        assert!(parse_fit("stretch").is_err());
    }
}
