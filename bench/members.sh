#!/usr/bin/env bash
# Member sets (vblk(5), MEMBER SETS) measured in one run, with fio (libaio,
# direct=1, as bench/run) over vblkfs, each figure the median of --reps
# interleaved repetitions:
#
#   writes    sequential 1 MiB writes (QD16, 50%-compressible, filling
#             --span) and random 4 KiB writes (QD16, time-based) on a fresh
#             member set against a fresh single-file image of the same
#             size: target >= 0.8x
#   degraded  sequential 1 MiB and random 4 KiB reads (QD16) of the member
#             set with one data member failed (vblk-inject, offline) against
#             the same set healthy: target >= 0.5x
#   space     the host bytes of --space-mib of incompressible data written
#             to each of the brief's layouts (11 x (38 + 3 + 1 + 2) and
#             18 + 3 + 1 --ha over 11 boxes) against a single-file image,
#             beside the layout's own parity share and the brief's figures
#   rebuild   vblk-rebuild IMAGE on the degraded set, if the build has it,
#             timed (bytes of the member rebuilt per second) against fio's
#             sequential 1 MiB direct writes to a raw file in the same
#             directory; otherwise "not measured: no vblk-rebuild"
#
# The member set measured is the --ha layout (18 data in groups of 6,
# 1 global parity, 1 spare for the rebuild, 11 boxes), its 23 members in one
# directory on the same disk as the single-file image.
#
# Usage (as root): bench/members.sh [--build DIR] [--size SIZE] [--span SIZE]
#   [--runtime SECONDS] [--reps N] [--space-mib MIB] [--dir DIR] [--out DIR]
#   [--label TEXT]
# Defaults: --build build-bench (release; made with meson and ninja if
# missing), --size 4G --span 1G --runtime 20 --reps 3 --space-mib 512,
# --dir /var/tmp, --out bench/results. A run at the defaults takes about
# 10 minutes on 2 cores; `--size 256M --span 64M --runtime 2 --reps 1
# --space-mib 64` checks the script in about a minute.
# Results: OUT/YYYYMMDD-HHMM-members.md (the table) and .json (every
# repetition, the medians, the machine).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
ARGS="$*"
BUILD=$REPO/build-bench SIZE=4G SPAN=1G RUNTIME=20 REPS=3 SPACE_MIB=512 DIR=/var/tmp OUT=$HERE/results LABEL=
while (($#)); do
  case $1 in
    --build) BUILD=$(realpath "$2") ;;
    --size) SIZE=$2 ;;
    --span) SPAN=$2 ;;
    --runtime) RUNTIME=$2 ;;
    --reps) REPS=$2 ;;
    --space-mib) SPACE_MIB=$2 ;;
    --dir) DIR=$2 ;;
    --out) OUT=$(realpath "$2") ;;
    --label) LABEL=$2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "members.sh: unknown argument $1 (--help)" >&2; exit 2 ;;
  esac
  shift 2
done
[[ $(id -u) -eq 0 ]] || { echo "members.sh: needs root (FUSE mounts)" >&2; exit 1; }
command -v fio >/dev/null || { echo "members.sh: needs fio (apt-get install fio)" >&2; exit 1; }
if [[ ! -x $BUILD/tools/vblkfs ]]; then
  [[ -f $BUILD/build.ninja ]] || meson setup "$BUILD" "$REPO" --buildtype=release -Dtests=false >/dev/null
  ninja -C "$BUILD" >/dev/null
fi
VBLKFS=$BUILD/tools/vblkfs FORMAT=$BUILD/tools/vblk-format INJECT=$BUILD/tools/vblk-inject
REBUILD=$BUILD/tools/vblk-rebuild
HA=(--data-members 18 --group-size 6 --global-parity 1 --boxes 11 --ha)
BRIEF=(--data-members 38 --group-size 13 --global-parity 1 --spares 2 --boxes 11)
FAILED_MEMBER=4  # a data member of group 0

WORK=$(mktemp -d "$DIR/vblk-members-bench.XXXXXX")
MNT=$WORK/mnt
mkdir -p "$MNT" "$OUT"
cleanup() {
  mountpoint -q "$MNT" && { timeout 60 "$VBLKFS" umount "$MNT" >/dev/null 2>&1 || fusermount3 -u "$MNT"; }
  rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT
STARTED=$(date -u +%Y%m%d-%H%M)
RESULTS=$WORK/results.tsv  # rep, row, target, value, unit
: >"$RESULTS"
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$RESULTS"; }

# fio_run FILE RW BS SIZE_BASED: prints MiB/s (1 MiB jobs) or IOPS (4 KiB).
fio_run() {
  local file=$1 rw=$2 bs=$3 sized=$4
  local args=(--output-format=json --name=members "--filename=$file" --ioengine=libaio --direct=1 "--rw=$rw"
              "--bs=$bs" --iodepth=16 "--size=$SPAN" --norandommap --randrepeat=0
              --buffer_compress_percentage=50 --refill_buffers)
  [[ $sized == yes ]] || args+=(--time_based "--runtime=$RUNTIME")
  fio "${args[@]}" | python3 -c '
import json, sys
bs, rw = sys.argv[1], sys.argv[2]
job = json.load(sys.stdin)["jobs"][0]
if job.get("error"):
    sys.exit("fio: errno %d" % job["error"])
side = job["write" if "write" in rw else "read"]
print(round(side["bw_bytes"] / 1048576, 1) if bs == "1M" else round(side["iops"]))' "$bs" "$rw"
}

# mount_image IMAGE [OPTION...]
mount_image() { "$VBLKFS" mount "$1" "$MNT" --log-file "$WORK/vblkfs.log" "${@:2}" >/dev/null; }
umount_image() { "$VBLKFS" umount "$MNT" >/dev/null; }

# ---- writes: a member set against a single file, then its degraded reads -------
for rep in $(seq "$REPS"); do
  order=(single members)
  ((rep % 2 == 0)) && order=(members single)
  for target in "${order[@]}"; do
    img=$WORK/$target/img  # the member set's stays, degraded, for the rebuild below
    rm -rf "$WORK/$target"
    mkdir "$WORK/$target"
    if [[ $target == members ]]; then
      "$FORMAT" "$img" --size "$SIZE" "${HA[@]}" --spares 1 -q
    else
      "$FORMAT" "$img" --size "$SIZE" -q
    fi
    mount_image "$img"
    v=$(fio_run "$MNT/disk" write 1M yes); record "$rep" seqwrite "$target" "$v" MiB/s
    v=$(fio_run "$MNT/disk" randwrite 4k no); record "$rep" randwrite "$target" "$v" IOPS
    log "rep $rep $target: seqwrite $(tail -2 "$RESULTS" | head -1 | cut -f4) MiB/s, randwrite $v IOPS"
    if [[ $target == members ]]; then
      v=$(fio_run "$MNT/disk" read 1M no); record "$rep" seqread healthy "$v" MiB/s
      v=$(fio_run "$MNT/disk" randread 4k no); record "$rep" randread healthy "$v" IOPS
      umount_image
      "$INJECT" "$img" member "$FAILED_MEMBER" fail >/dev/null
      # Degraded for the reads (and the rebuild below), not rebuilt by the daemon onto the spare.
      mount_image "$img" --no-auto-rebuild
      v=$(fio_run "$MNT/disk" read 1M no); record "$rep" seqread degraded "$v" MiB/s
      v=$(fio_run "$MNT/disk" randread 4k no); record "$rep" randread degraded "$v" IOPS
      log "rep $rep: reads healthy / degraded recorded"
    fi
    umount_image
  done
done

# ---- rebuild: vblk-rebuild on the degraded set against the disk's write rate ------
if [[ -x $REBUILD ]]; then
  member_bytes=$(stat -c %s "$WORK/members/img.members/$(printf 'm%03d' "$FAILED_MEMBER")")
  t0=$(date +%s%N)
  if "$REBUILD" "$WORK/members/img" >"$WORK/rebuild.out" 2>&1; then
    secs=$(python3 -c "import sys; print((int(sys.argv[2]) - int(sys.argv[1])) / 1e9)" "$t0" "$(date +%s%N)")
    record 1 rebuild members "$(python3 -c "print(round($member_bytes / 1048576 / $secs, 1))")" MiB/s
  else
    record 1 rebuild error "\"$(tail -1 "$WORK/rebuild.out")\"" -
  fi
  fallocate -l "$SPAN" "$WORK/raw"
  record 1 rebuild raw-disk "$(fio_run "$WORK/raw" write 1M yes)" MiB/s
  rm -f "$WORK/raw"
else
  record 1 rebuild none "\"not measured: no vblk-rebuild in $BUILD/tools\"" -
fi
rm -rf "$WORK/members" "$WORK/single"

# ---- space: what the brief's layouts take on the host -------------------------
head -c "$((SPACE_MIB << 20))" /dev/urandom >"$WORK/data"
space_of() {  # NAME [FORMAT OPTIONS...]: host bytes of the data written to a fresh image
  local name=$1
  shift
  "$FORMAT" "$WORK/$name" --size "$((SPACE_MIB * 2))M" --level 0 -q "$@"
  mount_image "$WORK/$name"
  dd if="$WORK/data" of="$MNT/disk" bs=1M conv=notrunc,fsync status=none
  umount_image
  local paths=("$WORK/$name")
  [[ -d $WORK/$name.members ]] && paths+=("$WORK/$name.members")
  du -B1 -s "${paths[@]}" | awk '{ s += $1 } END { print s }'
  rm -rf "${paths[@]}"
}
record 1 space single "$(space_of single)" bytes
record 1 space brief-484 "$(space_of brief "${BRIEF[@]}")" bytes
record 1 space brief-ha "$(space_of ha "${HA[@]}")" bytes
rm -f "$WORK/data"

# ---- the table and the JSON ----------------------------------------------------
base=$OUT/$STARTED-members
python3 - "$RESULTS" "$base" "$LABEL" "$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  "size $SIZE, span $SPAN, runtime ${RUNTIME}s, reps $REPS, space $SPACE_MIB MiB" "$ARGS" <<'EOF_PY'
import json, os, platform, statistics, sys

tsv, base, label, commit, params = sys.argv[1:6]
runs = []
for line in open(tsv):
    rep, row, target, value, unit = line.rstrip("\n").split("\t")
    runs.append({"rep": int(rep), "row": row, "target": target,
                 "value": json.loads(value) if value.startswith('"') else float(value), "unit": unit})


def med(row, target):
    vals = [r["value"] for r in runs if r["row"] == row and r["target"] == target and isinstance(r["value"], float)]
    return statistics.median(vals) if vals else None


def fmt(v):
    return "–" if v is None else f"{v:,.0f}" if v >= 100 else f"{v:.1f}"


def check(ratio, want):
    return "–" if ratio is None else f"{ratio:.2f}× {'✔' if ratio >= want else '✘'}"


rows, summary = [], {}
for row, unit, a, b, want, what in [
        ("seqwrite", "MiB/s", "members", "single", 0.8, "seq write 1M QD16, 50% compressible: member set / single file"),
        ("randwrite", "IOPS", "members", "single", 0.8, "rand write 4K QD16, 50% compressible: member set / single file"),
        ("seqread", "MiB/s", "degraded", "healthy", 0.5, "seq read 1M QD16: one member failed / healthy"),
        ("randread", "IOPS", "degraded", "healthy", 0.5, "rand read 4K QD16: one member failed / healthy")]:
    va, vb = med(row, a), med(row, b)
    r = va / vb if va and vb else None
    summary[row] = {a: va, b: vb, "ratio": r, "target": want}
    rows.append(f"| {what} | {fmt(va)} / {fmt(vb)} {unit} | {check(r, want)} (≥ {want}×) |")

single = med("space", "single")
for target, layout, share, brief in [
        ("brief-484", "11 × (38 data + 3 local + 1 global + 2 spares), `--boxes 11`", "4 / 42 = 9.5 % of a stripe; "
         "44 / 484 = 9.1 % of the members, 66 / 484 = 13.6 % with the spares", "~8.5 %"),
        ("brief-ha", "18 data + 3 local + 1 global over 11 boxes, `--ha`", "4 / 22 = 18.2 %", "~18 %")]:
    v = med("space", target)
    over = (v - single) / v if v and single else None
    summary[target] = {"host_bytes": v, "single_file_bytes": single, "overhead": over}
    rows.append(f"| space: {layout} | host bytes beyond a single file: "
                f"{'–' if over is None else f'{100 * over:.1f} %'} of the member set's (layout: {share}) | "
                f"brief: {brief} |")

rb = [r for r in runs if r["row"] == "rebuild"]
by = {r["target"]: r["value"] for r in rb}
if "none" in by or "error" in by:
    rows.append(f"| rebuild throughput | {by.get('none') or 'failed: ' + by['error']} | – |")
    summary["rebuild"] = {"not_measured": by.get("none"), "error": by.get("error")}
else:
    r = by["members"] / by["raw-disk"]
    summary["rebuild"] = {"MiBps": by["members"], "disk_seq_write_MiBps": by["raw-disk"], "ratio": r}
    rows.append(f"| rebuild throughput: vblk-rebuild / the disk's sequential 1M direct writes | "
                f"{fmt(by['members'])} / {fmt(by['raw-disk'])} MiB/s | {r:.2f}× |")

title = f"# Member sets: {commit}" + (f" ({label})" if label else "")
md = "\n".join([title, "", f"`bench/members.sh {sys.argv[6]}`: {params}; {platform.node()}, "
                f"{os.cpu_count()} CPUs, Linux {platform.release()}. Medians of the repetitions.", "",
                "| row | figures | ratio |", "| --- | --- | --- |"] + rows) + "\n"
open(base + ".md", "w").write(md)
json.dump({"commit": commit, "label": label, "params": params, "summary": summary, "runs": runs},
          open(base + ".json", "w"), indent=1, ensure_ascii=False)
print(md)
print(f"results: {base}.md .json")
EOF_PY
