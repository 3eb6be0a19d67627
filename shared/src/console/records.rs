//! What the console reads and changes, through the API itself: every page is made of the
//! answers the tenant's own API calls would get (the same checks, the same 404 for another
//! tenant's ids, the same rate limits), parsed as JSON.

use http::{HeaderMap, Method};
use serde_json::Value;

use super::ConsoleError;
use crate::api::{self, ApiRequest, Operation};
use crate::app::App;
use crate::image::model::ImageRecord;
use crate::jobs::handlers::{self as jobs, Ctx};
use crate::jobs::http::{Caller, V2Request};
use crate::ports::JobState;
use crate::tenant::Tenant;

/// How many of each kind of record a list page shows.
pub const LIST_LIMIT: usize = 20;

/// The answer of an RPC operation called as `tenant` with `params`.
pub async fn call(
    app: &App,
    tenant: &Tenant,
    op: Operation,
    params: &[(&str, &str)],
) -> Result<Value, ConsoleError> {
    let query = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let response = api::handle(
        app,
        op,
        ApiRequest {
            method: Method::POST,
            tenant: tenant.clone(),
            query,
            content_type: None,
            idempotency_key: None,
            body: &[],
        },
    )
    .await;
    let body: Value = serde_json::from_str(&response.body).unwrap_or(Value::Null);
    if response.status.is_success() {
        return Ok(body);
    }
    let text = |name: &str| body[name].as_str().unwrap_or_default().to_string();
    Err(ConsoleError::Api {
        status: response.status,
        code: text("Code"),
        message: text("Message"),
    })
}

/// One job as `GET /v2/jobs/{id}` answers `tenant` (another tenant's job is not found).
pub async fn job(
    app: &App,
    tenant: &Tenant,
    headers: &HeaderMap,
    id: &str,
) -> Result<Value, ConsoleError> {
    let path = format!("/v2/jobs/{id}");
    // The console's own request's `Host` makes the download links point where it is served.
    let mut forwarded = HeaderMap::new();
    for name in ["host", "x-forwarded-host", "x-forwarded-proto"] {
        if let Some(value) = headers.get(name) {
            forwarded.insert(name, value.clone());
        }
    }
    let request = V2Request {
        method: &Method::GET,
        path: &path,
        query: &[],
        headers: &forwarded,
        body: &[],
    };
    let caller = Caller::Account(tenant.clone());
    let ctx = Ctx {
        app,
        request: &request,
        caller: &caller,
    };
    let response = match jobs::jobs(&ctx, &[id]).await {
        Ok(response) => response,
        Err(e) => e.response(),
    };
    let body: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    if response.status.is_success() {
        return Ok(body);
    }
    Err(ConsoleError::Api {
        status: response.status,
        code: response
            .status
            .canonical_reason()
            .unwrap_or_default()
            .to_string(),
        message: body["message"].as_str().unwrap_or_default().to_string(),
    })
}

/// The tenant's newest jobs, as `/v2/jobs` writes them: one listing, and each job from its
/// record alone (the overview shows their status, inputs and creation, all on the record).
pub async fn recent_jobs(app: &App, tenant: &Tenant) -> Result<Vec<Value>, ConsoleError> {
    let (jobs, _) = app.jobs.list(tenant.key(), None, 1, LIST_LIMIT).await?;
    Ok(jobs
        .into_iter()
        .map(|job| crate::jobs::document(&JobState::before_run(job)))
        .collect())
}

/// The tenant's newest images.
pub async fn recent_images(app: &App, tenant: &Tenant) -> Result<Vec<ImageRecord>, ConsoleError> {
    Ok(app.images.recent(tenant.key(), LIST_LIMIT).await?)
}

/// The deliveries of one record (`kind` is `Image`, `Task`, `Job` or `Batch`).
pub async fn deliveries(
    app: &App,
    tenant: &Tenant,
    kind: &str,
    id: &str,
) -> Result<Vec<Value>, ConsoleError> {
    let answer = call(
        app,
        tenant,
        Operation::ListDeliveries,
        &[("SubjectType", kind), ("SubjectId", id)],
    )
    .await?;
    Ok(list(&answer["Deliveries"]))
}

/// The elements of a JSON array (none for anything else).
pub fn list(value: &Value) -> Vec<Value> {
    value.as_array().cloned().unwrap_or_default()
}
