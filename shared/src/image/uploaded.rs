//! The upload trigger: for each object S3 reports as created in an upload bucket, read only
//! its first bytes, probe format and size, record `Normal` or `UploadFail`, and announce it
//! (`ImageUploadComplete`) for failures too. Redelivered events change nothing.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::model::{self, ImageRecord, ProbeResult, UploadResult};
use super::probe::{self, FIRST_READ, LAST_READ, Limits, Probe};
use crate::app::App;
use crate::error::PortError;
use crate::notify::delivery::{Event, Subject, SubjectKind};
use crate::ports::ObjectHead;
use crate::queue::{QueueMessage, QueueWorker, WorkerError};

pub const EVENT_TYPE: &str = "ImageUploadComplete";

/// An object an S3 event reports as created.
#[derive(Debug, PartialEq, Eq)]
pub struct CreatedObject {
    pub bucket: String,
    pub key: String,
    /// The version the event reports, when it says.
    pub etag: Option<String>,
    pub size: Option<u64>,
}

/// The created objects in an S3 event notification (as delivered through SQS), read
/// leniently: test events and other event types yield nothing.
pub fn created_objects(body: &str) -> Vec<CreatedObject> {
    let Ok(event) = serde_json::from_str::<Value>(body) else {
        return Vec::new();
    };
    let records = event.get("Records").and_then(Value::as_array);
    records
        .into_iter()
        .flatten()
        .filter(|r| {
            r.get("eventName")
                .and_then(Value::as_str)
                .is_some_and(|n| n.starts_with("ObjectCreated"))
        })
        .filter_map(|r| {
            let s3 = r.get("s3")?;
            let bucket = s3.get("bucket")?.get("name")?.as_str()?;
            let key = s3.get("object")?.get("key")?.as_str()?;
            // Event keys are URL-encoded, with '+' for spaces.
            let key = urlencoding::decode(&key.replace('+', " "))
                .ok()?
                .into_owned();
            let object = s3.get("object")?;
            Some(CreatedObject {
                bucket: bucket.to_string(),
                key,
                etag: object
                    .get("eTag")
                    .and_then(Value::as_str)
                    .map(|e| e.trim_matches('"').to_string()),
                size: object.get("size").and_then(Value::as_u64),
            })
        })
        .collect()
}

pub struct UploadWorker {
    pub app: Arc<App>,
}

#[async_trait]
impl QueueWorker for UploadWorker {
    async fn handle(&self, message: &QueueMessage) -> Result<(), WorkerError> {
        for object in created_objects(&message.body) {
            self.process(&object).await?;
        }
        Ok(())
    }
}

impl UploadWorker {
    /// The live record an uploaded object belongs to, if any.
    async fn record_of(&self, object: &CreatedObject) -> Result<Option<ImageRecord>, PortError> {
        let Some((tenant_key, image_id)) = model::parse_object_key(&object.key) else {
            tracing::info!(key = %object.key, "not an image upload key; ignored");
            return Ok(None);
        };
        let Some(record) = self.app.images.get(tenant_key, image_id).await? else {
            tracing::info!(image_id, "no live record for the upload; ignored");
            return Ok(None);
        };
        if record.bucket != object.bucket || record.object_key != object.key {
            tracing::warn!(image_id, key = %object.key, "upload to a key the record does not name; ignored");
            return Ok(None);
        }
        Ok(Some(record))
    }

    pub async fn process(&self, object: &CreatedObject) -> Result<(), PortError> {
        let app = &self.app;
        let Some(record) = self.record_of(object).await? else {
            return Ok(());
        };
        let image_id = record.image_id.as_str();
        let head = match app
            .objects
            .read_head(&object.bucket, &object.key, FIRST_READ)
            .await
        {
            Ok(head) => head,
            Err(PortError::NotFound) => {
                tracing::info!(image_id, "the object is gone; nothing to do");
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let limit = app.config.max_upload_bytes;
        let oversized = head.total_size > limit;
        if let Some(done) = record.upload.as_ref().filter(|u| u.etag == head.etag) {
            // A redelivered event: the result stands; only a notification, or the deletion
            // of an oversized object, may be owed.
            if oversized {
                app.objects.delete(&object.bucket, &object.key).await?;
            }
            if !record.notified {
                self.announce(&record, done).await?;
            }
            return Ok(());
        }
        let total_size = head.total_size;
        let (probed, etag) = if oversized {
            let reason = format!("the upload is {total_size} bytes; the limit is {limit} bytes");
            (ProbeResult::Refused { reason }, head.etag)
        } else {
            self.probe(object, &record, head).await?
        };
        let result = UploadResult {
            etag,
            file_size: total_size,
            processed_at: Utc::now(),
            probe: probed,
        };
        self.record_and_announce(&record, result).await?;
        // Recorded first: a redelivery after a failed deletion deletes it then.
        if oversized {
            tracing::info!(
                image_id,
                size = total_size,
                limit,
                "oversized upload deleted"
            );
            app.objects.delete(&object.bucket, &object.key).await?;
        }
        Ok(())
    }

    /// Reads as much of the object's start as its format needs to state its size; returns
    /// the result and the version (ETag) of the bytes it was found in.
    async fn probe(
        &self,
        object: &CreatedObject,
        record: &ImageRecord,
        mut head: ObjectHead,
    ) -> Result<(ProbeResult, String), PortError> {
        let app = &self.app;
        let limits = Limits {
            max_side: app.config.max_image_side,
            max_pixels: app.config.max_image_pixels,
        };
        let result = loop {
            let complete = head.bytes.len() as u64 >= head.total_size;
            match probe::probe(&head.bytes, complete, record.image_ext, limits) {
                Probe::Done(result) => break result,
                Probe::NeedMore if (head.bytes.len() as u64) < LAST_READ => {
                    let more = (head.bytes.len() as u64 * 16).min(LAST_READ);
                    head = app
                        .objects
                        .read_head(&object.bucket, &object.key, more)
                        .await?;
                }
                Probe::NeedMore => {
                    break ProbeResult::Refused {
                        reason: format!(
                            "the image header runs past the first {} MiB",
                            LAST_READ >> 20
                        ),
                    };
                }
            }
        };
        Ok((result, head.etag))
    }

    /// For an upload whose processing kept failing (its event reached the dead-letter
    /// queue): records `UploadFail` with the reason and announces it, unless that object
    /// version was recorded meanwhile.
    pub async fn give_up(&self, object: &CreatedObject, reason: &str) -> Result<(), PortError> {
        let Some(record) = self.record_of(object).await? else {
            return Ok(());
        };
        let etag = object.etag.clone().unwrap_or_else(|| "unknown".to_string());
        if record.upload.as_ref().is_some_and(|u| u.etag == etag) {
            return Ok(());
        }
        let result = UploadResult {
            etag,
            file_size: object.size.unwrap_or(0),
            processed_at: Utc::now(),
            probe: ProbeResult::Refused {
                reason: reason.to_string(),
            },
        };
        self.record_and_announce(&record, result).await
    }

    async fn record_and_announce(
        &self,
        record: &ImageRecord,
        result: UploadResult,
    ) -> Result<(), PortError> {
        let (tenant_key, image_id) = (record.tenant_key.as_str(), record.image_id.as_str());
        match self
            .app
            .images
            .record_upload(tenant_key, image_id, &result)
            .await
        {
            Ok(()) => {}
            Err(PortError::ConditionFailed) => {
                // Another delivery recorded this version first (or the record expired); its
                // run owns the notification.
                tracing::info!(image_id, "upload already recorded");
                return Ok(());
            }
            Err(e) => return Err(e),
        }
        tracing::info!(image_id, status = ?result.probe.status(), size = result.file_size, "upload recorded");
        self.announce(record, &result).await
    }

    /// Queues `ImageUploadComplete` to the record's callback and the configured channels, then
    /// notes it was queued. The event id is derived from the object version, so a repeat
    /// after a crash carries the same id.
    async fn announce(&self, record: &ImageRecord, upload: &UploadResult) -> Result<(), PortError> {
        let app = &self.app;
        let event = Event {
            id: event_id(&record.tenant_key, &record.image_id, &upload.etag),
            event_type: EVENT_TYPE,
            tenant_key: record.tenant_key.clone(),
            subject: Subject {
                kind: SubjectKind::Image,
                id: record.image_id.clone(),
            },
            payload: payload(
                record,
                upload,
                &app.config.object_url(&record.bucket, &record.object_key),
            ),
        };
        let deliveries = event.deliveries(record.callback_url.as_deref(), &app.config);
        app.deliveries.enqueue(&deliveries).await?;
        match app
            .images
            .mark_notified(&record.tenant_key, &record.image_id, &upload.etag)
            .await
        {
            // A newer upload replaced this one meanwhile; its own run notifies for it.
            Ok(()) | Err(PortError::ConditionFailed) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

fn event_id(tenant_key: &str, image_id: &str, etag: &str) -> String {
    let digest = Sha256::digest(format!("{tenant_key}/{image_id}/{etag}"));
    hex::encode(&digest[..16])
}

/// VOD's `ImageUploadComplete` fields, plus Folio's: the failure reason and the dimensions.
fn payload(record: &ImageRecord, upload: &UploadResult, file_url: &str) -> Value {
    let mut body = json!({
        "EventTime": upload.processed_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "EventType": EVENT_TYPE,
        "ImageId": record.image_id,
        "Size": upload.file_size,
        "FileURL": file_url,
        "AppId": record.app_id,
    });
    match &upload.probe {
        ProbeResult::Image { width, height, .. } => {
            body["Status"] = json!("success");
            body["Width"] = json!(width);
            body["Height"] = json!(height);
        }
        ProbeResult::Refused { reason } => {
            body["Status"] = json!("fail");
            body["Message"] = json!(reason);
        }
    }
    let extend = record
        .user_data
        .as_deref()
        .and_then(|d| serde_json::from_str::<Value>(d).ok())
        .and_then(|d| d.get("Extend").cloned());
    if let Some(extend) = extend {
        body["Extend"] = extend;
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_created_objects_and_decodes_keys() {
        let body = r#"{"Records":[
            {"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"images%2Fa+b.png"}}},
            {"eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"b"},"object":{"key":"x"}}}
        ]}"#;
        assert_eq!(
            created_objects(body),
            vec![CreatedObject {
                bucket: "b".into(),
                key: "images/a b.png".into(),
                etag: None,
                size: None,
            }]
        );
        assert!(created_objects(r#"{"Event":"s3:TestEvent","Service":"Amazon S3"}"#).is_empty());
        assert!(created_objects("not json").is_empty());
    }

    #[test]
    fn event_ids_follow_the_object_version() {
        assert_eq!(event_id("t", "i", "e1"), event_id("t", "i", "e1"));
        assert_ne!(event_id("t", "i", "e1"), event_id("t", "i", "e2"));
    }
}
