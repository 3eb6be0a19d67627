//! Every parameter rule, violated: 400 with the field named first in the message.

use serde_json::{Value, json};

use crate::harness::{ALICE, Stack};
use crate::on_both_backends;

struct Case {
    operation: &'static str,
    body: Value,
    code: &'static str,
    field: &'static str,
}

fn case(operation: &'static str, body: Value, code: &'static str, field: &'static str) -> Case {
    Case {
        operation,
        body,
        code,
        field,
    }
}

fn cases() -> Vec<Case> {
    let ids = |n: usize| {
        (0..n)
            .map(|i| format!("{i:032x}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let entries = |n: usize| {
        (0..n)
            .map(|i| json!({"ImageId": format!("{i:032x}"), "Title": "t"}))
            .collect::<Vec<_>>()
    };
    let up = "CreateUploadImage";
    vec![
        case(up, json!({}), "MissingParameter", "ImageType"),
        case(
            up,
            json!({"ImageType": "banner"}),
            "InvalidParameter",
            "ImageType",
        ),
        case(
            up,
            json!({"ImageType": "default", "ImageExt": "bmp"}),
            "InvalidParameter",
            "ImageExt",
        ),
        case(
            up,
            json!({"ImageType": "default", "Title": "t".repeat(129)}),
            "InvalidParameter",
            "Title",
        ),
        case(
            up,
            json!({"ImageType": "default", "Title": "é".repeat(65)}),
            "InvalidParameter",
            "Title",
        ),
        case(
            up,
            json!({"ImageType": "default", "Description": "d".repeat(1025)}),
            "InvalidParameter",
            "Description",
        ),
        case(
            up,
            json!({"ImageType": "default", "Tags": vec!["t"; 17].join(",")}),
            "InvalidParameter",
            "Tags",
        ),
        case(
            up,
            json!({"ImageType": "default", "Tags": "x".repeat(33)}),
            "InvalidParameter",
            "Tags",
        ),
        case(
            up,
            json!({"ImageType": "default", "CateId": "seven"}),
            "InvalidParameter",
            "CateId",
        ),
        case(
            up,
            json!({"ImageType": "default", "CateId": -1}),
            "InvalidParameter",
            "CateId",
        ),
        case(
            up,
            json!({"ImageType": "default", "StorageLocation": "someone-elses-bucket"}),
            "InvalidParameter",
            "StorageLocation",
        ),
        case(
            up,
            json!({"ImageType": "default", "AppId": "app 1"}),
            "InvalidParameter",
            "AppId",
        ),
        case(
            up,
            json!({"ImageType": "default", "UserData": "{not json"}),
            "InvalidParameter",
            "UserData",
        ),
        case(
            up,
            json!({"ImageType": "default", "UserData": "x".repeat(2049)}),
            "InvalidParameter",
            "UserData",
        ),
        case(
            up,
            json!({"ImageType": "default", "UserData": "{\"MessageCallback\":{\"CallbackURL\":\"ftp://example.com\"}}"}),
            "InvalidParameter",
            "UserData.MessageCallback.CallbackURL",
        ),
        case("GetImageInfos", json!({}), "MissingParameter", "ImageIds"),
        case(
            "GetImageInfos",
            json!({"ImageIds": ids(21)}),
            "InvalidParameter",
            "ImageIds",
        ),
        case(
            "GetImageInfos",
            json!({"ImageIds": "a", "AuthTimeout": 0}),
            "InvalidParameter",
            "AuthTimeout",
        ),
        case(
            "GetImageInfos",
            json!({"ImageIds": "a", "AuthTimeout": 2_592_001}),
            "InvalidParameter",
            "AuthTimeout",
        ),
        case(
            "GetImageInfos",
            json!({"ImageIds": "a", "OutputType": "ftp"}),
            "InvalidParameter",
            "OutputType",
        ),
        case(
            "GetImageInfos",
            json!({"ImageIds": "a", "OutputType": "cdn"}),
            "InvalidParameter",
            "OutputType",
        ),
        case(
            "UpdateImageInfos",
            json!({}),
            "MissingParameter",
            "UpdateContent",
        ),
        case(
            "UpdateImageInfos",
            json!({"UpdateContent": "[not json"}),
            "InvalidParameter",
            "UpdateContent",
        ),
        case(
            "UpdateImageInfos",
            json!({"UpdateContent": entries(21)}),
            "InvalidParameter",
            "UpdateContent",
        ),
        case(
            "UpdateImageInfos",
            json!({"UpdateContent": [{"ImageId": "a", "Description": "d".repeat(1025)}]}),
            "InvalidParameter",
            "UpdateContent[0].Description",
        ),
        case("DeleteImage", json!({}), "MissingParameter", "ImageIds"),
        case(
            "DeleteImage",
            json!({"DeleteImageType": "Everything", "ImageIds": "a"}),
            "InvalidParameter",
            "DeleteImageType",
        ),
        case(
            "DeleteImage",
            json!({"ImageIds": ids(21)}),
            "InvalidParameter",
            "ImageIds",
        ),
    ]
}

on_both_backends! {
async fn every_rule_violated_is_a_400_naming_the_field(home) {
    let stack = Stack::at(home, Vec::new()).await;
    let mut failures = Vec::new();
    let all = cases();
    for c in &all {
        let reply = stack.post(ALICE, c.operation, c.body.clone()).await;
        let ok = reply.status == 400
            && reply.body["Code"] == c.code
            && reply.message().starts_with(&format!("{}: ", c.field))
            && reply.body["RequestId"].is_string();
        if !ok {
            failures.push(format!(
                "{} {} -> {} {}",
                c.operation, c.field, reply.status, reply.body
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
    stack.stop().await;
}
}

on_both_backends! {
async fn malformed_bodies_and_wrong_methods_are_refused(home) {
    let stack = Stack::at(home, Vec::new()).await;
    let raw = stack
        .http
        .post(format!("{}/CreateUploadImage", stack.base))
        .bearer_auth(ALICE)
        .header("content-type", "application/json")
        .body("{\"ImageType\":")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    let body: Value = raw.json().await.unwrap();
    assert!(
        body["Message"].as_str().unwrap().starts_with("body: "),
        "{body}"
    );

    let get = stack
        .get(ALICE, "CreateUploadImage", &[("ImageType", "default")])
        .await;
    assert_eq!(get.status, 405);
    let unknown = stack.post(ALICE, "NoSuchOperation", json!({})).await;
    assert_eq!(unknown.status, 404);
    stack.stop().await;
}
}
