//! `folio serve` on one machine when things go wrong around it:
//!
//! - killed with SIGKILL at random points of a batch, a PDF task and uploads, then started
//!   again on the same data folder: every accepted item ends exactly once, counts are exact,
//!   one end notification each (by event id), no partial file at any output key, no message
//!   left on any queue;
//! - its data folder's disk full: what needs space is refused with a 503 that says so,
//!   nothing half-written stays, what was accepted before is intact, and it works again
//!   once space is freed;
//! - a database file that is not one: `folio serve` stops at once, naming the file.

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use folio_cli::local::LocalState;
use serde_json::{Value, json};

const KEY: &str = "key-crash";
const ROLE: &str = "arn:aws:iam::123456789012:role/folio-local";
/// Enough that the batch outlasts the first kill, 50 to 450 ms after the setup, however fast
/// the conversions run.
const OBJECTS: usize = 320;
const JOB_INPUTS: usize = 24;

struct Server {
    child: Child,
    base: String,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn start(data: &Path, state: &Path, port: u16) -> Server {
    start_in(Command::new(env!("CARGO_BIN_EXE_folio")), data, state, port)
}

/// `folio serve` run by `launcher` (the binary itself, or a wrapper that ends by running
/// the arguments it is given).
fn start_in(mut launcher: Command, data: &Path, state: &Path, port: u16) -> Server {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(data.with_extension("log"))
        .expect("a log file");
    let child = launcher
        .args([
            "serve",
            "--addr",
            &format!("127.0.0.1:{port}"),
            "--workers",
            "2",
        ])
        .arg("--data")
        .arg(data)
        .arg("--state-file")
        .arg(state)
        .env("FOLIO_BACKEND", "embedded")
        .env("FOLIO_WEBHOOK_RETRY_BASE_SECONDS", "1")
        .env_remove("AWS_ENDPOINT_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("folio serve starts");
    Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    }
}

impl Server {
    fn kill(mut self) {
        // SIGKILL: no shutdown of any kind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn ready(http: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let answered = http
            .get(format!("{base}/ListProjects"))
            .bearer_auth(KEY)
            .send()
            .await;
        if answered.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("folio serve did not answer within 30 s");
}

async fn call(http: &reqwest::Client, base: &str, op: &str, body: Value) -> Value {
    let response = http
        .post(format!("{base}/{op}"))
        .bearer_auth(KEY)
        .json(&body)
        .send()
        .await
        .expect("the server answers");
    let status = response.status();
    let body: Value = response.json().await.expect("JSON");
    assert!(status.is_success(), "{op}: {status} {body}");
    body
}

async fn query(http: &reqwest::Client, base: &str, op: &str, q: &[(&str, &str)]) -> Option<Value> {
    let response = http
        .get(format!("{base}/{op}"))
        .bearer_auth(KEY)
        .query(q)
        .send()
        .await
        .ok()?;
    response.json().await.ok()
}

fn png(width: u32, height: u32, seed: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 7 + seed) as u8, (y * 3) as u8, seed as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("encoding a PNG");
    out.into_inner()
}

/// A webhook receiver on loopback: every message's event id and body.
async fn receiver() -> (String, Arc<Mutex<Vec<(String, Value)>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let url = format!("http://{}/hook", listener.local_addr().expect("an address"));
    let seen = got.clone();
    let router = axum::Router::new().fallback(
        move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let seen = seen.clone();
            async move {
                let id = headers
                    .get("folio-event-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
                seen.lock().expect("the list").push((id, body));
                "ok"
            }
        },
    );
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, got)
}

/// A file server on loopback: `/in-<n>.png` is a PNG of its own; returns the base URL.
async fn file_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let base = format!("http://{}", listener.local_addr().expect("an address"));
    let router = axum::Router::new().fallback(|uri: axum::http::Uri| async move {
        let n: u32 = uri
            .path()
            .trim_start_matches("/in-")
            .trim_end_matches(".png")
            .parse()
            .unwrap_or(0);
        ([("content-type", "image/png")], png(200 + n, 150, n))
    });
    tokio::spawn(async move { axum::serve(listener, router).await });
    base
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_random_points_every_accepted_item_ends_exactly_once() {
    let root = std::env::temp_dir().join(format!("folio-crash-{}", uuid::Uuid::new_v4()));
    let data = root.join("data");
    let state = root.join("local.json");
    LocalState::new(&[(KEY, "tenant-crash")], "crash-master-secret")
        .save(&state)
        .expect("a state file");
    let bucket_dir = data.join("buckets").join("crash-photos");
    for i in 0..OBJECTS {
        let path = bucket_dir.join(format!("in/{}/p{i:03}.png", i % 4));
        std::fs::create_dir_all(path.parent().expect("a folder")).expect("a folder");
        std::fs::write(&path, png(400 + i as u32, 300, i as u32)).expect("an object");
    }
    let (hook, received) = receiver().await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a client");
    let port = free_port();
    let server = start(&data, &state, port);
    ready(&http, &server.base).await;
    let base = server.base.clone();

    call(
        &http,
        &base,
        "CreateProject",
        json!({"ProjectName": "crash", "ServiceRole": ROLE}),
    )
    .await;
    let batch = call(
        &http,
        &base,
        "CreateBatch",
        json!({
            "ProjectName": "crash",
            "Input": {"OSS": {"Bucket": "crash-photos", "Prefix": "in/"}},
            "Actions": [
                {"Name": "image/resize", "Parameters": ["w=24", "h=20"]},
                {"Name": "image/format", "Parameters": ["format=webp"]},
                {"Name": "sys/saveas", "Parameters": ["uri=s3://crash-photos/out/{dirname}/{barename}.{autoext}"]},
            ],
            "Notification": {"Webhook": {"URL": hook}},
        }),
    )
    .await;
    let batch_id = batch["Id"].as_str().expect("an Id").to_string();
    let sources: Vec<Value> = (0..12)
        .map(|i| json!({"URI": format!("s3://crash-photos/in/{}/p{i:03}.png", i % 4)}))
        .collect();
    let task = call(
        &http,
        &base,
        "CreateImageToPDFTask",
        json!({
            "ProjectName": "crash",
            "Sources": sources,
            "TargetURI": "s3://crash-photos/pdf/all.pdf",
            "Notification": {"Webhook": {"URL": hook}},
        }),
    )
    .await;
    let task_id = task["TaskId"].as_str().expect("a TaskId").to_string();
    // A conversion job of remote inputs (served here, on loopback), one pair each.
    let files = file_server().await;
    let inputs: Vec<Value> = (0..JOB_INPUTS)
        .map(|i| json!({"type": "remote", "source": format!("{files}/in-{i}.png")}))
        .collect();
    let job: Value = http
        .post(format!("{base}/v2/jobs"))
        .header("X-Oc-Api-Key", KEY)
        .json(&json!({"input": inputs, "callback": hook,
                      "conversion": [{"target": "webp", "options": {"width": 32}}]}))
        .send()
        .await
        .expect("the server answers")
        .json()
        .await
        .expect("JSON");
    let job_id = job["id"].as_str().expect("a job id").to_string();

    // Uploads go on through the kills; every one the server accepted (200) must end Normal.
    let accepted = Arc::new(Mutex::new(Vec::<String>::new()));
    let uploading = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let uploader = {
        let (http, base, accepted, uploading) = (
            http.clone(),
            base.clone(),
            accepted.clone(),
            uploading.clone(),
        );
        tokio::spawn(async move {
            let mut n = 0u32;
            while uploading.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                let created = http
                    .post(format!("{base}/CreateUploadImage"))
                    .bearer_auth(KEY)
                    .json(&json!({"ImageType": "default", "ImageExt": "png"}))
                    .send()
                    .await;
                let Ok(created) = created else { continue };
                let Ok(created) = created.json::<Value>().await else {
                    continue;
                };
                let (Some(id), Some(auth)) =
                    (created["ImageId"].as_str(), created["UploadAuth"].as_str())
                else {
                    continue;
                };
                use base64::Engine;
                let auth: Value = base64::engine::general_purpose::STANDARD
                    .decode(auth)
                    .ok()
                    .and_then(|a| serde_json::from_slice(&a).ok())
                    .unwrap_or(Value::Null);
                let url = auth["UploadURL"].as_str().unwrap_or_default().to_string();
                let put = http.put(url).body(png(60, 40, n)).send().await;
                if put.is_ok_and(|r| r.status().is_success()) {
                    accepted.lock().expect("the list").push(id.to_string());
                }
            }
        })
    };

    // Four kills at pseudo-random points, each followed by a restart; at least the first
    // lands while the batch runs.
    let mut server = server;
    let mut seed = u64::from(port);
    let mut killed_mid_run = false;
    for _ in 0..4 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let after = 50 + (seed >> 33) % 400;
        tokio::time::sleep(Duration::from_millis(after)).await;
        let now = query(
            &http,
            &base,
            "GetBatch",
            &[("ProjectName", "crash"), ("Id", &batch_id)],
        )
        .await
        .unwrap_or(Value::Null);
        killed_mid_run |= now["Batch"]["State"] == "Running";
        server.kill();
        server = start(&data, &state, port);
        ready(&http, &base).await;
    }

    assert!(killed_mid_run, "no kill landed while the batch ran");
    uploading.store(false, std::sync::atomic::Ordering::Relaxed);
    uploader.await.expect("the uploader");
    let accepted = accepted.lock().expect("the list").clone();
    assert!(
        accepted.len() >= 5,
        "only {} uploads were accepted",
        accepted.len()
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    let (mut got_batch, mut got_task) = (Value::Null, Value::Null);
    while Instant::now() < deadline {
        got_batch = query(
            &http,
            &base,
            "GetBatch",
            &[("ProjectName", "crash"), ("Id", &batch_id)],
        )
        .await
        .unwrap_or(Value::Null);
        got_task = query(
            &http,
            &base,
            "GetTask",
            &[("ProjectName", "crash"), ("TaskId", &task_id)],
        )
        .await
        .unwrap_or(Value::Null);
        let batch_done =
            ["Succeeded", "Failed"].contains(&got_batch["Batch"]["State"].as_str().unwrap_or(""));
        let task_done = got_task["Status"].as_str().is_some_and(|s| s != "Running");
        if batch_done && task_done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(got_batch["Batch"]["State"], "Succeeded", "{got_batch}");
    assert_eq!(got_task["Status"], "Succeeded", "{got_task}");
    let mut got_job = Value::Null;
    while Instant::now() < deadline {
        got_job = http
            .get(format!("{base}/v2/jobs/{job_id}"))
            .header("X-Oc-Api-Key", KEY)
            .send()
            .await
            .expect("the server answers")
            .json()
            .await
            .unwrap_or(Value::Null);
        if ["completed", "failed"].contains(&got_job["status"]["code"].as_str().unwrap_or("")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(got_job["status"]["code"], "completed", "{got_job}");
    // One output per pair, each counted once.
    let outputs = got_job["output"].as_array().map(Vec::len);
    assert_eq!(outputs, Some(JOB_INPUTS), "{got_job}");
    assert_eq!(got_job["spent"], JOB_INPUTS, "{got_job}");

    for id in &accepted {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut status = Value::Null;
        while Instant::now() < deadline {
            let info = query(&http, &base, "GetImageInfos", &[("ImageIds", id)])
                .await
                .unwrap_or(Value::Null);
            status = info["ImageInfo"][0]["Status"].clone();
            if status != "Uploading" && !status.is_null() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(status, "Normal", "the accepted upload {id}");
    }

    // Every object converted once: one whole WebP each, nothing else under out/.
    let outputs = files_under(&bucket_dir.join("out"));
    assert_eq!(outputs.len(), OBJECTS, "{outputs:?}");
    for path in &outputs {
        let bytes = std::fs::read(path).expect("an output");
        let decoded = image::load_from_memory(&bytes).expect("a whole WebP");
        // Resized to fit 24x20, keeping the aspect.
        assert!(
            decoded.width() == 24 && decoded.height() <= 20,
            "{}: {}x{}",
            path.display(),
            decoded.width(),
            decoded.height()
        );
    }
    let pdf = std::fs::read(bucket_dir.join("pdf/all.pdf")).expect("the PDF");
    assert!(pdf.starts_with(b"%PDF-") && pdf.windows(5).any(|w| w == b"%%EOF"));
    assert_eq!(got_task["Output"]["PageCount"], 12, "{got_task}");
    assert!(
        files_under(&data.join("tmp")).is_empty(),
        "no temporary file is left: {:?}",
        files_under(&data.join("tmp"))
    );

    // One end notification each (a message may arrive twice; its event id is one).
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut ends: HashMap<String, usize> = HashMap::new();
    while Instant::now() < deadline {
        ends.clear();
        for (id, _) in received.lock().expect("the list").iter() {
            *ends.entry(id.clone()).or_default() += 1;
        }
        if ends.len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        ends.len(),
        3,
        "one end event each for the batch, the task and the job: {ends:?}"
    );

    // Nothing is left on any queue (an upload's message sent just before a kill waits for
    // its hold, at most 30 s, then finds its object or none).
    let folder = folio_shared::embedded::DataFolder::open(&data, false).expect("the folder");
    let queues = folio_shared::embedded::Queues::new(folder.db.clone());
    let deadline = Instant::now() + Duration::from_secs(45);
    let mut left = Vec::new();
    while Instant::now() < deadline {
        left.clear();
        for spec in folio_shared::embedded::queues::ALL {
            let depth = queues.depth(spec).await.expect("a depth");
            if depth > 0 {
                left.push((spec.name, depth));
            }
        }
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(left.is_empty(), "messages left: {left:?}");
    server.kill();
}

/// The wrapper that runs `folio serve` in a mount namespace of its own, its data folder on
/// a tmpfs of `size`: a disk that fills, seen by no one else and gone with the process.
fn on_a_small_disk(size: &str) -> Command {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    let mut launcher = Command::new("unshare");
    if !root {
        launcher.args(["--user", "--map-root-user"]);
    }
    launcher.args([
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        &format!("mount -t tmpfs -o size={size} folio-small-disk \"$1\" && shift && exec \"$@\""),
        "sh",
    ]);
    launcher
}

/// Writes into `path` until the disk is full.
fn fill(path: &Path) {
    use std::io::Write;
    let mut file = std::fs::File::create(path).expect("a filler file");
    let block = vec![0u8; 64 << 10];
    loop {
        if let Err(e) = file.write_all(&block) {
            assert_eq!(e.kind(), std::io::ErrorKind::StorageFull, "{e}");
            return;
        }
    }
}

async fn create_upload(http: &reqwest::Client, base: &str) -> reqwest::Response {
    http.post(format!("{base}/CreateUploadImage"))
        .bearer_auth(KEY)
        .json(&json!({"ImageType": "default", "ImageExt": "png"}))
        .send()
        .await
        .expect("the server answers")
}

/// The image id and upload URL of a `CreateUploadImage` answer.
async fn upload_target(created: reqwest::Response) -> (String, String) {
    use base64::Engine;
    let created: Value = created.json().await.expect("JSON");
    let auth: Value = base64::engine::general_purpose::STANDARD
        .decode(created["UploadAuth"].as_str().expect("an UploadAuth"))
        .ok()
        .and_then(|a| serde_json::from_slice(&a).ok())
        .expect("UploadAuth is Base64 JSON");
    (
        created["ImageId"].as_str().expect("an ImageId").to_string(),
        auth["UploadURL"]
            .as_str()
            .expect("an UploadURL")
            .to_string(),
    )
}

async fn status_of(http: &reqwest::Client, base: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let info = query(http, base, "GetImageInfos", &[("ImageIds", id)]).await;
        if Instant::now() > deadline {
            return info.unwrap_or_default();
        }
        let image = info.map(|i| i["ImageInfo"][0].clone()).unwrap_or_default();
        // No image in the answer: throttled (the per-tenant rate), asked again.
        let settled = image["Status"].is_string() && image["Status"] != "Uploading";
        if settled || Instant::now() > deadline {
            return image;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A 503 that names the full disk, in Folio's error shape.
async fn says_disk_full(response: reqwest::Response, what: &str) {
    let status = response.status();
    let body: Value = response.json().await.expect("a JSON refusal");
    assert_eq!(status, 503, "{what}: {body}");
    assert_eq!(body["Code"], "ServiceUnavailable", "{what}: {body}");
    let message = body["Message"].as_str().unwrap_or_default();
    assert!(message.contains("disk is full"), "{what}: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_refused_clearly_and_loses_nothing() {
    let root = std::env::temp_dir().join(format!("folio-full-{}", uuid::Uuid::new_v4()));
    let data = root.join("data");
    std::fs::create_dir_all(&data).expect("a folder");
    let state = root.join("local.json");
    LocalState::new(&[(KEY, "tenant-full")], "full-master-secret")
        .save(&state)
        .expect("a state file");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a client");
    let mut launcher = on_a_small_disk("24m");
    launcher.arg(&data).arg(env!("CARGO_BIN_EXE_folio"));
    let server = start_in(launcher, &data, &state, free_port());
    let base = server.base.clone();
    ready(&http, &base).await;
    // The data folder as the server sees it, on its own disk.
    let seen = PathBuf::from(format!("/proc/{}/root", server.child.id())).join(
        data.strip_prefix("/")
            .expect("an absolute temporary folder"),
    );

    // Accepted before the disk fills.
    let kept = png(120, 80, 1);
    let (kept_id, url) = upload_target(create_upload(&http, &base).await).await;
    let put = http
        .put(&url)
        .body(kept.clone())
        .send()
        .await
        .expect("answers");
    assert_eq!(put.status(), 200);
    assert_eq!(status_of(&http, &base, &kept_id).await["Status"], "Normal");
    let (late_id, late_url) = upload_target(create_upload(&http, &base).await).await;

    fill(&seen.join("filler"));
    // An upload needs space: refused, saying why, nothing of it left behind.
    let refused = http
        .put(&late_url)
        .body(png(400, 300, 2))
        .send()
        .await
        .expect("answers");
    says_disk_full(refused, "an upload on a full disk").await;
    let staged: Vec<_> = files_under(&seen.join("tmp"));
    assert!(staged.is_empty(), "{staged:?}");
    // Calls that write answer 200 (the database had room) or the same 503; never a 500.
    for _ in 0..5 {
        let answer = create_upload(&http, &base).await;
        if answer.status() != 200 {
            says_disk_full(answer, "CreateUploadImage on a full disk").await;
        }
    }
    // What was accepted is intact and readable.
    let image = status_of(&http, &base, &kept_id).await;
    assert_eq!(image["Status"], "Normal", "{image}");
    let download = image["URL"].as_str().expect("a URL").to_string();
    let bytes = http
        .get(&download)
        .send()
        .await
        .expect("answers")
        .bytes()
        .await;
    assert_eq!(bytes.expect("the file").to_vec(), kept);

    // Space freed: the same upload URL works, and its image is processed.
    std::fs::remove_file(seen.join("filler")).expect("the filler removed");
    let put = http
        .put(&late_url)
        .body(png(40, 30, 3))
        .send()
        .await
        .expect("answers");
    assert_eq!(put.status(), 200);
    assert_eq!(status_of(&http, &base, &late_id).await["Status"], "Normal");
    server.kill();
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_database_that_is_not_one_stops_the_server_naming_the_file() {
    let root = std::env::temp_dir().join(format!("folio-garbled-{}", uuid::Uuid::new_v4()));
    let data = root.join("data");
    std::fs::create_dir_all(&data).expect("a folder");
    let db = data.join("folio.db");
    std::fs::write(&db, vec![0x5a; 8192]).expect("a garbled database");
    let out = Command::new(env!("CARGO_BIN_EXE_folio"))
        .args(["serve", "--addr", "127.0.0.1:0"])
        .arg("--data")
        .arg(&data)
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .expect("folio serve runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains(&db.display().to_string()), "{stderr}");
    assert!(stderr.contains("not a database"), "{stderr}");
    // The file is left as it was, for its owner to look at.
    assert_eq!(std::fs::read(&db).expect("the file"), vec![0x5a; 8192]);
    let _ = std::fs::remove_dir_all(&root);
}
