#!/usr/bin/env bash
# venv.sh [REQUIREMENTS [DIR]]: a virtualenv with pinned Python tools (default: the local
# stack's, in .venv), created once and again only when the pins change.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
req="${1:-$ROOT/scripts/requirements.txt}"
dir="${2:-$ROOT/.venv}"
stamp="$dir/.requirements.sha256"
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ -x "$dir/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
log "installing $(grep -v '^#' "$req" | cut -d= -f1 | xargs) into ${dir#$ROOT/}"
python3 -m venv "$dir"
"$dir/bin/pip" install --quiet --disable-pip-version-check -r "$req"
echo "$want" > "$stamp"
