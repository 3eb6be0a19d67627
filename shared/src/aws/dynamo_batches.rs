//! Batches in the records table.
//!
//! - A project's batches share a partition: `pk` = `<tenant>#BATCHES#<project>`, `sk` =
//!   `BATCH#<id>`; `ByStart` orders them by creation (`Gsi1Sk` = `<create time>#<id>`),
//!   `ByEnd` by their last change (`Gsi2Sk` = `<update time>#<id>`).
//! - Each object's outcome has its own partition, `BATCHITEM#<id>#<hash of the key>`: the
//!   run that counted it and how it ended, so a redelivered item is counted once per run.
//! - The run's counts are spread over `SHARDS` counter items, `BATCHCOUNT#<id>#<run>#<n>`
//!   (the object's key picks the shard), each in a partition of its own: no single item
//!   takes every object's write, so a batch is not held to one partition's throughput.
//! - Failed objects are listed under `BATCHFAIL#<id>#<run>`, by key.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use chrono::Utc;
use sha2::{Digest, Sha256};

use super::describe;
use super::dynamo::{DynamoRecords, Item, RECORD, conditional, from_item, n, s, to_item};
use super::dynamo_tasks::{BY_END, BY_START};
use crate::batch::model::{BatchRecord, BatchRef, ItemCounts, ItemOutcome};
use crate::config::RECORD_TTL;
use crate::error::PortError;
use crate::ports::{BatchSort, BatchStore};
use crate::record_keys::{batch_failures_pk as failures_pk, batch_item_pk as item_pk, batches_pk};
use crate::task::model::imm_time;

/// Counter shards per run. Each takes up to 1,000 writes a second (500 transactions), so
/// 16 shards count some 8,000 objects a second.
pub const SHARDS: usize = 16;

fn batch_key(tenant_key: &str, project: &str, id: &str) -> Item {
    Item::from([
        ("pk".to_string(), s(batches_pk(tenant_key, project))),
        ("sk".to_string(), s(format!("BATCH#{id}"))),
    ])
}

fn record_key(pk: String) -> Item {
    Item::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(RECORD))])
}

fn key_hash(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

fn shard_pk(batch_id: &str, run: u32, shard: usize) -> String {
    format!("BATCHCOUNT#{batch_id}#{run}#{shard}")
}

fn batch_item(batch: &BatchRecord) -> Result<Item, PortError> {
    let mut item = to_item(batch)?;
    item.extend(batch_key(&batch.tenant_key, &batch.project_name, &batch.id));
    let partition = batches_pk(&batch.tenant_key, &batch.project_name);
    item.insert("Gsi1Pk".into(), s(&partition));
    item.insert(
        "Gsi1Sk".into(),
        s(format!("{}#{}", imm_time(&batch.create_time), batch.id)),
    );
    item.insert("Gsi2Pk".into(), s(partition));
    item.insert(
        "Gsi2Sk".into(),
        s(format!("{}#{}", imm_time(&batch.update_time), batch.id)),
    );
    Ok(item)
}

fn number(item: &Item, name: &str) -> u64 {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn ttl() -> AttributeValue {
    // Outcomes outlive the batch record's own week by a day, so a resumed batch still
    // knows what its earlier runs did.
    n(Utc::now().timestamp() + RECORD_TTL.as_secs() as i64 + 86_400)
}

fn built<T, E: std::error::Error + Send + Sync + 'static>(
    built: Result<T, E>,
) -> Result<T, PortError> {
    built.map_err(|e| PortError::backend("building a write", e))
}

#[async_trait]
impl BatchStore for DynamoRecords {
    async fn create(&self, batch: &BatchRecord) -> Result<(), PortError> {
        self.put_new(batch_item(batch)?, "creating a batch").await
    }

    async fn get(
        &self,
        tenant_key: &str,
        project: &str,
        batch_id: &str,
        consistent: bool,
    ) -> Result<Option<BatchRecord>, PortError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(batch_key(tenant_key, project, batch_id)))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(|e| PortError::backend("reading a batch", describe(e)))?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        let batch: BatchRecord = from_item(item)?;
        Ok(batch.is_live(Utc::now()).then_some(batch))
    }

    async fn replace(&self, batch: &BatchRecord) -> Result<BatchRecord, PortError> {
        let mut next = batch.clone();
        next.version += 1;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(batch_item(&next)?))
            .condition_expression("#version = :v")
            .expression_attribute_names("#version", "Version")
            .expression_attribute_values(":v", n(batch.version as i64))
            .send()
            .await
            .map_err(|e| conditional("changing a batch", e))?;
        Ok(next)
    }

    async fn delete(&self, batch: &BatchRecord) -> Result<(), PortError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(batch_key(
                &batch.tenant_key,
                &batch.project_name,
                &batch.id,
            )))
            .condition_expression("#version = :v")
            .expression_attribute_names("#version", "Version")
            .expression_attribute_values(":v", n(batch.version as i64))
            .send()
            .await
            .map_err(|e| conditional("deleting a batch", e))?;
        Ok(())
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
            BatchSort::CreateTime => (BY_START, "Gsi1Pk", "Gsi1Sk"),
            BatchSort::UpdateTime => (BY_END, "Gsi2Pk", "Gsi2Sk"),
        };
        // The position is the index's sort key of the last batch returned; the batch id
        // ends it, and gives the table's key.
        let start = after.map(|after| {
            let id = after.rsplit_once('#').map_or(after, |(_, id)| id);
            (batch_key(tenant_key, project, id), after)
        });
        let (items, more) = self
            .page_of(
                Some(index),
                &partition,
                descending,
                start,
                limit,
                "listing batches",
            )
            .await?;
        let batches = items
            .into_iter()
            .map(|(position, item)| Ok((position, from_item(item)?)))
            .collect::<Result<_, PortError>>()?;
        Ok((batches, more))
    }

    async fn settle(&self, batch: &BatchRef, outcome: &ItemOutcome) -> Result<bool, PortError> {
        let ttl = ttl();
        let run = n(batch.run as i64);
        let record = built(
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(record_key(item_pk(&batch.batch_id, &outcome.key))))
                .update_expression("SET #run = :run, Outcome = :outcome, ExpiresAt = :ttl")
                .condition_expression("attribute_not_exists(pk) OR #run < :run")
                .expression_attribute_names("#run", "Run")
                .expression_attribute_values(":run", run)
                .expression_attribute_values(":outcome", AttributeValue::M(to_item(outcome)?))
                .expression_attribute_values(":ttl", ttl.clone())
                .build(),
        )?;
        let failed = outcome.failure.is_some();
        let shard = key_hash(&outcome.key)[0] as usize % SHARDS;
        let count = built(
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(record_key(shard_pk(
                    &batch.batch_id,
                    batch.run,
                    shard,
                ))))
                .update_expression(
                    "ADD Succeeded :succeeded, Failed :failed, Outputs :outputs SET ExpiresAt = :ttl",
                )
                .expression_attribute_values(":succeeded", n(i64::from(!failed)))
                .expression_attribute_values(":failed", n(i64::from(failed)))
                .expression_attribute_values(":outputs", n(i64::from(outcome.outputs)))
                .expression_attribute_values(":ttl", ttl.clone())
                .build(),
        )?;
        let mut items = vec![
            TransactWriteItem::builder().update(record).build(),
            TransactWriteItem::builder().update(count).build(),
        ];
        if failed {
            let mut item = to_item(outcome)?;
            item.insert("pk".into(), s(failures_pk(&batch.batch_id, batch.run)));
            item.insert("sk".into(), s(&outcome.key));
            item.insert("ExpiresAt".into(), ttl);
            let put = built(
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .build(),
            )?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        match self.transact(items, "counting an object of a batch").await {
            Ok(()) => Ok(true),
            Err(PortError::ConditionFailed) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn outcome(
        &self,
        batch_id: &str,
        key: &str,
    ) -> Result<Option<(u32, ItemOutcome)>, PortError> {
        let Some(mut item) = self
            .get_item(
                record_key(item_pk(batch_id, key)),
                "reading an object's outcome",
            )
            .await?
        else {
            return Ok(None);
        };
        let run = number(&item, "Run") as u32;
        let outcome = match item.remove("Outcome") {
            Some(AttributeValue::M(m)) => from_item(m)?,
            _ => return Ok(None),
        };
        Ok(Some((run, outcome)))
    }

    async fn counts(&self, batch_id: &str, run: u32) -> Result<ItemCounts, PortError> {
        let keys = (0..SHARDS)
            .map(|shard| record_key(shard_pk(batch_id, run, shard)))
            .collect();
        let mut counts = ItemCounts::default();
        for item in self
            .get_many(keys, true, "reading a batch's counts")
            .await?
        {
            counts.add(ItemCounts {
                succeeded: number(&item, "Succeeded"),
                failed: number(&item, "Failed"),
                outputs: number(&item, "Outputs"),
            });
        }
        Ok(counts)
    }

    async fn failures(
        &self,
        batch_id: &str,
        run: u32,
        limit: usize,
    ) -> Result<Vec<ItemOutcome>, PortError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(failures_pk(batch_id, run)))
            .limit(limit.max(1) as i32)
            .send()
            .await
            .map_err(|e| PortError::backend("listing a batch's failures", describe(e)))?;
        out.items
            .unwrap_or_default()
            .into_iter()
            .map(from_item)
            .collect()
    }
}
