//! The errors of the API edge and of the ports, and the one place that maps them to HTTP.

use http::StatusCode;

/// A boxed error from an SDK or a library, kept for logs; never shown to callers.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What an adapter (DynamoDB, S3, SQS, ...) can answer besides success.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// A conditional write found the item in another state.
    #[error("the condition of the write was not met")]
    ConditionFailed,
    /// The object or item does not exist.
    #[error("not found")]
    NotFound,
    /// The backend refused access (permissions, a role that cannot be assumed).
    #[error("access denied: {0}")]
    Denied(String),
    /// The object is larger than the caller would read.
    #[error("the object is {size} bytes, over the limit of {limit}")]
    TooLarge { size: u64, limit: u64 },
    /// The backend cannot take the work now, for a reason its operator can fix (the data
    /// folder's disk is full); nothing was written, and the caller may retry later.
    #[error("{0}")]
    Unavailable(String),
    /// Anything else the backend said: network, throttling, permissions, bugs.
    #[error("{context}: {source}")]
    Backend {
        context: &'static str,
        #[source]
        source: BoxError,
    },
}

impl PortError {
    pub fn backend(context: &'static str, source: impl Into<BoxError>) -> Self {
        PortError::Backend {
            context,
            source: source.into(),
        }
    }
}

/// Every way an API operation can fail, as its caller sees it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{field}: {reason}")]
    InvalidParameter { field: String, reason: String },
    #[error("{field}: the parameter is required")]
    MissingParameter { field: String },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    InvalidState(String),
    #[error("no operation {0} is served here")]
    UnknownOperation(String),
    #[error(
        "Request was denied due to request throttling: at most {per_second} {operation} calls \
         a second for each caller; retry in {} ms", wait.as_millis()
    )]
    Throttled {
        operation: &'static str,
        per_second: u32,
        wait: std::time::Duration,
    },
    #[error("{method} is not allowed on this route")]
    MethodNotAllowed { method: String },
    #[error("internal error")]
    Internal(#[from] PortError),
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ApiError::InvalidParameter {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn missing(field: impl Into<String>) -> Self {
        ApiError::MissingParameter {
            field: field.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            // Alibaba Cloud answers throttling with 400 and a retry header.
            ApiError::InvalidParameter { .. }
            | ApiError::MissingParameter { .. }
            | ApiError::Throttled { .. } => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) | ApiError::UnknownOperation(_) => StatusCode::NOT_FOUND,
            ApiError::AlreadyExists(_) | ApiError::InvalidState(_) => StatusCode::CONFLICT,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Internal(PortError::Unavailable(_)) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `Code` field of the error body, as the IMM/VOD APIs name it.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidParameter { .. } => "InvalidParameter",
            ApiError::MissingParameter { .. } => "MissingParameter",
            ApiError::Throttled { .. } => "Throttling",
            ApiError::NotFound(_) => "ResourceNotFound",
            ApiError::UnknownOperation(_) => "InvalidAction.NotFound",
            ApiError::AlreadyExists(_) => "ResourceAlreadyExists",
            ApiError::InvalidState(_) => "InvalidState",
            ApiError::MethodNotAllowed { .. } => "MethodNotAllowed",
            ApiError::Internal(PortError::Unavailable(_)) => "ServiceUnavailable",
            ApiError::Internal(_) => "InternalError",
        }
    }

    /// The `Message` field: the reason for a caller's error, nothing internal for ours.
    pub fn message(&self) -> String {
        match self {
            ApiError::Internal(PortError::Unavailable(reason)) => shorten(reason, MAX_MESSAGE),
            ApiError::Internal(_) => {
                "The service failed to handle the request; quote the RequestId when reporting it."
                    .to_string()
            }
            other => shorten(&other.to_string(), MAX_MESSAGE),
        }
    }
}

/// The longest `Message` sent back: a message quoting a huge value is cut (the value is the
/// caller's own; a 70 KB echo helps no one).
const MAX_MESSAGE: usize = 300;

/// The longest quoted value in a message.
const MAX_QUOTED: usize = 100;

/// A message as sent back and logged: at most `MAX_MESSAGE` characters.
pub fn bounded(text: &str) -> String {
    shorten(text, MAX_MESSAGE)
}

/// `text` cut to at most `max` characters, with how long it was when cut.
fn shorten(text: &str, max: usize) -> String {
    let count = text.chars().count();
    if count <= max {
        return text.to_string();
    }
    let kept: String = text.chars().take(max).collect();
    format!("{kept}... ({count} characters)")
}

/// A caller's value quoted in a message: in double quotes, control characters escaped, at
/// most about 100 characters of it.
pub fn quote<S: AsRef<str> + ?Sized>(value: &S) -> String {
    let value = value.as_ref();
    let escaped: String = value.chars().flat_map(char::escape_debug).collect();
    let count = value.chars().count();
    if count <= MAX_QUOTED {
        return format!("\"{escaped}\"");
    }
    let kept: String = value
        .chars()
        .take(MAX_QUOTED)
        .flat_map(char::escape_debug)
        .collect();
    format!("\"{kept}...\" ({count} characters)")
}

/// A caller's JSON value named in a message: a scalar quoted short, a list or an object by
/// its size (never reprinted whole).
pub fn shown(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::String(s) => quote(s),
        Value::Array(items) => format!("a list of {} items", items.len()),
        Value::Object(fields) => format!("an object of {} fields", fields.len()),
        other => quote(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_value_is_quoted_short() {
        let huge = "p".repeat(70_000);
        let quoted = quote(&huge);
        assert!(quoted.len() < 140, "{quoted}");
        assert!(quoted.ends_with("(70000 characters)"));
        assert_eq!(quote("a\"b\n"), "\"a\\\"b\\n\"");
    }

    #[test]
    fn a_message_that_echoes_a_huge_value_is_cut() {
        let error = ApiError::invalid(
            "ProjectName",
            format!("{} is not valid", "x".repeat(70_000)),
        );
        let message = error.message();
        assert!(
            message.chars().count() < 340,
            "{} characters",
            message.len()
        );
        assert!(message.starts_with("ProjectName: xxx"));
    }
}
