//! Key and nonce stores held in memory, for the unit tests of the signatures.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{KeyStore, NonceStore, SigningKey};
use crate::error::PortError;
use crate::tenant::Tenant;

/// Keys fixed at start: Bearer keys and access key pairs, each with its tenant.
#[derive(Default)]
pub struct StaticKeys {
    pub bearer: HashMap<String, Tenant>,
    pub signing: HashMap<String, SigningKey>,
}

#[async_trait]
impl KeyStore for StaticKeys {
    async fn bearer(&self, key: &str) -> Result<Option<Tenant>, PortError> {
        Ok(self.bearer.get(key).cloned())
    }

    async fn signing_key(&self, access_key_id: &str) -> Result<Option<SigningKey>, PortError> {
        Ok(self.signing.get(access_key_id).cloned())
    }
}

/// Nonces until their time is up; expired ones are dropped as new ones arrive.
#[derive(Default)]
pub struct MemoryNonces(Mutex<HashMap<String, DateTime<Utc>>>);

#[async_trait]
impl NonceStore for MemoryNonces {
    async fn first_use(
        &self,
        access_key_id: &str,
        nonce: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, PortError> {
        // A poisoned lock means a panic mid-insert; the map is still a valid map.
        let mut seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        seen.retain(|_, expires| *expires > now);
        let key = format!("{access_key_id}\n{nonce}");
        if seen.contains_key(&key) {
            return Ok(false);
        }
        seen.insert(key, until);
        Ok(true)
    }
}
