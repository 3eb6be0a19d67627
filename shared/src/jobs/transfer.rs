//! Files in and out of a job through its `server`: `upload-file` (multipart, field
//! `file`), `upload-base64` (JSON `{content, filename}`, one or a list) and
//! `download-file/{output_id}/{filename}`, which needs no key (the URI is the capability),
//! counts the download atomically within `limits.output.max_downloads`, checks the job's
//! download passwords and redirects to a short-lived S3 URL.

use std::time::Duration;

use base64::Engine;
use chrono::Utc;
use http::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::chunks::{self, ChunkRange};
use super::handlers::{Ctx, append_inputs, ensure_open, load_job, one_or_list};
use super::http::{Caller, V2Error, V2Request, V2Response};
use super::model::{FileFacts, InputKind, InputRecord, InputStatus, JobRecord, OutputStatus};
use super::wire;
use super::worker::{input_location, max_input_bytes};
use crate::app::App;
use crate::auth;
use crate::error::PortError;

/// How long the S3 URL a download redirects to stays valid.
const DOWNLOAD_URL_TTL: Duration = Duration::from_secs(60);

pub fn password_hash(password: &str) -> String {
    hex::encode(Sha256::digest(password.as_bytes()))
}

/// One uploaded file.
pub(super) struct Upload {
    pub(super) filename: String,
    pub(super) bytes: Vec<u8>,
}

/// The job, if the caller may see it and it still takes uploads.
async fn open_job(ctx: &Ctx<'_>, job_id: &str) -> Result<JobRecord, V2Error> {
    let job = load_job(ctx, job_id).await?;
    ensure_open(&job)?;
    Ok(job)
}

/// Stores the uploads as inputs of the job (which must still be open) and answers with
/// them; a job with `process: true` starts with its first upload.
async fn store_uploads(
    ctx: &Ctx<'_>,
    job: &JobRecord,
    uploads: Vec<Upload>,
    kind: InputKind,
    many: bool,
) -> Result<V2Response, V2Error> {
    let app = ctx.app;
    let max = max_input_bytes(app, job);
    let now = Utc::now();
    let mut inputs = Vec::with_capacity(uploads.len());
    for upload in uploads {
        if upload.bytes.len() as u64 > max {
            return Err(V2Error::LimitExceeded(format!(
                "{} is {} bytes; limits.input.max_file_size allows {max}",
                upload.filename,
                upload.bytes.len()
            )));
        }
        let id = super::parse::new_id();
        let facts: FileFacts = super::facts(&upload.filename, &upload.bytes);
        let location = input_location(app, job, &id);
        app.files
            .put(
                &location.bucket,
                &location.key,
                upload.bytes,
                &facts.content_type,
            )
            .await?;
        inputs.push(InputRecord {
            id,
            kind,
            source: facts.filename.clone(),
            status: InputStatus::Ready,
            facts,
            parameters: Default::default(),
            credentials: None,
            options: Default::default(),
            stored: Some(location),
            error: None,
            created_at: now,
            modified_at: now,
        });
    }
    let added = match append_inputs(ctx, job, inputs.clone()).await {
        Ok(added) => added,
        Err(refused) => {
            // Nothing of a refused upload stays behind.
            for stored in inputs.iter().filter_map(|i| i.stored.as_ref()) {
                app.files.delete_prefix(&stored.bucket, &stored.key).await?;
            }
            return Err(refused);
        }
    };
    let docs = added.iter().map(wire::input).collect();
    Ok(V2Response::json(
        StatusCode::CREATED,
        &one_or_list(docs, many),
    ))
}

pub async fn upload_file(
    app: &App,
    request: &V2Request<'_>,
    caller: &Caller,
    job_id: &str,
) -> Result<V2Response, V2Error> {
    let content_type = request.header("content-type").unwrap_or_default();
    let boundary = multer::parse_boundary(content_type)
        .map_err(|e| V2Error::bad("Content-Type", format!("must be multipart/form-data: {e}")))?;
    let body = bytes::Bytes::copy_from_slice(request.body);
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut upload = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| V2Error::bad("body", format!("is not a valid multipart body: {e}")))?
    {
        if field.name() != Some("file") {
            continue;
        }
        let filename = field
            .file_name()
            .map(super::fetch::filename_of)
            .unwrap_or_else(|| "file".to_string());
        let bytes = field
            .bytes()
            .await
            .map_err(|e| V2Error::bad("file", format!("could not be read: {e}")))?;
        upload = Some(Upload {
            filename,
            bytes: bytes.to_vec(),
        });
        break;
    }
    let mut upload =
        upload.ok_or_else(|| V2Error::bad("file", "the multipart field file is required"))?;
    let ctx = Ctx {
        app,
        request,
        caller,
    };
    let job = open_job(&ctx, job_id).await?;
    if let Some(range) = request.header("content-range") {
        let range = ChunkRange::parse(range).map_err(|e| V2Error::bad("Content-Range", e))?;
        let uuid = ["x-oc-upload-uuid", "x-api2convert-upload-uuid"]
            .iter()
            .find_map(|h| request.header(h))
            .ok_or_else(|| V2Error::bad("x-oc-upload-uuid", "is required with Content-Range"))?;
        let max = max_input_bytes(app, &job);
        match chunks::receive(app, &job, uuid, range, upload, max).await? {
            Some(whole) => upload = whole,
            None => {
                return Ok(V2Response::json(
                    StatusCode::ACCEPTED,
                    &serde_json::json!({"uuid": uuid, "range": format!("bytes {}-{}/{}", range.start, range.end, range.total)}),
                ));
            }
        }
    }
    store_uploads(&ctx, &job, vec![upload], InputKind::Upload, false).await
}

fn base64_upload(value: &Value, field: &str) -> Result<Upload, V2Error> {
    let content = value
        .get("content")
        .and_then(Value::as_str)
        .ok_or_else(|| V2Error::bad(format!("{field}.content"), "is required"))?;
    // `data:image/gif;base64,....` or the bare Base64 text.
    let data = content
        .split_once(";base64,")
        .map_or(content, |(_, d)| d)
        .trim();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|e| V2Error::bad(format!("{field}.content"), format!("is not Base64: {e}")))?;
    let filename = value
        .get("filename")
        .and_then(Value::as_str)
        .map(super::fetch::filename_of)
        .unwrap_or_else(|| "output".to_string());
    Ok(Upload { filename, bytes })
}

pub async fn upload_base64(
    app: &App,
    request: &V2Request<'_>,
    caller: &Caller,
    job_id: &str,
) -> Result<V2Response, V2Error> {
    let body = request
        .json()?
        .ok_or_else(|| V2Error::bad("content", "is required"))?;
    let many = body.is_array();
    let uploads = match &body {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| base64_upload(v, &format!("[{i}]")))
            .collect::<Result<Vec<_>, _>>()?,
        one => vec![base64_upload(one, "body")?],
    };
    let ctx = Ctx {
        app,
        request,
        caller,
    };
    let job = open_job(&ctx, job_id).await?;
    store_uploads(&ctx, &job, uploads, InputKind::Base64, many).await
}

fn given_passwords<'a>(request: &'a V2Request<'_>) -> Vec<&'a str> {
    let header = ["x-api2convert-download-password", "x-oc-download-password"]
        .iter()
        .find_map(|h| request.header(h));
    let cookie = request.header("cookie").and_then(|c| {
        c.split(';').find_map(|part| {
            let (k, v) = part.trim().split_once('=')?;
            k.eq_ignore_ascii_case("x-oc-download-password")
                .then_some(v)
        })
    });
    header
        .into_iter()
        .chain(cookie)
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect()
}

pub async fn download(
    app: &App,
    request: &V2Request<'_>,
    job_id: &str,
    output_id: &str,
) -> Result<V2Response, V2Error> {
    let gone = || V2Error::NotFound("The file does not exist".into());
    let job = app.jobs.get(job_id).await?.ok_or_else(gone)?;
    let output = app
        .jobs
        .get_output(job_id, output_id)
        .await?
        .ok_or_else(gone)?;
    // The job's passwords and the output's own: any one of them opens it.
    let passwords: Vec<&String> = job
        .download_passwords
        .iter()
        .chain(output.download_password.iter())
        .collect();
    if !passwords.is_empty() {
        let given = given_passwords(request);
        let unlocked = given.iter().any(|p| {
            let hash = password_hash(p);
            passwords
                .iter()
                .any(|h| auth::same(h.as_bytes(), hash.as_bytes()))
        });
        if !unlocked {
            return Err(V2Error::Unauthorized(
                "This file needs a download password (X-Api2convert-Download-Password)".into(),
            ));
        }
    }
    let refuse = |status: OutputStatus| match status {
        OutputStatus::Expired => V2Error::Gone {
            error_code: 108,
            message: "The file has expired".into(),
        },
        OutputStatus::Overuse => V2Error::Gone {
            error_code: 109,
            message: "The file has been downloaded the maximum number of times".into(),
        },
        _ => V2Error::Gone {
            error_code: 107,
            message: "The file download has been disabled".into(),
        },
    };
    let status = wire::output_status(&output, job.limits.max_downloads, Utc::now());
    if status != OutputStatus::Enabled {
        return Err(refuse(status));
    }
    let disposition = format!(
        "attachment; filename=\"{}\"",
        output.facts.filename.replace(['"', '\\', '\r', '\n'], "_")
    );
    if request.method == http::Method::HEAD {
        return Ok(V2Response::empty(StatusCode::OK)
            .with_header("content-type", output.facts.content_type.clone())
            .with_header("content-length", output.facts.size.to_string())
            .with_header("content-disposition", disposition));
    }
    let counted = match app
        .jobs
        .count_download(job_id, output_id, job.limits.max_downloads)
        .await
    {
        Ok(counted) => counted,
        Err(PortError::ConditionFailed) => {
            let now = app
                .jobs
                .get_output(job_id, output_id)
                .await?
                .ok_or_else(gone)?;
            let status = wire::output_status(&now, job.limits.max_downloads, Utc::now());
            return Err(refuse(if status == OutputStatus::Enabled {
                OutputStatus::Overuse
            } else {
                status
            }));
        }
        Err(e) => return Err(e.into()),
    };
    let url = app
        .files
        .presign_get(
            &counted.stored.bucket,
            &counted.stored.key,
            DOWNLOAD_URL_TTL,
            &counted.facts.filename,
        )
        .await?;
    Ok(V2Response::empty(StatusCode::FOUND)
        .with_header("location", url)
        .with_header("cache-control", "no-store"))
}
