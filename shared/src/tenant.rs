//! The tenant: the identity that authenticated the request. Every record is keyed by it.

use sha2::{Digest, Sha256};

/// An authenticated caller. `key` is a fixed-length digest of the identity, safe to put in
/// record keys and object keys; the identity itself is kept on records for audit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tenant {
    id: String,
    key: String,
}

impl Tenant {
    /// `None` for an empty identity: an empty string authenticates nobody.
    pub fn new(id: impl Into<String>) -> Option<Self> {
        let id = id.into();
        if id.trim().is_empty() {
            return None;
        }
        let key = tenant_key(&id);
        Some(Tenant { id, key })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// 32 lowercase hex characters (128 bits of SHA-256 of the identity).
    pub fn key(&self) -> &str {
        &self.key
    }
}

fn tenant_key(id: &str) -> String {
    let digest = Sha256::digest(id.as_bytes());
    hex::encode(&digest[..16])
}

/// Whether `s` has the shape of a tenant key (used when parsing object keys from events).
pub fn is_tenant_key(s: &str) -> bool {
    s.len() == 32
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_stable_and_distinct() {
        let a = Tenant::new("arn:aws:iam::123456789012:user/alice").unwrap();
        let b = Tenant::new("arn:aws:iam::123456789012:user/bob").unwrap();
        assert_eq!(a.key(), Tenant::new(a.id()).unwrap().key());
        assert_ne!(a.key(), b.key());
        assert!(is_tenant_key(a.key()));
    }

    #[test]
    fn empty_identity_is_nobody() {
        assert!(Tenant::new("").is_none());
        assert!(Tenant::new("  ").is_none());
    }
}
