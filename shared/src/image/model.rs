//! The image record and its vocabulary, with VOD's names.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageStatus {
    Uploading,
    Normal,
    UploadFail,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ImageType {
    Default,
    Cover,
}

impl ImageType {
    pub fn parse(field: &str, value: &str) -> Result<Self, ApiError> {
        match value {
            "default" => Ok(ImageType::Default),
            "cover" => Ok(ImageType::Cover),
            other => Err(ApiError::invalid(
                field,
                format!(
                    "must be default or cover, got {}",
                    crate::error::quote(other)
                ),
            )),
        }
    }
}

/// The extension the caller announced; the upload must be of the matching format.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ImageExt {
    Png,
    Jpg,
    Jpeg,
    Gif,
}

impl ImageExt {
    pub fn parse(field: &str, value: &str) -> Result<Self, ApiError> {
        match value.to_ascii_lowercase().as_str() {
            "png" => Ok(ImageExt::Png),
            "jpg" => Ok(ImageExt::Jpg),
            "jpeg" => Ok(ImageExt::Jpeg),
            "gif" => Ok(ImageExt::Gif),
            _ => Err(ApiError::invalid(
                field,
                format!(
                    "must be one of png, jpg, jpeg, gif, got {}",
                    crate::error::quote(value)
                ),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ImageExt::Png => "png",
            ImageExt::Jpg => "jpg",
            ImageExt::Jpeg => "jpeg",
            ImageExt::Gif => "gif",
        }
    }

    pub fn format(self) -> ImageFormat {
        match self {
            ImageExt::Png => ImageFormat::Png,
            ImageExt::Jpg | ImageExt::Jpeg => ImageFormat::Jpeg,
            ImageExt::Gif => ImageFormat::Gif,
        }
    }
}

/// The format found in the uploaded bytes.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageFormat {
    Png,
    Jpeg,
    Gif,
}

/// An entry of the image library. Keyed by tenant key and image id.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ImageRecord {
    pub image_id: String,
    /// The tenant's identity, kept for audit; the key is derived from it.
    pub tenant: String,
    pub tenant_key: String,
    pub status: ImageStatus,
    pub image_type: ImageType,
    pub image_ext: ImageExt,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cate_id: Option<i64>,
    pub app_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
    pub bucket: String,
    pub object_key: String,
    pub creation_time: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload: Option<UploadResult>,
    /// Epoch seconds after which the record is gone (the table's TTL attribute). Set while
    /// the upload has not succeeded; removed once the image is `Normal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// Whether the notification of the current `upload` has been queued.
    #[serde(default)]
    pub notified: bool,
}

impl ImageRecord {
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_none_or(|t| t > now.timestamp())
    }

    pub fn file_name(&self) -> &str {
        self.object_key
            .rsplit('/')
            .next()
            .unwrap_or(&self.object_key)
    }
}

/// What the upload trigger found in an uploaded object.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct UploadResult {
    /// The object version this result describes; a redelivered event for it changes nothing.
    pub etag: String,
    pub file_size: u64,
    pub processed_at: DateTime<Utc>,
    #[serde(flatten)]
    pub probe: ProbeResult,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "Outcome")]
pub enum ProbeResult {
    #[serde(rename_all = "PascalCase")]
    Image {
        format: ImageFormat,
        width: u32,
        height: u32,
    },
    #[serde(rename_all = "PascalCase")]
    Refused { reason: String },
}

impl ProbeResult {
    pub fn status(&self) -> ImageStatus {
        match self {
            ProbeResult::Image { .. } => ImageStatus::Normal,
            ProbeResult::Refused { .. } => ImageStatus::UploadFail,
        }
    }
}

/// The object key of an image: tenant key and image id are recoverable from it, which is how
/// the upload trigger finds the record.
pub fn object_key(tenant_key: &str, image_id: &str, ext: ImageExt) -> String {
    format!("images/{tenant_key}/{image_id}.{}", ext.as_str())
}

/// `(tenant_key, image_id)` of an object key made by [`object_key`].
pub fn parse_object_key(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix("images/")?;
    let (tenant_key, file) = rest.split_once('/')?;
    let (image_id, _ext) = file.rsplit_once('.')?;
    (crate::tenant::is_tenant_key(tenant_key) && is_image_id(image_id))
        .then_some((tenant_key, image_id))
}

/// Image ids are 32 lowercase hex characters, as VOD's.
pub fn new_image_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

pub fn is_image_id(s: &str) -> bool {
    s.len() == 32
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_keys_round_trip() {
        let tk = "0123456789abcdef0123456789abcdef";
        let id = new_image_id();
        let key = object_key(tk, &id, ImageExt::Jpeg);
        assert_eq!(parse_object_key(&key), Some((tk, id.as_str())));
        assert_eq!(parse_object_key("images/x/y.png"), None);
        assert_eq!(parse_object_key("other/key.png"), None);
    }

    #[test]
    fn ext_maps_to_format() {
        assert_eq!(
            ImageExt::parse("ImageExt", "JPG").unwrap().format(),
            ImageFormat::Jpeg
        );
        assert!(
            ImageExt::parse("ImageExt", "bmp")
                .unwrap_err()
                .to_string()
                .starts_with("ImageExt:")
        );
    }
}
