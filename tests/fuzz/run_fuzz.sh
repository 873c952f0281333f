#!/usr/bin/env bash
# Runs fuzz_open for a bounded time over a fresh seed corpus.
# usage: run_fuzz.sh FUZZER SEED_MAKER SECONDS
set -euo pipefail
fuzzer=$1 seeds=$2 seconds=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ASAN_OPTIONS=detect_leaks=0 "$seeds" "$work/corpus"
mkdir -p "$work/artifacts"
# Undefined behaviour stops the run like a crash does.
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 "$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
  -artifact_prefix="$work/artifacts/" -print_final_stats=1 "$work/corpus" 2>&1 | tail -25
