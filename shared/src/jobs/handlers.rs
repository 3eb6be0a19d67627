//! The `/v2/jobs` resources: jobs, their inputs, conversions, outputs and history, and the
//! catalog and statuses. A job is changed only while open (`incomplete` or `ready`),
//! through a read and a write conditional on its version; it starts when it has inputs
//! and conversions and `process` is true.

use chrono::Utc;
use http::{Method, StatusCode};
use serde_json::{Map, Value, json};

use super::announce::announce;
use super::http::{Caller, V2Error, V2Request, V2Response, base_url};
use super::model::{
    ConversionRecord, InputKind, InputRecord, JobMessageBody, JobRecord, JobStatus, OutputRecord,
    OutputStatus,
};
use super::{enter, files_prefix, options, parse, wire};
use crate::app::App;
use crate::error::{PortError, quote};
use crate::notify::url_guard;
use crate::ports::JobState;

pub struct Ctx<'a> {
    pub app: &'a App,
    pub request: &'a V2Request<'a>,
    pub caller: &'a Caller,
}

const PER_PAGE: usize = 50;
/// The last page a list may ask for: far past any list, and no arithmetic on it overflows.
pub const MAX_PAGE: usize = 1_000_000;
/// The most conversions a job may have (the job, its inputs and conversions are one record).
pub const MAX_CONVERSIONS: usize = 50;

pub fn statuses() -> V2Response {
    let list: Vec<Value> = JobStatus::ALL
        .iter()
        .map(|s| json!({"code": s.code(), "info": s.info()}))
        .collect();
    V2Response::json(StatusCode::OK, &Value::Array(list))
}

fn page(request: &V2Request<'_>) -> Result<usize, V2Error> {
    match request.query("page") {
        None => Ok(1),
        Some(p) => p
            .parse::<usize>()
            .ok()
            .filter(|p| (1..=MAX_PAGE).contains(p))
            .ok_or_else(|| {
                V2Error::bad(
                    "page",
                    format!("{} is not a page number from 1 to {MAX_PAGE}", quote(p)),
                )
            }),
    }
}

/// `GET /v2/conversions?target=&category=&page=`: the table the validator uses.
pub fn catalog(request: &V2Request<'_>) -> Result<V2Response, V2Error> {
    let page = page(request)?;
    let target = request.query("target");
    let category = request.query("category");
    let rows: Vec<Value> = options::TARGETS
        .iter()
        .filter(|t| target.is_none_or(|w| options::find(w, None).is_some_and(|f| f.id == t.id)))
        .filter(|t| category.is_none_or(|c| c.eq_ignore_ascii_case(t.category)))
        .skip((page - 1).saturating_mul(PER_PAGE))
        .take(PER_PAGE)
        .map(options::describe)
        .collect();
    Ok(V2Response::json(StatusCode::OK, &Value::Array(rows)))
}

/// The job, if the caller may see it (another tenant's job is not found).
async fn load(ctx: &Ctx<'_>, job_id: &str) -> Result<JobState, V2Error> {
    let state = ctx.app.jobs.get_full(job_id).await?;
    state
        .filter(|s| allowed(ctx, &s.job))
        .ok_or_else(|| V2Error::NotFound(format!("No job {job_id}")))
}

/// The job record alone (no pairs, no outputs), if the caller may see it.
pub async fn load_job(ctx: &Ctx<'_>, job_id: &str) -> Result<JobRecord, V2Error> {
    ctx.app
        .jobs
        .get(job_id)
        .await?
        .filter(|job| allowed(ctx, job))
        .ok_or_else(|| V2Error::NotFound(format!("No job {job_id}")))
}

/// Whether the caller may see the job: its tenant's key, or its own token.
fn allowed(ctx: &Ctx<'_>, job: &JobRecord) -> bool {
    match ctx.caller {
        Caller::Account(tenant) => job.tenant_key == tenant.key(),
        Caller::JobToken(token) => crate::auth::same(token.as_bytes(), job.token.as_bytes()),
    }
}

fn account(ctx: &Ctx<'_>) -> Result<crate::tenant::Tenant, V2Error> {
    match ctx.caller {
        Caller::Account(t) => Ok(t.clone()),
        Caller::JobToken(_) => Err(V2Error::Unauthorized(
            "This route needs the account's API key, not a job token".into(),
        )),
    }
}

/// The job's output of that id.
fn output_of<'a>(state: &'a JobState, output_id: &str) -> Result<&'a OutputRecord, V2Error> {
    state
        .outputs
        .iter()
        .find(|o| o.id == output_id)
        .ok_or_else(|| V2Error::NotFound(format!("No output {output_id}")))
}

/// 409 unless the job may still change (it has not started).
pub fn ensure_open(job: &JobRecord) -> Result<(), V2Error> {
    if job.status.is_open() {
        return Ok(());
    }
    Err(V2Error::Conflict(format!(
        "The job is {} and can no longer be changed",
        job.status.code()
    )))
}

/// What answers a request of one item or a list: the one, or the list.
pub fn one_or_list(docs: Vec<Value>, many: bool) -> Value {
    if many {
        Value::Array(docs)
    } else {
        docs.into_iter().next().unwrap_or(Value::Null)
    }
}

fn body_object(ctx: &Ctx<'_>) -> Result<Map<String, Value>, V2Error> {
    match ctx.request.json()? {
        Some(Value::Object(m)) => Ok(m),
        Some(_) => Err(V2Error::bad("body", "must be a JSON object")),
        None => Ok(Map::new()),
    }
}

pub async fn jobs(ctx: &Ctx<'_>, rest: &[&str]) -> Result<V2Response, V2Error> {
    let method = ctx.request.method;
    match (rest, method.clone()) {
        ([], Method::GET) => list(ctx).await,
        ([], Method::POST) => create(ctx).await,
        ([id], Method::GET) => show(ctx, id).await,
        ([id], Method::PATCH) => patch(ctx, id).await,
        ([id], Method::DELETE) => cancel(ctx, id).await,
        ([id, "history"], Method::GET) => history(ctx, id).await,
        ([id, "input"], Method::GET) => {
            let job = load_job(ctx, id).await?;
            let list: Vec<Value> = job.inputs.iter().map(wire::input).collect();
            Ok(V2Response::json(StatusCode::OK, &Value::Array(list)))
        }
        ([id, "input"], Method::POST) => add_inputs(ctx, id).await,
        ([id, "input"], Method::PATCH) => patch_inputs(ctx, id, None).await,
        ([id, "input", input_id], Method::PATCH) => patch_inputs(ctx, id, Some(input_id)).await,
        ([id, "input", input_id], Method::GET) => {
            let job = load_job(ctx, id).await?;
            let input = job
                .input(input_id)
                .ok_or_else(|| V2Error::NotFound(format!("No input {input_id}")))?;
            Ok(V2Response::json(StatusCode::OK, &wire::input(input)))
        }
        ([id, "input", input_id], Method::DELETE) => {
            let input_id = input_id.to_string();
            let (_, removed) = change_open(ctx, id, move |job| {
                let at = job
                    .inputs
                    .iter()
                    .position(|i| i.id == input_id)
                    .ok_or_else(|| V2Error::NotFound(format!("No input {input_id}")))?;
                Ok(job.inputs.remove(at))
            })
            .await?;
            // An uploaded input's file goes with it.
            if let Some(stored) = &removed.stored {
                ctx.app
                    .files
                    .delete_prefix(&stored.bucket, &stored.key)
                    .await?;
            }
            Ok(V2Response::empty(StatusCode::NO_CONTENT))
        }
        ([id, "conversions"], Method::GET) => {
            let state = load(ctx, id).await?;
            let list: Vec<Value> = state
                .job
                .conversions
                .iter()
                .map(|c| wire::conversion(c, &wire::target_statuses(&state, c)))
                .collect();
            Ok(V2Response::json(StatusCode::OK, &Value::Array(list)))
        }
        ([id, "conversions"], Method::POST) => add_conversion(ctx, id).await,
        ([id, "conversions", cid], Method::GET) => {
            let state = load(ctx, id).await?;
            let c = state
                .job
                .conversion(cid)
                .ok_or_else(|| V2Error::NotFound(format!("No conversion {cid}")))?;
            Ok(V2Response::json(
                StatusCode::OK,
                &wire::conversion(c, &wire::target_statuses(&state, c)),
            ))
        }
        ([id, "conversions", cid], Method::PATCH) => patch_conversion(ctx, id, cid).await,
        ([id, "conversions", cid], Method::DELETE) => {
            let cid = cid.to_string();
            change_open(ctx, id, move |job| {
                let before = job.conversions.len();
                job.conversions.retain(|c| c.id != cid);
                if job.conversions.len() == before {
                    return Err(V2Error::NotFound(format!("No conversion {cid}")));
                }
                Ok(())
            })
            .await?;
            Ok(V2Response::empty(StatusCode::NO_CONTENT))
        }
        ([id, "output"], Method::GET) => {
            let s = load(ctx, id).await?;
            let conversion = ctx.request.query("conversion_id");
            let input = ctx.request.query("input_id");
            let now = Utc::now();
            let list: Vec<Value> = s
                .outputs
                .iter()
                .filter(|o| conversion.is_none_or(|c| o.conversion_id == c))
                .filter(|o| input.is_none_or(|i| o.input_id == i))
                .map(|o| wire::output(&s.job, o, now))
                .collect();
            Ok(V2Response::json(StatusCode::OK, &Value::Array(list)))
        }
        ([id, "output", oid], Method::GET) => {
            let s = load(ctx, id).await?;
            let o = output_of(&s, oid)?;
            Ok(V2Response::json(
                StatusCode::OK,
                &wire::output(&s.job, o, Utc::now()),
            ))
        }
        ([id, "output"], Method::PATCH) => patch_outputs(ctx, id, None).await,
        ([id, "output", oid], Method::PATCH) => patch_outputs(ctx, id, Some(oid)).await,
        ([id, "output", oid], Method::DELETE) => {
            let s = load(ctx, id).await?;
            let o = output_of(&s, oid)?;
            ctx.app
                .jobs
                .set_output_status(id, oid, OutputStatus::Disabled)
                .await?;
            ctx.app
                .files
                .delete_prefix(&o.stored.bucket, &o.stored.key)
                .await?;
            Ok(V2Response::empty(StatusCode::NO_CONTENT))
        }
        ([], _) | ([_], _) | ([_, _], _) | ([_, _, _], _) => {
            Err(V2Error::MethodNotAllowed(method.to_string()))
        }
        _ => Err(V2Error::NotFound(format!("No route {}", ctx.request.path))),
    }
}

/// `PATCH .../input/{id}` with `{parameters, credentials, options}`, or `PATCH .../input` with
/// a list of `{id, ...}`: changes inputs before the job starts (409 after).
async fn patch_inputs(ctx: &Ctx<'_>, id: &str, one: Option<&str>) -> Result<V2Response, V2Error> {
    let body = ctx
        .request
        .json()?
        .ok_or_else(|| V2Error::bad("body", "the changes are required"))?;
    let changes: Vec<(String, Map<String, Value>, String)> = match (one, &body) {
        (Some(input_id), Value::Object(m)) => {
            vec![(input_id.to_string(), m.clone(), "input".into())]
        }
        (None, Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let field = format!("input[{i}]");
                let m = item
                    .as_object()
                    .ok_or_else(|| V2Error::bad(&field, "must be an object"))?;
                let input_id = m
                    .get("id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| V2Error::bad(format!("{field}.id"), "is required"))?;
                Ok((input_id.to_string(), m.clone(), field))
            })
            .collect::<Result<_, V2Error>>()?,
        (Some(_), _) => return Err(V2Error::bad("body", "must be a JSON object")),
        (None, _) => return Err(V2Error::bad("body", "must be a list of {id, ...}")),
    };
    let (_, changed) = change_open(ctx, id, |job| {
        let mut changed = Vec::new();
        for (input_id, m, field) in &changes {
            let input = job
                .inputs
                .iter_mut()
                .find(|i| i.id == *input_id)
                .ok_or_else(|| V2Error::NotFound(format!("No input {input_id}")))?;
            parse::patch_input(input, m, field)?;
            changed.push(input.clone());
        }
        Ok(changed)
    })
    .await?;
    let docs: Vec<Value> = changed.iter().map(wire::input).collect();
    Ok(V2Response::json(
        StatusCode::OK,
        &one_or_list(docs, one.is_none()),
    ))
}

/// `PATCH .../output[/{id}]` with `{filename, download_password}`: a new name (the output's
/// extension is kept; a name with one has it replaced) and a download password of the
/// output's own, for one output or every output of the job.
async fn patch_outputs(ctx: &Ctx<'_>, id: &str, one: Option<&str>) -> Result<V2Response, V2Error> {
    let body = body_object(ctx)?;
    let stem = match body.get("filename") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) => {
            let clean = super::fetch::filename_of(name);
            let stem = clean
                .rsplit_once('.')
                .map_or(clean.as_str(), |(s, _)| s)
                .to_string();
            if name.trim().is_empty() || stem.is_empty() || stem.len() > 200 {
                return Err(V2Error::bad(
                    "filename",
                    "must be a name of 1 to 200 characters",
                ));
            }
            Some(stem)
        }
        Some(other) => return Err(V2Error::bad("filename", format!("{other} is not a string"))),
    };
    let password = match body.get("download_password") {
        None | Some(Value::Null) => None,
        Some(Value::String(p))
            if !p.is_empty()
                && p.len() <= 1000
                && p.bytes().all(|b| (b' '..=b'~').contains(&b)) =>
        {
            Some(super::transfer::password_hash(p))
        }
        Some(_) => {
            return Err(V2Error::bad(
                "download_password",
                "must be 1 to 1000 printable ASCII characters",
            ));
        }
    };
    let state = load(ctx, id).await?;
    let targets: Vec<&OutputRecord> = match one {
        Some(oid) => vec![output_of(&state, oid)?],
        None => state.outputs.iter().collect(),
    };
    for output in &targets {
        let filename = stem.as_ref().map(|stem| {
            let ext = output
                .facts
                .filename
                .rsplit_once('.')
                .map_or("", |(_, e)| e);
            format!("{stem}.{ext}")
        });
        ctx.app
            .jobs
            .change_output(id, &output.id, filename.as_deref(), password.as_deref())
            .await?;
    }
    let state = load(ctx, id).await?;
    let now = Utc::now();
    let changed: Vec<Value> = state
        .outputs
        .iter()
        .filter(|o| targets.iter().any(|t| t.id == o.id))
        .map(|o| wire::output(&state.job, o, now))
        .collect();
    Ok(V2Response::json(
        StatusCode::OK,
        &one_or_list(changed, one.is_none()),
    ))
}

async fn list(ctx: &Ctx<'_>) -> Result<V2Response, V2Error> {
    let page = page(ctx.request)?;
    let status = match ctx.request.query("status") {
        None => None,
        Some(code) => Some(JobStatus::parse(code).ok_or_else(|| {
            V2Error::bad(
                "status",
                format!("{} is not a status (see GET /v2/statuses)", quote(code)),
            )
        })?),
    };
    if let Caller::JobToken(_) = ctx.caller {
        return Err(V2Error::Unauthorized(
            "Listing jobs needs the account's API key".into(),
        ));
    }
    let tenant = account(ctx)?;
    let (jobs, total) = ctx
        .app
        .jobs
        .list(tenant.key(), status, page, PER_PAGE)
        .await?;
    if total == 0 {
        return Ok(V2Response::empty(StatusCode::NO_CONTENT).with_header("x-count", "0"));
    }
    let mut docs = Vec::with_capacity(jobs.len());
    for job in jobs {
        if let Some(state) = ctx.app.jobs.get_full(&job.id).await? {
            docs.push(super::document(&state));
        }
    }
    Ok(V2Response::json(StatusCode::OK, &Value::Array(docs))
        .with_header("x-count", total.to_string()))
}

fn random_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Moves the job to the status it has for what it holds; `(changed, starts)`.
fn settle(job: &mut JobRecord) -> (bool, bool) {
    let open = job.open_status();
    let status = if job.process && open == JobStatus::Ready {
        JobStatus::Queued
    } else {
        open
    };
    let changed = status != job.status;
    if changed {
        enter(job, status);
    }
    (changed, status == JobStatus::Queued)
}

/// Queues the start of a job just moved to `queued`. Should the queue refuse, the job goes
/// back to `ready` (a later `process: true` starts it), so no job waits for a message that
/// was never sent.
async fn queue_start(app: &App, job: &JobRecord) -> Result<(), V2Error> {
    let queued = app
        .job_queue
        .enqueue(&[JobMessageBody::Start {
            job_id: job.id.clone(),
        }])
        .await;
    if let Err(error) = queued {
        tracing::error!(job_id = %job.id, %error, "a job's start could not be queued");
        if let Err(e) = app
            .jobs
            .set_status(&job.id, &[JobStatus::Queued], JobStatus::Ready)
            .await
        {
            tracing::error!(job_id = %job.id, error = %e, "a job stays queued without its start");
        }
        return Err(error.into());
    }
    Ok(())
}

fn max_inputs(app: &App, job: &JobRecord) -> u64 {
    let cap = app.config.max_job_inputs;
    job.limits.max_inputs.map_or(cap, |m| m.min(cap))
}

/// The most a job's record may hold, in bytes of JSON: DynamoDB keeps at most 400 KB in
/// one item, and a job and its inputs are one item.
pub const MAX_RECORD_BYTES: usize = 350_000;

/// Refuses a job whose record (with `more` inputs) would not fit in one item: cloud
/// credentials, a service account's key file above all, stay with each input and output
/// target until used.
fn check_size(job: &JobRecord, more: &[InputRecord]) -> Result<(), V2Error> {
    fn json_len<T: serde::Serialize>(value: &T) -> usize {
        serde_json::to_vec(value).map_or(0, |v| v.len())
    }
    let bytes = json_len(job) + more.iter().map(json_len).sum::<usize>();
    if bytes > MAX_RECORD_BYTES {
        return Err(V2Error::bad(
            "input",
            format!(
                "the job would take {} KB, more than Folio keeps for one job ({} KB); \
                 credentials such as key files are kept with each input and output target \
                 until used: spread the inputs over several jobs",
                bytes / 1000,
                MAX_RECORD_BYTES / 1000
            ),
        ));
    }
    Ok(())
}

/// Remote inputs and FTP servers naming a private address (or `localhost`) are refused when
/// named; a host name is checked again at each connection, since what it resolves to may
/// change.
fn check_remote_sources(app: &App, inputs: &[InputRecord]) -> Result<(), V2Error> {
    let allowed = &app.config.allowed_private_networks;
    for (i, input) in inputs.iter().enumerate() {
        match input.kind {
            InputKind::Remote => {
                url_guard::check_accepted(&input.source, allowed).map_err(|e| {
                    V2Error::bad(format!("input[{i}].source"), format!("the URL {e}"))
                })?;
            }
            InputKind::Cloud if input.source == "ftp" => {
                check_ftp_host(&input.parameters, allowed, &format!("input[{i}]"))?
            }
            _ => {}
        }
    }
    Ok(())
}

/// The FTP servers of conversions' output targets, as [`check_remote_sources`] checks inputs'.
fn check_target_hosts(app: &App, conversions: &[ConversionRecord]) -> Result<(), V2Error> {
    let allowed = &app.config.allowed_private_networks;
    for (i, conversion) in conversions.iter().enumerate() {
        for (j, target) in conversion.output_targets.iter().enumerate() {
            if target.kind == "ftp" {
                let field = format!("conversion[{i}].output_target[{j}]");
                check_ftp_host(&target.parameters, allowed, &field)?;
            }
        }
    }
    Ok(())
}

fn check_ftp_host(
    parameters: &Map<String, Value>,
    allowed: &[ipnet::IpNet],
    field: &str,
) -> Result<(), V2Error> {
    let host = parameters.get("host").and_then(Value::as_str).unwrap_or("");
    url_guard::check_named_host(host, allowed)
        .map_err(|e| V2Error::bad(format!("{field}.parameters.host"), format!("the host {e}")))
}

/// Refuses a job with more inputs than its limit allows (the contract's 402).
pub fn check_inputs(app: &App, job: &JobRecord) -> Result<(), V2Error> {
    if job.conversions.len() > MAX_CONVERSIONS {
        return Err(V2Error::bad(
            "conversion",
            format!("a job has at most {MAX_CONVERSIONS} conversions"),
        ));
    }
    let max = max_inputs(app, job);
    if job.inputs.len() as u64 > max {
        return Err(V2Error::LimitExceeded(format!(
            "The job would have {} inputs; limits.job.max_inputs allows {max}",
            job.inputs.len()
        )));
    }
    check_size(job, &[])
}

fn apply_settings(
    job: &mut JobRecord,
    body: &Map<String, Value>,
    allowed: &[ipnet::IpNet],
) -> Result<(), V2Error> {
    job.process = parse::boolean(body, "process", job.process)?;
    job.fail_on_input_error = parse::boolean(body, "fail_on_input_error", job.fail_on_input_error)?;
    job.fail_on_conversion_error = parse::boolean(
        body,
        "fail_on_conversion_error",
        job.fail_on_conversion_error,
    )?;
    job.notify_status = parse::boolean(body, "notify_status", job.notify_status)?;
    if let Some(callback) = parse::callback(body, allowed)? {
        job.callback = callback;
    }
    if let Some(passwords) = parse::passwords(body)? {
        job.download_passwords = passwords;
    }
    if let Some(limits) = parse::limits(body)? {
        job.limits = limits;
    }
    Ok(())
}

async fn create(ctx: &Ctx<'_>) -> Result<V2Response, V2Error> {
    let tenant = account(ctx)?;
    let body = body_object(ctx)?;
    if body.is_empty() {
        // As the API documents it: an empty body creates nothing.
        return Ok(V2Response::empty(StatusCode::NO_CONTENT));
    }
    let now = Utc::now();
    let mut job = JobRecord {
        id: parse::new_id(),
        tenant_key: tenant.key().to_string(),
        token: random_token(),
        status: JobStatus::Incomplete,
        process: true,
        fail_on_input_error: true,
        fail_on_conversion_error: true,
        callback: String::new(),
        notify_status: false,
        conversions: Vec::new(),
        inputs: Vec::new(),
        limits: Default::default(),
        download_passwords: Vec::new(),
        errors: Vec::new(),
        warnings: Vec::new(),
        history: Vec::new(),
        base_url: base_url(ctx.app, ctx.request),
        version: 0,
        created_at: now,
        modified_at: now,
        started_at: None,
        pairs_total: 0,
        pairs_done: 0,
        credits_reserved: 0,
        spent: 0,
        notified: false,
    };
    apply_settings(&mut job, &body, &ctx.app.config.allowed_private_networks)?;
    if let Some(c) = body.get("conversion").filter(|v| !v.is_null()) {
        job.conversions = parse::one_or_many(c, "conversion", parse::conversion)?;
        check_target_hosts(ctx.app, &job.conversions)?;
    }
    if let Some(i) = body.get("input").filter(|v| !v.is_null()) {
        job.inputs = parse::one_or_many(i, "input", parse::input)?;
        check_remote_sources(ctx.app, &job.inputs)?;
    }
    check_inputs(ctx.app, &job)?;
    let first = job.open_status();
    enter(&mut job, first);
    let (_, starts) = settle(&mut job);
    ctx.app.jobs.create(&job).await?;
    let state = JobState::before_run(job);
    // The callback of this status is queued before the worker can queue the next one.
    announce(ctx.app, &state).await?;
    if starts {
        queue_start(ctx.app, &state.job).await?;
    }
    tracing::info!(job_id = %state.job.id, status = state.job.status.code(), "job created");
    Ok(V2Response::json(
        StatusCode::CREATED,
        &super::document(&state),
    ))
}

async fn show(ctx: &Ctx<'_>, id: &str) -> Result<V2Response, V2Error> {
    let state = load(ctx, id).await?;
    Ok(V2Response::json(StatusCode::OK, &super::document(&state)))
}

async fn history(ctx: &Ctx<'_>, id: &str) -> Result<V2Response, V2Error> {
    let state = load(ctx, id).await?;
    let list: Vec<Value> = state
        .job
        .history
        .iter()
        .enumerate()
        .map(|(i, h)| {
            json!({"id": format!("{}-{}", state.job.id, i + 1), "status": h.status.code(),
                   "info": h.status.info(), "created_at": wire::time(&h.at)})
        })
        .collect();
    Ok(V2Response::json(StatusCode::OK, &Value::Array(list)))
}

/// Changes an open job with `change`, retrying when another change came first; starts it
/// when the change makes it ready with `process` on. Returns the job as written.
pub async fn change_open<T>(
    ctx: &Ctx<'_>,
    id: &str,
    change: impl Fn(&mut JobRecord) -> Result<T, V2Error>,
) -> Result<(JobState, T), V2Error> {
    for _ in 0..8 {
        let mut state = load(ctx, id).await?;
        let job = &mut state.job;
        ensure_open(job)?;
        let expected = job.version;
        let out = change(job)?;
        check_inputs(ctx.app, job)?;
        job.version = expected + 1;
        job.modified_at = Utc::now();
        let (changed, starts) = settle(job);
        match ctx.app.jobs.replace(job, expected).await {
            Ok(()) => {
                if changed {
                    announce(ctx.app, &state).await?;
                }
                if starts {
                    queue_start(ctx.app, &state.job).await?;
                }
                return Ok((state, out));
            }
            Err(PortError::ConditionFailed) => {
                let jitter = rand::random::<u64>() % 50;
                tokio::time::sleep(std::time::Duration::from_millis(jitter)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(V2Error::Conflict(
        "The job is being changed by other requests; try again".into(),
    ))
}

/// Adds inputs to an open job in one atomic write, so that uploads to one job side by side
/// do not contend, then settles the job's status (which may start it).
pub async fn append_inputs(
    ctx: &Ctx<'_>,
    job: &JobRecord,
    inputs: Vec<InputRecord>,
) -> Result<Vec<InputRecord>, V2Error> {
    let id = job.id.as_str();
    ensure_open(job)?;
    check_size(job, &inputs)?;
    let max = max_inputs(ctx.app, job);
    match ctx.app.jobs.append_inputs(id, &inputs, max).await {
        Ok(()) => {}
        Err(PortError::ConditionFailed) => {
            let now = load_job(ctx, id).await?;
            ensure_open(&now)?;
            return Err(V2Error::LimitExceeded(format!(
                "The job has {} inputs; limits.job.max_inputs allows {max}",
                now.inputs.len()
            )));
        }
        Err(e) => return Err(e.into()),
    }
    settle_open(ctx, id).await?;
    Ok(inputs)
}

/// Moves an open job to the status it has for what it holds (starting it when `process`
/// is on), retrying when another change came first; nothing to do, nothing written.
async fn settle_open(ctx: &Ctx<'_>, id: &str) -> Result<(), V2Error> {
    for attempt in 0..20u64 {
        // An open job has no pairs and no outputs: its record is all of it.
        let mut state = JobState::before_run(load_job(ctx, id).await?);
        let job = &mut state.job;
        if !job.status.is_open() {
            return Ok(());
        }
        let expected = job.version;
        let (changed, starts) = settle(job);
        if !changed {
            return Ok(());
        }
        job.version = expected + 1;
        match ctx.app.jobs.replace(job, expected).await {
            Ok(()) => {
                announce(ctx.app, &state).await?;
                if starts {
                    queue_start(ctx.app, &state.job).await?;
                }
                return Ok(());
            }
            Err(PortError::ConditionFailed) => {
                let jitter = rand::random::<u64>() % (10 * (attempt + 1));
                tokio::time::sleep(std::time::Duration::from_millis(jitter)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(V2Error::Conflict(
        "The job is being changed by other requests; try again".into(),
    ))
}

async fn patch(ctx: &Ctx<'_>, id: &str) -> Result<V2Response, V2Error> {
    let body = body_object(ctx)?;
    let (state, ()) = change_open(ctx, id, |job| {
        apply_settings(job, &body, &ctx.app.config.allowed_private_networks)
    })
    .await?;
    Ok(V2Response::json(StatusCode::OK, &super::document(&state)))
}

async fn cancel(ctx: &Ctx<'_>, id: &str) -> Result<V2Response, V2Error> {
    let state = load(ctx, id).await?;
    if state.job.status.is_terminal() {
        return Err(V2Error::Conflict(format!(
            "The job has ended ({}) and cannot be canceled",
            state.job.status.code()
        )));
    }
    let live: Vec<JobStatus> = JobStatus::ALL
        .into_iter()
        .filter(|s| !s.is_terminal())
        .collect();
    match ctx
        .app
        .jobs
        .set_status(id, &live, JobStatus::Canceled)
        .await
    {
        Ok(()) => {}
        Err(PortError::ConditionFailed) => {
            return Err(V2Error::Conflict("The job has just ended".into()));
        }
        Err(e) => return Err(e.into()),
    }
    for output in &state.outputs {
        ctx.app
            .jobs
            .set_output_status(id, &output.id, OutputStatus::Disabled)
            .await?;
    }
    ctx.app
        .files
        .delete_prefix(ctx.app.config.default_bucket(), &files_prefix(&state.job))
        .await?;
    super::worker::notify_end(ctx.app, id)
        .await
        .map_err(|e| match e {
            crate::queue::WorkerError::Port(p) => V2Error::Internal(p),
            crate::queue::WorkerError::Retry(r) => {
                V2Error::Internal(PortError::backend("announcing a canceled job", r))
            }
        })?;
    Ok(V2Response::empty(StatusCode::NO_CONTENT))
}

async fn add_inputs(ctx: &Ctx<'_>, id: &str) -> Result<V2Response, V2Error> {
    let body = ctx
        .request
        .json()?
        .ok_or_else(|| V2Error::bad("body", "an input (or a list of them) is required"))?;
    let many = body.is_array();
    let inputs = parse::one_or_many(&body, "input", parse::input)?;
    check_remote_sources(ctx.app, &inputs)?;
    let job = load_job(ctx, id).await?;
    let added = append_inputs(ctx, &job, inputs).await?;
    let docs = added.iter().map(wire::input).collect();
    Ok(V2Response::json(
        StatusCode::CREATED,
        &one_or_list(docs, many),
    ))
}

async fn add_conversion(ctx: &Ctx<'_>, id: &str) -> Result<V2Response, V2Error> {
    let body = ctx
        .request
        .json()?
        .ok_or_else(|| V2Error::bad("body", "a conversion is required"))?;
    let conversion = parse::conversion(&body, "conversion")?;
    check_target_hosts(ctx.app, std::slice::from_ref(&conversion))?;
    let (state, added) = change_open(ctx, id, |job| {
        job.conversions.push(conversion.clone());
        Ok(conversion.clone())
    })
    .await?;
    Ok(V2Response::json(
        StatusCode::CREATED,
        &wire::conversion(&added, &wire::target_statuses(&state, &added)),
    ))
}

async fn patch_conversion(ctx: &Ctx<'_>, id: &str, cid: &str) -> Result<V2Response, V2Error> {
    let body = body_object(ctx)?;
    let (state, changed) = change_open(ctx, id, |job| {
        let c = job
            .conversions
            .iter_mut()
            .find(|c| c.id == cid)
            .ok_or_else(|| V2Error::NotFound(format!("No conversion {cid}")))?;
        let mut merged = json!({"target": c.target, "category": c.category, "options": c.options});
        if let Some(options) = body.get("options") {
            let mut all = c.options.clone();
            if let Value::Object(given) = options {
                all.extend(given.clone());
            }
            merged["options"] = Value::Object(all);
        }
        if let Some(metadata) = body.get("metadata") {
            merged["metadata"] = metadata.clone();
        }
        let parsed = parse::conversion(&merged, "conversion")?;
        c.options = parsed.options;
        Ok(c.clone())
    })
    .await?;
    Ok(V2Response::json(
        StatusCode::OK,
        &wire::conversion(&changed, &wire::target_statuses(&state, &changed)),
    ))
}
