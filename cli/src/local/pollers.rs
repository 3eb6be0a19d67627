//! Drives a worker from an emulator queue, as Lambda's SQS event source does in the cloud:
//! a message the worker handles is deleted; one it fails stays for redelivery (and, after
//! the queue's limit, moves to the dead-letter queue). A FIFO group's later messages wait
//! behind a failed one.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::types::MessageSystemAttributeName;
use folio_shared::embedded::{QueueSpec, Queues};
use folio_shared::queue::{GroupOrder, QueueMessage, QueueWorker, handle_traced};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub fn spawn(
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    worker: Arc<dyn QueueWorker>,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let received = tokio::select! {
                _ = stop.wait_for(|stopped| *stopped) => return,
                received = sqs
                    .receive_message()
                    .queue_url(&queue_url)
                    .max_number_of_messages(10)
                    .wait_time_seconds(1)
                    .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
                    .message_system_attribute_names(MessageSystemAttributeName::MessageGroupId)
                    .send() => received,
            };
            let messages = match received {
                Ok(out) => out.messages.unwrap_or_default(),
                Err(error) => {
                    tracing::warn!(queue = %queue_url, error = %aws_sdk_sqs::error::DisplayErrorContext(&error), "receive failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            let mut order = GroupOrder::default();
            for message in messages {
                let queued = QueueMessage {
                    id: message.message_id.clone().unwrap_or_default(),
                    body: message.body.clone().unwrap_or_default(),
                    receive_count: message
                        .attributes
                        .as_ref()
                        .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                        .and_then(|c| c.parse().ok())
                        .unwrap_or(1),
                    receipt_handle: message.receipt_handle.clone(),
                    group: message
                        .attributes
                        .as_ref()
                        .and_then(|a| a.get(&MessageSystemAttributeName::MessageGroupId))
                        .cloned(),
                };
                if !order.may_handle(&queued) {
                    worker.release(&queued).await;
                    continue;
                }
                match handle_traced(worker.as_ref(), &queued).await {
                    Ok(()) => {
                        let deleted = sqs
                            .delete_message()
                            .queue_url(&queue_url)
                            .set_receipt_handle(message.receipt_handle)
                            .send()
                            .await;
                        if let Err(error) = deleted {
                            tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(&error), "delete failed");
                        }
                    }
                    Err(error) => {
                        order.failed(&queued);
                        tracing::warn!(message_id = %queued.id, %error, "message left for redelivery")
                    }
                }
            }
        }
    })
}

/// Drives a worker from a queue of the data folder's database, as Lambda's SQS event source
/// does: one message at a time (several pollers share a queue), deleted when handled, left
/// for redelivery when not. An idle poller sleeps until a message is sent or the next one
/// becomes visible. Each poller has a thread of its own, where its database calls and
/// conversions run in place ([`folio_shared::blocking`]).
pub fn spawn_embedded(
    queues: Queues,
    queue: QueueSpec,
    worker: Arc<dyn QueueWorker>,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<JoinHandle<()>> {
    /// The longest nap of an idle poller (a message whose delay ends wakes nobody).
    const IDLE: Duration = Duration::from_secs(5);
    let waker = queues.waker(queue.name).unwrap_or_default();
    folio_shared::blocking::run_as_poller(&format!("poll-{}", queue.name), async move {
        loop {
            // Listen before looking, so a message sent in between is not slept through.
            let notified = waker.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let received = tokio::select! {
                _ = stop.wait_for(|stopped| *stopped) => return,
                received = queues.receive(queue, 1) => received,
            };
            let messages = match received {
                Ok(messages) => messages,
                Err(error) => {
                    tracing::warn!(queue = queue.name, %error, "receive failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if messages.is_empty() {
                let nap = match queues.next_visible(queue).await {
                    Ok(Some(at)) => {
                        let wait = at - chrono::Utc::now().timestamp_millis();
                        Duration::from_millis(wait.clamp(0, IDLE.as_millis() as i64) as u64)
                    }
                    _ => IDLE,
                };
                tokio::select! {
                    _ = stop.wait_for(|stopped| *stopped) => return,
                    _ = &mut notified => {}
                    _ = tokio::time::sleep(nap) => {}
                }
                continue;
            }
            for message in messages {
                match handle_traced(worker.as_ref(), &message).await {
                    Ok(()) => {
                        let receipt = message.receipt_handle.as_deref().unwrap_or_default();
                        if let Err(error) = queues.delete(queue, receipt).await {
                            tracing::warn!(message_id = %message.id, %error, "delete failed");
                        }
                    }
                    Err(error) => {
                        tracing::warn!(message_id = %message.id, queue = queue.name, %error, "message left for redelivery")
                    }
                }
            }
        }
    })
}
