//! Signatures as the vendors' SDKs make them. The two fixed signatures were computed by the
//! SDKs themselves (`alibabacloud_tea_openapi` 0.4.6 `Utils.get_authorization` and
//! `Utils.get_rpcsignature`) from the inputs written here.

use chrono::{DateTime, TimeZone, Utc};

use super::memory::{MemoryNonces, StaticKeys as MemoryKeys};
use super::*;

const SDK_ACS3: &str = "ACS3-HMAC-SHA256 Credential=AK1,SignedHeaders=accept;host;user-agent;\
x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,\
Signature=e3adc295383becca707cf30141d60d241bb2a72e4eedd8e33ae301abbfa614d6";
const SDK_RPC: &str = "z/x0I1oSVqQesKsCka/toeBSe4Y=";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 2, 3, 5, 0).unwrap()
}

fn keys() -> MemoryKeys {
    let mut keys = MemoryKeys::default();
    keys.signing.insert(
        "AK1".into(),
        SigningKey {
            tenant: Tenant::new("tenant-a").unwrap(),
            secret: "secret-1".into(),
        },
    );
    keys
}

fn query() -> String {
    [
        ("ProjectName", "album"),
        ("Sources", r#"[{"Rotate":90,"URI":"oss://b/a b.jpg"}]"#),
        ("TargetURI", "oss://b/o.pdf"),
    ]
    .iter()
    .map(|(k, v)| format!("{k}={}", encode::percent(v)))
    .collect::<Vec<_>>()
    .join("&")
}

fn acs3_headers(body: &[u8], date: &str, nonce: &str) -> Vec<(String, String)> {
    use sha2::Digest;
    [
        ("host", "127.0.0.1:3000"),
        ("x-acs-version", "2020-09-30"),
        ("x-acs-action", "CreateImageToPDFTask"),
        ("user-agent", "ua"),
        ("x-acs-date", date),
        ("x-acs-signature-nonce", nonce),
        ("accept", "application/json"),
        (
            "x-acs-content-sha256",
            &hex::encode(sha2::Sha256::digest(body)),
        ),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Signs a request with `secret` and sends `sent_query`/`sent_body` instead (unchanged when
/// the test wants an honest request).
async fn run(
    nonces: &MemoryNonces,
    (secret, date, nonce): (&str, &str, &str),
    signed: (&str, &[u8]),
    sent: (&str, &[u8]),
    edit: impl Fn(&mut Vec<(String, String)>),
) -> Result<Tenant, AuthError> {
    let mut headers = acs3_headers(signed.1, date, nonce);
    let authorization = acs3::sign("POST", "/", signed.0, &headers, signed.1, "AK1", secret);
    headers.push(("Authorization".into(), authorization));
    edit(&mut headers);
    let parts = SignedParts {
        method: "POST",
        path: "/",
        raw_query: sent.0,
        headers: &headers,
        body: sent.1,
    };
    authenticate(&parts, &keys(), nonces, now()).await
}

#[test]
fn the_acs3_signature_is_the_sdks() {
    let headers = acs3_headers(b"", "2026-01-02T03:04:05Z", "n-1");
    let signed = acs3::sign("POST", "/", &query(), &headers, b"", "AK1", "secret-1");
    assert_eq!(signed, SDK_ACS3);
}

#[test]
fn the_rpc_signature_is_the_sdks() {
    let parameters: Vec<(String, String)> = [
        ("Action", "GetImageInfos"),
        ("ImageIds", "a,b c"),
        ("Timestamp", "2026-01-02T03:04:05Z"),
        ("SignatureNonce", "n-2"),
        ("AccessKeyId", "AK1"),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
        ("Version", "2017-03-21"),
        ("Format", "JSON"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(rpc_v1::sign("POST", &parameters, "secret-1"), SDK_RPC);
}

#[tokio::test]
async fn an_sdk_signed_request_authenticates_once() {
    let nonces = MemoryNonces::default();
    let mut headers = acs3_headers(b"", "2026-01-02T03:04:05Z", "n-1");
    headers.push(("Authorization".into(), SDK_ACS3.into()));
    let q = query();
    let parts = SignedParts {
        method: "POST",
        path: "/",
        raw_query: &q,
        headers: &headers,
        body: b"",
    };
    let tenant = authenticate(&parts, &keys(), &nonces, now()).await.unwrap();
    assert_eq!(tenant.id(), "tenant-a");
    let again = authenticate(&parts, &keys(), &nonces, now()).await;
    assert_eq!(again.unwrap_err(), AuthError::NonceUsed);
}

#[tokio::test]
async fn every_tampering_is_refused_with_its_code() {
    let q = query();
    let form: &[u8] = b"Id=batch-1&ProjectName=p1";
    let good = ("secret-1", "2026-01-02T03:04:05Z", "n");
    let nonces = MemoryNonces::default();
    let keep = |_: &mut Vec<(String, String)>| {};
    let code = |r: Result<Tenant, AuthError>| r.map(|t| t.id().to_string()).map_err(|e| e.code());

    let wrong_secret = run(
        &nonces,
        ("other", good.1, "n1"),
        (&q, form),
        (&q, form),
        keep,
    );
    assert_eq!(code(wrong_secret.await), Err("SignatureDoesNotMatch"));
    let changed_query = format!("{q}&MaxResults=5");
    let r = run(
        &nonces,
        (good.0, good.1, "n2"),
        (&q, form),
        (&changed_query, form),
        keep,
    );
    assert_eq!(code(r.await), Err("SignatureDoesNotMatch"));
    let r = run(
        &nonces,
        (good.0, good.1, "n3"),
        (&q, form),
        (&q, b"Id=batch-2"),
        keep,
    );
    assert_eq!(code(r.await), Err("SignatureDoesNotMatch"));
    let r = run(
        &nonces,
        (good.0, "2026-01-02T02:40:00Z", "n4"),
        (&q, form),
        (&q, form),
        keep,
    );
    assert_eq!(code(r.await), Err("InvalidTimeStamp.Expired"));
    let unknown = |h: &mut Vec<(String, String)>| {
        let auth = h.iter_mut().find(|(k, _)| k == "Authorization").unwrap();
        auth.1 = auth.1.replace("Credential=AK1", "Credential=AK9");
    };
    let r = run(
        &nonces,
        (good.0, good.1, "n5"),
        (&q, form),
        (&q, form),
        unknown,
    );
    assert_eq!(code(r.await), Err("InvalidAccessKeyId.NotFound"));
    let dropped = |h: &mut Vec<(String, String)>| h.retain(|(k, _)| k != "x-acs-date");
    let r = run(
        &nonces,
        (good.0, good.1, "n6"),
        (&q, form),
        (&q, form),
        dropped,
    );
    assert_eq!(code(r.await), Err("IncompleteSignature"));
    let unsigned = |h: &mut Vec<(String, String)>| {
        let auth = h.iter_mut().find(|(k, _)| k == "Authorization").unwrap();
        auth.1 = auth.1.replace("x-acs-signature-nonce;", "");
    };
    let r = run(
        &nonces,
        (good.0, good.1, "n7"),
        (&q, form),
        (&q, form),
        unsigned,
    );
    assert_eq!(code(r.await), Err("IncompleteSignature"));
    // None of the refused requests used up its nonce; an honest one goes through, once.
    let r = run(&nonces, good, (&q, form), (&q, form), keep);
    assert_eq!(code(r.await), Ok("tenant-a".to_string()));
    let r = run(&nonces, good, (&q, form), (&q, form), keep);
    assert_eq!(code(r.await), Err("SignatureNonceUsed"));
    let r = run(
        &nonces,
        (good.0, good.1, "n1"),
        (&q, form),
        (&q, form),
        keep,
    );
    assert_eq!(code(r.await), Ok("tenant-a".to_string()));
}

#[tokio::test]
async fn an_rpc_signed_request_covers_its_form_body() {
    let nonces = MemoryNonces::default();
    let mut parameters: Vec<(String, String)> = [
        ("Action", "DeleteImage"),
        ("Timestamp", "2026-01-02T03:04:05Z"),
        ("SignatureNonce", "r-1"),
        ("AccessKeyId", "AK1"),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let body = b"ImageIds=img-1";
    let mut signed = parameters.clone();
    signed.push(("ImageIds".into(), "img-1".into()));
    parameters.push((
        "Signature".into(),
        rpc_v1::sign("POST", &signed, "secret-1"),
    ));
    let raw_query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&parameters)
        .finish();
    let headers = vec![(
        "content-type".to_string(),
        "application/x-www-form-urlencoded".to_string(),
    )];
    let parts = |body: &'static [u8]| SignedParts {
        method: "POST",
        path: "/",
        raw_query: &raw_query,
        headers: &headers,
        body,
    };
    let changed = authenticate(&parts(b"ImageIds=img-2"), &keys(), &nonces, now()).await;
    assert_eq!(changed.unwrap_err(), AuthError::Mismatch);
    let tenant = authenticate(&parts(body), &keys(), &nonces, now()).await;
    assert_eq!(tenant.unwrap().id(), "tenant-a");
}

#[tokio::test]
async fn bearer_keys_and_missing_credentials() {
    let mut keys = keys();
    keys.bearer
        .insert("folio_key".into(), Tenant::new("tenant-b").unwrap());
    let nonces = MemoryNonces::default();
    let with = |value: &str| vec![("Authorization".to_string(), value.to_string())];
    for (headers, expected) in [
        (with("Bearer folio_key"), Ok("tenant-b")),
        (with("Bearer nope"), Err("InvalidApiKey")),
        (Vec::new(), Err("Unauthorized")),
        (
            with("ACS3-HMAC-SM3 Credential=AK1"),
            Err("InvalidSignatureMethod"),
        ),
    ] {
        let parts = SignedParts {
            method: "POST",
            path: "/",
            raw_query: "",
            headers: &headers,
            body: b"",
        };
        let got = authenticate(&parts, &keys, &nonces, now()).await;
        assert_eq!(
            got.as_ref().map(|t| t.id()).map_err(AuthError::code),
            expected,
            "{headers:?}"
        );
    }
}
