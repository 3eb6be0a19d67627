//! Keys of the local gateway, kept in one JSON file with the local webhook master secret:
//! Bearer API keys (`Authorization: Bearer <key>` -> tenant) and access key pairs for the
//! vendors' SDKs (AccessKeyId -> tenant and secret).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use folio_shared::auth::admin::KeyAdmin;
use folio_shared::tenant::Tenant;
use rand::RngCore;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct LocalState {
    /// API key -> tenant identity.
    pub api_keys: ApiKeys,
    /// AccessKeyId -> its tenant and secret (files written before signatures have none).
    #[serde(default)]
    pub access_keys: BTreeMap<String, AccessKey>,
    pub webhook_secret: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AccessKey {
    pub tenant: String,
    pub secret: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ApiKeys(Arc<BTreeMap<String, String>>);

impl LocalState {
    /// Puts the file's keys into the key store (a no-op for those already there): the file
    /// is a first-run convenience, the store is what authenticates.
    pub async fn import_into(&self, store: &dyn KeyAdmin) -> anyhow::Result<()> {
        for (key, id) in self.api_keys.0.iter() {
            let tenant = Tenant::new(id.clone()).context("a key of the keys file has no tenant")?;
            store.put_bearer(key, &tenant).await?;
        }
        for (id, key) in &self.access_keys {
            let tenant =
                Tenant::new(key.tenant.clone()).context("a key of the keys file has no tenant")?;
            store.put_access(id, &key.secret, &tenant).await?;
        }
        Ok(())
    }
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

impl LocalState {
    /// Reads the file, creating it with a development key and a secret when absent.
    /// Returns the key it created, if any.
    pub fn load_or_create(path: &Path) -> anyhow::Result<(LocalState, Option<String>)> {
        if path.exists() {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let state: LocalState = serde_json::from_str(&text)
                .with_context(|| format!("parsing {}", path.display()))?;
            return Ok((state, None));
        }
        let key = format!("folio_dev_{}", random_hex(16));
        let tenant = "local-developer".to_string();
        let state = LocalState {
            api_keys: ApiKeys(Arc::new(BTreeMap::from([(key.clone(), tenant.clone())]))),
            access_keys: BTreeMap::from([(
                format!("LTAIfolio{}", random_hex(8)),
                AccessKey {
                    tenant,
                    secret: random_hex(15),
                },
            )]),
            webhook_secret: random_hex(32),
        };
        state.save(path)?;
        Ok((state, Some(key)))
    }

    /// A state with the given `(key, tenant)` pairs (tests use several tenants).
    pub fn new(keys: &[(&str, &str)], webhook_secret: &str) -> Self {
        let keys = keys
            .iter()
            .map(|(k, t)| (k.to_string(), t.to_string()))
            .collect();
        LocalState {
            api_keys: ApiKeys(Arc::new(keys)),
            access_keys: BTreeMap::new(),
            webhook_secret: webhook_secret.to_string(),
        }
    }

    /// The state with an access key pair `(id, secret)` of `tenant` added.
    pub fn with_access_key(mut self, id: &str, secret: &str, tenant: &str) -> Self {
        self.access_keys.insert(
            id.to_string(),
            AccessKey {
                tenant: tenant.to_string(),
                secret: secret.to_string(),
            },
        );
        self
    }

    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, serde_json::to_string_pretty(self)?)
            .with_context(|| format!("writing {}", path.display()))
    }
}
