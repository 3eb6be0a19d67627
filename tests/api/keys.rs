//! The key store: `folio keys` against the emulator issues keys the gateway then accepts,
//! stores no key or secret in the clear, and revokes them.

use aws_sdk_dynamodb::types::AttributeValue;
use folio_cli::keys::{self, KeysAction, KeysArgs, Kind};

use crate::harness::Stack;
use crate::vendor_sdks::signed_create_project;

async fn folio_keys(stack: &Stack, action: KeysAction) -> String {
    let config = &stack.running.app.config;
    let args = KeysArgs {
        table: config.table.clone(),
        kms_key: config.keys_kms_key.clone().expect("serve sets the KMS key"),
        action,
    };
    keys::run(&args).await.expect("folio keys succeeds")
}

fn field<'a>(out: &'a str, name: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(name))
        .unwrap_or_else(|| panic!("{name} in {out}"))
        .trim()
}

/// Every attribute of every item, as text, for looking for secrets.
async fn table_text(stack: &Stack) -> String {
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
    let stack = Stack::start().await;
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
