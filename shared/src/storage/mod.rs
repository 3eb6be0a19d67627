//! Users' own storage, for jobs' `cloud` inputs and conversions' `output_target`s: Amazon
//! S3 (through the `UserStorage` port), Google Cloud Storage and Azure Blob Storage
//! (`object_store`), and FTP servers (`suppaftp`, explicit FTPS when the server offers it).
//!
//! Reads stop at the size limit while the file streams in. A write never replaces an
//! existing file unless asked: object stores write conditionally (the check and the write
//! are one request), an FTP upload goes to a temporary name that is renamed once whole. A
//! file already there with the very bytes being written counts as written, so a pair that
//! runs again after its upload does not fail on its own file.

mod ftp;
pub mod location;
mod object_stores;

use bytes::Bytes;

pub use location::{Location, PROVIDERS, Secret};

use crate::app::App;
use crate::error::PortError;

/// Why a read or a write failed; the messages name the place, never a secret.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{0} does not exist")]
    NotFound(String),
    #[error("the bucket or container of {0} does not exist")]
    NoContainer(String),
    #[error("{place} refused the credentials given: {reason}")]
    Denied { place: String, reason: String },
    #[error(
        "{0} already exists; Folio does not replace it unless the output target's \
         parameters ask for it (\"overwrite\": true)"
    )]
    Exists(String),
    #[error("the file is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("{0}")]
    Credentials(String),
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Unreachable(String),
    #[error("{0}")]
    Failed(String),
}

/// Reads the file at `at`, at most `max_bytes` of it.
pub async fn read(app: &App, at: &Location, max_bytes: u64) -> Result<Vec<u8>, StorageError> {
    match at {
        Location::AmazonS3 {
            bucket,
            key,
            credentials,
        } => app
            .user_storage
            .open(credentials)
            .get(bucket, key, max_bytes)
            .await
            .map_err(|e| s3_error(at, e)),
        Location::GoogleCloud { .. } | Location::Azure { .. } => {
            object_stores::read(&app.config, at, max_bytes).await
        }
        Location::Ftp { .. } => ftp::read(&app.config, at, max_bytes).await,
    }
}

/// Writes `bytes` to `at`; an existing file stays unless `overwrite`.
pub async fn write(
    app: &App,
    at: &Location,
    bytes: Bytes,
    content_type: &str,
    overwrite: bool,
) -> Result<(), StorageError> {
    match put(app, at, bytes.clone(), content_type, overwrite).await {
        Ok(()) => Ok(()),
        // A pair run again (its message redelivered after the upload) finds its own file:
        // the same bytes already there are not a conflict.
        Err(StorageError::Exists(place)) => match read(app, at, bytes.len() as u64).await {
            Ok(there) if there == bytes => Ok(()),
            _ => Err(StorageError::Exists(place)),
        },
        // Nothing is missing where a file is being made but the place it goes in.
        Err(StorageError::NotFound(place)) => Err(StorageError::NoContainer(place)),
        Err(other) => Err(other),
    }
}

async fn put(
    app: &App,
    at: &Location,
    bytes: Bytes,
    content_type: &str,
    overwrite: bool,
) -> Result<(), StorageError> {
    match at {
        Location::AmazonS3 {
            bucket,
            key,
            credentials,
        } => {
            let store = app.user_storage.open(credentials);
            let written = if overwrite {
                store.put(bucket, key, bytes.into(), content_type).await
            } else {
                store.put_new(bucket, key, bytes.into(), content_type).await
            };
            written.map_err(|e| s3_error(at, e))
        }
        Location::GoogleCloud { .. } | Location::Azure { .. } => {
            object_stores::write(&app.config, at, bytes, content_type, overwrite).await
        }
        Location::Ftp { .. } => ftp::write(&app.config, at, bytes, overwrite).await,
    }
}

fn s3_error(at: &Location, e: PortError) -> StorageError {
    let place = at.describe();
    match e {
        PortError::NotFound => StorageError::NotFound(place),
        PortError::Denied(reason) => StorageError::Denied { place, reason },
        PortError::ConditionFailed => StorageError::Exists(place),
        PortError::TooLarge { limit, .. } => StorageError::TooLarge { limit },
        other => {
            tracing::warn!(place = %place, error = %other, "amazons3 storage failed");
            StorageError::Failed(format!("{place} could not be reached or read"))
        }
    }
}
