#!/usr/bin/env python3
"""One images-to-PDF task of the benchmark's JPEG set through the local stack (`folio serve`
against the emulator), beside `folio pdf` on the same files: end-to-end time from the
CreateImageToPDFTask request to GetTask saying Succeeded, and the serving process's peak
RSS during the task (its PDF worker runs in it). Appends a section to the report.

Runs with the emulator's virtualenv (boto3 comes with moto)."""
import argparse
import atexit
import io
import json
import os
import subprocess
import shutil
import tempfile
import time
import urllib.request
from pathlib import Path

import boto3
import boto3.s3.transfer

KEY = "bench-key"
ROLE = "arn:aws:iam::123456789012:role/folio-project-bench"


def call(base, operation, body=None, query=""):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{base}/{operation}{query}", data=data, method="POST" if data else "GET",
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def status_kib(pid, field):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} missing")


def timed(command):
    with tempfile.NamedTemporaryFile("r", suffix=".time") as t:
        subprocess.run(["/usr/bin/time", "-f", "%e %M", "-o", t.name, *command], check=True,
                       capture_output=True)
        wall, rss = t.read().split()[-2:]
        return float(wall), int(rss) / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--folio", required=True)
    ap.add_argument("--images", required=True, type=Path)
    ap.add_argument("--report", required=True, type=Path)
    ap.add_argument("--port", type=int, default=3901)
    args = ap.parse_args()

    files = sorted(p for p in args.images.iterdir() if p.suffix == ".jpg")
    scratch = Path(tempfile.mkdtemp(prefix="folio-task-bench-"))
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)  # ~700 MB a run
    state = scratch / "state.json"
    state.write_text(json.dumps({"api_keys": {KEY: "bench"}, "webhook_secret": "bench"}))
    base = f"http://127.0.0.1:{args.port}"
    serve = subprocess.Popen(
        [args.folio, "serve", "--backend", "aws", "--addr", f"127.0.0.1:{args.port}", "--prefix", "folio-bench",
         "--state-file", str(state)],
        stdout=subprocess.DEVNULL, stderr=open(scratch / "serve.log", "w"))
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(f"{base}/GetProject", timeout=1)
            except urllib.error.HTTPError:
                break  # answering (401 without a key)
            except OSError:
                time.sleep(0.1)
        s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
        bucket = f"folio-bench-{int(time.time())}"
        s3.create_bucket(Bucket=bucket)
        print(f"uploading {len(files)} JPEGs to s3://{bucket}", flush=True)
        for f in files:
            s3.upload_file(str(f), bucket, f"in/{f.name}")
        try:
            call(base, "CreateProject", {"ProjectName": "bench", "ServiceRole": ROLE})
        except urllib.error.HTTPError as e:
            if e.code != 409:
                raise
        # Peak RSS from here on: clear the high-water mark, keep the baseline.
        Path(f"/proc/{serve.pid}/clear_refs").write_text("5")
        baseline = status_kib(serve.pid, "VmRSS") / 1024
        started = time.monotonic()
        task = call(base, "CreateImageToPDFTask", {
            "ProjectName": "bench",
            "Sources": [{"URI": f"s3://{bucket}/in/{f.name}"} for f in files],
            "TargetURI": f"s3://{bucket}/out/bench.pdf",
        })
        query = f"?ProjectName=bench&TaskType=ImageToPDF&TaskId={task['TaskId']}"
        while True:
            got = call(base, "GetTask", query=query)
            if got["Status"] != "Running":
                break
            time.sleep(0.05)
        end_to_end = time.monotonic() - started
        peak = status_kib(serve.pid, "VmHWM") / 1024
        if got["Status"] != "Succeeded":
            raise SystemExit(f"the task ended {got['Status']}: {got.get('Code')} {got.get('Message')}")
        pdf = s3.get_object(Bucket=bucket, Key="out/bench.pdf")["Body"].read()
        # The emulator's floor: read every source and write their bytes back as one object
        # in 8 MiB parts, with boto3, no PDF made.
        started = time.monotonic()
        joined = b"".join(
            s3.get_object(Bucket=bucket, Key=f"in/{f.name}")["Body"].read() for f in files)
        config = boto3.s3.transfer.TransferConfig(multipart_chunksize=8 << 20, multipart_threshold=8 << 20)
        s3.upload_fileobj(io.BytesIO(joined), bucket, "out/copy.bin", Config=config)
        copy_floor = time.monotonic() - started
    finally:
        serve.terminate()
        serve.wait(timeout=30)

    local_wall, local_rss = timed([args.folio, "pdf", "-o", str(scratch / "local.pdf"), *map(str, files)])
    local_size = (scratch / "local.pdf").stat().st_size
    input_mib = sum(f.stat().st_size for f in files) / 2**20
    lines = [
        "",
        f"## One task of {len(files)} JPEGs through the local stack ({input_mib:.0f} MiB in)",
        "",
        "`folio serve` (release build) against the emulator: the sources in an emulated bucket, the",
        "PDF written back by multipart upload. End to end is from the CreateImageToPDFTask request to",
        "GetTask answering Succeeded (polled every 50 ms). The worker runs inside `folio serve`; its",
        "RSS is the process's high-water mark over the task (cleared when the task is created).",
        "",
        "| run | wall s | peak RSS MiB | output MiB |",
        "|---|---|---|---|",
        f"| task through the local stack | {end_to_end:.2f} | {peak:.0f} (idle before: {baseline:.0f}) | {len(pdf) / 2**20:.1f} |",
        f"| `folio pdf` on the same files | {local_wall:.2f} | {local_rss:.0f} | {local_size / 2**20:.1f} |",
        f"| boto3: read every source from the emulator, write them back in 8 MiB parts | {copy_floor:.2f} | | |",
        "",
        f"Ratios: task / emulator copy: **{end_to_end / max(copy_floor, 0.01):.1f}x**; "
        f"task / `folio pdf` wall: {end_to_end / max(local_wall, 0.01):.1f}x; "
        f"worker peak RSS / `folio pdf`'s: {peak / local_rss:.1f}; PDF sizes equal: "
        f"{'yes' if len(pdf) == local_size else 'no'}.",
        "",
    ]
    with args.report.open("a") as report:
        report.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
