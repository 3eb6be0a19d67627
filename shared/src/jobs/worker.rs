//! The jobs worker: a `Start` message fetches the job's inputs (in parallel) and queues one
//! `Pair` message per (input, conversion); a `Pair` message converts one input with one
//! conversion, records the outcome with its output and counts it, all in one write; the
//! pair that counts last ends the job. Every step may be redelivered: a pair is recorded
//! once, the job ends once (a write conditional on its version), and its final callback is
//! queued until it is noted as queued.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use folio_engine::convert::ConvertError;
use folio_engine::convert_owned;
use sha2::{Digest, Sha256};

use super::announce::announce;
use super::model::{
    ConversionRecord, InputRecord, InputStatus, JobMessage, JobMessageBody, JobRecord, JobStatus,
    OutputRecord, OutputStatus, OutputTarget, PairOutcome, PairRecord, StoredFile, codes,
    credits_for,
};
use super::{enter, facts, fetch, files_prefix, options, parse};
use crate::app::App;
use crate::config::RECORD_TTL;
use crate::error::PortError;
use crate::ports::JobState;
use crate::queue::{QueueMessage, QueueWorker, WorkerError};
use crate::storage::{self, Location};

/// How many inputs of a job are fetched at once.
const PARALLEL_FETCHES: usize = 8;

pub struct JobWorker {
    pub app: Arc<App>,
}

#[async_trait]
impl QueueWorker for JobWorker {
    async fn handle(&self, message: &QueueMessage) -> Result<(), WorkerError> {
        let body: JobMessageBody = match serde_json::from_str(&message.body) {
            Ok(b) => b,
            Err(error) => {
                // Only Folio writes this queue; a message it cannot read will never run.
                tracing::error!(message_id = %message.id, %error, "unreadable job message dropped");
                return Ok(());
            }
        };
        match &body {
            JobMessageBody::Start { job_id } => start(&self.app, job_id).await,
            JobMessageBody::Pair {
                job_id,
                input_id,
                conversion_id,
            } => pair(&self.app, job_id, input_id, conversion_id).await,
        }
    }
}

/// The largest input a job reads: its own limit within Folio's.
pub fn max_input_bytes(app: &App, job: &JobRecord) -> u64 {
    let cap = app.config.max_source_bytes;
    job.limits.max_file_size.map_or(cap, |m| m.min(cap))
}

/// Where an input's file is kept in Folio's bucket.
pub fn input_location(app: &App, job: &JobRecord, input_id: &str) -> StoredFile {
    StoredFile {
        bucket: app.config.default_bucket().to_string(),
        key: format!("{}input/{input_id}", files_prefix(job)),
    }
}

async fn start(app: &Arc<App>, job_id: &str) -> Result<(), WorkerError> {
    // Before its pairs run a job is its record alone.
    let Some(mut job) = app.jobs.get(job_id).await? else {
        return Ok(());
    };
    match job.status {
        JobStatus::Queued | JobStatus::Pending => {
            let expected = job.version;
            enter(&mut job, JobStatus::Downloading);
            match app.jobs.replace(&job, expected).await {
                Ok(()) => {}
                Err(PortError::ConditionFailed) => return Ok(()),
                Err(e) => return Err(e.into()),
            }
            announce(app, &job_only(&job)).await?;
        }
        // A run that died while fetching: fetch again, and queue the status's callback again
        // (it may not have been queued; a repeat has the same event id and is dropped).
        JobStatus::Downloading => announce(app, &job_only(&job)).await?,
        // A run that died while queueing the pairs: queue them again (each runs once).
        JobStatus::Processing => {
            announce(app, &job_only(&job)).await?;
            return queue_pairs(app, &job).await;
        }
        _ => return Ok(()),
    }
    let max_bytes = max_input_bytes(app, &job);
    let mut fetches = tokio::task::JoinSet::new();
    // Several at once, not all: each fetched file is held until it is stored.
    let slots = Arc::new(tokio::sync::Semaphore::new(PARALLEL_FETCHES));
    for (index, input) in job.inputs.iter().enumerate() {
        if input.status == InputStatus::Ready {
            continue;
        }
        let input = input.clone();
        let app = app.clone();
        let location = input_location(&app, &job, &input.id);
        let tenant_key = job.tenant_key.clone();
        let slots = slots.clone();
        fetches.spawn(async move {
            // Invariant: the semaphore is never closed.
            let _slot = slots.acquire_owned().await.expect("an open semaphore");
            let fetched = fetch::fetch(&app, &tenant_key, &input, max_bytes).await;
            let stored = match fetched {
                Ok((name, bytes)) => {
                    let facts = facts(&name, &bytes);
                    let content_type = facts.content_type.clone();
                    app.files
                        .put(&location.bucket, &location.key, bytes, &content_type)
                        .await
                        .map(|()| Ok(facts))
                }
                Err(message) => Ok(Err(message)),
            };
            (index, stored, location)
        });
    }
    while let Some(joined) = fetches.join_next().await {
        let (index, stored, location) = joined.map_err(|e| WorkerError::Retry(e.to_string()))?;
        let input = &mut job.inputs[index];
        input.modified_at = Utc::now();
        match stored? {
            Ok(facts) => {
                input.status = InputStatus::Ready;
                input.facts = facts;
                input.stored = Some(location);
            }
            Err(message) => {
                input.status = InputStatus::Failed;
                input.error = Some(message);
            }
        }
    }
    for input in &mut job.inputs {
        input.credentials = None;
    }
    let failed: Vec<JobMessage> = job.inputs.iter().filter_map(|i| i.error.clone()).collect();
    let ready = job
        .inputs
        .iter()
        .filter(|i| i.status == InputStatus::Ready)
        .count();
    if job.fail_on_input_error {
        job.errors.extend(failed.iter().cloned());
    } else {
        job.warnings.extend(failed.iter().cloned());
    }
    job.pairs_total = (ready * job.conversions.len()) as u64;
    let expected = job.version;
    let fails = job.pairs_total == 0 || (job.fail_on_input_error && !failed.is_empty());
    if fails {
        if job.pairs_total == 0 {
            job.errors.push(no_output(&job));
        }
        end_job_record(&mut job, JobStatus::Failed);
    } else {
        job.started_at = Some(Utc::now());
        enter(&mut job, JobStatus::Processing);
    }
    match app.jobs.replace(&job, expected).await {
        Ok(()) => {}
        Err(PortError::ConditionFailed) => {
            // Another run of this message got there first (it keeps its files), or the job
            // was canceled meanwhile: then the files fetched for it go too.
            let canceled = app
                .jobs
                .get(&job.id)
                .await?
                .is_none_or(|j| j.status == JobStatus::Canceled);
            if canceled {
                remove_files(app, &job).await?;
            }
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    }
    if fails {
        remove_files(app, &job).await?;
        return notify_end(app, &job.id).await;
    }
    // Later jobs of the tenant may name these inputs (`input_id`).
    let ready: Vec<String> = job
        .inputs
        .iter()
        .filter(|i| i.status == InputStatus::Ready)
        .map(|i| i.id.clone())
        .collect();
    app.jobs
        .point_to_inputs(&job.tenant_key, &job.id, &ready)
        .await?;
    announce(app, &job_only(&job)).await?;
    queue_pairs(app, &job).await
}

/// A job before its pairs ran: the record is all of it.
fn job_only(job: &JobRecord) -> JobState {
    JobState::before_run(job.clone())
}

fn no_output(job: &JobRecord) -> JobMessage {
    JobMessage::new(
        "job",
        &job.id,
        codes::NO_OUTPUT,
        "The job produced no output.",
    )
}

async fn queue_pairs(app: &App, job: &JobRecord) -> Result<(), WorkerError> {
    let messages: Vec<JobMessageBody> = job
        .inputs
        .iter()
        .filter(|i| i.status == InputStatus::Ready)
        .flat_map(|i| {
            job.conversions.iter().map(|c| JobMessageBody::Pair {
                job_id: job.id.clone(),
                input_id: i.id.clone(),
                conversion_id: c.id.clone(),
            })
        })
        .collect();
    app.job_queue.enqueue(&messages).await?;
    Ok(())
}

async fn pair(
    app: &App,
    job_id: &str,
    input_id: &str,
    conversion_id: &str,
) -> Result<(), WorkerError> {
    // The job item and this pair only: a pair never reads the others' records.
    let Some(job) = app.jobs.get(job_id).await? else {
        return Ok(());
    };
    let job = &job;
    if job.status == JobStatus::Processing
        && !app
            .jobs
            .pair_recorded(job_id, input_id, conversion_id)
            .await?
    {
        let (Some(input), Some(conversion)) = (job.input(input_id), job.conversion(conversion_id))
        else {
            return Ok(());
        };
        let (outcome, output) = run_pair(app, job, input, conversion).await?;
        let record = PairRecord {
            input_id: input_id.to_string(),
            conversion_id: conversion_id.to_string(),
            outcome,
        };
        match app
            .jobs
            .complete_pair(&job.tenant_key, job_id, &record, output.as_ref())
            .await
        {
            Ok(()) => {}
            Err(PortError::ConditionFailed) => {
                // Canceled or failed while this pair ran: its output must not stay. (A
                // pair recorded before wrote the same key, and its job keeps it.)
                let ended =
                    app.jobs.get(job_id).await?.is_none_or(|j| {
                        matches!(j.status, JobStatus::Canceled | JobStatus::Failed)
                    });
                if let (true, Some(output)) = (ended, &output) {
                    app.files
                        .delete_prefix(&output.stored.bucket, &output.stored.key)
                        .await?;
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    finish_if_done(app, job_id).await
}

/// Records a pair that could not be run as failed (its message was dead-lettered) and
/// ends the job if it was the last.
pub async fn give_up_pair(
    app: &App,
    job_id: &str,
    input_id: &str,
    conversion_id: &str,
) -> Result<(), WorkerError> {
    let record = PairRecord {
        input_id: input_id.to_string(),
        conversion_id: conversion_id.to_string(),
        outcome: PairOutcome::Failed {
            message: JobMessage::new(
                "conversion",
                conversion_id,
                codes::INTERNAL,
                "The conversion could not be processed after repeated attempts.",
            ),
        },
    };
    let Some(job) = app.jobs.get(job_id).await? else {
        return Ok(());
    };
    match app
        .jobs
        .complete_pair(&job.tenant_key, job_id, &record, None)
        .await
    {
        Ok(()) | Err(PortError::ConditionFailed) => {}
        Err(e) => return Err(e.into()),
    }
    finish_if_done(app, job_id).await
}

/// Ends a job whose start message was dead-lettered.
pub async fn give_up_start(app: &App, job_id: &str) -> Result<(), WorkerError> {
    let Some(mut job) = app.jobs.get(job_id).await? else {
        return Ok(());
    };
    if job.status == JobStatus::Processing {
        // Its pairs could not all be queued: those not run count as failed, so it ends.
        for input in job.inputs.iter().filter(|i| i.status == InputStatus::Ready) {
            for conversion in &job.conversions {
                if !app
                    .jobs
                    .pair_recorded(job_id, &input.id, &conversion.id)
                    .await?
                {
                    give_up_pair(app, job_id, &input.id, &conversion.id).await?;
                }
            }
        }
        return Ok(());
    }
    if !job.status.is_terminal() {
        let expected = job.version;
        job.errors.push(JobMessage::new(
            "job",
            &job.id,
            codes::INTERNAL,
            "The job could not be started after repeated attempts.",
        ));
        end_job_record(&mut job, JobStatus::Failed);
        match app.jobs.replace(&job, expected).await {
            Ok(()) | Err(PortError::ConditionFailed) => {}
            Err(e) => return Err(e.into()),
        }
    }
    notify_end(app, job_id).await
}

/// Its output id: derived from the job's secret token and the pair, so that a redelivered
/// pair writes to the same place, and nobody without the token can guess it.
fn output_id(job: &JobRecord, input_id: &str, conversion_id: &str) -> String {
    let digest = Sha256::digest(format!("{}:{input_id}:{conversion_id}", job.token));
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

fn pair_failure(
    conversion: &ConversionRecord,
    input: &InputRecord,
    code: u32,
    text: String,
) -> PairOutcome {
    let mut message = JobMessage::new("conversion", &conversion.id, code, text);
    message
        .details
        .insert("input".into(), serde_json::Value::String(input.id.clone()));
    PairOutcome::Failed { message }
}

fn output_name(input: &InputRecord, extension: &str) -> String {
    let name = &input.facts.filename;
    let stem = name.rsplit_once('.').map_or(name.as_str(), |(s, _)| s);
    let stem = if stem.is_empty() { "output" } else { stem };
    format!("{stem}.{extension}")
}

async fn run_pair(
    app: &App,
    job: &JobRecord,
    input: &InputRecord,
    conversion: &ConversionRecord,
) -> Result<(PairOutcome, Option<OutputRecord>), WorkerError> {
    let fail = |code, text: String| Ok((pair_failure(conversion, input, code, text), None));
    if let (Some(max), Some(started)) = (job.limits.max_process_time, job.started_at)
        && (Utc::now() - started).num_seconds() >= max as i64
    {
        return fail(
            codes::PROCESS_TIME,
            format!("The job ran past limits.job.max_process_time ({max} s)."),
        );
    }
    let Some(stored) = &input.stored else {
        return fail(codes::INTERNAL, "The input was not fetched.".into());
    };
    let data = app
        .files
        .get(&stored.bucket, &stored.key, app.config.max_source_bytes)
        .await?;
    let plan = match options::plan(&conversion.target, &conversion.options) {
        Ok(plan) => plan,
        Err(e) => return fail(codes::UNREADABLE, format!("{}: {}", e.field, e.reason)),
    };
    let limits = app.config.image_limits();
    let converted = crate::blocking::run(move || convert_owned(data, &plan, &limits))
        .await
        .map_err(|e| WorkerError::Retry(e.to_string()))?;
    let converted = match converted {
        Ok(c) => c,
        Err(ConvertError::TooLarge(reason)) => {
            return fail(
                codes::TOO_BIG_OUTPUT,
                format!("The values for width or height are too large: {reason}"),
            );
        }
        Err(e) => {
            return fail(
                codes::UNREADABLE,
                format!("The input could not be converted: {e}"),
            );
        }
    };
    let credits = credits_for(converted.width, converted.height);
    if let Some(max) = job.limits.max_credit {
        let pair_key = format!("{}#{}", input.id, conversion.id);
        if !app
            .jobs
            .reserve_credits(&job.id, &pair_key, credits, max)
            .await?
        {
            return fail(
                codes::CREDIT_LIMIT,
                format!(
                    "The conversion would spend more than limits.job.max_credit ({max} credits)."
                ),
            );
        }
    }
    let filename = output_name(input, converted.format.extension());
    let content_type = super::content_type(&converted.bytes).to_string();
    let file_facts = facts(&filename, &converted.bytes);
    if !conversion.output_targets.is_empty() {
        app.jobs
            .mark_uploading(&job.id, &input.id, &conversion.id)
            .await?;
        // One buffer for every target: each upload reads it, none copies it.
        let bytes = bytes::Bytes::from(converted.bytes);
        for (index, target) in conversion.output_targets.iter().enumerate() {
            if let Err(text) = deliver(app, target, &filename, &content_type, bytes.clone()).await {
                let mut outcome =
                    pair_failure(conversion, input, codes::OUTPUT_TARGET_FAILED, text);
                if let PairOutcome::Failed { message } = &mut outcome {
                    // Which target refused it: that target's status is `failed`.
                    message.details.insert("output_target".into(), index.into());
                }
                return Ok((outcome, None));
            }
        }
        return Ok((PairOutcome::Delivered { credits }, None));
    }
    let id = output_id(job, &input.id, &conversion.id);
    let location = StoredFile {
        bucket: app.config.default_bucket().to_string(),
        key: format!("{}output/{id}/{filename}", files_prefix(job)),
    };
    app.files
        .put(
            &location.bucket,
            &location.key,
            converted.bytes,
            &content_type,
        )
        .await?;
    let output = OutputRecord {
        id: id.clone(),
        job_id: job.id.clone(),
        conversion_id: conversion.id.clone(),
        input_id: input.id.clone(),
        stored: location,
        facts: file_facts,
        status: OutputStatus::Enabled,
        downloads_counter: 0,
        download_password: None,
        created_at: Utc::now(),
        expires_at: job.created_at + chrono::Duration::seconds(RECORD_TTL.as_secs() as i64),
    };
    Ok((
        PairOutcome::Output {
            output_id: id,
            credits,
        },
        Some(output),
    ))
}

/// Writes an output to one of the conversion's targets: `parameters.file` is the place (one
/// ending in `/`, or none, is a folder the output's name is added to); an existing file
/// stays unless `parameters.overwrite` is true.
async fn deliver(
    app: &App,
    target: &OutputTarget,
    filename: &str,
    content_type: &str,
    bytes: bytes::Bytes,
) -> Result<(), String> {
    let none = serde_json::Map::new();
    let credentials = target.credentials.as_ref().unwrap_or(&none);
    let at = Location::parse(
        &target.kind,
        &target.parameters,
        credentials,
        "output_target",
        true,
    )
    .map_err(|e| format!("{}: {}", e.field, e.reason))?
    .for_output(filename);
    let overwrite = parse::overwrite(&target.parameters, "output_target")
        .map_err(|e| format!("{}: {}", e.field, e.reason))?;
    storage::write(app, &at, bytes, content_type, overwrite)
        .await
        // The error names the place.
        .map_err(|e| format!("The output could not be written: {e}"))
}

/// Sets the job's final status in memory; a failed job keeps no output and spends nothing;
/// the credentials of its output targets are dropped.
fn end_job_record(job: &mut JobRecord, status: JobStatus) {
    if status == JobStatus::Failed {
        job.spent = 0;
    }
    forget_credentials(job);
    enter(job, status);
}

/// Drops every credential the job carries (its inputs' and its output targets').
fn forget_credentials(job: &mut JobRecord) {
    for conversion in &mut job.conversions {
        for target in &mut conversion.output_targets {
            target.credentials = None;
        }
    }
    for input in &mut job.inputs {
        input.credentials = None;
    }
}

async fn remove_files(app: &App, job: &JobRecord) -> Result<(), PortError> {
    app.files
        .delete_prefix(app.config.default_bucket(), &files_prefix(job))
        .await
}

/// Ends the job when every pair is counted, then queues its final callback.
async fn finish_if_done(app: &App, job_id: &str) -> Result<(), WorkerError> {
    // Only the pair that counts last (or a redelivery after the end) reads the whole job.
    let Some(job) = app.jobs.get(job_id).await? else {
        return Ok(());
    };
    let counting = job.status == JobStatus::Processing && job.pairs_done < job.pairs_total;
    if counting || (job.status.is_terminal() && job.notified) {
        return Ok(());
    }
    let Some(state) = app.jobs.get_full(job_id).await? else {
        return Ok(());
    };
    let mut job = state.job.clone();
    if job.status == JobStatus::Processing && job.pairs_done >= job.pairs_total {
        let (errors, warnings) = super::messages(&state);
        let produced = state
            .pairs
            .iter()
            .filter(|p| !matches!(p.outcome, PairOutcome::Failed { .. }))
            .count();
        let conversion_failed = job.fail_on_conversion_error
            && state
                .pairs
                .iter()
                .any(|p| matches!(p.outcome, PairOutcome::Failed { .. }));
        let expected = job.version;
        job.errors = errors;
        job.warnings = warnings;
        let status = if produced == 0 || conversion_failed {
            if produced == 0 {
                job.errors.push(no_output(&job));
            }
            JobStatus::Failed
        } else {
            JobStatus::Completed
        };
        end_job_record(&mut job, status);
        // A failed job keeps nothing: its outputs go before anyone can see it failed.
        // Every run that gets here computes the same end, so doing this twice is harmless.
        if status == JobStatus::Failed {
            for output in &state.outputs {
                app.jobs
                    .set_output_status(&job.id, &output.id, OutputStatus::Disabled)
                    .await?;
            }
            remove_files(app, &job).await?;
        }
        match app.jobs.replace(&job, expected).await {
            // A completed job's inputs and outputs stay until the job expires: later jobs
            // may name them (`input_id`, `output`).
            Ok(()) => {}
            Err(PortError::ConditionFailed) => {}
            Err(e) => return Err(e.into()),
        }
    }
    notify_end(app, job_id).await
}

/// Queues the final callback of an ended job, once noted. The job has ended, so no pair
/// counts any more and the record may be written whole.
pub async fn notify_end(app: &App, job_id: &str) -> Result<(), WorkerError> {
    let Some(state) = app.jobs.get_full(job_id).await? else {
        return Ok(());
    };
    if !state.job.status.is_terminal() || state.job.notified {
        return Ok(());
    }
    announce(app, &state).await?;
    let mut job = state.job;
    let expected = job.version;
    job.notified = true;
    // A canceled job ended without the worker: its credentials go here.
    forget_credentials(&mut job);
    job.version += 1;
    match app.jobs.replace(&job, expected).await {
        Ok(()) | Err(PortError::ConditionFailed) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
