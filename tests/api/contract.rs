//! The record ports' contract, written once and run against both backends: the DynamoDB
//! adapters in the emulator and the SQLite ones in a data folder. Conditional writes and
//! their races (of several writers exactly one wins), paging, expiry, counting once.

use std::sync::Arc;

use folio_shared::App;
use folio_shared::batch::model::{BatchRef, ItemFailure, ItemOutcome};
use folio_shared::error::PortError;
use folio_shared::image::model::{ImageFormat, ProbeResult, UploadResult};
use folio_shared::jobs::model::JobStatus;
use folio_shared::task::model::ProjectRecord;
use folio_shared::tenant::Tenant;
use futures_util::future::join_all;
use serde_json::json;

use crate::harness::{ALICE, Stack, unique};
use crate::jobs::create;

fn alice() -> String {
    Tenant::new("tenant-alice")
        .expect("a tenant")
        .key()
        .to_string()
}

/// How many of the results are `Ok` (the others must be `ConditionFailed`).
fn winners<T: std::fmt::Debug>(results: Vec<Result<T, PortError>>) -> usize {
    results
        .into_iter()
        .filter(|r| match r {
            Ok(_) => true,
            Err(PortError::ConditionFailed) => false,
            Err(other) => panic!("a racer failed otherwise: {other}"),
        })
        .count()
}

fn upload(etag: &str) -> UploadResult {
    UploadResult {
        etag: etag.to_string(),
        file_size: 10,
        processed_at: chrono::Utc::now(),
        probe: ProbeResult::Image {
            format: ImageFormat::Png,
            width: 4,
            height: 3,
        },
    }
}

async fn images_are_written_once_per_version_and_expire(stack: &Stack) {
    let app: &Arc<App> = &stack.running.app;
    let (created, _) = stack
        .create_upload(ALICE, json!({"ImageType": "default", "ImageExt": "png"}))
        .await;
    let id = created["ImageId"].as_str().expect("an ImageId").to_string();
    let record = app
        .images
        .get(&alice(), &id)
        .await
        .expect("read")
        .expect("the record");
    assert!(matches!(
        app.images.create(&record).await,
        Err(PortError::ConditionFailed)
    ));

    // Four workers record the same upload at once: one wins.
    let (tenant, v1) = (alice(), upload("v1"));
    let racers = (0..4).map(|_| app.images.record_upload(&tenant, &id, &v1));
    assert_eq!(winners(join_all(racers).await), 1);
    app.images
        .record_upload(&alice(), &id, &upload("v2"))
        .await
        .expect("a new version is recorded");
    assert!(matches!(
        app.images.mark_notified(&alice(), &id, "v1").await,
        Err(PortError::ConditionFailed)
    ));
    app.images
        .mark_notified(&alice(), &id, "v2")
        .await
        .expect("marked");
    let stored = app
        .images
        .get(&alice(), &id)
        .await
        .expect("read")
        .expect("live");
    assert!(stored.notified);
    assert_eq!(
        stored.expires_at, None,
        "a Normal image stays until deleted"
    );

    // An expired record is absent to every read, before any sweep.
    let mut expired = record.clone();
    expired.image_id = unique("expired");
    expired.expires_at = Some(chrono::Utc::now().timestamp() - 1);
    app.images.create(&expired).await.expect("created");
    assert!(
        app.images
            .get(&alice(), &expired.image_id)
            .await
            .expect("read")
            .is_none()
    );
    let many = app
        .images
        .get_many(&alice(), &[id.clone(), expired.image_id.clone()])
        .await
        .expect("read");
    assert_eq!(many.len(), 1);
    let update = folio_shared::ports::InfoUpdate {
        title: Some("t".into()),
        ..Default::default()
    };
    assert!(matches!(
        app.images
            .update_info(&alice(), &expired.image_id, &update)
            .await,
        Err(PortError::NotFound)
    ));
    app.images.delete(&alice(), &id).await.expect("deleted");
    assert!(app.images.get(&alice(), &id).await.expect("read").is_none());
}

async fn images_list_newest_first_per_tenant(stack: &Stack) {
    let app: &Arc<App> = &stack.running.app;
    let (created, _) = stack
        .create_upload(ALICE, json!({"ImageType": "default", "ImageExt": "png"}))
        .await;
    let id = created["ImageId"].as_str().expect("an ImageId").to_string();
    let template = app
        .images
        .get(&alice(), &id)
        .await
        .expect("read")
        .expect("the record");
    // A tenant of its own, so nothing else this suite writes is listed.
    let tenant = unique("lister");
    let start = chrono::Utc::now() - chrono::Duration::minutes(10);
    let mut ids = Vec::new();
    for n in 0..4 {
        let mut record = template.clone();
        record.tenant_key = tenant.clone();
        record.image_id = unique("listed");
        record.creation_time = start + chrono::Duration::seconds(n);
        if n == 1 {
            // Expired: never listed.
            record.expires_at = Some(chrono::Utc::now().timestamp() - 1);
        }
        app.images.create(&record).await.expect("created");
        ids.push(record.image_id);
    }
    // Recording an upload keeps the record in the list.
    app.images
        .record_upload(&tenant, &ids[3], &upload("v1"))
        .await
        .expect("recorded");
    let listed: Vec<String> = app
        .images
        .recent(&tenant, 10)
        .await
        .expect("listed")
        .into_iter()
        .map(|r| r.image_id)
        .collect();
    assert_eq!(listed, vec![ids[3].clone(), ids[2].clone(), ids[0].clone()]);
    let first = app.images.recent(&tenant, 1).await.expect("listed");
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].image_id, ids[3]);
    assert!(
        app.images
            .recent(&unique("nobody"), 10)
            .await
            .expect("listed")
            .is_empty()
    );
}

async fn projects_page_in_name_order(stack: &Stack) {
    let app = &stack.running.app;
    let tenant = unique("tenant-");
    let now = chrono::Utc::now();
    for name in ["b", "a", "c"] {
        let project = ProjectRecord {
            tenant_key: tenant.clone(),
            project_name: name.into(),
            service_role: "arn:aws:iam::123456789012:role/r".into(),
            description: String::new(),
            tags: Default::default(),
            create_time: now,
            update_time: now,
        };
        app.projects.create(&project).await.expect("created");
        if name == "a" {
            assert!(matches!(
                app.projects.create(&project).await,
                Err(PortError::ConditionFailed)
            ));
        }
    }
    let (first, more) = app.projects.list(&tenant, None, 2).await.expect("listed");
    let names: Vec<_> = first.iter().map(|p| p.project_name.as_str()).collect();
    assert_eq!((names, more), (vec!["a", "b"], true));
    let (rest, more) = app
        .projects
        .list(&tenant, Some("b"), 2)
        .await
        .expect("listed");
    let names: Vec<_> = rest.iter().map(|p| p.project_name.as_str()).collect();
    assert_eq!((names, more), (vec!["c"], false));
    app.projects.delete(&tenant, "a").await.expect("deleted");
    assert!(matches!(
        app.projects.delete(&tenant, "a").await,
        Err(PortError::NotFound)
    ));
}

async fn job_changes_race_and_one_wins(stack: &Stack) {
    let app = &stack.running.app;
    // A job with conversions and no input waits, open.
    let job = create(stack, json!({"conversion": [{"target": "png"}]})).await;
    let id = job["id"].as_str().expect("an id").to_string();
    let stored = app.jobs.get(&id).await.expect("read").expect("the job");
    let from = [stored.status];
    let racers = (0..6).map(|_| app.jobs.set_status(&id, &from, JobStatus::Canceled));
    assert_eq!(winners(join_all(racers).await), 1);
    // The stored version moved on: a write from the old one is refused.
    assert!(matches!(
        app.jobs.replace(&stored, stored.version).await,
        Err(PortError::ConditionFailed)
    ));
    let now = app.jobs.get(&id).await.expect("read").expect("the job");
    assert_eq!(now.status, JobStatus::Canceled);
    assert_eq!(
        now.history.last().map(|h| h.status),
        Some(JobStatus::Canceled)
    );

    // The pieces of an upload: each recorded once, joined by one caller.
    for (start, len) in [(0, 10), (10, 5), (0, 10)] {
        app.jobs
            .record_chunk(&id, "u1", start, len)
            .await
            .expect("recorded");
    }
    let mut pieces = app
        .jobs
        .record_chunk(&id, "u1", 15, 1)
        .await
        .expect("recorded");
    pieces.sort();
    assert_eq!(pieces, [(0, 10), (10, 5), (15, 1)]);
    let claims = join_all((0..6).map(|_| app.jobs.claim_chunks(&id, "u1"))).await;
    let claimed = claims
        .into_iter()
        .filter(|c| *c.as_ref().expect("answered"))
        .count();
    assert_eq!(claimed, 1);

    // Credits: reserved once per pair, within the limit.
    assert!(
        app.jobs
            .reserve_credits(&id, "p1", 2, 3)
            .await
            .expect("answered")
    );
    assert!(
        app.jobs
            .reserve_credits(&id, "p1", 2, 3)
            .await
            .expect("answered")
    );
    assert!(
        !app.jobs
            .reserve_credits(&id, "p2", 2, 3)
            .await
            .expect("answered")
    );
    assert!(
        app.jobs
            .reserve_credits(&id, "p3", 1, 3)
            .await
            .expect("answered")
    );
    let (listed, total) = app
        .jobs
        .list(&alice(), Some(JobStatus::Canceled), 1, 50)
        .await
        .expect("listed");
    assert!(total >= 1 && listed.iter().any(|j| j.id == id));
}

async fn batch_objects_count_once_per_run(stack: &Stack) {
    let app = &stack.running.app;
    let batch = BatchRef {
        tenant_key: alice(),
        project_name: "p".into(),
        batch_id: unique("batch-"),
        run: 1,
    };
    let ok = ItemOutcome::succeeded("in/a.png", 2);
    let bad = ItemOutcome {
        key: "in/b.png".into(),
        outputs: 0,
        failure: Some(ItemFailure {
            code: "InvalidImage".into(),
            message: "not an image".into(),
        }),
    };
    let settled = join_all((0..4).map(|_| app.batches.settle(&batch, &ok))).await;
    assert_eq!(
        settled
            .iter()
            .filter(|s| *s.as_ref().expect("answered"))
            .count(),
        1
    );
    assert!(app.batches.settle(&batch, &bad).await.expect("answered"));
    let counts = app
        .batches
        .counts(&batch.batch_id, 1)
        .await
        .expect("counted");
    assert_eq!((counts.succeeded, counts.failed, counts.outputs), (1, 1, 2));
    let failures = app
        .batches
        .failures(&batch.batch_id, 1, 10)
        .await
        .expect("listed");
    assert_eq!(failures, std::slice::from_ref(&bad));
    // The next run counts the object again, once.
    let next = BatchRef {
        run: 2,
        ..batch.clone()
    };
    assert!(app.batches.settle(&next, &ok).await.expect("answered"));
    assert!(!app.batches.settle(&next, &ok).await.expect("answered"));
    let (run, outcome) = app
        .batches
        .outcome(&batch.batch_id, "in/a.png")
        .await
        .expect("read")
        .expect("an outcome");
    assert_eq!((run, outcome), (2, ok));
}

async fn a_nonce_is_used_once(stack: &Stack) {
    let nonces = &stack.running.app.nonces;
    let now = chrono::Utc::now();
    let until = now + chrono::Duration::minutes(15);
    let nonce = unique("n");
    let racers = (0..6).map(|_| nonces.first_use("LTAIcontract", &nonce, now, until));
    let firsts = join_all(racers).await;
    assert_eq!(
        firsts
            .iter()
            .filter(|f| *f.as_ref().expect("answered"))
            .count(),
        1
    );
    // Once its time is up it may be used again.
    let later = until + chrono::Duration::seconds(1);
    assert!(
        nonces
            .first_use(
                "LTAIcontract",
                &nonce,
                later,
                later + chrono::Duration::minutes(15)
            )
            .await
            .expect("answered")
    );
}

async fn run_all(stack: Stack) {
    images_are_written_once_per_version_and_expire(&stack).await;
    images_list_newest_first_per_tenant(&stack).await;
    projects_page_in_name_order(&stack).await;
    job_changes_race_and_one_wins(&stack).await;
    batch_objects_count_once_per_run(&stack).await;
    a_nonce_is_used_once(&stack).await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn record_ports_keep_their_contract_in_dynamodb() {
    run_all(Stack::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn record_ports_keep_their_contract_in_sqlite() {
    run_all(Stack::embedded().await).await;
}
