//! The RPC signature of the older SDKs (`aliyun-python-sdk-core`, and the current ones with
//! `signature_algorithm='v2'`): `Signature` = Base64(HMAC-SHA1(secret + "&",
//! METHOD&%2F&enc(sorted enc(name)=enc(value) of every query and form parameter but
//! Signature))), with `AccessKeyId`, `SignatureMethod=HMAC-SHA1`, `SignatureVersion=1.0`,
//! `SignatureNonce` and `Timestamp` among the parameters.

use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha1::Sha1;

use super::encode::percent;
use super::{AuthError, KeyStore, SignedParts, Verified, check_date, same};

/// The parameters the signature covers: the query's and a form body's, less `Signature`.
fn signed_parameters(request: &SignedParts<'_>) -> Vec<(String, String)> {
    let mut pairs = request.query_pairs();
    if request.is_form() {
        pairs.extend(url::form_urlencoded::parse(request.body).into_owned());
    }
    pairs.retain(|(k, _)| k != "Signature");
    pairs
}

fn string_to_sign(method: &str, parameters: &[(String, String)]) -> String {
    let mut encoded: Vec<(String, String)> = parameters
        .iter()
        .map(|(k, v)| (percent(k), percent(v)))
        .collect();
    encoded.sort();
    let canonical = encoded
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    format!("{method}&%2F&{}", percent(&canonical))
}

fn signature(secret: &str, to_sign: &str) -> String {
    // Invariant: HMAC takes a key of any length.
    let mut mac =
        Hmac::<Sha1>::new_from_slice(format!("{secret}&").as_bytes()).expect("any key length");
    mac.update(to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

pub(super) async fn verify(
    request: &SignedParts<'_>,
    keys: &dyn KeyStore,
    now: DateTime<Utc>,
) -> Result<Verified, AuthError> {
    let query = request.query_pairs();
    let get = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let given = get("Signature").ok_or(AuthError::Incomplete("Signature is empty"))?;
    let access_key_id =
        get("AccessKeyId").ok_or(AuthError::Incomplete("AccessKeyId is missing"))?;
    let nonce = get("SignatureNonce").ok_or(AuthError::Incomplete("SignatureNonce is missing"))?;
    let timestamp = get("Timestamp").ok_or(AuthError::Incomplete("Timestamp is missing"))?;
    match get("SignatureMethod") {
        Some("HMAC-SHA1") => {}
        Some(other) => {
            return Err(AuthError::UnsupportedMethod(
                other.chars().take(40).collect(),
            ));
        }
        None => return Err(AuthError::Incomplete("SignatureMethod is missing")),
    }
    super::check_access_key_id(access_key_id)?;
    let key = keys
        .signing_key(access_key_id)
        .await?
        .ok_or(AuthError::UnknownKey)?;
    let expected = signature(
        &key.secret,
        &string_to_sign(request.method, &signed_parameters(request)),
    );
    if !same(expected.as_bytes(), given.as_bytes()) {
        return Err(AuthError::Mismatch);
    }
    check_date(timestamp, now)?;
    Ok(Verified {
        access_key_id: access_key_id.to_string(),
        nonce: nonce.to_string(),
        tenant: key.tenant,
    })
}

/// The `Signature` of `parameters` sent with `method` (tests and Folio's own clients).
pub fn sign(method: &str, parameters: &[(String, String)], secret: &str) -> String {
    signature(secret, &string_to_sign(method, parameters))
}
