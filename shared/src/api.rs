//! The API operations and the one place requests become responses: parameters parsed,
//! handler called, errors mapped to `{"RequestId","Code","Message"}` with their status.

use http::{Method, StatusCode};
use serde::Serialize;
use serde_json::{Value, json};
use tracing::Instrument;

use crate::app::App;
use crate::batch::handlers as batches;
use crate::error::ApiError;
use crate::image::{create_upload, delete, get_infos, update_infos};
use crate::notify::deliveries;
use crate::params::Params;
use crate::task::{create, project, query};
use crate::tenant::Tenant;
use crate::webhook_secret;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    CreateUploadImage,
    GetImageInfos,
    UpdateImageInfos,
    DeleteImage,
    GetWebhookSecret,
    ListDeliveries,
    ReplayDelivery,
    CreateProject,
    GetProject,
    ListProjects,
    UpdateProject,
    DeleteProject,
    CreateImageToPDFTask,
    GetTask,
    ListTasks,
    CreateBatch,
    GetBatch,
    ListBatches,
    UpdateBatch,
    SuspendBatch,
    ResumeBatch,
    DeleteBatch,
}

impl Operation {
    pub const ALL: [Operation; 22] = [
        Operation::CreateUploadImage,
        Operation::GetImageInfos,
        Operation::UpdateImageInfos,
        Operation::DeleteImage,
        Operation::GetWebhookSecret,
        Operation::ListDeliveries,
        Operation::ReplayDelivery,
        Operation::CreateProject,
        Operation::GetProject,
        Operation::ListProjects,
        Operation::UpdateProject,
        Operation::DeleteProject,
        Operation::CreateImageToPDFTask,
        Operation::GetTask,
        Operation::ListTasks,
        Operation::CreateBatch,
        Operation::GetBatch,
        Operation::ListBatches,
        Operation::UpdateBatch,
        Operation::SuspendBatch,
        Operation::ResumeBatch,
        Operation::DeleteBatch,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Operation::CreateUploadImage => "CreateUploadImage",
            Operation::GetImageInfos => "GetImageInfos",
            Operation::UpdateImageInfos => "UpdateImageInfos",
            Operation::DeleteImage => "DeleteImage",
            Operation::GetWebhookSecret => "GetWebhookSecret",
            Operation::ListDeliveries => "ListDeliveries",
            Operation::ReplayDelivery => "ReplayDelivery",
            Operation::CreateProject => "CreateProject",
            Operation::GetProject => "GetProject",
            Operation::ListProjects => "ListProjects",
            Operation::UpdateProject => "UpdateProject",
            Operation::DeleteProject => "DeleteProject",
            Operation::CreateImageToPDFTask => "CreateImageToPDFTask",
            Operation::GetTask => "GetTask",
            Operation::ListTasks => "ListTasks",
            Operation::CreateBatch => "CreateBatch",
            Operation::GetBatch => "GetBatch",
            Operation::ListBatches => "ListBatches",
            Operation::UpdateBatch => "UpdateBatch",
            Operation::SuspendBatch => "SuspendBatch",
            Operation::ResumeBatch => "ResumeBatch",
            Operation::DeleteBatch => "DeleteBatch",
        }
    }

    /// The operation served at `path` (`/CreateUploadImage`, ...).
    pub fn from_path(path: &str) -> Option<Self> {
        Operation::from_action(path.trim_end_matches('/').rsplit('/').next()?)
    }

    /// The operation an RPC request names in its `Action` (`x-acs-action`).
    pub fn from_action(action: &str) -> Option<Self> {
        Operation::ALL.into_iter().find(|op| op.name() == action)
    }

    /// The API version the vendors' SDKs send with this operation (`x-acs-version`,
    /// `Version`); Folio's own operations have none.
    pub fn api_version(self) -> Option<&'static str> {
        match self {
            Operation::CreateUploadImage
            | Operation::GetImageInfos
            | Operation::UpdateImageInfos
            | Operation::DeleteImage => Some("2017-03-21"),
            Operation::GetWebhookSecret | Operation::ListDeliveries | Operation::ReplayDelivery => {
                None
            }
            Operation::CreateProject
            | Operation::GetProject
            | Operation::ListProjects
            | Operation::UpdateProject
            | Operation::DeleteProject
            | Operation::CreateImageToPDFTask
            | Operation::GetTask
            | Operation::ListTasks
            | Operation::CreateBatch
            | Operation::GetBatch
            | Operation::ListBatches
            | Operation::UpdateBatch
            | Operation::SuspendBatch
            | Operation::ResumeBatch
            | Operation::DeleteBatch => Some("2020-09-30"),
        }
    }

    /// The methods the operation takes, as an `Allow` header lists them.
    pub fn methods(self) -> &'static str {
        if self.allows(&Method::GET) {
            "GET, POST"
        } else {
            "POST"
        }
    }

    /// Read-only operations answer GET too, with their parameters in the query string.
    pub fn allows(self, method: &Method) -> bool {
        match self {
            Operation::GetImageInfos
            | Operation::GetWebhookSecret
            | Operation::ListDeliveries
            | Operation::GetProject
            | Operation::ListProjects
            | Operation::GetTask
            | Operation::ListTasks
            | Operation::GetBatch
            | Operation::ListBatches => method == Method::GET || method == Method::POST,
            _ => method == Method::POST,
        }
    }
}

/// The parameters of the RPC protocol itself (action, version, signature), which are not
/// the operation's and are left out of what it sees and records.
const PROTOCOL_PARAMETERS: [&str; 12] = [
    "Action",
    "Version",
    "Format",
    "AccessKeyId",
    "Signature",
    "SignatureMethod",
    "SignatureVersion",
    "SignatureNonce",
    "SignatureType",
    "Timestamp",
    "SecurityToken",
    "BearerToken",
];

/// The operation a request names: by its path (`/GetTask`), or at `/` by the RPC action
/// (the `x-acs-action` header the current SDKs send, or the `Action` parameter of the older
/// ones), whose version (`x-acs-version` or `Version`), when given, must be that of the
/// operation's API.
pub fn route(
    path: &str,
    header: impl Fn(&str) -> Option<String>,
    query: &[(String, String)],
) -> Result<Operation, ApiError> {
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    if path.trim_matches('/').is_empty() {
        let action = header("x-acs-action")
            .or_else(|| param("Action"))
            .ok_or_else(|| ApiError::missing("Action"))?;
        let op = Operation::from_action(action.trim())
            .ok_or_else(|| ApiError::UnknownOperation(crate::error::quote(&action)))?;
        let version = header("x-acs-version").or_else(|| param("Version"));
        if let (Some(given), Some(expected)) = (version, op.api_version())
            && given.trim() != expected
        {
            return Err(ApiError::invalid(
                "Version",
                format!(
                    "{} is not the version of {} (the API of {} is {expected})",
                    crate::error::quote(&given),
                    op.name(),
                    op.name()
                ),
            ));
        }
        return Ok(op);
    }
    Operation::from_path(path).ok_or_else(|| ApiError::UnknownOperation(crate::error::quote(path)))
}

/// A request as the edge received it, whichever edge that is.
pub struct ApiRequest<'a> {
    pub method: Method,
    /// The authenticated caller: every edge authenticates before it hands a request on.
    pub tenant: Tenant,
    pub query: Vec<(String, String)>,
    pub content_type: Option<&'a str>,
    /// The `Idempotency-Key` header, for operations that create.
    pub idempotency_key: Option<&'a str>,
    pub body: &'a [u8],
}

pub struct ApiResponse {
    pub status: StatusCode,
    pub body: String,
    /// For a throttled request: when to try again (the edges send `x-acs-retry-after` in
    /// milliseconds, as the vendors' SDKs read it, and `Retry-After` in seconds).
    pub retry_after: Option<std::time::Duration>,
    /// For a method the operation does not take: the methods it does (`Allow`).
    pub allow: Option<&'static str>,
}

impl ApiResponse {
    /// The headers that go with the body.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = vec![("content-type", "application/json".to_string())];
        if let Some(allow) = self.allow {
            headers.push(("allow", allow.to_string()));
        }
        if let Some(wait) = self.retry_after {
            headers.push(("x-acs-retry-after", wait.as_millis().max(1).to_string()));
            headers.push((
                "retry-after",
                wait.as_secs_f64().ceil().max(1.0).to_string(),
            ));
        }
        headers
    }
}

/// An error answer, `{"RequestId", "Code", "Message"}` with its status, logged once (bounded)
/// under its `RequestId`.
pub fn refusal(status: StatusCode, code: &str, message: String) -> ApiResponse {
    refused(status, code, message, None)
}

/// A refusal caused by a failure of ours: the answer says what the caller may know, the log
/// line under the same `RequestId` says the cause.
pub fn refusal_because(
    status: StatusCode,
    code: &str,
    message: String,
    cause: &dyn std::fmt::Display,
) -> ApiResponse {
    refused(status, code, message, Some(cause))
}

fn refused(
    status: StatusCode,
    code: &str,
    message: String,
    cause: Option<&dyn std::fmt::Display>,
) -> ApiResponse {
    let request_id = new_request_id();
    let message = crate::error::bounded(&message);
    match cause {
        Some(cause) => tracing::error!(%request_id, code, %message, %cause, "request refused"),
        None => tracing::info!(%request_id, code, %message, "request refused"),
    }
    ApiResponse {
        status,
        body: error_body(&request_id, code, &message),
        retry_after: None,
        allow: None,
    }
}

fn error_body(request_id: &str, code: &str, message: &str) -> String {
    json!({
        "RequestId": request_id,
        "Code": code,
        "Message": message,
    })
    .to_string()
}

pub fn new_request_id() -> String {
    uuid::Uuid::new_v4().hyphenated().to_string().to_uppercase()
}

fn to_value<T: Serialize>(response: T) -> Result<Value, ApiError> {
    serde_json::to_value(response)
        .map_err(|e| ApiError::Internal(crate::error::PortError::backend("encoding a response", e)))
}

async fn dispatch(
    app: &App,
    op: Operation,
    tenant: &Tenant,
    params: &Params,
    idempotency_key: Option<&str>,
) -> Result<Value, ApiError> {
    match op {
        Operation::CreateUploadImage => to_value(create_upload::handle(app, tenant, params).await?),
        Operation::GetImageInfos => to_value(get_infos::handle(app, tenant, params).await?),
        Operation::UpdateImageInfos => to_value(update_infos::handle(app, tenant, params).await?),
        Operation::DeleteImage => to_value(delete::handle(app, tenant, params).await?),
        Operation::GetWebhookSecret => to_value(webhook_secret::handle(app, tenant)?),
        Operation::ListDeliveries => to_value(deliveries::list(app, tenant, params).await?),
        Operation::ReplayDelivery => to_value(deliveries::replay(app, tenant, params).await?),
        Operation::CreateProject => to_value(project::create(app, tenant, params).await?),
        Operation::GetProject => to_value(project::get(app, tenant, params).await?),
        Operation::ListProjects => to_value(project::list(app, tenant, params).await?),
        Operation::UpdateProject => to_value(project::update(app, tenant, params).await?),
        Operation::DeleteProject => to_value(project::delete(app, tenant, params).await?),
        Operation::CreateImageToPDFTask => {
            to_value(create::handle(app, tenant, params, idempotency_key).await?)
        }
        Operation::GetTask => to_value(query::get(app, tenant, params).await?),
        Operation::ListTasks => to_value(query::list(app, tenant, params).await?),
        Operation::CreateBatch => to_value(batches::create(app, tenant, params).await?),
        Operation::GetBatch => batches::get(app, tenant, params).await,
        Operation::ListBatches => batches::list(app, tenant, params).await,
        Operation::UpdateBatch => to_value(batches::update(app, tenant, params).await?),
        Operation::SuspendBatch => to_value(batches::suspend(app, tenant, params).await?),
        Operation::ResumeBatch => to_value(batches::resume(app, tenant, params).await?),
        Operation::DeleteBatch => to_value(batches::delete(app, tenant, params).await?),
    }
}

pub async fn handle(app: &App, op: Operation, request: ApiRequest<'_>) -> ApiResponse {
    let request_id = new_request_id();
    let span = tracing::info_span!("request", operation = op.name(), request_id = %request_id);
    // Instrumented, not entered: a guard held across an await would lend this request's id to
    // whatever else the thread runs meanwhile.
    let result = async {
        if !op.allows(&request.method) {
            return Err(ApiError::MethodNotAllowed {
                method: request.method.to_string(),
            });
        }
        let tenant = &request.tenant;
        let wait = match app.rates.admit(tenant.key(), op).await {
            Ok(wait) => wait,
            // A store that cannot take writes now (a full disk) must not refuse reads too:
            // the call goes through unmetered, and any write it makes is refused on its own.
            Err(crate::error::PortError::Unavailable(reason)) => {
                tracing::warn!(%reason, "the call is not rate-limited");
                None
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(wait) = wait {
            return Err(ApiError::Throttled {
                operation: op.name(),
                per_second: crate::rate::limit_of(op),
                wait,
            });
        }
        let query = request
            .query
            .iter()
            .filter(|(k, _)| !PROTOCOL_PARAMETERS.contains(&k.as_str()))
            .map(|(k, v)| (k.as_str(), v.as_str()));
        let params = Params::parse(query, request.content_type, request.body)?;
        dispatch(app, op, tenant, &params, request.idempotency_key).await
    }
    .instrument(span.clone())
    .await;
    match result {
        Ok(mut value) => {
            if let Value::Object(map) = &mut value {
                map.insert("RequestId".into(), Value::String(request_id));
            }
            ApiResponse {
                status: StatusCode::OK,
                body: value.to_string(),
                retry_after: None,
                allow: None,
            }
        }
        Err(error) => {
            span.in_scope(|| match &error {
                ApiError::Internal(source) => {
                    tracing::error!(error = %source, "request failed")
                }
                other => {
                    tracing::info!(code = other.code(), message = %other.message(), "request refused")
                }
            });
            let retry_after = match &error {
                ApiError::Throttled { wait, .. } => Some(*wait),
                _ => None,
            };
            let allow = matches!(error, ApiError::MethodNotAllowed { .. }).then(|| op.methods());
            ApiResponse {
                status: error.status(),
                retry_after,
                allow,
                body: error_body(&request_id, error.code(), &error.message()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_by_last_path_segment() {
        assert_eq!(
            Operation::from_path("/GetImageInfos"),
            Some(Operation::GetImageInfos)
        );
        assert_eq!(
            Operation::from_path("/prod/DeleteImage/"),
            Some(Operation::DeleteImage)
        );
        assert_eq!(Operation::from_path("/Nope"), None);
        assert!(Operation::GetImageInfos.allows(&Method::GET));
        assert!(!Operation::CreateUploadImage.allows(&Method::GET));
    }
}
