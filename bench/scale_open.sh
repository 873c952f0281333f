#!/usr/bin/env bash
# Measures open time and memory of a 1 TiB image with 10 GiB written.
# usage: bench/scale_open.sh [BUILD_DIR] [WORK_DIR]
set -euo pipefail
build=${1:-build}
work=${2:-$(mktemp -d)}
img=$work/scale.img
"$build/bench/scale_open" create "$img" 1024 10
ls -ls "$img"
for mode in "" --rw; do
  for i in 1 2 3; do "$build/bench/scale_open" open "$img" $mode; done
done
rm -f "$img"
