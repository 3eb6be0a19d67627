//! HMAC-SHA256 over parts, and keys derived from the service's secret for one use each (the
//! OSS upload credentials, the console's sessions), so no use ever meets another's values.

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub type HmacSha256 = Hmac<Sha256>;

/// The MAC of `parts`, in order, under `key`.
pub fn mac(key: &[u8], parts: &[&[u8]]) -> HmacSha256 {
    // Invariant: HMAC takes a key of any length.
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    for part in parts {
        mac.update(part);
    }
    mac
}

/// The key of the use `label`, derived from `service_secret`.
pub fn derive(service_secret: &str, label: &str) -> [u8; 32] {
    mac(service_secret.as_bytes(), &[label.as_bytes()])
        .finalize()
        .into_bytes()
        .into()
}
