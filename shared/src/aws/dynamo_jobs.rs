//! Jobs in the records table, one item collection per job: `pk` = `JOB#<id>`, `sk` = `JOB`
//! for the job, `PAIR#<input>#<conversion>` for how each pair ended, `OUTPUT#<id>` for
//! each output. The job's counters (`pairs_done`, `spent`, `credits_reserved`) change
//! through atomic additions; jobs are listed per tenant through the `ByStart` index.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use chrono::Utc;

use super::describe;
use super::dynamo::{DynamoRecords, Item, conditional, from_item, live, n, s, to_item};
use super::dynamo_tasks::BY_START;
use crate::config::RECORD_TTL;
use crate::error::PortError;
use crate::jobs::model::{
    InputRecord, JobRecord, JobStatus, OutputRecord, OutputStatus, PairRecord,
};
use crate::ports::{JobState, JobStore};
use crate::record_keys::{input_ref, job_pk as pk, jobs_of, output_ref, pair_sk};

const JOB: &str = "JOB";
const REF: &str = "REF";

fn pointer(pk: String, job_id: &str, tenant_key: &str, ttl: AttributeValue) -> Item {
    HashMap::from([
        ("pk".to_string(), s(pk)),
        ("sk".to_string(), s(REF)),
        ("job_id".to_string(), s(job_id)),
        ("tenant_key".to_string(), s(tenant_key)),
        ("ExpiresAt".to_string(), ttl),
    ])
}

fn key(job_id: &str, sk: &str) -> Item {
    HashMap::from([("pk".to_string(), s(pk(job_id))), ("sk".to_string(), s(sk))])
}

fn expires_at(job: &JobRecord) -> i64 {
    job.created_at.timestamp() + RECORD_TTL.as_secs() as i64
}

fn job_item(job: &JobRecord) -> Result<Item, PortError> {
    let mut item = to_item(job)?;
    item.extend(key(&job.id, JOB));
    item.insert("Gsi1Pk".into(), s(jobs_of(&job.tenant_key)));
    item.insert(
        "Gsi1Sk".into(),
        s(format!("{}#{}", job.created_at.to_rfc3339(), job.id)),
    );
    item.insert("ExpiresAt".into(), n(expires_at(job)));
    Ok(item)
}

/// The sort key prefix of a pair's "being uploaded" note.
const UPLOADING: &str = "UPLOADING#";

impl DynamoRecords {
    /// The job id and tenant key a pointer item names, if it is live.
    async fn follow(&self, pk: String) -> Result<Option<(String, String)>, PortError> {
        let key = HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(REF))]);
        let Some(item) = self.get_item(key, "reading a pointer to a job").await? else {
            return Ok(None);
        };
        if !live(&item) {
            return Ok(None);
        }
        let text = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
        Ok(text("job_id").zip(text("tenant_key")))
    }
}

#[async_trait]
impl JobStore for DynamoRecords {
    async fn create(&self, job: &JobRecord) -> Result<(), PortError> {
        self.put_new(job_item(job)?, "creating a job").await
    }

    async fn get(&self, job_id: &str) -> Result<Option<JobRecord>, PortError> {
        match self.get_item(key(job_id, JOB), "reading a job").await? {
            Some(item) if live(&item) => from_item(item).map(Some),
            _ => Ok(None),
        }
    }

    async fn get_full(&self, job_id: &str) -> Result<Option<JobState>, PortError> {
        let mut job = None;
        let mut pairs = Vec::new();
        let mut outputs = Vec::new();
        let mut uploading = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(pk(job_id)))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| PortError::backend("reading a job", describe(e)))?;
            for item in out.items.unwrap_or_default() {
                let sk = item
                    .get("sk")
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default();
                if sk == JOB {
                    if !live(&item) {
                        return Ok(None);
                    }
                    job = Some(from_item::<JobRecord>(item)?);
                } else if sk.starts_with("PAIR#") {
                    pairs.push(from_item::<PairRecord>(item)?);
                } else if sk.starts_with("OUTPUT#") {
                    outputs.push(from_item::<OutputRecord>(item)?);
                } else if let Some((input, conversion)) =
                    sk.strip_prefix(UPLOADING).and_then(|p| p.split_once('#'))
                {
                    uploading.push((input.to_string(), conversion.to_string()));
                }
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        outputs.sort_by_key(|o: &OutputRecord| o.created_at);
        Ok(job.map(|job| JobState {
            job,
            pairs,
            outputs,
            uploading,
        }))
    }

    async fn replace(&self, job: &JobRecord, expected_version: u64) -> Result<(), PortError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(job_item(job)?))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", n(expected_version as i64))
            .send()
            .await
            .map_err(|e| conditional("writing a job", e))?;
        Ok(())
    }

    async fn append_inputs(
        &self,
        job_id: &str,
        inputs: &[InputRecord],
        max_inputs: u64,
    ) -> Result<(), PortError> {
        let Some(room) = max_inputs.checked_sub(inputs.len() as u64) else {
            return Err(PortError::ConditionFailed);
        };
        let list = inputs
            .iter()
            .map(|i| to_item(i).map(AttributeValue::M))
            .collect::<Result<Vec<_>, _>>()?;
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(job_id, JOB)))
            .update_expression(
                "SET inputs = list_append(inputs, :new), version = version + :one, \
                 modified_at = :now",
            )
            .condition_expression("#status IN (:incomplete, :ready) AND size(inputs) <= :room")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":new", AttributeValue::L(list))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", s(Utc::now().to_rfc3339()))
            .expression_attribute_values(":incomplete", s(JobStatus::Incomplete.code()))
            .expression_attribute_values(":ready", s(JobStatus::Ready.code()))
            .expression_attribute_values(":room", n(room as i64))
            .send()
            .await
            .map_err(|e| conditional("adding inputs to a job", e))?;
        Ok(())
    }

    async fn set_status(
        &self,
        job_id: &str,
        from: &[JobStatus],
        to: JobStatus,
    ) -> Result<(), PortError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(job_id, JOB)))
            .update_expression(
                "SET #status = :to, version = version + :one, modified_at = :now, \
                 history = list_append(history, :entry)",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":to", s(to.code()))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", s(Utc::now().to_rfc3339()))
            .expression_attribute_values(
                ":entry",
                AttributeValue::L(vec![AttributeValue::M(HashMap::from([
                    ("status".to_string(), s(to.code())),
                    ("at".to_string(), s(Utc::now().to_rfc3339())),
                ]))]),
            );
        let names: Vec<String> = (0..from.len()).map(|i| format!(":from{i}")).collect();
        for (name, status) in names.iter().zip(from) {
            update = update.expression_attribute_values(name, s(status.code()));
        }
        update
            .condition_expression(format!(
                "attribute_exists(pk) AND #status IN ({})",
                names.join(", ")
            ))
            .send()
            .await
            .map_err(|e| conditional("changing a job's status", e))?;
        Ok(())
    }

    async fn list(
        &self,
        tenant_key: &str,
        status: Option<JobStatus>,
        page: usize,
        per_page: usize,
    ) -> Result<(Vec<JobRecord>, usize), PortError> {
        let mut all = Vec::new();
        let mut start = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(BY_START)
                .key_condition_expression("Gsi1Pk = :p")
                .expression_attribute_values(":p", s(jobs_of(tenant_key)))
                .scan_index_forward(false)
                .set_exclusive_start_key(start);
            if let Some(status) = status {
                query = query
                    .filter_expression("#status = :s")
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_values(":s", s(status.code()));
            }
            let out = query
                .send()
                .await
                .map_err(|e| PortError::backend("listing jobs", describe(e)))?;
            for item in out.items.unwrap_or_default() {
                if live(&item) {
                    all.push(from_item::<JobRecord>(item)?);
                }
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        let total = all.len();
        let page: Vec<JobRecord> = all
            .into_iter()
            .skip(page.saturating_sub(1) * per_page)
            .take(per_page)
            .collect();
        Ok((page, total))
    }

    async fn reserve_credits(
        &self,
        job_id: &str,
        pair_key: &str,
        credits: u64,
        max_credit: u64,
    ) -> Result<bool, PortError> {
        let Some(room) = max_credit.checked_sub(credits) else {
            return Ok(false);
        };
        let reserved = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(job_id, JOB)))
            .update_expression("ADD credits_reserved :c, reserved_pairs :p")
            .condition_expression(
                "credits_reserved <= :room AND \
                 (attribute_not_exists(reserved_pairs) OR NOT contains(reserved_pairs, :k))",
            )
            .expression_attribute_values(":c", n(credits as i64))
            .expression_attribute_values(":p", AttributeValue::Ss(vec![pair_key.to_string()]))
            .expression_attribute_values(":k", s(pair_key))
            .expression_attribute_values(":room", n(room as i64))
            .send()
            .await
            .map_err(|e| conditional("reserving credits", e));
        match reserved {
            Ok(_) => Ok(true),
            Err(PortError::ConditionFailed) => {
                // Either this pair reserved before (a redelivery) or the credits ran out.
                let item = self
                    .get_item(key(job_id, JOB), "reading a job")
                    .await?
                    .unwrap_or_default();
                Ok(item
                    .get("reserved_pairs")
                    .and_then(|v| v.as_ss().ok())
                    .is_some_and(|set| set.iter().any(|p| p == pair_key)))
            }
            Err(e) => Err(e),
        }
    }

    async fn complete_pair(
        &self,
        tenant_key: &str,
        job_id: &str,
        pair: &PairRecord,
        output: Option<&OutputRecord>,
    ) -> Result<(), PortError> {
        let ttl = n(Utc::now().timestamp() + RECORD_TTL.as_secs() as i64);
        let mut pair_item = to_item(pair)?;
        pair_item.extend(key(job_id, &pair_sk(&pair.input_id, &pair.conversion_id)));
        pair_item.insert("ExpiresAt".into(), ttl.clone());
        let put_pair = Put::builder()
            .table_name(&self.table)
            .set_item(Some(pair_item))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|e| PortError::backend("building a write", e))?;
        let count = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(job_id, JOB)))
            .update_expression("ADD pairs_done :one, spent :c")
            .condition_expression("#status = :processing")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":processing", s(JobStatus::Processing.code()))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":c", n(pair.outcome.credits() as i64))
            .build()
            .map_err(|e| PortError::backend("building a write", e))?;
        let mut items = vec![
            TransactWriteItem::builder().put(put_pair).build(),
            TransactWriteItem::builder().update(count).build(),
        ];
        if let Some(output) = output {
            let mut item = to_item(output)?;
            item.extend(key(job_id, &output_ref(&output.id)));
            item.insert("ExpiresAt".into(), ttl.clone());
            let pointer = pointer(output_ref(&output.id), job_id, tenant_key, ttl);
            for item in [item, pointer] {
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .build()
                    .map_err(|e| PortError::backend("building a write", e))?;
                items.push(TransactWriteItem::builder().put(put).build());
            }
        }
        self.transact(items, "recording a finished pair").await
    }

    async fn record_chunk(
        &self,
        job_id: &str,
        upload: &str,
        start: u64,
        len: u64,
    ) -> Result<Vec<(u64, u64)>, PortError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(job_id, &format!("CHUNKS#{upload}"))))
            .update_expression("ADD pieces :piece SET ExpiresAt = :ttl")
            .expression_attribute_values(
                ":piece",
                AttributeValue::Ss(vec![format!("{start}:{len}")]),
            )
            .expression_attribute_values(
                ":ttl",
                n(Utc::now().timestamp() + RECORD_TTL.as_secs() as i64),
            )
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| PortError::backend("recording a piece of an upload", describe(e)))?;
        let pieces = out
            .attributes
            .as_ref()
            .and_then(|a| a.get("pieces"))
            .and_then(|v| v.as_ss().ok())
            .cloned()
            .unwrap_or_default();
        Ok(pieces
            .iter()
            .filter_map(|p| {
                let (s, l) = p.split_once(':')?;
                Some((s.parse().ok()?, l.parse().ok()?))
            })
            .collect())
    }

    async fn claim_chunks(&self, job_id: &str, upload: &str) -> Result<bool, PortError> {
        let claimed = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(job_id, &format!("CHUNKS#{upload}"))))
            .update_expression("SET joined = :yes")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(joined)")
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .send()
            .await
            .map_err(|e| conditional("claiming an upload's pieces", e));
        match claimed {
            Ok(_) => Ok(true),
            Err(PortError::ConditionFailed) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn mark_uploading(
        &self,
        job_id: &str,
        input_id: &str,
        conversion_id: &str,
    ) -> Result<(), PortError> {
        let item = key(job_id, &format!("{UPLOADING}{input_id}#{conversion_id}"));
        self.put_expiring(item, "noting an upload").await
    }

    async fn pair_recorded(
        &self,
        job_id: &str,
        input_id: &str,
        conversion_id: &str,
    ) -> Result<bool, PortError> {
        Ok(self
            .get_item(
                key(job_id, &pair_sk(input_id, conversion_id)),
                "reading a pair",
            )
            .await?
            .is_some())
    }

    async fn set_output_status(
        &self,
        job_id: &str,
        output_id: &str,
        status: OutputStatus,
    ) -> Result<(), PortError> {
        let status = serde_json::to_value(status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(job_id, &output_ref(output_id))))
            .update_expression("SET #status = :s")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":s", s(status))
            .send()
            .await
            .map_err(|e| conditional("changing an output", e))?;
        Ok(())
    }

    async fn change_output(
        &self,
        job_id: &str,
        output_id: &str,
        filename: Option<&str>,
        password_hash: Option<&str>,
    ) -> Result<(), PortError> {
        let mut sets = Vec::new();
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(job_id, &output_ref(output_id))))
            .condition_expression("attribute_exists(pk)");
        if let Some(name) = filename {
            sets.push("facts.filename = :name");
            update = update.expression_attribute_values(":name", s(name));
        }
        if let Some(hash) = password_hash {
            sets.push("download_password = :password");
            update = update.expression_attribute_values(":password", s(hash));
        }
        if sets.is_empty() {
            return Ok(());
        }
        update
            .update_expression(format!("SET {}", sets.join(", ")))
            .send()
            .await
            .map_err(|e| match conditional("changing an output", e) {
                PortError::ConditionFailed => PortError::NotFound,
                other => other,
            })?;
        Ok(())
    }

    async fn count_download(
        &self,
        job_id: &str,
        output_id: &str,
        max_downloads: Option<u64>,
    ) -> Result<OutputRecord, PortError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(job_id, &output_ref(output_id))))
            .update_expression("ADD downloads_counter :one")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":enabled", s("enabled"))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew);
        update = match max_downloads {
            Some(max) => update
                .condition_expression("#status = :enabled AND downloads_counter < :max")
                .expression_attribute_values(":max", n(max as i64)),
            None => update.condition_expression("#status = :enabled"),
        };
        let out = update
            .send()
            .await
            .map_err(|e| conditional("counting a download", e))?;
        from_item(out.attributes.unwrap_or_default())
    }

    async fn find_output(&self, output_id: &str) -> Result<Option<(String, String)>, PortError> {
        self.follow(output_ref(output_id)).await
    }

    async fn find_input(&self, input_id: &str) -> Result<Option<(String, String)>, PortError> {
        self.follow(input_ref(input_id)).await
    }

    async fn point_to_inputs(
        &self,
        tenant_key: &str,
        job_id: &str,
        input_ids: &[String],
    ) -> Result<(), PortError> {
        let ttl = n(Utc::now().timestamp() + RECORD_TTL.as_secs() as i64);
        for id in input_ids {
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(pointer(
                    input_ref(id),
                    job_id,
                    tenant_key,
                    ttl.clone(),
                )))
                .send()
                .await
                .map_err(|e| PortError::backend("recording an input's job", describe(e)))?;
        }
        Ok(())
    }

    async fn get_output(
        &self,
        job_id: &str,
        output_id: &str,
    ) -> Result<Option<OutputRecord>, PortError> {
        self.get_item(key(job_id, &output_ref(output_id)), "reading an output")
            .await?
            .map(from_item)
            .transpose()
    }
}
