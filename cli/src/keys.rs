//! `folio keys`: issue, list and revoke the API keys and access key pairs of the key store:
//! in a data folder on one machine (the default), or in the records table in AWS or the
//! emulator (`--backend aws`, with `AWS_ENDPOINT_URL` for the emulator).

use clap::{Args, Subcommand, ValueEnum};
use folio_shared::auth::admin::{self, KeyAdmin, KeySummary};
use folio_shared::aws::DynamoKeys;
use folio_shared::tenant::Tenant;

#[derive(Args)]
pub struct KeysArgs {
    #[arg(long, value_enum, default_value = "embedded", env = "FOLIO_BACKEND")]
    pub backend: Store,
    /// The data folder on one machine (`folio serve --data`).
    #[arg(long, default_value = ".folio/data", env = "FOLIO_DATA")]
    pub data: std::path::PathBuf,
    /// The records table that holds the keys in AWS (the stack's `FOLIO_TABLE`).
    #[arg(long, env = "FOLIO_TABLE", required_if_eq("backend", "aws"))]
    pub table: Option<String>,
    /// The KMS key that encrypts signing secrets in AWS (the stack's `FOLIO_KEYS_KMS_KEY`).
    #[arg(long, env = "FOLIO_KEYS_KMS_KEY", required_if_eq("backend", "aws"))]
    pub kms_key: Option<String>,
    #[command(subcommand)]
    pub action: KeysAction,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Store {
    /// The data folder's database (its secrets sealed by the folder's master key).
    Embedded,
    /// The records table in AWS (or the emulator), secrets encrypted by KMS.
    Aws,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Kind {
    /// An `Authorization: Bearer` API key.
    Bearer,
    /// An AccessKeyId and secret for the vendors' SDKs (signed requests).
    Access,
}

#[derive(Subcommand)]
pub enum KeysAction {
    /// Issue a key for a tenant; the key (or secret) is printed once and never again.
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long, value_enum, default_value = "bearer")]
        kind: Kind,
    },
    /// Every key: its id, kind, tenant and creation time (never the key or secret).
    List,
    /// Remove a key by its id (`key-...` for a Bearer key, the AccessKeyId otherwise).
    Revoke { id: String },
}

fn line(k: &KeySummary) -> String {
    format!(
        "{}\t{:?}\t{}\t{}",
        k.key_id,
        k.kind,
        k.tenant,
        k.created.format("%Y-%m-%dT%H:%M:%SZ")
    )
}

/// Runs the command; returns what to print.
pub async fn run(args: &KeysArgs) -> anyhow::Result<String> {
    let store: Box<dyn KeyAdmin> = match args.backend {
        Store::Embedded => {
            Box::new(folio_shared::embedded::DataFolder::open(&args.data, false)?.keys())
        }
        Store::Aws => {
            let sdk = folio_shared::aws::sdk_config().await;
            Box::new(DynamoKeys::new(
                aws_sdk_dynamodb::Client::new(&sdk),
                aws_sdk_kms::Client::new(&sdk),
                args.table.as_deref().unwrap_or_default(),
                args.kms_key.as_deref().unwrap_or_default(),
            ))
        }
    };
    match &args.action {
        KeysAction::Create { tenant, kind } => {
            let tenant = Tenant::new(tenant.clone())
                .ok_or_else(|| anyhow::anyhow!("--tenant must not be empty"))?;
            Ok(match kind {
                Kind::Bearer => {
                    let key = admin::new_bearer_key();
                    let stored = store.put_bearer(&key, &tenant).await?;
                    format!("{}\nkey: {key}", line(&stored))
                }
                Kind::Access => {
                    let (id, secret) = admin::new_access_key();
                    let stored = store.put_access(&id, &secret, &tenant).await?;
                    format!(
                        "{}\nAccessKeyId: {id}\nAccessKeySecret: {secret}",
                        line(&stored)
                    )
                }
            })
        }
        KeysAction::List => Ok(store
            .list()
            .await?
            .iter()
            .map(line)
            .collect::<Vec<_>>()
            .join("\n")),
        KeysAction::Revoke { id } => match store.revoke(id).await? {
            true => Ok(format!("revoked {id}")),
            false => anyhow::bail!("no key {id}"),
        },
    }
}
