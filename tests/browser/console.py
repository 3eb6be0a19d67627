"""The console in Chromium (Debian's, driven by Playwright): sign in; watch a job and a batch
reach their end without a reload; see a failing webhook's attempts and send it again once the
receiver answers; suspend and resume a batch; a hostile file name shows as text; a form
without its CSRF token and another tenant's job are refused; sign out.

Run by `tests/api/console.rs`, which starts Folio and the webhook receiver and passes:
FOLIO_BASE, FOLIO_KEY, FOLIO_OTHER_KEY, FOLIO_PROJECT, FOLIO_ROLE, FOLIO_BUCKET, FOLIO_OUT,
FOLIO_HOOK, FOLIO_PNG (a PNG file), FOLIO_SCREENSHOT (where the picture goes), FOLIO_CHROMIUM.
"""

import json
import os
import sys
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "sdk"))
import report  # noqa: E402
from playwright.sync_api import expect, sync_playwright  # noqa: E402

BASE = os.environ["FOLIO_BASE"]
KEY = os.environ["FOLIO_KEY"]
PROJECT = os.environ["FOLIO_PROJECT"]
HOSTILE_NAME = "<img src=x onerror=alert(1)>.png"
# Long enough for the slow poll (10 s) and a batch's end check.
WAIT_MS = 45_000
expect.set_options(timeout=WAIT_MS)


def call(method, url, body=None, headers=None, key=KEY):
    data = None
    headers = dict(headers or {})
    headers["Authorization"] = f"Bearer {key}"
    if isinstance(body, (dict, list)):
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    elif body is not None:
        data = body
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    with urllib.request.urlopen(request, timeout=30) as answer:
        text = answer.read()
    return json.loads(text) if text else None


def rpc(operation, body, key=KEY):
    return call("POST", f"{BASE}/{operation}", body, key=key)


def upload(job, name, data):
    boundary = "folio-console-test"
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
        f"filename=\"{name}\"\r\nContent-Type: image/png\r\n\r\n"
    ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return call(
        "POST",
        f"{job['server']}/upload-file/{job['id']}",
        body,
        {"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )


def mark(page):
    """Marks the loaded document: the mark survives everything but a reload."""
    page.evaluate("window.folioMark = 'unchanged'")


def not_reloaded(page):
    assert page.evaluate("window.folioMark") == "unchanged", "the page was reloaded"


def steps(seen):
    dialogs = []
    png = open(os.environ["FOLIO_PNG"], "rb").read()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=os.environ.get("FOLIO_CHROMIUM", "/usr/bin/chromium"),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.set_default_timeout(WAIT_MS)

        # Sign in: the key goes in the form's body, never in a URL, the page or a cookie.
        page.goto(f"{BASE}/console")
        page.fill("#key", KEY)
        page.click("#sign-in")
        expect(page.locator("h1")).to_have_text("Overview")
        assert KEY not in page.url and KEY not in page.content()
        cookies = context.cookies()
        session = [c for c in cookies if c["name"] == "folio_console"]
        assert len(session) == 1, cookies
        assert session[0]["httpOnly"] and session[0]["sameSite"] == "Strict", session
        assert KEY not in session[0]["value"]
        seen["signed_in"] = True

        # A job with a hostile file name, held until it is told to process.
        mark(page)
        job = call("POST", f"{BASE}/v2/jobs", {"process": False, "conversion": [{"target": "jpg"}]})
        upload(job, HOSTILE_NAME, png)
        row = page.locator(f"tr[data-id='{job['id']}']")
        expect(row).to_be_visible()
        first = row.locator(".state").inner_text()
        assert first != "completed", first
        expect(row.locator(".file")).to_have_text(HOSTILE_NAME)
        assert page.locator("img").count() == 0, "the file name became an element"
        call("PATCH", f"{BASE}/v2/jobs/{job['id']}", {"process": True})
        expect(row.locator(".state")).to_have_text("completed")
        not_reloaded(page)
        seen["job"] = [first, "completed"]

        # The job's page: its output is a download link.
        page.click(f"tr[data-id='{job['id']}'] a")
        expect(page.locator("h1")).to_contain_text(job["id"])
        links = page.locator(".record a[href*='/dl/']")
        assert links.count() >= 1, "no download link"
        seen["job_download_links"] = links.count()

        # A batch whose notification fails, then works.
        rpc("CreateProject", {"ProjectName": PROJECT, "ServiceRole": os.environ["FOLIO_ROLE"]})
        out = os.environ["FOLIO_OUT"]
        batch = rpc(
            "CreateBatch",
            {
                "ProjectName": PROJECT,
                "Input": {"OSS": {"Bucket": os.environ["FOLIO_BUCKET"], "Prefix": "in/"}},
                "Actions": [
                    {"Name": "image/resize", "Parameters": ["w=16", "h=16"]},
                    {"Name": "image/format", "Parameters": ["format=webp"]},
                    {
                        "Name": "sys/saveas",
                        "Parameters": [f"uri=s3://{out}/out/{{barename}}.{{autoext}}"],
                    },
                ],
                "Notification": {"Webhook": {"URL": os.environ["FOLIO_HOOK"]}},
            },
        )
        batch_id = batch["Id"]
        page.goto(f"{BASE}/console/projects/{PROJECT}")
        page.click(f"tr[data-id='{batch_id}'] a")
        state = page.locator(".summary .state")
        first = state.inner_text()
        assert first in ("Ready", "Running"), first
        page.click("#suspend-batch")
        expect(state).to_have_text("Suspended")
        page.click("#resume-batch")
        mark(page)
        expect(state).to_have_text("Succeeded")
        not_reloaded(page)
        seen["batch"] = [first, "Suspended", "Succeeded"]

        # The failing webhook: both attempts with what the receiver answered.
        delivery = page.locator("article.delivery")
        expect(delivery.locator("h3 .state")).to_have_text("GaveUp")
        expect(delivery.locator("tr.attempt td.status")).to_have_text(["500", "500"])
        not_reloaded(page)
        # The receiver now answers 200: sending again adds an attempt that succeeds.
        delivery.locator("button.replay").click()
        expect(delivery.locator("tr.attempt")).to_have_count(3)
        expect(delivery.locator("tr.attempt td.status").nth(2)).to_have_text("200")
        expect(delivery.locator("h3 .state")).to_have_text("Delivered")
        seen["delivery"] = delivery.locator("tr.attempt td.status").all_inner_texts()

        # A state-changing request without the CSRF token is refused, and changes nothing.
        status = page.evaluate(
            """url => fetch(url, {method: 'POST', credentials: 'same-origin',
                body: new URLSearchParams({})}).then(r => r.status)""",
            f"/console/projects/{PROJECT}/batches/{batch_id}/suspend",
        )
        assert status == 403, status
        page.reload()
        expect(state).to_have_text("Succeeded")
        seen["csrf_refused"] = status

        page.screenshot(path=os.environ["FOLIO_SCREENSHOT"], full_page=True)

        # Another tenant's job is not there.
        theirs = call(
            "POST",
            f"{BASE}/v2/jobs",
            {"process": False, "conversion": [{"target": "png"}]},
            key=os.environ["FOLIO_OTHER_KEY"],
        )
        answer = page.goto(f"{BASE}/console/jobs/{theirs['id']}")
        assert answer.status == 404, answer.status
        seen["other_tenant"] = answer.status

        # Sign out: the session's pages send back to the sign-in form.
        page.goto(f"{BASE}/console")
        page.click("#sign-out")
        expect(page.locator("h1")).to_have_text("Sign in")
        page.goto(f"{BASE}/console/jobs/{job['id']}")
        expect(page.locator("h1")).to_have_text("Sign in")
        seen["signed_out"] = True

        assert dialogs == [], f"a script ran: {dialogs}"
        browser.close()


report.run(steps, {})
