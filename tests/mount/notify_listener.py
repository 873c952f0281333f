"""Plays systemd's side of sd_notify(3) for one command.

usage: notify_listener.py SOCKET DISK REPORT SECONDS COMMAND...

Binds a unix datagram socket at SOCKET, runs COMMAND with NOTIFY_SOCKET
pointing at it (no wrapper: COMMAND's pid is the "main pid" a Type=notify
unit would have) and records every notification with the pid that sent it
(SCM_CREDENTIALS, as systemd checks it). When one says STATUS=opening, it
records whether DISK already exists; when one says READY=1, it opens DISK
and reads its first 4 KiB at once, and then creates REPORT.ready. When
COMMAND has exited, it writes REPORT (JSON) and exits with COMMAND's exit
status. COMMAND is killed after SECONDS.
"""
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time


def try_read(path):
    """The outcome of opening path and reading 4 KiB, bounded to 10 s."""
    def timed_out(*_):
        raise TimeoutError("read did not complete in 10 s")
    signal.signal(signal.SIGALRM, timed_out)
    signal.alarm(10)
    try:
        with open(path, "rb", buffering=0) as f:
            return {"ok": len(f.read(4096)) == 4096}
    except (OSError, TimeoutError) as e:
        return {"ok": False, "error": str(e)}
    finally:
        signal.alarm(0)


def main():
    sock_path, disk, report, seconds = sys.argv[1:5]
    command = sys.argv[5:]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    sock.bind(sock_path)
    sock.settimeout(0.1)
    child = subprocess.Popen(command, env=dict(os.environ, NOTIFY_SOCKET=sock_path))
    deadline = time.monotonic() + float(seconds)
    messages = []  # {"pid": sender, "fields": [...], and what was checked}

    def receive():
        try:
            data, anc, _, _ = sock.recvmsg(4096, socket.CMSG_SPACE(struct.calcsize("iII")))
        except socket.timeout:
            return False
        pid = None
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", payload[:struct.calcsize("iII")])[0]
        fields = data.decode().split("\n")
        entry = {"pid": pid, "fields": fields}
        if any(f.startswith("STATUS=opening") for f in fields):
            entry["disk_existed"] = os.path.exists(disk)
        if "READY=1" in fields:
            entry["read"] = try_read(disk)
        messages.append(entry)
        if "READY=1" in fields:
            open(report + ".ready", "w").close()
        return True

    while child.poll() is None:
        if time.monotonic() > deadline:
            child.kill()
        receive()
    while receive():  # what was sent just before the exit
        pass
    with open(report, "w") as f:
        json.dump({"pid": child.pid, "exit": child.returncode, "messages": messages}, f, indent=1)
    sys.exit(child.returncode if child.returncode >= 0 else 128 - child.returncode)


main()
