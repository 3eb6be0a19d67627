//! Projects, tasks and idempotency keys in the records table.
//!
//! - A tenant's projects share a partition: `pk` = `<tenant>#PROJECTS`, `sk` = `PROJECT#<name>`,
//!   so listing them is one query in name order.
//! - A project's tasks share a partition: `pk` = `<tenant>#TASKS#<project>`,
//!   `sk` = `TASK#<task id>` (task id order). Two indexes order them by start and end time:
//!   `ByStart` (`Gsi1Pk`, `Gsi1Sk` = `<start>#<id>`) and `ByEnd` (`Gsi2Pk`,
//!   `Gsi2Sk` = `<end>#<id>`, `~#<id>` while running, so running tasks sort last).
//! - Idempotency keys: `pk` = `<tenant>#IDEMPOTENCY#<sha256 of the key>`, kept 24 hours.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::Utc;
use sha2::{Digest, Sha256};

use super::describe;
use super::dynamo::{DynamoRecords, Item, RECORD, conditional, from_item, n, s, to_item};
use crate::error::PortError;
use crate::ports::{IdempotentCall, ProjectStore, TaskEnd, TaskPage, TaskSort, TaskStore};
use crate::record_keys::{projects_pk, task_sk, tasks_pk};
use crate::task::model::{ProjectRecord, TaskRecord, TaskStatus, imm_time};

pub const BY_START: &str = "ByStart";
pub const BY_END: &str = "ByEnd";
/// How long an idempotency key returns the same task.
const IDEMPOTENCY_TTL_SECS: i64 = 24 * 3600;
/// Sorts after every timestamp: the end of a task still running.
const NOT_ENDED: &str = "~";

fn project_key(tenant_key: &str, name: &str) -> Item {
    Item::from([
        ("pk".to_string(), s(projects_pk(tenant_key))),
        ("sk".to_string(), s(format!("PROJECT#{name}"))),
    ])
}

fn task_key(tenant_key: &str, project: &str, task_id: &str) -> Item {
    Item::from([
        ("pk".to_string(), s(tasks_pk(tenant_key, project))),
        ("sk".to_string(), s(task_sk(task_id))),
    ])
}

/// The key of a task's own item.
fn key_of(task: &TaskRecord) -> Item {
    task_key(&task.tenant_key, &task.project_name, &task.task_id)
}

fn end_sort_key(task: &TaskRecord) -> String {
    match &task.end_time {
        Some(end) => format!("{}#{}", imm_time(end), task.task_id),
        None => format!("{NOT_ENDED}#{}", task.task_id),
    }
}

fn task_item(task: &TaskRecord) -> Result<Item, PortError> {
    let mut item = to_item(task)?;
    item.extend(task_key(
        &task.tenant_key,
        &task.project_name,
        &task.task_id,
    ));
    let partition = tasks_pk(&task.tenant_key, &task.project_name);
    item.insert("Gsi1Pk".into(), s(&partition));
    item.insert(
        "Gsi1Sk".into(),
        s(format!("{}#{}", imm_time(&task.start_time), task.task_id)),
    );
    item.insert("Gsi2Pk".into(), s(partition));
    item.insert("Gsi2Sk".into(), s(end_sort_key(task)));
    Ok(item)
}

fn task_from(item: Item) -> Result<TaskRecord, PortError> {
    from_item(item)
}

/// The live task in an item (expired tasks are absent even before DynamoDB deletes them).
fn live_task(item: Item) -> Result<Option<TaskRecord>, PortError> {
    let task = task_from(item)?;
    Ok(task.is_live(Utc::now()).then_some(task))
}

#[async_trait]
impl ProjectStore for DynamoRecords {
    async fn create(&self, project: &ProjectRecord) -> Result<(), PortError> {
        let mut item = to_item(project)?;
        item.extend(project_key(&project.tenant_key, &project.project_name));
        self.put_new(item, "creating a project").await
    }

    async fn get(&self, tenant_key: &str, name: &str) -> Result<Option<ProjectRecord>, PortError> {
        self.get_item(project_key(tenant_key, name), "reading a project")
            .await?
            .map(from_item)
            .transpose()
    }

    async fn list(
        &self,
        tenant_key: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<ProjectRecord>, bool), PortError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(projects_pk(tenant_key)))
            .expression_attribute_values(":prefix", s("PROJECT#"))
            .limit(limit as i32 + 1);
        if let Some(after) = after {
            query = query.set_exclusive_start_key(Some(project_key(tenant_key, after)));
        }
        let out = query
            .send()
            .await
            .map_err(|e| PortError::backend("listing projects", describe(e)))?;
        let mut projects: Vec<ProjectRecord> = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(from_item)
            .collect::<Result<_, _>>()?;
        let more = projects.len() > limit;
        projects.truncate(limit);
        Ok((projects, more))
    }

    async fn replace(&self, project: &ProjectRecord) -> Result<(), PortError> {
        let mut item = to_item(project)?;
        item.extend(project_key(&project.tenant_key, &project.project_name));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_exists(pk)")
            .send()
            .await
            .map_err(|e| match conditional("updating a project", e) {
                PortError::ConditionFailed => PortError::NotFound,
                other => other,
            })?;
        Ok(())
    }

    async fn delete(&self, tenant_key: &str, name: &str) -> Result<(), PortError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(project_key(tenant_key, name)))
            .condition_expression("attribute_exists(pk)")
            .send()
            .await
            .map_err(|e| match conditional("deleting a project", e) {
                PortError::ConditionFailed => PortError::NotFound,
                other => other,
            })?;
        Ok(())
    }
}

impl DynamoRecords {
    /// Sets one attribute of a task while `claim`'s run still holds it (running, and claimed
    /// by no other run).
    async fn set_while_claimed(
        &self,
        task: &TaskRecord,
        claim: &str,
        attribute: &str,
        value: AttributeValue,
    ) -> Result<(), aws_sdk_dynamodb::error::SdkError<UpdateItemError>> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of(task)))
            .update_expression("SET #attribute = :value")
            .condition_expression("#status = :running AND Claim = :claim")
            .expression_attribute_names("#attribute", attribute)
            .expression_attribute_names("#status", "Status")
            .expression_attribute_values(":value", value)
            .expression_attribute_values(":running", s(TaskStatus::Running.as_str()))
            .expression_attribute_values(":claim", s(claim))
            .send()
            .await
            .map(|_| ())
    }
}

#[async_trait]
impl TaskStore for DynamoRecords {
    async fn create(&self, task: &TaskRecord) -> Result<(), PortError> {
        self.put_new(task_item(task)?, "creating a task").await
    }

    async fn get(
        &self,
        tenant_key: &str,
        project: &str,
        task_id: &str,
    ) -> Result<Option<TaskRecord>, PortError> {
        let item = self
            .get_item(task_key(tenant_key, project, task_id), "reading a task")
            .await?;
        match item {
            Some(item) => live_task(item),
            None => Ok(None),
        }
    }

    async fn page(
        &self,
        tenant_key: &str,
        project: &str,
        sort: TaskSort,
        descending: bool,
        after: Option<&str>,
        limit: usize,
    ) -> Result<TaskPage, PortError> {
        let partition = tasks_pk(tenant_key, project);
        let index = match sort {
            TaskSort::TaskId => None,
            TaskSort::StartTime => Some((BY_START, "Gsi1Pk", "Gsi1Sk")),
            TaskSort::EndTime => Some((BY_END, "Gsi2Pk", "Gsi2Sk")),
        };
        // The position is the sort key of the last task returned; on an index the table's
        // key is needed too, and the task id ends every sort key.
        let start = after.map(|after| {
            let task_id = after.rsplit_once('#').map_or(after, |(_, id)| id);
            (task_key(tenant_key, project, task_id), after)
        });
        let (items, more) = self
            .page_of(index, &partition, descending, start, limit, "listing tasks")
            .await?;
        let tasks = items
            .into_iter()
            .map(|(position, item)| Ok((position, task_from(item)?)))
            .collect::<Result<_, PortError>>()?;
        Ok(TaskPage { tasks, more })
    }

    async fn claim(
        &self,
        tenant_key: &str,
        project: &str,
        task_id: &str,
        claim: &str,
    ) -> Result<TaskRecord, PortError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(task_key(tenant_key, project, task_id)))
            .update_expression("SET Claim = :claim ADD Attempts :one")
            .condition_expression("#status = :running AND ExpiresAt > :now")
            .expression_attribute_names("#status", "Status")
            .expression_attribute_values(":claim", s(claim))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":running", s(TaskStatus::Running.as_str()))
            .expression_attribute_values(":now", n(Utc::now().timestamp()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| conditional("claiming a task", e))?;
        task_from(out.attributes.unwrap_or_default())
    }

    async fn record_upload(
        &self,
        task: &TaskRecord,
        claim: &str,
        upload_id: &str,
    ) -> Result<(), PortError> {
        self.set_while_claimed(task, claim, "UploadId", s(upload_id))
            .await
            .map_err(|e| conditional("recording a task's upload", e))
    }

    async fn progress(
        &self,
        task: &TaskRecord,
        claim: &str,
        progress: u8,
    ) -> Result<(), PortError> {
        self.set_while_claimed(task, claim, "Progress", n(progress.into()))
            .await
            .map_err(|e| conditional("recording progress", e))
    }

    async fn finish(
        &self,
        task: &TaskRecord,
        claim: Option<&str>,
        end: &TaskEnd,
    ) -> Result<TaskRecord, PortError> {
        let ended = end.applied_to(task, Utc::now());
        let item = task_item(&ended)?;
        // The task's other fields may have moved on (attempts, progress); only those set
        // here change, so the write is a full put guarded by the state it expects.
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .expression_attribute_names("#status", "Status")
            .expression_attribute_values(":running", s(TaskStatus::Running.as_str()));
        put = match claim {
            Some(claim) => put
                .condition_expression("#status = :running AND Claim = :claim")
                .expression_attribute_values(":claim", s(claim)),
            None => put.condition_expression("#status = :running"),
        };
        put.send()
            .await
            .map_err(|e| conditional("ending a task", e))?;
        Ok(ended)
    }

    async fn mark_notified(&self, task: &TaskRecord) -> Result<(), PortError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of(task)))
            .update_expression("SET Notified = :yes")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .send()
            .await
            .map_err(|e| conditional("marking a task notified", e))?;
        Ok(())
    }

    async fn bind_idempotency_key(
        &self,
        tenant_key: &str,
        key: &str,
        fingerprint: &str,
        project: &str,
        task_id: &str,
    ) -> Result<Option<IdempotentCall>, PortError> {
        let digest = hex::encode(Sha256::digest(key.as_bytes()));
        let record_key = Item::from([
            (
                "pk".to_string(),
                s(format!("{tenant_key}#IDEMPOTENCY#{digest}")),
            ),
            ("sk".to_string(), s(RECORD)),
        ]);
        let now = Utc::now().timestamp();
        let mut item = record_key.clone();
        item.insert("Fingerprint".into(), s(fingerprint));
        item.insert("ProjectName".into(), s(project));
        item.insert("TaskId".into(), s(task_id));
        item.insert("ExpiresAt".into(), n(now + IDEMPOTENCY_TTL_SECS));
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR ExpiresAt <= :now")
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        match put.map_err(|e| conditional("binding an idempotency key", e)) {
            Ok(_) => return Ok(None),
            Err(PortError::ConditionFailed) => {}
            Err(e) => return Err(e),
        }
        let item = self
            .get_item(record_key, "reading an idempotency key")
            .await?
            .ok_or(PortError::ConditionFailed)?;
        let text = |name: &str| match item.get(name) {
            Some(AttributeValue::S(v)) => Ok(v.clone()),
            _ => Err(PortError::backend(
                "reading an idempotency key",
                format!("{name} is missing"),
            )),
        };
        Ok(Some(IdempotentCall {
            fingerprint: text("Fingerprint")?,
            project: text("ProjectName")?,
            task_id: text("TaskId")?,
        }))
    }
}
