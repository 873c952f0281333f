#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite:
#   1. the release-style build with warnings as errors: every suite (while
#      the two sanitized builds compile at low priority beside it);
#   2. unit tests again under AddressSanitizer + UndefinedBehaviorSanitizer;
#   3. the clang build: every target, with warnings as errors and the
#      thread-safety analysis (-Wthread-safety), and its libFuzzer target
#      run for a bounded time.
# Prints the seconds each step took.
# Ends with one line "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh

status=0
timings=()
# usage: configure DIR SETUP_ARGS...
configure() {
  local dir=$1; shift
  rm -f "$dir"/meson-logs/testlog*.json  # the summary counts every log there
  if [[ ! -f $dir/build.ninja ]]; then meson setup "$dir" "$@"; else meson configure "$dir" "$@" >/dev/null; fi
}
# usage: run_tests DIR TEST_ARGS...
run_tests() {
  local dir=$1; shift
  local t0=$SECONDS
  meson test -C "$dir" --no-rebuild --print-errorlogs "$@" || status=1
  timings+=("$dir: tests $((SECONDS - t0)) s")
}

# Ninja targets of every test in a suite (configured but not yet built).
suite_targets() {  # dir suite
  meson introspect "$1" --tests | python3 -c '
import glob, json, os, sys
d, suite = os.path.abspath(sys.argv[1]), sys.argv[2]
for t in json.load(sys.stdin):
    exe = t["cmd"][0]
    if suite in t["suite"] or "vblk:" + suite in t["suite"]:
        if exe.startswith(d + "/"):
            print(os.path.relpath(exe, d))
' "$1" "$2"
}

# Line tables only (-g1: enough for symbolized stack traces): the heaviest
# file (tools/vblk_inject.cc) compiles in 20 s instead of 28 s with -g.
t0=$SECONDS
configure build -Dwerror=true -Dcpp_args=-g1
ninja -C build
timings+=("build: build $((SECONDS - t0)) s")

# Undefined behaviour fails the test, as a memory error does.
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# The sanitized builds use -g1 and -O1 (what ASan recommends; at -O2 -g,
# GCC's ASan+UBSan build alone took 9 minutes on 2 cores), except that
# GCC's ASan build uses -Og: it compiles in 215 s instead of 306 s and runs
# the unit tests as fast (100 s against 98 s); clang's -Og is its -O1.
# The clang build compiles every target, so that the thread-safety analysis
# covers the whole tree, at -O0: only the store, which the fuzz target
# exercises, is instrumented and optimized (-O1, meson.build). It takes
# 435 s of CPU (the fuzz targets alone: 150 s); on a tree a sixth smaller
# it took 360 s, against 530 s with every target at -O1 and 730 s with
# everything instrumented. Shared objects holding instrumented code leave
# the sanitizer runtime to the program that loads them, hence
# -Db_lundef=false in both builds.
sanitized=(-Dwerror=true -Doptimization=1 -Dcpp_args=-g1 -Db_lundef=false)
configure build-asan "${sanitized[@]}" -Doptimization=g -Db_sanitize=address,undefined
CC=clang CXX=clang++ configure build-fuzz "${sanitized[@]}" -Doptimization=0 -Dfuzz=true

# The normal build's unit tests run two at a time and keep both cores
# busy; the other suites (mount, crash, hostile, qemu) run one at a time and
# leave a core idle much of the time, so the sanitized builds start beside
# them, one job at a time at nice 19, and finish at full speed once they
# are done (ninja picks up where the stopped one left off). Four jobs
# beside every suite made crash_test and hostile_images twice as slow; one
# job beside the serial suites left their time as it was.
# Each part writes its own log: the summary below reads them all.
sanitized_targets() {
  # shellcheck disable=SC2046
  ninja "$@" -C build-asan $(suite_targets build-asan unit)
  ninja "$@" -C build-fuzz
}
run_tests build --suite unit --logbase testlog-unit
(renice -n 19 -p "$BASHPID" >/dev/null && sanitized_targets -j 1 > build-asan/sanitized-builds.log 2>&1) &
early_build=$!
run_tests build --no-suite unit --logbase testlog-other
# Stop it (ninja stops its compilers; their objects are built again below),
# also a ninja it starts meanwhile: two must not share a build directory.
while kill -0 "$early_build" 2>/dev/null; do
  pkill -TERM -P "$early_build" 2>/dev/null || true
  sleep 0.2
done
wait "$early_build" || true
t0=$SECONDS
sanitized_targets
timings+=("sanitized builds: $((SECONDS - t0)) s after the normal build's tests")
run_tests build-asan --suite unit
run_tests build-fuzz --suite fuzz

printf '%s\n' "${timings[@]}" "total: $SECONDS s"
python3 - build build-asan build-fuzz <<'PY'
import glob, json, os, sys
passed = failed = skipped = 0
for d in sys.argv[1:]:
    for log in glob.glob(os.path.join(d, "meson-logs", "testlog*.json")):
        for line in open(log):
            r = json.loads(line)["result"]
            if r in ("OK", "EXPECTEDFAIL"): passed += 1
            elif r == "SKIP": skipped += 1
            else: failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
