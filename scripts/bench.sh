#!/usr/bin/env bash
# make bench: times `folio pdf` beside img2pdf, ImageMagick and a plain copy on the same
# generated inputs, in one run, then `folio convert` beside libvips and ImageMagick, then one
# PDF task of the JPEG set, one conversion job and one batch through the local stack, then
# `folio serve` on both backends side by side (one machine and the emulator), and writes
# BENCHMARKS.md. BENCH_SCALE=quick runs small sets.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT"
"$ROOT/scripts/system-deps.sh"
"$ROOT/scripts/venv.sh" "$ROOT/scripts/bench/requirements.txt" "$ROOT/.venv-bench"
# Debian's ImageMagick (a `convert` elsewhere on PATH may be something else) and libvips.
missing=()
dpkg -s imagemagick >/dev/null 2>&1 || missing+=(imagemagick)
dpkg -s libvips-tools >/dev/null 2>&1 || missing+=(libvips-tools)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
log "criterion: the engine on generated images (target/criterion has the details)"
cargo bench --quiet -p folio-engine --bench pdf_engine --bench convert_engine
log "building folio (release)"
cargo build --quiet --release -p folio-cli
WORK="${BENCH_DIR:-$STATE_DIR/bench}"
SCALE="${BENCH_SCALE:-full}"
"$ROOT/.venv-bench/bin/python" "$ROOT/scripts/bench/pdf_bench.py" \
  --folio "$CARGO_TARGET_DIR/release/folio" \
  --img2pdf "$ROOT/.venv-bench/bin/img2pdf" \
  --magick /usr/bin/convert \
  --work "$WORK" \
  --scale "$SCALE" \
  --report "$ROOT/BENCHMARKS.md"

log "conversions beside libvips and ImageMagick"
"$ROOT/.venv-bench/bin/python" "$ROOT/scripts/bench/convert_bench.py" \
  --folio "$CARGO_TARGET_DIR/release/folio" \
  --vips /usr/bin/vips \
  --vipsthumbnail /usr/bin/vipsthumbnail \
  --magick /usr/bin/convert \
  --work "$WORK" \
  --scale "$SCALE" \
  --report "$ROOT/BENCHMARKS.md"

log "one task of the JPEG set through the local stack"
"$ROOT/scripts/venv.sh"
started=$("$ROOT/scripts/moto.sh" start)
trap '[ "$started" = started ] && "$ROOT/scripts/moto.sh" stop' EXIT
jpegs="$WORK/jpeg-100x4000x3000"
[ "$SCALE" = quick ] && jpegs="$WORK/jpeg-10x1000x750"
"$ROOT/.venv/bin/python" "$ROOT/scripts/bench/task_bench.py" \
  --folio "$CARGO_TARGET_DIR/release/folio" \
  --images "$jpegs" \
  --report "$ROOT/BENCHMARKS.md"

log "one conversion job of the directory set through the local stack"
dir="$WORK/convert-jpeg-dir-100x2000x1500"
[ "$SCALE" = quick ] && dir="$WORK/convert-jpeg-dir-10x500x375"
"$ROOT/.venv/bin/python" "$ROOT/scripts/bench/job_bench.py" \
  --folio "$CARGO_TARGET_DIR/release/folio" \
  --images "$dir" \
  --report "$ROOT/BENCHMARKS.md"

log "one batch over a bucket prefix through the local stack"
objects=2500
[ "$SCALE" = quick ] && objects=300
"$ROOT/.venv/bin/python" "$ROOT/scripts/bench/batch_bench.py" \
  --folio "$CARGO_TARGET_DIR/release/folio" \
  --objects "$objects" \
  --report "$ROOT/BENCHMARKS.md"

log "folio serve on both backends: a batch, a job, uploads, GetImageInfos, start and memory"
objects=2400 aws_objects=600 pairs=100 records=100000
[ "$SCALE" = quick ] && objects=300 aws_objects=100 pairs=10 records=10000
"$ROOT/.venv/bin/python" "$ROOT/scripts/bench/backends_bench.py" \
  --folio "$CARGO_TARGET_DIR/release/folio" \
  --job-images "$dir" \
  --objects "$objects" --aws-objects "$aws_objects" --pairs "$pairs" --records "$records" \
  --report "$ROOT/BENCHMARKS.md"
