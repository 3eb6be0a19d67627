//! Folio's OpenAPI 3.1 document, made from the code's own tables (`rpc.rs`), served at
//! `/openapi.json` and committed as `openapi.json` (a test checks the two are the same).
//!
//! It describes every route: the RPC operations in both forms (`POST /{Action}`, and `POST /`
//! with `x-acs-action`), `/v2` (`v2.rs`), the OSS upload endpoint and the signed file URLs
//! (`uploads.rs`), and the console (`console.rs`), with their parameters, answers, errors and
//! the ways to sign in.

mod console;
pub mod rpc;
mod uploads;
pub mod v2;

use http::Method;
use serde_json::{Map, Value, json};

use crate::api::Operation;

/// The statuses every operation may answer besides 200, each with the error body.
const ERRORS: [(&str, &str); 8] = [
    (
        "400",
        "a parameter is missing or invalid (the message names it), or Throttling",
    ),
    ("401", "no credentials, or an API key that is not valid"),
    ("403", "the credentials may not do this"),
    (
        "404",
        "no such record of the caller's, or no such operation",
    ),
    ("405", "the operation does not take this method"),
    ("409", "the record is in a state that does not allow it"),
    ("413", "the request body is too large"),
    (
        "503",
        "the service cannot take the call now (say, the data folder's disk is full)",
    ),
];

fn group(op: Operation) -> &'static str {
    match op {
        Operation::CreateUploadImage
        | Operation::GetImageInfos
        | Operation::UpdateImageInfos
        | Operation::DeleteImage => "Image library",
        Operation::GetWebhookSecret | Operation::ListDeliveries | Operation::ReplayDelivery => {
            "Notifications"
        }
        Operation::CreateProject
        | Operation::GetProject
        | Operation::ListProjects
        | Operation::UpdateProject
        | Operation::DeleteProject => "Projects",
        Operation::CreateImageToPDFTask | Operation::GetTask | Operation::ListTasks => {
            "Images to PDF"
        }
        Operation::CreateBatch
        | Operation::GetBatch
        | Operation::ListBatches
        | Operation::UpdateBatch
        | Operation::SuspendBatch
        | Operation::ResumeBatch
        | Operation::DeleteBatch => "Batches",
    }
}

fn request_schema(op: Operation) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for param in rpc::params(op) {
        let mut schema = param.kind.schema();
        schema["description"] = json!(param.about);
        properties.insert(param.name.to_string(), schema);
        if param.required {
            required.push(param.name);
        }
    }
    json!({"type": "object", "properties": properties, "required": required})
}

fn answer_schema(op: Operation) -> Value {
    let mut properties = Map::new();
    properties.insert(
        "RequestId".into(),
        json!({"type": "string", "description": "quote it to find the call in the log"}),
    );
    let (fields, always) = rpc::answer(op);
    let mut required = vec!["RequestId"];
    required.extend(fields.iter().take(always).map(|(name, _)| *name));
    for (name, schema) in fields {
        properties.insert(name.to_string(), schema);
    }
    json!({"type": "object", "properties": properties, "required": required})
}

/// What a client can do next with what an operation answered (OpenAPI links, which
/// stateful tests follow): read, change and delete what it created.
fn links(op: Operation) -> Value {
    let project = "$request.body#/ProjectName";
    match op {
        Operation::CreateProject => json!({
            "GetProject": {"operationId": "GetProjectByQuery", "parameters": {"ProjectName": project}},
            "GetProjectByBody": {"operationId": "GetProject", "requestBody": {"ProjectName": project}},
            "ListBatchesByBody": {"operationId": "ListBatches", "requestBody": {"ProjectName": project}},
            // A task in the new project (its source does not exist: it ends Failed, readable).
            "CreateImageToPDFTask": {"operationId": "CreateImageToPDFTask", "requestBody": {
                "ProjectName": project,
                "Sources": [{"URI": "oss://folio-uploads/schemathesis/in.png"}],
                "TargetURI": "oss://folio-uploads/schemathesis/out.pdf"}},
            "UpdateProject": {"operationId": "UpdateProject", "requestBody": {"ProjectName": project, "Description": "changed"}},
            "ListTasks": {"operationId": "ListTasksByQuery", "parameters": {"ProjectName": project}},
            "ListBatches": {"operationId": "ListBatchesByQuery", "parameters": {"ProjectName": project}},
            "DeleteProject": {"operationId": "DeleteProject", "requestBody": {"ProjectName": project}},
        }),
        Operation::CreateImageToPDFTask => json!({
            "GetTask": {"operationId": "GetTaskByQuery", "parameters": {
                "ProjectName": project, "TaskId": "$response.body#/TaskId"}},
            "GetTaskByBody": {"operationId": "GetTask", "requestBody": {
                "ProjectName": project, "TaskId": "$response.body#/TaskId"}},
            "ListDeliveries": {"operationId": "ListDeliveriesByQuery", "parameters": {
                "SubjectType": "Task", "SubjectId": "$response.body#/TaskId"}},
        }),
        Operation::CreateBatch => json!({
            "GetBatch": {"operationId": "GetBatchByQuery", "parameters": {
                "ProjectName": project, "Id": "$response.body#/Id"}},
            "SuspendBatch": {"operationId": "SuspendBatch", "requestBody": {
                "ProjectName": project, "Id": "$response.body#/Id"}},
            "ResumeBatch": {"operationId": "ResumeBatch", "requestBody": {
                "ProjectName": project, "Id": "$response.body#/Id"}},
            "GetBatchByBody": {"operationId": "GetBatch", "requestBody": {
                "ProjectName": project, "Id": "$response.body#/Id"}},
            "UpdateBatch": {"operationId": "UpdateBatch", "requestBody": {
                "ProjectName": project, "Id": "$response.body#/Id", "Tags": {"changed": "yes"}}},
            "DeleteBatch": {"operationId": "DeleteBatch", "requestBody": {
                "ProjectName": project, "Id": "$response.body#/Id"}},
        }),
        Operation::CreateUploadImage => json!({
            "GetImageInfos": {"operationId": "GetImageInfosByQuery", "parameters": {
                "ImageIds": "$response.body#/ImageId"}},
            "ListDeliveries": {"operationId": "ListDeliveriesByQuery", "parameters": {
                "SubjectType": "Image", "SubjectId": "$response.body#/ImageId"}},
            "DeleteImage": {"operationId": "DeleteImage", "requestBody": {
                "ImageIds": "$response.body#/ImageId"}},
        }),
        _ => json!({}),
    }
}

/// Real answers, shown as examples: captured by `tests/api/openapi.rs`, which also checks
/// that each is still shaped as the answer it stands for.
pub fn examples() -> &'static Value {
    static EXAMPLES: std::sync::LazyLock<Value> = std::sync::LazyLock::new(|| {
        // Invariant: the file is JSON (its test parses the same text).
        serde_json::from_str(include_str!("examples.json")).expect("examples.json is JSON")
    });
    &EXAMPLES
}

/// A JSON media type of schema `name`, with its example when there is one.
fn json_content(name: &str) -> Value {
    let mut media = json!({"schema": {"$ref": format!("#/components/schemas/{name}")}});
    if let Some(example) = examples().get(name) {
        media["example"] = example.clone();
    }
    json!({"application/json": media})
}

fn responses(op: Operation) -> Value {
    let mut responses = Map::new();
    let mut done = json!({
        "description": "done",
        "content": json_content(&format!("{}Response", op.name())),
    });
    let links = links(op);
    if links.as_object().is_some_and(|l| !l.is_empty()) {
        done["links"] = links;
    }
    responses.insert("200".into(), done);
    add_errors(&mut responses);
    Value::Object(responses)
}

/// The error statuses, each a reference to its shared response.
fn add_errors(responses: &mut Map<String, Value>) {
    for (status, _) in ERRORS {
        responses.insert(
            status.into(),
            json!({"$ref": format!("#/components/responses/Error{status}")}),
        );
    }
}

/// The shared error responses the operations refer to.
fn error_responses() -> Value {
    let mut responses = Map::new();
    for (status, about) in ERRORS {
        responses.insert(
            format!("Error{status}"),
            json!({"description": about, "content": json_content("Error")}),
        );
    }
    Value::Object(responses)
}

fn operation(op: Operation, by_query: bool) -> Value {
    let mut operation = json!({
        "operationId": if by_query { format!("{}ByQuery", op.name()) } else { op.name().to_string() },
        "summary": rpc::summary(op),
        "tags": [group(op)],
        "responses": responses(op),
    });
    if by_query {
        let parameters: Vec<Value> = rpc::params(op)
            .into_iter()
            .map(|param| {
                let mut parameter = json!({
                    "name": param.name,
                    "in": "query",
                    "required": param.required,
                    "description": param.about,
                });
                if param.kind.is_json() {
                    // JSON text, as the SDKs send lists and objects in a query.
                    parameter["content"] =
                        json!({"application/json": {"schema": param.kind.schema()}});
                } else {
                    parameter["schema"] = param.kind.schema();
                }
                parameter
            })
            .collect();
        operation["parameters"] = Value::Array(parameters);
    } else {
        let schema = json!({"$ref": format!("#/components/schemas/{}Request", op.name())});
        let required = rpc::params(op).iter().any(|param| param.required);
        // JSON here (a form body is taken too, as at `/`, where the vendors' SDKs send one).
        operation["requestBody"] = json!({
            "required": required,
            "content": {"application/json": {"schema": schema}},
        });
    }
    operation
}

fn path_item(op: Operation) -> Value {
    let mut item = json!({"post": operation(op, false)});
    if op.allows(&Method::GET) {
        item["get"] = operation(op, true);
    }
    item
}

/// `POST /` (and `GET /`), the operation named by `x-acs-action` or `Action`, as the
/// vendors' SDKs call it.
fn rpc_root() -> Value {
    let actions: Vec<&str> = Operation::ALL.iter().map(|op| op.name()).collect();
    let versions = ["2017-03-21", "2020-09-30"];
    let mut generic = Map::new();
    generic.insert(
        "200".into(),
        json!({"description": "the operation's answer", "content": {"application/json": {"schema": {
            "type": "object", "properties": {"RequestId": {"type": "string"}}, "required": ["RequestId"],
        }}}}),
    );
    add_errors(&mut generic);
    let parameters = json!([
        {"name": "x-acs-action", "in": "header", "required": false,
         "description": "the operation (current SDKs); older ones send Action in the query",
         "schema": {"type": "string", "enum": actions}},
        {"name": "x-acs-version", "in": "header", "required": false,
         "description": "the operation's API version, when sent",
         "schema": {"type": "string", "enum": versions}},
        {"name": "Action", "in": "query", "required": false,
         "description": "the operation (older SDKs)", "schema": {"type": "string", "enum": actions}},
    ]);
    json!({
        "post": {
            "operationId": "Rpc",
            "summary": "Any operation, named by x-acs-action or Action, as the vendors' SDKs call it",
            "tags": ["RPC"],
            "parameters": parameters,
            "requestBody": {"required": false, "content": {
                "application/json": {"schema": {"type": "object"}},
                "application/x-www-form-urlencoded": {"schema": {"type": "object"}},
            }},
            "responses": generic,
        },
    })
}

/// The schemas: the error body, and each operation's request and answer.
fn schemas() -> Value {
    let mut schemas = Map::new();
    schemas.insert(
        "Error".into(),
        json!({
            "type": "object",
            "properties": {
                "RequestId": {"type": "string"},
                "Code": {"type": "string", "description": "e.g. InvalidParameter, ResourceNotFound"},
                "Message": {"type": "string", "description": "names the field and the reason"},
            },
            "required": ["RequestId", "Code", "Message"],
        }),
    );
    for op in Operation::ALL {
        schemas.insert(format!("{}Request", op.name()), request_schema(op));
        schemas.insert(format!("{}Response", op.name()), answer_schema(op));
    }
    Value::Object(schemas)
}

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    paths.insert("/".into(), rpc_root());
    for op in Operation::ALL {
        paths.insert(format!("/{}", op.name()), path_item(op));
    }
    v2::paths(&mut paths);
    uploads::paths(&mut paths);
    console::paths(&mut paths);
    paths.insert(
        "/openapi.json".into(),
        json!({"get": {"operationId": "openapi", "summary": "This document", "tags": ["RPC"],
            "security": [{}],
            "responses": {"200": {"description": "the document", "content": {
                "application/json": {"schema": {"type": "object"}}}}}}}),
    );
    let mut responses = error_responses();
    if let Value::Object(map) = &mut responses {
        v2::error_responses(map);
    }
    let mut schemas = schemas();
    if let Value::Object(map) = &mut schemas {
        v2::schemas(map);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Folio",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "A self-hosted media-processing API compatible with Alibaba Cloud IMM \
                and VOD and with online-convert's API v2. Every answer carries RequestId; \
                errors are {RequestId, Code, Message}.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"acs3": []}],
        "tags": [
            {"name": "Image library"},
            {"name": "Notifications"},
            {"name": "Projects"},
            {"name": "Images to PDF"},
            {"name": "Batches"},
            {"name": "RPC"},
            {"name": "Conversion jobs (/v2)", "description": "online-convert's API v2"},
            {"name": "Uploads and downloads"},
            {"name": "Console", "description": "HTML pages, signed in with an API key"},
        ],
        "paths": paths,
        "components": {
            "responses": responses,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "an API key of a tenant (folio keys create)"},
                "acs3": {"type": "apiKey", "in": "header", "name": "Authorization",
                         "description": "Alibaba Cloud's ACS3-HMAC-SHA256 signature with an \
                             access key pair Folio issued, as the vendors' SDKs make it (or the \
                             older RPC signature in the query)"},
                "ocApiKey": {"type": "apiKey", "in": "header", "name": "X-Oc-Api-Key",
                             "description": "an API key, as online-convert's clients send it"},
                "api2convertApiKey": {"type": "apiKey", "in": "header", "name": "X-Api2convert-Api-Key",
                                      "description": "an API key, as the api2convert SDK sends it"},
                "jobToken": {"type": "apiKey", "in": "header", "name": "X-Oc-Token",
                             "description": "a job's token: that job alone (X-Api2convert-Token too)"},
                "ossSignature": {"type": "apiKey", "in": "header", "name": "Authorization",
                                 "description": "OSS's signature (V1 `OSS id:sig` or V4 \
                                     `OSS4-HMAC-SHA256`) with the temporary credential \
                                     CreateUploadImage answered, and x-oss-security-token"},
                "consoleSession": {"type": "apiKey", "in": "cookie", "name": "folio_console",
                                   "description": "the console's session, set by /console/sign-in"},
            },
            "schemas": schemas,
        },
    })
}

/// The document as committed and served: pretty JSON with a final newline, made once.
pub fn text() -> &'static str {
    static TEXT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        // Invariant: a JSON value always serialises.
        let mut text = serde_json::to_string_pretty(&document()).expect("JSON serialises");
        text.push('\n');
        text
    });
    &TEXT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_examples_parse() {
        assert!(examples().as_object().is_some_and(|e| !e.is_empty()));
    }

    #[test]
    fn every_operation_has_a_path_and_unique_operation_ids() {
        let doc = document();
        let paths = doc["paths"].as_object().expect("paths");
        for op in Operation::ALL {
            let item = &paths[&format!("/{}", op.name())];
            assert!(item["post"].is_object(), "{}", op.name());
            assert_eq!(
                item["get"].is_object(),
                op.allows(&Method::GET),
                "{}",
                op.name()
            );
        }
        let mut ids: Vec<&str> = paths
            .values()
            .flat_map(|item| item.as_object().into_iter().flat_map(|m| m.values()))
            .filter_map(|operation| operation["operationId"].as_str())
            .collect();
        let count = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), count, "operationIds are unique");
    }

    #[test]
    fn links_name_operations_that_exist() {
        let doc = document();
        let ids: Vec<String> = doc["paths"]
            .as_object()
            .expect("paths")
            .values()
            .flat_map(|item| item.as_object().into_iter().flat_map(|m| m.values()))
            .filter_map(|operation| operation["operationId"].as_str().map(str::to_string))
            .collect();
        for op in Operation::ALL {
            for link in links(op).as_object().into_iter().flat_map(|l| l.values()) {
                let target = link["operationId"].as_str().expect("an operationId");
                assert!(ids.iter().any(|id| id == target), "{}: {target}", op.name());
            }
        }
    }

    #[test]
    fn the_committed_document_is_the_generated_one() {
        let committed = crate::repository_file("openapi.json");
        assert!(
            committed == text(),
            "openapi.json differs from the code's document: run `folio openapi > openapi.json`"
        );
    }
}
