//! `UpdateImageInfos`: changes only the fields given, for up to 20 images.

use serde::{Deserialize, Serialize};

use super::validate;
use crate::app::App;
use crate::error::{ApiError, PortError};
use crate::params::Params;
use crate::ports::InfoUpdate;
use crate::tenant::Tenant;

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct Entry {
    #[serde(rename = "ImageId")]
    image_id: Option<String>,
    #[serde(rename = "Title")]
    title: Option<String>,
    #[serde(rename = "Description")]
    description: Option<String>,
    #[serde(rename = "Tags")]
    tags: Option<String>,
    #[serde(rename = "CateId")]
    cate_id: Option<serde_json::Value>,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateImageInfosResponse {
    /// `{"ImageId": [...]}`, as the SDK's model reads it (GetImageInfos and DeleteImage
    /// answer a plain list).
    pub non_exist_image_ids: NonExistImageIds,
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct NonExistImageIds {
    pub image_id: Vec<String>,
}

fn parse_entry(i: usize, entry: Entry) -> Result<(String, InfoUpdate), ApiError> {
    let field = |name: &str| format!("UpdateContent[{i}].{name}");
    let image_id = entry
        .image_id
        .filter(|id| !id.is_empty())
        .ok_or_else(|| ApiError::missing(field("ImageId")))?;
    let cate_id = match entry.cate_id {
        None | Some(serde_json::Value::Null) => None,
        Some(value) => Some(
            match &value {
                serde_json::Value::Number(n) => n.as_i64(),
                serde_json::Value::String(s) => s.trim().parse().ok(),
                _ => None,
            }
            .ok_or_else(|| ApiError::invalid(field("CateId"), "must be an integer"))?,
        ),
    };
    let update = InfoUpdate {
        title: entry
            .title
            .map(|t| validate::title(&field("Title"), &t))
            .transpose()?,
        description: entry
            .description
            .map(|d| validate::description(&field("Description"), &d))
            .transpose()?,
        tags: entry
            .tags
            .map(|t| validate::tags(&field("Tags"), &t))
            .transpose()?,
        cate_id: cate_id
            .map(|c| validate::cate_id(&field("CateId"), c))
            .transpose()?,
    };
    if update == InfoUpdate::default() {
        return Err(ApiError::invalid(
            format!("UpdateContent[{i}]"),
            "names no field to change (Title, Description, Tags or CateId)",
        ));
    }
    Ok((image_id, update))
}

pub async fn handle(
    app: &App,
    tenant: &Tenant,
    params: &Params,
) -> Result<UpdateImageInfosResponse, ApiError> {
    let entries: Vec<Entry> = params
        .opt_json("UpdateContent")?
        .ok_or_else(|| ApiError::missing("UpdateContent"))?;
    if entries.is_empty() {
        return Err(ApiError::invalid("UpdateContent", "names no image"));
    }
    if entries.len() > validate::MAX_IDS {
        return Err(ApiError::invalid(
            "UpdateContent",
            format!(
                "names {} images; the limit is {}",
                entries.len(),
                validate::MAX_IDS
            ),
        ));
    }
    // Validate every entry before changing anything.
    let updates = entries
        .into_iter()
        .enumerate()
        .map(|(i, e)| parse_entry(i, e))
        .collect::<Result<Vec<_>, _>>()?;
    let mut missing = Vec::new();
    for (image_id, update) in updates {
        match app
            .images
            .update_info(tenant.key(), &image_id, &update)
            .await
        {
            Ok(()) => {}
            Err(PortError::NotFound) => missing.push(image_id),
            Err(other) => return Err(other.into()),
        }
    }
    Ok(UpdateImageInfosResponse {
        non_exist_image_ids: NonExistImageIds { image_id: missing },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(v: serde_json::Value) -> Result<(String, InfoUpdate), ApiError> {
        parse_entry(3, serde_json::from_value(v).unwrap())
    }

    #[test]
    fn fields_are_named_with_their_index() {
        let err = entry(serde_json::json!({"Title": "x"})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "UpdateContent[3].ImageId: the parameter is required"
        );
        let err = entry(serde_json::json!({"ImageId": "a", "Title": "x".repeat(129)})).unwrap_err();
        assert!(
            err.to_string().starts_with("UpdateContent[3].Title:"),
            "{err}"
        );
        let err = entry(serde_json::json!({"ImageId": "a", "CateId": "x"})).unwrap_err();
        assert!(
            err.to_string().starts_with("UpdateContent[3].CateId:"),
            "{err}"
        );
        let err = entry(serde_json::json!({"ImageId": "a"})).unwrap_err();
        assert!(err.to_string().contains("names no field"), "{err}");
    }

    #[test]
    fn only_given_fields_change() {
        let (id, update) =
            entry(serde_json::json!({"ImageId": "a", "Tags": "x,y", "CateId": "7"})).unwrap();
        assert_eq!(id, "a");
        assert_eq!(
            update,
            InfoUpdate {
                tags: Some(vec!["x".into(), "y".into()]),
                cate_id: Some(7),
                ..Default::default()
            }
        );
    }
}
