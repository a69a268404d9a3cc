#!/usr/bin/env bash
# Installs the Debian packages antema builds and tests with, if any are missing. Idempotent:
# a machine that has them all is left untouched (no apt-get update, no network).
set -euo pipefail

packages=(
  make pkg-config
  libsqlite3-dev      # the store (GRDB over the system SQLite)
  libopenblas-dev     # the inference engine (sgemm)
  libpng-dev          # PNG input and report pictures
  libtiff-dev         # TIFF input
  libssl-dev          # SHA-256 of micrographs (libcrypto)
  libxlsxwriter-dev   # workbooks
  libcairo2-dev libpango1.0-dev fonts-dejavu-core   # figures and pictures (PNG, SVG, PDF), text in any script
  dpkg-dev fakeroot binutils adduser                 # make deb and its test (dpkg-shlibdeps, strip)
  python3-openpyxl    # tests open the written workbooks with openpyxl
  libreoffice-calc    # ... and convert them with LibreOffice (headless)
  poppler-utils       # tests render the PDF charts (pdftoppm)
  python3             # test helpers that check written files
  postgresql          # the facility tests start a throw-away server (initdb, pg_ctl) on a free loopback port
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: missing ${missing[*]}; run as root or install sudo" >&2; exit 1; }
  sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
