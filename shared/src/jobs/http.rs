//! The `/v2` edge: routes, who is calling, and the one mapping of errors to the API's
//! answers (`{"code", "message"}`; the download host's `{"error_code", "message"}`).
//! The local gateway and the `jobs` Lambda function both hand requests to [`handle`].

use http::{HeaderMap, Method, StatusCode};
use serde_json::{Value, json};

use super::{handlers, transfer};
use crate::app::App;
use crate::error::{PortError, quote};
use crate::tenant::Tenant;

pub struct V2Request<'a> {
    pub method: &'a Method,
    pub path: &'a str,
    pub query: &'a [(String, String)],
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

impl V2Request<'_> {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    }

    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// The JSON body; `None` when there is none.
    pub fn json(&self) -> Result<Option<Value>, V2Error> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        serde_json::from_slice(self.body)
            .map(Some)
            .map_err(|e| V2Error::bad("body", format!("is not valid JSON: {e}")))
    }
}

#[derive(Debug)]
pub struct V2Response {
    pub status: StatusCode,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl V2Response {
    pub fn json(status: StatusCode, body: &Value) -> Self {
        V2Response {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
        }
    }

    pub fn empty(status: StatusCode) -> Self {
        V2Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }
}

#[derive(Debug, thiserror::Error)]
pub enum V2Error {
    #[error("{field}: {reason}")]
    BadRequest { field: String, reason: String },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0} is not allowed on this route")]
    MethodNotAllowed(String),
    #[error("{message}")]
    Gone { error_code: u32, message: String },
    #[error("internal error")]
    Internal(#[from] PortError),
}

impl V2Error {
    pub fn bad(field: impl Into<String>, reason: impl Into<String>) -> Self {
        V2Error::BadRequest {
            field: field.into(),
            reason: reason.into(),
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            V2Error::BadRequest { .. } => StatusCode::BAD_REQUEST,
            V2Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            V2Error::LimitExceeded(_) => StatusCode::PAYMENT_REQUIRED,
            V2Error::NotFound(_) => StatusCode::NOT_FOUND,
            V2Error::Conflict(_) => StatusCode::CONFLICT,
            V2Error::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            V2Error::Gone { .. } => StatusCode::GONE,
            V2Error::Internal(PortError::Unavailable(_)) => StatusCode::SERVICE_UNAVAILABLE,
            V2Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn response(&self) -> V2Response {
        let status = self.status();
        let body = match self {
            V2Error::Gone {
                error_code,
                message,
            } => json!({"error_code": error_code, "message": message}),
            V2Error::Internal(PortError::Unavailable(reason)) => {
                tracing::warn!(%reason, "a /v2 request could not be taken");
                json!({"code": 503, "message": reason})
            }
            V2Error::Internal(e) => {
                // The answer names the id the log line carries, so a report finds its cause.
                let request_id = crate::api::new_request_id();
                tracing::error!(%request_id, error = %e, "a /v2 request failed");
                json!({"code": 500, "message": format!(
                    "Internal error (request {request_id}); the request can be retried."
                )})
            }
            other => {
                json!({"code": status.as_u16(), "message": crate::error::bounded(&other.to_string())})
            }
        };
        V2Response::json(status, &body)
    }
}

impl From<super::parse::FieldError> for V2Error {
    fn from(e: super::parse::FieldError) -> Self {
        V2Error::BadRequest {
            field: e.field,
            reason: e.reason,
        }
    }
}

/// Who is calling: an account (its API key) or the holder of one job's token.
#[derive(Clone, Debug)]
pub enum Caller {
    Account(Tenant),
    JobToken(String),
}

const KEY_HEADERS: [&str; 2] = ["x-api2convert-api-key", "x-oc-api-key"];
const TOKEN_HEADERS: [&str; 2] = ["x-api2convert-token", "x-oc-token"];

/// The caller by the API key (`X-Api2convert-Api-Key`, `X-Oc-Api-Key`, or Folio's Bearer
/// header), or else the job token; a key that is present and wrong is refused even when a
/// token comes with it.
pub async fn caller(app: &App, request: &V2Request<'_>) -> Result<Caller, V2Error> {
    let key = KEY_HEADERS
        .iter()
        .find_map(|h| request.header(h))
        .or_else(|| {
            request
                .header("authorization")
                .and_then(|a| a.strip_prefix("Bearer "))
                .map(str::trim)
        });
    if let Some(key) = key {
        let keys = app
            .keys
            .as_ref()
            .ok_or_else(|| V2Error::Unauthorized("Invalid api key".into()))?;
        return match keys.bearer(key).await? {
            Some(tenant) => Ok(Caller::Account(tenant)),
            None => Err(V2Error::Unauthorized("Invalid api key".into())),
        };
    }
    if let Some(token) = TOKEN_HEADERS.iter().find_map(|h| request.header(h)) {
        return Ok(Caller::JobToken(token.to_string()));
    }
    Err(V2Error::Unauthorized(
        "No API key: send it in the X-Api2convert-Api-Key (or X-Oc-Api-Key) header".into(),
    ))
}

/// The public base URL of the API: configured; or the request's host (the forwarded one only
/// when the deployment trusts its proxy), if it has the shape of one; or `localhost`. The
/// scheme is the forwarded one when it is `http` or `https` (API Gateway sets it; a caller
/// who forges it only changes the scheme of its own job's URLs).
pub fn base_url(app: &App, request: &V2Request<'_>) -> String {
    if let Some(url) = &app.config.public_url {
        return url.clone();
    }
    let forwarded = |name| {
        request
            .header(name)
            .and_then(|v| v.split(',').next())
            .map(str::trim)
    };
    let host = forwarded("x-forwarded-host")
        .filter(|_| app.config.trust_forwarded_headers)
        .or_else(|| request.header("host"))
        .filter(|h| host_shaped(h))
        .unwrap_or("localhost");
    let scheme = forwarded("x-forwarded-proto")
        .filter(|p| *p == "http" || *p == "https")
        .unwrap_or("http");
    format!("{scheme}://{host}")
}

/// A host name or address with an optional port, as a `Host` header carries it.
fn host_shaped(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
}

/// Serves one `/v2/...` request.
pub async fn handle(app: &App, request: V2Request<'_>) -> V2Response {
    let outcome = route(app, &request).await;
    match outcome {
        Ok(response) => response,
        Err(e) => {
            if !matches!(e, V2Error::Internal(_)) {
                let path = quote(request.path);
                let reason = crate::error::bounded(&e.to_string());
                tracing::info!(%path, %reason, "/v2 request refused");
            }
            if !matches!(e, V2Error::MethodNotAllowed(_)) {
                return e.response();
            }
            // The route table says which methods the path takes; none: no such route.
            let allow = crate::openapi::v2::allowed(request.path);
            if allow.is_empty() {
                return V2Error::NotFound(format!("No route {}", quote(request.path))).response();
            }
            e.response().with_header("allow", allow)
        }
    }
}

async fn route(app: &App, request: &V2Request<'_>) -> Result<V2Response, V2Error> {
    let path = request.path.trim_end_matches('/');
    let segments: Vec<&str> = path
        .strip_prefix("/v2")
        .unwrap_or(path)
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    check_ids(&segments)?;
    let method = request.method.clone();
    let not_allowed = || Err(V2Error::MethodNotAllowed(method.to_string()));
    match segments.as_slice() {
        ["statuses"] if method == Method::GET => Ok(handlers::statuses()),
        ["conversions"] if method == Method::GET => handlers::catalog(request),
        ["statuses"] | ["conversions"] => not_allowed(),
        ["dl", job_id, "download-file", output_id, ..] => {
            if method == Method::GET || method == Method::HEAD {
                transfer::download(app, request, job_id, output_id).await
            } else {
                not_allowed()
            }
        }
        [
            "dl",
            job_id,
            kind @ ("upload-file" | "upload-base64"),
            rest @ ..,
        ] => {
            if method != Method::POST {
                return not_allowed();
            }
            // `{server}/upload-file/{job_id}`: the job id is in the server too.
            if rest.first().is_some_and(|id| id != job_id) {
                return Err(V2Error::NotFound("No such job".into()));
            }
            let caller = caller(app, request).await?;
            if *kind == "upload-file" {
                transfer::upload_file(app, request, &caller, job_id).await
            } else {
                transfer::upload_base64(app, request, &caller, job_id).await
            }
        }
        ["jobs", rest @ ..] => {
            let caller = caller(app, request).await?;
            let ctx = handlers::Ctx {
                app,
                request,
                caller: &caller,
            };
            handlers::jobs(&ctx, rest).await
        }
        _ => Err(V2Error::NotFound(format!(
            "No route {} {}",
            quote(request.method.as_str()),
            quote(request.path)
        ))),
    }
}

/// Every id in a `/v2` path has the shape of Folio's ids (UUIDs, as online-convert's are),
/// checked before any store sees it: a malformed one is a 400 naming it, a well-formed
/// unknown one stays a 404.
fn check_ids(segments: &[&str]) -> Result<(), V2Error> {
    let ids: Vec<(&str, &str)> = match segments {
        ["jobs", job, rest @ ..] => {
            let mut ids = vec![("job id", *job)];
            if let [kind, id, ..] = rest {
                let what = match *kind {
                    "conversions" => "conversion id",
                    "output" => "output id",
                    _ => "input id",
                };
                ids.push((what, *id));
            }
            ids
        }
        ["dl", job, kind, rest @ ..] => {
            let mut ids = vec![("job id", *job)];
            if let [id, ..] = rest {
                let what = if *kind == "download-file" {
                    "output id"
                } else {
                    "job id"
                };
                ids.push((what, *id));
            }
            ids
        }
        _ => Vec::new(),
    };
    for (field, id) in ids {
        if uuid::Uuid::try_parse(id).is_err() {
            return Err(V2Error::bad(
                field,
                format!("{} is not an id (a UUID)", quote(id)),
            ));
        }
    }
    Ok(())
}
