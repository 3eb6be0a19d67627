//! A whole Folio stack per test, in-process, against the emulator `make test` started:
//! uniquely named resources, two tenants, an HTTP client speaking to the local gateway.

use std::time::Duration;

use base64::Engine;
use folio_cli::local::{self, Backend, LocalState, Running, ServeOptions};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

pub const ALICE: &str = "key-alice";
pub const BOB: &str = "key-bob";
pub const MASTER_SECRET: &str = "test-master-secret";
/// Alice's access key pair, for the vendors' SDKs.
pub const ALICE_ACCESS_KEY_ID: &str = "LTAItestalice";
pub const ALICE_ACCESS_KEY_SECRET: &str = "secret-of-alice";

/// Where a test's stack runs: the AWS adapters against the emulator, or one machine.
#[derive(Clone, Copy, Debug)]
pub enum Home {
    Aws,
    OneMachine,
}

/// Runs one test body on both backends: `<name>::on_aws` and `<name>::on_one_machine`.
#[macro_export]
macro_rules! on_both_backends {
    ($(#[doc = $doc:literal])* async fn $name:ident($home:ident) $body:block) => {
        $(#[doc = $doc])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn body($home: $crate::harness::Home) $body
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_aws() {
                body($crate::harness::Home::Aws).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_one_machine() {
                body($crate::harness::Home::OneMachine).await
            }
        }
    };
}

pub struct Stack {
    pub base: String,
    pub running: Running,
    pub sdk: aws_config::SdkConfig,
    pub http: reqwest::Client,
}

pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    /// The `Message` of an error reply.
    pub fn message(&self) -> &str {
        self.body["Message"].as_str().unwrap_or_default()
    }
}

/// A new, empty data folder for a stack on one machine.
pub fn new_data_folder() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("folio-tests/data-{}", unique("")))
}

pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

impl Stack {
    pub async fn start() -> Stack {
        Stack::start_with(Vec::new()).await
    }

    pub async fn start_with(config_overrides: Vec<(&'static str, String)>) -> Stack {
        assert!(
            std::env::var_os("AWS_ENDPOINT_URL").is_some(),
            "the integration tests need the AWS emulator: run them with `make test`"
        );
        let prefix = unique("t");
        Stack::start_on(Backend::Aws { prefix }, config_overrides).await
    }

    /// What the AWS backend provisioned (tests of that backend only).
    pub fn aws(&self) -> &folio_cli::local::Provisioned {
        self.running
            .provisioned
            .as_ref()
            .expect("this stack runs on the AWS backend")
    }

    /// A stack at `home` with these configuration values.
    pub async fn at(home: Home, config_overrides: Vec<(&'static str, String)>) -> Stack {
        match home {
            Home::Aws => Stack::start_with(config_overrides).await,
            Home::OneMachine => Stack::embedded_at(&new_data_folder(), config_overrides).await,
        }
    }

    /// The keys of the objects under `prefix` in `bucket`, whichever the backend.
    pub async fn keys_in(&self, bucket: &str, prefix: &str) -> Vec<String> {
        use folio_shared::ports::TaskStorage;
        if let Some(data) = &self.running.data {
            let folder = folio_shared::embedded::DataFolder::open(data, false).expect("the folder");
            let buckets = folder.buckets("").expect("the buckets");
            return buckets
                .list(bucket, prefix, "", 1000)
                .await
                .expect("listed")
                .0;
        }
        folio_shared::aws::s3_client(&self.sdk)
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .send()
            .await
            .expect("listed")
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_string))
            .collect()
    }

    /// A stack on one machine, in a new data folder.
    pub async fn embedded() -> Stack {
        Stack::embedded_at(&new_data_folder(), Vec::new()).await
    }

    /// A stack on one machine over the data folder `data` (kept across stacks: a restart).
    pub async fn embedded_at(
        data: &std::path::Path,
        config_overrides: Vec<(&'static str, String)>,
    ) -> Stack {
        let backend = Backend::Embedded {
            data: data.to_path_buf(),
        };
        Stack::start_on(backend, config_overrides).await
    }

    async fn start_on(backend: Backend, config_overrides: Vec<(&'static str, String)>) -> Stack {
        let state_file = std::env::temp_dir().join(format!("folio-tests/{}.json", unique("s")));
        LocalState::new(
            &[(ALICE, "tenant-alice"), (BOB, "tenant-bob")],
            MASTER_SECRET,
        )
        .with_access_key(ALICE_ACCESS_KEY_ID, ALICE_ACCESS_KEY_SECRET, "tenant-alice")
        .save(&state_file)
        .expect("writing the test state file");
        let running = local::start(ServeOptions {
            addr: "127.0.0.1:0".parse().expect("a socket address"),
            backend,
            workers: Some(2),
            state_file,
            config_overrides,
        })
        .await
        .expect("starting the local stack");
        Stack {
            base: format!("http://{}", running.addr),
            running,
            sdk: folio_shared::aws::sdk_config().await,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("an HTTP client"),
        }
    }

    /// A bucket of the data folder (one machine) holding `objects`, made as a user would:
    /// a folder and files copied in.
    pub fn local_bucket(&self, prefix: &str, objects: &[(&str, Vec<u8>)]) -> String {
        let data = self.running.data.as_ref().expect("a stack on one machine");
        let bucket = unique(prefix);
        for (key, bytes) in objects {
            let path = data.join("buckets").join(&bucket).join(key);
            std::fs::create_dir_all(path.parent().expect("a folder")).expect("making a folder");
            std::fs::write(&path, bytes).expect("copying a file in");
        }
        std::fs::create_dir_all(data.join("buckets").join(&bucket)).expect("making a bucket");
        bucket
    }

    pub async fn post(&self, key: &str, operation: &str, body: Value) -> Reply {
        let response = self
            .http
            .post(format!("{}/{operation}", self.base))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .expect("the gateway answers");
        reply(response).await
    }

    pub async fn get(&self, key: &str, operation: &str, query: &[(&str, &str)]) -> Reply {
        let response = self
            .http
            .get(format!("{}/{operation}", self.base))
            .bearer_auth(key)
            .query(query)
            .send()
            .await
            .expect("the gateway answers");
        reply(response).await
    }

    /// CreateUploadImage; returns the reply body and the upload URL from `UploadAuth`.
    pub async fn create_upload(&self, key: &str, request: Value) -> (Value, String) {
        let reply = self.post(key, "CreateUploadImage", request).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let auth = base64::engine::general_purpose::STANDARD
            .decode(reply.body["UploadAuth"].as_str().expect("UploadAuth"))
            .expect("UploadAuth is Base64");
        let auth: Value = serde_json::from_slice(&auth).expect("UploadAuth is JSON");
        let url = auth["UploadURL"].as_str().expect("UploadURL").to_string();
        (reply.body, url)
    }

    /// CreateUploadImage, then PUT `bytes` to its upload URL; returns the image id.
    pub async fn upload(&self, key: &str, request: Value, bytes: Vec<u8>) -> String {
        let (created, url) = self.create_upload(key, request).await;
        self.put(&url, bytes).await;
        created["ImageId"].as_str().expect("ImageId").to_string()
    }

    pub async fn put(&self, url: &str, bytes: Vec<u8>) {
        let response = self
            .http
            .put(url)
            .body(bytes)
            .send()
            .await
            .expect("the upload URL answers");
        assert!(
            response.status().is_success(),
            "upload failed: {}",
            response.status()
        );
    }

    pub async fn info(&self, key: &str, image_id: &str) -> Reply {
        self.get(key, "GetImageInfos", &[("ImageIds", image_id)])
            .await
    }

    /// Polls GetImageInfos until the image leaves `Uploading` (at most 30 s).
    pub async fn wait_processed(&self, key: &str, image_id: &str) -> Value {
        for _ in 0..150 {
            let reply = self.info(key, image_id).await;
            let info = &reply.body["ImageInfo"][0];
            if info["Status"] != json!("Uploading") && !info.is_null() {
                return info.clone();
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("image {image_id} was not processed within 30 s");
    }

    /// The recorded delivery attempts of an image's events, oldest first per target.
    pub async fn attempts(&self, tenant: &str, image_id: &str) -> Vec<Value> {
        let tenant = folio_shared::tenant::Tenant::new(tenant).expect("a tenant");
        if let Some(data) = &self.running.data {
            // The same records, as the one-machine backend keeps them.
            let db = rusqlite::Connection::open_with_flags(
                data.join("folio.db"),
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )
            .expect("the database");
            let mut statement = db
                .prepare(
                    "SELECT body FROM items WHERE pk = ?1 AND substr(sk, 1, 9) = 'DELIVERY#' \
                     ORDER BY sk",
                )
                .expect("a query");
            let pk = format!("{}#IMAGE#{image_id}", tenant.key());
            let bodies: Vec<String> = statement
                .query_map([pk], |row| row.get(0))
                .expect("queried")
                .collect::<Result<_, _>>()
                .expect("rows");
            return bodies
                .iter()
                .map(|b| {
                    let item: Value = serde_json::from_str(b).expect("JSON");
                    let get = |k: &str| item[k].clone();
                    json!({"Target": get("Target"), "Outcome": get("Outcome"), "EventId": get("EventId"),
                           "Number": get("Number").to_string(),
                           "Detail": item.get("Detail").cloned().unwrap_or(json!(""))})
                })
                .collect();
        }
        let out = aws_sdk_dynamodb::Client::new(&self.sdk)
            .query()
            .table_name(&self.aws().names.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :d)")
            .expression_attribute_values(
                ":pk",
                aws_sdk_dynamodb::types::AttributeValue::S(format!(
                    "{}#IMAGE#{image_id}",
                    tenant.key()
                )),
            )
            .expression_attribute_values(
                ":d",
                aws_sdk_dynamodb::types::AttributeValue::S("DELIVERY#".into()),
            )
            .consistent_read(true)
            .send()
            .await
            .expect("querying attempts");
        out.items()
            .iter()
            .map(|item| {
                let get = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
                let number = item.get("Number").and_then(|v| v.as_n().ok()).cloned().unwrap_or_default();
                json!({"Target": get("Target"), "Outcome": get("Outcome"), "EventId": get("EventId"),
                       "Number": number, "Detail": get("Detail")})
            })
            .collect()
    }

    /// A new queue subscribed to the SNS topic `topic_arn`; returns the queue's URL.
    pub async fn subscribe_queue(&self, topic_arn: &str) -> String {
        let sqs = aws_sdk_sqs::Client::new(&self.sdk);
        let queue = sqs
            .create_queue()
            .queue_name(unique("sns-probe-"))
            .send()
            .await
            .expect("creating a queue")
            .queue_url
            .expect("a queue URL");
        let arn = sqs
            .get_queue_attributes()
            .queue_url(&queue)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("reading the queue ARN")
            .attributes
            .and_then(|mut a| a.remove(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
            .expect("a queue ARN");
        aws_sdk_sns::Client::new(&self.sdk)
            .subscribe()
            .topic_arn(topic_arn)
            .protocol("sqs")
            .endpoint(arn)
            .send()
            .await
            .expect("subscribing the queue");
        queue
    }

    /// The first SNS message that reaches `queue` (at most 20 s), unwrapped.
    pub async fn receive_sns(&self, queue: &str) -> Value {
        let sqs = aws_sdk_sqs::Client::new(&self.sdk);
        for _ in 0..20 {
            let out = sqs
                .receive_message()
                .queue_url(queue)
                .wait_time_seconds(1)
                .send()
                .await
                .expect("receiving");
            if let Some(message) = out.messages().first() {
                let envelope: Value =
                    serde_json::from_str(message.body().unwrap_or_default()).expect("SNS JSON");
                return serde_json::from_str(envelope["Message"].as_str().unwrap_or_default())
                    .expect("an event");
            }
        }
        panic!("no SNS message reached {queue} within 20 s");
    }

    /// A new bucket in the emulator (its name starting with `prefix`) holding `objects`.
    pub async fn bucket_with(&self, prefix: &str, objects: &[(&str, Vec<u8>)]) -> String {
        if self.running.data.is_some() {
            return self.local_bucket(prefix, objects);
        }
        self.s3_bucket_with(prefix, objects).await
    }

    /// A new bucket in S3 (the emulator) holding `objects`, whichever the backend: where
    /// jobs' cloud inputs and output targets go with the credentials they carry.
    pub async fn s3_bucket_with(&self, prefix: &str, objects: &[(&str, Vec<u8>)]) -> String {
        let s3 = folio_shared::aws::s3_client(&self.sdk);
        let bucket = unique(prefix);
        s3.create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .expect("creating a bucket");
        for (key, bytes) in objects {
            s3.put_object()
                .bucket(&bucket)
                .key(*key)
                .body(bytes.clone().into())
                .send()
                .await
                .expect("putting an object");
        }
        bucket
    }

    /// The object's bytes, whichever the backend; `None` when it is absent.
    pub async fn object(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        if let Some(data) = &self.running.data {
            let path = key
                .split('/')
                .fold(data.join("buckets").join(bucket), |p, part| p.join(part));
            return std::fs::read(path).ok();
        }
        let s3 = folio_shared::aws::s3_client(&self.sdk);
        let out = s3.get_object().bucket(bucket).key(key).send().await.ok()?;
        Some(out.body.collect().await.ok()?.to_vec())
    }

    pub async fn stop(self) {
        self.running.stop().await;
    }
}

async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status().as_u16();
    let body = response.json().await.expect("a JSON body");
    Reply { status, body }
}

/// The tests crate's folder where the tests run: cargo says so at run time. The path compiled
/// in would be that of whichever clone built the binary (clones share `CARGO_TARGET_DIR`).
pub fn crate_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

/// A queue of the emulator that no poller of the stack reads: a test hands its messages
/// to a worker itself.
pub async fn unpolled_queue() -> String {
    let sdk = folio_shared::aws::sdk_config().await;
    aws_sdk_sqs::Client::new(&sdk)
        .create_queue()
        .queue_name(unique("unpolled-"))
        .send()
        .await
        .expect("creating a queue")
        .queue_url
        .expect("a queue URL")
}

/// `UserData` naming a webhook, as VOD defines it.
pub fn callback_to(url: &str) -> String {
    json!({"MessageCallback": {"CallbackURL": url}}).to_string()
}

/// Test images, encoded by the `image` crate.
pub fn jpeg(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg)
        .expect("encoding a JPEG");
    out.into_inner()
}

pub fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbaImage::from_fn(width, height, |x, _| {
        image::Rgba([0, 0, 0, (x % 256) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("encoding a PNG");
    out.into_inner()
}

/// Checks `t=<unix>,v1=<hex>` against the raw body, computed here independently of Folio.
pub fn signature_is_valid(secret: &str, header: &str, body: &[u8]) -> bool {
    let parts: Vec<(&str, &str)> = header
        .split(',')
        .filter_map(|p| p.split_once('='))
        .collect();
    let t = parts
        .iter()
        .find(|(k, _)| *k == "t")
        .map(|(_, v)| *v)
        .unwrap_or_default();
    let v1 = parts
        .iter()
        .find(|(k, _)| *k == "v1")
        .map(|(_, v)| *v)
        .unwrap_or_default();
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    hex::encode(mac.finalize().into_bytes()) == v1
}

/// How many seconds a signed URL has left: S3's `X-Amz-Expires`, or the time to Folio's own
/// `expires` on one machine.
pub fn url_lifetime(url: &str) -> i64 {
    let url = url::Url::parse(url).expect("a URL");
    let pairs: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    if let Some(seconds) = pairs.get("X-Amz-Expires") {
        return seconds.parse().expect("seconds");
    }
    let at: i64 = pairs
        .get("expires")
        .expect("a signed URL")
        .parse()
        .expect("epoch seconds");
    at - unix_now()
}

/// Seconds since the Unix epoch, as `ExpiresAt` counts them.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is past 1970")
        .as_secs() as i64
}

/// Serves `bytes` at every path of a new loopback server bound to `ip`; returns its base URL.
/// Redirects `/redirect?to=<url>` to `<url>`.
pub async fn serve_file(ip: &str, bytes: Vec<u8>) -> String {
    use axum::extract::Query;
    use axum::response::{IntoResponse, Redirect};
    let listener = tokio::net::TcpListener::bind(format!("{ip}:0"))
        .await
        .expect("binding a port");
    let base = format!("http://{}", listener.local_addr().expect("an address"));
    let bytes = bytes::Bytes::from(bytes);
    let router = axum::Router::new()
        .route(
            "/redirect",
            axum::routing::get(
                |Query(q): Query<std::collections::HashMap<String, String>>| async move {
                    Redirect::temporary(q.get("to").map(String::as_str).unwrap_or("/"))
                },
            ),
        )
        .fallback(move || {
            let bytes = bytes.clone();
            async move { ([("content-type", "image/jpeg")], bytes).into_response() }
        });
    tokio::spawn(async move { axum::serve(listener, router).await });
    base
}

/// Alice's webhook signing key, as the notifier derives it.
pub fn alice_webhook_secret() -> String {
    let tenant = folio_shared::tenant::Tenant::new("tenant-alice").expect("a tenant");
    folio_shared::notify::signature::tenant_signing_key(MASTER_SECRET, tenant.key())
}
