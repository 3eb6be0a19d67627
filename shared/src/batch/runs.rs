//! What a batch worker remembers of the runs it serves: the batch record as its items see
//! it, read once and shared by every item of the run that this process handles within
//! [`FRESH_FOR`].
//!
//! A batch record holds the recipe, the input and the notification (up to ~50 KB, see
//! `limits.rs`); reading it for every object would cost a read of that size per object.
//! Within a run the parts an item uses (the ServiceRole, the input bucket, the recipe, the
//! fast-fail policy) do not change: `UpdateBatch` changes them only while no run is going,
//! and `ResumeBatch` starts a new run. Only the state does, and an item trusts a copy at
//! most [`FRESH_FOR`] old, as it trusted an eventually consistent read before: a batch that
//! failed or was deleted a moment ago may still see an item of another process run.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::model::{BatchRecord, BatchRef};

/// How long a copy of a running batch serves its items.
pub const FRESH_FOR: Duration = Duration::from_secs(1);

/// Runs remembered at most; beyond this the stale ones are forgotten first, then all.
const MOST_RUNS: usize = 256;

type RunKey = (String, String, String, u32);

#[derive(Default)]
pub struct RunCache {
    runs: Mutex<HashMap<RunKey, (Instant, Arc<BatchRecord>)>>,
}

fn key(at: &BatchRef) -> RunKey {
    (
        at.tenant_key.clone(),
        at.project_name.clone(),
        at.batch_id.clone(),
        at.run,
    )
}

impl RunCache {
    /// The copy of `at`'s record read less than [`FRESH_FOR`] ago, if any.
    pub fn fresh(&self, at: &BatchRef) -> Option<Arc<BatchRecord>> {
        let runs = self
            .runs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        runs.get(&key(at))
            .filter(|(read_at, _)| read_at.elapsed() < FRESH_FOR)
            .map(|(_, batch)| batch.clone())
    }

    /// Remembers a running batch's record as just read.
    pub fn keep(&self, at: &BatchRef, batch: Arc<BatchRecord>) {
        let mut runs = self
            .runs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if runs.len() >= MOST_RUNS {
            runs.retain(|_, (read_at, _)| read_at.elapsed() < FRESH_FOR);
            if runs.len() >= MOST_RUNS {
                runs.clear();
            }
        }
        runs.insert(key(at), (Instant::now(), batch));
    }

    /// Forgets the run: this process changed its record (e.g. ended it).
    pub fn forget(&self, at: &BatchRef) {
        let mut runs = self
            .runs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        runs.remove(&key(at));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(batch_id: &str, run: u32) -> BatchRef {
        BatchRef {
            tenant_key: "t".into(),
            project_name: "p".into(),
            batch_id: batch_id.into(),
            run,
        }
    }

    fn record() -> Arc<BatchRecord> {
        let json = serde_json::json!({
            "TenantKey": "t", "ProjectName": "p", "Id": "b", "State": "Running",
            "Input": {"Bucket": "in"}, "InputEcho": {}, "Actions": [],
            "Recipe": {"Outputs": []}, "FastFail": "ignore", "Scan": {"Pages": 0},
            "ExpiresAt": 0,
            "ServiceRole": "r", "Run": 1, "Version": 1,
            "CreateTime": "2026-01-01T00:00:00Z", "UpdateTime": "2026-01-01T00:00:00Z",
        });
        Arc::new(serde_json::from_value(json).expect("a batch record"))
    }

    #[test]
    fn a_copy_serves_its_own_run_until_it_is_stale_or_forgotten() {
        let cache = RunCache::default();
        assert!(cache.fresh(&at("b", 1)).is_none());
        cache.keep(&at("b", 1), record());
        assert!(cache.fresh(&at("b", 1)).is_some());
        assert!(cache.fresh(&at("b", 2)).is_none(), "another run");
        assert!(cache.fresh(&at("c", 1)).is_none(), "another batch");
        cache.forget(&at("b", 1));
        assert!(cache.fresh(&at("b", 1)).is_none());
        cache.keep(&at("b", 1), record());
        std::thread::sleep(FRESH_FOR + Duration::from_millis(50));
        assert!(cache.fresh(&at("b", 1)).is_none(), "stale");
    }

    #[test]
    fn it_stays_bounded() {
        let cache = RunCache::default();
        for i in 0..(MOST_RUNS * 3) {
            cache.keep(&at(&format!("b{i}"), 1), record());
        }
        assert!(cache.runs.lock().unwrap().len() <= MOST_RUNS);
        assert!(
            cache
                .fresh(&at(&format!("b{}", MOST_RUNS * 3 - 1), 1))
                .is_some()
        );
    }
}
