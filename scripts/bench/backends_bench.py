#!/usr/bin/env python3
"""`folio serve` on both backends side by side: one machine (a data folder) and the AWS
adapters against the emulator. For each, on the same generated files:

- a batch of N objects from CreateBatch to its end message, beside `folio convert -o` on the
  same files (every core);
- a job of M pairs from its start to its final callback, beside `folio convert -o`;
- 100 uploads of small images, 8 at a time (CreateUploadImage + PUT), median per upload; then
  GetImageInfos latency with 16 callers (one tenant each: VOD allows 10 calls a second per
  tenant, so each caller keeps under it);
- how long `folio serve` takes to answer on a data folder of 100,000 records, and its
  resident memory when idle.

Appends a section to the report. Runs with the emulator's virtualenv (boto3, httpx, Pillow)."""
import argparse
import atexit
import base64
import concurrent.futures
import io
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import boto3
import httpx
from PIL import Image

from local_stack import EndReceiver

ROLE = "arn:aws:iam::123456789012:role/folio-bench"
CALLERS = 16
UPLOADS = 100


def image_bytes(rng, w, h, fmt):
    """A photo-like image: noise over a gradient."""
    base = Image.linear_gradient("L").resize((w, h)).convert("RGB")
    noise = Image.frombytes("RGB", (w, h), rng.randbytes(w * h * 3))
    out = io.BytesIO()
    Image.blend(base, noise, 0.3).save(out, fmt, quality=85)
    return out.getvalue()


def rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Serve:
    """A `folio serve` on a backend, with a key (and tenant) per upload: each tenant may make
    50 calls a second, and the uploads measure latency, not the rate limit."""

    def __init__(self, folio, backend, port, scratch, data=None):
        self.keys = [f"bench-key-{i}" for i in range(max(CALLERS, UPLOADS))]
        state = scratch / f"state-{backend}.json"
        state.write_text(json.dumps({"api_keys": {k: f"bench-{i}" for i, k in enumerate(self.keys)},
                                     "webhook_secret": "bench"}))
        self.data = data or scratch / "data"
        command = [folio, "serve", "--addr", f"127.0.0.1:{port}", "--state-file", str(state),
                   "--backend", "embedded" if backend == "one machine" else "aws"]
        if backend == "one machine":
            command += ["--data", str(self.data)]
        else:
            command += ["--prefix", f"folio-bbench{int(time.time())}"]
        env = dict(os.environ, FOLIO_ALLOWED_PRIVATE_NETWORKS="127.0.0.0/8")
        self.started = time.monotonic()
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, env=env,
                                        stderr=open(scratch / f"serve-{backend.replace(' ', '-')}.log", "a"))
        self.base = f"http://127.0.0.1:{port}"
        self.http = httpx.Client(base_url=self.base, timeout=120,
                                 headers={"Authorization": f"Bearer {self.keys[0]}"})
        for _ in range(3000):
            try:
                if self.http.get("/ListProjects").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.01)
        else:
            raise SystemExit(f"folio serve ({backend}) did not answer")
        self.ready_s = time.monotonic() - self.started

    def call(self, op, body):
        r = self.http.post(f"/{op}", json=body)
        if r.status_code != 200:
            raise SystemExit(f"{op}: {r.status_code} {r.text}")
        return r.json()

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


def convert_all(folio, files, out, args):
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    t = time.monotonic()
    subprocess.run([folio, "convert", "-o", str(out), *args, *map(str, files)], check=True,
                   capture_output=True)
    return time.monotonic() - t


def fill_bucket(backend, serve, bucket, objects):
    """Puts `objects` (key -> bytes) in a new bucket: files copied into the data folder on one
    machine, PutObject to the emulator on AWS."""
    if backend == "one machine":
        root = serve.data / "buckets" / bucket
        for key, data in objects.items():
            path = root / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        return
    s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    s3.create_bucket(Bucket=bucket)
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda kv: s3.put_object(Bucket=bucket, Key=kv[0], Body=kv[1]), objects.items()))


def bench_batch(backend, serve, folio, objects, scratch):
    stamp = int(time.time() * 1000)
    bucket = f"bench-{stamp}"
    fill_bucket(backend, serve, bucket, objects)
    if backend == "one machine":
        (serve.data / "buckets" / f"{bucket}-out").mkdir(parents=True)
    else:
        boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"]).create_bucket(Bucket=f"{bucket}-out")
    serve.call("CreateProject", {"ProjectName": f"p{stamp}", "ServiceRole": ROLE})
    receiver = EndReceiver()
    t = time.monotonic()
    batch = serve.call("CreateBatch", {
        "ProjectName": f"p{stamp}",
        "Input": {"OSS": {"Bucket": bucket, "Prefix": "in/"}},
        "Actions": [{"Name": "image/resize", "Parameters": ["w=64"]},
                    {"Name": "image/format", "Parameters": ["format=webp"]},
                    {"Name": "sys/saveas", "Parameters": [f"uri=s3://{bucket}-out/{{dirname}}/{{barename}}.{{autoext}}"]}],
        "Notification": {"Webhook": {"URL": receiver.url}}})
    if not receiver.ended.wait(3600):
        raise SystemExit("no end message within an hour")
    took = receiver.at[0] - t
    got = serve.http.get("/GetBatch", params={"ProjectName": f"p{stamp}", "Id": batch["Id"]}).json()
    if got["Batch"]["State"] != "Succeeded":
        raise SystemExit(f"the batch ended {got['Batch']['State']}: {got}")
    files = []
    local = scratch / "batch-files"
    shutil.rmtree(local, ignore_errors=True)
    for key, data in objects.items():
        path = local / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        files.append(path)
    engine = convert_all(folio, files, scratch / "batch-engine", ["--format", "webp", "--width", "64"])
    return took, engine


def bench_job(serve, folio, files, scratch):
    api = httpx.Client(base_url=f"{serve.base}/v2", headers={"X-Oc-Api-Key": serve.keys[0]}, timeout=120)
    receiver = EndReceiver()
    job = api.post("/jobs", json={"process": False, "conversion": [
        {"target": "webp", "options": {"width": 150}}]}).json()
    upload_url = f"{job['server']}/upload-file/{job['id']}"

    def upload(path):
        with path.open("rb") as f:
            httpx.post(upload_url, headers={"X-Oc-Token": job["token"]}, files={"file": (path.name, f)},
                       timeout=120).raise_for_status()

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(upload, files))
    t = time.monotonic()
    api.patch(f"/jobs/{job['id']}", json={"process": True, "callback": receiver.url}).raise_for_status()
    if not receiver.ended.wait(3600):
        raise SystemExit("no final callback within an hour")
    took = receiver.at[-1] - t
    # The final callback is the one after completion: wait for the status to say so.
    for _ in range(600):
        done = api.get(f"/jobs/{job['id']}").json()
        if done["status"]["code"] in ("completed", "failed"):
            break
        time.sleep(0.05)
    took = max(took, receiver.at[-1] - t)
    if done["status"]["code"] != "completed" or len(done["output"]) != len(files):
        raise SystemExit(f"the job ended {done['status']} with {len(done['output'])} outputs")
    engine = convert_all(folio, files, scratch / "job-engine", ["--format", "webp", "--width", "150"])
    return took, engine


def bench_uploads(serve, rng):
    small = image_bytes(rng, 64, 48, "JPEG")
    # One client (and its kept-alive connections) per uploading thread, as an uploader has:
    # making a client costs more than an upload.
    local = threading.local()

    def client():
        if not hasattr(local, "client"):
            local.client = httpx.Client(timeout=60)
        return local.client

    def one(i):
        http = client()
        t = time.monotonic()
        created = http.post(f"{serve.base}/CreateUploadImage",
                            headers={"Authorization": f"Bearer {serve.keys[i]}"},
                            json={"ImageType": "default", "ImageExt": "jpg"})
        if created.status_code != 200:
            raise SystemExit(f"CreateUploadImage: {created.status_code} {created.text}")
        created = created.json()
        auth = json.loads(base64.b64decode(created["UploadAuth"]))
        http.put(auth["UploadURL"], content=small).raise_for_status()
        return time.monotonic() - t, created["ImageId"]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(UPLOADS)))
    times = sorted(r[0] for r in results)
    ids = [r[1] for r in results]
    return statistics.median(times), ids


def bench_infos(serve, ids):
    """16 callers, each its own tenant, at most 9 calls a second each for 3 seconds."""
    def caller(i):
        client = httpx.Client(base_url=serve.base, headers={"Authorization": f"Bearer {serve.keys[i]}"}, timeout=30)
        samples = []
        for n in range(27):
            t = time.monotonic()
            r = client.get("/GetImageInfos", params={"ImageIds": ",".join(ids[(n % 5) * 20:(n % 5) * 20 + 20])})
            samples.append(time.monotonic() - t)
            if r.status_code != 200:
                raise SystemExit(f"GetImageInfos: {r.status_code} {r.text}")
            time.sleep(max(0.0, 1 / 9 - samples[-1]))
        return samples

    with concurrent.futures.ThreadPoolExecutor(CALLERS) as pool:
        samples = sorted(s for part in pool.map(caller, range(CALLERS)) for s in part)
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def fill_records(data, count):
    """`count` image records in a data folder's database, as folio serve keeps them."""
    db = sqlite3.connect(data / "folio.db")
    now = int(time.time())
    rows = []
    for i in range(count):
        body = json.dumps({"ImageId": f"{i:032x}", "TenantKey": "bench", "Status": "Normal"})
        rows.append((f"bench#IMAGE#{i:032x}", "RECORD", body, now + 86400))
    db.executemany("INSERT OR REPLACE INTO items (pk, sk, body, expires_at) VALUES (?, ?, ?, ?)", rows)
    db.commit()
    db.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--folio", required=True)
    ap.add_argument("--job-images", required=True, type=Path)
    ap.add_argument("--objects", type=int, default=2400)
    ap.add_argument("--aws-objects", type=int, default=600)
    ap.add_argument("--pairs", type=int, default=100)
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--report", required=True, type=Path)
    ap.add_argument("--port", type=int, default=3904)
    ap.add_argument("--one-machine-only", action="store_true", help="skip the emulator's run")
    args = ap.parse_args()
    rng = random.Random(11)
    scratch = Path(tempfile.mkdtemp(prefix="folio-backends-bench-"))
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)  # ~700 MB a run
    if not args.job_images.is_dir():
        # Run alone (not after convert_bench.py): the same kind of set, made here.
        args.job_images.mkdir(parents=True)
        for i in range(args.pairs):
            (args.job_images / f"photo-{i:03}.jpg").write_bytes(image_bytes(rng, 2000, 1500, "JPEG"))
    job_files = sorted(p for p in args.job_images.iterdir() if p.suffix == ".jpg")[:args.pairs]

    rows = {}
    backends = ("one machine",) if args.one_machine_only else ("one machine", "AWS adapters + emulator")
    for backend in backends:
        n = args.objects if backend == "one machine" else args.aws_objects
        objects = {f"in/{i % 10}/o{i:05}.{'png' if i % 2 == 0 else 'jpg'}":
                   image_bytes(rng, 320, 240, "PNG" if i % 2 == 0 else "JPEG") for i in range(n)}
        serve = Serve(args.folio, backend, args.port, scratch, data=scratch / f"data-{len(rows)}")
        try:
            print(f"[{backend}] batch of {n} objects", flush=True)
            batch, batch_engine = bench_batch(backend, serve, args.folio, objects, scratch)
            print(f"[{backend}] job of {len(job_files)} pairs", flush=True)
            job, job_engine = bench_job(serve, args.folio, job_files, scratch)
            print(f"[{backend}] uploads and GetImageInfos", flush=True)
            upload_median, ids = bench_uploads(serve, rng)
            infos_median, infos_p99 = bench_infos(serve, ids)
            time.sleep(3)
            idle = rss_kib(serve.process.pid)
        finally:
            serve.stop()
        start_s = None
        if backend == "one machine":
            data = scratch / "data-records"
            Serve(args.folio, backend, args.port, scratch, data=data).stop()
            fill_records(data, args.records)
            again = Serve(args.folio, backend, args.port, scratch, data=data)
            start_s = again.ready_s
            time.sleep(3)
            idle_records = rss_kib(again.process.pid)
            again.stop()
        rows[backend] = dict(n=n, batch=batch, batch_engine=batch_engine, job=job, job_engine=job_engine,
                             upload=upload_median, infos=infos_median, infos_p99=infos_p99, idle=idle,
                             start=start_s, idle_records=idle_records if start_s else None)
        print(json.dumps(rows[backend]), flush=True)

    if args.one_machine_only:
        print(json.dumps(rows))
        return
    one, aws = rows["one machine"], rows["AWS adapters + emulator"]
    ms = lambda s: f"{1000 * s:.1f}"
    lines = [
        "",
        "## `folio serve` on both backends",
        "",
        f"Release build; the same generated files on both. A batch resizes every object to 64 wide",
        f"WebP (320x240 PNGs and JPEGs, {one['n']} objects on one machine, {aws['n']} on the emulator,",
        f"which is slow); a job makes {len(job_files)} 150-wide WebPs of the job benchmark's JPEGs, timed",
        "from `process: true` to the final callback; `folio convert -o` converts the same files on",
        "every core. Uploads: 100 small JPEGs, 8 at a time (CreateUploadImage + PUT, each",
        "upload its own tenant's, so the per-tenant rate limit does not pace them);",
        f"GetImageInfos: {CALLERS} callers, one tenant each, 20 ids a call.",
        "",
        "| figure | one machine | AWS adapters + emulator | goal |",
        "|---|---|---|---|",
        f"| batch, CreateBatch to end message (s) | {one['batch']:.2f} ({one['n']}) | {aws['batch']:.2f} ({aws['n']}) | |",
        f"| `folio convert -o` on the batch's files (s) | {one['batch_engine']:.2f} | {aws['batch_engine']:.2f} | |",
        f"| **batch / engine** | **{one['batch'] / one['batch_engine']:.2f}x** | {aws['batch'] / aws['batch_engine']:.2f}x | 1.5x |",
        f"| job, start to final callback (s) | {one['job']:.2f} | {aws['job']:.2f} | |",
        f"| `folio convert -o` on the job's files (s) | {one['job_engine']:.2f} | {aws['job_engine']:.2f} | |",
        f"| **job / engine** | **{one['job'] / one['job_engine']:.2f}x** | {aws['job'] / aws['job_engine']:.2f}x | 1.5x |",
        f"| upload, median (ms) | **{ms(one['upload'])}** | {ms(aws['upload'])} | 10 |",
        f"| GetImageInfos median / p99, {CALLERS} callers (ms) | {ms(one['infos'])} / **{ms(one['infos_p99'])}** | {ms(aws['infos'])} / {ms(aws['infos_p99'])} | p99 20 |",
        f"| answering on a folder of {args.records:,} records (s) | **{one['start']:.2f}** | | 1 |",
        f"| idle RSS after the runs / on the {args.records:,}-record folder (MiB) | {one['idle'] / 1024:.0f} / **{one['idle_records'] / 1024:.0f}** | {aws['idle'] / 1024:.0f} | 40 |",
        "",
    ]
    with args.report.open("a") as out:
        out.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
