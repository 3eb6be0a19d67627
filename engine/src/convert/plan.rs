//! A conversion as data: what to decode, the operations in their fixed order, and the
//! target. A job, a batch action and `folio convert` all build this one value; it reads
//! and writes as JSON (unknown fields are refused, so a misspelt option is an error).

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Plan {
    /// The page (1-based) of a multi-page input (TIFF); other inputs have one.
    pub page: u32,
    /// Turn the image upright as its EXIF (or TIFF) orientation says before anything else.
    pub auto_orient: bool,
    /// Cut out before resizing, in the upright image's pixels.
    pub crop: Option<Crop>,
    pub resize: Option<Resize>,
    /// Clockwise degrees, after resizing; right angles are exact, other angles widen the
    /// canvas and fill the corners with `background`.
    pub rotate: f64,
    /// Mirror top to bottom.
    pub flip: bool,
    /// Mirror left to right.
    pub flop: bool,
    /// What transparent areas become in targets without alpha, what `contain` pads with and
    /// what fills the corners of a turn. White unless asked: never black.
    pub background: Color,
    /// Resolution recorded in the output (JPEG, PNG, TIFF, BMP, PDF page size); the
    /// source's own when absent.
    pub dpi: Option<f64>,
    /// Remove every metadata block, the ICC profile too (the pixels are turned into sRGB
    /// first, so colours stay right).
    pub strip: bool,
    /// Copy the source's EXIF block (orientation reset to 1 when the image was turned
    /// upright). Without it no EXIF is written, so GPS positions never leak by default.
    pub keep_metadata: bool,
    pub target: Target,
}

impl Default for Plan {
    fn default() -> Self {
        Plan {
            page: 1,
            auto_orient: true,
            crop: None,
            resize: None,
            rotate: 0.0,
            flip: false,
            flop: false,
            background: Color::WHITE,
            dpi: None,
            strip: false,
            keep_metadata: false,
            target: Target::default(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Crop {
    /// A rectangle: left, top, width, height.
    Rect {
        x: u32,
        y: u32,
        width: u32,
        height: u32,
    },
    /// A rectangle of this size placed by `gravity`.
    Gravity {
        width: u32,
        height: u32,
        #[serde(default)]
        gravity: Gravity,
    },
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gravity {
    #[default]
    Centre,
    North,
    South,
    East,
    West,
    NorthEast,
    NorthWest,
    SouthEast,
    SouthWest,
}

impl Gravity {
    /// The offset of a span of `inner` within `outer` along x and y, as fractions (0 = left
    /// or top, 1 = right or bottom).
    pub fn fractions(self) -> (f64, f64) {
        use Gravity::*;
        let x = match self {
            West | NorthWest | SouthWest => 0.0,
            East | NorthEast | SouthEast => 1.0,
            _ => 0.5,
        };
        let y = match self {
            North | NorthWest | NorthEast => 0.0,
            South | SouthWest | SouthEast => 1.0,
            _ => 0.5,
        };
        (x, y)
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Resize {
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub fit: Fit,
    /// Let the image grow past its own size (off: a smaller image keeps its size).
    pub enlarge: bool,
    /// Where `cover` cuts from.
    pub gravity: Gravity,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fit {
    /// Within the box, aspect kept.
    #[default]
    Inside,
    /// Covering the box, aspect kept, the overflow cut off.
    Cover,
    /// Exactly the box, aspect not kept.
    Fill,
    /// Within the box, aspect kept, padded to the box with the background colour.
    Contain,
}

/// An sRGB colour with alpha, written `#rgb`, `#rrggbb`, `#rrggbbaa`, `r,g,b`, `r,g,b,a`,
/// `white`, `black` or `transparent`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Color(pub [u8; 4]);

impl Color {
    pub const WHITE: Color = Color([255, 255, 255, 255]);

    pub fn parse(text: &str) -> Result<Color, String> {
        let t = text.trim().to_ascii_lowercase();
        let bad = || format!("{text:?} is not a colour (#rrggbb, #rrggbbaa, r,g,b or a name)");
        match t.as_str() {
            "white" => return Ok(Color::WHITE),
            "black" => return Ok(Color([0, 0, 0, 255])),
            "transparent" | "none" => return Ok(Color([0, 0, 0, 0])),
            _ => {}
        }
        if let Some(hex) = t.strip_prefix('#').filter(|h| h.is_ascii()) {
            let nibble = |i: usize| u8::from_str_radix(&hex[i..i + 1], 16).map_err(|_| bad());
            let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| bad());
            return match hex.len() {
                3 => Ok(Color([
                    nibble(0)? * 17,
                    nibble(1)? * 17,
                    nibble(2)? * 17,
                    255,
                ])),
                6 => Ok(Color([byte(0)?, byte(2)?, byte(4)?, 255])),
                8 => Ok(Color([byte(0)?, byte(2)?, byte(4)?, byte(6)?])),
                _ => Err(bad()),
            };
        }
        let parts: Vec<u8> = t
            .split(',')
            .map(|p| p.trim().parse::<u8>().map_err(|_| bad()))
            .collect::<Result<_, _>>()?;
        match parts[..] {
            [r, g, b] => Ok(Color([r, g, b, 255])),
            [r, g, b, a] => Ok(Color([r, g, b, a])),
            _ => Err(bad()),
        }
    }

    pub fn to_hex(self) -> String {
        let [r, g, b, a] = self.0;
        match a {
            255 => format!("#{r:02x}{g:02x}{b:02x}"),
            _ => format!("#{r:02x}{g:02x}{b:02x}{a:02x}"),
        }
    }
}

impl Serialize for Color {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Color {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Color::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    Jpg,
    Png,
    Webp,
    Avif,
    Gif,
    Tiff,
    Bmp,
    Pdf,
}

impl Format {
    /// The format a file name's extension names.
    pub fn from_extension(name: &str) -> Option<Format> {
        let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
        Some(match ext.as_str() {
            "jpg" | "jpeg" | "jpe" => Format::Jpg,
            "png" => Format::Png,
            "webp" => Format::Webp,
            "avif" => Format::Avif,
            "gif" => Format::Gif,
            "tif" | "tiff" => Format::Tiff,
            "bmp" => Format::Bmp,
            "pdf" => Format::Pdf,
            _ => return None,
        })
    }

    pub fn parse(name: &str) -> Result<Format, String> {
        Format::from_extension(&format!(".{name}")).ok_or_else(|| {
            format!("{name:?} is not a target format (jpg, png, webp, avif, gif, tiff, bmp, pdf)")
        })
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Jpg => "jpg",
            Format::Png => "png",
            Format::Webp => "webp",
            Format::Avif => "avif",
            Format::Gif => "gif",
            Format::Tiff => "tiff",
            Format::Bmp => "bmp",
            Format::Pdf => "pdf",
        }
    }

    /// Whether the format stores transparency.
    pub fn has_alpha(self) -> bool {
        matches!(
            self,
            Format::Png | Format::Webp | Format::Avif | Format::Gif | Format::Tiff | Format::Pdf
        )
    }

    /// Whether Folio writes an ICC profile into the format (AVIF could hold one; Folio
    /// turns its pixels into sRGB instead, for now).
    pub fn has_icc(self) -> bool {
        matches!(
            self,
            Format::Jpg | Format::Png | Format::Webp | Format::Tiff | Format::Pdf
        )
    }
}

/// The output format and its encoder's settings; settings that do not apply to the format
/// are ignored. The defaults are libvips's where a user would compare the two.
impl Target {
    /// Whether the output keeps transparency: the format's, but a JPEG-compressed TIFF's
    /// pixels are JPEG's.
    pub fn has_alpha(&self) -> bool {
        self.format.has_alpha()
            && !(self.format == Format::Tiff && self.tiff_compression == TiffCompression::Jpeg)
    }
}

/// rav1e's speed when none is asked (see BENCHMARKS.md for the measurements behind it).
pub const AVIF_DEFAULT_SPEED: u8 = 8;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Target {
    pub format: Format,
    /// 1 to 100, for JPEG, lossy WebP, AVIF and the PDF's decoded images (75 for JPEG and
    /// WebP, 50 for AVIF, as libvips; the PDF keeps decoded images lossless unless it is
    /// given).
    pub quality: Option<u8>,
    /// JPEG: progressive scans.
    pub progressive: bool,
    /// JPEG and AVIF: chroma subsampling, `auto` (4:2:0 below quality 90, 4:4:4 from it,
    /// as libvips), `420`, `422` (JPEG only) or `444`.
    pub subsampling: Subsampling,
    /// JPEG: optimised Huffman tables (smaller files, a little slower; off, as libvips).
    pub optimize_coding: bool,
    /// PNG: zlib level 0 to 9 (6, as libvips).
    pub compression: u8,
    /// PNG: a palette of at most `colours` colours (quantised, dithered) instead of full
    /// colour. GIF is always palette.
    pub palette: bool,
    /// PNG palette and GIF: how many colours, 2 to 256.
    pub colours: u16,
    /// PNG palette and GIF: error-diffusion dithering, 0.0 (none) to 1.0 (full).
    pub dither: f32,
    /// WebP: lossless.
    pub lossless: bool,
    /// WebP: effort, 0 (fast) to 6 (small); 4, as libvips.
    pub effort: u8,
    /// AVIF: encoder speed, 1 (slow, small) to 10 (fast).
    pub speed: u8,
    /// TIFF: `none` (as libvips), `deflate`, `lzw` or `jpeg` (at `quality`, with
    /// `subsampling`; no alpha: transparency goes over the background).
    pub tiff_compression: TiffCompression,
}

impl Default for Target {
    fn default() -> Self {
        Target {
            format: Format::Jpg,
            quality: None,
            progressive: false,
            subsampling: Subsampling::Auto,
            optimize_coding: false,
            compression: 6,
            palette: false,
            colours: 256,
            dither: 1.0,
            lossless: false,
            effort: 4,
            speed: AVIF_DEFAULT_SPEED,
            tiff_compression: TiffCompression::None,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Subsampling {
    #[default]
    #[serde(rename = "auto")]
    Auto,
    #[serde(rename = "420")]
    S420,
    #[serde(rename = "422")]
    S422,
    #[serde(rename = "444")]
    S444,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TiffCompression {
    #[default]
    None,
    Deflate,
    Lzw,
    Jpeg,
}

impl Plan {
    /// Checks the values serde cannot: ranges and combinations. The message names the
    /// field.
    pub fn validate(&self) -> Result<(), String> {
        if self.page == 0 {
            return Err("page: pages are numbered from 1".into());
        }
        if let Some(q) = self.target.quality
            && !(1..=100).contains(&q)
        {
            return Err(format!("quality: {q} is not within 1 to 100"));
        }
        if self.target.compression > 9 {
            return Err(format!(
                "compression: {} is not within 0 to 9",
                self.target.compression
            ));
        }
        if self.target.effort > 6 {
            return Err(format!(
                "effort: {} is not within 0 to 6",
                self.target.effort
            ));
        }
        if !(1..=10).contains(&self.target.speed) {
            return Err(format!(
                "speed: {} is not within 1 to 10",
                self.target.speed
            ));
        }
        if self.target.format == Format::Avif && self.target.subsampling == Subsampling::S422 {
            return Err(
                "subsampling: 422 is not available for AVIF (auto, 420 or 444; browsers do not decode AV1's 4:2:2)"
                    .into(),
            );
        }
        if !(2..=256).contains(&self.target.colours) {
            return Err(format!(
                "colours: {} is not within 2 to 256",
                self.target.colours
            ));
        }
        if !(0.0..=1.0).contains(&self.target.dither) {
            return Err(format!(
                "dither: {} is not within 0 to 1",
                self.target.dither
            ));
        }
        if !self.rotate.is_finite() {
            return Err("rotate: not a number".into());
        }
        if let Some(dpi) = self.dpi
            && !(1.0..=100_000.0).contains(&dpi)
        {
            return Err(format!("dpi: {dpi} is not within 1 to 100000"));
        }
        if let Some(r) = &self.resize {
            if r.width.is_none() && r.height.is_none() {
                return Err("resize: give a width, a height or both".into());
            }
            if r.width == Some(0) || r.height == Some(0) {
                return Err("resize: width and height must be at least 1".into());
            }
            if matches!(r.fit, Fit::Cover | Fit::Fill | Fit::Contain)
                && (r.width.is_none() || r.height.is_none())
            {
                return Err(
                    format!("resize: fit {:?} needs both a width and a height", r.fit)
                        .to_lowercase(),
                );
            }
        }
        match self.crop {
            Some(Crop::Rect { width, height, .. } | Crop::Gravity { width, height, .. })
                if width == 0 || height == 0 =>
            {
                Err("crop: width and height must be at least 1".into())
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_parse_in_every_spelling() {
        assert_eq!(Color::parse("#fff").unwrap(), Color::WHITE);
        assert_eq!(Color::parse("#102030").unwrap(), Color([16, 32, 48, 255]));
        assert_eq!(Color::parse("#10203040").unwrap(), Color([16, 32, 48, 64]));
        assert_eq!(Color::parse("1, 2, 3").unwrap(), Color([1, 2, 3, 255]));
        assert_eq!(Color::parse("Transparent").unwrap(), Color([0, 0, 0, 0]));
        for bad in [
            "#12", "red-ish", "1,2", "300,0,0", "#gggggg", "#aéaa", "#ééé",
        ] {
            assert!(Color::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_plan_reads_from_json_with_defaults_and_refuses_unknown_fields() {
        let plan: Plan = serde_json::from_str(
            r##"{"resize":{"width":100,"fit":"inside"},"background":"#000000","target":{"format":"webp","quality":80}}"##,
        )
        .unwrap();
        assert_eq!(plan.target.format, Format::Webp);
        assert_eq!(plan.resize.unwrap().width, Some(100));
        assert!(plan.auto_orient);
        assert_eq!(plan.page, 1);
        let back: Plan = serde_json::from_str(&serde_json::to_string(&plan).unwrap()).unwrap();
        assert_eq!(back, plan);
        let err = serde_json::from_str::<Plan>(r#"{"qualty":5}"#).unwrap_err();
        assert!(err.to_string().contains("qualty"), "{err}");
    }

    #[test]
    fn validation_names_the_field() {
        let mut plan = Plan::default();
        plan.target.quality = Some(0);
        assert!(plan.validate().unwrap_err().starts_with("quality"));
        let plan = Plan {
            resize: Some(Resize {
                width: Some(10),
                fit: Fit::Cover,
                ..Resize::default()
            }),
            ..Plan::default()
        };
        assert!(plan.validate().unwrap_err().contains("cover"));
        let plan = Plan {
            page: 0,
            ..Plan::default()
        };
        assert!(plan.validate().unwrap_err().starts_with("page"));
    }
}
