//! Webhook delivery: retried with backoff, stopped by 410, given up after the last attempt;
//! SNS receives the same event.

use serde_json::{Value, json};

use crate::harness::{ALICE, Home, Stack, callback_to, png};
use crate::on_both_backends;
use crate::receiver::Receiver;

async fn stack_with(home: Home, max_attempts: u32) -> Stack {
    Stack::at(
        home,
        vec![
            ("FOLIO_WEBHOOK_RETRY_BASE_SECONDS", "1".to_string()),
            ("FOLIO_WEBHOOK_MAX_ATTEMPTS", max_attempts.to_string()),
        ],
    )
    .await
}

/// Creates an image announcing to `hook`, uploads a PNG, waits until it is processed.
async fn upload_with_callback(stack: &Stack, hook: &Receiver) -> String {
    let request = json!({"ImageType": "default", "UserData": callback_to(&hook.url)});
    let id = stack.upload(ALICE, request, png(8, 8)).await;
    stack.wait_processed(ALICE, &id).await;
    id
}

async fn webhook_outcomes(stack: &Stack, id: &str, n: usize) -> Vec<String> {
    for _ in 0..100 {
        let attempts: Vec<Value> = stack
            .attempts("tenant-alice", id)
            .await
            .into_iter()
            .filter(|a| a["Target"] == "webhook")
            .collect();
        if attempts.len() >= n {
            eprintln!("webhook attempts: {attempts:?}");
            return attempts
                .iter()
                .map(|a| a["Outcome"].as_str().unwrap().to_string())
                .collect();
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("fewer than {n} webhook attempts were recorded");
}

on_both_backends! {
async fn a_failed_webhook_is_retried_with_the_same_event_id(home) {
    let stack = stack_with(home, 5).await;
    let hook = Receiver::start(&[500, 503]).await;
    let id = upload_with_callback(&stack, &hook).await;
    let got = hook.wait_for(3, 30).await;
    assert_eq!(
        got[0].header("folio-event-id"),
        got[2].header("folio-event-id")
    );
    assert_eq!(got[0].body, got[2].body, "the same event each time");
    let outcomes = webhook_outcomes(&stack, &id, 3).await;
    assert_eq!(outcomes, vec!["Retrying", "Retrying", "Delivered"]);
    stack.stop().await;
}
}

on_both_backends! {
async fn a_410_stops_the_retries(home) {
    let stack = stack_with(home, 5).await;
    let hook = Receiver::start(&[410]).await;
    let id = upload_with_callback(&stack, &hook).await;
    hook.wait_for(1, 20).await;
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    assert_eq!(hook.received().len(), 1, "no retry after 410");
    assert_eq!(webhook_outcomes(&stack, &id, 1).await, vec!["Stopped"]);
    stack.stop().await;
}
}

on_both_backends! {
async fn the_last_attempt_gives_up(home) {
    let stack = stack_with(home, 2).await;
    let hook = Receiver::start(&[500, 500, 500]).await;
    let id = upload_with_callback(&stack, &hook).await;
    hook.wait_for(2, 30).await;
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    assert_eq!(hook.received().len(), 2);
    assert_eq!(
        webhook_outcomes(&stack, &id, 2).await,
        vec!["Retrying", "GaveUp"]
    );
    stack.stop().await;
}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sns_subscribers_receive_the_event() {
    let stack = Stack::start().await;
    let queue = stack.subscribe_queue(&stack.aws().topic_arn.clone()).await;
    let (created, url) = stack
        .create_upload(ALICE, json!({"ImageType": "default"}))
        .await;
    let id = created["ImageId"].as_str().unwrap();
    stack.put(&url, png(3, 2)).await;
    let event = stack.receive_sns(&queue).await;
    assert_eq!(event["ImageId"], id, "{event}");
    assert_eq!(event["Status"], "success");
    assert_eq!(event["Width"], 3);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_lettered_upload_ends_failed_and_is_announced() {
    let stack = Stack::start().await;
    let hook = Receiver::start(&[]).await;
    let request = json!({"ImageType": "default", "UserData": callback_to(&hook.url)});
    let (created, _) = stack.create_upload(ALICE, request).await;
    let id = created["ImageId"].as_str().unwrap();
    let file_url = created["FileURL"].as_str().unwrap();
    let key = file_url
        .split_once(&format!("{}/", stack.aws().names.bucket))
        .unwrap()
        .1;
    // The upload event, as it reaches the dead-letter queue after failing every retry.
    let event = json!({"Records": [{"eventName": "ObjectCreated:Put", "s3": {
        "bucket": {"name": stack.aws().names.bucket},
        "object": {"key": key, "size": 1234, "eTag": "\"abc\""}}}]});
    aws_sdk_sqs::Client::new(&stack.sdk)
        .send_message()
        .queue_url(&stack.aws().uploads_dlq_url)
        .message_body(event.to_string())
        .send()
        .await
        .unwrap();
    let info = stack.wait_processed(ALICE, id).await;
    assert_eq!(info["Status"], "UploadFail");
    assert_eq!(info["Message"], folio_shared::dead_letter::UPLOAD_REASON);
    let announced = hook.wait_for(1, 20).await[0].json();
    assert_eq!(announced["Status"], "fail");
    assert_eq!(
        announced["Message"],
        folio_shared::dead_letter::UPLOAD_REASON
    );
    stack.stop().await;
}
