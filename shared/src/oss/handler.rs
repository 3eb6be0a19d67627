//! The OSS operations an upload credential allows, on the one object it names:
//! `PutObject`, and `InitiateMultipartUpload`, `UploadPart`, `ListParts`,
//! `CompleteMultipartUpload`, `AbortMultipartUpload`. Anything else is refused with OSS's
//! XML error.
//!
//! - The object is written once, whole, by a write that succeeds only while its key is free
//!   (and only while the image is still `Uploading`): a second upload with the same
//!   credential answers `FileAlreadyExists` and changes nothing.
//! - The parts of a multipart upload are kept beside it under `multipart/<tenant>/<image>/
//!   <upload id>/`, each named by its number, MD5 and size, so a listing is all `ListParts`
//!   needs. `CompleteMultipartUpload` joins them into the object in one write (the parts of
//!   OSS SDKs, 100 KB and up, are below S3's 5 MiB part minimum, and one write keeps the
//!   "once" above a single condition). Once the object is written, by either way, the parts
//!   of every upload of it are deleted; at most `upload::MAX_OPEN_UPLOADS` may be open at once, and
//!   `DeleteImage` deletes those of an image still `Uploading`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::Utc;
use http::{HeaderMap, StatusCode};
use md5::Digest as _;
use md5::Md5;
use sha2::Digest as _;
use sha2::Sha256;
use tracing::Instrument;

use super::credential::{CredentialError, Grant, Issuer, MAX_TOKEN};
use super::signature::{self, Authorization, SignedRequest};
use super::upload::{Upload, xml_answer};
use super::xml;
use crate::app::App;
use crate::error::{PortError, quote};

/// How far a request's date may be from the server's clock.
const MAX_SKEW_SECONDS: i64 = 15 * 60;
/// The highest part number OSS takes (they start at 1).
pub const MAX_PARTS: u32 = 10_000;
const PART_NUMBERS: std::ops::RangeInclusive<u32> = 1..=MAX_PARTS;
/// A request to the OSS endpoint, as it arrived.
pub struct OssRequest<'a> {
    pub method: &'a str,
    /// The path, still percent-encoded.
    pub path: &'a str,
    /// The query, still percent-encoded (no `?`).
    pub raw_query: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// An answer: an OSS XML body (or none) with its headers.
pub struct OssResponse {
    pub status: StatusCode,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

/// Why a request was not served.
#[derive(Debug, thiserror::Error)]
pub(super) enum OssError {
    #[error("{message}")]
    Refused {
        status: StatusCode,
        code: &'static str,
        message: String,
    },
    #[error(transparent)]
    Store(#[from] PortError),
}

pub(super) fn refuse(
    status: StatusCode,
    code: &'static str,
    message: impl Into<String>,
) -> OssError {
    OssError::Refused {
        status,
        code,
        message: message.into(),
    }
}

pub(super) fn forbidden(code: &'static str, message: impl Into<String>) -> OssError {
    refuse(StatusCode::FORBIDDEN, code, message)
}

pub(super) fn bad(code: &'static str, message: impl Into<String>) -> OssError {
    refuse(StatusCode::BAD_REQUEST, code, message)
}

/// Whether a request is meant for the OSS endpoint: its path starts with an upload
/// bucket (path-style, as the SDKs send to IP and localhost endpoints) or it carries an
/// OSS signature (virtual-host or CNAME style).
pub fn is_oss_request(path: &str, headers: &HeaderMap, upload_buckets: &[String]) -> bool {
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    let signed = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("OSS ") || v.starts_with("OSS4-HMAC-SHA256 "));
    signed || upload_buckets.iter().any(|b| b == first)
}

/// Serves one request; every refusal is OSS's XML error, logged once with its request id.
pub async fn handle(app: &App, request: OssRequest<'_>) -> OssResponse {
    let request_id = crate::api::new_request_id();
    let span = tracing::info_span!("oss", request_id = %request_id, method = request.method);
    let result = serve(app, &request).instrument(span.clone()).await;
    let mut response = match result {
        Ok(response) => response,
        Err(error) => span.in_scope(|| refusal(error, &request_id)),
    };
    response
        .headers
        .push(("x-oss-request-id", request_id.clone()));
    response
}

fn refusal(error: OssError, request_id: &str) -> OssResponse {
    let (status, code, message) = match error {
        OssError::Refused {
            status,
            code,
            message,
        } => {
            let message = crate::error::bounded(&message);
            tracing::info!(code, %message, "OSS request refused");
            (status, code, message)
        }
        OssError::Store(PortError::Unavailable(reason)) => {
            tracing::warn!(%reason, "OSS request refused: the store cannot take it now");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                reason,
            )
        }
        OssError::Store(other) => {
            tracing::error!(error = %other, "OSS request failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                "the upload could not be stored; quote the RequestId".to_string(),
            )
        }
    };
    let mut headers = vec![("content-type", "application/xml".to_string())];
    if status == StatusCode::METHOD_NOT_ALLOWED {
        headers.push(("allow", OSS_METHODS.to_string()));
    }
    OssResponse {
        status,
        headers,
        body: xml::error(code, &message, request_id),
    }
}

/// The methods of the upload endpoint.
pub const OSS_METHODS: &str = "PUT, POST, GET, DELETE";

/// What a credential's request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Operation {
    PutObject,
    InitiateMultipartUpload,
    UploadPart,
    ListParts,
    CompleteMultipartUpload,
    AbortMultipartUpload,
}

/// The query parameters these operations take; a request with any other (`?acl`,
/// `?tagging`, ...) is another operation, and refused.
const KNOWN_PARAMETERS: &[&str] = &[
    "uploads",
    "uploadId",
    "partNumber",
    "max-parts",
    "part-number-marker",
    "encoding-type",
];

fn operation(method: &str, query: &[(String, String)]) -> Option<Operation> {
    if query
        .iter()
        .any(|(k, _)| !KNOWN_PARAMETERS.contains(&k.as_str()))
    {
        return None;
    }
    let has = |name: &str| query.iter().any(|(k, _)| k == name);
    Some(
        match (method, has("uploads"), has("uploadId"), has("partNumber")) {
            ("PUT", false, false, false) => Operation::PutObject,
            ("POST", true, false, false) => Operation::InitiateMultipartUpload,
            ("PUT", false, true, true) => Operation::UploadPart,
            ("GET", false, true, false) => Operation::ListParts,
            ("POST", false, true, false) => Operation::CompleteMultipartUpload,
            ("DELETE", false, true, false) => Operation::AbortMultipartUpload,
            _ => return None,
        },
    )
}

/// The grant of the request's credential, once its signature and date are checked.
fn authenticate(
    app: &App,
    request: &OssRequest,
    query: &[(String, String)],
    headers: &[(String, String)],
) -> Result<(Grant, String), OssError> {
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if query
        .iter()
        .any(|(k, _)| k == "Signature" || k == "x-oss-signature")
    {
        return Err(forbidden(
            "AccessDenied",
            "signed URLs are not taken here: sign the request's headers (the OSS SDKs' \
             put_object and resumable_upload do)",
        ));
    }
    let Some(authorization) = header("authorization") else {
        return Err(forbidden(
            "AccessDenied",
            "the request is not signed: upload with the UploadAuth's AccessKeyId, \
             AccessKeySecret and SecurityToken",
        ));
    };
    let auth = signature::parse(authorization)
        .map_err(|why| bad("InvalidArgument", format!("Authorization: {why}")))?;
    let Some(token) = header("x-oss-security-token") else {
        return Err(forbidden(
            "InvalidAccessKeyId",
            "the request carries no x-oss-security-token: Folio's upload keys are STS keys, \
             used with the UploadAuth's SecurityToken (oss2.StsAuth)",
        ));
    };
    if token.len() > MAX_TOKEN {
        return Err(bad(
            "InvalidArgument",
            format!("x-oss-security-token is longer than {MAX_TOKEN} characters"),
        ));
    }
    let issuer = Issuer::new(&app.config.webhook_secret);
    let grant = issuer.open(token).map_err(|e| match e {
        CredentialError::Malformed | CredentialError::Forged => {
            forbidden("InvalidSecurityToken", e.to_string())
        }
    })?;
    if issuer.access_key_id(token) != auth.access_key_id() {
        return Err(forbidden(
            "InvalidAccessKeyId",
            format!(
                "the AccessKeyId {} is not the one of this SecurityToken",
                quote(auth.access_key_id())
            ),
        ));
    }
    if Utc::now().timestamp() >= grant.expires {
        return Err(forbidden(
            "SecurityTokenExpired",
            format!(
                "the security token expired at {}; call CreateUploadImage again",
                grant.expiration().format("%Y-%m-%dT%H:%M:%SZ")
            ),
        ));
    }
    let key = object_key(request.path, &grant)?;
    let signed = SignedRequest {
        method: request.method,
        query,
        headers,
        bucket: &grant.bucket,
        key: &key,
    };
    if !signature::verify(&auth, &signed, &issuer.secret(token)) {
        let hint = match &auth {
            Authorization::V1 { .. } => format!(
                "; the string Folio signed was {}",
                quote(&signature::v1_string_to_sign(&signed))
            ),
            Authorization::V4 { .. } => String::new(),
        };
        return Err(forbidden(
            "SignatureDoesNotMatch",
            format!(
                "the request signature we calculated does not match the signature you \
                 provided{hint}"
            ),
        ));
    }
    let Some(at) = signature::signed_at(&auth, &signed) else {
        return Err(forbidden(
            "AccessDenied",
            "the request's date (Date or x-oss-date) is missing or malformed",
        ));
    };
    if (Utc::now() - at).num_seconds().abs() > MAX_SKEW_SECONDS {
        return Err(forbidden(
            "RequestTimeTooSkewed",
            "the difference between the request time and the server's time is more than \
             15 minutes",
        ));
    }
    if key != grant.key {
        return Err(forbidden(
            "AccessDenied",
            format!(
                "these credentials write {} in {} only; the request names {}",
                grant.key,
                grant.bucket,
                quote(&key)
            ),
        ));
    }
    Ok((grant, key))
}

/// The object key a request's path names: `/<bucket>/<key>` (path-style) or `/<key>`
/// (virtual-host or CNAME style, where the host names the bucket).
fn object_key(path: &str, grant: &Grant) -> Result<String, OssError> {
    let decoded = urlencoding::decode(path)
        .map_err(|_| bad("InvalidObjectName", "the path is not UTF-8 once decoded"))?;
    let rest = decoded.strip_prefix('/').unwrap_or(&decoded);
    Ok(match rest.split_once('/') {
        Some((bucket, key)) if bucket == grant.bucket => key.to_string(),
        _ => rest.to_string(),
    })
}

async fn serve(app: &App, request: &OssRequest<'_>) -> Result<OssResponse, OssError> {
    let query: Vec<(String, String)> = url::form_urlencoded::parse(request.raw_query.as_bytes())
        .into_owned()
        .collect();
    let headers = crate::auth::header_pairs(request.headers);
    if !["PUT", "POST", "GET", "DELETE"].contains(&request.method) {
        return Err(OssError::Refused {
            status: StatusCode::METHOD_NOT_ALLOWED,
            code: "MethodNotAllowed",
            message: format!(
                "the upload endpoint takes PUT, POST, GET and DELETE, not {}",
                crate::error::quote(request.method)
            ),
        });
    }
    let (grant, key) = authenticate(app, request, &query, &headers)?;
    let Some(op) = operation(request.method, &query) else {
        return Err(forbidden(
            "AccessDenied",
            format!(
                "these credentials allow only PutObject and a multipart upload of {} \
                 (InitiateMultipartUpload, UploadPart, ListParts, CompleteMultipartUpload, \
                 AbortMultipartUpload); not {} with this query",
                grant.key, request.method
            ),
        ));
    };
    tracing::info!(?op, image_id = %grant.image_id, "OSS request");
    let value = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    check_digests(
        header("content-md5"),
        header("x-oss-content-sha256"),
        request.body,
    )?;
    let content_type = header("content-type").unwrap_or("application/octet-stream");
    let upload = Upload { app, grant: &grant };
    match op {
        Operation::PutObject => upload.put_object(request.body, content_type).await,
        Operation::InitiateMultipartUpload => upload.initiate(&key).await,
        Operation::UploadPart => {
            let id = upload_id(value("uploadId"))?;
            let number = part_number(value("partNumber"))?;
            upload.put_part(&id, number, request.body).await
        }
        Operation::ListParts => {
            let id = upload_id(value("uploadId"))?;
            let parts = upload.parts(&id).await?;
            Ok(xml_answer(xml::part_list(&grant.bucket, &key, &id, &parts)))
        }
        Operation::CompleteMultipartUpload => {
            let id = upload_id(value("uploadId"))?;
            upload.complete(&id, request.body, content_type).await
        }
        Operation::AbortMultipartUpload => {
            let id = upload_id(value("uploadId"))?;
            upload.abort(&id).await
        }
    }
}

/// `Content-MD5` and a hex `x-oss-content-sha256`, when sent, must be the body's.
fn check_digests(md5: Option<&str>, sha256: Option<&str>, body: &[u8]) -> Result<(), OssError> {
    if let Some(sent) = md5 {
        let ours = BASE64.encode(Md5::digest(body));
        if sent.trim() != ours {
            return Err(bad(
                "InvalidDigest",
                format!(
                    "the Content-MD5 you specified ({}) is not the body's ({ours})",
                    quote(sent)
                ),
            ));
        }
    }
    if let Some(sent) = sha256.filter(|s| *s != "UNSIGNED-PAYLOAD") {
        let ours = hex::encode(Sha256::digest(body));
        if !sent.eq_ignore_ascii_case(&ours) {
            return Err(bad(
                "InvalidDigest",
                format!(
                    "x-oss-content-sha256 ({}) is not the body's SHA-256",
                    quote(sent)
                ),
            ));
        }
    }
    Ok(())
}

fn upload_id(value: Option<&str>) -> Result<String, OssError> {
    let id = value.unwrap_or_default();
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(refuse(
            StatusCode::NOT_FOUND,
            "NoSuchUpload",
            format!(
                "uploadId {} is not an upload InitiateMultipartUpload started",
                quote(id)
            ),
        ));
    }
    Ok(id.to_ascii_lowercase())
}

fn part_number(value: Option<&str>) -> Result<u32, OssError> {
    value
        .and_then(|v| v.parse().ok())
        .filter(|n| PART_NUMBERS.contains(n))
        .ok_or_else(|| {
            bad(
                "InvalidArgument",
                format!(
                    "partNumber {} is not a number from 1 to 10000",
                    quote(value.unwrap_or_default())
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_told_apart_by_method_and_sub_resource() {
        let q = |s: &str| -> Vec<(String, String)> {
            url::form_urlencoded::parse(s.as_bytes())
                .into_owned()
                .collect()
        };
        assert_eq!(operation("PUT", &q("")), Some(Operation::PutObject));
        assert_eq!(
            operation("POST", &q("uploads")),
            Some(Operation::InitiateMultipartUpload)
        );
        assert_eq!(
            operation("PUT", &q("partNumber=1&uploadId=a")),
            Some(Operation::UploadPart)
        );
        assert_eq!(
            operation("GET", &q("uploadId=a")),
            Some(Operation::ListParts)
        );
        assert_eq!(
            operation("POST", &q("uploadId=a")),
            Some(Operation::CompleteMultipartUpload)
        );
        assert_eq!(
            operation("DELETE", &q("uploadId=a")),
            Some(Operation::AbortMultipartUpload)
        );
        for (method, query) in [
            ("GET", ""),
            ("DELETE", ""),
            ("HEAD", ""),
            ("GET", "uploads"),
            ("PUT", "acl"),
            ("PUT", "tagging"),
            ("POST", "uploadId=a&x-oss-process=x"),
        ] {
            assert_eq!(operation(method, &q(query)), None, "{method} {query}");
        }
    }

    #[test]
    fn digests_are_checked_when_sent() {
        let body = b"hello";
        let md5 = BASE64.encode(Md5::digest(body));
        assert!(check_digests(Some(&md5), None, body).is_ok());
        assert!(check_digests(None, Some("UNSIGNED-PAYLOAD"), body).is_ok());
        assert!(check_digests(Some(&md5), None, b"hellO").is_err());
        let sha = hex::encode(Sha256::digest(body));
        assert!(check_digests(None, Some(&sha), body).is_ok());
        assert!(check_digests(None, Some(&sha), b"x").is_err());
    }
}
