//! Batches end to end: CreateBatch over a bucket prefix, the scanner and items through the
//! emulator's queue, GetBatch's counts, the end message; abort, suspend and resume,
//! redelivered messages, and the refusals.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use folio_shared::app::App;
use folio_shared::batch::model::{BatchRecord, BatchRef, ItemCounts, ItemOutcome};
use folio_shared::batch::worker::BatchWorker;
use folio_shared::error::PortError;
use folio_shared::ports::{BatchSort, BatchStore};
use folio_shared::queue::{QueueMessage, QueueWorker};
use serde_json::{Value, json};

use crate::harness::{ALICE, BOB, Reply, Stack, png, signature_is_valid, unpolled_queue};
use crate::on_both_backends;
use crate::receiver::Receiver;

const PROJECT: &str = "batches";

fn resize_to_webp(out_bucket: &str) -> Value {
    json!([
        {"Name": "image/resize", "Parameters": ["w=16", "h=16"]},
        {"Name": "image/format", "Parameters": ["format=webp"]},
        {"Name": "sys/saveas", "Parameters": [format!("uri=s3://{out_bucket}/out/{{dirname}}/{{barename}}.{{autoext}}")]},
    ])
}

/// Objects under `in/`: `good` PNGs, `corrupt` broken ones, and some that the
/// `suffix(.png)` expression passes over.
fn objects(good: usize, corrupt: usize) -> Vec<(String, Vec<u8>)> {
    let mut objects = Vec::new();
    for i in 0..good {
        objects.push((
            format!("in/{}/ok-{i:03}.png", i % 3),
            png(40 + i as u32, 30),
        ));
    }
    for i in 0..corrupt {
        objects.push((
            format!("in/0/bad-{i}.png"),
            b"\x89PNG\r\n\x1a\nnot really".to_vec(),
        ));
    }
    objects.push(("in/notes.txt".into(), b"skip me".to_vec()));
    objects.push(("in/raw.jpg".into(), crate::harness::jpeg(8, 8)));
    objects.push(("elsewhere/x.png".into(), png(8, 8)));
    objects
}

impl Stack {
    async fn bucket_of(&self, objects: &[(String, Vec<u8>)]) -> String {
        let borrowed: Vec<(&str, Vec<u8>)> = objects
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        self.bucket_with("batch-", &borrowed).await
    }

    async fn create_batch(&self, key: &str, request: Value) -> String {
        let reply = self.post(key, "CreateBatch", request).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let id = reply.body["Id"].as_str().expect("an Id").to_string();
        assert!(id.starts_with("batch-"), "{id}");
        id
    }

    async fn batch(&self, key: &str, id: &str) -> Reply {
        self.get(key, "GetBatch", &[("ProjectName", PROJECT), ("Id", id)])
            .await
    }

    async fn batch_call(&self, key: &str, operation: &str, id: &str) -> Reply {
        self.post(key, operation, json!({"ProjectName": PROJECT, "Id": id}))
            .await
    }

    /// Polls GetBatch until the batch is `state` (at most 60 s); returns the Batch.
    async fn wait_batch(&self, key: &str, id: &str, state: &str) -> Value {
        let mut seen = Vec::new();
        for _ in 0..300 {
            let reply = self.batch(key, id).await;
            assert_eq!(reply.status, 200, "{}", reply.body);
            let batch = reply.body["Batch"].clone();
            if batch["State"] == state {
                return batch;
            }
            seen.push(batch["Statistic"].clone());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("batch {id} was not {state} within 60 s: {:?}", seen.last());
    }

    async fn keys_under(&self, bucket: &str, prefix: &str) -> Vec<String> {
        if self.running.data.is_some() {
            return self.keys_in(bucket, prefix).await;
        }
        let s3 = folio_shared::aws::s3_client(&self.sdk);
        let mut keys = Vec::new();
        let mut token = None;
        loop {
            let out = s3
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .set_continuation_token(token)
                .send()
                .await
                .expect("listing a bucket");
            keys.extend(
                out.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_string)),
            );
            token = out.next_continuation_token().map(str::to_string);
            if token.is_none() {
                return keys;
            }
        }
    }
}

fn statistic(batch: &Value) -> (u64, u64, u64, u64, u64) {
    let s = &batch["Statistic"];
    let n = |f: &str| {
        s[f].as_u64()
            .unwrap_or_else(|| panic!("Statistic.{f} in {batch}"))
    };
    (
        n("SubmitSuccess"),
        n("SkipFiles"),
        n("Processed"),
        n("Failed"),
        n("Outputs"),
    )
}

fn request(bucket: &str, out_bucket: &str, extra: Value) -> Value {
    let mut body = json!({
        "ProjectName": PROJECT,
        "Input": {"OSS": {"Bucket": bucket, "Prefix": "in/", "MatchExpressions": ["suffix(\".png\")"]}},
        "Actions": resize_to_webp(out_bucket),
    });
    if let (Value::Object(body), Value::Object(extra)) = (&mut body, extra) {
        body.extend(extra);
    }
    body
}

on_both_backends! {
async fn a_batch_converts_every_matching_object_once_and_reports_the_corrupt_ones(home) {
    // Pages of 7 keys: the 26 objects under in/ take four pages.
    let stack = Stack::at(home, vec![("FOLIO_BATCH_PAGE_SIZE", "7".into())]).await;
    stack.project(ALICE, PROJECT).await;
    let receiver = Receiver::start(&[]).await;
    let objects = objects(20, 3);
    let bucket = stack.bucket_of(&objects).await;
    let out = stack.bucket_with("batch-out-", &[]).await;
    let id = stack
        .create_batch(
            ALICE,
            request(
                &bucket,
                &out,
                json!({"Tags": {"team": "a", "n": 1}, "Notification": {"Webhook": {"URL": receiver.url}}}),
            ),
        )
        .await;
    let batch = stack.wait_batch(ALICE, &id, "Succeeded").await;
    // 26 keys under in/: 23 .png submitted, notes.txt and raw.jpg passed over.
    assert_eq!(statistic(&batch), (23, 2, 20, 3, 20), "{batch}");
    assert_eq!(batch["Phase"], "Finished");
    assert_eq!(batch["Tags"]["n"], "1");
    assert_eq!(batch["Input"]["OSS"]["Prefix"], "in/");
    let failures: Vec<&str> = batch["Failures"]
        .as_array()
        .expect("Failures")
        .iter()
        .map(|f| {
            assert_eq!(f["Code"], "InvalidImage", "{f}");
            f["Key"].as_str().expect("a key")
        })
        .collect();
    assert_eq!(
        failures,
        ["in/0/bad-0.png", "in/0/bad-1.png", "in/0/bad-2.png"]
    );

    // Every matching object has its output, of the right size and format; no other does.
    let mut written = stack.keys_under(&out, "").await;
    written.sort();
    let mut expected: Vec<String> = (0..20)
        .map(|i| format!("out/in/{}/ok-{i:03}.webp", i % 3))
        .collect();
    expected.sort();
    assert_eq!(written, expected);
    let webp = stack.object(&out, &expected[0]).await.expect("an output");
    let image = image::load_from_memory(&webp).expect("a WebP");
    assert_eq!((image.width(), image.height()), (16, 12));
    assert!(stack.keys_under(&bucket, "out/").await.is_empty());

    // One message, signed, for the run's end.
    let got = receiver.wait_for(1, 20).await;
    let secret = stack.get(ALICE, "GetWebhookSecret", &[]).await;
    let secret = secret.body["WebhookSecret"].as_str().unwrap().to_string();
    assert!(signature_is_valid(
        &secret,
        got[0].header("folio-signature"),
        &got[0].body
    ));
    let body = got[0].json();
    assert_eq!(body["Id"], id.as_str(), "{body}");
    assert_eq!(body["State"], "Succeeded");
    assert_eq!(body["Statistic"]["Failed"], 3);
    assert_eq!(body["Failures"].as_array().map(Vec::len), Some(3));
    // Noting that the message went out is no change of the batch's own.
    assert_eq!(body["UpdateTime"], batch["UpdateTime"], "{body}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(receiver.received().len(), 1, "one message per run");

    // Listed, filtered by state and tag; another tenant sees nothing of it.
    let list = stack
        .get(
            ALICE,
            "ListBatches",
            &[
                ("ProjectName", PROJECT),
                ("State", "Succeeded"),
                ("TagSelector", "team=a"),
            ],
        )
        .await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(list.body["Batches"][0]["Id"], id.as_str());
    assert_eq!(list.body["NextToken"], "");
    stack.project(BOB, PROJECT).await;
    assert_eq!(stack.batch(BOB, &id).await.status, 404);
    assert_eq!(stack.batch_call(BOB, "DeleteBatch", &id).await.status, 404);
    let bobs = stack
        .get(BOB, "ListBatches", &[("ProjectName", PROJECT)])
        .await;
    assert_eq!(bobs.body["Batches"], json!([]));

    // An ended batch can be deleted; then it is gone.
    assert_eq!(
        stack.batch_call(ALICE, "DeleteBatch", &id).await.status,
        200
    );
    assert_eq!(stack.batch(ALICE, &id).await.status, 404);
    stack.stop().await;
}
}

on_both_backends! {
/// A batch written for IMM, its input `OSS` and its outputs `oss://`, runs unchanged.
async fn a_batch_of_oss_uris_runs_and_answers_them_as_sent(home) {
    let stack = Stack::at(home, Vec::new()).await;
    stack.project(ALICE, PROJECT).await;
    let bucket = stack.bucket_of(&objects(2, 0)).await;
    let out = stack.bucket_with("batch-out-", &[]).await;
    let actions = json!([
        {"Name": "image/resize", "Parameters": ["w_16", "h_16"]},
        {"Name": "image/format", "Parameters": ["webp"]},
        {"Name": "sys/saveas", "Parameters": [format!("uri=oss://{out}/out/{{barename}}.{{autoext}}")]},
    ]);
    let id = stack
        .create_batch(ALICE, request(&bucket, &out, json!({"Actions": actions})))
        .await;
    let batch = stack.wait_batch(ALICE, &id, "Succeeded").await;
    assert_eq!(statistic(&batch), (2, 2, 2, 0, 2), "{batch}");
    assert_eq!(batch["Input"]["OSS"]["Bucket"], bucket.as_str(), "{batch}");
    assert_eq!(
        batch["Actions"][2]["Parameters"][0],
        format!("uri=oss://{out}/out/{{barename}}.{{autoext}}")
    );
    let mut written = stack.keys_under(&out, "").await;
    written.sort();
    assert_eq!(written, ["out/ok-000.webp", "out/ok-001.webp"]);
    stack.stop().await;
}
}

on_both_backends! {
async fn bad_batches_are_refused_naming_the_field(home) {
    let stack = Stack::at(home, Vec::new()).await;
    stack.project(ALICE, PROJECT).await;
    let ok = request("photos", "out-bucket", json!({}));
    let with = |field: &str, value: Value| {
        let mut r = ok.clone();
        r[field] = value;
        r
    };
    let cases = [
        (
            with("Input", json!({"OSS": {"Prefix": "in/"}})),
            "Input.OSS.Bucket",
        ),
        (
            with(
                "Input",
                json!({"OSS": {"Bucket": "photos", "MatchExpressions": ["size(3)"]}}),
            ),
            "Input.OSS.MatchExpressions[0]",
        ),
        (
            with("Actions", json!([{"Name": "image/blur"}])),
            "Actions[0].Name",
        ),
        (
            with(
                "Actions",
                json!([{"Name": "image/resize", "Parameters": ["w=0"]}]),
            ),
            "Actions[0].Parameters.w",
        ),
        // Outputs under the input prefix would be read again: a loop.
        (
            with(
                "Actions",
                json!([{"Name": "sys/saveas", "Parameters": ["uri=s3://photos/in/small/{basename}"]}]),
            ),
            "Actions: output 1",
        ),
        (
            with(
                "Actions",
                json!([{"Name": "image/format", "Parameters": ["webp"]}]),
            ),
            "Actions: names no sys/saveas",
        ),
        (with("ServiceRole", json!("not-a-role")), "ServiceRole"),
        (
            with("Notification", json!({"Webhook": {"URL": "ftp://x"}})),
            "Notification.Webhook.URL",
        ),
    ];
    for (body, field) in cases {
        let reply = stack.post(ALICE, "CreateBatch", body).await;
        assert_eq!(reply.status, 400, "{field}: {}", reply.body);
        assert!(
            reply.message().starts_with(field),
            "{field}: {}",
            reply.message()
        );
    }
    let reply = stack.post(BOB, "CreateBatch", ok).await;
    assert_eq!(reply.status, 404, "{}", reply.body);
    stack.stop().await;
}
}

/// A stack whose batch messages wait on a queue nobody polls: the test hands each one to
/// the worker itself, in the order it chooses.
struct Driven {
    stack: Stack,
    queue: String,
    worker: BatchWorker,
}

impl Driven {
    async fn start() -> Driven {
        let queue = unpolled_queue().await;
        let stack = Stack::start_with(vec![
            ("FOLIO_BATCHES_QUEUE_URL", queue.clone()),
            ("FOLIO_BATCH_PAGE_SIZE", "4".into()),
            ("FOLIO_BATCH_CHECK_SECONDS", "1".into()),
        ])
        .await;
        let worker = BatchWorker::new(stack.running.app.clone());
        Driven {
            stack,
            queue,
            worker,
        }
    }

    /// Every message now on the queue (waiting out delays), taken off it.
    async fn take(&self) -> Vec<QueueMessage> {
        let sqs = aws_sdk_sqs::Client::new(&self.stack.sdk);
        let mut messages = Vec::new();
        let mut empty_polls = 0;
        while empty_polls < 2 {
            let out = sqs
                .receive_message()
                .queue_url(&self.queue)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .expect("receiving");
            let got = out.messages.unwrap_or_default();
            if got.is_empty() {
                empty_polls += 1;
            }
            for m in got {
                sqs.delete_message()
                    .queue_url(&self.queue)
                    .receipt_handle(m.receipt_handle().unwrap_or_default())
                    .send()
                    .await
                    .expect("deleting");
                messages.push(QueueMessage {
                    id: m.message_id().unwrap_or_default().to_string(),
                    body: m.body().unwrap_or_default().to_string(),
                    receive_count: 1,
                    receipt_handle: None,
                    group: None,
                });
            }
        }
        messages
    }

    /// Alice's project, a bucket of `good` and `corrupt` objects and a batch over it (that
    /// aborts at the first failure when `abort`); returns the output bucket and the id.
    async fn new_batch(&self, good: usize, corrupt: usize, abort: bool) -> (String, String) {
        let stack = &self.stack;
        stack.project(ALICE, PROJECT).await;
        let bucket = stack.bucket_of(&objects(good, corrupt)).await;
        let out = stack.bucket_with("batch-out-", &[]).await;
        let mut actions = resize_to_webp(&out);
        if abort {
            actions[0]["FastFailPolicy"] = json!({"Action": "abort"});
        }
        let id = stack
            .create_batch(ALICE, request(&bucket, &out, json!({"Actions": actions})))
            .await;
        (out, id)
    }

    /// The same stack, its worker's batch store counting the reads of batch records.
    async fn counting_reads() -> (Driven, Arc<CountedReads>) {
        let mut driven = Driven::start().await;
        let mut app = App::new(driven.stack.running.app.config.clone(), &driven.stack.sdk);
        let counted = Arc::new(CountedReads {
            inner: app.batches.clone(),
            reads: AtomicUsize::new(0),
        });
        app.batches = counted.clone();
        driven.worker = BatchWorker::new(Arc::new(app));
        (driven, counted)
    }

    async fn handle(&self, message: &QueueMessage) {
        self.worker
            .handle(message)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", message.body));
    }

    /// Hands `message` to the dead-letter worker, as the dead-letter queue does after its
    /// third failed delivery.
    async fn dead_letter(&self, message: &QueueMessage) {
        folio_shared::dead_letter::DeadLetterWorker {
            app: self.stack.running.app.clone(),
        }
        .handle(message)
        .await
        .expect("the dead letter is ended");
    }

    /// Handles messages until none is left; returns how many.
    async fn run_all(&self) -> usize {
        let mut handled = 0;
        loop {
            let messages = self.take().await;
            if messages.is_empty() {
                return handled;
            }
            for m in &messages {
                self.handle(m).await;
            }
            handled += messages.len();
        }
    }
}

/// A batch store that counts the batch records read through it.
struct CountedReads {
    inner: Arc<dyn BatchStore>,
    reads: AtomicUsize,
}

#[async_trait]
impl BatchStore for CountedReads {
    async fn create(&self, batch: &BatchRecord) -> Result<(), PortError> {
        self.inner.create(batch).await
    }
    async fn get(
        &self,
        tenant_key: &str,
        project: &str,
        batch_id: &str,
        consistent: bool,
    ) -> Result<Option<BatchRecord>, PortError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner
            .get(tenant_key, project, batch_id, consistent)
            .await
    }
    async fn replace(&self, batch: &BatchRecord) -> Result<BatchRecord, PortError> {
        self.inner.replace(batch).await
    }
    async fn delete(&self, batch: &BatchRecord) -> Result<(), PortError> {
        self.inner.delete(batch).await
    }
    async fn page(
        &self,
        tenant_key: &str,
        project: &str,
        sort: BatchSort,
        descending: bool,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<(String, BatchRecord)>, bool), PortError> {
        self.inner
            .page(tenant_key, project, sort, descending, after, limit)
            .await
    }
    async fn settle(&self, batch: &BatchRef, outcome: &ItemOutcome) -> Result<bool, PortError> {
        self.inner.settle(batch, outcome).await
    }
    async fn outcome(
        &self,
        batch_id: &str,
        key: &str,
    ) -> Result<Option<(u32, ItemOutcome)>, PortError> {
        self.inner.outcome(batch_id, key).await
    }
    async fn counts(&self, batch_id: &str, run: u32) -> Result<ItemCounts, PortError> {
        self.inner.counts(batch_id, run).await
    }
    async fn failures(
        &self,
        batch_id: &str,
        run: u32,
        limit: usize,
    ) -> Result<Vec<ItemOutcome>, PortError> {
        self.inner.failures(batch_id, run, limit).await
    }
}

fn kind(m: &QueueMessage) -> String {
    let v: Value = serde_json::from_str(&m.body).expect("a batch message");
    v["BatchMessage"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn abort_fails_the_run_at_the_first_failure_and_stops_the_rest() {
    let driven = Driven::start().await;
    let stack = &driven.stack;
    // in/0/bad-0.png sorts before the good ones: it is in the first page.
    let (out, id) = driven.new_batch(10, 1, true).await;
    let first = driven.take().await;
    assert_eq!(first.iter().map(kind).collect::<Vec<_>>(), ["Scan"]);
    driven.handle(&first[0]).await;
    let page = driven.take().await;
    let items: Vec<&QueueMessage> = page.iter().filter(|m| kind(m) == "Item").collect();
    let corrupt = items
        .iter()
        .find(|m| m.body.contains("bad-0"))
        .expect("the corrupt object's item");
    driven.handle(corrupt).await;
    let batch = stack.wait_batch(ALICE, &id, "Failed").await;
    assert!(
        batch["Error"]
            .as_str()
            .unwrap()
            .starts_with("in/0/bad-0.png: InvalidImage"),
        "{batch}"
    );
    // The rest of the page and the next page are dropped: nothing more is written.
    for m in &page {
        driven.handle(m).await;
    }
    assert_eq!(
        driven.run_all().await,
        0,
        "the failed run queues nothing more"
    );
    let batch = stack.batch(ALICE, &id).await.body["Batch"].clone();
    assert_eq!(batch["Statistic"]["Processed"], 0, "{batch}");
    assert_eq!(batch["Statistic"]["Failed"], 1, "{batch}");
    assert!(stack.keys_under(&out, "").await.is_empty());

    // A failed batch may be updated (ignore failures now), then resumed: a new run scans
    // again and ends with every good object converted.
    let reply = stack
        .post(
            ALICE,
            "UpdateBatch",
            json!({"ProjectName": PROJECT, "Id": id, "Actions": resize_to_webp(&out), "Tags": {"fixed": "yes"}}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        stack.batch_call(ALICE, "ResumeBatch", &id).await.status,
        200
    );
    driven.run_all().await;
    let batch = stack.wait_batch(ALICE, &id, "Succeeded").await;
    assert_eq!(batch["Run"], 2);
    assert_eq!(batch["Tags"]["fixed"], "yes");
    let (submitted, _, processed, failed, outputs) = statistic(&batch);
    assert_eq!(
        (submitted, processed, failed, outputs),
        (11, 10, 1, 10),
        "{batch}"
    );
    assert_eq!(stack.keys_under(&out, "").await.len(), 10);
    driven.stack.stop().await;
}

#[tokio::test]
async fn suspend_then_resume_ends_as_an_uninterrupted_run_and_redeliveries_count_once() {
    let driven = Driven::start().await;
    let stack = &driven.stack;
    let (out, id) = driven.new_batch(12, 0, false).await;
    // Page 0: claimed, its items and page 1 queued.
    let scan0 = driven.take().await;
    driven.handle(&scan0[0]).await;
    let page0 = driven.take().await;
    let items0: Vec<&QueueMessage> = page0.iter().filter(|m| kind(m) == "Item").collect();
    let scan1 = page0
        .iter()
        .find(|m| kind(m) == "Scan")
        .expect("page 1 queued");
    assert_eq!(items0.len(), 4);

    // Running: neither update nor delete; suspend is allowed once.
    for op in ["UpdateBatch", "DeleteBatch", "ResumeBatch"] {
        let reply = stack.batch_call(ALICE, op, &id).await;
        assert_eq!(reply.status, 409, "{op}: {}", reply.body);
        assert_eq!(reply.body["Code"], "InvalidState");
        assert!(
            reply.message().contains("the batch is Running"),
            "{}",
            reply.message()
        );
    }
    assert_eq!(
        stack.batch_call(ALICE, "SuspendBatch", &id).await.status,
        200
    );
    let again = stack.batch_call(ALICE, "SuspendBatch", &id).await;
    assert_eq!(again.status, 409, "{}", again.body);

    // Suspended: the scanner stops at its page; queued items still run, and an item
    // delivered twice is counted once.
    driven.handle(scan1).await;
    for m in &items0 {
        driven.handle(m).await;
    }
    driven.handle(items0[0]).await;
    assert_eq!(driven.run_all().await, 0, "a suspended scan queues nothing");
    let batch = stack.batch(ALICE, &id).await.body["Batch"].clone();
    assert_eq!(batch["State"], "Suspended");
    assert_eq!(batch["Phase"], "Scanning");
    let (submitted, _, processed, _, _) = statistic(&batch);
    assert_eq!((submitted, processed), (4, 4), "{batch}");
    assert!(!batch["Marker"].as_str().unwrap().is_empty());

    // Resumed from the checkpoint; a scanner page delivered again after its claim only
    // queues what follows it (as after a crash between the claim and the next page).
    assert_eq!(
        stack.batch_call(ALICE, "ResumeBatch", &id).await.status,
        200
    );
    let resumed = driven.take().await;
    assert_eq!(resumed.iter().map(kind).collect::<Vec<_>>(), ["Scan"]);
    driven.handle(&resumed[0]).await;
    driven.handle(&resumed[0]).await;
    driven.run_all().await;
    let batch = stack.wait_batch(ALICE, &id, "Succeeded").await;
    // 12 good PNGs; notes.txt and raw.jpg skipped; each converted and counted once.
    assert_eq!(statistic(&batch), (12, 2, 12, 0, 12), "{batch}");
    assert_eq!(stack.keys_under(&out, "").await.len(), 12);
    assert_eq!(
        stack.batch_call(ALICE, "SuspendBatch", &id).await.status,
        409
    );
    driven.stack.stop().await;
}

#[tokio::test]
async fn the_items_of_a_run_share_one_read_of_the_batch_record() {
    let (driven, counted) = Driven::counting_reads().await;
    let stack = &driven.stack;
    let (out, id) = driven.new_batch(8, 0, false).await;
    let scan = driven.take().await;
    driven.handle(&scan[0]).await;
    let page = driven.take().await;
    let items: Vec<&QueueMessage> = page.iter().filter(|m| kind(m) == "Item").collect();
    assert_eq!(items.len(), 4);
    counted.reads.store(0, Ordering::SeqCst);
    for m in &items {
        driven.handle(m).await;
    }
    assert_eq!(
        counted.reads.load(Ordering::SeqCst),
        1,
        "four objects of one run read the batch record once"
    );
    for m in page.iter().filter(|m| kind(m) != "Item") {
        driven.handle(m).await;
    }
    driven.run_all().await;
    let batch = stack.wait_batch(ALICE, &id, "Succeeded").await;
    assert_eq!(statistic(&batch), (8, 2, 8, 0, 8), "{batch}");
    assert_eq!(stack.keys_under(&out, "").await.len(), 8);
    driven.stack.stop().await;
}

#[tokio::test]
async fn an_object_whose_message_keeps_failing_counts_as_failed_and_the_run_still_ends() {
    let driven = Driven::start().await;
    let stack = &driven.stack;
    let (_, id) = driven.new_batch(3, 0, false).await;
    let scan = driven.take().await;
    driven.handle(&scan[0]).await;
    let messages = driven.take().await;
    let item = messages
        .iter()
        .find(|m| kind(m) == "Item")
        .expect("an item");
    driven.dead_letter(item).await;
    for m in messages.iter().filter(|m| m.id != item.id) {
        driven.handle(m).await;
    }
    driven.run_all().await;
    let batch = stack.wait_batch(ALICE, &id, "Succeeded").await;
    assert_eq!(statistic(&batch), (3, 2, 2, 1, 2), "{batch}");
    assert_eq!(batch["Failures"][0]["Code"], "ProcessingFailed", "{batch}");
    driven.stack.stop().await;
}

#[tokio::test]
async fn a_scanner_page_that_keeps_failing_fails_the_run_and_a_resume_scans_again() {
    let driven = Driven::start().await;
    let stack = &driven.stack;
    let (_, id) = driven.new_batch(5, 0, false).await;
    let scan = driven.take().await;
    assert_eq!(scan.iter().map(kind).collect::<Vec<_>>(), ["Scan"]);
    driven.dead_letter(&scan[0]).await;
    let batch = stack.wait_batch(ALICE, &id, "Failed").await;
    assert!(
        batch["Error"]
            .as_str()
            .unwrap()
            .contains("failed repeatedly"),
        "{batch}"
    );
    assert_eq!(batch["Phase"], "Finished");
    assert_eq!(
        stack.batch_call(ALICE, "ResumeBatch", &id).await.status,
        200
    );
    driven.run_all().await;
    let batch = stack.wait_batch(ALICE, &id, "Succeeded").await;
    assert_eq!(batch["Run"], 2);
    assert_eq!(statistic(&batch), (5, 2, 5, 0, 5), "{batch}");
    driven.stack.stop().await;
}
