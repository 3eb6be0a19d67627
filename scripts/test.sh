#!/usr/bin/env bash
# make test: Python tools, the emulator and the storage servers, the template lint,
# formatting, then every test of the workspace against them. Needs only the Rust toolchain,
# Python 3 and Node.js (npm, for Azurite).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT"
# The shared test corpus beside the clone (tests that need it fail without it).
export FOLIO_CORPUS=${FOLIO_CORPUS:-$(cd "$ROOT/.." && pwd)/shared/corpus}
"$ROOT/scripts/venv.sh"
"$ROOT/scripts/system-deps.sh" --browser
started=$("$ROOT/scripts/moto.sh" start)
storage=$("$ROOT/scripts/storage-servers.sh" start)
trap '[ "$started" = started ] && "$ROOT/scripts/moto.sh" stop;
      [ "$storage" = started ] && "$ROOT/scripts/storage-servers.sh" stop' EXIT
# Where the storage tests find the GCS, Azure and FTP servers.
eval "$("$ROOT/scripts/storage-servers.sh" env)"

log "cfn-lint template.yaml"
"$ROOT/.venv/bin/cfn-lint" template.yaml
log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo test --workspace"
set +e
# --show-output: the corpus conformance test prints its counts.
cargo test --workspace --no-fail-fast "$@" -- --show-output 2>&1 | tee "$STATE_DIR/test.log"
status=${PIPESTATUS[0]}
set -e
count() { grep -Eo "[0-9]+ $1" "$STATE_DIR/test.log" | awk '{n += $1} END {print n + 0}'; }
# One closing line for the whole run (cargo prints one per test binary).
echo "tests: $(count passed) passed, $(count failed) failed"
exit "$status"
