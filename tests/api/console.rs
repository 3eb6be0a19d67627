//! The console at `/console`: its security over HTTP (the session cookie's flags, the CSRF
//! token, forms from another origin, another tenant's ids, escaping, the headers), and the
//! whole page in Chromium (`tests/browser/console.py`, driven by Playwright).

use std::time::Duration;

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::json;

use crate::harness::{ALICE, BOB, Stack, new_data_folder, png, unique};
use crate::receiver::Receiver;

const ROLE: &str = "arn:aws:iam::123456789012:role/folio-tests";

/// An HTTP client that follows no redirect, so the tests see each answer.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client")
}

/// Signs in with `key`; the session cookie (`name=value`).
async fn sign_in(stack: &Stack, key: &str) -> String {
    let answer = client()
        .post(format!("{}/console/sign-in", stack.base))
        .form(&[("key", key)])
        .send()
        .await
        .expect("answers");
    assert_eq!(answer.status(), 303);
    assert_eq!(answer.headers()[LOCATION], "/console");
    let cookie = answer.headers()[SET_COOKIE].to_str().expect("text");
    cookie.split(';').next().expect("a value").to_string()
}

async fn page(stack: &Stack, cookie: &str, path: &str) -> (u16, String) {
    let answer = client()
        .get(format!("{}{path}", stack.base))
        .header(COOKIE, cookie)
        .send()
        .await
        .expect("answers");
    let status = answer.status().as_u16();
    (status, answer.text().await.expect("a body"))
}

/// The CSRF token a signed-in page carries.
fn csrf(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    html[at..].split('"').next().expect("a value").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_console_signs_in_by_form_and_keeps_the_key_out_of_cookies_and_pages() {
    let stack = Stack::embedded().await;
    let http = client();
    let signed_out = http
        .get(format!("{}/console", stack.base))
        .send()
        .await
        .expect("answers");
    assert_eq!(signed_out.status(), 200);
    let csp = signed_out.headers()["content-security-policy"]
        .to_str()
        .expect("text")
        .to_string();
    assert!(csp.contains("script-src 'self'") && csp.contains("default-src 'none'"));
    assert!(!csp.contains("unsafe-inline"));
    assert_eq!(signed_out.headers()["x-frame-options"], "DENY");
    assert!(
        signed_out
            .text()
            .await
            .expect("a body")
            .contains("id=\"key\"")
    );

    // A wrong key is refused on the form, and no session starts.
    let wrong = http
        .post(format!("{}/console/sign-in", stack.base))
        .form(&[("key", "not-a-key")])
        .send()
        .await
        .expect("answers");
    assert_eq!(wrong.status(), 401);
    assert!(wrong.headers().get(SET_COOKIE).is_none());

    let answer = http
        .post(format!("{}/console/sign-in", stack.base))
        .form(&[("key", ALICE)])
        .send()
        .await
        .expect("answers");
    let set_cookie = answer.headers()[SET_COOKIE].to_str().expect("text");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/console"] {
        assert!(set_cookie.contains(flag), "{set_cookie} lacks {flag}");
    }
    assert!(!set_cookie.contains(ALICE), "the key is in the cookie");
    // Loopback over HTTP: not `Secure` (the browser would drop it); anywhere else it is.
    assert!(!set_cookie.contains("Secure"));
    let proxied = http
        .post(format!("{}/console/sign-in", stack.base))
        .header("x-forwarded-proto", "https")
        .form(&[("key", ALICE)])
        .send()
        .await
        .expect("answers");
    assert!(
        proxied.headers()[SET_COOKIE]
            .to_str()
            .expect("text")
            .contains("; Secure")
    );
    let remote = http
        .post(format!("{}/console/sign-in", stack.base))
        .header("host", "folio.example.com")
        .form(&[("key", ALICE)])
        .send()
        .await
        .expect("answers");
    assert_eq!(
        remote.status(),
        403,
        "plain HTTP off loopback signs nobody in"
    );

    let cookie = set_cookie.split(';').next().expect("a value").to_string();
    let (status, html) = page(&stack, &cookie, "/console").await;
    assert_eq!(status, 200);
    assert!(html.contains("tenant-alice") && !html.contains(ALICE));
    // A forged or foreign cookie is no session.
    let (_, html) = page(&stack, "folio_console=S1.e30.AAAA", "/console").await;
    assert!(html.contains("id=\"key\""));
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn console_forms_need_their_csrf_token_and_this_origin() {
    let stack = Stack::embedded().await;
    let project = unique("console-");
    let made = stack
        .post(
            ALICE,
            "CreateProject",
            json!({"ProjectName": project, "ServiceRole": ROLE}),
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.body);
    let bucket = stack.local_bucket("console-in-", &[("in/a.png", png(8, 8))]);
    let out = stack.local_bucket("console-out-", &[]);
    let created = stack
        .post(
            ALICE,
            "CreateBatch",
            json!({
                "ProjectName": project,
                "Input": {"OSS": {"Bucket": bucket, "Prefix": "in/"}},
                "Actions": [{"Name": "sys/saveas", "Parameters": [format!("uri=s3://{out}/{{barename}}.png")]}],
            }),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let id = created.body["Id"].as_str().expect("an Id");
    let cookie = sign_in(&stack, ALICE).await;
    let here = format!("/console/projects/{project}/batches/{id}");
    let (status, html) = page(&stack, &cookie, &here).await;
    assert_eq!(status, 200, "{html}");
    let token = csrf(&html);
    let post = |fields: Vec<(&'static str, String)>, origin: Option<&'static str>| {
        let mut request = client()
            .post(format!("{}{here}/suspend", stack.base))
            .header(COOKIE, &cookie)
            .form(&fields);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send()
    };
    let missing = post(Vec::new(), None).await.expect("answers");
    assert_eq!(missing.status(), 403);
    let wrong = post(vec![("csrf", "x".repeat(43))], None)
        .await
        .expect("answers");
    assert_eq!(wrong.status(), 403);
    let elsewhere = post(vec![("csrf", token.clone())], Some("https://evil.example"))
        .await
        .expect("answers");
    assert_eq!(elsewhere.status(), 403);
    let state = stack
        .get(ALICE, "GetBatch", &[("ProjectName", &project), ("Id", id)])
        .await;
    assert_ne!(
        state.body["Batch"]["State"], "Suspended",
        "a refused form changed nothing"
    );
    // Another session's token is not this one's.
    let other = sign_in(&stack, ALICE).await;
    let (_, other_html) = page(&stack, &other, &here).await;
    assert_ne!(csrf(&other_html), token);
    // With its own token the form works (the batch may already have ended: then it is
    // refused as a state conflict, never as a forgery).
    let done = post(vec![("csrf", token)], None).await.expect("answers");
    assert!(
        done.status() == 303 || done.status() == 409 || done.status() == 400,
        "{}",
        done.status()
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn another_tenants_records_are_not_found_and_strings_are_escaped() {
    let stack = Stack::embedded().await;
    let hostile = "<img src=x onerror=alert(1)>.png";
    let (created, _) = stack
        .create_upload(
            ALICE,
            json!({"ImageType": "default", "ImageExt": "png", "Title": hostile}),
        )
        .await;
    let image = created["ImageId"].as_str().expect("an ImageId");
    let alice = sign_in(&stack, ALICE).await;
    let (status, html) = page(&stack, &alice, "/console").await;
    assert_eq!(status, 200);
    assert!(!html.contains(hostile), "the title is markup");
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;.png"));
    let (status, html) = page(&stack, &alice, &format!("/console/images/{image}")).await;
    assert_eq!(status, 200, "{html}");
    assert!(!html.contains(hostile));

    // Bob sees none of it: the image, and an existing project of Alice's, are 404s.
    let project = unique("alices-");
    stack
        .post(
            ALICE,
            "CreateProject",
            json!({"ProjectName": project, "ServiceRole": ROLE}),
        )
        .await;
    let bob = sign_in(&stack, BOB).await;
    let (_, overview) = page(&stack, &bob, "/console").await;
    assert!(!overview.contains(image) && !overview.contains(&project));
    for path in [
        format!("/console/images/{image}"),
        format!("/console/projects/{project}"),
        format!("/console/jobs/{}", uuid::Uuid::new_v4()),
        "/console/nowhere".to_string(),
    ] {
        let (status, _) = page(&stack, &bob, &path).await;
        assert_eq!(status, 404, "{path}");
    }
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_console_works_in_chromium() {
    // Webhooks give up after two attempts a second apart; a batch's run ends at a check five
    // seconds after its scan, so it can be suspended from the page while it runs.
    let stack = Stack::embedded_at(
        &new_data_folder(),
        vec![
            ("FOLIO_WEBHOOK_MAX_ATTEMPTS", "2".into()),
            ("FOLIO_WEBHOOK_RETRY_BASE_SECONDS", "1".into()),
            ("FOLIO_BATCH_CHECK_SECONDS", "5".into()),
        ],
    )
    .await;
    let receiver = Receiver::start(&[500, 500]).await;
    let objects: Vec<(String, Vec<u8>)> = (0..4)
        .map(|i| (format!("in/{i}.png"), png(24 + i, 16)))
        .collect();
    let borrowed: Vec<(&str, Vec<u8>)> = objects
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    let bucket = stack.local_bucket("console-in-", &borrowed);
    let out = stack.local_bucket("console-out-", &[]);
    let scratch = std::env::temp_dir().join(unique("folio-console-"));
    std::fs::create_dir_all(&scratch).expect("a scratch folder");
    let png_file = scratch.join("input.png");
    std::fs::write(&png_file, png(32, 24)).expect("written");
    let screenshot = crate::harness::crate_dir().join("../target/console.png");
    let _ = std::fs::remove_file(&screenshot);
    let python = crate::vendor_sdks::python();
    let script = crate::harness::crate_dir().join("browser/console.py");
    let run = tokio::process::Command::new(&python)
        .arg(&script)
        .env("FOLIO_BASE", &stack.base)
        .env("FOLIO_KEY", ALICE)
        .env("FOLIO_OTHER_KEY", BOB)
        .env("FOLIO_PROJECT", unique("console-"))
        .env("FOLIO_ROLE", ROLE)
        .env("FOLIO_BUCKET", &bucket)
        .env("FOLIO_OUT", &out)
        .env("FOLIO_HOOK", &receiver.url)
        .env("FOLIO_PNG", &png_file)
        .env("FOLIO_SCREENSHOT", &screenshot)
        .env(
            "FOLIO_CHROMIUM",
            std::env::var("FOLIO_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
        )
        .output();
    let output = tokio::time::timeout(Duration::from_secs(300), run)
        .await
        .expect("the browser test ends within five minutes")
        .unwrap_or_else(|e| panic!("{}: {e}", python.display()));
    stack.stop().await;
    let _ = std::fs::remove_dir_all(&scratch);
    let seen = crate::vendor_sdks::report(&output);
    assert_eq!(seen["delivery"], json!(["500", "500", "200"]), "{seen}");
    assert_eq!(seen["batch"][2], "Succeeded", "{seen}");
    assert_eq!(seen["job"][1], "completed", "{seen}");
    // The receiver saw the two failures and the replay: the same signed body each time.
    let got = receiver.wait_for(3, 10).await;
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].body, got[2].body);
    let picture = std::fs::read(&screenshot).expect("the screenshot");
    assert!(picture.starts_with(b"\x89PNG"), "a PNG screenshot");
}
