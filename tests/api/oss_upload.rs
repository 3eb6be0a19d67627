//! VOD's documented upload with the official OSS SDK (`oss2`, in `.venv`), unchanged, on
//! both backends: `put_object_from_file` (signatures V1 and V4, path-style and CNAME mode)
//! and `resumable_upload` in parts land byte for byte and the image becomes `Normal`; every refusal the credential
//! must give is OSS's error, and nothing it refuses is kept.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use folio_shared::Operation;
use folio_shared::oss::credential::{Grant, Issuer};
use folio_shared::oss::signature::{SignedRequest, v1_string_to_sign};
use hmac::{Hmac, Mac};
use image::{ImageEncoder, RgbImage};
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::harness::{ALICE, ALICE_ACCESS_KEY_ID, ALICE_ACCESS_KEY_SECRET, Stack, jpeg};
use crate::on_both_backends;

/// The upload cap of these stacks: above the large JPEG, below the file that is too large.
const CAP: u64 = 1_500_000;

/// A JPEG of noise: several 100 KB parts' worth that still decodes.
fn noisy_jpeg() -> Vec<u8> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let pixels = RgbImage::from_fn(500, 400, |_, _| image::Rgb(rng.random()));
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .write_image(&pixels, 500, 400, image::ExtendedColorType::Rgb8)
        .expect("encoded");
    out
}

fn temporary(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("folio-oss-{}-{name}", uuid::Uuid::new_v4()));
    std::fs::write(&path, bytes).expect("written");
    path
}

fn code(seen: &Value, case: &str) -> (u64, String) {
    let pair = &seen[case];
    (
        pair[0].as_u64().unwrap_or_default(),
        pair[1].as_str().unwrap_or_default().to_string(),
    )
}

on_both_backends! {
async fn vods_documented_upload_works_with_the_oss_sdk_and_refuses_what_it_must(home) {
    let stack = Stack::at(home, vec![("FOLIO_MAX_UPLOAD_BYTES", CAP.to_string())]).await;
    let small = jpeg(120, 80);
    let large = noisy_jpeg();
    assert!(
        large.len() > 300_000 && (large.len() as u64) < CAP,
        "{} bytes",
        large.len()
    );
    let too_large = vec![0x5a; CAP as usize + 300_000];
    let files = [
        temporary("small.jpg", &small),
        temporary("large.jpg", &large),
        temporary("too-large.bin", &too_large),
    ];
    let config = &stack.running.app.config;
    let expired = Issuer::new(&config.webhook_secret).issue(&Grant {
        bucket: config.upload_buckets[0].clone(),
        key: "images/someone/img-expired.jpg".into(),
        tenant_key: "someone".into(),
        image_id: "img-expired".into(),
        expires: chrono::Utc::now().timestamp() - 10,
        max_bytes: CAP,
    });
    let expired = json!({
        "AccessKeyId": expired.access_key_id,
        "AccessKeySecret": expired.access_key_secret,
        "SecurityToken": expired.security_token,
        "FileName": "images/someone/img-expired.jpg",
    });
    let endpoint = stack.base.trim_start_matches("http://").to_string();
    let output = tokio::process::Command::new(crate::vendor_sdks::python())
        .arg(crate::harness::crate_dir().join("sdk/oss_upload.py"))
        .env("FOLIO_ENDPOINT", &endpoint)
        .env("FOLIO_ACCESS_KEY_ID", ALICE_ACCESS_KEY_ID)
        .env("FOLIO_ACCESS_KEY_SECRET", ALICE_ACCESS_KEY_SECRET)
        .env("FOLIO_SMALL_JPEG", &files[0])
        .env("FOLIO_LARGE_JPEG", &files[1])
        .env("FOLIO_TOO_LARGE_FILE", &files[2])
        .env("FOLIO_EXPIRED_AUTH", expired.to_string())
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), output)
        .await
        .expect("the SDK script ends within two minutes")
        .expect("the SDK script runs");
    for file in &files {
        let _ = std::fs::remove_file(file);
    }
    let seen = crate::vendor_sdks::report(&output);
    println!("the SDK saw: {seen}");

    // What the SDK wrote is there byte for byte, and was processed.
    let bucket = seen["put"]["bucket"].as_str().expect("a bucket");
    assert_eq!(seen["put"]["size"], json!([120, 80]), "{seen}");
    for (case, bytes) in [
        ("put", &small),
        ("v4", &small),
        ("cname", &small),
        ("resumable", &large),
    ] {
        let key = seen[case]["key"].as_str().expect("a key");
        let stored = stack.object(bucket, key).await;
        assert!(stored.as_ref() == Some(bytes), "{case}: {key} differs");
    }
    assert_eq!(seen["resumable"]["bytes"], json!(large.len()));
    // No part outlives its upload's object, nor an image deleted before its upload ended.
    let waiting = stack.keys_in(bucket, "multipart/").await;
    for (case, what) in [
        ("resumable", "a completed upload"),
        ("put", "an object written whole"),
    ] {
        let id = seen[case]["image_id"].as_str().expect("an image id");
        let left: Vec<&String> = waiting.iter().filter(|k| k.contains(id)).collect();
        assert!(left.is_empty(), "parts of {what} stayed: {left:?}");
    }
    let deleted = seen["deleted_with_parts"].as_str().expect("an image id");
    assert!(
        !waiting.iter().any(|k| k.contains(deleted)),
        "parts of a deleted image stayed: {waiting:?}"
    );

    // Refusals, each OSS's error; a refused upload keeps nothing and changes no record.
    let expected = [
        ("twice", 409, "FileAlreadyExists"),
        ("read", 403, "AccessDenied"),
        ("list", 403, "AccessDenied"),
        ("other_key", 403, "AccessDenied"),
        ("bad_md5", 400, "InvalidDigest"),
        ("no_token", 403, "InvalidAccessKeyId"),
        ("wrong_secret", 403, "SignatureDoesNotMatch"),
        ("expired", 403, "SecurityTokenExpired"),
        ("too_large", 400, "EntityTooLarge"),
        ("too_large_parts", 400, "EntityTooLarge"),
        ("ninth_upload", 400, "TooManyUploads"),
        ("aborted_parts", 404, "NoSuchUpload"),
    ];
    for (case, status, error) in expected {
        assert_eq!(code(&seen, case), (status, error.to_string()), "{case}: {seen}");
    }
    assert_eq!(seen["after_twice"], "Normal");
    assert_eq!(seen["after_bad_md5"], "Uploading");
    assert_eq!(seen["after_too_large"], "Uploading");
    let refused_key = seen["refusals"]["key"].as_str().expect("a key");
    assert_eq!(stack.object(bucket, refused_key).await, None, "a refused upload was kept");
    stack.stop().await;
}
}

/// A `PUT` of `bytes` to the object `UploadAuth`/`UploadAddress` name, signed as the OSS
/// SDKs sign V1, as API Gateway hands it to a function.
fn signed_put(auth: &Value, address: &Value, bytes: &[u8]) -> lambda_http::Request {
    let bucket = address["Bucket"].as_str().expect("Bucket");
    let key = address["FileName"].as_str().expect("FileName");
    let headers = vec![
        ("content-type".to_string(), "image/jpeg".to_string()),
        (
            "date".to_string(),
            chrono::Utc::now()
                .format("%a, %d %b %Y %H:%M:%S GMT")
                .to_string(),
        ),
        (
            "x-oss-security-token".to_string(),
            auth["SecurityToken"]
                .as_str()
                .expect("SecurityToken")
                .to_string(),
        ),
    ];
    let to_sign = v1_string_to_sign(&SignedRequest {
        method: "PUT",
        query: &[],
        headers: &headers,
        bucket,
        key,
    });
    let secret = auth["AccessKeySecret"].as_str().expect("AccessKeySecret");
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).expect("any key");
    mac.update(to_sign.as_bytes());
    let signature = BASE64.encode(mac.finalize().into_bytes());
    let mut request = http::Request::builder()
        .method("PUT")
        .uri(format!("https://uploads.example.com/{bucket}/{key}"))
        .header(
            "authorization",
            format!(
                "OSS {}:{signature}",
                auth["AccessKeyId"].as_str().expect("AccessKeyId")
            ),
        );
    for (name, value) in &headers {
        request = request.header(name, value);
    }
    request
        .body(lambda_http::Body::Binary(bytes.to_vec()))
        .expect("a request")
}

fn decoded(answer: &Value, field: &str) -> Value {
    let bytes = BASE64
        .decode(answer[field].as_str().expect("a Base64 field"))
        .expect("Base64");
    serde_json::from_slice(&bytes).expect("JSON")
}

/// In AWS the `rpc` function serves the OSS endpoint on the keys API: an upload through it
/// lands and is processed, a second one is refused in OSS's XML, and a function serving
/// only some operations does not take OSS requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rpc_function_serves_the_oss_endpoint() {
    let stack = Stack::start().await;
    let app = stack.running.app.clone();
    let created = stack
        .post(
            ALICE,
            "CreateUploadImage",
            json!({"ImageType": "default", "ImageExt": "jpg"}),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let (auth, address) = (
        decoded(&created.body, "UploadAuth"),
        decoded(&created.body, "UploadAddress"),
    );
    let image_id = created.body["ImageId"].as_str().expect("an ImageId");
    let bytes = jpeg(90, 60);

    let elsewhere = folio_shared::edge::handle_routed(
        &app,
        &[Operation::GetTask],
        signed_put(&auth, &address, &bytes),
    )
    .await;
    // Another function checks for its own credentials first: the OSS signature is none.
    assert_eq!(elsewhere.status(), 401, "only the rpc function serves OSS");

    let put = folio_shared::edge::handle_keys_api(&app, signed_put(&auth, &address, &bytes)).await;
    let body = String::from_utf8_lossy(put.body().as_ref()).into_owned();
    assert_eq!(put.status(), 200, "{body}");
    assert!(put.headers().contains_key("x-oss-request-id"));
    let info = stack.wait_processed(ALICE, image_id).await;
    assert_eq!(info["Status"], "Normal", "{info}");
    assert_eq!(info["Mezzanine"]["Width"], 90, "{info}");

    let again =
        folio_shared::edge::handle_keys_api(&app, signed_put(&auth, &address, &jpeg(10, 10))).await;
    let body = String::from_utf8_lossy(again.body().as_ref()).into_owned();
    assert_eq!(again.status(), 409, "{body}");
    assert!(body.contains("<Code>FileAlreadyExists</Code>"), "{body}");
    let stored = stack
        .object(
            address["Bucket"].as_str().unwrap(),
            address["FileName"].as_str().unwrap(),
        )
        .await;
    assert!(stored == Some(bytes), "the first upload was replaced");
    stack.stop().await;
}
