//! Whole files in S3: Folio's job files in its own bucket, and users' buckets opened with
//! the credentials a job carries (cloud inputs and output targets).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_s3::config::{Credentials, Region};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};

use super::describe;
use super::task_storage::is_denied;
use crate::error::PortError;
use crate::ports::{FileStore, UserCredentials, UserStorage};

#[derive(Clone)]
pub struct S3Files {
    client: aws_sdk_s3::Client,
}

impl S3Files {
    pub fn new(client: aws_sdk_s3::Client) -> Self {
        S3Files { client }
    }
}

fn read_error<E>(context: &'static str, e: aws_sdk_s3::error::SdkError<E>) -> PortError
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    let status = e.raw_response().map(|r| r.status().as_u16());
    let code = e
        .as_service_error()
        .and_then(|s| s.code())
        .map(str::to_string);
    match (status, code.as_deref()) {
        (Some(412), _) | (_, Some("PreconditionFailed")) => PortError::ConditionFailed,
        (Some(404), _) | (_, Some("NoSuchKey" | "NoSuchBucket")) => PortError::NotFound,
        (Some(403), _) => PortError::Denied(describe(e)),
        (_, c) if is_denied(c) => PortError::Denied(describe(e)),
        _ => PortError::backend(context, describe(e)),
    }
}

/// Writes a whole object in one request; `NotFound` (no such bucket) or `Denied`.
pub(super) async fn put_whole(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    bytes: Vec<u8>,
    content_type: &str,
) -> Result<(), PortError> {
    put_object(client, bucket, key, bytes, content_type, false).await
}

/// Writes a whole object in one request; with `new_only`, only if its key is free
/// (`ConditionFailed` otherwise).
pub(super) async fn put_object(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    bytes: Vec<u8>,
    content_type: &str,
    new_only: bool,
) -> Result<(), PortError> {
    client
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type(content_type)
        .set_if_none_match(new_only.then(|| "*".to_string()))
        .body(bytes.into())
        .send()
        .await
        .map_err(|e| read_error("writing a file", e))?;
    Ok(())
}

/// Up to `max` keys under `prefix` after `start_after`, and whether more follow.
pub(super) async fn list_keys(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    start_after: &str,
    max: usize,
) -> Result<(Vec<String>, bool), PortError> {
    let mut request = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .max_keys(max.min(1000) as i32);
    if !start_after.is_empty() {
        request = request.start_after(start_after);
    }
    let out = request
        .send()
        .await
        .map_err(|e| read_error("listing a bucket", e))?;
    let keys = out
        .contents
        .unwrap_or_default()
        .into_iter()
        .filter_map(|o| o.key)
        .collect();
    Ok((keys, out.is_truncated.unwrap_or(false)))
}

/// A whole object, read only if it is within `max_bytes`: `NotFound`, `Denied` or `TooLarge`
/// otherwise. Job files and PDF task sources are read through this.
pub(super) async fn get_whole(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    max_bytes: u64,
    context: &'static str,
) -> Result<Vec<u8>, PortError> {
    let out = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| read_error(context, e))?;
    let size = out.content_length().unwrap_or(0).max(0) as u64;
    if size > max_bytes {
        return Err(PortError::TooLarge {
            size,
            limit: max_bytes,
        });
    }
    let bytes = out
        .body
        .collect()
        .await
        .map_err(|e| PortError::backend(context, e))?;
    Ok(bytes.to_vec())
}

#[async_trait]
impl FileStore for S3Files {
    async fn get(&self, bucket: &str, key: &str, max_bytes: u64) -> Result<Vec<u8>, PortError> {
        get_whole(&self.client, bucket, key, max_bytes, "reading a file").await
    }

    async fn put(
        &self,
        bucket: &str,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<(), PortError> {
        put_whole(&self.client, bucket, key, bytes, content_type).await
    }

    async fn put_new(
        &self,
        bucket: &str,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<(), PortError> {
        put_object(&self.client, bucket, key, bytes, content_type, true).await
    }

    async fn delete_prefix(&self, bucket: &str, prefix: &str) -> Result<(), PortError> {
        let mut token = None;
        loop {
            let out = self
                .client
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .set_continuation_token(token)
                .send()
                .await
                .map_err(|e| PortError::backend("listing files", describe(e)))?;
            let ids: Vec<ObjectIdentifier> = out
                .contents()
                .iter()
                .filter_map(|o| o.key())
                .filter_map(|k| ObjectIdentifier::builder().key(k).build().ok())
                .collect();
            if !ids.is_empty() {
                let delete = Delete::builder()
                    .set_objects(Some(ids))
                    .quiet(true)
                    .build()
                    .map_err(|e| PortError::backend("deleting files", e))?;
                self.client
                    .delete_objects()
                    .bucket(bucket)
                    .delete(delete)
                    .send()
                    .await
                    .map_err(|e| PortError::backend("deleting files", describe(e)))?;
            }
            token = out.next_continuation_token;
            if token.is_none() {
                return Ok(());
            }
        }
    }

    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, PortError> {
        let mut keys = Vec::new();
        let mut after = String::new();
        loop {
            let (page, more) = list_keys(&self.client, bucket, prefix, &after, 1000).await?;
            keys.extend(page);
            if !more || keys.len() > 10_000 {
                return Ok(keys);
            }
            after = keys.last().cloned().unwrap_or_default();
        }
    }

    async fn presign_get(
        &self,
        bucket: &str,
        key: &str,
        ttl: Duration,
        filename: &str,
    ) -> Result<String, PortError> {
        let config =
            PresigningConfig::expires_in(ttl).map_err(|e| PortError::backend("presigning", e))?;
        let disposition = format!(
            "attachment; filename=\"{}\"",
            filename.replace(['"', '\\', '\r', '\n'], "_")
        );
        self.client
            .get_object()
            .bucket(bucket)
            .key(key)
            .response_content_disposition(disposition)
            .presigned(config)
            .await
            .map(|r| r.uri().to_string())
            .map_err(|e| PortError::backend("presigning a URL", describe(e)))
    }
}

/// Users' buckets, reached with their own credentials (and the stack's endpoint, so the
/// local stack reaches the emulator).
pub struct S3UserStorage {
    sdk: SdkConfig,
}

impl S3UserStorage {
    pub fn new(sdk: SdkConfig) -> Self {
        S3UserStorage { sdk }
    }
}

impl UserStorage for S3UserStorage {
    fn open(&self, c: &UserCredentials) -> Arc<dyn FileStore> {
        let credentials = Credentials::new(
            c.access_key_id.clone(),
            c.secret_access_key.clone(),
            c.session_token.clone(),
            None,
            "folio-job-credentials",
        );
        let config = aws_sdk_s3::config::Builder::from(&self.sdk)
            .force_path_style(self.sdk.endpoint_url().is_some())
            .credentials_provider(credentials)
            .region(Region::new(c.region.clone()))
            .build();
        Arc::new(S3Files::new(aws_sdk_s3::Client::from_conf(config)))
    }
}
