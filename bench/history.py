#!/usr/bin/env python3
"""One line per bench/run result in bench/results/HISTORY.md.

    bench/history.py RESULT.json...        print the rows
    bench/history.py --append RESULT.json  add the row to HISTORY.md (bench/run does this)

A row holds the run's date, vblk revision and label, and vblk's ratio to
qemu-storage-daemon over qcow2 on the headline jobs (higher is better; for
the QD1 latency and the ext4 copy time lower is better). The full result of
a run is its .md/.json/.csv; only the runs the README and bench/README.md
cite are kept in the tree, the rest in git history.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
HISTORY = os.path.join(HERE, "results", "HISTORY.md")

# (column title, summary key, target, reference)
COLUMNS = [
    ("seq write", "seqwrite-c50", "vblk", "qsd-qcow2"),
    ("seq read", "seqread", "vblk", "qsd-qcow2"),
    ("rand read QD1", "randread-qd1", "vblk", "qsd-qcow2"),
    ("rand read QD16", "randread-qd16", "vblk", "qsd-qcow2"),
    ("rand write QD16", "randwrite-qd16", "vblk", "qsd-qcow2"),
    ("incompr. write QD16", "randwrite-rnd", "vblk", "qsd-qcow2"),
    ("ext4 copy s", "ext4-copy", "vblk", "qsd-qcow2"),
    ("NBD rand read QD16", "randread-qd16", "vblk-nbd", "qsd-nbd-qcow2"),
    ("NBD rand write QD16", "randwrite-qd16", "vblk-nbd", "qsd-nbd-qcow2"),
]
HEADER = (
    "# bench/run history\n\n"
    "One row per full run (bench/history.py). Cells: vblk ÷ qemu-storage-daemon over qcow2, medians, same run "
    "(ext4 copy: a time, lower is better; NBD: both over NBD). – : not measured in that run.\n\n"
    "| run | vblk | label | " + " | ".join(c[0] for c in COLUMNS) + " |\n"
    "|---|---|---|" + "---|" * len(COLUMNS) + "\n"
)


def row(path):
    j = json.load(open(path))
    s = j.get("summary", {})
    cells = []
    for _, key, target, ref in COLUMNS:
        try:
            a, b = s[target][key]["median"], s[ref][key]["median"]
            cells.append(f"{a / b:.2f}" if a is not None and b else "–")
        except (KeyError, TypeError):
            cells.append("–")
    name = os.path.splitext(os.path.basename(path))[0]
    rev = j.get("machine", {}).get("vblk_rev", "")
    label = (j.get("config", {}).get("label") or "").replace("|", "/")
    if label == rev:
        label = ""
    if j.get("config", {}).get("quick"):
        label = (label + " (quick)").strip()
    return f"| {name} | {rev} | {label} | " + " | ".join(cells) + " |"


def main(argv):
    append = argv[:1] == ["--append"]
    paths = argv[1:] if append else argv
    if not paths:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    rows = [row(p) for p in paths]
    if not append:
        print("\n".join(rows))
        return 0
    if not os.path.exists(HISTORY):
        with open(HISTORY, "w") as f:
            f.write(HEADER)
    with open(HISTORY, "a") as f:
        f.write("\n".join(rows) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
