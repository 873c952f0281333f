# Damage in the log never costs a later flushed write (vblk(5) RECOVERY):
# blocks 0-9 are written and fsynced, block 3 is corrupted through the
# running daemon (vblk-inject stores it alone in a record of its own and
# damages that), block 50 is written and fsynced, and the daemon dies
# (kill -9, or a simulated power cut). After the remount block 50 and blocks
# 0-9 but 3 read back, block 3 fails with EIO, vblk-inspect --check names
# exactly it and exits 1, and --check --repair makes the image clean with
# block 3 BAD.
# Run as: bash damage_then_crash.sh VBLKFS VBLK_FORMAT VBLK_INSPECT VBLK_INJECT
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

IMG=$WORK/img
MNT=$WORK/m

# write.py DISK FIRST COUNT TAG: 4 KiB blocks FIRST.. tagged "TAG:block", in
# one write (so one record holds them), then fsync.
cat >write.py <<'EOF_PY'
import os, sys
disk, first, count, tag = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
fd = os.open(disk, os.O_WRONLY)
os.pwrite(fd, b"".join(f"{tag}:{b}".encode().ljust(4096, b".") for b in range(first, first + count)), first * 4096)
os.fsync(fd)
os.close(fd)
EOF_PY
# read.py DISK FIRST COUNT TAG: prints "ok B", "eio B" or "wrong B" per block.
cat >read.py <<'EOF_PY'
import errno, os, sys
disk, first, count, tag = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
fd = os.open(disk, os.O_RDONLY | os.O_DIRECT)
import mmap
buf = mmap.mmap(-1, 4096)
for b in range(first, first + count):
    try:
        os.preadv(fd, [buf], b * 4096)
        want = f"{tag}:{b}".encode().ljust(4096, b".")
        print(("ok" if bytes(buf) == want else "wrong"), b)
    except OSError as e:
        if e.errno != errno.EIO:
            raise
        print("eio", b)
EOF_PY

# expect_disk WHEN: mounted, block 50 (written and fsynced after the damage)
# and blocks 0-9 read back, but block 3, which fails with EIO.
expect_disk() {
  local when=$1
  vmount "$IMG" "$MNT"
  run 60 python3 read.py "$MNT/disk" 50 1 Z >got50 || fail "$when: reading block 50"
  [[ $(cat got50) == "ok 50" ]] || fail "$when: block 50 reads: $(cat got50)"
  run 60 python3 read.py "$MNT/disk" 0 10 A >got || fail "$when: reading blocks 0-9"
  [[ $(grep -c "^ok" got) == 9 ]] && grep -q "eio 3" got ||
    fail "$when: blocks 0-9 should read back but block 3, which fails with EIO: $(tr '\n' ' ' <got)"
  vumount "$MNT"
}

# kill_daemon: kill -9 of the daemon serving $MNT, and the mount cleared.
kill_daemon() {
  local pid
  pid=$(daemon_pid "$MNT")
  [[ -n $pid ]] || fail "no daemon serves $MNT"
  kill -9 "$pid"
  wait_until 30 bash -c "! kill -0 $pid 2>/dev/null" || fail "the daemon did not die"
  run 30 fusermount3 -u "$MNT" || true
}

# One round: crash with "kill" or "powercut".
round() {
  local how=$1
  rm -f "$IMG"
  vformat "$IMG" --size 64M
  vmount "$IMG" "$MNT"
  run 60 python3 write.py "$MNT/disk" 0 10 A || fail "$how: writing blocks 0-9"
  vinject "$MNT" corrupt --block 3 >/dev/null || fail "$how: corrupting block 3"
  run 60 python3 write.py "$MNT/disk" 50 1 Z || fail "$how: writing block 50"
  if [[ $how == kill ]]; then
    kill_daemon
  else
    vinject "$MNT" powercut >/dev/null || fail "powercut"
    vumount "$MNT"
  fi
  expect_disk "$how, after the crash"
  # --check names exactly the damaged block and exits 1.
  local rc=0
  vinspect --check --json "$IMG" >check.json 2>check.err || rc=$?
  [[ $rc == 1 ]] || fail "$how: vblk-inspect --check exited $rc on a damaged image: $(cat check.err)"
  local named
  named=$(json_get check.json '" ".join(str(p["block"]) for p in j["problems"])')
  [[ $named == 3 ]] || fail "$how: --check names blocks '$named', expected 3"
  vinspect --block 3 "$IMG" >block.txt 2>&1 && fail "$how: vblk-inspect --block 3 succeeds on a damaged block"
  grep -qi "checksum\|damage" block.txt || fail "$how: vblk-inspect --block 3 does not say what is wrong: $(cat block.txt)"
  # --check alone wrote nothing; --repair makes it clean, the damaged blocks BAD.
  local out
  out=$(vinspect --check --repair "$IMG" 2>&1) || fail "$how: --check --repair failed: $out"
  echo "$out"
  grep -q "marked BAD" <<<"$out" || fail "$how: --repair does not say what it did: $out"
  grep -q "check: clean" <<<"$out" || fail "$how: --repair did not end clean: $out"
  check_clean "$IMG" >/dev/null
  vinspect --json --no-map "$IMG" >info.json || fail "$how: vblk-inspect --json"
  [[ $(json_get info.json 'j["bad_blocks"]') != "[]" ]] || fail "$how: no BAD blocks after the repair"
  expect_disk "$how, after the repair"
  echo "ok: $how: the write after the damage survived, the damaged blocks fail and are repaired to BAD"
}

round kill
round powercut

# The trade-off vblk-format --no-flush-records makes: one sync per flush,
# and the damaged record then ends the log, so block 50 is lost too.
rm -f "$IMG"
vformat "$IMG" --size 64M --no-flush-records
vinspect --json --no-map "$IMG" >info.json || fail "vblk-inspect --json"
[[ $(json_get info.json 'j["incompat_features"] & 4') == 0 ]] || fail "--no-flush-records left the feature set"
vmount "$IMG" "$MNT"
run 60 python3 write.py "$MNT/disk" 0 10 A || fail "no-flush-records: writing blocks 0-9"
vinject "$MNT" corrupt --block 3 >/dev/null || fail "no-flush-records: corrupting block 3"
run 60 python3 write.py "$MNT/disk" 50 1 Z || fail "no-flush-records: writing block 50"
kill_daemon
vmount "$IMG" "$MNT"
run 60 python3 read.py "$MNT/disk" 50 1 Z >got50 || fail "no-flush-records: reading block 50"
[[ $(cat got50) == "wrong 50" ]] || fail "no-flush-records: block 50 should be lost with the log after the damage: $(cat got50)"
vumount "$MNT"
echo "ok: without flush records the damaged record ends the log (documented trade-off)"
