//! The OpenAPI document `folio serve` serves: the code's own, and valid OpenAPI 3.1 as
//! `openapi-spec-validator` (in `.venv`) reads it.

use serde_json::Value;

use crate::harness::Stack;

#[tokio::test]
async fn the_served_document_is_valid_openapi() {
    let stack = Stack::embedded().await;
    let answer = stack
        .http
        .get(format!("{}/openapi.json", stack.base))
        .send()
        .await
        .expect("answers");
    assert_eq!(answer.status(), 200);
    let text = answer.text().await.expect("a body");
    stack.stop().await;
    let served: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(served, folio_shared::openapi::document());
    let path = std::env::temp_dir().join(format!("folio-openapi-{}.json", uuid::Uuid::new_v4()));
    std::fs::write(&path, &text).expect("written");
    let validator = crate::vendor_sdks::python().with_file_name("openapi-spec-validator");
    let output = tokio::process::Command::new(&validator)
        .arg(&path)
        .output()
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", validator.display()));
    let _ = std::fs::remove_file(&path);
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
