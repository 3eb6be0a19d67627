//! The console: pages at `/console` where a tenant, signed in with one of its API keys,
//! watches its image uploads, PDF tasks, conversion jobs and batches, with their progress
//! (the page polls while anything moves), inputs, outputs, errors and every notification
//! attempt; sends a notification again; suspends and resumes a batch.
//!
//! Transport-free: `folio serve` and the `console` function hand it the request's parts.
//! Every page is made of the tenant's own API answers (`records`), so it sees exactly what
//! the API lets it see. Security: the key is only ever in the sign-in form's body; the
//! session is a signed `HttpOnly`, `SameSite=Strict` cookie (`Secure` unless served over
//! plain HTTP on loopback); every state-changing form carries a CSRF token bound to the
//! session and is refused from another origin; every string is escaped (`pages`); the
//! Content-Security-Policy allows only the console's own script and style.

mod pages;
mod records;
pub mod session;

use http::{HeaderMap, Method, StatusCode};
use maud::Markup;
use serde_json::Value;

use crate::api::Operation;
use crate::app::App;
use crate::error::PortError;
use pages::{Detail, Frame};
use session::{COOKIE, Session, Sessions};

/// Where the console is served.
pub const PATH: &str = "/console";
/// The largest form body read (the forms carry a key or a few ids).
pub const MAX_FORM_BYTES: usize = 16 * 1024;

const SCRIPT: &str = include_str!("console.js");
const STYLE: &str = include_str!("console.css");
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub struct ConsoleRequest<'a> {
    pub method: &'a Method,
    pub path: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

impl ConsoleRequest<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub struct ConsoleResponse {
    pub status: StatusCode,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

/// Whether `path` is the console's.
pub fn is_console_path(path: &str) -> bool {
    path == PATH || path.starts_with("/console/")
}

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("sign in first")]
    SignedOut,
    #[error("{code}: {message}")]
    Api {
        status: StatusCode,
        code: String,
        message: String,
    },
    #[error(transparent)]
    Port(#[from] PortError),
}

impl ConsoleError {
    fn status(&self) -> StatusCode {
        match self {
            ConsoleError::NotFound(_) => StatusCode::NOT_FOUND,
            ConsoleError::Forbidden(_) => StatusCode::FORBIDDEN,
            ConsoleError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ConsoleError::SignedOut => StatusCode::SEE_OTHER,
            ConsoleError::Api { status, .. } if status.is_server_error() => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ConsoleError::Api { status, .. } => *status,
            ConsoleError::Port(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// The request's context once its session is known.
struct Signed<'a> {
    app: &'a App,
    request: &'a ConsoleRequest<'a>,
    sessions: &'a Sessions,
    session: Session,
    csrf: String,
}

impl Signed<'_> {
    fn frame(&self) -> Frame<'_> {
        Frame {
            tenant: self.session.tenant.id(),
            csrf: &self.csrf,
        }
    }
}

/// Serves one console request.
pub async fn handle(app: &App, request: ConsoleRequest<'_>) -> ConsoleResponse {
    // Every line of the request carries its id (the API calls a page makes add their own).
    let span = tracing::info_span!(
        "console",
        request_id = %crate::api::new_request_id(),
        method = %request.method,
        path = %quote_path(request.path),
    );
    tracing::Instrument::instrument(serve(app, &request), span).await
}

async fn serve(app: &App, request: &ConsoleRequest<'_>) -> ConsoleResponse {
    let sessions = Sessions::new(&app.config.webhook_secret);
    let now = chrono::Utc::now().timestamp();
    let session = request
        .header("cookie")
        .and_then(|h| session::cookie_value(h, COOKIE))
        .and_then(|c| sessions.open(c, now));
    let rest = request.path.strip_prefix(PATH).unwrap_or_default();
    let segments: Vec<String> = rest
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            urlencoding::decode(s)
                .map(|d| d.into_owned())
                .unwrap_or_default()
        })
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let method = request.method;

    // The route and its methods first: an unknown page is a 404 and another method a 405,
    // signed in or not.
    let Some(allow) = methods(&segments) else {
        return html(
            StatusCode::NOT_FOUND,
            pages::refusal(None, "Not found", "There is no such page in the console."),
            Vec::new(),
        );
    };
    let takes = |m: &Method| allow.split(", ").any(|a| a == m.as_str());
    if !takes(method) {
        return html(
            StatusCode::METHOD_NOT_ALLOWED,
            pages::refusal(None, "Refused", &format!("This page takes {allow}.")),
            vec![("allow", allow.to_string())],
        );
    }
    // What needs no session.
    match segments.as_slice() {
        ["static", "console.js"] => return asset("text/javascript; charset=utf-8", SCRIPT),
        ["static", "console.css"] => return asset("text/css; charset=utf-8", STYLE),
        ["sign-in"] => return sign_in(app, request, &sessions, now).await,
        [] if session.is_none() => {
            return html(StatusCode::OK, pages::sign_in(None), Vec::new());
        }
        _ => {}
    }
    let Some(session) = session else {
        return redirect(PATH, Vec::new());
    };
    let csrf = sessions.csrf_token(&session);
    let signed = Signed {
        app,
        request,
        sessions: &sessions,
        session,
        csrf,
    };
    let outcome = route(&signed, &segments).await;
    match outcome {
        Ok(response) => response,
        Err(ConsoleError::SignedOut) => redirect(PATH, Vec::new()),
        Err(e) => {
            let status = e.status();
            if status.is_server_error() {
                tracing::error!(error = %e, "console page failed");
            } else {
                tracing::info!(status = status.as_u16(), reason = %e, "console request refused");
            }
            let (title, message) = match &e {
                ConsoleError::Port(_) => (
                    "Unavailable",
                    "A store did not answer; try again in a moment.".to_string(),
                ),
                ConsoleError::Api { status, .. } if status.is_server_error() => (
                    "Unavailable",
                    "The service did not answer; try again in a moment.".to_string(),
                ),
                ConsoleError::NotFound(_) => ("Not found", e.to_string()),
                ConsoleError::Api { status, .. } if *status == StatusCode::NOT_FOUND => {
                    ("Not found", e.to_string())
                }
                _ => ("Refused", e.to_string()),
            };
            html(
                status,
                pages::refusal(Some(&signed.frame()), title, &message),
                Vec::new(),
            )
        }
    }
}

/// A path for a log line: bounded, and printable.
fn quote_path(path: &str) -> String {
    crate::error::quote(&path.chars().take(200).collect::<String>())
}

/// The methods a console path takes; `None` for a path that is not the console's.
fn methods(segments: &[&str]) -> Option<&'static str> {
    match segments {
        []
        | ["static", "console.js" | "console.css"]
        | ["images", _]
        | ["jobs", _]
        | ["projects", _]
        | ["projects", _, "tasks" | "batches", _] => Some("GET, HEAD"),
        ["sign-in" | "sign-out" | "replay"]
        | ["projects", _, "batches", _, "suspend" | "resume"] => Some("POST"),
        _ => None,
    }
}

/// A signed-in request to a path and method `methods` allows.
async fn route(signed: &Signed<'_>, segments: &[&str]) -> Result<ConsoleResponse, ConsoleError> {
    match segments {
        [] => overview(signed).await,
        ["sign-out"] => {
            form(signed)?;
            Ok(redirect(PATH, vec![("set-cookie", clear_cookie())]))
        }
        ["replay"] => replay(signed).await,
        ["images", id] => image(signed, id).await,
        ["jobs", id] => job(signed, id).await,
        ["projects", name] => project(signed, name).await,
        ["projects", name, "tasks", id] => task(signed, name, id).await,
        ["projects", name, "batches", id] => batch(signed, name, id).await,
        ["projects", name, "batches", id, verb] => {
            form(signed)?;
            let op = if *verb == "suspend" {
                Operation::SuspendBatch
            } else {
                Operation::ResumeBatch
            };
            records::call(
                signed.app,
                &signed.session.tenant,
                op,
                &[("ProjectName", name), ("Id", id)],
            )
            .await?;
            Ok(redirect(&batch_path(name, id), Vec::new()))
        }
        _ => Err(ConsoleError::NotFound(
            "There is no such page in the console.".into(),
        )),
    }
}

fn project_path(name: &str) -> String {
    format!("{PATH}/projects/{}", urlencoding::encode(name))
}

fn batch_path(project: &str, id: &str) -> String {
    format!(
        "{}/batches/{}",
        project_path(project),
        urlencoding::encode(id)
    )
}

/// The fields of a state-changing form, once its origin and CSRF token are checked.
fn form(signed: &Signed<'_>) -> Result<Vec<(String, String)>, ConsoleError> {
    same_origin(signed.request)?;
    let fields = form_fields(signed.request)?;
    let token = field(&fields, "csrf").unwrap_or_default();
    if !signed.sessions.csrf_matches(&signed.session, token) {
        return Err(ConsoleError::Forbidden(
            "The form's CSRF token is missing or is not this session's: reload the page and \
             try again."
                .into(),
        ));
    }
    Ok(fields)
}

fn form_fields(request: &ConsoleRequest<'_>) -> Result<Vec<(String, String)>, ConsoleError> {
    if request.body.len() > MAX_FORM_BYTES {
        return Err(ConsoleError::BadRequest(format!(
            "the form is larger than {MAX_FORM_BYTES} bytes"
        )));
    }
    Ok(url::form_urlencoded::parse(request.body)
        .into_owned()
        .collect())
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Refuses a form another site posted: its `Origin` (or `Sec-Fetch-Site`) says so.
fn same_origin(request: &ConsoleRequest<'_>) -> Result<(), ConsoleError> {
    let refused = || {
        Err(ConsoleError::Forbidden(
            "The form was sent from another site.".into(),
        ))
    };
    if let Some(site) = request.header("sec-fetch-site")
        && site != "same-origin"
        && site != "none"
    {
        return refused();
    }
    if let Some(origin) = request.header("origin") {
        let host = request
            .header("x-forwarded-host")
            .or(request.header("host"));
        let origin_host = origin.split_once("://").map(|(_, h)| h);
        if origin_host.is_none() || origin_host != host {
            return refused();
        }
    }
    Ok(())
}

/// Whether the page is served over HTTPS (API Gateway forwards the scheme) or else on
/// loopback, where a cookie without `Secure` is fine.
fn transport(request: &ConsoleRequest<'_>) -> Transport {
    if request.header("x-forwarded-proto") == Some("https") {
        return Transport::Https;
    }
    let host = request.header("host").unwrap_or_default();
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    if matches!(name, "localhost" | "127.0.0.1" | "[::1]") {
        Transport::Loopback
    } else {
        Transport::PlainRemote
    }
}

#[derive(PartialEq)]
enum Transport {
    Https,
    Loopback,
    PlainRemote,
}

fn session_cookie(value: &str, transport: &Transport) -> String {
    let secure = if *transport == Transport::Loopback {
        ""
    } else {
        "; Secure"
    };
    format!(
        "{COOKIE}={value}; Path={PATH}; Max-Age={}; HttpOnly; SameSite=Strict{secure}",
        session::LIFETIME_SECONDS
    )
}

fn clear_cookie() -> String {
    format!("{COOKIE}=; Path={PATH}; Max-Age=0; HttpOnly; SameSite=Strict")
}

async fn sign_in(
    app: &App,
    request: &ConsoleRequest<'_>,
    sessions: &Sessions,
    now: i64,
) -> ConsoleResponse {
    let refuse = |status: StatusCode, message: &str| {
        tracing::info!(status = status.as_u16(), %message, "console sign-in refused");
        html(status, pages::sign_in(Some(message)), Vec::new())
    };
    if let Err(e) = same_origin(request) {
        return refuse(StatusCode::FORBIDDEN, &e.to_string());
    }
    let transport = transport(request);
    if transport == Transport::PlainRemote {
        return refuse(
            StatusCode::FORBIDDEN,
            "The console signs in only over HTTPS, or over HTTP on loopback.",
        );
    }
    let fields = match form_fields(request) {
        Ok(fields) => fields,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let key = field(&fields, "key").unwrap_or_default().trim();
    if key.is_empty() {
        return refuse(StatusCode::BAD_REQUEST, "key: enter an API key.");
    }
    let Some(keys) = &app.keys else {
        return refuse(
            StatusCode::FORBIDDEN,
            "This deployment has no API keys (FOLIO_KEYS_KMS_KEY is not set), so the console \
             cannot sign anyone in.",
        );
    };
    match keys.bearer(key).await {
        Ok(Some(tenant)) => {
            tracing::info!(tenant = tenant.id(), "console sign-in");
            let (_, cookie) = sessions.start(tenant, now);
            redirect(
                PATH,
                vec![("set-cookie", session_cookie(&cookie, &transport))],
            )
        }
        Ok(None) => refuse(StatusCode::UNAUTHORIZED, "key: this is not a live API key."),
        Err(error) => {
            tracing::error!(%error, "the key store failed during a console sign-in");
            refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "The key store did not answer; try again in a moment.",
            )
        }
    }
}

async fn overview(signed: &Signed<'_>) -> Result<ConsoleResponse, ConsoleError> {
    let (app, tenant) = (signed.app, &signed.session.tenant);
    let limit = records::LIST_LIMIT.to_string();
    let projects = records::call(
        app,
        tenant,
        Operation::ListProjects,
        &[("MaxResults", &limit)],
    )
    .await?;
    let jobs = records::recent_jobs(app, tenant).await?;
    let images = records::recent_images(app, tenant).await?;
    Ok(ok(pages::overview(
        &signed.frame(),
        &records::list(&projects["Projects"]),
        &jobs,
        &images,
    )))
}

async fn project(signed: &Signed<'_>, name: &str) -> Result<ConsoleResponse, ConsoleError> {
    let (app, tenant) = (signed.app, &signed.session.tenant);
    let limit = records::LIST_LIMIT.to_string();
    // The project itself first: another tenant's name is a 404, like any id.
    records::call(app, tenant, Operation::GetProject, &[("ProjectName", name)]).await?;
    let listing = [
        ("ProjectName", name),
        ("MaxResults", limit.as_str()),
        ("Order", "DESC"),
    ];
    let tasks = records::call(app, tenant, Operation::ListTasks, &listing).await?;
    let batches = records::call(app, tenant, Operation::ListBatches, &listing).await?;
    Ok(ok(pages::project(
        &signed.frame(),
        name,
        &records::list(&tasks["Tasks"]),
        &records::list(&batches["Batches"]),
    )))
}

async fn image(signed: &Signed<'_>, id: &str) -> Result<ConsoleResponse, ConsoleError> {
    let (app, tenant) = (signed.app, &signed.session.tenant);
    let answer = records::call(app, tenant, Operation::GetImageInfos, &[("ImageIds", id)]).await?;
    let Some(record) = answer["ImageInfo"].as_array().and_then(|a| a.first()) else {
        return Err(ConsoleError::NotFound(format!("There is no image {id}.")));
    };
    let deliveries = records::deliveries(app, tenant, "Image", id).await?;
    let state = record["Status"].as_str().unwrap_or_default();
    Ok(ok(pages::detail(
        &signed.frame(),
        Detail {
            kind: "Image",
            id,
            state,
            progress: None,
            error: None,
            up: (PATH.to_string(), "images".into()),
            here: format!("{PATH}/images/{}", urlencoding::encode(id)),
            controls: Markup::default(),
            record,
            deliveries: &deliveries,
        },
    )))
}

async fn job(signed: &Signed<'_>, id: &str) -> Result<ConsoleResponse, ConsoleError> {
    let (app, tenant) = (signed.app, &signed.session.tenant);
    crate::task::validate::record_id("job id", id)
        .map_err(|_| ConsoleError::NotFound(format!("There is no job {id}.")))?;
    let record = records::job(app, tenant, signed.request.headers, id).await?;
    let deliveries = records::deliveries(app, tenant, "Job", id).await?;
    let status = &record["status"];
    let state = status["code"].as_str().unwrap_or_default();
    let error = record["errors"]
        .as_array()
        .and_then(|e| e.first())
        .map(|e| {
            let message = e["message"].as_str().unwrap_or_default();
            match e["code"].as_str() {
                Some(code) => format!("{code}: {message}"),
                None => message.to_string(),
            }
        });
    Ok(ok(pages::detail(
        &signed.frame(),
        Detail {
            kind: "Job",
            id,
            state,
            progress: None,
            error,
            up: (PATH.to_string(), "jobs".into()),
            here: format!("{PATH}/jobs/{}", urlencoding::encode(id)),
            controls: Markup::default(),
            record: &record,
            deliveries: &deliveries,
        },
    )))
}

/// `Code: Message` when the record has a code.
fn failure(record: &Value) -> Option<String> {
    let code = record["Code"].as_str().filter(|c| !c.is_empty())?;
    Some(format!(
        "{code}: {}",
        record["Message"].as_str().unwrap_or_default()
    ))
}

async fn task(
    signed: &Signed<'_>,
    project: &str,
    id: &str,
) -> Result<ConsoleResponse, ConsoleError> {
    let (app, tenant) = (signed.app, &signed.session.tenant);
    let record = records::call(
        app,
        tenant,
        Operation::GetTask,
        &[("ProjectName", project), ("TaskId", id)],
    )
    .await?;
    let deliveries = records::deliveries(app, tenant, "Task", id).await?;
    Ok(ok(pages::detail(
        &signed.frame(),
        Detail {
            kind: "Task",
            id,
            state: record["Status"].as_str().unwrap_or_default(),
            progress: record["Progress"].as_u64(),
            error: failure(&record),
            up: (project_path(project), project.to_string()),
            here: format!(
                "{}/tasks/{}",
                project_path(project),
                urlencoding::encode(id)
            ),
            controls: Markup::default(),
            record: &record,
            deliveries: &deliveries,
        },
    )))
}

async fn batch(
    signed: &Signed<'_>,
    project: &str,
    id: &str,
) -> Result<ConsoleResponse, ConsoleError> {
    let (app, tenant) = (signed.app, &signed.session.tenant);
    let answer = records::call(
        app,
        tenant,
        Operation::GetBatch,
        &[("ProjectName", project), ("Id", id)],
    )
    .await?;
    let record = &answer["Batch"];
    let deliveries = records::deliveries(app, tenant, "Batch", id).await?;
    let state = record["State"].as_str().unwrap_or_default();
    let here = batch_path(project, id);
    let frame = signed.frame();
    let controls = pages::batch_controls(&frame, &here, state);
    Ok(ok(pages::detail(
        &frame,
        Detail {
            kind: "Batch",
            id,
            state,
            progress: None,
            error: failure(record),
            up: (project_path(project), project.to_string()),
            here,
            controls,
            record,
            deliveries: &deliveries,
        },
    )))
}

async fn replay(signed: &Signed<'_>) -> Result<ConsoleResponse, ConsoleError> {
    let fields = form(signed)?;
    let get = |name: &str| {
        field(&fields, name).ok_or_else(|| ConsoleError::BadRequest(format!("{name}: missing")))
    };
    records::call(
        signed.app,
        &signed.session.tenant,
        Operation::ReplayDelivery,
        &[
            ("SubjectType", get("subject_type")?),
            ("SubjectId", get("subject_id")?),
            ("EventId", get("event_id")?),
            ("Target", get("target")?),
        ],
    )
    .await?;
    // Back to the page the form was on: only ever a console path.
    let back = field(&fields, "back")
        .filter(|b| b.starts_with("/console/") && !b.contains("//") && !b.contains('\\'))
        .unwrap_or(PATH);
    Ok(redirect(back, Vec::new()))
}

fn security_headers(headers: &mut Vec<(&'static str, String)>) {
    headers.push(("content-security-policy", CSP.to_string()));
    headers.push(("x-content-type-options", "nosniff".to_string()));
    headers.push(("x-frame-options", "DENY".to_string()));
    headers.push(("referrer-policy", "same-origin".to_string()));
}

fn html(
    status: StatusCode,
    markup: Markup,
    mut headers: Vec<(&'static str, String)>,
) -> ConsoleResponse {
    headers.push(("content-type", "text/html; charset=utf-8".to_string()));
    headers.push(("cache-control", "no-store".to_string()));
    security_headers(&mut headers);
    ConsoleResponse {
        status,
        headers,
        body: markup.into_string().into_bytes(),
    }
}

fn ok(markup: Markup) -> ConsoleResponse {
    html(StatusCode::OK, markup, Vec::new())
}

fn redirect(to: &str, mut headers: Vec<(&'static str, String)>) -> ConsoleResponse {
    headers.push(("location", to.to_string()));
    headers.push(("cache-control", "no-store".to_string()));
    security_headers(&mut headers);
    ConsoleResponse {
        status: StatusCode::SEE_OTHER,
        headers,
        body: Vec::new(),
    }
}

fn asset(content_type: &str, text: &'static str) -> ConsoleResponse {
    let mut headers = vec![
        ("content-type", content_type.to_string()),
        ("cache-control", "no-cache".to_string()),
    ];
    security_headers(&mut headers);
    ConsoleResponse {
        status: StatusCode::OK,
        headers,
        body: text.as_bytes().to_vec(),
    }
}
