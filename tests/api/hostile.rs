//! Hostile requests, one test per defect a fuzz of the routes found: caller values that
//! would reach a store key unchecked, records that outgrow one item, echoes of huge values,
//! page numbers that wrap, a forwarded host taken on trust, private webhook targets
//! accepted, and a notification delivered twice when its copy came after the queue's
//! deduplication window. Every refusal is a 4xx naming the field, in a small body.

use base64::Engine;
use folio_shared::notify::delivery::{Delivery, Subject, SubjectKind, Target};
use folio_shared::queue::{QueueMessage, QueueWorker};
use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{ALICE, Home, Reply, Stack, unique};
use crate::jobs::call;
use crate::on_both_backends;
use crate::receiver::Receiver;

const ROLE: &str = "arn:aws:iam::123456789012:role/folio-tests";
/// The largest refusal body any of these may get back.
const SMALL: usize = 4096;

fn refused_naming(reply: &Reply, field: &str) {
    assert_eq!(reply.status, 400, "{}", reply.body);
    let message = reply.body["Message"].as_str().unwrap_or_default();
    assert!(message.starts_with(field), "{message}");
    assert!(reply.body.to_string().len() < SMALL, "{}", reply.body);
}

async fn project(stack: &Stack) -> String {
    let name = unique("hostile-");
    let made = stack
        .post(
            ALICE,
            "CreateProject",
            json!({"ProjectName": name, "ServiceRole": ROLE}),
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.body);
    name
}

on_both_backends! {
/// Ids a caller names are checked for shape before a store sees them (DynamoDB refuses keys
/// over 2,048 bytes, on reads too): a 400 naming the field, not a 5xx.
async fn ids_too_long_for_a_key_are_refused_before_any_store(home) {
    let stack = Stack::at(home, Vec::new()).await;
    let name = project(&stack).await;
    let long = "b".repeat(3000);
    let batch = stack
        .get(ALICE, "GetBatch", &[("ProjectName", &name), ("Id", &long)])
        .await;
    refused_naming(&batch, "Id:");
    let task = stack
        .get(ALICE, "GetTask", &[("ProjectName", &name), ("TaskId", &long)])
        .await;
    refused_naming(&task, "TaskId:");
    // A well-formed unknown id is still a 404.
    let unknown = stack
        .get(ALICE, "GetBatch", &[("ProjectName", &name), ("Id", "batch-nope")])
        .await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    // A crafted NextToken whose position would be a sort key of 3,000 bytes.
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
        json!({"sort": "StartTime", "descending": true, "after": long}).to_string(),
    );
    let listed = stack
        .get(ALICE, "ListTasks", &[("ProjectName", &name), ("NextToken", &token)])
        .await;
    refused_naming(&listed, "NextToken:");

    // `/v2` ids are UUIDs: anything else is a 400 naming it, echoed short.
    for path in [
        format!("/jobs/{long}"),
        format!("/jobs/{}/output/{long}", uuid::Uuid::new_v4()),
        format!("/dl/{long}/download-file/{}", uuid::Uuid::new_v4()),
    ] {
        let answer = call(&stack, ALICE, Method::GET, &path, None).await;
        assert_eq!(answer.status, 400, "{path}: {}", answer.text);
        assert!(answer.text.len() < 400, "{}", answer.text);
        assert!(answer.text.contains(" id: "), "{}", answer.text);
    }
    let unknown = call(&stack, ALICE, Method::GET, &format!("/jobs/{}", uuid::Uuid::new_v4()), None).await;
    assert_eq!(unknown.status, 404, "{}", unknown.text);
    stack.stop().await;
}
}

on_both_backends! {
/// A batch record stays inside one item: counts and sizes are checked when it is set.
async fn batches_too_large_for_one_record_are_refused(home) {
    let stack = Stack::at(home, Vec::new()).await;
    let name = project(&stack).await;
    let input = |expressions: Vec<String>| {
        json!({"OSS": {"Bucket": "some-bucket", "Prefix": "in/", "MatchExpressions": expressions}})
    };
    let resize = json!({"Name": "image/resize", "Parameters": ["w=10"]});
    let saveas = json!({"Name": "sys/saveas", "Parameters": ["uri=s3://some-bucket/out/{barename}.png"]});
    let create = |input: Value, actions: Value, notification: Option<Value>| {
        let mut body = json!({"ProjectName": name, "Input": input, "Actions": actions});
        if let Some(n) = notification {
            body["Notification"] = n;
        }
        body
    };
    let cases = [
        (
            create(input((0..200).map(|i| format!("*.{i}")).collect()), json!([resize, saveas]), None),
            "Input.OSS.MatchExpressions:",
        ),
        (
            create(input(vec!["x".repeat(300)]), json!([resize, saveas]), None),
            "Input.OSS.MatchExpressions[0]:",
        ),
        (
            create(input(Vec::new()), Value::Array(vec![resize.clone(); 21]), None),
            "Actions:",
        ),
        (
            create(
                input(Vec::new()),
                json!([{"Name": "image/resize", "Parameters": vec!["w=10"; 30]}]),
                None,
            ),
            "Actions[0].Parameters:",
        ),
        (
            create(input(Vec::new()), json!([resize, saveas]), Some(json!({"Webhook": {"URL": format!("https://example.com/{}", "a".repeat(20_000))}}))),
            "Notification:",
        ),
    ];
    for (body, field) in cases {
        let reply = stack.post(ALICE, "CreateBatch", body).await;
        refused_naming(&reply, field);
    }
    stack.stop().await;
}
}

on_both_backends! {
/// Webhooks to private or metadata addresses are refused when the batch is created, not
/// only when a delivery would be tried (after retries were queued).
async fn private_webhook_targets_are_refused_when_named(home) {
    let stack = Stack::at(home, Vec::new()).await;
    let name = project(&stack).await;
    for url in ["http://169.254.169.254/latest/meta-data", "http://10.1.2.3/hook"] {
        let reply = stack
            .post(
                ALICE,
                "CreateBatch",
                json!({
                    "ProjectName": name,
                    "Input": {"OSS": {"Bucket": "some-bucket", "Prefix": "in/"}},
                    "Actions": [
                        {"Name": "image/resize", "Parameters": ["w=10"]},
                        {"Name": "sys/saveas", "Parameters": ["uri=s3://some-bucket/out/{barename}.png"]},
                    ],
                    "Notification": {"Webhook": {"URL": url}},
                }),
            )
            .await;
        refused_naming(&reply, "Notification.Webhook.URL:");
    }
    let job = call(
        &stack,
        ALICE,
        Method::POST,
        "/jobs",
        Some(json!({"callback": "http://169.254.169.254/x", "conversion": [{"target": "png"}]})),
    )
    .await;
    assert_eq!(job.status, 400, "{}", job.text);
    assert!(job.text.contains("callback"), "{}", job.text);
    stack.stop().await;
}
}

/// Huge values come back quoted short, numbers that would wrap are refused, and a caller's
/// `X-Forwarded-Host` does not choose the URLs Folio hands out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_echoes_are_bounded_and_numbers_do_not_wrap() {
    let stack = Stack::embedded().await;
    let huge = json!({"process": vec![1; 500_000], "conversion": [{"target": "png"}]});
    let answer = call(&stack, ALICE, Method::POST, "/jobs", Some(huge)).await;
    assert_eq!(
        answer.status,
        400,
        "{}",
        &answer.text[..answer.text.len().min(500)]
    );
    assert!(answer.text.len() < 400, "{} bytes", answer.text.len());
    assert!(
        answer.text.contains("a list of 500000 items"),
        "{}",
        answer.text
    );

    let path = format!("/nowhere/{}", "p".repeat(20_000));
    let answer = call(&stack, ALICE, Method::GET, &path, None).await;
    assert_eq!(answer.status, 404);
    assert!(answer.text.len() < 400, "{} bytes", answer.text.len());

    for path in [
        "/jobs?page=9223372036854775809",
        "/jobs?page=18446744073709551615",
        "/conversions?page=9223372036854775809",
    ] {
        let answer = call(&stack, ALICE, Method::GET, path, None).await;
        assert_eq!(answer.status, 400, "{path}: {}", answer.text);
        assert!(answer.text.contains("page"), "{}", answer.text);
    }
    let status = format!("/jobs?status={}", "s".repeat(5000));
    let answer = call(&stack, ALICE, Method::GET, &status, None).await;
    assert_eq!(answer.status, 400);
    assert!(answer.text.len() < 400, "{} bytes", answer.text.len());

    let forged = stack
        .http
        .post(format!("{}/v2/jobs", stack.base))
        .header("X-Oc-Api-Key", ALICE)
        .header("X-Forwarded-Host", "attacker.example")
        .header("X-Forwarded-Proto", "https")
        .json(&json!({"conversion": [{"target": "png"}]}))
        .send()
        .await
        .expect("answers");
    assert_eq!(forged.status(), 201);
    let job: Value = forged.json().await.expect("a job");
    let server = job["server"].as_str().unwrap_or_default();
    assert!(!server.contains("attacker"), "{server}");
    stack.stop().await;
}

/// Behind a proxy the deployment trusts, the forwarded host is taken, if it is a host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_proxy_sets_the_public_host() {
    let stack = Stack::at(
        Home::OneMachine,
        vec![("FOLIO_TRUST_FORWARDED_HEADERS", "true".into())],
    )
    .await;
    let server_for = async |host: String| -> String {
        let job: Value = stack
            .http
            .post(format!("{}/v2/jobs", stack.base))
            .header("X-Oc-Api-Key", ALICE)
            .header("X-Forwarded-Host", host)
            .header("X-Forwarded-Proto", "https")
            .json(&json!({"conversion": [{"target": "png"}]}))
            .send()
            .await
            .expect("answers")
            .json()
            .await
            .expect("a job");
        job["server"].as_str().unwrap_or_default().to_string()
    };
    let server = server_for("files.example.com".into()).await;
    assert!(server.starts_with("https://files.example.com/"), "{server}");
    let server = server_for(format!("evil.example/{}", "x".repeat(5000))).await;
    assert!(!server.contains("evil"), "{server}");
    stack.stop().await;
}

on_both_backends! {
/// A copy of a delivery that already ended is dropped however late it comes: here the same
/// message handled twice, as a job message redelivered after its visibility timeout (long
/// past the notifications queue's 5-minute deduplication) would queue it again.
async fn a_late_copy_of_a_delivered_notification_is_dropped(home) {
    let stack = Stack::at(home, Vec::new()).await;
    let receiver = Receiver::start(&[]).await;
    let delivery = Delivery {
        event_id: unique("evt-"),
        event_type: "TaskFinished".into(),
        tenant_key: folio_shared::tenant::Tenant::new("tenant-alice")
            .expect("a tenant")
            .key()
            .to_string(),
        subject: Subject {
            kind: SubjectKind::Task,
            id: unique("task-"),
        },
        target: Target::Webhook {
            url: receiver.url.clone(),
        },
        payload: json!({"Status": "Succeeded"}),
        first_attempt: 1,
    };
    let message = |n: u32| QueueMessage {
        id: format!("m-{n}"),
        body: serde_json::to_string(&delivery).expect("a delivery"),
        receive_count: 1,
        receipt_handle: None,
        group: None,
    };
    let notifier = stack.running.app.notifier();
    notifier.handle(&message(1)).await.expect("delivered");
    notifier.handle(&message(2)).await.expect("dropped");
    receiver.wait_for(1, 5).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 1);
    stack.stop().await;
}
}

/// Every refusal's `RequestId` is in the log, on the line that says why, and a worker's lines
/// carry its message's id, never a request's.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn log_lines_carry_their_own_request_or_message_id() {
    let logs = crate::jobs::captured_logs();
    let stack = Stack::embedded().await;
    let name = project(&stack).await;
    let mut refused_ids = Vec::new();
    let bad_key = stack
        .http
        .get(format!("{}/ListProjects", stack.base))
        .bearer_auth("not-a-key")
        .send()
        .await
        .expect("answers");
    assert_eq!(bad_key.status(), 401);
    let body: Value = bad_key.json().await.expect("a JSON refusal");
    refused_ids.push(body["RequestId"].as_str().expect("a RequestId").to_string());
    let bad_id = stack
        .get(
            ALICE,
            "GetTask",
            &[("ProjectName", &name), ("TaskId", "not an id")],
        )
        .await;
    assert_eq!(bad_id.status, 400);
    refused_ids.push(
        bad_id.body["RequestId"]
            .as_str()
            .expect("a RequestId")
            .to_string(),
    );
    // Uploads side by side: their requests and the upload worker's messages interleave.
    let uploads: Vec<_> = (0..6)
        .map(|i| {
            stack.upload(
                ALICE,
                json!({"ImageType": "default", "ImageExt": "jpg", "Title": format!("t{i}")}),
                crate::harness::jpeg(40 + i, 30),
            )
        })
        .collect();
    // Refusals side by side too: each request's lines must carry its id alone, however the
    // runtime interleaves them.
    let refusals: Vec<_> = (0..32)
        .map(|i| {
            let task_id = format!("not an id {i}");
            let name = name.clone();
            let stack = &stack;
            async move {
                stack
                    .get(
                        ALICE,
                        "GetTask",
                        &[("ProjectName", &name), ("TaskId", &task_id)],
                    )
                    .await
            }
        })
        .collect();
    let (ids, refused) = futures_util::future::join(
        futures_util::future::join_all(uploads),
        futures_util::future::join_all(refusals),
    )
    .await;
    for reply in refused {
        assert_eq!(reply.status, 400, "{}", reply.body);
        refused_ids.push(
            reply.body["RequestId"]
                .as_str()
                .expect("a RequestId")
                .to_string(),
        );
    }
    for id in &ids {
        stack.wait_processed(ALICE, id).await;
    }
    stack.stop().await;
    let text = without_colours(&String::from_utf8_lossy(&logs.lock().expect("the logs")));
    for id in &refused_ids {
        assert!(
            text.lines()
                .any(|l| l.contains(id.as_str()) && l.contains("request refused")),
            "no refusal line names {id}"
        );
    }
    // Folio's request span, nested in another's on a line, would show twice (the AWS SDK's
    // own `request_id=` fields on its debug lines are not Folio's).
    for line in text.lines() {
        assert!(
            line.matches("request{operation=").count() <= 1,
            "a line carries two requests' ids: {line}"
        );
    }
    let recorded: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("upload recorded") && ids.iter().any(|id| l.contains(id.as_str())))
        .collect();
    assert_eq!(recorded.len(), ids.len(), "{recorded:?}");
    for line in recorded {
        assert!(line.contains("message_id="), "{line}");
        assert!(!line.contains("request_id="), "{line}");
    }
}

/// A key store that cannot be read.
struct BrokenKeys;

#[async_trait::async_trait]
impl folio_shared::auth::KeyStore for BrokenKeys {
    async fn bearer(
        &self,
        _key: &str,
    ) -> Result<Option<folio_shared::tenant::Tenant>, folio_shared::error::PortError> {
        Err(folio_shared::error::PortError::backend(
            "reading a key",
            "the key table's disk is on fire",
        ))
    }
    async fn signing_key(
        &self,
        _access_key_id: &str,
    ) -> Result<Option<folio_shared::auth::SigningKey>, folio_shared::error::PortError> {
        Err(folio_shared::error::PortError::backend(
            "reading a key",
            "the key table's disk is on fire",
        ))
    }
}

/// A key store that fails answers 503 without its cause, and the log line under the same
/// `RequestId` says the cause.
#[tokio::test]
async fn a_key_store_failure_is_logged_with_its_cause_under_the_request_id() {
    let logs = crate::jobs::captured_logs();
    let stack = Stack::embedded().await;
    let mut app = folio_shared::app::App::new(stack.running.app.config.clone(), &stack.sdk);
    app.keys = Some(std::sync::Arc::new(BrokenKeys));
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::AUTHORIZATION,
        http::HeaderValue::from_static("Bearer folio_someone"),
    );
    let uri: http::Uri = "/ListProjects".parse().expect("a path");
    let Err(refusal) =
        folio_shared::edge::authenticate(&app, &http::Method::GET, &uri, &headers, b"").await
    else {
        panic!("a caller was let in while the key store failed");
    };
    assert_eq!(refusal.status, 503);
    let body: Value = serde_json::from_str(&refusal.body).expect("a JSON refusal");
    assert_eq!(body["Code"], "ServiceUnavailable");
    assert!(
        !refusal.body.contains("on fire"),
        "the cause stays in the log: {}",
        refusal.body
    );
    let request_id = body["RequestId"].as_str().expect("a RequestId");
    stack.stop().await;
    let text = without_colours(&String::from_utf8_lossy(&logs.lock().expect("the logs")));
    assert!(
        text.lines()
            .any(|l| l.contains(request_id) && l.contains("the key table's disk is on fire")),
        "no line names {request_id} with the cause"
    );
}

/// `text` without ANSI colour sequences (`ESC [ ... m`).
fn without_colours(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
