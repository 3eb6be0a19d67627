//! The dead-letter worker: what no retry could process is ended, with a reason and a
//! notification, instead of waiting forever. It reads both kinds of dead letters:
//! upload events (the image ends `UploadFail`), PDF tasks (the task ends `Failed`), job
//! messages (the pair counts as failed, or the job fails), batch messages (the object
//! counts as failed, or the run fails) and
//! notification deliveries (the attempt is recorded as given up).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;

use crate::app::App;
use crate::batch::model::BatchMessage;
use crate::batch::worker::give_up;
use crate::error::PortError;
use crate::image::uploaded::{UploadWorker, created_objects};
use crate::jobs::model::JobMessageBody;
use crate::jobs::worker::{give_up_pair, give_up_start};
use crate::notify::Delivery;
use crate::notify::delivery::{Attempt, AttemptOutcome};
use crate::ports::TaskEnd;
use crate::queue::{QueueMessage, QueueWorker, WorkerError};
use crate::task::announce::announce;
use crate::task::model::{TaskFailure, TaskMessage};

pub const UPLOAD_REASON: &str = "the upload could not be processed after repeated attempts";
pub const TASK_REASON: &str = "the task could not be processed after repeated attempts";

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
        if let Ok(task) = serde_json::from_str::<TaskMessage>(&message.body) {
            return self.give_up_task(&task).await;
        }
        if let Ok(batch) = serde_json::from_str::<BatchMessage>(&message.body) {
            tracing::error!(batch_id = %batch.batch().batch_id, "batch message dead-lettered");
            return give_up(&self.app, &batch).await;
        }
        if let Ok(job) = serde_json::from_str::<JobMessageBody>(&message.body) {
            tracing::error!(job_id = job.job_id(), "job message dead-lettered");
            return match &job {
                JobMessageBody::Start { job_id } => give_up_start(&self.app, job_id).await,
                JobMessageBody::Pair {
                    job_id,
                    input_id,
                    conversion_id,
                } => give_up_pair(&self.app, job_id, input_id, conversion_id).await,
            };
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

impl DeadLetterWorker {
    /// Ends a task whose message kept failing, unless it ended meanwhile, and announces it.
    async fn give_up_task(&self, message: &TaskMessage) -> Result<(), WorkerError> {
        let app = &self.app;
        tracing::error!(task_id = %message.task_id, "task dead-lettered");
        let Some(task) = app
            .tasks
            .get(&message.tenant_key, &message.project_name, &message.task_id)
            .await?
        else {
            return Ok(());
        };
        if task.status.is_final() {
            if !task.notified {
                announce(app, &task).await?;
            }
            return Ok(());
        }
        let failure = TaskFailure::new("InternalError", TASK_REASON);
        match app
            .tasks
            .finish(&task, None, &TaskEnd::Failed(failure))
            .await
        {
            Ok(ended) => announce(app, &ended).await?,
            Err(PortError::ConditionFailed) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }
}
