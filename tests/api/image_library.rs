//! The image library end to end: upload, probe, info, download, update, delete.

use folio_shared::image::uploaded::{CreatedObject, UploadWorker};
use serde_json::{Value, json};

use crate::harness::{
    ALICE, Home, Stack, callback_to, jpeg, png, signature_is_valid, url_lifetime,
};
use crate::on_both_backends;
use crate::receiver::Receiver;

on_both_backends! {
async fn upload_probe_download_and_a_signed_webhook(home) {
    let stack = Stack::at(home, Vec::new()).await;
    let hook = Receiver::start(&[]).await;
    let user_data = json!({
        "MessageCallback": {"CallbackURL": hook.url},
        "Extend": {"localId": "42"},
    });
    let (created, upload_url) = stack
        .create_upload(
            ALICE,
            json!({"ImageType": "default", "ImageExt": "jpg", "Title": "Sunset", "Tags": "sea, sky",
                   "CateId": 7, "UserData": user_data.to_string()}),
        )
        .await;
    let id = created["ImageId"].as_str().unwrap().to_string();
    assert!(folio_shared::image::model::is_image_id(&id), "{id}");
    assert!(
        created["FileURL"]
            .as_str()
            .unwrap()
            .ends_with(&format!("{id}.jpg"))
    );
    // The credential names one object and expires after 3000 s.
    assert!(upload_url.contains(&format!("{id}.jpg?")), "{upload_url}");
    assert!((2995..=3000).contains(&url_lifetime(&upload_url)), "{upload_url}");

    let uploading = stack.info(ALICE, &id).await;
    assert_eq!(uploading.body["ImageInfo"][0]["Status"], "Uploading");

    let photo = jpeg(640, 480);
    stack.put(&upload_url, photo.clone()).await;
    let info = stack.wait_processed(ALICE, &id).await;
    assert_eq!(info["Status"], "Normal", "{info}");
    assert_eq!(info["Mezzanine"]["Width"], 640);
    assert_eq!(info["Mezzanine"]["Height"], 480);
    assert_eq!(info["Mezzanine"]["FileSize"], photo.len().to_string());
    assert_eq!(info["Title"], "Sunset");
    assert_eq!(info["Tags"], "sea,sky");
    assert_eq!(info["CateId"], 7);
    assert_eq!(info["ImageType"], "default");
    assert_eq!(info["AppId"], "app-1000000");

    let url = info["URL"].as_str().unwrap();
    assert!(
        (3595..=3600).contains(&url_lifetime(url)),
        "the default AuthTimeout: {url}"
    );
    let downloaded = stack
        .http
        .get(url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(downloaded.as_ref(), photo.as_slice());

    let secret = stack.get(ALICE, "GetWebhookSecret", &[]).await;
    let secret = secret.body["WebhookSecret"].as_str().unwrap().to_string();
    let got = hook.wait_for(1, 20).await;
    let request = &got[0];
    assert!(
        signature_is_valid(&secret, request.header("folio-signature"), &request.body),
        "bad signature {:?}",
        request.header("folio-signature")
    );
    assert!(!request.header("folio-event-id").is_empty());
    let event = request.json();
    assert_eq!(event["EventType"], "ImageUploadComplete");
    assert_eq!(event["ImageId"], id.as_str());
    assert_eq!(event["Status"], "success");
    assert_eq!(event["Size"], photo.len());
    assert_eq!(event["Extend"]["localId"], "42");

    // Webhook, SNS and EventBridge deliveries, each recorded once (on one machine no topic
    // or bus is configured: the webhook alone).
    let expected = match home {
        Home::Aws => vec!["eventbridge", "sns", "webhook"],
        Home::OneMachine => vec!["webhook"],
    };
    let mut attempts = Vec::new();
    for _ in 0..50 {
        attempts = stack.attempts("tenant-alice", &id).await;
        if attempts.len() >= expected.len() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let mut targets: Vec<&str> = attempts
        .iter()
        .map(|a| a["Target"].as_str().unwrap())
        .collect();
    targets.sort();
    assert_eq!(
        targets,
        expected,
        "{attempts:?}"
    );
    assert!(
        attempts.iter().all(|a| a["Outcome"] == "Delivered"),
        "{attempts:?}"
    );
    stack.stop().await;
}
}

on_both_backends! {
async fn a_text_file_uploaded_as_png_fails_and_says_so(home) {
    let stack = Stack::at(home, Vec::new()).await;
    let hook = Receiver::start(&[]).await;
    let request =
        json!({"ImageType": "cover", "ImageExt": "png", "UserData": callback_to(&hook.url)});
    let id = &stack
        .upload(
            ALICE,
            request,
            b"this is a text file, not a picture
"
            .to_vec(),
        )
        .await;
    let info = stack.wait_processed(ALICE, id).await;
    assert_eq!(info["Status"], "UploadFail", "{info}");
    assert_eq!(info["Message"], "the file is not an image");
    assert!(
        info.get("URL").is_none(),
        "a failed upload has no URL: {info}"
    );

    let event = hook.wait_for(1, 20).await[0].json();
    assert_eq!(event["Status"], "fail");
    assert_eq!(event["ImageId"], id.as_str());
    assert_eq!(event["Message"], "the file is not an image");
    stack.stop().await;
}
}

on_both_backends! {
async fn a_png_announced_as_jpg_fails(home) {
    let stack = Stack::at(home, Vec::new()).await;
    let (created, upload_url) = stack
        .create_upload(ALICE, json!({"ImageType": "default", "ImageExt": "jpg"}))
        .await;
    stack.put(&upload_url, png(20, 10)).await;
    let info = stack
        .wait_processed(ALICE, created["ImageId"].as_str().unwrap())
        .await;
    assert_eq!(info["Status"], "UploadFail");
    assert!(
        info["Message"]
            .as_str()
            .unwrap()
            .contains("ImageExt is jpg"),
        "{info}"
    );
    stack.stop().await;
}
}

on_both_backends! {
async fn a_redelivered_upload_event_changes_nothing(home) {
    let stack = Stack::at(home, Vec::new()).await;
    let hook = Receiver::start(&[]).await;
    let request =
        json!({"ImageType": "default", "ImageExt": "png", "UserData": callback_to(&hook.url)});
    let id = &stack.upload(ALICE, request, png(33, 44)).await;
    let before = stack.wait_processed(ALICE, id).await;
    hook.wait_for(1, 20).await;
    let record_before = stack
        .running
        .app
        .images
        .get(&tenant_key("tenant-alice"), id)
        .await
        .unwrap()
        .unwrap();

    // The same S3 event, twice more, straight into the trigger's worker.
    let worker = UploadWorker {
        app: stack.running.app.clone(),
    };
    let object = CreatedObject {
        bucket: record_before.bucket.clone(),
        key: record_before.object_key.clone(),
        etag: None,
        size: None,
    };
    worker.process(&object).await.unwrap();
    worker.process(&object).await.unwrap();

    let record_after = stack
        .running
        .app
        .images
        .get(&tenant_key("tenant-alice"), id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record_after, record_before);
    let after = stack.wait_processed(ALICE, id).await;
    assert_eq!(strip_urls(after), strip_urls(before));
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(hook.received().len(), 1, "no second notification");
    stack.stop().await;
}
}

on_both_backends! {
async fn update_changes_only_the_given_fields_and_delete_removes_everything(home) {
    let stack = Stack::at(home, Vec::new()).await;
    let (created, upload_url) = stack
        .create_upload(
            ALICE,
            json!({"ImageType": "default", "ImageExt": "jpeg", "Title": "old", "Description": "kept", "Tags": "a"}),
        )
        .await;
    let id = created["ImageId"].as_str().unwrap().to_string();
    stack.put(&upload_url, jpeg(16, 8)).await;
    let info = stack.wait_processed(ALICE, &id).await;
    let download = info["URL"].as_str().unwrap().to_string();

    let missing = "ffffffffffffffffffffffffffffffff";
    let reply = stack
        .post(
            ALICE,
            "UpdateImageInfos",
            json!({"UpdateContent": [{"ImageId": id, "Title": "new", "Tags": "b,c"}, {"ImageId": missing, "Title": "x"}]}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.body["NonExistImageIds"],
        json!({"ImageId": [missing]})
    );
    let info = stack.info(ALICE, &id).await.body["ImageInfo"][0].clone();
    assert_eq!(info["Title"], "new");
    assert_eq!(info["Tags"], "b,c");
    assert_eq!(info["Description"], "kept");

    let reply = stack
        .post(
            ALICE,
            "DeleteImage",
            json!({"DeleteImageType": "ImageId", "ImageIds": id}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let after = stack.info(ALICE, &id).await;
    assert_eq!(after.body["NonExistImageIds"], json!([id]));
    assert_eq!(after.body["ImageInfo"], json!([]));
    let status = stack.http.get(&download).send().await.unwrap().status();
    assert_eq!(status, 404, "the object is deleted too");
    stack.stop().await;
}
}

fn tenant_key(tenant: &str) -> String {
    folio_shared::tenant::Tenant::new(tenant)
        .unwrap()
        .key()
        .to_string()
}

/// An ImageInfo without its signed URLs, which differ from call to call.
fn strip_urls(mut info: Value) -> Value {
    info.as_object_mut().unwrap().remove("URL");
    if let Some(m) = info.get_mut("Mezzanine").and_then(Value::as_object_mut) {
        m.remove("FileURL");
    }
    info
}

on_both_backends! {
async fn an_upload_over_the_size_limit_fails_and_its_object_is_deleted(home) {
    let stack = Stack::at(home, vec![("FOLIO_MAX_UPLOAD_BYTES", "2000".to_string())]).await;
    let (created, upload_url) = stack
        .create_upload(ALICE, json!({"ImageType": "default", "ImageExt": "jpg"}))
        .await;
    let big = jpeg(300, 200);
    assert!(big.len() > 2000);
    let id = created["ImageId"].as_str().unwrap();
    let expected = if let Home::OneMachine = home {
        // Folio serves the upload itself: it stops at the cap, keeps nothing, says why.
        let refused = stack
            .http
            .put(&upload_url)
            .body(big.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 413);
        "the upload is larger than 2000 bytes (FOLIO_MAX_UPLOAD_BYTES); nothing was kept"
            .to_string()
    } else {
        stack.put(&upload_url, big.clone()).await;
        format!("the upload is {} bytes; the limit is 2000 bytes", big.len())
    };
    // Either way the image's record says why.
    let info = stack.wait_processed(ALICE, id).await;
    assert_eq!(info["Status"], "UploadFail", "{info}");
    assert_eq!(info["Message"], expected, "{info}");
    // The object is gone from the bucket (deleted just after the record was written).
    let bucket = stack.running.app.config.default_bucket().to_string();
    let mut left = Vec::new();
    for _ in 0..50 {
        left = stack.keys_in(&bucket, "images/").await;
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(left.is_empty(), "left in the bucket: {left:?}");
    // A small one still goes through.
    let small = stack
        .upload(
            ALICE,
            json!({"ImageType": "default", "ImageExt": "jpg"}),
            jpeg(8, 8),
        )
        .await;
    assert_eq!(
        stack.wait_processed(ALICE, &small).await["Status"],
        "Normal"
    );
    stack.stop().await;
}
}
