//! VOD's documented upload with the official OSS SDK (`oss2`, in `.venv`), unchanged, on
//! both backends: `put_object_from_file` (signatures V1 and V4) and `resumable_upload` in
//! parts land byte for byte and the image becomes `Normal`; every refusal the credential
//! must give is OSS's error, and nothing it refuses is kept.

use std::time::Duration;

use folio_shared::oss::credential::{Grant, Issuer};
use image::{ImageEncoder, RgbImage};
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::harness::{ALICE_ACCESS_KEY_ID, ALICE_ACCESS_KEY_SECRET, Stack, jpeg};
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
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let seen: Value = serde_json::from_str(stdout.trim()).expect("the script prints JSON");
    println!("the SDK saw: {seen}");

    // What the SDK wrote is there byte for byte, and was processed.
    let bucket = seen["put"]["bucket"].as_str().expect("a bucket");
    assert_eq!(seen["put"]["size"], json!([120, 80]), "{seen}");
    for (case, bytes) in [("put", &small), ("v4", &small), ("resumable", &large)] {
        let key = seen[case]["key"].as_str().expect("a key");
        let stored = stack.object(bucket, key).await;
        assert!(stored.as_ref() == Some(bytes), "{case}: {key} differs");
    }
    assert_eq!(seen["resumable"]["bytes"], json!(large.len()));
    let resumable = seen["resumable"]["image_id"].as_str().expect("an image id");
    let left: Vec<String> = stack
        .keys_in(bucket, "multipart/")
        .await
        .into_iter()
        .filter(|k| k.contains(resumable))
        .collect();
    assert!(left.is_empty(), "parts of a completed upload stayed: {left:?}");

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
