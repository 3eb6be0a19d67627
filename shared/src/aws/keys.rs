//! The key store in the records table, and the nonces of signed requests.
//!
//! - Bearer key: `pk` = `APIKEY#<SHA-256 of the key>`: the key itself is never stored.
//! - Access key: `pk` = `ACCESSKEY#<AccessKeyId>`, the secret encrypted by KMS (the
//!   signature check needs it back; the encryption context binds it to its id).
//! - Both carry `Gsi1Pk` = `KEYS` in the `ByStart` index, so that listing them reads the
//!   keys only, not the table.
//! - Nonce: `pk` = `NONCE#<AccessKeyId>#<nonce>`, written only if absent or expired, with
//!   `ExpiresAt` for DynamoDB's TTL.
//!
//! Decrypted secrets are kept in memory for [`SECRET_CACHE`], so a revoked key may work for
//! that long in a process that used it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_kms::primitives::Blob;
use chrono::{DateTime, Utc};

use super::describe;
use super::dynamo::{Item, RECORD, conditional, n, s};
use super::dynamo_tasks::BY_START;
use crate::auth::admin::{KeyAdmin, KeyKind, KeySummary, bearer_hash, bearer_key_id};
use crate::auth::{KeyStore, NonceStore, SigningKey};
use crate::error::PortError;
use crate::tenant::Tenant;

/// How long a decrypted secret is reused before the store is read again.
pub const SECRET_CACHE: Duration = Duration::from_secs(60);
const KEYS_PARTITION: &str = "KEYS";

pub struct DynamoKeys {
    ddb: Client,
    kms: aws_sdk_kms::Client,
    table: String,
    kms_key_id: String,
    secrets: Mutex<HashMap<String, (SigningKey, Instant)>>,
}

fn key_of(pk: String) -> Item {
    HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(RECORD))])
}

fn text(item: &Item, name: &str) -> Option<String> {
    item.get(name)?.as_s().ok().cloned()
}

fn summary(item: &Item) -> Option<KeySummary> {
    Some(KeySummary {
        key_id: text(item, "KeyId")?,
        kind: match text(item, "Kind")?.as_str() {
            "Bearer" => KeyKind::Bearer,
            _ => KeyKind::Access,
        },
        tenant: text(item, "Tenant")?,
        created: DateTime::parse_from_rfc3339(&text(item, "CreatedAt")?)
            .ok()?
            .with_timezone(&Utc),
    })
}

impl DynamoKeys {
    pub fn new(ddb: Client, kms: aws_sdk_kms::Client, table: &str, kms_key_id: &str) -> Self {
        DynamoKeys {
            ddb,
            kms,
            table: table.to_string(),
            kms_key_id: kms_key_id.to_string(),
            secrets: Mutex::new(HashMap::new()),
        }
    }

    async fn get(&self, pk: String) -> Result<Option<Item>, PortError> {
        let out = self
            .ddb
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_of(pk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| PortError::backend("reading a key", describe(e)))?;
        Ok(out.item)
    }

    /// Writes a key item unless one is there; returns the stored item's summary.
    async fn put(&self, pk: String, mut item: Item) -> Result<KeySummary, PortError> {
        item.extend(key_of(pk.clone()));
        item.insert("Gsi1Pk".into(), s(KEYS_PARTITION));
        let created = text(&item, "CreatedAt").unwrap_or_default();
        let id = text(&item, "KeyId").unwrap_or_default();
        item.insert("Gsi1Sk".into(), s(format!("{created}#{id}")));
        let written = self
            .ddb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item.clone()))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        let stored = match written.map_err(|e| conditional("writing a key", e)) {
            Ok(_) => item,
            Err(PortError::ConditionFailed) => self.get(pk).await?.unwrap_or_default(),
            Err(e) => return Err(e),
        };
        summary(&stored).ok_or_else(|| PortError::backend("reading a key", "malformed"))
    }

    /// Every key item, through the index.
    async fn key_items(&self) -> Result<Vec<Item>, PortError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .ddb
                .query()
                .table_name(&self.table)
                .index_name(BY_START)
                .key_condition_expression("Gsi1Pk = :keys")
                .expression_attribute_values(":keys", s(KEYS_PARTITION))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| PortError::backend("listing keys", describe(e)))?;
            items.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    async fn decrypt(&self, access_key_id: &str, ciphertext: Blob) -> Result<String, PortError> {
        let out = self
            .kms
            .decrypt()
            .ciphertext_blob(ciphertext)
            .key_id(&self.kms_key_id)
            .encryption_context("AccessKeyId", access_key_id)
            .send()
            .await
            .map_err(|e| PortError::backend("decrypting a signing secret", describe(e)))?;
        let plain = out
            .plaintext
            .ok_or_else(|| PortError::backend("decrypting a signing secret", "no plaintext"))?;
        String::from_utf8(plain.into_inner())
            .map_err(|e| PortError::backend("decrypting a signing secret", e))
    }
}

/// Whether a conditional write was made (`false`: its condition did not hold).
fn held<T>(result: Result<T, PortError>) -> Result<bool, PortError> {
    match result {
        Ok(_) => Ok(true),
        Err(PortError::ConditionFailed) => Ok(false),
        Err(e) => Err(e),
    }
}

fn new_item(kind: &str, key_id: &str, tenant: &Tenant) -> Item {
    HashMap::from([
        ("Kind".to_string(), s(kind)),
        ("KeyId".to_string(), s(key_id)),
        ("Tenant".to_string(), s(tenant.id())),
        (
            "CreatedAt".to_string(),
            s(Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()),
        ),
    ])
}

#[async_trait]
impl KeyStore for DynamoKeys {
    async fn bearer(&self, key: &str) -> Result<Option<Tenant>, PortError> {
        let item = self.get(format!("APIKEY#{}", bearer_hash(key))).await?;
        Ok(item.and_then(|i| text(&i, "Tenant")).and_then(Tenant::new))
    }

    async fn signing_key(&self, access_key_id: &str) -> Result<Option<SigningKey>, PortError> {
        {
            // A poisoned lock means a panic mid-insert; the map is still a valid map.
            let cache = self.secrets.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((key, at)) = cache.get(access_key_id)
                && at.elapsed() < SECRET_CACHE
            {
                return Ok(Some(key.clone()));
            }
        }
        let Some(item) = self.get(format!("ACCESSKEY#{access_key_id}")).await? else {
            return Ok(None);
        };
        let (Some(tenant), Some(AttributeValue::B(ciphertext))) = (
            text(&item, "Tenant").and_then(Tenant::new),
            item.get("SecretCiphertext").cloned(),
        ) else {
            return Err(PortError::backend("reading a key", "malformed access key"));
        };
        let secret = self.decrypt(access_key_id, ciphertext).await?;
        let key = SigningKey { tenant, secret };
        self.secrets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(access_key_id.to_string(), (key.clone(), Instant::now()));
        Ok(Some(key))
    }
}

#[async_trait]
impl KeyAdmin for DynamoKeys {
    async fn put_bearer(&self, key: &str, tenant: &Tenant) -> Result<KeySummary, PortError> {
        let item = new_item("Bearer", &bearer_key_id(key), tenant);
        self.put(format!("APIKEY#{}", bearer_hash(key)), item).await
    }

    async fn put_access(
        &self,
        access_key_id: &str,
        secret: &str,
        tenant: &Tenant,
    ) -> Result<KeySummary, PortError> {
        let encrypted = self
            .kms
            .encrypt()
            .key_id(&self.kms_key_id)
            .plaintext(Blob::new(secret.as_bytes()))
            .encryption_context("AccessKeyId", access_key_id)
            .send()
            .await
            .map_err(|e| PortError::backend("encrypting a signing secret", describe(e)))?;
        let ciphertext = encrypted
            .ciphertext_blob
            .ok_or_else(|| PortError::backend("encrypting a signing secret", "no ciphertext"))?;
        let mut item = new_item("Access", access_key_id, tenant);
        item.insert("SecretCiphertext".into(), AttributeValue::B(ciphertext));
        self.put(format!("ACCESSKEY#{access_key_id}"), item).await
    }

    async fn list(&self) -> Result<Vec<KeySummary>, PortError> {
        Ok(self.key_items().await?.iter().filter_map(summary).collect())
    }

    async fn revoke(&self, key_id: &str) -> Result<bool, PortError> {
        // A Bearer key is stored under its hash: it is found by its id among the keys.
        let found = self
            .key_items()
            .await?
            .into_iter()
            .find(|item| text(item, "KeyId").as_deref() == Some(key_id))
            .and_then(|item| text(&item, "pk"));
        let Some(pk) = found else {
            return Ok(false);
        };
        let deleted = self
            .ddb
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_of(pk)))
            .condition_expression("attribute_exists(pk)")
            .send()
            .await;
        self.secrets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key_id);
        held(deleted.map_err(|e| conditional("revoking a key", e)))
    }
}

pub struct DynamoNonces {
    ddb: Client,
    table: String,
}

impl DynamoNonces {
    pub fn new(ddb: Client, table: &str) -> Self {
        DynamoNonces {
            ddb,
            table: table.to_string(),
        }
    }
}

#[async_trait]
impl NonceStore for DynamoNonces {
    async fn first_use(
        &self,
        access_key_id: &str,
        nonce: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, PortError> {
        let mut item = key_of(format!("NONCE#{access_key_id}#{nonce}"));
        item.insert("ExpiresAt".into(), n(until.timestamp()));
        let written = self
            .ddb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            // DynamoDB removes expired items late: an expired nonce counts as absent.
            .condition_expression("attribute_not_exists(pk) OR ExpiresAt < :now")
            .expression_attribute_values(":now", n(now.timestamp()))
            .send()
            .await;
        held(written.map_err(|e| conditional("recording a nonce", e)))
    }
}
