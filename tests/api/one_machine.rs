//! Folio on one machine, end to end: no emulator, a data folder. Uploads and downloads
//! through the URLs `folio serve` signs and serves, the cap on uploads, PDF tasks, jobs and
//! batches over buckets that are folders, and everything kept across a restart.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{ALICE, BOB, Stack, jpeg, new_data_folder, png};
use crate::jobs::{call, create, upload, wait};

/// On one machine a project's role is recorded, not assumed.
const ROLE: &str = "arn:aws:iam::123456789012:role/folio-local";

fn image_url(info: &Value) -> String {
    info["URL"].as_str().expect("a URL").to_string()
}

/// The URL with one hex digit of its signature changed.
fn tampered(url: &str) -> String {
    let (head, signature) = url.rsplit_once("signature=").expect("signed");
    let mut signature: Vec<char> = signature.chars().collect();
    signature[0] = if signature[0] == '0' { '1' } else { '0' };
    format!(
        "{head}signature={}",
        signature.into_iter().collect::<String>()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_go_through_signed_urls_and_everything_survives_a_restart() {
    let data = new_data_folder();
    let stack = Stack::embedded_at(&data, Vec::new()).await;
    let photo = jpeg(64, 48);
    let (created, upload_url) = stack
        .create_upload(
            ALICE,
            json!({"ImageType": "default", "ImageExt": "jpg", "Title": "kept"}),
        )
        .await;
    let image_id = created["ImageId"].as_str().expect("an ImageId").to_string();
    assert!(
        upload_url.starts_with(&format!("{}/files/", stack.base)),
        "{upload_url}"
    );

    // The upload URL writes its own object only, and only with its signature.
    let put = |url: String, bytes: Vec<u8>| {
        let http = stack.http.clone();
        async move { http.put(url).body(bytes).send().await.expect("answers") }
    };
    let refused = put(tampered(&upload_url), photo.clone()).await;
    assert_eq!(refused.status(), 403);
    let body: Value = refused.json().await.expect("a JSON refusal");
    assert_eq!(body["Code"], "AccessDenied", "{body}");
    let other = upload_url.replacen("/images/", "/images/x", 1);
    assert_eq!(put(other, photo.clone()).await.status(), 403);
    let unsigned = upload_url.split_once('?').expect("a query").0.to_string();
    assert_eq!(put(unsigned, photo.clone()).await.status(), 403);
    assert_eq!(put(upload_url.clone(), photo.clone()).await.status(), 200);

    let info = stack.wait_processed(ALICE, &image_id).await;
    assert_eq!(info["Status"], "Normal", "{info}");
    assert_eq!(info["Mezzanine"]["Width"], 64);
    assert_eq!(info["Mezzanine"]["Height"], 48);

    // The download URL serves the bytes, whole or by range, and nothing else.
    let url = image_url(&info);
    let whole = stack.http.get(&url).send().await.expect("answers");
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.bytes().await.expect("bytes").to_vec(), photo);
    let part = stack
        .http
        .get(&url)
        .header("Range", "bytes=2-9")
        .send()
        .await
        .expect("answers");
    assert_eq!(part.status(), 206);
    assert_eq!(
        part.headers()["content-range"],
        format!("bytes 2-9/{}", photo.len()).as_str()
    );
    assert_eq!(part.bytes().await.expect("bytes").to_vec(), photo[2..10]);
    assert_eq!(
        stack
            .http
            .get(tampered(&url))
            .send()
            .await
            .expect("answers")
            .status(),
        403
    );
    // A download URL does not upload.
    assert_eq!(put(url.clone(), b"x".to_vec()).await.status(), 403);

    // A key issued into the data folder, a project and a job: all there after a restart.
    let folder = folio_shared::embedded::DataFolder::open(&data, false).expect("the folder");
    let issued = folio_shared::auth::admin::new_bearer_key();
    let tenant = folio_shared::tenant::Tenant::new("tenant-carol").expect("a tenant");
    use folio_shared::auth::admin::KeyAdmin;
    folder
        .keys()
        .put_bearer(&issued, &tenant)
        .await
        .expect("issued");
    let project = stack
        .post(
            &issued,
            "CreateProject",
            json!({"ProjectName": "kept", "ServiceRole": ROLE}),
        )
        .await;
    assert_eq!(project.status, 200, "{}", project.body);
    let job = create(&stack, json!({"conversion": [{"target": "png"}]})).await;
    let job_id = job["id"].as_str().expect("a job id").to_string();
    stack.stop().await;

    let stack = Stack::embedded_at(&data, Vec::new()).await;
    let info = stack.wait_processed(ALICE, &image_id).await;
    assert_eq!(info["Status"], "Normal", "{info}");
    assert_eq!(info["Title"], "kept");
    let again = stack
        .http
        .get(image_url(&info))
        .send()
        .await
        .expect("answers");
    assert_eq!(again.bytes().await.expect("bytes").to_vec(), photo);
    let project = stack
        .get(&issued, "GetProject", &[("ProjectName", "kept")])
        .await;
    assert_eq!(project.status, 200, "{}", project.body);
    let job = call(&stack, ALICE, Method::GET, &format!("/jobs/{job_id}"), None).await;
    assert_eq!(job.status, 200, "{}", job.text);
    assert_eq!(job.body["conversion"][0]["target"], "png");
    // Another tenant still sees none of it.
    assert_eq!(
        stack.info(BOB, &image_id).await.body["NonExistImageIds"][0],
        json!(image_id)
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_over_the_cap_stops_with_413_and_nothing_is_kept() {
    let data = new_data_folder();
    let stack = Stack::embedded_at(&data, vec![("FOLIO_MAX_UPLOAD_BYTES", "4096".into())]).await;
    let (created, url) = stack
        .create_upload(ALICE, json!({"ImageType": "default", "ImageExt": "png"}))
        .await;
    let response = stack
        .http
        .put(&url)
        .body(vec![7u8; 100_000])
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 413);
    let body: Value = response.json().await.expect("a JSON refusal");
    assert_eq!(body["Code"], "EntityTooLarge", "{body}");
    assert!(
        body["Message"]
            .as_str()
            .unwrap_or_default()
            .contains("4096"),
        "{body}"
    );
    let leftovers: Vec<_> = walk(&data.join("buckets"))
        .into_iter()
        .chain(walk(&data.join("tmp")))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let image_id = created["ImageId"].as_str().expect("an id");
    // The image says why, as in AWS.
    let info = stack.wait_processed(ALICE, image_id).await;
    assert_eq!(info["Status"], "UploadFail", "{info}");

    // A `/v2` upload past the cap is refused in the API's own shape, not as plain text.
    let job = create(&stack, json!({"conversion": [{"target": "png"}]})).await;
    let refused = upload(&stack, &job, "big.png", vec![1u8; 3 << 20]).await;
    assert_eq!(refused.status, 413, "{}", refused.text);
    let body = refused.body;
    assert_eq!(body["code"], 413, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains("FOLIO_MAX_UPLOAD_BYTES"), "{body}");
    stack.stop().await;
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_and_batches_read_and_write_buckets_that_are_folders() {
    let stack = Stack::embedded().await;
    let data = stack.running.data.clone().expect("a data folder");
    let project = stack
        .post(
            ALICE,
            "CreateProject",
            json!({"ProjectName": "local", "ServiceRole": ROLE}),
        )
        .await;
    assert_eq!(project.status, 200, "{}", project.body);
    let bucket = stack.local_bucket(
        "photos-",
        &[
            ("in/a.jpg", jpeg(64, 32)),
            ("in/b.png", png(20, 10)),
            ("in/sub/c.png", png(30, 30)),
            ("in/notes.txt", b"not an image".to_vec()),
        ],
    );
    let created = stack
        .post(
            ALICE,
            "CreateImageToPDFTask",
            json!({
                "ProjectName": "local",
                "Sources": [{"URI": format!("s3://{bucket}/in/a.jpg")}, {"URI": format!("s3://{bucket}/in/b.png")}],
                "TargetURI": format!("s3://{bucket}/out/both.pdf"),
            }),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let task_id = created.body["TaskId"]
        .as_str()
        .expect("a TaskId")
        .to_string();
    let task = stack.wait_task(ALICE, "local", &task_id).await;
    assert_eq!(task["Status"], "Succeeded", "{task}");
    let pdf =
        std::fs::read(data.join("buckets").join(&bucket).join("out/both.pdf")).expect("the PDF");
    assert!(pdf.starts_with(b"%PDF-"));
    assert_eq!(task["Output"]["Size"], pdf.len());
    assert_eq!(task["Output"]["PageCount"], 2);

    // The task's record alone brings its work: the message commits with it, so a process
    // killed right after the write loses nothing. A copy written through the port (with no
    // enqueue after it) runs to its end.
    let tenant = folio_shared::tenant::Tenant::new("tenant-alice").expect("a tenant");
    let mut copy = stack
        .running
        .app
        .tasks
        .get(tenant.key(), "local", &task_id)
        .await
        .expect("read")
        .expect("the task");
    copy.task_id = format!("{task_id}-copy");
    copy.status = folio_shared::task::model::TaskStatus::Running;
    copy.attempts = 0;
    copy.claim = None;
    copy.end_time = None;
    copy.output = None;
    stack
        .running
        .app
        .tasks
        .create(&copy)
        .await
        .expect("written");
    let copied = stack.wait_task(ALICE, "local", &copy.task_id).await;
    assert_eq!(copied["Status"], "Succeeded", "{copied}");

    let batch = stack
        .post(
            ALICE,
            "CreateBatch",
            json!({
                "ProjectName": "local",
                "Input": {"OSS": {"Bucket": bucket, "Prefix": "in/", "MatchExpressions": ["suffix(\".png\")"]}},
                "Actions": [
                    {"Name": "image/resize", "Parameters": ["w=8", "h=8"]},
                    {"Name": "image/format", "Parameters": ["format=webp"]},
                    {"Name": "sys/saveas", "Parameters": [format!("uri=s3://{bucket}/small/{{dirname}}/{{barename}}.{{autoext}}")]},
                ],
            }),
        )
        .await;
    assert_eq!(batch.status, 200, "{}", batch.body);
    let batch_id = batch.body["Id"].as_str().expect("an Id").to_string();
    let mut got = Value::Null;
    for _ in 0..150 {
        got = stack
            .get(
                ALICE,
                "GetBatch",
                &[("ProjectName", "local"), ("Id", &batch_id)],
            )
            .await
            .body;
        if got["Batch"]["State"] == "Succeeded" || got["Batch"]["State"] == "Failed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(got["Batch"]["State"], "Succeeded", "{got}");
    let mut outputs: Vec<String> = walk(&data.join("buckets").join(&bucket).join("small"))
        .iter()
        .map(|p| {
            p.strip_prefix(data.join("buckets").join(&bucket))
                .expect("inside")
                .display()
                .to_string()
        })
        .collect();
    outputs.sort();
    assert_eq!(outputs, ["small/in/b.webp", "small/in/sub/c.webp"]);
    // `folio buckets` shows the same.
    let listed = folio_cli::buckets::run(&folio_cli::buckets::BucketsArgs {
        data: data.clone(),
        bucket: Some(bucket.clone()),
        prefix: "small/".into(),
    })
    .await
    .expect("listed");
    let keys: Vec<&str> = listed
        .lines()
        .filter_map(|l| l.split('\t').nth(1))
        .collect();
    assert_eq!(keys, ["small/in/b.webp", "small/in/sub/c.webp"], "{listed}");
    let all = folio_cli::buckets::run(&folio_cli::buckets::BucketsArgs {
        data: data.clone(),
        bucket: None,
        prefix: String::new(),
    })
    .await
    .expect("listed");
    assert!(
        all.lines()
            .any(|l| l.starts_with(&format!("{bucket}\t7 objects"))),
        "{all}"
    );

    // A bucket name or key that would leave the data folder is refused, naming it.
    let escaped = stack
        .post(
            ALICE,
            "CreateImageToPDFTask",
            json!({
                "ProjectName": "local",
                "Sources": [{"URI": format!("s3://{bucket}/../../master.key")}],
                "TargetURI": format!("s3://{bucket}/out/x.pdf"),
            }),
        )
        .await;
    if escaped.status == 200 {
        let id = escaped.body["TaskId"]
            .as_str()
            .expect("a TaskId")
            .to_string();
        let task = stack.wait_task(ALICE, "local", &id).await;
        assert_eq!(task["Status"], "Failed", "{task}");
    } else {
        assert_eq!(escaped.status, 400, "{}", escaped.body);
    }
    stack.stop().await;
}

/// A PNG of noise, so it does not compress: about `width * height * 3` bytes.
fn noisy_png(width: u32, height: u32) -> Vec<u8> {
    let mut state = 0x9e37_79b9u32;
    let img = image::RgbImage::from_fn(width, height, |_, _| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let [a, b, c, _] = state.to_le_bytes();
        image::Rgb([a, b, c])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("encoding a PNG");
    out.into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_takes_a_40_mb_upload_and_its_output_downloads() {
    let stack = Stack::embedded().await;
    let photo = noisy_png(3700, 3700);
    assert!(photo.len() > 40_000_000, "{} bytes", photo.len());
    let job = create(
        &stack,
        json!({"conversion": [{"target": "png", "options": {"width": 100}}]}),
    )
    .await;
    let uploaded = upload(&stack, &job, "big.png", photo).await;
    assert!(
        uploaded.status < 300,
        "{}: {}",
        uploaded.status,
        uploaded.text
    );
    // A job with its conversions set starts with its first input.
    let id = job["id"].as_str().expect("an id").to_string();
    let done = wait(&stack, &id).await;
    assert_eq!(done["status"]["code"], "completed", "{done}");
    let uri = done["output"][0]["uri"].as_str().expect("an output uri");
    let downloaded = stack
        .http
        .get(uri)
        .header("X-Oc-Api-Key", ALICE)
        .send()
        .await
        .expect("answers");
    assert_eq!(downloaded.status(), 200);
    let bytes = downloaded.bytes().await.expect("bytes");
    let decoded = image::load_from_memory(&bytes).expect("a PNG");
    assert_eq!((decoded.width(), decoded.height()), (100, 100));
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_serve_on_the_same_folder_is_refused() {
    let data = new_data_folder();
    let stack = Stack::embedded_at(&data, Vec::new()).await;
    let error = match folio_shared::embedded::DataFolder::open(&data, true) {
        Ok(_) => panic!("a second server opened the folder"),
        Err(e) => e.to_string(),
    };
    assert!(error.contains("another folio serve"), "{error}");
    // The first one serves on.
    let secret = stack.get(ALICE, "GetWebhookSecret", &[]).await;
    assert_eq!(secret.status, 200, "{}", secret.body);
    stack.stop().await;
}
