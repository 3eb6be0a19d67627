//! AWS adapters of the ports. The only module that knows the SDK.

mod channels;
mod dynamo;
mod dynamo_batches;
mod dynamo_jobs;
mod dynamo_tasks;
mod files;
mod keys;
mod rates;
mod s3;
mod sqs;
mod task_storage;

pub use channels::AwsChannels;
pub use dynamo::DynamoRecords;
pub use dynamo_batches::SHARDS;
pub use dynamo_tasks::{BY_END, BY_START};
pub use files::{S3Files, S3UserStorage};
pub use keys::{DynamoKeys, DynamoNonces, SECRET_CACHE};
pub use rates::DynamoRates;
pub use s3::S3Objects;
pub use sqs::{SqsBatches, SqsDeliveries, SqsJobs, SqsTasks};
pub use task_storage::StsRoles;

use aws_config::SdkConfig;

/// The shared SDK configuration: region, credentials and `AWS_ENDPOINT_URL` from the standard
/// sources, so local and cloud differ only in configuration.
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await
}

/// An S3 client; path-style addressing when an endpoint is set (emulators need it).
pub fn s3_client(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(sdk.endpoint_url().is_some())
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// An SDK error as one readable line, with the service's code and message.
fn describe<E: std::error::Error>(error: E) -> String {
    aws_sdk_s3::error::DisplayErrorContext(error).to_string()
}
