//! Webhook delivery: retried with backoff, stopped by 410, given up after the last attempt;
//! SNS receives the same event.

use serde_json::{Value, json};

use crate::harness::{ALICE, BOB, Home, Stack, callback_to, png, signature_is_valid};
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

/// The webhook delivery of an image's event, as `ListDeliveries` shows it.
async fn webhook_delivery(stack: &Stack, key: &str, image_id: &str) -> Value {
    let listed = stack
        .get(
            key,
            "ListDeliveries",
            &[("SubjectType", "Image"), ("SubjectId", image_id)],
        )
        .await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    listed.body["Deliveries"]
        .as_array()
        .expect("Deliveries")
        .iter()
        .find(|d| d["Target"]["Kind"] == "Webhook")
        .cloned()
        .unwrap_or(Value::Null)
}

fn statuses(delivery: &Value) -> Vec<Value> {
    delivery["Attempts"]
        .as_array()
        .expect("Attempts")
        .iter()
        .map(|a| a["StatusCode"].clone())
        .collect()
}

on_both_backends! {
/// A delivery that gave up is listed with every attempt and what the receiver answered;
/// once the receiver works, a replay sends the same signed body with the same event id,
/// recorded as the next attempt. Another tenant sees and replays nothing.
async fn a_delivery_that_gave_up_is_listed_and_replayed(home) {
    let stack = stack_with(home, 2).await;
    let hook = Receiver::start(&[500, 502]).await;
    let id = upload_with_callback(&stack, &hook).await;
    assert_eq!(webhook_outcomes(&stack, &id, 2).await, vec!["Retrying", "GaveUp"]);
    let delivery = webhook_delivery(&stack, ALICE, &id).await;
    assert_eq!(delivery["State"], "GaveUp", "{delivery}");
    assert_eq!(delivery["EventType"], "ImageUploadComplete");
    assert_eq!(delivery["Target"]["Url"], hook.url.as_str());
    assert_eq!(statuses(&delivery), vec![json!(500), json!(502)]);
    let event_id = delivery["EventId"].as_str().expect("an EventId").to_string();

    let replay = |key: &'static str, event: String, target: &'static str| {
        let stack = &stack;
        let id = id.clone();
        async move {
            stack
                .post(
                    key,
                    "ReplayDelivery",
                    json!({"SubjectType": "Image", "SubjectId": id, "EventId": event, "Target": target}),
                )
                .await
        }
    };
    // Another tenant's record: nothing to see, nothing to replay.
    assert_eq!(webhook_delivery(&stack, BOB, &id).await, Value::Null);
    assert_eq!(replay(BOB, event_id.clone(), "Webhook").await.status, 404);

    let replayed = replay(ALICE, event_id.clone(), "Webhook").await;
    assert_eq!(replayed.status, 200, "{}", replayed.body);
    assert_eq!(replayed.body["FirstAttempt"], 3);
    let got = hook.wait_for(3, 30).await;
    assert_eq!(got[2].header("folio-event-id"), event_id);
    assert_eq!(got[2].body, got[0].body, "the same event");
    let secret = stack.get(ALICE, "GetWebhookSecret", &[]).await;
    let secret = secret.body["WebhookSecret"].as_str().expect("a secret").to_string();
    assert!(signature_is_valid(&secret, got[2].header("folio-signature"), &got[2].body));
    let mut delivery = Value::Null;
    for _ in 0..100 {
        delivery = webhook_delivery(&stack, ALICE, &id).await;
        if delivery["State"] == "Delivered" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(delivery["State"], "Delivered", "{delivery}");
    assert_eq!(statuses(&delivery), vec![json!(500), json!(502), json!(200)]);

    // Refusals name their field; an event never delivered there is not found.
    for (body, status, field) in [
        (json!({"SubjectType": "Video", "SubjectId": id, "EventId": event_id, "Target": "Webhook"}), 400, "SubjectType"),
        (json!({"SubjectType": "Image", "SubjectId": id, "Target": "Webhook"}), 400, "EventId"),
        (json!({"SubjectType": "Image", "SubjectId": id, "EventId": event_id, "Target": "ftp"}), 400, "Target"),
        (json!({"SubjectType": "Image", "SubjectId": "a b", "EventId": event_id, "Target": "Webhook"}), 400, "SubjectId"),
        (json!({"SubjectType": "Image", "SubjectId": id, "EventId": "evt-none", "Target": "Webhook"}), 404, "EventId"),
    ] {
        let reply = stack.post(ALICE, "ReplayDelivery", body).await;
        assert_eq!(reply.status, status, "{field}: {}", reply.body);
        assert!(reply.message().starts_with(field), "{field}: {}", reply.body);
    }
    stack.stop().await;
}
}

on_both_backends! {
/// A delivery still being retried is not replayed beside its own retries.
async fn a_delivery_being_retried_is_not_replayed(home) {
    let stack = stack_with(home, 6).await;
    let hook = Receiver::start(&[500, 500, 500, 500, 500]).await;
    let id = upload_with_callback(&stack, &hook).await;
    webhook_outcomes(&stack, &id, 1).await;
    let delivery = webhook_delivery(&stack, ALICE, &id).await;
    assert_eq!(delivery["State"], "Retrying", "{delivery}");
    let reply = stack
        .post(
            ALICE,
            "ReplayDelivery",
            json!({"SubjectType": "Image", "SubjectId": id,
                   "EventId": delivery["EventId"], "Target": "webhook"}),
        )
        .await;
    assert_eq!(reply.status, 409, "{}", reply.body);
    assert_eq!(reply.body["Code"], "InvalidState");
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
