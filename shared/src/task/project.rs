//! `CreateProject`, `GetProject`, `ListProjects`, `UpdateProject`, `DeleteProject`: IMM's
//! projects, each with the role Folio assumes to reach the project's buckets.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use serde::Serialize;

use super::model::{ProjectRecord, imm_time};
use super::validate;
use crate::app::App;
use crate::error::{ApiError, PortError};
use crate::params::{Params, max_bytes};
use crate::tenant::Tenant;

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct ProjectView {
    pub project_name: String,
    pub service_role: String,
    pub description: String,
    /// As the SDK's `Project` model has them: `[{"TagKey", "TagValue"}]`.
    pub tags: Vec<ProjectTag>,
    pub create_time: String,
    pub update_time: String,
    /// Folio's addition: the external id every AssumeRole of this tenant carries. The
    /// role's trust policy should require it (`sts:ExternalId`), so no other tenant can
    /// make Folio act through the role.
    pub external_id: String,
}

/// `[{"Key": k, "Value": v}, ...]` (as JSON or JSON text) as the `{k: v}` map the tags
/// check reads.
fn tag_list(field: &str, value: &serde_json::Value) -> Result<serde_json::Value, ApiError> {
    let parsed;
    let value = match value {
        serde_json::Value::String(text) => {
            parsed = serde_json::from_str(text)
                .map_err(|e| ApiError::invalid(field, format!("is not valid JSON: {e}")))?;
            &parsed
        }
        other => other,
    };
    let items = value
        .as_array()
        .ok_or_else(|| ApiError::invalid(field, "must be a list of {\"Key\", \"Value\"}"))?;
    let mut map = serde_json::Map::new();
    for (i, item) in items.iter().enumerate() {
        let text = |name: &str| {
            item.get(name)
                .and_then(serde_json::Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| ApiError::missing(format!("{field}[{i}].{name}")))
        };
        map.insert(text("Key")?, serde_json::Value::String(text("Value")?));
    }
    Ok(serde_json::Value::Object(map))
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct ProjectTag {
    pub tag_key: String,
    pub tag_value: String,
}

impl ProjectView {
    fn of(project: &ProjectRecord) -> Self {
        ProjectView {
            project_name: project.project_name.clone(),
            service_role: project.service_role.clone(),
            description: project.description.clone(),
            tags: project
                .tags
                .iter()
                .map(|(k, v)| ProjectTag {
                    tag_key: k.clone(),
                    tag_value: v.clone(),
                })
                .collect(),
            create_time: imm_time(&project.create_time),
            update_time: imm_time(&project.update_time),
            external_id: project.tenant_key.clone(),
        }
    }
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct ProjectResponse {
    pub project: ProjectView,
}

fn description_param(params: &Params) -> Result<Option<String>, ApiError> {
    let description = params.opt_str("Description")?;
    if let Some(text) = &description {
        max_bytes("Description", text, 256)?;
    }
    Ok(description)
}

/// The tags a request gives, if it gives any: the SDK's `CreateProjectRequest` and
/// `UpdateProjectRequest` send `Tag: [{"Key", "Value"}]`; `Tags` (a map) is taken too.
fn tags_param(params: &Params) -> Result<Option<BTreeMap<String, String>>, ApiError> {
    Ok(match (params.value("Tag"), params.value("Tags")) {
        (Some(list), _) => Some(validate::tags("Tag", Some(&tag_list("Tag", list)?))?),
        (None, Some(map)) => Some(validate::tags("Tags", Some(map))?),
        (None, None) => None,
    })
}

fn name_param(params: &Params) -> Result<String, ApiError> {
    let name = params.req_str("ProjectName")?;
    validate::project_name("ProjectName", &name)?;
    Ok(name)
}

pub async fn create(
    app: &App,
    tenant: &Tenant,
    params: &Params,
) -> Result<ProjectResponse, ApiError> {
    let name = name_param(params)?;
    let service_role = params.req_str("ServiceRole")?;
    validate::role_arn("ServiceRole", &service_role)?;
    let description = description_param(params)?.unwrap_or_default();
    let tags = tags_param(params)?.unwrap_or_default();
    let now = Utc::now();
    let project = ProjectRecord {
        tenant_key: tenant.key().to_string(),
        project_name: name.clone(),
        service_role,
        description,
        tags,
        create_time: now,
        update_time: now,
    };
    match app.projects.create(&project).await {
        Ok(()) => Ok(ProjectResponse {
            project: ProjectView::of(&project),
        }),
        Err(PortError::ConditionFailed) => Err(ApiError::AlreadyExists(format!(
            "ProjectName: a project named {} exists",
            crate::error::quote(&name)
        ))),
        Err(e) => Err(e.into()),
    }
}

/// The caller's project, or 404 `ResourceNotFound` naming it.
pub async fn require(app: &App, tenant: &Tenant, name: &str) -> Result<ProjectRecord, ApiError> {
    app.projects.get(tenant.key(), name).await?.ok_or_else(|| {
        ApiError::NotFound(format!(
            "ProjectName: no project named {}",
            crate::error::quote(name)
        ))
    })
}

pub async fn get(app: &App, tenant: &Tenant, params: &Params) -> Result<ProjectResponse, ApiError> {
    let name = name_param(params)?;
    let project = require(app, tenant, &name).await?;
    Ok(ProjectResponse {
        project: ProjectView::of(&project),
    })
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct ProjectList {
    pub projects: Vec<ProjectView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

pub async fn list(app: &App, tenant: &Tenant, params: &Params) -> Result<ProjectList, ApiError> {
    let limit = params.opt_i64("MaxResults")?.unwrap_or(100);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid(
            "MaxResults",
            format!("must be 1 to 100, got {limit}"),
        ));
    }
    let after = match params.opt_str("NextToken")? {
        None => None,
        Some(token) => Some(
            URL_SAFE_NO_PAD
                .decode(token.as_bytes())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .filter(|name| validate::project_name("NextToken", name).is_ok())
                .ok_or_else(|| {
                    ApiError::invalid("NextToken", "is not a token ListProjects gave")
                })?,
        ),
    };
    let (projects, more) = app
        .projects
        .list(tenant.key(), after.as_deref(), limit as usize)
        .await?;
    let next_token = more
        .then(|| projects.last())
        .flatten()
        .map(|p| URL_SAFE_NO_PAD.encode(p.project_name.as_bytes()));
    Ok(ProjectList {
        projects: projects.iter().map(ProjectView::of).collect(),
        next_token,
    })
}

/// Changes what the request gives (`ServiceRole`, `Description`, `Tag`); the rest stays.
pub async fn update(
    app: &App,
    tenant: &Tenant,
    params: &Params,
) -> Result<ProjectResponse, ApiError> {
    let name = name_param(params)?;
    let service_role = params.opt_str("ServiceRole")?;
    if let Some(role) = &service_role {
        validate::role_arn("ServiceRole", role)?;
    }
    let description = description_param(params)?;
    let tags = tags_param(params)?;
    let mut project = require(app, tenant, &name).await?;
    if let Some(role) = service_role {
        project.service_role = role;
    }
    if let Some(description) = description {
        project.description = description;
    }
    if let Some(tags) = tags {
        project.tags = tags;
    }
    project.update_time = Utc::now();
    match app.projects.replace(&project).await {
        Ok(()) => Ok(ProjectResponse {
            project: ProjectView::of(&project),
        }),
        Err(PortError::NotFound) => Err(ApiError::NotFound(format!(
            "ProjectName: no project named {}",
            crate::error::quote(&name)
        ))),
        Err(e) => Err(e.into()),
    }
}

#[derive(Serialize, Debug)]
pub struct Empty {}

pub async fn delete(app: &App, tenant: &Tenant, params: &Params) -> Result<Empty, ApiError> {
    let name = name_param(params)?;
    match app.projects.delete(tenant.key(), &name).await {
        Ok(()) => Ok(Empty {}),
        Err(PortError::NotFound) => Err(ApiError::NotFound(format!(
            "ProjectName: no project named {}",
            crate::error::quote(&name)
        ))),
        Err(e) => Err(e.into()),
    }
}
