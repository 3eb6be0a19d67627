//! The temporary credentials `CreateUploadImage` hands out in `UploadAuth`, as an STS token
//! would be: `AccessKeyId`, `AccessKeySecret` and `SecurityToken`.
//!
//! Nothing is stored. The token carries its grant (the one object it may write, the tenant,
//! the image, the size cap, the expiry) under an HMAC of a key derived from the service's
//! secret; the key id and the secret are HMACs of the token, so the endpoint derives both
//! from the token a request carries and checks the request's signature with them. A token
//! cannot be altered without its MAC failing, and a secret cannot be had without the
//! service's key.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chrono::{DateTime, Utc};
use hmac::Mac;
use serde::{Deserialize, Serialize};

use crate::keyed_mac::{derive, mac};

/// What every token starts with (its format's version).
const PREFIX: &str = "FOLIO1.";
/// The longest token read: a grant of a bucket, a key and two ids is well under this.
pub const MAX_TOKEN: usize = 2048;

/// What a credential allows: writing `key` in `bucket` once, up to `max_bytes`, before
/// `expires` (Unix seconds), for the image `image_id` of the tenant `tenant_key`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    #[serde(rename = "b")]
    pub bucket: String,
    #[serde(rename = "k")]
    pub key: String,
    #[serde(rename = "t")]
    pub tenant_key: String,
    #[serde(rename = "i")]
    pub image_id: String,
    #[serde(rename = "x")]
    pub expires: i64,
    #[serde(rename = "n")]
    pub max_bytes: u64,
}

impl Grant {
    pub fn expiration(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.expires, 0).unwrap_or_default()
    }
}

/// The three values of an STS credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub access_key_secret: String,
    pub security_token: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CredentialError {
    #[error("the security token is not one Folio issued (malformed)")]
    Malformed,
    #[error("the security token is not one Folio issued (its signature does not match)")]
    Forged,
}

/// Issues and opens credentials with one key.
#[derive(Clone)]
pub struct Issuer {
    key: [u8; 32],
}

impl Issuer {
    /// The issuer of a service whose secret is `service_secret` (its own key is derived, so
    /// the secret's other uses never meet a value of this one).
    pub fn new(service_secret: &str) -> Issuer {
        Issuer {
            key: derive(service_secret, "folio: OSS upload credentials, v1"),
        }
    }

    pub fn issue(&self, grant: &Grant) -> Credentials {
        // Invariant: a struct of strings and integers always serialises.
        let claims = serde_json::to_vec(grant).expect("a grant serialises");
        let body = format!("{PREFIX}{}", B64.encode(claims));
        let tag = mac(&self.key, &[b"token\n", body.as_bytes()])
            .finalize()
            .into_bytes();
        let token = format!("{body}.{}", B64.encode(tag));
        Credentials {
            access_key_id: self.access_key_id(&token),
            access_key_secret: self.secret(&token),
            security_token: token,
        }
    }

    /// The grant of a token this issuer made.
    pub fn open(&self, token: &str) -> Result<Grant, CredentialError> {
        if token.len() > MAX_TOKEN || !token.starts_with(PREFIX) {
            return Err(CredentialError::Malformed);
        }
        let (body, tag) = token.rsplit_once('.').ok_or(CredentialError::Malformed)?;
        let tag = B64.decode(tag).map_err(|_| CredentialError::Malformed)?;
        mac(&self.key, &[b"token\n", body.as_bytes()])
            .verify_slice(&tag)
            .map_err(|_| CredentialError::Forged)?;
        let claims = B64
            .decode(&body[PREFIX.len()..])
            .map_err(|_| CredentialError::Malformed)?;
        serde_json::from_slice(&claims).map_err(|_| CredentialError::Malformed)
    }

    /// The `AccessKeyId` that goes with `token`.
    pub fn access_key_id(&self, token: &str) -> String {
        let tag = mac(&self.key, &[b"id\n", token.as_bytes()])
            .finalize()
            .into_bytes();
        format!("STS.{}", &B64.encode(tag)[..24])
    }

    /// The `AccessKeySecret` that goes with `token`.
    pub fn secret(&self, token: &str) -> String {
        let tag = mac(&self.key, &[b"secret\n", token.as_bytes()])
            .finalize()
            .into_bytes();
        B64.encode(tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant() -> Grant {
        Grant {
            bucket: "folio-uploads".into(),
            key: "images/t/i.jpg".into(),
            tenant_key: "t".into(),
            image_id: "i".into(),
            expires: 1_900_000_000,
            max_bytes: 1 << 20,
        }
    }

    #[test]
    fn a_token_opens_to_its_grant_and_names_its_key_and_secret() {
        let issuer = Issuer::new("service secret");
        let credentials = issuer.issue(&grant());
        assert_eq!(issuer.open(&credentials.security_token), Ok(grant()));
        assert!(credentials.access_key_id.starts_with("STS."));
        assert_eq!(
            issuer.access_key_id(&credentials.security_token),
            credentials.access_key_id
        );
        assert_eq!(
            issuer.secret(&credentials.security_token),
            credentials.access_key_secret
        );
        assert_ne!(credentials.access_key_secret, credentials.access_key_id);
    }

    #[test]
    fn an_altered_or_foreign_token_does_not_open() {
        let issuer = Issuer::new("service secret");
        let token = issuer.issue(&grant()).security_token;
        // Another grant under the same tag.
        let mut other = grant();
        other.key = "images/t/other.jpg".into();
        let forged_body = format!(
            "{PREFIX}{}",
            B64.encode(serde_json::to_vec(&other).unwrap())
        );
        let tag = token.rsplit_once('.').unwrap().1;
        assert_eq!(
            issuer.open(&format!("{forged_body}.{tag}")),
            Err(CredentialError::Forged)
        );
        // Another service's token.
        let theirs = Issuer::new("another secret").issue(&grant()).security_token;
        assert_eq!(issuer.open(&theirs), Err(CredentialError::Forged));
        for bad in ["", "FOLIO1.", "FOLIO1.abc", "CAIS.x.y", &"F".repeat(5000)] {
            assert!(issuer.open(bad).is_err(), "{bad}");
        }
    }
}
