//! Issuing, listing and revoking keys: `folio keys`, and `folio serve`'s first run.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::PortError;
use crate::tenant::Tenant;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum KeyKind {
    /// `Authorization: Bearer <key>`; only its hash is stored.
    Bearer,
    /// An AccessKeyId and secret for signed requests; the secret is stored encrypted.
    Access,
}

/// What is shown of a key: never the key or secret itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KeySummary {
    /// The AccessKeyId, or for a Bearer key `key-` and the start of its hash.
    pub key_id: String,
    pub kind: KeyKind,
    pub tenant: String,
    pub created: DateTime<Utc>,
}

#[async_trait]
pub trait KeyAdmin: Send + Sync {
    /// Stores a Bearer key (its hash) for `tenant`; the same key again is a no-op.
    async fn put_bearer(&self, key: &str, tenant: &Tenant) -> Result<KeySummary, PortError>;
    /// Stores an access key pair for `tenant`; the same id again is a no-op.
    async fn put_access(
        &self,
        access_key_id: &str,
        secret: &str,
        tenant: &Tenant,
    ) -> Result<KeySummary, PortError>;
    async fn list(&self) -> Result<Vec<KeySummary>, PortError>;
    /// Removes a key; `false` when there was none of that id.
    async fn revoke(&self, key_id: &str) -> Result<bool, PortError>;
}

fn random_text(alphabet: &[u8], len: usize) -> String {
    let mut bytes = vec![0u8; len];
    rand::rng().fill_bytes(&mut bytes);
    // 256 is a multiple of the 32- and 64-letter alphabets used, so no letter is favoured.
    bytes
        .iter()
        .map(|b| alphabet[*b as usize % alphabet.len()] as char)
        .collect()
}

const LOWER_HEX32: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
const ALNUM64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// A new Bearer API key: `folio_` and 32 random letters (160 bits).
pub fn new_bearer_key() -> String {
    format!("folio_{}", random_text(LOWER_HEX32, 32))
}

/// A new access key pair: an id of `LTAI` and 20 letters (as the SDKs expect an Alibaba
/// AccessKeyId to look), and a 30-letter secret (180 bits).
pub fn new_access_key() -> (String, String) {
    let id = format!("LTAI{}", random_text(ALNUM64, 20).replace(['-', '_'], "x"));
    (id, random_text(ALNUM64, 30))
}

/// The stored form of a Bearer key: its SHA-256, hex.
pub fn bearer_hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// The public id of a Bearer key: `key-` and the first 12 hex digits of its hash.
pub fn bearer_key_id(key: &str) -> String {
    format!("key-{}", &bearer_hash(key)[..12])
}
