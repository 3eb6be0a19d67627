//! The jobs API (`/v2`) against the emulator: credits and `max_credit` as the seed's table
//! says, a staged job ending like the same job sent whole, status callbacks, nine pairs and
//! redelivered messages, the URL guard on remote inputs, limits, refusals that name the
//! field, tenancy, and credentials that go nowhere.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{
    ALICE, BOB, Stack, alice_webhook_secret, jpeg, serve_file, signature_is_valid,
};
use crate::on_both_backends;
use crate::receiver::Receiver;

pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Value,
    pub(crate) text: String,
    headers: reqwest::header::HeaderMap,
}

pub(crate) async fn call(
    stack: &Stack,
    key: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Answer {
    let mut request = stack
        .http
        .request(method, format!("{}/v2{path}", stack.base))
        .header("X-Oc-Api-Key", key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("the gateway answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("a body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer {
        status,
        body,
        text,
        headers,
    }
}

pub(crate) async fn create(stack: &Stack, body: Value) -> Value {
    let a = call(stack, ALICE, Method::POST, "/jobs", Some(body)).await;
    assert_eq!(a.status, 201, "{}", a.text);
    a.body
}

/// The job's record as stored, as text (it must exist).
pub(crate) async fn job_record(stack: &Stack, id: &str) -> String {
    use aws_sdk_dynamodb::types::AttributeValue;
    if let Some(data) = &stack.running.data {
        let db = rusqlite::Connection::open_with_flags(
            data.join("folio.db"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .expect("the database");
        return db
            .query_row(
                "SELECT body FROM items WHERE pk = ?1 AND sk = 'JOB'",
                [format!("JOB#{id}")],
                |row| row.get(0),
            )
            .expect("the job's record");
    }
    let item = aws_sdk_dynamodb::Client::new(&stack.sdk)
        .get_item()
        .table_name(&stack.aws().names.table)
        .key("pk", AttributeValue::S(format!("JOB#{id}")))
        .key("sk", AttributeValue::S("JOB".into()))
        .send()
        .await
        .expect("reading a job record")
        .item
        .expect("the job's record");
    format!("{item:?}")
}

/// The keys of Alice's job's files under `under` (`input/`, `output/`, or all: ``).
async fn job_files(stack: &Stack, id: &str, under: &str) -> Vec<String> {
    let tenant = folio_shared::tenant::Tenant::new("tenant-alice").expect("a tenant");
    if stack.running.data.is_some() {
        let bucket = stack.running.app.config.default_bucket().to_string();
        let prefix = format!("jobs/{}/{id}/{under}", tenant.key());
        return stack.keys_in(&bucket, &prefix).await;
    }
    folio_shared::aws::s3_client(&stack.sdk)
        .list_objects_v2()
        .bucket(&stack.aws().names.bucket)
        .prefix(format!("jobs/{}/{id}/{under}", tenant.key()))
        .send()
        .await
        .expect("listing a job's files")
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect()
}

/// Polls Alice's job until it ends (at most 60 s).
pub(crate) async fn wait(stack: &Stack, id: &str) -> Value {
    wait_as(stack, ALICE, id).await
}

/// Polls Alice's job until it is in `status` (at most 6 s; on, whatever it is then).
async fn reach(stack: &Stack, id: &str, status: &str) {
    for _ in 0..300 {
        let a = call(stack, ALICE, Method::GET, &format!("/jobs/{id}"), None).await;
        if a.body["status"]["code"] == status {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn wait_as(stack: &Stack, key: &str, id: &str) -> Value {
    for _ in 0..300 {
        let a = call(stack, key, Method::GET, &format!("/jobs/{id}"), None).await;
        assert_eq!(a.status, 200, "{}", a.text);
        if ["completed", "failed", "canceled"].contains(&a.body["status"]["code"].as_str().unwrap())
        {
            return a.body;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("job {id} did not end within 60 s");
}

fn remote(url: &str) -> Value {
    json!({"type": "remote", "source": url})
}

on_both_backends! {
async fn max_credit_behaves_as_the_seed_table_says(home) {
    let stack = Stack::at(home, Vec::new()).await;
    let source = format!(
        "{}/example_small.jpg",
        serve_file("127.0.0.1", jpeg(120, 90)).await
    );
    let job = |max_credit: u64, fail: bool| {
        json!({
            "input": [remote(&source)],
            "conversion": [{"target": "png"}, {"target": "bmp"}, {"target": "gif"}],
            "limits": {"job": {"max_credit": max_credit}},
            "fail_on_conversion_error": fail,
        })
    };
    // Enough credit: all three, 3 spent, whichever flag.
    for fail in [true, false] {
        let done = wait(
            &stack,
            create(&stack, job(4, fail)).await["id"].as_str().unwrap(),
        )
        .await;
        assert_eq!(done["status"]["code"], "completed", "{done}");
        assert_eq!(done["spent"], 3);
        assert_eq!(done["output"].as_array().unwrap().len(), 3);
    }
    // Two credits, not failing: the two outputs that got there first, 2 spent, a warning.
    let done = wait(
        &stack,
        create(&stack, job(2, false)).await["id"].as_str().unwrap(),
    )
    .await;
    assert_eq!(done["status"]["code"], "completed", "{done}");
    assert_eq!(done["spent"], 2);
    assert_eq!(done["output"].as_array().unwrap().len(), 2);
    let warnings = done["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{done}");
    assert_eq!(warnings[0]["code"], 402);
    assert_eq!(warnings[0]["source"], "conversion");
    assert!(done["errors"].as_array().unwrap().is_empty());
    // Two credits, failing: the job fails and nothing is spent or left to download.
    let done = wait(
        &stack,
        create(&stack, job(2, true)).await["id"].as_str().unwrap(),
    )
    .await;
    assert_eq!(done["status"]["code"], "failed", "{done}");
    assert_eq!(done["spent"], 0);
    assert!(
        done["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["code"] == 402),
        "{done}"
    );
    for output in done["output"].as_array().unwrap() {
        assert_eq!(output["status"], "disabled", "{output}");
        let got = stack
            .http
            .get(output["uri"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(got.status(), 410);
    }
    stack.stop().await;
}
}

/// What two runs of the same work must share.
fn outcome(job: &Value) -> Value {
    let mut outputs: Vec<Value> = job["output"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| json!([o["filename"], o["size"], o["checksum"], o["content_type"]]))
        .collect();
    outputs.sort_by_key(|o| o.to_string());
    json!({
        "status": job["status"],
        "spent": job["spent"],
        "outputs": outputs,
        "options": job["conversion"].as_array().unwrap().iter().map(|c| c["options"].clone()).collect::<Vec<_>>(),
        "errors": job["errors"], "warnings": job["warnings"],
    })
}

on_both_backends! {
async fn a_staged_job_ends_like_the_same_job_sent_whole(home) {
    let stack = Stack::at(home, Vec::new()).await;
    let source = format!(
        "{}/photo.jpg",
        serve_file("127.0.0.1", jpeg(300, 200)).await
    );
    let conversion = json!({"target": "jpg", "options": {"width": 100, "quality": 70}});
    let whole = create(
        &stack,
        json!({"input": [remote(&source)], "conversion": [conversion.clone()]}),
    )
    .await;
    assert_eq!(whole["status"]["code"], "queued", "{whole}");

    let staged = create(&stack, json!({"process": false})).await;
    let id = staged["id"].as_str().unwrap();
    assert_eq!(staged["status"]["code"], "incomplete");
    let c = call(
        &stack,
        ALICE,
        Method::POST,
        &format!("/jobs/{id}/conversions"),
        Some(json!({"target": "png"})),
    )
    .await;
    assert_eq!(c.status, 201, "{}", c.text);
    let png_id = c.body["id"].as_str().unwrap().to_string();
    // The conversion changes before the job starts: the jpg one replaces the png one.
    let c = call(
        &stack,
        ALICE,
        Method::POST,
        &format!("/jobs/{id}/conversions"),
        Some(conversion),
    )
    .await;
    assert_eq!(c.status, 201, "{}", c.text);
    let d = call(
        &stack,
        ALICE,
        Method::DELETE,
        &format!("/jobs/{id}/conversions/{png_id}"),
        None,
    )
    .await;
    assert_eq!(d.status, 204, "{}", d.text);
    let i = call(
        &stack,
        ALICE,
        Method::POST,
        &format!("/jobs/{id}/input"),
        Some(remote(&source)),
    )
    .await;
    assert_eq!(i.status, 201, "{}", i.text);
    assert_eq!(i.body["type"], "remote");
    let ready = call(&stack, ALICE, Method::GET, &format!("/jobs/{id}"), None).await;
    assert_eq!(ready.body["status"]["code"], "ready");
    let started = call(
        &stack,
        ALICE,
        Method::PATCH,
        &format!("/jobs/{id}"),
        Some(json!({"process": true})),
    )
    .await;
    assert_eq!(started.status, 200, "{}", started.text);
    assert_eq!(started.body["status"]["code"], "queued");
    // Once started, the job cannot change.
    let late = call(
        &stack,
        ALICE,
        Method::POST,
        &format!("/jobs/{id}/conversions"),
        Some(json!({"target": "gif"})),
    )
    .await;
    assert_eq!(late.status, 409, "{}", late.text);

    let whole = wait(&stack, whole["id"].as_str().unwrap()).await;
    let staged = wait(&stack, id).await;
    assert_eq!(whole["status"]["code"], "completed", "{whole}");
    assert_eq!(outcome(&whole), outcome(&staged));
    let history = call(
        &stack,
        ALICE,
        Method::GET,
        &format!("/jobs/{id}/history"),
        None,
    )
    .await;
    let codes: Vec<&str> = history
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "incomplete",
            "ready",
            "queued",
            "downloading",
            "processing",
            "completed"
        ]
    );
    stack.stop().await;
}
}

on_both_backends! {
async fn status_callbacks_arrive_in_order_signed_one_per_change(home) {
    // The first callback fails once: the later ones wait for its retry (one second here).
    let stack =
        Stack::at(home, vec![("FOLIO_WEBHOOK_RETRY_BASE_SECONDS", "1".to_string())]).await;
    let receiver = Receiver::start(&[500]).await;
    let source = format!("{}/photo.jpg", serve_file("127.0.0.1", jpeg(64, 64)).await);
    let job = create(
        &stack,
        json!({"input": [remote(&source)], "conversion": [{"target": "webp"}],
               "callback": receiver.url, "notify_status": true}),
    )
    .await;
    let id = job["id"].as_str().unwrap();
    wait(&stack, id).await;
    receiver.wait_for(5, 30).await;
    // Time for a duplicate or a late one to arrive, if any would.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let got = receiver.received();
    let secret = alice_webhook_secret();
    let mut codes = Vec::new();
    for callback in &got {
        assert!(signature_is_valid(
            &secret,
            callback.header("Folio-Signature"),
            &callback.body
        ));
        let expected = folio_shared::notify::signature::oc_sign(&secret, &callback.body);
        assert_eq!(callback.header("X-Oc-Signature"), expected);
        let body = callback.json();
        assert_eq!(body["id"], id);
        codes.push(body["status"]["code"].as_str().unwrap().to_string());
    }
    assert_eq!(
        codes,
        ["queued", "queued", "downloading", "processing", "completed"],
        "the refused first callback, its retry, then the rest in order: {codes:?}"
    );
    assert_eq!(got[0].body, got[1].body, "the retry is the same callback");
    stack.stop().await;
}
}

#[tokio::test]
async fn nine_pairs_end_the_job_once_whatever_is_redelivered() {
    let stack = Stack::start().await;
    let receiver = Receiver::start(&[]).await;
    let base = serve_file("127.0.0.1", jpeg(200, 150)).await;
    let inputs: Vec<Value> = (0..3)
        .map(|i| remote(&format!("{base}/in{i}.jpg")))
        .collect();
    let job = create(
        &stack,
        json!({"input": inputs, "conversion": [{"target": "png"}, {"target": "webp"}, {"target": "avif"}],
               "callback": receiver.url}),
    )
    .await;
    let id = job["id"].as_str().unwrap().to_string();
    // The start message twice more at once: the fetches race, one wins, nothing is lost.
    let sqs = aws_sdk_sqs::Client::new(&stack.sdk);
    let queue = &stack.aws().jobs_queue_url;
    for _ in 0..2 {
        sqs.send_message()
            .queue_url(queue)
            .message_body(json!({"kind": "start", "job_id": id}).to_string())
            .send()
            .await
            .unwrap();
    }
    let done = wait(&stack, &id).await;
    assert_eq!(done["status"]["code"], "completed", "{done}");
    assert_eq!(done["output"].as_array().unwrap().len(), 9);
    assert_eq!(done["spent"], 9);
    // Every message of the job again: the start and the nine pairs.
    let mut messages = vec![json!({"kind": "start", "job_id": id})];
    for input in done["input"].as_array().unwrap() {
        for conversion in done["conversion"].as_array().unwrap() {
            messages.push(json!({"kind": "pair", "job_id": id, "input_id": input["id"], "conversion_id": conversion["id"]}));
        }
    }
    for m in &messages {
        sqs.send_message()
            .queue_url(queue)
            .message_body(m.to_string())
            .send()
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    let again = wait(&stack, &id).await;
    assert_eq!(outcome(&again), outcome(&done));
    let finals: Vec<_> = receiver
        .received()
        .into_iter()
        .filter(|r| r.json()["status"]["code"] == "completed")
        .collect();
    assert_eq!(finals.len(), 1, "one final callback");
    stack.stop().await;
}

on_both_backends! {
async fn remote_inputs_to_private_addresses_are_refused(home) {
    // Only 127.0.0.2 is allowed here; the file server lives there.
    let stack = Stack::at(
        home,
        vec![("FOLIO_ALLOWED_PRIVATE_NETWORKS", "127.0.0.2/32".to_string())],
    )
    .await;
    let base = serve_file("127.0.0.2", jpeg(32, 32)).await;
    let port = base.rsplit(':').next().unwrap();
    // An address in the URL itself is refused when the job is created, naming the input.
    for url in [
        format!("http://127.0.0.1:{port}/a.jpg"),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        "http://10.0.0.1/a.jpg".to_string(),
    ] {
        let answer = call(
            &stack,
            ALICE,
            Method::POST,
            "/jobs",
            Some(json!({"input": [remote(&url)], "conversion": [{"target": "png"}]})),
        )
        .await;
        assert_eq!(answer.status, 400, "{url}: {}", answer.text);
        assert!(answer.text.contains("input[0].source"), "{}", answer.text);
        assert!(answer.text.contains("private or reserved"), "{}", answer.text);
    }
    // A public-looking URL that redirects to one is refused when it is fetched.
    let refused = [
        format!("{base}/redirect?to=http://127.0.0.1:{port}/b.jpg"),
        format!("{base}/redirect?to=http://169.254.169.254/latest/"),
    ];
    let mut inputs: Vec<Value> = refused.iter().map(|u| remote(u)).collect();
    inputs.push(remote(&format!("{base}/good.jpg")));
    let job = create(
        &stack,
        json!({"input": inputs, "conversion": [{"target": "png"}], "fail_on_input_error": false}),
    )
    .await;
    let done = wait(&stack, job["id"].as_str().unwrap()).await;
    assert_eq!(done["status"]["code"], "completed", "{done}");
    assert_eq!(done["output"].as_array().unwrap().len(), 1);
    let warnings = done["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), refused.len(), "{done}");
    for w in warnings {
        assert_eq!(w["code"], 403, "{w}");
        assert!(
            w["message"]
                .as_str()
                .unwrap()
                .contains("private or reserved"),
            "{w}"
        );
    }
    // Failing on input errors (the default), the same inputs fail the job.
    let job = create(
        &stack,
        json!({"input": [remote(&refused[0])], "conversion": [{"target": "png"}]}),
    )
    .await;
    let done = wait(&stack, job["id"].as_str().unwrap()).await;
    assert_eq!(done["status"]["code"], "failed");
    assert_eq!(done["input"][0]["status"], "failed");
    stack.stop().await;
}
}

pub(crate) async fn upload(stack: &Stack, job: &Value, name: &str, bytes: Vec<u8>) -> Answer {
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(bytes).file_name(name.to_string()),
    );
    let response = stack
        .http
        .post(format!(
            "{}/upload-file/{}",
            job["server"].as_str().unwrap(),
            job["id"].as_str().unwrap()
        ))
        .header("X-Api2convert-Token", job["token"].as_str().unwrap())
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    Answer {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
        headers,
    }
}

on_both_backends! {
async fn limits_and_download_passwords_are_enforced(home) {
    let stack = Stack::at(home, Vec::new()).await;
    let base = serve_file("127.0.0.1", jpeg(400, 300)).await;
    // max_file_size: a remote input over it fails; an upload over it is refused (402).
    let job = create(
        &stack,
        json!({"input": [remote(&format!("{base}/big.jpg"))], "conversion": [{"target": "png"}],
               "limits": {"input": {"max_file_size": 1000}}}),
    )
    .await;
    let done = wait(&stack, job["id"].as_str().unwrap()).await;
    assert_eq!(done["status"]["code"], "failed");
    assert_eq!(done["errors"][0]["code"], 413, "{done}");
    let staged = create(
        &stack,
        json!({"process": false, "conversion": [{"target": "png"}], "limits": {"input": {"max_file_size": 1000}}}),
    )
    .await;
    let refused = upload(&stack, &staged, "big.jpg", jpeg(400, 300)).await;
    assert_eq!(refused.status, 402, "{}", refused.text);
    assert!(
        refused.body["message"]
            .as_str()
            .unwrap()
            .contains("max_file_size")
    );
    // max_process_time: a job out of time converts nothing more (0 s: not even the first).
    let job = create(
        &stack,
        json!({"input": [remote(&format!("{base}/late.jpg"))], "conversion": [{"target": "png"}],
               "limits": {"job": {"max_process_time": 0}}}),
    )
    .await;
    let done = wait(&stack, job["id"].as_str().unwrap()).await;
    assert_eq!(done["status"]["code"], "failed", "{done}");
    assert_eq!(done["errors"][0]["code"], 408, "{done}");
    // max_inputs on upload: the refused file is not kept.
    let one = create(
        &stack,
        json!({"process": false, "conversion": [{"target": "png"}], "limits": {"job": {"max_inputs": 1}}}),
    )
    .await;
    assert_eq!(
        upload(&stack, &one, "a.jpg", jpeg(20, 20)).await.status,
        201
    );
    let refused = upload(&stack, &one, "b.jpg", jpeg(20, 20)).await;
    assert_eq!(refused.status, 402, "{}", refused.text);
    let kept = job_files(&stack, one["id"].as_str().unwrap(), "input/").await;
    assert_eq!(kept.len(), 1, "only the accepted upload's file");
    // max_inputs on create and on adding.
    let over = call(
        &stack,
        ALICE,
        Method::POST,
        "/jobs",
        Some(
            json!({"input": [remote(&format!("{base}/a.jpg")), remote(&format!("{base}/b.jpg"))],
                    "conversion": [{"target": "png"}], "limits": {"job": {"max_inputs": 1}}}),
        ),
    )
    .await;
    assert_eq!(over.status, 402, "{}", over.text);
    // max_downloads and a download password.
    let job = create(
        &stack,
        json!({"process": false, "conversion": [{"target": "jpg"}],
               "limits": {"output": {"max_downloads": 2}}, "download_passwords": ["open sesame"]}),
    )
    .await;
    let added = upload(&stack, &job, "photo.jpg", jpeg(40, 30)).await;
    assert_eq!(added.status, 201, "{}", added.text);
    assert_eq!(added.body["filename"], "photo.jpg");
    assert_eq!(added.body["status"], "ready");
    let id = job["id"].as_str().unwrap();
    let started = call(
        &stack,
        ALICE,
        Method::PATCH,
        &format!("/jobs/{id}"),
        Some(json!({"process": true})),
    )
    .await;
    assert_eq!(started.status, 200, "{}", started.text);
    let done = wait(&stack, id).await;
    assert!(
        !done.to_string().contains("open sesame"),
        "the password is never shown"
    );
    let uri = done["output"][0]["uri"].as_str().unwrap().to_string();
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let get = |password: Option<&'static str>| {
        let mut r = no_redirects.get(&uri);
        if let Some(p) = password {
            r = r.header("X-Api2convert-Download-Password", p);
        }
        r.send()
    };
    assert_eq!(get(None).await.unwrap().status(), 401);
    assert_eq!(get(Some("wrong")).await.unwrap().status(), 401);
    for _ in 0..2 {
        let ok = get(Some("open sesame")).await.unwrap();
        assert_eq!(ok.status(), 302);
        let bytes = stack
            .http
            .get(ok.headers()["location"].to_str().unwrap())
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert!(bytes.starts_with(b"\xff\xd8"));
    }
    let third = get(Some("open sesame")).await.unwrap();
    assert_eq!(third.status(), 410);
    let body: Value = third.json().await.unwrap();
    assert_eq!(body["error_code"], 109);
    let shown = call(
        &stack,
        ALICE,
        Method::GET,
        &format!("/jobs/{id}/output"),
        None,
    )
    .await;
    assert_eq!(shown.body[0]["status"], "overuse");
    assert_eq!(shown.body[0]["downloads_counter"], 2);
    stack.stop().await;
}
}

on_both_backends! {
async fn bad_requests_name_the_field_and_tenants_stay_apart(home) {
    let stack = Stack::at(home, Vec::new()).await;
    for (body, field) in [
        (
            json!({"conversion": [{"target": "docx"}]}),
            "conversion[0].target",
        ),
        (
            json!({"conversion": [{"target": "png", "options": {"width": "wide"}}]}),
            "conversion[0].options.width",
        ),
        (
            json!({"conversion": [{"target": "png", "options": {"sharpen": true}}]}),
            "conversion[0].options.sharpen",
        ),
        (
            json!({"conversion": [{"target": "png"}], "input": [{"type": "remote", "source": "ftp://x/a.jpg"}]}),
            "input[0].source",
        ),
        (
            json!({"conversion": [{"target": "png"}], "callback": "not a url"}),
            "callback",
        ),
        (
            json!({"conversion": [{"target": "png"}], "limits": {"job": {"max_credit": -1}}}),
            "limits.job.max_credit",
        ),
    ] {
        let a = call(&stack, ALICE, Method::POST, "/jobs", Some(body)).await;
        assert_eq!(a.status, 400, "{}", a.text);
        assert!(
            a.body["message"].as_str().unwrap().starts_with(field),
            "{}",
            a.text
        );
    }
    let none = call(&stack, "key-nobody", Method::GET, "/jobs", None).await;
    assert_eq!(none.status, 401);
    let job = create(
        &stack,
        json!({"process": false, "conversion": [{"target": "png"}]}),
    )
    .await;
    let id = job["id"].as_str().unwrap();
    for method in [Method::GET, Method::DELETE, Method::PATCH] {
        let a = call(&stack, BOB, method, &format!("/jobs/{id}"), Some(json!({}))).await;
        assert_eq!(a.status, 404, "{}", a.text);
    }
    // The job's token opens that job only.
    let with_token = stack
        .http
        .get(format!("{}/v2/jobs/{id}", stack.base))
        .header("X-Oc-Token", job["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(with_token.status(), 200);
    let other = create(
        &stack,
        json!({"process": false, "conversion": [{"target": "png"}]}),
    )
    .await;
    let wrong = stack
        .http
        .get(format!(
            "{}/v2/jobs/{}",
            stack.base,
            other["id"].as_str().unwrap()
        ))
        .header("X-Oc-Token", job["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 404);
    // Listing: 204 for a tenant with none, X-Count otherwise.
    let bobs = call(&stack, BOB, Method::GET, "/jobs", None).await;
    assert_eq!(bobs.status, 204);
    let alices = call(&stack, ALICE, Method::GET, "/jobs?status=incomplete", None).await;
    assert_eq!(alices.status, 200);
    assert_eq!(alices.headers["x-count"], "2");
    // The catalog and the statuses.
    let catalog = call(&stack, ALICE, Method::GET, "/conversions?target=webp", None).await;
    assert_eq!(catalog.body[0]["options"]["quality"]["maximum"], 100);
    let statuses = call(&stack, ALICE, Method::GET, "/statuses", None).await;
    assert_eq!(statuses.body.as_array().unwrap().len(), 9);
    stack.stop().await;
}
}

/// Every log line of the process, for the credentials check.
pub(crate) fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(move || Writer(sink.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("no other test sets the global subscriber");
        logs
    })
    .clone()
}

struct Writer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Writer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn credentials_go_nowhere_and_are_not_kept() {
    let logs = captured_logs();
    let stack = Stack::start().await;
    let receiver = Receiver::start(&[]).await;
    let s3 = folio_shared::aws::s3_client(&stack.sdk);
    let bucket = stack.bucket_with("cred-", &[("a.jpg", jpeg(50, 50))]).await;
    // The emulator takes any secret; this one is unique, so finding it anywhere is a leak.
    let secret = format!("SECRET{}", uuid::Uuid::new_v4().simple());
    let credentials = json!({"accesskeyid": "AKIDTEST", "secretaccesskey": secret});
    let job = create(
        &stack,
        json!({
            "input": [{"type": "cloud", "source": "amazons3", "credentials": credentials,
                       "parameters": {"bucket": bucket, "file": "a.jpg", "region": "us-east-1"}}],
            "conversion": [{"target": "png", "output_target": [{"type": "amazons3", "credentials": credentials,
                            "parameters": {"bucket": bucket, "file": "out/"}}]}],
            "callback": receiver.url, "notify_status": true,
        }),
    )
    .await;
    assert!(!job.to_string().contains(&secret), "{job}");
    let id = job["id"].as_str().unwrap();
    let done = wait(&stack, id).await;
    assert_eq!(done["status"]["code"], "completed", "{done}");
    assert!(!done.to_string().contains(&secret));
    assert_eq!(done["input"][0]["credentials"], json!([]));
    assert_eq!(
        done["conversion"][0]["output_target"][0]["credentials"],
        json!([])
    );
    assert_eq!(
        done["conversion"][0]["output_target"][0]["status"],
        "completed"
    );
    s3.get_object()
        .bucket(&bucket)
        .key("out/a.png")
        .send()
        .await
        .expect("delivered");
    let callbacks = receiver.wait_for(4, 20).await;
    for c in &callbacks {
        assert!(!String::from_utf8_lossy(&c.body).contains(&secret));
    }
    // The record no longer holds them once the job has ended.
    let item = job_record(&stack, id).await;
    assert!(!item.contains(&secret));
    // A staged job with them, canceled: gone from its record too.
    let staged = create(
        &stack,
        json!({"process": false, "conversion": [{"target": "png"}],
               "input": [{"type": "cloud", "source": "amazons3", "credentials": credentials,
                          "parameters": {"bucket": bucket, "file": "a.jpg"}}]}),
    )
    .await;
    let staged_id = staged["id"].as_str().unwrap();
    let canceled = call(
        &stack,
        ALICE,
        Method::DELETE,
        &format!("/jobs/{staged_id}"),
        None,
    )
    .await;
    assert_eq!(canceled.status, 204, "{}", canceled.text);
    let item = job_record(&stack, staged_id).await;
    assert!(!item.contains(&secret));
    let logged = String::from_utf8_lossy(&logs.lock().unwrap()).to_string();
    assert!(logged.contains(id), "the job's work was logged");
    assert!(!logged.contains(&secret), "a credential reached the logs");
    stack.stop().await;
}

on_both_backends! {
async fn cancel_stops_the_pairs_and_leaves_no_file(home) {
    let stack = Stack::at(home, Vec::new()).await;
    let receiver = Receiver::start(&[]).await;
    let base = serve_file("127.0.0.1", jpeg(1500, 1000)).await;
    let inputs: Vec<Value> = (0..4)
        .map(|i| remote(&format!("{base}/in{i}.jpg")))
        .collect();
    let job = create(
        &stack,
        json!({"input": inputs, "conversion": [{"target": "avif"}, {"target": "png"}, {"target": "webp"}],
               "callback": receiver.url}),
    )
    .await;
    let id = job["id"].as_str().unwrap().to_string();
    // Cancel once the pairs are running.
    reach(&stack, &id, "processing").await;
    let canceled = call(&stack, ALICE, Method::DELETE, &format!("/jobs/{id}"), None).await;
    assert_eq!(canceled.status, 204, "{}", canceled.text);
    let again = call(&stack, ALICE, Method::DELETE, &format!("/jobs/{id}"), None).await;
    assert_eq!(again.status, 409, "a canceled job cannot be canceled again");
    // Let the pairs that were converting finish what they were doing.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let done = wait(&stack, &id).await;
    assert_eq!(done["status"]["code"], "canceled");
    assert_eq!(done["spent"], 0, "{done}");
    for output in done["output"].as_array().unwrap() {
        assert_eq!(output["status"], "disabled", "{output}");
    }
    let listed = job_files(&stack, &id, "").await;
    assert!(listed.is_empty(), "{listed:?}");
    let finals: Vec<Value> = receiver.received().iter().map(|r| r.json()).collect();
    assert_eq!(finals.len(), 1, "one final callback");
    assert_eq!(finals[0]["status"]["code"], "canceled");
    stack.stop().await;
}
}

on_both_backends! {
async fn a_job_takes_an_earlier_jobs_output_or_input_of_its_own_tenant_only(home) {
    let stack = Stack::at(home, Vec::new()).await;
    let source = format!(
        "{}/photo.jpg",
        serve_file("127.0.0.1", jpeg(400, 300)).await
    );
    let first = create(&stack, json!({"input": [remote(&source)], "conversion": [{"target": "png", "options": {"width": 200}}]})).await;
    let first = wait(&stack, first["id"].as_str().unwrap()).await;
    let output_id = first["output"][0]["id"].as_str().unwrap().to_string();
    let second = create(
        &stack,
        json!({"input": [{"type": "output", "source": output_id}], "conversion": [{"target": "webp", "options": {"width": 50}}]}),
    )
    .await;
    let second = wait(&stack, second["id"].as_str().unwrap()).await;
    assert_eq!(second["status"]["code"], "completed", "{second}");
    assert_eq!(second["input"][0]["filename"], "photo.png");
    assert_eq!(second["output"][0]["filename"], "photo.webp");
    // An input of the earlier job, by its id: its file is kept until the job expires.
    let input_id = first["input"][0]["id"].as_str().unwrap().to_string();
    let third = create(
        &stack,
        json!({"input": [{"type": "input_id", "source": input_id}], "conversion": [{"target": "gif"}]}),
    )
    .await;
    let third = wait(&stack, third["id"].as_str().unwrap()).await;
    assert_eq!(third["status"]["code"], "completed", "{third}");
    assert_eq!(third["output"][0]["filename"], "photo.gif");
    // Bob can name neither.
    for (kind, id) in [("input_id", &input_id), ("output", &output_id)] {
        let bobs = call(
            &stack,
            BOB,
            Method::POST,
            "/jobs",
            Some(
                json!({"input": [{"type": kind, "source": id}], "conversion": [{"target": "gif"}]}),
            ),
        )
        .await;
        assert_eq!(bobs.status, 201, "{}", bobs.text);
        let done = wait_as(&stack, BOB, bobs.body["id"].as_str().unwrap()).await;
        assert_eq!(done["status"]["code"], "failed", "{done}");
        let message = done["errors"][0]["message"].as_str().unwrap();
        assert!(message.starts_with("No "), "{done}");
    }
    stack.stop().await;
}
}

on_both_backends! {
async fn uploads_side_by_side_to_one_job_all_land(home) {
    let stack = Stack::at(home, Vec::new()).await;
    let job = create(
        &stack,
        json!({"process": false, "conversion": [{"target": "png"}]}),
    )
    .await;
    let uploads = (0..16).map(|i| {
        let (stack, job) = (&stack, &job);
        async move {
            upload(stack, job, &format!("f{i}.jpg"), jpeg(16, 16))
                .await
                .status
        }
    });
    let statuses: Vec<u16> = futures_util::future::join_all(uploads).await;
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
    let id = job["id"].as_str().unwrap();
    let inputs = call(
        &stack,
        ALICE,
        Method::GET,
        &format!("/jobs/{id}/input"),
        None,
    )
    .await;
    assert_eq!(inputs.body.as_array().unwrap().len(), 16);
    let shown = call(&stack, ALICE, Method::GET, &format!("/jobs/{id}"), None).await;
    assert_eq!(shown.body["status"]["code"], "ready");
    stack.stop().await;
}
}

on_both_backends! {
async fn a_file_sent_in_pieces_is_one_input(home) {
    let stack = Stack::at(home, Vec::new()).await;
    let job = create(
        &stack,
        json!({"process": false, "conversion": [{"target": "png"}]}),
    )
    .await;
    let file = jpeg(300, 200);
    let total = file.len();
    let cut = [0, total / 3, 2 * total / 3, total];
    let url = format!(
        "{}/upload-file/{}",
        job["server"].as_str().unwrap(),
        job["id"].as_str().unwrap()
    );
    let piece = |uuid: &'static str, range: String, bytes: Vec<u8>| {
        let part = reqwest::multipart::Part::bytes(bytes).file_name("pieces.jpg");
        stack
            .http
            .post(&url)
            .header("X-Oc-Token", job["token"].as_str().unwrap())
            .header("x-oc-upload-uuid", uuid)
            .header("Content-Range", range)
            .multipart(reqwest::multipart::Form::new().part("file", part))
            .send()
    };
    let send = |i: usize| {
        piece(
            "upload-1",
            format!("bytes {}-{}/{total}", cut[i], cut[i + 1] - 1),
            file[cut[i]..cut[i + 1]].to_vec(),
        )
    };
    // Out of order, and the middle piece twice.
    for i in [2, 1, 1] {
        assert_eq!(send(i).await.unwrap().status(), 202);
    }
    let last = send(0).await.unwrap();
    assert_eq!(last.status(), 201);
    let input: Value = last.json().await.unwrap();
    assert_eq!(input["size"], total);
    assert_eq!(input["filename"], "pieces.jpg");
    // Sent again, the last piece joins nothing twice.
    assert_eq!(send(0).await.unwrap().status(), 202);
    let id = job["id"].as_str().unwrap();
    let inputs = call(
        &stack,
        ALICE,
        Method::GET,
        &format!("/jobs/{id}/input"),
        None,
    )
    .await;
    assert_eq!(inputs.body.as_array().unwrap().len(), 1);
    // A piece whose length is not its range's is refused.
    let bad = piece("upload-2", "bytes 0-9/100".into(), vec![0u8; 5])
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let started = call(
        &stack,
        ALICE,
        Method::PATCH,
        &format!("/jobs/{id}"),
        Some(json!({"process": true})),
    )
    .await;
    assert_eq!(started.status, 200);
    let done = wait(&stack, id).await;
    assert_eq!(done["status"]["code"], "completed", "{done}");
    stack.stop().await;
}
}

on_both_backends! {
async fn base64_uploads_conversion_and_output_changes(home) {
    let stack = Stack::at(home, Vec::new()).await;
    let job = create(
        &stack,
        json!({"process": false, "conversion": [{"target": "png", "options": {"width": 10}}]}),
    )
    .await;
    let id = job["id"].as_str().unwrap().to_string();
    let b64 = |bytes: Vec<u8>| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(bytes)
    };
    // Base64: a data URL with a name, and a list of two (the second with no name).
    let base64_url = format!("{}/upload-base64/{id}", job["server"].as_str().unwrap());
    let token = job["token"].as_str().unwrap();
    let one = stack
        .http
        .post(&base64_url)
        .header("X-Oc-Token", token)
        .json(&json!({"content": format!("data:image/jpeg;base64,{}", b64(jpeg(40, 20))), "filename": "strip.jpg"}))
        .send()
        .await
        .unwrap();
    assert_eq!(one.status(), 201);
    let one: Value = one.json().await.unwrap();
    assert_eq!(
        (one["type"].as_str(), one["filename"].as_str()),
        (Some("base64"), Some("strip.jpg"))
    );
    let two = stack
        .http
        .post(&base64_url)
        .header("X-Oc-Token", token)
        .json(&json!([{"content": b64(jpeg(30, 30)), "filename": "square.jpg"}, {"content": b64(jpeg(8, 8))}]))
        .send()
        .await
        .unwrap();
    assert_eq!(two.status(), 201);
    let two: Value = two.json().await.unwrap();
    assert_eq!(two[1]["filename"], "output", "the API's default name");
    let not_base64 = stack
        .http
        .post(&base64_url)
        .header("X-Oc-Token", token)
        .json(&json!({"content": "%%%"}))
        .send()
        .await
        .unwrap();
    assert_eq!(not_base64.status(), 400);
    // The conversion's options change before the start; a bad one names itself.
    let cid = job["conversion"][0]["id"].as_str().unwrap();
    let changed = call(
        &stack,
        ALICE,
        Method::PATCH,
        &format!("/jobs/{id}/conversions/{cid}"),
        Some(json!({"options": {"width": 20}})),
    )
    .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    assert_eq!(changed.body["options"]["width"], 20);
    let bad = call(
        &stack,
        ALICE,
        Method::PATCH,
        &format!("/jobs/{id}/conversions/{cid}"),
        Some(json!({"options": {"quality": 500}})),
    )
    .await;
    assert_eq!(bad.status, 400);
    assert!(
        bad.body["message"]
            .as_str()
            .unwrap()
            .starts_with("conversion.options.quality"),
        "{}",
        bad.text
    );
    call(
        &stack,
        ALICE,
        Method::PATCH,
        &format!("/jobs/{id}"),
        Some(json!({"process": true})),
    )
    .await;
    let done = wait(&stack, &id).await;
    assert_eq!(done["status"]["code"], "completed", "{done}");
    let outputs = done["output"].as_array().unwrap();
    assert_eq!(outputs.len(), 3);
    let strip = outputs
        .iter()
        .find(|o| o["filename"] == "strip.png")
        .expect("strip.png");
    // The 40x20 strip at width 20 is 20x10.
    let bytes = stack
        .http
        .get(strip["uri"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let png = image::load_from_memory(&bytes).unwrap();
    assert_eq!((png.width(), png.height()), (20, 10));
    // One output renamed (its extension kept) with a password of its own.
    let oid = strip["id"].as_str().unwrap();
    let renamed = call(
        &stack,
        ALICE,
        Method::PATCH,
        &format!("/jobs/{id}/output/{oid}"),
        Some(json!({"filename": "banner", "download_password": "s3cret"})),
    )
    .await;
    assert_eq!(renamed.status, 200, "{}", renamed.text);
    assert_eq!(renamed.body["filename"], "banner.png");
    let uri = renamed.body["uri"].as_str().unwrap().to_string();
    assert!(uri.ends_with("/banner.png"), "{uri}");
    assert_eq!(stack.http.get(&uri).send().await.unwrap().status(), 401);
    let opened = stack
        .http
        .get(&uri)
        .header("X-Oc-Download-Password", "s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(opened.status(), 200);
    // Deleted: its download is gone (410), the others stay.
    let deleted = call(
        &stack,
        ALICE,
        Method::DELETE,
        &format!("/jobs/{id}/output/{oid}"),
        None,
    )
    .await;
    assert_eq!(deleted.status, 204);
    let gone = stack
        .http
        .get(&uri)
        .header("X-Oc-Download-Password", "s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 410);
    let other = outputs.iter().find(|o| o["id"] != oid).unwrap();
    assert_eq!(
        stack
            .http
            .get(other["uri"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    stack.stop().await;
}
}

#[tokio::test]
async fn a_job_whose_start_cannot_be_queued_is_not_left_queued() {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").expect("the emulator's address");
    let stack = Stack::start_with(vec![(
        "FOLIO_JOBS_QUEUE_URL",
        format!("{endpoint}/000000000000/no-such-queue"),
    )])
    .await;
    let a = call(
        &stack,
        ALICE,
        Method::POST,
        "/jobs",
        Some(json!({"input": [remote("https://example.com/a.jpg")], "conversion": [{"target": "png"}]})),
    )
    .await;
    assert_eq!(a.status, 500, "{}", a.text);
    let listed = call(&stack, ALICE, Method::GET, "/jobs", None).await;
    assert_eq!(listed.body[0]["status"]["code"], "ready", "{}", listed.text);
    stack.stop().await;
}

#[tokio::test]
async fn a_dead_lettered_start_of_a_running_job_ends_it() {
    let stack = Stack::start().await;
    let base = serve_file("127.0.0.1", jpeg(1500, 1000)).await;
    let inputs: Vec<Value> = (0..4)
        .map(|i| remote(&format!("{base}/in{i}.jpg")))
        .collect();
    let job = create(
        &stack,
        json!({"input": inputs, "conversion": [{"target": "avif"}, {"target": "png"}, {"target": "webp"}]}),
    )
    .await;
    let id = job["id"].as_str().unwrap().to_string();
    reach(&stack, &id, "processing").await;
    // As if its start message had failed three times after the status was written: the
    // dead-letter worker counts every pair not yet run as failed, so the job ends.
    let worker = folio_shared::dead_letter::DeadLetterWorker {
        app: stack.running.app.clone(),
    };
    let message = folio_shared::queue::QueueMessage {
        id: "dead-start".into(),
        body: json!({"kind": "start", "job_id": id}).to_string(),
        receive_count: 3,
        receipt_handle: None,
        group: None,
    };
    use folio_shared::queue::QueueWorker;
    worker
        .handle(&message)
        .await
        .expect("the dead letter is handled");
    let done = wait(&stack, &id).await;
    assert_eq!(done["status"]["code"], "failed", "{done}");
    assert!(
        done["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["code"] == 500),
        "{done}"
    );
    assert_eq!(done["spent"], 0);
    stack.stop().await;
}

/// Cloud inputs reach S3 in the emulator: on the AWS backend only.
#[tokio::test]
async fn inputs_change_before_the_start_and_not_after() {
    let stack = Stack::start().await;
    let bucket = stack
        .bucket_with("patch-", &[("right.jpg", jpeg(20, 20))])
        .await;
    let job = create(
        &stack,
        json!({"process": false, "conversion": [{"target": "png"}],
               "input": [{"type": "cloud", "source": "amazons3",
                          "parameters": {"bucket": bucket, "file": "wrong.jpg"},
                          "credentials": {"accesskeyid": "AK", "secretaccesskey": "old"}}]}),
    )
    .await;
    let id = job["id"].as_str().unwrap();
    let input_id = job["input"][0]["id"].as_str().unwrap();
    let path = format!("/jobs/{id}/input/{input_id}");
    // A secret among the parameters is refused; it belongs in credentials.
    let refused = call(
        &stack,
        ALICE,
        Method::PATCH,
        &path,
        Some(json!({"parameters": {"secretkey": "x"}})),
    )
    .await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert!(
        refused.body["message"]
            .as_str()
            .unwrap()
            .starts_with("input.parameters.secretkey")
    );
    // The file and the credentials change (the list form); the job then completes.
    let changed = call(
        &stack,
        ALICE,
        Method::PATCH,
        &format!("/jobs/{id}/input"),
        Some(json!([{"id": input_id, "parameters": {"file": "right.jpg"},
                     "credentials": {"accesskeyid": "AK", "secretaccesskey": "new"}}])),
    )
    .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    assert_eq!(changed.body[0]["parameters"]["file"], "right.jpg");
    assert_eq!(changed.body[0]["credentials"], json!([]));
    call(
        &stack,
        ALICE,
        Method::PATCH,
        &format!("/jobs/{id}"),
        Some(json!({"process": true})),
    )
    .await;
    let done = wait(&stack, id).await;
    assert_eq!(done["status"]["code"], "completed", "{done}");
    assert_eq!(done["output"][0]["filename"], "right.png");
    let late = call(
        &stack,
        ALICE,
        Method::PATCH,
        &path,
        Some(json!({"parameters": {"file": "x.jpg"}})),
    )
    .await;
    assert_eq!(late.status, 409, "{}", late.text);
    stack.stop().await;
}
