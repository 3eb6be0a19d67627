#!/usr/bin/env bash
# make test: Python tools, the emulator, the template lint, formatting, then every test of
# the workspace against the emulator. Needs only the Rust toolchain and Python 3.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT"
"$ROOT/scripts/venv.sh"
started=$("$ROOT/scripts/moto.sh" start)
trap '[ "$started" = started ] && "$ROOT/scripts/moto.sh" stop' EXIT

log "cfn-lint template.yaml"
"$ROOT/.venv/bin/cfn-lint" template.yaml
log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo test --workspace"
cargo test --workspace --no-fail-fast "$@"
