//! The Lambda edge: API Gateway events in, responses out; the tenant from the request context.

use std::sync::Arc;

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};

use chrono::Utc;

use crate::api::{self, ApiRequest, ApiResponse, Operation};
use crate::app::App;
use crate::auth::{self, AuthError, SignedParts};
use crate::tenant::Tenant;

/// The caller's identity, in this order: a Lambda authorizer's `tenant` (or `principalId`)
/// context value, a JWT's issuer and subject, the IAM principal.
pub fn tenant_from_context(context: &RequestContext) -> Option<Tenant> {
    use lambda_http::aws_lambda_events::apigw::ApiGatewayRequestAuthorizer;
    let from_authorizer = |auth: &ApiGatewayRequestAuthorizer| -> Option<String> {
        let field = ["tenant", "principalId"].iter().find_map(|k| {
            auth.fields
                .get(*k)
                .and_then(|v| v.as_str())
                .map(str::to_string)
        });
        let jwt = auth.jwt.as_ref().and_then(|jwt| {
            let sub = jwt.claims.get("sub")?;
            Some(match jwt.claims.get("iss") {
                Some(iss) => format!("jwt:{iss}#{sub}"),
                None => format!("jwt:{sub}"),
            })
        });
        let iam = auth.iam.as_ref().and_then(|iam| iam.user_arn.clone());
        field.or(jwt).or(iam)
    };
    let id = match context {
        RequestContext::ApiGatewayV2(ctx) => ctx.authorizer.as_ref().and_then(from_authorizer),
        RequestContext::ApiGatewayV1(ctx) => {
            from_authorizer(&ctx.authorizer).or_else(|| ctx.identity.user_arn.clone())
        }
        _ => None,
    };
    id.and_then(Tenant::new)
}

/// The caller: the identity API Gateway authenticated (IAM, a JWT, an authorizer), or else a
/// Bearer key or signature checked against the key store, as `folio serve` checks them.
async fn caller(app: &App, request: &Request) -> Result<Tenant, ApiResponse> {
    if let Some(tenant) = request.request_context_ref().and_then(tenant_from_context) {
        return Ok(tenant);
    }
    authenticate(
        app,
        request.method(),
        request.uri(),
        request.headers(),
        request.body().as_ref(),
    )
    .await
}

/// A request's Bearer key or signature checked against the app's key store (none
/// configured: no caller is known); a refusal is the answer to send. The local gateway
/// authenticates through this too.
pub async fn authenticate(
    app: &App,
    method: &http::Method,
    uri: &http::Uri,
    headers: &http::HeaderMap,
    body: &[u8],
) -> Result<Tenant, ApiResponse> {
    let headers = auth::header_pairs(headers);
    let parts = SignedParts {
        method: method.as_str(),
        path: uri.path(),
        raw_query: uri.query().unwrap_or_default(),
        headers: &headers,
        body,
    };
    let checked = match &app.keys {
        Some(keys) => {
            auth::authenticate(&parts, keys.as_ref(), app.nonces.as_ref(), Utc::now()).await
        }
        None => Err(AuthError::Missing),
    };
    checked.map_err(|refused| match &refused {
        AuthError::Store(cause) => {
            api::refusal_because(refused.status(), refused.code(), refused.to_string(), cause)
        }
        _ => api::refusal(refused.status(), refused.code(), refused.to_string()),
    })
}

fn respond(response: ApiResponse) -> Response<Body> {
    let mut builder = Response::builder().status(response.status);
    for (name, value) in response.headers() {
        builder = builder.header(name, value);
    }
    builder
        .body(Body::Text(response.body))
        // Invariant: a status code and headers of static names and ASCII digits or a
        // static type always build.
        .expect("a response of status, headers and a body")
}

pub async fn handle_lambda(app: &App, op: Operation, request: Request) -> Response<Body> {
    match caller(app, &request).await {
        Ok(tenant) => serve_as(app, op, tenant, request).await,
        Err(refusal) => respond(refusal),
    }
}

/// Serves `op` to the authenticated `tenant`.
async fn serve_as(app: &App, op: Operation, tenant: Tenant, request: Request) -> Response<Body> {
    let query = request
        .query_string_parameters_ref()
        .map(|q| {
            q.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .unwrap_or_default();
    let content_type = request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let idempotency_key = request
        .headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok());
    let response = api::handle(
        app,
        op,
        ApiRequest {
            method: request.method().clone(),
            tenant,
            query,
            content_type,
            idempotency_key,
            body: request.body().as_ref(),
        },
    )
    .await;
    respond(response)
}

/// The whole `main` of an API function serving `ops` (one or several), chosen by the last
/// segment of the request's path, or at `/` by the RPC action.
pub async fn run_http_routes(ops: &'static [Operation]) -> Result<(), lambda_http::Error> {
    run_http(move |app, request| async move { handle_routed(&app, ops, request).await }).await
}

/// The whole `main` of an HTTP function: logs, the app from the environment, then every
/// request answered by `handle`.
async fn run_http<F, Fut>(handle: F) -> Result<(), lambda_http::Error>
where
    F: Fn(Arc<App>, Request) -> Fut + Copy + Send + 'static,
    Fut: std::future::Future<Output = Response<Body>> + Send,
{
    crate::telemetry::init();
    let app = Arc::new(App::from_env().await?);
    lambda_http::run(lambda_http::service_fn(move |request: Request| {
        let app = app.clone();
        async move { Ok::<_, std::convert::Infallible>(handle(app, request).await) }
    }))
    .await
}

/// A response of `status` with `headers` and `body` (a header HTTP cannot carry is left
/// out, and logged).
fn response<'a>(
    status: http::StatusCode,
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    body: Body,
) -> Response<Body> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    for (name, value) in headers {
        match (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(value),
        ) {
            (Ok(name), Ok(value)) => {
                response.headers_mut().append(name, value);
            }
            _ => {
                tracing::warn!(header = %name, "a response header that HTTP cannot carry was left out")
            }
        }
    }
    response
}

/// The whole `main` of the `rpc` function on the keys API: every operation, the OSS upload
/// endpoint and the OpenAPI document.
pub async fn run_keys_api() -> Result<(), lambda_http::Error> {
    run_http(|app, request| async move { handle_keys_api(&app, request).await }).await
}

/// One request to the keys API: `GET /openapi.json`, an OSS upload request, or any
/// operation.
pub async fn handle_keys_api(app: &App, request: Request) -> Response<Body> {
    if let Some(document) = openapi(request.method(), request.uri().path()) {
        return Response::builder()
            .status(http::StatusCode::OK)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Body::Text(document.to_string()))
            .unwrap_or_else(|_| Response::new(Body::Empty));
    }
    if crate::oss::is_oss_request(
        request.uri().path(),
        request.headers(),
        &app.config.upload_buckets,
    ) {
        return handle_oss(app, &request).await;
    }
    handle_routed(app, &Operation::ALL, request).await
}

/// Serves the operation the request names (by path, or at `/` by its RPC action) if it is
/// one of `ops`; otherwise answers 404.
pub async fn handle_routed(app: &App, ops: &[Operation], request: Request) -> Response<Body> {
    // Who is calling, before anything of the request is parsed: no credentials is a 401,
    // whatever the path names.
    let tenant = match caller(app, &request).await {
        Ok(tenant) => tenant,
        Err(refusal) => return respond(refusal),
    };
    let query = query_pairs(request.uri());
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    match api::route(request.uri().path(), header, &query) {
        Ok(op) if ops.contains(&op) => serve_as(app, op, tenant, request).await,
        Ok(op) => respond(api::refusal(
            http::StatusCode::NOT_FOUND,
            "InvalidAction.NotFound",
            format!("{} is not served by this function", op.name()),
        )),
        Err(refused) => respond(api::refusal(
            refused.status(),
            refused.code(),
            refused.message(),
        )),
    }
}

/// The OpenAPI document, for `GET /openapi.json` (no credentials needed).
pub fn openapi(method: &http::Method, path: &str) -> Option<&'static str> {
    (method == http::Method::GET && path == "/openapi.json").then(crate::openapi::text)
}

/// One API Gateway request to the OSS upload endpoint.
pub async fn handle_oss(app: &App, request: &Request) -> Response<Body> {
    let answer = crate::oss::handle(
        app,
        crate::oss::OssRequest {
            method: request.method().as_str(),
            path: request.uri().path(),
            raw_query: request.uri().query().unwrap_or_default(),
            headers: request.headers(),
            body: request.body().as_ref(),
        },
    )
    .await;
    let headers = answer.headers.iter().map(|(k, v)| (*k, v.as_str()));
    response(answer.status, headers, Body::Text(answer.body))
}

/// The whole `main` of the `console` function: every `/console` request.
pub async fn run_console() -> Result<(), lambda_http::Error> {
    run_http(|app, request| async move { handle_console(&app, request).await }).await
}

/// One API Gateway request to the console.
pub async fn handle_console(app: &App, request: Request) -> Response<Body> {
    let answer = crate::console::handle(
        app,
        crate::console::ConsoleRequest {
            method: request.method(),
            path: request.uri().path(),
            headers: request.headers(),
            body: request.body().as_ref(),
        },
    )
    .await;
    let headers = answer.headers.iter().map(|(k, v)| (*k, v.as_str()));
    response(answer.status, headers, Body::Binary(answer.body))
}

/// The whole `main` of the `jobs` function: every `/v2/...` request through the jobs API,
/// which authenticates by its own headers (`X-Api2convert-Api-Key`, `X-Oc-Api-Key`, the
/// job token) against the key store.
pub async fn run_v2() -> Result<(), lambda_http::Error> {
    run_http(|app, request| async move { handle_v2(&app, request).await }).await
}

/// One API Gateway request to `/v2/...` through the jobs API.
pub async fn handle_v2(app: &App, request: Request) -> Response<Body> {
    let query = query_pairs(request.uri());
    let answer = crate::jobs::http::handle(
        app,
        crate::jobs::http::V2Request {
            method: request.method(),
            path: request.uri().path(),
            query: &query,
            headers: request.headers(),
            body: request.body().as_ref(),
        },
    )
    .await;
    let body = match String::from_utf8(answer.body) {
        Ok(text) => Body::Text(text),
        Err(bytes) => Body::Binary(bytes.into_bytes()),
    };
    let headers = answer.headers.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    response(answer.status, headers, body)
}

/// A request's query parameters, decoded.
pub fn query_pairs(uri: &http::Uri) -> Vec<(String, String)> {
    url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}
