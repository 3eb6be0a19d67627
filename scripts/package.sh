#!/usr/bin/env bash
# make package [ARCHS="x86_64 arm64"]: every function built for Lambda as `sam build` does it
# (BuildMethod rust-cargolambda: cargo lambda build --release, zig as the linker), one
# architecture after the other, into $CARGO_TARGET_DIR/lambda/<arch>/<function>/bootstrap.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT"
"$ROOT/scripts/system-deps.sh"
"$ROOT/scripts/deploy-tools.sh"
export PATH="$ROOT/.folio/tools/bin:$PATH"
packages=()
for manifest in functions/*/Cargo.toml; do
  packages+=(-p "$(sed -n 's/^name = "\(.*\)"/\1/p' "$manifest" | head -1)")
done
for arch in ${ARCHS:-x86_64 arm64}; do
  case $arch in
    x86_64) flag=--x86-64 zig="$ROOT/.folio/tools/zig-x86_64/bin" ;;
    arm64) flag=--arm64 zig="$ROOT/.folio/tools/bin" ;;
    *) log "unknown architecture $arch (x86_64 or arm64)"; exit 2 ;;
  esac
  out="$CARGO_TARGET_DIR/lambda/$arch"
  log "building $(( ${#packages[@]} / 2 )) functions for $arch into $out"
  started=$(date +%s)
  # The zig of this architecture (see deploy-requirements.txt): cargo-lambda takes the one
  # `python3 -m ziglang` runs, else the one named here.
  CARGO_ZIGBUILD_PYTHON_PATH="$zig/python3" CARGO_ZIGBUILD_ZIG_PATH="$zig/zig" \
    cargo lambda build --release "$flag" --lambda-dir "$out" "${packages[@]}"
  log "$arch: built with zig $("$zig/zig" version)"
  log "$arch: $(ls "$out" | wc -l) functions in $(( $(date +%s) - started )) s"
  file "$out"/*/bootstrap 2>/dev/null | head -3 || true
done
