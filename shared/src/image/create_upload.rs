//! `CreateUploadImage`: validates the request, records the image as `Uploading`, and returns
//! what writes that one object only, for 3000 seconds: an STS-style credential for the OSS
//! SDKs (`UploadAuth`, with `UploadAddress`) and a presigned URL for plain HTTP.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::model::{self, ImageExt, ImageRecord, ImageStatus, ImageType};
use super::validate;
use crate::app::App;
use crate::config::{RECORD_TTL, UPLOAD_AUTH_TTL};
use crate::error::{ApiError, PortError};
use crate::notify::url_guard;
use crate::oss::credential::{Grant, Issuer};
use crate::params::{Params, max_bytes};
use crate::tenant::Tenant;

pub const DEFAULT_APP_ID: &str = "app-1000000";
pub const MAX_USER_DATA_BYTES: usize = 2048;

#[derive(Serialize, Debug)]
pub struct CreateUploadImageResponse {
    #[serde(rename = "ImageId")]
    pub image_id: String,
    #[serde(rename = "UploadAddress")]
    pub upload_address: String,
    #[serde(rename = "UploadAuth")]
    pub upload_auth: String,
    #[serde(rename = "ImageURL")]
    pub image_url: String,
    #[serde(rename = "FileURL")]
    pub file_url: String,
}

/// `UserData` as VOD defines it: a callback and free-form data echoed in events.
#[derive(Deserialize, Debug, Default)]
struct UserData {
    #[serde(rename = "MessageCallback")]
    message_callback: Option<MessageCallback>,
}

#[derive(Deserialize, Debug)]
struct MessageCallback {
    #[serde(rename = "CallbackURL")]
    callback_url: Option<String>,
}

/// The callback URL in `UserData`, checked; `None` when there is none.
fn callback_url(user_data: &str, allowed: &[ipnet::IpNet]) -> Result<Option<String>, ApiError> {
    let parsed: UserData = serde_json::from_str(user_data).map_err(|e| {
        ApiError::invalid(
            "UserData",
            format!("is not a JSON object of the documented shape: {e}"),
        )
    })?;
    let Some(url) = parsed.message_callback.and_then(|c| c.callback_url) else {
        return Ok(None);
    };
    url_guard::check_accepted(&url, allowed)
        .map_err(|e| ApiError::invalid("UserData.MessageCallback.CallbackURL", e.to_string()))?;
    Ok(Some(url))
}

fn app_id(value: Option<String>) -> Result<String, ApiError> {
    let Some(id) = value else {
        return Ok(DEFAULT_APP_ID.to_string());
    };
    let ok = id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !ok {
        return Err(ApiError::invalid(
            "AppId",
            "must be at most 64 letters, digits, '-' or '_'",
        ));
    }
    Ok(id)
}

pub async fn handle(
    app: &App,
    tenant: &Tenant,
    params: &Params,
) -> Result<CreateUploadImageResponse, ApiError> {
    let image_type = ImageType::parse("ImageType", &params.req_str("ImageType")?)?;
    let image_ext = match params.opt_str("ImageExt")? {
        Some(ext) => ImageExt::parse("ImageExt", &ext)?,
        None => ImageExt::Png,
    };
    let title = params
        .opt_str("Title")?
        .map(|t| validate::title("Title", &t))
        .transpose()?;
    let description = params
        .opt_str("Description")?
        .map(|d| validate::description("Description", &d))
        .transpose()?;
    let tags = params
        .opt_str("Tags")?
        .map(|t| validate::tags("Tags", &t))
        .transpose()?
        .unwrap_or_default();
    let cate_id = params
        .opt_i64("CateId")?
        .map(|c| validate::cate_id("CateId", c))
        .transpose()?;
    let bucket = match params.opt_str("StorageLocation")? {
        None => app.config.default_bucket().to_string(),
        Some(b) if app.config.upload_buckets.contains(&b) => b,
        Some(b) => {
            return Err(ApiError::invalid(
                "StorageLocation",
                format!(
                    "{b:?} is not a storage location of this service; use one of {}",
                    app.config.upload_buckets.join(", ")
                ),
            ));
        }
    };
    let app_id = app_id(params.opt_str("AppId")?)?;
    let user_data = params.opt_str("UserData")?;
    let callback_url = match &user_data {
        Some(data) => {
            max_bytes("UserData", data, MAX_USER_DATA_BYTES)?;
            callback_url(data, &app.config.allowed_private_networks)?
        }
        None => None,
    };

    let image_id = model::new_image_id();
    let object_key = model::object_key(tenant.key(), &image_id, image_ext);
    let now = Utc::now();
    let record = ImageRecord {
        image_id: image_id.clone(),
        tenant: tenant.id().to_string(),
        tenant_key: tenant.key().to_string(),
        status: ImageStatus::Uploading,
        image_type,
        image_ext,
        title,
        tags,
        description,
        cate_id,
        app_id,
        user_data,
        callback_url,
        bucket: bucket.clone(),
        object_key: object_key.clone(),
        creation_time: now,
        upload: None,
        expires_at: Some(now.timestamp() + RECORD_TTL.as_secs() as i64),
        notified: false,
    };
    // Presign first: a record is written only once the caller can be given its URL.
    let upload_url = app
        .objects
        .presign_put(&bucket, &object_key, UPLOAD_AUTH_TTL)
        .await?;
    app.images.create(&record).await.map_err(|e| match e {
        // 128 random bits: a clash means the randomness is broken, not the caller.
        PortError::ConditionFailed => ApiError::Internal(PortError::backend(
            "creating an image record",
            "image id collision",
        )),
        other => ApiError::Internal(other),
    })?;

    // VOD's shape: the OSS SDKs upload with `UploadAddress` and `UploadAuth` decoded (an
    // STS credential for this one object); `UploadURL` serves plain HTTP clients.
    let address = json!({
        "Endpoint": app
            .config
            .oss_endpoint
            .clone()
            .unwrap_or_else(|| app.config.bucket_url(&bucket)),
        "Bucket": bucket,
        "FileName": object_key,
    });
    let expires = now + chrono::Duration::seconds(UPLOAD_AUTH_TTL.as_secs() as i64);
    let credentials = Issuer::new(&app.config.webhook_secret).issue(&Grant {
        bucket: bucket.clone(),
        key: object_key.clone(),
        tenant_key: tenant.key().to_string(),
        image_id: image_id.clone(),
        expires: expires.timestamp(),
        max_bytes: app.config.max_upload_bytes,
    });
    let auth = json!({
        "AccessKeyId": credentials.access_key_id,
        "AccessKeySecret": credentials.access_key_secret,
        "SecurityToken": credentials.security_token,
        "UploadURL": upload_url,
        "Method": "PUT",
        "Expiration": UPLOAD_AUTH_TTL.as_secs().to_string(),
        "ExpireUTCTime": expires.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "Region": app.config.region,
    });
    let file_url = app.config.object_url(&bucket, &object_key);
    tracing::info!(image_id = %image_id, bucket = %bucket, "upload created");
    Ok(CreateUploadImageResponse {
        image_id,
        upload_address: BASE64.encode(address.to_string()),
        upload_auth: BASE64.encode(auth.to_string()),
        image_url: file_url.clone(),
        file_url,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_urls_are_checked() {
        assert_eq!(callback_url(r#"{"Extend":{"a":1}}"#, &[]).unwrap(), None);
        assert_eq!(
            callback_url(
                r#"{"MessageCallback":{"CallbackURL":"https://example.com/cb"}}"#,
                &[]
            )
            .unwrap(),
            Some("https://example.com/cb".to_string())
        );
        let err =
            callback_url(r#"{"MessageCallback":{"CallbackURL":"ftp://x"}}"#, &[]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("UserData.MessageCallback.CallbackURL:"),
            "{err}"
        );
        assert!(
            callback_url("[]", &[])
                .unwrap_err()
                .to_string()
                .starts_with("UserData:")
        );
    }

    #[test]
    fn app_ids() {
        assert_eq!(app_id(None).unwrap(), DEFAULT_APP_ID);
        assert!(app_id(Some("app 1".into())).is_err());
    }
}
