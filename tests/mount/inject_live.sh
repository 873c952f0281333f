# vblk-inject on a running daemon (live) and vblk-inspect on its mountpoint:
# each action takes effect on the next request, the statistics show it, the
# control interface refuses other users, and the faults persist.
# Run as: bash inject_live.sh VBLKFS VBLK_FORMAT VBLK_INSPECT VBLK_INJECT
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require setpriv

IMG=$WORK/img
MNT=$WORK/m
vformat "$IMG" --size 64M
vmount "$IMG" "$MNT" --allow-other
DISK=$MNT/disk

# Every check is a python step against the disk file; "inj ARGS" runs
# vblk-inject on the mountpoint, "stats()" reads user.vblk.stats.
run 240 python3 - "$DISK" "$MNT" "$VBLK_INJECT" <<'EOF_PY' || fail "live injection checks"
import errno, json, os, subprocess, sys, time
disk, mnt, inject = sys.argv[1:4]
BS = 4096
fd = os.open(disk, os.O_RDWR)
failures = []

def pattern(b): return bytes([b % 251 + 1]) * BS
for b in range(0, 64):
    os.pwrite(fd, pattern(b), b * BS)
os.fsync(fd)

def stats(): return json.loads(os.getxattr(disk, "user.vblk.stats"))

def inj(*args, target=mnt, expect=0):
    r = subprocess.run([inject, target, *args], capture_output=True, text=True, timeout=60)
    out = (r.stdout + r.stderr).strip()
    print(f"$ vblk-inject {target} {' '.join(args)}  ->  {out}")
    if r.returncode != expect:
        failures.append(f"vblk-inject {' '.join(args)}: exit {r.returncode}, expected {expect}: {out}")
    return out

def check(what, fn, want=None, err=None):
    try:
        got = fn()
    except OSError as e:
        if err is not None and e.errno == err:
            print(f"ok: {what} -> {errno.errorcode[e.errno]}")
        else:
            failures.append(f"{what}: {e!r}" + (f", expected {errno.errorcode[err]}" if err else ""))
        return
    if err is not None:
        failures.append(f"{what}: succeeded, expected {errno.errorcode[err]}")
    elif want is not None and got != want:
        failures.append(f"{what}: wrong result {got[:16] if isinstance(got, bytes) else got!r}")
    else:
        print(f"ok: {what}")

rd = lambda b, n=1: (lambda: os.pread(fd, n * BS, b * BS))
wr = lambda b, data: (lambda: os.pwrite(fd, data, b * BS))

# bad: EIO on read and write, neighbours fine; the injection is announced.
out = inj("bad", "--block", "10-12")
if "injecting BAD into blocks 10-12" not in out: failures.append(f"bad: message {out!r}")
check("read of BAD block 10", rd(10), err=errno.EIO)
check("write of BAD block 12", wr(12, b"x" * BS), err=errno.EIO)
check("read of blocks 9..13", rd(9, 5), err=errno.EIO)
check("read of neighbour 9", rd(9), pattern(9))
check("read of neighbour 13", rd(13), pattern(13))
check("write of neighbour 13", wr(13, pattern(13)), BS)

# remap: a write to the BAD block clears the mark and succeeds.
inj("bad", "--block", "20", "--on-write", "remap")
check("read of remap-BAD block 20", rd(20), err=errno.EIO)
check("write of remap-BAD block 20", wr(20, b"R" * BS), BS)
check("read back block 20", rd(20), b"R" * BS)
if stats()["blocks"]["bad"] != 3: failures.append(f"after remap: {stats()['blocks']['bad']} BAD blocks, expected 3")

# clear: the blocks work again (reading zeros until written).
inj("clear", "--block", "10-12")
check("read of cleared block 11", rd(11), bytes(BS))
check("write of cleared block 11", wr(11, pattern(11)), BS)
check("read back block 11", rd(11), pattern(11))

# flaky: K=2 is hidden by the driver's 3 attempts (retries +2); K=3 is EIO
# (failures +1).
s0 = stats()
inj("flaky", "--block", "5", "--fail-writes", "2")
check("write of block 5 with 2 failing attempts", wr(5, b"F" * BS), BS)
s1 = stats()
if s1["retries"] - s0["retries"] != 2: failures.append(f"K=2: retries +{s1['retries'] - s0['retries']}, expected +2")
if s1["failures"] != s0["failures"]: failures.append("K=2: failures rose")
inj("flaky", "--block", "5", "--fail-writes", "3")
check("write of block 5 with 3 failing attempts", wr(5, b"G" * BS), err=errno.EIO)
s2 = stats()
if s2["failures"] - s1["failures"] != 1: failures.append(f"K=3: failures +{s2['failures'] - s1['failures']}, expected +1")
if s2["retries"] - s1["retries"] != 2: failures.append(f"K=3: retries +{s2['retries'] - s1['retries']}, expected +2")
check("read of block 5 after the failed write", rd(5), b"F" * BS)

# corrupt: the next read fails the checksum, the neighbours do not.
check("read of block 30 before", rd(30), pattern(30))
inj("corrupt", "--block", "30")
check("read of corrupt block 30", rd(30), err=errno.EIO)
check("read of neighbour 29", rd(29), pattern(29))
check("read of neighbour 31", rd(31), pattern(31))

# latency: requests touching the range are slowed, others are not.
inj("latency", "--ms", "200", "--block", "40-41")
t = time.monotonic(); os.pread(fd, BS, 40 * BS); slow = time.monotonic() - t
t = time.monotonic(); os.pread(fd, BS, 50 * BS); fast = time.monotonic() - t
print(f"read of block 40: {slow * 1000:.0f} ms, block 50: {fast * 1000:.0f} ms")
if slow < 0.19 or fast > 0.15: failures.append(f"latency: block 40 took {slow:.3f}s, block 50 {fast:.3f}s")
s = stats()
if s["latency_us"]["max"] < 190000: failures.append(f"latency max {s['latency_us']['max']}us does not show the delay")

# null_blk syntax, byte ranges, list.
inj("+60-61")
check("read of block 60 (+60-61)", rd(60), err=errno.EIO)
inj("-60-61")
check("read of block 61 (-60-61)", rd(61), bytes(BS))
inj("bad", "--offset", str(44 * BS + 100), "--length", str(BS))   # touches 44 and 45
check("read of block 45 (--offset/--length)", rd(45), err=errno.EIO)
faults = json.loads(inj("list", "--json"))
cmds = [r["command"] for r in faults["rules"]]
print("rules:", cmds, "bad:", faults["bad_ranges"])
if faults["bad_ranges"] != [{"first": 44, "count": 2}]: failures.append(f"list: bad ranges {faults['bad_ranges']}")
if "remap 20" not in cmds or "latency 200ms 40-41" not in cmds:
    failures.append(f"list: rules {cmds}")
# The disk file works as a target as well as the mountpoint.
if "BAD blocks: 2: 44-45" not in inj("list", target=disk): failures.append("list on the disk file")

# Errors come back from the daemon, one line, exit 1.
out = inj("bad", "--block", "16384", expect=1)
if "beyond the end of the device" not in out: failures.append(f"out of range: {out!r}")
out = inj("corrupt", "--block", "63000", expect=1)

# The raw interface: setxattr/getxattr as documented.
os.setxattr(disk, "user.vblk.control", b"bad 7 remap")
reply = os.getxattr(disk, "user.vblk.control").decode()
if not reply.startswith("injecting BAD into block 7"): failures.append(f"control reply {reply!r}")
try:
    os.setxattr(disk, "user.vblk.control", b"bad seven")
    failures.append("a malformed command was accepted")
except OSError as e:
    if e.errno != errno.EINVAL: failures.append(f"malformed command: {e!r}")
if "not a block range" not in os.getxattr(disk, "user.vblk.control").decode():
    failures.append("the reply does not say what was wrong")
m = json.loads(os.getxattr(mnt, "user.vblk.map"))
# 16384 blocks in 4096 cells: 4 blocks a cell.
if m["cells"] != 4096 or m["blocks_per_cell"] != 4 or m["states"][7 // 4] != "X" or m["states"][0] != "#" or m["states"][100 // 4] != ".":
    failures.append(f"map: {m['cells']} cells, states {m['states'][:16]}...")
inj("clear", "--block", "7")

if failures:
    print("FAIL:\n  " + "\n  ".join(failures), file=sys.stderr)
    sys.exit(1)
EOF_PY

# vblk-inspect on the mountpoint: text, JSON, SVG, --watch.
vinspect "$MNT" >live.txt || fail "vblk-inspect $MNT"
cat live.txt
for word in reads: writes: retries: failures: latency: "cache hits:" compression: "bad blocks:" "fault rules:" "state map:"; do
  grep -q "^$word" live.txt || fail "vblk-inspect $MNT: no '$word' line"
done
grep -q "^retries: *4" live.txt && grep -q "^failures: *[1-9]" live.txt || fail "live retries/failures wrong"
grep -q "^bad blocks: *44-45" live.txt || fail "live bad blocks wrong"
vinspect --json "$MNT" >live.json || fail "vblk-inspect --json $MNT"
json_get live.json '(j["live"], j["ops"]["writes"], j["latency_us"]["p99"], j["cache"]["hit_rate"], j["map"]["cells"])'
[[ $(json_get live.json 'j["live"] and j["retries"] == 4 and j["blocks"]["bad"] == 2 and len(j["map"]["rows"]) == 16') == True ]] ||
  fail "live JSON: $(head -c 600 live.json)"
vinspect "$MNT" --svg live.svg | grep -q "^wrote live.svg: 4096 cells of 4 blocks" || fail "live --svg"
python3 -c '
import sys, xml.etree.ElementTree as ET
cells = [r for r in ET.parse(sys.argv[1]).getroot().iter("{http://www.w3.org/2000/svg}rect") if "cell" in (r.get("class") or "")]
bad = sum(int(c.get("data-bad")) for c in cells)
assert len(cells) == 4096 and bad == 2, (len(cells), bad)
' live.svg || fail "live SVG"
# --watch reports every second until interrupted; a BAD block injected
# meanwhile shows up. Into a file the reports follow one another with no
# escape codes; on a terminal each one is drawn over the last.
timeout --preserve-status -s INT 3.5 "$VBLK_INSPECT" --watch "$MNT" >watch.out &
watcher=$!
sleep 1.2
vinject "$MNT" bad --block 3 >/dev/null
rc=0
wait "$watcher" || rc=$?
[[ $rc -eq 0 ]] || fail "--watch exited $rc on SIGINT"
frames=$(grep -c '^mountpoint:' watch.out)
((frames >= 3)) || fail "--watch drew $frames frames in 3.5 s"
! grep -q $'\033' watch.out || fail "--watch wrote escape codes into a file"
grep -q "bad blocks: *3, 44-45" watch.out || fail "--watch never showed the new BAD block 3"
grep -q "(+[0-9]*/s)" watch.out || fail "--watch shows no rates"
# On an 80x24 terminal every frame fits the screen: at most 23 lines (the
# last is kept free, or the screen scrolls) of at most 79 visible columns,
# the counters and the map both shown; on a larger one the map grows.
for size in "24 80" "50 120"; do
  script -qec "stty rows ${size% *} cols ${size#* }; timeout --preserve-status -s INT 2.5 $VBLK_INSPECT --watch $MNT" \
    /dev/null >watch.tty || true
  tty_frames=$(grep -o $'\033\[H\033\[2J' watch.tty | wc -l)
  ((tty_frames >= 2)) || fail "--watch on a $size terminal cleared the screen $tty_frames times in 2.5 s"
  python3 - watch.tty "${size% *}" "${size#* }" <<'PY' || fail "--watch does not fit a ${size/ /x} terminal"
import re, sys
rows, cols = int(sys.argv[2]), int(sys.argv[3])
text = open(sys.argv[1], "rb").read().decode("utf-8", "replace")
frames = [f for f in text.split("\x1b[H\x1b[2J")[1:] if "legend:" in f]
assert frames, "no whole frame"
frame = re.sub(r"\x1b\[[0-9;]*m", "", frames[-1]).replace("\r", "")
lines = frame.split("\n")
if lines and lines[-1] == "": lines.pop()
print(f"{rows}x{cols}: a frame of {len(lines)} lines, widest {max(map(len, lines))}")
assert len(lines) <= rows - 1, f"{len(lines)} lines"
assert max(map(len, lines)) <= cols - 1, f"a line of {max(map(len, lines))} columns"
assert re.search(r"latency: +p50", frame) and re.search(r"blocks: +free", frame), "counters missing"
map_rows = sum(1 for l in lines if re.match(r"^ +[0-9]+  [.#X-]+$", l))
assert map_rows >= (4 if rows == 24 else 16), f"{map_rows} map rows"
PY
done
vinject "$MNT" clear --block 3 >/dev/null

# Only the user who mounted (root here) or root may use the interface.
# (/usr/bin/python3: the python3 on root's PATH may be private to root; the
# work directory must let others reach the mountpoint.)
chmod o+x "$WORK"
nobody=$(cd / && setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 -c '
import errno, os, sys
try:
    os.getxattr(sys.argv[1], "user.vblk.stats")
    print("read allowed")
except OSError as e:
    print(errno.errorcode[e.errno])
try:
    os.setxattr(sys.argv[1], "user.vblk.control", b"bad 1")
    print("write allowed")
except OSError as e:
    print(errno.errorcode[e.errno])
' "$DISK" 2>&1)
echo "as nobody: $nobody"
[[ $nobody == $'EACCES\nEACCES' ]] || fail "another user used the control interface: $nobody"
[[ $(json_get <(vinspect --json --no-map "$MNT") 'j["blocks"]["bad"]') == 2 ]] || fail "nobody's command took effect"

# The rules persist: the daemon saved them beside the image; after a remount
# they are back, BAD marks too.
vumount "$MNT"
cat "$IMG.faults"
grep -qx "remap 20" "$IMG.faults" && grep -qx "latency 200ms 40-41" "$IMG.faults" || fail "rules not saved: $(cat "$IMG.faults")"
vmount "$IMG" "$MNT"
vinject "$MNT" list >l.txt
grep -q "BAD blocks: 2: 44-45" l.txt && grep -q "rule: latency 200ms 40-41" l.txt || fail "after remount: $(cat l.txt)"
vinject "$MNT" clear --all >/dev/null
vumount "$MNT"
[[ ! -e $IMG.faults ]] || fail "rules file left after clear --all"
# The corrupt block is named by --check; nothing else is damaged.
rc=0
vinspect --check "$IMG" >check.txt 2>&1 || rc=$?
cat check.txt
[[ $rc -eq 1 ]] && grep -q '^block 30: ' check.txt && [[ $(grep -c '^block ' check.txt) -eq 1 ]] ||
  fail "--check after live corrupt (exit $rc)"
echo PASS
