//! The batch message, sent once when a run ends, to the targets the batch names and to the
//! configured channels (IMM's EventBridge type `imm:Batch:Notification`).

use serde_json::{Value, json};

use super::model::{BatchRecord, ItemCounts, ItemOutcome};
use crate::app::App;
use crate::error::PortError;
use crate::notify::delivery::{Event, Subject, SubjectKind};
use crate::task::model::imm_time;

pub const EVENT_TYPE: &str = "imm:Batch:Notification";

/// How many failed objects a message and `GetBatch` list.
pub const FAILURES_SHOWN: usize = 10;

pub fn failures_json(failures: &[ItemOutcome]) -> Value {
    failures
        .iter()
        .map(|f| {
            let (code, message) = f
                .failure
                .as_ref()
                .map(|x| (x.code.as_str(), x.message.as_str()))
                .unwrap_or_default();
            json!({"Key": f.key, "Code": code, "Message": message})
        })
        .collect()
}

/// IMM's `Statistic` (`SubmitSuccess`, `SubmitFailure`, `SkipFiles`), with Folio's counts
/// of objects converted and failed and of outputs written.
pub fn statistic(batch: &BatchRecord, counts: ItemCounts) -> Value {
    json!({
        "SubmitSuccess": batch.scan.submitted,
        "SubmitFailure": 0,
        "SkipFiles": batch.scan.skipped,
        "Processed": counts.succeeded,
        "Failed": counts.failed,
        "Outputs": counts.outputs,
    })
}

pub fn message(batch: &BatchRecord, failures: &[ItemOutcome]) -> Value {
    let counts = batch.final_counts.unwrap_or_default();
    json!({
        "ProjectName": batch.project_name,
        "Id": batch.id,
        "State": batch.state.as_str(),
        "Error": batch.error,
        "Run": batch.run,
        "Statistic": statistic(batch, counts),
        "Failures": failures_json(failures),
        "CreateTime": imm_time(&batch.create_time),
        "UpdateTime": imm_time(&batch.update_time),
        "Tags": batch.tags,
    })
}

/// Queues the ended run's message; the event id names the batch and the run, so a repeat
/// after a crash carries the same id (and is dropped by the queue).
pub async fn announce(app: &App, batch: &BatchRecord) -> Result<(), PortError> {
    let failures = app
        .batches
        .failures(&batch.id, batch.run, FAILURES_SHOWN)
        .await?;
    let event = Event {
        id: batch.end_event_id(),
        event_type: EVENT_TYPE,
        tenant_key: batch.tenant_key.clone(),
        subject: Subject {
            kind: SubjectKind::Batch,
            id: batch.id.clone(),
        },
        payload: message(batch, &failures),
    };
    let spec = &batch.notification;
    let deliveries = event.deliveries_to(
        spec.webhook_url.as_deref(),
        spec.sns_topic_arn.as_deref(),
        spec.event_bus_name.as_deref(),
        &app.config,
    );
    app.deliveries.enqueue(&deliveries).await
}
