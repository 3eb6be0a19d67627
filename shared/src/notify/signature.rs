//! Webhook signatures: `Folio-Signature: t=<unix>,v1=<hex HMAC-SHA256(key, "<t>.<raw body>")>`.
//! Each tenant signs with its own key, derived from the service's master secret, so one
//! tenant cannot forge deliveries to another.

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const HEADER: &str = "Folio-Signature";

fn mac(key: &[u8]) -> Hmac<Sha256> {
    // Invariant: HMAC accepts keys of any length, so this never fails.
    Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length")
}

/// The tenant's webhook signing key (64 hex characters).
pub fn tenant_signing_key(master_secret: &str, tenant_key: &str) -> String {
    let mut m = mac(master_secret.as_bytes());
    m.update(b"folio-webhook-key:");
    m.update(tenant_key.as_bytes());
    hex::encode(m.finalize().into_bytes())
}

fn v1(key: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut m = mac(key.as_bytes());
    m.update(timestamp.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m
}

pub fn sign(key: &str, timestamp: i64, body: &[u8]) -> String {
    let digest = v1(key, timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", hex::encode(digest))
}

/// The `X-Oc-Signature` header of the online-convert API: hex HMAC-SHA256 of the raw
/// body with the same tenant key (what its SDKs' webhook verifiers check).
pub const OC_HEADER: &str = "X-Oc-Signature";

pub fn oc_sign(key: &str, body: &[u8]) -> String {
    let mut m = mac(key.as_bytes());
    m.update(body);
    hex::encode(m.finalize().into_bytes())
}

/// Checks a header against the raw body, in constant time, and that its timestamp is within
/// `tolerance_secs` of `now` (replay protection). This is what a receiver runs.
pub fn verify(key: &str, header: &str, body: &[u8], now: i64, tolerance_secs: i64) -> bool {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", s)) => signatures.extend(hex::decode(s).ok()),
            _ => {}
        }
    }
    let Some(t) = timestamp else { return false };
    if (now - t).abs() > tolerance_secs {
        return false;
    }
    signatures
        .iter()
        .any(|sig| v1(key, t, body).verify_slice(sig).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_verifies_the_raw_body() {
        let key = tenant_signing_key("master", "tenant-a");
        let body = br#"{"a":1}"#;
        let header = sign(&key, 1_700_000_000, body);
        assert!(header.starts_with("t=1700000000,v1="));
        assert!(verify(&key, &header, body, 1_700_000_100, 300));
        assert!(!verify(&key, &header, br#"{"a": 1}"#, 1_700_000_100, 300));
        assert!(!verify(&key, &header, body, 1_700_001_000, 300), "stale");
        let other = tenant_signing_key("master", "tenant-b");
        assert_ne!(key, other);
        assert!(!verify(&other, &header, body, 1_700_000_100, 300));
    }

    #[test]
    fn oc_signature_is_the_hmac_of_the_body() {
        // printf 'body' | openssl dgst -sha256 -hmac key
        assert_eq!(
            oc_sign("key", b"body"),
            "515aae133b435d4000956731f68ae5cf5eb85d4f0dc6a546d2bfcd3595ec1ae1"
        );
    }

    #[test]
    fn matches_an_independent_hmac() {
        // HMAC-SHA256("key", "1.body") computed once with openssl:
        // printf '1.body' | openssl dgst -sha256 -hmac key
        let header = sign("key", 1, b"body");
        assert_eq!(
            header,
            "t=1,v1=91b5374b153842ad05b2c4eab9349b8321b14703165bd3fb8b034dfb8be98ae5"
        );
    }
}
