//! Projects, tasks and idempotency keys, keyed as in the DynamoDB table: a tenant's projects
//! in one partition, a project's tasks in another, ordered by id in the table and by start
//! and end time in the two indexes.

use async_trait::async_trait;
use chrono::Utc;
use sha2::{Digest, Sha256};

use super::EmbeddedRecords;
use super::images::RECORD;
use super::items::{self, Index, Item};
use super::queues;
use crate::error::PortError;
use crate::ports::{IdempotentCall, ProjectStore, TaskEnd, TaskPage, TaskSort, TaskStore};
use crate::record_keys::{projects_pk, task_sk, tasks_pk};
use crate::task::model::{ProjectRecord, TaskMessage, TaskRecord, TaskStatus, imm_time};

/// How long an idempotency key returns the same task.
const IDEMPOTENCY_TTL_SECS: i64 = 24 * 3600;
/// Sorts after every timestamp: the end of a task still running.
const NOT_ENDED: &str = "~";

fn project_sk(name: &str) -> String {
    format!("PROJECT#{name}")
}

fn task_item(task: &TaskRecord) -> Result<Item, PortError> {
    let partition = tasks_pk(&task.tenant_key, &task.project_name);
    let end = match &task.end_time {
        Some(end) => format!("{}#{}", imm_time(end), task.task_id),
        None => format!("{NOT_ENDED}#{}", task.task_id),
    };
    Ok(Item::of(&partition, task_sk(&task.task_id), task)?
        .expiring(task.expires_at)
        .by_start(
            &partition,
            format!("{}#{}", imm_time(&task.start_time), task.task_id),
        )
        .by_end(partition, end))
}

/// The live task at the key.
fn live_task(item: Option<Item>) -> Result<Option<TaskRecord>, PortError> {
    let Some(item) = item else { return Ok(None) };
    let task: TaskRecord = item.record()?;
    Ok(task.is_live(Utc::now()).then_some(task))
}

#[async_trait]
impl ProjectStore for EmbeddedRecords {
    async fn create(&self, project: &ProjectRecord) -> Result<(), PortError> {
        let item = Item::of(
            projects_pk(&project.tenant_key),
            project_sk(&project.project_name),
            project,
        )?;
        self.db.write(move |tx| items::put_new(tx, &item)).await
    }

    async fn get(&self, tenant_key: &str, name: &str) -> Result<Option<ProjectRecord>, PortError> {
        let (pk, sk) = (projects_pk(tenant_key), project_sk(name));
        self.db
            .read(move |tx| items::get(tx, &pk, &sk)?.map(|i| i.record()).transpose())
            .await
    }

    async fn list(
        &self,
        tenant_key: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<ProjectRecord>, bool), PortError> {
        let pk = projects_pk(tenant_key);
        let after = after.map(project_sk);
        self.db
            .read(move |tx| {
                let (page, more) =
                    items::page(tx, Index::Table, &pk, false, after.as_deref(), limit)?;
                let projects = page
                    .iter()
                    .map(|(_, item)| item.record())
                    .collect::<Result<_, _>>()?;
                Ok((projects, more))
            })
            .await
    }

    async fn replace(&self, project: &ProjectRecord) -> Result<(), PortError> {
        let item = Item::of(
            projects_pk(&project.tenant_key),
            project_sk(&project.project_name),
            project,
        )?;
        self.db
            .write(move |tx| match items::get(tx, &item.pk, &item.sk)? {
                Some(_) => items::put(tx, &item),
                None => Err(PortError::NotFound),
            })
            .await
    }

    async fn delete(&self, tenant_key: &str, name: &str) -> Result<(), PortError> {
        let (pk, sk) = (projects_pk(tenant_key), project_sk(name));
        self.db
            .write(move |tx| match items::delete(tx, &pk, &sk)? {
                true => Ok(()),
                false => Err(PortError::NotFound),
            })
            .await
    }
}

impl EmbeddedRecords {
    /// Changes a task while `claim`'s run still holds it (running, claimed by no other run).
    async fn change_claimed(
        &self,
        task: &TaskRecord,
        claim: &str,
        change: impl FnOnce(&mut TaskRecord) + Send + 'static,
    ) -> Result<(), PortError> {
        let pk = tasks_pk(&task.tenant_key, &task.project_name);
        let sk = task_sk(&task.task_id);
        let claim = claim.to_string();
        self.db
            .write(move |tx| {
                let item = items::get(tx, &pk, &sk)?.ok_or(PortError::ConditionFailed)?;
                let mut stored: TaskRecord = item.record()?;
                if stored.status != TaskStatus::Running || stored.claim.as_deref() != Some(&claim) {
                    return Err(PortError::ConditionFailed);
                }
                change(&mut stored);
                items::put(tx, &task_item(&stored)?)
            })
            .await
    }
}

#[async_trait]
impl TaskStore for EmbeddedRecords {
    async fn create(&self, task: &TaskRecord) -> Result<(), PortError> {
        let item = task_item(task)?;
        // The task and its message commit together (see `queues`).
        let message = queues::task_message(&TaskMessage {
            tenant_key: task.tenant_key.clone(),
            project_name: task.project_name.clone(),
            task_id: task.task_id.clone(),
        })?;
        self.db
            .write(move |tx| {
                items::put_new(tx, &item)?;
                queues::insert_in(tx, queues::PDF_TASKS, &message)
            })
            .await
    }

    async fn get(
        &self,
        tenant_key: &str,
        project: &str,
        task_id: &str,
    ) -> Result<Option<TaskRecord>, PortError> {
        let (pk, sk) = (tasks_pk(tenant_key, project), task_sk(task_id));
        let item = self.db.read(move |tx| items::get(tx, &pk, &sk)).await?;
        live_task(item)
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
            TaskSort::TaskId => Index::Table,
            TaskSort::StartTime => Index::ByStart,
            TaskSort::EndTime => Index::ByEnd,
        };
        let after = after.map(str::to_string);
        self.db
            .read(move |tx| {
                let (page, more) =
                    items::page(tx, index, &partition, descending, after.as_deref(), limit)?;
                let tasks = page
                    .into_iter()
                    .map(|(position, item)| Ok((position, item.record()?)))
                    .collect::<Result<_, PortError>>()?;
                Ok(TaskPage { tasks, more })
            })
            .await
    }

    async fn claim(
        &self,
        tenant_key: &str,
        project: &str,
        task_id: &str,
        claim: &str,
    ) -> Result<TaskRecord, PortError> {
        let (pk, sk) = (tasks_pk(tenant_key, project), task_sk(task_id));
        let claim = claim.to_string();
        self.db
            .write(move |tx| {
                let mut task =
                    live_task(items::get(tx, &pk, &sk)?)?.ok_or(PortError::ConditionFailed)?;
                if task.status != TaskStatus::Running {
                    return Err(PortError::ConditionFailed);
                }
                task.claim = Some(claim);
                task.attempts += 1;
                items::put(tx, &task_item(&task)?)?;
                Ok(task)
            })
            .await
    }

    async fn record_upload(
        &self,
        task: &TaskRecord,
        claim: &str,
        upload_id: &str,
    ) -> Result<(), PortError> {
        let upload_id = upload_id.to_string();
        self.change_claimed(task, claim, move |t| t.upload_id = Some(upload_id))
            .await
    }

    async fn progress(
        &self,
        task: &TaskRecord,
        claim: &str,
        progress: u8,
    ) -> Result<(), PortError> {
        self.change_claimed(task, claim, move |t| t.progress = progress)
            .await
    }

    async fn finish(
        &self,
        task: &TaskRecord,
        claim: Option<&str>,
        end: &TaskEnd,
    ) -> Result<TaskRecord, PortError> {
        let ended = end.applied_to(task, Utc::now());
        let item = task_item(&ended)?;
        let claim = claim.map(str::to_string);
        self.db
            .write(move |tx| {
                let stored: TaskRecord = items::get(tx, &item.pk, &item.sk)?
                    .ok_or(PortError::ConditionFailed)?
                    .record()?;
                let owned = claim
                    .as_deref()
                    .is_none_or(|c| stored.claim.as_deref() == Some(c));
                if stored.status != TaskStatus::Running || !owned {
                    return Err(PortError::ConditionFailed);
                }
                items::put(tx, &item)
            })
            .await?;
        Ok(ended)
    }

    async fn mark_notified(&self, task: &TaskRecord) -> Result<(), PortError> {
        let (pk, sk) = (
            tasks_pk(&task.tenant_key, &task.project_name),
            task_sk(&task.task_id),
        );
        self.db
            .write(move |tx| {
                let item = items::get(tx, &pk, &sk)?.ok_or(PortError::ConditionFailed)?;
                let mut stored: TaskRecord = item.record()?;
                stored.notified = true;
                items::put(tx, &task_item(&stored)?)
            })
            .await
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
        let pk = format!("{tenant_key}#IDEMPOTENCY#{digest}");
        let mut item =
            Item::new(&pk, RECORD).expiring(Utc::now().timestamp() + IDEMPOTENCY_TTL_SECS);
        item.set("Fingerprint", fingerprint);
        item.set("ProjectName", project);
        item.set("TaskId", task_id);
        self.db
            .write(move |tx| {
                let Some(bound) = items::get_live(tx, &pk, RECORD)? else {
                    items::put(tx, &item)?;
                    return Ok(None);
                };
                let text = |name: &str| bound.text(name).unwrap_or_default().to_string();
                Ok(Some(IdempotentCall {
                    fingerprint: text("Fingerprint"),
                    project: text("ProjectName"),
                    task_id: text("TaskId"),
                }))
            })
            .await
    }
}
