# Shared settings of Folio's scripts; sourced, not run.
set -euo pipefail
# The checkout itself, also when scripts/ is reached through a symlink.
ROOT=$(cd -P "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE_DIR="$ROOT/.folio"
mkdir -p "$STATE_DIR"

export FOLIO_MOTO_PORT=${FOLIO_MOTO_PORT:-5055}
export AWS_ENDPOINT_URL=${AWS_ENDPOINT_URL:-http://127.0.0.1:$FOLIO_MOTO_PORT}
export AWS_REGION=${AWS_REGION:-us-east-1}
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-testing}
export AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-testing}
# Keep the build outside the clone when the caller says so (CI does); cargo's default otherwise.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

log() { printf '[folio] %s\n' "$*" >&2; }
