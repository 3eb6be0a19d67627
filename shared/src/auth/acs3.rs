//! ACS3-HMAC-SHA256: `Authorization: ACS3-HMAC-SHA256 Credential=<AccessKeyId>,
//! SignedHeaders=<names>,Signature=<hex>`, over a canonical request of method, path,
//! sorted query, the signed headers and the body's SHA-256.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::encode::percent;
use super::{AuthError, KeyStore, SignedParts, Verified, check_date, same};

const ALGORITHM: &str = "ACS3-HMAC-SHA256";

/// Headers a signature must cover: without them a captured request could be replayed or
/// its body changed.
const REQUIRED: [&str; 4] = [
    "host",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-content-sha256",
];

struct Authorization<'a> {
    access_key_id: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn parse(header: &str) -> Result<Authorization<'_>, AuthError> {
    let (algorithm, fields) = header.split_once(' ').ok_or(AuthError::Incomplete(
        "the Authorization header has no fields",
    ))?;
    if algorithm != ALGORITHM {
        return Err(AuthError::UnsupportedMethod(
            algorithm.chars().take(40).collect(),
        ));
    }
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for field in fields.split(',') {
        match field.trim().split_once('=') {
            Some(("Credential", v)) => credential = Some(v),
            Some(("SignedHeaders", v)) => signed = Some(v),
            Some(("Signature", v)) => signature = Some(v),
            _ => {}
        }
    }
    let access_key_id = credential
        .filter(|c| !c.is_empty())
        .ok_or(AuthError::Incomplete(
            "the Authorization header has no Credential",
        ))?;
    let signed_headers: Vec<&str> = signed
        .ok_or(AuthError::Incomplete(
            "the Authorization header has no SignedHeaders",
        ))?
        .split(';')
        .filter(|h| !h.is_empty())
        .collect();
    let signature = signature
        .filter(|s| !s.is_empty())
        .ok_or(AuthError::Incomplete(
            "the Authorization header has no Signature",
        ))?;
    Ok(Authorization {
        access_key_id,
        signed_headers,
        signature,
    })
}

/// The canonical query: pairs sorted by name, names and values percent-encoded.
fn canonical_query(request: &SignedParts<'_>) -> String {
    let mut pairs: Vec<(String, String)> = request
        .query_pairs()
        .into_iter()
        .map(|(k, v)| (percent(&k), percent(&v)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The canonical request and the string signed, from the request as received.
fn string_to_sign(
    request: &SignedParts<'_>,
    signed_headers: &[&str],
    payload_hash: &str,
) -> Result<String, AuthError> {
    let mut names: Vec<String> = signed_headers
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    names.sort();
    names.dedup();
    let mut headers = String::new();
    for name in &names {
        let mut values: Vec<&str> = request
            .header_values(name)
            .into_iter()
            .map(str::trim)
            .collect();
        if values.is_empty() {
            return Err(AuthError::Incomplete("a signed header is missing"));
        }
        values.sort_unstable();
        headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    // Each header line ends in a newline and a newline follows them all, as the SDKs write it.
    let canonical = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        request.method,
        if request.path.is_empty() {
            "/"
        } else {
            request.path
        },
        canonical_query(request),
        headers,
        names.join(";"),
        payload_hash
    );
    Ok(format!(
        "{ALGORITHM}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    ))
}

pub(super) async fn verify(
    request: &SignedParts<'_>,
    header: &str,
    keys: &dyn KeyStore,
    now: DateTime<Utc>,
) -> Result<Verified, AuthError> {
    let auth = parse(header)?;
    for required in REQUIRED {
        if !auth
            .signed_headers
            .iter()
            .any(|h| h.eq_ignore_ascii_case(required))
        {
            return Err(AuthError::Incomplete(
                "host, x-acs-date, x-acs-signature-nonce and x-acs-content-sha256 must be signed",
            ));
        }
    }
    let payload_hash = hex::encode(Sha256::digest(request.body));
    super::check_access_key_id(auth.access_key_id)?;
    let key = keys
        .signing_key(auth.access_key_id)
        .await?
        .ok_or(AuthError::UnknownKey)?;
    let to_sign = string_to_sign(request, &auth.signed_headers, &payload_hash)?;
    let mut mac =
        Hmac::<Sha256>::new_from_slice(key.secret.as_bytes()).map_err(|_| AuthError::Mismatch)?;
    mac.update(to_sign.as_bytes());
    let expected = hex::encode(mac.finalize().into_bytes());
    // The body's hash is computed here; a header stating another (a body changed after
    // signing) fails like any other difference.
    let stated_hash = request.header("x-acs-content-sha256").unwrap_or_default();
    if !same(
        expected.as_bytes(),
        auth.signature.to_ascii_lowercase().as_bytes(),
    ) || !same(stated_hash.trim().as_bytes(), payload_hash.as_bytes())
    {
        return Err(AuthError::Mismatch);
    }
    check_date(request.header("x-acs-date").unwrap_or_default(), now)?;
    let nonce = request
        .header("x-acs-signature-nonce")
        .unwrap_or_default()
        .trim();
    if nonce.is_empty() {
        return Err(AuthError::Incomplete("the signature nonce is empty"));
    }
    Ok(Verified {
        access_key_id: auth.access_key_id.to_string(),
        nonce: nonce.to_string(),
        tenant: key.tenant,
    })
}

/// Signs a request as the SDKs do (tests and Folio's own clients).
pub fn sign(
    method: &str,
    path: &str,
    raw_query: &str,
    headers: &[(String, String)],
    body: &[u8],
    access_key_id: &str,
    secret: &str,
) -> String {
    let names: Vec<String> = headers
        .iter()
        .map(|(k, _)| k.to_ascii_lowercase())
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let parts = SignedParts {
        method,
        path,
        raw_query,
        headers,
        body,
    };
    let payload_hash = hex::encode(Sha256::digest(body));
    let to_sign = string_to_sign(&parts, &names, &payload_hash).unwrap_or_default();
    // Invariant: HMAC takes a key of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(to_sign.as_bytes());
    let mut sorted = names.clone();
    sorted.sort_unstable();
    sorted.dedup();
    format!(
        "{ALGORITHM} Credential={access_key_id},SignedHeaders={},Signature={}",
        sorted.join(";"),
        hex::encode(mac.finalize().into_bytes())
    )
}
