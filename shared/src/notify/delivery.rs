//! What travels on the notifications queue: one delivery of one event to one target.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::Config;

/// The record an event is about; delivery attempts are recorded beside it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Subject {
    pub kind: SubjectKind,
    pub id: String,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubjectKind {
    Image,
    Task,
    Job,
    Batch,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(tag = "Kind")]
pub enum Target {
    #[serde(rename_all = "PascalCase")]
    Webhook { url: String },
    #[serde(rename_all = "PascalCase")]
    Sns { topic_arn: String },
    #[serde(rename_all = "PascalCase")]
    EventBridge { bus_name: String },
}

impl Target {
    pub fn label(&self) -> &'static str {
        match self {
            Target::Webhook { .. } => "webhook",
            Target::Sns { .. } => "sns",
            Target::EventBridge { .. } => "eventbridge",
        }
    }
}

/// An event a producer wants delivered.
#[derive(Clone, Debug)]
pub struct Event {
    /// Stable for the same occurrence, so a redelivered producer message yields the same id
    /// and receivers can drop duplicates.
    pub id: String,
    pub event_type: &'static str,
    pub tenant_key: String,
    pub subject: Subject,
    pub payload: serde_json::Value,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Delivery {
    pub event_id: String,
    pub event_type: String,
    pub tenant_key: String,
    pub subject: Subject,
    pub target: Target,
    pub payload: serde_json::Value,
    /// The number of this delivery's first attempt: 1, or for a replay (`ReplayDelivery`)
    /// one past the attempts before it. A replay is a delivery of its own: its attempts
    /// continue the numbering, and its end is recorded apart from the original's.
    #[serde(default = "first", skip_serializing_if = "is_first")]
    pub first_attempt: u32,
}

fn first() -> u32 {
    1
}

fn is_first(n: &u32) -> bool {
    *n <= 1
}

impl Delivery {
    /// What tells this delivery apart from other copies of the event to the target: the
    /// target, and for a replay its first attempt.
    pub fn copy_key(&self) -> String {
        match self.first_attempt {
            0 | 1 => self.target.label().to_string(),
            n => format!("{}#from{n:03}", self.target.label()),
        }
    }
}

impl Event {
    /// One delivery per target: the request's webhook, if any, and the configured SNS topic
    /// and EventBridge bus.
    pub fn deliveries(&self, webhook_url: Option<&str>, config: &Config) -> Vec<Delivery> {
        self.deliveries_to(webhook_url, None, None, config)
    }

    /// One delivery per target: those the request named (webhook, SNS topic, EventBridge
    /// bus) and the configured topic and bus, each target once.
    pub fn deliveries_to(
        &self,
        webhook_url: Option<&str>,
        topic_arn: Option<&str>,
        bus_name: Option<&str>,
        config: &Config,
    ) -> Vec<Delivery> {
        let webhook = webhook_url.map(|url| Target::Webhook {
            url: url.to_string(),
        });
        let topics = [topic_arn, config.events_topic_arn.as_deref()]
            .into_iter()
            .flatten()
            .map(|arn| Target::Sns {
                topic_arn: arn.to_string(),
            });
        let buses = [bus_name, config.event_bus_name.as_deref()]
            .into_iter()
            .flatten()
            .map(|bus| Target::EventBridge {
                bus_name: bus.to_string(),
            });
        let mut targets: Vec<Target> = Vec::new();
        for target in webhook.into_iter().chain(topics).chain(buses) {
            if !targets.contains(&target) {
                targets.push(target);
            }
        }
        targets
            .into_iter()
            .map(|target| Delivery {
                event_id: self.id.clone(),
                event_type: self.event_type.to_string(),
                tenant_key: self.tenant_key.clone(),
                subject: self.subject.clone(),
                target,
                payload: self.payload.clone(),
                first_attempt: 1,
            })
            .collect()
    }
}

/// An attempt as the delivery log keeps it, with the delivery it was of (what was sent, to
/// where), so it can be shown and sent again.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedAttempt {
    pub delivery: Delivery,
    pub attempt: Attempt,
}

/// One try at delivering, as recorded.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Attempt {
    pub number: u32,
    pub at: DateTime<Utc>,
    pub outcome: AttemptOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptOutcome {
    Delivered,
    /// Failed; another attempt is scheduled.
    Retrying,
    /// Failed and no attempts are left.
    GaveUp,
    /// The receiver answered 410 Gone: no more attempts.
    Stopped,
}
