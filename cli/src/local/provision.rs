//! Creates the local stack's resources in the emulator, idempotently: the upload bucket
//! (CORS, upload events to a queue), the records table (TTL), the queues with their
//! dead-letter queues, the events topic, and the KMS key of the key store's secrets.

use std::collections::HashMap;

use anyhow::Context;
use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex,
    GlobalSecondaryIndexUpdate, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_s3::types::{
    CorsConfiguration, CorsRule, Event, NotificationConfiguration, QueueConfiguration,
};
use aws_sdk_sqs::types::QueueAttributeName;
use folio_shared::aws::{BY_END, BY_START};

/// The names of a stack's resources, from one prefix.
#[derive(Clone, Debug)]
pub struct Names {
    pub bucket: String,
    pub table: String,
    pub uploads_queue: String,
    pub notifications_queue: String,
    pub pdf_queue: String,
    pub jobs_queue: String,
    pub batches_queue: String,
    pub topic: String,
    /// The alias of the KMS key that encrypts signing secrets.
    pub keys_kms_alias: String,
}

impl Names {
    pub fn new(prefix: &str) -> Self {
        Names {
            bucket: format!("{prefix}-uploads"),
            table: format!("{prefix}-records"),
            uploads_queue: format!("{prefix}-uploads"),
            // FIFO: one record's notifications are delivered in the order they were queued.
            notifications_queue: format!("{prefix}-notifications.fifo"),
            pdf_queue: format!("{prefix}-pdf-tasks"),
            jobs_queue: format!("{prefix}-jobs"),
            batches_queue: format!("{prefix}-batches"),
            topic: format!("{prefix}-events"),
            keys_kms_alias: format!("alias/{prefix}-keys"),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Provisioned {
    pub names: Names,
    pub uploads_queue_url: String,
    pub uploads_dlq_url: String,
    pub notifications_queue_url: String,
    pub notifications_dlq_url: String,
    pub pdf_queue_url: String,
    pub pdf_dlq_url: String,
    pub jobs_queue_url: String,
    pub jobs_dlq_url: String,
    pub batches_queue_url: String,
    pub batches_dlq_url: String,
    pub topic_arn: String,
    pub keys_kms_key: String,
}

impl Provisioned {
    /// Configuration values for what was provisioned; the environment overrides them.
    pub fn config_defaults(&self, webhook_secret: &str) -> HashMap<&'static str, String> {
        HashMap::from([
            ("FOLIO_TABLE", self.names.table.clone()),
            ("FOLIO_UPLOAD_BUCKETS", self.names.bucket.clone()),
            (
                "FOLIO_NOTIFICATIONS_QUEUE_URL",
                self.notifications_queue_url.clone(),
            ),
            ("FOLIO_PDF_QUEUE_URL", self.pdf_queue_url.clone()),
            ("FOLIO_JOBS_QUEUE_URL", self.jobs_queue_url.clone()),
            ("FOLIO_BATCHES_QUEUE_URL", self.batches_queue_url.clone()),
            // A batch whose scan is done looks for its end every second.
            ("FOLIO_BATCH_CHECK_SECONDS", "1".to_string()),
            ("FOLIO_EVENTS_TOPIC_ARN", self.topic_arn.clone()),
            ("FOLIO_KEYS_KMS_KEY", self.keys_kms_key.clone()),
            // The emulator's account, as its ARNs state it.
            (
                "FOLIO_ACCOUNT_ID",
                self.topic_arn
                    .split(':')
                    .nth(4)
                    .unwrap_or_default()
                    .to_string(),
            ),
            ("FOLIO_EVENT_BUS_NAME", "default".to_string()),
            ("FOLIO_WEBHOOK_SECRET", webhook_secret.to_string()),
            // Local webhook receivers listen on loopback.
            (
                "FOLIO_ALLOWED_PRIVATE_NETWORKS",
                "127.0.0.0/8,::1/128".to_string(),
            ),
        ])
    }
}

/// How many receives before a message moves to its dead-letter queue. The notifications
/// queue allows more, since the notifier itself retries through redelivery.
const UPLOADS_MAX_RECEIVES: u32 = 5;
const NOTIFICATIONS_MAX_RECEIVES: u32 = 20;
/// A PDF task is tried three times before its dead-letter worker ends it `Failed`; a run
/// that dies is tried again once the message is visible (after `PDF_VISIBILITY_SECS`).
const PDF_MAX_RECEIVES: u32 = 3;
const PDF_VISIBILITY_SECS: u32 = 120;
/// A job message (a start or a pair) is tried three times; then the dead-letter worker
/// counts the pair failed (or fails the job), so the job still ends.
const JOBS_MAX_RECEIVES: u32 = 3;
const JOBS_VISIBILITY_SECS: u32 = 120;
/// A batch message (a scanner page, an item, a check) is tried three times; then the
/// dead-letter worker counts the item failed (or fails the run), so the batch still ends.
const BATCHES_MAX_RECEIVES: u32 = 3;
const BATCHES_VISIBILITY_SECS: u32 = 120;

pub async fn provision(sdk: &SdkConfig, names: &Names) -> anyhow::Result<Provisioned> {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let (uploads_queue_url, uploads_queue_arn, uploads_dlq_url) =
        queue_with_dlq(&sqs, &names.uploads_queue, UPLOADS_MAX_RECEIVES, 60).await?;
    let (notifications_queue_url, _, notifications_dlq_url) = queue_with_dlq(
        &sqs,
        &names.notifications_queue,
        NOTIFICATIONS_MAX_RECEIVES,
        60,
    )
    .await?;
    let (pdf_queue_url, _, pdf_dlq_url) = queue_with_dlq(
        &sqs,
        &names.pdf_queue,
        PDF_MAX_RECEIVES,
        PDF_VISIBILITY_SECS,
    )
    .await?;
    let (jobs_queue_url, _, jobs_dlq_url) = queue_with_dlq(
        &sqs,
        &names.jobs_queue,
        JOBS_MAX_RECEIVES,
        JOBS_VISIBILITY_SECS,
    )
    .await?;
    let (batches_queue_url, _, batches_dlq_url) = queue_with_dlq(
        &sqs,
        &names.batches_queue,
        BATCHES_MAX_RECEIVES,
        BATCHES_VISIBILITY_SECS,
    )
    .await?;
    bucket(sdk, &names.bucket, &uploads_queue_arn).await?;
    table(sdk, &names.table).await?;
    let topic_arn = aws_sdk_sns::Client::new(sdk)
        .create_topic()
        .name(&names.topic)
        .send()
        .await
        .context("creating the events topic")?
        .topic_arn
        .context("the emulator returned no topic ARN")?;
    let keys_kms_key = kms_key(sdk, &names.keys_kms_alias).await?;
    Ok(Provisioned {
        names: names.clone(),
        uploads_queue_url,
        uploads_dlq_url,
        notifications_queue_url,
        notifications_dlq_url,
        pdf_queue_url,
        pdf_dlq_url,
        jobs_queue_url,
        jobs_dlq_url,
        batches_queue_url,
        batches_dlq_url,
        topic_arn,
        keys_kms_key,
    })
}

/// The KMS key behind `alias`, created with the alias when there is none; returns the alias.
async fn kms_key(sdk: &SdkConfig, alias: &str) -> anyhow::Result<String> {
    let kms = aws_sdk_kms::Client::new(sdk);
    if kms.describe_key().key_id(alias).send().await.is_ok() {
        return Ok(alias.to_string());
    }
    let key = kms
        .create_key()
        .description("Folio key store: encrypts access keys' signing secrets")
        .send()
        .await
        .context("creating the key store's KMS key")?
        .key_metadata
        .context("the emulator described no KMS key")?;
    kms.create_alias()
        .alias_name(alias)
        .target_key_id(key.key_id())
        .send()
        .await
        .context("naming the key store's KMS key")?;
    Ok(alias.to_string())
}

async fn queue_arn(sqs: &aws_sdk_sqs::Client, url: &str) -> anyhow::Result<String> {
    sqs.get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .context("reading a queue ARN")?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .context("the emulator returned no queue ARN")
}

/// `(url, arn, dlq url)` of a queue whose messages move to `<name>-dlq` after `max_receives`.
/// A name ending in `.fifo` makes both queues FIFO (`<name>-dlq.fifo` for the DLQ).
async fn queue_with_dlq(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    max_receives: u32,
    visibility_secs: u32,
) -> anyhow::Result<(String, String, String)> {
    let fifo = name.ends_with(".fifo");
    let dlq_name = match name.strip_suffix(".fifo") {
        Some(base) => format!("{base}-dlq.fifo"),
        None => format!("{name}-dlq"),
    };
    let with_fifo =
        |request: aws_sdk_sqs::operation::create_queue::builders::CreateQueueFluentBuilder| {
            if fifo {
                request.attributes(QueueAttributeName::FifoQueue, "true")
            } else {
                request
            }
        };
    let dlq_url = with_fifo(sqs.create_queue())
        .queue_name(&dlq_name)
        .attributes(QueueAttributeName::MessageRetentionPeriod, "1209600")
        .send()
        .await
        .with_context(|| format!("creating {dlq_name}"))?
        .queue_url
        .context("the emulator returned no queue URL")?;
    let dlq_arn = queue_arn(sqs, &dlq_url).await?;
    let redrive = serde_json::json!({
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": max_receives.to_string(),
    });
    let url = with_fifo(sqs.create_queue())
        .queue_name(name)
        .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
        .attributes(
            QueueAttributeName::VisibilityTimeout,
            visibility_secs.to_string(),
        )
        .send()
        .await
        .with_context(|| format!("creating {name}"))?
        .queue_url
        .context("the emulator returned no queue URL")?;
    let arn = queue_arn(sqs, &url).await?;
    Ok((url, arn, dlq_url))
}

async fn bucket(sdk: &SdkConfig, name: &str, uploads_queue_arn: &str) -> anyhow::Result<()> {
    let s3 = folio_shared::aws::s3_client(sdk);
    if let Err(e) = s3.create_bucket().bucket(name).send().await {
        let owned = e
            .as_service_error()
            .is_some_and(|s| s.is_bucket_already_owned_by_you());
        if !owned {
            return Err(e).with_context(|| format!("creating bucket {name}"));
        }
    }
    let cors = CorsRule::builder()
        .allowed_methods("PUT")
        .allowed_methods("GET")
        .allowed_origins("*")
        .allowed_headers("*")
        .max_age_seconds(3000)
        .build()?;
    s3.put_bucket_cors()
        .bucket(name)
        .cors_configuration(CorsConfiguration::builder().cors_rules(cors).build()?)
        .send()
        .await
        .context("setting the upload bucket's CORS rules")?;
    let uploads = QueueConfiguration::builder()
        .queue_arn(uploads_queue_arn)
        .events(Event::S3ObjectCreated)
        .filter(
            aws_sdk_s3::types::NotificationConfigurationFilter::builder()
                .key(
                    aws_sdk_s3::types::S3KeyFilter::builder()
                        .filter_rules(
                            aws_sdk_s3::types::FilterRule::builder()
                                .name(aws_sdk_s3::types::FilterRuleName::Prefix)
                                .value("images/")
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .build()?;
    s3.put_bucket_notification_configuration()
        .bucket(name)
        .notification_configuration(
            NotificationConfiguration::builder()
                .queue_configurations(uploads)
                .build(),
        )
        .send()
        .await
        .context("sending the upload bucket's events to the uploads queue")?;
    Ok(())
}

async fn table(sdk: &SdkConfig, name: &str) -> anyhow::Result<()> {
    let ddb = aws_sdk_dynamodb::Client::new(sdk);
    let key = |n: &str, t: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
    };
    let attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
    };
    // The task indexes: tasks by start time and by end time (see the records adapter).
    let index = |index: &str, pk: &str, sk: &str| -> anyhow::Result<GlobalSecondaryIndex> {
        Ok(GlobalSecondaryIndex::builder()
            .index_name(index)
            .key_schema(key(pk, KeyType::Hash)?)
            .key_schema(key(sk, KeyType::Range)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()?)
    };
    let mut create = ddb
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .global_secondary_indexes(index(BY_START, "Gsi1Pk", "Gsi1Sk")?)
        .global_secondary_indexes(index(BY_END, "Gsi2Pk", "Gsi2Sk")?);
    for name in ["pk", "sk", "Gsi1Pk", "Gsi1Sk", "Gsi2Pk", "Gsi2Sk"] {
        create = create.attribute_definitions(attr(name)?);
    }
    match create.send().await {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_in_use_exception()) =>
        {
            return add_missing_indexes(&ddb, name, &index, &attr).await;
        }
        Err(e) => return Err(e).with_context(|| format!("creating table {name}")),
    }
    ddb.update_time_to_live()
        .table_name(name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name("ExpiresAt")
                .enabled(true)
                .build()?,
        )
        .send()
        .await
        .context("enabling the table's TTL")?;
    Ok(())
}

/// A table made before tasks existed gets their indexes.
async fn add_missing_indexes(
    ddb: &aws_sdk_dynamodb::Client,
    name: &str,
    index: &dyn Fn(&str, &str, &str) -> anyhow::Result<GlobalSecondaryIndex>,
    attr: &dyn Fn(&str) -> Result<AttributeDefinition, aws_sdk_dynamodb::error::BuildError>,
) -> anyhow::Result<()> {
    let table = ddb
        .describe_table()
        .table_name(name)
        .send()
        .await
        .with_context(|| format!("describing table {name}"))?
        .table
        .context("the emulator described no table")?;
    let existing: Vec<String> = table
        .global_secondary_indexes()
        .iter()
        .filter_map(|i| i.index_name().map(str::to_string))
        .collect();
    for (index_name, pk, sk) in [(BY_START, "Gsi1Pk", "Gsi1Sk"), (BY_END, "Gsi2Pk", "Gsi2Sk")] {
        if existing.iter().any(|e| e == index_name) {
            continue;
        }
        let created = index(index_name, pk, sk)?;
        let update = GlobalSecondaryIndexUpdate::builder()
            .create(
                CreateGlobalSecondaryIndexAction::builder()
                    .index_name(index_name)
                    .set_key_schema(Some(created.key_schema().to_vec()))
                    .set_projection(created.projection().cloned())
                    .build()?,
            )
            .build();
        ddb.update_table()
            .table_name(name)
            .attribute_definitions(attr(pk)?)
            .attribute_definitions(attr(sk)?)
            .global_secondary_index_updates(update)
            .send()
            .await
            .with_context(|| format!("adding index {index_name} to table {name}"))?;
    }
    Ok(())
}
