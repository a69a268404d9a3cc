#!/usr/bin/env bash
# Release binaries that need only Debian's shared libraries at run time: the Swift standard
# library, Foundation and Dispatch are linked statically (--static-swift-stdlib), so no library
# of the Swift toolchain is loaded (checked with ldd). Prints the folder of the binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
for product in antemad antemactl; do
  swift build -c release --static-swift-stdlib --product "$product" >&2
done
bin="$(swift build -c release --static-swift-stdlib --show-bin-path)"
toolchain="$(dirname "$(dirname "$(readlink -f "$(command -v swift)")")")"
for exe in "$bin/antemad" "$bin/antemactl"; do
  if ldd "$exe" | grep -F "$toolchain" >&2; then
    echo "build-release: $exe still loads libraries from the Swift toolchain ($toolchain)" >&2
    exit 1
  fi
done
echo "$bin"
