#!/usr/bin/env bash
# What the flush_records feature costs a flush-heavy workload, measured in
# one run against the same build without it (vblk-format --no-flush-records)
# and against the host file system's own fdatasync (a preallocated file):
# fio, 4 KiB random writes at QD1 with an fsync after each (a), with an
# fdatasync every 8 (b), and 1 MiB sequential writes with an fsync every
# 32 MiB (c), interleaved over REPS repetitions; prints the median IOPS of
# each and the ratios. Images live on the real disk (DIR, default
# /var/tmp), not tmpfs: the cost is the host's sync.
# Usage: bench/flush_cost.sh [BUILD_DIR] [REPS] [SECONDS]   (as root)
set -euo pipefail
BUILD=$(realpath "${1:-build}")
REPS=${2:-3}
SECS=${3:-15}
DIR=${DIR:-/var/tmp}/vblk-flush-cost.$$
MNT=$DIR/mnt
mkdir -p "$MNT"
trap 'mountpoint -q "$MNT" && fusermount3 -u "$MNT"; rm -rf "$DIR"' EXIT
command -v fio >/dev/null || { echo "flush_cost.sh: needs fio (apt-get install fio)" >&2; exit 1; }

declare -A JOB=([a]="--rw=randwrite --bs=4k --fsync=1" [b]="--rw=randwrite --bs=4k --fdatasync=8"
                [c]="--rw=write --bs=1M --fsync=32")
fio_iops() {  # FILE JOB
  fio --name=flush-cost --filename="$1" ${JOB[$2]} --iodepth=1 --ioengine=psync --direct=1 --size=1G \
      --time_based --runtime="$SECS" --output-format=json |
    python3 -c 'import json,sys; print(round(json.load(sys.stdin)["jobs"][0]["write"]["iops"]))'
}
on_vblk() {  # JOB [FORMAT OPTIONS...]
  local job=$1
  shift
  rm -f "$DIR/img"
  "$BUILD/tools/vblk-format" "$DIR/img" --size 1G "$@" >/dev/null
  "$BUILD/tools/vblkfs" mount "$DIR/img" "$MNT" 2>/dev/null
  fio_iops "$MNT/disk" "$job"
  "$BUILD/tools/vblkfs" umount "$MNT" >/dev/null
}
on_raw() {
  fallocate -l 1G "$DIR/raw"
  fio_iops "$DIR/raw" "$1"
  rm -f "$DIR/raw"
}

declare -A got
for rep in $(seq "$REPS"); do
  for job in a b c; do
    got[$job,flush_records]+=" $(on_vblk "$job")"
    got[$job,no_flush_records]+=" $(on_vblk "$job" --no-flush-records)"
    got[$job,host_file]+=" $(on_raw "$job")"
    echo "rep $rep job $job: flush_records ${got[$job,flush_records]##* }, no_flush_records ${got[$job,no_flush_records]##* }, host_file ${got[$job,host_file]##* } IOPS" >&2
  done
done
median() { python3 -c 'import statistics,sys; print(round(statistics.median(map(float, sys.argv[1:]))))' $1; }
printf '%-4s %16s %18s %10s %22s %20s\n' job flush_records no_flush_records host_file "flush/no_flush ratio" "no_flush/host ratio"
for job in a b c; do
  f=$(median "${got[$job,flush_records]}"); n=$(median "${got[$job,no_flush_records]}"); h=$(median "${got[$job,host_file]}")
  printf '%-4s %16s %18s %10s %22s %20s\n' "$job" "$f" "$n" "$h" \
    "$(python3 -c "print(f'{$f/$n:.2f}')")" "$(python3 -c "print(f'{$n/$h:.2f}')")"
done
