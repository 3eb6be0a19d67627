//! Folio on one machine: every port over one data folder. Records, keys, nonces, rates,
//! idempotency bindings, the delivery log and every queue live in one SQLite database
//! (`folio.db`, WAL); buckets are folders (`buckets/<name>/...`); upload and download URLs
//! are signed with the folder's master key and served by `folio serve` itself.
//!
//! ```text
//! <data>/folio.db      records and queues
//! <data>/master.key    seals access secrets, signs URLs (owner-only)
//! <data>/buckets/      one folder per bucket
//! <data>/tmp/          uploads and writes on their way into a bucket
//! <data>/serve.lock    held by the one `folio serve` using the folder
//! ```

mod batches;
mod buckets;
mod db;
mod images;
mod items;
mod jobs;
mod keys;
mod master_key;
pub mod queues;
mod signed_urls;
mod tasks;
mod uploads;

pub use buckets::{Buckets, ObjectInfo, Staged, key_problem, valid_bucket};
pub use db::Database;
pub use keys::{EmbeddedGuards, EmbeddedKeys};
pub use master_key::{MasterKey, MasterKeyError};
pub use queues::{QueueSpec, Queues};
pub use signed_urls::{FILES_PATH, Grant, UrlError, UrlSigner};
pub use uploads::{UPLOAD_EVENT_HOLD, UploadBuckets, created_event};

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;

use crate::app::App;
use crate::aws::S3UserStorage;
use crate::config::Config;
use crate::error::PortError;
use crate::ports::EventChannels;

/// The record ports over the database.
#[derive(Clone)]
pub struct EmbeddedRecords {
    db: Database,
}

impl EmbeddedRecords {
    pub fn new(db: Database) -> Self {
        EmbeddedRecords { db }
    }

    /// Removes up to `limit` records whose time is up (as DynamoDB's TTL does; reads treat
    /// them as absent before that). How many went.
    pub async fn sweep(&self, limit: usize) -> Result<usize, PortError> {
        let now = Utc::now().timestamp();
        self.db.write(move |tx| items::sweep(tx, now, limit)).await
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DataFolderError {
    #[error("making the data folder {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "another folio serve is using the data folder {0}: stop it, or give this one \
         another folder with --data"
    )]
    InUse(String),
    #[error(transparent)]
    MasterKey(#[from] MasterKeyError),
    #[error(
        "opening the database {path}: {source} (nothing was changed in it; if it is not \
         Folio's, move it aside; if it is damaged, restore the data folder from its backup)"
    )]
    Database {
        path: String,
        #[source]
        source: PortError,
    },
}

/// An open data folder: its database, master key and buckets.
pub struct DataFolder {
    pub root: PathBuf,
    pub db: Database,
    pub master: MasterKey,
    /// Held while the folder is open for serving: one consumer of its queues at a time.
    _lock: Option<std::fs::File>,
}

impl DataFolder {
    /// Opens `root` (making it when absent). With `serve`, takes the folder's lock: the
    /// caller is the only consumer of its queues.
    pub fn open(root: &Path, serve: bool) -> Result<DataFolder, DataFolderError> {
        let io = |source| DataFolderError::Io {
            path: root.display().to_string(),
            source,
        };
        std::fs::create_dir_all(root).map_err(io)?;
        let lock = if serve {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(root.join("serve.lock"))
                .map_err(io)?;
            match file.try_lock() {
                Ok(()) => {
                    // Writes a killed process left half done: nobody else writes here.
                    match std::fs::remove_dir_all(root.join("tmp")) {
                        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
                        _ => {}
                    }
                    Some(file)
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(DataFolderError::InUse(root.display().to_string()));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
            }
        } else {
            None
        };
        let master = MasterKey::load_or_create(&root.join("master.key"))?;
        let path = root.join("folio.db");
        let db = Database::open(&path).map_err(|source| DataFolderError::Database {
            path: path.display().to_string(),
            source,
        })?;
        Ok(DataFolder {
            root: root.to_path_buf(),
            db,
            master,
            _lock: lock,
        })
    }

    /// The folder's buckets, with URLs signed for `base_url`.
    pub fn buckets(&self, base_url: &str) -> Result<Buckets, PortError> {
        let signer = UrlSigner::new(self.master.derive("folio signed urls"), base_url);
        Buckets::new(self.root.join("buckets"), self.root.join("tmp"), signer)
    }

    pub fn keys(&self) -> EmbeddedKeys {
        EmbeddedKeys::new(self.db.clone(), self.master.clone())
    }
}

/// The names the configuration gives the one-machine queues (in place of SQS URLs).
pub fn queue_url(queue: &QueueSpec) -> String {
    format!("embedded:{}", queue.name)
}

/// SNS topics and EventBridge buses are AWS services: on one machine they are refused with
/// the reason (the delivery log says it), unless AWS adapters were given for them.
pub struct NoChannels;

#[async_trait]
impl EventChannels for NoChannels {
    async fn publish_sns(&self, topic_arn: &str, _: &str, _: &str) -> Result<(), PortError> {
        Err(PortError::Denied(format!(
            "SNS topic {topic_arn}: Folio on one machine publishes to no AWS topic \
             (serve with --backend aws to reach SNS)"
        )))
    }

    async fn put_event(&self, bus_name: &str, _: &str, _: &str) -> Result<(), PortError> {
        Err(PortError::Denied(format!(
            "EventBridge bus {bus_name}: Folio on one machine sends to no AWS bus \
             (serve with --backend aws to reach EventBridge)"
        )))
    }
}

/// The application over a data folder. Users' own storage in jobs (S3 with credentials,
/// GCS, Azure, FTP) is still reached over the network, with `sdk` for S3.
pub fn app(
    config: Config,
    folder: &DataFolder,
    buckets: Buckets,
    queues: Queues,
    sdk: &aws_config::SdkConfig,
) -> App {
    let records = Arc::new(EmbeddedRecords::new(folder.db.clone()));
    let guards = Arc::new(EmbeddedGuards::new(folder.db.clone()));
    let queues = Arc::new(queues);
    let buckets = Arc::new(buckets);
    let uploads = UploadBuckets::new(
        buckets.clone(),
        queues.clone(),
        config.upload_buckets.clone(),
    );
    App {
        images: records.clone(),
        objects: Arc::new(uploads),
        deliveries: queues.clone(),
        delivery_log: records.clone(),
        channels: Arc::new(NoChannels),
        projects: records.clone(),
        tasks: records.clone(),
        task_queue: queues.clone(),
        roles: buckets.clone(),
        keys: Some(Arc::new(folder.keys())),
        nonces: guards.clone(),
        rates: guards,
        jobs: records.clone(),
        job_queue: queues.clone(),
        files: buckets.clone(),
        user_storage: Arc::new(S3UserStorage::new(sdk.clone())),
        batches: records,
        batch_queue: queues,
        config,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder() -> PathBuf {
        std::env::temp_dir().join(format!("folio-folder-{}", uuid::Uuid::new_v4()))
    }

    #[test]
    fn a_database_that_is_not_one_is_refused_with_the_reason() {
        let root = folder();
        std::fs::create_dir_all(&root).expect("a folder");
        std::fs::write(root.join("folio.db"), vec![0x5a; 8192]).expect("garbage");
        let error = match DataFolder::open(&root, false) {
            Ok(_) => panic!("opened a database that is not one"),
            Err(e) => e.to_string(),
        };
        assert!(error.contains("opening the database"), "{error}");
        assert!(error.contains(&root.display().to_string()), "{error}");
    }

    #[tokio::test]
    async fn expired_records_are_swept_and_live_ones_stay() {
        let root = folder();
        let data = DataFolder::open(&root, true).expect("opened");
        let records = EmbeddedRecords::new(data.db.clone());
        let now = Utc::now().timestamp();
        data.db
            .write(move |tx| {
                items::put(tx, &items::Item::new("a", "RECORD").expiring(now - 1))?;
                items::put(tx, &items::Item::new("b", "RECORD").expiring(now + 60))?;
                items::put(tx, &items::Item::new("c", "RECORD"))
            })
            .await
            .expect("written");
        assert_eq!(records.sweep(1000).await.expect("swept"), 1);
        let left = data
            .db
            .read(|tx| {
                ["a", "b", "c"]
                    .iter()
                    .map(|pk| items::get(tx, pk, "RECORD").map(|i| i.is_some()))
                    .collect::<Result<Vec<_>, _>>()
            })
            .await
            .expect("read");
        assert_eq!(left, [false, true, true]);
        // The folder's lock keeps a second server out while this one holds it.
        assert!(matches!(
            DataFolder::open(&root, true),
            Err(DataFolderError::InUse(_))
        ));
    }
}
