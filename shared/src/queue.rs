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
}

/// Runs a Lambda SQS event through a worker and reports the failed messages only
/// (`ReportBatchItemFailures`), so one bad message does not redeliver its batch.
pub async fn handle_sqs_event(worker: &dyn QueueWorker, event: SqsEvent) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
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
        };
        if let Err(error) = worker.handle(&message).await {
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
