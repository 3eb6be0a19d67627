#!/usr/bin/env python3
"""One conversion job through the local stack (`folio serve` against the emulator): the
benchmark's 100 JPEGs uploaded to a job, each made a 150-wide WebP thumbnail by its own pair,
beside `folio convert` on the same files. Counts the AWS requests the job made (the
emulator counts them, scripts/emulator.py) and prices 1,000 such conversions on AWS. Appends a section to
the report.

Runs with the emulator's virtualenv (httpx comes with the api2convert SDK)."""
import argparse
import atexit
import concurrent.futures
import json
import math
import os
import subprocess
import shutil
import tempfile
import time
from pathlib import Path

import httpx

from local_stack import (DYNAMO_RRU, DYNAMO_WRU, LAMBDA_GB_S, LAMBDA_REQUEST, S3_GET, S3_PUT,
                         SQS_FIFO, EndReceiver, report, requests)

KEY = "bench-key"
WORKER_MEMORY_GB = 2.0  # JobWorkerFunction's MemorySize in template.yaml


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--folio", required=True)
    ap.add_argument("--images", required=True, type=Path)
    ap.add_argument("--report", required=True, type=Path)
    ap.add_argument("--port", type=int, default=3902)
    args = ap.parse_args()
    endpoint = os.environ["AWS_ENDPOINT_URL"]

    files = sorted(p for p in args.images.iterdir() if p.suffix == ".jpg")
    scratch = Path(tempfile.mkdtemp(prefix="folio-job-bench-"))
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)  # ~700 MB a run
    state = scratch / "state.json"
    state.write_text(json.dumps({"api_keys": {KEY: "bench"}, "webhook_secret": "bench"}))
    base = f"http://127.0.0.1:{args.port}"
    serve = subprocess.Popen(
        [args.folio, "serve", "--backend", "aws", "--addr", f"127.0.0.1:{args.port}", "--prefix", f"folio-jbench{int(time.time())}",
         "--state-file", str(state)],
        stdout=subprocess.DEVNULL, stderr=open(scratch / "serve.log", "w"))
    api = httpx.Client(base_url=f"{base}/v2", headers={"X-Oc-Api-Key": KEY}, timeout=120)
    try:
        for _ in range(600):
            try:
                if api.get("/statuses").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        receiver = EndReceiver()
        hook = receiver.url
        requests(endpoint, reset=True)
        started = time.monotonic()
        job = api.post("/jobs", json={"process": False, "conversion": [
            {"target": "thumbnail", "options": {"thumbnail_target": "webp", "width": 150}}]}).json()
        upload_url = f"{job['server']}/upload-file/{job['id']}"

        def upload(path):
            with path.open("rb") as f:
                r = httpx.post(upload_url, headers={"X-Oc-Token": job["token"]},
                               files={"file": (path.name, f)}, timeout=120)
                r.raise_for_status()

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(upload, files))
        uploaded = time.monotonic()
        print(f"uploaded {len(files)} files in {uploaded - started:.1f} s", flush=True)
        # The job's final callback says when it ended (polling would add requests of its own).
        api.patch(f"/jobs/{job['id']}", json={"process": True, "callback": hook}).raise_for_status()
        if not receiver.ended.wait(600):
            raise SystemExit("no final callback within 10 minutes")
        ended = receiver.at[0]
        done = api.get(f"/jobs/{job['id']}").json()
        print(f"the job ended {done['status']['code']} in {ended - uploaded:.1f} s", flush=True)
        # Let the final callback's delivery and the last deletes land before counting.
        time.sleep(3)
        counts = requests(endpoint)
        # The job's size as the API shows it stands for its item's: most reads are of it
        # (DynamoDB bills a strongly consistent read by 4 KB).
        job_item_kib = len(json.dumps(done)) / 1024
        if done["status"]["code"] != "completed" or len(done["output"]) != len(files):
            raise SystemExit(f"the job ended {done['status']} with {len(done['output'])} outputs")
    finally:
        serve.terminate()
        serve.wait(timeout=30)

    # Pollers' receives stand for Lambda's event source polling: shown, not priced per job.
    receives = counts.pop("sqs.ReceiveMessage", 0)

    # The engine alone: one process per file, one after another (one core, as one Lambda
    # instance converts one pair), and the whole set on every core.
    out = scratch / "engine"
    out.mkdir()
    t = time.monotonic()
    for f in files:
        subprocess.run([args.folio, "convert", str(f), str(out / (f.stem + ".webp")), "--width", "150"],
                       check=True, capture_output=True)
    engine_serial = time.monotonic() - t
    t = time.monotonic()
    subprocess.run([args.folio, "convert", "-o", str(out), "--format", "webp", "--width", "150",
                    *map(str, files)], check=True, capture_output=True)
    engine_parallel = time.monotonic() - t

    n = len(files)
    per_conversion_s = engine_serial / n
    s3_put = sum(v for k, v in counts.items() if k in ("s3.PutObject", "s3.ListObjectsV2", "s3.DeleteObjects"))
    s3_get = sum(v for k, v in counts.items() if k.startswith("s3.") and k not in ("s3.PutObject", "s3.ListObjectsV2", "s3.DeleteObjects"))
    sqs_jobs = sum(v for k, v in counts.items() if k.startswith("sqs."))
    dynamo_writes = sum(v * (2 * 4 if k.endswith("TransactWriteItems") else 1)
                        for k, v in counts.items() if k.split(".")[-1] in ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems"))
    dynamo_reads = sum(v for k, v in counts.items() if k.split(".")[-1] in ("GetItem", "Query", "BatchGetItem"))
    # Per 1,000 conversions: the job's requests scaled from this job's n, Lambda time from
    # the engine's one-core time per conversion at the worker's memory size. DynamoDB units
    # count each plain write as one unit, a pair's transaction (up to 4 items) as eight, and
    # each read as a read of the whole job.
    scale = 1000 / n
    cost = {
        "Lambda compute (GB-s)": per_conversion_s * WORKER_MEMORY_GB * 1000 * LAMBDA_GB_S,
        "Lambda requests": (counts.get("sqs.DeleteMessage", 0) or n) * scale * LAMBDA_REQUEST,
        "S3 PUT/LIST": s3_put * scale * S3_PUT,
        "S3 GET": s3_get * scale * S3_GET,
        "SQS": sqs_jobs * scale * SQS_FIFO,
        "DynamoDB writes": dynamo_writes * scale * DYNAMO_WRU,
        "DynamoDB reads": dynamo_reads * math.ceil(job_item_kib / 4) * scale * DYNAMO_RRU,
    }
    input_mib = sum(f.stat().st_size for f in files) / 2**20
    lines = [
        "",
        f"## One conversion job of {n} uploads through the local stack ({input_mib:.0f} MiB in)",
        "",
        "`folio serve` (release build, four job pollers) against the emulator: a job with one",
        "`thumbnail` conversion (WebP, 150 wide), the JPEGs uploaded with the job token (8 at a",
        "time), then started; end to end is from `process: true` to the job's final callback",
        "arriving. The engine alone is `folio convert` on the same files.",
        "",
        "| run | wall s | per file ms |",
        "|---|---|---|",
        f"| uploads ({n}, 8 at a time) | {uploaded - started:.2f} | {1000 * (uploaded - started) / n:.1f} |",
        f"| job: start to completed ({n} pairs, 4 pollers) | {ended - uploaded:.2f} | {1000 * (ended - uploaded) / n:.1f} |",
        f"| `folio convert`, one process per file, one after another | {engine_serial:.2f} | {1000 * per_conversion_s:.1f} |",
        f"| `folio convert -o`, all files, every core | {engine_parallel:.2f} | {1000 * engine_parallel / n:.1f} |",
        "",
        f"Ratio: job (start to completed) / engine one after another: **{(ended - uploaded) / engine_serial:.2f}x**;"
        f" / engine on every core: {(ended - uploaded) / engine_parallel:.2f}x.",
        "",
        f"AWS requests the job made (create, {n} uploads, start, fetch, {n} pairs, the end, its callback),",
        f"counted by the emulator ({receives} ReceiveMessage calls of the local pollers left out:",
        "in AWS those are Lambda's event source polling):",
        "",
        "| request | count | per conversion |",
        "|---|---|---|",
    ]
    for name, count in sorted(counts.items()):
        lines.append(f"| {name} | {count} | {count / n:.2f} |")
    lines += [
        "",
        "What 1,000 such conversions cost on AWS at list prices (us-east-1; Lambda arm64 at the",
        f"job worker's {WORKER_MEMORY_GB:.0f} GB for the engine's one-core time per conversion; the",
        "requests above scaled to 1,000; DynamoDB on demand, a pair's transaction as 8 write units,",
        f"every read priced as a read of the whole job ({job_item_kib:.0f} KiB as the API shows it,",
        f"{math.ceil(job_item_kib / 4)} read units; an upper bound, pair records are smaller):",
        "",
    ]
    report(args.report, lines, cost, "conversions")


if __name__ == "__main__":
    main()
