//! The application: configuration and the ports, built once per process (Lambda cold start
//! or `folio serve`), shared by every handler and worker.

use std::sync::Arc;

use aws_config::SdkConfig;

use crate::auth::{KeyStore, NonceStore};
use crate::aws::{
    self, AwsChannels, DynamoKeys, DynamoNonces, DynamoRates, DynamoRecords, S3Files, S3Objects,
    S3UserStorage, SqsBatches, SqsDeliveries, SqsJobs, SqsTasks, StsRoles,
};
use crate::config::{Config, ConfigError};
use crate::notify::notifier::Notifier;
use crate::notify::webhook::WebhookPoster;
use crate::ports::{
    BatchQueue, BatchStore, DeliveryLog, DeliveryQueue, EventChannels, FileStore, ImageRecords,
    JobQueue, JobStore, ObjectStore, ProjectStore, RoleAssumer, TaskQueue, TaskStore, UserStorage,
};
use crate::rate::RateLimiter;

pub struct App {
    pub config: Config,
    pub images: Arc<dyn ImageRecords>,
    pub objects: Arc<dyn ObjectStore>,
    pub deliveries: Arc<dyn DeliveryQueue>,
    pub delivery_log: Arc<dyn DeliveryLog>,
    pub channels: Arc<dyn EventChannels>,
    pub projects: Arc<dyn ProjectStore>,
    pub tasks: Arc<dyn TaskStore>,
    pub task_queue: Arc<dyn TaskQueue>,
    pub roles: Arc<dyn RoleAssumer>,
    /// The key store, when the stack authenticates with keys (`FOLIO_KEYS_KMS_KEY` set).
    pub keys: Option<Arc<dyn KeyStore>>,
    pub nonces: Arc<dyn NonceStore>,
    pub rates: Arc<dyn RateLimiter>,
    pub jobs: Arc<dyn JobStore>,
    pub job_queue: Arc<dyn JobQueue>,
    /// Folio's own bucket, where jobs keep their inputs and outputs.
    pub files: Arc<dyn FileStore>,
    /// Users' buckets, opened with the credentials a job carries.
    pub user_storage: Arc<dyn UserStorage>,
    pub batches: Arc<dyn BatchStore>,
    pub batch_queue: Arc<dyn BatchQueue>,
}

impl App {
    /// Builds the AWS adapters; no network call is made here.
    pub fn new(config: Config, sdk: &SdkConfig) -> Self {
        let records = Arc::new(DynamoRecords::new(
            aws_sdk_dynamodb::Client::new(sdk),
            &config.table,
        ));
        let ddb = aws_sdk_dynamodb::Client::new(sdk);
        // One client per service, shared by the adapters (clones share the connections).
        let s3 = aws::s3_client(sdk);
        let sqs = aws_sdk_sqs::Client::new(sdk);
        let keys = config.keys_kms_key.as_ref().map(|kms_key| {
            Arc::new(DynamoKeys::new(
                ddb.clone(),
                aws_sdk_kms::Client::new(sdk),
                &config.table,
                kms_key,
            )) as Arc<dyn KeyStore>
        });
        App {
            keys,
            nonces: Arc::new(DynamoNonces::new(ddb.clone(), &config.table)),
            rates: Arc::new(DynamoRates::new(ddb, &config.table)),
            images: records.clone(),
            projects: records.clone(),
            tasks: records.clone(),
            jobs: records.clone(),
            batches: records.clone(),
            batch_queue: Arc::new(SqsBatches::new(
                sqs.clone(),
                config.batches_queue_url.clone(),
            )),
            job_queue: Arc::new(SqsJobs::new(sqs.clone(), config.jobs_queue_url.clone())),
            files: Arc::new(S3Files::new(s3.clone())),
            user_storage: Arc::new(S3UserStorage::new(sdk.clone())),
            delivery_log: records,
            task_queue: Arc::new(SqsTasks::new(sqs.clone(), config.pdf_queue_url.clone())),
            roles: Arc::new(StsRoles::new(sdk.clone())),
            objects: Arc::new(S3Objects::new(s3)),
            deliveries: Arc::new(SqsDeliveries::new(
                sqs.clone(),
                &config.notifications_queue_url,
            )),
            channels: Arc::new(AwsChannels::new(
                aws_sdk_sns::Client::new(sdk),
                aws_sdk_eventbridge::Client::new(sdk),
            )),
            config,
        }
    }

    pub async fn from_env() -> Result<Self, ConfigError> {
        let config = Config::from_env()?;
        Ok(App::new(config, &aws::sdk_config().await))
    }

    pub fn notifier(&self) -> Notifier {
        Notifier {
            config: self.config.clone(),
            queue: self.deliveries.clone(),
            log: self.delivery_log.clone(),
            channels: self.channels.clone(),
            webhooks: WebhookPoster::new(self.config.allowed_private_networks.clone()),
        }
    }
}
