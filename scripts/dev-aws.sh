#!/usr/bin/env bash
# make dev-aws: the emulator (started or reused), then `folio serve --backend aws` on
# 127.0.0.1:3000. Ctrl-C stops both (the emulator only if this script started it).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT"
"$ROOT/scripts/system-deps.sh"
"$ROOT/scripts/venv.sh"
started=$("$ROOT/scripts/moto.sh" start)
trap '[ "$started" = started ] && "$ROOT/scripts/moto.sh" stop' EXIT
log "building folio"
cargo build --quiet -p folio-cli
"$CARGO_TARGET_DIR/debug/folio" serve --backend aws "$@"
