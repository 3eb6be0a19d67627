#!/usr/bin/env bash
# make deploy-tools: cargo-lambda, zig and the SAM CLI from PyPI into .folio/tools (again only
# when the pins change), and the Rust targets of Lambda's two architectures.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
ZIG_X86_64=0.12.1
"$ROOT/scripts/venv.sh" "$ROOT/scripts/deploy-requirements.txt" "$ROOT/.folio/tools"
# PyPI's ziglang is a module; cargo-lambda looks for a `zig` command.
zig="$ROOT/.folio/tools/bin/zig"
if [ ! -x "$zig" ]; then
  printf '#!/bin/sh\nexec "%s" -m ziglang "$@"\n' "$ROOT/.folio/tools/bin/python" > "$zig"
  chmod +x "$zig"
fi
# dav1d's meson cross file for arm64 names the GNU cross tools (aarch64-linux-gnu-gcc, -g++,
# -ar, -strip); zig's clang stands in for them. Meson knows a linker by what `-Wl,--version`
# prints, and zig's own answer ("zig ld") is not one it knows: zig links with LLVM's lld.
for tool in gcc g++ ar strip; do
  wrapper="$ROOT/.folio/tools/bin/aarch64-linux-gnu-$tool"
  case $tool in
    gcc) run='cc -target aarch64-linux-gnu' ;;
    g++) run='c++ -target aarch64-linux-gnu' ;;
    ar) run='ar' ;;
    strip) run='objcopy --strip-all' ;;
  esac
  {
    echo '#!/bin/sh'
    case $tool in gcc|g++)
      echo 'case " $* " in *" -Wl,--version "*) echo "LLD (zig, compatible with GNU linkers)"; exit 0 ;; esac' ;;
    esac
    printf 'exec "%s" %s "$@"\n' "$zig" "$run"
  } > "$wrapper.new"
  chmod +x "$wrapper.new" && mv "$wrapper.new" "$wrapper"
done
# The x86_64 build's zig (see deploy-requirements.txt), the one `make package` gives that
# build.
x86="$ROOT/.folio/tools/zig-x86_64"
if [ "$("$x86/bin/zig" version 2>/dev/null)" != "$ZIG_X86_64" ]; then
  log "installing zig $ZIG_X86_64 for x86_64 builds into ${x86#$ROOT/}"
  rm -rf "$x86"
  "$ROOT/.folio/tools/bin/pip" install --quiet --disable-pip-version-check --target "$x86" \
    "ziglang==$ZIG_X86_64"
  mkdir -p "$x86/bin" && ln -sf ../ziglang/zig "$x86/bin/zig"
fi
# cargo-lambda asks `python3 -m ziglang` for zig before it looks on the PATH: a python3 that
# finds this zig first.
printf '#!/bin/sh\nPYTHONPATH="%s" exec "%s" "$@"\n' "$x86" "$ROOT/.folio/tools/bin/python3" \
  > "$x86/bin/python3"
chmod +x "$x86/bin/python3"
rustup target add x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu >/dev/null
log "deploy tools in .folio/tools/bin: $("$ROOT/.folio/tools/bin/cargo-lambda" lambda --version 2>/dev/null || echo cargo-lambda), zig $("$zig" version) (x86_64: $("$x86/bin/zig" version)), $("$ROOT/.folio/tools/bin/sam" --version)"
