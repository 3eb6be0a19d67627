//! Items in the `items` table, laid out as the DynamoDB adapters lay them out in their table
//! (`pk`, `sk`, two ordered indexes, `ExpiresAt`), each record a JSON object. A conditional
//! write is a read, a check and a write inside one write transaction: the database has one
//! writer, so nothing can come between them.

use chrono::Utc;
use rusqlite::{OptionalExtension, Transaction, params};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::db::db_error;
use crate::error::PortError;

/// One item: its key, its attributes, when it expires and where it sorts in the indexes.
#[derive(Clone, Debug, Default)]
pub struct Item {
    pub pk: String,
    pub sk: String,
    pub body: Map<String, Value>,
    pub expires_at: Option<i64>,
    pub gsi1: Option<(String, String)>,
    pub gsi2: Option<(String, String)>,
}

/// The ordered indexes: by creation (`ByStart`) and by end or last change (`ByEnd`).
#[derive(Clone, Copy, Debug)]
pub enum Index {
    Table,
    ByStart,
    ByEnd,
}

impl Item {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Item {
        Item {
            pk: pk.into(),
            sk: sk.into(),
            ..Item::default()
        }
    }

    /// An item holding `record`'s fields.
    pub fn of<T: Serialize>(
        pk: impl Into<String>,
        sk: impl Into<String>,
        record: &T,
    ) -> Result<Item, PortError> {
        Ok(Item {
            body: to_map(record)?,
            ..Item::new(pk, sk)
        })
    }

    pub fn expiring(mut self, at: i64) -> Item {
        self.expires_at = Some(at);
        self
    }

    /// The item at the same place (key, expiry, indexes) holding `record` instead.
    pub fn with_record<T: Serialize>(&self, record: &T) -> Result<Item, PortError> {
        Ok(Item {
            body: to_map(record)?,
            ..self.clone()
        })
    }

    pub fn by_start(mut self, partition: impl Into<String>, sort: impl Into<String>) -> Item {
        self.gsi1 = Some((partition.into(), sort.into()));
        self
    }

    pub fn by_end(mut self, partition: impl Into<String>, sort: impl Into<String>) -> Item {
        self.gsi2 = Some((partition.into(), sort.into()));
        self
    }

    /// The record the item holds.
    pub fn record<T: DeserializeOwned>(&self) -> Result<T, PortError> {
        serde_json::from_value(Value::Object(self.body.clone()))
            .map_err(|e| PortError::backend("decoding a record", e))
    }

    /// Whether the item is live at `now` (epoch seconds).
    pub fn live_at(&self, now: i64) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }

    pub fn is_live(&self) -> bool {
        self.live_at(Utc::now().timestamp())
    }

    pub fn text(&self, name: &str) -> Option<&str> {
        self.body.get(name).and_then(Value::as_str)
    }

    pub fn number(&self, name: &str) -> i64 {
        self.body.get(name).and_then(Value::as_i64).unwrap_or(0)
    }

    pub fn set(&mut self, name: &str, value: impl Into<Value>) {
        self.body.insert(name.to_string(), value.into());
    }

    /// Adds `by` to a numeric attribute (absent counts as 0), as DynamoDB's `ADD` does.
    pub fn add(&mut self, name: &str, by: i64) {
        let now = self.number(name);
        self.set(name, now + by);
    }
}

pub fn to_map<T: Serialize>(record: &T) -> Result<Map<String, Value>, PortError> {
    match serde_json::to_value(record) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(PortError::backend(
            "encoding a record",
            "a record is not an object",
        )),
        Err(e) => Err(PortError::backend("encoding a record", e)),
    }
}

const COLUMNS: &str = "pk, sk, body, expires_at, gsi1_pk, gsi1_sk, gsi2_pk, gsi2_sk";

fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Item> {
    let body: String = row.get(2)?;
    let body = match serde_json::from_str(&body) {
        Ok(Value::Object(map)) => map,
        _ => {
            return Err(rusqlite::Error::FromSqlConversionFailure(
                2,
                rusqlite::types::Type::Text,
                "an item's body is not a JSON object".into(),
            ));
        }
    };
    let pair = |a: Option<String>, b: Option<String>| a.zip(b);
    Ok(Item {
        pk: row.get(0)?,
        sk: row.get(1)?,
        body,
        expires_at: row.get(3)?,
        gsi1: pair(row.get(4)?, row.get(5)?),
        gsi2: pair(row.get(6)?, row.get(7)?),
    })
}

/// The item at (`pk`, `sk`), live or not.
pub fn get(tx: &Transaction<'_>, pk: &str, sk: &str) -> Result<Option<Item>, PortError> {
    tx.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM items WHERE pk = ?1 AND sk = ?2"
    ))
    .and_then(|mut s| s.query_row(params![pk, sk], from_row).optional())
    .map_err(db_error("reading an item"))
}

/// The live item at (`pk`, `sk`).
pub fn get_live(tx: &Transaction<'_>, pk: &str, sk: &str) -> Result<Option<Item>, PortError> {
    Ok(get(tx, pk, sk)?.filter(Item::is_live))
}

/// Writes `item` over whatever is at its key.
pub fn put(tx: &Transaction<'_>, item: &Item) -> Result<(), PortError> {
    let body = Value::Object(item.body.clone()).to_string();
    let (g1p, g1s) = item.gsi1.clone().unzip();
    let (g2p, g2s) = item.gsi2.clone().unzip();
    tx.prepare_cached(&format!(
        "INSERT OR REPLACE INTO items ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
    ))
    .and_then(|mut s| {
        s.execute(params![
            item.pk,
            item.sk,
            body,
            item.expires_at,
            g1p,
            g1s,
            g2p,
            g2s
        ])
    })
    .map_err(db_error("writing an item"))?;
    Ok(())
}

/// Writes `item` if no live item has its key; `ConditionFailed` otherwise.
pub fn put_new(tx: &Transaction<'_>, item: &Item) -> Result<(), PortError> {
    if get_live(tx, &item.pk, &item.sk)?.is_some() {
        return Err(PortError::ConditionFailed);
    }
    put(tx, item)
}

/// Deletes the item; whether there was one.
pub fn delete(tx: &Transaction<'_>, pk: &str, sk: &str) -> Result<bool, PortError> {
    tx.prepare_cached("DELETE FROM items WHERE pk = ?1 AND sk = ?2")
        .and_then(|mut s| s.execute(params![pk, sk]))
        .map(|n| n > 0)
        .map_err(db_error("deleting an item"))
}

/// Every item of partition `pk` whose sort key starts with `prefix`, in sort-key order.
pub fn with_prefix(tx: &Transaction<'_>, pk: &str, prefix: &str) -> Result<Vec<Item>, PortError> {
    tx.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM items WHERE pk = ?1 AND substr(sk, 1, length(?2)) = ?2 ORDER BY sk"
    ))
    .and_then(|mut s| {
        s.query_map(params![pk, prefix], from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()
    })
    .map_err(db_error("reading items"))
}

/// Up to `limit` items of `partition` in the order of `index` (each with its sort key
/// there), after the sort key `after`; and whether more follow.
pub fn page(
    tx: &Transaction<'_>,
    index: Index,
    partition: &str,
    descending: bool,
    after: Option<&str>,
    limit: usize,
) -> Result<(Vec<(String, Item)>, bool), PortError> {
    let (p, s) = match index {
        Index::Table => ("pk", "sk"),
        Index::ByStart => ("gsi1_pk", "gsi1_sk"),
        Index::ByEnd => ("gsi2_pk", "gsi2_sk"),
    };
    let (cmp, order) = if descending {
        ("<", "DESC")
    } else {
        (">", "ASC")
    };
    let after_clause = if after.is_some() {
        format!("AND {s} {cmp} ?2")
    } else {
        "AND ?2 IS NULL".to_string()
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM items WHERE {p} = ?1 {after_clause} ORDER BY {s} {order} LIMIT ?3"
    );
    let limit = limit.max(1);
    let mut items = tx
        .prepare_cached(&sql)
        .and_then(|mut stmt| {
            stmt.query_map(
                params![
                    partition,
                    after,
                    i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX)
                ],
                from_row,
            )?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(db_error("listing items"))?;
    let more = items.len() > limit;
    items.truncate(limit);
    Ok((
        items
            .into_iter()
            .map(|item| {
                let position = match index {
                    Index::Table => item.sk.clone(),
                    Index::ByStart => item.gsi1.clone().unwrap_or_default().1,
                    Index::ByEnd => item.gsi2.clone().unwrap_or_default().1,
                };
                (position, item)
            })
            .collect(),
        more,
    ))
}

/// Deletes up to `limit` items expired at `now`; how many.
pub fn sweep(tx: &Transaction<'_>, now: i64, limit: usize) -> Result<usize, PortError> {
    tx.prepare_cached(
        "DELETE FROM items WHERE (pk, sk) IN \
         (SELECT pk, sk FROM items WHERE expires_at <= ?1 LIMIT ?2)",
    )
    .and_then(|mut s| s.execute(params![now, limit as i64]))
    .map_err(db_error("removing expired items"))
}
