//! The signed upload and download routes of the one-machine backend: `PUT` and `GET
//! /files/<bucket>/<key>?expires=..&signature=..`, as `CreateUploadImage`, `GetImageInfos`
//! and job downloads hand them out. An upload streams to disk, stops with 413 past the upload
//! cap (nothing kept) and, in an upload bucket, wakes the upload worker at once; a download
//! streams from disk and honours one byte `Range`.

use std::io::SeekFrom;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use folio_shared::embedded::{Buckets, Grant, UploadBuckets};
use folio_shared::error::PortError;
use folio_shared::image::uploaded::{CreatedObject, UploadWorker};
use serde::Deserialize;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// What the routes need.
#[derive(Clone)]
pub struct FileRoutes {
    pub buckets: Buckets,
    /// Records an upload refused here as the upload worker records an oversized one in AWS.
    pub uploads: Arc<UploadWorker>,
    /// Places uploads, with the upload trigger's message in an upload bucket.
    pub store: UploadBuckets,
    pub upload_buckets: Vec<String>,
    pub max_upload_bytes: u64,
}

#[derive(Deserialize)]
pub struct Signed {
    expires: Option<i64>,
    signature: Option<String>,
    filename: Option<String>,
}

fn refusal(status: StatusCode, code: &str, message: String) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    tracing::info!(%request_id, %code, %message, "file request refused");
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"RequestId": request_id, "Code": code, "Message": message}).to_string(),
    )
        .into_response()
}

/// A signed URL whose `expires` or `signature` is missing or malformed.
fn malformed(rejection: QueryRejection) -> Response {
    refusal(
        StatusCode::FORBIDDEN,
        "AccessDenied",
        format!("the URL is not a signed one: {}", rejection.body_text()),
    )
}

impl FileRoutes {
    fn check(&self, method: &str, bucket: &str, key: &str, signed: &Signed) -> Result<(), String> {
        let (Some(expires), Some(signature)) = (signed.expires, signed.signature.as_deref()) else {
            return Err("the URL is not signed: use the URL Folio gave".into());
        };
        let grant = Grant {
            method,
            bucket,
            key,
            expires,
            filename: signed.filename.as_deref(),
        };
        self.buckets
            .signer()
            .verify(&grant, signature)
            .map_err(|e| e.to_string())
    }
}

fn port_refusal(error: PortError) -> Response {
    match error {
        PortError::NotFound => refusal(StatusCode::NOT_FOUND, "NoSuchKey", "no such object".into()),
        PortError::Denied(reason) => refusal(StatusCode::BAD_REQUEST, "InvalidObjectName", reason),
        PortError::Unavailable(reason) => refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            reason,
        ),
        other => {
            let request_id = uuid::Uuid::new_v4().to_string();
            tracing::error!(%request_id, error = %other, "a file request failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CONTENT_TYPE, "application/json")],
                json!({"RequestId": request_id, "Code": "InternalError",
                       "Message": "the file could not be stored or read; quote the RequestId"})
                .to_string(),
            )
                .into_response()
        }
    }
}

pub async fn put(
    State(routes): State<FileRoutes>,
    Path((bucket, key)): Path<(String, String)>,
    signed: Result<Query<Signed>, QueryRejection>,
    body: Body,
) -> Response {
    let signed = match signed {
        Ok(Query(signed)) => signed,
        Err(rejection) => return malformed(rejection),
    };
    if let Err(reason) = routes.check("PUT", &bucket, &key, &signed) {
        return refusal(StatusCode::FORBIDDEN, "AccessDenied", reason);
    }
    let max = routes.max_upload_bytes;
    let staged = routes
        .buckets
        .stage(&bucket, &key, body.into_data_stream(), max)
        .await;
    let staged = match staged {
        Ok(staged) => staged,
        Err(PortError::TooLarge { size, limit }) => {
            let message = format!(
                "the upload is larger than {limit} bytes (FOLIO_MAX_UPLOAD_BYTES); nothing was kept"
            );
            if routes.upload_buckets.contains(&bucket) {
                // The image's record says why, as it does in AWS, where the upload worker
                // finds the oversized object: `UploadFail` with the reason, announced.
                let refused = CreatedObject {
                    bucket: bucket.clone(),
                    key: key.clone(),
                    etag: Some(format!("refused-{}", uuid::Uuid::new_v4().simple())),
                    size: Some(size),
                };
                if let Err(e) = routes.uploads.give_up(&refused, &message).await {
                    tracing::error!(%bucket, %key, error = %e, "a refused upload could not be recorded");
                }
            }
            return refusal(StatusCode::PAYLOAD_TOO_LARGE, "EntityTooLarge", message);
        }
        Err(e) => return port_refusal(e),
    };
    // In an upload bucket the upload worker's message is sent before the object is placed,
    // held back until it is.
    let info = match routes.store.place(&bucket, &key, staged, false).await {
        Ok(info) => info,
        Err(e) => return port_refusal(e),
    };
    tracing::info!(%bucket, %key, size = info.size, "object uploaded");
    (
        StatusCode::OK,
        [(header::ETAG, format!("\"{}\"", info.etag))],
    )
        .into_response()
}

/// A single `bytes=a-b`, `bytes=a-` or `bytes=-n` range within `size`.
fn byte_range(value: &str, size: u64) -> Option<(u64, u64)> {
    let spec = value.strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (start, end) = spec.split_once('-')?;
    let (start, end) = match (start.trim(), end.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            (size.checked_sub(n.min(size))?, size.checked_sub(1)?)
        }
        (a, "") => (a.parse().ok()?, size.checked_sub(1)?),
        (a, b) => (
            a.parse().ok()?,
            b.parse::<u64>().ok()?.min(size.checked_sub(1)?),
        ),
    };
    (start <= end && end < size).then_some((start, end))
}

fn content_type(key: &str) -> &'static str {
    let ext = key.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("png") => "image/png",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("bmp") => "image/bmp",
        Some("tif" | "tiff") => "image/tiff",
        Some("avif") => "image/avif",
        Some("svg") => "image/svg+xml",
        Some("jp2") => "image/jp2",
        Some("pdf") => "application/pdf",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

pub async fn get(
    State(routes): State<FileRoutes>,
    Path((bucket, key)): Path<(String, String)>,
    signed: Result<Query<Signed>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let signed = match signed {
        Ok(Query(signed)) => signed,
        Err(rejection) => return malformed(rejection),
    };
    if let Err(reason) = routes.check("GET", &bucket, &key, &signed) {
        return refusal(StatusCode::FORBIDDEN, "AccessDenied", reason);
    }
    let opened = {
        let (buckets, bucket, key) = (routes.buckets.clone(), bucket.clone(), key.clone());
        tokio::task::spawn_blocking(move || buckets.open(&bucket, &key)).await
    };
    let (file, info) = match opened {
        Ok(Ok(opened)) => opened,
        Ok(Err(e)) => return port_refusal(e),
        Err(e) => return port_refusal(PortError::backend("opening a file", e)),
    };
    let mut file = tokio::fs::File::from_std(file);
    let mut response_headers = HeaderMap::new();
    let insert = |headers: &mut HeaderMap, name, value: String| {
        if let Ok(value) = header::HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    insert(
        &mut response_headers,
        header::CONTENT_TYPE,
        content_type(&key).into(),
    );
    insert(
        &mut response_headers,
        header::ETAG,
        format!("\"{}\"", info.etag),
    );
    insert(&mut response_headers, header::ACCEPT_RANGES, "bytes".into());
    if let Some(name) = &signed.filename {
        let safe = name.replace(['"', '\\', '\r', '\n'], "_");
        insert(
            &mut response_headers,
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{safe}\""),
        );
    }
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(|v| byte_range(v, info.size));
    let (status, start, len) = match range {
        None => (StatusCode::OK, 0, info.size),
        Some(Some((start, end))) => {
            insert(
                &mut response_headers,
                header::CONTENT_RANGE,
                format!("bytes {start}-{end}/{}", info.size),
            );
            (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
        }
        Some(None) => {
            insert(
                &mut response_headers,
                header::CONTENT_RANGE,
                format!("bytes */{}", info.size),
            );
            return (StatusCode::RANGE_NOT_SATISFIABLE, response_headers).into_response();
        }
    };
    if start > 0
        && let Err(e) = file.seek(SeekFrom::Start(start)).await
    {
        return port_refusal(PortError::backend("reading a file", e));
    }
    insert(
        &mut response_headers,
        header::CONTENT_LENGTH,
        len.to_string(),
    );
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file.take(len)));
    (status, response_headers, body).into_response()
}

#[cfg(test)]
mod tests {
    use super::byte_range;

    #[test]
    fn ranges() {
        assert_eq!(byte_range("bytes=0-9", 100), Some((0, 9)));
        assert_eq!(byte_range("bytes=90-", 100), Some((90, 99)));
        assert_eq!(byte_range("bytes=-10", 100), Some((90, 99)));
        assert_eq!(byte_range("bytes=50-500", 100), Some((50, 99)));
        assert_eq!(byte_range("bytes=100-", 100), None);
        assert_eq!(byte_range("bytes=0-1,4-5", 100), None);
        assert_eq!(byte_range("bytes=0-0", 0), None);
        assert_eq!(byte_range("items=0-1", 100), None);
    }
}
