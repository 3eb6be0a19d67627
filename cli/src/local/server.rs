//! The local gateway: every operation at `/<OperationName>`, and at `/` by its RPC action as
//! the vendors' SDKs call it, on loopback; authenticated by Bearer API keys or Alibaba Cloud
//! signatures through the same `auth::authenticate` as in AWS, answered by the same
//! `api::handle` as in Lambda; `/v2/...` goes to the jobs API, as the `jobs` function serves it;
//! `/console` to the console, as the `console` function serves it.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use folio_shared::App;
use folio_shared::api::{self, ApiRequest, ApiResponse};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use folio_shared::console;
use folio_shared::edge;
use folio_shared::jobs::http as jobs;
use folio_shared::oss;

struct Gateway {
    app: Arc<App>,
    /// The largest request body taken (a `/v2` upload arrives whole in one request).
    body_limit: usize,
}

fn error(status: StatusCode, code: &str, message: String) -> Response {
    respond(api::refusal(status, code, message))
}

/// A response of `status` with `headers` and `body` (a header HTTP cannot carry is left
/// out).
fn reply<'a>(
    status: StatusCode,
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    body: impl Into<axum::body::Body>,
) -> Response {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(name.as_bytes()),
            header::HeaderValue::from_str(value),
        ) {
            map.append(name, value);
        }
    }
    (status, map, body.into()).into_response()
}

fn respond(response: ApiResponse) -> Response {
    let headers = response.headers();
    reply(
        response.status,
        headers.iter().map(|(k, v)| (*k, v.as_str())),
        response.body,
    )
}

fn respond_v2(response: jobs::V2Response) -> Response {
    let headers = response
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()));
    reply(response.status, headers, response.body)
}

fn respond_console(response: console::ConsoleResponse) -> Response {
    let headers = response.headers.iter().map(|(k, v)| (*k, v.as_str()));
    reply(response.status, headers, response.body)
}

fn respond_oss(response: oss::OssResponse) -> Response {
    let headers = response.headers.iter().map(|(k, v)| (*k, v.as_str()));
    reply(response.status, headers, response.body)
}

async fn route(
    State(gateway): State<Arc<Gateway>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    if let Some(document) = edge::openapi(&method, uri.path()) {
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            document,
        )
            .into_response();
    }
    let query = edge::query_pairs(&uri);
    let is_v2 = uri.path() == "/v2" || uri.path().starts_with("/v2/");
    let is_oss = oss::is_oss_request(uri.path(), &headers, &gateway.app.config.upload_buckets);
    let body: Bytes = match axum::body::to_bytes(body, gateway.body_limit).await {
        Ok(body) => body,
        Err(cause) => {
            let message = format!(
                "the request body is larger than {} bytes (FOLIO_MAX_UPLOAD_BYTES and 1 MiB \
                 of form fields), or was cut short: {cause}",
                gateway.body_limit
            );
            let path: String = uri.path().chars().take(200).collect();
            tracing::warn!(%path, %message, "request body refused");
            if is_oss {
                let request_id = folio_shared::api::new_request_id();
                return (
                    StatusCode::BAD_REQUEST,
                    [
                        (header::CONTENT_TYPE, "application/xml".to_string()),
                        (
                            header::HeaderName::from_static("x-oss-request-id"),
                            request_id.clone(),
                        ),
                    ],
                    oss::xml::error("EntityTooLarge", &message, &request_id),
                )
                    .into_response();
            }
            if is_v2 {
                let body = serde_json::json!({"code": 413, "message": message}).to_string();
                return (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    [(header::CONTENT_TYPE, "application/json")],
                    body,
                )
                    .into_response();
            }
            return error(StatusCode::PAYLOAD_TOO_LARGE, "EntityTooLarge", message);
        }
    };
    if console::is_console_path(uri.path()) {
        return respond_console(
            console::handle(
                &gateway.app,
                console::ConsoleRequest {
                    method: &method,
                    path: uri.path(),
                    headers: &headers,
                    body: &body,
                },
            )
            .await,
        );
    }
    if is_oss {
        return respond_oss(
            oss::handle(
                &gateway.app,
                oss::OssRequest {
                    method: method.as_str(),
                    path: uri.path(),
                    raw_query: uri.query().unwrap_or_default(),
                    headers: &headers,
                    body: &body,
                },
            )
            .await,
        );
    }
    if is_v2 {
        return respond_v2(
            jobs::handle(
                &gateway.app,
                jobs::V2Request {
                    method: &method,
                    path: uri.path(),
                    query: &query,
                    headers: &headers,
                    body: &body,
                },
            )
            .await,
        );
    }
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    // Who is calling, before anything of the request is parsed: no credentials is a 401,
    // whatever the path names.
    let tenant = match edge::authenticate(&gateway.app, &method, &uri, &headers, &body).await {
        Ok(tenant) => tenant,
        Err(refusal) => return respond(refusal),
    };
    let op = match api::route(uri.path(), header, &query) {
        Ok(op) => op,
        Err(refused) => return error(refused.status(), refused.code(), refused.message()),
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let idempotency_key = headers.get("idempotency-key").and_then(|v| v.to_str().ok());
    let response = api::handle(
        &gateway.app,
        op,
        ApiRequest {
            method,
            tenant,
            query,
            content_type,
            idempotency_key,
            body: &body,
        },
    )
    .await;
    respond(response)
}

pub fn spawn(
    listener: TcpListener,
    app: Arc<App>,
    files: Option<super::files::FileRoutes>,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    // `/v2` uploads arrive whole in one request: let them be as large as the upload cap.
    let body_limit = usize::try_from(app.config.max_upload_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(1 << 20);
    let mut router = Router::new()
        .fallback(route)
        .with_state(Arc::new(Gateway { app, body_limit }));
    if let Some(files) = files {
        // The signed file routes stream their bodies and count them themselves.
        let path = format!("{}{{bucket}}/{{*key}}", folio_shared::embedded::FILES_PATH);
        router = router.merge(
            Router::new()
                .route(
                    &path,
                    axum::routing::put(super::files::put).get(super::files::get),
                )
                .layer(DefaultBodyLimit::disable())
                .with_state(files),
        );
    }
    tokio::spawn(async move {
        let shutdown = async move {
            let _ = stop.wait_for(|stopped| *stopped).await;
        };
        // Answers go out as written: no wait on a peer's delayed acknowledgement.
        use axum::serve::ListenerExt;
        let listener = listener.tap_io(|tcp| {
            if let Err(error) = tcp.set_nodelay(true) {
                tracing::debug!(%error, "TCP_NODELAY not set");
            }
        });
        if let Err(error) = axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(%error, "the local gateway stopped");
        }
    })
}
