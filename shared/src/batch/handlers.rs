//! `CreateBatch`, `GetBatch`, `ListBatches`, `UpdateBatch`, `SuspendBatch`, `ResumeBatch`,
//! `DeleteBatch`: IMM's batch API. Each change of state is one write conditional on the
//! record's version, so two callers cannot both win a transition.

use std::time::Duration;

use chrono::Utc;
use serde::Serialize;
use serde_json::{Value, json};

use super::announce::{FAILURES_SHOWN, failures_json, statistic};
use super::matching::Matcher;
use super::model::{BatchInput, BatchMessage, BatchRecord, BatchState, ItemCounts, ScanPosition};
use super::{actions, limits};
use crate::app::App;
use crate::config::RECORD_TTL;
use crate::error::{ApiError, PortError, quote};
use crate::paging::{self, Cursor};
use crate::params::Params;
use crate::ports::BatchSort;
use crate::task::{create, project, validate};
use crate::tenant::Tenant;

/// IMM's default service role names: a request naming one runs with the project's role.
const IMM_DEFAULT_ROLES: [&str; 2] = ["AliyunIMMBatchTriggerRole", "AliyunIMMDefaultRole"];

/// How long a batch record lives after its last change.
fn expiry() -> i64 {
    Utc::now().timestamp() + RECORD_TTL.as_secs() as i64
}

/// `Input`: `{"OSS": {"Bucket", "Prefix", "MatchExpressions"}}`, or `S3` with the same
/// fields.
fn input(value: &Value) -> Result<BatchInput, ApiError> {
    limits::check_size("Input", value)?;
    let (name, source) = match (value.get("OSS"), value.get("S3")) {
        (Some(oss), None) => ("OSS", oss),
        (None, Some(s3)) => ("S3", s3),
        _ => {
            return Err(ApiError::invalid(
                "Input",
                "must be {\"OSS\": {\"Bucket\", \"Prefix\", \"MatchExpressions\"}} (or S3 with \
                 the same fields)",
            ));
        }
    };
    let field = |f: &str| format!("Input.{name}.{f}");
    let bucket = source
        .get("Bucket")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::missing(field("Bucket")))?;
    validate::s3_uri(&field("Bucket"), &format!("s3://{bucket}/x")).map_err(|_| {
        ApiError::invalid(
            field("Bucket"),
            format!("{} is not a valid S3 bucket name", quote(bucket)),
        )
    })?;
    let prefix = match source.get("Prefix") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(p)) if p.len() <= 1024 => p.clone(),
        Some(_) => {
            return Err(ApiError::invalid(
                field("Prefix"),
                "must be a key prefix of up to 1024 bytes",
            ));
        }
    };
    let expressions: Vec<String> = match source.get("MatchExpressions") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            limits::check_count(
                &field("MatchExpressions"),
                items,
                limits::MAX_MATCH_EXPRESSIONS,
            )?;
            items
                .iter()
                .enumerate()
                .map(|(i, e)| match e.as_str() {
                    Some(e) if e.chars().count() <= limits::MAX_EXPRESSION_CHARS => {
                        Ok(e.to_string())
                    }
                    Some(_) => Err(ApiError::invalid(
                        format!("{}[{i}]", field("MatchExpressions")),
                        format!("is longer than {} characters", limits::MAX_EXPRESSION_CHARS),
                    )),
                    None => Err(ApiError::invalid(
                        field("MatchExpressions"),
                        "must be a list of strings",
                    )),
                })
                .collect::<Result<_, _>>()?
        }
        Some(_) => {
            return Err(ApiError::invalid(
                field("MatchExpressions"),
                "must be a list of strings",
            ));
        }
    };
    let matcher = Matcher::new(expressions).map_err(|(i, reason)| {
        ApiError::invalid(format!("{}[{i}]", field("MatchExpressions")), reason)
    })?;
    Ok(BatchInput {
        bucket: bucket.to_string(),
        prefix,
        matcher,
    })
}

fn name_and_id(params: &Params) -> Result<(String, String), ApiError> {
    let name = params.req_str("ProjectName")?;
    validate::project_name("ProjectName", &name)?;
    let id = params.req_str("Id")?;
    validate::record_id("Id", &id)?;
    Ok((name, id))
}

/// The caller's batch in a project already checked, or 404 naming it.
async fn find(app: &App, tenant: &Tenant, name: &str, id: &str) -> Result<BatchRecord, ApiError> {
    app.batches
        .get(tenant.key(), name, id, true)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("Id: no batch {} in {}", quote(id), quote(name))))
}

fn refused(operation: &str, batch: &BatchRecord, allowed: &str) -> ApiError {
    ApiError::InvalidState(format!(
        "{operation}: the batch is {}; {allowed}",
        batch.state.as_str()
    ))
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct Created {
    pub id: String,
}

#[derive(Serialize, Debug)]
pub struct Empty {}

pub async fn create(app: &App, tenant: &Tenant, params: &Params) -> Result<Created, ApiError> {
    let name = params.req_str("ProjectName")?;
    validate::project_name("ProjectName", &name)?;
    let input_echo = params
        .opt_json::<Value>("Input")?
        .ok_or_else(|| ApiError::missing("Input"))?;
    let input = input(&input_echo)?;
    let actions_echo = params
        .opt_json::<Value>("Actions")?
        .ok_or_else(|| ApiError::missing("Actions"))?;
    let (recipe, fast_fail) = actions::parse(&actions_echo)?;
    recipe
        .check_no_loop(&input.bucket, &input.prefix)
        .map_err(|reason| ApiError::invalid("Actions", reason))?;
    let notification_echo = params
        .opt_json::<Value>("Notification")?
        .unwrap_or(Value::Null);
    limits::check_size("Notification", &notification_echo)?;
    let notification = create::notification(params, &app.config)?;
    let tags = validate::tags("Tags", params.value("Tags"))?;
    let role = params
        .opt_str("ServiceRole")?
        .filter(|r| !r.trim().is_empty());
    if let Some(role) = role.as_deref().filter(|r| !IMM_DEFAULT_ROLES.contains(r)) {
        validate::role_arn("ServiceRole", role)?;
    }
    let project = project::require(app, tenant, &name).await?;
    let service_role = match role {
        Some(r) if !IMM_DEFAULT_ROLES.contains(&r.as_str()) => r,
        _ => project.service_role,
    };
    let now = Utc::now();
    let batch = BatchRecord {
        tenant_key: tenant.key().to_string(),
        project_name: name,
        id: format!("batch-{}", uuid::Uuid::new_v4()),
        state: BatchState::Running,
        input,
        input_echo,
        actions: actions_echo,
        recipe,
        fast_fail,
        notification,
        notification_echo,
        tags,
        service_role,
        run: 1,
        scan: ScanPosition::default(),
        final_counts: None,
        error: String::new(),
        notified_run: 0,
        create_time: now,
        update_time: now,
        version: 0,
        expires_at: expiry(),
    };
    app.batches.create(&batch).await?;
    start_scan(app, batch.clone(), 0).await?;
    tracing::info!(batch_id = %batch.id, "batch created");
    Ok(Created { id: batch.id })
}

/// Queues the scan of `page`; if it cannot be queued, the run fails with a reason (a
/// resume starts it again) rather than waiting forever.
async fn start_scan(app: &App, batch: BatchRecord, page: u64) -> Result<(), ApiError> {
    let message = BatchMessage::Scan {
        batch: batch.reference(),
        page,
    };
    if let Err(error) = app.batch_queue.send(&[message], Duration::ZERO).await {
        tracing::error!(batch_id = %batch.id, %error, "a batch could not be queued");
        let _ = super::worker::end_run(
            app,
            batch,
            BatchState::Failed,
            "the batch could not be queued; ResumeBatch starts it again".into(),
        )
        .await;
        return Err(error.into());
    }
    Ok(())
}

/// A batch as `GetBatch` and `ListBatches` show it (the SDK's `DataIngestion`).
pub async fn view(app: &App, batch: &BatchRecord) -> Result<Value, ApiError> {
    let counts: ItemCounts = match batch.final_counts {
        Some(c) => c,
        None => app.batches.counts(&batch.id, batch.run).await?,
    };
    let failures = if counts.failed > 0 {
        app.batches
            .failures(&batch.id, batch.run, FAILURES_SHOWN)
            .await?
    } else {
        Vec::new()
    };
    Ok(json!({
        "Id": batch.id,
        "Input": batch.input_echo,
        "Actions": batch.actions,
        "Notification": batch.notification_echo,
        "Tags": batch.tags,
        "ServiceRole": batch.service_role,
        "State": batch.state.as_str(),
        "Statistic": statistic(batch, counts),
        "Marker": batch.scan.marker,
        "Phase": batch.phase(),
        "Error": batch.error,
        "CreateTime": crate::task::model::imm_time(&batch.create_time),
        "UpdateTime": crate::task::model::imm_time(&batch.update_time),
        "Run": batch.run,
        "Failures": failures_json(&failures),
    }))
}

pub async fn get(app: &App, tenant: &Tenant, params: &Params) -> Result<Value, ApiError> {
    let (name, id) = name_and_id(params)?;
    project::require(app, tenant, &name).await?;
    let batch = find(app, tenant, &name, &id).await?;
    Ok(json!({ "Batch": view(app, &batch).await? }))
}

pub async fn list(app: &App, tenant: &Tenant, params: &Params) -> Result<Value, ApiError> {
    let name = params.req_str("ProjectName")?;
    validate::project_name("ProjectName", &name)?;
    let limit = match params.opt_i64("MaxResults")?.unwrap_or(0) {
        0 => 100,
        n @ 1..=100 => n as usize,
        n => {
            return Err(ApiError::invalid(
                "MaxResults",
                format!("must be 0 to 100, got {n}"),
            ));
        }
    };
    let sort = match params.opt_str("Sort")?.as_deref() {
        None | Some("CreateTime") => BatchSort::CreateTime,
        Some("UpdateTime") => BatchSort::UpdateTime,
        Some(other) => {
            return Err(ApiError::invalid(
                "Sort",
                format!("must be CreateTime or UpdateTime, got {}", quote(other)),
            ));
        }
    };
    let descending = match params
        .opt_str("Order")?
        .map(|o| o.to_ascii_uppercase())
        .as_deref()
    {
        None | Some("ASC") => false,
        Some("DES" | "DESC") => true,
        Some(other) => {
            return Err(ApiError::invalid(
                "Order",
                format!("must be ASC or DESC, got {}", quote(other)),
            ));
        }
    };
    let state = match params.opt_str("State")? {
        None => None,
        Some(s) => Some(BatchState::parse(&s).ok_or_else(|| {
            ApiError::invalid(
                "State",
                format!(
                    "must be Ready, Running, Suspended, Succeeded or Failed, got {}",
                    quote(&s)
                ),
            )
        })?),
    };
    let tags = validate::tag_selector(params)?;
    let after = Cursor::from_request(params, "ListBatches", &sort, descending)?;
    project::require(app, tenant, &name).await?;
    let now = Utc::now();
    let project = name.as_str();
    let (kept, next) = paging::collect(
        after,
        limit,
        |after| async move {
            app.batches
                .page(
                    tenant.key(),
                    project,
                    sort,
                    descending,
                    after.as_deref(),
                    limit,
                )
                .await
        },
        |batch: &BatchRecord| {
            batch.is_live(now)
                && state.is_none_or(|s| batch.state == s)
                && tags
                    .iter()
                    .all(|(k, v)| batch.tags.get(k).is_some_and(|t| t == v))
        },
    )
    .await?;
    let mut batches = Vec::with_capacity(kept.len());
    for batch in &kept {
        batches.push(view(app, batch).await?);
    }
    let next_token = next
        .map(|after| {
            Cursor {
                sort,
                descending,
                after,
            }
            .encode()
        })
        .unwrap_or_default();
    Ok(json!({ "Batches": batches, "NextToken": next_token }))
}

/// How often a transition is tried when the batch changed under it (a scanner page
/// claimed, a run ended) between its read and its write.
const TRANSITION_ATTEMPTS: usize = 5;

/// Reads the batch, lets `change` check its state and change it, and writes it if no one
/// else wrote it meanwhile; otherwise reads it again and tries again.
async fn transition(
    app: &App,
    tenant: &Tenant,
    params: &Params,
    change: impl Fn(&mut BatchRecord) -> Result<(), ApiError>,
) -> Result<BatchRecord, ApiError> {
    let (name, id) = name_and_id(params)?;
    project::require(app, tenant, &name).await?;
    for _ in 0..TRANSITION_ATTEMPTS {
        let mut batch = find(app, tenant, &name, &id).await?;
        change(&mut batch)?;
        batch.update_time = Utc::now();
        match app.batches.replace(&batch).await {
            Ok(written) => return Ok(written),
            Err(PortError::ConditionFailed) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::InvalidState(
        "Id: the batch kept changing while this request ran; try again".into(),
    ))
}

pub async fn update(app: &App, tenant: &Tenant, params: &Params) -> Result<Empty, ApiError> {
    // Everything is checked before the batch is read.
    let new_input = match params.opt_json::<Value>("Input")? {
        Some(echo) => Some((input(&echo)?, echo)),
        None => None,
    };
    let new_actions = match params.opt_json::<Value>("Actions")? {
        Some(echo) => Some((actions::parse(&echo)?, echo)),
        None => None,
    };
    let new_tags = match params.value("Tags") {
        Some(tags) => Some(validate::tags("Tags", Some(tags))?),
        None => None,
    };
    transition(app, tenant, params, |batch| {
        if !matches!(batch.state, BatchState::Ready | BatchState::Failed) {
            return Err(refused(
                "UpdateBatch",
                batch,
                "only a Ready or Failed batch can be updated",
            ));
        }
        if let Some((input, echo)) = &new_input {
            batch.input = input.clone();
            batch.input_echo = echo.clone();
        }
        if let Some(((recipe, fast_fail), echo)) = &new_actions {
            batch.recipe = recipe.clone();
            batch.fast_fail = *fast_fail;
            batch.actions = echo.clone();
        }
        batch
            .recipe
            .check_no_loop(&batch.input.bucket, &batch.input.prefix)
            .map_err(|reason| ApiError::invalid("Actions", reason))?;
        if let Some(tags) = &new_tags {
            batch.tags = tags.clone();
        }
        batch.expires_at = expiry();
        Ok(())
    })
    .await?;
    Ok(Empty {})
}

pub async fn suspend(app: &App, tenant: &Tenant, params: &Params) -> Result<Empty, ApiError> {
    transition(app, tenant, params, |batch| {
        if batch.state != BatchState::Running {
            return Err(refused(
                "SuspendBatch",
                batch,
                "only a Running batch can be suspended",
            ));
        }
        batch.state = BatchState::Suspended;
        Ok(())
    })
    .await?;
    Ok(Empty {})
}

pub async fn resume(app: &App, tenant: &Tenant, params: &Params) -> Result<Empty, ApiError> {
    let written = transition(app, tenant, params, |batch| {
        match batch.state {
            // Goes on from the checkpoint.
            BatchState::Suspended => {}
            // A new run: scans again and redoes what no earlier run converted.
            BatchState::Failed | BatchState::Ready => {
                batch.run += 1;
                batch.scan = ScanPosition::default();
                batch.final_counts = None;
                batch.error.clear();
            }
            _ => {
                return Err(refused(
                    "ResumeBatch",
                    batch,
                    "only a Suspended or Failed batch can be resumed",
                ));
            }
        }
        batch.state = BatchState::Running;
        batch.expires_at = expiry();
        Ok(())
    })
    .await?;
    if written.scan.done {
        let check = BatchMessage::Check {
            batch: written.reference(),
        };
        app.batch_queue.send(&[check], Duration::ZERO).await?;
    } else {
        let page = written.scan.pages;
        start_scan(app, written, page).await?;
    }
    Ok(Empty {})
}

pub async fn delete(app: &App, tenant: &Tenant, params: &Params) -> Result<Empty, ApiError> {
    let (name, id) = name_and_id(params)?;
    project::require(app, tenant, &name).await?;
    for _ in 0..TRANSITION_ATTEMPTS {
        let batch = find(app, tenant, &name, &id).await?;
        if batch.state == BatchState::Running {
            return Err(refused(
                "DeleteBatch",
                &batch,
                "suspend it first, or wait for it to end",
            ));
        }
        match app.batches.delete(&batch).await {
            Ok(()) => return Ok(Empty {}),
            // Changed meanwhile (its end noted, say): read it again.
            Err(PortError::ConditionFailed) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::InvalidState(
        "Id: the batch kept changing while this request ran; try again".into(),
    ))
}
