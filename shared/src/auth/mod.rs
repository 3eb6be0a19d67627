//! Who is calling: Bearer API keys and Alibaba Cloud's request signatures, checked against
//! the key store. The same code runs in the Lambda authorizer and in `folio serve`.
//!
//! Two signatures are verified, as the vendors' SDKs send them: ACS3-HMAC-SHA256 (the
//! `Authorization` header of the current SDKs, [`acs3`]) and the older RPC signature
//! (HMAC-SHA1 in the `Signature` query parameter, [`rpc_v1`]). Either binds the request to
//! a time (within [`CLOCK_SKEW`] of ours) and a nonce used once; a refusal says which rule
//! failed in general terms, never which part of a signature matched.

pub mod acs3;
pub mod admin;
mod encode;
#[cfg(test)]
mod memory;
pub mod rpc_v1;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::PortError;
use crate::tenant::Tenant;

/// How far a signed request's date may be from the server's clock, either way; nonces are
/// remembered for as long.
pub const CLOCK_SKEW: Duration = Duration::from_secs(15 * 60);

/// An access key pair's server side: whose it is and the secret both sides sign with.
#[derive(Clone)]
pub struct SigningKey {
    pub tenant: Tenant,
    pub secret: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("tenant", &self.tenant.id())
            .finish_non_exhaustive()
    }
}

/// Where keys are looked up.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// The tenant of a Bearer API key, if it is a live key.
    async fn bearer(&self, key: &str) -> Result<Option<Tenant>, PortError>;
    /// The live signing key of an AccessKeyId.
    async fn signing_key(&self, access_key_id: &str) -> Result<Option<SigningKey>, PortError>;
}

/// Remembers the nonces of verified requests.
#[async_trait]
pub trait NonceStore: Send + Sync {
    /// Records `nonce` of `access_key_id` until `until`; `false` when it was already used
    /// and is still remembered at `now`.
    async fn first_use(
        &self,
        access_key_id: &str,
        nonce: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, PortError>;
}

/// The parts of an HTTP request a signature covers.
pub struct SignedParts<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// The query string as received, still percent-encoded (no `?`).
    pub raw_query: &'a str,
    /// Every header, names in any case.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

impl SignedParts<'_> {
    /// The values of header `name`, in the order received.
    fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.header_values(name).into_iter().next()
    }

    /// The query's pairs, percent-decoded (`+` is a space, as form encoding has it).
    fn query_pairs(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(self.raw_query.as_bytes())
            .into_owned()
            .collect()
    }

    fn is_form(&self) -> bool {
        self.header("content-type")
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"))
    }
}

/// Why a request was not authenticated, with the code and status Alibaba Cloud answers.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("the request carries no credentials (a Bearer API key or a signature)")]
    Missing,
    #[error("the request signature is incomplete: {0}")]
    Incomplete(&'static str),
    #[error("the signature method {0} is not supported")]
    UnsupportedMethod(String),
    #[error("the request signature does not match the request")]
    Mismatch,
    #[error("the access key is not found")]
    UnknownKey,
    #[error("the API key is not valid")]
    BadBearer,
    #[error("the request's date is malformed")]
    BadDate,
    #[error("the request's date is more than 15 minutes from the server's clock")]
    Stale,
    #[error("the signature nonce was used already")]
    NonceUsed,
    /// A credential part out of bounds, refused before any store sees it.
    #[error("{0}")]
    Malformed(&'static str),
    #[error("the key store could not be read")]
    Store(#[source] PortErrorText),
}

/// A store failure, kept as text so that `AuthError` compares.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PortErrorText(pub String);

impl From<PortError> for AuthError {
    fn from(e: PortError) -> Self {
        AuthError::Store(PortErrorText(e.to_string()))
    }
}

impl AuthError {
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::Missing => "Unauthorized",
            AuthError::Incomplete(_) => "IncompleteSignature",
            AuthError::UnsupportedMethod(_) => "InvalidSignatureMethod",
            AuthError::Mismatch => "SignatureDoesNotMatch",
            AuthError::UnknownKey => "InvalidAccessKeyId.NotFound",
            AuthError::BadBearer => "InvalidApiKey",
            AuthError::BadDate => "InvalidTimeStamp.Format",
            AuthError::Stale => "InvalidTimeStamp.Expired",
            AuthError::NonceUsed => "SignatureNonceUsed",
            AuthError::Malformed(_) => "InvalidParameter",
            AuthError::Store(_) => "ServiceUnavailable",
        }
    }

    pub fn status(&self) -> http::StatusCode {
        use http::StatusCode;
        match self {
            AuthError::Missing | AuthError::BadBearer => StatusCode::UNAUTHORIZED,
            AuthError::UnknownKey => StatusCode::NOT_FOUND,
            AuthError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// The longest `AccessKeyId` taken: it is part of a store key (Folio's are 24 characters).
pub const MAX_ACCESS_KEY_ID: usize = 128;
/// The longest `SignatureNonce` taken: it is part of a store key (the SDKs send 32 to 36
/// characters; DynamoDB caps a partition key at 2,048 bytes).
pub const MAX_NONCE: usize = 256;
/// The longest Bearer key taken (Folio's are 43 characters).
pub const MAX_BEARER: usize = 256;

/// An `AccessKeyId` of a length a store key can hold.
pub(crate) fn check_access_key_id(id: &str) -> Result<(), AuthError> {
    if id.len() > MAX_ACCESS_KEY_ID {
        return Err(AuthError::Malformed(
            "AccessKeyId is longer than 128 characters",
        ));
    }
    Ok(())
}

/// What a verified signature established: the key and the nonce to record.
struct Verified {
    access_key_id: String,
    nonce: String,
    tenant: Tenant,
}

/// The caller of `request`, or why not. A signed request's nonce is recorded only once its
/// signature and date are good, so that forged requests cannot fill the nonce store.
pub async fn authenticate(
    request: &SignedParts<'_>,
    keys: &dyn KeyStore,
    nonces: &dyn NonceStore,
    now: DateTime<Utc>,
) -> Result<Tenant, AuthError> {
    let authorization = request.header("authorization").map(str::trim);
    let verified = if let Some(bearer) = authorization.and_then(|a| a.strip_prefix("Bearer ")) {
        if bearer.trim().len() > MAX_BEARER {
            return Err(AuthError::BadBearer);
        }
        return keys
            .bearer(bearer.trim())
            .await?
            .ok_or(AuthError::BadBearer);
    } else if let Some(header) = authorization.filter(|a| a.starts_with("ACS3-")) {
        acs3::verify(request, header, keys, now).await?
    } else if request.query_pairs().iter().any(|(k, _)| k == "Signature") {
        rpc_v1::verify(request, keys, now).await?
    } else {
        return Err(AuthError::Missing);
    };
    if verified.nonce.len() > MAX_NONCE {
        return Err(AuthError::Malformed(
            "SignatureNonce is longer than 256 characters",
        ));
    }
    let until = now + chrono::Duration::from_std(CLOCK_SKEW * 2).unwrap_or_default();
    if !nonces
        .first_use(&verified.access_key_id, &verified.nonce, now, until)
        .await?
    {
        return Err(AuthError::NonceUsed);
    }
    Ok(verified.tenant)
}

/// A signed request's date: ISO 8601 UTC as the SDKs write it (`2024-01-02T03:04:05Z`),
/// within [`CLOCK_SKEW`] of `now`.
fn check_date(text: &str, now: DateTime<Utc>) -> Result<(), AuthError> {
    let date = DateTime::parse_from_rfc3339(text.trim())
        .map_err(|_| AuthError::BadDate)?
        .with_timezone(&Utc);
    let skew = (now - date).abs().to_std().map_err(|_| AuthError::Stale)?;
    if skew > CLOCK_SKEW {
        return Err(AuthError::Stale);
    }
    Ok(())
}

/// A request's headers as signature checks read them: lowercase names (as `http` keeps
/// them) with their values, those that are not text left out.
pub fn header_pairs(headers: &http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect()
}

/// Compares two byte strings in time that does not depend on where they differ.
/// Constant-time equality of secrets (and of their digests).
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests;
