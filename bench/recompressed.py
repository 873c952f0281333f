#!/usr/bin/env python3
"""Waits until a vblkfs disk's deferred compression has nothing left to do.

    bench/recompressed.py DISK [TIMEOUT_S]

DISK is the disk file in a vblkfs mountpoint. Polls its user.vblk.stats
(vblkfs(1), CONTROL INTERFACE) every 50 ms until recompression.pending_bytes
is 0 and every segment has been scanned, then prints "done"; prints
"timed out" after TIMEOUT_S (default 600) seconds. Exit status 0 either way,
2 when the stats cannot be read.
"""
import json
import os
import sys
import time


def pending(disk):
    stats = json.loads(os.getxattr(disk, "user.vblk.stats"))
    r = stats["recompression"]
    return r["pending_bytes"] > 0 or not r["scanned"]


def main():
    disk = sys.argv[1]
    timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 600.0
    deadline = time.monotonic() + timeout
    try:
        while pending(disk):
            if time.monotonic() > deadline:
                print("timed out")
                return 0
            time.sleep(0.05)
    except (OSError, KeyError, ValueError) as e:
        print(f"recompressed.py: {disk}: {e}", file=sys.stderr)
        return 2
    print("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
