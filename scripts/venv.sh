#!/usr/bin/env bash
# Creates .venv with the pinned Python tools, once; again only when the pins change.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
req="$ROOT/scripts/requirements.txt"
stamp="$ROOT/.venv/.requirements.sha256"
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ -x "$ROOT/.venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
log "installing the Python tools into .venv (moto, cfn-lint)"
python3 -m venv "$ROOT/.venv"
"$ROOT/.venv/bin/pip" install --quiet --disable-pip-version-check -r "$req"
echo "$want" > "$stamp"
