#!/usr/bin/env bash
# Debian packages: cmake and nasm to build the bundled libjpeg-turbo (with its SIMD code),
# and what the tests use to check PDFs (qpdf, poppler's pdfinfo and pdftocairo) and to decode
# reference images (OpenJPEG's opj_decompress, libtiff's tiffcp, jbig2dec); installed only when missing.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
missing=()
command -v cmake >/dev/null || missing+=(cmake)
command -v nasm >/dev/null || missing+=(nasm)
command -v qpdf >/dev/null || missing+=(qpdf)
{ command -v pdftocairo >/dev/null && command -v pdfinfo >/dev/null; } || missing+=(poppler-utils)
command -v opj_decompress >/dev/null || missing+=(libopenjp2-tools)
command -v tiffcp >/dev/null || missing+=(libtiff-tools)
command -v jbig2dec >/dev/null || missing+=(jbig2dec)
[ ${#missing[@]} -eq 0 ] && exit 0
log "installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
