"""online-convert's official Python SDK (`api2convert`) against a running Folio.

Run by the integration test `jobs_sdk` with the API base, a key, a webhook secret, an image
and an S3 bucket (with credentials) in the environment, and the storage servers' addresses
(FOLIO_TEST_*, see storage_peer.py). Everything goes through the SDK's
public surface; the script prints one JSON object of what it saw and exits non-zero on the
first unexpected answer.
"""

import http.server
import json
import os
import sys
import tempfile
import threading
import traceback

from api2convert import Api2Convert
from api2convert.cloud import CloudInput, OutputTarget
from api2convert.errors import AuthenticationError, NotFoundError, PaymentRequiredError

import storage_peer

BASE = os.environ["FOLIO_V2_BASE"]
KEY = os.environ["FOLIO_API_KEY"]
SECRET = os.environ["FOLIO_WEBHOOK_SECRET"]
JPEG = os.environ["FOLIO_JPEG"]
REMOTE = os.environ["FOLIO_REMOTE_URL"]
BUCKET = os.environ["FOLIO_BUCKET"]
S3_KEY_ID = os.environ["AWS_ACCESS_KEY_ID"]
S3_SECRET = os.environ["AWS_SECRET_ACCESS_KEY"]

seen = {}


def check(condition, what):
    if not condition:
        raise AssertionError(what)


class Callbacks(http.server.BaseHTTPRequestHandler):
    received = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        Callbacks.received.append((body, self.headers.get("X-Oc-Signature")))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def main():
    client = Api2Convert(KEY, base_url=BASE, poll_interval=0.5, poll_timeout=120)

    # 1. A local file, staged, uploaded with the job token, started, polled, downloaded.
    result = client.convert(JPEG, "webp", {"width": 800})
    check(result.job.is_completed(), f"convert ended {result.job.status}")
    out = os.path.join(tempfile.mkdtemp(), "")
    saved = result.save(out)
    data = saved.read_bytes()
    check(data[:4] == b"RIFF" and data[8:12] == b"WEBP", "the download is a WebP")
    seen["convert"] = {"job": result.job.id, "file": str(saved), "name": saved.name,
                       "options": result.job.conversion[0].options}

    # 2. A remote URL: one started job with a remote input.
    remote = client.convert(REMOTE, "png")
    check(remote.contents()[:8] == b"\x89PNG\r\n\x1a\n", "the remote job made a PNG")
    seen["remote"] = remote.job.id

    # 3. A cloud S3 input, and 4. an S3 output target (no local output).
    cloud = client.convert(
        CloudInput.amazon_s3(BUCKET, "in/photo.jpg", S3_KEY_ID, S3_SECRET,
                             parameters={"region": "us-east-1"}),
        "jpg", {"quality": 80})
    check(cloud.contents()[:2] == b"\xff\xd8", "the cloud input made a JPEG")
    check(all(i.parameters.get("bucket") == BUCKET for i in cloud.job.input), "parameters echoed")
    seen["cloud"] = cloud.job.id
    target = OutputTarget.of("amazons3", {"bucket": BUCKET, "file": "out/", "region": "us-east-1"},
                             {"accesskeyid": S3_KEY_ID, "secretaccesskey": S3_SECRET})
    delivered = client.convert(JPEG, "png", output_targets=[target])
    check(delivered.job.is_completed() and not delivered.job.output,
          "an output-target job completes with no local output")
    seen["delivered"] = delivered.job.id

    # 5. convert_async with a callback, verified by the SDK's webhook verifier.
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Callbacks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{server.server_address[1]}/hook"
    job = client.convert_async(JPEG, "gif", callback=hook)
    done = client.jobs.wait(job.id)
    check(done.is_completed(), "the async job completed")
    verifier = Api2Convert.webhooks()
    for _ in range(200):
        if any(verifier.parse(b).job.status.code == "completed" for b, _ in Callbacks.received):
            break
        threading.Event().wait(0.1)
    codes = []
    for body, signature in Callbacks.received:
        event = verifier.construct_event(body, signature, SECRET)
        check(event.job.id == job.id, "the callback is the job's")
        codes.append(event.job.status.code)
    try:
        verifier.construct_event(Callbacks.received[0][0], "0" * 64, SECRET)
        raise AssertionError("a wrong signature was accepted")
    except Exception as e:  # noqa: BLE001
        check(type(e).__name__ == "SignatureVerificationError", f"wrong signature: {e!r}")
    server.shutdown()
    seen["callbacks"] = codes

    # 6. Listing, and cancel.
    listed = client.jobs.list()
    check(any(j.id == result.job.id for j in listed), "the job is listed")
    staged = client.jobs.create({"process": False, "conversion": [{"target": "png"}]})
    client.jobs.cancel(staged.id)
    check(client.jobs.get(staged.id).is_canceled(), "the staged job was canceled")
    seen["listed"] = len(listed)

    # 7. The errors the SDK maps.
    try:
        Api2Convert("not-a-key", base_url=BASE).jobs.list()
        raise AssertionError("a wrong key was accepted")
    except AuthenticationError as e:
        seen["401"] = str(e)
    try:
        client.jobs.get("00000000-0000-4000-8000-000000000000")
        raise AssertionError("an unknown job was found")
    except NotFoundError as e:
        seen["404"] = str(e)
    try:
        client.jobs.create({"input": [{"type": "remote", "source": REMOTE}] * 3,
                            "conversion": [{"target": "png"}],
                            "limits": {"job": {"max_inputs": 2}}})
        raise AssertionError("a job over max_inputs was created")
    except PaymentRequiredError as e:
        seen["402"] = str(e)

    # 8. The SDK's cloud helpers for the other providers, against the storage servers `make
    # test` started: an input put there with the provider's own client, converted, and the
    # output delivered there and read back the same way.
    keyfile = open(os.environ["FOLIO_TEST_GCS_KEYFILE"]).read()
    run = os.urandom(5).hex()
    photo = open(JPEG, "rb").read()
    providers = {
        "googlecloud": ("googlecloud", f"sdk-{run}",
                        lambda f: CloudInput.google_cloud("folio-tests", f"sdk-{run}", f, keyfile),
                        {"projectid": "folio-tests", "bucket": f"sdk-{run}"}, {"keyfile": keyfile}),
        "azure": ("azure", f"sdk-{run}",
                  lambda f: CloudInput.azure(f"sdk-{run}", f, storage_peer.AZURITE_ACCOUNT,
                                             storage_peer.AZURITE_KEY),
                  {"container": f"sdk-{run}"},
                  {"accountname": storage_peer.AZURITE_ACCOUNT,
                   "accountkey": storage_peer.AZURITE_KEY}),
        "ftp": ("ftps", "-",
                lambda f: CloudInput.ftp("127.0.0.1", f, storage_peer.FTP_USER,
                                         storage_peer.FTP_PASSWORD,
                                         parameters={"port": os.environ["FOLIO_TEST_FTPS_PORT"]}),
                {"host": "127.0.0.1", "port": os.environ["FOLIO_TEST_FTPS_PORT"]},
                {"username": storage_peer.FTP_USER, "password": storage_peer.FTP_PASSWORD}),
    }
    seen["storage"] = {}
    for provider, (peer, place, cloud_input, parameters, credentials) in providers.items():
        source = f"sdk-{run}/in/photo.jpg"
        storage_peer.put(peer, place, source, photo)
        target = OutputTarget.of(provider, {**parameters, "file": f"sdk-{run}/out/"}, credentials)
        job = client.convert(cloud_input(source), "png", output_targets=[target]).job
        check(job.is_completed() and not job.output, f"{provider}: {job.status}")
        delivered_to = job.conversion[0].output_targets[0]
        check(delivered_to.status == "completed", f"{provider}: target {delivered_to.status}")
        check(not delivered_to.credentials, f"{provider}: credentials shown")
        landed = storage_peer.get(peer, place, f"sdk-{run}/out/photo.png")
        check(landed is not None and landed[:8] == b"\x89PNG\r\n\x1a\n", f"{provider}: landed")
        seen["storage"][provider] = delivered_to.status
    print(json.dumps(seen))


if __name__ == "__main__":
    try:
        main()
    except Exception:  # noqa: BLE001
        traceback.print_exc()
        print(json.dumps(seen))
        sys.exit(1)
