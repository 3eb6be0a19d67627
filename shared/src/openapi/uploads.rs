//! Uploads and downloads outside the operations: the OSS endpoint the vendors' upload SDKs
//! write to (its answers and errors are OSS's XML), and on one machine the signed URLs of
//! the data folder's buckets (`FileURL`, `UploadURL`, images' and outputs' links); in AWS
//! those are S3's presigned URLs.

use serde_json::{Map, Value, json};

/// The upload bucket of `folio serve` (in AWS: the stack's `UploadBucket`).
pub const LOCAL_UPLOAD_BUCKET: &str = "folio-uploads";

fn xml(description: &str) -> Value {
    json!({"description": description, "content": {"application/xml": {"schema": {"type": "string"}}}})
}

fn oss_errors(responses: &mut Map<String, Value>) {
    for (status, about) in [
        (
            400,
            "a header, part number or body is invalid, or a digest does not match",
        ),
        (
            403,
            "not signed, signed wrongly, expired, or outside the credential's grant",
        ),
        (404, "no such multipart upload"),
        (405, "the endpoint takes PUT, POST, GET and DELETE"),
        (
            409,
            "the object was written already (one write per credential)",
        ),
        (503, "the store cannot take it now; try again"),
    ] {
        responses.insert(status.to_string(), xml(about));
    }
    // A bucket that is not the upload bucket is no OSS request: the API's own 404.
    responses["404"]["content"]["application/json"] =
        json!({"schema": {"$ref": "#/components/schemas/Error"}});
}

fn oss_operation(id: &str, summary: &str, ok: (u16, Value), body: Option<Value>) -> Value {
    let mut responses = Map::new();
    responses.insert(ok.0.to_string(), ok.1);
    oss_errors(&mut responses);
    let mut operation = json!({
        "operationId": id, "summary": summary, "tags": ["Uploads and downloads"],
        "parameters": [
            {"name": "bucket", "in": "path", "required": true,
             "schema": {"type": "string", "enum": [LOCAL_UPLOAD_BUCKET]},
             "description": "the upload bucket (UploadAddress.Bucket)"},
            {"name": "object", "in": "path", "required": true, "schema": {"type": "string"},
             "description": "the object key (UploadAddress.FileName; its slashes stay as they are)"},
            {"name": "uploads", "in": "query", "required": false, "allowEmptyValue": true,
             "schema": {"type": "string"}, "description": "present: InitiateMultipartUpload"},
            {"name": "uploadId", "in": "query", "required": false, "schema": {"type": "string"}},
            {"name": "partNumber", "in": "query", "required": false,
             "schema": {"type": "integer", "minimum": 1, "maximum": 10000}},
            {"name": "x-oss-security-token", "in": "header", "required": false,
             "schema": {"type": "string"}, "description": "UploadAuth.SecurityToken"},
        ],
        "security": [{"ossSignature": []}],
        "responses": responses,
    });
    if let Some(body) = body {
        operation["requestBody"] = body;
    }
    operation
}

fn file_errors(responses: &mut Map<String, Value>) {
    for (status, about) in [
        (400, "the object name is not valid"),
        (
            403,
            "the signature does not match the URL, or it has expired",
        ),
        (404, "no such object"),
        (
            405,
            "the URL takes PUT (an upload URL) or GET (a download URL)",
        ),
        (413, "larger than FOLIO_MAX_UPLOAD_BYTES"),
        (416, "the Range is outside the object"),
        (
            503,
            "the data folder cannot take it now (say, its disk is full)",
        ),
    ] {
        responses.insert(
            status.to_string(),
            json!({"description": about, "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}),
        );
    }
}

/// The upload and download path items.
pub fn paths(paths: &mut Map<String, Value>) {
    let binary = json!({"required": false, "content": {"application/octet-stream": {
        "schema": {"type": "string", "format": "binary"}}}});
    let done = |about: &str| json!({"description": about});
    paths.insert(
        "/{bucket}/{object}".into(),
        json!({
            "put": oss_operation("ossPutObject",
                "PutObject, or UploadPart with uploadId and partNumber (OSS signature V1 or V4, with the STS token CreateUploadImage answered)",
                (200, done("stored; the ETag header names it")), Some(binary.clone())),
            "post": oss_operation("ossMultipartUpload",
                "InitiateMultipartUpload (?uploads), or CompleteMultipartUpload (?uploadId, the parts' XML)",
                (200, xml("the upload's id, or the completed object")),
                Some(json!({"required": false, "content": {"application/xml": {"schema": {"type": "string"}}}}))),
            "get": oss_operation("ossListParts", "ListParts of a multipart upload (?uploadId)",
                (200, xml("the parts uploaded so far")), None),
            "delete": oss_operation("ossAbortMultipartUpload",
                "AbortMultipartUpload (?uploadId): its parts are deleted",
                (204, done("aborted")), None),
        }),
    );
    let signed = json!([
        {"name": "bucket", "in": "path", "required": true, "schema": {"type": "string"}},
        {"name": "key", "in": "path", "required": true, "schema": {"type": "string"},
         "description": "the object key (its slashes stay as they are)"},
        {"name": "expires", "in": "query", "required": true, "schema": {"type": "integer"},
         "description": "Unix seconds after which the URL is refused"},
        {"name": "signature", "in": "query", "required": true, "schema": {"type": "string"},
         "description": "the URL's HMAC, made from the data folder's master key"},
    ]);
    let mut put = Map::new();
    put.insert(
        "200".into(),
        json!({"description": "stored", "headers": {"ETag": {"schema": {"type": "string"}}}}),
    );
    file_errors(&mut put);
    let mut get = Map::new();
    for (status, about) in [(200, "the object"), (206, "the requested range")] {
        get.insert(
            status.to_string(),
            json!({"description": about, "content": super::v2::file_content()}),
        );
    }
    file_errors(&mut get);
    paths.insert(
        "/files/{bucket}/{key}".into(),
        json!({
            "put": {"operationId": "filesPut", "tags": ["Uploads and downloads"],
                    "summary": "Uploads to a signed upload URL (one machine: UploadURL, FileURL's PUT)",
                    "security": [{}], "parameters": signed, "requestBody": binary,
                    "responses": put},
            "get": {"operationId": "filesGet", "tags": ["Uploads and downloads"],
                    "summary": "Downloads from a signed URL (one machine: ImageURL, job and PDF outputs); Range is honoured",
                    "security": [{}], "parameters": signed, "responses": get},
        }),
    );
}
