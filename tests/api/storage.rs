//! Jobs that read from and write to users' own storage, against the servers `make test`
//! starts (scripts/storage-servers.sh): a Google Cloud Storage emulator that checks the
//! service account's signed tokens, Azurite (which checks Shared Key signatures), and
//! pyftpdlib, plain and explicit FTPS. What lands is read back with each provider's own
//! client (tests/sdk/storage_peer.py).

use http::Method;
use serde_json::{Value, json};

use crate::harness::{ALICE, Stack, jpeg};
use crate::jobs::{call, captured_logs, create, job_record, wait};
use crate::on_both_backends;
use crate::receiver::Receiver;

const AZURITE_ACCOUNT: &str = "devstoreaccount1";
const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const FTP_PASSWORD: &str = "ftp-secret-of-folio";

fn env(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is unset: run the storage tests with `make test`"))
}

/// One provider as a job names it, and how the test reaches it.
struct Provider {
    /// The job's `source` / `type`.
    name: &'static str,
    /// storage_peer.py's name for it (`ftps` for the FTPS server).
    peer: &'static str,
    /// The bucket or container (`-` on FTP).
    place: String,
    /// Every locator key but `file`.
    parameters: Value,
    credentials: Value,
    bad_credentials: Value,
    /// Text of the credentials that must never be shown or logged.
    secret: String,
    /// Locator keys of a place that is not there (a missing bucket or container, a host
    /// that answers nothing), and what an input from it and an output to it say.
    nowhere: Value,
    nowhere_input: (u32, &'static str),
    nowhere_output: &'static str,
}

impl Provider {
    fn at(&self, file: &str) -> Value {
        let mut parameters = self.parameters.clone();
        parameters["file"] = json!(file);
        parameters
    }

    fn input(&self, file: &str, credentials: &Value) -> Value {
        json!({"type": "cloud", "source": self.name, "parameters": self.at(file),
               "credentials": credentials})
    }

    fn target(&self, file: &str, credentials: &Value, overwrite: bool) -> Value {
        let mut parameters = self.at(file);
        if overwrite {
            parameters["overwrite"] = json!(true);
        }
        json!({"type": self.name, "parameters": parameters, "credentials": credentials})
    }
}

/// The stack's settings for the storage servers.
pub(crate) fn config() -> Vec<(&'static str, String)> {
    vec![
        ("FOLIO_GCS_ENDPOINT", env("FOLIO_TEST_GCS_URL")),
        (
            "FOLIO_AZURE_BLOB_ENDPOINT",
            format!("{}/{{account}}", env("FOLIO_TEST_AZURE_URL")),
        ),
        ("FOLIO_FTP_CA_FILE", env("FOLIO_TEST_FTP_CA")),
    ]
}

fn peer(args: &[&str]) -> std::process::Output {
    let root = crate::harness::crate_dir();
    std::process::Command::new(root.join("../.venv/bin/python"))
        .arg(root.join("sdk/storage_peer.py"))
        .args(args)
        .output()
        .expect("running storage_peer.py (make test installs its clients into .venv)")
}

fn peer_put(p: &Provider, path: &str, bytes: &[u8]) {
    let file = std::env::temp_dir().join(format!("folio-peer-{}", uuid::Uuid::new_v4()));
    std::fs::write(&file, bytes).unwrap();
    let out = peer(&["put", p.peer, &p.place, path, file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The file at `path` as the provider's own client reads it; None when it is absent.
fn peer_get(p: &Provider, path: &str) -> Option<Vec<u8>> {
    let file = std::env::temp_dir().join(format!("folio-peer-{}", uuid::Uuid::new_v4()));
    let out = peer(&["get", p.peer, &p.place, path, file.to_str().unwrap()]);
    match out.status.code() {
        Some(0) => Some(std::fs::read(&file).unwrap()),
        Some(3) => None,
        _ => panic!("{}", String::from_utf8_lossy(&out.stderr)),
    }
}

fn unique() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..10].to_string()
}

async fn text_of(stack: &Stack, id: &str) -> String {
    call(
        stack,
        crate::harness::ALICE,
        Method::GET,
        &format!("/jobs/{id}"),
        None,
    )
    .await
    .text
}

/// Creates Alice's job and waits for its end: its id and its last state.
async fn run_job(stack: &Stack, body: Value) -> (String, Value) {
    let job = create(stack, body).await;
    let id = job["id"].as_str().unwrap().to_string();
    let done = wait(stack, &id).await;
    (id, done)
}

/// The job failed, its first error has `code` and says `says`.
fn assert_failed(done: &Value, code: u32, says: &str) {
    assert_eq!(done["status"]["code"], "failed", "{done}");
    let error = &done["errors"][0];
    assert_eq!(error["code"], code, "{done}");
    let message = error["message"].as_str().unwrap_or_default();
    assert!(message.contains(says), "{message}");
}

/// Everything a provider must do, in one run against its server.
async fn round_trip(p: Provider) {
    let logs = captured_logs();
    let stack = Stack::start_with(config()).await;
    let receiver = Receiver::start(&[]).await;
    let run = unique();
    let photo = jpeg(120, 80);
    let input_path = format!("in/{run}/photo.jpg");
    peer_put(&p, &input_path, &photo);
    let source = p.input(&input_path, &p.credentials);
    let mut jobs = Vec::new();

    // The cloud input reaches the converter: a PNG Folio keeps.
    let kept = create(
        &stack,
        json!({"input": [source], "conversion": [{"target": "png"}]}),
    )
    .await;
    let id = kept["id"].as_str().unwrap().to_string();
    let done = wait(&stack, &id).await;
    assert_eq!(done["status"]["code"], "completed", "{done}");
    assert_eq!(done["input"][0]["filename"], "photo.jpg");
    assert_eq!(done["input"][0]["size"], photo.len());
    let reference = stack
        .http
        .get(done["output"][0]["uri"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec();
    let png = image::load_from_memory(&reference).expect("a PNG");
    assert_eq!((png.width(), png.height()), (120, 80));
    jobs.push(id);

    // The output goes to the provider (a folder: the output's name is added), byte for byte
    // what Folio would have kept, with the target's status following it.
    let folder = format!("out/{run}/");
    let delivered = json!({"input": [source], "callback": receiver.url, "notify_status": true,
        "conversion": [{"target": "png", "output_target": [p.target(&folder, &p.credentials, false)]}]});
    let job = create(&stack, delivered.clone()).await;
    assert!(
        ["waiting", "uploading"].contains(
            &job["conversion"][0]["output_target"][0]["status"]
                .as_str()
                .unwrap()
        ),
        "{job}"
    );
    let id = job["id"].as_str().unwrap().to_string();
    let done = wait(&stack, &id).await;
    assert_eq!(done["status"]["code"], "completed", "{done}");
    assert_eq!(done["output"], json!([]), "no local output");
    let target = &done["conversion"][0]["output_target"][0];
    assert_eq!(target["status"], "completed", "{done}");
    assert_eq!(target["credentials"], json!([]));
    assert_eq!(target["parameters"]["file"], folder);
    let landed = peer_get(&p, &format!("{folder}photo.png")).expect("the output landed");
    assert!(
        landed == reference,
        "the delivered file differs from Folio's own output"
    );
    jobs.push(id);

    // The same job again writes the very same bytes: nothing to refuse (so a pair run
    // again after its upload does not fail on its own file).
    let (id, done) = run_job(&stack, delivered).await;
    assert_eq!(done["status"]["code"], "completed", "{done}");
    jobs.push(id);
    // A different file for that place is refused, and the file there kept...
    let smaller = |overwrite| {
        json!({"input": [p.input(&input_path, &p.credentials)],
               "conversion": [{"target": "png", "options": {"width": 60},
                               "output_target": [p.target(&folder, &p.credentials, overwrite)]}]})
    };
    let (id, done) = run_job(&stack, smaller(false)).await;
    assert_failed(&done, 6100, "already exists");
    assert_eq!(
        done["conversion"][0]["output_target"][0]["status"],
        "failed"
    );
    assert!(peer_get(&p, &format!("{folder}photo.png")).unwrap() == reference);
    jobs.push(id);
    // ...unless the target asks for it.
    let (id, done) = run_job(&stack, smaller(true)).await;
    assert_eq!(done["status"]["code"], "completed", "{done}");
    let now = peer_get(&p, &format!("{folder}photo.png")).unwrap();
    assert_eq!(image::load_from_memory(&now).unwrap().width(), 60);
    jobs.push(id);

    // Wrong credentials: the input fails (17) and so does the job; an output target with
    // them fails its conversion (6100) and says why.
    let (id, done) = run_job(
        &stack,
        json!({"input": [p.input(&input_path, &p.bad_credentials)], "conversion": [{"target": "png"}]}),
    )
    .await;
    assert_failed(&done, 17, "refused the credentials");
    assert_eq!(done["input"][0]["status"], "failed");
    jobs.push(id);
    let bad_target = p.target(&format!("out/{run}/bad/"), &p.bad_credentials, false);
    let (id, done) = run_job(
        &stack,
        json!({"input": [source], "conversion": [{"target": "png", "output_target": [bad_target]}]}),
    )
    .await;
    assert_failed(&done, 6100, "refused the credentials");
    assert_eq!(
        done["conversion"][0]["output_target"][0]["status"],
        "failed"
    );
    assert!(peer_get(&p, &format!("out/{run}/bad/photo.png")).is_none());
    jobs.push(id);
    // With fail_on_input_error and fail_on_conversion_error false, the same failures are
    // warnings and the rest of the job completes.
    let (id, done) = run_job(
        &stack,
        json!({"fail_on_input_error": false, "fail_on_conversion_error": false,
               "input": [source, p.input(&input_path, &p.bad_credentials)],
               "conversion": [{"target": "png", "output_target": [bad_target]},
                              {"target": "webp"}]}),
    )
    .await;
    assert_eq!(done["status"]["code"], "completed", "{done}");
    let codes: Vec<&Value> = done["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| &w["code"])
        .collect();
    assert_eq!(codes, [&json!(17), &json!(6100)], "{done}");
    assert_eq!(done["output"].as_array().unwrap().len(), 1, "the WebP");
    assert_eq!(
        done["conversion"][0]["output_target"][0]["status"],
        "failed"
    );
    jobs.push(id);

    // A place that is not there: the input fails, the target fails, each saying why.
    let mut missing = p.input(&input_path, &p.credentials);
    merge(&mut missing["parameters"], &p.nowhere);
    let (id, done) = run_job(
        &stack,
        json!({"input": [missing], "conversion": [{"target": "png"}]}),
    )
    .await;
    assert_failed(&done, p.nowhere_input.0, p.nowhere_input.1);
    jobs.push(id);
    let mut missing = p.target("out/", &p.credentials, false);
    merge(&mut missing["parameters"], &p.nowhere);
    let (id, done) = run_job(
        &stack,
        json!({"input": [source], "conversion": [{"target": "png", "output_target": [missing]}]}),
    )
    .await;
    assert_failed(&done, 6100, p.nowhere_output);
    jobs.push(id);

    // The credentials are nowhere: not in any job's GET, record, callback or log line.
    for id in &jobs {
        assert!(
            !text_of(&stack, id).await.contains(&p.secret),
            "job {id} shows a secret"
        );
        assert!(
            !job_record(&stack, id).await.contains(&p.secret),
            "job {id} keeps a secret"
        );
    }
    let callbacks = receiver.wait_for(4, 20).await;
    for c in &callbacks {
        assert!(!String::from_utf8_lossy(&c.body).contains(&p.secret));
    }
    let logged = String::from_utf8_lossy(&logs.lock().unwrap()).to_string();
    assert!(!logged.contains(&p.secret), "a credential reached the logs");
    stack.stop().await;
}

fn merge(into: &mut Value, from: &Value) {
    for (k, v) in from.as_object().unwrap() {
        into[k] = v.clone();
    }
}

/// A second service account's key: well formed, but not the one the emulator trusts.
fn stranger_key() -> String {
    let out = std::process::Command::new("openssl")
        .args(["genrsa", "2048"])
        .output()
        .expect("openssl makes a key");
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn google_cloud_storage_inputs_and_outputs() {
    let keyfile = std::fs::read_to_string(env("FOLIO_TEST_GCS_KEYFILE")).unwrap();
    let key: Value = serde_json::from_str(&keyfile).unwrap();
    let private_key = key["private_key"].as_str().unwrap();
    // A line from the middle of the private key: finding it anywhere is a leak.
    let secret = private_key.lines().nth(5).unwrap().to_string();
    let mut stranger = key.clone();
    stranger["private_key"] = json!(stranger_key());
    let bucket = format!("folio-{}", unique());
    round_trip(Provider {
        name: "googlecloud",
        peer: "googlecloud",
        parameters: json!({"projectid": "folio-tests", "bucket": bucket}),
        place: bucket,
        // The SDK sends the key file's text.
        credentials: json!({"keyfile": keyfile}),
        bad_credentials: json!({"keyfile": stranger.to_string()}),
        secret,
        nowhere: json!({"bucket": format!("folio-missing-{}", unique())}),
        nowhere_input: (17, "does not exist"),
        nowhere_output: "bucket or container of gs://folio-missing-",
    })
    .await;
}

#[tokio::test]
async fn azure_blob_storage_inputs_and_outputs() {
    use base64::Engine;
    let wrong = base64::engine::general_purpose::STANDARD.encode([7u8; 64]);
    let container = format!("folio-{}", unique());
    round_trip(Provider {
        name: "azure",
        peer: "azure",
        parameters: json!({"container": container}),
        place: container,
        credentials: json!({"accountname": AZURITE_ACCOUNT, "accountkey": AZURITE_KEY}),
        bad_credentials: json!({"accountname": AZURITE_ACCOUNT, "accountkey": wrong}),
        secret: AZURITE_KEY.to_string(),
        nowhere: json!({"container": format!("folio-missing-{}", unique())}),
        nowhere_input: (17, "does not exist"),
        nowhere_output: "bucket or container of azure://devstoreaccount1/folio-missing-",
    })
    .await;
}

fn ftp(peer: &'static str, port: String) -> Provider {
    Provider {
        name: "ftp",
        peer,
        place: "-".into(),
        parameters: json!({"host": "127.0.0.1", "port": port}),
        credentials: json!({"username": "folio", "password": FTP_PASSWORD}),
        bad_credentials: json!({"username": "folio", "password": "not-the-password"}),
        secret: FTP_PASSWORD.to_string(),
        nowhere: json!({"port": closed_port()}),
        nowhere_input: (99, "could not be reached"),
        nowhere_output: "could not be reached",
    }
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn ftp_inputs_and_outputs() {
    round_trip(ftp("ftp", env("FOLIO_TEST_FTP_PORT"))).await;
}

#[tokio::test]
async fn ftps_inputs_and_outputs() {
    round_trip(ftp("ftps", env("FOLIO_TEST_FTPS_PORT"))).await;
}

#[tokio::test]
async fn an_ftps_server_whose_certificate_is_not_trusted_gets_no_password() {
    // No FOLIO_FTP_CA_FILE: the test CA is not trusted. The session fails at TLS; it does
    // not go on in the clear.
    let stack = Stack::start().await;
    let p = ftp("ftps", env("FOLIO_TEST_FTPS_PORT"));
    let (_, done) = run_job(
        &stack,
        json!({"input": [p.input("in/any.jpg", &p.credentials)], "conversion": [{"target": "png"}]}),
    )
    .await;
    assert_failed(&done, 99, "offers TLS, but the TLS session failed");
    stack.stop().await;
}

on_both_backends! {
async fn storage_descriptors_are_checked_before_the_job_and_hosts_by_the_guard(home) {
    let stack = Stack::at(home, config()).await;
    // A bad descriptor is refused at once, naming the field.
    let refused = call(
        &stack,
        crate::harness::ALICE,
        Method::POST,
        "/jobs",
        Some(json!({"input": [{"type": "cloud", "source": "azure",
                    "parameters": {"container": "pics", "file": "a.jpg"},
                    "credentials": {"accountname": "evil.example.com/x", "accountkey": "a2V5"}}],
                    "conversion": [{"target": "png"}]})),
    )
    .await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert!(
        refused.body["message"]
            .as_str()
            .unwrap()
            .starts_with("input[0].credentials.accountname"),
        "{}",
        refused.text
    );
    // A job whose credentials would not fit in its record is refused, not half written.
    let key = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        "A".repeat(4000)
    );
    let input = json!({"type": "cloud", "source": "googlecloud",
        "parameters": {"projectid": "p", "bucket": "b-1", "file": "a.jpg"},
        "credentials": {"keyfile": {"client_email": "e@p", "private_key": key}}});
    let big = call(
        &stack,
        crate::harness::ALICE,
        Method::POST,
        "/jobs",
        Some(json!({"input": vec![input; 90], "conversion": [{"target": "png"}]})),
    )
    .await;
    assert_eq!(big.status, 400, "{}", big.text);
    assert!(
        big.text.contains("more than Folio keeps for one job"),
        "{}",
        big.text
    );

    // An FTP host at a private address is refused when the job names it, like any remote URL
    // (only loopback is allowed in the local stack), as an input and as an output target.
    let ftp = json!({"host": "169.254.169.254", "file": "a.jpg"});
    let login = json!({"username": "u", "password": "p"});
    for (body, field) in [
        (
            json!({"input": [{"type": "cloud", "source": "ftp", "parameters": ftp, "credentials": login}],
                   "conversion": [{"target": "png"}]}),
            "input[0].parameters.host",
        ),
        (
            json!({"conversion": [{"target": "png", "output_target": [
                {"type": "ftp", "parameters": ftp, "credentials": login}]}]}),
            "conversion[0].output_target[0].parameters.host",
        ),
    ] {
        let refused = call(&stack, ALICE, Method::POST, "/jobs", Some(body)).await;
        assert_eq!(refused.status, 400, "{}", refused.text);
        assert!(refused.text.contains(field), "{}", refused.text);
        assert!(refused.text.contains("private or reserved"), "{}", refused.text);
    }
    stack.stop().await;
}
}
