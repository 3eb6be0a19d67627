//! Upload and download URLs that `folio serve` hands out and serves itself: one method, one
//! object, until a time, signed with HMAC-SHA256 over all of them (and the download's file
//! name), checked in constant time.

use chrono::Utc;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Where the signed routes live on the gateway.
pub const FILES_PATH: &str = "/files/";

#[derive(Clone)]
pub struct UrlSigner {
    key: [u8; 32],
    /// The base URL callers reach the gateway at, without a trailing `/`.
    base_url: String,
}

/// Why a signed URL is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UrlError {
    #[error("the URL is not signed (expires and signature are required)")]
    Unsigned,
    #[error("the URL has expired")]
    Expired,
    #[error("the signature does not match the URL")]
    Mismatch,
}

/// What a signed URL allows.
#[derive(Debug, PartialEq, Eq)]
pub struct Grant<'a> {
    pub method: &'a str,
    pub bucket: &'a str,
    pub key: &'a str,
    /// Epoch seconds.
    pub expires: i64,
    /// The download's file name (`Content-Disposition`), when given.
    pub filename: Option<&'a str>,
}

/// Percent-encodes a key for a URL path, keeping its `/`.
fn encode_key(key: &str) -> String {
    key.split('/')
        .map(|segment| urlencoding::encode(segment).into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

impl UrlSigner {
    pub fn new(key: [u8; 32], base_url: &str) -> UrlSigner {
        UrlSigner {
            key,
            base_url: base_url.trim_end_matches('/').to_string(),
        }
    }

    fn mac(&self, grant: &Grant<'_>) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        // Lengths before each part: no two grants sign the same bytes.
        for part in [
            grant.method,
            grant.bucket,
            grant.key,
            &grant.expires.to_string(),
            grant.filename.unwrap_or(""),
        ] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        mac.update(&[u8::from(grant.filename.is_some())]);
        mac
    }

    /// The URL of `grant`.
    pub fn url(&self, grant: &Grant<'_>) -> String {
        let signature = hex::encode(self.mac(grant).finalize().into_bytes());
        let mut url = format!(
            "{}{FILES_PATH}{}/{}?expires={}",
            self.base_url,
            grant.bucket,
            encode_key(grant.key),
            grant.expires
        );
        if let Some(name) = grant.filename {
            url.push_str("&filename=");
            url.push_str(&urlencoding::encode(name));
        }
        url.push_str("&signature=");
        url.push_str(&signature);
        url
    }

    /// Checks a signature for `grant`: refused when expired or not matching.
    pub fn verify(&self, grant: &Grant<'_>, signature: &str) -> Result<(), UrlError> {
        let signature = hex::decode(signature).map_err(|_| UrlError::Mismatch)?;
        self.mac(grant)
            .verify_slice(&signature)
            .map_err(|_| UrlError::Mismatch)?;
        if grant.expires <= Utc::now().timestamp() {
            return Err(UrlError::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant<'a>(key: &'a str, expires: i64) -> Grant<'a> {
        Grant {
            method: "PUT",
            bucket: "folio-uploads",
            key,
            expires,
            filename: None,
        }
    }

    fn signature_of(url: &str) -> &str {
        url.rsplit_once("signature=").expect("signed").1
    }

    #[test]
    fn a_url_allows_its_own_object_method_and_time_only() {
        let signer = UrlSigner::new([7; 32], "http://127.0.0.1:3000/");
        let later = Utc::now().timestamp() + 60;
        let url = signer.url(&grant("images/a b.png", later));
        assert!(url.starts_with("http://127.0.0.1:3000/files/folio-uploads/images/a%20b.png?"));
        let signature = signature_of(&url);
        assert_eq!(
            signer.verify(&grant("images/a b.png", later), signature),
            Ok(())
        );
        assert_eq!(
            signer.verify(&grant("images/other.png", later), signature),
            Err(UrlError::Mismatch)
        );
        assert_eq!(
            signer.verify(&grant("images/a b.png", later + 1), signature),
            Err(UrlError::Mismatch)
        );
        let get = Grant {
            method: "GET",
            ..grant("images/a b.png", later)
        };
        assert_eq!(signer.verify(&get, signature), Err(UrlError::Mismatch));
        let other_key = UrlSigner::new([8; 32], "http://127.0.0.1:3000");
        assert_eq!(
            other_key.verify(&grant("images/a b.png", later), signature),
            Err(UrlError::Mismatch)
        );
        let past = Utc::now().timestamp() - 1;
        let expired = signer.url(&grant("k", past));
        assert_eq!(
            signer.verify(&grant("k", past), signature_of(&expired)),
            Err(UrlError::Expired)
        );
    }
}
