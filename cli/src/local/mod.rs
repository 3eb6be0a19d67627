//! The local stack: the same handlers and workers as the Lambda functions, served over HTTP
//! on loopback and driven by polling the emulator's queues.

mod keys;
mod pollers;
mod provision;
mod server;

pub use keys::{AccessKey, ApiKeys, LocalState};
pub use provision::{Names, Provisioned, provision};

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use folio_shared::aws::DynamoKeys;
use folio_shared::batch::worker::BatchWorker;
use folio_shared::dead_letter::DeadLetterWorker;
use folio_shared::image::uploaded::UploadWorker;
use folio_shared::jobs::worker::JobWorker;
use folio_shared::task::worker::PdfWorker;
use folio_shared::{App, Config};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How many pollers drive the jobs queue.
const JOB_POLLERS: usize = 4;
/// Batch items run side by side too; the scanner and the checks share these pollers.
const BATCH_POLLERS: usize = 4;

pub struct ServeOptions {
    pub addr: SocketAddr,
    /// Prefix of every bucket, table, queue and topic the stack creates.
    pub prefix: String,
    /// Where API keys and the webhook secret are kept between runs.
    pub state_file: PathBuf,
    /// Configuration values that win over the environment (tests use them).
    pub config_overrides: Vec<(&'static str, String)>,
}

/// A running local stack. Dropping it does not stop it; call [`Running::stop`].
pub struct Running {
    pub addr: SocketAddr,
    pub app: Arc<App>,
    pub provisioned: Provisioned,
    pub state: LocalState,
    /// The API key created on this run, if the state file had none.
    pub created_key: Option<String>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// The functions' environment for this stack, one `NAME=value` a line, for
    /// `cargo lambda watch --env-file`.
    pub fn lambda_env(&self) -> String {
        let c = &self.app.config;
        let mut lines = vec![
            format!("FOLIO_TABLE={}", c.table),
            format!("FOLIO_UPLOAD_BUCKETS={}", c.upload_buckets.join(",")),
            format!(
                "FOLIO_NOTIFICATIONS_QUEUE_URL={}",
                c.notifications_queue_url
            ),
            format!("FOLIO_WEBHOOK_SECRET={}", c.webhook_secret),
            format!(
                "FOLIO_PDF_QUEUE_URL={}",
                c.pdf_queue_url.clone().unwrap_or_default()
            ),
            format!(
                "FOLIO_JOBS_QUEUE_URL={}",
                c.jobs_queue_url.clone().unwrap_or_default()
            ),
            format!("AWS_REGION={}", c.region),
        ];
        lines.extend(
            c.events_topic_arn
                .as_ref()
                .map(|v| format!("FOLIO_EVENTS_TOPIC_ARN={v}")),
        );
        lines.extend(
            c.keys_kms_key
                .as_ref()
                .map(|v| format!("FOLIO_KEYS_KMS_KEY={v}")),
        );
        lines.extend(
            c.account_id
                .as_ref()
                .map(|v| format!("FOLIO_ACCOUNT_ID={v}")),
        );
        lines.extend(
            c.event_bus_name
                .as_ref()
                .map(|v| format!("FOLIO_EVENT_BUS_NAME={v}")),
        );
        lines.extend(
            c.endpoint_url
                .as_ref()
                .map(|v| format!("AWS_ENDPOINT_URL={v}")),
        );
        for var in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
            lines.extend(std::env::var(var).ok().map(|v| format!("{var}={v}")));
        }
        let nets: Vec<String> = c
            .allowed_private_networks
            .iter()
            .map(ToString::to_string)
            .collect();
        if !nets.is_empty() {
            lines.push(format!("FOLIO_ALLOWED_PRIVATE_NETWORKS={}", nets.join(",")));
        }
        lines.join("\n") + "\n"
    }

    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Provisions what is missing, then serves the API and polls the queues until stopped.
pub async fn start(options: ServeOptions) -> anyhow::Result<Running> {
    if std::env::var_os("AWS_ENDPOINT_URL").is_none() {
        bail!(
            "folio serve runs against a local AWS emulator: set AWS_ENDPOINT_URL \
             (make dev starts one and sets it)"
        );
    }
    let sdk = folio_shared::aws::sdk_config().await;
    let names = Names::new(&options.prefix);
    let provisioned = provision(&sdk, &names)
        .await
        .context("provisioning the local stack")?;
    let (state, created_key) = LocalState::load_or_create(&options.state_file)?;

    let defaults = provisioned.config_defaults(&state.webhook_secret);
    let config = Config::from_lookup(|name| {
        let overridden = options.config_overrides.iter().find(|(k, _)| *k == name);
        overridden
            .map(|(_, v)| v.clone())
            .or_else(|| std::env::var(name).ok())
            .or_else(|| defaults.get(name).cloned())
    })?;
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
    let app = Arc::new(App::new(config, &sdk));

    let (stop, stopped) = watch::channel(false);
    let listener = tokio::net::TcpListener::bind(options.addr)
        .await
        .with_context(|| format!("binding {}", options.addr))?;
    let addr = listener.local_addr()?;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let mut tasks = vec![
        server::spawn(listener, app.clone(), stopped.clone()),
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
            Arc::new(BatchWorker { app: app.clone() }),
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
        provisioned,
        state,
        created_key,
        stop,
        tasks,
    })
}
