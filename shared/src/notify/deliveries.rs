//! `ListDeliveries` and `ReplayDelivery` (Folio's additions): the notifications of a record
//! (an image, a task, a job or a batch) with every attempt and what the receiver answered,
//! and a new delivery of one of them, the same signed body with the same event id, recorded
//! as further attempts of it.

use serde::Serialize;

use super::delivery::{Attempt, AttemptOutcome, Delivery, RecordedAttempt, Subject, SubjectKind};
use crate::app::App;
use crate::error::{ApiError, quote};
use crate::params::Params;
use crate::task::validate::record_id;
use crate::tenant::Tenant;

/// One event's delivery to one target, replays included.
#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct DeliveryView {
    pub event_id: String,
    pub event_type: String,
    pub target: super::delivery::Target,
    /// The last attempt's outcome: `Delivered`, `Retrying`, `GaveUp` or `Stopped`.
    pub state: AttemptOutcome,
    pub attempts: Vec<Attempt>,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct ListDeliveriesResponse {
    pub deliveries: Vec<DeliveryView>,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct ReplayDeliveryResponse {
    pub event_id: String,
    pub target: super::delivery::Target,
    /// The number the new delivery's first attempt will have.
    pub first_attempt: u32,
}

fn subject(params: &Params) -> Result<Subject, ApiError> {
    let kind = params.req_str("SubjectType")?;
    let kind = match kind.to_ascii_lowercase().as_str() {
        "image" => SubjectKind::Image,
        "task" => SubjectKind::Task,
        "job" => SubjectKind::Job,
        "batch" => SubjectKind::Batch,
        _ => {
            return Err(ApiError::invalid(
                "SubjectType",
                format!("must be Image, Task, Job or Batch, got {}", quote(&kind)),
            ));
        }
    };
    let id = params.req_str("SubjectId")?;
    record_id("SubjectId", &id)?;
    Ok(Subject { kind, id })
}

/// The subject's deliveries, each event and target once, in the order they were first tried.
fn group(attempts: Vec<RecordedAttempt>) -> Vec<DeliveryView> {
    let mut views: Vec<DeliveryView> = Vec::new();
    for RecordedAttempt { delivery, attempt } in attempts {
        let label = delivery.target.label();
        match views
            .iter_mut()
            .find(|v| v.event_id == delivery.event_id && v.target.label() == label)
        {
            Some(view) => view.attempts.push(attempt),
            None => views.push(DeliveryView {
                event_id: delivery.event_id,
                event_type: delivery.event_type,
                target: delivery.target,
                state: attempt.outcome,
                attempts: vec![attempt],
            }),
        }
    }
    for view in &mut views {
        view.attempts.sort_by_key(|a| a.number);
        if let Some(last) = view.attempts.last() {
            view.state = last.outcome;
        }
    }
    views.sort_by_key(|v| v.attempts.first().map(|a| a.at));
    views
}

pub async fn list(
    app: &App,
    tenant: &Tenant,
    params: &Params,
) -> Result<ListDeliveriesResponse, ApiError> {
    let subject = subject(params)?;
    let attempts = app.delivery_log.attempts(tenant.key(), &subject).await?;
    Ok(ListDeliveriesResponse {
        deliveries: group(attempts),
    })
}

pub async fn replay(
    app: &App,
    tenant: &Tenant,
    params: &Params,
) -> Result<ReplayDeliveryResponse, ApiError> {
    let subject = subject(params)?;
    let event_id = params.req_str("EventId")?;
    record_id("EventId", &event_id)?;
    let target = params.req_str("Target")?.to_ascii_lowercase();
    if !["webhook", "sns", "eventbridge"].contains(&target.as_str()) {
        return Err(ApiError::invalid(
            "Target",
            format!(
                "must be Webhook, SNS or EventBridge, got {}",
                quote(&target)
            ),
        ));
    }
    let attempts = app.delivery_log.attempts(tenant.key(), &subject).await?;
    let mut ours: Vec<RecordedAttempt> = attempts
        .into_iter()
        .filter(|r| r.delivery.event_id == event_id && r.delivery.target.label() == target)
        .collect();
    ours.sort_by_key(|r| r.attempt.number);
    let Some(last) = ours.last() else {
        return Err(ApiError::NotFound(format!(
            "EventId: no delivery of {} to the {target} is recorded for {:?} {}",
            quote(&event_id),
            subject.kind,
            quote(&subject.id)
        )));
    };
    if last.attempt.outcome == AttemptOutcome::Retrying {
        return Err(ApiError::InvalidState(format!(
            "the delivery is still being retried (attempt {} failed, another follows); \
             replay it once it has ended",
            last.attempt.number
        )));
    }
    let replay = Delivery {
        first_attempt: last.attempt.number + 1,
        ..last.delivery.clone()
    };
    app.deliveries
        .enqueue(std::slice::from_ref(&replay))
        .await?;
    tracing::info!(event_id = %replay.event_id, target = %target, first_attempt = replay.first_attempt, "delivery replayed");
    Ok(ReplayDeliveryResponse {
        event_id: replay.event_id,
        target: replay.target,
        first_attempt: replay.first_attempt,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::delivery::Target;
    use chrono::{TimeZone, Utc};

    fn recorded(event: &str, number: u32, outcome: AttemptOutcome) -> RecordedAttempt {
        RecordedAttempt {
            delivery: Delivery {
                event_id: event.into(),
                event_type: "T".into(),
                tenant_key: "t".into(),
                subject: Subject {
                    kind: SubjectKind::Task,
                    id: "x".into(),
                },
                target: Target::Webhook {
                    url: "https://example.com/hook".into(),
                },
                payload: serde_json::json!({}),
                first_attempt: 1,
            },
            attempt: Attempt {
                number,
                at: Utc.timestamp_opt(1_000 + i64::from(number), 0).unwrap(),
                outcome,
                status_code: None,
                detail: String::new(),
            },
        }
    }

    #[test]
    fn attempts_group_by_event_and_target_and_the_last_says_the_state() {
        let views = group(vec![
            recorded("b", 5, AttemptOutcome::Delivered),
            recorded("a", 2, AttemptOutcome::GaveUp),
            recorded("a", 1, AttemptOutcome::Retrying),
            recorded("a", 3, AttemptOutcome::Delivered),
        ]);
        assert_eq!(views.len(), 2);
        assert_eq!(views[0].event_id, "a", "the first tried first");
        assert_eq!(
            views[0]
                .attempts
                .iter()
                .map(|a| a.number)
                .collect::<Vec<_>>(),
            [1, 2, 3]
        );
        assert_eq!(views[0].state, AttemptOutcome::Delivered);
        assert_eq!(views[1].state, AttemptOutcome::Delivered);
    }
}
