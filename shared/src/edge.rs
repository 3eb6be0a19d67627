//! The Lambda edge: API Gateway events in, responses out; the tenant from the request context.

use std::sync::Arc;

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};

use crate::api::{self, ApiRequest, Operation};
use crate::app::App;
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

pub async fn handle_lambda(app: &App, op: Operation, request: Request) -> Response<Body> {
    let tenant = request.request_context_ref().and_then(tenant_from_context);
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
    Response::builder()
        .status(response.status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Body::Text(response.body))
        // Invariant: a status code and a static header always build.
        .expect("a response of status, one header and a body")
}

/// The whole `main` of an API function serving one operation.
pub async fn run_http(op: Operation) -> Result<(), lambda_http::Error> {
    serve(move |_| Some(op)).await
}

/// The whole `main` of an API function serving several operations, chosen by the last
/// segment of the request's path.
pub async fn run_http_routes(ops: &'static [Operation]) -> Result<(), lambda_http::Error> {
    serve(move |path| Operation::from_path(path).filter(|op| ops.contains(op))).await
}

async fn serve(
    route: impl Fn(&str) -> Option<Operation> + Copy + Send + Sync + 'static,
) -> Result<(), lambda_http::Error> {
    crate::telemetry::init();
    let app = Arc::new(App::from_env().await?);
    lambda_http::run(lambda_http::service_fn(move |request: Request| {
        let app = app.clone();
        async move {
            let op = route(request.uri().path());
            Ok::<_, std::convert::Infallible>(handle_routed(&app, op, request).await)
        }
    }))
    .await
}

/// Serves `op`, or answers 404 when the path names no operation of this function.
pub async fn handle_routed(app: &App, op: Option<Operation>, request: Request) -> Response<Body> {
    let path = request.uri().path().to_string();
    match op {
        Some(op) => handle_lambda(app, op, request).await,
        None => Response::builder()
            .status(http::StatusCode::NOT_FOUND)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Body::Text(
                serde_json::json!({
                    "RequestId": api::new_request_id(),
                    "Code": "ResourceNotFound",
                    "Message": format!("no operation is served at {path}"),
                })
                .to_string(),
            ))
            // Invariant: a status code and a static header always build.
            .expect("a response of status, one header and a body"),
    }
}
