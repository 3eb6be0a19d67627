//! Batches, with IMM's names: the record of one batch, its states, the messages its scanner
//! and its items travel in, and how one object ended.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::actions::Recipe;
use super::matching::Matcher;
use crate::task::model::NotificationSpec;

/// IMM's batch states. `Ready` is a batch not yet started (Folio starts a batch as it
/// creates it, so a batch is `Ready` only if it could not be queued).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchState {
    Ready,
    Running,
    Suspended,
    Succeeded,
    Failed,
}

impl BatchState {
    pub const ALL: [BatchState; 5] = [
        BatchState::Ready,
        BatchState::Running,
        BatchState::Suspended,
        BatchState::Succeeded,
        BatchState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BatchState::Ready => "Ready",
            BatchState::Running => "Running",
            BatchState::Suspended => "Suspended",
            BatchState::Succeeded => "Succeeded",
            BatchState::Failed => "Failed",
        }
    }

    pub fn parse(text: &str) -> Option<BatchState> {
        BatchState::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(text.trim()))
    }
}

/// What happens when an object fails: `Abort` ends the batch `Failed` at the first one,
/// `Ignore` (the default) runs to the end and counts the failures.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum FastFail {
    Abort,
    #[default]
    Ignore,
}

/// The objects a batch reads: those under `prefix` in `bucket` that `matcher` keeps.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct BatchInput {
    pub bucket: String,
    #[serde(default)]
    pub prefix: String,
    #[serde(default)]
    pub matcher: Matcher,
}

/// Where the batch's scan is: the pages claimed so far in this run and the last key they
/// reached (`Marker`). The scan of page `pages` starts after `marker`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ScanPosition {
    pub pages: u64,
    #[serde(default)]
    pub marker: String,
    /// The last page was claimed: every matching object has been submitted.
    #[serde(default)]
    pub done: bool,
    /// Objects submitted as items (`SubmitSuccess`) and objects passed over (`SkipFiles`).
    #[serde(default)]
    pub submitted: u64,
    #[serde(default)]
    pub skipped: u64,
}

/// How the items of one run ended, summed over the counter shards.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ItemCounts {
    pub succeeded: u64,
    pub failed: u64,
    pub outputs: u64,
}

impl ItemCounts {
    pub fn settled(&self) -> u64 {
        self.succeeded + self.failed
    }

    pub fn add(&mut self, other: ItemCounts) {
        self.succeeded += other.succeeded;
        self.failed += other.failed;
        self.outputs += other.outputs;
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct BatchRecord {
    pub tenant_key: String,
    pub project_name: String,
    pub id: String,
    pub state: BatchState,
    pub input: BatchInput,
    /// `Input` as the request gave it (`OSS` or `S3`), echoed by `GetBatch`.
    pub input_echo: Value,
    /// `Actions` as the request gave them (echoed by `GetBatch`).
    pub actions: Value,
    /// The actions as Folio runs them.
    pub recipe: Recipe,
    pub fast_fail: FastFail,
    #[serde(default)]
    pub notification: NotificationSpec,
    /// `Notification` as the request gave it.
    #[serde(default)]
    pub notification_echo: Value,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    pub service_role: String,
    /// Starts at 1; a resume of a failed batch starts the next run, which scans again and
    /// redoes only the objects no earlier run converted.
    pub run: u32,
    pub scan: ScanPosition,
    /// The counts of the run when it ended (while it runs they live in the shards).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_counts: Option<ItemCounts>,
    #[serde(default)]
    pub error: String,
    /// The last run whose end was announced.
    #[serde(default)]
    pub notified_run: u32,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
    /// Every change adds one; writes are conditional on it.
    pub version: u64,
    pub expires_at: i64,
}

impl BatchRecord {
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.expires_at > now.timestamp()
    }

    pub fn has_ended(&self) -> bool {
        matches!(self.state, BatchState::Succeeded | BatchState::Failed)
    }

    pub fn reference(&self) -> BatchRef {
        BatchRef {
            tenant_key: self.tenant_key.clone(),
            project_name: self.project_name.clone(),
            batch_id: self.id.clone(),
            run: self.run,
        }
    }

    /// IMM's `Phase`: where the batch's work is.
    pub fn phase(&self) -> &'static str {
        match (self.state, self.scan.done) {
            (BatchState::Succeeded | BatchState::Failed, _) => "Finished",
            (_, false) => "Scanning",
            (_, true) => "Processing",
        }
    }

    /// How the request named the input (`Input.OSS` or `Input.S3`): object URIs in answers
    /// take that form.
    pub fn input_scheme(&self) -> crate::task::model::UriScheme {
        match self.input_echo.get("OSS") {
            Some(_) => crate::task::model::UriScheme::Oss,
            None => crate::task::model::UriScheme::S3,
        }
    }

    /// The event id of the run's end: one per run, the same on a repeat.
    pub fn end_event_id(&self) -> String {
        format!("{}-run{}", self.id, self.run)
    }
}

/// What identifies a batch in a message.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct BatchRef {
    pub tenant_key: String,
    pub project_name: String,
    pub batch_id: String,
    pub run: u32,
}

/// The messages on the batches queue.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(tag = "BatchMessage", rename_all_fields = "PascalCase")]
pub enum BatchMessage {
    /// List page `page` of the run (it starts after the record's `Marker`).
    Scan {
        #[serde(flatten)]
        batch: BatchRef,
        page: u64,
    },
    /// Apply the actions to one object.
    Item {
        #[serde(flatten)]
        batch: BatchRef,
        key: String,
    },
    /// Ends the run if every submitted item is settled; otherwise comes back later.
    Check {
        #[serde(flatten)]
        batch: BatchRef,
    },
}

impl BatchMessage {
    pub fn batch(&self) -> &BatchRef {
        match self {
            BatchMessage::Scan { batch, .. }
            | BatchMessage::Item { batch, .. }
            | BatchMessage::Check { batch } => batch,
        }
    }
}

/// How one object of a run ended.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ItemOutcome {
    pub key: String,
    /// The outputs written (0 when it failed).
    pub outputs: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<ItemFailure>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ItemFailure {
    pub code: String,
    pub message: String,
}

impl ItemOutcome {
    pub fn succeeded(key: &str, outputs: u32) -> Self {
        ItemOutcome {
            key: key.to_string(),
            outputs,
            failure: None,
        }
    }

    pub fn failed(key: &str, code: &str, message: impl Into<String>) -> Self {
        ItemOutcome {
            key: key.to_string(),
            outputs: 0,
            failure: Some(ItemFailure {
                code: code.to_string(),
                message: message.into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_say_their_kind() {
        let m = BatchMessage::Item {
            batch: BatchRef {
                tenant_key: "t".into(),
                project_name: "p".into(),
                batch_id: "batch-1".into(),
                run: 2,
            },
            key: "in/a.jpg".into(),
        };
        let text = serde_json::to_string(&m).unwrap();
        assert!(text.contains("\"BatchMessage\":\"Item\""), "{text}");
        assert!(text.contains("\"Key\":\"in/a.jpg\""), "{text}");
        assert_eq!(serde_json::from_str::<BatchMessage>(&text).unwrap(), m);
        assert!(serde_json::from_str::<BatchMessage>(r#"{"TaskId":"x"}"#).is_err());
    }
}
