//! Conversion jobs as recorded, with the online-convert API v2's vocabulary: the job (with
//! its inputs and conversions, changed only before it starts), the outcome of each
//! (input, conversion) pair, and the outputs.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A job's `status.code`, in the order a job goes through them.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Incomplete,
    Ready,
    Queued,
    Downloading,
    Pending,
    Processing,
    Completed,
    Failed,
    Canceled,
}

impl JobStatus {
    pub const ALL: [JobStatus; 9] = [
        JobStatus::Incomplete,
        JobStatus::Ready,
        JobStatus::Queued,
        JobStatus::Downloading,
        JobStatus::Pending,
        JobStatus::Processing,
        JobStatus::Completed,
        JobStatus::Failed,
        JobStatus::Canceled,
    ];

    pub fn code(self) -> &'static str {
        match self {
            JobStatus::Incomplete => "incomplete",
            JobStatus::Ready => "ready",
            JobStatus::Queued => "queued",
            JobStatus::Downloading => "downloading",
            JobStatus::Pending => "pending",
            JobStatus::Processing => "processing",
            JobStatus::Completed => "completed",
            JobStatus::Failed => "failed",
            JobStatus::Canceled => "canceled",
        }
    }

    pub fn parse(code: &str) -> Option<JobStatus> {
        JobStatus::ALL.into_iter().find(|s| s.code() == code)
    }

    pub fn info(self) -> &'static str {
        match self {
            JobStatus::Incomplete => {
                "The job needs at least one input and one conversion before it can run."
            }
            JobStatus::Ready => "The job is ready and starts when process is set to true.",
            JobStatus::Queued => "The job is waiting in the queue to be processed.",
            JobStatus::Downloading => "The input files are being downloaded.",
            JobStatus::Pending => "The job is waiting for its downloads to start.",
            JobStatus::Processing => "The files are being converted.",
            JobStatus::Completed => "The files have been converted.",
            JobStatus::Failed => "The files could not be converted; the errors say why.",
            JobStatus::Canceled => "The job was canceled.",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobStatus::Completed | JobStatus::Failed | JobStatus::Canceled
        )
    }

    /// Whether the job may still be changed (inputs, conversions, options).
    pub fn is_open(self) -> bool {
        matches!(self, JobStatus::Incomplete | JobStatus::Ready)
    }
}

/// An `errors[]` or `warnings[]` entry.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct JobMessage {
    /// `input` or `conversion` (or `job` for the job as a whole).
    pub source: String,
    pub id_source: String,
    pub code: u32,
    pub message: String,
    #[serde(default)]
    pub details: Map<String, Value>,
}

impl JobMessage {
    pub fn new(source: &str, id_source: &str, code: u32, message: impl Into<String>) -> Self {
        JobMessage {
            source: source.to_string(),
            id_source: id_source.to_string(),
            code,
            message: message.into(),
            details: Map::new(),
        }
    }
}

/// The codes Folio puts in `errors[]` and `warnings[]`: the contract's where it has one.
pub mod codes {
    /// A remote input could not be downloaded (the contract's 404).
    pub const DOWNLOAD_FAILED: u32 = 404;
    /// A cloud input's object was not found or could not be read (the contract's 17).
    pub const CLOUD_NOT_FOUND: u32 = 17;
    /// Any other failure of a cloud input (the contract's 99).
    pub const CLOUD_FAILED: u32 = 99;
    /// The URL was refused: a private, loopback, link-local or metadata address.
    pub const URL_REFUSED: u32 = 403;
    /// The input is larger than `limits.input.max_file_size`.
    pub const TOO_LARGE: u32 = 413;
    /// The input is not an image Folio reads, or is corrupt.
    pub const UNREADABLE: u32 = 6005;
    /// The requested size is beyond what Folio makes (the contract's 6037).
    pub const TOO_BIG_OUTPUT: u32 = 6037;
    /// Writing the output to its cloud target failed.
    pub const OUTPUT_TARGET_FAILED: u32 = 6100;
    /// The conversion would spend more than `limits.job.max_credit`.
    pub const CREDIT_LIMIT: u32 = 402;
    /// The job ran past `limits.job.max_process_time`.
    pub const PROCESS_TIME: u32 = 408;
    /// The conversion kept failing for reasons of Folio's own.
    pub const INTERNAL: u32 = 500;
    /// The job produced no output.
    pub const NO_OUTPUT: u32 = 1;
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    Remote,
    Upload,
    Base64,
    Cloud,
    InputId,
    Output,
}

impl InputKind {
    pub fn parse(text: &str) -> Option<InputKind> {
        Some(match text {
            "remote" => InputKind::Remote,
            "upload" => InputKind::Upload,
            "base64" => InputKind::Base64,
            "cloud" => InputKind::Cloud,
            "input_id" => InputKind::InputId,
            "output" => InputKind::Output,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            InputKind::Remote => "remote",
            InputKind::Upload => "upload",
            InputKind::Base64 => "base64",
            InputKind::Cloud => "cloud",
            InputKind::InputId => "input_id",
            InputKind::Output => "output",
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum InputStatus {
    Downloading,
    Ready,
    Failed,
    Canceled,
}

/// Where a file Folio keeps for a job lives in its own bucket.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct StoredFile {
    pub bucket: String,
    pub key: String,
}

/// What a fetched or uploaded file is.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct FileFacts {
    pub filename: String,
    pub size: u64,
    /// 32 hex digits: the first half of the SHA-256 of the bytes.
    pub checksum: String,
    pub content_type: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct InputRecord {
    pub id: String,
    pub kind: InputKind,
    pub source: String,
    pub status: InputStatus,
    #[serde(default)]
    pub facts: FileFacts,
    /// Cloud locator keys (`bucket`, `file`, `region`), echoed back.
    #[serde(default)]
    pub parameters: Map<String, Value>,
    /// Cloud credentials: used to fetch, never returned, erased once fetched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Map<String, Value>>,
    #[serde(default)]
    pub options: Map<String, Value>,
    /// The file in Folio's bucket, once fetched or uploaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stored: Option<StoredFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<JobMessage>,
    pub created_at: DateTime<Utc>,
    pub modified_at: DateTime<Utc>,
}

/// A conversion's cloud delivery target.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct OutputTarget {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub parameters: Map<String, Value>,
    /// Used to write, never returned, erased when the job ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Map<String, Value>>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ConversionRecord {
    pub id: String,
    pub target: String,
    pub category: String,
    /// Every option the target has, unset ones as null, as the API echoes them.
    pub options: Map<String, Value>,
    #[serde(default)]
    pub metadata: Map<String, Value>,
    #[serde(default)]
    pub output_targets: Vec<OutputTarget>,
}

/// `limits` as the job carries them; absent ones are unlimited (within Folio's own caps).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct JobLimits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_credit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_inputs: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_process_time: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_file_size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_downloads: Option<u64>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct HistoryEntry {
    pub status: JobStatus,
    pub at: DateTime<Utc>,
}

/// The job record. Everything but the counters changes through a read and a write
/// conditional on `version`; the counters change through atomic additions.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct JobRecord {
    pub id: String,
    pub tenant_key: String,
    pub token: String,
    pub status: JobStatus,
    pub process: bool,
    pub fail_on_input_error: bool,
    pub fail_on_conversion_error: bool,
    pub callback: String,
    pub notify_status: bool,
    pub conversions: Vec<ConversionRecord>,
    pub inputs: Vec<InputRecord>,
    #[serde(default)]
    pub limits: JobLimits,
    /// SHA-256 (hex) of each download password; the passwords themselves are not kept.
    #[serde(default)]
    pub download_passwords: Vec<String>,
    #[serde(default)]
    pub errors: Vec<JobMessage>,
    #[serde(default)]
    pub warnings: Vec<JobMessage>,
    #[serde(default)]
    pub history: Vec<HistoryEntry>,
    /// The public base URL the job's `server` and output URIs are built on.
    pub base_url: String,
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub modified_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    /// Counters, changed atomically by the pair workers.
    #[serde(default)]
    pub pairs_total: u64,
    #[serde(default)]
    pub pairs_done: u64,
    #[serde(default)]
    pub credits_reserved: u64,
    #[serde(default)]
    pub spent: u64,
    /// Whether the job's final callback was queued.
    #[serde(default)]
    pub notified: bool,
}

impl JobRecord {
    /// The per-job base of uploads and downloads.
    pub fn server(&self) -> String {
        format!("{}/v2/dl/{}", self.base_url, self.id)
    }

    pub fn input(&self, id: &str) -> Option<&InputRecord> {
        self.inputs.iter().find(|i| i.id == id)
    }

    pub fn conversion(&self, id: &str) -> Option<&ConversionRecord> {
        self.conversions.iter().find(|c| c.id == id)
    }

    /// The status an open job has for what it holds.
    pub fn open_status(&self) -> JobStatus {
        if self.inputs.is_empty() || self.conversions.is_empty() {
            JobStatus::Incomplete
        } else {
            JobStatus::Ready
        }
    }
}

/// How one (input, conversion) pair ended.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum PairOutcome {
    /// An output was kept; it cost `credits`.
    Output { output_id: String, credits: u64 },
    /// The output went to the conversion's cloud targets; it cost `credits`.
    Delivered { credits: u64 },
    /// Failed; an error or (with `fail_on_conversion_error: false`) a warning.
    Failed { message: JobMessage },
}

impl PairOutcome {
    pub fn credits(&self) -> u64 {
        match self {
            PairOutcome::Output { credits, .. } | PairOutcome::Delivered { credits } => *credits,
            PairOutcome::Failed { .. } => 0,
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct PairRecord {
    pub input_id: String,
    pub conversion_id: String,
    #[serde(flatten)]
    pub outcome: PairOutcome,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum OutputStatus {
    Enabled,
    Disabled,
    Expired,
    Overuse,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct OutputRecord {
    pub id: String,
    pub job_id: String,
    pub conversion_id: String,
    pub input_id: String,
    pub stored: StoredFile,
    pub facts: FileFacts,
    pub status: OutputStatus,
    #[serde(default)]
    pub downloads_counter: u64,
    /// SHA-256 (hex) of the download password set on this output alone, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download_password: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// What the jobs queue carries.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JobMessageBody {
    /// Fetch the job's inputs, then queue its pairs.
    Start { job_id: String },
    /// Convert one input with one conversion.
    Pair {
        job_id: String,
        input_id: String,
        conversion_id: String,
    },
}

impl JobMessageBody {
    pub fn job_id(&self) -> &str {
        match self {
            JobMessageBody::Start { job_id } | JobMessageBody::Pair { job_id, .. } => job_id,
        }
    }
}

/// The credits a conversion costs: one for every started 25 megapixels of output, so
/// every ordinary image costs 1.
pub fn credits_for(width: u32, height: u32) -> u64 {
    const PIXELS_PER_CREDIT: u64 = 25_000_000;
    let pixels = u64::from(width) * u64::from(height);
    pixels.div_ceil(PIXELS_PER_CREDIT).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credits_by_megapixels() {
        assert_eq!(credits_for(1, 1), 1);
        assert_eq!(credits_for(5000, 5000), 1);
        assert_eq!(credits_for(5000, 5001), 2);
        assert_eq!(credits_for(10_000, 10_000), 4);
    }

    #[test]
    fn statuses_round_trip_and_end() {
        for s in JobStatus::ALL {
            assert_eq!(JobStatus::parse(s.code()), Some(s));
        }
        let terminal: Vec<_> = JobStatus::ALL
            .into_iter()
            .filter(|s| s.is_terminal())
            .collect();
        assert_eq!(
            terminal,
            vec![JobStatus::Completed, JobStatus::Failed, JobStatus::Canceled]
        );
    }
}
