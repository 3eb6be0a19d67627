//! The notifier worker: delivers one queued delivery, records the attempt, and schedules the
//! next try with exponential backoff (through the message's visibility) until it succeeds,
//! the receiver answers 410, or the attempts run out.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;

use super::delivery::{Attempt, AttemptOutcome, Delivery, Target};
use super::signature;
use super::webhook::{SignedPost, WebhookPoster};
use crate::config::Config;
use crate::ports::{DeliveryLog, DeliveryQueue, EventChannels};
use crate::queue::{QueueMessage, QueueWorker, WorkerError};

/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(15 * 60);

pub struct Notifier {
    pub config: Config,
    pub queue: Arc<dyn DeliveryQueue>,
    pub log: Arc<dyn DeliveryLog>,
    pub channels: Arc<dyn EventChannels>,
    pub webhooks: WebhookPoster,
}

/// What one try came to, before it is recorded.
enum Tried {
    Delivered(Option<u16>),
    Gone,
    /// This deployment cannot reach the channel at all (SNS and EventBridge on one
    /// machine): retrying would change nothing.
    Unreachable(String),
    Failed {
        status: Option<u16>,
        detail: String,
    },
}

/// A channel's refusal as a try: `Denied` means the channel is out of reach for good.
fn channel_failure(error: crate::error::PortError) -> Tried {
    match error {
        crate::error::PortError::Denied(reason) => Tried::Unreachable(reason),
        other => Tried::Failed {
            status: None,
            detail: other.to_string(),
        },
    }
}

/// Delay before attempt `attempt + 1`: base, 2 base, 4 base, ... capped at 15 minutes.
pub fn backoff(base: Duration, attempt: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
    base.saturating_mul(factor).min(MAX_BACKOFF)
}

impl Notifier {
    async fn try_once(&self, delivery: &Delivery) -> Tried {
        let body = delivery.payload.to_string();
        match &delivery.target {
            Target::Webhook { url } => {
                let key = signature::tenant_signing_key(
                    &self.config.webhook_secret,
                    &delivery.tenant_key,
                );
                let post = SignedPost {
                    url,
                    event_id: &delivery.event_id,
                    event_type: &delivery.event_type,
                    signing_key: &key,
                    body: body.as_bytes(),
                };
                match self.webhooks.post(&post).await {
                    Ok(status) if (200..300).contains(&status) => Tried::Delivered(Some(status)),
                    Ok(410) => Tried::Gone,
                    Ok(status) => Tried::Failed {
                        status: Some(status),
                        detail: format!("the receiver answered {status}"),
                    },
                    Err(e) => Tried::Failed {
                        status: None,
                        detail: e.to_string(),
                    },
                }
            }
            Target::Sns { topic_arn } => {
                match self
                    .channels
                    .publish_sns(topic_arn, &delivery.event_type, &body)
                    .await
                {
                    Ok(()) => Tried::Delivered(None),
                    Err(e) => channel_failure(e),
                }
            }
            Target::EventBridge { bus_name } => {
                match self
                    .channels
                    .put_event(bus_name, &delivery.event_type, &body)
                    .await
                {
                    Ok(()) => Tried::Delivered(None),
                    Err(e) => channel_failure(e),
                }
            }
        }
    }
}

#[async_trait]
impl QueueWorker for Notifier {
    async fn handle(&self, message: &QueueMessage) -> Result<(), WorkerError> {
        let delivery: Delivery = match serde_json::from_str(&message.body) {
            Ok(d) => d,
            Err(error) => {
                // Only Folio writes this queue; a message it cannot read will never deliver.
                tracing::error!(message_id = %message.id, %error, "unreadable delivery dropped");
                return Ok(());
            }
        };
        // A copy of a delivery that already ended (the work that queued it was redone after
        // the queue's deduplication window) is dropped: one delivery per event and target.
        match self.log.has_ended(&delivery).await {
            Ok(true) => {
                tracing::info!(event_id = %delivery.event_id, target = delivery.target.label(), "a copy of an ended delivery dropped");
                return Ok(());
            }
            Ok(false) => {}
            Err(error) => return Err(error.into()),
        }
        // A replay's attempts continue the numbering; its own tries count against the limit.
        let tries = message.receive_count.max(1);
        let number = delivery.first_attempt.max(1) - 1 + tries;
        let (outcome, status_code, detail) = match self.try_once(&delivery).await {
            Tried::Delivered(status) => (AttemptOutcome::Delivered, status, String::new()),
            Tried::Gone => (
                AttemptOutcome::Stopped,
                Some(410),
                "the receiver answered 410 Gone; no more attempts".to_string(),
            ),
            Tried::Unreachable(detail) => (AttemptOutcome::Stopped, None, detail),
            Tried::Failed { status, detail } if tries >= self.config.webhook_max_attempts => {
                (AttemptOutcome::GaveUp, status, detail)
            }
            Tried::Failed { status, detail } => (AttemptOutcome::Retrying, status, detail),
        };
        let attempt = Attempt {
            number,
            at: Utc::now(),
            outcome,
            status_code,
            detail,
        };
        tracing::info!(
            event_id = %delivery.event_id,
            target = delivery.target.label(),
            attempt = number,
            outcome = ?attempt.outcome,
            detail = %attempt.detail,
            "delivery attempt"
        );
        if let Err(error) = self.log.record_attempt(&delivery, &attempt).await {
            tracing::warn!(event_id = %delivery.event_id, %error, "delivery attempt not recorded");
        }
        if outcome != AttemptOutcome::Retrying {
            // Recorded after the attempt: a crash in between may send it once more, never
            // lose it. A FIFO group holds one copy at a time, so two cannot race here.
            if let Err(error) = self.log.record_end(&delivery).await {
                tracing::warn!(event_id = %delivery.event_id, %error, "a delivery's end not recorded");
            }
            return Ok(());
        }
        let delay = backoff(self.config.webhook_retry_base, tries);
        if let Some(receipt) = &message.receipt_handle {
            self.queue.postpone(receipt, delay).await?;
        }
        Err(WorkerError::Retry(attempt.detail))
    }

    async fn release(&self, message: &QueueMessage) {
        if let Some(receipt) = &message.receipt_handle
            && let Err(error) = self.queue.postpone(receipt, Duration::ZERO).await
        {
            tracing::warn!(message_id = %message.id, %error, "a held-back delivery was not released");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_about_an_hour_in_all() {
        let base = Duration::from_secs(30);
        let delays: Vec<u64> = (1..9).map(|n| backoff(base, n).as_secs()).collect();
        assert_eq!(delays, vec![30, 60, 120, 240, 480, 900, 900, 900]);
        let total: u64 = delays.iter().sum();
        assert!((3000..=4000).contains(&total), "{total}");
    }
}
