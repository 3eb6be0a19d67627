//! Jobs, keyed as in the DynamoDB table: one partition per job (`JOB#<id>`) holding the job,
//! how each pair ended, the outputs, uploads' pieces and the credits reserved per pair;
//! pointers from output and input ids to their jobs; jobs listed per tenant by creation.

use async_trait::async_trait;
use chrono::Utc;

use super::EmbeddedRecords;
use super::images::ttl_from_now;
use super::items::{self, Index, Item};
use super::queues;
use crate::config::RECORD_TTL;
use crate::error::PortError;
use crate::jobs::model::{
    HistoryEntry, InputRecord, JobMessageBody, JobRecord, JobStatus, OutputRecord, OutputStatus,
    PairRecord,
};
use crate::ports::{JobState, JobStore};
use crate::record_keys::{input_ref, job_pk as pk, jobs_of, output_ref, pair_sk};

const JOB: &str = "JOB";
const REF: &str = "REF";
const UPLOADING: &str = "UPLOADING#";
const RESERVED: &str = "RESERVED#";

fn job_item(job: &JobRecord) -> Result<Item, PortError> {
    Ok(Item::of(pk(&job.id), JOB, job)?
        .expiring(job.created_at.timestamp() + RECORD_TTL.as_secs() as i64)
        .by_start(
            jobs_of(&job.tenant_key),
            format!("{}#{}", job.created_at.to_rfc3339(), job.id),
        ))
}

fn pointer(pk: String, job_id: &str, tenant_key: &str) -> Item {
    let mut item = Item::new(pk, REF).expiring(ttl_from_now());
    item.set("job_id", job_id);
    item.set("tenant_key", tenant_key);
    item
}

/// Writes `job` over `before`; a job that enters `queued` has its start queued in the same
/// transaction (see `queues`).
fn write_job(
    tx: &rusqlite::Transaction<'_>,
    before: JobStatus,
    job: &JobRecord,
) -> Result<(), PortError> {
    items::put(tx, &job_item(job)?)?;
    if job.status == JobStatus::Queued && before != JobStatus::Queued {
        let start = queues::job_message(&JobMessageBody::Start {
            job_id: job.id.clone(),
        })?;
        queues::insert_in(tx, queues::JOBS, &start)?;
    }
    Ok(())
}

/// The live job in a transaction.
fn job_in(tx: &rusqlite::Transaction<'_>, job_id: &str) -> Result<Option<JobRecord>, PortError> {
    items::get_live(tx, &pk(job_id), JOB)?
        .map(|i| i.record())
        .transpose()
}

fn output_in(
    tx: &rusqlite::Transaction<'_>,
    job_id: &str,
    output_id: &str,
) -> Result<Option<(Item, OutputRecord)>, PortError> {
    let Some(item) = items::get(tx, &pk(job_id), &output_ref(output_id))? else {
        return Ok(None);
    };
    let output = item.record()?;
    Ok(Some((item, output)))
}

impl EmbeddedRecords {
    /// The job id and tenant key a live pointer names.
    async fn follow(&self, pointer_pk: String) -> Result<Option<(String, String)>, PortError> {
        self.db
            .read(move |tx| {
                Ok(items::get_live(tx, &pointer_pk, REF)?.and_then(|item| {
                    let job = item.text("job_id")?.to_string();
                    let tenant = item.text("tenant_key")?.to_string();
                    Some((job, tenant))
                }))
            })
            .await
    }

    /// Changes the live job in one write; `ConditionFailed` when `change` refuses or the
    /// job is gone.
    async fn change_job(
        &self,
        job_id: &str,
        change: impl FnOnce(&mut JobRecord) -> Result<(), PortError> + Send + 'static,
    ) -> Result<(), PortError> {
        let job_id = job_id.to_string();
        self.db
            .write(move |tx| {
                let mut job = job_in(tx, &job_id)?.ok_or(PortError::ConditionFailed)?;
                let before = job.status;
                change(&mut job)?;
                write_job(tx, before, &job)
            })
            .await
    }
}

#[async_trait]
impl JobStore for EmbeddedRecords {
    async fn create(&self, job: &JobRecord) -> Result<(), PortError> {
        let job = job.clone();
        self.db
            .write(move |tx| {
                if items::get_live(tx, &pk(&job.id), JOB)?.is_some() {
                    return Err(PortError::ConditionFailed);
                }
                // A job sent whole may start at once: its start commits with it.
                write_job(tx, JobStatus::Incomplete, &job)
            })
            .await
    }

    async fn get(&self, job_id: &str) -> Result<Option<JobRecord>, PortError> {
        let job_id = job_id.to_string();
        self.db.read(move |tx| job_in(tx, &job_id)).await
    }

    async fn get_full(&self, job_id: &str) -> Result<Option<JobState>, PortError> {
        let partition = pk(job_id);
        self.db
            .read(move |tx| {
                let mut job = None;
                let mut pairs = Vec::new();
                let mut outputs = Vec::new();
                let mut uploading = Vec::new();
                for item in items::with_prefix(tx, &partition, "")? {
                    if item.sk == JOB {
                        if !item.is_live() {
                            return Ok(None);
                        }
                        job = Some(item.record::<JobRecord>()?);
                    } else if item.sk.starts_with("PAIR#") {
                        pairs.push(item.record::<PairRecord>()?);
                    } else if item.sk.starts_with("OUTPUT#") {
                        outputs.push(item.record::<OutputRecord>()?);
                    } else if let Some((input, conversion)) = item
                        .sk
                        .strip_prefix(UPLOADING)
                        .and_then(|p| p.split_once('#'))
                    {
                        uploading.push((input.to_string(), conversion.to_string()));
                    }
                }
                outputs.sort_by_key(|o: &OutputRecord| o.created_at);
                Ok(job.map(|job| JobState {
                    job,
                    pairs,
                    outputs,
                    uploading,
                }))
            })
            .await
    }

    async fn replace(&self, job: &JobRecord, expected_version: u64) -> Result<(), PortError> {
        let job = job.clone();
        self.db
            .write(move |tx| {
                let stored = items::get(tx, &pk(&job.id), JOB)?
                    .map(|i| i.record::<JobRecord>())
                    .transpose()?;
                match stored {
                    Some(s) if s.version == expected_version => write_job(tx, s.status, &job),
                    _ => Err(PortError::ConditionFailed),
                }
            })
            .await
    }

    async fn append_inputs(
        &self,
        job_id: &str,
        inputs: &[InputRecord],
        max_inputs: u64,
    ) -> Result<(), PortError> {
        let inputs = inputs.to_vec();
        self.change_job(job_id, move |job| {
            if !job.status.is_open() || job.inputs.len() + inputs.len() > max_inputs as usize {
                return Err(PortError::ConditionFailed);
            }
            job.inputs.extend(inputs);
            job.version += 1;
            job.modified_at = Utc::now();
            Ok(())
        })
        .await
    }

    async fn set_status(
        &self,
        job_id: &str,
        from: &[JobStatus],
        to: JobStatus,
    ) -> Result<(), PortError> {
        let from = from.to_vec();
        self.change_job(job_id, move |job| {
            if !from.contains(&job.status) {
                return Err(PortError::ConditionFailed);
            }
            let now = Utc::now();
            job.status = to;
            job.version += 1;
            job.modified_at = now;
            job.history.push(HistoryEntry {
                status: to,
                at: now,
            });
            Ok(())
        })
        .await
    }

    async fn list(
        &self,
        tenant_key: &str,
        status: Option<JobStatus>,
        page: usize,
        per_page: usize,
    ) -> Result<(Vec<JobRecord>, usize), PortError> {
        let partition = jobs_of(tenant_key);
        self.db
            .read(move |tx| {
                let (all, _) = items::page(tx, Index::ByStart, &partition, true, None, usize::MAX)?;
                let mut jobs = Vec::new();
                for (_, item) in all {
                    if !item.is_live() {
                        continue;
                    }
                    let job: JobRecord = item.record()?;
                    if status.is_none_or(|s| s == job.status) {
                        jobs.push(job);
                    }
                }
                let total = jobs.len();
                let skip = page.saturating_sub(1).saturating_mul(per_page);
                Ok((jobs.into_iter().skip(skip).take(per_page).collect(), total))
            })
            .await
    }

    async fn reserve_credits(
        &self,
        job_id: &str,
        pair_key: &str,
        credits: u64,
        max_credit: u64,
    ) -> Result<bool, PortError> {
        let job_id = job_id.to_string();
        let marker = format!("{RESERVED}{pair_key}");
        self.db
            .write(move |tx| {
                let partition = pk(&job_id);
                if items::get(tx, &partition, &marker)?.is_some() {
                    return Ok(true);
                }
                let Some(mut job) = job_in(tx, &job_id)? else {
                    return Ok(false);
                };
                if job.credits_reserved.saturating_add(credits) > max_credit {
                    return Ok(false);
                }
                job.credits_reserved += credits;
                items::put(tx, &job_item(&job)?)?;
                items::put(tx, &Item::new(partition, marker).expiring(ttl_from_now()))?;
                Ok(true)
            })
            .await
    }

    async fn complete_pair(
        &self,
        tenant_key: &str,
        job_id: &str,
        pair: &PairRecord,
        output: Option<&OutputRecord>,
    ) -> Result<(), PortError> {
        let partition = pk(job_id);
        let ttl = ttl_from_now();
        let pair_item = Item::of(
            &partition,
            pair_sk(&pair.input_id, &pair.conversion_id),
            pair,
        )?
        .expiring(ttl);
        let credits = pair.outcome.credits();
        let mut others = Vec::new();
        if let Some(output) = output {
            others.push(Item::of(&partition, output_ref(&output.id), output)?.expiring(ttl));
            others.push(pointer(output_ref(&output.id), job_id, tenant_key));
        }
        let job_id = job_id.to_string();
        self.db
            .write(move |tx| {
                if items::get(tx, &pair_item.pk, &pair_item.sk)?.is_some() {
                    return Err(PortError::ConditionFailed);
                }
                let mut job = job_in(tx, &job_id)?.ok_or(PortError::ConditionFailed)?;
                if job.status != JobStatus::Processing {
                    return Err(PortError::ConditionFailed);
                }
                job.pairs_done += 1;
                job.spent += credits;
                items::put(tx, &job_item(&job)?)?;
                items::put(tx, &pair_item)?;
                others.iter().try_for_each(|item| items::put(tx, item))
            })
            .await
    }

    async fn record_chunk(
        &self,
        job_id: &str,
        upload: &str,
        start: u64,
        len: u64,
    ) -> Result<Vec<(u64, u64)>, PortError> {
        let (partition, sk) = (pk(job_id), format!("CHUNKS#{upload}"));
        self.db
            .write(move |tx| {
                let mut item =
                    items::get(tx, &partition, &sk)?.unwrap_or_else(|| Item::new(&partition, &sk));
                let mut pieces: Vec<(u64, u64)> = item
                    .body
                    .get("pieces")
                    .and_then(|v| serde_json::from_value(v.clone()).ok())
                    .unwrap_or_default();
                if !pieces.contains(&(start, len)) {
                    pieces.push((start, len));
                }
                item.set("pieces", serde_json::json!(pieces));
                item.expires_at = Some(ttl_from_now());
                items::put(tx, &item)?;
                Ok(pieces)
            })
            .await
    }

    async fn claim_chunks(&self, job_id: &str, upload: &str) -> Result<bool, PortError> {
        let (partition, sk) = (pk(job_id), format!("CHUNKS#{upload}"));
        self.db
            .write(move |tx| {
                let Some(mut item) = items::get(tx, &partition, &sk)? else {
                    return Ok(false);
                };
                if item.body.contains_key("joined") {
                    return Ok(false);
                }
                item.set("joined", true);
                items::put(tx, &item)?;
                Ok(true)
            })
            .await
    }

    async fn mark_uploading(
        &self,
        job_id: &str,
        input_id: &str,
        conversion_id: &str,
    ) -> Result<(), PortError> {
        let item = Item::new(pk(job_id), format!("{UPLOADING}{input_id}#{conversion_id}"))
            .expiring(ttl_from_now());
        self.db.write(move |tx| items::put(tx, &item)).await
    }

    async fn pair_recorded(
        &self,
        job_id: &str,
        input_id: &str,
        conversion_id: &str,
    ) -> Result<bool, PortError> {
        let (partition, sk) = (pk(job_id), pair_sk(input_id, conversion_id));
        self.db
            .read(move |tx| Ok(items::get(tx, &partition, &sk)?.is_some()))
            .await
    }

    async fn set_output_status(
        &self,
        job_id: &str,
        output_id: &str,
        status: OutputStatus,
    ) -> Result<(), PortError> {
        let (job_id, output_id) = (job_id.to_string(), output_id.to_string());
        self.db
            .write(move |tx| {
                let (item, mut output) =
                    output_in(tx, &job_id, &output_id)?.ok_or(PortError::ConditionFailed)?;
                output.status = status;
                items::put(tx, &item.with_record(&output)?)
            })
            .await
    }

    async fn change_output(
        &self,
        job_id: &str,
        output_id: &str,
        filename: Option<&str>,
        password_hash: Option<&str>,
    ) -> Result<(), PortError> {
        let (job_id, output_id) = (job_id.to_string(), output_id.to_string());
        let filename = filename.map(str::to_string);
        let password_hash = password_hash.map(str::to_string);
        self.db
            .write(move |tx| {
                let (item, mut output) =
                    output_in(tx, &job_id, &output_id)?.ok_or(PortError::NotFound)?;
                if let Some(name) = filename {
                    output.facts.filename = name;
                }
                if let Some(hash) = password_hash {
                    output.download_password = Some(hash);
                }
                items::put(tx, &item.with_record(&output)?)
            })
            .await
    }

    async fn count_download(
        &self,
        job_id: &str,
        output_id: &str,
        max_downloads: Option<u64>,
    ) -> Result<OutputRecord, PortError> {
        let (job_id, output_id) = (job_id.to_string(), output_id.to_string());
        self.db
            .write(move |tx| {
                let (item, mut output) =
                    output_in(tx, &job_id, &output_id)?.ok_or(PortError::ConditionFailed)?;
                let used_up = max_downloads.is_some_and(|max| output.downloads_counter >= max);
                if output.status != OutputStatus::Enabled || used_up {
                    return Err(PortError::ConditionFailed);
                }
                output.downloads_counter += 1;
                items::put(tx, &item.with_record(&output)?)?;
                Ok(output)
            })
            .await
    }

    async fn get_output(
        &self,
        job_id: &str,
        output_id: &str,
    ) -> Result<Option<OutputRecord>, PortError> {
        let (job_id, output_id) = (job_id.to_string(), output_id.to_string());
        self.db
            .read(move |tx| Ok(output_in(tx, &job_id, &output_id)?.map(|(_, o)| o)))
            .await
    }

    async fn find_output(&self, output_id: &str) -> Result<Option<(String, String)>, PortError> {
        self.follow(output_ref(output_id)).await
    }

    async fn find_input(&self, input_id: &str) -> Result<Option<(String, String)>, PortError> {
        self.follow(input_ref(input_id)).await
    }

    async fn point_to_inputs(
        &self,
        tenant_key: &str,
        job_id: &str,
        input_ids: &[String],
    ) -> Result<(), PortError> {
        let pointers: Vec<Item> = input_ids
            .iter()
            .map(|id| pointer(input_ref(id), job_id, tenant_key))
            .collect();
        self.db
            .write(move |tx| pointers.iter().try_for_each(|item| items::put(tx, item)))
            .await
    }
}
