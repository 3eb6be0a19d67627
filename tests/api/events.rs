//! Every sample event in `events/` through the handler of its function, as
//! `cargo lambda invoke --data-file events/<name>.json` would send it.

use aws_lambda_events::event::sqs::SqsEvent;
use folio_shared::Operation;
use folio_shared::image::uploaded::UploadWorker;
use folio_shared::queue::handle_sqs_event;
use serde_json::Value;

use crate::harness::Stack;

fn read(name: &str) -> String {
    let path = crate::harness::crate_dir().join("../events").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sample_event_runs_through_its_handler() {
    let stack = Stack::start().await;
    let app = stack.running.app.clone();
    let http = [
        (
            "create-upload-image.json",
            Operation::CreateUploadImage,
            "ImageId",
        ),
        (
            "get-image-infos.json",
            Operation::GetImageInfos,
            "NonExistImageIds",
        ),
        (
            "update-image-infos.json",
            Operation::UpdateImageInfos,
            "NonExistImageIds",
        ),
        (
            "delete-image.json",
            Operation::DeleteImage,
            "NonExistImageIds",
        ),
        (
            "get-webhook-secret.json",
            Operation::GetWebhookSecret,
            "WebhookSecret",
        ),
        // In order: the project the task samples name, then the task.
        ("create-project.json", Operation::CreateProject, "Project"),
        ("create-batch.json", Operation::CreateBatch, "Id"),
        (
            "create-image-to-pdf-task.json",
            Operation::CreateImageToPDFTask,
            "TaskId",
        ),
        ("list-tasks.json", Operation::ListTasks, "Tasks"),
    ];
    for (file, op, field) in http {
        let request =
            lambda_http::request::from_str(&read(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let response = folio_shared::edge::handle_lambda(&app, op, request).await;
        let status = response.status();
        let body: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
        assert_eq!(status, 200, "{file}: {body}");
        assert!(body.get(field).is_some(), "{file}: no {field} in {body}");
        assert!(body["RequestId"].is_string(), "{file}");
    }

    // The GetTask sample names a task no stack has: a clean 404 through the routed edge.
    let request = lambda_http::request::from_str(&read("get-task.json")).unwrap();
    let ops = [Operation::GetTask, Operation::ListTasks];
    let response = folio_shared::edge::handle_routed(&app, &ops, request).await;
    assert_eq!(response.status(), 404);

    // The RPC function's sample: `POST /` with the action in a header and a Bearer key of
    // the key store, no identity from API Gateway. The key is Alice's: the project `samples`
    // is the IAM sample user's, so Alice is told it does not exist (the request reached the
    // operation as hers); an unknown key is refused before.
    let request = lambda_http::request::from_str(&read("rpc-bearer.json")).unwrap();
    let response = folio_shared::edge::handle_routed(&app, &Operation::ALL, request).await;
    let body: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    assert_eq!(response.status(), 404, "{body}");
    assert_eq!(body["Code"], "ResourceNotFound", "{body}");
    let mut text = read("rpc-bearer.json");
    text = text.replace("Bearer key-alice", "Bearer key-nobody");
    let request = lambda_http::request::from_str(&text).unwrap();
    let response = folio_shared::edge::handle_routed(&app, &Operation::ALL, request).await;
    let body: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    assert_eq!(
        (response.status().as_u16(), body["Code"].as_str()),
        (401, Some("InvalidApiKey"))
    );

    // The console function's sample: a sign-in over HTTPS starts a `Secure` session.
    let request = lambda_http::request::from_str(&read("console-sign-in.json")).unwrap();
    let response = folio_shared::edge::handle_console(&app, request).await;
    assert_eq!(response.status(), 303);
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cookie.starts_with("folio_console=S1.") && cookie.contains("; Secure"),
        "{cookie}"
    );

    // The jobs function's sample: a staged job created with Alice's key, its server on the
    // request's host; the job worker's sample (a start and a pair of a job no stack has) is
    // consumed, not failed.
    let request = lambda_http::request::from_str(&read("jobs-create.json")).unwrap();
    let response = folio_shared::edge::handle_v2(&app, request).await;
    let body: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    assert_eq!(response.status(), 201, "{body}");
    assert_eq!(body["status"]["code"], "incomplete");
    assert!(
        body["server"]
            .as_str()
            .unwrap()
            .starts_with("https://abc123.execute-api.us-east-1.amazonaws.com/v2/dl/"),
        "{body}"
    );
    assert_eq!(body["conversion"][0]["options"]["width"], 320);
    let jobs: SqsEvent = serde_json::from_str(&read("job-worker.json")).unwrap();
    let worker = folio_shared::jobs::worker::JobWorker { app: app.clone() };
    assert!(
        handle_sqs_event(&worker, jobs)
            .await
            .batch_item_failures
            .is_empty()
    );

    // The batch worker's sample (a scanner page and an item of a batch no stack has) is
    // consumed, not failed.
    let batches: SqsEvent = serde_json::from_str(&read("batch-worker.json")).unwrap();
    let worker = folio_shared::batch::worker::BatchWorker::new(app.clone());
    assert!(
        handle_sqs_event(&worker, batches)
            .await
            .batch_item_failures
            .is_empty()
    );

    // A PDF task message for a task this stack never created is consumed, not failed.
    let tasks: SqsEvent = serde_json::from_str(&read("pdf-worker.json")).unwrap();
    let worker = folio_shared::task::worker::PdfWorker { app: app.clone() };
    assert!(
        handle_sqs_event(&worker, tasks)
            .await
            .batch_item_failures
            .is_empty()
    );

    // Sample S3 upload events (one real, one s3:TestEvent) for an image this stack never
    // created: both are consumed, neither fails.
    let uploads: SqsEvent = serde_json::from_str(&read("image-uploaded.json")).unwrap();
    assert_eq!(uploads.records.len(), 2);
    let response = handle_sqs_event(&UploadWorker { app: app.clone() }, uploads).await;
    assert!(response.batch_item_failures.is_empty());

    // Dead letters of both kinds are ended without failing.
    let dead: SqsEvent = serde_json::from_str(&read("dead-letter.json")).unwrap();
    assert_eq!(dead.records.len(), 2);
    let worker = folio_shared::dead_letter::DeadLetterWorker { app: app.clone() };
    assert!(
        handle_sqs_event(&worker, dead)
            .await
            .batch_item_failures
            .is_empty()
    );

    // A delivery to the emulator's default EventBridge bus succeeds.
    let deliveries: SqsEvent = serde_json::from_str(&read("notifier.json")).unwrap();
    let response = handle_sqs_event(&app.notifier(), deliveries).await;
    assert!(response.batch_item_failures.is_empty());
    stack.stop().await;
}
