//! Tenants see only their own images; expired records are absent.

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::json;

use crate::harness::{ALICE, BOB, Stack, unix_now};
use crate::on_both_backends;

on_both_backends! {
async fn another_tenant_sees_nothing_and_changes_nothing(home) {
    let stack = Stack::at(home, Vec::new()).await;
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
    assert_eq!(update.body["NonExistImageIds"], json!({"ImageId": [id]}));
    let delete = stack
        .post(BOB, "DeleteImage", json!({"ImageIds": id}))
        .await;
    assert_eq!(delete.body["NonExistImageIds"], json!([id]));

    let alice = stack.info(ALICE, &id).await;
    assert_eq!(alice.body["ImageInfo"][0]["Title"], "alice's");
    stack.stop().await;
}
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
        .table_name(&stack.aws().names.table)
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
        .table_name(&stack.aws().names.table)
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
    assert_eq!(update.body["NonExistImageIds"], json!({"ImageId": [id]}));
    stack.stop().await;
}

on_both_backends! {
async fn no_identity_is_401(home) {
    let stack = Stack::at(home, Vec::new()).await;
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
}

on_both_backends! {
/// GetImageInfos is limited to 10 calls a second for each tenant, as VOD states it: a burst
/// from one tenant is throttled as Alibaba Cloud throttles (400 `Throttling` with
/// `x-acs-retry-after`), and another tenant is not held back by it.
async fn rates_are_per_tenant(home) {
    let stack = Stack::at(home, Vec::new()).await;
    let call = |key: &'static str| {
        let request = stack
            .http
            .get(format!("{}/GetImageInfos", stack.base))
            .bearer_auth(key)
            .query(&[("ImageIds", "img-none")]);
        async move {
            let response = request.send().await.expect("the gateway answers");
            let retry = response
                .headers()
                .get("x-acs-retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            let status = response.status().as_u16();
            let body: serde_json::Value = response.json().await.unwrap();
            (status, body["Code"].as_str().map(str::to_string), retry)
        }
    };
    let burst: Vec<_> = (0..25).map(|_| call(ALICE)).collect();
    let answers = futures_join_all(burst).await;
    let admitted = answers.iter().filter(|a| a.0 == 200).count();
    let throttled: Vec<_> = answers.iter().filter(|a| a.0 != 200).collect();
    // At most 10 in each second; a burst that straddles two seconds gets 20.
    assert!((10..=20).contains(&admitted), "{answers:?}");
    for (status, code, retry) in &throttled {
        assert_eq!((*status, code.as_deref()), (400, Some("Throttling")));
        assert!(
            retry.is_some_and(|ms| (1..=1000).contains(&ms)),
            "{retry:?}"
        );
    }
    let bob = call(BOB).await;
    assert_eq!(bob.0, 200, "{bob:?}");
    // The next second admits Alice again.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(call(ALICE).await.0, 200);
}
}

/// Runs the calls concurrently on the test's runtime.
async fn futures_join_all<F: std::future::Future + Send + 'static>(calls: Vec<F>) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = calls.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.expect("a call task"));
    }
    out
}

/// Who is calling comes before anything else: without credentials every request is a 401,
/// whatever it names (no `MissingParameter Action` for `GET /`, no 404 for an unknown name).
#[tokio::test]
async fn a_request_without_credentials_is_a_401_before_anything_is_parsed() {
    let stack = Stack::embedded().await;
    for (method, path, body) in [
        (reqwest::Method::GET, "/", ""),
        (reqwest::Method::POST, "/NoSuchOperation", "{"),
        (reqwest::Method::POST, "/CreateProject", "not json"),
        (
            reqwest::Method::GET,
            "/?Action=GetTask&Version=1999-01-01",
            "",
        ),
    ] {
        let answer = stack
            .http
            .request(method.clone(), format!("{}{path}", stack.base))
            .body(body)
            .send()
            .await
            .expect("answers");
        assert_eq!(answer.status(), 401, "{method} {path}");
        let body: serde_json::Value = answer.json().await.expect("JSON");
        assert_eq!(body["Code"], "Unauthorized", "{method} {path}: {body}");
    }
    stack.stop().await;
}
