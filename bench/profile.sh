#!/usr/bin/env bash
# One fio workload on a fresh vblkfs mount, optionally profiled: the quick
# loop for finding where the daemon spends its time (bench/run is the one
# that compares with peers).
#
#   bench/profile.sh [options] WORKLOAD [-- vblkfs mount options...]
#
# WORKLOAD: seqrnd (1 MiB incompressible writes), seqc50 (1 MiB, 50%
# compressible), randrnd / randc50 (4 KiB random writes), randread (4 KiB
# random reads, QD16), randread1 (QD1), seqread (1 MiB reads),
# randread-rnd / seqread-rnd (the same over incompressible data, which is
# stored raw); ext4
# (bench/run's real workload: a direct-I/O loop device, mkfs.ext4, 1 GiB
# of /usr's files copied with tar, sync; the profile covers the first
# --runtime seconds of the copy).
# Options:
#   --build DIR   vblk build directory (default build-bench; for readable
#                 profiles: meson setup build-prof --buildtype=release
#                 -Dcpp_args='-g -fno-omit-frame-pointer' -Dtests=false.
#                 libzstd.so has no symbols: to see zstd's functions, set
#                 dependency('libzstd', static : true) in meson.build for
#                 that build; its tools link, libvblk.so does not)
#   --perf MODE   none (default) | cpu (perf record -g on the daemon) |
#                 dwarf (--call-graph dwarf: sees through libzstd, which has
#                 no frame pointers) | sys (whole system, -a) |
#                 trace (perf trace of fdatasync and fallocate) |
#                 sched (where the daemon's threads block: sched_switch
#                 with call chains)
#   --runtime S   seconds of the measured job (default 6, after 1 s ramp)
#   --work DIR    scratch directory (default /var/tmp/vblk-profile)
#   --level N     the image's zstd level (vblk-format --level; default:
#                 vblk-format's; 0 stores everything raw)
#   --age S       after the fill, S seconds of random 4 KiB writes of
#                 50%-compressible data at QD16, which leave every segment
#                 partly live, as bench/run's random-write jobs do before
#                 its incompressible sequential writes (default 0)
# Layout as in bench/run: a 4 GiB image, the first 1 GiB filled with 1 MiB
# 50%-compressible writes (*-rnd reads: incompressible ones), then the
# workload at QD16 over that 1 GiB (ext4: an empty 4 GiB image).
# Prints one line: throughput, IOPS, mean latency, daemon CPU seconds (ext4:
# copy+sync seconds, daemon CPU, the image's size on the host); the
# profile goes to WORK/WORKLOAD.perf (perf report -i ... --stdio).
# Needs root, fio, and perf (Debian: linux-perf) for --perf.
set -euo pipefail
cd "$(dirname "$0")/.."

build=build-bench perf=none runtime=6 work=/var/tmp/vblk-profile age=0
format=()
fill=(--buffer_compress_percentage=50)  # the data of the first 1 GiB
while (($#)); do
  case $1 in
    --build) build=$2; shift 2 ;;
    --perf) perf=$2; shift 2 ;;
    --runtime) runtime=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --age) age=$2; shift 2 ;;
    --level) format=(--level "$2"); shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "profile.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) break ;;
  esac
done
(($#)) || { echo "profile.sh: which workload? (see --help)" >&2; exit 2; }
workload=$1; shift
[[ ${1:-} == -- ]] && shift

case $workload in
  seqrnd) job=(--rw=write --bs=1M --refill_buffers) ;;
  seqc50) job=(--rw=write --bs=1M --refill_buffers --buffer_compress_percentage=50) ;;
  randrnd) job=(--rw=randwrite --bs=4k --refill_buffers) ;;
  randc50) job=(--rw=randwrite --bs=4k --refill_buffers --buffer_compress_percentage=50) ;;
  randread) job=(--rw=randread --bs=4k) ;;
  randread1) job=(--rw=randread --bs=4k --iodepth=1) ;;
  randread-rnd) job=(--rw=randread --bs=4k) fill=() ;;
  seqread) job=(--rw=read --bs=1M) ;;
  seqread-rnd) job=(--rw=read --bs=1M) fill=() ;;
  ext4) job=() ;;
  *) echo "profile.sh: unknown workload $workload (see --help)" >&2; exit 2 ;;
esac
for tool in fio "$build/tools/vblkfs" "$build/tools/vblk-format"; do
  command -v "$tool" >/dev/null || { echo "profile.sh: $tool not found (build vblk, apt-get install fio)" >&2; exit 1; }
done
[[ $perf == none ]] || command -v perf >/dev/null || { echo "profile.sh: perf not found (apt-get install linux-perf)" >&2; exit 1; }

mnt=$work/mnt fs=$work/fs loop=
cleanup() {
  umount "$fs" 2>/dev/null || true
  [[ -z $loop ]] || losetup -d "$loop" 2>/dev/null || true
  "$build/tools/vblkfs" umount "$mnt" >/dev/null 2>&1 || umount -l "$mnt" 2>/dev/null || true
}
trap cleanup EXIT
cleanup
rm -rf "$work" && mkdir -p "$mnt" "$fs"
"$build/tools/vblk-format" "$work/disk.vblk" --size 4G "${format[@]}" >/dev/null
"$build/tools/vblkfs" mount "$@" "$work/disk.vblk" "$mnt"
pid=$(pgrep -f "vblkfs.*$mnt" | head -1)
disk=$mnt/disk
if [[ $workload == ext4 ]]; then
  # Regular readable files of /usr in path order up to 1 GiB, read once so
  # that the copy's source side comes from the page cache.
  find /usr -xdev -type f -readable -printf '%s\t%P\n' | LC_ALL=C sort -t $'\t' -k2 |
    awk -F '\t' -v limit=$((1 << 30)) 'total < limit { print "usr/" $2; total += $1 }' >"$work/copy.list"
  tar -C / -cf - --no-recursion -T "$work/copy.list" | cat >/dev/null
  loop=$(losetup --find --show --direct-io=on "$disk")
  mkfs.ext4 -q -F "$loop"
  mount -o noinit_itable "$loop" "$fs"
else
  fio --output-format=terse --name=fill --filename="$disk" --ioengine=libaio --direct=1 --rw=write --bs=1M \
    --iodepth=16 --size=1G "${fill[@]}" --refill_buffers >/dev/null
  if [[ $age != 0 ]]; then
    fio --output-format=terse --name=age --filename="$disk" --ioengine=libaio --direct=1 --rw=randwrite --bs=4k \
      --iodepth=16 --size=1G --norandommap --randrepeat=0 --time_based --runtime="$age" --refill_buffers \
      --buffer_compress_percentage=50 >/dev/null
  fi
fi

cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
out=$work/$workload.perf
profiler=
case $perf in
  none) ;;
  cpu) perf record -F 2000 -g -p "$pid" -o "$out" -- sleep "$runtime" >/dev/null 2>&1 & profiler=$! ;;
  dwarf) (sleep 1; perf record -F 500 --call-graph dwarf,16384 -p "$pid" -o "$out" -- sleep 2) >/dev/null 2>&1 & profiler=$! ;;
  sys) perf record -F 1000 -a -g -o "$out" -- sleep "$runtime" >/dev/null 2>&1 & profiler=$! ;;
  sched) perf record -e sched:sched_switch -g -p "$pid" -o "$out" -- sleep "$runtime" >/dev/null 2>&1 & profiler=$! ;;
  trace) timeout "$runtime" perf trace -e fdatasync,fallocate -p "$pid" -o "$out" >/dev/null 2>&1 & profiler=$! ;;
  *) echo "profile.sh: unknown --perf $perf" >&2; exit 2 ;;
esac
c0=$(cpu)
if [[ $workload == ext4 ]]; then
  t0=$(date +%s.%N)
  tar -C / -cf - --no-recursion -T "$work/copy.list" | tar -C "$fs" -xf -
  tc=$(date +%s.%N) cc=$(cpu)
  sync
  t1=$(date +%s.%N) c1=$(cpu)
  [[ -z $profiler ]] || wait "$profiler" || true
  umount "$fs" && losetup -d "$loop" && loop=
  mib_now=$(du -m "$work/disk.vblk" | cut -f1)
  # Deferred compression: wait for the idle pass to finish.
  t2=$(date +%s.%N) c2=$(cpu)
  settled=$(bench/recompressed.py "$disk")
  t3=$(date +%s.%N) c3=$(cpu)
  "$build/tools/vblkfs" umount "$mnt"  # the size on the host once the daemon has closed the image
  awk -v t="$(echo "$t1 - $t0" | bc)" -v c="$(( c1 - c0 ))" -v hz="$(getconf CLK_TCK)" \
    -v tcopy="$(echo "$tc - $t0" | bc)" -v ccopy="$(( cc - c0 ))" -v now="$mib_now" \
    -v tr="$(echo "$t3 - $t2" | bc)" -v cr="$(( c3 - c2 ))" -v settled="$settled" \
    -v mib="$(du -m "$work/disk.vblk" | cut -f1)" -v n="$(wc -l <"$work/copy.list")" \
    'BEGIN { printf "ext4: %d files, copy+sync %.2f s (copy %.2f s), daemon CPU %.2f s (%.2f s during the copy), image %d MiB on the host after unmounting ext4; recompression %s after %.2f s (%.2f s CPU), image %d MiB\n", n, t, tcopy, c / hz, ccopy / hz, now, settled, tr, cr / hz, mib }'
  [[ $perf == none ]] || echo "profile: $out"
  exit 0
fi
fio --output-format=json --name=job --filename="$disk" --ioengine=libaio --direct=1 --iodepth=16 --size=1G \
  --norandommap --randrepeat=0 --time_based --runtime="$runtime" --ramp_time=1 "${job[@]}" >"$work/$workload.json"
c1=$(cpu)
[[ -z $profiler ]] || wait "$profiler" || true
python3 - "$work/$workload.json" "$workload" "$c0" "$c1" <<'PY'
import json, os, sys
j = json.load(open(sys.argv[1]))["jobs"][0]
s = j["write"] if j["write"]["io_bytes"] else j["read"]
cpu = (float(sys.argv[4]) - float(sys.argv[3])) / os.sysconf("SC_CLK_TCK")
print(f"{sys.argv[2]}: {s['bw_bytes'] / 2**20:.0f} MiB/s, {s['iops']:.0f} IOPS, "
      f"mean latency {s['lat_ns']['mean'] / 1000:.1f} us, daemon CPU {cpu:.2f} s")
PY
[[ $perf == none ]] || echo "profile: $out"
