//! The upload buckets on one machine as the image library sees them: the data folder's
//! buckets, where an object created in an upload bucket sets off the upload trigger as S3's
//! event notification does in AWS.
//!
//! The trigger's message is queued before the object is placed and held back until it is:
//! a process killed in between still processes the upload (or finds no object, and does
//! nothing), and a message whose object was refused (its key taken) finds the object that
//! took it, already recorded.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use serde_json::json;

use super::buckets::{Buckets, ObjectInfo, Staged};
use super::queues::{Outgoing, Queues, UPLOADS};
use crate::error::PortError;
use crate::ports::{ObjectHead, ObjectStore};

/// How long an upload's message waits for its object to be placed, at most (only a
/// process killed between the two leaves it waiting that long).
pub const UPLOAD_EVENT_HOLD: Duration = Duration::from_secs(30);

/// The S3 notification an upload makes, as the upload worker reads it.
pub fn created_event(bucket: &str, key: &str, size: u64, etag: &str) -> String {
    json!({"Records": [{
        "eventSource": "folio:files",
        "eventName": "ObjectCreated:Put",
        "s3": {
            "bucket": {"name": bucket},
            "object": {"key": urlencoding::encode(key), "size": size, "eTag": etag}
        }
    }]})
    .to_string()
}

#[derive(Clone)]
pub struct UploadBuckets {
    buckets: Arc<Buckets>,
    queues: Arc<Queues>,
    upload_buckets: Vec<String>,
}

impl UploadBuckets {
    pub fn new(buckets: Arc<Buckets>, queues: Arc<Queues>, upload_buckets: Vec<String>) -> Self {
        UploadBuckets {
            buckets,
            queues,
            upload_buckets,
        }
    }

    /// Places a staged upload (only if its key is free, with `new_only`), with the upload
    /// trigger's message when the bucket is an upload bucket.
    pub async fn place(
        &self,
        bucket: &str,
        key: &str,
        staged: Staged,
        new_only: bool,
    ) -> Result<ObjectInfo, PortError> {
        let event = self
            .upload_buckets
            .iter()
            .any(|b| b == bucket)
            .then(|| Outgoing {
                id: Some(format!("upload:{}", uuid::Uuid::new_v4())),
                delay: UPLOAD_EVENT_HOLD,
                ..Outgoing::now(created_event(
                    bucket,
                    key,
                    staged.info.size,
                    &staged.info.etag,
                ))
            });
        if let Some(event) = &event {
            self.queues.send_to(UPLOADS, vec![event.clone()]).await?;
        }
        let info = self.buckets.place_staged(staged, new_only).await?;
        if let Some(id) = event.and_then(|e| e.id)
            && let Err(e) = self.queues.release(UPLOADS, &id).await
        {
            // The message still arrives once its hold ends.
            tracing::warn!(error = %e, "an upload's message waits for its hold to end");
        }
        Ok(info)
    }
}

#[async_trait]
impl ObjectStore for UploadBuckets {
    async fn presign_put(
        &self,
        bucket: &str,
        key: &str,
        ttl: Duration,
    ) -> Result<String, PortError> {
        self.buckets.grant_url("PUT", bucket, key, ttl, None)
    }

    async fn presign_get(
        &self,
        bucket: &str,
        key: &str,
        ttl: Duration,
    ) -> Result<String, PortError> {
        self.buckets.grant_url("GET", bucket, key, ttl, None)
    }

    async fn read_head(
        &self,
        bucket: &str,
        key: &str,
        max_bytes: u64,
    ) -> Result<ObjectHead, PortError> {
        self.buckets.read_head(bucket, key, max_bytes).await
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<(), PortError> {
        self.buckets.delete_object(bucket, key).await
    }

    async fn create(
        &self,
        bucket: &str,
        key: &str,
        bytes: Vec<u8>,
        _content_type: &str,
    ) -> Result<(), PortError> {
        let body = futures_util::stream::iter([Ok::<_, std::io::Error>(Bytes::from(bytes))]);
        let staged = self.buckets.stage(bucket, key, body, u64::MAX).await?;
        self.place(bucket, key, staged, true).await.map(|_| ())
    }
}
