//! online-convert's official Python SDK (`api2convert`, installed into `.venv` by `make
//! test`) against the local gateway's `/v2`: convert with an upload, a remote URL, a cloud
//! S3 input, an S3 output target, an async job with a verified callback, listing, cancel,
//! the errors it maps, and its cloud helpers with GCS, Azure and FTPS. This side checks
//! what the jobs left in the stack.

use std::time::Duration;

use serde_json::Value;

use crate::harness::{ALICE, Stack, alice_webhook_secret, jpeg, serve_file};
use crate::on_both_backends;

on_both_backends! {
async fn the_api2convert_sdk_works_unchanged(home) {
    let stack = Stack::at(home, crate::storage::config()).await;
    let s3 = folio_shared::aws::s3_client(&stack.sdk);
    let bucket = stack
        .s3_bucket_with("a2c-", &[("in/photo.jpg", jpeg(200, 100))])
        .await;
    let photo = std::env::temp_dir().join(format!("folio-a2c-{}.jpg", uuid::Uuid::new_v4()));
    std::fs::write(&photo, jpeg(1600, 1200)).unwrap();
    let remote = format!(
        "{}/pictures/remote.jpg",
        serve_file("127.0.0.1", jpeg(64, 64)).await
    );

    let python = crate::harness::crate_dir().join("../.venv/bin/python");
    assert!(python.exists(), "`make test` installs the SDK into .venv");
    let output = tokio::process::Command::new(python)
        .arg(crate::harness::crate_dir().join("sdk/api2convert_sdk.py"))
        .env("FOLIO_V2_BASE", format!("{}/v2", stack.base))
        .env("FOLIO_API_KEY", ALICE)
        .env("FOLIO_WEBHOOK_SECRET", alice_webhook_secret())
        .env("FOLIO_JPEG", &photo)
        .env("FOLIO_REMOTE_URL", &remote)
        .env("FOLIO_BUCKET", &bucket)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(240), output)
        .await
        .expect("the SDK script ends within four minutes")
        .expect("the SDK script runs");
    let seen = crate::vendor_sdks::report(&output);

    // The WebP is 800 wide (aspect kept), named after the upload.
    let file = seen["convert"]["file"].as_str().unwrap();
    let webp = image::open(file).expect("a WebP the image crate reads");
    assert_eq!((webp.width(), webp.height()), (800, 600));
    assert!(seen["convert"]["name"].as_str().unwrap().ends_with(".webp"));
    // Options come back in full: the ones given, the rest null or at their default.
    let options = &seen["convert"]["options"];
    assert_eq!(options["width"], 800);
    assert_eq!(options["height"], Value::Null);
    assert_eq!(options["color"], "colored");
    // The output target got the PNG; nothing else was asked of the bucket.
    let stem = photo.file_stem().unwrap().to_str().unwrap();
    let delivered = s3
        .get_object()
        .bucket(&bucket)
        .key(format!("out/{stem}.png"))
        .send()
        .await
        .expect("the output target's object");
    let delivered = delivered.body.collect().await.unwrap().to_vec();
    assert!(delivered.starts_with(b"\x89PNG"));
    // The callbacks: the statuses in order, one each, ending completed.
    let codes: Vec<&str> = seen["callbacks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(codes.last(), Some(&"completed"), "{codes:?}");
    let mut sorted = codes.clone();
    sorted.dedup();
    assert_eq!(sorted, codes, "one callback per status: {codes:?}");
    assert!(seen["401"].as_str().unwrap().contains("Invalid api key"));
    assert!(seen["402"].as_str().unwrap().contains("max_inputs"));
    // The SDK's CloudInput and OutputTarget with Google Cloud Storage, Azure and FTPS.
    assert_eq!(
        seen["storage"],
        serde_json::json!({"googlecloud": "completed", "azure": "completed", "ftp": "completed"})
    );

    // The cloud job's credentials are nowhere in what the API shows.
    let job = stack
        .http
        .get(format!(
            "{}/v2/jobs/{}",
            stack.base,
            seen["cloud"].as_str().unwrap()
        ))
        .header("X-Oc-Api-Key", ALICE)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let secret = std::env::var("AWS_SECRET_ACCESS_KEY").unwrap();
    assert!(job.contains("\"credentials\":[]"), "{job}");
    assert!(!job.contains(&format!("\"{secret}\"")), "{job}");
    stack.stop().await;
}
}
