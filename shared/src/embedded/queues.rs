//! Queues with SQS's contract in the `messages` table: a received message is invisible for
//! the queue's visibility timeout and comes back if it is not deleted; each receive counts,
//! and a message received more often than the queue allows moves to its dead-letter queue;
//! delays hold a message back; on a FIFO queue a group's messages are received one at a time
//! in the order sent, and a message sent again with the same deduplication id within five
//! minutes is sent once.
//!
//! Work a record implies is queued in the same transaction as the record (a task with its
//! message, a batch with its first scan, a job moved to `queued` with its start): a process
//! killed between the two cannot lose it. Such messages have an id derived from the work,
//! so the producer's own enqueue that follows adds no second copy while the first waits.
//!
//! One process consumes a data folder's queues ([`super::DataFolder`] holds its lock), so
//! when it starts, the messages a dead process held are made visible at once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

use super::db::{Database, db_error};
use crate::batch::model::BatchMessage;
use crate::error::PortError;
use crate::jobs::model::JobMessageBody;
use crate::notify::Delivery;
use crate::ports::{BatchQueue, DeliveryQueue, JobQueue, TaskQueue};
use crate::queue::QueueMessage;
use crate::task::model::TaskMessage;

/// A queue's settings, as `template.yaml` gives its SQS queue (visibility timeouts are
/// those of the local stack: a crashed process's work comes back at its restart anyway).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueSpec {
    pub name: &'static str,
    pub visibility: Duration,
    pub max_receives: u32,
    pub dead_letter: Option<&'static str>,
    pub fifo: bool,
}

const fn queue(
    name: &'static str,
    visibility_secs: u64,
    max_receives: u32,
    dead_letter: &'static str,
    fifo: bool,
) -> QueueSpec {
    QueueSpec {
        name,
        visibility: Duration::from_secs(visibility_secs),
        max_receives,
        dead_letter: Some(dead_letter),
        fifo,
    }
}

const fn dead_letters(name: &'static str, fifo: bool) -> QueueSpec {
    QueueSpec {
        name,
        visibility: Duration::from_secs(60),
        max_receives: u32::MAX,
        dead_letter: None,
        fifo,
    }
}

pub const UPLOADS: QueueSpec = queue("uploads", 60, 5, "uploads-dlq", false);
pub const NOTIFICATIONS: QueueSpec = queue("notifications", 60, 20, "notifications-dlq", true);
pub const PDF_TASKS: QueueSpec = queue("pdf-tasks", 120, 3, "pdf-tasks-dlq", false);
pub const JOBS: QueueSpec = queue("jobs", 120, 3, "jobs-dlq", false);
pub const BATCHES: QueueSpec = queue("batches", 120, 3, "batches-dlq", false);

/// Every queue: the five work queues, then their dead-letter queues.
pub const ALL: [QueueSpec; 10] = [
    UPLOADS,
    NOTIFICATIONS,
    PDF_TASKS,
    JOBS,
    BATCHES,
    dead_letters("uploads-dlq", false),
    dead_letters("notifications-dlq", true),
    dead_letters("pdf-tasks-dlq", false),
    dead_letters("jobs-dlq", false),
    dead_letters("batches-dlq", false),
];

/// The spec of a queue by name.
pub fn spec(name: &str) -> Option<QueueSpec> {
    ALL.into_iter().find(|q| q.name == name)
}

/// How often a message's handling may be cut short by the process dying before it goes to
/// its dead-letter queue. A receive cut short that way is not counted against the queue's
/// own limit (the work never got to fail), but a message that kills the process every time
/// must still end.
pub const MAX_INTERRUPTIONS: u32 = 10;

/// The window in which a FIFO queue drops a message sent again with the same id.
const DEDUP_WINDOW: Duration = Duration::from_secs(300);

/// A message to send.
#[derive(Clone, Debug)]
pub struct Outgoing {
    /// The id of a message that names one piece of work: sent again while it waits, it is
    /// not added twice. Random when `None`.
    pub id: Option<String>,
    pub body: String,
    pub group: Option<String>,
    pub dedup: Option<String>,
    pub delay: Duration,
}

impl Outgoing {
    pub fn now(body: String) -> Outgoing {
        Outgoing {
            id: None,
            body,
            group: None,
            dedup: None,
            delay: Duration::ZERO,
        }
    }
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The queues of one database, with a wake-up per queue so waiting consumers start at once.
#[derive(Clone)]
pub struct Queues {
    db: Database,
    wakers: Arc<HashMap<&'static str, Arc<Notify>>>,
}

impl Queues {
    pub fn new(db: Database) -> Queues {
        let wakers = ALL
            .iter()
            .map(|q| (q.name, Arc::new(Notify::new())))
            .collect();
        Queues {
            db,
            wakers: Arc::new(wakers),
        }
    }

    /// What a consumer of `queue` waits on.
    pub fn waker(&self, queue: &str) -> Option<Arc<Notify>> {
        self.wakers.get(queue).cloned()
    }

    fn wake(&self, queue: &str) {
        if let Some(waker) = self.wakers.get(queue) {
            waker.notify_waiters();
        }
    }

    /// Sends `messages` to `queue` in one transaction: all of them or none.
    pub async fn send_to(
        &self,
        queue: QueueSpec,
        messages: Vec<Outgoing>,
    ) -> Result<(), PortError> {
        self.db
            .write(move |tx| {
                let now = now_ms();
                for m in &messages {
                    if queue.fifo
                        && let Some(dedup) = &m.dedup
                    {
                        let seen: Option<i64> = tx
                            .prepare_cached(
                                "SELECT until FROM dedup WHERE queue = ?1 AND dedup = ?2",
                            )
                            .and_then(|mut s| {
                                s.query_row(params![queue.name, dedup], |r| r.get(0))
                                    .optional()
                            })
                            .map_err(db_error("sending a message"))?;
                        if seen.is_some_and(|until| until > now) {
                            continue;
                        }
                        tx.prepare_cached(
                            "INSERT OR REPLACE INTO dedup (queue, dedup, until) VALUES (?1, ?2, ?3)",
                        )
                        .and_then(|mut s| {
                            s.execute(params![queue.name, dedup, now + millis(DEDUP_WINDOW)])
                        })
                        .map_err(db_error("sending a message"))?;
                    }
                    insert(tx, queue.name, m, now)?;
                }
                Ok(())
            })
            .await?;
        self.wake(queue.name);
        Ok(())
    }

    /// Receives up to `max` visible messages of `queue`, each invisible for the queue's
    /// visibility timeout from now; a message past its receive limit moves to the queue's
    /// dead-letter queue instead.
    pub async fn receive(
        &self,
        queue: QueueSpec,
        max: usize,
    ) -> Result<Vec<QueueMessage>, PortError> {
        let (received, dead_lettered) = self
            .db
            .write(move |tx| {
                let now = now_ms();
                // On a FIFO queue only the oldest message of each group may be received:
                // the next one waits until it is deleted.
                let sql = if queue.fifo {
                    "SELECT seq, id, body, grp, receive_count, interrupted FROM messages m \
                     WHERE queue = ?1 AND visible_at <= ?2 AND NOT EXISTS \
                     (SELECT 1 FROM messages e WHERE e.queue = m.queue AND e.grp = m.grp \
                      AND e.seq < m.seq) ORDER BY seq LIMIT ?3"
                } else {
                    "SELECT seq, id, body, grp, receive_count, interrupted FROM messages \
                     WHERE queue = ?1 AND visible_at <= ?2 ORDER BY seq LIMIT ?3"
                };
                let candidates = tx
                    .prepare_cached(sql)
                    .and_then(|mut s| {
                        s.query_map(params![queue.name, now, max as i64], |r| {
                            Ok((
                                r.get::<_, i64>(0)?,
                                r.get::<_, String>(1)?,
                                r.get::<_, String>(2)?,
                                r.get::<_, Option<String>>(3)?,
                                r.get::<_, u32>(4)?,
                                r.get::<_, u32>(5)?,
                            ))
                        })?
                        .collect::<rusqlite::Result<Vec<_>>>()
                    })
                    .map_err(db_error("receiving messages"))?;
                let mut received = Vec::new();
                let mut dead_lettered = None;
                for (seq, id, body, group, count, interrupted) in candidates {
                    let count = count.saturating_add(1);
                    if (count > queue.max_receives || interrupted > MAX_INTERRUPTIONS)
                        && let Some(dlq) = queue.dead_letter
                    {
                        tx.prepare_cached(
                            "UPDATE messages SET queue = ?2, receive_count = 0, interrupted = 0, visible_at = ?3, \
                             receipt = NULL, held = 0 WHERE seq = ?1",
                        )
                        .and_then(|mut s| s.execute(params![seq, dlq, now]))
                        .map_err(db_error("moving a message to its dead-letter queue"))?;
                        dead_lettered = Some(dlq);
                        continue;
                    }
                    let receipt = uuid::Uuid::new_v4().to_string();
                    tx.prepare_cached(
                        "UPDATE messages SET receive_count = ?2, visible_at = ?3, receipt = ?4, \
                         held = 1 WHERE seq = ?1",
                    )
                    .and_then(|mut s| {
                        s.execute(params![seq, count, now + millis(queue.visibility), receipt])
                    })
                    .map_err(db_error("receiving messages"))?;
                    received.push(QueueMessage {
                        id,
                        body,
                        receive_count: count,
                        receipt_handle: Some(receipt),
                        group,
                    });
                }
                Ok((received, dead_lettered))
            })
            .await?;
        if let Some(dlq) = dead_lettered {
            self.wake(dlq);
        }
        Ok(received)
    }

    /// Deletes the message received with `receipt` (a later receive's receipt replaces it).
    pub async fn delete(&self, queue: QueueSpec, receipt: &str) -> Result<(), PortError> {
        let receipt = receipt.to_string();
        self.db
            .write(move |tx| {
                tx.prepare_cached("DELETE FROM messages WHERE receipt = ?1")
                    .and_then(|mut s| s.execute(params![receipt]))
                    .map_err(db_error("deleting a message"))
            })
            .await?;
        // The next message of a FIFO group may be received now.
        if queue.fifo {
            self.wake(queue.name);
        }
        Ok(())
    }

    /// Makes the message received with `receipt` visible again after `delay` (no longer held
    /// by its consumer: a restart does not bring it back sooner).
    pub async fn change_visibility(&self, receipt: &str, delay: Duration) -> Result<(), PortError> {
        let receipt = receipt.to_string();
        self.db
            .write(move |tx| {
                tx.prepare_cached(
                    "UPDATE messages SET visible_at = ?2, held = 0 WHERE receipt = ?1",
                )
                .and_then(|mut s| s.execute(params![receipt, now_ms() + millis(delay)]))
                .map_err(db_error("changing a message's visibility"))
            })
            .await?;
        Ok(())
    }

    /// Makes the message `id` visible now (one sent held back until its work was done).
    pub async fn release(&self, queue: QueueSpec, id: &str) -> Result<(), PortError> {
        let id = id.to_string();
        self.db
            .write(move |tx| {
                tx.prepare_cached(
                    "UPDATE messages SET visible_at = MIN(visible_at, ?2) \
                     WHERE id = ?1 AND held = 0 AND receive_count = 0",
                )
                .and_then(|mut s| s.execute(params![id, now_ms()]))
                .map_err(db_error("releasing a message"))
            })
            .await?;
        self.wake(queue.name);
        Ok(())
    }

    /// Makes every message held by a consumer visible now: called by the only consumer as
    /// it starts, so what a dead process held is not waited for. That receive counts as an
    /// interruption, not an attempt (see [`MAX_INTERRUPTIONS`]). Returns how many.
    pub async fn release_held(&self) -> Result<usize, PortError> {
        self.db
            .write(|tx| {
                tx.execute(
                    "UPDATE messages SET visible_at = ?1, held = 0, \
                     receive_count = MAX(receive_count - 1, 0), interrupted = interrupted + 1 \
                     WHERE held = 1",
                    params![now_ms()],
                )
                .map_err(db_error("releasing held messages"))
            })
            .await
    }

    /// When the next message of `queue` becomes visible, if it has any.
    pub async fn next_visible(&self, queue: QueueSpec) -> Result<Option<i64>, PortError> {
        self.db
            .read(move |tx| {
                tx.prepare_cached("SELECT MIN(visible_at) FROM messages WHERE queue = ?1")
                    .and_then(|mut s| s.query_row(params![queue.name], |r| r.get(0)))
                    .map_err(db_error("reading a queue"))
            })
            .await
    }

    /// How many messages `queue` holds, visible or not.
    pub async fn depth(&self, queue: QueueSpec) -> Result<u64, PortError> {
        self.db
            .read(move |tx| {
                tx.prepare_cached("SELECT COUNT(*) FROM messages WHERE queue = ?1")
                    .and_then(|mut s| s.query_row(params![queue.name], |r| r.get::<_, i64>(0)))
                    .map(|n| n.max(0) as u64)
                    .map_err(db_error("reading a queue"))
            })
            .await
    }

    /// Forgets deduplication ids whose window has passed.
    pub async fn sweep(&self) -> Result<usize, PortError> {
        self.db
            .write(|tx| {
                tx.execute("DELETE FROM dedup WHERE until <= ?1", params![now_ms()])
                    .map_err(db_error("forgetting deduplication ids"))
            })
            .await
    }
}

/// Queues `m` on `queue` within the caller's transaction (the outbox of a record write).
pub(super) fn insert_in(
    tx: &rusqlite::Transaction<'_>,
    queue: QueueSpec,
    m: &Outgoing,
) -> Result<(), PortError> {
    insert(tx, queue.name, m, now_ms())
}

fn insert(
    tx: &rusqlite::Transaction<'_>,
    queue: &str,
    m: &Outgoing,
    now: i64,
) -> Result<(), PortError> {
    tx.prepare_cached(
        "INSERT OR IGNORE INTO messages (queue, id, body, grp, visible_at, sent_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut s| {
        s.execute(params![
            queue,
            m.id.clone()
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            m.body,
            m.group,
            now + millis(m.delay),
            now
        ])
    })
    .map_err(db_error("sending a message"))?;
    Ok(())
}

fn encode<T: serde::Serialize>(value: &T, context: &'static str) -> Result<String, PortError> {
    serde_json::to_string(value).map_err(|e| PortError::backend(context, e))
}

/// A task's message, once per task.
pub(super) fn task_message(m: &TaskMessage) -> Result<Outgoing, PortError> {
    Ok(Outgoing {
        id: Some(format!(
            "pdf-task:{}:{}:{}",
            m.tenant_key, m.project_name, m.task_id
        )),
        ..Outgoing::now(encode(m, "encoding a task message")?)
    })
}

/// A job message, once per job start or pair.
pub(super) fn job_message(m: &JobMessageBody) -> Result<Outgoing, PortError> {
    let id = match m {
        JobMessageBody::Start { job_id } => format!("job-start:{job_id}"),
        JobMessageBody::Pair {
            job_id,
            input_id,
            conversion_id,
        } => format!("job-pair:{job_id}:{input_id}:{conversion_id}"),
    };
    Ok(Outgoing {
        id: Some(id),
        ..Outgoing::now(encode(m, "encoding a job message")?)
    })
}

/// A batch message; a scanner page once per run and page.
pub(super) fn batch_message(m: &BatchMessage, delay: Duration) -> Result<Outgoing, PortError> {
    let id = match m {
        BatchMessage::Scan { batch, page } => Some(format!(
            "batch-scan:{}:{}:{}:{page}",
            batch.tenant_key, batch.batch_id, batch.run
        )),
        _ => None,
    };
    Ok(Outgoing {
        id,
        delay,
        ..Outgoing::now(encode(m, "encoding a batch message")?)
    })
}

#[async_trait]
impl DeliveryQueue for Queues {
    async fn enqueue(&self, deliveries: &[Delivery]) -> Result<(), PortError> {
        // As on the FIFO queue in AWS: one record's deliveries to one target go out in the
        // order queued, and the same delivery queued twice within five minutes goes once.
        let messages = deliveries
            .iter()
            .map(|d| {
                let target = encode(&d.target, "encoding a delivery")?;
                Ok(Outgoing {
                    id: None,
                    body: encode(d, "encoding a delivery")?,
                    group: Some(hex::encode(Sha256::digest(format!(
                        "{}|{:?}|{}|{target}",
                        d.tenant_key, d.subject.kind, d.subject.id
                    )))),
                    dedup: Some(hex::encode(Sha256::digest(format!(
                        "{}|{target}|{}",
                        d.event_id, d.first_attempt
                    )))),
                    delay: Duration::ZERO,
                })
            })
            .collect::<Result<Vec<_>, PortError>>()?;
        self.send_to(NOTIFICATIONS, messages).await
    }

    async fn postpone(&self, receipt_handle: &str, delay: Duration) -> Result<(), PortError> {
        self.change_visibility(receipt_handle, delay).await
    }
}

#[async_trait]
impl TaskQueue for Queues {
    async fn enqueue(&self, message: &TaskMessage) -> Result<(), PortError> {
        self.send_to(PDF_TASKS, vec![task_message(message)?]).await
    }
}

#[async_trait]
impl JobQueue for Queues {
    async fn enqueue(&self, messages: &[JobMessageBody]) -> Result<(), PortError> {
        let messages = messages
            .iter()
            .map(job_message)
            .collect::<Result<Vec<_>, _>>()?;
        self.send_to(JOBS, messages).await
    }
}

#[async_trait]
impl BatchQueue for Queues {
    async fn send(&self, messages: &[BatchMessage], delay: Duration) -> Result<(), PortError> {
        // SQS holds messages back 15 minutes at most.
        let delay = delay.min(Duration::from_secs(900));
        let messages = messages
            .iter()
            .map(|m| batch_message(m, delay))
            .collect::<Result<Vec<_>, PortError>>()?;
        self.send_to(BATCHES, messages).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WORK: QueueSpec = QueueSpec {
        name: "uploads",
        visibility: Duration::from_millis(300),
        max_receives: 2,
        dead_letter: Some("uploads-dlq"),
        fifo: false,
    };
    const DEAD: QueueSpec = dead_letters("uploads-dlq", false);
    fn queues() -> Queues {
        let dir = std::env::temp_dir().join(format!("folio-queues-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("a folder");
        Queues::new(Database::open(&dir.join("folio.db")).expect("a database"))
    }

    fn bodies(messages: &[QueueMessage]) -> Vec<&str> {
        messages.iter().map(|m| m.body.as_str()).collect()
    }

    #[tokio::test]
    async fn a_postponed_message_comes_back_after_its_delay_and_a_restart_releases_held_ones() {
        let q = queues();
        q.send_to(
            WORK,
            vec![
                Outgoing::now("held".into()),
                Outgoing::now("postponed".into()),
            ],
        )
        .await
        .expect("sent");
        let got = q.receive(WORK, 10).await.expect("received");
        assert_eq!(bodies(&got), ["held", "postponed"]);
        q.change_visibility(
            got[1].receipt_handle.as_deref().expect("a receipt"),
            Duration::from_secs(60),
        )
        .await
        .expect("postponed");
        // The only consumer starts again: what it held is visible at once, what it
        // postponed still waits.
        assert_eq!(q.release_held().await.expect("released"), 1);
        let again = q.receive(WORK, 10).await.expect("received");
        assert_eq!(bodies(&again), ["held"]);
        // The receive the dead process held is not counted as an attempt.
        assert_eq!(again[0].receive_count, 1);
        // The dead process's receipt is stale: it deletes nothing.
        q.delete(WORK, got[0].receipt_handle.as_deref().expect("a receipt"))
            .await
            .expect("deleted nothing");
        assert_eq!(q.depth(WORK).await.expect("depth"), 2);
    }

    #[tokio::test]
    async fn a_message_that_keeps_killing_its_process_still_ends_in_its_dead_letter_queue() {
        let q = queues();
        q.send_to(WORK, vec![Outgoing::now("poison".into())])
            .await
            .expect("sent");
        for _ in 0..=MAX_INTERRUPTIONS {
            assert_eq!(
                bodies(&q.receive(WORK, 10).await.expect("received")),
                ["poison"]
            );
            assert_eq!(q.release_held().await.expect("released"), 1);
        }
        assert!(q.receive(WORK, 10).await.expect("received").is_empty());
        assert_eq!(
            bodies(&q.receive(DEAD, 10).await.expect("received")),
            ["poison"]
        );
    }
}
