#!/usr/bin/env python3
"""Builds the boot test's initramfs: busybox, the kernel modules needed to
reach an ext4 filesystem on a virtio-blk disk, and an /init script.

  mkinitramfs.py --modules DIR --busybox BUSYBOX --init INIT -o OUT.cpio.gz

DIR is the kernel's /lib/modules/VERSION (from the unpacked package). The
package ships no modules.dep (depmod makes it at install time), so each
wanted module's dependencies are read from its own .modinfo "depends=" field
and the list is put in dependency order; modules built into the kernel
(modules.builtin) are left out. Compressed modules (.ko.xz, .ko.zst, .ko.gz)
are decompressed here so the guest's busybox insmod can load them. The
order is written to /etc/modules.order, one file name a line, for /init.

The archive is a gzip-compressed newc cpio, written directly (no cpio tool).
"""
import argparse
import gzip
import lzma
import os
import re
import subprocess
import sys

# What the guest needs, in a sensible order; dependencies are added first
# automatically. A name that is neither a module nor built in is an error
# only when it is marked required.
WANTED = [
    ("virtio", False), ("virtio_ring", False),
    ("virtio_pci_legacy_dev", False), ("virtio_pci_modern_dev", False),
    ("virtio_pci", True), ("virtio_blk", True),
    ("crc16", False), ("mbcache", False), ("jbd2", False),
    ("crc32c_generic", False), ("ext4", True),
]


def norm(name):
    return name.replace("-", "_")


def read_module(path):
    with open(path, "rb") as f:
        data = f.read()
    if path.endswith(".xz"):
        return lzma.decompress(data)
    if path.endswith(".gz"):
        return gzip.decompress(data)
    if path.endswith(".zst"):
        try:
            import zstandard  # optional
            return zstandard.ZstdDecompressor().decompress(data, max_output_size=64 << 20)
        except ImportError:
            return subprocess.run(["zstd", "-dc", path], check=True, capture_output=True).stdout
    return data


def modinfo_depends(blob):
    m = re.search(rb"(?:^|\0)depends=([^\0]*)\0", blob)
    if not m or not m.group(1):
        return []
    return [norm(d.decode()) for d in m.group(1).split(b",") if d]


def resolve(moddir):
    files = {}
    for root, _, names in os.walk(os.path.join(moddir, "kernel")):
        for n in names:
            m = re.match(r"(.+)\.ko(\.xz|\.zst|\.gz)?$", n)
            if m:
                files[norm(m.group(1))] = os.path.join(root, n)
    builtin = set()
    bpath = os.path.join(moddir, "modules.builtin")
    if os.path.exists(bpath):
        for line in open(bpath):
            builtin.add(norm(os.path.basename(line.strip()).split(".ko")[0]))

    order, blobs, seen = [], {}, set()

    def visit(name, required, chain):
        if name in seen:
            return
        if name in chain:
            sys.exit(f"mkinitramfs: module dependency cycle: {' -> '.join(chain + [name])}")
        if name not in files:
            if name in builtin:
                seen.add(name)
                return
            if required:
                sys.exit(f"mkinitramfs: {moddir}: module {name} is neither a module nor built in")
            seen.add(name)
            return
        blob = read_module(files[name])
        for dep in modinfo_depends(blob):
            visit(dep, True, chain + [name])
        seen.add(name)
        order.append(name)
        blobs[name] = blob

    for name, required in WANTED:
        visit(name, required, [])
    return order, blobs, sorted(n for n, _ in WANTED if n in builtin)


class Cpio:
    """newc cpio writer."""

    def __init__(self, out):
        self.out = out
        self.ino = 1

    def _entry(self, name, mode, data=b"", nlink=1, rdev=(0, 0)):
        name_b = name.encode() + b"\0"
        hdr = "070701" + "".join(f"{v:08x}" for v in (
            self.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1], len(name_b), 0))
        self.ino += 1
        buf = hdr.encode() + name_b
        buf += b"\0" * (-len(buf) % 4)
        buf += data
        buf += b"\0" * (-len(buf) % 4)
        self.out.write(buf)

    def dir(self, name):
        self._entry(name, 0o040755, nlink=2)

    def file(self, name, data, mode=0o644):
        self._entry(name, 0o100000 | mode, data)

    def symlink(self, name, target):
        self._entry(name, 0o120777, target.encode())

    def chardev(self, name, major, minor):
        self._entry(name, 0o020600, rdev=(major, minor))

    def trailer(self):
        self._entry("TRAILER!!!", 0, nlink=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--modules", required=True)
    ap.add_argument("--busybox", required=True)
    ap.add_argument("--init", required=True)
    ap.add_argument("-o", "--output", required=True)
    a = ap.parse_args()

    order, blobs, builtin = resolve(a.modules)
    with open(a.busybox, "rb") as f:
        busybox = f.read()
    with open(a.init, "rb") as f:
        init = f.read()

    tmp = a.output + ".tmp"
    with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as gz:
        c = Cpio(gz)
        for d in ("bin", "dev", "etc", "lib", "lib/modules", "mnt", "proc", "sys", "sbin"):
            c.dir(d)
        c.chardev("dev/console", 5, 1)
        c.file("bin/busybox", busybox, 0o755)
        for applet in ("sh", "mount", "umount", "insmod", "cat", "echo", "sync", "poweroff", "sleep", "ls",
                       "mkdir", "date", "wc", "dmesg", "grep", "reboot"):
            c.symlink("bin/" + applet, "busybox")
        c.file("init", init, 0o755)
        for name in order:
            c.file(f"lib/modules/{name}.ko", blobs[name])
        c.file("etc/modules.order", "".join(f"{n}.ko\n" for n in order).encode())
        c.trailer()
    os.replace(tmp, a.output)
    print(f"modules: {' '.join(order) or 'none'}; built in: {' '.join(builtin) or 'none'}")


if __name__ == "__main__":
    main()
