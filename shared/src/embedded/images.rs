//! Image records and the delivery log, keyed as in the DynamoDB table.

use async_trait::async_trait;
use chrono::Utc;

use super::EmbeddedRecords;
use super::items::{self, Item};
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

pub(super) fn ttl_from_now() -> i64 {
    Utc::now().timestamp() + RECORD_TTL.as_secs() as i64
}

fn image_item(record: &ImageRecord) -> Result<Item, PortError> {
    let mut item = Item::of(
        image_pk(&record.tenant_key, &record.image_id),
        RECORD,
        record,
    )?;
    item.expires_at = record.expires_at;
    Ok(item.by_start(images_of(&record.tenant_key), image_by_start_sk(record)))
}

fn live_image(item: Option<Item>) -> Result<Option<ImageRecord>, PortError> {
    let Some(item) = item else { return Ok(None) };
    let record: ImageRecord = item.record()?;
    Ok(record.is_live(Utc::now()).then_some(record))
}

#[async_trait]
impl ImageRecords for EmbeddedRecords {
    async fn create(&self, record: &ImageRecord) -> Result<(), PortError> {
        let item = image_item(record)?;
        self.db.write(move |tx| items::put_new(tx, &item)).await
    }

    async fn get(
        &self,
        tenant_key: &str,
        image_id: &str,
    ) -> Result<Option<ImageRecord>, PortError> {
        let pk = image_pk(tenant_key, image_id);
        let item = self.db.read(move |tx| items::get(tx, &pk, RECORD)).await?;
        live_image(item)
    }

    async fn get_many(
        &self,
        tenant_key: &str,
        ids: &[String],
    ) -> Result<Vec<ImageRecord>, PortError> {
        let mut pks: Vec<String> = ids.iter().map(|id| image_pk(tenant_key, id)).collect();
        pks.sort();
        pks.dedup();
        let found = self
            .db
            .read(move |tx| {
                pks.iter()
                    .map(|pk| items::get(tx, pk, RECORD))
                    .collect::<Result<Vec<_>, _>>()
            })
            .await?;
        let mut records = Vec::new();
        for item in found {
            records.extend(live_image(item)?);
        }
        Ok(records)
    }

    async fn recent(&self, tenant_key: &str, limit: usize) -> Result<Vec<ImageRecord>, PortError> {
        let partition = images_of(tenant_key);
        let (items, _) = self
            .db
            .read(move |tx| items::page(tx, items::Index::ByStart, &partition, true, None, limit))
            .await?;
        let mut records = Vec::with_capacity(items.len());
        for (_, item) in items {
            records.extend(live_image(Some(item))?);
        }
        Ok(records)
    }

    async fn record_upload(
        &self,
        tenant_key: &str,
        image_id: &str,
        result: &UploadResult,
    ) -> Result<(), PortError> {
        let pk = image_pk(tenant_key, image_id);
        let result = result.clone();
        self.db
            .write(move |tx| {
                let mut record =
                    live_image(items::get(tx, &pk, RECORD)?)?.ok_or(PortError::ConditionFailed)?;
                if record
                    .upload
                    .as_ref()
                    .is_some_and(|u| u.etag == result.etag)
                {
                    return Err(PortError::ConditionFailed);
                }
                let status = result.probe.status();
                record.status = status;
                record.notified = false;
                // A Normal image stays until deleted; a failed upload expires like an unused one.
                record.expires_at = (status != ImageStatus::Normal).then(ttl_from_now);
                record.upload = Some(result);
                items::put(tx, &image_item(&record)?)
            })
            .await
    }

    async fn mark_notified(
        &self,
        tenant_key: &str,
        image_id: &str,
        etag: &str,
    ) -> Result<(), PortError> {
        let pk = image_pk(tenant_key, image_id);
        let etag = etag.to_string();
        self.db
            .write(move |tx| {
                let item = items::get(tx, &pk, RECORD)?.ok_or(PortError::ConditionFailed)?;
                let mut record: ImageRecord = item.record()?;
                if record.upload.as_ref().is_none_or(|u| u.etag != etag) {
                    return Err(PortError::ConditionFailed);
                }
                record.notified = true;
                items::put(tx, &image_item(&record)?)
            })
            .await
    }

    async fn update_info(
        &self,
        tenant_key: &str,
        image_id: &str,
        info: &InfoUpdate,
    ) -> Result<(), PortError> {
        let pk = image_pk(tenant_key, image_id);
        let info = info.clone();
        self.db
            .write(move |tx| {
                let mut record =
                    live_image(items::get(tx, &pk, RECORD)?)?.ok_or(PortError::NotFound)?;
                if let Some(title) = info.title {
                    record.title = Some(title);
                }
                if let Some(description) = info.description {
                    record.description = Some(description);
                }
                if let Some(cate_id) = info.cate_id {
                    record.cate_id = Some(cate_id);
                }
                if let Some(tags) = info.tags {
                    record.tags = tags;
                }
                items::put(tx, &image_item(&record)?)
            })
            .await
    }

    async fn delete(&self, tenant_key: &str, image_id: &str) -> Result<(), PortError> {
        let pk = image_pk(tenant_key, image_id);
        self.db
            .write(move |tx| items::delete(tx, &pk, RECORD).map(|_| ()))
            .await
    }
}

#[async_trait]
impl DeliveryLog for EmbeddedRecords {
    async fn record_attempt(
        &self,
        delivery: &Delivery,
        attempt: &Attempt,
    ) -> Result<(), PortError> {
        let mut item = Item::of(
            delivery_pk(delivery),
            delivery_attempt_sk(delivery, attempt.number),
            attempt,
        )?
        .expiring(ttl_from_now());
        item.set("EventId", delivery.event_id.clone());
        item.set("EventType", delivery.event_type.clone());
        item.set("Target", delivery.target.label());
        item.set("Delivery", items::to_map(delivery)?);
        self.db.write(move |tx| items::put(tx, &item)).await
    }

    async fn has_ended(&self, delivery: &Delivery) -> Result<bool, PortError> {
        let (pk, sk) = (delivery_pk(delivery), delivery_end_sk(delivery));
        self.db
            .read(move |tx| Ok(items::get_live(tx, &pk, &sk)?.is_some()))
            .await
    }

    async fn record_end(&self, delivery: &Delivery) -> Result<(), PortError> {
        let mut item =
            Item::new(delivery_pk(delivery), delivery_end_sk(delivery)).expiring(ttl_from_now());
        item.set("EventId", delivery.event_id.clone());
        item.set("Target", delivery.target.label());
        self.db.write(move |tx| items::put(tx, &item)).await
    }

    async fn attempts(
        &self,
        tenant_key: &str,
        subject: &Subject,
    ) -> Result<Vec<RecordedAttempt>, PortError> {
        let pk = subject_pk(tenant_key, subject);
        self.db
            .read(move |tx| {
                let found = items::with_prefix(tx, &pk, DELIVERY_ATTEMPT_PREFIX)?;
                Ok(found
                    .iter()
                    .filter(|item| item.is_live())
                    .filter_map(|item| {
                        // Attempts recorded before deliveries were kept with them are left out.
                        let delivery =
                            serde_json::from_value(item.body.get("Delivery")?.clone()).ok()?;
                        let attempt = item.record().ok()?;
                        Some(RecordedAttempt { delivery, attempt })
                    })
                    .collect())
            })
            .await
    }
}
