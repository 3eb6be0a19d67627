//! The console's routes in the document (`console::methods` is the table they follow): HTML
//! pages signed in with the session cookie, forms that answer 303, the script and style.

use serde_json::{Map, Value, json};

/// A page's error statuses: each an HTML page saying why.
const PAGE_ERRORS: [(u16, &str); 8] = [
    (400, "the form or an id is malformed"),
    (401, "the API key is not a live key (sign-in)"),
    (
        403,
        "the form's CSRF token is missing or wrong, or it came from another site",
    ),
    (404, "no such page, or no such record of the tenant's"),
    (405, "the page does not take this method"),
    (409, "the record's state does not allow the action"),
    (429, "too many requests; try again shortly"),
    (503, "a store or the key store did not answer; try again"),
];

fn html(description: &str) -> Value {
    json!({"description": description, "content": {"text/html": {"schema": {"type": "string"}}}})
}

fn responses(success: Value) -> Value {
    let mut responses = Map::new();
    let (status, answer) = match success["_status"].as_u64() {
        Some(303) => (
            "303",
            json!({"description": "done: see Location",
            "headers": {"Location": {"schema": {"type": "string"}}}}),
        ),
        _ => ("200", success.clone()),
    };
    responses.insert(status.into(), answer);
    // A page asked for without a session sends to the sign-in form.
    responses.entry("303").or_insert_with(|| {
        json!({"description": "not signed in: see Location (the sign-in form)",
            "headers": {"Location": {"schema": {"type": "string"}}}})
    });
    for (status, about) in PAGE_ERRORS {
        responses.insert(status.to_string(), html(about));
    }
    Value::Object(responses)
}

fn path_parameters(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect()
}

fn page(path: &str, id: &str, summary: &str) -> Value {
    let get = json!({
        "operationId": id, "summary": summary, "tags": ["Console"],
        "parameters": path_parameters(path),
        "security": [{"consoleSession": []}, {}],
        "responses": responses(html("the page")),
    });
    json!({"get": get})
}

fn form(path: &str, id: &str, summary: &str, fields: Value, required: &[&str]) -> Value {
    json!({"post": {
        "operationId": id, "summary": summary, "tags": ["Console"],
        "parameters": path_parameters(path),
        "security": [{"consoleSession": []}, {}],
        "requestBody": {"required": true, "content": {"application/x-www-form-urlencoded": {"schema": {
            "type": "object", "properties": fields, "required": required}}}},
        "responses": responses(json!({"_status": 303})),
    }})
}

/// The console's path items.
pub fn paths(paths: &mut Map<String, Value>) {
    let csrf = json!({"type": "string", "description": "the CSRF token the page's forms carry"});
    let items = [
        (
            "/console",
            page(
                "/console",
                "consoleOverview",
                "The sign-in form, or the tenant's projects, jobs and image uploads",
            ),
        ),
        (
            "/console/images/{image_id}",
            page(
                "/console/images/{image_id}",
                "consoleImage",
                "An image: its record, download link and notifications",
            ),
        ),
        (
            "/console/jobs/{job_id}",
            page(
                "/console/jobs/{job_id}",
                "consoleJob",
                "A conversion job: status, inputs, outputs (download links), errors, notifications",
            ),
        ),
        (
            "/console/projects/{project}",
            page(
                "/console/projects/{project}",
                "consoleProject",
                "A project's PDF tasks and batches",
            ),
        ),
        (
            "/console/projects/{project}/tasks/{task_id}",
            page(
                "/console/projects/{project}/tasks/{task_id}",
                "consoleTask",
                "A PDF task: status, progress, output, errors, notifications",
            ),
        ),
        (
            "/console/projects/{project}/batches/{batch_id}",
            page(
                "/console/projects/{project}/batches/{batch_id}",
                "consoleBatch",
                "A batch: state, counts, failures, notifications, suspend and resume",
            ),
        ),
        (
            "/console/sign-in",
            form(
                "/console/sign-in",
                "consoleSignIn",
                "Signs in with an API key (sets the session cookie; the key is not kept)",
                json!({"key": {"type": "string", "description": "an API key of the tenant"}}),
                &["key"],
            ),
        ),
        (
            "/console/sign-out",
            form(
                "/console/sign-out",
                "consoleSignOut",
                "Ends the session",
                json!({"csrf": csrf}),
                &["csrf"],
            ),
        ),
        (
            "/console/replay",
            form(
                "/console/replay",
                "consoleReplay",
                "Sends a notification again (ReplayDelivery), then back to the record's page",
                json!({"csrf": csrf, "subject_type": {"type": "string"}, "subject_id": {"type": "string"},
                   "event_id": {"type": "string"}, "target": {"type": "string"},
                   "back": {"type": "string", "description": "a /console/ path to return to"}}),
                &["csrf", "subject_type", "subject_id", "event_id", "target"],
            ),
        ),
        (
            "/console/projects/{project}/batches/{batch_id}/suspend",
            form(
                "/console/projects/{project}/batches/{batch_id}/suspend",
                "consoleSuspendBatch",
                "Suspends a batch (SuspendBatch)",
                json!({"csrf": csrf}),
                &["csrf"],
            ),
        ),
        (
            "/console/projects/{project}/batches/{batch_id}/resume",
            form(
                "/console/projects/{project}/batches/{batch_id}/resume",
                "consoleResumeBatch",
                "Resumes a batch (ResumeBatch)",
                json!({"csrf": csrf}),
                &["csrf"],
            ),
        ),
    ];
    for (path, item) in items {
        paths.insert(path.to_string(), item);
    }
    for (name, kind) in [
        ("console.js", "text/javascript"),
        ("console.css", "text/css"),
    ] {
        paths.insert(
            format!("/console/static/{name}"),
            json!({"get": {
                "operationId": format!("consoleStatic{}", if kind == "text/css" { "Style" } else { "Script" }),
                "summary": format!("The console's {}", if kind == "text/css" { "style" } else { "script" }),
                "tags": ["Console"], "security": [{}],
                "responses": {
                    "200": {"description": "the file", "content": {kind: {"schema": {"type": "string"}}}},
                    "405": html("the file takes GET"),
                },
            }}),
        );
    }
}
