#!/usr/bin/env bash
# make dev: `folio serve` on 127.0.0.1:3000 with everything in the data folder .folio/data
# (records, queues, buckets; kept across restarts). Nothing else runs: no emulator, no Python.
# To serve on the AWS adapters against the emulator instead: make dev-aws.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT"
"$ROOT/scripts/system-deps.sh"
log "building folio"
cargo build --quiet -p folio-cli
# In the foreground, so Ctrl-C reaches it; it shuts down cleanly.
exec "$CARGO_TARGET_DIR/debug/folio" serve "$@"
