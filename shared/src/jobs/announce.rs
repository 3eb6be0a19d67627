//! Job callbacks: the job document POSTed to the job's `callback` when it ends, and on
//! every status it enters with `notify_status: true`; through the notifier (signed,
//! retried, recorded), to the configured topic and bus as well.

use crate::app::App;
use crate::error::PortError;
use crate::notify::delivery::{Event, Subject, SubjectKind};
use crate::ports::JobState;

/// Queues the callback of the status the job is in. The event id names the job and the
/// position of that status in its history, so a repeat carries the same id.
pub async fn announce(app: &App, state: &JobState) -> Result<(), PortError> {
    let job = &state.job;
    if !job.notify_status && !job.status.is_terminal() {
        return Ok(());
    }
    let event = Event {
        id: format!("{}-{}", job.id, job.history.len()),
        event_type: event_type(job.status.code()),
        tenant_key: job.tenant_key.clone(),
        subject: Subject {
            kind: SubjectKind::Job,
            id: job.id.clone(),
        },
        payload: super::document(state),
    };
    let callback = Some(job.callback.as_str()).filter(|c| !c.is_empty());
    app.deliveries
        .enqueue(&event.deliveries(callback, &app.config))
        .await
}

fn event_type(code: &str) -> &'static str {
    match code {
        "completed" => "folio.job.completed",
        "failed" => "folio.job.failed",
        "canceled" => "folio.job.canceled",
        _ => "folio.job.status",
    }
}
