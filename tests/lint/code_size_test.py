#!/usr/bin/env python3
"""Runs scripts/check-code-size over the fixtures beside this file and checks
what it prints and its exit status.

usage: code_size_test.py CHECKER FIXTURE_DIR

over/ holds one case of each kind it must flag, within/ the look-alikes it
must leave alone (scopes, tables and literals with braces), unmatched/ a
file whose braces do not match.
"""

import os
import subprocess
import sys

LIMITS = ["--max-file", "40", "--max-function", "10"]

OVER = """\
over/constructor.cc:16: function Table::Table is 12 lines (limit 10)
over/lambda.cc:5: function sort_desc is 11 lines (limit 10)
over/lambda.cc:18: function Less::operator() is 11 lines (limit 10)
over/literal_braces.cc:5: function closers is 11 lines (limit 10)
over/long_file.cc:1: file is 42 lines (limit 40)
over/member.h:17: function Square::area is 11 lines (limit 10)
"""

failures = []


def expect(name, args, status, stdout="", stderr=""):
    r = subprocess.run([sys.executable, checker] + args, capture_output=True, text=True)
    got = (r.returncode, r.stdout, r.stderr)
    if got != (status, stdout, stderr):
        failures.append("%s: expected status %d, stdout %r, stderr %r; got %d, %r, %r" %
                        ((name, status, stdout, stderr) + got))


checker = os.path.abspath(sys.argv[1])
os.chdir(sys.argv[2])

expect("flags each case over the limits", LIMITS + ["over"], 1, OVER)
expect("a single file", LIMITS + ["over/lambda.cc"], 1, "".join(l + "\n" for l in OVER.splitlines()[1:3]))
expect("leaves look-alikes alone", LIMITS + ["within"], 0)
expect("default limits (450, 80)", ["over", "within"], 0)
expect("--max-function only", ["--max-function", "11", "over"], 1,
       "over/constructor.cc:16: function Table::Table is 12 lines (limit 11)\n")
expect("a missing path", ["over", "no-such-dir"], 2, "",
       "check-code-size: no-such-dir: no such file or directory\n")
expect("unmatched braces", ["unmatched"], 2, "",
       "check-code-size: unmatched/unclosed.cc:2: '{' is never closed\n")

bad_limit = subprocess.run([sys.executable, checker, "--max-file", "0", "over"], capture_output=True, text=True)
if bad_limit.returncode != 2 or "limits must be at least 1" not in bad_limit.stderr:
    failures.append("--max-file 0: expected status 2 and a usage error, got %d %r" %
                    (bad_limit.returncode, bad_limit.stderr))

for f in failures:
    print(f)
print("%d failed" % len(failures))
sys.exit(1 if failures else 0)
