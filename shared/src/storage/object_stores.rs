//! Google Cloud Storage and Azure Blob Storage through `object_store`: one client per
//! request, built from the job's credentials and Folio's configured endpoints (a key file
//! cannot point Folio elsewhere).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::path::Path;
use object_store::{
    Attribute, Attributes, ClientOptions, GetOptions, ObjectStore, PutMode, PutOptions, PutPayload,
    RetryConfig,
};

use super::{Location, StorageError};
use crate::config::Config;

fn client_options(endpoint: &str) -> ClientOptions {
    ClientOptions::new()
        // Plain HTTP only where Folio's own configuration says so (a local emulator).
        .with_allow_http(endpoint.starts_with("http://"))
        .with_connect_timeout(Duration::from_secs(10))
        // A pair's whole run has the job worker's five minutes.
        .with_timeout(Duration::from_secs(120))
}

fn retries() -> RetryConfig {
    RetryConfig {
        max_retries: 3,
        retry_timeout: Duration::from_secs(60),
        ..RetryConfig::default()
    }
}

/// The store and the object's path in it.
fn open(config: &Config, at: &Location) -> Result<(Arc<dyn ObjectStore>, Path), StorageError> {
    let store: Arc<dyn ObjectStore> = match at {
        Location::GoogleCloud {
            bucket, account, ..
        } => {
            // Only the key itself reaches the client: an endpoint or `disable_oauth` in the
            // user's key file is never honoured.
            let key = serde_json::json!({
                "client_email": account.client_email,
                "private_key_id": account.private_key_id,
                "private_key": account.private_key.expose(),
            });
            GoogleCloudStorageBuilder::new()
                .with_bucket_name(bucket)
                .with_service_account_key(key.to_string())
                .with_base_url(&config.gcs_endpoint)
                .with_client_options(client_options(&config.gcs_endpoint))
                .with_retry(retries())
                .build()
                .map(Arc::new)
                .map_err(|_| {
                    StorageError::Credentials(
                        "credentials.keyfile: its private_key is not an RSA private key in PEM \
                         form"
                            .into(),
                    )
                })?
        }
        Location::Azure {
            account,
            key,
            container,
            ..
        } => {
            let endpoint = config.azure_blob_endpoint.replace("{account}", account);
            MicrosoftAzureBuilder::new()
                .with_account(account)
                .with_access_key(key.expose())
                .with_container_name(container)
                .with_endpoint(endpoint.clone())
                .with_client_options(client_options(&endpoint))
                .with_retry(retries())
                .build()
                .map(Arc::new)
                .map_err(|_| {
                    StorageError::Credentials(
                        "credentials.accountkey is not a storage account key (Base64)".into(),
                    )
                })?
        }
        _ => {
            return Err(StorageError::Failed(format!(
                "{} is not an object store",
                at.describe()
            )));
        }
    };
    let path = Path::parse(at.path()).map_err(|e| {
        StorageError::Failed(format!("{} is not a valid object name: {e}", at.describe()))
    })?;
    Ok((store, path))
}

fn error(at: &Location, e: object_store::Error) -> StorageError {
    let place = at.describe();
    match e {
        object_store::Error::NotFound { .. } => StorageError::NotFound(place),
        object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. } => {
            StorageError::Exists(place)
        }
        object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => StorageError::Denied {
            place,
            reason: "access denied".into(),
        },
        other => {
            // The error text has the request's URL and the service's answer; never a secret
            // (keys sign requests, they are not sent).
            tracing::warn!(provider = at.provider(), place = %place, error = %other, "storage request failed");
            StorageError::Unreachable(format!(
                "{place} could not be reached or the service failed (it answered: {})",
                short(&other.to_string())
            ))
        }
    }
}

/// The first line of an error, at most 300 characters.
fn short(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    line.chars().take(300).collect()
}

pub async fn read(config: &Config, at: &Location, max_bytes: u64) -> Result<Vec<u8>, StorageError> {
    let (store, path) = open(config, at)?;
    let got = store
        .get_opts(&path, GetOptions::default())
        .await
        .map_err(|e| error(at, e))?;
    if got.meta.size > max_bytes {
        return Err(StorageError::TooLarge { limit: max_bytes });
    }
    let mut bytes = Vec::with_capacity(got.meta.size as usize);
    let mut stream = got.into_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| error(at, e))?;
        if (bytes.len() + chunk.len()) as u64 > max_bytes {
            return Err(StorageError::TooLarge { limit: max_bytes });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// One conditional request: the store refuses it when the object exists (`overwrite`
/// false), so no check can race another writer. The payload shares the output's buffer.
pub async fn write(
    config: &Config,
    at: &Location,
    bytes: Bytes,
    content_type: &str,
    overwrite: bool,
) -> Result<(), StorageError> {
    let (store, path) = open(config, at)?;
    let mut attributes = Attributes::new();
    attributes.insert(Attribute::ContentType, content_type.to_string().into());
    let options = PutOptions {
        mode: if overwrite {
            PutMode::Overwrite
        } else {
            PutMode::Create
        },
        attributes,
        ..PutOptions::default()
    };
    store
        .put_opts(&path, PutPayload::from_bytes(bytes), options)
        .await
        .map(|_| ())
        .map_err(|e| error(at, e))
}
