//! Records in one DynamoDB table: `pk` = `<tenant key>#<KIND>#<id>`, `sk` = `RECORD` for the
//! entity and `DELIVERY#...` for its notification attempts; `ExpiresAt` is the TTL attribute.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use chrono::Utc;

use super::describe;
use crate::config::RECORD_TTL;
use crate::error::PortError;
use crate::image::model::{ImageRecord, ImageStatus, UploadResult};
use crate::notify::delivery::{Attempt, Delivery, RecordedAttempt, Subject};
use crate::ports::{DeliveryLog, ImageRecords, InfoUpdate};
use crate::record_keys::{
    DELIVERY_ATTEMPT_PREFIX, delivery_attempt_sk, delivery_end_sk, delivery_pk, image_by_start_sk,
    image_pk, images_of, subject_pk,
};

pub(super) use crate::record_keys::RECORD;

#[derive(Clone)]
pub struct DynamoRecords {
    pub(super) client: Client,
    pub(super) table: String,
}

pub(super) type Item = HashMap<String, AttributeValue>;

pub(super) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(super) fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn key(pk: String) -> Item {
    HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(RECORD))])
}

fn ttl_from_now() -> i64 {
    Utc::now().timestamp() + RECORD_TTL.as_secs() as i64
}

pub(super) fn to_item<T: serde::Serialize>(value: &T) -> Result<Item, PortError> {
    serde_dynamo::to_item(value).map_err(|e| PortError::backend("encoding a record", e))
}

/// Whether an item has not expired (DynamoDB deletes expired items late: reads check).
pub(super) fn live(item: &Item) -> bool {
    item.get("ExpiresAt")
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse::<i64>().ok())
        .is_none_or(|at| at > Utc::now().timestamp())
}

pub(super) fn from_item<T: serde::de::DeserializeOwned>(item: Item) -> Result<T, PortError> {
    serde_dynamo::from_item(item).map_err(|e| PortError::backend("decoding a record", e))
}

fn live_image(item: Item) -> Result<Option<ImageRecord>, PortError> {
    let record: ImageRecord = from_item(item)?;
    Ok(record.is_live(Utc::now()).then_some(record))
}

/// Maps a failed conditional write to `ConditionFailed`, anything else to `Backend`.
pub(super) fn conditional<E>(
    context: &'static str,
    error: aws_sdk_dynamodb::error::SdkError<E>,
) -> PortError
where
    E: std::error::Error + ConditionalCheck + 'static,
{
    match error.as_service_error() {
        Some(e) if e.is_condition_failed() => PortError::ConditionFailed,
        _ => PortError::backend(context, describe(error)),
    }
}

pub(super) trait ConditionalCheck {
    fn is_condition_failed(&self) -> bool;
}

macro_rules! conditional_check {
    ($($t:ty),*) => {$(
        impl ConditionalCheck for $t {
            fn is_condition_failed(&self) -> bool {
                self.is_conditional_check_failed_exception()
            }
        }
    )*};
}

conditional_check!(
    aws_sdk_dynamodb::operation::put_item::PutItemError,
    aws_sdk_dynamodb::operation::update_item::UpdateItemError,
    aws_sdk_dynamodb::operation::delete_item::DeleteItemError
);

impl DynamoRecords {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoRecords {
            client,
            table: table.into(),
        }
    }
}

impl DynamoRecords {
    /// Puts an item that expires with the records (`ExpiresAt` added), over any item at
    /// its key.
    pub(super) async fn put_expiring(
        &self,
        mut item: Item,
        context: &'static str,
    ) -> Result<(), PortError> {
        item.insert("ExpiresAt".into(), n(ttl_from_now()));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| PortError::backend(context, describe(e)))?;
        Ok(())
    }

    /// Puts an item that must not exist yet; `ConditionFailed` if it does.
    pub(super) async fn put_new(&self, item: Item, context: &'static str) -> Result<(), PortError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|e| conditional(context, e))?;
        Ok(())
    }

    /// The items at up to 100 `keys` (those that exist), re-asking for what DynamoDB leaves
    /// unprocessed.
    pub(super) async fn get_many(
        &self,
        keys: Vec<Item>,
        consistent: bool,
        context: &'static str,
    ) -> Result<Vec<Item>, PortError> {
        let mut items = Vec::with_capacity(keys.len());
        let mut pending = Some(
            KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(consistent)
                .build()
                .map_err(|e| PortError::backend("building a batch read", e))?,
        );
        for round in 0..8 {
            let Some(request) = pending.take() else { break };
            if round > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(50 << round)).await;
            }
            let out = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(|e| PortError::backend(context, describe(e)))?;
            items.extend(
                out.responses
                    .unwrap_or_default()
                    .remove(&self.table)
                    .unwrap_or_default(),
            );
            pending = out
                .unprocessed_keys
                .and_then(|mut u| u.remove(&self.table))
                .filter(|k| !k.keys.is_empty());
        }
        if pending.is_some() {
            return Err(PortError::backend(
                context,
                "DynamoDB left keys unprocessed after retries",
            ));
        }
        Ok(items)
    }

    /// One page of the partition `partition` in sort-key order (of `index` when given),
    /// each item with its position (its sort key there); `start` is the table key of the
    /// item to continue after, with `after` its sort key there.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn page_of(
        &self,
        index: Option<(&str, &str, &str)>,
        partition: &str,
        descending: bool,
        start: Option<(Item, &str)>,
        limit: usize,
        context: &'static str,
    ) -> Result<(Vec<(String, Item)>, bool), PortError> {
        let (index_name, pk_name, sk_name) = match index {
            Some((name, pk, sk)) => (Some(name.to_string()), pk, sk),
            None => (None, "pk", "sk"),
        };
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(index_name)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", pk_name)
            .expression_attribute_values(":pk", s(partition))
            .scan_index_forward(!descending)
            .limit(limit.max(1) as i32);
        if let Some((mut key, after)) = start {
            key.insert(pk_name.to_string(), s(partition));
            key.insert(sk_name.to_string(), s(after));
            query = query.set_exclusive_start_key(Some(key));
        }
        let out = query
            .send()
            .await
            .map_err(|e| PortError::backend(context, describe(e)))?;
        let items = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| match item.get(sk_name) {
                Some(AttributeValue::S(v)) => Ok((v.clone(), item)),
                _ => Err(PortError::backend(context, "an item has no sort key")),
            })
            .collect::<Result<_, _>>()?;
        Ok((items, out.last_evaluated_key.is_some()))
    }

    /// The item at `key`, read consistently.
    pub(super) async fn get_item(
        &self,
        key: Item,
        context: &'static str,
    ) -> Result<Option<Item>, PortError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| PortError::backend(context, describe(e)))?;
        Ok(out.item)
    }
}

type TransactError = aws_sdk_dynamodb::error::SdkError<
    aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError,
>;

/// Why a transaction was cancelled, by the codes DynamoDB gives per item.
fn cancelled_for(error: &TransactError, code: &str) -> bool {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    match error.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(e)) => e
            .cancellation_reasons()
            .iter()
            .any(|r| r.code() == Some(code)),
        _ => false,
    }
}

/// How often a transaction is tried when it meets another on one of its items (many pairs
/// of one job, or many items of one counter shard, finish at once).
const TRANSACTION_ATTEMPTS: u32 = 8;

impl DynamoRecords {
    /// Writes `items` together; `ConditionFailed` if a condition of one of them fails. A
    /// conflict with another transaction is tried again, backing off.
    pub(super) async fn transact(
        &self,
        items: Vec<aws_sdk_dynamodb::types::TransactWriteItem>,
        context: &'static str,
    ) -> Result<(), PortError> {
        let mut attempt = 1;
        loop {
            let sent = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let error = match sent {
                Ok(_) => return Ok(()),
                Err(e) => e,
            };
            if cancelled_for(&error, "ConditionalCheckFailed") {
                return Err(PortError::ConditionFailed);
            }
            let conflict = cancelled_for(&error, "TransactionConflict")
                || error
                    .as_service_error()
                    .is_some_and(|e| e.is_transaction_in_progress_exception());
            if !conflict || attempt == TRANSACTION_ATTEMPTS {
                return Err(PortError::backend(context, describe(error)));
            }
            // Back off with jitter: 20, 40, 80 ... ms, plus up to as much again.
            let base = 10u64 << attempt.min(6);
            let wait = base + rand::random::<u64>() % base;
            tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
            attempt += 1;
        }
    }
}

#[async_trait]
impl ImageRecords for DynamoRecords {
    async fn create(&self, record: &ImageRecord) -> Result<(), PortError> {
        let mut item = to_item(record)?;
        item.extend(key(image_pk(&record.tenant_key, &record.image_id)));
        item.insert("Gsi1Pk".into(), s(images_of(&record.tenant_key)));
        item.insert("Gsi1Sk".into(), s(image_by_start_sk(record)));
        self.put_new(item, "creating an image record").await
    }

    async fn recent(&self, tenant_key: &str, limit: usize) -> Result<Vec<ImageRecord>, PortError> {
        let (items, _) = self
            .page_of(
                Some((super::dynamo_tasks::BY_START, "Gsi1Pk", "Gsi1Sk")),
                &images_of(tenant_key),
                true,
                None,
                limit,
                "listing image records",
            )
            .await?;
        let mut records = Vec::with_capacity(items.len());
        for (_, item) in items {
            records.extend(live_image(item)?);
        }
        Ok(records)
    }

    async fn get(
        &self,
        tenant_key: &str,
        image_id: &str,
    ) -> Result<Option<ImageRecord>, PortError> {
        let item = self
            .get_item(
                key(image_pk(tenant_key, image_id)),
                "reading an image record",
            )
            .await?;
        match item {
            Some(item) => live_image(item),
            None => Ok(None),
        }
    }

    async fn get_many(
        &self,
        tenant_key: &str,
        ids: &[String],
    ) -> Result<Vec<ImageRecord>, PortError> {
        let mut unique: Vec<&String> = ids.iter().collect();
        unique.sort();
        unique.dedup();
        let mut records = Vec::with_capacity(unique.len());
        // The API allows 20 ids: one BatchGetItem.
        let keys = unique
            .iter()
            .map(|id| key(image_pk(tenant_key, id)))
            .collect();
        for item in self.get_many(keys, false, "reading image records").await? {
            records.extend(live_image(item)?);
        }
        Ok(records)
    }

    async fn record_upload(
        &self,
        tenant_key: &str,
        image_id: &str,
        result: &UploadResult,
    ) -> Result<(), PortError> {
        let status = result.probe.status();
        let upload = serde_dynamo::to_attribute_value(result)
            .map_err(|e| PortError::backend("encoding an upload result", e))?;
        let now = Utc::now().timestamp();
        // A Normal image stays until deleted; a failed upload expires like an unused one.
        let update = if status == ImageStatus::Normal {
            "SET #upload = :upload, #status = :status, Notified = :false REMOVE ExpiresAt"
        } else {
            "SET #upload = :upload, #status = :status, Notified = :false, ExpiresAt = :ttl"
        };
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(image_pk(tenant_key, image_id))))
            .update_expression(update)
            .condition_expression(
                "attribute_exists(pk) \
                 AND (attribute_not_exists(ExpiresAt) OR ExpiresAt > :now) \
                 AND (attribute_not_exists(#upload) OR #upload.#etag <> :etag)",
            )
            .expression_attribute_names("#upload", "Upload")
            .expression_attribute_names("#status", "Status")
            .expression_attribute_names("#etag", "Etag")
            .expression_attribute_values(":upload", upload)
            .expression_attribute_values(":status", s(format!("{status:?}")))
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":etag", s(&result.etag));
        if status != ImageStatus::Normal {
            request = request.expression_attribute_values(":ttl", n(ttl_from_now()));
        }
        request
            .send()
            .await
            .map_err(|e| conditional("recording an upload", e))?;
        Ok(())
    }

    async fn mark_notified(
        &self,
        tenant_key: &str,
        image_id: &str,
        etag: &str,
    ) -> Result<(), PortError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(image_pk(tenant_key, image_id))))
            .update_expression("SET Notified = :true")
            .condition_expression("#upload.#etag = :etag")
            .expression_attribute_names("#upload", "Upload")
            .expression_attribute_names("#etag", "Etag")
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":etag", s(etag))
            .send()
            .await
            .map_err(|e| conditional("marking an upload notified", e))?;
        Ok(())
    }

    async fn update_info(
        &self,
        tenant_key: &str,
        image_id: &str,
        info: &InfoUpdate,
    ) -> Result<(), PortError> {
        let mut sets = Vec::new();
        let mut removes = Vec::new();
        let mut values: Item = HashMap::from([(":now".to_string(), n(Utc::now().timestamp()))]);
        let mut set = |name: &str, value: AttributeValue| {
            sets.push(format!("{name} = :{name}"));
            values.insert(format!(":{name}"), value);
        };
        if let Some(title) = &info.title {
            set("Title", s(title));
        }
        if let Some(description) = &info.description {
            set("Description", s(description));
        }
        if let Some(cate_id) = info.cate_id {
            set("CateId", n(cate_id));
        }
        match &info.tags {
            Some(tags) if tags.is_empty() => removes.push("Tags"),
            Some(tags) => set("Tags", AttributeValue::L(tags.iter().map(s).collect())),
            None => {}
        }
        let mut update = String::new();
        if !sets.is_empty() {
            update = format!("SET {}", sets.join(", "));
        }
        if !removes.is_empty() {
            update = format!("{update} REMOVE {}", removes.join(", "));
        }
        if update.is_empty() {
            return Ok(());
        }
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(image_pk(tenant_key, image_id))))
            .update_expression(update)
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(ExpiresAt) OR ExpiresAt > :now)",
            )
            .set_expression_attribute_values(Some(values))
            .send()
            .await
            .map_err(|e| match conditional("updating an image record", e) {
                PortError::ConditionFailed => PortError::NotFound,
                other => other,
            })?;
        Ok(())
    }

    async fn delete(&self, tenant_key: &str, image_id: &str) -> Result<(), PortError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(image_pk(tenant_key, image_id))))
            .send()
            .await
            .map_err(|e| PortError::backend("deleting an image record", describe(e)))?;
        Ok(())
    }
}

#[async_trait]
impl DeliveryLog for DynamoRecords {
    async fn record_attempt(
        &self,
        delivery: &Delivery,
        attempt: &Attempt,
    ) -> Result<(), PortError> {
        let mut item = to_item(attempt)?;
        item.insert("pk".into(), s(delivery_pk(delivery)));
        item.insert(
            "sk".into(),
            s(delivery_attempt_sk(delivery, attempt.number)),
        );
        item.insert("EventId".into(), s(&delivery.event_id));
        item.insert("EventType".into(), s(&delivery.event_type));
        item.insert("Target".into(), s(delivery.target.label()));
        item.insert("Delivery".into(), AttributeValue::M(to_item(delivery)?));
        self.put_expiring(item, "recording a delivery attempt")
            .await
    }

    async fn has_ended(&self, delivery: &Delivery) -> Result<bool, PortError> {
        let key = HashMap::from([
            ("pk".to_string(), s(delivery_pk(delivery))),
            ("sk".to_string(), s(delivery_end_sk(delivery))),
        ]);
        let item = self.get_item(key, "reading a delivery's end").await?;
        Ok(item.is_some())
    }

    async fn record_end(&self, delivery: &Delivery) -> Result<(), PortError> {
        let item = HashMap::from([
            ("pk".to_string(), s(delivery_pk(delivery))),
            ("sk".to_string(), s(delivery_end_sk(delivery))),
            ("EventId".to_string(), s(&delivery.event_id)),
            ("Target".to_string(), s(delivery.target.label())),
        ]);
        self.put_expiring(item, "recording a delivery's end").await
    }

    async fn attempts(
        &self,
        tenant_key: &str,
        subject: &Subject,
    ) -> Result<Vec<RecordedAttempt>, PortError> {
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", s(subject_pk(tenant_key, subject)))
                .expression_attribute_values(":prefix", s(DELIVERY_ATTEMPT_PREFIX))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| PortError::backend("reading delivery attempts", describe(e)))?;
            for mut item in out.items.unwrap_or_default().into_iter().filter(live) {
                // Attempts recorded before deliveries were kept with them are left out.
                let Some(AttributeValue::M(delivery)) = item.remove("Delivery") else {
                    continue;
                };
                let (Ok(delivery), Ok(attempt)) = (from_item(delivery), from_item(item)) else {
                    continue;
                };
                found.push(RecordedAttempt { delivery, attempt });
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(found);
            }
        }
    }
}
