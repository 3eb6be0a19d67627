//! Images-to-PDF tasks end to end: projects, CreateImageToPDFTask, the worker writing to S3,
//! GetTask and ListTasks, the IMM message; and what happens when things go wrong.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use folio_shared::dead_letter::DeadLetterWorker;
use folio_shared::task::model::TaskMessage;
use folio_shared::task::worker::PdfWorker;
use serde_json::{Value, json};

use crate::harness::{ALICE, BOB, Reply, Stack, jpeg, png, signature_is_valid, unix_now};
use crate::on_both_backends;
use crate::receiver::Receiver;

const ROLE: &str = "arn:aws:iam::123456789012:role/folio-tests";

const SVG: &str = r#"<svg xmlns="http://www.w3.org/2000/svg" width="40" height="30">
  <rect width="40" height="30" fill="blue"/><text x="2" y="20" font-size="12">Hi</text></svg>"#;

fn tenant_key(tenant: &str) -> String {
    folio_shared::tenant::Tenant::new(tenant)
        .expect("a tenant")
        .key()
        .to_string()
}

impl Stack {
    /// A stack whose PDF tasks go to a queue nobody polls: the test runs the worker itself.
    async fn with_unpolled_tasks() -> Stack {
        let url = crate::harness::unpolled_queue().await;
        Stack::start_with(vec![("FOLIO_PDF_QUEUE_URL", url)]).await
    }

    pub async fn project(&self, key: &str, name: &str) {
        let reply = self
            .post(
                key,
                "CreateProject",
                json!({"ProjectName": name, "ServiceRole": ROLE}),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }

    /// A bucket of the test's own, with `objects` in it.
    async fn bucket(&self, objects: &[(&str, Vec<u8>)]) -> String {
        self.bucket_with("photos-", objects).await
    }

    async fn task(&self, key: &str, project: &str, task_id: &str) -> Reply {
        self.get(
            key,
            "GetTask",
            &[
                ("ProjectName", project),
                ("TaskType", "ImageToPDF"),
                ("TaskId", task_id),
            ],
        )
        .await
    }

    /// Polls GetTask until the task is no longer running (at most 30 s).
    pub(crate) async fn wait_task(&self, key: &str, project: &str, task_id: &str) -> Value {
        for _ in 0..150 {
            let reply = self.task(key, project, task_id).await;
            assert_eq!(reply.status, 200, "{}", reply.body);
            if reply.body["Status"] != "Running" {
                return reply.body;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("task {task_id} did not end within 30 s");
    }

    async fn create_task(&self, key: &str, request: Value) -> String {
        let reply = self.post(key, "CreateImageToPDFTask", request).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let id = reply.body["TaskId"].as_str().expect("a TaskId").to_string();
        assert!(id.starts_with("ImageToPDF-"), "{id}");
        assert!(reply.body["EventId"].is_string());
        id
    }
}

fn pdf_facts(pdf: &[u8]) -> (String, String) {
    let dir = std::env::temp_dir().join(format!("folio-task-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("out.pdf");
    std::fs::write(&path, pdf).unwrap();
    let check = std::process::Command::new("qpdf")
        .arg("--check")
        .arg(&path)
        .output()
        .expect("qpdf runs (make test installs it)");
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    let info = std::process::Command::new("pdfinfo")
        .args(["-f", "1", "-l", "100"])
        .arg(&path)
        .output()
        .expect("pdfinfo runs");
    let _ = std::fs::remove_dir_all(&dir);
    (
        String::from_utf8_lossy(&check.stdout).into_owned(),
        String::from_utf8_lossy(&info.stdout).into_owned(),
    )
}

on_both_backends! {
async fn three_images_become_one_pdf_and_one_signed_imm_message(home) {
    let stack = Stack::at(home, Vec::new()).await;
    let hook = Receiver::start(&[]).await;
    stack.project(ALICE, "album").await;
    let bucket = stack
        .bucket(&[
            ("in/photo.jpg", jpeg(64, 32)),
            ("in/alpha.png", png(20, 10)),
            ("in/drawing.svg", SVG.as_bytes().to_vec()),
        ])
        .await;
    let target = format!("s3://{bucket}/out/album.pdf");
    let id = stack
        .create_task(
            ALICE,
            json!({
                "ProjectName": "album",
                "Sources": [
                    {"URI": format!("s3://{bucket}/in/photo.jpg"), "Rotate": 90},
                    {"URI": format!("s3://{bucket}/in/alpha.png")},
                    {"URI": format!("s3://{bucket}/in/drawing.svg")},
                ],
                "TargetURI": target,
                "UserData": "order-7",
                "Tags": {"User": "Jane"},
                "Notification": {"Webhook": {"URL": hook.url}},
            }),
        )
        .await;
    let task = stack.wait_task(ALICE, "album", &id).await;
    assert_eq!(task["Status"], "Succeeded", "{task}");
    assert_eq!(task["Progress"], 100);
    assert_eq!(task["Output"]["PageCount"], 3);
    assert_eq!(task["UserData"], "order-7");
    assert_eq!(task["Tags"], json!({"User": "Jane"}));
    assert!(task["EndTime"].is_string() && task["StartTime"].is_string());

    let pdf = stack
        .object(&bucket, "out/album.pdf")
        .await
        .expect("the PDF");
    assert_eq!(task["Output"]["Size"], pdf.len());
    let (_, info) = pdf_facts(&pdf);
    assert!(info.contains("Pages:           3"), "{info}");
    // 64x32 pixels at 96 dpi is 48x24 pt; turned 90 degrees it stands upright.
    assert!(info.contains("Page    1 size:  24 x 48 pts"), "{info}");
    assert!(info.contains("Page    2 size:  15 x 7.5 pts"), "{info}");
    assert!(info.contains("Page    3 size:  30 x 22.5 pts"), "{info}");

    let secret = stack.get(ALICE, "GetWebhookSecret", &[]).await;
    let secret = secret.body["WebhookSecret"].as_str().unwrap().to_string();
    let got = hook.wait_for(1, 20).await;
    let message = &got[0];
    assert!(signature_is_valid(
        &secret,
        message.header("folio-signature"),
        &message.body
    ));
    let body = message.json();
    for (field, value) in [
        ("ProjectName", json!("album")),
        ("TaskId", json!(id)),
        ("TaskType", json!("ImageToPDF")),
        ("Status", json!("Succeeded")),
        ("Code", json!("")),
        ("UserData", json!("order-7")),
        ("Tags", json!({"User": "Jane"})),
    ] {
        assert_eq!(body[field], value, "{field} in {body}");
    }
    assert_eq!(body["StartTime"], task["StartTime"]);
    assert_eq!(body["EndTime"], task["EndTime"]);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(hook.received().len(), 1, "one message");
    stack.stop().await;
}
}

on_both_backends! {
/// A request written for IMM, every URI `oss://`, runs unchanged; answers, the message and
/// failures give the URIs back as `oss://`.
async fn oss_uris_name_the_same_buckets_and_come_back_as_sent(home) {
    let stack = Stack::at(home, Vec::new()).await;
    let hook = Receiver::start(&[]).await;
    stack.project(ALICE, "oss").await;
    let bucket = stack
        .bucket(&[("in/photo.jpg", jpeg(64, 32)), ("in/alpha.png", png(20, 10))])
        .await;
    let id = stack
        .create_task(
            ALICE,
            json!({
                "ProjectName": "oss",
                "Sources": [
                    {"URI": format!("oss://{bucket}/in/photo.jpg")},
                    {"URI": format!("oss://{bucket}/in/alpha.png")},
                ],
                "TargetURI": format!("oss://{bucket}/out/album.pdf"),
                "Notification": {"Webhook": {"URL": hook.url}},
            }),
        )
        .await;
    let task = stack.wait_task(ALICE, "oss", &id).await;
    assert_eq!(task["Status"], "Succeeded", "{task}");
    assert_eq!(task["Output"]["URI"], format!("oss://{bucket}/out/album.pdf"));
    assert_eq!(task["Output"]["PageCount"], 2);
    assert!(stack.object(&bucket, "out/album.pdf").await.is_some());
    let message = hook.wait_for(1, 20).await[0].json();
    assert_eq!(message["Output"]["URI"], format!("oss://{bucket}/out/album.pdf"));

    let missing = stack
        .create_task(
            ALICE,
            json!({
                "ProjectName": "oss",
                "Sources": [{"URI": format!("oss://{bucket}/in/missing.jpg")}],
                "TargetURI": format!("oss://{bucket}/out/none.pdf"),
            }),
        )
        .await;
    let failed = stack.wait_task(ALICE, "oss", &missing).await;
    assert_eq!(failed["Status"], "Failed", "{failed}");
    let why = failed["Message"].as_str().unwrap_or_default();
    assert!(why.contains(&format!("oss://{bucket}/in/missing.jpg")), "{why}");
    stack.stop().await;
}
}

on_both_backends! {
async fn bad_requests_are_refused_naming_the_field(home) {
    let stack = Stack::at(home, Vec::new()).await;
    stack.project(ALICE, "checks").await;
    let source = json!({"URI": "s3://photos-bucket/a.jpg"});
    let base = json!({
        "ProjectName": "checks",
        "Sources": [source],
        "TargetURI": "s3://photos-bucket/out.pdf",
    });
    let with = |field: &str, value: Value| {
        let mut request = base.clone();
        request[field] = value;
        request
    };
    let cases = [
        (
            with("Sources", json!(vec![source.clone(); 101])),
            400,
            "Sources: must hold 1 to 100 images, got 101",
        ),
        (
            with("Sources", json!([])),
            400,
            "Sources: must hold 1 to 100",
        ),
        (
            with(
                "Sources",
                json!([{"URI": "s3://photos-bucket/a.jpg", "Rotate": 45}]),
            ),
            400,
            "Sources[0].Rotate: must be 0, 90, 180 or 270",
        ),
        (
            with("Sources", json!([{"URI": "gs://photos-bucket/a.jpg"}])),
            400,
            "Sources[0].URI",
        ),
        (
            with("Sources", json!([{"Rotate": 90}])),
            400,
            "Sources[0].URI: the parameter is required",
        ),
        (
            with("TargetURI", json!("s3://photos-bucket/")),
            400,
            "TargetURI: must name an object",
        ),
        (
            with("UserData", json!("x".repeat(2049))),
            400,
            "UserData: is 2049 bytes long",
        ),
        (
            with("Tags", json!({"a": [1]})),
            400,
            "Tags.a: must be a string, a number or a boolean",
        ),
        (
            with("Notification", json!({"MNS": {"TopicName": "t"}})),
            400,
            "Notification.MNS",
        ),
        (
            with("Notification", json!({"Webhook": {"URL": "ftp://x/y"}})),
            400,
            "Notification.Webhook.URL",
        ),
        (
            with(
                "Notification",
                json!({"SNS": {"TopicArn": "arn:aws:sns:us-east-1:123456789012:payroll"}}),
            ),
            400,
            "Notification.SNS.TopicArn: Folio publishes only to names that start with \"folio-\"",
        ),
        (
            with(
                "Notification",
                json!({"EventBridge": {"EventBusName": "default"}}),
            ),
            400,
            "Notification.EventBridge.EventBusName",
        ),
        (
            with("CredentialConfig", json!({"Chain": [{"Role": "admin"}]})),
            400,
            "CredentialConfig.Chain[0].Role",
        ),
        (with("PageSize", json!("Z9")), 400, "PageSize"),
        (with("JpegQuality", json!(0)), 400, "JpegQuality"),
        (
            with("ProjectName", json!("nope")),
            404,
            "ProjectName: no project named \"nope\"",
        ),
        (
            with("ProjectName", json!("9lives")),
            400,
            "ProjectName: must start with a letter",
        ),
    ];
    for (request, status, message) in cases {
        let reply = stack.post(ALICE, "CreateImageToPDFTask", request).await;
        assert_eq!(reply.status, status, "{message}: {}", reply.body);
        assert!(
            reply.message().starts_with(message),
            "{message} vs {}",
            reply.body
        );
    }
    let oss = stack
        .post(
            ALICE,
            "CreateImageToPDFTask",
            with("Sources", json!([{"URI": "oss://b/k.jpg"}])),
        )
        .await;
    // An oss:// URI is checked as an s3:// one is.
    assert_eq!(oss.status, 400, "{}", oss.body);
    assert!(
        oss.message()
            .starts_with("Sources[0].URI: \"b\" is not a valid bucket name"),
        "{}",
        oss.body
    );

    let project = |name: &str, role: &str| json!({"ProjectName": name, "ServiceRole": role});
    let dup = stack
        .post(ALICE, "CreateProject", project("checks", ROLE))
        .await;
    assert_eq!(
        (dup.status, dup.body["Code"].as_str()),
        (409, Some("ResourceAlreadyExists"))
    );
    let bad_role = stack
        .post(ALICE, "CreateProject", project("other", "admin"))
        .await;
    assert_eq!(bad_role.status, 400);
    assert!(bad_role.message().starts_with("ServiceRole:"));
    let missing = stack.task(ALICE, "checks", "ImageToPDF-nope").await;
    assert_eq!(
        (missing.status, missing.body["Code"].as_str()),
        (404, Some("ResourceNotFound"))
    );
    stack.stop().await;
}
}

on_both_backends! {
async fn a_missing_or_corrupt_source_fails_the_task_naming_it(home) {
    let stack = Stack::at(home, Vec::new()).await;
    let hook = Receiver::start(&[]).await;
    stack.project(ALICE, "broken").await;
    let bucket = stack
        .bucket(&[
            ("ok.jpg", jpeg(8, 8)),
            ("corrupt.png", b"this is not a picture".to_vec()),
        ])
        .await;
    let request = |sources: Value, out: &str| {
        json!({
            "ProjectName": "broken",
            "Sources": sources,
            "TargetURI": format!("s3://{bucket}/{out}"),
            "Notification": {"Webhook": {"URL": hook.url}},
        })
    };
    let missing = stack
        .create_task(
            ALICE,
            request(
                json!([{"URI": format!("s3://{bucket}/ok.jpg")}, {"URI": format!("s3://{bucket}/gone.jpg")}]),
                "missing.pdf",
            ),
        )
        .await;
    let corrupt = stack
        .create_task(
            ALICE,
            request(
                json!([{"URI": format!("s3://{bucket}/ok.jpg")}, {"URI": format!("s3://{bucket}/ok.jpg")}, {"URI": format!("s3://{bucket}/corrupt.png")}]),
                "corrupt.pdf",
            ),
        )
        .await;
    let task = stack.wait_task(ALICE, "broken", &missing).await;
    assert_eq!(task["Status"], "Failed");
    assert_eq!(task["Code"], "ResourceNotFound");
    assert_eq!(
        task["Message"],
        format!("Sources[1] (s3://{bucket}/gone.jpg) does not exist")
    );
    let task = stack.wait_task(ALICE, "broken", &corrupt).await;
    assert_eq!(task["Status"], "Failed");
    assert_eq!(task["Code"], "InvalidImage");
    let message = task["Message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!("Sources[2] (s3://{bucket}/corrupt.png): ")),
        "{message}"
    );
    // Nothing half-written: no PDF appears for a failed task.
    assert!(stack.object(&bucket, "missing.pdf").await.is_none());
    assert!(stack.object(&bucket, "corrupt.pdf").await.is_none());
    let got = hook.wait_for(2, 20).await;
    assert!(got.iter().all(|m| m.json()["Status"] == "Failed"));
    stack.stop().await;
}
}

fn message_of(tenant: &str, project: &str, task_id: &str) -> TaskMessage {
    TaskMessage {
        tenant_key: tenant_key(tenant),
        project_name: project.into(),
        task_id: task_id.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redelivered_and_taken_over_runs_end_the_task_once() {
    let stack = Stack::with_unpolled_tasks().await;
    let hook = Receiver::start(&[]).await;
    stack.project(ALICE, "once").await;
    let bucket = stack.bucket(&[("a.jpg", jpeg(16, 16))]).await;
    let s3 = folio_shared::aws::s3_client(&stack.sdk);
    s3.put_bucket_versioning()
        .bucket(&bucket)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let id = stack
        .create_task(
            ALICE,
            json!({
                "ProjectName": "once",
                "Sources": [{"URI": format!("s3://{bucket}/a.jpg")}],
                "TargetURI": format!("s3://{bucket}/once.pdf"),
                "Notification": {"Webhook": {"URL": hook.url}},
            }),
        )
        .await;
    let app = stack.running.app.clone();
    let message = message_of("tenant-alice", "once", &id);

    // A first run claims the task and dies mid-way, its upload half done.
    let dead = app
        .tasks
        .claim(&message.tenant_key, "once", &id, "run-that-died")
        .await
        .unwrap();
    let storage = app
        .roles
        .storage_as(&[ROLE.to_string()], &message.tenant_key)
        .await
        .unwrap();
    let abandoned = storage.start_upload(&dead.job.target).await.unwrap();
    storage
        .upload_part(&dead.job.target, &abandoned, 1, b"%PDF-1.7 half".to_vec())
        .await
        .unwrap();
    app.tasks
        .record_upload(&dead, "run-that-died", &abandoned)
        .await
        .unwrap();

    // The message comes back: a new run takes over and finishes; then it comes back again.
    let worker = PdfWorker { app: app.clone() };
    worker.process(&message).await.unwrap();
    worker.process(&message).await.unwrap();
    let task = stack.wait_task(ALICE, "once", &id).await;
    assert_eq!(task["Status"], "Succeeded", "{task}");
    let record = app
        .tasks
        .get(&message.tenant_key, "once", &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        record.attempts, 2,
        "the dead run and the one that took over"
    );

    // The dead run wakes up: every write it tries is refused.
    assert!(
        app.tasks
            .progress(&dead, "run-that-died", 50)
            .await
            .is_err()
    );
    let end = folio_shared::ports::TaskEnd::Failed(folio_shared::task::model::TaskFailure::new(
        "InternalError",
        "late",
    ));
    assert!(
        app.tasks
            .finish(&dead, Some("run-that-died"), &end)
            .await
            .is_err()
    );
    assert_eq!(
        stack.task(ALICE, "once", &id).await.body["Status"],
        "Succeeded"
    );

    // One PDF (one version of the object) and one notification.
    let versions = s3
        .list_object_versions()
        .bucket(&bucket)
        .prefix("once.pdf")
        .send()
        .await
        .unwrap();
    assert_eq!(versions.versions().len(), 1);
    // The dead run's multipart upload was aborted by the run that took over: no parts are
    // left open in the user's bucket.
    let open = s3
        .list_multipart_uploads()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert!(open.uploads().is_empty(), "{:?}", open.uploads());
    let (_, info) = pdf_facts(&stack.object(&bucket, "once.pdf").await.unwrap());
    assert!(info.contains("Pages:           1"), "{info}");
    hook.wait_for(1, 20).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(hook.received().len(), 1);

    // A task whose message kept failing is ended by the dead-letter worker, and announced.
    let stuck = stack
        .create_task(
            ALICE,
            json!({
                "ProjectName": "once",
                "Sources": [{"URI": format!("s3://{bucket}/a.jpg")}],
                "TargetURI": format!("s3://{bucket}/stuck.pdf"),
                "Notification": {"Webhook": {"URL": hook.url}},
            }),
        )
        .await;
    let dead_letter = folio_shared::queue::QueueMessage {
        id: "m-1".into(),
        body: serde_json::to_string(&message_of("tenant-alice", "once", &stuck)).unwrap(),
        receive_count: 1,
        receipt_handle: None,
        group: None,
    };
    let dead_letters = DeadLetterWorker { app: app.clone() };
    folio_shared::queue::QueueWorker::handle(&dead_letters, &dead_letter)
        .await
        .unwrap();
    let task = stack.task(ALICE, "once", &stuck).await.body;
    assert_eq!(
        (task["Status"].as_str(), task["Code"].as_str()),
        (Some("Failed"), Some("InternalError"))
    );
    let got = hook.wait_for(2, 20).await;
    assert_eq!(got[1].json()["TaskId"], stuck);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_are_private_and_idempotency_keys_return_the_same_task() {
    let stack = Stack::with_unpolled_tasks().await;
    stack.project(ALICE, "mine").await;
    let request = json!({
        "ProjectName": "mine",
        "Sources": [{"URI": "s3://photos-bucket/a.jpg"}],
        "TargetURI": "s3://photos-bucket/a.pdf",
    });
    let post = |key: &'static str, body: Value, idempotency: &'static str| {
        let stack = &stack;
        async move {
            let response = stack
                .http
                .post(format!("{}/CreateImageToPDFTask", stack.base))
                .bearer_auth(key)
                .header("Idempotency-Key", idempotency)
                .json(&body)
                .send()
                .await
                .unwrap();
            (
                response.status().as_u16(),
                response.json::<Value>().await.unwrap(),
            )
        }
    };
    let (status, first) = post(ALICE, request.clone(), "order-1").await;
    assert_eq!(status, 200, "{first}");
    let (_, again) = post(ALICE, request.clone(), "order-1").await;
    assert_eq!(again["TaskId"], first["TaskId"]);
    assert_eq!(again["EventId"], first["EventId"]);
    let mut changed = request.clone();
    changed["UserData"] = json!("other");
    let (status, conflict) = post(ALICE, changed, "order-1").await;
    assert_eq!(
        (status, conflict["Code"].as_str()),
        (409, Some("InvalidState")),
        "{conflict}"
    );
    let listed = stack
        .get(ALICE, "ListTasks", &[("ProjectName", "mine")])
        .await;
    assert_eq!(listed.body["Tasks"].as_array().unwrap().len(), 1);

    // Bob sees none of it, and his own project of the same name is his alone.
    let id = first["TaskId"].as_str().unwrap();
    assert_eq!(stack.task(BOB, "mine", id).await.status, 404);
    assert_eq!(
        stack
            .get(BOB, "ListTasks", &[("ProjectName", "mine")])
            .await
            .status,
        404
    );
    assert_eq!(
        stack
            .get(BOB, "GetProject", &[("ProjectName", "mine")])
            .await
            .status,
        404
    );
    stack.project(BOB, "mine").await;
    assert_eq!(stack.task(BOB, "mine", id).await.status, 404);
    let (status, bobs) = post(BOB, request.clone(), "order-1").await;
    assert_eq!(status, 200);
    assert_ne!(bobs["TaskId"], first["TaskId"]);
    let bob_list = stack
        .get(BOB, "ListTasks", &[("ProjectName", "mine")])
        .await;
    let bob_ids: Vec<&Value> = bob_list.body["Tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["TaskId"])
        .collect();
    assert_eq!(bob_ids, vec![&bobs["TaskId"]]);
    // Alice's task is unchanged by Bob's calls.
    let alice_task = stack.task(ALICE, "mine", id).await.body;
    assert_eq!(alice_task["Status"], "Running");
    assert_eq!(
        stack
            .get(ALICE, "ListTasks", &[("ProjectName", "mine")])
            .await
            .body["Tasks"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_tasks_filters_paginates_and_hides_expired_tasks() {
    let stack = Stack::with_unpolled_tasks().await;
    stack.project(ALICE, "many").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let user = if i < 3 { "a" } else { "b" };
        let id = stack
            .create_task(
                ALICE,
                json!({
                    "ProjectName": "many",
                    "Sources": [{"URI": "s3://photos-bucket/a.jpg"}],
                    "TargetURI": format!("s3://photos-bucket/{i}.pdf"),
                    "Tags": {"User": user},
                }),
            )
            .await;
        ids.push(id);
        // Distinct start times, so the order is known.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Task 1 fails: the dead-letter worker ends it.
    let app = stack.running.app.clone();
    let dead_letters = DeadLetterWorker { app: app.clone() };
    let body = serde_json::to_string(&message_of("tenant-alice", "many", &ids[1])).unwrap();
    folio_shared::queue::QueueWorker::handle(
        &dead_letters,
        &folio_shared::queue::QueueMessage {
            id: "m".into(),
            body,
            receive_count: 1,
            receipt_handle: None,
            group: None,
        },
    )
    .await
    .unwrap();

    let list = |query: Vec<(&'static str, String)>| {
        let stack = &stack;
        async move {
            let mut q: Vec<(&str, &str)> = vec![("ProjectName", "many")];
            q.extend(query.iter().map(|(k, v)| (*k, v.as_str())));
            stack.get(ALICE, "ListTasks", &q).await
        }
    };
    let task_ids = |reply: &Reply| -> Vec<String> {
        reply.body["Tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["TaskId"].as_str().unwrap().to_string())
            .collect()
    };

    // Newest first by default, two at a time.
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..5 {
        let mut query = vec![("MaxResults", "2".to_string())];
        if let Some(t) = &token {
            query.push(("NextToken", t.clone()));
        }
        let reply = list(query).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        seen.extend(task_ids(&reply));
        token = reply.body["NextToken"].as_str().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(seen, newest_first);

    let by_tag = list(vec![
        ("TagSelector", "User=a".into()),
        ("Order", "ASC".into()),
    ])
    .await;
    assert_eq!(task_ids(&by_tag), ids[..3].to_vec());
    let failed = list(vec![("Status", "Failed".into())]).await;
    assert_eq!(task_ids(&failed), vec![ids[1].clone()]);
    let by_id = list(vec![("Sort", "TaskId".into()), ("Order", "ASC".into())]).await;
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(task_ids(&by_id), sorted);
    let by_end = list(vec![
        ("Sort", "EndTime".into()),
        ("Order", "ASC".into()),
        ("MaxResults", "1".into()),
    ])
    .await;
    assert_eq!(
        task_ids(&by_end),
        vec![ids[1].clone()],
        "the only ended task first"
    );
    let future = list(vec![(
        "StartTimeRange",
        json!({"Start": "2099-01-01T00:00:00Z"}).to_string(),
    )])
    .await;
    assert_eq!(task_ids(&future), Vec::<String>::new());
    let wrong_token = list(vec![
        ("Sort", "TaskId".into()),
        (
            "NextToken",
            by_end.body["NextToken"].as_str().unwrap().into(),
        ),
    ])
    .await;
    assert_eq!(wrong_token.status, 400);
    assert!(wrong_token.message().starts_with("NextToken"));
    for (field, value) in [
        ("MaxResults", "0"),
        ("Status", "Done"),
        ("Sort", "Size"),
        ("TaskTypes", "Video"),
        ("TagSelector", "nokey"),
    ] {
        let reply = list(vec![(field, value.into())]).await;
        assert_eq!(reply.status, 400, "{field}={value}: {}", reply.body);
        assert!(reply.message().starts_with(field), "{}", reply.body);
    }

    // Task 3 expires (DynamoDB would delete it hours later): absent at once.
    aws_sdk_dynamodb::Client::new(&stack.sdk)
        .update_item()
        .table_name(&stack.aws().names.table)
        .key(
            "pk",
            AttributeValue::S(format!("{}#TASKS#many", tenant_key("tenant-alice"))),
        )
        .key("sk", AttributeValue::S(format!("TASK#{}", ids[3])))
        .update_expression("SET ExpiresAt = :past")
        .expression_attribute_values(":past", AttributeValue::N((unix_now() - 1).to_string()))
        .send()
        .await
        .unwrap();
    assert_eq!(stack.task(ALICE, "many", &ids[3]).await.status, 404);
    let all = list(vec![]).await;
    assert!(!task_ids(&all).contains(&ids[3]));
    assert_eq!(task_ids(&all).len(), 4);
    stack.stop().await;
}

on_both_backends! {
async fn projects_are_listed_page_by_page_and_deleted(home) {
    let stack = Stack::at(home, Vec::new()).await;
    for name in ["p-c", "p-a", "p-b"] {
        stack.project(ALICE, name).await;
    }
    let first = stack
        .get(ALICE, "ListProjects", &[("MaxResults", "2")])
        .await;
    let names = |r: &Reply| -> Vec<String> {
        r.body["Projects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["ProjectName"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&first), vec!["p-a", "p-b"]);
    let token = first.body["NextToken"].as_str().unwrap();
    let second = stack
        .get(
            ALICE,
            "ListProjects",
            &[("MaxResults", "2"), ("NextToken", token)],
        )
        .await;
    assert_eq!(names(&second), vec!["p-c"]);
    assert!(second.body["NextToken"].is_null());
    let got = stack
        .get(ALICE, "GetProject", &[("ProjectName", "p-a")])
        .await;
    assert_eq!(got.body["Project"]["ServiceRole"], ROLE);
    assert_eq!(
        got.body["Project"]["ExternalId"],
        tenant_key("tenant-alice")
    );
    assert_eq!(
        stack
            .post(ALICE, "DeleteProject", json!({"ProjectName": "p-a"}))
            .await
            .status,
        200
    );
    assert_eq!(
        stack
            .get(ALICE, "GetProject", &[("ProjectName", "p-a")])
            .await
            .status,
        404
    );
    assert_eq!(
        stack
            .post(ALICE, "DeleteProject", json!({"ProjectName": "p-a"}))
            .await
            .status,
        404
    );
    assert_eq!(
        names(&stack.get(BOB, "ListProjects", &[]).await),
        Vec::<String>::new()
    );

    // UpdateProject changes what it is given and keeps the rest; another tenant's project
    // or a deleted one is not found; bad values are refused naming the field.
    let update = |body: Value| stack.post(ALICE, "UpdateProject", body);
    let changed = update(json!({"ProjectName": "p-b", "Description": "now", "Tags": {"k": "v"}})).await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    let project = &changed.body["Project"];
    assert_eq!(project["Description"], "now");
    assert_eq!(project["Tags"], json!([{"TagKey": "k", "TagValue": "v"}]));
    assert_eq!(project["ServiceRole"], ROLE, "{project}");
    for (body, status, field) in [
        (json!({"ProjectName": "p-b", "ServiceRole": "not-a-role"}), 400, "ServiceRole"),
        (json!({"ProjectName": "p-b", "Description": "x".repeat(300)}), 400, "Description"),
        (json!({"ProjectName": "p-a", "Description": "gone"}), 404, "ProjectName"),
        (json!({"Description": "no name"}), 400, "ProjectName"),
    ] {
        let reply = update(body).await;
        assert_eq!(reply.status, status, "{field}: {}", reply.body);
        assert!(reply.message().contains(field), "{field}: {}", reply.body);
    }
    let bob = stack
        .post(BOB, "UpdateProject", json!({"ProjectName": "p-b", "Description": "mine"}))
        .await;
    assert_eq!(bob.status, 404, "{}", bob.body);
    stack.stop().await;
}
}

/// A JPEG of noise compresses badly: a few of them make a PDF of several 8 MiB parts.
fn noisy_jpeg(width: u32, height: u32, seed: u32) -> Vec<u8> {
    let mut state = seed.wrapping_mul(2_654_435_761).max(1);
    let img = image::RgbImage::from_fn(width, height, |_, _| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        image::Rgb(state.to_le_bytes()[..3].try_into().expect("three bytes"))
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 100)
        .encode_image(&img)
        .expect("encoding a JPEG");
    out.into_inner()
}

on_both_backends! {
async fn a_pdf_of_several_parts_is_whole_and_in_order(home) {
    let stack = Stack::at(home, Vec::new()).await;
    stack.project(ALICE, "large").await;
    let images: Vec<Vec<u8>> = (0..6)
        .map(|i| noisy_jpeg(1400, 1000 + i * 10, i + 1))
        .collect();
    let total: usize = images.iter().map(Vec::len).sum();
    assert!(
        total > 2 * (8 << 20),
        "the PDF needs at least three parts ({total} bytes)"
    );
    let objects: Vec<(String, Vec<u8>)> = images
        .iter()
        .enumerate()
        .map(|(i, data)| (format!("in/{i}.jpg"), data.clone()))
        .collect();
    let named: Vec<(&str, Vec<u8>)> = objects
        .iter()
        .map(|(k, d)| (k.as_str(), d.clone()))
        .collect();
    let bucket = stack.bucket(&named).await;
    let sources: Vec<Value> = (0..images.len())
        .map(|i| json!({"URI": format!("s3://{bucket}/in/{i}.jpg")}))
        .collect();
    let id = stack
        .create_task(
            ALICE,
            json!({"ProjectName": "large", "Sources": sources, "TargetURI": format!("s3://{bucket}/large.pdf")}),
        )
        .await;
    let task = stack.wait_task(ALICE, "large", &id).await;
    assert_eq!(task["Status"], "Succeeded", "{task}");
    let pdf = stack.object(&bucket, "large.pdf").await.expect("the PDF");
    assert_eq!(task["Output"]["Size"], pdf.len());
    let (_, info) = pdf_facts(&pdf);
    assert!(info.contains("Pages:           6"), "{info}");
    // Each JPEG is in the PDF byte for byte, in the order given.
    let mut at = 0;
    for (i, image) in images.iter().enumerate() {
        let found = pdf[at..]
            .windows(image.len())
            .position(|w| w == image.as_slice())
            .unwrap_or_else(|| panic!("image {i} is not in the PDF after byte {at}"));
        at += found + image.len();
    }
    // Page heights follow the sources' order (1000, 1010, ... pixels at 96 dpi).
    for i in 0..6 {
        let height = (1000 + i * 10) as f64 * 0.75;
        assert!(
            info.contains(&format!("Page    {} size:  1050 x {} pts", i + 1, height)),
            "page {}: {info}",
            i + 1
        );
    }
    stack.stop().await;
}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_task_message_reaches_the_topic_the_request_names() {
    let stack = Stack::start().await;
    stack.project(ALICE, "topics").await;
    let topic = aws_sdk_sns::Client::new(&stack.sdk)
        .create_topic()
        .name(format!(
            "folio-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        ))
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let queue = stack.subscribe_queue(&topic).await;
    let bucket = stack.bucket(&[("a.jpg", jpeg(8, 8))]).await;
    let id = stack
        .create_task(
            ALICE,
            json!({
                "ProjectName": "topics",
                "Sources": [{"URI": format!("s3://{bucket}/a.jpg")}],
                "TargetURI": format!("s3://{bucket}/a.pdf"),
                "UserData": "via SNS",
                "Notification": {"SNS": {"TopicArn": topic}},
            }),
        )
        .await;
    let message = stack.receive_sns(&queue).await;
    assert_eq!(message["TaskId"], id, "{message}");
    assert_eq!(message["Status"], "Succeeded");
    assert_eq!(message["UserData"], "via SNS");
    stack.stop().await;
}

on_both_backends! {
async fn a_source_over_the_size_limit_fails_the_task_naming_it(home) {
    let stack = Stack::at(home, vec![("FOLIO_MAX_SOURCE_BYTES", "2000".to_string())]).await;
    stack.project(ALICE, "limits").await;
    let big = jpeg(200, 200);
    assert!(big.len() > 2000);
    let bucket = stack
        .bucket(&[("small.jpg", jpeg(8, 8)), ("big.jpg", big.clone())])
        .await;
    let id = stack
        .create_task(
            ALICE,
            json!({
                "ProjectName": "limits",
                "Sources": [
                    {"URI": format!("s3://{bucket}/small.jpg")},
                    {"URI": format!("s3://{bucket}/big.jpg")},
                ],
                "TargetURI": format!("s3://{bucket}/out.pdf"),
            }),
        )
        .await;
    let task = stack.wait_task(ALICE, "limits", &id).await;
    assert_eq!(
        (task["Status"].as_str(), task["Code"].as_str()),
        (Some("Failed"), Some("InvalidImage"))
    );
    assert_eq!(
        task["Message"],
        format!(
            "Sources[1] (s3://{bucket}/big.jpg) is {} bytes; the limit is 2000",
            big.len()
        )
    );
    assert!(stack.object(&bucket, "out.pdf").await.is_none());
    stack.stop().await;
}
}
