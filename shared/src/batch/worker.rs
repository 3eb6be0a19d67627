//! The batch worker: scanner pages, items and end checks from the batches queue.
//!
//! - A scan of page `n` lists the next page of keys after the record's `Marker`, queues an
//!   item for each object the expressions keep, then claims the page (the marker moves on,
//!   the counts grow) with a write conditional on the record's version, and queues page
//!   `n + 1`, or a check after the last page. A scan that dies before its claim is redone
//!   whole (its items are queued twice and counted once); one that dies after it only
//!   queues what follows.
//! - An item converts one object and counts its outcome once per run (`settle`). While a
//!   batch is suspended its queued items still run, as IMM's do; once it failed they are
//!   dropped (a resume scans again). Items share one read of their run's record
//!   (`runs.rs`), so an object does not read the whole record.
//! - A check ends the run when every submitted item is counted, and otherwise comes back
//!   after `FOLIO_BATCH_CHECK_SECONDS`. The run ends by one conditional write, so it ends
//!   once, with one message.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use folio_engine::convert;
use folio_engine::convert::ConvertError;
use tracing::Instrument;

use super::announce::announce;
use super::model::{
    BatchMessage, BatchRecord, BatchRef, BatchState, FastFail, ItemOutcome, ScanPosition,
};
use super::runs::RunCache;
use crate::app::App;
use crate::error::PortError;
use crate::ports::TaskStorage;
use crate::queue::{QueueMessage, QueueWorker, WorkerError};
use crate::task::model::S3Location;

/// How often a write on the batch record is tried when another changed it meanwhile.
const WRITE_ATTEMPTS: usize = 5;

pub struct BatchWorker {
    pub app: Arc<App>,
    /// The records of the runs this process serves, shared by their items.
    runs: RunCache,
}

impl BatchWorker {
    pub fn new(app: Arc<App>) -> BatchWorker {
        BatchWorker {
            app,
            runs: RunCache::default(),
        }
    }
}

#[async_trait]
impl QueueWorker for BatchWorker {
    async fn handle(&self, message: &QueueMessage) -> Result<(), WorkerError> {
        let Ok(batch_message) = serde_json::from_str::<BatchMessage>(&message.body) else {
            tracing::error!(message_id = %message.id, "not a batch message; dropped");
            return Ok(());
        };
        let reference = batch_message.batch();
        let span =
            tracing::info_span!("batch", batch_id = %reference.batch_id, run = reference.run);
        async {
            match &batch_message {
                BatchMessage::Scan { batch, page } => scan(&self.app, batch, *page).await,
                BatchMessage::Item { batch, key } => item(&self.app, &self.runs, batch, key).await,
                BatchMessage::Check { batch } => check(&self.app, batch).await,
            }
        }
        .instrument(span)
        .await
    }
}

async fn read(
    app: &App,
    at: &BatchRef,
    consistent: bool,
) -> Result<Option<BatchRecord>, PortError> {
    app.batches
        .get(&at.tenant_key, &at.project_name, &at.batch_id, consistent)
        .await
}

/// The batch record as this message's run sees it: `None` when the batch is gone or has
/// moved to another run. An ended run whose message was not sent yet (a crash between the
/// end and the message) is announced here.
async fn current(
    app: &App,
    at: &BatchRef,
    consistent: bool,
) -> Result<Option<BatchRecord>, PortError> {
    let Some(batch) = read(app, at, consistent).await? else {
        return Ok(None);
    };
    if batch.run != at.run {
        return Ok(None);
    }
    if batch.has_ended() && batch.notified_run < batch.run {
        announce_end(app, batch.clone()).await?;
    }
    Ok(Some(batch))
}

async fn send(app: &App, message: BatchMessage, delay: Duration) -> Result<(), PortError> {
    app.batch_queue.send(&[message], delay).await
}

async fn scan(app: &App, at: &BatchRef, page: u64) -> Result<(), WorkerError> {
    let Some(mut batch) = current(app, at, true).await? else {
        return Ok(());
    };
    if batch.state != BatchState::Running {
        return Ok(());
    }
    if batch.scan.pages == page + 1 {
        // This page was claimed by a run that died before queueing what follows.
        return follow_scan(app, &batch).await.map_err(Into::into);
    }
    if batch.scan.pages != page || batch.scan.done {
        return Ok(());
    }
    let storage = match app
        .roles
        .storage_as(std::slice::from_ref(&batch.service_role), &batch.tenant_key)
        .await
    {
        Ok(storage) => storage,
        Err(PortError::Denied(detail)) => {
            return fail_run(app, batch, format!("ServiceRole: {detail}")).await;
        }
        Err(e) => return Err(e.into()),
    };
    let input = &batch.input;
    let listed = storage
        .list(
            &input.bucket,
            &input.prefix,
            &batch.scan.marker,
            app.config.batch_page_size,
        )
        .await;
    let (keys, more) = match listed {
        Ok(listed) => listed,
        Err(PortError::NotFound) => {
            let reason = format!("Input: the bucket {} does not exist", input.bucket);
            return fail_run(app, batch, reason).await;
        }
        Err(PortError::Denied(detail)) => {
            let reason = format!(
                "Input: s3://{}/{} cannot be listed through the ServiceRole: {detail}",
                input.bucket, input.prefix
            );
            return fail_run(app, batch, reason).await;
        }
        Err(e) => return Err(e.into()),
    };
    let matcher = match input.matcher.compile() {
        Ok(m) => m,
        Err(reason) => {
            return fail_run(app, batch, format!("Input.MatchExpressions: {reason}")).await;
        }
    };
    let items: Vec<BatchMessage> = keys
        .iter()
        .filter(|key| !key.ends_with('/') && matcher.keeps(key))
        .map(|key| BatchMessage::Item {
            batch: at.clone(),
            key: key.clone(),
        })
        .collect();
    app.batch_queue.send(&items, Duration::ZERO).await?;
    for _ in 0..WRITE_ATTEMPTS {
        let mut next = batch.clone();
        next.scan = ScanPosition {
            pages: page + 1,
            marker: keys
                .last()
                .cloned()
                .unwrap_or_else(|| batch.scan.marker.clone()),
            done: !more,
            submitted: batch.scan.submitted + items.len() as u64,
            skipped: batch.scan.skipped + (keys.len() - items.len()) as u64,
        };
        next.update_time = Utc::now();
        match app.batches.replace(&next).await {
            Ok(written) => {
                tracing::info!(
                    page,
                    items = items.len(),
                    done = written.scan.done,
                    "scanner page claimed"
                );
                return follow_scan(app, &written).await.map_err(Into::into);
            }
            Err(PortError::ConditionFailed) => {
                // Changed meanwhile (suspended, failed, or another scan of this page).
                match current(app, at, true).await? {
                    Some(b) if b.state == BatchState::Running && b.scan.pages == page => batch = b,
                    _ => return Ok(()),
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(WorkerError::Retry("the batch record kept changing".into()))
}

/// What follows a claimed page: the next page, or the first check after the last.
async fn follow_scan(app: &App, batch: &BatchRecord) -> Result<(), PortError> {
    let at = batch.reference();
    if batch.scan.done {
        send(
            app,
            BatchMessage::Check { batch: at },
            app.config.batch_check_interval,
        )
        .await
    } else {
        let page = batch.scan.pages;
        send(app, BatchMessage::Scan { batch: at, page }, Duration::ZERO).await
    }
}

async fn check(app: &App, at: &BatchRef) -> Result<(), WorkerError> {
    let Some(batch) = current(app, at, true).await? else {
        return Ok(());
    };
    if batch.state != BatchState::Running || !batch.scan.done {
        return Ok(());
    }
    let counts = app.batches.counts(&batch.id, batch.run).await?;
    if counts.settled() >= batch.scan.submitted {
        return end_run(app, batch, BatchState::Succeeded, String::new())
            .await
            .map_err(Into::into);
    }
    send(
        app,
        BatchMessage::Check { batch: at.clone() },
        app.config.batch_check_interval,
    )
    .await
    .map_err(Into::into)
}

async fn fail_run(app: &App, batch: BatchRecord, error: String) -> Result<(), WorkerError> {
    tracing::warn!(%error, "batch run failed");
    end_run(app, batch, BatchState::Failed, error)
        .await
        .map_err(Into::into)
}

/// Ends the run in `state`, with its counts, unless it ended or moved on meanwhile; the
/// write that ends it announces it.
pub async fn end_run(
    app: &App,
    mut batch: BatchRecord,
    state: BatchState,
    error: String,
) -> Result<(), PortError> {
    let at = batch.reference();
    for _ in 0..WRITE_ATTEMPTS {
        if batch.has_ended() || batch.run != at.run {
            return Ok(());
        }
        let mut next = batch.clone();
        next.state = state;
        next.error = error.clone();
        next.final_counts = Some(app.batches.counts(&batch.id, batch.run).await?);
        next.update_time = Utc::now();
        match app.batches.replace(&next).await {
            Ok(ended) => {
                tracing::info!(state = state.as_str(), "batch run ended");
                return announce_end(app, ended).await;
            }
            Err(PortError::ConditionFailed) => match read(app, &at, true).await? {
                Some(b) => batch = b,
                None => return Ok(()),
            },
            Err(e) => return Err(e),
        }
    }
    Err(PortError::backend(
        "ending a batch",
        "the batch record kept changing",
    ))
}

/// Sends the ended run's message, then notes it was sent.
async fn announce_end(app: &App, mut batch: BatchRecord) -> Result<(), PortError> {
    announce(app, &batch).await?;
    for _ in 0..WRITE_ATTEMPTS {
        if batch.notified_run >= batch.run {
            return Ok(());
        }
        let mut next = batch.clone();
        next.notified_run = batch.run;
        match app.batches.replace(&next).await {
            Ok(_) => return Ok(()),
            Err(PortError::ConditionFailed) => match read(app, &batch.reference(), true).await? {
                Some(b) => batch = b,
                None => return Ok(()),
            },
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

async fn item(app: &App, runs: &RunCache, at: &BatchRef, key: &str) -> Result<(), WorkerError> {
    let Some(batch) = run_of(app, runs, at).await? else {
        return Ok(());
    };
    let earlier = match batch.run {
        1 => None,
        _ => app.batches.outcome(&batch.id, key).await?,
    };
    let outcome = match earlier {
        // An earlier run converted it: counted again in this run, not redone.
        Some((run, outcome)) if run < batch.run && outcome.failure.is_none() => outcome,
        _ => match convert_object(app, &batch, key).await {
            Ok(outcome) => outcome,
            Err(Retry(e)) => return Err(e.into()),
        },
    };
    let ended = settle(app, at, &batch, outcome).await?;
    if ended {
        runs.forget(at);
    }
    Ok(())
}

/// The record of the item's run while the run goes on; `None` once it ended or moved on.
/// A copy this process read a moment ago serves (see `runs.rs`); otherwise an eventually
/// consistent read, which is half the price. Before an item is dropped (the batch gone,
/// another run, an end) the record is read again consistently, since a stale copy would
/// otherwise lose the item of a run just resumed.
async fn run_of(
    app: &App,
    runs: &RunCache,
    at: &BatchRef,
) -> Result<Option<Arc<BatchRecord>>, PortError> {
    if let Some(batch) = runs.fresh(at) {
        return Ok(Some(batch));
    }
    let fresh = match current(app, at, false).await? {
        Some(batch) if !batch.has_ended() => Some(batch),
        _ => current(app, at, true).await?,
    };
    match fresh {
        Some(batch) if !batch.has_ended() => {
            let batch = Arc::new(batch);
            runs.keep(at, batch.clone());
            Ok(Some(batch))
        }
        _ => {
            runs.forget(at);
            Ok(None)
        }
    }
}

/// Counts the outcome; the first failure of an `abort` batch fails its run. Returns
/// whether this ended the run.
pub async fn settle(
    app: &App,
    at: &BatchRef,
    batch: &BatchRecord,
    outcome: ItemOutcome,
) -> Result<bool, WorkerError> {
    let counted = app.batches.settle(at, &outcome).await?;
    match &outcome.failure {
        None => tracing::debug!(key = %outcome.key, counted, "object converted"),
        Some(f) => {
            tracing::info!(key = %outcome.key, code = %f.code, message = %f.message, counted, "object failed");
            if counted && batch.fast_fail == FastFail::Abort {
                let Some(latest) = read(app, at, true).await? else {
                    return Ok(true);
                };
                let error = format!("{}: {}: {}", outcome.key, f.code, f.message);
                end_run(app, latest, BatchState::Failed, error).await?;
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// A failure worth another delivery of the item.
struct Retry(PortError);

/// What a read or a write failing means for the object.
fn storage_outcome(key: &str, what: &str, error: PortError) -> Result<ItemOutcome, Retry> {
    match error {
        PortError::NotFound => Ok(ItemOutcome::failed(
            key,
            "ResourceNotFound",
            format!("{what} does not exist"),
        )),
        PortError::Denied(detail) => Ok(ItemOutcome::failed(
            key,
            "AccessDenied",
            format!("{what} cannot be reached through the ServiceRole: {detail}"),
        )),
        PortError::TooLarge { size, limit } => Ok(ItemOutcome::failed(
            key,
            "ObjectTooLarge",
            format!("{what} is {size} bytes; the limit is {limit}"),
        )),
        other => Err(Retry(other)),
    }
}

fn convert_failure(key: &str, error: ConvertError) -> ItemOutcome {
    let code = match &error {
        ConvertError::Plan(_) => "InvalidParameter",
        ConvertError::Unsupported(_) => "UnsupportedFormat",
        ConvertError::TooLarge(_) => "ImageTooLarge",
        ConvertError::Corrupt(_) => "InvalidImage",
        ConvertError::Encode { .. } => "EncodeFailed",
    };
    ItemOutcome::failed(key, code, error.to_string())
}

/// Reads the object, runs the recipe and writes every output.
async fn convert_object(app: &App, batch: &BatchRecord, key: &str) -> Result<ItemOutcome, Retry> {
    let storage: Arc<dyn TaskStorage> = match app
        .roles
        .storage_as(std::slice::from_ref(&batch.service_role), &batch.tenant_key)
        .await
    {
        Ok(s) => s,
        Err(e) => return storage_outcome(key, "the ServiceRole", e),
    };
    let source = S3Location {
        bucket: batch.input.bucket.clone(),
        key: key.to_string(),
        scheme: batch.input_scheme(),
    };
    let data = match storage.get(&source, app.config.max_source_bytes).await {
        Ok(data) => Arc::new(data),
        Err(e) => return storage_outcome(key, &source.uri(), e),
    };
    let mut written = 0;
    for output in &batch.recipe.outputs {
        let mut plan = output.plan.clone();
        plan.target.format = output.format_for(key);
        let limits = app.config.image_limits();
        let bytes = data.clone();
        let converted = crate::blocking::run(move || convert(&bytes, &plan, &limits))
            .await
            .map_err(|e| Retry(PortError::backend("converting an object", e)))?;
        let converted = match converted {
            Ok(c) => c,
            Err(e) => return Ok(convert_failure(key, e)),
        };
        let target = output.location(&batch.input.bucket, key);
        let content_type = crate::jobs::content_type(&converted.bytes);
        if let Err(e) = storage.put(&target, converted.bytes, content_type).await {
            return storage_outcome(key, &format!("the output {}", target.uri()), e);
        }
        written += 1;
    }
    Ok(ItemOutcome::succeeded(key, written))
}

/// An item whose message kept failing counts as failed, so the run still ends.
pub async fn give_up_item(app: &App, at: &BatchRef, key: &str) -> Result<(), WorkerError> {
    let Some(batch) = current(app, at, true).await? else {
        return Ok(());
    };
    if batch.has_ended() {
        return Ok(());
    }
    let outcome = ItemOutcome::failed(
        key,
        "ProcessingFailed",
        "the object could not be processed after repeated attempts",
    );
    settle(app, at, &batch, outcome).await.map(|_| ())
}

/// A batch message that kept failing: an item counts as failed, a scanner page fails the
/// run (a resume scans again), a check is queued anew.
pub async fn give_up(app: &App, message: &BatchMessage) -> Result<(), WorkerError> {
    match message {
        BatchMessage::Scan { batch: at, page } => {
            let Some(batch) = current(app, at, true).await? else {
                return Ok(());
            };
            if batch.state != BatchState::Running || batch.scan.pages != *page {
                return Ok(());
            }
            let error = format!(
                "the scan of s3://{}/{} failed repeatedly after {} pages; ResumeBatch scans again",
                batch.input.bucket, batch.input.prefix, page
            );
            fail_run(app, batch, error).await
        }
        BatchMessage::Check { batch } => {
            send(app, message.clone(), app.config.batch_check_interval)
                .await
                .map_err(|e| {
                    tracing::error!(batch_id = %batch.batch_id, error = %e, "a check could not be queued again");
                    e.into()
                })
        }
        BatchMessage::Item { batch, key } => give_up_item(app, batch, key).await,
    }
}
