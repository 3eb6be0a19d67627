//! Task workers reach user buckets only through roles: STS AssumeRole along the chain the
//! task names (the project's `ServiceRole` first), with the tenant's external id, then an
//! S3 client with the last role's credentials.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_s3::config::Credentials;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

use super::describe;
use super::files::{get_whole, list_keys, put_whole};
use crate::error::PortError;
use crate::ports::{RoleAssumer, TaskStorage};
use crate::task::model::S3Location;

/// How long assumed credentials are reused (STS gives them for an hour): a batch's items,
/// thousands on one warm instance, assume the project's role once in that time.
const REUSE_FOR: Duration = Duration::from_secs(600);

type Assumed = (Instant, Arc<dyn TaskStorage>);

pub struct StsRoles {
    sdk: SdkConfig,
    /// By role chain and external id.
    assumed: Mutex<HashMap<(Vec<String>, String), Assumed>>,
}

impl StsRoles {
    pub fn new(sdk: SdkConfig) -> Self {
        StsRoles {
            sdk,
            assumed: Mutex::new(HashMap::new()),
        }
    }

    fn reusable(&self, key: &(Vec<String>, String)) -> Option<Arc<dyn TaskStorage>> {
        // A poisoned lock only means another thread panicked mid-insert: start afresh.
        let mut assumed = self.assumed.lock().unwrap_or_else(|p| p.into_inner());
        assumed.retain(|_, (at, _)| at.elapsed() < REUSE_FOR);
        assumed.get(key).map(|(_, storage)| storage.clone())
    }
}

/// Whether an error code is S3's or STS's way of saying no for good (a permission, a role
/// that cannot be assumed, a malformed ARN), as opposed to a failure worth retrying
/// (throttling, an unreachable service).
pub(super) fn is_denied(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "AccessDenied"
                | "AllAccessDisabled"
                | "InvalidAccessKeyId"
                | "ExpiredToken"
                | "InvalidClientTokenId"
                | "MalformedPolicyDocument"
                | "RegionDisabledException"
                | "ValidationError"
        )
    )
}

#[async_trait]
impl RoleAssumer for StsRoles {
    async fn storage_as(
        &self,
        roles: &[String],
        external_id: &str,
    ) -> Result<Arc<dyn TaskStorage>, PortError> {
        let cache_key = (roles.to_vec(), external_id.to_string());
        if let Some(storage) = self.reusable(&cache_key) {
            return Ok(storage);
        }
        let mut credentials: Option<Credentials> = None;
        for role in roles {
            let mut config = aws_sdk_sts::config::Builder::from(&self.sdk);
            if let Some(c) = credentials.take() {
                config = config.credentials_provider(c);
            }
            let sts = aws_sdk_sts::Client::from_conf(config.build());
            let out = sts
                .assume_role()
                .role_arn(role)
                .role_session_name("folio-task")
                .external_id(external_id)
                .send()
                .await
                .map_err(|e| {
                    let code = e
                        .as_service_error()
                        .and_then(aws_sdk_sts::error::ProvideErrorMetadata::code);
                    if is_denied(code) {
                        PortError::Denied(format!(
                            "role {role} could not be assumed: {}",
                            describe(e)
                        ))
                    } else {
                        PortError::backend("assuming a role", describe(e))
                    }
                })?;
            let c = out.credentials.ok_or_else(|| {
                PortError::backend("assuming a role", "STS returned no credentials")
            })?;
            credentials = Some(Credentials::new(
                c.access_key_id,
                c.secret_access_key,
                Some(c.session_token),
                std::time::SystemTime::try_from(c.expiration).ok(),
                "folio-assumed-role",
            ));
        }
        let mut config = aws_sdk_s3::config::Builder::from(&self.sdk)
            .force_path_style(self.sdk.endpoint_url().is_some());
        if let Some(c) = credentials {
            config = config.credentials_provider(c);
        }
        let storage: Arc<dyn TaskStorage> = Arc::new(S3TaskStorage {
            client: aws_sdk_s3::Client::from_conf(config.build()),
        });
        self.assumed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(cache_key, (Instant::now(), storage.clone()));
        Ok(storage)
    }
}

pub struct S3TaskStorage {
    client: aws_sdk_s3::Client,
}

#[async_trait]
impl TaskStorage for S3TaskStorage {
    async fn get(&self, at: &S3Location, max_bytes: u64) -> Result<Vec<u8>, PortError> {
        get_whole(
            &self.client,
            &at.bucket,
            &at.key,
            max_bytes,
            "reading a source",
        )
        .await
    }

    async fn start_upload(&self, at: &S3Location) -> Result<String, PortError> {
        let out = self
            .client
            .create_multipart_upload()
            .bucket(&at.bucket)
            .key(&at.key)
            .content_type("application/pdf")
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(s) if s.code() == Some("NoSuchBucket") => PortError::NotFound,
                _ if is_denied(e.as_service_error().and_then(|s| s.code())) => {
                    PortError::Denied(describe(e))
                }
                _ => PortError::backend("starting the upload of a PDF", describe(e)),
            })?;
        out.upload_id
            .ok_or_else(|| PortError::backend("starting the upload of a PDF", "no upload id"))
    }

    async fn upload_part(
        &self,
        at: &S3Location,
        upload_id: &str,
        number: i32,
        data: Vec<u8>,
    ) -> Result<String, PortError> {
        let out = self
            .client
            .upload_part()
            .bucket(&at.bucket)
            .key(&at.key)
            .upload_id(upload_id)
            .part_number(number)
            .body(data.into())
            .send()
            .await
            .map_err(|e| PortError::backend("uploading a part of a PDF", describe(e)))?;
        out.e_tag
            .ok_or_else(|| PortError::backend("uploading a part of a PDF", "no ETag"))
    }

    async fn complete_upload(
        &self,
        at: &S3Location,
        upload_id: &str,
        parts: &[(i32, String)],
    ) -> Result<(), PortError> {
        let parts = parts
            .iter()
            .map(|(n, etag)| CompletedPart::builder().part_number(*n).e_tag(etag).build())
            .collect();
        self.client
            .complete_multipart_upload()
            .bucket(&at.bucket)
            .key(&at.key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| PortError::backend("completing the upload of a PDF", describe(e)))?;
        Ok(())
    }

    async fn abort_upload(&self, at: &S3Location, upload_id: &str) -> Result<(), PortError> {
        self.client
            .abort_multipart_upload()
            .bucket(&at.bucket)
            .key(&at.key)
            .upload_id(upload_id)
            .send()
            .await
            .map_err(|e| PortError::backend("abandoning the upload of a PDF", describe(e)))?;
        Ok(())
    }

    async fn put(
        &self,
        at: &S3Location,
        data: Vec<u8>,
        content_type: &str,
    ) -> Result<(), PortError> {
        put_whole(&self.client, &at.bucket, &at.key, data, content_type).await
    }

    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        start_after: &str,
        max: usize,
    ) -> Result<(Vec<String>, bool), PortError> {
        list_keys(&self.client, bucket, prefix, start_after, max).await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_refusals_are_denials() {
        assert!(super::is_denied(Some("AccessDenied")));
        assert!(super::is_denied(Some("ValidationError")));
        assert!(!super::is_denied(Some("Throttling")));
        assert!(!super::is_denied(Some("ServiceUnavailable")));
        assert!(!super::is_denied(None));
    }
}
