use async_trait::async_trait;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_sns::types::MessageAttributeValue;

use super::describe;
use crate::error::PortError;
use crate::ports::EventChannels;

/// The `source` of Folio's EventBridge events.
pub const EVENT_SOURCE: &str = "folio";

#[derive(Clone)]
pub struct AwsChannels {
    sns: aws_sdk_sns::Client,
    events: aws_sdk_eventbridge::Client,
}

impl AwsChannels {
    pub fn new(sns: aws_sdk_sns::Client, events: aws_sdk_eventbridge::Client) -> Self {
        AwsChannels { sns, events }
    }
}

#[async_trait]
impl EventChannels for AwsChannels {
    async fn publish_sns(
        &self,
        topic_arn: &str,
        event_type: &str,
        body: &str,
    ) -> Result<(), PortError> {
        let attribute = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(event_type)
            .build()
            .map_err(|e| PortError::backend("building an SNS attribute", e))?;
        self.sns
            .publish()
            .topic_arn(topic_arn)
            .message(body)
            .message_attributes("EventType", attribute)
            .send()
            .await
            .map_err(|e| PortError::backend("publishing to SNS", describe(e)))?;
        Ok(())
    }

    async fn put_event(
        &self,
        bus_name: &str,
        event_type: &str,
        detail: &str,
    ) -> Result<(), PortError> {
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(bus_name)
            .source(EVENT_SOURCE)
            .detail_type(event_type)
            .detail(detail)
            .build();
        let out = self
            .events
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|e| PortError::backend("putting an EventBridge event", describe(e)))?;
        if out.failed_entry_count() > 0 {
            let reason = out
                .entries()
                .iter()
                .filter_map(|e| e.error_message())
                .collect::<Vec<_>>()
                .join("; ");
            return Err(PortError::backend("putting an EventBridge event", reason));
        }
        Ok(())
    }
}
