//! The PDF worker: claims a task, reads its sources through the project's role, writes the
//! PDF to `TargetURI` as it goes (a multipart upload, a part whenever 8 MiB are ready), and
//! ends the task `Succeeded` or `Failed` with a code and a message naming the bad source.
//!
//! A redelivered message finds the task ended and only makes up a missing notification. A
//! run that dies leaves its claim behind; the next delivery claims the task anew, and the
//! old run, if it still lives, loses every conditional write and abandons its upload. A
//! message that keeps failing reaches the dead-letter queue, whose worker ends the task.

use std::collections::VecDeque;
use std::sync::Arc;

use async_trait::async_trait;
use tokio::task::JoinHandle;
use tracing::Instrument;

use super::announce::announce;
use super::model::{PdfOutput, S3Location, TaskFailure, TaskMessage, TaskRecord};
use crate::app::App;
use crate::error::PortError;
use crate::ports::{TaskEnd, TaskStorage};
use crate::queue::{QueueMessage, QueueWorker, WorkerError};
use folio_engine::pdf::{PdfBuilder, PdfError, PdfOptions, prepare_image};

/// Parts are uploaded once this much PDF is ready (S3 wants at least 5 MiB but the last).
const PART_SIZE: usize = 8 << 20;

pub struct PdfWorker {
    pub app: Arc<App>,
}

/// How a run ended, short of a PDF.
enum RunError {
    /// The task cannot succeed: it ends `Failed` with this.
    Failed(TaskFailure),
    /// Another run claimed the task meanwhile; it owns the outcome.
    Lost,
    /// Worth another try (the message is redelivered).
    Transient(PortError),
}

impl From<PortError> for RunError {
    fn from(e: PortError) -> Self {
        match e {
            PortError::ConditionFailed => RunError::Lost,
            other => RunError::Transient(other),
        }
    }
}

/// What a source read or a target write failing means for the task.
fn storage_failure(what: &str, error: PortError) -> RunError {
    match error {
        PortError::NotFound => RunError::Failed(TaskFailure::new(
            "ResourceNotFound",
            format!("{what} does not exist"),
        )),
        PortError::Denied(detail) => RunError::Failed(TaskFailure::new(
            "AccessDenied",
            format!("{what} cannot be reached through the project's ServiceRole: {detail}"),
        )),
        PortError::TooLarge { size, limit } => RunError::Failed(TaskFailure::new(
            "InvalidImage",
            format!("{what} is {size} bytes; the limit is {limit}"),
        )),
        other => RunError::Transient(other),
    }
}

fn source_name(index: usize, at: &S3Location) -> String {
    format!("Sources[{index}] ({})", at.uri())
}

fn target_name(at: &S3Location) -> String {
    format!("TargetURI ({})", at.uri())
}

#[async_trait]
impl QueueWorker for PdfWorker {
    async fn handle(&self, message: &QueueMessage) -> Result<(), WorkerError> {
        let Ok(task) = serde_json::from_str::<TaskMessage>(&message.body) else {
            tracing::error!(message_id = %message.id, "not a task message; dropped");
            return Ok(());
        };
        self.process(&task).await
    }
}

impl PdfWorker {
    pub async fn process(&self, message: &TaskMessage) -> Result<(), WorkerError> {
        let app = &self.app;
        let (tenant, project, id) = (
            message.tenant_key.as_str(),
            message.project_name.as_str(),
            message.task_id.as_str(),
        );
        let Some(task) = app.tasks.get(tenant, project, id).await? else {
            tracing::warn!(task_id = id, "no live task for the message; dropped");
            return Ok(());
        };
        if task.status.is_final() {
            if !task.notified {
                announce(app, &task).await?;
            }
            return Ok(());
        }
        let claim = uuid::Uuid::new_v4().to_string();
        let task = match app.tasks.claim(tenant, project, id, &claim).await {
            Ok(task) => task,
            Err(PortError::ConditionFailed) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let span = tracing::info_span!("task", task_id = id, attempt = task.attempts);
        self.run_claimed(&task, &claim).instrument(span).await
    }

    /// Runs a claimed task to its end, unless another run takes it over.
    async fn run_claimed(&self, task: &TaskRecord, claim: &str) -> Result<(), WorkerError> {
        let app = &self.app;
        let end = match self.run(task, claim).await {
            Ok(output) => TaskEnd::Succeeded(output),
            Err(RunError::Failed(failure)) => TaskEnd::Failed(failure),
            Err(RunError::Lost) => {
                tracing::info!("another run claimed the task; this one stops");
                return Ok(());
            }
            Err(RunError::Transient(e)) => {
                tracing::warn!(error = %e, "the run failed; the task is tried again");
                return Err(WorkerError::Retry(e.to_string()));
            }
        };
        match app.tasks.finish(task, Some(claim), &end).await {
            Ok(ended) => {
                match (&ended.code, &ended.message) {
                    (Some(code), message) => tracing::info!(
                        status = ended.status.as_str(),
                        %code,
                        message = message.as_deref().unwrap_or_default(),
                        "task ended"
                    ),
                    (None, _) => tracing::info!(status = ended.status.as_str(), "task ended"),
                }
                announce(app, &ended).await?;
                Ok(())
            }
            Err(PortError::ConditionFailed) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn run(&self, task: &TaskRecord, claim: &str) -> Result<PdfOutput, RunError> {
        let roles: Vec<String> = std::iter::once(task.service_role.clone())
            .chain(task.job.role_chain.iter().cloned())
            .collect();
        let storage = self
            .app
            .roles
            .storage_as(&roles, &task.tenant_key)
            .await
            .map_err(|e| storage_failure("the ServiceRole", e))?;
        let target = &task.job.target;
        let target_name = target_name(target);
        // A run that died left its upload open (its parts are billed until aborted).
        if let Some(abandoned) = &task.upload_id
            && let Err(error) = storage.abort_upload(target, abandoned).await
        {
            tracing::warn!(%error, "the upload of an earlier run could not be aborted");
        }
        let upload = storage.start_upload(target).await.map_err(|e| match e {
            PortError::NotFound => RunError::Failed(TaskFailure::new(
                "ResourceNotFound",
                format!("{target_name}: the bucket {} does not exist", target.bucket),
            )),
            other => storage_failure(&target_name, other),
        })?;
        let written = match self.app.tasks.record_upload(task, claim, &upload).await {
            Ok(()) => self.write(task, claim, &storage, &upload).await,
            Err(e) => Err(e.into()),
        };
        let finished = match written {
            Ok((output, parts)) => match self.app.tasks.progress(task, claim, 100).await {
                // Still ours: the PDF becomes visible only now, once.
                Ok(()) => storage
                    .complete_upload(target, &upload, &parts)
                    .await
                    .map(|()| output)
                    .map_err(|e| storage_failure(&target_name, e)),
                Err(e) => Err(e.into()),
            },
            Err(e) => Err(e),
        };
        if finished.is_err()
            && let Err(error) = storage.abort_upload(target, &upload).await
        {
            tracing::warn!(%error, "an unfinished upload could not be abandoned");
        }
        finished
    }

    /// Streams every source into the PDF, uploading parts as they fill. Up to
    /// `SOURCES_AHEAD` sources are read ahead while one is prepared, and up to
    /// `PARTS_IN_FLIGHT` parts upload while the next fills, so memory stays a few images
    /// and parts, whatever the number of sources.
    async fn write(
        &self,
        task: &TaskRecord,
        claim: &str,
        storage: &Arc<dyn TaskStorage>,
        upload: &str,
    ) -> Result<(PdfOutput, Vec<(i32, String)>), RunError> {
        let config = &self.app.config;
        let options = PdfOptions {
            page: task.job.page.options().map_err(|(field, reason)| {
                RunError::Failed(TaskFailure::new(
                    "InvalidParameter",
                    format!("{field}: {reason}"),
                ))
            })?,
            limits: config.image_limits(),
            jpeg_quality: task.job.page.jpeg_quality,
        };
        let sources = &task.job.sources;
        let fetch = |index: usize| {
            let storage = storage.clone();
            let at = sources[index].location.clone();
            let max = config.max_source_bytes;
            async move {
                storage
                    .get(&at, max)
                    .await
                    .map_err(|e| storage_failure(&source_name(index, &at), e))
            }
        };
        let upload_part = |number: i32, data: Vec<u8>| {
            let storage = storage.clone();
            let target = task.job.target.clone();
            let upload = upload.to_string();
            async move {
                storage
                    .upload_part(&target, &upload, number, data)
                    .await
                    .map(|etag| (number, etag))
                    .map_err(|e| storage_failure(&target_name(&target), e))
            }
        };
        let mut builder = PdfBuilder::new(Vec::with_capacity(PART_SIZE * 2), options.clone())
            .map_err(|e| RunError::Transient(PortError::backend("starting a PDF", e)))?;
        let mut fetches = InFlight::new(SOURCES_AHEAD);
        let mut uploads = InFlight::new(PARTS_IN_FLIGHT);
        let mut parts: Vec<(i32, String)> = Vec::new();
        let (mut fetched, mut started_parts, mut reported) = (0, 0, 0u8);
        for (index, source) in sources.iter().enumerate() {
            while !fetches.is_full() && fetched < sources.len() {
                fetches.start(fetch(fetched));
                fetched += 1;
            }
            let data = fetches.next().await.unwrap_or_else(nothing_started)?;
            let options = options.clone();
            let prepared =
                tokio::task::spawn_blocking(move || prepare_image(index, data, &options))
                    .await
                    .map_err(|e| RunError::Transient(PortError::backend("preparing an image", e)))?
                    .map_err(|e| refused(index, &source.location, e))?;
            builder
                .add_prepared(prepared, source.rotate)
                .map_err(|e| refused(index, &source.location, e))?;
            if builder.sink_mut().len() >= PART_SIZE {
                let part = std::mem::replace(builder.sink_mut(), Vec::with_capacity(PART_SIZE * 2));
                if uploads.is_full() {
                    parts.push(uploads.next().await.unwrap_or_else(nothing_started)?);
                }
                started_parts += 1;
                uploads.start(upload_part(started_parts, part));
            }
            let progress = ((index + 1) * 100 / sources.len()).min(99) as u8;
            if progress / 10 > reported / 10 {
                self.app.tasks.progress(task, claim, progress).await?;
                reported = progress;
            }
        }
        let summary = builder
            .finish()
            .map_err(|e| RunError::Transient(PortError::backend("finishing a PDF", e)))?;
        let (pages, size) = (summary.pages as u32, summary.bytes);
        uploads.start(upload_part(started_parts + 1, summary.sink));
        while let Some(part) = uploads.next().await {
            parts.push(part?);
        }
        Ok((PdfOutput { size, pages }, parts))
    }
}

/// Sources read ahead of the one being prepared, and parts uploading at once.
const SOURCES_AHEAD: usize = 3;
const PARTS_IN_FLIGHT: usize = 2;

fn nothing_started<T>() -> Result<T, RunError> {
    Err(RunError::Transient(PortError::backend(
        "writing a PDF",
        "no read or upload was under way",
    )))
}

/// Work spawned in order and taken back in that order, at most `depth` at a time; what is
/// still running when the run gives up is aborted.
struct InFlight<T> {
    depth: usize,
    tasks: VecDeque<JoinHandle<Result<T, RunError>>>,
}

impl<T: Send + 'static> InFlight<T> {
    fn new(depth: usize) -> Self {
        InFlight {
            depth,
            tasks: VecDeque::new(),
        }
    }

    fn is_full(&self) -> bool {
        self.tasks.len() >= self.depth
    }

    fn start(&mut self, work: impl Future<Output = Result<T, RunError>> + Send + 'static) {
        self.tasks.push_back(tokio::spawn(work));
    }

    /// The oldest work's result; `None` when none is under way.
    async fn next(&mut self) -> Option<Result<T, RunError>> {
        let task = self.tasks.pop_front()?;
        Some(task.await.unwrap_or_else(|e| {
            Err(RunError::Transient(PortError::backend(
                "a read or an upload",
                e,
            )))
        }))
    }
}

impl<T> Drop for InFlight<T> {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// An image the engine refused ends the task, naming the source by its position and URI.
fn refused(index: usize, at: &S3Location, error: PdfError) -> RunError {
    match error {
        PdfError::Image { reason, .. } => RunError::Failed(TaskFailure::new(
            "InvalidImage",
            format!("{}: {reason}", source_name(index, at)),
        )),
        PdfError::Rotation(r) => RunError::Failed(TaskFailure::new(
            "InvalidParameter",
            format!("Sources[{index}].Rotate: {r} is not 0, 90, 180 or 270"),
        )),
        other => RunError::Transient(PortError::backend("writing a PDF", other)),
    }
}
