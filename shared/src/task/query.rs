//! `GetTask` and `ListTasks`. Expired tasks are absent from both, whether or not DynamoDB
//! has deleted them yet.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::model::{IMAGE_TO_PDF, TaskRecord, TaskStatus, imm_time};
use super::project;
use crate::app::App;
use crate::error::ApiError;
use crate::paging::{self, Cursor};
use crate::params::Params;
use crate::ports::TaskSort;
use crate::tenant::Tenant;

/// A task as `GetTask` and `ListTasks` show it.
#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct TaskView {
    pub project_name: String,
    pub task_id: String,
    pub task_type: String,
    pub status: String,
    pub code: String,
    pub message: String,
    pub start_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    pub user_data: String,
    pub tags: BTreeMap<String, String>,
    pub progress: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_request_definition: Option<String>,
    /// Folio's addition: the PDF written, once the task succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
}

impl TaskView {
    fn of(task: &TaskRecord, with_request: bool) -> Self {
        TaskView {
            project_name: task.project_name.clone(),
            task_id: task.task_id.clone(),
            task_type: task.task_type.clone(),
            status: task.status.as_str().to_string(),
            code: task.code.clone().unwrap_or_default(),
            message: task.message.clone().unwrap_or_default(),
            start_time: imm_time(&task.start_time),
            end_time: task.end_time.as_ref().map(imm_time),
            user_data: task.user_data.clone().unwrap_or_default(),
            tags: task.tags.clone(),
            progress: task.progress,
            task_request_definition: with_request.then(|| task.request_definition.clone()),
            output: task.output.as_ref().map(|o| {
                serde_json::json!({
                    "URI": task.job.target.uri(),
                    "Size": o.size,
                    "PageCount": o.pages,
                })
            }),
        }
    }
}

fn task_type(params: &Params, field: &str) -> Result<Option<String>, ApiError> {
    match params.opt_str(field)? {
        Some(t) if t != IMAGE_TO_PDF => Err(ApiError::invalid(
            field,
            format!(
                "Folio runs {IMAGE_TO_PDF} tasks only, got {}",
                crate::error::quote(&t)
            ),
        )),
        other => Ok(other),
    }
}

pub async fn get(app: &App, tenant: &Tenant, params: &Params) -> Result<TaskView, ApiError> {
    let name = params.req_str("ProjectName")?;
    super::validate::project_name("ProjectName", &name)?;
    let task_id = params.req_str("TaskId")?;
    super::validate::record_id("TaskId", &task_id)?;
    task_type(params, "TaskType")?;
    let with_request = params.opt_bool("RequestDefinition")?.unwrap_or(false);
    project::require(app, tenant, &name).await?;
    let task = app
        .tasks
        .get(tenant.key(), &name, &task_id)
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "TaskId: no task {} in {}",
                crate::error::quote(&task_id),
                crate::error::quote(&name)
            ))
        })?;
    Ok(TaskView::of(&task, with_request))
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct TaskList {
    pub project_name: String,
    pub tasks: Vec<TaskView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// A time range `{"Start": ..., "End": ...}`, either end optional, in RFC 3339.
#[derive(Debug, Default, PartialEq)]
struct TimeRange {
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
}

impl TimeRange {
    fn parse(params: &Params, field: &str) -> Result<Option<TimeRange>, ApiError> {
        let Some(value) = params.opt_json::<Value>(field)? else {
            return Ok(None);
        };
        let time = |key: &str| -> Result<Option<DateTime<Utc>>, ApiError> {
            match value.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
                    .map(|t| Some(t.with_timezone(&Utc)))
                    .map_err(|e| {
                        ApiError::invalid(format!("{field}.{key}"), format!("is not RFC 3339: {e}"))
                    }),
                Some(_) => Err(ApiError::invalid(
                    format!("{field}.{key}"),
                    "must be an RFC 3339 time",
                )),
            }
        };
        Ok(Some(TimeRange {
            start: time("Start")?,
            end: time("End")?,
        }))
    }

    fn contains(&self, t: Option<&DateTime<Utc>>) -> bool {
        match t {
            None => false,
            Some(t) => self.start.is_none_or(|s| *t >= s) && self.end.is_none_or(|e| *t <= e),
        }
    }
}

/// What `ListTasks` keeps.
struct Filter {
    status: Option<TaskStatus>,
    tags: Vec<(String, String)>,
    started: Option<TimeRange>,
    ended: Option<TimeRange>,
}

impl Filter {
    fn parse(params: &Params) -> Result<Filter, ApiError> {
        if let Some(types) = params.opt_list("TaskTypes")? {
            for t in &types {
                if t != IMAGE_TO_PDF {
                    return Err(ApiError::invalid(
                        "TaskTypes",
                        format!(
                            "Folio runs {IMAGE_TO_PDF} tasks only, got {}",
                            crate::error::quote(t)
                        ),
                    ));
                }
            }
        }
        let status = match params.opt_str("Status")?.as_deref() {
            None => None,
            Some("Running") => Some(TaskStatus::Running),
            Some("Succeeded") => Some(TaskStatus::Succeeded),
            Some("Failed") => Some(TaskStatus::Failed),
            Some(other) => {
                return Err(ApiError::invalid(
                    "Status",
                    format!(
                        "must be Running, Succeeded or Failed, got {}",
                        crate::error::quote(other)
                    ),
                ));
            }
        };
        let tags = super::validate::tag_selector(params)?;
        Ok(Filter {
            status,
            tags,
            started: TimeRange::parse(params, "StartTimeRange")?,
            ended: TimeRange::parse(params, "EndTimeRange")?,
        })
    }

    fn keeps(&self, task: &TaskRecord, now: DateTime<Utc>) -> bool {
        task.is_live(now)
            && self.status.is_none_or(|s| task.status == s)
            && self
                .tags
                .iter()
                .all(|(k, v)| task.tags.get(k).is_some_and(|t| t == v))
            && self
                .started
                .as_ref()
                .is_none_or(|r| r.contains(Some(&task.start_time)))
            && self
                .ended
                .as_ref()
                .is_none_or(|r| r.contains(task.end_time.as_ref()))
    }
}

pub async fn list(app: &App, tenant: &Tenant, params: &Params) -> Result<TaskList, ApiError> {
    let name = params.req_str("ProjectName")?;
    super::validate::project_name("ProjectName", &name)?;
    let limit = params.opt_i64("MaxResults")?.unwrap_or(100);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid(
            "MaxResults",
            format!("must be 1 to 100, got {limit}"),
        ));
    }
    let limit = limit as usize;
    let sort = match params.opt_str("Sort")?.as_deref() {
        None | Some("StartTime") => TaskSort::StartTime,
        Some("TaskId") => TaskSort::TaskId,
        Some("EndTime") => TaskSort::EndTime,
        Some(other) => {
            return Err(ApiError::invalid(
                "Sort",
                format!(
                    "must be TaskId, StartTime or EndTime, got {}",
                    crate::error::quote(other)
                ),
            ));
        }
    };
    let descending = match params.opt_str("Order")?.as_deref() {
        None | Some("DESC") | Some("desc") => true,
        Some("ASC") | Some("asc") => false,
        Some(other) => {
            return Err(ApiError::invalid(
                "Order",
                format!("must be ASC or DESC, got {}", crate::error::quote(other)),
            ));
        }
    };
    let filter = Filter::parse(params)?;
    let after = Cursor::from_request(params, "ListTasks", &sort, descending)?;
    project::require(app, tenant, &name).await?;

    let now = Utc::now();
    let project = name.as_str();
    let (tasks, next) = paging::collect(
        after,
        limit,
        |after| async move {
            let page = app
                .tasks
                .page(
                    tenant.key(),
                    project,
                    sort,
                    descending,
                    after.as_deref(),
                    limit,
                )
                .await?;
            Ok((page.tasks, page.more))
        },
        |task: &TaskRecord| filter.keeps(task, now),
    )
    .await?;
    let next_token = next.map(|after| {
        Cursor {
            sort,
            descending,
            after,
        }
        .encode()
    });
    let tasks = tasks.iter().map(|t| TaskView::of(t, false)).collect();
    Ok(TaskList {
        project_name: name,
        tasks,
        next_token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let c = Cursor {
            sort: TaskSort::EndTime,
            descending: false,
            after: "2026-11-22T05:00:00.000Z#ImageToPDF-1".into(),
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        assert_eq!(Cursor::<TaskSort>::decode("not a token"), None);
    }

    #[test]
    fn time_ranges_bound_both_ends() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let r = TimeRange {
            start: Some(t("2026-01-01T00:00:00Z")),
            end: Some(t("2026-01-02T00:00:00Z")),
        };
        assert!(r.contains(Some(&t("2026-01-01T12:00:00Z"))));
        assert!(!r.contains(Some(&t("2026-01-03T00:00:00Z"))));
        assert!(!r.contains(None));
    }
}
