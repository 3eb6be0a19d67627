//! Request parameters of the RPC-style routes: the query string and a JSON (or form) body,
//! merged into one map with PascalCase names. Getters name the field in every error.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::ApiError;

#[derive(Debug, Default, Clone)]
pub struct Params(Map<String, Value>);

impl Params {
    /// Query parameters first, then the body's fields, which win on a clash.
    pub fn parse<'a>(
        query: impl IntoIterator<Item = (&'a str, &'a str)>,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<Self, ApiError> {
        let mut map = Map::new();
        for (k, v) in query {
            map.insert(k.to_string(), Value::String(v.to_string()));
        }
        if !body.iter().all(u8::is_ascii_whitespace) {
            // `curl -d '{...}'` labels JSON as a form: a body that opens an object is JSON.
            let looks_like_json = body.trim_ascii_start().starts_with(b"{");
            let is_form = !looks_like_json
                && content_type
                    .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
            if is_form {
                for (k, v) in url::form_urlencoded::parse(body) {
                    map.insert(k.into_owned(), Value::String(v.into_owned()));
                }
            } else {
                match serde_json::from_slice::<Value>(body) {
                    Ok(Value::Object(fields)) => map.extend(fields),
                    Ok(_) => return Err(ApiError::invalid("body", "must be a JSON object")),
                    Err(e) => {
                        return Err(ApiError::invalid("body", format!("is not valid JSON: {e}")));
                    }
                }
            }
        }
        Ok(Params(map))
    }

    pub fn from_json(value: Value) -> Self {
        match value {
            Value::Object(map) => Params(map),
            _ => Params::default(),
        }
    }

    fn present(&self, name: &str) -> Option<&Value> {
        match self.0.get(name) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.is_empty() => None,
            Some(v) => Some(v),
        }
    }

    /// A parameter as given (`None` when absent, null or empty).
    pub fn value(&self, name: &str) -> Option<&Value> {
        self.present(name)
    }

    /// Every parameter, as one JSON object (keys in sorted order).
    pub fn to_json(&self) -> Value {
        Value::Object(self.0.clone())
    }

    /// A boolean, given as JSON or as `true`/`false` text in any case.
    pub fn opt_bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.present(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            // The vendor's Python SDK writes `True`/`False`.
            Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "true" => Ok(Some(true)),
                "false" => Ok(Some(false)),
                other => Err(ApiError::invalid(
                    name,
                    format!("must be true or false, got {}", crate::error::quote(other)),
                )),
            },
            Some(_) => Err(ApiError::invalid(name, "must be true or false")),
        }
    }

    /// A string parameter; numbers and booleans are accepted in their text form.
    pub fn opt_str(&self, name: &str) -> Result<Option<String>, ApiError> {
        match self.present(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::Bool(b)) => Ok(Some(b.to_string())),
            Some(_) => Err(ApiError::invalid(name, "must be a string")),
        }
    }

    pub fn req_str(&self, name: &str) -> Result<String, ApiError> {
        self.opt_str(name)?.ok_or_else(|| ApiError::missing(name))
    }

    /// An integer parameter, given as a JSON number or as decimal text.
    pub fn opt_i64(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.present(name) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| ApiError::invalid(name, "must be an integer")),
            Some(Value::String(s)) => s.trim().parse::<i64>().map(Some).map_err(|_| {
                ApiError::invalid(
                    name,
                    format!("must be an integer, got {}", crate::error::quote(s)),
                )
            }),
            Some(_) => Err(ApiError::invalid(name, "must be an integer")),
        }
    }

    /// A structured parameter, given either as JSON or as a string holding JSON (as the
    /// IMM/VOD SDKs send it).
    pub fn opt_json<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, ApiError> {
        let value = match self.present(name) {
            None => return Ok(None),
            Some(Value::String(s)) => serde_json::from_str::<Value>(s)
                .map_err(|e| ApiError::invalid(name, format!("is not valid JSON: {e}")))?,
            Some(v) => v.clone(),
        };
        serde_json::from_value(value)
            .map(Some)
            .map_err(|e| ApiError::invalid(name, format!("has the wrong shape: {e}")))
    }

    /// A list of strings: a JSON array, the same array as JSON text (as the vendors' SDKs
    /// send list parameters), or comma-separated text; empty items are refused.
    pub fn opt_list(&self, name: &str) -> Result<Option<Vec<String>>, ApiError> {
        let parsed;
        let value = match self.present(name) {
            Some(Value::String(s)) if s.trim_start().starts_with('[') => {
                parsed = serde_json::from_str::<Value>(s)
                    .map_err(|e| ApiError::invalid(name, format!("is not valid JSON: {e}")))?;
                Some(&parsed)
            }
            other => other,
        };
        let items: Vec<String> = match value {
            None => return Ok(None),
            Some(Value::Array(values)) => values
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.trim().to_string()),
                    _ => Err(ApiError::invalid(name, "must be a list of strings")),
                })
                .collect::<Result<_, _>>()?,
            Some(Value::String(s)) => s.split(',').map(|p| p.trim().to_string()).collect(),
            Some(_) => return Err(ApiError::invalid(name, "must be a comma-separated list")),
        };
        if items.iter().any(String::is_empty) {
            return Err(ApiError::invalid(name, "contains an empty item"));
        }
        Ok(Some(items))
    }
}

/// Checks a UTF-8 text parameter's length in bytes, as the VOD limits are stated.
pub fn max_bytes(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.len() > max {
        return Err(ApiError::invalid(
            field,
            format!("is {} bytes long; the limit is {max} bytes", value.len()),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Value) -> Params {
        Params::parse([], Some("application/json"), v.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn body_overrides_query() {
        let p = Params::parse(
            [("Title", "q"), ("ImageType", "default")],
            None,
            br#"{"Title":"b"}"#,
        )
        .unwrap();
        assert_eq!(p.req_str("Title").unwrap(), "b");
        assert_eq!(p.req_str("ImageType").unwrap(), "default");
    }

    #[test]
    fn form_bodies_are_read() {
        let p = Params::parse(
            [],
            Some("application/x-www-form-urlencoded"),
            b"ImageIds=a%2Cb&AuthTimeout=60",
        )
        .unwrap();
        assert_eq!(p.opt_list("ImageIds").unwrap().unwrap(), vec!["a", "b"]);
        assert_eq!(p.opt_i64("AuthTimeout").unwrap(), Some(60));
        // What `curl -d '{...}'` sends: JSON labelled as a form.
        let p = Params::parse(
            [],
            Some("application/x-www-form-urlencoded"),
            br#" {"ProjectName":"demo"}"#,
        )
        .unwrap();
        assert_eq!(p.req_str("ProjectName").unwrap(), "demo");
    }

    #[test]
    fn bad_json_names_the_body() {
        let err = Params::parse([], None, b"{nope").unwrap_err();
        assert!(err.to_string().starts_with("body:"), "{err}");
        let err = Params::parse([], None, b"[1]").unwrap_err();
        assert_eq!(err.to_string(), "body: must be a JSON object");
    }

    #[test]
    fn integers_from_numbers_and_text() {
        let p = body(json!({"A": 5, "B": "7", "C": "x", "D": 1.5}));
        assert_eq!(p.opt_i64("A").unwrap(), Some(5));
        assert_eq!(p.opt_i64("B").unwrap(), Some(7));
        assert!(p.opt_i64("C").unwrap_err().to_string().starts_with("C:"));
        assert!(p.opt_i64("D").is_err());
        assert_eq!(p.opt_i64("E").unwrap(), None);
    }

    #[test]
    fn empty_strings_are_absent_and_missing_is_named() {
        let p = body(json!({"Title": ""}));
        assert_eq!(p.opt_str("Title").unwrap(), None);
        assert_eq!(
            p.req_str("Title").unwrap_err().to_string(),
            "Title: the parameter is required"
        );
    }

    #[test]
    fn json_in_a_string_or_inline() {
        #[derive(serde::Deserialize, PartialEq, Debug)]
        struct X {
            a: u8,
        }
        let p = body(json!({"S": "{\"a\":1}", "O": {"a": 2}, "Bad": "{"}));
        assert_eq!(p.opt_json::<X>("S").unwrap(), Some(X { a: 1 }));
        assert_eq!(p.opt_json::<X>("O").unwrap(), Some(X { a: 2 }));
        assert!(
            p.opt_json::<X>("Bad")
                .unwrap_err()
                .to_string()
                .starts_with("Bad:")
        );
    }

    #[test]
    fn lists_refuse_empty_items() {
        let p = body(json!({"L": "a,,b"}));
        assert!(p.opt_list("L").is_err());
    }

    #[test]
    fn byte_limits_count_bytes_not_chars() {
        assert!(max_bytes("Title", "ééé", 6).is_ok());
        assert!(max_bytes("Title", "éééé", 6).is_err());
    }
}
