#!/usr/bin/env bash
# Debian packages: cmake, meson, ninja and nasm to build the bundled libjpeg-turbo and dav1d
# (with their SIMD code), and what the tests use to check PDFs (qpdf, poppler's pdfinfo and pdftocairo) and to decode
# reference images (OpenJPEG's opj_decompress, libtiff's tiffcp, jbig2dec, libavif's avifenc and
# avifdec); with --browser also Chromium, for the console's browser test (`make test` asks for
# it, `make dev` does not). Installed only when missing.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
missing=()
command -v cmake >/dev/null || missing+=(cmake)
command -v nasm >/dev/null || missing+=(nasm)
command -v meson >/dev/null || missing+=(meson)
command -v ninja >/dev/null || missing+=(ninja-build)
command -v qpdf >/dev/null || missing+=(qpdf)
{ command -v pdftocairo >/dev/null && command -v pdfinfo >/dev/null; } || missing+=(poppler-utils)
command -v opj_decompress >/dev/null || missing+=(libopenjp2-tools)
command -v tiffcp >/dev/null || missing+=(libtiff-tools)
command -v jbig2dec >/dev/null || missing+=(jbig2dec)
{ command -v avifenc >/dev/null && command -v avifdec >/dev/null; } || missing+=(libavif-bin)
if [ "${1:-}" = --browser ]; then
  command -v chromium >/dev/null || missing+=(chromium)
fi
[ ${#missing[@]} -eq 0 ] && exit 0
log "installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
