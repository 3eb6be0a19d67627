#!/usr/bin/env bash
# make deploy-tools: cargo-lambda, zig and the SAM CLI from PyPI into .folio/tools (again only
# when the pins change), and the Rust targets of Lambda's two architectures.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
"$ROOT/scripts/venv.sh" "$ROOT/scripts/deploy-requirements.txt" "$ROOT/.folio/tools"
# PyPI's ziglang is a module; cargo-lambda looks for a `zig` command.
zig="$ROOT/.folio/tools/bin/zig"
if [ ! -x "$zig" ]; then
  printf '#!/bin/sh\nexec "%s" -m ziglang "$@"\n' "$ROOT/.folio/tools/bin/python" > "$zig"
  chmod +x "$zig"
fi
rustup target add x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu >/dev/null
log "deploy tools in .folio/tools/bin: $("$ROOT/.folio/tools/bin/cargo-lambda" lambda --version 2>/dev/null || echo cargo-lambda), zig $("$zig" version), $("$ROOT/.folio/tools/bin/sam" --version)"
