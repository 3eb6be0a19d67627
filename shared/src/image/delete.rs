//! `DeleteImage`: removes images (object, then record) by id or by URL.

use serde::Serialize;

use super::model::{self, ImageStatus};
use super::validate;
use crate::app::App;
use crate::error::ApiError;
use crate::params::Params;
use crate::tenant::Tenant;

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteImageResponse {
    pub non_exist_image_ids: Vec<String>,
}

/// The image id in a URL Folio returned (`FileURL`, `ImageURL` or a signed `URL`), if the
/// object belongs to `tenant_key`.
fn id_from_url(url: &str, tenant_key: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let path = urlencoding::decode(parsed.path()).ok()?;
    let start = path.find("images/")?;
    let (owner, id) = model::parse_object_key(&path[start..])?;
    (owner == tenant_key).then(|| id.to_string())
}

pub async fn handle(
    app: &App,
    tenant: &Tenant,
    params: &Params,
) -> Result<DeleteImageResponse, ApiError> {
    let kind = params
        .opt_str("DeleteImageType")?
        .unwrap_or_else(|| "ImageId".to_string());
    let ids = match kind.as_str() {
        "ImageId" => params
            .opt_list("ImageIds")?
            .ok_or_else(|| ApiError::missing("ImageIds"))?,
        "ImageURL" => {
            let urls = params
                .opt_list("ImageURLs")?
                .ok_or_else(|| ApiError::missing("ImageURLs"))?;
            let ids: Vec<String> = urls
                .iter()
                .map(|u| id_from_url(u, tenant.key()).unwrap_or_else(|| u.clone()))
                .collect();
            ids
        }
        "VideoId" => {
            return Err(ApiError::invalid(
                "DeleteImageType",
                "VideoId is not supported: Folio keeps no videos",
            ));
        }
        other => {
            return Err(ApiError::invalid(
                "DeleteImageType",
                format!(
                    "must be ImageId or ImageURL, got {}",
                    crate::error::quote(other)
                ),
            ));
        }
    };
    let field = if kind == "ImageURL" {
        "ImageURLs"
    } else {
        "ImageIds"
    };
    let ids = validate::id_list(field, ids)?;
    let records = app.images.get_many(tenant.key(), &ids).await?;
    let missing = ids
        .into_iter()
        .filter(|id| !records.iter().any(|r| &r.image_id == id))
        .collect();
    for record in records {
        // The object first: if removing the record then fails, a retry still finds it.
        app.objects
            .delete(&record.bucket, &record.object_key)
            .await?;
        if record.status == ImageStatus::Uploading {
            // Parts of an OSS multipart upload never completed.
            let folder = crate::oss::upload::uploads_folder(tenant.key(), &record.image_id);
            app.files.delete_prefix(&record.bucket, &folder).await?;
        }
        app.images.delete(tenant.key(), &record.image_id).await?;
        tracing::info!(image_id = %record.image_id, "image deleted");
    }
    Ok(DeleteImageResponse {
        non_exist_image_ids: missing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_map_back_to_ids_of_the_caller_only() {
        let tk = "0123456789abcdef0123456789abcdef";
        let id = model::new_image_id();
        let url =
            format!("https://b.s3.us-east-1.amazonaws.com/images/{tk}/{id}.png?X-Amz-Signature=x");
        assert_eq!(id_from_url(&url, tk), Some(id.clone()));
        assert_eq!(id_from_url(&url, "ffffffffffffffffffffffffffffffff"), None);
        assert_eq!(id_from_url("not a url", tk), None);
    }
}
