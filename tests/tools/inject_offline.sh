# vblk-inject on an image (offline): every action changes the image or its
# rules file as documented, errors are one line naming the target, and an
# image that another process holds is refused.
# Run as: bash inject_offline.sh VBLK_FORMAT VBLK_INSPECT VBLK_INJECT
VBLK_INJECT=$(realpath "$3")  # before lib.sh changes directory
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
vinject() { timeout "$TOOL_TIMEOUT" "$VBLK_INJECT" "$@"; }

# 64 blocks of 4 KiB, each filled with its own byte, so no block is all zeros.
python3 -c '
import sys
with open("raw", "wb") as f:
    for b in range(64):
        f.write(bytes([b + 1]) * 4096)
'
vformat img --from raw >/dev/null
bad_of() { vinspect --json --no-map img >i.json && json_get i.json "$1"; }

# bad: --block, null_blk's +N-M, --offset/--length (every block touched).
out=$(vinject img bad --block 10-12)
[[ $out == "injecting BAD into blocks 10-12 of img (reads fail; writes fail)" ]] || fail "bad: $out"
vinject img +20-21 | grep -q "^injecting BAD into blocks 20-21 of img" || fail "+20-21"
vinject img bad --offset 100K --length 5000 --on-write remap | grep -q "blocks 25-26" || fail "bad --offset"
[[ $(bad_of 'j["bad_ranges"]') == "[{'first': 10, 'count': 3}, {'first': 20, 'count': 2}, {'first': 25, 'count': 2}]" ]] ||
  fail "bad ranges: $(bad_of 'j["bad_ranges"]')"
vinspect --block 10 img >b.txt && grep -q "^state: *BAD" b.txt || fail "block 10 not BAD: $(cat b.txt)"
vinspect --block 9 img >/dev/null || fail "neighbour block 9 unreadable"
vinspect --block 13 img >/dev/null || fail "neighbour block 13 unreadable"
grep -qx "remap 25-26" img.faults || fail "remap policy not in img.faults: $(cat img.faults)"

# flaky and latency are rules for the daemon, kept in IMAGE.faults.
vinject img flaky --block 5 --fail-writes 2 | grep -q "^injecting 2 write failures into block 5 of img" || fail flaky
vinject img latency --ms 2.5 --block 0-9 | grep -q "^injecting 2500us latency into blocks 0-9 of img" || fail latency
vinject img latency --ms 1 | grep -q "^injecting 1ms latency into every block of img" || fail "latency everywhere"
grep -qx "flaky 5 2" img.faults && grep -qx "latency 2500us 0-9" img.faults && grep -qx "latency 1ms 0-63" img.faults ||
  fail "rules file: $(cat img.faults)"

# list, text and JSON.
vinject img list >l.txt
grep -q "BAD blocks: 7: 10-12, 20-21, 25-26" l.txt && grep -q "rule: flaky 5 2" l.txt || fail "list: $(cat l.txt)"
vinject img list --json >l.json
[[ $(json_get l.json 'j["bad_blocks"]') == 7 ]] || fail "list --json bad_blocks"
[[ $(json_get l.json '[r["command"] for r in j["rules"]]') == "['remap 25-26', 'flaky 5 2', 'latency 2500us 0-9', 'latency 1ms 0-63']" ]] ||
  fail "list --json rules: $(json_get l.json 'j["rules"]')"

# corrupt: --check names exactly that block; its neighbours stay clean.
vinspect --check img >/dev/null || fail "image not clean before corrupt"
vinject img corrupt --block 40 | grep -q "^injecting corruption into block 40 of img" || fail corrupt
rc=0
vinspect --check img >c.txt 2>c.err || rc=$?
[[ $rc -eq 1 ]] || fail "--check after corrupt: exit $rc"
[[ $(grep -c '^block ' c.txt) -eq 1 ]] && grep -q '^block 40: ' c.txt || fail "--check does not name block 40 alone: $(cat c.txt)"
vinspect --block 39 img >/dev/null && vinspect --block 41 img >/dev/null || fail "neighbours of block 40 damaged"
rc=0
vinspect --block 40 img >/dev/null 2>&1 || rc=$?
[[ $rc -eq 1 ]] || fail "reading corrupt block 40: exit $rc"

# clear: -N-M (null_blk), --block, --all.
vinject img -20-21 | grep -q "^cleared blocks 20-21 of img: 2 BAD blocks" || fail "-20-21"
vinject img clear --block 11 | grep -q "^cleared block 11 of img: 1 BAD block" || fail "clear 11"
[[ $(bad_of 'j["bad_ranges"]') == "[{'first': 10, 'count': 1}, {'first': 12, 'count': 1}, {'first': 25, 'count': 2}]" ]] ||
  fail "after clears: $(bad_of 'j["bad_ranges"]')"
vinspect --block 11 img >b.txt && grep -q "^state: *TRIMMED" b.txt || fail "cleared block 11 is not TRIMMED"
# clear takes its range out of the rules: the whole-device latency keeps
# every block but 5, 11 and 20-21 (cleared above), the flaky rule goes.
vinject img clear --block 5 >/dev/null
[[ $(grep '^latency 1ms' img.faults | tr '\n' ' ') == "latency 1ms 0-4 latency 1ms 6-10 latency 1ms 12-19 latency 1ms 22-63 " ]] &&
  ! grep -q "^flaky" img.faults || fail "clear did not cut the rules: $(cat img.faults)"
vinject img clear --all | grep -q "^cleared every fault of img" || fail "clear --all"
[[ $(bad_of 'j["blocks"]["bad"]') == 0 ]] || fail "BAD blocks left after clear --all"
[[ ! -e img.faults ]] || fail "img.faults left with no rules: $(cat img.faults)"

# Errors: one line naming the target, exit 1; usage errors exit 2.
expect_error img vinject img bad --block 64
grep -q "beyond the end of the device (64 blocks" err.txt || fail "out of range: $(cat err.txt)"
vinject img bad --block 3 >/dev/null
expect_error img vinject img corrupt --block 3
expect_error img vinject img flaky --block 99 --fail-writes 1
mkdir adir
expect_error adir vinject adir list
expect_error nosuch vinject nosuch list
for args in "bad" "bad --block 1x" "flaky --block 1-2 --fail-writes 1" "clear" "latency --ms -1" "frobnicate"; do
  rc=0
  vinject img $args >out.txt 2>err.txt || rc=$?
  [[ $rc -eq 2 && $(wc -l <err.txt) -eq 1 ]] || fail "'$args': exit $rc, stderr: $(cat err.txt)"
done
# A negative option value is the option's to refuse, not null_blk's "-N"
# (clear N), which only stands in the action's place.
for case in "latency --ms -5|--ms: '-5' is not a positive number" "bad --block -1|--block: '-1' is not a block range"; do
  args=${case%%|*} want=${case#*|}
  rc=0
  vinject img $args >out.txt 2>err.txt || rc=$?
  [[ $rc -eq 2 && $(cat err.txt) == *"$want"* ]] || fail "'$args': exit $rc, stderr: $(cat err.txt)"
done

# An image another process holds (here a plain POSIX lock, as a writer's OFD
# lock would conflict) is refused, with the holder named.
python3 -c '
import fcntl, sys, time
f = open("img", "r+")
fcntl.lockf(f, fcntl.LOCK_EX, 1, 0)
print("locked", flush=True)
time.sleep(30)
' >lock.out &
holder=$!
for _ in $(seq 50); do grep -q locked lock.out 2>/dev/null && break; sleep 0.1; done
expect_error img vinject img bad --block 1
grep -q "in use by process $holder" err.txt && grep -q "target the mountpoint" err.txt || fail "busy: $(cat err.txt)"
kill "$holder"
wait "$holder" 2>/dev/null || true
echo PASS
