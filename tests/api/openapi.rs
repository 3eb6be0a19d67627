//! The OpenAPI document `folio serve` serves: the code's own, valid OpenAPI 3.1 as
//! `openapi-spec-validator` (in `.venv`) reads it, and true to the server as `schemathesis`
//! finds it: no server error, no answer that does not conform, no undocumented status.

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

/// The checks the document must pass (schemathesis's names).
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
response_schema_conformance,response_headers_conformance,unsupported_method";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn schemathesis_finds_the_server_true_to_its_document() {
    let stack = Stack::embedded().await;
    let schemathesis = crate::vendor_sdks::python().with_file_name("schemathesis");
    let seed: u64 = std::env::var("FOLIO_SCHEMATHESIS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("schemathesis seed {seed} (FOLIO_SCHEMATHESIS_SEED={seed} replays it)");
    let scratch = std::env::temp_dir().join(format!("folio-schemathesis-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&scratch).expect("a scratch folder");
    let run = tokio::process::Command::new(&schemathesis)
        .arg("run")
        .arg(format!("{}/openapi.json", stack.base))
        .args([
            "-H",
            &format!("Authorization: Bearer {}", crate::harness::ALICE),
        ])
        .args(["--checks", CHECKS])
        .args(["--max-examples", "25", "--workers", "2", "--no-color"])
        .args(["--seed", &seed.to_string()])
        .args(["--request-timeout", "10"])
        // Its example database and reports land here, not in the repository.
        .current_dir(&scratch)
        .output();
    let output = tokio::time::timeout(std::time::Duration::from_secs(300), run)
        .await
        .expect("schemathesis ends within five minutes")
        .unwrap_or_else(|e| panic!("{}: {e}", schemathesis.display()));
    stack.stop().await;
    let _ = std::fs::remove_dir_all(&scratch);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let tail: Vec<&str> = stdout.lines().rev().take(80).collect();
    assert!(
        output.status.success(),
        "schemathesis (seed {seed}) found failures:\n{}\n{}",
        tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        String::from_utf8_lossy(&output.stderr)
    );
}
