//! A fuzz of every route family with hostile values: the RPC operations (JSON bodies and
//! query strings), signed RPC (both signature styles, with hostile credentials), `/v2` (ids,
//! numbers, bodies, paths), batches (hostile `Input`, `Actions`, `Notification`) and the
//! upload and download routes, the OSS upload endpoint (hostile credentials, and
//! correctly signed requests with hostile upload ids, part numbers and bodies), and the console
//! (hostile paths and forms, with a real session or a forged cookie). Every answer must be under 500, a refusal at most 4 KB, and
//! every request answered within 2 s. One fixed seed and one random seed (printed, and
//! named in any failure; `FOLIO_FUZZ_SEED` replays one).

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::harness::{ALICE, BOB, Home, Stack};
use crate::on_both_backends;

const FIXED_SEED: u64 = 20_261_205;
const MAX_REFUSAL: usize = 4096;
const MAX_TIME: Duration = Duration::from_secs(2);

const FIELDS: &[&str] = &[
    "ProjectName",
    "ServiceRole",
    "TaskId",
    "Id",
    "ImageIds",
    "ImageId",
    "Title",
    "Tags",
    "Sources",
    "TargetURI",
    "Input",
    "Actions",
    "Notification",
    "NextToken",
    "MaxResults",
    "Order",
    "Sort",
    "UserData",
    "ImageType",
    "ImageExt",
    "UpdateContent",
    "DeleteImageType",
    "ImageURLs",
    "AuthTimeout",
    "OutputType",
    "TaskType",
    "Status",
    "Description",
    "CateId",
    "StorageLocation",
    "AppId",
    "TagSelector",
    "RequestDefinition",
];

const V2_FIELDS: &[&str] = &[
    "conversion",
    "input",
    "process",
    "callback",
    "limits",
    "notify_status",
    "fail_on_input_error",
    "download_passwords",
    "target",
    "options",
    "source",
    "type",
];

fn hostile_string(rng: &mut StdRng) -> String {
    match rng.random_range(0..12) {
        0 => "a".repeat(rng.random_range(0..20_000)),
        1 => "../".repeat(rng.random_range(1..200)) + "etc/passwd",
        2 => "\u{0}\u{202e}\u{1f4a9}\u{feff}ℌ".repeat(rng.random_range(1..500)),
        3 => [
            "9223372036854775809",
            "-1",
            "1e999",
            "NaN",
            "0x10",
            "18446744073709551616",
        ][rng.random_range(0..6)]
        .to_string(),
        4 => String::new(),
        5 => format!(
            "s3://{}/{}",
            "b".repeat(rng.random_range(1..300)),
            "k".repeat(rng.random_range(0..3000))
        ),
        6 => format!(
            "http://169.254.169.254/{}",
            "x".repeat(rng.random_range(0..100))
        ),
        7 => "*".repeat(rng.random_range(1..5000)),
        8 => "{\"a\":".repeat(rng.random_range(1..300)),
        9 => uuid::Uuid::new_v4().to_string(),
        10 => "%00%2e%2e%2f".repeat(rng.random_range(1..100)),
        _ => (0..rng.random_range(1..200))
            .map(|_| char::from_u32(rng.random_range(0..0x11_0000)).unwrap_or('?'))
            .collect(),
    }
}

fn hostile_value(rng: &mut StdRng, depth: u32) -> Value {
    match rng.random_range(0..9) {
        0 | 1 => Value::String(hostile_string(rng)),
        2 => json!(rng.random::<i64>()),
        3 => json!(rng.random::<f64>() * 1e300),
        4 => Value::Bool(rng.random()),
        5 => Value::Null,
        6 => Value::Array(vec![json!(1); rng.random_range(0..60_000)]),
        7 if depth < 3 => Value::Array(
            (0..rng.random_range(0..6))
                .map(|_| hostile_value(rng, depth + 1))
                .collect(),
        ),
        _ if depth < 3 => {
            let mut map = Map::new();
            for _ in 0..rng.random_range(0..6) {
                let key = if rng.random_bool(0.7) {
                    [
                        "OSS",
                        "Bucket",
                        "Prefix",
                        "MatchExpressions",
                        "Name",
                        "Parameters",
                        "Webhook",
                        "URL",
                        "URI",
                        "target",
                        "options",
                    ][rng.random_range(0..11)]
                    .to_string()
                } else {
                    hostile_string(rng)
                };
                map.insert(key, hostile_value(rng, depth + 1));
            }
            Value::Object(map)
        }
        _ => {
            // Deeper than any parser's recursion limit.
            let n = rng.random_range(100..400);
            serde_json::from_str(&format!(
                "{}{}",
                "[".repeat(n.min(120)),
                "]".repeat(n.min(120))
            ))
            .unwrap_or(Value::Null)
        }
    }
}

fn encoded(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// A header value from hostile text: visible ASCII only, as HTTP allows.
fn header_text(rng: &mut StdRng) -> String {
    hostile_string(rng)
        .chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(8_000)
        .collect()
}

fn rpc_body(rng: &mut StdRng) -> Value {
    let mut map = Map::new();
    for _ in 0..rng.random_range(0..8) {
        let field = FIELDS[rng.random_range(0..FIELDS.len())];
        map.insert(field.to_string(), hostile_value(rng, 0));
    }
    Value::Object(map)
}

/// One hostile request: method, path and query, headers, body.
fn request(rng: &mut StdRng, stack: &Stack) -> reqwest::RequestBuilder {
    let ops = folio_shared::Operation::ALL;
    let op = ops[rng.random_range(0..ops.len())].name();
    let key = if rng.random_bool(0.5) { ALICE } else { BOB };
    let base = &stack.base;
    let http = &stack.http;
    match rng.random_range(0..12) {
        // RPC with a JSON body.
        0 | 1 => http.post(format!("{base}/{op}")).bearer_auth(key).json(&rpc_body(rng)),
        // RPC with a query string.
        2 => {
            let field = FIELDS[rng.random_range(0..FIELDS.len())];
            let value = encoded(&hostile_string(rng));
            http.get(format!("{base}/{op}?{field}={value}")).bearer_auth(key)
        }
        // Signed RPC, ACS3 style, with hostile credentials.
        3 => {
            let credential = header_text(rng);
            http.post(format!("{base}/"))
                .header("x-acs-action", op)
                .header("x-acs-date", header_text(rng))
                .header("x-acs-signature-nonce", header_text(rng))
                .header("x-acs-content-sha256", header_text(rng))
                .header(
                    "authorization",
                    format!("ACS3-HMAC-SHA256 Credential={credential},SignedHeaders=host;x-acs-date,Signature=00"),
                )
                .body(rpc_body(rng).to_string())
        }
        // Signed RPC, query style.
        4 => http.get(format!(
            "{base}/?Action={op}&Signature={}&AccessKeyId={}&SignatureNonce={}&Timestamp={}&SignatureMethod=HMAC-SHA1&SignatureVersion=1.0",
            encoded(&hostile_string(rng)),
            encoded(&hostile_string(rng)),
            encoded(&hostile_string(rng)),
            encoded(&hostile_string(rng)),
        )),
        // `/v2` paths, ids and numbers.
        5 => {
            let id = encoded(&hostile_string(rng));
            let path = match rng.random_range(0..6) {
                0 => format!("/v2/jobs/{id}"),
                1 => format!("/v2/jobs?page={id}&status={}", encoded(&hostile_string(rng))),
                2 => format!("/v2/conversions?target={id}&page={}", encoded(&hostile_string(rng))),
                3 => format!("/v2/dl/{id}/download-file/{}", encoded(&hostile_string(rng))),
                4 => format!("/v2/jobs/{}/input/{id}", uuid::Uuid::new_v4()),
                _ => format!("/v2/{id}"),
            };
            let method = [Method::GET, Method::DELETE, Method::PATCH, Method::HEAD][rng.random_range(0..4)].clone();
            http.request(method, format!("{base}{path}")).header("X-Oc-Api-Key", key)
        }
        // `/v2` bodies.
        6 | 7 => {
            let mut map = Map::new();
            for _ in 0..rng.random_range(0..6) {
                let field = V2_FIELDS[rng.random_range(0..V2_FIELDS.len())];
                map.insert(field.to_string(), hostile_value(rng, 0));
            }
            let body = if rng.random_bool(0.1) {
                hostile_string(rng)
            } else {
                Value::Object(map).to_string()
            };
            http.post(format!("{base}/v2/jobs"))
                .header("X-Oc-Api-Key", key)
                .header("X-Forwarded-Host", header_text(rng))
                .header("content-type", "application/json")
                .body(body)
        }
        // Uploads to `/v2` with hostile tokens and ranges.
        8 => {
            let job = uuid::Uuid::new_v4();
            http.post(format!("{base}/v2/dl/{job}/upload-file/{job}"))
                .header("X-Oc-Token", header_text(rng))
                .header("Content-Range", header_text(rng))
                .body(hostile_string(rng))
        }
        // The OSS upload endpoint.
        9 => oss_request(rng, stack),
        // The console: hostile paths and forms, with a real session or a forged one.
        10 => console_request(rng, stack),
        // The signed file routes.
        _ => {
            let path = format!(
                "{base}/files/{}/{}?expires={}&signature={}",
                encoded(&hostile_string(rng)),
                encoded(&hostile_string(rng)),
                encoded(&hostile_string(rng)),
                encoded(&hostile_string(rng))
            );
            if rng.random_bool(0.5) {
                http.put(path).body(hostile_string(rng))
            } else {
                http.get(path).header("Range", header_text(rng))
            }
        }
    }
}

/// A console request: a page or a form with hostile ids and fields, signed in as Alice (with
/// the session's CSRF token or a hostile one) or with a hostile cookie.
fn console_request(rng: &mut StdRng, stack: &Stack) -> reqwest::RequestBuilder {
    use folio_shared::console::session::{COOKIE, Sessions};
    let sessions = Sessions::new(&stack.running.app.config.webhook_secret);
    let tenant = folio_shared::tenant::Tenant::new("tenant-alice").expect("a tenant");
    let (session, cookie) = sessions.start(tenant, chrono::Utc::now().timestamp());
    let h = |rng: &mut StdRng| {
        encoded(&hostile_string(rng))
            .chars()
            .take(300)
            .collect::<String>()
    };
    let path = match rng.random_range(0..9) {
        0 => "/console".to_string(),
        1 => format!("/console/jobs/{}", h(rng)),
        2 => format!("/console/images/{}", h(rng)),
        3 => format!("/console/projects/{}", h(rng)),
        4 => format!("/console/projects/{}/tasks/{}", h(rng), h(rng)),
        5 => format!("/console/projects/{}/batches/{}/suspend", h(rng), h(rng)),
        6 => "/console/replay".to_string(),
        7 => "/console/sign-in".to_string(),
        _ => format!("/console/{}", h(rng)),
    };
    let cookie = if rng.random_bool(0.7) {
        cookie
    } else {
        header_text(rng)
    };
    let mut form = vec![(
        "csrf",
        if rng.random_bool(0.5) {
            sessions.csrf_token(&session)
        } else {
            hostile_string(rng)
        },
    )];
    for field in [
        "key",
        "subject_type",
        "subject_id",
        "event_id",
        "target",
        "back",
    ] {
        if rng.random_bool(0.5) {
            form.push((field, hostile_string(rng)));
        }
    }
    let url = format!("{}{path}", stack.base);
    let request = if rng.random_bool(0.5) {
        stack.http.get(url)
    } else {
        stack.http.post(url).form(&form)
    };
    request.header("cookie", format!("{COOKIE}={cookie}"))
}

/// A request to the OSS endpoint: hostile credentials, or a credential Folio issued (for an
/// image no one has) and a correct V1 signature over hostile sub-resources and bodies.
fn oss_request(rng: &mut StdRng, stack: &Stack) -> reqwest::RequestBuilder {
    use base64::Engine;
    use hmac::Mac;
    let config = &stack.running.app.config;
    let bucket = &config.upload_buckets[0];
    let key = "images/fuzz/img-fuzz.jpg";
    let method =
        [Method::PUT, Method::POST, Method::GET, Method::DELETE][rng.random_range(0..4)].clone();
    let query = match rng.random_range(0..4) {
        0 => String::new(),
        1 => "uploads".to_string(),
        2 => format!(
            "uploadId={}&partNumber={}",
            encoded(&hostile_string(rng)),
            encoded(&hostile_string(rng))
        ),
        _ => format!("uploadId={}", encoded(&hostile_string(rng))),
    };
    let url = format!("{}/{bucket}/{key}?{query}", stack.base);
    let body = hostile_string(rng);
    if rng.random_bool(0.4) {
        return stack
            .http
            .request(method, url)
            .header(
                "authorization",
                format!("OSS {}:{}", header_text(rng), header_text(rng)),
            )
            .header("x-oss-security-token", header_text(rng))
            .header("date", header_text(rng))
            .body(body);
    }
    let credentials = folio_shared::oss::credential::Issuer::new(&config.webhook_secret).issue(
        &folio_shared::oss::credential::Grant {
            bucket: bucket.clone(),
            key: key.into(),
            tenant_key: "fuzz".into(),
            image_id: "img-fuzz".into(),
            expires: chrono::Utc::now().timestamp() + 600,
            max_bytes: 1 << 20,
        },
    );
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let headers = vec![
        ("content-type".to_string(), "application/xml".to_string()),
        (
            "date".to_string(),
            chrono::Utc::now()
                .format("%a, %d %b %Y %H:%M:%S GMT")
                .to_string(),
        ),
        (
            "x-oss-security-token".to_string(),
            credentials.security_token.clone(),
        ),
    ];
    let to_sign = folio_shared::oss::signature::v1_string_to_sign(
        &folio_shared::oss::signature::SignedRequest {
            method: method.as_str(),
            query: &pairs,
            headers: &headers,
            bucket,
            key,
        },
    );
    let mut mac =
        hmac::Hmac::<sha1::Sha1>::new_from_slice(credentials.access_key_secret.as_bytes())
            .expect("any key");
    mac.update(to_sign.as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let mut request = stack.http.request(method, url).header(
        "authorization",
        format!("OSS {}:{signature}", credentials.access_key_id),
    );
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let body = if rng.random_bool(0.5) {
        format!(
            "<CompleteMultipartUpload><Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part></CompleteMultipartUpload>",
            hostile_string(rng),
            hostile_string(rng)
        )
    } else {
        body
    };
    request.body(body)
}

async fn fuzz(stack: &Stack, seed: u64, count: usize) -> Vec<String> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut failures = Vec::new();
    for n in 0..count {
        let request = request(&mut rng, stack)
            .build()
            .expect("a request reqwest can send");
        let (method, url) = (request.method().clone(), request.url().to_string());
        let shown: String = url.chars().take(160).collect();
        let started = Instant::now();
        let answer = stack.http.execute(request).await;
        let took = started.elapsed();
        let Ok(answer) = answer else {
            failures.push(format!("seed {seed} #{n}: {method} {shown}: no answer"));
            continue;
        };
        let status = answer.status().as_u16();
        let body = answer.bytes().await.unwrap_or_default();
        let text: String = String::from_utf8_lossy(&body).chars().take(300).collect();
        if status >= 500 {
            failures.push(format!(
                "seed {seed} #{n}: {method} {shown}: {status} {text}"
            ));
        } else if status >= 400 && body.len() > MAX_REFUSAL {
            failures.push(format!(
                "seed {seed} #{n}: {method} {shown}: a {status} of {} bytes: {text}",
                body.len()
            ));
        }
        if took > MAX_TIME {
            failures.push(format!(
                "seed {seed} #{n}: {method} {shown}: answered in {took:?}"
            ));
        }
    }
    failures
}

on_both_backends! {
async fn hostile_requests_get_small_4xx_answers_quickly(home) {
    let stack = Stack::at(home, Vec::new()).await;
    let count = match home {
        Home::OneMachine => 700,
        Home::Aws => 250,
    };
    let random = std::env::var("FOLIO_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random::<u64>);
    eprintln!("fuzz seeds: {FIXED_SEED} and {random} (FOLIO_FUZZ_SEED={random} replays the second)");
    let mut failures = fuzz(&stack, FIXED_SEED, count).await;
    failures.extend(fuzz(&stack, random, count).await);
    stack.stop().await;
    assert!(
        failures.is_empty(),
        "{} of {} hostile requests failed (seeds {FIXED_SEED}, {random}):\n{}",
        failures.len(),
        2 * count,
        failures.iter().take(25).cloned().collect::<Vec<_>>().join("\n")
    );
}
}
