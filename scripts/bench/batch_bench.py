#!/usr/bin/env python3
"""One batch through the local stack (`folio serve` against the emulator): a bucket of
generated objects under `in/` (PNGs and JPEGs, some text files the expressions pass over, a
few corrupt images), each resized and written as WebP to another bucket. Prints the counts
as GetBatch shows them while the batch runs, checks the end (every matching object has its
output, no other object has one, the failures are the corrupt files), times it beside
`folio convert` on the same files, and counts the AWS requests per 1,000 objects (the
emulator counts them, scripts/emulator.py). Appends a section to the report.

Runs with the emulator's virtualenv (boto3 comes with moto, Pillow is installed beside it)."""
import argparse
import atexit
import collections
import concurrent.futures
import io
import json
import os
import random
import subprocess
import shutil
import tempfile
import time
import urllib.request
from pathlib import Path

import boto3
from PIL import Image

from local_stack import (DYNAMO_RRU, DYNAMO_WRU, LAMBDA_GB_S, LAMBDA_REQUEST, S3_GET, S3_PUT,
                         SQS_STANDARD, EndReceiver, report, requests)

KEY = "bench-key"
ROLE = "arn:aws:iam::123456789012:role/folio-bench"
WORKER_MEMORY_GB = 2.0  # BatchWorkerFunction's MemorySize in template.yaml
# What one GetBatch asks of DynamoDB (the caller's rate, the project, the batch; the counter
# shards while it runs; the failures once there are some): left out of the batch's counts.
GET_BATCH_CALLS = {"dynamodb.UpdateItem": 1, "dynamodb.GetItem": 2}




def image_bytes(rng, i):
    """A 320x240 photo-like image (noise over a gradient): PNG for even i, JPEG for odd."""
    w, h = 320, 240
    base = Image.linear_gradient("L").resize((w, h)).convert("RGB")
    noise = Image.frombytes("RGB", (w, h), rng.randbytes(w * h * 3))
    image = Image.blend(base, noise, 0.3)
    out = io.BytesIO()
    image.save(out, "PNG" if i % 2 == 0 else "JPEG", quality=85)
    return out.getvalue()


def call(base, operation, body):
    request = urllib.request.Request(
        f"{base}/{operation}", data=json.dumps(body).encode(), method="POST",
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--folio", required=True)
    ap.add_argument("--objects", type=int, default=2500)
    ap.add_argument("--report", required=True, type=Path)
    ap.add_argument("--port", type=int, default=3903)
    ap.add_argument("--base", help="a running Folio (make dev's http://127.0.0.1:3000) instead of a new folio serve")
    ap.add_argument("--key", help="an API key of the running Folio (with --base)")
    args = ap.parse_args()
    global KEY
    KEY = args.key or KEY
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    s3 = boto3.client("s3", endpoint_url=endpoint)
    rng = random.Random(7)

    # The bucket: 4% text files, 7 corrupt images, the rest images in 10 folders.
    stamp = int(time.time())
    bucket, out_bucket = f"bench-batch-{stamp}", f"bench-batch-{stamp}-out"
    for b in (bucket, out_bucket):
        s3.create_bucket(Bucket=b)
    objects = {}
    corrupt = set(rng.sample(range(args.objects), 7))
    for i in range(args.objects):
        folder = f"in/{i % 10}"
        if i % 25 == 24:
            objects[f"{folder}/notes-{i}.txt"] = b"not an image"
        elif i in corrupt:
            objects[f"{folder}/broken-{i}.png"] = b"\x89PNG\r\n\x1a\n" + rng.randbytes(200)
        else:
            objects[f"{folder}/photo-{i}.{'png' if i % 2 == 0 else 'jpg'}"] = image_bytes(rng, i)
    objects["other/outside.png"] = image_bytes(rng, 0)
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda kv: s3.put_object(Bucket=bucket, Key=kv[0], Body=kv[1]), objects.items()))
    matching = sorted(k for k in objects if k.startswith("in/") and not k.endswith(".txt"))
    broken = sorted(k for k in matching if "/broken-" in k)
    good = [k for k in matching if k not in broken]
    print(f"{len(objects)} objects: {len(matching)} matching, {len(broken)} corrupt", flush=True)

    scratch = Path(tempfile.mkdtemp(prefix="folio-batch-bench-"))
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)  # ~700 MB a run
    state = scratch / "state.json"
    state.write_text(json.dumps({"api_keys": {KEY: "bench"}, "webhook_secret": "bench"}))
    base = args.base or f"http://127.0.0.1:{args.port}"
    serve = None if args.base else subprocess.Popen(
        [args.folio, "serve", "--backend", "aws", "--addr", f"127.0.0.1:{args.port}", "--prefix", f"folio-bbench{stamp}",
         "--state-file", str(state)],
        stdout=subprocess.DEVNULL, stderr=open(scratch / "serve.log", "w"))
    project = f"bench{stamp}"
    try:
        for _ in range(600):
            try:
                call(base, "CreateProject", {"ProjectName": project, "ServiceRole": ROLE})
                break
            except OSError:
                time.sleep(0.1)
        receiver = EndReceiver()
        hook = receiver.url
        requests(endpoint, reset=True)
        started = time.monotonic()
        batch_id = call(base, "CreateBatch", {
            "ProjectName": project,
            "Input": {"OSS": {"Bucket": bucket, "Prefix": "in/", "MatchExpressions": ["suffix(.png)", "*/*/*.jpg"]}},
            "Actions": [
                {"Name": "image/resize", "Parameters": ["w=128"]},
                {"Name": "image/format", "Parameters": ["format=webp", "quality=75"]},
                {"Name": "sys/saveas", "Parameters": [f"uri=s3://{out_bucket}/webp/{{dirname}}/{{barename}}.{{autoext}}"]},
            ],
            "Notification": {"Webhook": {"URL": hook}},
        })["Id"]
        polls, polls_running, polls_with_failures = 0, 0, 0
        while not receiver.ended.wait(5):
            batch = call(base, "GetBatch", {"ProjectName": project, "Id": batch_id})["Batch"]
            s = batch["Statistic"]
            polls += 1
            polls_running += batch["State"] == "Running"
            polls_with_failures += s["Failed"] > 0
            print(f"{time.monotonic() - started:6.1f} s  {batch['State']:9} {batch['Phase']:10} "
                  f"submitted {s['SubmitSuccess']:5}  skipped {s['SkipFiles']:4}  "
                  f"converted {s['Processed']:5}  failed {s['Failed']:3}", flush=True)
            if time.monotonic() - started > 1800:
                raise SystemExit("the batch did not end within 30 minutes")
        ended = receiver.at[0]
        time.sleep(2)
        counts = requests(endpoint)
        batch = call(base, "GetBatch", {"ProjectName": project, "Id": batch_id})["Batch"]
        polls += 1
        polls_with_failures += batch["Statistic"]["Failed"] > 0
    finally:
        if serve:
            serve.terminate()
            serve.wait(timeout=30)

    s = batch["Statistic"]
    print(json.dumps(batch["Statistic"]), batch["State"], flush=True)
    failed_keys = sorted(f["Key"] for f in batch["Failures"])
    written = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=out_bucket):
        written.update(o["Key"] for o in page.get("Contents", []))
    expected = {f"webp/{k.rsplit('/', 1)[0]}/{k.rsplit('/', 1)[1].rsplit('.', 1)[0]}.webp" for k in good}
    problems = []
    if batch["State"] != "Succeeded":
        problems.append(f"state {batch['State']}: {batch['Error']}")
    if (s["SubmitSuccess"], s["Processed"], s["Failed"]) != (len(matching), len(good), len(broken)):
        problems.append(f"counts {s}")
    if failed_keys != broken:
        problems.append(f"failures {failed_keys} are not the corrupt files {broken}")
    if written != expected:
        problems.append(f"{len(written ^ expected)} outputs differ from the matching objects'")
    if problems:
        raise SystemExit("; ".join(problems))

    # GetBatch polls of this script are not the batch's.
    for name, per_poll in GET_BATCH_CALLS.items():
        counts[name] -= per_poll * polls
    counts["dynamodb.BatchGetItem"] -= polls_running
    counts["dynamodb.Query"] -= polls_with_failures
    receives = counts.pop("sqs.ReceiveMessage", 0)
    counts = collections.Counter({k: v for k, v in counts.items() if v > 0})

    # The engine alone on the good objects: one process per file, one after another (one
    # core, as one Lambda instance converts one object), on a sample of 100.
    files = scratch / "files"
    files.mkdir()
    sample = good[:100]
    for k in sample:
        (files / k.replace("/", "_")).write_bytes(objects[k])
    t = time.monotonic()
    for f in sorted(files.iterdir()):
        subprocess.run([args.folio, "convert", str(f), str(scratch / (f.stem + ".webp")), "--width", "128"],
                       check=True, capture_output=True)
    per_object_s = (time.monotonic() - t) / len(sample)

    n = len(matching)
    wall = ended - started
    scale = 1000 / n
    # A transaction writes two items (three for a failed object) at two units each.
    writes = {"PutItem": 1, "UpdateItem": 1, "DeleteItem": 1, "TransactWriteItems": 2 * 2}
    s3_put = sum(v for k, v in counts.items() if k in ("s3.PutObject", "s3.ListObjectsV2"))
    s3_get = sum(v for k, v in counts.items() if k.startswith("s3.") and k not in ("s3.PutObject", "s3.ListObjectsV2"))
    sqs = sum(v for k, v in counts.items() if k.startswith("sqs."))
    dynamo_writes = sum(v * writes.get(k.split(".")[-1], 0) for k, v in counts.items() if k.startswith("dynamodb."))
    # Reads: an item's eventually consistent read of the batch (half a unit), the counter
    # shards at each check (16 items), everything else one unit.
    dynamo_reads = sum(v for k, v in counts.items() if k in ("dynamodb.GetItem", "dynamodb.Query")) \
        + 16 * counts.get("dynamodb.BatchGetItem", 0)
    cost = {
        "Lambda compute (GB-s)": per_object_s * WORKER_MEMORY_GB * 1000 * LAMBDA_GB_S,
        "Lambda requests": counts.get("sqs.DeleteMessage", n) * scale * LAMBDA_REQUEST,
        "S3 PUT/LIST": s3_put * scale * S3_PUT,
        "S3 GET": s3_get * scale * S3_GET,
        "SQS": sqs * scale * SQS_STANDARD,
        "DynamoDB writes": dynamo_writes * scale * DYNAMO_WRU,
        "DynamoDB reads": dynamo_reads * scale * DYNAMO_RRU,
    }
    lines = [
        "",
        f"## One batch of {len(objects)} objects through the local stack",
        "",
        f"`folio serve` (release build, four batch pollers) against the emulator: {len(matching)} of the",
        f"{len(objects)} objects match the expressions (PNGs and JPEGs, 320x240; {len(broken)} of them corrupt),",
        "each resized to 128 wide and written as WebP to another bucket. From CreateBatch to the",
        "end message; the end was checked (every matching object has its output and no other",
        "object has one; the failures are exactly the corrupt files).",
        "",
        "| run | wall s | objects per s | per object ms |",
        "|---|---|---|---|",
        f"| batch: CreateBatch to the end message | {wall:.1f} | {n / wall:.1f} | {1000 * wall / n:.1f} |",
        f"| `folio convert`, one process per file, one after another | - | {1 / per_object_s:.1f} | {1000 * per_object_s:.1f} |",
        "",
        f"Ratio: batch time per object / engine time per object: **{wall / n / per_object_s:.1f}x** (four",
        "pollers against one emulator process, which answers one DynamoDB request at a time).",
        "",
        f"AWS requests the batch made, counted by the emulator ({receives} ReceiveMessage calls of the",
        "local pollers and this script's GetBatch polls left out):",
        "",
        "| request | count | per 1,000 objects |",
        "|---|---|---|",
    ]
    for name, count in sorted(counts.items()):
        lines.append(f"| {name} | {count} | {count * scale:.0f} |")
    lines += [
        "",
        "What 1,000 objects cost on AWS at list prices (us-east-1; Lambda arm64 at the batch",
        f"worker's {WORKER_MEMORY_GB:.0f} GB for the engine's one-core time per object; DynamoDB on",
        "demand, a transaction's write as two units, the shard read as 16 units):",
        "",
    ]
    report(args.report, lines, cost, "objects")


if __name__ == "__main__":
    main()
