//! Alibaba Cloud's official SDKs (installed into `.venv` by `make test`) against the local
//! gateway: IMM projects and PDF tasks, the VOD image library, an older SDK's HMAC-SHA1
//! call, and a wrong secret. The client script reads every answer through the SDK's models;
//! this side checks what it did to the stack.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::harness::{ALICE, ALICE_ACCESS_KEY_ID, ALICE_ACCESS_KEY_SECRET, Home, Stack, jpeg, png};

const ROLE: &str = "arn:aws:iam::123456789012:role/folio-tests";

/// What a test script reported (`tests/sdk/report.py`): the JSON line it printed, once it
/// ended well; its output and errors otherwise.
pub(crate) fn report(output: &std::process::Output) -> Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    serde_json::from_str(stdout.trim()).expect("the script prints one JSON report")
}

pub(crate) fn python() -> PathBuf {
    let venv = crate::harness::crate_dir().join("../.venv/bin/python");
    assert!(
        venv.exists(),
        "{} is missing: `make test` installs the vendors' SDKs there",
        venv.display()
    );
    venv
}

#[tokio::test]
async fn the_vendors_python_sdks_work_unchanged() {
    // A batch's run ends at a check three seconds after its scan: long enough for the
    // script to suspend it while it runs.
    let stack = Stack::start_with(vec![("FOLIO_BATCH_CHECK_SECONDS", "3".into())]).await;
    let s3 = folio_shared::aws::s3_client(&stack.sdk);
    let output_bucket = stack.bucket_with("sdk-out-", &[]).await;
    let bucket = format!("sdk-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    for (key, bytes) in [("a.jpg", jpeg(64, 48)), ("b.png", png(32, 32))] {
        s3.put_object()
            .bucket(&bucket)
            .key(key)
            .body(bytes.into())
            .send()
            .await
            .unwrap();
    }
    // The SDK names an MNS topic; Folio publishes to the SNS topic of that name. A queue
    // subscribed to it shows the task's message arrived.
    let topic_name = format!(
        "folio-sdk-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let sns = aws_sdk_sns::Client::new(&stack.sdk);
    let sqs = aws_sdk_sqs::Client::new(&stack.sdk);
    let topic = sns.create_topic().name(&topic_name).send().await.unwrap();
    let queue = sqs
        .create_queue()
        .queue_name(&topic_name)
        .send()
        .await
        .unwrap();
    let queue_url = queue.queue_url.unwrap();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    sns.subscribe()
        .topic_arn(topic.topic_arn.unwrap())
        .protocol("sqs")
        .endpoint(queue_arn)
        .attributes("RawMessageDelivery", "true")
        .send()
        .await
        .unwrap();
    let seen = run_script(&stack, &bucket, &output_bucket, &topic_name).await;

    // The task the SDK created is Alice's, its PDF was written, its message published.
    let project = seen["project"].as_str().unwrap();
    let task_id = seen["task_id"].as_str().unwrap();
    let task = stack
        .get(
            ALICE,
            "GetTask",
            &[
                ("ProjectName", project),
                ("TaskType", "ImageToPDF"),
                ("TaskId", task_id),
            ],
        )
        .await;
    assert_eq!(task.body["Status"], "Succeeded", "{}", task.body);
    let pdf = s3
        .get_object()
        .bucket(&bucket)
        .key("out/sdk.pdf")
        .send()
        .await
        .expect("the task's PDF");
    let pdf = pdf.body.collect().await.unwrap().to_vec();
    assert!(pdf.starts_with(b"%PDF-"));
    let mut message = None;
    for _ in 0..20 {
        let received = sqs
            .receive_message()
            .queue_url(&queue_url)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        if let Some(m) = received.messages.unwrap_or_default().into_iter().next() {
            message = m.body;
            break;
        }
    }
    let message: Value = serde_json::from_str(&message.expect("a message on the MNS topic"))
        .expect("the message is JSON");
    assert_eq!(message["TaskId"], task_id, "{message}");
    assert_eq!(message["Status"], "Succeeded", "{message}");
    assert_eq!(seen["wrong_secret"], "SignatureDoesNotMatch");
    assert_eq!(seen["older_sdk"], "ok");
    // Every answer read back through its SDK model kept each field's value and type.
    assert_eq!(seen["mismatched"], serde_json::json!([]), "{seen}");
    assert_eq!(seen["audited"].as_array().map(Vec::len), Some(19), "{seen}");
    assert_eq!(seen["project_life"], "ok");
    // The batch converted both sources; refusals came back as the SDK's exceptions.
    for key in ["batch/a.webp", "batch/b.webp"] {
        let out = s3.get_object().bucket(&output_bucket).key(key).send().await;
        let bytes = out.expect(key).body.collect().await.unwrap().to_vec();
        assert_eq!(
            image::load_from_memory(&bytes).unwrap().width(),
            32,
            "{key}"
        );
    }
    assert_eq!(seen["batch_update_suspended"], "InvalidState", "{seen}");
    assert_eq!(seen["batch_suspend_ended"], "InvalidState", "{seen}");
    assert_eq!(seen["batch_after_delete"], "ResourceNotFound", "{seen}");
    println!("fields the SDK models do not read: {}", seen["unread"]);
    assert_eq!(seen["size"], serde_json::json!([120, 80]));
}

/// Runs `tests/sdk/alibaba_sdks.py` against the stack; what it saw.
async fn run_script(stack: &Stack, bucket: &str, output_bucket: &str, topic_name: &str) -> Value {
    let photo = std::env::temp_dir().join(format!("folio-sdk-{}.jpg", uuid::Uuid::new_v4()));
    std::fs::write(&photo, jpeg(120, 80)).unwrap();

    let endpoint = stack.base.trim_start_matches("http://").to_string();
    let output = tokio::process::Command::new(python())
        .arg(crate::harness::crate_dir().join("sdk/alibaba_sdks.py"))
        .env("FOLIO_ENDPOINT", &endpoint)
        .env("FOLIO_ACCESS_KEY_ID", ALICE_ACCESS_KEY_ID)
        .env("FOLIO_ACCESS_KEY_SECRET", ALICE_ACCESS_KEY_SECRET)
        .env("FOLIO_SOURCE_BUCKET", bucket)
        .env("FOLIO_SERVICE_ROLE", ROLE)
        .env("FOLIO_TOPIC_NAME", topic_name)
        .env("FOLIO_JPEG", &photo)
        .env("FOLIO_OUTPUT_BUCKET", output_bucket)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), output)
        .await
        .expect("the SDK script ends within two minutes")
        .expect("the SDK script runs");
    let seen = report(&output);

    let _ = std::fs::remove_file(photo);
    seen
}

/// The same script on one machine: buckets are folders, the MNS topic is recorded (no SNS
/// there), everything else as on AWS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vendors_python_sdks_work_unchanged_on_one_machine() {
    let stack = Stack::at(
        Home::OneMachine,
        vec![("FOLIO_BATCH_CHECK_SECONDS", "3".into())],
    )
    .await;
    let output_bucket = stack.bucket_with("sdk-out-", &[]).await;
    let bucket = stack
        .bucket_with("sdk-", &[("a.jpg", jpeg(64, 48)), ("b.png", png(32, 32))])
        .await;
    let seen = run_script(&stack, &bucket, &output_bucket, "folio-sdk-local").await;
    let task = stack
        .get(
            ALICE,
            "GetTask",
            &[
                ("ProjectName", seen["project"].as_str().unwrap()),
                ("TaskType", "ImageToPDF"),
                ("TaskId", seen["task_id"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(task.body["Status"], "Succeeded", "{}", task.body);
    let pdf = stack
        .object(&bucket, "out/sdk.pdf")
        .await
        .expect("the task's PDF");
    assert!(pdf.starts_with(b"%PDF-"));
    assert_eq!(seen["wrong_secret"], "SignatureDoesNotMatch");
    assert_eq!(seen["older_sdk"], "ok");
    assert_eq!(seen["mismatched"], serde_json::json!([]), "{seen}");
    assert_eq!(seen["audited"].as_array().map(Vec::len), Some(19), "{seen}");
    assert_eq!(seen["project_life"], "ok");
    for key in ["batch/a.webp", "batch/b.webp"] {
        let bytes = stack.object(&output_bucket, key).await.expect(key);
        assert_eq!(
            image::load_from_memory(&bytes).unwrap().width(),
            32,
            "{key}"
        );
    }
    assert_eq!(seen["batch_update_suspended"], "InvalidState", "{seen}");
    assert_eq!(seen["batch_suspend_ended"], "InvalidState", "{seen}");
    assert_eq!(seen["batch_after_delete"], "ResourceNotFound", "{seen}");
    assert_eq!(seen["size"], serde_json::json!([120, 80]));
    // The MNS topic was taken; its delivery stopped at the first attempt, saying why.
    let data = stack.running.data.clone().expect("a data folder");
    let db = rusqlite::Connection::open(data.join("folio.db")).expect("the database");
    let sns: Vec<String> = db
        .prepare("SELECT body FROM items WHERE substr(sk, 1, 9) = 'DELIVERY#' AND body LIKE '%\"Target\":\"sns\"%'")
        .expect("a query")
        .query_map([], |row| row.get(0))
        .expect("queried")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(sns.len(), 1, "{sns:?}");
    let attempt: Value = serde_json::from_str(&sns[0]).expect("JSON");
    assert_eq!(attempt["Outcome"], "Stopped", "{attempt}");
    assert!(
        attempt["Detail"]
            .as_str()
            .unwrap_or_default()
            .contains("one machine"),
        "{attempt}"
    );
    stack.stop().await;
}

/// How a request is signed: access key id, secret, `x-acs-date`, nonce.
pub type Signing<'a> = (&'a str, &'a str, &'a str, &'a str);

/// The headers the SDKs send with a CreateProject of form `body` to `host`, signed.
pub fn signed_headers(
    host: &str,
    body: &str,
    (key_id, secret, date, nonce): Signing<'_>,
) -> Vec<(String, String)> {
    use sha2::Digest;
    let mut headers: Vec<(String, String)> = [
        ("host", host),
        ("x-acs-action", "CreateProject"),
        ("x-acs-version", "2020-09-30"),
        ("x-acs-date", date),
        ("x-acs-signature-nonce", nonce),
        ("content-type", "application/x-www-form-urlencoded"),
        (
            "x-acs-content-sha256",
            &hex::encode(sha2::Sha256::digest(body.as_bytes())),
        ),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let authorization =
        folio_shared::auth::acs3::sign("POST", "/", "", &headers, body.as_bytes(), key_id, secret);
    headers.push(("authorization".into(), authorization));
    headers
}

/// A CreateProject signed as the SDKs sign it, then sent with `tamper` applied.
pub async fn signed_create_project(
    stack: &Stack,
    project: &str,
    signing: Signing<'_>,
    tamper: impl Fn(&mut String, &mut Vec<(String, String)>),
) -> (u16, Value) {
    let host = stack.base.trim_start_matches("http://");
    let mut body = format!("ProjectName={project}&ServiceRole={}", urlencode(ROLE));
    let mut headers = signed_headers(host, &body, signing);
    tamper(&mut body, &mut headers);
    let mut request = stack.http.post(format!("{}/", stack.base)).body(body);
    for (k, v) in &headers {
        if k != "host" {
            request = request.header(k, v);
        }
    }
    let response = request.send().await.expect("the gateway answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON answer"))
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn refused_signatures_record_nothing() {
    let stack = Stack::start().await;
    let now = chrono::Utc::now();
    let date = now.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let stale = (now - chrono::Duration::minutes(20))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let good = (ALICE_ACCESS_KEY_ID, ALICE_ACCESS_KEY_SECRET);
    let keep = |_: &mut String, _: &mut Vec<(String, String)>| {};
    let cases: Vec<(&str, Signing, u16, &str)> = vec![
        (
            "p-secret",
            (good.0, "wrong", &date, "n1"),
            400,
            "SignatureDoesNotMatch",
        ),
        (
            "p-stale",
            (good.0, good.1, &stale, "n2"),
            400,
            "InvalidTimeStamp.Expired",
        ),
        (
            "p-unknown",
            ("LTAInobody", good.1, &date, "n3"),
            404,
            "InvalidAccessKeyId.NotFound",
        ),
    ];
    for (project, signing, status, code) in cases {
        let (got, body) = signed_create_project(&stack, project, signing, keep).await;
        assert_eq!((got, body["Code"].as_str()), (status, Some(code)), "{body}");
        assert!(body["RequestId"].is_string());
    }
    // The body changed after signing: another project name.
    let (got, body) = signed_create_project(
        &stack,
        "p-body",
        (good.0, good.1, &date, "n4"),
        |body, _| *body = body.replace("p-body", "p-other"),
    )
    .await;
    assert_eq!(
        (got, body["Code"].as_str()),
        (400, Some("SignatureDoesNotMatch"))
    );
    // The date header dropped.
    let (got, body) = signed_create_project(
        &stack,
        "p-nodate",
        (good.0, good.1, &date, "n5"),
        |_, headers| headers.retain(|(k, _)| k != "x-acs-date"),
    )
    .await;
    assert_eq!(
        (got, body["Code"].as_str()),
        (400, Some("IncompleteSignature"))
    );
    // An honest request, then the same one again.
    let honest = (good.0, good.1, date.as_str(), "n6");
    let (got, body) = signed_create_project(&stack, "p-honest", honest, keep).await;
    assert_eq!(got, 200, "{body}");
    let (got, body) = signed_create_project(&stack, "p-honest", honest, keep).await;
    assert_eq!(
        (got, body["Code"].as_str()),
        (400, Some("SignatureNonceUsed"))
    );

    for project in [
        "p-secret",
        "p-stale",
        "p-unknown",
        "p-body",
        "p-other",
        "p-nodate",
    ] {
        let reply = stack
            .get(ALICE, "GetProject", &[("ProjectName", project)])
            .await;
        assert_eq!(reply.status, 404, "{project}: {}", reply.body);
    }
    let honest = stack
        .get(ALICE, "GetProject", &[("ProjectName", "p-honest")])
        .await;
    assert_eq!(honest.status, 200, "{}", honest.body);
}
