//! The dead-letter worker: what no retry could process is ended, with a reason and a
//! notification, instead of waiting forever. It reads both kinds of dead letters:
//! upload events (the image ends `UploadFail`) and notification deliveries (the attempt
//! is recorded as given up).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;

use crate::app::App;
use crate::image::uploaded::{UploadWorker, created_objects};
use crate::notify::Delivery;
use crate::notify::delivery::{Attempt, AttemptOutcome};
use crate::queue::{QueueMessage, QueueWorker, WorkerError};

pub const UPLOAD_REASON: &str = "the upload could not be processed after repeated attempts";

pub struct DeadLetterWorker {
    pub app: Arc<App>,
}

#[async_trait]
impl QueueWorker for DeadLetterWorker {
    async fn handle(&self, message: &QueueMessage) -> Result<(), WorkerError> {
        if let Ok(delivery) = serde_json::from_str::<Delivery>(&message.body) {
            tracing::error!(event_id = %delivery.event_id, target = delivery.target.label(), "delivery dead-lettered");
            let attempt = Attempt {
                number: message.receive_count,
                at: Utc::now(),
                outcome: AttemptOutcome::GaveUp,
                status_code: None,
                detail: "the notifier failed on this delivery repeatedly".to_string(),
            };
            self.app
                .delivery_log
                .record_attempt(&delivery, &attempt)
                .await?;
            return Ok(());
        }
        let uploads = UploadWorker {
            app: self.app.clone(),
        };
        for object in created_objects(&message.body) {
            tracing::error!(key = %object.key, "upload event dead-lettered");
            uploads.give_up(&object, UPLOAD_REASON).await?;
        }
        Ok(())
    }
}
