//! The ports handlers and workers depend on: one small trait per capability. AWS adapters
//! implement them in `aws/`; nothing outside `aws/` touches an SDK client.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use crate::batch::model::{BatchMessage, BatchRecord, BatchRef, ItemCounts, ItemOutcome};
use crate::error::PortError;
use crate::image::model::{ImageRecord, UploadResult};
use crate::jobs::model::{
    InputRecord, JobMessageBody, JobRecord, JobStatus, OutputRecord, OutputStatus, PairRecord,
};
use crate::notify::delivery::{Attempt, Delivery, RecordedAttempt, Subject};
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
    /// Up to `limit` of the tenant's live records, newest first (the console's list).
    async fn recent(&self, tenant_key: &str, limit: usize) -> Result<Vec<ImageRecord>, PortError>;
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
    /// Writes a whole object whose key is free (`ConditionFailed` when one is there), and
    /// in an upload bucket sets off the upload trigger as any upload does.
    async fn create(
        &self,
        bucket: &str,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<(), PortError>;
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
    /// Whether this event's delivery to this target has ended (delivered, or stopped for
    /// good): a later copy of it is dropped, however late it comes.
    async fn has_ended(&self, delivery: &Delivery) -> Result<bool, PortError>;
    /// Notes that this event's delivery to this target has ended.
    async fn record_end(&self, delivery: &Delivery) -> Result<(), PortError>;
    /// Every attempt recorded about `subject` of the tenant, in key order (event, target,
    /// number), each with its delivery.
    async fn attempts(
        &self,
        tenant_key: &str,
        subject: &Subject,
    ) -> Result<Vec<RecordedAttempt>, PortError>;
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
    /// Replaces the project's record; `NotFound` if there is no such project (deleted
    /// meanwhile). The last of two updates at once wins.
    async fn replace(&self, project: &ProjectRecord) -> Result<(), PortError>;
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

impl TaskEnd {
    /// `task` as it is once ended this way at `now`: what every store writes.
    pub fn applied_to(&self, task: &TaskRecord, now: chrono::DateTime<chrono::Utc>) -> TaskRecord {
        let mut ended = task.clone();
        ended.end_time = Some(now);
        ended.expires_at = now.timestamp() + crate::config::RECORD_TTL.as_secs() as i64;
        ended.claim = None;
        match self {
            TaskEnd::Succeeded(output) => {
                ended.status = crate::task::model::TaskStatus::Succeeded;
                ended.progress = 100;
                ended.output = Some(output.clone());
                ended.code = None;
                ended.message = None;
            }
            TaskEnd::Failed(failure) => {
                ended.status = crate::task::model::TaskStatus::Failed;
                ended.code = Some(failure.code.to_string());
                ended.message = Some(failure.message.clone());
            }
        }
        ended
    }
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
    /// Writes a whole object in one request (it appears whole or not at all).
    async fn put(
        &self,
        at: &S3Location,
        data: Vec<u8>,
        content_type: &str,
    ) -> Result<(), PortError>;
    /// Up to `max` keys under `prefix` after `start_after`, in key order, and whether
    /// more follow. `NotFound` when the bucket does not exist.
    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        start_after: &str,
        max: usize,
    ) -> Result<(Vec<String>, bool), PortError>;
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

/// Conversion jobs: the job record (changed through `replace`, conditional on its
/// version), the outcome of each (input, conversion) pair and the outputs, in one place.
#[async_trait]
pub trait JobStore: Send + Sync {
    /// `ConditionFailed` if a job of that id exists.
    async fn create(&self, job: &JobRecord) -> Result<(), PortError>;
    /// The live job (expired ones are absent).
    async fn get(&self, job_id: &str) -> Result<Option<JobRecord>, PortError>;
    /// The live job with its pairs and outputs.
    async fn get_full(&self, job_id: &str) -> Result<Option<JobState>, PortError>;
    /// Writes `job` (its `version` one above `expected_version`) over the stored one;
    /// `ConditionFailed` if the stored version is not `expected_version`. Never used while
    /// pairs may be counting.
    async fn replace(&self, job: &JobRecord, expected_version: u64) -> Result<(), PortError>;
    /// Appends inputs to an open job in one atomic write (bumping its version), within
    /// `max_inputs`; `ConditionFailed` if the job is no longer open or would have too many.
    async fn append_inputs(
        &self,
        job_id: &str,
        inputs: &[InputRecord],
        max_inputs: u64,
    ) -> Result<(), PortError>;
    /// Moves a job from one of `from` to `to` (and bumps its version), without touching
    /// its counters; `ConditionFailed` if it is in another state.
    async fn set_status(
        &self,
        job_id: &str,
        from: &[JobStatus],
        to: JobStatus,
    ) -> Result<(), PortError>;
    /// The tenant's live jobs, newest first, with `status` when given: page `page` (from
    /// 1) of `per_page`, and how many there are in all.
    async fn list(
        &self,
        tenant_key: &str,
        status: Option<JobStatus>,
        page: usize,
        per_page: usize,
    ) -> Result<(Vec<JobRecord>, usize), PortError>;
    /// Reserves `credits` for a pair within `max_credit`; `true` if reserved now or
    /// before, `false` if the job's credits would go past the limit.
    async fn reserve_credits(
        &self,
        job_id: &str,
        pair_key: &str,
        credits: u64,
        max_credit: u64,
    ) -> Result<bool, PortError>;
    /// Records how a pair ended, its output (if any, with a pointer from its id to its
    /// job) and counts it done, all at once;
    /// `ConditionFailed` if the pair was recorded before or the job is no longer
    /// processing (nothing is written then).
    async fn complete_pair(
        &self,
        tenant_key: &str,
        job_id: &str,
        pair: &PairRecord,
        output: Option<&OutputRecord>,
    ) -> Result<(), PortError>;
    /// Records a piece of a chunked upload (its start and length); returns every piece
    /// recorded so far. Recording a piece twice changes nothing.
    async fn record_chunk(
        &self,
        job_id: &str,
        upload: &str,
        start: u64,
        len: u64,
    ) -> Result<Vec<(u64, u64)>, PortError>;
    /// `true` for the first caller only: that one joins the upload's pieces.
    async fn claim_chunks(&self, job_id: &str, upload: &str) -> Result<bool, PortError>;
    /// Whether the pair's outcome is recorded.
    /// Notes that the pair's output is being uploaded to its conversion's targets.
    async fn mark_uploading(
        &self,
        job_id: &str,
        input_id: &str,
        conversion_id: &str,
    ) -> Result<(), PortError>;
    async fn pair_recorded(
        &self,
        job_id: &str,
        input_id: &str,
        conversion_id: &str,
    ) -> Result<bool, PortError>;
    /// Sets the status of outputs (disabling them when a job fails or is canceled).
    async fn set_output_status(
        &self,
        job_id: &str,
        output_id: &str,
        status: OutputStatus,
    ) -> Result<(), PortError>;
    /// Renames an output (its `filename`) and sets its own download password (a hash);
    /// `None` leaves either as it is. `NotFound` if there is no such output.
    async fn change_output(
        &self,
        job_id: &str,
        output_id: &str,
        filename: Option<&str>,
        password_hash: Option<&str>,
    ) -> Result<(), PortError>;
    /// Counts one download of an enabled output, within `max_downloads`; returns the
    /// output as counted. `ConditionFailed` if it is not enabled or used up.
    async fn count_download(
        &self,
        job_id: &str,
        output_id: &str,
        max_downloads: Option<u64>,
    ) -> Result<OutputRecord, PortError>;
    async fn get_output(
        &self,
        job_id: &str,
        output_id: &str,
    ) -> Result<Option<OutputRecord>, PortError>;
    /// The job and tenant key of an output, by its id alone (for `output` inputs).
    async fn find_output(&self, output_id: &str) -> Result<Option<(String, String)>, PortError>;
    /// The job and tenant key of an input, by its id alone (for `input_id` inputs).
    async fn find_input(&self, input_id: &str) -> Result<Option<(String, String)>, PortError>;
    /// Records that these inputs (of a job of `tenant_key`) have their files, so later jobs
    /// may name them.
    async fn point_to_inputs(
        &self,
        tenant_key: &str,
        job_id: &str,
        input_ids: &[String],
    ) -> Result<(), PortError>;
}

/// A job with everything recorded of its run.
#[derive(Clone, Debug)]
pub struct JobState {
    pub job: JobRecord,
    pub pairs: Vec<PairRecord>,
    pub outputs: Vec<OutputRecord>,
    /// The (input, conversion) pairs whose outputs went to be uploaded to their targets.
    pub uploading: Vec<(String, String)>,
}

impl JobState {
    /// A job before its pairs run: its record is all of it.
    pub fn before_run(job: JobRecord) -> JobState {
        JobState {
            job,
            pairs: Vec::new(),
            outputs: Vec::new(),
            uploading: Vec::new(),
        }
    }
}

/// The jobs queue.
#[async_trait]
pub trait JobQueue: Send + Sync {
    async fn enqueue(&self, messages: &[JobMessageBody]) -> Result<(), PortError>;
}

/// Whole files in buckets: Folio's own (`FileStore` of the app) and users' (through the
/// credentials a job carries).
#[async_trait]
pub trait FileStore: Send + Sync {
    /// The whole object; `NotFound`, `Denied` or `TooLarge` (over `max_bytes`).
    async fn get(&self, bucket: &str, key: &str, max_bytes: u64) -> Result<Vec<u8>, PortError>;
    /// Writes the object in one request (it appears whole or not at all).
    async fn put(
        &self,
        bucket: &str,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<(), PortError>;
    /// Writes the object only if its key is free: `ConditionFailed` when an object has it.
    async fn put_new(
        &self,
        bucket: &str,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<(), PortError>;
    /// Deletes every object under `prefix`.
    async fn delete_prefix(&self, bucket: &str, prefix: &str) -> Result<(), PortError>;
    /// The keys under `prefix`, at most 10,001 of them, in no set order.
    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, PortError>;
    async fn presign_get(
        &self,
        bucket: &str,
        key: &str,
        ttl: Duration,
        filename: &str,
    ) -> Result<String, PortError>;
}

/// Static credentials a user gave for their bucket.
#[derive(Clone)]
pub struct UserCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    pub region: String,
}

impl std::fmt::Debug for UserCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UserCredentials([REDACTED])")
    }
}

/// Opens users' buckets with the credentials they gave.
pub trait UserStorage: Send + Sync {
    fn open(&self, credentials: &UserCredentials) -> std::sync::Arc<dyn FileStore>;
}

/// The orders batches can be listed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum BatchSort {
    CreateTime,
    UpdateTime,
}

/// Batches: the record (changed through `replace`, conditional on its version), and the
/// outcome of each object, counted once per run in sharded counters.
#[async_trait]
pub trait BatchStore: Send + Sync {
    /// `ConditionFailed` if a batch of that id exists.
    async fn create(&self, batch: &BatchRecord) -> Result<(), PortError>;
    /// The live batch. An eventually consistent read (`consistent` false) costs half.
    async fn get(
        &self,
        tenant_key: &str,
        project: &str,
        batch_id: &str,
        consistent: bool,
    ) -> Result<Option<BatchRecord>, PortError>;
    /// Writes `batch` with its version one up, if the stored one is still `batch.version`;
    /// returns what was written. `ConditionFailed` otherwise. (`UpdateTime` is the caller's
    /// to set: noting that the end message went out is not a change a user sees.)
    async fn replace(&self, batch: &BatchRecord) -> Result<BatchRecord, PortError>;
    /// Deletes the batch if it is still at `batch.version`.
    async fn delete(&self, batch: &BatchRecord) -> Result<(), PortError>;
    /// A page of a project's batches (expired ones included), each with the position to
    /// continue after it, and whether more follow.
    async fn page(
        &self,
        tenant_key: &str,
        project: &str,
        sort: BatchSort,
        descending: bool,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<(String, BatchRecord)>, bool), PortError>;
    /// Counts how an object ended in the batch's run, once: `false` if this run had
    /// counted it already (a redelivered item).
    async fn settle(&self, batch: &BatchRef, outcome: &ItemOutcome) -> Result<bool, PortError>;
    /// How an earlier run ended for the object: the run and its outcome.
    async fn outcome(
        &self,
        batch_id: &str,
        key: &str,
    ) -> Result<Option<(u32, ItemOutcome)>, PortError>;
    /// The run's counts, over every shard.
    async fn counts(&self, batch_id: &str, run: u32) -> Result<ItemCounts, PortError>;
    /// Up to `limit` objects that failed in the run, in key order.
    async fn failures(
        &self,
        batch_id: &str,
        run: u32,
        limit: usize,
    ) -> Result<Vec<ItemOutcome>, PortError>;
}

/// The batches queue: scanner pages, items and end checks. A `delay` holds the messages
/// back that long (up to 15 minutes).
#[async_trait]
pub trait BatchQueue: Send + Sync {
    async fn send(&self, messages: &[BatchMessage], delay: Duration) -> Result<(), PortError>;
}
