#!/usr/bin/env bash
# make test: Python tools, the emulator, the template lint, formatting, then every test of
# the workspace against the emulator. Needs only the Rust toolchain and Python 3.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT"
# The shared test corpus beside the clone (tests that need it fail without it).
export FOLIO_CORPUS=${FOLIO_CORPUS:-$(cd "$ROOT/.." && pwd)/shared/corpus}
"$ROOT/scripts/venv.sh"
"$ROOT/scripts/system-deps.sh"
started=$("$ROOT/scripts/moto.sh" start)
trap '[ "$started" = started ] && "$ROOT/scripts/moto.sh" stop' EXIT

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
