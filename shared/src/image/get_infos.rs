//! `GetImageInfos`: up to 20 images of the caller, with URLs that expire after `AuthTimeout`.
//! Ids that are unknown, expired or another tenant's are all reported as `NonExistImageIds`.

use std::time::Duration;

use serde::Serialize;

use super::model::{ImageRecord, ImageStatus, ProbeResult};
use super::validate;
use crate::app::App;
use crate::error::ApiError;
use crate::params::Params;
use crate::tenant::Tenant;

const DEFAULT_AUTH_TIMEOUT: i64 = 3600;
const MAX_AUTH_TIMEOUT: i64 = 2_592_000;

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct GetImageInfosResponse {
    pub image_info: Vec<ImageInfo>,
    pub non_exist_image_ids: Vec<String>,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct ImageInfo {
    pub image_id: String,
    pub status: ImageStatus,
    pub image_type: super::model::ImageType,
    pub creation_time: String,
    pub storage_location: String,
    pub app_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cate_id: Option<i64>,
    #[serde(rename = "URL", skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mezzanine: Option<Mezzanine>,
    /// Why the upload failed (Folio's addition; VOD gives no reason).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct Mezzanine {
    #[serde(rename = "FileURL", skip_serializing_if = "Option::is_none")]
    pub file_url: Option<String>,
    pub original_file_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    pub file_size: String,
}

enum OutputType {
    Oss,
    Cdn(String),
}

fn output_type(app: &App, params: &Params) -> Result<OutputType, ApiError> {
    match params.opt_str("OutputType")?.as_deref() {
        None | Some("oss") => Ok(OutputType::Oss),
        Some("cdn") => app
            .config
            .cdn_domain
            .clone()
            .map(OutputType::Cdn)
            .ok_or_else(|| ApiError::invalid("OutputType", "cdn was asked for, but this deployment has no CDN domain configured (FOLIO_CDN_DOMAIN)")),
        Some(other) => Err(ApiError::invalid("OutputType", format!("must be oss or cdn, got {}", crate::error::quote(other)))),
    }
}

pub async fn handle(
    app: &App,
    tenant: &Tenant,
    params: &Params,
) -> Result<GetImageInfosResponse, ApiError> {
    let ids = params
        .opt_list("ImageIds")?
        .ok_or_else(|| ApiError::missing("ImageIds"))?;
    let ids = validate::id_list("ImageIds", ids)?;
    let auth_timeout = params
        .opt_i64("AuthTimeout")?
        .unwrap_or(DEFAULT_AUTH_TIMEOUT);
    if !(1..=MAX_AUTH_TIMEOUT).contains(&auth_timeout) {
        return Err(ApiError::invalid(
            "AuthTimeout",
            format!("must be from 1 to {MAX_AUTH_TIMEOUT} seconds, got {auth_timeout}"),
        ));
    }
    let output = output_type(app, params)?;
    let ttl = Duration::from_secs(auth_timeout as u64);

    let mut records = app.images.get_many(tenant.key(), &ids).await?;
    let mut infos = Vec::with_capacity(records.len());
    let mut missing = Vec::new();
    for id in ids {
        match records.iter().position(|r| r.image_id == id) {
            Some(i) => infos.push(info(app, records.swap_remove(i), &output, ttl).await?),
            None => missing.push(id),
        }
    }
    Ok(GetImageInfosResponse {
        image_info: infos,
        non_exist_image_ids: missing,
    })
}

async fn info(
    app: &App,
    record: ImageRecord,
    output: &OutputType,
    ttl: Duration,
) -> Result<ImageInfo, ApiError> {
    let url = if record.status == ImageStatus::Normal {
        Some(match output {
            OutputType::Oss => {
                app.objects
                    .presign_get(&record.bucket, &record.object_key, ttl)
                    .await?
            }
            OutputType::Cdn(domain) => format!("https://{domain}/{}", record.object_key),
        })
    } else {
        None
    };
    let original_file_name = record.file_name().to_string();
    let (mezzanine, message) = match &record.upload {
        None => (None, None),
        Some(upload) => {
            let (width, height, message) = match &upload.probe {
                ProbeResult::Image { width, height, .. } => (Some(*width), Some(*height), None),
                ProbeResult::Refused { reason } => (None, None, Some(reason.clone())),
            };
            let mezzanine = Mezzanine {
                file_url: url.clone(),
                original_file_name,
                width,
                height,
                file_size: upload.file_size.to_string(),
            };
            (Some(mezzanine), message)
        }
    };
    Ok(ImageInfo {
        image_id: record.image_id,
        status: record.status,
        image_type: record.image_type,
        creation_time: record
            .creation_time
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string(),
        storage_location: record.bucket,
        app_id: record.app_id,
        title: record.title,
        description: record.description,
        tags: (!record.tags.is_empty()).then(|| record.tags.join(",")),
        cate_id: record.cate_id,
        url,
        mezzanine,
        message,
    })
}
