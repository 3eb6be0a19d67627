//! Rules for the descriptive fields, shared by CreateUploadImage and UpdateImageInfos.

use crate::error::ApiError;
use crate::params::max_bytes;

pub const MAX_TITLE_BYTES: usize = 128;
pub const MAX_DESCRIPTION_BYTES: usize = 1024;
pub const MAX_TAGS: usize = 16;
pub const MAX_TAG_BYTES: usize = 32;
/// How many image ids GetImageInfos, UpdateImageInfos and DeleteImage take at once.
pub const MAX_IDS: usize = 20;

pub fn title(field: &str, value: &str) -> Result<String, ApiError> {
    max_bytes(field, value, MAX_TITLE_BYTES)?;
    Ok(value.to_string())
}

pub fn description(field: &str, value: &str) -> Result<String, ApiError> {
    max_bytes(field, value, MAX_DESCRIPTION_BYTES)?;
    Ok(value.to_string())
}

/// A comma-separated tag list: at most 16 tags of at most 32 bytes each. Empty: no tags.
pub fn tags(field: &str, value: &str) -> Result<Vec<String>, ApiError> {
    let tags: Vec<String> = value
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect();
    if tags.len() > MAX_TAGS {
        return Err(ApiError::invalid(
            field,
            format!("has {} tags; the limit is {MAX_TAGS}", tags.len()),
        ));
    }
    if let Some(long) = tags.iter().find(|t| t.len() > MAX_TAG_BYTES) {
        return Err(ApiError::invalid(
            field,
            format!(
                "the tag {long:?} is {} bytes long; the limit is {MAX_TAG_BYTES} bytes",
                long.len()
            ),
        ));
    }
    Ok(tags)
}

pub fn cate_id(field: &str, value: i64) -> Result<i64, ApiError> {
    if value <= 0 {
        return Err(ApiError::invalid(field, "must be a positive integer"));
    }
    Ok(value)
}

/// A list of 1 to 20 ids, duplicates dropped, order kept.
pub fn id_list(field: &str, ids: Vec<String>) -> Result<Vec<String>, ApiError> {
    let mut unique = Vec::with_capacity(ids.len());
    for id in ids {
        if !unique.contains(&id) {
            unique.push(id);
        }
    }
    if unique.is_empty() {
        return Err(ApiError::missing(field));
    }
    if unique.len() > MAX_IDS {
        return Err(ApiError::invalid(
            field,
            format!("names {} images; the limit is {MAX_IDS}", unique.len()),
        ));
    }
    Ok(unique)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_rules() {
        assert_eq!(tags("Tags", "a, b,,c").unwrap(), vec!["a", "b", "c"]);
        let many = vec!["t"; 17].join(",");
        assert!(
            tags("Tags", &many)
                .unwrap_err()
                .to_string()
                .contains("17 tags")
        );
        let long = "x".repeat(33);
        assert!(
            tags("Tags", &long)
                .unwrap_err()
                .to_string()
                .starts_with("Tags:")
        );
    }

    #[test]
    fn id_lists() {
        let ids = |n: usize| (0..n).map(|i| i.to_string()).collect::<Vec<_>>();
        assert_eq!(id_list("ImageIds", ids(20)).unwrap().len(), 20);
        assert!(id_list("ImageIds", ids(21)).is_err());
        assert_eq!(
            id_list("ImageIds", vec!["a".into(), "a".into()]).unwrap(),
            vec!["a"]
        );
    }
}
