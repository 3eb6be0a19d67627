//! The `/v2` routes (online-convert's API v2, as `jobs::http` serves them) in the document:
//! the routes Folio serves with their methods and answers, and the job's shapes as
//! `jobs::wire` writes them. Names and types follow online-convert's own document where it
//! has the same route or shape (a test in `tests/api/openapi.rs` holds the two side by side).

use serde_json::{Map, Value, json};

/// What a route takes or answers.
#[derive(Clone, Copy)]
pub enum Body {
    /// A JSON value of the named schema.
    Json(&'static str),
    /// A JSON array of the named schema.
    List(&'static str),
    /// One value of the named schema, or an array of them (the answer is the same shape).
    OneOrList(&'static str),
    /// Nothing (204, 302).
    Empty,
    /// A file's bytes.
    File,
    /// A `multipart/form-data` upload with one `file` part.
    Multipart,
}

/// Who may call a route.
#[derive(Clone, Copy, PartialEq)]
pub enum Access {
    /// Anyone: the catalog, the statuses, a download (its ids are the secret).
    Public,
    /// The account's API key, or the job's token.
    KeyOrToken,
}

pub struct Route {
    pub path: &'static str,
    pub method: &'static str,
    pub id: &'static str,
    pub summary: &'static str,
    pub request: Option<Body>,
    pub answers: &'static [(u16, Body)],
    pub access: Access,
}

const JOB: &str = "/v2/jobs/{job_id}";

/// Every `/v2` route Folio serves. (`threads`, `contracts`, `presets` and `stats` are
/// online-convert's and not served.)
pub const ROUTES: &[Route] = &[
    Route {
        path: "/v2/statuses",
        method: "get",
        id: "v2ListStatuses",
        summary: "The statuses a job goes through, with what each means",
        request: None,
        answers: &[(200, Body::List("Status"))],
        access: Access::Public,
    },
    Route {
        path: "/v2/conversions",
        method: "get",
        id: "v2ListConversions",
        summary: "The conversion catalog: targets, their category and options (filter by target or category)",
        request: None,
        answers: &[(200, Body::List("ConversionInfo"))],
        access: Access::Public,
    },
    Route {
        path: "/v2/jobs",
        method: "get",
        id: "v2ListJobs",
        summary: "The account's jobs, newest first, 50 a page (204 when it has none)",
        request: None,
        answers: &[(200, Body::List("Job")), (204, Body::Empty)],
        access: Access::KeyOrToken,
    },
    Route {
        path: "/v2/jobs",
        method: "post",
        id: "v2CreateJob",
        summary: "Creates a job: inputs, conversions, and whether to start at once (process); an empty body creates nothing (204)",
        request: Some(Body::Json("JobRequest")),
        answers: &[(201, Body::Json("Job")), (204, Body::Empty)],
        access: Access::KeyOrToken,
    },
    Route {
        path: JOB,
        method: "get",
        id: "v2GetJob",
        summary: "A job with its status, inputs, conversions, outputs, errors and warnings",
        request: None,
        answers: &[(200, Body::Json("Job"))],
        access: Access::KeyOrToken,
    },
    Route {
        path: JOB,
        method: "patch",
        id: "v2UpdateJob",
        summary: "Changes a job that has not started (process: true starts it)",
        request: Some(Body::Json("JobRequest")),
        answers: &[(200, Body::Json("Job"))],
        access: Access::KeyOrToken,
    },
    Route {
        path: JOB,
        method: "delete",
        id: "v2CancelJob",
        summary: "Cancels a job and deletes its files",
        request: None,
        answers: &[(204, Body::Empty)],
        access: Access::KeyOrToken,
    },
    Route {
        path: "/v2/jobs/{job_id}/history",
        method: "get",
        id: "v2GetJobHistory",
        summary: "Every status the job has had, in order",
        request: None,
        answers: &[(200, Body::List("History"))],
        access: Access::KeyOrToken,
    },
    Route {
        path: "/v2/jobs/{job_id}/input",
        method: "get",
        id: "v2ListInputs",
        summary: "The job's inputs",
        request: None,
        answers: &[(200, Body::List("InputFile"))],
        access: Access::KeyOrToken,
    },
    Route {
        path: "/v2/jobs/{job_id}/input",
        method: "post",
        id: "v2AddInput",
        summary: "Adds an input, or a list of them (a remote URL, cloud storage, or an earlier job's input or output)",
        request: Some(Body::OneOrList("InputRequest")),
        answers: &[(201, Body::OneOrList("InputFile"))],
        access: Access::KeyOrToken,
    },
    Route {
        path: "/v2/jobs/{job_id}/input",
        method: "patch",
        id: "v2UpdateInputs",
        summary: "Changes several inputs at once (an array of {id, ...})",
        request: Some(Body::List("InputRequest")),
        answers: &[(200, Body::List("InputFile"))],
        access: Access::KeyOrToken,
    },
    Route {
        path: "/v2/jobs/{job_id}/input/{input_id}",
        method: "get",
        id: "v2GetInput",
        summary: "One input",
        request: None,
        answers: &[(200, Body::Json("InputFile"))],
        access: Access::KeyOrToken,
    },
    Route {
        path: "/v2/jobs/{job_id}/input/{input_id}",
        method: "patch",
        id: "v2UpdateInput",
        summary: "Changes an input of a job that has not started",
        request: Some(Body::Json("InputRequest")),
        answers: &[(200, Body::Json("InputFile"))],
        access: Access::KeyOrToken,
    },
    Route {
        path: "/v2/jobs/{job_id}/input/{input_id}",
        method: "delete",
        id: "v2DeleteInput",
        summary: "Removes an input (and its uploaded file) from a job that has not started",
        request: None,
        answers: &[(204, Body::Empty)],
        access: Access::KeyOrToken,
    },
    Route {
        path: "/v2/jobs/{job_id}/conversions",
        method: "get",
        id: "v2ListJobConversions",
        summary: "The job's conversions",
        request: None,
        answers: &[(200, Body::List("Conversion"))],
        access: Access::KeyOrToken,
    },
    Route {
        path: "/v2/jobs/{job_id}/conversions",
        method: "post",
        id: "v2AddConversion",
        summary: "Adds a conversion to a job that has not started",
        request: Some(Body::Json("ConversionRequest")),
        answers: &[(201, Body::Json("Conversion"))],
        access: Access::KeyOrToken,
    },
    Route {
        path: "/v2/jobs/{job_id}/conversions/{conversion_id}",
        method: "get",
        id: "v2GetConversion",
        summary: "One conversion",
        request: None,
        answers: &[(200, Body::Json("Conversion"))],
        access: Access::KeyOrToken,
    },
    Route {
        path: "/v2/jobs/{job_id}/conversions/{conversion_id}",
        method: "patch",
        id: "v2UpdateConversion",
        summary: "Changes a conversion of a job that has not started",
        request: Some(Body::Json("ConversionRequest")),
        answers: &[(200, Body::Json("Conversion"))],
        access: Access::KeyOrToken,
    },
    Route {
        path: "/v2/jobs/{job_id}/conversions/{conversion_id}",
        method: "delete",
        id: "v2DeleteConversion",
        summary: "Removes a conversion from a job that has not started",
        request: None,
        answers: &[(204, Body::Empty)],
        access: Access::KeyOrToken,
    },
    Route {
        path: "/v2/jobs/{job_id}/output",
        method: "get",
        id: "v2ListOutputs",
        summary: "The job's outputs, each with its download URI",
        request: None,
        answers: &[(200, Body::List("OutputFile"))],
        access: Access::KeyOrToken,
    },
    Route {
        path: "/v2/jobs/{job_id}/output",
        method: "patch",
        id: "v2UpdateOutputs",
        summary: "Changes every output's status (enabled or disabled)",
        request: Some(Body::Json("OutputPatch")),
        answers: &[(200, Body::List("OutputFile"))],
        access: Access::KeyOrToken,
    },
    Route {
        path: "/v2/jobs/{job_id}/output/{output_id}",
        method: "get",
        id: "v2GetOutput",
        summary: "One output",
        request: None,
        answers: &[(200, Body::Json("OutputFile"))],
        access: Access::KeyOrToken,
    },
    Route {
        path: "/v2/jobs/{job_id}/output/{output_id}",
        method: "patch",
        id: "v2UpdateOutput",
        summary: "Changes one output's status (enabled or disabled)",
        request: Some(Body::Json("OutputPatch")),
        answers: &[(200, Body::Json("OutputFile"))],
        access: Access::KeyOrToken,
    },
    Route {
        path: "/v2/jobs/{job_id}/output/{output_id}",
        method: "delete",
        id: "v2DeleteOutput",
        summary: "Deletes an output's file",
        request: None,
        answers: &[(204, Body::Empty)],
        access: Access::KeyOrToken,
    },
    Route {
        path: "/v2/dl/{job_id}/upload-file/{upload_job_id}",
        method: "post",
        id: "v2UploadFile",
        summary: "Uploads a file as an input of the job (the job's `server` + /upload-file/{job_id})",
        request: Some(Body::Multipart),
        answers: &[(201, Body::Json("InputFile"))],
        access: Access::KeyOrToken,
    },
    Route {
        path: "/v2/dl/{job_id}/upload-base64/{upload_job_id}",
        method: "post",
        id: "v2UploadBase64",
        summary: "Uploads a base64-encoded file, or a list of them, as inputs of the job",
        request: Some(Body::OneOrList("Base64Upload")),
        answers: &[(201, Body::OneOrList("InputFile"))],
        access: Access::KeyOrToken,
    },
    Route {
        path: "/v2/dl/{job_id}/download-file/{output_id}",
        method: "get",
        id: "v2DownloadFile",
        summary: "Downloads an output (or redirects to its presigned URL); Range is honoured",
        request: None,
        answers: &[(200, Body::File), (206, Body::File), (302, Body::Empty)],
        access: Access::Public,
    },
    Route {
        path: "/v2/dl/{job_id}/download-file/{output_id}/{filename}",
        method: "get",
        id: "v2DownloadFileNamed",
        summary: "Downloads an output, its file name in the path (the output's `uri`)",
        request: None,
        answers: &[(200, Body::File), (206, Body::File), (302, Body::Empty)],
        access: Access::Public,
    },
    Route {
        path: "/v2/dl/{job_id}/download-file/{output_id}",
        method: "head",
        id: "v2DownloadFileHead",
        summary: "An output's headers (size, type) without its bytes",
        request: None,
        answers: &[(200, Body::Empty), (302, Body::Empty)],
        access: Access::Public,
    },
    Route {
        path: "/v2/dl/{job_id}/download-file/{output_id}/{filename}",
        method: "head",
        id: "v2DownloadFileNamedHead",
        summary: "An output's headers (size, type) without its bytes, its file name in the path",
        request: None,
        answers: &[(200, Body::Empty), (302, Body::Empty)],
        access: Access::Public,
    },
];

/// Whether the path template `template` matches `path` (a `{name}` matches one segment).
fn matches(template: &str, path: &str) -> bool {
    let path = path.trim_end_matches('/');
    let (mut t, mut p) = (template.split('/'), path.split('/'));
    loop {
        match (t.next(), p.next()) {
            (None, None) => return true,
            (Some(t), Some(p)) if t == p || (t.starts_with('{') && !p.is_empty()) => {}
            _ => return false,
        }
    }
}

/// The methods the `/v2` route at `path` takes (the `Allow` of a 405), from the table above.
pub fn allowed(path: &str) -> String {
    let methods: Vec<String> = ROUTES
        .iter()
        .filter(|r| matches(r.path, path))
        .map(|r| r.method.to_ascii_uppercase())
        .collect();
    methods.join(", ")
}

/// The error statuses a `/v2` route may answer, with the error body.
const ERRORS: [(u16, &str); 10] = [
    (
        400,
        "a field is missing or invalid (the message names it), or an id is malformed",
    ),
    (401, "no API key or job token, or one that is not valid"),
    (
        402,
        "a limit is exceeded (inputs, file size, credits, downloads)",
    ),
    (403, "a download password is needed or wrong"),
    (
        404,
        "no such job, input, conversion or output of the caller's",
    ),
    (405, "the route does not take this method"),
    (409, "the job has started: it can no longer be changed"),
    (410, "the output has expired, or was disabled or deleted"),
    (413, "the request body is too large"),
    (503, "the service cannot take the call now; try again"),
];

fn content(body: Body) -> Option<Value> {
    let reference = |name: &str| json!({"$ref": format!("#/components/schemas/{name}")});
    match body {
        Body::Json(name) => Some(super::json_content(name)),
        Body::List(name) => Some(json!({"application/json": {"schema": {
            "type": "array", "items": reference(name)}}})),
        Body::OneOrList(name) => Some(json!({"application/json": {"schema": {"anyOf": [
            reference(name), {"type": "array", "items": reference(name)}]}}})),
        Body::Empty => None,
        Body::File => Some(file_content()),
        Body::Multipart => Some(json!({"multipart/form-data": {"schema": {
            "type": "object",
            "properties": {"file": {"type": "string", "format": "binary"}},
            "required": ["file"],
        }}})),
    }
}

/// A file's bytes, in its own type (`*/*`); `application/octet-stream` first, the type
/// client generators know for bytes.
pub fn file_content() -> Value {
    let bytes = json!({"schema": {"type": "string", "format": "binary"}});
    json!({"application/octet-stream": bytes, "*/*": bytes})
}

fn parameters(route: &Route) -> Vec<Value> {
    let mut parameters: Vec<Value> = route
        .path
        .split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            let schema = if name == "filename" {
                json!({"type": "string"})
            } else {
                json!({"type": "string", "format": "uuid"})
            };
            json!({"name": name, "in": "path", "required": true, "schema": schema})
        })
        .collect();
    match (route.path, route.method) {
        ("/v2/jobs", "get") => {
            parameters.push(json!({"name": "status", "in": "query", "required": false,
                "description": "only jobs in this status (see /v2/statuses)",
                "schema": {"type": "string"}}));
            parameters.push(json!({"name": "page", "in": "query", "required": false,
                "description": "the page, from 1", "schema": {"type": "integer", "minimum": 1, "default": 1}}));
        }
        ("/v2/conversions", _) => {
            parameters.push(json!({"name": "target", "in": "query", "required": false,
                "description": "only this target format (e.g. png)", "schema": {"type": "string"}}));
            parameters.push(json!({"name": "category", "in": "query", "required": false,
                "description": "only this category (e.g. image)", "schema": {"type": "string"}}));
            parameters.push(json!({"name": "page", "in": "query", "required": false,
                "description": "the page, from 1", "schema": {"type": "integer", "minimum": 1, "default": 1}}));
        }
        (_, "get") if route.path.contains("download-file") => {
            parameters.push(json!({"name": "X-Oc-Download-Password", "in": "header",
                "required": false, "description": "one of the job's download passwords, if it has any",
                "schema": {"type": "string"}}));
        }
        _ => {}
    }
    parameters
}

/// What a client can do next with what a route answered (OpenAPI links, which stateful
/// tests follow): a job created is read, changed, given inputs and conversions, cancelled.
fn links(id: &str) -> Value {
    let job = |operation: &str| json!({"operationId": operation, "parameters": {"job_id": "$response.body#/id"}});
    let part = |operation: &str, name: &str| {
        json!({"operationId": operation, "parameters": {
        "job_id": "$request.path.job_id", name: "$response.body#/id"}})
    };
    match id {
        "v2CreateJob" => json!({
            "GetJob": job("v2GetJob"), "UpdateJob": job("v2UpdateJob"),
            "CancelJob": job("v2CancelJob"), "History": job("v2GetJobHistory"),
            "Inputs": job("v2ListInputs"), "AddInput": job("v2AddInput"),
            "Conversions": job("v2ListJobConversions"), "AddConversion": job("v2AddConversion"),
            "Outputs": job("v2ListOutputs"), "UpdateOutputs": job("v2UpdateOutputs"),
            "UpdateInputs": job("v2UpdateInputs"),
            "Upload": {"operationId": "v2UploadFile", "parameters": {
                "job_id": "$response.body#/id", "upload_job_id": "$response.body#/id"}},
            "UploadBase64": {"operationId": "v2UploadBase64", "parameters": {
                "job_id": "$response.body#/id", "upload_job_id": "$response.body#/id"}},
        }),
        "v2AddInput" => json!({
            "GetInput": part("v2GetInput", "input_id"),
            "UpdateInput": part("v2UpdateInput", "input_id"),
            "DeleteInput": part("v2DeleteInput", "input_id"),
        }),
        "v2AddConversion" => json!({
            "GetConversion": part("v2GetConversion", "conversion_id"),
            "UpdateConversion": part("v2UpdateConversion", "conversion_id"),
            "DeleteConversion": part("v2DeleteConversion", "conversion_id"),
        }),
        _ => json!({}),
    }
}

fn operation(route: &Route) -> Value {
    let mut responses = Map::new();
    for (status, body) in route.answers {
        let mut answer = json!({"description": match status {
            200 => "done", 201 => "created", 204 => "done; nothing to show",
            206 => "the requested range", 302 => "see Location (a presigned URL)",
            _ => "answer",
        }});
        if let Some(content) = content(*body) {
            answer["content"] = content;
        }
        let links = links(route.id);
        if (200..300).contains(status) && links.as_object().is_some_and(|l| !l.is_empty()) {
            answer["links"] = links;
        }
        if *status == 302 {
            answer["headers"] = json!({"Location": {"schema": {"type": "string"}}});
        }
        responses.insert(status.to_string(), answer);
    }
    for (status, _) in ERRORS {
        responses.insert(
            status.to_string(),
            json!({"$ref": format!("#/components/responses/V2Error{status}")}),
        );
    }
    let mut operation = json!({
        "operationId": route.id,
        "summary": route.summary,
        "tags": ["Conversion jobs (/v2)"],
        "parameters": parameters(route),
        "responses": responses,
    });
    if let Some(body) = route.request.and_then(content) {
        operation["requestBody"] = json!({"required": true, "content": body});
    }
    operation["security"] = match route.access {
        Access::Public => json!([{}]),
        Access::KeyOrToken => {
            json!([{"ocApiKey": []}, {"api2convertApiKey": []}, {"bearer": []}, {"jobToken": []}])
        }
    };
    operation
}

/// The `/v2` path items.
pub fn paths(paths: &mut Map<String, Value>) {
    for route in ROUTES {
        let item = paths
            .entry(route.path.to_string())
            .or_insert_with(|| json!({}));
        item[route.method] = operation(route);
    }
}

/// The shared `/v2` error responses.
pub fn error_responses(responses: &mut Map<String, Value>) {
    for (status, about) in ERRORS {
        responses.insert(
            format!("V2Error{status}"),
            json!({"description": about, "content": {"application/json": {"schema": {
                "$ref": "#/components/schemas/V2Error"}}}}),
        );
    }
}

/// An object's schema: its properties, and those always written.
fn object(properties: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": properties, "required": required})
}

/// A map Folio writes as `[]` when it is empty, as online-convert does.
fn map_or_empty_list() -> Value {
    json!({"anyOf": [{"type": "object"}, {"type": "array", "items": {}, "maxItems": 0}],
           "description": "an object; [] when empty"})
}

const STATUSES: [&str; 9] = [
    "incomplete",
    "ready",
    "queued",
    "downloading",
    "pending",
    "processing",
    "completed",
    "failed",
    "canceled",
];

/// The `/v2` schemas.
pub fn schemas(schemas: &mut Map<String, Value>) {
    let string = json!({"type": "string"});
    let integer = json!({"type": "integer"});
    let time = json!({"type": "string", "description": "UTC, YYYY-MM-DDTHH:MM:SS"});
    let message = object(
        json!({
            "source": {"type": "string", "description": "input, conversion or job"},
            "id_source": {"type": "string", "description": "the id of the input or conversion"},
            "code": integer, "message": string, "details": {"type": "object"},
        }),
        &["source", "id_source", "code", "message"],
    );
    let entries = [
        (
            "V2Error",
            json!({"type": "object", "properties": {
                "code": {"type": "integer", "description": "the HTTP status"},
                "error_code": {"type": "integer", "description": "for 410: why the file is gone"},
                "message": {"type": "string", "description": "names the field and the reason"},
            }, "required": ["message"]}),
        ),
        (
            "Status",
            object(
                json!({"code": {"type": "string", "enum": STATUSES}, "info": string}),
                &["code", "info"],
            ),
        ),
        ("UserError", message.clone()),
        ("UserWarning", message),
        (
            "History",
            object(
                json!({"id": string, "status": {"type": "string", "enum": STATUSES},
                       "info": string, "created_at": time}),
                &["id", "status", "info", "created_at"],
            ),
        ),
        (
            "Limits",
            json!({"type": "object", "properties": {
                "job": {"type": "object", "properties": {
                    "max_credit": integer, "max_inputs": integer, "max_process_time": integer}},
                "input": {"type": "object", "properties": {"max_file_size": integer}},
                "output": {"type": "object", "properties": {"max_downloads": integer}},
            }}),
        ),
        (
            "InputFile",
            object(
                json!({
                    "id": string,
                    "type": {"type": "string", "description": "remote, upload, base64, cloud, input_id, output"},
                    "status": {"type": "string", "enum": ["downloading", "ready", "failed", "canceled"]},
                    "source": string, "engine": string, "options": map_or_empty_list(),
                    "filename": string, "size": integer, "hash": string, "checksum": string,
                    "content_type": string, "created_at": time, "modified_at": time,
                    "credentials": map_or_empty_list(), "parameters": map_or_empty_list(),
                    "metadata": {"type": "object"},
                }),
                &[
                    "id",
                    "type",
                    "status",
                    "source",
                    "filename",
                    "size",
                    "created_at",
                ],
            ),
        ),
        (
            "OutputTarget",
            object(
                json!({"type": string,
                       "status": {"type": "string", "enum": ["waiting", "uploading", "completed", "failed"]},
                       "parameters": map_or_empty_list(), "credentials": map_or_empty_list()}),
                &["type", "status"],
            ),
        ),
        (
            "Conversion",
            object(
                json!({"id": string, "target": string, "category": string,
                       "options": {"type": "object"}, "metadata": {"type": "object"},
                       "output_target": {"type": "array", "items": {"$ref": "#/components/schemas/OutputTarget"}}}),
                &["id", "target", "category", "options", "output_target"],
            ),
        ),
        (
            "OutputFile",
            object(
                json!({
                    "id": string,
                    "source": {"type": "object", "properties": {
                        "conversion": string, "input": {"type": "array", "items": string}}},
                    "filename": string,
                    "uri": {"type": "string", "description": "where to download it"},
                    "size": integer,
                    "status": {"type": "string", "enum": ["enabled", "disabled", "expired", "overuse"]},
                    "content_type": string, "downloads_counter": integer, "checksum": string,
                    "created_at": time, "metadata": {"type": "object"},
                }),
                &[
                    "id",
                    "source",
                    "filename",
                    "uri",
                    "size",
                    "status",
                    "created_at",
                ],
            ),
        ),
        (
            "Job",
            object(
                json!({
                    "id": string,
                    "token": {"type": "string", "description": "lets its holder work on this job alone (X-Oc-Token)"},
                    "type": {"type": "string", "enum": ["job"]},
                    "status": {"$ref": "#/components/schemas/Status"},
                    "errors": {"type": "array", "items": {"$ref": "#/components/schemas/UserError"}},
                    "warnings": {"type": "array", "items": {"$ref": "#/components/schemas/UserWarning"}},
                    "process": {"type": "boolean"},
                    "fail_on_input_error": {"type": "boolean"},
                    "fail_on_conversion_error": {"type": "boolean"},
                    "conversion": {"type": "array", "items": {"$ref": "#/components/schemas/Conversion"}},
                    "limits": {"$ref": "#/components/schemas/Limits"},
                    "input": {"type": "array", "items": {"$ref": "#/components/schemas/InputFile"}},
                    "output": {"type": "array", "items": {"$ref": "#/components/schemas/OutputFile"}},
                    "callback": {"type": "string", "description": "where status callbacks go ('' for none)"},
                    "notify_status": {"type": "boolean"},
                    "server": {"type": "string", "description": "the base of the job's upload and download URLs"},
                    "spent": integer,
                    "created_at": time,
                    "modified_at": time,
                }),
                &[
                    "id",
                    "token",
                    "type",
                    "status",
                    "errors",
                    "warnings",
                    "process",
                    "fail_on_input_error",
                    "fail_on_conversion_error",
                    "conversion",
                    "input",
                    "output",
                    "callback",
                    "notify_status",
                    "server",
                    "spent",
                    "created_at",
                    "modified_at",
                ],
            ),
        ),
        (
            "ConversionInfo",
            object(
                json!({"id": string, "target": string, "category": string,
                       "options": {"type": "object", "description": "each option's type, range or values, and default"}}),
                &["target", "category", "options"],
            ),
        ),
        (
            "JobRequest",
            json!({"type": "object", "properties": {
                "process": {"type": "boolean", "description": "start as soon as the job has an input and a conversion (default true)"},
                "fail_on_input_error": {"type": "boolean"},
                "fail_on_conversion_error": {"type": "boolean"},
                "input": {"type": "array", "items": {"$ref": "#/components/schemas/InputRequest"}},
                "conversion": {"type": "array", "items": {"$ref": "#/components/schemas/ConversionRequest"}},
                "callback": {"type": "string", "description": "an http(s) URL for status callbacks"},
                "notify_status": {"type": "boolean"},
                "limits": {"$ref": "#/components/schemas/Limits"},
                "download_passwords": {"type": "array", "items": string},
            }}),
        ),
        (
            "InputRequest",
            json!({"type": "object", "properties": {
                "id": {"type": "string", "description": "which input (PATCH of several)"},
                "type": {"type": "string", "description": "remote, cloud, input_id or output (files are uploaded to the job's server instead)"},
                "source": {"type": "string", "description": "a URL, an input's id or a cloud path"},
                "filename": string,
                "parameters": {"type": "object", "description": "for cloud inputs: bucket, file, region..."},
                "credentials": {"type": "object", "description": "for cloud inputs: the storage's keys"},
                "options": {"type": "object"},
            }}),
        ),
        (
            "ConversionRequest",
            json!({"type": "object", "properties": {
                "target": {"type": "string", "description": "the output format (see /v2/conversions)"},
                "category": string,
                "options": {"type": "object", "description": "the target's options (see /v2/conversions)"},
                "output_target": {"type": "array", "items": {"type": "object"},
                                  "description": "cloud storage the outputs go to"},
            }}),
        ),
        (
            "OutputPatch",
            json!({"type": "object", "properties": {
                "status": {"type": "string", "enum": ["enabled", "disabled"]}}}),
        ),
        (
            "Base64Upload",
            object(
                json!({"content": {"type": "string", "description": "the file, base64-encoded"},
                       "filename": string}),
                &["content"],
            ),
        ),
    ];
    for (name, schema) in entries {
        schemas.insert(name.to_string(), schema);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_lists_the_methods_of_the_matching_route() {
        assert_eq!(allowed("/v2/jobs"), "GET, POST");
        assert_eq!(allowed("/v2/jobs/abc/"), "GET, PATCH, DELETE");
        assert_eq!(allowed("/v2/dl/j/download-file/o/a.png"), "GET, HEAD");
        assert_eq!(allowed("/v2/nowhere"), "");
    }
}
