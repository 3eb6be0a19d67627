//! The local stack: the same handlers and workers as the Lambda functions, served over HTTP
//! on loopback and driven by polling the emulator's queues.

mod files;
mod keys;
mod pollers;
mod provision;
mod server;

pub use keys::{AccessKey, ApiKeys, LocalState};
pub use provision::{Names, Provisioned, provision};

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use folio_shared::aws::DynamoKeys;
use folio_shared::batch::worker::BatchWorker;
use folio_shared::dead_letter::DeadLetterWorker;
use folio_shared::image::uploaded::UploadWorker;
use folio_shared::jobs::worker::JobWorker;
use folio_shared::queue::QueueWorker;
use folio_shared::task::worker::PdfWorker;
use folio_shared::{App, Config};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How many pollers drive the jobs queue.
const JOB_POLLERS: usize = 4;
/// Batch items run side by side too; the scanner and the checks share these pollers.
const BATCH_POLLERS: usize = 4;
/// How often expired records are swept away on one machine.
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Where `folio serve` keeps its records, queues and files.
#[derive(Clone, Debug)]
pub enum Backend {
    /// One machine: a data folder (SQLite and files), nothing else to run.
    Embedded { data: PathBuf },
    /// The AWS adapters against the endpoint `AWS_ENDPOINT_URL` names (the emulator);
    /// every bucket, table, queue and topic is named with `prefix`.
    Aws { prefix: String },
}

pub struct ServeOptions {
    pub addr: SocketAddr,
    pub backend: Backend,
    /// Pollers per work queue on one machine (the number of cores when `None`).
    pub workers: Option<usize>,
    /// Where API keys and the webhook secret are kept between runs.
    pub state_file: PathBuf,
    /// Configuration values that win over the environment (tests use them).
    pub config_overrides: Vec<(&'static str, String)>,
}

/// A running local stack. Dropping it does not stop it; call [`Running::stop`].
pub struct Running {
    pub addr: SocketAddr,
    pub app: Arc<App>,
    /// What the AWS backend provisioned (`None` on one machine).
    pub provisioned: Option<Provisioned>,
    /// The data folder, on one machine.
    pub data: Option<PathBuf>,
    pub state: LocalState,
    /// The API key created on this run, if the state file had none.
    pub created_key: Option<String>,
    /// Every configuration variable the stack was configured from, with its value.
    pub env: BTreeMap<String, String>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    /// The open data folder (its lock is held until the stack stops).
    _folder: Option<folio_shared::embedded::DataFolder>,
}

impl Running {
    /// The functions' environment for this stack, one `NAME=value` a line, for
    /// `cargo lambda watch --env-file`.
    pub fn lambda_env(&self) -> String {
        let mut env = self.env.clone();
        // What the AWS SDK reads besides Folio's configuration.
        for var in [
            "AWS_ENDPOINT_URL",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
        ] {
            if let Ok(value) = std::env::var(var) {
                env.entry(var.to_string()).or_insert(value);
            }
        }
        env.entry("AWS_REGION".to_string())
            .or_insert_with(|| self.app.config.region.clone());
        env.iter().map(|(k, v)| format!("{k}={v}\n")).collect()
    }

    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Serves the API and drives the workers on the chosen backend until stopped.
pub async fn start(options: ServeOptions) -> anyhow::Result<Running> {
    match options.backend.clone() {
        Backend::Embedded { data } => start_embedded(options, data).await,
        Backend::Aws { prefix } => start_aws(options, prefix).await,
    }
}

/// The configuration of one machine: values given win over the environment, which wins
/// over these defaults.
fn embedded_defaults(webhook_secret: &str) -> std::collections::HashMap<&'static str, String> {
    use folio_shared::embedded::{queue_url, queues};
    std::collections::HashMap::from([
        ("FOLIO_TABLE", "folio".to_string()),
        ("FOLIO_UPLOAD_BUCKETS", "folio-uploads".to_string()),
        (
            "FOLIO_NOTIFICATIONS_QUEUE_URL",
            queue_url(&queues::NOTIFICATIONS),
        ),
        ("FOLIO_PDF_QUEUE_URL", queue_url(&queues::PDF_TASKS)),
        ("FOLIO_JOBS_QUEUE_URL", queue_url(&queues::JOBS)),
        ("FOLIO_BATCHES_QUEUE_URL", queue_url(&queues::BATCHES)),
        // A check costs two reads of the database: a finished batch ends within 50 ms.
        ("FOLIO_BATCH_CHECK_SECONDS", "0.05".to_string()),
        ("FOLIO_WEBHOOK_SECRET", webhook_secret.to_string()),
        // An IMM request naming an MNS topic is taken as on AWS (the SNS topic of that name
        // in this account); its delivery stops at once, saying SNS needs AWS.
        ("FOLIO_ACCOUNT_ID", "000000000000".to_string()),
        // Local webhook receivers listen on loopback.
        (
            "FOLIO_ALLOWED_PRIVATE_NETWORKS",
            "127.0.0.0/8,::1/128".to_string(),
        ),
    ])
}

/// The configuration, and every variable it was read from with its value (what a function
/// needs in its environment to be configured the same).
fn config_for(
    options: &ServeOptions,
    defaults: &std::collections::HashMap<&'static str, String>,
) -> anyhow::Result<(Config, BTreeMap<String, String>)> {
    let read = std::cell::RefCell::new(BTreeMap::new());
    let config = Config::from_lookup(|name| {
        let overridden = options.config_overrides.iter().find(|(k, _)| *k == name);
        let value = overridden
            .map(|(_, v)| v.clone())
            .or_else(|| std::env::var(name).ok())
            .or_else(|| defaults.get(name).cloned());
        if let Some(value) = &value {
            read.borrow_mut().insert(name.to_string(), value.clone());
        }
        value
    })?;
    Ok((config, read.into_inner()))
}

async fn start_embedded(options: ServeOptions, data: PathBuf) -> anyhow::Result<Running> {
    use folio_shared::embedded::{self, DataFolder, EmbeddedRecords, Queues, queues};
    let folder = DataFolder::open(&data, true)?;
    let (state, created_key) = LocalState::load_or_create(&options.state_file)?;
    let (mut config, env) = config_for(&options, &embedded_defaults(&state.webhook_secret))?;
    state
        .import_into(&folder.keys())
        .await
        .context("putting the keys file's keys into the key store")?;
    let listener = tokio::net::TcpListener::bind(options.addr)
        .await
        .with_context(|| format!("binding {}", options.addr))?;
    let addr = listener.local_addr()?;
    let base_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    let buckets = folder.buckets(&base_url)?;
    config.files_url = Some(format!(
        "{base_url}{}",
        folio_shared::embedded::FILES_PATH.trim_end_matches('/')
    ));
    config
        .oss_endpoint
        .get_or_insert_with(|| oss_endpoint(&base_url));
    for bucket in &config.upload_buckets {
        buckets
            .create_bucket(bucket)
            .with_context(|| format!("making the bucket {bucket}"))?;
    }
    let queues = Queues::new(folder.db.clone());
    // This process is the folder's only consumer (it holds the lock): what a dead one held
    // is free now, not after its visibility timeout.
    let released = queues.release_held().await?;
    if released > 0 {
        tracing::info!(
            released,
            "messages a stopped process held are visible again"
        );
    }
    let sdk = folio_shared::aws::sdk_config_off_aws().await;
    let upload_buckets = config.upload_buckets.clone();
    let max_upload_bytes = config.max_upload_bytes;
    let app = Arc::new(embedded::app(
        config,
        &folder,
        buckets.clone(),
        queues.clone(),
        &sdk,
    ));
    let files = files::FileRoutes {
        store: embedded::UploadBuckets::new(
            Arc::new(buckets.clone()),
            Arc::new(queues.clone()),
            upload_buckets.clone(),
        ),
        buckets,
        uploads: Arc::new(UploadWorker { app: app.clone() }),
        upload_buckets,
        max_upload_bytes,
    };

    let (stop, stopped) = watch::channel(false);
    let mut tasks = vec![server::spawn(
        listener,
        app.clone(),
        Some(files),
        stopped.clone(),
    )];
    let workers = options
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
        .max(1);
    let dead_letters: Arc<dyn QueueWorker> = Arc::new(DeadLetterWorker { app: app.clone() });
    let work: [(queues::QueueSpec, Arc<dyn QueueWorker>); 5] = [
        (queues::UPLOADS, Arc::new(UploadWorker { app: app.clone() })),
        (queues::NOTIFICATIONS, Arc::new(app.notifier())),
        (queues::PDF_TASKS, Arc::new(PdfWorker { app: app.clone() })),
        (queues::JOBS, Arc::new(JobWorker { app: app.clone() })),
        (queues::BATCHES, Arc::new(BatchWorker::new(app.clone()))),
    ];
    for (queue, worker) in work {
        for _ in 0..workers {
            tasks.push(pollers::spawn_embedded(
                queues.clone(),
                queue,
                worker.clone(),
                stopped.clone(),
            )?);
        }
        if let Some(dlq) = queue.dead_letter.and_then(queues::spec) {
            tasks.push(pollers::spawn_embedded(
                queues.clone(),
                dlq,
                dead_letters.clone(),
                stopped.clone(),
            )?);
        }
    }
    tasks.push(spawn_sweeper(
        EmbeddedRecords::new(folder.db.clone()),
        queues,
        stopped,
    ));
    Ok(Running {
        addr,
        app,
        provisioned: None,
        data: Some(data),
        state,
        created_key,
        env,
        stop,
        tasks,
        _folder: Some(folder),
    })
}

/// Removes expired records and forgotten deduplication ids, every minute.
fn spawn_sweeper(
    records: folio_shared::embedded::EmbeddedRecords,
    queues: folio_shared::embedded::Queues,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    const BATCH: usize = 1000;
    tokio::spawn(async move {
        loop {
            loop {
                match records.sweep(BATCH).await {
                    Ok(n) if n == BATCH => continue,
                    Ok(_) => break,
                    Err(error) => {
                        tracing::warn!(%error, "sweeping expired records failed");
                        break;
                    }
                }
            }
            if let Err(error) = queues.sweep().await {
                tracing::warn!(%error, "sweeping deduplication ids failed");
            }
            tokio::select! {
                _ = stop.wait_for(|stopped| *stopped) => return,
                _ = tokio::time::sleep(SWEEP_EVERY) => {}
            }
        }
    })
}

/// Provisions what is missing in the emulator, then serves the API and polls its queues.
/// The OSS SDKs' endpoint for a server at `base_url`: its scheme, host and port (the SDKs
/// drop any path).
fn oss_endpoint(base_url: &str) -> String {
    match url::Url::parse(base_url) {
        Ok(url) => {
            let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
            format!(
                "{}://{}{port}",
                url.scheme(),
                url.host_str().unwrap_or("localhost")
            )
        }
        Err(_) => base_url.to_string(),
    }
}

async fn start_aws(options: ServeOptions, prefix: String) -> anyhow::Result<Running> {
    if std::env::var_os("AWS_ENDPOINT_URL").is_none() {
        bail!(
            "folio serve runs against a local AWS emulator: set AWS_ENDPOINT_URL \
             (make dev starts one and sets it)"
        );
    }
    let sdk = folio_shared::aws::sdk_config().await;
    let names = Names::new(&prefix);
    let provisioned = provision(&sdk, &names)
        .await
        .context("provisioning the local stack")?;
    let (state, created_key) = LocalState::load_or_create(&options.state_file)?;

    let (mut config, mut env) = config_for(
        &options,
        &provisioned.config_defaults(&state.webhook_secret),
    )?;
    let kms_key = config
        .keys_kms_key
        .clone()
        .context("FOLIO_KEYS_KMS_KEY is empty: folio serve authenticates with the key store")?;
    let keys = DynamoKeys::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        aws_sdk_kms::Client::new(&sdk),
        &config.table,
        &kms_key,
    );
    state
        .import_into(&keys)
        .await
        .context("putting the keys file's keys into the key store")?;
    let listener = tokio::net::TcpListener::bind(options.addr)
        .await
        .with_context(|| format!("binding {}", options.addr))?;
    let addr = listener.local_addr()?;
    let base_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    let oss = config
        .oss_endpoint
        .get_or_insert_with(|| oss_endpoint(&base_url));
    // A function run with lambda.env answers the same upload endpoint.
    env.insert("FOLIO_OSS_ENDPOINT".to_string(), oss.clone());
    let app = Arc::new(App::new(config, &sdk));

    let (stop, stopped) = watch::channel(false);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let mut tasks = vec![
        server::spawn(listener, app.clone(), None, stopped.clone()),
        pollers::spawn(
            sqs.clone(),
            provisioned.uploads_queue_url.clone(),
            Arc::new(UploadWorker { app: app.clone() }),
            stopped.clone(),
        ),
        pollers::spawn(
            sqs.clone(),
            provisioned.notifications_queue_url.clone(),
            Arc::new(app.notifier()),
            stopped.clone(),
        ),
        pollers::spawn(
            sqs.clone(),
            provisioned.pdf_queue_url.clone(),
            Arc::new(PdfWorker { app: app.clone() }),
            stopped.clone(),
        ),
    ];
    // Pairs of a job run side by side, as Lambda runs them on several instances.
    for _ in 0..JOB_POLLERS {
        tasks.push(pollers::spawn(
            sqs.clone(),
            provisioned.jobs_queue_url.clone(),
            Arc::new(JobWorker { app: app.clone() }),
            stopped.clone(),
        ));
    }
    for _ in 0..BATCH_POLLERS {
        tasks.push(pollers::spawn(
            sqs.clone(),
            provisioned.batches_queue_url.clone(),
            Arc::new(BatchWorker::new(app.clone())),
            stopped.clone(),
        ));
    }
    let dead_letters = Arc::new(DeadLetterWorker { app: app.clone() });
    for dlq in [
        &provisioned.uploads_dlq_url,
        &provisioned.notifications_dlq_url,
        &provisioned.pdf_dlq_url,
        &provisioned.jobs_dlq_url,
        &provisioned.batches_dlq_url,
    ] {
        tasks.push(pollers::spawn(
            sqs.clone(),
            dlq.clone(),
            dead_letters.clone(),
            stopped.clone(),
        ));
    }
    Ok(Running {
        addr,
        app,
        provisioned: Some(provisioned),
        data: None,
        state,
        created_key,
        env,
        stop,
        tasks,
        _folder: None,
    })
}
