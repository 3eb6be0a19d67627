//! The key store: `folio keys` issues keys the gateway then accepts, stores no key or
//! secret in the clear, and revokes them; in a data folder on one machine and in the
//! emulator's table alike.

use aws_sdk_dynamodb::types::AttributeValue;
use folio_cli::keys::{self, KeysAction, KeysArgs, Kind, Store};

use crate::harness::Stack;
use crate::vendor_sdks::{signed_create_project, signed_headers};

async fn folio_keys(stack: &Stack, action: KeysAction) -> String {
    let config = &stack.running.app.config;
    let args = match &stack.running.data {
        Some(data) => KeysArgs {
            backend: Store::Embedded,
            data: data.clone(),
            table: None,
            kms_key: None,
            action,
        },
        None => KeysArgs {
            backend: Store::Aws,
            data: Default::default(),
            table: Some(config.table.clone()),
            kms_key: config.keys_kms_key.clone(),
            action,
        },
    };
    keys::run(&args).await.expect("folio keys succeeds")
}

fn field<'a>(out: &'a str, name: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(name))
        .unwrap_or_else(|| panic!("{name} in {out}"))
        .trim()
}

/// Every attribute of every item, as text, for looking for secrets (on one machine: every
/// byte of the data folder's files).
async fn table_text(stack: &Stack) -> String {
    if let Some(data) = &stack.running.data {
        let mut text = String::new();
        for name in ["folio.db", "folio.db-wal"] {
            let bytes = std::fs::read(data.join(name)).unwrap_or_default();
            text.push_str(&String::from_utf8_lossy(&bytes));
        }
        return text;
    }
    let ddb = aws_sdk_dynamodb::Client::new(&stack.sdk);
    let items = ddb
        .scan()
        .table_name(&stack.running.app.config.table)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    format!("{items:?}")
}

#[tokio::test]
async fn keys_issued_by_folio_keys_authenticate_until_revoked() {
    keys_authenticate_until_revoked(Stack::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_issued_into_a_data_folder_authenticate_until_revoked() {
    keys_authenticate_until_revoked(Stack::embedded().await).await;
}

async fn keys_authenticate_until_revoked(stack: Stack) {
    let create = |kind| KeysAction::Create {
        tenant: "tenant-carol".into(),
        kind,
    };
    let access = folio_keys(&stack, create(Kind::Access)).await;
    let (id, secret) = (
        field(&access, "AccessKeyId:"),
        field(&access, "AccessKeySecret:"),
    );
    let bearer = folio_keys(&stack, create(Kind::Bearer)).await;
    let key = field(&bearer, "key:");

    let date = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let signing = (id, secret, date.as_str(), "carol-1");
    let (status, body) = signed_create_project(&stack, "carols", signing, |_, _| {}).await;
    assert_eq!(status, 200, "{body}");
    // The signed request and the Bearer key are the same tenant's.
    let project = stack
        .get(key, "GetProject", &[("ProjectName", "carols")])
        .await;
    assert_eq!(project.status, 200, "{}", project.body);

    let listed = folio_keys(&stack, KeysAction::List).await;
    let bearer_id = bearer.lines().next().unwrap().split('\t').next().unwrap();
    for shown in [id, bearer_id] {
        assert!(
            listed
                .lines()
                .any(|l| l.starts_with(shown) && l.contains("tenant-carol")),
            "{shown} in {listed}"
        );
    }
    assert!(
        !listed.contains(secret) && !listed.contains(key),
        "{listed}"
    );
    let stored = table_text(&stack).await;
    assert!(
        !stored.contains(secret),
        "the secret is stored in the clear"
    );
    assert!(
        !stored.contains(key),
        "the Bearer key is stored in the clear"
    );

    let revoked = folio_keys(
        &stack,
        KeysAction::Revoke {
            id: bearer_id.to_string(),
        },
    )
    .await;
    assert!(revoked.contains(bearer_id));
    let refused = stack
        .get(key, "GetProject", &[("ProjectName", "carols")])
        .await;
    assert_eq!(
        (refused.status, refused.body["Code"].as_str()),
        (401, Some("InvalidApiKey"))
    );

    // An access key revoked before any use is unknown at once.
    let second = folio_keys(&stack, create(Kind::Access)).await;
    let second_id = field(&second, "AccessKeyId:").to_string();
    folio_keys(
        &stack,
        KeysAction::Revoke {
            id: second_id.clone(),
        },
    )
    .await;
    let signing = (
        second_id.as_str(),
        field(&second, "AccessKeySecret:"),
        date.as_str(),
        "carol-2",
    );
    let (status, body) = signed_create_project(&stack, "carols-2", signing, |_, _| {}).await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (404, Some("InvalidAccessKeyId.NotFound"))
    );
    if stack.running.data.is_none() {
        let ciphertext = aws_sdk_dynamodb::Client::new(&stack.sdk)
            .get_item()
            .table_name(&stack.running.app.config.table)
            .key("pk", AttributeValue::S(format!("ACCESSKEY#{id}")))
            .key("sk", AttributeValue::S("RECORD".into()))
            .send()
            .await
            .unwrap()
            .item
            .unwrap();
        assert!(matches!(
            ciphertext.get("SecretCiphertext"),
            Some(AttributeValue::B(_))
        ));
    }
    stack.stop().await;
}

/// A request the vendor's SDK signed, as API Gateway hands it to the `rpc` function (no
/// identity of its own): the function checks the signature against the key store.
#[tokio::test]
async fn a_signed_request_through_the_lambda_edge() {
    let stack = Stack::start().await;
    let host = "abc123.execute-api.us-east-1.amazonaws.com";
    let body = format!(
        "ProjectName=edge-signed&ServiceRole={}",
        url::form_urlencoded::byte_serialize(b"arn:aws:iam::123456789012:role/folio-tests")
            .collect::<String>()
    );
    let event = |nonce: &str, body: &str| {
        let date = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let headers = signed_headers(
            host,
            body,
            (
                crate::harness::ALICE_ACCESS_KEY_ID,
                crate::harness::ALICE_ACCESS_KEY_SECRET,
                &date,
                nonce,
            ),
        );
        serde_json::json!({
            "version": "2.0",
            "routeKey": "POST /",
            "rawPath": "/",
            "rawQueryString": "",
            "headers": headers
                .into_iter()
                .map(|(k, v)| (k, serde_json::Value::String(v)))
                .collect::<serde_json::Map<_, _>>(),
            "requestContext": {
                "accountId": "123456789012", "apiId": "abc123", "domainName": host,
                "requestId": "signed", "routeKey": "POST /", "stage": "$default",
                "time": "26/Nov/2026:15:00:00 +0000", "timeEpoch": 1795791600000u64,
                "http": {"method": "POST", "path": "/", "protocol": "HTTP/1.1",
                         "sourceIp": "203.0.113.10", "userAgent": "sdk"}
            },
            "body": body,
            "isBase64Encoded": false
        })
        .to_string()
    };
    let app = stack.running.app.clone();
    let ops = folio_shared::Operation::ALL;
    let send = |text: String| {
        let app = app.clone();
        async move {
            let request = lambda_http::request::from_str(&text).expect("an API Gateway event");
            let response = folio_shared::edge::handle_routed(&app, &ops, request).await;
            let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
            (response.status().as_u16(), body)
        }
    };
    let nonce = uuid::Uuid::new_v4().to_string();
    let (status, reply) = send(event(&nonce, &body)).await;
    assert_eq!(status, 200, "{reply}");
    let (status, reply) = send(event(&nonce, &body)).await;
    assert_eq!(
        (status, reply["Code"].as_str()),
        (400, Some("SignatureNonceUsed"))
    );
    // Signed for one body, sent with another.
    let tampered =
        event(&uuid::Uuid::new_v4().to_string(), &body).replace("edge-signed", "edge-other");
    let (status, reply) = send(tampered).await;
    assert_eq!(
        (status, reply["Code"].as_str()),
        (400, Some("SignatureDoesNotMatch"))
    );
    // A nonce too long for a store key: refused before any store sees it, naming it.
    let (status, reply) = send(event(&"n".repeat(3000), &body)).await;
    assert_eq!(
        (status, reply["Code"].as_str()),
        (400, Some("InvalidParameter")),
        "{reply}"
    );
    assert!(
        reply["Message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("SignatureNonce"),
        "{reply}"
    );
    let project = stack
        .get(
            crate::harness::ALICE,
            "GetProject",
            &[("ProjectName", "edge-signed")],
        )
        .await;
    assert_eq!(project.status, 200, "{}", project.body);
}

/// `.folio/lambda.env` (what `make dev-aws` writes for `cargo lambda watch`) configures a
/// function exactly as the running stack is configured: every variable `Config` reads that
/// the stack has a value for, with that value.
#[tokio::test]
async fn the_lambda_env_file_configures_functions_as_the_stack_is() {
    let stack = Stack::start().await;
    let text = stack.running.lambda_env();
    let env: std::collections::HashMap<String, String> = text
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let read = folio_shared::config::Config::from_lookup(|name| env.get(name).cloned())
        .expect("the file holds every required variable");
    assert_eq!(
        format!("{read:?}"),
        format!("{:?}", stack.running.app.config),
        "{text}"
    );
    for name in [
        "FOLIO_BATCHES_QUEUE_URL",
        "FOLIO_JOBS_QUEUE_URL",
        "FOLIO_OSS_ENDPOINT",
    ] {
        assert!(env.contains_key(name), "{name} is missing:\n{text}");
    }
    stack.stop().await;
}
