//! Projects and tasks, with IMM's names: what is recorded, and the vocabulary of requests.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

/// IMM's project: the namespace of tasks, with the role workers act through.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ProjectRecord {
    pub tenant_key: String,
    pub project_name: String,
    pub service_role: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskStatus {
    Running,
    Succeeded,
    Failed,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Running => "Running",
            TaskStatus::Succeeded => "Succeeded",
            TaskStatus::Failed => "Failed",
        }
    }

    pub fn is_final(self) -> bool {
        self != TaskStatus::Running
    }
}

pub const IMAGE_TO_PDF: &str = "ImageToPDF";

/// How a URI named its object: `s3://` or IMM's `oss://`. Both name the same buckets;
/// answers use the caller's form.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UriScheme {
    #[default]
    S3,
    Oss,
}

impl UriScheme {
    pub fn prefix(self) -> &'static str {
        match self {
            UriScheme::S3 => "s3://",
            UriScheme::Oss => "oss://",
        }
    }

    /// The scheme of `uri` and what follows it, for `s3://` and `oss://` URIs.
    pub fn split(uri: &str) -> Option<(UriScheme, &str)> {
        [UriScheme::S3, UriScheme::Oss]
            .into_iter()
            .find_map(|scheme| Some((scheme, uri.strip_prefix(scheme.prefix())?)))
    }

    fn is_s3(&self) -> bool {
        *self == UriScheme::S3
    }
}

/// An object in a bucket, from an `s3://bucket/key` or `oss://bucket/key` URI.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct S3Location {
    pub bucket: String,
    pub key: String,
    #[serde(default, skip_serializing_if = "UriScheme::is_s3")]
    pub scheme: UriScheme,
}

impl S3Location {
    pub fn uri(&self) -> String {
        format!("{}{}/{}", self.scheme.prefix(), self.bucket, self.key)
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct PdfSource {
    pub location: S3Location,
    pub rotate: u16,
}

/// Where a task's notification goes, as the request named it.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct NotificationSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sns_topic_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_bus_name: Option<String>,
}

/// The page options of the engine, as the request gave them (validated).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct PageSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub margin: Option<String>,
    #[serde(default)]
    pub auto_orient: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jpeg_quality: Option<u8>,
}

impl PageSpec {
    /// The engine's options for this spec; `(field, reason)` for a bad value.
    pub fn options(&self) -> Result<folio_engine::pdf::PageOptions, (&'static str, String)> {
        Ok(folio_engine::pdf::PageOptions {
            size: self
                .page_size
                .as_deref()
                .map(folio_engine::pdf::units::parse_page_size)
                .transpose()
                .map_err(|e| ("PageSize", e))?,
            fit: self
                .fit
                .as_deref()
                .map(folio_engine::pdf::units::parse_fit)
                .transpose()
                .map_err(|e| ("Fit", e))?
                .unwrap_or_default(),
            margin: self
                .margin
                .as_deref()
                .map(folio_engine::pdf::units::parse_length)
                .transpose()
                .map_err(|e| ("Margin", e))?
                .unwrap_or(0.0),
            auto_orient: self.auto_orient,
        })
    }
}

/// What the worker needs of a `CreateImageToPDFTask` request.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct PdfJob {
    pub sources: Vec<PdfSource>,
    pub target: S3Location,
    #[serde(default)]
    pub page: PageSpec,
    /// Roles assumed in turn after the project's `ServiceRole` (`CredentialConfig.Chain`).
    #[serde(default)]
    pub role_chain: Vec<String>,
}

/// What the finished PDF is.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct PdfOutput {
    pub size: u64,
    pub pages: u32,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct TaskRecord {
    pub tenant_key: String,
    pub project_name: String,
    pub task_id: String,
    pub task_type: String,
    /// The id of the task's notification event (IMM's `EventId`).
    pub event_id: String,
    pub status: TaskStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub progress: u8,
    pub start_time: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// The request as received, for `GetTask` with `RequestDefinition`.
    pub request_definition: String,
    /// The project's role when the task was created.
    pub service_role: String,
    pub job: PdfJob,
    #[serde(default)]
    pub notification: NotificationSpec,
    /// The worker run that owns the task now; a newer run takes it over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<String>,
    #[serde(default)]
    pub attempts: u32,
    /// The multipart upload the claiming run writes the PDF through: a run that takes the
    /// task over aborts it, so a dead run leaves no parts behind in the user's bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<PdfOutput>,
    #[serde(default)]
    pub notified: bool,
    pub expires_at: i64,
}

impl TaskRecord {
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.expires_at > now.timestamp()
    }
}

/// IMM's time format: RFC 3339 with milliseconds, in UTC.
pub fn imm_time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The message a worker finds on the PDF queue.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct TaskMessage {
    pub tenant_key: String,
    pub project_name: String,
    pub task_id: String,
}

/// How a task ended badly: IMM-style code and a message naming the cause.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskFailure {
    pub code: &'static str,
    pub message: String,
}

impl TaskFailure {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        TaskFailure {
            code,
            message: message.into(),
        }
    }
}
