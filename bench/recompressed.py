#!/usr/bin/env python3
"""Waits until a vblkfs disk's deferred compression has nothing left to do.

    bench/recompressed.py DISK [TIMEOUT_S]

DISK is the disk file in a vblkfs mountpoint. Polls its user.vblk.stats
(vblkfs(1), CONTROL INTERFACE) every 50 ms until recompression.pending_bytes
is 0 and every segment has been scanned, then prints "done"; prints
"timed out" after TIMEOUT_S (default 600) seconds. Exit status 0 either way,
2 when the stats cannot be read. bench/run imports wait() from here.
"""
import json
import os
import sys
import time


def wait(disk, timeout):
    """True once nothing is pending, False after `timeout` s; OSError, KeyError or ValueError
    when the stats cannot be read."""
    deadline = time.monotonic() + timeout
    while True:
        r = json.loads(os.getxattr(disk, "user.vblk.stats"))["recompression"]
        if r["pending_bytes"] == 0 and r["scanned"]:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def main():
    disk = sys.argv[1]
    timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 600.0
    try:
        print("done" if wait(disk, timeout) else "timed out")
    except (OSError, KeyError, ValueError) as e:
        print(f"recompressed.py: {disk}: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
