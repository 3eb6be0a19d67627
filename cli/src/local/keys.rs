//! API keys of the local gateway (`Authorization: Bearer <key>` -> tenant) and the local
//! webhook master secret, kept in one JSON file.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use folio_shared::tenant::Tenant;
use rand::RngCore;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct LocalState {
    /// API key -> tenant identity.
    pub api_keys: ApiKeys,
    pub webhook_secret: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ApiKeys(Arc<BTreeMap<String, String>>);

impl ApiKeys {
    pub fn tenant(&self, key: &str) -> Option<Tenant> {
        self.0.get(key).and_then(|id| Tenant::new(id.clone()))
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
        let state = LocalState {
            api_keys: ApiKeys(Arc::new(BTreeMap::from([(
                key.clone(),
                "local-developer".to_string(),
            )]))),
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
            webhook_secret: webhook_secret.to_string(),
        }
    }

    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, serde_json::to_string_pretty(self)?)
            .with_context(|| format!("writing {}", path.display()))
    }
}
