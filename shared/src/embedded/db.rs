//! The one SQLite database of a data folder: WAL, one writer connection (every write is a
//! short `BEGIN IMMEDIATE` transaction, so writers queue in the process instead of failing
//! with "database is locked") and a few reader connections beside it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use crate::error::PortError;

/// Reader connections beside the writer.
const READERS: usize = 4;
/// How long a connection waits for another process's lock (`folio keys` beside `folio serve`).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS items (
    pk TEXT NOT NULL,
    sk TEXT NOT NULL,
    body TEXT NOT NULL,
    expires_at INTEGER,
    gsi1_pk TEXT, gsi1_sk TEXT,
    gsi2_pk TEXT, gsi2_sk TEXT,
    PRIMARY KEY (pk, sk)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS items_by_start ON items (gsi1_pk, gsi1_sk) WHERE gsi1_pk IS NOT NULL;
CREATE INDEX IF NOT EXISTS items_by_end ON items (gsi2_pk, gsi2_sk) WHERE gsi2_pk IS NOT NULL;
CREATE INDEX IF NOT EXISTS items_expiry ON items (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    id TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    grp TEXT,
    visible_at INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    interrupted INTEGER NOT NULL DEFAULT 0,
    receipt TEXT UNIQUE,
    held INTEGER NOT NULL DEFAULT 0,
    sent_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_ready ON messages (queue, visible_at, seq);
CREATE INDEX IF NOT EXISTS messages_groups ON messages (queue, grp, seq);
CREATE TABLE IF NOT EXISTS dedup (
    queue TEXT NOT NULL,
    dedup TEXT NOT NULL,
    until INTEGER NOT NULL,
    PRIMARY KEY (queue, dedup)
) WITHOUT ROWID;
";

/// Brings a database made by an earlier Folio up to this schema.
fn migrate(connection: &Connection) -> rusqlite::Result<()> {
    let has_interrupted = connection
        .prepare("SELECT 1 FROM pragma_table_info('messages') WHERE name = 'interrupted'")?
        .exists([])?;
    if !has_interrupted {
        connection.execute_batch(
            "ALTER TABLE messages ADD COLUMN interrupted INTEGER NOT NULL DEFAULT 0",
        )?;
    }
    Ok(())
}

/// A database error, as a port sees it: a full disk is the operator's to fix, and says so.
pub(crate) fn db_error(context: &'static str) -> impl FnOnce(rusqlite::Error) -> PortError {
    move |e| match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DiskFull) => PortError::Unavailable(format!(
            "the data folder's disk is full ({context}); nothing was written: free space and retry"
        )),
        _ => PortError::backend(context, e),
    }
}

struct Inner {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
}

/// The database; clones share the connections.
#[derive(Clone)]
pub struct Database(Arc<Inner>);

fn open_connection(path: &Path, flags: OpenFlags) -> rusqlite::Result<Connection> {
    let connection = Connection::open_with_flags(path, flags)?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    // NORMAL in WAL mode: a commit survives a killed process; only a power cut may lose the
    // last transactions, never corrupt the file.
    connection.pragma_update(None, "synchronous", "NORMAL")?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    Ok(connection)
}

impl Database {
    /// Opens (creating when absent) the database at `path`, in WAL mode.
    pub fn open(path: &Path) -> Result<Database, PortError> {
        let context = "opening the database";
        let writer = open_connection(path, OpenFlags::default()).map_err(db_error(context))?;
        writer
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(db_error(context))?;
        writer.execute_batch(SCHEMA).map_err(db_error(context))?;
        migrate(&writer).map_err(db_error(context))?;
        let readers = (0..READERS)
            .map(|_| {
                open_connection(
                    path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .map(Mutex::new)
            })
            .collect::<rusqlite::Result<_>>()
            .map_err(db_error(context))?;
        Ok(Database(Arc::new(Inner {
            path: path.to_path_buf(),
            writer: Mutex::new(writer),
            readers,
            next_reader: AtomicUsize::new(0),
        })))
    }

    pub fn path(&self) -> &Path {
        &self.0.path
    }

    /// Runs `work` in one write transaction, committed when it returns `Ok` and rolled back
    /// when it returns `Err` (nothing half-written).
    pub async fn write<T, F>(&self, work: F) -> Result<T, PortError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, PortError> + Send + 'static,
    {
        let inner = self.0.clone();
        run_blocking(move || {
            // A poisoned lock means a panic in another transaction, which SQLite rolled
            // back when its `Transaction` dropped; the connection is still usable.
            let mut connection = inner.writer.lock().unwrap_or_else(|p| p.into_inner());
            let tx = connection
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db_error("starting a write"))?;
            let value = work(&tx)?;
            tx.commit().map_err(db_error("committing a write"))?;
            Ok(value)
        })
        .await
    }

    /// Runs `work` on a reader connection, in one read transaction (a consistent snapshot).
    pub async fn read<T, F>(&self, work: F) -> Result<T, PortError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, PortError> + Send + 'static,
    {
        let inner = self.0.clone();
        run_blocking(move || {
            let n = inner.next_reader.fetch_add(1, Ordering::Relaxed) % inner.readers.len();
            let mut connection = inner.readers[n].lock().unwrap_or_else(|p| p.into_inner());
            let tx = connection
                .transaction_with_behavior(TransactionBehavior::Deferred)
                .map_err(db_error("starting a read"))?;
            work(&tx)
        })
        .await
    }
}

async fn run_blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, PortError> + Send + 'static,
) -> Result<T, PortError> {
    crate::blocking::run(work)
        .await
        .map_err(|e| PortError::backend("running a database call", e))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failed_write_leaves_nothing() {
        let dir = tempdir();
        let db = Database::open(&dir.join("folio.db")).expect("open");
        let failed = db
            .write(|tx| {
                tx.execute(
                    "INSERT INTO items (pk, sk, body) VALUES ('a', 'b', '{}')",
                    [],
                )
                .map_err(db_error("t"))?;
                Err::<(), _>(PortError::ConditionFailed)
            })
            .await;
        assert!(matches!(failed, Err(PortError::ConditionFailed)));
        let count: i64 = db
            .read(|tx| {
                tx.query_row("SELECT COUNT(*) FROM items", [], |r| r.get(0))
                    .map_err(db_error("t"))
            })
            .await
            .expect("read");
        assert_eq!(count, 0);
    }

    pub(crate) fn tempdir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("folio-db-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("a temporary folder");
        dir
    }
}
