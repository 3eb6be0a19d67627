//! OSS request signatures as the OSS SDKs make them: V1 (`OSS AccessKeyId:Signature`,
//! HMAC-SHA1 over the method, `Content-MD5`, `Content-Type`, the date, the `x-oss-`
//! headers and the resource with its sub-resources) and V4 (`OSS4-HMAC-SHA256
//! Credential=id/date/region/oss/aliyun_v4_request, ...`, HMAC-SHA256 over a canonical
//! request, with a key derived from the secret, the date, the region and the product).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, NaiveDateTime, Utc};
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// The query parameters V1 signs (OSS's sub-resources); any other is left out of the
/// string to sign.
const SUBRESOURCES: &[&str] = &[
    "acl",
    "append",
    "callback",
    "callback-var",
    "comp",
    "continuation-token",
    "cors",
    "delete",
    "encryption",
    "endTime",
    "group",
    "lifecycle",
    "link",
    "live",
    "location",
    "logging",
    "objectInfo",
    "objectMeta",
    "partNumber",
    "policy",
    "position",
    "qos",
    "referer",
    "replication",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "security-token",
    "sequential",
    "startTime",
    "stat",
    "status",
    "style",
    "symlink",
    "tagging",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
    "x-oss-process",
    "x-oss-traffic-limit",
];

/// The headers V4 always signs besides the `x-oss-` ones.
const V4_SIGNED: &[&str] = &["content-md5", "content-type"];

/// What a request's `Authorization` header says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Authorization {
    V1 {
        access_key_id: String,
        signature: String,
    },
    V4 {
        access_key_id: String,
        /// `yyyymmdd`, the region and the product of the credential's scope.
        date: String,
        region: String,
        product: String,
        additional_headers: Vec<String>,
        signature: String,
    },
}

impl Authorization {
    pub fn access_key_id(&self) -> &str {
        match self {
            Authorization::V1 { access_key_id, .. } | Authorization::V4 { access_key_id, .. } => {
                access_key_id
            }
        }
    }
}

/// The parts of a request a signature covers. Header names are lowercase; query pairs and
/// the key are percent-decoded.
pub struct SignedRequest<'a> {
    pub method: &'a str,
    pub query: &'a [(String, String)],
    pub headers: &'a [(String, String)],
    pub bucket: &'a str,
    pub key: &'a str,
}

impl SignedRequest<'_> {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads an `Authorization` value; `Err` says what is wrong with it.
pub fn parse(value: &str) -> Result<Authorization, &'static str> {
    if let Some(rest) = value.strip_prefix("OSS4-HMAC-SHA256 ") {
        let mut credential = None;
        let mut signature = None;
        let mut additional = Vec::new();
        for part in rest.split(',') {
            let (name, value) = part.trim().split_once('=').ok_or("a part without '='")?;
            match name {
                "Credential" => credential = Some(value),
                "Signature" => signature = Some(value),
                "AdditionalHeaders" => {
                    additional = value
                        .split(';')
                        .filter(|h| !h.is_empty())
                        .map(str::to_ascii_lowercase)
                        .collect();
                }
                _ => {}
            }
        }
        let credential = credential.ok_or("no Credential")?;
        let signature = signature.ok_or("no Signature")?;
        let parts: Vec<&str> = credential.split('/').collect();
        let [id, date, region, product, "aliyun_v4_request"] = parts[..] else {
            return Err("a Credential that is not id/date/region/oss/aliyun_v4_request");
        };
        return Ok(Authorization::V4 {
            access_key_id: id.to_string(),
            date: date.to_string(),
            region: region.to_string(),
            product: product.to_string(),
            additional_headers: additional,
            signature: signature.to_string(),
        });
    }
    if let Some(rest) = value.strip_prefix("OSS ") {
        let (id, signature) = rest
            .rsplit_once(':')
            .ok_or("no ':' in 'OSS id:signature'")?;
        return Ok(Authorization::V1 {
            access_key_id: id.trim().to_string(),
            signature: signature.trim().to_string(),
        });
    }
    Err("not 'OSS id:signature' (V1) nor 'OSS4-HMAC-SHA256 Credential=...' (V4)")
}

/// When the request says it was signed: V1's `x-oss-date` or `Date` (an HTTP date), V4's
/// `x-oss-date` (`yyyymmddThhmmssZ`).
pub fn signed_at(auth: &Authorization, request: &SignedRequest) -> Option<DateTime<Utc>> {
    match auth {
        Authorization::V4 { .. } => {
            let text = request.header("x-oss-date")?;
            NaiveDateTime::parse_from_str(text, "%Y%m%dT%H%M%SZ")
                .ok()
                .map(|t| t.and_utc())
        }
        Authorization::V1 { .. } => {
            let text = request
                .header("x-oss-date")
                .or_else(|| request.header("date"))?;
            DateTime::parse_from_rfc2822(&text.replace("GMT", "+0000"))
                .ok()
                .map(|t| t.with_timezone(&Utc))
        }
    }
}

/// Whether the request's signature is the one `secret` makes.
pub fn verify(auth: &Authorization, request: &SignedRequest, secret: &str) -> bool {
    match auth {
        Authorization::V1 { signature, .. } => {
            let expected = v1_signature(request, secret);
            crate::auth::same(expected.as_bytes(), signature.as_bytes())
        }
        Authorization::V4 {
            date,
            region,
            product,
            additional_headers,
            signature,
            ..
        } => {
            let Some(date_time) = request.header("x-oss-date") else {
                return false;
            };
            if !date_time.starts_with(date.as_str()) {
                return false;
            }
            let expected = v4_signature(
                request,
                secret,
                date_time,
                &Scope {
                    date,
                    region,
                    product,
                },
                additional_headers,
            );
            crate::auth::same(expected.as_bytes(), signature.as_bytes())
        }
    }
}

/// V1's string to sign.
pub fn v1_string_to_sign(request: &SignedRequest) -> String {
    let mut oss_headers: Vec<(&str, &str)> = request
        .headers
        .iter()
        .filter(|(k, _)| k.starts_with("x-oss-"))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    oss_headers.sort();
    let mut text = format!(
        "{}\n{}\n{}\n{}\n",
        request.method,
        request.header("content-md5").unwrap_or_default(),
        request.header("content-type").unwrap_or_default(),
        request
            .header("x-oss-date")
            .or_else(|| request.header("date"))
            .unwrap_or_default(),
    );
    for (name, value) in oss_headers {
        text.push_str(&format!("{name}:{value}\n"));
    }
    text.push_str(&format!("/{}/{}", request.bucket, request.key));
    let mut subresources: Vec<&(String, String)> = request
        .query
        .iter()
        .filter(|(k, _)| SUBRESOURCES.contains(&k.as_str()))
        .collect();
    subresources.sort();
    for (i, (name, value)) in subresources.iter().enumerate() {
        text.push(if i == 0 { '?' } else { '&' });
        text.push_str(name);
        if !value.is_empty() {
            text.push('=');
            text.push_str(value);
        }
    }
    text
}

fn v1_signature(request: &SignedRequest, secret: &str) -> String {
    // Invariant: HMAC takes a key of any length.
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(v1_string_to_sign(request).as_bytes());
    BASE64.encode(mac.finalize().into_bytes())
}

/// V4's percent-encoding: unreserved characters stay, `/` too where `keep_slashes`.
fn v4_encode(text: &str, keep_slashes: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"_-~.".contains(&b) || (keep_slashes && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

struct Scope<'a> {
    date: &'a str,
    region: &'a str,
    product: &'a str,
}

/// V4's canonical request.
fn v4_canonical_request(request: &SignedRequest, additional: &[String]) -> String {
    let uri = v4_encode(&format!("/{}/{}", request.bucket, request.key), true);
    let mut query: Vec<(String, String)> = request
        .query
        .iter()
        .map(|(k, v)| (v4_encode(k, false), v4_encode(v, false)))
        .collect();
    query.sort();
    let query: Vec<String> = query
        .into_iter()
        .map(|(k, v)| if v.is_empty() { k } else { format!("{k}={v}") })
        .collect();
    let mut headers: Vec<(&str, &str)> = request
        .headers
        .iter()
        .filter(|(k, _)| {
            k.starts_with("x-oss-")
                || V4_SIGNED.contains(&k.as_str())
                || additional.iter().any(|a| a == k)
        })
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    headers.sort();
    let mut additional: Vec<&str> = additional
        .iter()
        .map(String::as_str)
        .filter(|h| !h.starts_with("x-oss-") && !V4_SIGNED.contains(h))
        .collect();
    additional.sort();
    let mut text = format!("{}\n{uri}\n{}\n", request.method, query.join("&"));
    for (name, value) in headers {
        text.push_str(&format!("{name}:{value}\n"));
    }
    text.push('\n');
    text.push_str(&additional.join(";"));
    text.push('\n');
    text.push_str(
        request
            .header("x-oss-content-sha256")
            .unwrap_or("UNSIGNED-PAYLOAD"),
    );
    text
}

fn hmac256(key: &[u8], data: &[u8]) -> Vec<u8> {
    // Invariant: HMAC takes a key of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn v4_signature(
    request: &SignedRequest,
    secret: &str,
    date_time: &str,
    scope: &Scope,
    additional: &[String],
) -> String {
    let canonical = v4_canonical_request(request, additional);
    let scope_text = format!(
        "{}/{}/{}/aliyun_v4_request",
        scope.date, scope.region, scope.product
    );
    let to_sign = format!(
        "OSS4-HMAC-SHA256\n{date_time}\n{scope_text}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let key = hmac256(
        format!("aliyun_v4{secret}").as_bytes(),
        scope.date.as_bytes(),
    );
    let key = hmac256(&key, scope.region.as_bytes());
    let key = hmac256(&key, scope.product.as_bytes());
    let key = hmac256(&key, b"aliyun_v4_request");
    hex::encode(hmac256(&key, to_sign.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn v1_signs_what_oss_documents() {
        // The shape of OSS's documented example (PUT /oss-example/nelson with Content-MD5,
        // Content-Type, Date and two x-oss- headers); the signature is what Python's
        // `hmac` and `base64` make of the same string and secret.
        let headers = pairs(&[
            ("content-md5", "eB5eJF1ptWaXm4bijSPyxw=="),
            ("content-type", "text/html"),
            ("date", "Thu, 17 Nov 2005 18:49:58 GMT"),
            ("x-oss-meta-author", "foo@bar.com"),
            ("x-oss-magic", "abracadabra"),
        ]);
        let request = SignedRequest {
            method: "PUT",
            query: &[],
            headers: &headers,
            bucket: "oss-example",
            key: "nelson",
        };
        assert_eq!(
            v1_string_to_sign(&request),
            "PUT\neB5eJF1ptWaXm4bijSPyxw==\ntext/html\nThu, 17 Nov 2005 18:49:58 GMT\n\
             x-oss-magic:abracadabra\nx-oss-meta-author:foo@bar.com\n/oss-example/nelson"
        );
        assert_eq!(
            v1_signature(&request, "OtxrzxIsfpFjA7SwPzILwy8Bw21TLhquhboDYROV"),
            "hD208RWMpg77svXkQRwWXS+V5KQ="
        );
    }

    #[test]
    fn v1_signs_sub_resources_sorted_and_nothing_else() {
        let query = pairs(&[("uploadId", "abc"), ("partNumber", "2"), ("other", "x")]);
        let request = SignedRequest {
            method: "PUT",
            query: &query,
            headers: &[],
            bucket: "b",
            key: "a/b.jpg",
        };
        assert!(v1_string_to_sign(&request).ends_with("/b/a/b.jpg?partNumber=2&uploadId=abc"));
        let query = pairs(&[("uploads", "")]);
        let request = SignedRequest {
            query: &query,
            ..request
        };
        assert!(v1_string_to_sign(&request).ends_with("/b/a/b.jpg?uploads"));
    }

    #[test]
    fn authorizations_are_read() {
        assert_eq!(
            parse("OSS STS.abc:c2lnbg==").unwrap(),
            Authorization::V1 {
                access_key_id: "STS.abc".into(),
                signature: "c2lnbg==".into()
            }
        );
        let v4 = parse(
            "OSS4-HMAC-SHA256 Credential=STS.abc/20261205/us-east-1/oss/aliyun_v4_request, \
             AdditionalHeaders=host, Signature=ff00",
        )
        .unwrap();
        assert_eq!(v4.access_key_id(), "STS.abc");
        let Authorization::V4 {
            region,
            additional_headers,
            ..
        } = v4
        else {
            panic!("V4");
        };
        assert_eq!(region, "us-east-1");
        assert_eq!(additional_headers, ["host"]);
        for bad in [
            "",
            "Bearer x",
            "OSS nocolon",
            "OSS4-HMAC-SHA256 Credential=a/b/c, Signature=x",
            "OSS4-HMAC-SHA256 Signature=x",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn v4_encoding_keeps_slashes_only_in_the_path() {
        assert_eq!(v4_encode("/b/a b/c+d~", true), "/b/a%20b/c%2Bd~");
        assert_eq!(v4_encode("a/b", false), "a%2Fb");
    }
}
