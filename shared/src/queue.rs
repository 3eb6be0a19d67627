//! Queue-driven workers: one message at a time, the same code behind Lambda's SQS event
//! source and behind `folio serve`'s poller.

use async_trait::async_trait;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};

use crate::error::PortError;

/// A received message, whichever way it arrived.
#[derive(Clone, Debug)]
pub struct QueueMessage {
    pub id: String,
    pub body: String,
    /// 1 on the first delivery.
    pub receive_count: u32,
    pub receipt_handle: Option<String>,
    /// The message group of a FIFO queue: messages of one group are handled in order.
    pub group: Option<String>,
}

/// Skips the later messages of a FIFO group once one of its messages failed, so a group's
/// order holds: they come back after the failed one.
#[derive(Default)]
pub struct GroupOrder {
    failed: Vec<String>,
}

impl GroupOrder {
    /// Whether the message may be handled now.
    pub fn may_handle(&self, message: &QueueMessage) -> bool {
        message
            .group
            .as_ref()
            .is_none_or(|g| !self.failed.contains(g))
    }

    pub fn failed(&mut self, message: &QueueMessage) {
        if let Some(g) = &message.group {
            self.failed.push(g.clone());
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The message should come back later (it stays on the queue, then goes to the DLQ).
    #[error("retry later: {0}")]
    Retry(String),
    #[error(transparent)]
    Port(#[from] PortError),
}

#[async_trait]
pub trait QueueWorker: Send + Sync {
    /// `Ok` deletes the message; `Err` leaves it for redelivery.
    async fn handle(&self, message: &QueueMessage) -> Result<(), WorkerError>;

    /// Hands back, unhandled, a message that waits behind a failed one of its FIFO group,
    /// so it comes back with that one rather than after its own visibility timeout.
    async fn release(&self, _message: &QueueMessage) {}
}

/// Hands `message` to `worker` inside a span naming the message: every line the handling logs
/// carries its id, and no other message's or request's.
pub async fn handle_traced(
    worker: &dyn QueueWorker,
    message: &QueueMessage,
) -> Result<(), WorkerError> {
    use tracing::Instrument;
    let span = tracing::info_span!("message", message_id = %message.id);
    worker.handle(message).instrument(span).await
}

/// Runs a Lambda SQS event through a worker and reports the failed messages only
/// (`ReportBatchItemFailures`), so one bad message does not redeliver its batch. On a FIFO
/// queue, the messages after a failed one in its group are reported failed unhandled.
pub async fn handle_sqs_event(worker: &dyn QueueWorker, event: SqsEvent) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    let mut order = GroupOrder::default();
    for record in event.records {
        let message = QueueMessage {
            id: record.message_id.clone().unwrap_or_default(),
            body: record.body.clone().unwrap_or_default(),
            receive_count: record
                .attributes
                .get("ApproximateReceiveCount")
                .and_then(|c| c.parse().ok())
                .unwrap_or(1),
            receipt_handle: record.receipt_handle.clone(),
            group: record.attributes.get("MessageGroupId").cloned(),
        };
        let outcome = if order.may_handle(&message) {
            handle_traced(worker, &message).await
        } else {
            worker.release(&message).await;
            Err(WorkerError::Retry(
                "an earlier message of its group failed".into(),
            ))
        };
        if let Err(error) = outcome {
            order.failed(&message);
            tracing::warn!(message_id = %message.id, %error, "message left for redelivery");
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = message.id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}

/// The whole `main` of a queue-driven function once its worker is built.
pub async fn run_lambda<W: QueueWorker + 'static>(worker: W) -> Result<(), lambda_runtime::Error> {
    let worker = &worker;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<SqsEvent>| async move {
            Ok::<_, lambda_runtime::Error>(handle_sqs_event(worker, event.payload).await)
        },
    ))
    .await
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// Fails the messages whose body is `fail`; records what it handled and released.
    #[derive(Default)]
    struct Recorder {
        handled: Mutex<Vec<String>>,
        released: Mutex<Vec<String>>,
    }

    #[async_trait]
    impl QueueWorker for Recorder {
        async fn handle(&self, message: &QueueMessage) -> Result<(), WorkerError> {
            self.handled.lock().unwrap().push(message.id.clone());
            if message.body == "fail" {
                return Err(WorkerError::Retry("asked to".into()));
            }
            Ok(())
        }

        async fn release(&self, message: &QueueMessage) {
            self.released.lock().unwrap().push(message.id.clone());
        }
    }

    fn record(id: &str, body: &str, group: &str) -> aws_lambda_events::event::sqs::SqsMessage {
        let mut m = aws_lambda_events::event::sqs::SqsMessage::default();
        m.message_id = Some(id.into());
        m.body = Some(body.into());
        m.attributes.insert("MessageGroupId".into(), group.into());
        m
    }

    #[tokio::test]
    async fn a_failed_message_holds_back_its_group_only() {
        let mut event = SqsEvent::default();
        event.records = vec![
            record("a1", "fail", "a"),
            record("b1", "ok", "b"),
            record("a2", "ok", "a"),
            record("b2", "ok", "b"),
        ];
        let worker = Recorder::default();
        let response = handle_sqs_event(&worker, event).await;
        let failed: Vec<&str> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        assert_eq!(failed, ["a1", "a2"]);
        assert_eq!(*worker.handled.lock().unwrap(), ["a1", "b1", "b2"]);
        assert_eq!(*worker.released.lock().unwrap(), ["a2"]);
    }
}
