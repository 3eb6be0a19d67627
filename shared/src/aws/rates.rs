//! Call counts in the records table: `pk` = `<tenant key>#RATE#<operation>#<second>`, one
//! atomic `ADD` a call, refused by its condition once the second's limit is reached, kept a
//! minute after.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use chrono::Utc;

use super::dynamo::{RECORD, conditional, n, s};
use crate::api::Operation;
use crate::error::PortError;
use crate::rate::{RateLimiter, limit_of, window};

pub struct DynamoRates {
    client: Client,
    table: String,
}

impl DynamoRates {
    pub fn new(client: Client, table: &str) -> Self {
        DynamoRates {
            client,
            table: table.to_string(),
        }
    }
}

#[async_trait]
impl RateLimiter for DynamoRates {
    async fn admit(&self, tenant_key: &str, op: Operation) -> Result<Option<Duration>, PortError> {
        let (second, wait) = window(Utc::now().timestamp_millis());
        let counted = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(format!("{tenant_key}#RATE#{}#{second}", op.name())))
            .key("sk", s(RECORD))
            .update_expression("ADD Calls :one SET ExpiresAt = :expires")
            .condition_expression("attribute_not_exists(Calls) OR Calls < :limit")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(limit_of(op).into()))
            .expression_attribute_values(":expires", n(second + 60))
            .send()
            .await;
        match counted.map_err(|e| conditional("counting a call", e)) {
            Ok(_) => Ok(None),
            Err(PortError::ConditionFailed) => Ok(Some(wait)),
            Err(e) => Err(e),
        }
    }
}
