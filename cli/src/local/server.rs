//! The local gateway: every operation at `/<OperationName>` on loopback, authenticated by
//! `Authorization: Bearer <api key>`, answered by the same `api::handle` as in Lambda.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use folio_shared::App;
use folio_shared::api::{self, ApiRequest, Operation};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::keys::ApiKeys;

struct Gateway {
    app: Arc<App>,
    keys: ApiKeys,
}

fn json(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn route(
    State(gateway): State<Arc<Gateway>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(op) = Operation::from_path(uri.path()) else {
        let body = serde_json::json!({
            "RequestId": api::new_request_id(),
            "Code": "ResourceNotFound",
            "Message": format!("no operation is served at {}", uri.path()),
        });
        return json(StatusCode::NOT_FOUND, body.to_string());
    };
    let tenant = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|key| gateway.keys.tenant(key.trim()));
    let query = url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
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
    json(response.status, response.body)
}

pub fn spawn(
    listener: TcpListener,
    app: Arc<App>,
    keys: ApiKeys,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let router = Router::new()
        .fallback(route)
        .with_state(Arc::new(Gateway { app, keys }));
    tokio::spawn(async move {
        let shutdown = async move {
            let _ = stop.wait_for(|stopped| *stopped).await;
        };
        if let Err(error) = axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(%error, "the local gateway stopped");
        }
    })
}
