//! Tenants see only their own images; expired records are absent.

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::json;

use crate::harness::{ALICE, BOB, Stack, unix_now};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenant_sees_nothing_and_changes_nothing() {
    let stack = Stack::start().await;
    let (created, _) = stack
        .create_upload(ALICE, json!({"ImageType": "default", "Title": "alice's"}))
        .await;
    let id = created["ImageId"].as_str().unwrap().to_string();

    let seen = stack.info(BOB, &id).await;
    assert_eq!(seen.status, 200);
    assert_eq!(seen.body["NonExistImageIds"], json!([id]));
    assert_eq!(seen.body["ImageInfo"], json!([]));

    let update = stack
        .post(
            BOB,
            "UpdateImageInfos",
            json!({"UpdateContent": [{"ImageId": id, "Title": "bob's"}]}),
        )
        .await;
    assert_eq!(update.body["NonExistImageIds"], json!([id]));
    let delete = stack
        .post(BOB, "DeleteImage", json!({"ImageIds": id}))
        .await;
    assert_eq!(delete.body["NonExistImageIds"], json!([id]));

    let alice = stack.info(ALICE, &id).await;
    assert_eq!(alice.body["ImageInfo"][0]["Title"], "alice's");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_uploading_record_is_absent() {
    let stack = Stack::start().await;
    let (created, _) = stack
        .create_upload(ALICE, json!({"ImageType": "default"}))
        .await;
    let id = created["ImageId"].as_str().unwrap().to_string();
    let tenant_key = folio_shared::tenant::Tenant::new("tenant-alice")
        .unwrap()
        .key()
        .to_string();

    // The record carries a TTL about 7 days ahead.
    let ddb = aws_sdk_dynamodb::Client::new(&stack.sdk);
    let key = |pk: String| {
        [
            ("pk".to_string(), AttributeValue::S(pk)),
            ("sk".to_string(), AttributeValue::S("RECORD".into())),
        ]
        .into_iter()
        .collect::<std::collections::HashMap<_, _>>()
    };
    let item = ddb
        .get_item()
        .table_name(&stack.running.provisioned.names.table)
        .set_key(Some(key(format!("{tenant_key}#IMAGE#{id}"))))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let expires: i64 = item["ExpiresAt"].as_n().unwrap().parse().unwrap();
    let week = 7 * 24 * 3600;
    let now = unix_now();
    assert!(
        (expires - now - week).abs() < 60,
        "ExpiresAt {expires} is not a week after {now}"
    );

    // DynamoDB deletes expired items late; Folio must treat them as gone at once.
    ddb.update_item()
        .table_name(&stack.running.provisioned.names.table)
        .set_key(Some(key(format!("{tenant_key}#IMAGE#{id}"))))
        .update_expression("SET ExpiresAt = :past")
        .expression_attribute_values(":past", AttributeValue::N((now - 1).to_string()))
        .send()
        .await
        .unwrap();
    let seen = stack.info(ALICE, &id).await;
    assert_eq!(seen.body["NonExistImageIds"], json!([id]));
    let update = stack
        .post(
            ALICE,
            "UpdateImageInfos",
            json!({"UpdateContent": [{"ImageId": id, "Title": "late"}]}),
        )
        .await;
    assert_eq!(update.body["NonExistImageIds"], json!([id]));
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_identity_is_401() {
    let stack = Stack::start().await;
    let anonymous = stack
        .http
        .post(format!("{}/CreateUploadImage", stack.base))
        .json(&json!({"ImageType": "default"}))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let body: serde_json::Value = anonymous.json().await.unwrap();
    assert_eq!(body["Code"], "Unauthorized");
    assert!(body["RequestId"].is_string());
    let wrong_key = stack
        .post("not-a-key", "GetImageInfos", json!({"ImageIds": "a"}))
        .await;
    assert_eq!(wrong_key.status, 401);
    stack.stop().await;
}
