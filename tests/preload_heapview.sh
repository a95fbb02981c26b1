#!/usr/bin/env bash
# preload_heapview.sh LIBGORT_MALLOC_SO
# The heap's picture (GORT_HEAPVIEW, gort_heap_svg) from the drop-in, checked as XML with
# python3's xml module: an <svg> root, a legend, a caption with the totals, a group per
# arena with cells, spans outlined with tooltips;
#   1. python3 at exit (a small heap: one cell per page);
#   2. tests/heapview_big.c: a 4 GiB heap of alternating used and free blocks of 1 and 4 cells,
#      summarized into a file under 2 MB.
set -u
lib=$(readlink -f "${1:?usage: $0 path/to/libgort-malloc.so}")
[ -f "$lib" ] || { echo "no such library: $lib"; exit 1; }
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
PY=$(command -v /usr/bin/python3 || command -v python3)

# check SVG MIN_ARENAS MAX_BYTES
check() {
    "$PY" - "$@" <<'PYEOF'
import os, sys
import xml.etree.ElementTree as ET
path, min_arenas, max_bytes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
size = os.path.getsize(path)
if size > max_bytes:
    sys.exit("%s is %d bytes, more than %d" % (path, size, max_bytes))
root = ET.parse(path).getroot()
ns = "{http://www.w3.org/2000/svg}"
if root.tag != ns + "svg":
    sys.exit("root is %s" % root.tag)
groups = {g.get("id"): g for g in root.iter(ns + "g") if g.get("id")}
for want in ("legend", "caption", "spans"):
    if want not in groups:
        sys.exit("no <g id=%s>" % want)
legend = " ".join(t.text or "" for t in groups["legend"].iter(ns + "text"))
for word in ("never used", "released", "free", "size class", "collected", "fullness"):
    if word not in legend:
        sys.exit("the legend does not mention %r" % word)
caption = " ".join(t.text or "" for t in groups["caption"].iter(ns + "text"))
for word in ("heap", "in use", "released", "mallocs", "frees"):
    if word not in caption:
        sys.exit("the caption does not mention %r" % word)
arenas = [g for g in root.iter(ns + "g") if g.get("class") == "arena"]
if len(arenas) < min_arenas:
    sys.exit("%d arenas drawn, at least %d expected" % (len(arenas), min_arenas))
cells = sum(len(list(g.iter(ns + "rect"))) for g in arenas)
inuse = sum(1 for g in arenas for r in g.iter(ns + "rect") if (r.get("class") or "").startswith("c"))
outlines = list(groups["spans"].iter(ns + "rect"))
tips = [r for r in outlines if r.find(ns + "title") is not None]
if not inuse or not outlines or len(tips) != len(outlines):
    sys.exit("in-use cells %d, span outlines %d (with tooltips %d)" % (inuse, len(outlines), len(tips)))
print("%d bytes, %d arenas, %d cell rectangles (%d in use), %d span outlines" % (size, len(arenas), cells, inuse, len(outlines)))
PYEOF
}

if ! timeout 120 env GORT_HEAPVIEW="$tmp/py.svg" LD_PRELOAD="$lib" "$PY" -c '
d = {i: str(i) * (i % 50) for i in range(100000)}
big = [bytearray(100000) for _ in range(20)]
print(len(d), len(big))' >/dev/null; then
    echo "FAIL python3 with GORT_HEAPVIEW"; failed=$((failed + 1))
elif out=$(check "$tmp/py.svg" 1 2000000 2>&1); then
    echo "ok   python3: $out"
else
    echo "FAIL python3's picture: $out"; failed=$((failed + 1))
fi

${CC:-cc} -std=gnu11 -O1 -o "$tmp/big" tests/heapview_big.c || exit 1
if ! timeout 300 env GORT_HEAPVIEW="$tmp/big.svg" LD_PRELOAD="$lib" "$tmp/big" >/dev/null; then
    echo "FAIL heapview_big with GORT_HEAPVIEW"; failed=$((failed + 1))
elif out=$(check "$tmp/big.svg" 64 2000000 2>&1); then
    echo "ok   4 GiB heap: $out"
else
    echo "FAIL the 4 GiB heap's picture: $out"; failed=$((failed + 1))
fi
[ $failed -eq 0 ] && echo "preload_heapview: ok"
exit $failed
