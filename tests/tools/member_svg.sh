# The SVG of an erasure-coded member set (report/member_svg.h): valid XML;
# on the brief's 484 members (11 boxes of 44) and its --ha layout (22 over
# 11 boxes), a column per box with the box's members in it, none
# overlapping, each coloured as the brief says for its role and state, a
# rebuilding member's bar as long as its fraction, and the legend.
# Run as: bash member_svg.sh MEMBER_SVG_AID
set -euo pipefail
AID=$(realpath "$1")
WORK=$(mktemp -d "${TMPDIR:-/tmp}/vblk-tools-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

"$AID" brief >brief.svg
"$AID" ha >ha.svg

check() {  # SVG BOXES PER_BOX DOWN_BOX
  python3 - "$@" <<'EOF_PY'
import sys, xml.etree.ElementTree as ET
svg, boxes, per_box, down = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
root = ET.parse(svg).getroot()                      # raises on invalid XML
ns = "{http://www.w3.org/2000/svg}"
assert root.tag == ns + "svg", root.tag
colour = {"data": "#43a047", "local-parity": "#8e44ad", "global-parity": "#1f6fc5", "spare": "#f4d03f"}
by_state = {"failed": "#d7191c", "spare": "#f4d03f", "rebuilding": "#fbe3c2"}
box_groups = [g for g in root.iter(ns + "g") if g.get("class") == "box"]
assert len(box_groups) == boxes, len(box_groups)
columns, seen, states = [], set(), {}
for box in box_groups:
    b = box.get("data-box")
    assert box.get("data-down") == ("true" if b == down else "false"), (b, box.get("data-down"))
    members = [g for g in box.iter(ns + "g") if g.get("class") == "member"]
    assert len(members) == per_box, (b, len(members))
    xs, ys = set(), []
    for m in members:
        assert m.get("data-box") == b
        seen.add(int(m.get("data-index")))
        state, role = m.get("data-state"), m.get("data-role")
        states[state] = states.get(state, 0) + 1
        rects = {r.get("class"): r for r in m.iter(ns + "rect")}
        want = by_state.get(state, colour[role])
        assert rects["button"].get("fill") == want, (m.get("data-index"), state, role, rects["button"].get("fill"))
        if state == "rebuilding":
            frac = float(m.get("data-rebuild"))
            assert abs(float(rects["progress"].get("width")) - frac * float(rects["button"].get("width"))) < 0.1
        else:
            assert "progress" not in rects
        assert m.find(ns + "title") is not None and m.find(ns + "text").text.startswith(m.get("data-index") + " ")
        xs.add(float(rects["button"].get("x")))
        ys.append((float(rects["button"].get("y")), float(rects["button"].get("height"))))
    assert len(xs) == 1, f"box {b}: one column"
    ys.sort()
    assert all(a[0] + a[1] <= b_[0] for a, b_ in zip(ys, ys[1:])), f"box {b}: members overlap"
    columns.append(xs.pop())
width = float(root.get("width"))
assert all(a + 112 <= b for a, b in zip(columns, columns[1:])) and columns[-1] + 112 <= width, columns
assert seen == set(range(boxes * per_box)), "every member once"
legend = " ".join(t.text or "" for t in root.iter(ns + "text"))
for word in ("data", "local parity", "global parity", "spare", "failed", "rebuilding", "verdict:"):
    assert word in legend, f"no {word!r}"
print(f"ok: {svg}: {boxes} boxes of {per_box}, states {states}")
EOF_PY
}

check brief.svg 11 44 none
check ha.svg 11 2 3
grep -q 'ha &amp; &lt;box 3&gt;' ha.svg || { echo "FAIL: the title is not escaped" >&2; exit 1; }
grep -q 'data-recoverable="true">verdict: recoverable' ha.svg || { echo "FAIL: --ha box failure" >&2; exit 1; }
if "$AID" neither >/dev/null 2>&1; then echo "FAIL: the aid took a bad argument" >&2; exit 1; fi
echo ok
