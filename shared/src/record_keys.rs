//! Where each record lives: the partition and sort keys both record stores use, the DynamoDB
//! table in AWS and the SQLite database on one machine, so the two lay records out alike.

use sha2::{Digest, Sha256};

/// The sort key of a partition's one record.
pub const RECORD: &str = "RECORD";

/// The partition of the record a notification is about: its delivery log lives there.
pub fn subject_pk(tenant_key: &str, subject: &crate::notify::delivery::Subject) -> String {
    use crate::notify::delivery::SubjectKind;
    let kind = match subject.kind {
        SubjectKind::Image => "IMAGE",
        SubjectKind::Task => "TASK",
        SubjectKind::Job => "JOB",
        SubjectKind::Batch => "BATCH",
    };
    format!("{tenant_key}#{kind}#{}", subject.id)
}

/// The record a notification is about: its delivery log lives in that record's partition.
pub fn delivery_pk(delivery: &crate::notify::delivery::Delivery) -> String {
    subject_pk(&delivery.tenant_key, &delivery.subject)
}

/// What every attempt's sort key starts with.
pub const DELIVERY_ATTEMPT_PREFIX: &str = "DELIVERY#";

/// One attempt of a delivery (an event to a target). A replay's attempts continue the
/// original's numbers.
pub fn delivery_attempt_sk(delivery: &crate::notify::delivery::Delivery, number: u32) -> String {
    format!(
        "{DELIVERY_ATTEMPT_PREFIX}{}#{}#{number:03}",
        delivery.event_id,
        delivery.target.label()
    )
}

/// The end of a delivery (an event to a target, or a replay of it): delivered, or stopped
/// for good.
pub fn delivery_end_sk(delivery: &crate::notify::delivery::Delivery) -> String {
    format!("DELIVERED#{}#{}", delivery.event_id, delivery.copy_key())
}

pub fn image_pk(tenant_key: &str, image_id: &str) -> String {
    format!("{tenant_key}#IMAGE#{image_id}")
}

/// A tenant's images in the `ByStart` index, newest last (`<creation time>#<id>`).
pub fn images_of(tenant_key: &str) -> String {
    format!("{tenant_key}#IMAGES")
}

pub fn image_by_start_sk(record: &crate::image::model::ImageRecord) -> String {
    format!("{}#{}", record.creation_time.to_rfc3339(), record.image_id)
}

/// A tenant's projects, one partition.
pub fn projects_pk(tenant_key: &str) -> String {
    format!("{tenant_key}#PROJECTS")
}

/// A project's tasks, one partition.
pub fn tasks_pk(tenant_key: &str, project: &str) -> String {
    format!("{tenant_key}#TASKS#{project}")
}

pub fn task_sk(task_id: &str) -> String {
    format!("TASK#{task_id}")
}

/// A job and everything recorded of its run, one partition.
pub fn job_pk(job_id: &str) -> String {
    format!("JOB#{job_id}")
}

/// A tenant's jobs, in the index ordered by creation.
pub fn jobs_of(tenant_key: &str) -> String {
    format!("{tenant_key}#JOBS")
}

pub fn pair_sk(input_id: &str, conversion_id: &str) -> String {
    format!("PAIR#{input_id}#{conversion_id}")
}

/// The pointer from an output's id to its job (and the output's sort key in its job).
pub fn output_ref(output_id: &str) -> String {
    format!("OUTPUT#{output_id}")
}

/// The pointer from an input's id to its job.
pub fn input_ref(input_id: &str) -> String {
    format!("INPUT#{input_id}")
}

/// A project's batches, one partition.
pub fn batches_pk(tenant_key: &str, project: &str) -> String {
    format!("{tenant_key}#BATCHES#{project}")
}

/// How an object of a batch ended: a partition per object (the key hashed).
pub fn batch_item_pk(batch_id: &str, key: &str) -> String {
    let hash = Sha256::digest(key.as_bytes());
    format!("BATCHITEM#{batch_id}#{}", hex::encode(&hash[..16]))
}

/// The objects that failed in a run, by key.
pub fn batch_failures_pk(batch_id: &str, run: u32) -> String {
    format!("BATCHFAIL#{batch_id}#{run}")
}
