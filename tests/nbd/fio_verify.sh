# fio's nbd engine against a served image, every byte checked (crc32c
# verify headers in each block):
#  - random 4 KiB writes, then verify;
#  - sequential 1 MiB writes, then verify;
#  - four jobs at once (numjobs=4: four fio processes, each with its own
#    NBD connection, i.e. multi-conn) each in its own region
#    (offset_increment), then verify;
# then the server is stopped, the image served again, and fio reads every
# region back with verify_only, so the data is proven on disk, not only in
# the served stack's memory.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require fio

IMG=$WORK/img
vformat "$IMG" --size 128M

# jobfile NAME: the fio jobs. Regions: random 0-16M, sequential 16-48M,
# four connections at 64M + N * 16M, 8 MiB each.
jobfile() {
  cat <<JOBS
[global]
ioengine=nbd
uri=$(uri "$1")
verify=crc32c
verify_fatal=1
do_verify=1
randrepeat=1
buffer_compress_percentage=50
group_reporting=0

[rand4k]
rw=randwrite
bs=4k
iodepth=16
offset=0
size=16M

[seq1m]
stonewall
rw=write
bs=1M
iodepth=4
offset=16M
size=32M

[multiconn]
stonewall
rw=randwrite
bs=16k
iodepth=8
numjobs=4
offset=64M
offset_increment=16M
size=8M
JOBS
}

# fio_run NAME LABEL [fio options]: runs the jobs; fio exits non-zero on a
# verify mismatch (verify_fatal) or an I/O error. Checks that every job
# verified what it wrote and reports the verified bytes.
fio_run() {
  local name=$1 label=$2
  shift 2
  jobfile "$name" >"$WORK/jobs.fio"
  run 240 fio --output-format=json --output="$WORK/$label.json" "$@" "$WORK/jobs.fio" 2>"$WORK/$label.err" ||
    fail "fio $label: $(head -n 5 "$WORK/$label.err")"
  python3 - "$WORK/$label.json" "$label" <<'PY' || fail "fio $label: jobs did not all verify"
import json, sys
j = json.load(open(sys.argv[1]))
jobs = j["jobs"]
names = sorted(x["jobname"] for x in jobs)
assert names == ["multiconn"] * 4 + ["rand4k", "seq1m"], names
for x in jobs:
    assert x["error"] == 0, (x["jobname"], x["error"])
    # Every job read back (verified) as many bytes as its region holds.
    want = {"rand4k": 16 << 20, "seq1m": 32 << 20, "multiconn": 8 << 20}[x["jobname"]]
    assert x["read"]["io_bytes"] == want, (x["jobname"], x["read"]["io_bytes"], want)
    # verify_only writes nothing (fio only accounts the skipped writes).
    wrote = "" if sys.argv[2] == "reserve-verify" else f"wrote {x['write']['io_bytes'] >> 20} MiB, "
    print(f"  {sys.argv[2]} {x['jobname']}: {wrote}verified {x['read']['io_bytes'] >> 20} MiB, {x['elapsed']} s")
PY
}

serve s "$IMG"
fio_run s write-verify
stop s

serve s2 "$IMG"
fio_run s2 reserve-verify --verify_only
stop s2
run 120 "$VBLK_INSPECT" "$IMG" --check >/dev/null || fail "vblk-inspect --check after fio"
echo PASS
