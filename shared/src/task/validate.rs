//! The shapes IMM parameters must have, each check naming the field it refuses.

use std::collections::BTreeMap;

use serde_json::Value;

use super::model::{S3Location, UriScheme};
use crate::error::ApiError;

/// The longest project name, as IMM allows.
pub const MAX_PROJECT_NAME: usize = 128;

/// IMM's project names: a letter, then letters, digits, `-` or `_`; 1 to 128 in all.
pub fn project_name(field: &str, name: &str) -> Result<(), ApiError> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !first_ok || !rest_ok || name.len() > MAX_PROJECT_NAME {
        return Err(ApiError::invalid(
            field,
            format!(
                "must start with a letter and hold only letters, digits, - and _, \
                 1 to 128 characters; got {}",
                crate::error::quote(name)
            ),
        ));
    }
    Ok(())
}

/// The longest id of a task or a batch a caller may name: Folio's own are under 50
/// characters, and an id becomes part of a store key.
pub const MAX_ID: usize = 128;

/// The id of a task or a batch as a caller names it: 1 to 128 letters, digits, `-`, `_` or
/// `.`. Anything else cannot be one of Folio's ids and is refused before a store sees it;
/// an unknown id of this shape is a 404.
pub fn record_id(field: &str, id: &str) -> Result<(), ApiError> {
    let shaped = id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if id.is_empty() || id.len() > MAX_ID || !shaped {
        return Err(ApiError::invalid(
            field,
            format!(
                "is not an id (1 to {MAX_ID} letters, digits, -, _ or .); got {}",
                crate::error::quote(id)
            ),
        ));
    }
    Ok(())
}

/// An IAM role ARN: `arn:<partition>:iam::<12 digits>:role/<path and name>`.
pub fn role_arn(field: &str, arn: &str) -> Result<(), ApiError> {
    let bad = || {
        ApiError::invalid(
            field,
            format!(
                "must be an IAM role ARN (arn:aws:iam::123456789012:role/name), got {}",
                crate::error::quote(arn)
            ),
        )
    };
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [arn_word, partition, service, region, account, resource] = parts[..] else {
        return Err(bad());
    };
    let name = resource.strip_prefix("role/").ok_or_else(bad)?;
    let name_ok = !name.is_empty()
        && name.len() <= 512
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c));
    if arn_word != "arn"
        || !partition.starts_with("aws")
        || service != "iam"
        || !region.is_empty()
        || account.len() != 12
        || !account.chars().all(|c| c.is_ascii_digit())
        || !name_ok
    {
        return Err(bad());
    }
    Ok(())
}

/// An `s3://bucket/key` or `oss://bucket/key` URI (IMM's form; the same buckets).
pub fn s3_uri(field: &str, uri: &str) -> Result<S3Location, ApiError> {
    let (scheme, rest) = UriScheme::split(uri).ok_or_else(|| {
        ApiError::invalid(
            field,
            format!(
                "must be an s3://bucket/key or oss://bucket/key URI, got {}",
                crate::error::quote(uri)
            ),
        )
    })?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    let bucket_ok = (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
    if !bucket_ok {
        return Err(ApiError::invalid(
            field,
            format!(
                "{} is not a valid bucket name (3 to 63 lowercase letters, digits, - and .)",
                crate::error::quote(bucket)
            ),
        ));
    }
    if key.is_empty() || key.len() > 1024 || key.ends_with('/') {
        return Err(ApiError::invalid(
            field,
            format!(
                "must name an object ({}{bucket}/<key>), got {}",
                scheme.prefix(),
                crate::error::quote(uri)
            ),
        ));
    }
    Ok(S3Location {
        bucket: bucket.to_string(),
        key: key.to_string(),
        scheme,
    })
}

/// A tag map: string keys and values, up to 20 tags, keys up to 128 and values up to 256
/// characters.
pub fn tags(field: &str, value: Option<&Value>) -> Result<BTreeMap<String, String>, ApiError> {
    let value = match value {
        None | Some(Value::Null) => return Ok(BTreeMap::new()),
        Some(Value::String(text)) if text.trim().is_empty() => return Ok(BTreeMap::new()),
        Some(Value::String(text)) => &serde_json::from_str::<Value>(text)
            .map_err(|e| ApiError::invalid(field, format!("is not valid JSON: {e}")))?,
        Some(v) => v,
    };
    let map = value
        .as_object()
        .ok_or_else(|| ApiError::invalid(field, "must be an object of string values"))?;
    if map.len() > 20 {
        return Err(ApiError::invalid(
            field,
            format!("has {} tags; the limit is 20", map.len()),
        ));
    }
    map.iter()
        .map(|(k, v)| {
            // The IMM SDK types tag values as any JSON; numbers and booleans are kept as
            // their text.
            let v = match v {
                Value::String(text) => text.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => {
                    return Err(ApiError::invalid(
                        format!("{field}.{k}"),
                        "must be a string, a number or a boolean",
                    ));
                }
            };
            if k.is_empty() || k.chars().count() > 128 {
                return Err(ApiError::invalid(
                    field,
                    format!(
                        "tag key {} must be 1 to 128 characters",
                        crate::error::quote(k)
                    ),
                ));
            }
            if v.chars().count() > 256 {
                return Err(ApiError::invalid(
                    format!("{field}.{k}"),
                    "must be at most 256 characters",
                ));
            }
            Ok((k.clone(), v))
        })
        .collect()
}

/// `TagSelector`: `key=value` pairs split by commas, all of which a record's tags must have.
pub fn tag_selector(params: &crate::params::Params) -> Result<Vec<(String, String)>, ApiError> {
    let Some(selector) = params.opt_str("TagSelector")? else {
        return Ok(Vec::new());
    };
    selector
        .split(',')
        .map(|pair| {
            pair.split_once('=')
                .filter(|(k, _)| !k.trim().is_empty())
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .ok_or_else(|| {
                    ApiError::invalid(
                        "TagSelector",
                        format!(
                            "must be key=value pairs split by commas, got {}",
                            crate::error::quote(pair)
                        ),
                    )
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_huge_name_is_quoted_short() {
        let huge = "p".repeat(70_000);
        let message = project_name("ProjectName", &huge).unwrap_err().message();
        assert!(message.len() < 400, "{} bytes", message.len());
        assert!(message.contains("(70000 characters)"), "{message}");
    }

    #[test]
    fn project_names_follow_imm() {
        assert!(project_name("ProjectName", "a").is_ok());
        assert!(project_name("ProjectName", "Photos_2026-11").is_ok());
        assert!(project_name("ProjectName", &"a".repeat(128)).is_ok());
        for bad in ["", "1abc", "-a", "a b", "a.b", &"a".repeat(129)] {
            assert!(project_name("ProjectName", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn role_arns() {
        assert!(role_arn("ServiceRole", "arn:aws:iam::123456789012:role/folio").is_ok());
        assert!(role_arn("ServiceRole", "arn:aws-cn:iam::123456789012:role/a/b").is_ok());
        for bad in [
            "folio",
            "arn:aws:iam::12345:role/x",
            "arn:aws:s3:::bucket",
            "arn:aws:iam::123456789012:user/x",
            "arn:aws:iam::123456789012:role/",
        ] {
            assert!(role_arn("ServiceRole", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn s3_and_oss_uris_name_the_same_buckets_and_keep_their_form() {
        let at = s3_uri("TargetURI", "s3://my-bucket/out/a.pdf").unwrap();
        assert_eq!(
            (at.bucket.as_str(), at.key.as_str()),
            ("my-bucket", "out/a.pdf")
        );
        assert_eq!(at.uri(), "s3://my-bucket/out/a.pdf");
        let oss = s3_uri("Sources[0].URI", "oss://my-bucket/out/a.pdf").unwrap();
        assert_eq!(
            (oss.bucket.as_str(), oss.key.as_str()),
            ("my-bucket", "out/a.pdf")
        );
        assert_eq!(oss.uri(), "oss://my-bucket/out/a.pdf");
        let err = s3_uri("Sources[0].URI", "gs://b/k.jpg").unwrap_err();
        assert!(err.to_string().starts_with("Sources[0].URI"), "{err}");
        for bad in [
            "oss://",
            "oss://b/k",
            "s3://",
            "s3://b/k",
            "s3://bucket",
            "s3://bucket/",
            "http://x/y",
            "s3://Bad_Bucket/k",
        ] {
            assert!(s3_uri("TargetURI", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn tag_maps() {
        let t = tags("Tags", Some(&json!({"User": "Jane"}))).unwrap();
        assert_eq!(t.get("User").map(String::as_str), Some("Jane"));
        let t = tags("Tags", Some(&json!("{\"a\":\"b\"}"))).unwrap();
        assert_eq!(t.len(), 1);
        // Numbers and booleans, as the IMM SDK may send them, are kept as text.
        let t = tags("Tags", Some(&json!({"a": 1, "b": true}))).unwrap();
        assert_eq!((t["a"].as_str(), t["b"].as_str()), ("1", "true"));
        assert!(tags("Tags", Some(&json!({"a": [1]}))).is_err());
        assert!(tags("Tags", Some(&json!([1]))).is_err());
    }
}
