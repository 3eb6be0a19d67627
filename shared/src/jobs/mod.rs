//! Conversion jobs in the online-convert API v2 model (`/v2/jobs`): a job holds inputs and
//! conversions; once started, its inputs are fetched into Folio's bucket, then each
//! (input, conversion) pair is converted from its own queue message, and the job ends
//! once, when the last pair is counted, with one final callback.

pub mod announce;
pub mod chunks;
pub mod fetch;
pub mod handlers;
pub mod http;
pub mod model;
pub mod options;
pub mod parse;
pub mod transfer;
pub mod wire;
pub mod worker;

use chrono::Utc;
use sha2::{Digest, Sha256};

use model::{FileFacts, HistoryEntry, JobMessage, JobRecord, JobStatus, PairOutcome};

use crate::ports::JobState;

/// The key prefix of everything a job keeps in Folio's bucket.
pub fn files_prefix(job: &JobRecord) -> String {
    format!("jobs/{}/{}/", job.tenant_key, job.id)
}

/// 32 hex digits of the SHA-256 of the bytes.
pub fn checksum(bytes: &[u8]) -> String {
    hex::encode(&Sha256::digest(bytes)[..16])
}

/// The media type of an image file, by its first bytes.
pub fn content_type(bytes: &[u8]) -> &'static str {
    use imagesize::ImageType as T;
    match imagesize::image_type(bytes) {
        Ok(T::Jpeg) => "image/jpeg",
        Ok(T::Png) => "image/png",
        Ok(T::Gif) => "image/gif",
        Ok(T::Webp) => "image/webp",
        Ok(T::Bmp) => "image/bmp",
        Ok(T::Tiff) => "image/tiff",
        Ok(T::Heif(_)) => "image/avif",
        Ok(T::Jxl) => "image/jxl",
        _ if bytes.starts_with(b"%PDF-") => "application/pdf",
        _ if bytes.starts_with(b"\0\0\0\x0cjP  ") || bytes.starts_with(b"\xff\x4f\xff\x51") => {
            "image/jp2"
        }
        _ => "application/octet-stream",
    }
}

pub fn facts(filename: &str, bytes: &[u8]) -> FileFacts {
    FileFacts {
        filename: filename.to_string(),
        size: bytes.len() as u64,
        checksum: checksum(bytes),
        content_type: content_type(bytes).to_string(),
    }
}

/// Moves the job to `status` in memory: history, time, version.
pub fn enter(job: &mut JobRecord, status: JobStatus) {
    let now = Utc::now();
    job.status = status;
    job.modified_at = now;
    job.version += 1;
    job.history.push(HistoryEntry { status, at: now });
}

/// The job's errors and warnings: once it has ended, as recorded; before, the recorded
/// ones (inputs) and those of the pairs so far.
pub fn messages(state: &JobState) -> (Vec<JobMessage>, Vec<JobMessage>) {
    let job = &state.job;
    let mut errors = job.errors.clone();
    let mut warnings = job.warnings.clone();
    if !job.status.is_terminal() {
        for pair in &state.pairs {
            if let PairOutcome::Failed { message } = &pair.outcome {
                if job.fail_on_conversion_error {
                    errors.push(message.clone());
                } else {
                    warnings.push(message.clone());
                }
            }
        }
    }
    (errors, warnings)
}

/// The job as the API shows it.
pub fn document(state: &JobState) -> serde_json::Value {
    let (errors, warnings) = messages(state);
    wire::job(state, &errors, &warnings, Utc::now())
}
