#!/usr/bin/env bash
# make dev: the emulator (started or reused), then `folio serve` on 127.0.0.1:3000.
# Ctrl-C stops both (the emulator only if this script started it).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
"$ROOT/scripts/venv.sh"
started=$("$ROOT/scripts/moto.sh" start)
cleanup() { [ "$started" = started ] && "$ROOT/scripts/moto.sh" stop; }
trap cleanup EXIT
log "building folio"
cargo build --quiet -p folio-cli
cd "$ROOT"
"$CARGO_TARGET_DIR/debug/folio" serve &
serve=$!
trap 'kill -INT $serve 2>/dev/null; wait $serve; cleanup' INT TERM
wait $serve
