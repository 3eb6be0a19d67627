//! A batch's `Actions`: IMM's list of `{Name, Parameters, FastFailPolicy}`, with Folio's image
//! templates. Each object goes through the operations named so far and each `sys/saveas`
//! writes one output, so `[image/resize, image/format webp, sys/saveas, image/format jpg,
//! sys/saveas]` writes a WebP and a JPEG of the same resized image.
//!
//! Parameters are `key=value` strings (`w=800`); OSS's `key_value` (`w_800`) is read too,
//! and a lone value where the action has an obvious one (`webp`, `90`).

use folio_engine::convert::{Crop, Fit, Format, Gravity, Plan, Resize};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::model::FastFail;
use crate::error::ApiError;
use crate::task::model::UriScheme;

/// One output: the plan so far, and where it goes.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct OutputSpec {
    pub plan: Plan,
    /// The format asked for; without one an output keeps its source's (PNG for sources no
    /// target format can keep, such as SVG or JPEG 2000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<Format>,
    /// `s3://bucket/key` with the OSS variables (see [`VARIABLES`]).
    pub uri: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Recipe {
    pub outputs: Vec<OutputSpec>,
}

pub const ACTION_NAMES: [&str; 6] = [
    "image/resize",
    "image/crop",
    "image/rotate",
    "image/format",
    "image/pdf",
    "sys/saveas",
];

/// The variables a `sys/saveas` URI may hold.
pub const VARIABLES: [&str; 7] = [
    "bucket", "key", "dirname", "basename", "barename", "ext", "autoext",
];

/// The largest number of outputs one object may have.
pub const MAX_OUTPUTS: usize = 10;

/// One parameter, `key=value`, `key_value` or a lone value.
fn split(parameter: &str) -> (Option<&str>, &str) {
    let p = parameter.trim();
    if let Some((k, v)) = p.split_once('=') {
        return (Some(k.trim()), v.trim());
    }
    match p.split_once('_') {
        Some((k, v)) if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphabetic()) => (Some(k), v),
        _ => (None, p),
    }
}

/// Parses `Actions`; the policy is `abort` if any action asks for it.
pub fn parse(value: &Value) -> Result<(Recipe, FastFail), ApiError> {
    let list = value
        .as_array()
        .ok_or_else(|| ApiError::invalid("Actions", "must be a list of {Name, Parameters}"))?;
    if list.is_empty() {
        return Err(ApiError::invalid(
            "Actions",
            "must hold at least one action",
        ));
    }
    super::limits::check_size("Actions", value)?;
    super::limits::check_count("Actions", list, super::limits::MAX_ACTIONS)?;
    let mut plan = Plan::default();
    let mut format = None;
    let mut outputs = Vec::new();
    let mut policy = FastFail::Ignore;
    for (i, action) in list.iter().enumerate() {
        let field = format!("Actions[{i}]");
        let name = action
            .get("Name")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::missing(format!("{field}.Name")))?;
        let parameters: Vec<String> = match action.get("Parameters") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => {
                super::limits::check_count(
                    &format!("{field}.Parameters"),
                    items,
                    super::limits::MAX_PARAMETERS,
                )?;
                items
                    .iter()
                    .enumerate()
                    .map(|(j, p)| {
                        p.as_str().map(str::to_string).ok_or_else(|| {
                            ApiError::invalid(
                                format!("{field}.Parameters[{j}]"),
                                "must be a string",
                            )
                        })
                    })
                    .collect::<Result<_, _>>()?
            }
            Some(_) => {
                return Err(ApiError::invalid(
                    format!("{field}.Parameters"),
                    "must be a list of key=value strings",
                ));
            }
        };
        if let Some(p) = action.get("FastFailPolicy").filter(|p| !p.is_null()) {
            match p.get("Action").and_then(Value::as_str) {
                Some("abort") => policy = FastFail::Abort,
                Some("ignore") | None => {}
                Some(other) => {
                    return Err(ApiError::invalid(
                        format!("{field}.FastFailPolicy.Action"),
                        format!(
                            "must be abort or ignore, got {}",
                            crate::error::quote(other)
                        ),
                    ));
                }
            }
        }
        let step = Step {
            field: &field,
            parameters: &parameters,
        };
        match name {
            "image/resize" => plan.resize = Some(step.resize()?),
            "image/crop" => plan.crop = Some(step.crop()?),
            "image/rotate" => plan.rotate = (plan.rotate + step.rotate()?) % 360.0,
            "image/format" => {
                let (f, quality) = step.format()?;
                format = Some(f);
                plan.target.quality = quality.or(plan.target.quality);
            }
            "image/pdf" => {
                step.only(&["quality", "q"])?;
                format = Some(Format::Pdf);
                if let Some(q) = step.number("quality", &["q"], 1.0, 100.0)? {
                    plan.target.quality = Some(q as u8);
                }
            }
            "sys/saveas" => {
                let uri = step.saveas()?;
                if outputs.len() == MAX_OUTPUTS {
                    return Err(ApiError::invalid(
                        field,
                        format!("an object may have at most {MAX_OUTPUTS} outputs"),
                    ));
                }
                let mut output_plan = plan.clone();
                if let Some(f) = format {
                    output_plan.target.format = f;
                }
                output_plan
                    .validate()
                    .map_err(|reason| ApiError::invalid(&field, reason))?;
                outputs.push(OutputSpec {
                    plan: output_plan,
                    format,
                    uri,
                });
            }
            other => {
                return Err(ApiError::invalid(
                    format!("{field}.Name"),
                    format!(
                        "{} is not an action Folio runs ({})",
                        crate::error::quote(other),
                        ACTION_NAMES.join(", ")
                    ),
                ));
            }
        }
    }
    if outputs.is_empty() {
        return Err(ApiError::invalid(
            "Actions",
            "names no sys/saveas action: add {\"Name\": \"sys/saveas\", \"Parameters\": \
             [\"uri=s3://bucket/out/{dirname}/{barename}.{autoext}\"]} after the operations",
        ));
    }
    Ok((Recipe { outputs }, policy))
}

/// The parameters of one action, read by name.
struct Step<'a> {
    field: &'a str,
    parameters: &'a [String],
}

impl Step<'_> {
    /// The value of `name` (or an alias), or of a lone value when `lone` allows it.
    fn get(&self, name: &str, aliases: &[&str]) -> Option<&str> {
        self.parameters.iter().find_map(|p| match split(p) {
            (Some(k), v) if k == name || aliases.contains(&k) => Some(v),
            _ => None,
        })
    }

    fn lone(&self) -> Option<&str> {
        self.parameters.iter().find_map(|p| match split(p) {
            (None, v) => Some(v),
            _ => None,
        })
    }

    /// Refuses a parameter the action does not take, naming it.
    fn only(&self, known: &[&str]) -> Result<(), ApiError> {
        for (j, p) in self.parameters.iter().enumerate() {
            if let (Some(k), _) = split(p)
                && !known.contains(&k)
            {
                return Err(ApiError::invalid(
                    format!("{}.Parameters[{j}]", self.field),
                    format!(
                        "{} is not a parameter of this action (it takes {})",
                        crate::error::quote(k),
                        known.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    fn bad(&self, name: &str, reason: impl std::fmt::Display) -> ApiError {
        ApiError::invalid(
            format!("{}.Parameters.{name}", self.field),
            reason.to_string(),
        )
    }

    fn number(
        &self,
        name: &str,
        aliases: &[&str],
        min: f64,
        max: f64,
    ) -> Result<Option<f64>, ApiError> {
        let Some(text) = self.get(name, aliases) else {
            return Ok(None);
        };
        text.parse::<f64>()
            .ok()
            .filter(|n| n.is_finite() && (min..=max).contains(n))
            .map(Some)
            .ok_or_else(|| {
                self.bad(
                    name,
                    format!(
                        "must be a number from {min} to {max}, got {}",
                        crate::error::quote(text)
                    ),
                )
            })
    }

    fn side(&self, name: &str, aliases: &[&str]) -> Result<Option<u32>, ApiError> {
        Ok(self.number(name, aliases, 1.0, 65000.0)?.map(|n| n as u32))
    }

    fn resize(&self) -> Result<Resize, ApiError> {
        self.only(&["w", "width", "h", "height", "fit", "m", "enlarge", "limit"])?;
        let width = self.side("w", &["width"])?;
        let height = self.side("h", &["height"])?;
        if width.is_none() && height.is_none() {
            return Err(self.bad("w", "give w, h or both"));
        }
        let fit = match (self.get("fit", &[]), self.get("m", &[])) {
            (Some(f), _) => match f {
                "inside" => Fit::Inside,
                "cover" => Fit::Cover,
                "fill" => Fit::Fill,
                "contain" => Fit::Contain,
                other => {
                    return Err(self.bad(
                        "fit",
                        format!(
                            "must be inside, cover, fill or contain, got {}",
                            crate::error::quote(other)
                        ),
                    ));
                }
            },
            // OSS's modes, by their OSS meaning.
            (None, Some(m)) => match m {
                "lfit" => Fit::Inside,
                "fill" => Fit::Cover,
                "pad" => Fit::Contain,
                "fixed" => Fit::Fill,
                other => {
                    return Err(self.bad(
                        "m",
                        format!(
                            "must be lfit, fill, pad or fixed, got {}",
                            crate::error::quote(other)
                        ),
                    ));
                }
            },
            (None, None) => Fit::Inside,
        };
        let enlarge = match (self.get("enlarge", &[]), self.get("limit", &[])) {
            (Some(e), _) => e == "true" || e == "1",
            // OSS: limit_0 lets the image grow.
            (None, Some(l)) => l == "0",
            (None, None) => false,
        };
        Ok(Resize {
            width,
            height,
            fit,
            enlarge,
            gravity: Gravity::Centre,
        })
    }

    fn crop(&self) -> Result<Crop, ApiError> {
        self.only(&["x", "y", "w", "width", "h", "height", "g", "gravity"])?;
        let width = self
            .side("w", &["width"])?
            .ok_or_else(|| self.bad("w", "is required"))?;
        let height = self
            .side("h", &["height"])?
            .ok_or_else(|| self.bad("h", "is required"))?;
        let offset = |name: &str| -> Result<Option<u32>, ApiError> {
            Ok(self.number(name, &[], 0.0, 65000.0)?.map(|n| n as u32))
        };
        let (x, y) = (offset("x")?, offset("y")?);
        match self.get("g", &["gravity"]) {
            None => Ok(Crop::Rect {
                x: x.unwrap_or(0),
                y: y.unwrap_or(0),
                width,
                height,
            }),
            Some(_) if x.is_some() || y.is_some() => {
                Err(self.bad("g", "give either x and y, or g, not both"))
            }
            Some(g) => {
                let gravity = match g {
                    "nw" | "north_west" => Gravity::NorthWest,
                    "north" => Gravity::North,
                    "ne" | "north_east" => Gravity::NorthEast,
                    "west" => Gravity::West,
                    "center" | "centre" => Gravity::Centre,
                    "east" => Gravity::East,
                    "sw" | "south_west" => Gravity::SouthWest,
                    "south" => Gravity::South,
                    "se" | "south_east" => Gravity::SouthEast,
                    other => {
                        return Err(self.bad(
                            "g",
                            format!(
                                "must be nw, north, ne, west, center, east, sw, south or se, \
                                 got {}",
                                crate::error::quote(other)
                            ),
                        ));
                    }
                };
                Ok(Crop::Gravity {
                    width,
                    height,
                    gravity,
                })
            }
        }
    }

    fn rotate(&self) -> Result<f64, ApiError> {
        self.only(&["value", "angle", "degrees"])?;
        let text = self
            .get("value", &["angle", "degrees"])
            .or_else(|| self.lone())
            .ok_or_else(|| self.bad("value", "is required (clockwise degrees, 0 to 360)"))?;
        text.parse::<f64>()
            .ok()
            .filter(|d| d.is_finite() && (0.0..=360.0).contains(d))
            .ok_or_else(|| {
                self.bad(
                    "value",
                    format!(
                        "must be degrees from 0 to 360, got {}",
                        crate::error::quote(text)
                    ),
                )
            })
    }

    fn format(&self) -> Result<(Format, Option<u8>), ApiError> {
        self.only(&["format", "f", "quality", "q"])?;
        let name = self
            .get("format", &["f"])
            .or_else(|| self.lone())
            .ok_or_else(|| {
                self.bad(
                    "format",
                    "is required (jpg, png, webp, avif, gif, tiff, bmp, pdf)",
                )
            })?;
        let format = Format::parse(&name.to_ascii_lowercase()).map_err(|_| {
            self.bad(
                "format",
                format!(
                    "{} is not a format (jpg, png, webp, avif, gif, tiff, bmp, pdf)",
                    crate::error::quote(name)
                ),
            )
        })?;
        let quality = self.number("quality", &["q"], 1.0, 100.0)?.map(|q| q as u8);
        Ok((format, quality))
    }

    fn saveas(&self) -> Result<String, ApiError> {
        self.only(&["uri"])?;
        let uri = self
            .get("uri", &[])
            .or_else(|| self.lone())
            .ok_or_else(|| self.bad("uri", "is required (s3://bucket/key with variables)"))?;
        check_template(uri).map_err(|reason| self.bad("uri", reason))?;
        Ok(uri.to_string())
    }
}

/// The bucket and key parts of a `sys/saveas` URI (`s3://` or `oss://`).
fn parts(uri: &str) -> Option<(&str, &str)> {
    UriScheme::split(uri)?.1.split_once('/')
}

fn check_template(uri: &str) -> Result<(), String> {
    let (bucket, key) = parts(uri).ok_or_else(|| {
        format!(
            "must be s3://bucket/key or oss://bucket/key (with variables such as \
             {{dirname}}), got {}",
            crate::error::quote(uri)
        )
    })?;
    if bucket != "{bucket}"
        && (bucket.contains('{')
            || crate::task::validate::s3_uri("uri", &format!("s3://{bucket}/x")).is_err())
    {
        return Err(format!(
            "{} is not a bucket name or {{bucket}}",
            crate::error::quote(bucket)
        ));
    }
    if key.trim_matches('/').is_empty() {
        return Err("names no key".into());
    }
    let mut rest = key;
    while let Some(start) = rest.find('{') {
        let end = rest[start..].find('}').ok_or("has a { without its }")?;
        let name = &rest[start + 1..start + end];
        if !VARIABLES.contains(&name) {
            return Err(format!(
                "{{{name}}} is not a variable ({})",
                VARIABLES.map(|v| format!("{{{v}}}")).join(", ")
            ));
        }
        rest = &rest[start + end + 1..];
    }
    Ok(())
}

impl OutputSpec {
    /// The bucket the output goes to (`None`: the input's) and the part of its key before
    /// the first variable.
    pub fn fixed_part(&self) -> (Option<&str>, &str) {
        let (bucket, key) = parts(&self.uri).unwrap_or(("{bucket}", ""));
        let bucket = (bucket != "{bucket}").then_some(bucket);
        (bucket, key.split('{').next().unwrap_or_default())
    }

    /// The format this output has for a source named `key`.
    pub fn format_for(&self, key: &str) -> Format {
        self.format
            .or_else(|| Format::from_extension(key).filter(|f| *f != Format::Pdf))
            .unwrap_or(Format::Png)
    }

    /// The output's place for the object `key` of `bucket`, variables filled in and empty
    /// path levels removed.
    pub fn location(&self, bucket: &str, key: &str) -> crate::task::model::S3Location {
        let format = self.format_for(key);
        let (dirname, basename) = key.rsplit_once('/').unwrap_or(("", key));
        let (barename, ext) = match basename.rsplit_once('.') {
            Some((bare, ext)) if !bare.is_empty() => (bare, ext),
            _ => (basename, ""),
        };
        let (out_bucket, template) = parts(&self.uri).unwrap_or(("{bucket}", ""));
        let mut filled = template.to_string();
        for (name, value) in [
            ("bucket", bucket),
            ("key", key),
            ("dirname", dirname),
            ("basename", basename),
            ("barename", barename),
            ("ext", ext),
            ("autoext", format.extension()),
        ] {
            filled = filled.replace(&format!("{{{name}}}"), value);
        }
        let key = filled
            .split('/')
            .filter(|level| !level.is_empty())
            .collect::<Vec<_>>()
            .join("/");
        crate::task::model::S3Location {
            bucket: if out_bucket == "{bucket}" {
                bucket.to_string()
            } else {
                out_bucket.to_string()
            },
            key,
            scheme: UriScheme::split(&self.uri).map_or_else(Default::default, |(s, _)| s),
        }
    }
}

impl Recipe {
    /// Refuses outputs that could land among the batch's own inputs (each run would read
    /// them again: a loop), naming the action.
    pub fn check_no_loop(&self, bucket: &str, prefix: &str) -> Result<(), String> {
        for (i, output) in self.outputs.iter().enumerate() {
            let (out_bucket, fixed) = output.fixed_part();
            let same_bucket = out_bucket.is_none_or(|b| b == bucket);
            if same_bucket && (fixed.starts_with(prefix) || prefix.starts_with(fixed)) {
                return Err(format!(
                    "output {} ({}) can land under the input s3://{bucket}/{prefix}: its \
                     outputs would be read again; write them elsewhere",
                    i + 1,
                    output.uri
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn recipe(actions: Value) -> Result<(Recipe, FastFail), ApiError> {
        parse(&actions)
    }

    #[test]
    fn operations_accumulate_and_each_saveas_writes_one_output() {
        let (r, policy) = recipe(json!([
            {"Name": "image/resize", "Parameters": ["w=800", "h_600", "fit=cover"]},
            {"Name": "image/format", "Parameters": ["webp", "q=80"]},
            {"Name": "sys/saveas", "Parameters": ["uri=s3://out/{dirname}/{barename}.{autoext}"]},
            {"Name": "image/format", "Parameters": ["format=jpg"], "FastFailPolicy": {"Action": "abort"}},
            {"Name": "sys/saveas", "Parameters": ["uri=s3://out/jpg/{key}.{autoext}"]},
        ]))
        .unwrap();
        assert_eq!(policy, FastFail::Abort);
        assert_eq!(r.outputs.len(), 2);
        let resize = r.outputs[0].plan.resize.unwrap();
        assert_eq!(
            (resize.width, resize.height, resize.fit),
            (Some(800), Some(600), Fit::Cover)
        );
        assert_eq!(r.outputs[0].plan.target.format, Format::Webp);
        assert_eq!(r.outputs[0].plan.target.quality, Some(80));
        assert_eq!(r.outputs[1].plan.target.format, Format::Jpg);
        let at = r.outputs[0].location("in-bucket", "in/2024/cat.photo.png");
        assert_eq!(
            (at.bucket.as_str(), at.key.as_str()),
            ("out", "in/2024/cat.photo.webp")
        );
        let at = r.outputs[1].location("b", "top.png");
        assert_eq!(at.key, "jpg/top.png.jpg");
    }

    #[test]
    fn without_a_format_an_output_keeps_its_source_format() {
        let (r, _) = recipe(json!([
            {"Name": "image/rotate", "Parameters": ["90"]},
            {"Name": "sys/saveas", "Parameters": ["uri=s3://{bucket}/out/{barename}.{autoext}"]},
        ]))
        .unwrap();
        assert_eq!(r.outputs[0].location("b", "in/a.jpeg").key, "out/a.jpg");
        assert_eq!(r.outputs[0].location("b", "in/a.svg").key, "out/a.png");
        assert_eq!(r.outputs[0].plan.rotate, 90.0);
    }

    #[test]
    fn mistakes_are_refused_naming_the_action_and_parameter() {
        let message = |actions: Value| recipe(actions).unwrap_err().to_string();
        assert!(message(json!([{"Name": "image/blur"}])).starts_with("Actions[0].Name"));
        assert!(
            message(json!([{"Name": "image/resize", "Parameters": ["w=0"]}]))
                .starts_with("Actions[0].Parameters.w")
        );
        assert!(
            message(json!([{"Name": "image/resize", "Parameters": ["w=9", "sharpen=1"]}]))
                .starts_with("Actions[0].Parameters[1]")
        );
        assert!(
            message(json!([{"Name": "image/format", "Parameters": ["heic"]}]))
                .starts_with("Actions[0].Parameters.format")
        );
        assert!(
            message(json!([{"Name": "image/resize", "Parameters": ["w=9"]}]))
                .contains("sys/saveas")
        );
        assert!(
            message(json!([{"Name": "sys/saveas", "Parameters": ["uri=s3://bkt/{name}"]}]))
                .contains("{name} is not a variable")
        );
        assert!(
            message(json!([{"Name": "sys/saveas", "Parameters": ["uri=gs://bkt/x"]}]))
                .starts_with("Actions[0].Parameters.uri")
        );
        assert!(
            message(json!([{"Name": "image/format", "Parameters": ["png"],
            "FastFailPolicy": {"Action": "stop"}}]))
            .starts_with("Actions[0].FastFailPolicy.Action")
        );
    }

    #[test]
    fn outputs_under_the_input_prefix_are_a_loop() {
        let saveas = |uri: &str| {
            recipe(json!([{"Name": "sys/saveas", "Parameters": [format!("uri={uri}")]}]))
                .unwrap()
                .0
        };
        assert!(
            saveas("s3://bkt/in/out/{basename}")
                .check_no_loop("bkt", "in/")
                .is_err()
        );
        assert!(
            saveas("s3://{bucket}/{key}.webp")
                .check_no_loop("bkt", "in/")
                .is_err()
        );
        assert!(
            saveas("s3://bkt/out/{key}")
                .check_no_loop("bkt", "")
                .is_err()
        );
        assert!(
            saveas("s3://bkt/out/{key}")
                .check_no_loop("bkt", "in/")
                .is_ok()
        );
        assert!(
            saveas("s3://other/in/{key}")
                .check_no_loop("bkt", "in/")
                .is_ok()
        );
    }
}
