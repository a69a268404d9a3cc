#!/usr/bin/env bash
# Builds a libFuzzer target with address sanitizer and runs it for a given time.
#   scripts/fuzz.sh dm|onnx|png|tiff|config [seconds]
# Crashes land in Fuzz/findings/<target>/; turn each into a regression test.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:?dm, onnx, png, tiff or config}"; seconds="${2:-60}"
out=".build/fuzz"; mkdir -p "$out" "Fuzz/findings/$target"
corpus="Fuzz/corpus/$target"; mkdir -p "$corpus"
case "$target" in
  png|tiff|config)
    # harnesses over SwiftPM targets (C libraries and C++ TOMLKit included), instrumented by SwiftPM
    product="Fuzz$(echo "$target" | tr a-z A-Z)"; [ "$target" = config ] && product=FuzzConfig
    ANTEMA_FUZZ=1 swift build -c release --sanitize fuzzer --sanitize address --scratch-path .build/fuzz-spm --product "$product" 2>&1 | tail -3
    # TOMLKit 0.6 leaks a few hundred bytes per parse (TOMLTable(string:) and .keys; bounded: the
    # daemon parses its configuration at start and on SIGHUP), so leak detection is off for config;
    # the leak adds up to about 2 GB in 7.6 M executions (28 minutes): libFuzzer's
    # default 2 GB RSS limit then ends the run with an "out-of-memory" on whatever input is next
    leaks=1; rss=2048; [ "$target" = config ] && { leaks=0; rss=8192; }
    ".build/fuzz-spm/release/$product" -max_total_time="$seconds" -detect_leaks=$leaks -rss_limit_mb=$rss -artifact_prefix="Fuzz/findings/$target/" -print_final_stats=1 \
      "$corpus" "Fuzz/seeds/$target" 2>&1 | tail -20
    exit 0 ;;
  dm)
    module=GatanDMFuzzed; sources=(Sources/GatanDM/*.swift); harness=Fuzz/DMFuzz.swift; seeds=Fuzz/seeds/dm; extra=() ;;
  onnx)
    module=InferenceFuzzed; sources=(Sources/Inference/*.swift); harness=Fuzz/ONNXFuzz.swift; seeds=Fuzz/seeds/onnx
    extra=(-I Sources/COpenBLAS -I Sources/CMalloc -Xcc -I/usr/include/x86_64-linux-gnu/openblas-pthread -lopenblas) ;;
  *) echo "unknown target $target" >&2; exit 2 ;;
esac
# the library as a module, instrumented
swiftc -sanitize=fuzzer,address -parse-as-library -module-name "$module" -emit-library -static -emit-module \
  -emit-module-path "$out/$module.swiftmodule" -o "$out/lib$module.a" "${sources[@]}" "${extra[@]}" -O -g
swiftc -sanitize=fuzzer,address -parse-as-library -I "$out" -L "$out" -l"$module" "$harness" -o "$out/fuzz-$target" "${extra[@]}" -O -g
# new inputs go to the working corpus (ignored by git); the committed seeds are only read
"$out/fuzz-$target" -max_total_time="$seconds" -artifact_prefix="Fuzz/findings/$target/" -print_final_stats=1 "$corpus" "$seeds" 2>&1 | tail -20
