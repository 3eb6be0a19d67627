//! The IMM task message, sent when a task ends, to every target the request named and to
//! the configured channels.

use serde_json::{Value, json};

use super::model::{TaskRecord, imm_time};
use crate::app::App;
use crate::error::PortError;
use crate::notify::delivery::{Event, Subject, SubjectKind};

/// IMM's event type of an images-to-PDF task message.
pub const EVENT_TYPE: &str = "imm:Task:ImageToPDF";

/// IMM's task message fields, plus Folio's `Output` on success.
pub fn message(task: &TaskRecord) -> Value {
    let mut body = json!({
        "ProjectName": task.project_name,
        "TaskId": task.task_id,
        "TaskType": task.task_type,
        "EventId": task.event_id,
        "Status": task.status.as_str(),
        "Code": task.code.clone().unwrap_or_default(),
        "Message": task.message.clone().unwrap_or_default(),
        "StartTime": imm_time(&task.start_time),
        "EndTime": task.end_time.as_ref().map(imm_time).unwrap_or_default(),
        "UserData": task.user_data.clone().unwrap_or_default(),
        "Tags": task.tags,
    });
    if let Some(output) = &task.output {
        body["Output"] = json!({
            "URI": task.job.target.uri(),
            "Size": output.size,
            "PageCount": output.pages,
        });
    }
    body
}

/// Queues the task's message to each target, then notes it was queued. The event id is
/// the task's, so a repeat after a crash carries the same id.
pub async fn announce(app: &App, task: &TaskRecord) -> Result<(), PortError> {
    let event = Event {
        id: task.event_id.clone(),
        event_type: EVENT_TYPE,
        tenant_key: task.tenant_key.clone(),
        subject: Subject {
            kind: SubjectKind::Task,
            id: task.task_id.clone(),
        },
        payload: message(task),
    };
    let spec = &task.notification;
    let deliveries = event.deliveries_to(
        spec.webhook_url.as_deref(),
        spec.sns_topic_arn.as_deref(),
        spec.event_bus_name.as_deref(),
        &app.config,
    );
    app.deliveries.enqueue(&deliveries).await?;
    app.tasks.mark_notified(task).await
}
