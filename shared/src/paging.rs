//! Listings that filter what a store returns page by page (`ListTasks`, `ListBatches`):
//! the `NextToken` cursor and the loop that reads pages until a call has enough.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, PortError};
use crate::params::Params;

/// At most this many pages are read for one call; a call that filters out nearly
/// everything returns fewer records and a `NextToken` to go on.
const MAX_PAGES_PER_CALL: usize = 10;

/// The longest `NextToken` taken, and the longest position in one: a position becomes part
/// of a store's sort key (DynamoDB caps those at 1,024 bytes); Folio's own are far shorter.
pub const MAX_TOKEN: usize = 1_024;
const MAX_AFTER: usize = 512;

/// Where a listing continues: the order it was made in, and the position after which to go
/// on. Encoded into `NextToken`, so a token cannot be used with another order.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
pub struct Cursor<S> {
    pub sort: S,
    pub descending: bool,
    pub after: String,
}

impl<S: Serialize + DeserializeOwned + PartialEq> Cursor<S> {
    pub fn encode(&self) -> String {
        // Invariant: a struct of an enum, a bool and a string always serialises.
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).expect("a cursor serialises"))
    }

    pub fn decode(token: &str) -> Option<Cursor<S>> {
        let bytes = URL_SAFE_NO_PAD.decode(token.as_bytes()).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// The position a token of this order continues after; `None` for a token of another
    /// order or no token at all.
    fn after(token: &str, sort: &S, descending: bool) -> Option<String> {
        if token.len() > MAX_TOKEN {
            return None;
        }
        Cursor::<S>::decode(token)
            .filter(|c| c.sort == *sort && c.descending == descending)
            .filter(|c| c.after.len() <= MAX_AFTER)
            .map(|c| c.after)
    }

    /// The request's `NextToken`: where `operation`'s listing in this order goes on (`None`
    /// to start: no token, or an empty one); a token of another listing or order is refused.
    pub fn from_request(
        params: &Params,
        operation: &str,
        sort: &S,
        descending: bool,
    ) -> Result<Option<String>, ApiError> {
        match params.opt_str("NextToken")?.filter(|t| !t.is_empty()) {
            None => Ok(None),
            Some(token) => Cursor::after(&token, sort, descending)
                .map(Some)
                .ok_or_else(|| {
                    ApiError::invalid(
                        "NextToken",
                        format!("is not a token {operation} gave for this Sort and Order"),
                    )
                }),
        }
    }
}

/// Reads pages from `after` on (`page` gives each record with its position, and whether
/// more follow) and keeps up to `limit` records that `keep` accepts. Returns them and the
/// position to continue after when more may follow (a full page may have been the last;
/// the next call then returns none, which is cheaper than reading ahead to be sure).
pub async fn collect<T, Page, Fut>(
    mut after: Option<String>,
    limit: usize,
    mut page: Page,
    mut keep: impl FnMut(&T) -> bool,
) -> Result<(Vec<T>, Option<String>), PortError>
where
    Page: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<(Vec<(String, T)>, bool), PortError>>,
{
    let mut kept = Vec::new();
    let mut more = true;
    for _ in 0..MAX_PAGES_PER_CALL {
        let (records, page_more) = page(after.clone()).await?;
        more = page_more;
        for (position, record) in records {
            after = Some(position);
            if keep(&record) {
                kept.push(record);
                if kept.len() == limit {
                    break;
                }
            }
        }
        if kept.len() == limit || !more {
            break;
        }
    }
    let next = (more || kept.len() == limit).then_some(after).flatten();
    Ok((kept, next))
}
