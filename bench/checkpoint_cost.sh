#!/usr/bin/env bash
# What a checkpoint costs, full against delta, and what an open then costs,
# with 1 GiB written (whole), 64 GiB and 16 TiB (one 4 KiB block per index
# page: the metadata of a fully written image of that size without writing
# it all). Prints a markdown table (bench/README.md, "Checkpoint cost").
# usage: bench/checkpoint_cost.sh [BUILD_DIR] [WORK_DIR]
set -euo pipefail
build=${1:-build}
work=${2:-$(mktemp -d)}
bin=$build/bench/checkpoint_cost

# field TEXT REGEX: the first group of REGEX in TEXT.
field() { sed -nE "s/.*$2.*/\1/p" <<<"$1" | head -1; }

echo "| written | checkpoint | metadata written | checkpoint time | the 1000 writes (checkpoints meanwhile) | open time (median of 3) | open max RSS | chain an open loads |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
for spec in "1G" "64G --per-page" "16T --per-page"; do
  read -r size per_page <<<"$spec"
  img=$work/checkpoint-cost-$size.img
  "$bin" create "$img" "$size" $per_page 2>/dev/null >&2
  for mode in delta full; do
    u=$("$bin" update "$img" "$mode" 2>/dev/null)
    opens=()
    for _ in 1 2 3; do opens+=("$("$bin" open "$img" 2>/dev/null)"); done
    times=$(for o in "${opens[@]}"; do field "$o" 'open: ([0-9.]+) s'; done | sort -n)
    median=$(sed -n 2p <<<"$times")
    o=${opens[0]}
    label="$size${per_page:+, a block per page}"
    echo "| $label | $mode rule: $(field "$u" 'checkpoint: ([a-z]+),') | $(field "$u" ', ([0-9]+) bytes of metadata') B |" \
      "$(field "$u" 'metadata, ([0-9.]+) s') s | $(field "$u" 'writes: ([0-9.]+) s') s ($(field "$u" ', ([0-9]+) checkpoints')) |" \
      "$median s | $(field "$o" 'max RSS ([0-9]+) MiB') MiB |" \
      "$(field "$o" 'chain: ([0-9]+) deltas') deltas, $(field "$o" 'deltas, ([0-9]+) bytes') B |"
  done
  ls -ls "$img" >&2
  rm -f "$img"
done
