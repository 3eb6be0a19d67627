#!/usr/bin/env bash
# make bench: times `folio pdf` beside img2pdf, ImageMagick and a plain copy on the same
# generated inputs, in one run, and writes BENCHMARKS.md. BENCH_SCALE=quick runs small sets.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT"
"$ROOT/scripts/venv.sh" "$ROOT/scripts/bench/requirements.txt" "$ROOT/.venv-bench"
# Debian's ImageMagick (a `convert` elsewhere on PATH may be something else).
if ! dpkg -s imagemagick >/dev/null 2>&1; then
  log "installing imagemagick"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq imagemagick >/dev/null
fi
log "criterion: the engine on generated images (target/criterion has the details)"
cargo bench --quiet -p folio-shared --bench pdf_engine
log "building folio (release)"
cargo build --quiet --release -p folio-cli
"$ROOT/.venv-bench/bin/python" "$ROOT/scripts/bench/pdf_bench.py" \
  --folio "$CARGO_TARGET_DIR/release/folio" \
  --img2pdf "$ROOT/.venv-bench/bin/img2pdf" \
  --magick /usr/bin/convert \
  --work "${BENCH_DIR:-$STATE_DIR/bench}" \
  --scale "${BENCH_SCALE:-full}" \
  --report "$ROOT/BENCHMARKS.md"
