#!/usr/bin/env python3
"""Checks one --json document against what the tool did and against its man page.

    json_check.py MANPAGE SCHEMA FILE [EXPR...]

FILE must hold exactly one JSON object whose first key is "schema" with the
value SCHEMA; every key in it, at any depth, must be documented in bold
(.B, .BR, .RB ..., or \\fB...\\fR) in MANPAGE's JSON OUTPUT section, so
that a key cannot appear without its documentation; and every Python
expression EXPR, evaluated with the document bound to `j`, must be true.
Prints what failed and exits 1, or prints one "ok" line.
"""
import json
import re
import shlex
import sys


def json_output_section(man_text):
    """The lines of the .SH JSON OUTPUT section."""
    lines = man_text.splitlines()
    try:
        start = lines.index(".SH JSON OUTPUT")
    except ValueError:
        return None
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith(".SH ")), len(lines))
    return lines[start + 1:end]


def troff_text(s):
    """Troff escapes that can appear inside a key's spelling, undone."""
    return s.replace("\\-", "-").replace("\\(dq", '"').replace("\\&", "")


def bold_words(section):
    """The words set in bold in the section."""
    words = set()
    # Which arguments of an alternating-font macro are bold.
    bold_args = {".B": None, ".BR": 0, ".BI": 0, ".RB": 1, ".IB": 1}
    for line in section:
        parts = line.split(None, 1)
        if parts and parts[0] in bold_args and len(parts) == 2:
            try:
                args = shlex.split(parts[1].replace("\\(dq", "\u0001"), posix=True)
            except ValueError:
                args = parts[1].split()
            first = bold_args[parts[0]]
            for i, arg in enumerate(args):
                if first is None or i % 2 == first:
                    words.update(re.findall(r"[A-Za-z0-9_]+", troff_text(arg)))
        for inline in re.findall(r"\\fB(.*?)\\f[RPI]", line):
            words.update(re.findall(r"[A-Za-z0-9_]+", troff_text(inline)))
    return words


def keys_of(value, path=""):
    """(path, key) for every key of every object in value."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield path, k
            yield from keys_of(v, f"{path}.{k}" if path else k)
    elif isinstance(value, list):
        for v in value:
            yield from keys_of(v, path + "[]")


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    man, schema, file, exprs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    problems = []
    with open(file) as f:
        text = f.read()
    try:
        j = json.loads(text)
    except json.JSONDecodeError as e:
        sys.exit(f"FAIL: {file}: not one JSON document ({e}): {text[:300]!r}")
    if not isinstance(j, dict):
        sys.exit(f"FAIL: {file}: not a JSON object: {text[:300]!r}")
    first = next(iter(j), None)
    if first != "schema" or j["schema"] != schema:
        problems.append(f"the first key is {first!r} = {j.get(first)!r}, not 'schema' = {schema!r}")
    with open(man) as f:
        section = json_output_section(f.read())
    if section is None:
        problems.append(f"{man} has no JSON OUTPUT section")
    else:
        if schema not in troff_text("\n".join(section)):
            problems.append(f"{man}'s JSON OUTPUT section does not name {schema}")
        documented = bold_words(section)
        missing = sorted({f"{p}.{k}" if p else k for p, k in keys_of(j) if k not in documented})
        if missing:
            problems.append(f"keys not documented in {man}, JSON OUTPUT: {', '.join(missing)}")
    for expr in exprs:
        try:
            ok = eval(expr, {}, {"j": j})
        except Exception as e:  # a missing key is a failure like a false one
            ok, expr = False, f"{expr} ({type(e).__name__}: {e})"
        if not ok:
            problems.append(f"not true: {expr}")
    if problems:
        print(f"FAIL: {file} ({schema}):", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        print(f"  document: {json.dumps(j)[:1500]}", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {file}: {schema}, {len(exprs)} checks, every key documented")


if __name__ == "__main__":
    main()
