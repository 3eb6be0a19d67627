//! The queues' contract, written once and run against both adapters: SQS in the emulator
//! and the queues of a data folder's SQLite database. Visibility and redelivery with a
//! growing receive count, dead letters past the receive limit, delays, postponing, FIFO
//! groups (in order, nothing of a group while an earlier message of it is out) with
//! deduplication, and receivers side by side each getting a message once.
//!
//! The queues here are made for the tests, with a one-second visibility timeout and a
//! receive limit of two, so each case takes seconds; the work queues use the same code
//! with `template.yaml`'s settings.

use std::time::Duration;

use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use folio_shared::embedded::queues::Outgoing;
use folio_shared::embedded::{Database, QueueSpec, Queues};
use folio_shared::queue::QueueMessage;
use serde_json::json;

use crate::harness::unique;

const VISIBILITY: Duration = Duration::from_secs(1);
const MAX_RECEIVES: u32 = 2;
/// A little past a visibility timeout or a delay.
const PAST: Duration = Duration::from_millis(1_300);

fn spec(
    name: &'static str,
    dead: &'static str,
    fifo: bool,
    visibility: Duration,
) -> [QueueSpec; 2] {
    let work = QueueSpec {
        name,
        visibility,
        max_receives: MAX_RECEIVES,
        dead_letter: Some(dead),
        fifo,
    };
    let dead = QueueSpec {
        name: dead,
        max_receives: u32::MAX,
        dead_letter: None,
        ..work
    };
    [work, dead]
}

/// One queue, on either adapter, through the operations the pollers and senders use.
#[derive(Clone)]
enum Queue {
    Sqlite(Queues, QueueSpec),
    Sqs(aws_sdk_sqs::Client, String),
}

/// A work queue and its dead-letter queue.
struct Pair {
    work: Queue,
    dead: Queue,
}

#[derive(Clone, Copy, Debug)]
enum Adapter {
    Sqlite,
    Sqs,
}

impl Pair {
    async fn new(adapter: Adapter, fifo: bool) -> Pair {
        Pair::with_visibility(adapter, fifo, VISIBILITY).await
    }

    async fn with_visibility(adapter: Adapter, fifo: bool, visibility: Duration) -> Pair {
        match adapter {
            Adapter::Sqlite => {
                let dir = std::env::temp_dir().join(unique("folio-queue-contract-"));
                std::fs::create_dir_all(&dir).expect("a folder");
                let queues =
                    Queues::new(Database::open(&dir.join("folio.db")).expect("a database"));
                let [work, dead] = if fifo {
                    spec("work.fifo", "dead.fifo", true, visibility)
                } else {
                    spec("work", "dead", false, visibility)
                };
                Pair {
                    work: Queue::Sqlite(queues.clone(), work),
                    dead: Queue::Sqlite(queues, dead),
                }
            }
            Adapter::Sqs => {
                let sdk = folio_shared::aws::sdk_config().await;
                let sqs = aws_sdk_sqs::Client::new(&sdk);
                let name = unique("contract-");
                let suffix = if fifo { ".fifo" } else { "" };
                let create = |name: String| {
                    let mut request = sqs.create_queue().queue_name(name).attributes(
                        QueueAttributeName::VisibilityTimeout,
                        visibility.as_secs().to_string(),
                    );
                    if fifo {
                        request = request.attributes(QueueAttributeName::FifoQueue, "true");
                    }
                    request
                };
                let dead_url = create(format!("{name}-dead{suffix}"))
                    .send()
                    .await
                    .expect("a dead-letter queue")
                    .queue_url
                    .expect("its URL");
                let dead_arn = sqs
                    .get_queue_attributes()
                    .queue_url(&dead_url)
                    .attribute_names(QueueAttributeName::QueueArn)
                    .send()
                    .await
                    .expect("its attributes")
                    .attributes
                    .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
                    .expect("its ARN");
                let redrive =
                    json!({"deadLetterTargetArn": dead_arn, "maxReceiveCount": MAX_RECEIVES});
                let work_url = create(format!("{name}{suffix}"))
                    .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
                    .send()
                    .await
                    .expect("a queue")
                    .queue_url
                    .expect("its URL");
                Pair {
                    work: Queue::Sqs(sqs.clone(), work_url),
                    dead: Queue::Sqs(sqs, dead_url),
                }
            }
        }
    }
}

impl Queue {
    async fn send(&self, body: &str, delay: Duration, group: Option<(&str, &str)>) {
        match self {
            Queue::Sqlite(queues, spec) => {
                let message = Outgoing {
                    group: group.map(|(g, _)| g.to_string()),
                    dedup: group.map(|(_, d)| d.to_string()),
                    delay,
                    ..Outgoing::now(body.to_string())
                };
                queues.send_to(*spec, vec![message]).await.expect("sent");
            }
            Queue::Sqs(sqs, url) => {
                let mut request = sqs.send_message().queue_url(url).message_body(body);
                if let Some((g, d)) = group {
                    request = request.message_group_id(g).message_deduplication_id(d);
                } else {
                    request = request.delay_seconds(delay.as_secs() as i32);
                }
                request.send().await.expect("sent");
            }
        }
    }

    async fn receive(&self, max: usize) -> Vec<QueueMessage> {
        match self {
            Queue::Sqlite(queues, spec) => queues.receive(*spec, max).await.expect("received"),
            Queue::Sqs(sqs, url) => sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(max as i32)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .send()
                .await
                .expect("received")
                .messages
                .unwrap_or_default()
                .into_iter()
                .map(|m| {
                    let attribute =
                        |name| m.attributes.as_ref().and_then(|a| a.get(&name)).cloned();
                    QueueMessage {
                        id: m.message_id.clone().unwrap_or_default(),
                        body: m.body.clone().unwrap_or_default(),
                        receive_count: attribute(
                            MessageSystemAttributeName::ApproximateReceiveCount,
                        )
                        .and_then(|c| c.parse().ok())
                        .expect("a receive count"),
                        receipt_handle: m.receipt_handle.clone(),
                        group: attribute(MessageSystemAttributeName::MessageGroupId),
                    }
                })
                .collect(),
        }
    }

    async fn delete(&self, message: &QueueMessage) {
        let receipt = message.receipt_handle.as_deref().expect("a receipt");
        match self {
            Queue::Sqlite(queues, spec) => queues.delete(*spec, receipt).await.expect("deleted"),
            Queue::Sqs(sqs, url) => {
                sqs.delete_message()
                    .queue_url(url)
                    .receipt_handle(receipt)
                    .send()
                    .await
                    .expect("deleted");
            }
        }
    }

    async fn postpone(&self, message: &QueueMessage, delay: Duration) {
        let receipt = message.receipt_handle.as_deref().expect("a receipt");
        match self {
            Queue::Sqlite(queues, _) => queues
                .change_visibility(receipt, delay)
                .await
                .expect("postponed"),
            Queue::Sqs(sqs, url) => {
                sqs.change_message_visibility()
                    .queue_url(url)
                    .receipt_handle(receipt)
                    .visibility_timeout(delay.as_secs() as i32)
                    .send()
                    .await
                    .expect("postponed");
            }
        }
    }
}

fn bodies(messages: &[QueueMessage]) -> Vec<&str> {
    messages.iter().map(|m| m.body.as_str()).collect()
}

async fn a_received_message_is_hidden_until_its_timeout_then_dead_lettered(adapter: Adapter) {
    let Pair { work, dead } = Pair::new(adapter, false).await;
    work.send("a", Duration::ZERO, None).await;
    let first = work.receive(10).await;
    assert_eq!(bodies(&first), ["a"]);
    assert_eq!(first[0].receive_count, 1);
    assert!(work.receive(10).await.is_empty(), "hidden while out");
    tokio::time::sleep(PAST).await;
    let second = work.receive(10).await;
    assert_eq!(bodies(&second), ["a"], "back after its timeout");
    assert_eq!(second[0].receive_count, 2);
    tokio::time::sleep(PAST).await;
    // A third receive is past the limit: the message moves to the dead-letter queue.
    assert!(work.receive(10).await.is_empty(), "dead-lettered");
    assert_eq!(bodies(&dead.receive(10).await), ["a"]);
}

async fn a_deleted_message_is_gone_and_a_delayed_one_waits(adapter: Adapter) {
    let Pair { work, .. } = Pair::new(adapter, false).await;
    work.send("now", Duration::ZERO, None).await;
    work.send("later", Duration::from_secs(1), None).await;
    let got = work.receive(10).await;
    assert_eq!(bodies(&got), ["now"]);
    work.delete(&got[0]).await;
    assert!(
        work.receive(10).await.is_empty(),
        "deleted, and the other delayed"
    );
    tokio::time::sleep(PAST).await;
    let later = work.receive(10).await;
    assert_eq!(bodies(&later), ["later"]);
    work.delete(&later[0]).await;
    tokio::time::sleep(PAST).await;
    assert!(work.receive(10).await.is_empty(), "nothing comes back");
}

async fn a_postponed_message_comes_back_after_its_delay(adapter: Adapter) {
    let Pair { work, .. } = Pair::new(adapter, false).await;
    work.send("retry", Duration::ZERO, None).await;
    let got = work.receive(10).await;
    work.postpone(&got[0], Duration::from_secs(3)).await;
    tokio::time::sleep(PAST).await;
    assert!(
        work.receive(10).await.is_empty(),
        "still waiting past the queue's own timeout"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let again = work.receive(10).await;
    assert_eq!(bodies(&again), ["retry"]);
    assert_eq!(again[0].receive_count, 2);
}

async fn a_fifo_group_goes_in_order_one_out_at_a_time_and_duplicates_are_dropped(adapter: Adapter) {
    let Pair { work, .. } = Pair::new(adapter, true).await;
    for (body, group, dedup) in [
        ("a1", "a", "d-a1"),
        ("b1", "b", "d-b1"),
        ("a2", "a", "d-a2"),
        ("a1 again", "a", "d-a1"),
    ] {
        work.send(body, Duration::ZERO, Some((group, dedup))).await;
    }
    // One at a time, as the pollers receive: nothing of a group while one of it is out.
    let a1 = work.receive(1).await;
    assert_eq!(bodies(&a1), ["a1"]);
    assert_eq!(a1[0].group.as_deref(), Some("a"));
    let b1 = work.receive(1).await;
    assert_eq!(bodies(&b1), ["b1"], "a2 waits behind a1");
    assert!(work.receive(1).await.is_empty());
    work.delete(&b1[0]).await;
    assert!(work.receive(1).await.is_empty(), "a1 is still out");
    // a1 fails (not deleted): it comes back before a2.
    tokio::time::sleep(PAST).await;
    let again = work.receive(1).await;
    assert_eq!(bodies(&again), ["a1"]);
    work.delete(&again[0]).await;
    let last = work.receive(1).await;
    assert_eq!(bodies(&last), ["a2"], "the duplicate of a1 was dropped");
    work.delete(&last[0]).await;
    assert!(work.receive(10).await.is_empty());
}

async fn receivers_side_by_side_get_each_message_once(adapter: Adapter) {
    // A visibility timeout no receiver outlasts, however loaded the machine: the case is
    // about receivers side by side, not about timeouts (a message whose timeout ran out
    // before its deletion is rightly received again).
    let Pair { work, .. } = Pair::with_visibility(adapter, false, Duration::from_secs(60)).await;
    for i in 0..60 {
        work.send(&i.to_string(), Duration::ZERO, None).await;
    }
    let mut takers = Vec::new();
    for _ in 0..6 {
        let work = work.clone();
        takers.push(tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let batch = work.receive(3).await;
                if batch.is_empty() {
                    return got;
                }
                for message in &batch {
                    work.delete(message).await;
                }
                got.extend(batch.into_iter().map(|m| m.body));
            }
        }));
    }
    let mut all = Vec::new();
    for taker in takers {
        all.extend(taker.await.expect("a taker"));
    }
    all.sort_by_key(|b| b.parse::<u32>().expect("a number"));
    assert_eq!(all, (0..60).map(|i| i.to_string()).collect::<Vec<_>>());
}

async fn run_all(adapter: Adapter) {
    // Each case waits on timeouts of its own queues: run side by side.
    tokio::join!(
        a_received_message_is_hidden_until_its_timeout_then_dead_lettered(adapter),
        a_deleted_message_is_gone_and_a_delayed_one_waits(adapter),
        a_postponed_message_comes_back_after_its_delay(adapter),
        a_fifo_group_goes_in_order_one_out_at_a_time_and_duplicates_are_dropped(adapter),
        receivers_side_by_side_get_each_message_once(adapter),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn queues_keep_their_contract_in_sqs() {
    run_all(Adapter::Sqs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn queues_keep_their_contract_in_sqlite() {
    run_all(Adapter::Sqlite).await;
}
