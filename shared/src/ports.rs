//! The ports handlers and workers depend on: one small trait per capability. AWS adapters
//! implement them in `aws/`; nothing outside `aws/` touches an SDK client.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use crate::error::PortError;
use crate::image::model::{ImageRecord, UploadResult};
use crate::notify::delivery::{Attempt, Delivery};

/// Image records, keyed by tenant key and image id. Reads treat expired records as absent.
#[async_trait]
pub trait ImageRecords: Send + Sync {
    /// Creates the record; `ConditionFailed` if one with that id exists.
    async fn create(&self, record: &ImageRecord) -> Result<(), PortError>;
    async fn get(&self, tenant_key: &str, image_id: &str)
    -> Result<Option<ImageRecord>, PortError>;
    /// The live records among `ids`, in any order.
    async fn get_many(
        &self,
        tenant_key: &str,
        ids: &[String],
    ) -> Result<Vec<ImageRecord>, PortError>;
    /// Records the result of an upload. `ConditionFailed` when that object version
    /// (`result.etag`) was already recorded, or the record is gone.
    async fn record_upload(
        &self,
        tenant_key: &str,
        image_id: &str,
        result: &UploadResult,
    ) -> Result<(), PortError>;
    /// Notes that the notification of the upload `etag` was queued.
    async fn mark_notified(
        &self,
        tenant_key: &str,
        image_id: &str,
        etag: &str,
    ) -> Result<(), PortError>;
    /// Sets the given descriptive fields; `NotFound` if the record is absent or expired.
    async fn update_info(
        &self,
        tenant_key: &str,
        image_id: &str,
        info: &InfoUpdate,
    ) -> Result<(), PortError>;
    async fn delete(&self, tenant_key: &str, image_id: &str) -> Result<(), PortError>;
}

/// The descriptive fields `UpdateImageInfos` may change; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InfoUpdate {
    pub title: Option<String>,
    pub description: Option<String>,
    pub tags: Option<Vec<String>>,
    pub cate_id: Option<i64>,
}

/// The first bytes of an object, and what its metadata says of the whole.
#[derive(Clone, Debug)]
pub struct ObjectHead {
    pub bytes: Bytes,
    pub total_size: u64,
    pub etag: String,
}

/// Objects in buckets.
#[async_trait]
pub trait ObjectStore: Send + Sync {
    async fn presign_put(
        &self,
        bucket: &str,
        key: &str,
        ttl: Duration,
    ) -> Result<String, PortError>;
    async fn presign_get(
        &self,
        bucket: &str,
        key: &str,
        ttl: Duration,
    ) -> Result<String, PortError>;
    /// Up to `max_bytes` from the start of the object (a ranged GET); `NotFound` if absent.
    async fn read_head(
        &self,
        bucket: &str,
        key: &str,
        max_bytes: u64,
    ) -> Result<ObjectHead, PortError>;
    async fn delete(&self, bucket: &str, key: &str) -> Result<(), PortError>;
}

/// The notifications queue, as producers see it.
#[async_trait]
pub trait DeliveryQueue: Send + Sync {
    async fn enqueue(&self, deliveries: &[Delivery]) -> Result<(), PortError>;
    /// Makes a received message invisible for `delay` (the notifier's retry backoff).
    async fn postpone(&self, receipt_handle: &str, delay: Duration) -> Result<(), PortError>;
}

/// Where delivery attempts are recorded, beside the record they are about.
#[async_trait]
pub trait DeliveryLog: Send + Sync {
    async fn record_attempt(&self, delivery: &Delivery, attempt: &Attempt)
    -> Result<(), PortError>;
}

/// The AWS channels a notification can go to besides webhooks.
#[async_trait]
pub trait EventChannels: Send + Sync {
    async fn publish_sns(
        &self,
        topic_arn: &str,
        event_type: &str,
        body: &str,
    ) -> Result<(), PortError>;
    async fn put_event(
        &self,
        bus_name: &str,
        event_type: &str,
        detail: &str,
    ) -> Result<(), PortError>;
}
