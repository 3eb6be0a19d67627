//! Per-tenant request rates: at most so many calls of an operation in each second of the
//! clock, for each tenant, counted in the records table so that every function instance
//! shares the count (one atomic conditional update a request: concurrent requests cannot
//! slip past it). VOD states 10 calls a second per account for GetImageInfos; the other
//! operations get a looser default.

use std::time::Duration;

use async_trait::async_trait;

use crate::api::Operation;
use crate::error::PortError;

/// The calls a second each tenant may make of `op`.
pub fn limit_of(op: Operation) -> u32 {
    match op {
        Operation::GetImageInfos => 10,
        _ => 50,
    }
}

/// The second a call at `now_ms` (milliseconds since the epoch) counts in, and how long until
/// the next one starts.
pub fn window(now_ms: i64) -> (i64, Duration) {
    let second = now_ms.div_euclid(1000);
    let left = 1000 - now_ms.rem_euclid(1000);
    (second, Duration::from_millis(left as u64))
}

#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Counts a call of `op` by `tenant_key`; `Some(wait)` when the second's calls are spent.
    async fn admit(&self, tenant_key: &str, op: Operation) -> Result<Option<Duration>, PortError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_counts_in_its_second_and_waits_for_the_next() {
        assert_eq!(window(5_000), (5, Duration::from_millis(1000)));
        assert_eq!(window(5_999), (5, Duration::from_millis(1)));
        assert_eq!(window(6_250), (6, Duration::from_millis(750)));
    }
}
