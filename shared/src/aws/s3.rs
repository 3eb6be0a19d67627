use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::presigning::{PresignedRequest, PresigningConfig};

use super::describe;
use crate::error::PortError;
use crate::ports::{ObjectHead, ObjectStore};

#[derive(Clone)]
pub struct S3Objects {
    client: Client,
}

impl S3Objects {
    pub fn new(client: Client) -> Self {
        S3Objects { client }
    }
}

fn presigning(ttl: Duration) -> Result<PresigningConfig, PortError> {
    PresigningConfig::expires_in(ttl).map_err(|e| PortError::backend("presigning", e))
}

fn presigned_uri<E: std::error::Error + 'static>(
    result: Result<PresignedRequest, aws_sdk_s3::error::SdkError<E>>,
) -> Result<String, PortError> {
    result
        .map(|request| request.uri().to_string())
        .map_err(|e| PortError::backend("presigning a URL", describe(e)))
}

/// The total size from a `Content-Range: bytes 0-99/1234` header.
fn total_from_range(range: &str) -> Option<u64> {
    range.rsplit_once('/')?.1.parse().ok()
}

#[async_trait]
impl ObjectStore for S3Objects {
    async fn create(
        &self,
        bucket: &str,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<(), PortError> {
        // S3 sends the upload trigger's event itself.
        super::files::put_object(&self.client, bucket, key, bytes, content_type, true).await
    }

    async fn presign_put(
        &self,
        bucket: &str,
        key: &str,
        ttl: Duration,
    ) -> Result<String, PortError> {
        let request = self.client.put_object().bucket(bucket).key(key);
        presigned_uri(request.presigned(presigning(ttl)?).await)
    }

    async fn presign_get(
        &self,
        bucket: &str,
        key: &str,
        ttl: Duration,
    ) -> Result<String, PortError> {
        let request = self.client.get_object().bucket(bucket).key(key);
        presigned_uri(request.presigned(presigning(ttl)?).await)
    }

    async fn read_head(
        &self,
        bucket: &str,
        key: &str,
        max_bytes: u64,
    ) -> Result<ObjectHead, PortError> {
        let result = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .range(format!("bytes=0-{}", max_bytes.saturating_sub(1)))
            .send()
            .await;
        let out = match result {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => {
                return Err(PortError::NotFound);
            }
            // An empty object has no byte 0: S3 answers 416, so read it whole.
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 416) => self
                .client
                .get_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .map_err(|e| PortError::backend("reading an object", describe(e)))?,
            Err(e) => return Err(PortError::backend("reading an object", describe(e))),
        };
        let etag = out
            .e_tag()
            .unwrap_or_default()
            .trim_matches('"')
            .to_string();
        let length = out.content_length().unwrap_or(0).max(0) as u64;
        let total_size = out
            .content_range()
            .and_then(total_from_range)
            .unwrap_or(length);
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| PortError::backend("reading an object", e))?
            .into_bytes();
        Ok(ObjectHead {
            bytes,
            total_size,
            etag,
        })
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<(), PortError> {
        self.client
            .delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| PortError::backend("deleting an object", describe(e)))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn content_range_total() {
        assert_eq!(
            super::total_from_range("bytes 0-65535/123456"),
            Some(123456)
        );
        assert_eq!(super::total_from_range("bytes */0"), Some(0));
        assert_eq!(super::total_from_range("garbage"), None);
    }
}
