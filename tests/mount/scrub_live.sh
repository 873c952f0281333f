# Live scrub: vblk-inspect MOUNTPOINT --check has the running daemon verify
# every stored record (setfattr -n user.vblk.control -v scrub), waits for it
# and prints what an offline --check of the same image prints; the scrub is
# reported in user.vblk.stats, can be stopped, does not hold up a workload
# running beside it, and an unmount during a scrub exits promptly.
# Run as: bash scrub_live.sh VBLKFS VBLK_FORMAT VBLK_INSPECT VBLK_INJECT
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

IMG=$WORK/img
MNT=$WORK/m
DISK=$MNT/disk
vformat "$IMG" --size 256M >/dev/null
# Writes are compressed at once, so that nothing moves records between the
# live and the offline check.
vmount "$IMG" "$MNT" --compress-at-write

# 64 MiB of incompressible data, then block 100 alone (its own record).
run 60 python3 - "$DISK" <<'PY'
import os, random, sys
r = random.Random(3)
fd = os.open(sys.argv[1], os.O_RDWR)
for i in range(64):
    os.pwrite(fd, r.randbytes(1 << 20), i << 20)
os.pwrite(fd, r.randbytes(4096), 100 * 4096)
os.fsync(fd)
PY

ctl() { python3 -c 'import os, sys; os.setxattr(sys.argv[1], "user.vblk.control", sys.argv[2].encode()); print(os.getxattr(sys.argv[1], "user.vblk.control").decode().strip())' "$DISK" "$1"; }
scrub_get() { python3 -c 'import json, os, sys; j = json.loads(os.getxattr(sys.argv[1], "user.vblk.stats"))["scrub"]; print(eval(sys.argv[2]))' "$DISK" "$1"; }

# A clean image: exit 0, the offline wording.
vinspect "$MNT" --check >clean.txt || fail "live --check of a clean image: exit $?"
cat clean.txt
grep -Eq '^check: clean, [0-9]+ records, 16384 blocks verified$' clean.txt || fail "clean: $(cat clean.txt)"
[[ $(scrub_get 'j["state"]') == done ]] || fail "stats: scrub not done after --check"

# A block corrupted live: the scrub names exactly it, exit 1.
vinject "$MNT" corrupt --block 100 >/dev/null || fail "vblk-inject corrupt failed"
rc=0
vinspect "$MNT" --check >damaged.txt 2>damaged.err || rc=$?
cat damaged.txt damaged.err
[[ $rc -eq 1 ]] || fail "live --check of a damaged image: exit $rc, expected 1"
[[ $(wc -l <damaged.txt) -eq 1 ]] && grep -q '^block 100: record at image offset [0-9]*: .*checksum' damaged.txt ||
  fail "the scrub does not name exactly block 100: $(cat damaged.txt)"
grep -q "vblk-inspect: $MNT: check found 1 problem (" damaged.err || fail "damaged: $(cat damaged.err)"
rc=0
vinspect "$MNT" --check --json >damaged.json || rc=$?
[[ $rc -eq 1 ]] || fail "live --check --json: exit $rc"
[[ $(scrub_get 'j["state"], j["damaged_blocks"], j["problem_count"], [p["block"] for p in j["problems"]], j["blocks_checked"] == j["blocks_to_check"], j["finished_unix"] >= j["started_unix"] > 0') == \
   "('done', 1, 1, [100], True, True)" ]] || fail "user.vblk.stats scrub: $(scrub_get j)"
# The times to the second, not rounded to six digits (10^4 s today).
[[ $(scrub_get '__import__("time").time() - 600 < j["started_unix"] <= j["finished_unix"] < __import__("time").time()') == True ]] ||
  fail "scrub times are not now: $(scrub_get 'j["started_unix"], j["finished_unix"]')"

# Stop: a scrub capped at 1 MiB/s is running, then stopped on request.
[[ $(ctl 'scrub 1M') =~ ^scrub\ [0-9]+\ started ]] || fail "scrub 1M was not started"
[[ $(ctl 'scrub') =~ already\ running ]] || fail "a second scrub did not attach to the running one"
sleep 1
[[ $(scrub_get 'j["state"], j["max_rate"], 0 < j["blocks_checked"] < j["blocks_to_check"]') == "('running', 1048576, True)" ]] ||
  fail "capped scrub: $(scrub_get j)"
[[ $(ctl 'scrub stop') == "scrub stopped" ]] || fail "scrub stop"
[[ $(scrub_get 'j["state"]') == stopped ]] || fail "state after scrub stop: $(scrub_get j)"
[[ $(ctl 'scrub stop') == "no scrub is running" ]] || fail "second scrub stop"
rc=0
python3 -c 'import os, sys; os.setxattr(sys.argv[1], "user.vblk.control", b"scrub fast")' "$DISK" 2>/dev/null || rc=$?
[[ $rc -ne 0 ]] || fail "'scrub fast' was accepted"

# Unmount during a scrub: prompt, clean exit, the daemon logs the stop.
ctl 'scrub 1M' >/dev/null
sleep 0.5
t0=$(date +%s%N)
vumount "$MNT"
ms=$((($(date +%s%N) - t0) / 1000000))
echo "unmount during a scrub: $ms ms"
((ms < 5000)) || fail "unmount during a scrub took $ms ms"
grep -q 'scrub [0-9]*: stopped' "$WORK/vblkfs-m.log" || fail "the daemon log does not show the scrub stopped"

# The offline check of the same image says exactly what the scrub said.
rc=0
vinspect "$IMG" --check >offline.txt 2>/dev/null || rc=$?
[[ $rc -eq 1 ]] || fail "offline --check: exit $rc"
diff damaged.txt offline.txt || fail "live and offline --check differ"
rc=0
vinspect "$IMG" --check --json >offline.json || rc=$?
diff damaged.json offline.json || fail "live and offline --check --json differ"

# A workload beside an unpaced scrub: it completes, and no request waits long.
vmount "$IMG" "$MNT" --compress-at-write
run 60 python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDWR); os.pwrite(fd, os.urandom(4096), 100 * 4096); os.fsync(fd)' "$DISK"
run 120 python3 - "$DISK" "$VBLK_INSPECT" "$MNT" <<'PY' || fail "workload beside a scrub"
import os, random, subprocess, sys, time
disk, inspect, mnt = sys.argv[1:4]
fd = os.open(disk, os.O_RDWR | os.O_DIRECT)
import mmap
buf = mmap.mmap(-1, 4096)
r = random.Random(5)
def ops(seconds):
    lat, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        b = r.randrange(16384)
        t = time.monotonic()
        if r.random() < 0.5:
            os.preadv(fd, [buf], b * 4096)
        else:
            buf.write(os.urandom(4096)); buf.seek(0)
            os.pwritev(fd, [buf], b * 4096)
        lat.append(time.monotonic() - t)
    return lat
def show(what, lat, seconds):
    lat = sorted(lat)
    print(f"{what}: {len(lat) / seconds:.0f} ops/s, p99 {lat[int(len(lat) * .99)] * 1e3:.2f} ms, max {lat[-1] * 1e3:.2f} ms")
    return lat[-1]
show("alone", ops(2), 2)
scrub = subprocess.Popen([inspect, mnt, "--check"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
t0 = time.monotonic()
lat = []
while scrub.poll() is None and time.monotonic() - t0 < 60:
    lat += ops(0.2)
took = time.monotonic() - t0
out, err = scrub.communicate(timeout=60)
print(f"scrub beside the workload: {took:.2f} s, exit {scrub.returncode}: {out.strip()} {err.strip()}")
assert scrub.returncode == 0, "the scrub did not finish clean beside the workload"
worst = show("beside the scrub", lat, took)
assert worst < 1.0, f"a request waited {worst:.2f} s beside the scrub"
PY
vumount "$MNT"
echo "scrub_live: ok"
