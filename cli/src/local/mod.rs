//! The local stack: the same handlers and workers as the Lambda functions, served over HTTP
//! on loopback and driven by polling the emulator's queues.

mod keys;
mod pollers;
mod provision;
mod server;

pub use keys::{ApiKeys, LocalState};
pub use provision::{Names, Provisioned, provision};

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use folio_shared::image::uploaded::UploadWorker;
use folio_shared::{App, Config};
use tokio::sync::watch;
use tokio::task::JoinHandle;

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
    let app = Arc::new(App::new(config, &sdk));

    let (stop, stopped) = watch::channel(false);
    let listener = tokio::net::TcpListener::bind(options.addr)
        .await
        .with_context(|| format!("binding {}", options.addr))?;
    let addr = listener.local_addr()?;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let tasks = vec![
        server::spawn(
            listener,
            app.clone(),
            state.api_keys.clone(),
            stopped.clone(),
        ),
        pollers::spawn(
            sqs.clone(),
            provisioned.uploads_queue_url.clone(),
            Arc::new(UploadWorker { app: app.clone() }),
            stopped.clone(),
        ),
        pollers::spawn(
            sqs,
            provisioned.notifications_queue_url.clone(),
            Arc::new(app.notifier()),
            stopped,
        ),
    ];
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
