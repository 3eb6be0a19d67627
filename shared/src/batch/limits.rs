//! What one batch may hold. With these a batch record stays far inside one item (DynamoDB's
//! 400 KB), and matching and converting an object stays cheap; each is checked when a
//! request sets it, with a 400 naming the field.

use serde_json::Value;

use crate::error::ApiError;

/// `Input.*.MatchExpressions`: how many.
pub const MAX_MATCH_EXPRESSIONS: usize = 100;
/// `Input.*.MatchExpressions[i]`: characters in one.
pub const MAX_EXPRESSION_CHARS: usize = 256;
/// `Actions`: how many.
pub const MAX_ACTIONS: usize = 20;
/// `Actions[i].Parameters`: how many in one action.
pub const MAX_PARAMETERS: usize = 20;
/// `Input`, `Actions` and `Notification`, each as JSON.
pub const MAX_FIELD_BYTES: usize = 16 * 1024;

/// `value` (the field as sent) within [`MAX_FIELD_BYTES`] as JSON.
pub fn check_size(field: &str, value: &Value) -> Result<(), ApiError> {
    let size = value.to_string().len();
    if size > MAX_FIELD_BYTES {
        return Err(ApiError::invalid(
            field,
            format!("is {size} bytes as JSON; the limit is {MAX_FIELD_BYTES}"),
        ));
    }
    Ok(())
}

/// A list of at most `max` items.
pub fn check_count(field: &str, items: &[Value], max: usize) -> Result<(), ApiError> {
    if items.len() > max {
        return Err(ApiError::invalid(
            field,
            format!("holds {} items; the limit is {max}", items.len()),
        ));
    }
    Ok(())
}
