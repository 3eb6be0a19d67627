//! `CreateImageToPDFTask`: validates every parameter, records the task, then queues it.
//! With an `Idempotency-Key`, a retried request returns the task the first one created.

use chrono::Utc;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::model::{
    IMAGE_TO_PDF, NotificationSpec, PageSpec, PdfJob, PdfSource, TaskMessage, TaskRecord,
    TaskStatus,
};
use super::{project, validate};
use crate::app::App;
use crate::config::{Config, RECORD_TTL};
use crate::error::{ApiError, PortError};
use crate::params::{Params, max_bytes};
use crate::tenant::Tenant;

pub const MAX_SOURCES: usize = 100;
const MAX_ROLE_CHAIN: usize = 3;
pub const MAX_IDEMPOTENCY_KEY: usize = 255;

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct Created {
    pub event_id: String,
    pub task_id: String,
}

fn sources(params: &Params) -> Result<Vec<PdfSource>, ApiError> {
    let list: Vec<Value> = params
        .opt_json("Sources")?
        .ok_or_else(|| ApiError::missing("Sources"))?;
    if list.is_empty() || list.len() > MAX_SOURCES {
        return Err(ApiError::invalid(
            "Sources",
            format!("must hold 1 to {MAX_SOURCES} images, got {}", list.len()),
        ));
    }
    list.iter()
        .enumerate()
        .map(|(i, source)| {
            let field = |name: &str| format!("Sources[{i}].{name}");
            let uri = source
                .get("URI")
                .and_then(Value::as_str)
                .ok_or_else(|| ApiError::missing(field("URI")))?;
            let location = validate::s3_uri(&field("URI"), uri)?;
            let rotate = match source.get("Rotate") {
                None | Some(Value::Null) => 0,
                Some(v) => v
                    .as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                    .filter(|r| matches!(r, 0 | 90 | 180 | 270))
                    .ok_or_else(|| {
                        ApiError::invalid(
                            field("Rotate"),
                            format!("must be 0, 90, 180 or 270, got {v}"),
                        )
                    })? as u16,
            };
            Ok(PdfSource { location, rotate })
        })
        .collect()
}

/// Topics and buses a task names must be ones the notifier may publish to.
fn allowed_name(field: &str, name: &str, prefix: &str) -> Result<(), ApiError> {
    if name.starts_with(prefix) {
        Ok(())
    } else {
        Err(ApiError::invalid(
            field,
            format!(
                "Folio publishes only to names that start with {}, got {}",
                crate::error::quote(prefix),
                crate::error::quote(name)
            ),
        ))
    }
}

pub(crate) fn notification(params: &Params, config: &Config) -> Result<NotificationSpec, ApiError> {
    let prefix = config.notification_target_prefix.as_str();
    let Some(value) = params.opt_json::<Value>("Notification")? else {
        return Ok(NotificationSpec::default());
    };
    let object = value
        .as_object()
        .ok_or_else(|| ApiError::invalid("Notification", "must be an object"))?;
    let mut spec = NotificationSpec::default();
    for (name, inner) in object {
        let text = |key: &str| {
            inner
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| ApiError::missing(format!("Notification.{name}.{key}")))
        };
        match name.as_str() {
            "Webhook" => {
                let url = text("URL")?;
                crate::notify::url_guard::check_accepted(&url, &config.allowed_private_networks)
                    .map_err(|e| {
                        ApiError::invalid("Notification.Webhook.URL", format!("the URL {e}"))
                    })?;
                spec.webhook_url = Some(url);
            }
            "SNS" => {
                let arn = text("TopicArn")?;
                if !arn.starts_with("arn:aws") || arn.split(':').nth(2) != Some("sns") {
                    return Err(ApiError::invalid(
                        "Notification.SNS.TopicArn",
                        format!(
                            "must be an SNS topic ARN, got {}",
                            crate::error::quote(&arn)
                        ),
                    ));
                }
                let topic = arn.rsplit(':').next().unwrap_or_default();
                allowed_name("Notification.SNS.TopicArn", topic, prefix)?;
                spec.sns_topic_arn = Some(arn);
            }
            "EventBridge" => {
                let bus = text("EventBusName")?;
                allowed_name("Notification.EventBridge.EventBusName", &bus, prefix)?;
                spec.event_bus_name = Some(bus);
            }
            // What the vendor's SDK can send: its MNS topic is the SNS topic of that name.
            "MNS" => {
                let topic = text("TopicName")?;
                allowed_name("Notification.MNS.TopicName", &topic, prefix)?;
                let account = config.account_id.as_deref().ok_or_else(|| {
                    ApiError::invalid(
                        "Notification.MNS",
                        "cannot be mapped to an SNS topic (FOLIO_ACCOUNT_ID is not set); \
                         use SNS.TopicArn",
                    )
                })?;
                spec.sns_topic_arn =
                    Some(format!("arn:aws:sns:{}:{account}:{topic}", config.region));
            }
            "RocketMQ" => {
                return Err(ApiError::invalid(
                    "Notification.RocketMQ",
                    "is Alibaba Cloud messaging; use MNS.TopicName (an SNS topic), \
                     SNS.TopicArn, EventBridge.EventBusName or Webhook.URL",
                ));
            }
            other => {
                return Err(ApiError::invalid(
                    format!("Notification.{other}"),
                    "is not a notification channel (SNS, EventBridge, Webhook)",
                ));
            }
        }
    }
    Ok(spec)
}

fn role_chain(params: &Params) -> Result<Vec<String>, ApiError> {
    let Some(config) = params.opt_json::<Value>("CredentialConfig")? else {
        return Ok(Vec::new());
    };
    let chain = match config.get("Chain") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(chain)) => chain,
        Some(_) => {
            return Err(ApiError::invalid(
                "CredentialConfig.Chain",
                "must be a list of {\"Role\": <role ARN>}",
            ));
        }
    };
    if chain.len() > MAX_ROLE_CHAIN {
        return Err(ApiError::invalid(
            "CredentialConfig.Chain",
            format!("may name up to {MAX_ROLE_CHAIN} roles"),
        ));
    }
    chain
        .iter()
        .enumerate()
        .map(|(i, link)| {
            let field = format!("CredentialConfig.Chain[{i}].Role");
            let role = link
                .get("Role")
                .and_then(Value::as_str)
                .ok_or_else(|| ApiError::missing(&field))?;
            validate::role_arn(&field, role)?;
            Ok(role.to_string())
        })
        .collect()
}

fn page(params: &Params) -> Result<PageSpec, ApiError> {
    let spec = PageSpec {
        page_size: params.opt_str("PageSize")?,
        fit: params.opt_str("Fit")?,
        margin: params.opt_str("Margin")?,
        auto_orient: params.opt_bool("AutoOrient")?.unwrap_or(false),
        jpeg_quality: match params.opt_i64("JpegQuality")? {
            None => None,
            Some(q @ 1..=100) => Some(q as u8),
            Some(q) => {
                return Err(ApiError::invalid(
                    "JpegQuality",
                    format!("must be 1 to 100, got {q}"),
                ));
            }
        },
    };
    spec.options()
        .map_err(|(field, reason)| ApiError::invalid(field, reason))?;
    Ok(spec)
}

/// The task a request describes, not yet recorded.
fn new_task(
    tenant: &Tenant,
    project_name: String,
    params: &Params,
    config: &crate::config::Config,
) -> Result<TaskRecord, ApiError> {
    let sources = sources(params)?;
    let target_uri = params.req_str("TargetURI")?;
    let target = validate::s3_uri("TargetURI", &target_uri)?;
    let user_data = params.opt_str("UserData")?;
    if let Some(data) = &user_data {
        max_bytes("UserData", data, 2048)?;
    }
    let tags = validate::tags("Tags", params.value("Tags"))?;
    let now = Utc::now();
    Ok(TaskRecord {
        tenant_key: tenant.key().to_string(),
        project_name,
        task_id: format!("{IMAGE_TO_PDF}-{}", uuid::Uuid::new_v4()),
        task_type: IMAGE_TO_PDF.to_string(),
        event_id: uuid::Uuid::new_v4().simple().to_string().to_uppercase(),
        status: TaskStatus::Running,
        code: None,
        message: None,
        progress: 0,
        start_time: now,
        end_time: None,
        user_data,
        tags,
        request_definition: params.to_json().to_string(),
        // The project's, once it is read.
        service_role: String::new(),
        job: PdfJob {
            sources,
            target,
            page: page(params)?,
            role_chain: role_chain(params)?,
        },
        notification: notification(params, config)?,
        claim: None,
        attempts: 0,
        upload_id: None,
        output: None,
        notified: false,
        // Until the task ends; then 7 days from its end.
        expires_at: now.timestamp() + 2 * RECORD_TTL.as_secs() as i64,
    })
}

fn message(task: &TaskRecord) -> TaskMessage {
    TaskMessage {
        tenant_key: task.tenant_key.clone(),
        project_name: task.project_name.clone(),
        task_id: task.task_id.clone(),
    }
}

pub async fn handle(
    app: &App,
    tenant: &Tenant,
    params: &Params,
    idempotency_key: Option<&str>,
) -> Result<Created, ApiError> {
    let name = params.req_str("ProjectName")?;
    validate::project_name("ProjectName", &name)?;
    if let Some(key) = idempotency_key
        && (key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY)
    {
        return Err(ApiError::invalid(
            "Idempotency-Key",
            format!("must be 1 to {MAX_IDEMPOTENCY_KEY} characters"),
        ));
    }
    // Everything is validated before the project is read, so a bad request is a 400 even
    // for a project that does not exist.
    let mut task = new_task(tenant, name.clone(), params, &app.config)?;
    let project = project::require(app, tenant, &name).await?;
    task.service_role = project.service_role;

    if let Some(key) = idempotency_key {
        let fingerprint = hex::encode(Sha256::digest(task.request_definition.as_bytes()));
        let bound = app
            .tasks
            .bind_idempotency_key(tenant.key(), key, &fingerprint, &name, &task.task_id)
            .await?;
        if let Some(earlier) = bound {
            if earlier.fingerprint != fingerprint {
                return Err(ApiError::InvalidState(
                    "Idempotency-Key: the key was used for a different request in the last \
                     24 hours"
                        .to_string(),
                ));
            }
            return replay(app, tenant, task, &earlier.project, &earlier.task_id).await;
        }
    }
    record_and_queue(app, &task).await?;
    Ok(Created {
        event_id: task.event_id,
        task_id: task.task_id,
    })
}

/// The answer to a retried request: the first request's task. If that request stopped
/// before recording or queueing its task, this one finishes the job (the worker ignores a
/// second message for the same task).
async fn replay(
    app: &App,
    tenant: &Tenant,
    mut task: TaskRecord,
    project: &str,
    task_id: &str,
) -> Result<Created, ApiError> {
    match app.tasks.get(tenant.key(), project, task_id).await? {
        Some(existing) => {
            if existing.status == TaskStatus::Running && existing.attempts == 0 {
                app.task_queue.enqueue(&message(&existing)).await?;
            }
            Ok(Created {
                event_id: existing.event_id,
                task_id: existing.task_id,
            })
        }
        None => {
            task.task_id = task_id.to_string();
            match record_and_queue(app, &task).await {
                Ok(()) | Err(ApiError::Internal(PortError::ConditionFailed)) => Ok(Created {
                    event_id: task.event_id,
                    task_id: task.task_id,
                }),
                Err(e) => Err(e),
            }
        }
    }
}

async fn record_and_queue(app: &App, task: &TaskRecord) -> Result<(), ApiError> {
    app.tasks.create(task).await?;
    if let Err(error) = app.task_queue.enqueue(&message(task)).await {
        // Not queued: end the task now rather than leave it running forever.
        tracing::error!(task_id = %task.task_id, %error, "a task could not be queued");
        let failure = super::model::TaskFailure::new(
            "InternalError",
            "the task could not be queued; create it again",
        );
        if let Ok(ended) = app
            .tasks
            .finish(task, None, &crate::ports::TaskEnd::Failed(failure))
            .await
        {
            let _ = super::announce::announce(app, &ended).await;
        }
        return Err(error.into());
    }
    tracing::info!(task_id = %task.task_id, sources = task.job.sources.len(), "task queued");
    Ok(())
}
