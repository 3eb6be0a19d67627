//! The ports handlers and workers depend on: one small trait per capability. AWS adapters
//! implement them in `aws/`; nothing outside `aws/` touches an SDK client.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use crate::error::PortError;
use crate::image::model::{ImageRecord, UploadResult};
use crate::notify::delivery::{Attempt, Delivery};
use crate::task::model::{
    PdfOutput, ProjectRecord, S3Location, TaskFailure, TaskMessage, TaskRecord,
};

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

/// Projects, keyed by tenant key and name.
#[async_trait]
pub trait ProjectStore: Send + Sync {
    /// `ConditionFailed` if the tenant has a project of that name.
    async fn create(&self, project: &ProjectRecord) -> Result<(), PortError>;
    async fn get(&self, tenant_key: &str, name: &str) -> Result<Option<ProjectRecord>, PortError>;
    /// Up to `limit` projects in name order, after the name `after`; and whether more follow.
    async fn list(
        &self,
        tenant_key: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<ProjectRecord>, bool), PortError>;
    /// `NotFound` if there is no such project.
    async fn delete(&self, tenant_key: &str, name: &str) -> Result<(), PortError>;
}

/// The orders tasks can be listed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TaskSort {
    TaskId,
    StartTime,
    EndTime,
}

/// One page of a project's tasks as stored (expired ones included), each with the
/// position to continue after it.
pub struct TaskPage {
    pub tasks: Vec<(String, TaskRecord)>,
    pub more: bool,
}

/// How a task ends.
#[derive(Clone, Debug)]
pub enum TaskEnd {
    Succeeded(PdfOutput),
    Failed(TaskFailure),
}

/// Task records. Reads through `get` treat expired tasks as absent; state changes are
/// conditional, so a task cannot go back to running or end twice.
#[async_trait]
pub trait TaskStore: Send + Sync {
    /// `ConditionFailed` if a task of that id exists.
    async fn create(&self, task: &TaskRecord) -> Result<(), PortError>;
    async fn get(
        &self,
        tenant_key: &str,
        project: &str,
        task_id: &str,
    ) -> Result<Option<TaskRecord>, PortError>;
    /// A page of the project's tasks in `sort` order, after the position `after`.
    async fn page(
        &self,
        tenant_key: &str,
        project: &str,
        sort: TaskSort,
        descending: bool,
        after: Option<&str>,
        limit: usize,
    ) -> Result<TaskPage, PortError>;
    /// Makes `claim` the owner of a running task and counts the attempt; returns the task
    /// as claimed. `ConditionFailed` if the task is not running (or absent).
    async fn claim(
        &self,
        tenant_key: &str,
        project: &str,
        task_id: &str,
        claim: &str,
    ) -> Result<TaskRecord, PortError>;
    /// Records the multipart upload `claim`'s run writes through; `ConditionFailed` if
    /// another run has claimed the task or it ended.
    async fn record_upload(
        &self,
        task: &TaskRecord,
        claim: &str,
        upload_id: &str,
    ) -> Result<(), PortError>;
    /// `ConditionFailed` if another run has claimed the task or it ended.
    async fn progress(&self, task: &TaskRecord, claim: &str, progress: u8)
    -> Result<(), PortError>;
    /// Ends a running task (owned by `claim`, when given); returns it as ended.
    /// `ConditionFailed` if it ended already or another run owns it.
    async fn finish(
        &self,
        task: &TaskRecord,
        claim: Option<&str>,
        end: &TaskEnd,
    ) -> Result<TaskRecord, PortError>;
    async fn mark_notified(&self, task: &TaskRecord) -> Result<(), PortError>;
    /// Binds an idempotency key to a task for 24 hours. Returns the task id and request
    /// fingerprint already bound to the key, if a live binding exists; else binds it.
    async fn bind_idempotency_key(
        &self,
        tenant_key: &str,
        key: &str,
        fingerprint: &str,
        project: &str,
        task_id: &str,
    ) -> Result<Option<IdempotentCall>, PortError>;
}

/// A call already made with an idempotency key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotentCall {
    pub fingerprint: String,
    pub project: String,
    pub task_id: String,
}

/// The queue of PDF tasks.
#[async_trait]
pub trait TaskQueue: Send + Sync {
    async fn enqueue(&self, message: &TaskMessage) -> Result<(), PortError>;
}

/// Buckets as a task's worker sees them: through the roles the task names.
#[async_trait]
pub trait TaskStorage: Send + Sync {
    /// The whole object; `NotFound`, `Denied` or `TooLarge` (over `max_bytes`) when it
    /// cannot be read.
    async fn get(&self, at: &S3Location, max_bytes: u64) -> Result<Vec<u8>, PortError>;
    async fn start_upload(&self, at: &S3Location) -> Result<String, PortError>;
    /// Uploads part `number` (from 1); returns its ETag.
    async fn upload_part(
        &self,
        at: &S3Location,
        upload_id: &str,
        number: i32,
        data: Vec<u8>,
    ) -> Result<String, PortError>;
    async fn complete_upload(
        &self,
        at: &S3Location,
        upload_id: &str,
        parts: &[(i32, String)],
    ) -> Result<(), PortError>;
    async fn abort_upload(&self, at: &S3Location, upload_id: &str) -> Result<(), PortError>;
}

/// Assumes a chain of roles (each from the credentials of the one before) and gives the
/// storage seen through the last. `external_id` goes with every assumption.
#[async_trait]
pub trait RoleAssumer: Send + Sync {
    async fn storage_as(
        &self,
        roles: &[String],
        external_id: &str,
    ) -> Result<std::sync::Arc<dyn TaskStorage>, PortError>;
}
