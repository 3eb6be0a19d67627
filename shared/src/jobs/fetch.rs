//! Fetching a job's inputs into Folio's bucket: remote URLs through the URL guard (every
//! redirect checked again, the connection pinned to the approved addresses, size and time
//! bounded while streaming), and objects in users' S3 buckets with the credentials given.

use std::time::Duration;

use ipnet::IpNet;

use super::model::{InputKind, InputRecord, JobMessage, OutputStatus, StoredFile, codes};
use crate::app::App;
use crate::error::PortError;
use crate::notify::url_guard;
use crate::storage::{self, Location, StorageError};

const MAX_REDIRECTS: usize = 5;
const REMOTE_TIMEOUT: Duration = Duration::from_secs(120);

/// A fetched file, or why the input failed.
pub type Fetched = Result<(String, Vec<u8>), JobMessage>;

fn failure(input: &InputRecord, code: u32, message: impl Into<String>) -> JobMessage {
    JobMessage::new("input", &input.id, code, message)
}

/// The last path segment of a URL or key, decoded; `file` when there is none.
pub fn filename_of(path: &str) -> String {
    let last = path.rsplit('/').next().unwrap_or_default();
    let decoded = urlencoding::decode(last).map_or_else(|_| last.to_string(), |d| d.into_owned());
    let clean: String = decoded
        .chars()
        .filter(|c| !c.is_control() && *c != '\\')
        .collect();
    if clean.trim().is_empty() {
        "file".to_string()
    } else {
        clean
    }
}

/// Fetches one input of a job of `tenant_key` (remote, cloud, another job's output); other
/// kinds are stored when they arrive.
pub async fn fetch(app: &App, tenant_key: &str, input: &InputRecord, max_bytes: u64) -> Fetched {
    match input.kind {
        InputKind::Output => {
            let found = locate_output(app, &input.source);
            earlier(app, tenant_key, input, max_bytes, "output", found).await
        }
        InputKind::InputId => {
            let found = locate_input(app, &input.source);
            earlier(app, tenant_key, input, max_bytes, "input", found).await
        }
        InputKind::Remote => remote(
            &input.source,
            &app.config.allowed_private_networks,
            max_bytes,
        )
        .await
        .map_err(|(code, message)| failure(input, code, message)),
        InputKind::Cloud => cloud(app, input, max_bytes).await,
        _ => Err(failure(
            input,
            codes::INTERNAL,
            "the input has no file and cannot be fetched",
        )),
    }
}

/// The file of an output or an input (`noun`) of one of the tenant's jobs, as `locate` finds
/// it by the id the input names; another tenant's is not found.
async fn earlier<F>(
    app: &App,
    tenant_key: &str,
    input: &InputRecord,
    max_bytes: u64,
    noun: &str,
    locate: F,
) -> Fetched
where
    F: std::future::Future<Output = Result<Option<(String, StoredFile, String)>, PortError>>,
{
    let missing = || {
        failure(
            input,
            codes::DOWNLOAD_FAILED,
            format!("No {noun} {} among your jobs' {noun}s", input.source),
        )
    };
    let unreadable = |e: PortError| {
        tracing::warn!(input_id = %input.id, error = %e, "reading an earlier job's file failed");
        failure(
            input,
            codes::INTERNAL,
            format!("The earlier {noun} could not be read"),
        )
    };
    let (owner, at, filename) = locate.await.map_err(unreadable)?.ok_or_else(missing)?;
    if owner != tenant_key {
        return Err(missing());
    }
    match app.files.get(&at.bucket, &at.key, max_bytes).await {
        Ok(bytes) => Ok((filename, bytes)),
        Err(PortError::NotFound) => Err(missing()),
        Err(PortError::TooLarge { limit, .. }) => Err(failure(
            input,
            codes::TOO_LARGE,
            format!("The file is larger than the limit of {limit} bytes"),
        )),
        Err(e) => Err(unreadable(e)),
    }
}

/// An output of an earlier job: (owner, file, name), if it is still enabled.
async fn locate_output(
    app: &App,
    output_id: &str,
) -> Result<Option<(String, StoredFile, String)>, PortError> {
    let Some((job_id, owner)) = app.jobs.find_output(output_id).await? else {
        return Ok(None);
    };
    Ok(app
        .jobs
        .get_output(&job_id, output_id)
        .await?
        .filter(|o| o.status == OutputStatus::Enabled)
        .map(|o| (owner, o.stored, o.facts.filename)))
}

/// An input of an earlier job: (owner, file, name), if it has its file.
async fn locate_input(
    app: &App,
    input_id: &str,
) -> Result<Option<(String, StoredFile, String)>, PortError> {
    let Some((job_id, owner)) = app.jobs.find_input(input_id).await? else {
        return Ok(None);
    };
    let job = app.jobs.get(&job_id).await?;
    Ok(job.and_then(|job| {
        let earlier = job.input(input_id)?;
        Some((
            owner,
            earlier.stored.clone()?,
            earlier.facts.filename.clone(),
        ))
    }))
}

/// GETs `url`, following up to five redirects, each checked by the guard.
pub async fn remote(
    url: &str,
    allowed: &[IpNet],
    max_bytes: u64,
) -> Result<(String, Vec<u8>), (u32, String)> {
    let deadline = tokio::time::Instant::now() + REMOTE_TIMEOUT;
    let mut current = url.to_string();
    for _ in 0..=MAX_REDIRECTS {
        let refused = |e: url_guard::GuardError| {
            (
                codes::URL_REFUSED,
                format!("The file could not be downloaded: the URL {current} {e}"),
            )
        };
        let parsed = url_guard::check_syntax(&current).map_err(refused)?;
        let addrs = url_guard::resolve(&parsed, allowed)
            .await
            .map_err(refused)?;
        let host = parsed.host_str().unwrap_or_default().to_string();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .resolve_to_addrs(&host, &addrs)
            .user_agent(concat!("Folio/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| (codes::DOWNLOAD_FAILED, e.to_string()))?;
        let failed = |e: reqwest::Error| {
            (
                codes::DOWNLOAD_FAILED,
                format!("The file could not be downloaded from {current}: {e}"),
            )
        };
        let mut response = tokio::time::timeout_at(deadline, client.get(parsed.clone()).send())
            .await
            .map_err(|_| (codes::DOWNLOAD_FAILED, "The download timed out".to_string()))?
            .map_err(failed)?;
        let status = response.status();
        if status.is_redirection() {
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or((
                    codes::DOWNLOAD_FAILED,
                    format!("{current} redirected without a Location"),
                ))?;
            current = parsed
                .join(location)
                .map_err(|e| (codes::DOWNLOAD_FAILED, format!("a bad redirect: {e}")))?
                .to_string();
            continue;
        }
        if !status.is_success() {
            return Err((
                codes::DOWNLOAD_FAILED,
                format!(
                    "The file could not be downloaded: {current} answered {}",
                    status.as_u16()
                ),
            ));
        }
        let too_large = || {
            (
                codes::TOO_LARGE,
                format!("The file is larger than the limit of {max_bytes} bytes"),
            )
        };
        if response.content_length().is_some_and(|n| n > max_bytes) {
            return Err(too_large());
        }
        let mut bytes = Vec::new();
        loop {
            let chunk = tokio::time::timeout_at(deadline, response.chunk())
                .await
                .map_err(|_| (codes::DOWNLOAD_FAILED, "The download timed out".to_string()))?
                .map_err(failed)?;
            let Some(chunk) = chunk else { break };
            if bytes.len() as u64 + chunk.len() as u64 > max_bytes {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        return Ok((filename_of(parsed.path()), bytes));
    }
    Err((
        codes::DOWNLOAD_FAILED,
        format!("{url} redirected more than {MAX_REDIRECTS} times"),
    ))
}

async fn cloud(app: &App, input: &InputRecord, max_bytes: u64) -> Fetched {
    let at = super::parse::cloud_location(input, "input").map_err(|e| {
        failure(
            input,
            codes::CLOUD_FAILED,
            format!("{}: {}", e.field, e.reason),
        )
    })?;
    match storage::read(app, &at, max_bytes).await {
        Ok(bytes) => Ok((filename_of(at.path()), bytes)),
        Err(e) => Err(failure(input, cloud_code(&e), cloud_message(&at, &e))),
    }
}

/// The contract's code for a failed cloud input: 17 when the file is not there or may not
/// be read, 413 over the size limit, 403 for a refused address, else 99.
fn cloud_code(e: &StorageError) -> u32 {
    match e {
        StorageError::NotFound(_) | StorageError::Denied { .. } => codes::CLOUD_NOT_FOUND,
        StorageError::TooLarge { .. } => codes::TOO_LARGE,
        StorageError::Refused(_) => codes::URL_REFUSED,
        _ => codes::CLOUD_FAILED,
    }
}

fn cloud_message(at: &Location, e: &StorageError) -> String {
    let provider = at.provider();
    match e {
        StorageError::NotFound(place) => format!(
            "File not found: {place} does not exist ({provider}), or the credentials given \
             cannot read it"
        ),
        other => format!("The file could not be read from {provider}: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filenames_come_from_the_last_segment() {
        assert_eq!(filename_of("/a/b/photo%20one.jpg"), "photo one.jpg");
        assert_eq!(filename_of("/"), "file");
        assert_eq!(filename_of("dir/x.png"), "x.png");
    }

    #[tokio::test]
    async fn private_addresses_are_refused() {
        for url in [
            "http://127.0.0.1/a.jpg",
            "http://169.254.169.254/latest/meta-data/",
            "http://10.0.0.1/a.jpg",
        ] {
            let (code, message) = remote(url, &[], 1 << 20).await.unwrap_err();
            assert_eq!(code, codes::URL_REFUSED, "{url}: {message}");
            assert!(message.contains("private or reserved"), "{message}");
        }
    }
}
