//! Reading the jobs API's request bodies into records. A refusal names the field as the
//! request has it (`conversion[0].options.width`, `input[1].source`) and says why.

use chrono::Utc;
use serde_json::{Map, Value};

use super::model::{
    ConversionRecord, FileFacts, InputKind, InputRecord, InputStatus, JobLimits, OutputTarget,
};
use super::options;
use crate::error::{quote, shown};
use crate::notify::url_guard;
use crate::storage::Location;

/// A refused field.
#[derive(Debug, PartialEq)]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

pub fn refuse(field: impl Into<String>, reason: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        reason: reason.into(),
    }
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// An object, or `[]` and null as an empty one (PHP clients send `[]`).
fn object(value: Option<&Value>, field: &str) -> Result<Map<String, Value>, FieldError> {
    match value {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Array(a)) if a.is_empty() => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m.clone()),
        Some(other) => Err(refuse(field, format!("{} is not an object", shown(other)))),
    }
}

pub fn boolean(body: &Map<String, Value>, name: &str, default: bool) -> Result<bool, FieldError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s == "true" || s == "1" => Ok(true),
        Some(Value::String(s)) if s == "false" || s == "0" => Ok(false),
        Some(other) => Err(refuse(
            name,
            format!("{} is not true or false", shown(other)),
        )),
    }
}

fn string<'a>(
    map: &'a Map<String, Value>,
    name: &str,
    field: &str,
) -> Result<Option<&'a str>, FieldError> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(other) => Err(refuse(field, format!("{} is not a string", shown(other)))),
    }
}

/// `callback`: empty, or an http(s) URL without credentials.
pub fn callback(
    body: &Map<String, Value>,
    allowed: &[ipnet::IpNet],
) -> Result<Option<String>, FieldError> {
    let Some(url) = string(body, "callback", "callback")? else {
        return Ok(None);
    };
    if url.trim().is_empty() {
        return Ok(Some(String::new()));
    }
    url_guard::check_accepted(url, allowed)
        .map_err(|e| refuse("callback", format!("the URL {e}")))?;
    Ok(Some(url.to_string()))
}

/// `download_passwords`: printable ASCII strings.
pub fn passwords(body: &Map<String, Value>) -> Result<Option<Vec<String>>, FieldError> {
    let Some(value) = body.get("download_passwords").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let Value::Array(items) = value else {
        return Err(refuse("download_passwords", "must be a list of strings"));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let field = format!("download_passwords[{i}]");
            let s = v
                .as_str()
                .ok_or_else(|| refuse(&field, "is not a string"))?;
            if s.is_empty() || s.len() > 65000 || !s.bytes().all(|b| (b' '..=b'~').contains(&b)) {
                return Err(refuse(
                    field,
                    "must be 1 to 65000 printable ASCII characters",
                ));
            }
            Ok(super::transfer::password_hash(s))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// `limits`: `{job: {max_credit, max_inputs, max_process_time}, input: {max_file_size},
/// output: {max_downloads}}`, each a positive whole number.
pub fn limits(body: &Map<String, Value>) -> Result<Option<JobLimits>, FieldError> {
    let Some(value) = body.get("limits").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let limits = object(Some(value), "limits")?;
    let mut out = JobLimits::default();
    for (section, entries) in &limits {
        let entries = object(Some(entries), &format!("limits.{section}"))?;
        for (name, v) in &entries {
            let field = format!("limits.{section}.{name}");
            let n = v
                .as_u64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                .ok_or_else(|| {
                    refuse(
                        &field,
                        format!("{} is not a whole number of 0 or more", shown(v)),
                    )
                })?;
            let slot = match (section.as_str(), name.as_str()) {
                ("job", "max_credit") => &mut out.max_credit,
                ("job", "max_inputs") => &mut out.max_inputs,
                ("job", "max_process_time") => &mut out.max_process_time,
                ("input", "max_file_size") => &mut out.max_file_size,
                ("output", "max_downloads") => &mut out.max_downloads,
                _ => return Err(refuse(field, "is not a limit Folio knows")),
            };
            *slot = Some(n);
        }
    }
    Ok(Some(out))
}

/// One conversion of a request: `target`, `category`, `options`, `metadata`,
/// `output_target`.
pub fn conversion(value: &Value, field: &str) -> Result<ConversionRecord, FieldError> {
    let map = object(Some(value), field)?;
    let target = string(&map, "target", &format!("{field}.target"))?
        .ok_or_else(|| refuse(format!("{field}.target"), "is required"))?;
    let category = string(&map, "category", &format!("{field}.category"))?;
    let spec = options::find(target, category).ok_or_else(|| {
        let targets: Vec<String> = options::TARGETS
            .iter()
            .map(|t| format!("{} ({})", t.target, t.category))
            .collect();
        refuse(
            format!("{field}.target"),
            format!(
                "Folio does not convert to {}{}; its targets are {}",
                quote(target),
                category
                    .map(|c| format!(" in category {}", quote(c)))
                    .unwrap_or_default(),
                targets.join(", ")
            ),
        )
    })?;
    let options = options::normalise(spec, map.get("options").unwrap_or(&Value::Null))
        .map_err(|e| refuse(format!("{field}.options.{}", e.field), e.reason))?;
    let metadata = object(map.get("metadata"), &format!("{field}.metadata"))?;
    if !metadata.is_empty() {
        return Err(refuse(
            format!("{field}.metadata"),
            "Folio does not write metadata into outputs",
        ));
    }
    let output_targets = match map.get("output_target") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, t)| output_target(t, &format!("{field}.output_target[{i}]")))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(refuse(format!("{field}.output_target"), "must be a list")),
    };
    Ok(ConversionRecord {
        id: new_id(),
        target: spec.target.to_string(),
        category: spec.category.to_string(),
        options,
        metadata,
        output_targets,
    })
}

fn output_target(value: &Value, field: &str) -> Result<OutputTarget, FieldError> {
    let map = object(Some(value), field)?;
    let kind = string(&map, "type", &format!("{field}.type"))?.unwrap_or_default();
    let parameters = object(map.get("parameters"), &format!("{field}.parameters"))?;
    let credentials = object(map.get("credentials"), &format!("{field}.credentials"))?;
    Location::parse(kind, &parameters, &credentials, field, true)?;
    overwrite(&parameters, field)?;
    Ok(OutputTarget {
        kind: kind.to_string(),
        parameters: parameters
            .into_iter()
            .filter(|(k, _)| !is_sensitive(k))
            .collect(),
        credentials: Some(credentials),
    })
}

/// Whether an output target may replace an existing file (`parameters.overwrite`, default
/// false).
pub fn overwrite(parameters: &Map<String, Value>, field: &str) -> Result<bool, FieldError> {
    boolean(parameters, "overwrite", false)
        .map_err(|e| refuse(format!("{field}.parameters.overwrite"), e.reason))
}

/// A cloud input's place, checked as its job is created or changed.
pub fn cloud_location(input: &InputRecord, field: &str) -> Result<Location, FieldError> {
    let none = Map::new();
    Location::parse(
        &input.source,
        &input.parameters,
        input.credentials.as_ref().unwrap_or(&none),
        field,
        false,
    )
}

/// One input of a request, as posted (`remote`, `cloud`); uploads arrive through the
/// upload routes instead.
pub fn input(value: &Value, field: &str) -> Result<InputRecord, FieldError> {
    let map = object(Some(value), field)?;
    let kind_text = string(&map, "type", &format!("{field}.type"))?.unwrap_or("remote");
    let kind = InputKind::parse(kind_text).ok_or_else(|| {
        refuse(
            format!("{field}.type"),
            format!(
                "{} is not an input type (remote, cloud, output, input_id, upload, base64)",
                quote(kind_text)
            ),
        )
    })?;
    let source = string(&map, "source", &format!("{field}.source"))?
        .unwrap_or_default()
        .trim()
        .to_string();
    let parameters = object(map.get("parameters"), &format!("{field}.parameters"))?;
    let credentials = object(map.get("credentials"), &format!("{field}.credentials"))?;
    match kind {
        InputKind::Remote => {
            if source.is_empty() {
                return Err(refuse(format!("{field}.source"), "is required"));
            }
            url_guard::check_syntax(&source)
                .map_err(|e| refuse(format!("{field}.source"), format!("the URL {e}")))?;
        }
        InputKind::Cloud => {
            Location::parse(&source, &parameters, &credentials, field, false)?;
        }
        InputKind::Upload | InputKind::Base64 => {
            return Err(refuse(
                format!("{field}.type"),
                format!(
                    "{kind_text} inputs are sent to the job's server: \
                     POST {{server}}/upload-file/{{job_id}} or {{server}}/upload-base64/{{job_id}}"
                ),
            ));
        }
        InputKind::Output | InputKind::InputId => {
            if source.is_empty() {
                return Err(refuse(
                    format!("{field}.source"),
                    format!("is required: the id of an {kind_text} of one of your jobs"),
                ));
            }
        }
    }
    let now = Utc::now();
    Ok(InputRecord {
        id: new_id(),
        kind,
        source,
        status: InputStatus::Downloading,
        facts: FileFacts::default(),
        parameters: parameters
            .into_iter()
            .filter(|(k, _)| !is_sensitive(k))
            .collect(),
        credentials: (kind == InputKind::Cloud).then_some(credentials),
        options: Map::new(),
        stored: None,
        error: None,
        created_at: now,
        modified_at: now,
    })
}

/// A change to an input before its job starts: `parameters` merged in (a secret-looking key
/// refused: secrets go in `credentials`), `credentials` replaced (cloud inputs only), `options`
/// replaced.
pub fn patch_input(
    input: &mut InputRecord,
    body: &Map<String, Value>,
    field: &str,
) -> Result<(), FieldError> {
    let parameters = object(body.get("parameters"), &format!("{field}.parameters"))?;
    if let Some(key) = parameters.keys().find(|k| is_sensitive(k)) {
        return Err(refuse(
            format!("{field}.parameters.{key}"),
            "looks like a secret: send it in credentials, which are never shown",
        ));
    }
    input.parameters.extend(parameters);
    if body.get("credentials").is_some_and(|c| !c.is_null()) {
        if input.kind != InputKind::Cloud {
            return Err(refuse(
                format!("{field}.credentials"),
                "only cloud inputs take credentials in Folio",
            ));
        }
        input.credentials = Some(object(
            body.get("credentials"),
            &format!("{field}.credentials"),
        )?);
    }
    if body.get("options").is_some_and(|o| !o.is_null()) {
        input.options = object(body.get("options"), &format!("{field}.options"))?;
    }
    if input.kind == InputKind::Cloud {
        cloud_location(input, field)?;
    }
    input.modified_at = Utc::now();
    Ok(())
}

/// Keys whose values are secrets wherever they appear.
fn is_sensitive(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    [
        "token",
        "password",
        "passwd",
        "secret",
        "key",
        "credential",
        "passphrase",
        "sas",
        "sig",
    ]
    .iter()
    .any(|s| k.contains(s))
}

/// A list of items or one item, read with `one`.
pub fn one_or_many<T>(
    value: &Value,
    field: &str,
    one: impl Fn(&Value, &str) -> Result<T, FieldError>,
) -> Result<Vec<T>, FieldError> {
    match value {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| one(v, &format!("{field}[{i}]")))
            .collect(),
        single => Ok(vec![one(single, field)?]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn conversions_name_the_bad_field() {
        let e = conversion(&json!({"target": "docx"}), "conversion[0]").unwrap_err();
        assert_eq!(e.field, "conversion[0].target");
        let e = conversion(
            &json!({"target": "png", "options": {"width": -1}}),
            "conversion[1]",
        )
        .unwrap_err();
        assert_eq!(e.field, "conversion[1].options.width");
        let c = conversion(&json!({"target": "JPG"}), "c").unwrap();
        assert_eq!((c.target.as_str(), c.category.as_str()), ("jpg", "image"));
        let e = conversion(
            &json!({"target": "png", "output_target": [{"type": "amazons3", "parameters": {"bucket": "b"}, "credentials": {"accesskeyid": "a"}}]}),
            "c",
        )
        .unwrap_err();
        assert_eq!(e.field, "c.output_target[0].credentials.secretaccesskey");
    }

    #[test]
    fn inputs_are_checked_before_any_fetch() {
        let e = input(
            &json!({"type": "remote", "source": "file:///etc/passwd"}),
            "input[0]",
        )
        .unwrap_err();
        assert_eq!(e.field, "input[0].source");
        let e = input(&json!({"type": "cloud", "source": "dropbox"}), "input[0]").unwrap_err();
        assert_eq!(e.field, "input[0].source");
        let e = input(&json!({"type": "cloud", "source": "azure"}), "input[0]").unwrap_err();
        assert_eq!(e.field, "input[0].parameters.container");
        let i = input(
            &json!({"type": "cloud", "source": "amazons3",
                    "parameters": {"bucket": "b", "file": "a.jpg", "region": "us-east-1"},
                    "credentials": {"accesskeyid": "AK", "secretaccesskey": "SK"}}),
            "input[0]",
        )
        .unwrap();
        assert_eq!(i.credentials.unwrap()["secretaccesskey"], "SK");
        assert_eq!(i.parameters["bucket"], "b");
    }

    #[test]
    fn limits_are_whole_numbers_in_known_places() {
        let body = json!({"limits": {"job": {"max_credit": 2}, "output": {"max_downloads": "3"}}});
        let l = limits(body.as_object().unwrap()).unwrap().unwrap();
        assert_eq!((l.max_credit, l.max_downloads), (Some(2), Some(3)));
        let body = json!({"limits": {"job": {"max_cash": 2}}});
        assert_eq!(
            limits(body.as_object().unwrap()).unwrap_err().field,
            "limits.job.max_cash"
        );
    }
}
