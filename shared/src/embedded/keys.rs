//! The key store, nonces and call rates on one machine, keyed as in the DynamoDB table:
//! Bearer keys by the SHA-256 of the key (the key itself is never stored), access keys by
//! id with the secret sealed by the data folder's master key.

use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};

use super::db::Database;
use super::images::RECORD;
use super::items::{self, Index, Item};
use super::master_key::MasterKey;
use crate::api::Operation;
use crate::auth::admin::{KeyAdmin, KeyKind, KeySummary, bearer_hash, bearer_key_id};
use crate::auth::{KeyStore, NonceStore, SigningKey};
use crate::error::PortError;
use crate::rate::{RateLimiter, limit_of, window};
use crate::tenant::Tenant;

const KEYS_PARTITION: &str = "KEYS";

pub struct EmbeddedKeys {
    db: Database,
    master: MasterKey,
}

impl EmbeddedKeys {
    pub fn new(db: Database, master: MasterKey) -> Self {
        EmbeddedKeys { db, master }
    }

    async fn get(&self, pk: String) -> Result<Option<Item>, PortError> {
        self.db.read(move |tx| items::get(tx, &pk, RECORD)).await
    }

    /// Writes a key item unless one is there; the stored item's summary.
    async fn put(
        &self,
        pk: String,
        kind: KeyKind,
        key_id: String,
        tenant: &Tenant,
        sealed: Option<Vec<u8>>,
    ) -> Result<KeySummary, PortError> {
        let created = Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let mut item =
            Item::new(&pk, RECORD).by_start(KEYS_PARTITION, format!("{created}#{key_id}"));
        item.set("Kind", format!("{kind:?}"));
        item.set("KeyId", key_id);
        item.set("Tenant", tenant.id());
        item.set("CreatedAt", created);
        if let Some(sealed) = sealed {
            item.set("SecretSealed", BASE64.encode(sealed));
        }
        let stored = self
            .db
            .write(move |tx| match items::get(tx, &item.pk, RECORD)? {
                Some(existing) => Ok(existing),
                None => items::put(tx, &item).map(|()| item),
            })
            .await?;
        summary(&stored).ok_or_else(|| PortError::backend("reading a key", "malformed"))
    }

    async fn key_items(&self) -> Result<Vec<Item>, PortError> {
        self.db
            .read(|tx| {
                let (page, _) =
                    items::page(tx, Index::ByStart, KEYS_PARTITION, false, None, usize::MAX)?;
                Ok(page.into_iter().map(|(_, item)| item).collect())
            })
            .await
    }
}

fn summary(item: &Item) -> Option<KeySummary> {
    Some(KeySummary {
        key_id: item.text("KeyId")?.to_string(),
        kind: match item.text("Kind")? {
            "Bearer" => KeyKind::Bearer,
            _ => KeyKind::Access,
        },
        tenant: item.text("Tenant")?.to_string(),
        created: DateTime::parse_from_rfc3339(item.text("CreatedAt")?)
            .ok()?
            .with_timezone(&Utc),
    })
}

#[async_trait]
impl KeyStore for EmbeddedKeys {
    async fn bearer(&self, key: &str) -> Result<Option<Tenant>, PortError> {
        let item = self.get(format!("APIKEY#{}", bearer_hash(key))).await?;
        Ok(item
            .and_then(|i| i.text("Tenant").map(str::to_string))
            .and_then(Tenant::new))
    }

    async fn signing_key(&self, access_key_id: &str) -> Result<Option<SigningKey>, PortError> {
        let Some(item) = self.get(format!("ACCESSKEY#{access_key_id}")).await? else {
            return Ok(None);
        };
        let malformed = || PortError::backend("reading a key", "malformed access key");
        let tenant = item
            .text("Tenant")
            .map(str::to_string)
            .and_then(Tenant::new)
            .ok_or_else(malformed)?;
        let sealed = item
            .text("SecretSealed")
            .and_then(|s| BASE64.decode(s).ok())
            .ok_or_else(malformed)?;
        let secret = String::from_utf8(self.master.open(&sealed, access_key_id)?)
            .map_err(|e| PortError::backend("decrypting a signing secret", e))?;
        Ok(Some(SigningKey { tenant, secret }))
    }
}

#[async_trait]
impl KeyAdmin for EmbeddedKeys {
    async fn put_bearer(&self, key: &str, tenant: &Tenant) -> Result<KeySummary, PortError> {
        let pk = format!("APIKEY#{}", bearer_hash(key));
        self.put(pk, KeyKind::Bearer, bearer_key_id(key), tenant, None)
            .await
    }

    async fn put_access(
        &self,
        access_key_id: &str,
        secret: &str,
        tenant: &Tenant,
    ) -> Result<KeySummary, PortError> {
        let sealed = self.master.seal(secret.as_bytes(), access_key_id)?;
        let pk = format!("ACCESSKEY#{access_key_id}");
        self.put(
            pk,
            KeyKind::Access,
            access_key_id.to_string(),
            tenant,
            Some(sealed),
        )
        .await
    }

    async fn list(&self) -> Result<Vec<KeySummary>, PortError> {
        Ok(self.key_items().await?.iter().filter_map(summary).collect())
    }

    async fn revoke(&self, key_id: &str) -> Result<bool, PortError> {
        let key_id = key_id.to_string();
        self.db
            .write(move |tx| {
                let (keys, _) =
                    items::page(tx, Index::ByStart, KEYS_PARTITION, false, None, usize::MAX)?;
                match keys.iter().find(|(_, i)| i.text("KeyId") == Some(&key_id)) {
                    Some((_, item)) => items::delete(tx, &item.pk, RECORD),
                    None => Ok(false),
                }
            })
            .await
    }
}

/// Nonces of signed requests, and per-tenant call counts, in the records.
pub struct EmbeddedGuards {
    db: Database,
}

impl EmbeddedGuards {
    pub fn new(db: Database) -> Self {
        EmbeddedGuards { db }
    }
}

#[async_trait]
impl NonceStore for EmbeddedGuards {
    async fn first_use(
        &self,
        access_key_id: &str,
        nonce: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, PortError> {
        let item =
            Item::new(format!("NONCE#{access_key_id}#{nonce}"), RECORD).expiring(until.timestamp());
        let now = now.timestamp();
        self.db
            .write(move |tx| {
                if let Some(seen) = items::get(tx, &item.pk, RECORD)?
                    && seen.live_at(now)
                {
                    return Ok(false);
                }
                items::put(tx, &item)?;
                Ok(true)
            })
            .await
    }
}

#[async_trait]
impl RateLimiter for EmbeddedGuards {
    async fn admit(&self, tenant_key: &str, op: Operation) -> Result<Option<Duration>, PortError> {
        let (second, wait) = window(Utc::now().timestamp_millis());
        let pk = format!("{tenant_key}#RATE#{}#{second}", op.name());
        let limit = i64::from(limit_of(op));
        self.db
            .write(move |tx| {
                let mut item = items::get(tx, &pk, RECORD)?
                    .unwrap_or_else(|| Item::new(&pk, RECORD).expiring(second + 60));
                if item.number("Calls") >= limit {
                    return Ok(Some(wait));
                }
                item.add("Calls", 1);
                items::put(tx, &item)?;
                Ok(None)
            })
            .await
    }
}
