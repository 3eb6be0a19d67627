use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use futures_util::{StreamExt, TryStreamExt};
use sha2::Digest;

use super::describe;
use crate::batch::model::BatchMessage;
use crate::error::PortError;
use crate::jobs::model::JobMessageBody;
use crate::notify::Delivery;
use crate::ports::{BatchQueue, DeliveryQueue, JobQueue, TaskQueue};
use crate::task::model::TaskMessage;

/// A message to send, with its FIFO group and deduplication id (used on FIFO queues).
struct Outgoing {
    body: String,
    group: String,
    dedup: String,
    /// Seconds SQS holds the message back (standard queues).
    delay: i32,
}

/// Sends the messages in batches of ten; any message SQS refuses fails the call. On a
/// standard queue up to `IN_FLIGHT` batches are sent at once (a scanner page of 1,000
/// objects is 100 batches); a FIFO queue gets them one after another, in order.
async fn send_batches(
    client: &Client,
    queue_url: &str,
    messages: Vec<Outgoing>,
    context: &'static str,
) -> Result<(), PortError> {
    const IN_FLIGHT: usize = 10;
    let fifo = queue_url.ends_with(".fifo");
    let send = |chunk: &[Outgoing]| {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let mut entry = SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(&m.body);
                if m.delay > 0 {
                    entry = entry.delay_seconds(m.delay);
                }
                if fifo {
                    entry = entry
                        .message_group_id(&m.group)
                        .message_deduplication_id(&m.dedup);
                }
                entry
                    .build()
                    .map_err(|e| PortError::backend("building a queue message", e))
            })
            .collect::<Result<Vec<_>, _>>();
        async move {
            let out = client
                .send_message_batch()
                .queue_url(queue_url)
                .set_entries(Some(entries?))
                .send()
                .await
                .map_err(|e| PortError::backend(context, describe(e)))?;
            match out.failed.first() {
                Some(failed) => Err(PortError::backend(
                    context,
                    format!("SQS refused a message: {:?}", failed.message),
                )),
                None => Ok(()),
            }
        }
    };
    futures_util::stream::iter(messages.chunks(10).map(send))
        .buffer_unordered(if fifo { 1 } else { IN_FLIGHT })
        .try_collect()
        .await
}

#[derive(Clone)]
pub struct SqsDeliveries {
    client: Client,
    queue_url: String,
}

impl SqsDeliveries {
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        SqsDeliveries {
            client,
            queue_url: queue_url.into(),
        }
    }
}

#[async_trait]
impl DeliveryQueue for SqsDeliveries {
    async fn enqueue(&self, deliveries: &[Delivery]) -> Result<(), PortError> {
        // On a FIFO queue, one record's deliveries to one target go out in the order they
        // were queued (a job's status callbacks in status order; a failing webhook holds
        // back only its own), and a delivery queued twice within five minutes (a
        // producer's retry) is sent once.
        let messages = deliveries
            .iter()
            .map(|d| {
                let body = serde_json::to_string(d)
                    .map_err(|e| PortError::backend("encoding a delivery", e))?;
                let target = serde_json::to_string(&d.target)
                    .map_err(|e| PortError::backend("encoding a delivery", e))?;
                Ok(Outgoing {
                    body,
                    group: hex::encode(sha2::Sha256::digest(format!(
                        "{}|{:?}|{}|{target}",
                        d.tenant_key, d.subject.kind, d.subject.id
                    ))),
                    dedup: hex::encode(sha2::Sha256::digest(format!(
                        "{}|{target}|{}",
                        d.event_id, d.first_attempt
                    ))),
                    delay: 0,
                })
            })
            .collect::<Result<Vec<_>, PortError>>()?;
        send_batches(
            &self.client,
            &self.queue_url,
            messages,
            "queueing deliveries",
        )
        .await
    }

    async fn postpone(&self, receipt_handle: &str, delay: Duration) -> Result<(), PortError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(delay.as_secs().min(43_200) as i32)
            .send()
            .await
            .map_err(|e| PortError::backend("postponing a delivery", describe(e)))?;
        Ok(())
    }
}

/// The PDF tasks queue.
#[derive(Clone)]
pub struct SqsTasks {
    client: Client,
    queue_url: Option<String>,
}

impl SqsTasks {
    /// `queue_url` is `None` where no PDF queue is configured; enqueueing then fails.
    pub fn new(client: Client, queue_url: Option<String>) -> Self {
        SqsTasks { client, queue_url }
    }
}

#[async_trait]
impl TaskQueue for SqsTasks {
    async fn enqueue(&self, message: &TaskMessage) -> Result<(), PortError> {
        let url = self.queue_url.as_ref().ok_or_else(|| {
            PortError::backend("queueing a task", "FOLIO_PDF_QUEUE_URL is not set")
        })?;
        let body = serde_json::to_string(message)
            .map_err(|e| PortError::backend("encoding a task message", e))?;
        self.client
            .send_message()
            .queue_url(url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| PortError::backend("queueing a task", describe(e)))?;
        Ok(())
    }
}

/// The jobs queue: job starts and (input, conversion) pairs.
#[derive(Clone)]
pub struct SqsJobs {
    client: Client,
    queue_url: Option<String>,
}

impl SqsJobs {
    /// `queue_url` is `None` where no jobs queue is configured; enqueueing then fails.
    pub fn new(client: Client, queue_url: Option<String>) -> Self {
        SqsJobs { client, queue_url }
    }
}

#[async_trait]
impl JobQueue for SqsJobs {
    async fn enqueue(&self, messages: &[JobMessageBody]) -> Result<(), PortError> {
        let url = self.queue_url.as_ref().ok_or_else(|| {
            PortError::backend("queueing a job", "FOLIO_JOBS_QUEUE_URL is not set")
        })?;
        // A standard queue: a job's pairs run in any order, side by side.
        let messages = messages
            .iter()
            .map(|m| {
                let body = serde_json::to_string(m)
                    .map_err(|e| PortError::backend("encoding a job message", e))?;
                Ok(Outgoing {
                    body,
                    group: m.job_id().to_string(),
                    dedup: String::new(),
                    delay: 0,
                })
            })
            .collect::<Result<Vec<_>, PortError>>()?;
        send_batches(&self.client, url, messages, "queueing a job").await
    }
}

/// The batches queue: scanner pages, items and end checks, side by side.
#[derive(Clone)]
pub struct SqsBatches {
    client: Client,
    queue_url: Option<String>,
}

impl SqsBatches {
    /// `queue_url` is `None` where no batches queue is configured; sending then fails.
    pub fn new(client: Client, queue_url: Option<String>) -> Self {
        SqsBatches { client, queue_url }
    }
}

#[async_trait]
impl BatchQueue for SqsBatches {
    async fn send(&self, messages: &[BatchMessage], delay: Duration) -> Result<(), PortError> {
        let url = self.queue_url.as_ref().ok_or_else(|| {
            PortError::backend("queueing batch work", "FOLIO_BATCHES_QUEUE_URL is not set")
        })?;
        // SQS delays in whole seconds: a fraction waits a whole one rather than none.
        let delay = delay.as_secs_f64().ceil().min(900.0) as i32;
        let messages = messages
            .iter()
            .map(|m| {
                let body = serde_json::to_string(m)
                    .map_err(|e| PortError::backend("encoding a batch message", e))?;
                Ok(Outgoing {
                    body,
                    group: m.batch().batch_id.clone(),
                    dedup: String::new(),
                    delay,
                })
            })
            .collect::<Result<Vec<_>, PortError>>()?;
        send_batches(&self.client, url, messages, "queueing batch work").await
    }
}
