//! Batches, keyed as in the DynamoDB table: a project's batches in one partition (ordered by
//! creation and by last change), each object's outcome under the batch, one counter item
//! per run (one writer needs no shards) and the failed objects by key.

use async_trait::async_trait;
use chrono::Utc;

use super::EmbeddedRecords;
use super::images::{RECORD, ttl_from_now};
use super::items::{self, Index, Item};
use super::queues;
use crate::batch::model::{BatchMessage, BatchRecord, BatchRef, ItemCounts, ItemOutcome};
use crate::error::PortError;
use crate::ports::{BatchSort, BatchStore};
use crate::record_keys::{batch_failures_pk as failures_pk, batch_item_pk as item_pk, batches_pk};
use crate::task::model::imm_time;

fn batch_sk(id: &str) -> String {
    format!("BATCH#{id}")
}

fn counts_pk(batch_id: &str, run: u32) -> String {
    format!("BATCHCOUNT#{batch_id}#{run}")
}

/// Outcomes outlive the batch record's own week by a day, so a resumed batch still knows
/// what its earlier runs did.
fn outcome_ttl() -> i64 {
    ttl_from_now() + 86_400
}

fn batch_item(batch: &BatchRecord) -> Result<Item, PortError> {
    let partition = batches_pk(&batch.tenant_key, &batch.project_name);
    Ok(Item::of(&partition, batch_sk(&batch.id), batch)?
        .expiring(batch.expires_at)
        .by_start(
            &partition,
            format!("{}#{}", imm_time(&batch.create_time), batch.id),
        )
        .by_end(
            partition,
            format!("{}#{}", imm_time(&batch.update_time), batch.id),
        ))
}

fn stored_version(
    tx: &rusqlite::Transaction<'_>,
    batch: &BatchRecord,
) -> Result<Option<u64>, PortError> {
    let pk = batches_pk(&batch.tenant_key, &batch.project_name);
    Ok(items::get(tx, &pk, &batch_sk(&batch.id))?
        .map(|i| i.record::<BatchRecord>())
        .transpose()?
        .map(|b| b.version))
}

#[async_trait]
impl BatchStore for EmbeddedRecords {
    async fn create(&self, batch: &BatchRecord) -> Result<(), PortError> {
        let item = batch_item(batch)?;
        // The batch and its first scanner page commit together (see `queues`).
        let scan = queues::batch_message(
            &BatchMessage::Scan {
                batch: batch.reference(),
                page: 0,
            },
            std::time::Duration::ZERO,
        )?;
        self.db
            .write(move |tx| {
                items::put_new(tx, &item)?;
                queues::insert_in(tx, queues::BATCHES, &scan)
            })
            .await
    }

    async fn get(
        &self,
        tenant_key: &str,
        project: &str,
        batch_id: &str,
        _consistent: bool,
    ) -> Result<Option<BatchRecord>, PortError> {
        let (pk, sk) = (batches_pk(tenant_key, project), batch_sk(batch_id));
        let item = self.db.read(move |tx| items::get(tx, &pk, &sk)).await?;
        let Some(item) = item else { return Ok(None) };
        let batch: BatchRecord = item.record()?;
        Ok(batch.is_live(Utc::now()).then_some(batch))
    }

    async fn replace(&self, batch: &BatchRecord) -> Result<BatchRecord, PortError> {
        let mut next = batch.clone();
        next.version += 1;
        let item = batch_item(&next)?;
        let expected = batch.clone();
        self.db
            .write(move |tx| {
                if stored_version(tx, &expected)? != Some(expected.version) {
                    return Err(PortError::ConditionFailed);
                }
                items::put(tx, &item)
            })
            .await?;
        Ok(next)
    }

    async fn delete(&self, batch: &BatchRecord) -> Result<(), PortError> {
        let batch = batch.clone();
        self.db
            .write(move |tx| {
                if stored_version(tx, &batch)? != Some(batch.version) {
                    return Err(PortError::ConditionFailed);
                }
                let pk = batches_pk(&batch.tenant_key, &batch.project_name);
                items::delete(tx, &pk, &batch_sk(&batch.id)).map(|_| ())
            })
            .await
    }

    async fn page(
        &self,
        tenant_key: &str,
        project: &str,
        sort: BatchSort,
        descending: bool,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<(String, BatchRecord)>, bool), PortError> {
        let partition = batches_pk(tenant_key, project);
        let index = match sort {
            BatchSort::CreateTime => Index::ByStart,
            BatchSort::UpdateTime => Index::ByEnd,
        };
        let after = after.map(str::to_string);
        self.db
            .read(move |tx| {
                let (page, more) =
                    items::page(tx, index, &partition, descending, after.as_deref(), limit)?;
                let batches = page
                    .into_iter()
                    .map(|(position, item)| Ok((position, item.record()?)))
                    .collect::<Result<_, PortError>>()?;
                Ok((batches, more))
            })
            .await
    }

    async fn settle(&self, batch: &BatchRef, outcome: &ItemOutcome) -> Result<bool, PortError> {
        let ttl = outcome_ttl();
        let record_pk = item_pk(&batch.batch_id, &outcome.key);
        let counts_pk = counts_pk(&batch.batch_id, batch.run);
        let failure = match outcome.failure.is_some() {
            true => Some(
                Item::of(
                    failures_pk(&batch.batch_id, batch.run),
                    &outcome.key,
                    outcome,
                )?
                .expiring(ttl),
            ),
            false => None,
        };
        let run = batch.run;
        let outcome = outcome.clone();
        self.db
            .write(move |tx| {
                if let Some(earlier) = items::get(tx, &record_pk, RECORD)?
                    && earlier.number("Run") >= i64::from(run)
                {
                    return Ok(false);
                }
                let mut record = Item::new(&record_pk, RECORD).expiring(ttl);
                record.set("Run", run);
                record.set(
                    "Outcome",
                    serde_json::Value::Object(items::to_map(&outcome)?),
                );
                items::put(tx, &record)?;
                let mut counts = items::get(tx, &counts_pk, RECORD)?
                    .unwrap_or_else(|| Item::new(&counts_pk, RECORD));
                counts.expires_at = Some(ttl);
                let failed = failure.is_some();
                counts.add("Succeeded", i64::from(!failed));
                counts.add("Failed", i64::from(failed));
                counts.add("Outputs", i64::from(outcome.outputs));
                items::put(tx, &counts)?;
                if let Some(failure) = &failure {
                    items::put(tx, failure)?;
                }
                Ok(true)
            })
            .await
    }

    async fn outcome(
        &self,
        batch_id: &str,
        key: &str,
    ) -> Result<Option<(u32, ItemOutcome)>, PortError> {
        let pk = item_pk(batch_id, key);
        self.db
            .read(move |tx| {
                let Some(item) = items::get(tx, &pk, RECORD)? else {
                    return Ok(None);
                };
                let Some(outcome) = item.body.get("Outcome") else {
                    return Ok(None);
                };
                let outcome = serde_json::from_value(outcome.clone())
                    .map_err(|e| PortError::backend("decoding an object's outcome", e))?;
                Ok(Some((item.number("Run") as u32, outcome)))
            })
            .await
    }

    async fn counts(&self, batch_id: &str, run: u32) -> Result<ItemCounts, PortError> {
        let pk = counts_pk(batch_id, run);
        self.db
            .read(move |tx| {
                let Some(item) = items::get(tx, &pk, RECORD)? else {
                    return Ok(ItemCounts::default());
                };
                let count = |name: &str| item.number(name).max(0) as u64;
                Ok(ItemCounts {
                    succeeded: count("Succeeded"),
                    failed: count("Failed"),
                    outputs: count("Outputs"),
                })
            })
            .await
    }

    async fn failures(
        &self,
        batch_id: &str,
        run: u32,
        limit: usize,
    ) -> Result<Vec<ItemOutcome>, PortError> {
        let pk = failures_pk(batch_id, run);
        self.db
            .read(move |tx| {
                let (page, _) = items::page(tx, Index::Table, &pk, false, None, limit)?;
                page.iter().map(|(_, item)| item.record()).collect()
            })
            .await
    }
}
