//! The limits table of the README, made from the constants the checks use, so the two cannot
//! drift apart: a test finds this exact text in the README.

use crate::auth::{MAX_ACCESS_KEY_ID, MAX_BEARER, MAX_NONCE};
use crate::batch::actions::MAX_OUTPUTS;
use crate::batch::limits::{
    MAX_ACTIONS, MAX_EXPRESSION_CHARS, MAX_FIELD_BYTES, MAX_MATCH_EXPRESSIONS, MAX_PARAMETERS,
};
use crate::config::MAX_JOB_INPUTS;
use crate::image::create_upload::MAX_USER_DATA_BYTES;
use crate::image::validate::{
    MAX_DESCRIPTION_BYTES, MAX_IDS, MAX_TAG_BYTES, MAX_TAGS, MAX_TITLE_BYTES,
};
use crate::jobs::handlers::{MAX_CONVERSIONS, MAX_PAGE, MAX_RECORD_BYTES};
use crate::notify::url_guard::MAX_URL;
use crate::oss::credential::MAX_TOKEN as MAX_SECURITY_TOKEN;
use crate::oss::handler::MAX_PARTS;
use crate::oss::upload::MAX_OPEN_UPLOADS;
use crate::oss::xml::MAX_COMPLETE_BODY;
use crate::paging::MAX_TOKEN;
use crate::task::create::{MAX_IDEMPOTENCY_KEY, MAX_SOURCES};
use crate::task::validate::{MAX_ID, MAX_PROJECT_NAME};

/// `n` with a comma between thousands, as the README writes numbers.
fn n(value: impl Into<u64>) -> String {
    let digits = value.into().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn us(value: usize) -> String {
    n(value as u64)
}

/// The table, in Markdown.
pub fn markdown_table() -> String {
    let rows: Vec<(&str, String)> = vec![
        (
            "`AccessKeyId` / `SignatureNonce` of a signed request / Bearer key",
            format!(
                "{} / {} / {} characters",
                us(MAX_ACCESS_KEY_ID),
                us(MAX_NONCE),
                us(MAX_BEARER)
            ),
        ),
        (
            "`TaskId`, a batch's `Id`",
            format!("1 to {} letters, digits, `-`, `_`, `.`", us(MAX_ID)),
        ),
        (
            "`ProjectName`",
            format!(
                "a letter, then letters, digits, `-`, `_`; 1 to {}",
                us(MAX_PROJECT_NAME)
            ),
        ),
        (
            "`NextToken`",
            format!("as Folio gave it, at most {} characters", us(MAX_TOKEN)),
        ),
        (
            "`Idempotency-Key`",
            format!("1 to {} characters", us(MAX_IDEMPOTENCY_KEY)),
        ),
        (
            "webhook, callback and remote input URLs (`Notification.Webhook.URL`, `UserData...CallbackURL`, `/v2` `callback` and `input[].source`), FTP hosts (`parameters.host`)",
            format!(
                "URLs http(s), at most {} characters, no credentials; a host at a private, \
                 loopback, link-local or reserved address (or `localhost`) is refused when named unless \
                 `FOLIO_ALLOWED_PRIVATE_NETWORKS` allows it, and every address a host name \
                 resolves to is checked again at each connection",
                us(MAX_URL)
            ),
        ),
        ("`CreateImageToPDFTask` `Sources`", us(MAX_SOURCES)),
        (
            "`CreateBatch` / `UpdateBatch` `Input`, `Actions`, `Notification`",
            format!("{} KiB each as JSON", us(MAX_FIELD_BYTES / 1024)),
        ),
        (
            "`Input.*.MatchExpressions`",
            format!(
                "{}, each at most {} characters",
                us(MAX_MATCH_EXPRESSIONS),
                us(MAX_EXPRESSION_CHARS)
            ),
        ),
        (
            "`Actions` / `Parameters` of one action / outputs (`sys/saveas`)",
            format!(
                "{} / {} / {}",
                us(MAX_ACTIONS),
                us(MAX_PARAMETERS),
                us(MAX_OUTPUTS)
            ),
        ),
        (
            "`/v2` ids in paths (job, input, conversion, output)",
            "UUIDs; anything else is a 400 naming it".to_string(),
        ),
        ("`/v2` `page`", format!("1 to {}", us(MAX_PAGE))),
        (
            "`/v2` conversions of a job / inputs",
            format!(
                "{} / `FOLIO_MAX_JOB_INPUTS` (100, at most {})",
                us(MAX_CONVERSIONS),
                n(MAX_JOB_INPUTS)
            ),
        ),
        (
            "`/v2` job record",
            format!(
                "{} bytes stored (a request that would grow it past that is refused)",
                us(MAX_RECORD_BYTES)
            ),
        ),
        (
            "`GetImageInfos` `ImageIds`, `UpdateImageInfos` entries",
            us(MAX_IDS),
        ),
        (
            "`Title` / `Description` / `Tags` / a tag / `UserData`",
            format!(
                "{} bytes / {} bytes / {} / {} bytes / {} bytes",
                us(MAX_TITLE_BYTES),
                us(MAX_DESCRIPTION_BYTES),
                us(MAX_TAGS),
                us(MAX_TAG_BYTES),
                us(MAX_USER_DATA_BYTES)
            ),
        ),
        ("an upload", "`FOLIO_MAX_UPLOAD_BYTES` (64 MiB)".to_string()),
        (
            "OSS endpoint: `x-oss-security-token` / part numbers / `CompleteMultipartUpload` body / multipart uploads open at once",
            format!(
                "{} characters / 1 to {} / {} KiB / {} an object; an upload's parts together count against the upload cap",
                us(MAX_SECURITY_TOKEN),
                n(MAX_PARTS),
                us(MAX_COMPLETE_BODY / 1024),
                us(MAX_OPEN_UPLOADS)
            ),
        ),
    ];
    let mut table = String::from("| what | limit |\n|---|---|\n");
    for (what, limit) in rows {
        table.push_str(&format!("| {what} | {limit} |\n"));
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_with_thousands() {
        assert_eq!(n(7u64), "7");
        assert_eq!(n(1_024u64), "1,024");
        assert_eq!(n(1_000_000u64), "1,000,000");
    }

    #[test]
    fn the_readme_shows_the_limits_the_code_enforces() {
        let readme = crate::repository_file("README.md");
        let table = markdown_table();
        assert!(
            readme.contains(&table),
            "README.md's Limits table differs from the code's; it should read:\n{table}"
        );
    }
}
