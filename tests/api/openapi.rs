//! The OpenAPI document `folio serve` serves: the code's own, valid OpenAPI 3.1 as
//! `openapi-spec-validator` (in `.venv`) reads it, and true to the server as `schemathesis`
//! finds it: no server error, no answer that does not conform, no undocumented status.

use serde_json::{Value, json};

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
    // The stateful phase follows the document's links (create a job, then read, change and
    // cancel it; create a project, then a task in it) for more steps than its default.
    let config = scratch.join("schemathesis.toml");
    std::fs::write(&config, "[phases.stateful]\nmax-steps = 60\n").expect("written");
    let run = tokio::process::Command::new(&schemathesis)
        .arg("--config-file")
        .arg(&config)
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
    // The failures come first, the hints after them: show from the failures on (else the
    // last lines).
    let lines: Vec<&str> = stdout.lines().collect();
    let from = lines
        .iter()
        .position(|l| l.contains("FAILURES"))
        .unwrap_or(lines.len().saturating_sub(80));
    let shown = &lines[from..lines.len().min(from + 120)];
    assert!(
        output.status.success(),
        "schemathesis (seed {seed}) found failures:\n{}\n{}",
        shown.join("\n"),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A path with its parameters' names erased: `/jobs/{job_id}` and `/jobs/{id}` are one route.
fn route_shape(path: &str) -> String {
    path.split('/')
        .map(|s| if s.starts_with('{') { "{}" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

/// A property's types: its `type` (one or several, or those of its `anyOf`), or the schema
/// it refers to.
fn types(schema: &Value) -> Vec<String> {
    if let Some(any) = schema["anyOf"].as_array() {
        return any.iter().flat_map(types).collect();
    }
    if let Some(reference) = schema["$ref"].as_str() {
        return vec![format!(
            "ref {}",
            reference.rsplit('/').next().unwrap_or_default()
        )];
    }
    match &schema["type"] {
        Value::String(t) => vec![t.clone()],
        Value::Array(ts) => ts
            .iter()
            .filter_map(|t| t.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// Where `/v2` serves the same route as online-convert's own document, it is the same route:
/// the same methods and success statuses, and the job's shapes with the same fields and
/// types (Folio's may also allow `[]` for an empty map, as online-convert writes one).
#[test]
fn the_v2_routes_match_online_converts_own_document() {
    let path = crate::harness::crate_dir()
        .join("../../shared/reference/api2convert/api2convert.openapi.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (the shared reference documents sit beside the clone)",
            path.display()
        )
    });
    let theirs: Value = serde_json::from_str(&text).expect("their document is JSON");
    let ours = folio_shared::openapi::document();
    let their_paths: std::collections::HashMap<String, &Value> = theirs["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .map(|(p, item)| (route_shape(p), item))
        .collect();
    let success = |responses: &Value| -> Vec<String> {
        let mut codes: Vec<String> = responses
            .as_object()
            .into_iter()
            .flat_map(|r| r.keys())
            .filter(|code| code.starts_with('2'))
            .cloned()
            .collect();
        codes.sort();
        codes
    };
    let mut compared = 0;
    for (path, item) in ours["paths"].as_object().expect("paths") {
        // The upload and download server (`/v2/dl/...`) is each deployment's own.
        let Some(route) = path.strip_prefix("/v2").filter(|r| !r.starts_with("/dl/")) else {
            continue;
        };
        let theirs = their_paths
            .get(&route_shape(route))
            .unwrap_or_else(|| panic!("{path}: not a route of online-convert's API"));
        for (method, operation) in item.as_object().expect("a path item") {
            let their_operation = &theirs[method.as_str()];
            assert!(their_operation.is_object(), "{method} {path}: not theirs");
            assert_eq!(
                success(&operation["responses"]),
                success(&their_operation["responses"]),
                "{method} {path}: success statuses"
            );
            compared += 1;
        }
    }
    assert!(compared >= 24, "only {compared} routes compared");

    // Fields Folio leaves out on purpose: download passwords are secrets, never echoed.
    let left_out = ["Job.download_passwords"];
    for name in [
        "Job",
        "InputFile",
        "OutputFile",
        "Conversion",
        "OutputTarget",
        "Status",
        "UserError",
        "UserWarning",
        "History",
        "Limits",
    ] {
        let theirs = &theirs["components"]["schemas"][name]["properties"];
        let ours = &ours["components"]["schemas"][name]["properties"];
        for (field, their_schema) in theirs.as_object().expect("their properties") {
            if left_out.contains(&format!("{name}.{field}").as_str()) {
                continue;
            }
            let our_schema = &ours[field.as_str()];
            assert!(our_schema.is_object(), "{name}.{field}: missing");
            let ours = types(our_schema);
            for t in types(their_schema) {
                assert!(
                    ours.contains(&t),
                    "{name}.{field}: {t} is not among {ours:?}"
                );
            }
        }
    }
}

/// A Python client generated from the document (openapi-python-client) runs a conversion job
/// and a PDF task in a new project against `folio serve` (`tests/sdk/generated_client.py`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_generated_from_the_document_runs_a_job_and_a_pdf_task() {
    let stack = Stack::embedded().await;
    let scratch = std::env::temp_dir().join(format!("folio-client-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&scratch).expect("a scratch folder");
    let document = scratch.join("openapi.json");
    std::fs::write(&document, folio_shared::openapi::text()).expect("written");
    let generator = crate::vendor_sdks::python().with_file_name("openapi-python-client");
    let generated = tokio::process::Command::new(&generator)
        .args(["generate", "--meta", "none", "--path"])
        .arg(&document)
        .arg("--output-path")
        .arg(scratch.join("folio_client"))
        .current_dir(&scratch)
        .output()
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", generator.display()));
    assert!(
        generated.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&generated.stdout),
        String::from_utf8_lossy(&generated.stderr)
    );
    let bucket = stack.local_bucket(
        "client-",
        &[
            ("in/a.png", crate::harness::png(40, 30)),
            ("in/b.png", crate::harness::png(30, 40)),
        ],
    );
    let png = scratch.join("small.png");
    std::fs::write(&png, crate::harness::png(16, 12)).expect("written");
    let script = crate::harness::crate_dir().join("sdk/generated_client.py");
    let run = tokio::process::Command::new(crate::vendor_sdks::python())
        .arg(&script)
        .env("FOLIO_BASE", &stack.base)
        .env("FOLIO_KEY", crate::harness::ALICE)
        .env("FOLIO_CLIENT_DIR", &scratch)
        .env("FOLIO_BUCKET", &bucket)
        .env("FOLIO_PROJECT", crate::harness::unique("client-"))
        .env("FOLIO_ROLE", "arn:aws:iam::123456789012:role/folio-tests")
        .env("FOLIO_PNG", &png)
        .output();
    let output = tokio::time::timeout(std::time::Duration::from_secs(180), run)
        .await
        .expect("the client ends within three minutes")
        .expect("python runs");
    let pdf = stack
        .running
        .data
        .as_ref()
        .expect("a data folder")
        .join("buckets")
        .join(&bucket)
        .join("out/both.pdf");
    let pdf = std::fs::read(&pdf).ok();
    stack.stop().await;
    let _ = std::fs::remove_dir_all(&scratch);
    let seen = crate::vendor_sdks::report(&output);
    assert_eq!(seen["job"]["status"], "completed", "{seen}");
    assert!(seen["job"]["output_bytes"].as_u64() > Some(100), "{seen}");
    assert_eq!(seen["task"]["status"], "Succeeded", "{seen}");
    let pdf = pdf.expect("the task's PDF in the bucket");
    assert!(pdf.starts_with(b"%PDF-"), "a PDF");
}

/// A value's shape: objects by their fields' shapes, arrays by their first element's, and
/// every other value by its JSON type.
fn shape(value: &Value) -> Value {
    match value {
        Value::Object(fields) => {
            Value::Object(fields.iter().map(|(k, v)| (k.clone(), shape(v))).collect())
        }
        Value::Array(items) => Value::Array(items.first().map(shape).into_iter().collect()),
        Value::String(_) => Value::from("string"),
        Value::Number(_) => Value::from("number"),
        Value::Bool(_) => Value::from("boolean"),
        Value::Null => Value::Null,
    }
}

/// The document's examples are real answers: this runs the operations they show against
/// `folio serve` and finds each answer shaped as its example (the same fields, the same
/// types). `FOLIO_WRITE_EXAMPLES=1` writes the answers it got as the new examples
/// (`shared/src/openapi/examples.json`); then `folio openapi > openapi.json`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_documents_examples_are_real_answers() {
    use crate::harness::{ALICE, png, unique};
    let stack = Stack::embedded().await;
    let mut answers = serde_json::Map::new();
    let mut keep = |name: &str, reply: crate::harness::Reply| {
        assert_eq!(reply.status, 200, "{name}: {}", reply.body);
        answers.insert(name.to_string(), reply.body);
    };
    let created = stack
        .post(
            ALICE,
            "CreateUploadImage",
            json!({"ImageType": "default", "ImageExt": "png", "Title": "cover"}),
        )
        .await;
    let image = created.body["ImageId"]
        .as_str()
        .expect("ImageId")
        .to_string();
    keep("CreateUploadImageResponse", created);
    let image2 = stack
        .upload(
            ALICE,
            json!({"ImageType": "default", "ImageExt": "png"}),
            png(64, 48),
        )
        .await;
    stack.wait_processed(ALICE, &image2).await;
    keep(
        "GetImageInfosResponse",
        stack
            .get(
                ALICE,
                "GetImageInfos",
                &[("ImageIds", &format!("{image2},{image}"))],
            )
            .await,
    );
    let project = unique("examples-");
    keep(
        "CreateProjectResponse",
        stack
            .post(
                ALICE,
                "CreateProject",
                json!({"ProjectName": project, "ServiceRole": "arn:aws:iam::123456789012:role/folio"}),
            )
            .await,
    );
    let bucket = stack.local_bucket("examples-", &[("in/a.png", png(40, 30))]);
    let task = stack
        .post(
            ALICE,
            "CreateImageToPDFTask",
            json!({"ProjectName": project, "Sources": [{"URI": format!("oss://{bucket}/in/a.png")}],
                   "TargetURI": format!("oss://{bucket}/out/a.pdf")}),
        )
        .await;
    let task_id = task.body["TaskId"].as_str().expect("TaskId").to_string();
    keep("CreateImageToPDFTaskResponse", task);
    let mut done = Value::Null;
    for _ in 0..150 {
        let reply = stack
            .get(
                ALICE,
                "GetTask",
                &[("ProjectName", &project), ("TaskId", &task_id)],
            )
            .await;
        if reply.body["Status"] != "Running" {
            done = reply.body.clone();
            keep("GetTaskResponse", reply);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(done["Status"], "Succeeded", "{done}");
    keep(
        "ListTasksResponse",
        stack
            .get(ALICE, "ListTasks", &[("ProjectName", &project)])
            .await,
    );
    let answer = stack
        .http
        .get(format!("{}/GetTask", stack.base))
        .bearer_auth(ALICE)
        .query(&[
            ("ProjectName", project.as_str()),
            ("TaskId", "no-such-task"),
        ])
        .send()
        .await
        .expect("answers");
    assert_eq!(answer.status(), 404);
    answers.insert("Error".into(), answer.json().await.expect("JSON"));
    let job = stack
        .http
        .post(format!("{}/v2/jobs", stack.base))
        .bearer_auth(ALICE)
        .json(&json!({"process": false, "conversion": [{"target": "jpg", "options": {"quality": 80}}]}))
        .send()
        .await
        .expect("answers");
    assert_eq!(job.status(), 201);
    answers.insert("Job".into(), job.json().await.expect("JSON"));
    stack.stop().await;

    let file = crate::harness::crate_dir().join("../shared/src/openapi/examples.json");
    if std::env::var_os("FOLIO_WRITE_EXAMPLES").is_some() {
        let mut text = serde_json::to_string_pretty(&Value::Object(answers)).expect("JSON");
        text.push('\n');
        std::fs::write(&file, text).expect("written");
        return;
    }
    let examples = folio_shared::openapi::examples();
    let examples = examples.as_object().expect("an object of examples");
    for (name, answer) in &answers {
        let example = examples
            .get(name)
            .unwrap_or_else(|| panic!("no example of {name}: run with FOLIO_WRITE_EXAMPLES=1"));
        assert_eq!(
            shape(example),
            shape(answer),
            "{name}'s example is not shaped as the real answer: run with FOLIO_WRITE_EXAMPLES=1"
        );
    }
    assert_eq!(
        examples.len(),
        answers.len(),
        "an example no test answer backs"
    );
}
