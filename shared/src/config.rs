//! Configuration, from environment variables only. The same names are read in Lambda and
//! by `folio serve`; endpoints come from the standard `AWS_ENDPOINT_URL`.

use std::time::Duration;

use ipnet::IpNet;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} is not set")]
    Missing(&'static str),
    #[error("{name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

#[derive(Clone, Debug)]
pub struct Config {
    /// `FOLIO_TABLE`: the DynamoDB table of records.
    pub table: String,
    /// `FOLIO_UPLOAD_BUCKETS`: comma-separated; the first is the default `StorageLocation`.
    pub upload_buckets: Vec<String>,
    /// `FOLIO_NOTIFICATIONS_QUEUE_URL`: where producers put notification deliveries.
    pub notifications_queue_url: String,
    /// `FOLIO_PDF_QUEUE_URL`: the queue of images-to-PDF tasks (needed by the functions that
    /// create them).
    pub pdf_queue_url: Option<String>,
    /// `FOLIO_JOBS_QUEUE_URL`: the queue of conversion jobs' starts and pairs (needed by
    /// the functions that serve `/v2`).
    pub jobs_queue_url: Option<String>,
    /// `FOLIO_BATCHES_QUEUE_URL`: the queue of batches' scanner pages, items and end checks
    /// (needed by the functions that create and run batches).
    pub batches_queue_url: Option<String>,
    /// `FOLIO_BATCH_CHECK_SECONDS` (default 10; fractions allowed, at least 0.05): how often a
    /// batch whose scan is done looks whether every object is accounted for. SQS delays in
    /// whole seconds, so on AWS a fraction counts as one second.
    pub batch_check_interval: Duration,
    /// `FOLIO_BATCH_PAGE_SIZE` (default 1000, S3's largest page): keys a scanner page lists.
    pub batch_page_size: usize,
    /// `FOLIO_PUBLIC_URL`: the base URL callers reach the API at, for the upload and
    /// download URLs of jobs (`server`, output `uri`); the request's host when unset.
    pub public_url: Option<String>,
    /// `FOLIO_TRUST_FORWARDED_HEADERS` (default off): take the public host from
    /// `X-Forwarded-Host`, for a deployment behind a proxy that sets it (and drops what
    /// callers send). Off, a caller cannot choose the host of the URLs Folio hands out;
    /// `FOLIO_PUBLIC_URL` wins either way.
    pub trust_forwarded_headers: bool,
    /// `FOLIO_MAX_JOB_INPUTS` (default 100): the most inputs a job may have.
    pub max_job_inputs: u64,
    /// `FOLIO_NOTIFICATION_TARGET_PREFIX` (default `folio-`): the start of the names of the
    /// SNS topics and EventBridge buses a task may name (the notifier may publish to those).
    pub notification_target_prefix: String,
    /// `FOLIO_MAX_SOURCE_BYTES` (default 128 MiB): the largest source image a task reads (the
    /// worker holds up to four sources at once).
    pub max_source_bytes: u64,
    /// `FOLIO_MAX_UPLOAD_BYTES` (default 64 MiB): the largest upload to the image library; a
    /// larger one ends `UploadFail` and its object is deleted.
    pub max_upload_bytes: u64,
    /// `FOLIO_EVENTS_TOPIC_ARN`: SNS topic that receives every event (optional).
    pub events_topic_arn: Option<String>,
    /// `FOLIO_EVENT_BUS_NAME`: EventBridge bus that receives every event (optional).
    pub event_bus_name: Option<String>,
    /// `FOLIO_CDN_DOMAIN`: host that serves the upload buckets for `OutputType=cdn` (optional).
    pub cdn_domain: Option<String>,
    /// `FOLIO_WEBHOOK_SECRET`: the master secret that per-tenant webhook signing keys derive from.
    pub webhook_secret: String,
    /// `FOLIO_ALLOWED_PRIVATE_NETWORKS`: CIDRs that webhooks may reach although private
    /// (for local development; empty in the cloud).
    pub allowed_private_networks: Vec<IpNet>,
    /// `FOLIO_WEBHOOK_RETRY_BASE_SECONDS` (default 30): first retry delay, doubled each time.
    pub webhook_retry_base: Duration,
    /// `FOLIO_WEBHOOK_MAX_ATTEMPTS` (default 9: about an hour of retries with the default base).
    pub webhook_max_attempts: u32,
    /// `FOLIO_MAX_IMAGE_SIDE` (default 30000) and `FOLIO_MAX_IMAGE_PIXELS` (default 200 million).
    pub max_image_side: u32,
    pub max_image_pixels: u64,
    /// `AWS_REGION`, for URLs.
    pub region: String,
    /// `FOLIO_ACCOUNT_ID`: the AWS account of the stack, for the ARNs of topics named by
    /// name (an IMM `Notification.MNS.TopicName` is the SNS topic of that name).
    pub account_id: Option<String>,
    /// `FOLIO_KEYS_KMS_KEY`: the KMS key (id, ARN or alias) that encrypts the signing secrets
    /// of access keys in the key store.
    pub keys_kms_key: Option<String>,
    /// `AWS_ENDPOINT_URL`, set when running against an emulator.
    pub endpoint_url: Option<String>,
    /// Where buckets are served when S3 does not serve them: `folio serve`'s `/files` on
    /// one machine (set there, not read from the environment).
    pub files_url: Option<String>,
    /// `FOLIO_OSS_ENDPOINT`: where the OSS SDKs upload (`UploadAddress.Endpoint`), a bare
    /// `scheme://host[:port]` that reaches Folio's OSS endpoint at its root. `folio serve`
    /// sets its own address when this is unset; unset in AWS, `UploadAddress` names the
    /// bucket's S3 URL and only `UploadAuth.UploadURL` uploads.
    pub oss_endpoint: Option<String>,
    /// `FOLIO_GCS_ENDPOINT` (default `https://storage.googleapis.com`): where Google Cloud
    /// Storage inputs and output targets go (an emulator's URL locally).
    pub gcs_endpoint: String,
    /// `FOLIO_AZURE_BLOB_ENDPOINT` (default `https://{account}.blob.core.windows.net`): the
    /// Blob Storage endpoint of an account, `{account}` replaced by `credentials.accountname`
    /// (Azurite's `http://127.0.0.1:10000/{account}` locally).
    pub azure_blob_endpoint: String,
    /// `FOLIO_FTP_CA_FILE`: PEM certificates FTPS servers may also chain to, beside the
    /// system's roots (optional; a private CA's, or a local test CA's).
    pub ftp_ca_file: Option<String>,
}

/// The most inputs a job may be configured to take: a job and its inputs are one DynamoDB
/// item (400 KB at most), an input about 0.7 KB of it.
pub const MAX_JOB_INPUTS: u64 = 300;

/// How long an upload credential lives, as in VOD.
pub const UPLOAD_AUTH_TTL: Duration = Duration::from_secs(3000);
/// How long records of unfinished uploads, tasks and deliveries are kept.
pub const RECORD_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

impl Config {
    /// The engine's limits on images, from `FOLIO_MAX_IMAGE_SIDE` and `_PIXELS`.
    pub fn image_limits(&self) -> folio_engine::formats::Limits {
        folio_engine::formats::Limits {
            max_side: self.max_image_side,
            max_pixels: self.max_image_pixels,
            ..folio_engine::formats::Limits::default()
        }
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let required = |name: &'static str| get(name).ok_or(ConfigError::Missing(name));
        let number = |name: &'static str, default: u64| -> Result<u64, ConfigError> {
            match get(name) {
                None => Ok(default),
                Some(v) => v.trim().parse().map_err(|_| ConfigError::Invalid {
                    name,
                    reason: format!("{v:?} is not a whole number"),
                }),
            }
        };
        let upload_buckets: Vec<String> = required("FOLIO_UPLOAD_BUCKETS")?
            .split(',')
            .map(|b| b.trim().to_string())
            .filter(|b| !b.is_empty())
            .collect();
        let allowed_private_networks = get("FOLIO_ALLOWED_PRIVATE_NETWORKS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>().map_err(|e| ConfigError::Invalid {
                    name: "FOLIO_ALLOWED_PRIVATE_NETWORKS",
                    reason: format!("{s:?}: {e}"),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Config {
            table: required("FOLIO_TABLE")?,
            upload_buckets,
            notifications_queue_url: required("FOLIO_NOTIFICATIONS_QUEUE_URL")?,
            pdf_queue_url: get("FOLIO_PDF_QUEUE_URL"),
            jobs_queue_url: get("FOLIO_JOBS_QUEUE_URL"),
            batches_queue_url: get("FOLIO_BATCHES_QUEUE_URL"),
            batch_page_size: number("FOLIO_BATCH_PAGE_SIZE", 1000)?.clamp(1, 1000) as usize,
            batch_check_interval: match get("FOLIO_BATCH_CHECK_SECONDS") {
                None => Duration::from_secs(10),
                Some(v) => match v.trim().parse::<f64>() {
                    Ok(secs) if secs.is_finite() => {
                        Duration::from_secs_f64(secs.clamp(0.05, 900.0))
                    }
                    _ => {
                        return Err(ConfigError::Invalid {
                            name: "FOLIO_BATCH_CHECK_SECONDS",
                            reason: format!("{v:?} is not a number of seconds"),
                        });
                    }
                },
            },
            public_url: get("FOLIO_PUBLIC_URL").map(|u| u.trim_end_matches('/').to_string()),
            trust_forwarded_headers: get("FOLIO_TRUST_FORWARDED_HEADERS")
                .is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true")),
            max_job_inputs: match number("FOLIO_MAX_JOB_INPUTS", 100)? {
                n @ 1..=MAX_JOB_INPUTS => n,
                n => {
                    return Err(ConfigError::Invalid {
                        name: "FOLIO_MAX_JOB_INPUTS",
                        reason: format!(
                            "{n} is not within 1 to {MAX_JOB_INPUTS} (a job and its inputs are one \
                             DynamoDB item, at most 400 KB)"
                        ),
                    });
                }
            },
            max_source_bytes: number("FOLIO_MAX_SOURCE_BYTES", 128 << 20)?,
            max_upload_bytes: number("FOLIO_MAX_UPLOAD_BYTES", 64 << 20)?,
            notification_target_prefix: get("FOLIO_NOTIFICATION_TARGET_PREFIX")
                .unwrap_or_else(|| "folio-".to_string()),
            events_topic_arn: get("FOLIO_EVENTS_TOPIC_ARN"),
            event_bus_name: get("FOLIO_EVENT_BUS_NAME"),
            cdn_domain: get("FOLIO_CDN_DOMAIN"),
            webhook_secret: required("FOLIO_WEBHOOK_SECRET")?,
            allowed_private_networks,
            webhook_retry_base: Duration::from_secs(number(
                "FOLIO_WEBHOOK_RETRY_BASE_SECONDS",
                30,
            )?),
            webhook_max_attempts: number("FOLIO_WEBHOOK_MAX_ATTEMPTS", 9)? as u32,
            max_image_side: number("FOLIO_MAX_IMAGE_SIDE", 30_000)? as u32,
            max_image_pixels: number("FOLIO_MAX_IMAGE_PIXELS", 200_000_000)?,
            region: get("AWS_REGION")
                .or_else(|| get("AWS_DEFAULT_REGION"))
                .unwrap_or_else(|| "us-east-1".to_string()),
            endpoint_url: get("AWS_ENDPOINT_URL"),
            files_url: None,
            oss_endpoint: get("FOLIO_OSS_ENDPOINT").map(|u| u.trim_end_matches('/').to_string()),
            account_id: get("FOLIO_ACCOUNT_ID"),
            keys_kms_key: get("FOLIO_KEYS_KMS_KEY"),
            gcs_endpoint: get("FOLIO_GCS_ENDPOINT")
                .map(|u| u.trim_end_matches('/').to_string())
                .unwrap_or_else(|| "https://storage.googleapis.com".to_string()),
            azure_blob_endpoint: match get("FOLIO_AZURE_BLOB_ENDPOINT") {
                Some(e) if !e.contains("{account}") => {
                    return Err(ConfigError::Invalid {
                        name: "FOLIO_AZURE_BLOB_ENDPOINT",
                        reason: format!("{e:?} has no {{account}} for the account name"),
                    });
                }
                Some(e) => e.trim_end_matches('/').to_string(),
                None => "https://{account}.blob.core.windows.net".to_string(),
            },
            ftp_ca_file: get("FOLIO_FTP_CA_FILE"),
        })
        .and_then(|c| {
            if c.upload_buckets.is_empty() {
                Err(ConfigError::Missing("FOLIO_UPLOAD_BUCKETS"))
            } else {
                Ok(c)
            }
        })
    }

    pub fn default_bucket(&self) -> &str {
        // Invariant: from_lookup refuses an empty bucket list.
        &self.upload_buckets[0]
    }

    /// The URL of a bucket: Folio's own on one machine, path-style on an emulator endpoint,
    /// virtual-hosted on AWS.
    pub fn bucket_url(&self, bucket: &str) -> String {
        if let Some(files) = &self.files_url {
            return format!("{files}/{bucket}");
        }
        match &self.endpoint_url {
            Some(endpoint) => format!("{}/{bucket}", endpoint.trim_end_matches('/')),
            None => format!("https://{bucket}.s3.{}.amazonaws.com", self.region),
        }
    }

    /// The unsigned URL of an object (VOD's `FileURL`).
    pub fn object_url(&self, bucket: &str, key: &str) -> String {
        format!("{}/{key}", self.bucket_url(bucket))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn vars(extra: &[(&str, &str)]) -> HashMap<String, String> {
        let mut m: HashMap<String, String> = [
            ("FOLIO_TABLE", "t"),
            ("FOLIO_UPLOAD_BUCKETS", "b1, b2"),
            ("FOLIO_NOTIFICATIONS_QUEUE_URL", "http://q"),
            ("FOLIO_WEBHOOK_SECRET", "s"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in extra {
            m.insert(k.to_string(), v.to_string());
        }
        m
    }

    #[test]
    fn job_inputs_stay_within_one_item() {
        for (value, ok) in [("300", true), ("301", false), ("0", false)] {
            let m = vars(&[("FOLIO_MAX_JOB_INPUTS", value)]);
            let got = Config::from_lookup(|k| m.get(k).cloned());
            assert_eq!(got.is_ok(), ok, "{value}");
        }
        let m = vars(&[]);
        assert_eq!(
            Config::from_lookup(|k| m.get(k).cloned())
                .unwrap()
                .max_job_inputs,
            100
        );
    }

    #[test]
    fn reads_required_and_defaults() {
        let m = vars(&[]);
        let c = Config::from_lookup(|k| m.get(k).cloned()).unwrap();
        assert_eq!(c.upload_buckets, vec!["b1", "b2"]);
        assert_eq!(c.default_bucket(), "b1");
        assert_eq!(c.webhook_max_attempts, 9);
        assert_eq!(
            c.object_url("b1", "k/x.png"),
            "https://b1.s3.us-east-1.amazonaws.com/k/x.png"
        );
    }

    #[test]
    fn names_what_is_wrong() {
        let mut m = vars(&[("FOLIO_ALLOWED_PRIVATE_NETWORKS", "127.0.0.0/8,nope")]);
        let err = Config::from_lookup(|k| m.get(k).cloned()).unwrap_err();
        assert!(
            err.to_string().contains("FOLIO_ALLOWED_PRIVATE_NETWORKS"),
            "{err}"
        );
        m.remove("FOLIO_ALLOWED_PRIVATE_NETWORKS");
        m.remove("FOLIO_TABLE");
        let err = Config::from_lookup(|k| m.get(k).cloned()).unwrap_err();
        assert_eq!(err.to_string(), "FOLIO_TABLE is not set");
    }

    #[test]
    fn emulator_urls_are_path_style() {
        let m = vars(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:5055/")]);
        let c = Config::from_lookup(|k| m.get(k).cloned()).unwrap();
        assert_eq!(c.object_url("b", "k"), "http://127.0.0.1:5055/b/k");
    }
}
