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

/// The SDK configuration on one machine, where AWS is reached only for what a request names
/// (a job's S3 input or output with its own credentials and region): a region from the
/// environment if it gives one, else `us-east-1`, so that starting does not look for instance
/// metadata (and log three warnings about it) on a laptop.
pub async fn sdk_config_off_aws() -> SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    let named = ["AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"]
        .iter()
        .any(|name| std::env::var_os(name).is_some());
    if !named {
        loader = loader.region(aws_config::Region::new("us-east-1"));
    }
    loader.load().await
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
