//! The conversions Folio offers through the jobs API, as one table: each target, its
//! category and its options (type, range, default). The catalog (`GET /v2/conversions`),
//! the validator and the echo of a conversion's options all read this table, and the
//! validated options become the engine's [`Plan`].

use crate::error::{quote, shown};
use folio_engine::convert::{Color, Crop, Fit, Format, Plan, Resize};
use serde_json::{Map, Value, json};

/// The kinds of value an option takes.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Integer { min: i64, max: i64 },
    Number { min: f64, max: f64 },
    Boolean,
    Enum(&'static [&'static str]),
}

#[derive(Clone, Copy, Debug)]
pub struct OptionSpec {
    pub name: &'static str,
    pub kind: Kind,
    pub default: Option<&'static str>,
    pub description: &'static str,
}

const RESIZE_HANDLING: &[&str] = &[
    "keep_aspect_ratio",
    "stretch",
    "keep_aspect_ratio_crop",
    "keep_aspect_ratio_fill_white",
    "keep_aspect_ratio_fill_black",
    "keep_aspect_ratio_fill_transparent",
];

const FORMATS: &[&str] = &["jpg", "png", "webp", "avif", "gif", "tiff", "bmp"];

const fn opt(
    name: &'static str,
    kind: Kind,
    default: Option<&'static str>,
    description: &'static str,
) -> OptionSpec {
    OptionSpec {
        name,
        kind,
        default,
        description,
    }
}

const SIDE: Kind = Kind::Integer { min: 1, max: 65000 };
const OFFSET: Kind = Kind::Integer { min: 0, max: 65000 };

// The options several targets share.
const DPI: OptionSpec = opt(
    "dpi",
    Kind::Integer { min: 10, max: 1200 },
    None,
    "Resolution recorded in the output, in dots per inch",
);
const WIDTH: OptionSpec = opt("width", SIDE, None, "Width of the output in pixels");
const HEIGHT: OptionSpec = opt("height", SIDE, None, "Height of the output in pixels");
const RESIZE: OptionSpec = opt(
    "resize_handling",
    Kind::Enum(RESIZE_HANDLING),
    Some("keep_aspect_ratio"),
    "How width and height are met: within them, stretched, cropped to them, or padded",
);
const QUALITY: OptionSpec = opt(
    "quality",
    Kind::Integer { min: 1, max: 100 },
    None,
    "Quality of lossy encoders (JPEG, WebP, AVIF)",
);

/// The options of every image target.
const IMAGE_OPTIONS: &[OptionSpec] = &[
    opt(
        "allow_multiple_outputs",
        Kind::Boolean,
        Some("false"),
        "Accepted for compatibility: an image conversion makes one output",
    ),
    DPI,
    WIDTH,
    HEIGHT,
    RESIZE,
    opt(
        "crop_origin_x",
        OFFSET,
        None,
        "Left edge of the area to keep (give all four crop options)",
    ),
    opt(
        "crop_origin_y",
        OFFSET,
        None,
        "Top edge of the area to keep",
    ),
    opt("crop_width", SIDE, None, "Width of the area to keep"),
    opt("crop_height", SIDE, None, "Height of the area to keep"),
    opt(
        "color",
        Kind::Enum(&["colored"]),
        Some("colored"),
        "Colour handling; Folio keeps the image's colours",
    ),
    QUALITY,
    opt(
        "rotate",
        Kind::Number {
            min: -360.0,
            max: 360.0,
        },
        None,
        "Clockwise degrees to turn the image",
    ),
];

const THUMBNAIL_OPTIONS: &[OptionSpec] = &[
    opt(
        "thumbnail_target",
        Kind::Enum(FORMATS),
        Some("png"),
        "Format of the thumbnail",
    ),
    opt("width", SIDE, Some("150"), "Largest width of the thumbnail"),
    opt("height", SIDE, None, "Largest height of the thumbnail"),
    DPI,
];

const RESIZE_OPTIONS: &[OptionSpec] = &[
    opt(
        "resize_target",
        Kind::Enum(FORMATS),
        Some("jpg"),
        "Format of the resized image",
    ),
    WIDTH,
    HEIGHT,
    RESIZE,
    DPI,
    QUALITY,
];

/// A target of the catalog.
#[derive(Clone, Copy, Debug)]
pub struct TargetSpec {
    /// The catalog's id (a number, as a string, as the API has them).
    pub id: &'static str,
    pub target: &'static str,
    pub category: &'static str,
    pub options: &'static [OptionSpec],
}

const fn target(
    id: &'static str,
    target: &'static str,
    category: &'static str,
    options: &'static [OptionSpec],
) -> TargetSpec {
    TargetSpec {
        id,
        target,
        category,
        options,
    }
}

pub const TARGETS: &[TargetSpec] = &[
    target("1", "jpg", "image", IMAGE_OPTIONS),
    target("2", "png", "image", IMAGE_OPTIONS),
    target("3", "webp", "image", IMAGE_OPTIONS),
    target("4", "avif", "image", IMAGE_OPTIONS),
    target("5", "gif", "image", IMAGE_OPTIONS),
    target("6", "tiff", "image", IMAGE_OPTIONS),
    target("7", "bmp", "image", IMAGE_OPTIONS),
    target("8", "pdf", "document", IMAGE_OPTIONS),
    target("9", "thumbnail", "operation", THUMBNAIL_OPTIONS),
    target("10", "resize-image", "operation", RESIZE_OPTIONS),
];

/// The target of that name (and category, when given).
pub fn find(target: &str, category: Option<&str>) -> Option<&'static TargetSpec> {
    let target = target.to_ascii_lowercase();
    let target = match target.as_str() {
        "jpeg" => "jpg",
        "tif" => "tiff",
        other => other,
    };
    TARGETS
        .iter()
        .find(|t| t.target == target && category.is_none_or(|c| c.eq_ignore_ascii_case(t.category)))
}

fn default_value(spec: &OptionSpec) -> Value {
    match (spec.default, spec.kind) {
        (None, _) => Value::Null,
        (Some(d), Kind::Boolean) => Value::Bool(d == "true"),
        (Some(d), Kind::Integer { .. }) => d.parse::<i64>().map_or(Value::Null, Value::from),
        (Some(d), _) => Value::String(d.to_string()),
    }
}

/// The catalog entry of a target: `{id, target, category, options: {name: descriptor}}`.
pub fn describe(spec: &TargetSpec) -> Value {
    let mut options = Map::new();
    for o in spec.options {
        let mut d = Map::new();
        match o.kind {
            Kind::Integer { min, max } => {
                d.insert("type".into(), json!("integer"));
                d.insert("minimum".into(), json!(min));
                d.insert("maximum".into(), json!(max));
            }
            Kind::Number { min, max } => {
                d.insert("type".into(), json!("number"));
                d.insert("minimum".into(), json!(min));
                d.insert("maximum".into(), json!(max));
            }
            Kind::Boolean => {
                d.insert("type".into(), json!("boolean"));
            }
            Kind::Enum(values) => {
                d.insert("type".into(), json!("string"));
                d.insert("enum".into(), json!(values));
            }
        }
        d.insert("default".into(), default_value(o));
        d.insert("description".into(), json!(o.description));
        options.insert(o.name.into(), Value::Object(d));
    }
    json!({"id": spec.id, "target": spec.target, "category": spec.category, "options": options})
}

/// Why an option was refused; `field` is the option's name.
#[derive(Debug, PartialEq)]
pub struct OptionError {
    pub field: String,
    pub reason: String,
}

fn refuse(field: &str, reason: impl Into<String>) -> OptionError {
    OptionError {
        field: field.to_string(),
        reason: reason.into(),
    }
}

fn check(spec: &OptionSpec, value: &Value) -> Result<Value, OptionError> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    // Clients written for PHP servers often send numbers and booleans as strings.
    let text = value.as_str().map(str::trim);
    match spec.kind {
        Kind::Integer { min, max } => {
            let n = value
                .as_i64()
                .or_else(|| {
                    value
                        .as_f64()
                        .filter(|f| f.fract() == 0.0)
                        .map(|f| f as i64)
                })
                .or_else(|| text.and_then(|t| t.parse().ok()))
                .ok_or_else(|| {
                    refuse(spec.name, format!("{} is not a whole number", shown(value)))
                })?;
            if !(min..=max).contains(&n) {
                return Err(refuse(
                    spec.name,
                    format!("{n} is not within {min} to {max}"),
                ));
            }
            Ok(Value::from(n))
        }
        Kind::Number { min, max } => {
            let n = value
                .as_f64()
                .or_else(|| text.and_then(|t| t.parse().ok()))
                .filter(|f: &f64| f.is_finite())
                .ok_or_else(|| refuse(spec.name, format!("{} is not a number", shown(value))))?;
            if !(min..=max).contains(&n) {
                return Err(refuse(
                    spec.name,
                    format!("{n} is not within {min} to {max}"),
                ));
            }
            Ok(json!(n))
        }
        Kind::Boolean => value
            .as_bool()
            .or(match text {
                Some("true" | "1") => Some(true),
                Some("false" | "0") => Some(false),
                _ => None,
            })
            .map(Value::Bool)
            .ok_or_else(|| refuse(spec.name, format!("{} is not true or false", shown(value)))),
        Kind::Enum(values) => {
            let t =
                text.ok_or_else(|| refuse(spec.name, format!("{} is not a string", shown(value))))?;
            values
                .iter()
                .find(|v| v.eq_ignore_ascii_case(t))
                .map(|v| Value::String(v.to_string()))
                .ok_or_else(|| {
                    refuse(
                        spec.name,
                        format!("{} is not one of {}", quote(t), values.join(", ")),
                    )
                })
        }
    }
}

/// Checks a conversion's options against its target and returns them as the API echoes
/// them: every option of the target, set ones normalised, unset ones at their default or
/// null. `[]` (an empty PHP array) counts as no options.
pub fn normalise(spec: &TargetSpec, given: &Value) -> Result<Map<String, Value>, OptionError> {
    let given = match given {
        Value::Null => Map::new(),
        Value::Array(a) if a.is_empty() => Map::new(),
        Value::Object(m) => m.clone(),
        other => {
            return Err(refuse(
                "options",
                format!("{} is not an object", shown(other)),
            ));
        }
    };
    for name in given.keys() {
        if !spec.options.iter().any(|o| o.name == name) {
            let known: Vec<&str> = spec.options.iter().map(|o| o.name).collect();
            return Err(refuse(
                name,
                format!(
                    "Folio does not offer this option for {}; its options are {}",
                    spec.target,
                    known.join(", ")
                ),
            ));
        }
    }
    let mut out = Map::new();
    for o in spec.options {
        let value = match given.get(o.name) {
            Some(v) if !v.is_null() => check(o, v)?,
            _ => default_value(o),
        };
        out.insert(o.name.to_string(), value);
    }
    let crop = [
        "crop_origin_x",
        "crop_origin_y",
        "crop_width",
        "crop_height",
    ];
    let set = crop
        .iter()
        .filter(|k| out.get(**k).is_some_and(|v| !v.is_null()))
        .count();
    if set != 0 && set != crop.len() && spec.options.iter().any(|o| o.name == "crop_width") {
        return Err(refuse(
            "crop_width",
            "crop_origin_x, crop_origin_y, crop_width and crop_height go together",
        ));
    }
    Ok(out)
}

fn int(options: &Map<String, Value>, name: &str) -> Option<u32> {
    options
        .get(name)
        .and_then(Value::as_i64)
        .and_then(|n| u32::try_from(n).ok())
}

fn text<'a>(options: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    options.get(name).and_then(Value::as_str)
}

/// The engine's plan for a target and its normalised options.
pub fn plan(target: &str, options: &Map<String, Value>) -> Result<Plan, OptionError> {
    let format_name = match target {
        "thumbnail" => text(options, "thumbnail_target").unwrap_or("png"),
        "resize-image" => text(options, "resize_target").unwrap_or("jpg"),
        other => other,
    };
    let format = Format::parse(format_name).map_err(|reason| refuse("target", reason))?;
    let mut plan = Plan::default();
    plan.target.format = format;
    plan.target.quality = int(options, "quality").map(|q| q as u8);
    plan.dpi = int(options, "dpi").map(f64::from);
    plan.rotate = options.get("rotate").and_then(Value::as_f64).unwrap_or(0.0);
    if let (Some(x), Some(y), Some(width), Some(height)) = (
        int(options, "crop_origin_x"),
        int(options, "crop_origin_y"),
        int(options, "crop_width"),
        int(options, "crop_height"),
    ) {
        plan.crop = Some(Crop::Rect {
            x,
            y,
            width,
            height,
        });
    }
    let (width, height) = (int(options, "width"), int(options, "height"));
    if width.is_some() || height.is_some() {
        let thumbnail = target == "thumbnail";
        let (fit, background) = match text(options, "resize_handling") {
            Some("stretch") => (Fit::Fill, None),
            Some("keep_aspect_ratio_crop") => (Fit::Cover, None),
            Some("keep_aspect_ratio_fill_white") => (Fit::Contain, Some(Color::WHITE)),
            Some("keep_aspect_ratio_fill_black") => (Fit::Contain, Some(Color([0, 0, 0, 255]))),
            Some("keep_aspect_ratio_fill_transparent") => (Fit::Contain, Some(Color([0, 0, 0, 0]))),
            _ => (Fit::Inside, None),
        };
        if let Some(background) = background {
            plan.background = background;
        }
        plan.resize = Some(Resize {
            width,
            height,
            fit,
            // A size asked for is the size made, larger too; a thumbnail only shrinks.
            enlarge: !thumbnail,
            ..Resize::default()
        });
    }
    plan.validate().map_err(|reason| {
        let field = reason.split(':').next().unwrap_or("options").to_string();
        OptionError { field, reason }
    })?;
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_echo_in_full_with_nulls_and_defaults() {
        let spec = find("png", None).unwrap();
        let out = normalise(spec, &json!({"width": "800", "quality": 85})).unwrap();
        assert_eq!(out["width"], json!(800));
        assert_eq!(out["quality"], json!(85));
        assert_eq!(out["height"], Value::Null);
        assert_eq!(out["color"], json!("colored"));
        assert_eq!(out["allow_multiple_outputs"], json!(false));
        assert_eq!(out.len(), spec.options.len());
        assert!(normalise(spec, &json!([])).is_ok());
    }

    #[test]
    fn bad_options_name_the_option() {
        let spec = find("jpg", None).unwrap();
        let e = normalise(spec, &json!({"quality": 0})).unwrap_err();
        assert_eq!(e.field, "quality");
        assert!(e.reason.contains("1 to 100"), "{}", e.reason);
        let e = normalise(spec, &json!({"sharpen": true})).unwrap_err();
        assert_eq!(e.field, "sharpen");
        let e = normalise(spec, &json!({"resize_handling": "squash"})).unwrap_err();
        assert_eq!(e.field, "resize_handling");
        let e = normalise(spec, &json!({"crop_width": 5})).unwrap_err();
        assert_eq!(e.field, "crop_width");
        let e = normalise(spec, &json!({"width": 1.5})).unwrap_err();
        assert_eq!(e.field, "width");
    }

    #[test]
    fn plans_follow_the_options() {
        let spec = find("webp", None).unwrap();
        let o = normalise(
            spec,
            &json!({"width": 800, "resize_handling": "stretch", "height": 10}),
        )
        .unwrap();
        let p = plan("webp", &o).unwrap();
        assert_eq!(p.target.format, Format::Webp);
        let r = p.resize.unwrap();
        assert_eq!((r.width, r.height, r.fit), (Some(800), Some(10), Fit::Fill));
        let spec = find("thumbnail", None).unwrap();
        let o = normalise(spec, &json!({"thumbnail_target": "webp"})).unwrap();
        let p = plan("thumbnail", &o).unwrap();
        assert_eq!(p.target.format, Format::Webp);
        assert_eq!(p.resize.unwrap().width, Some(150));
        assert!(!p.resize.unwrap().enlarge);
    }

    #[test]
    fn the_catalog_describes_every_target() {
        for spec in TARGETS {
            let d = describe(spec);
            assert_eq!(d["target"], spec.target);
            assert!(d["id"].is_string());
            for o in spec.options {
                assert!(d["options"][o.name]["type"].is_string(), "{}", o.name);
            }
        }
        assert!(find("JPEG", Some("image")).is_some());
        assert!(find("pdf", Some("image")).is_none());
        assert!(find("docx", None).is_none());
    }
}
