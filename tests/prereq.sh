# Shared by the test suites' helper libraries (tests/*/lib.sh): a failure
# message, and what a missing prerequisite means.

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# missing_prerequisite WHY: a failure with CI=true (CI must have everything),
# otherwise a meson skip (exit 77).
missing_prerequisite() {
  if [[ ${CI:-} == true ]]; then
    echo "FAIL: prerequisite missing with CI=true: $1" >&2
    exit 1
  fi
  echo "SKIP: $1"
  exit 77
}
