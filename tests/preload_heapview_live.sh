#!/usr/bin/env bash
# preload_heapview_live.sh LIBGORT_MALLOC_SO
# The live view: GORT_HEAPVIEW_EVERY=100ms writes numbered snapshots (SVG + stats JSON)
# while python3 builds and frees a heap under the drop-in; tools/heapview_live.py makes one
# HTML page of them. Checked with python3's html parser (one snapshot element and one stats
# record per snapshot, the slider's range), then in headless Chromium (.ci/run installs
# Debian's chromium; without it this part is reported and skipped): the page loads, its
# script ran without an error (window.onerror writes into the title) and counted the
# snapshots, no console error, and a screenshot of the page is a PNG of the window's size.
set -u
lib=$(readlink -f "${1:?usage: $0 path/to/libgort-malloc.so}")
[ -f "$lib" ] || { echo "no such library: $lib"; exit 1; }
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
[ -n "${GORT_KEEP_SHOT:-}" ] && trap 'cp "$tmp/shot.png" "$GORT_KEEP_SHOT" 2>/dev/null; rm -rf "$tmp"' EXIT
PY=$(command -v /usr/bin/python3 || command -v python3)
fail() { echo "FAIL $*"; exit 1; }

timeout 120 env GORT_HEAPVIEW="$tmp/heap.svg" GORT_HEAPVIEW_EVERY=100ms LD_PRELOAD="$lib" "$PY" -c '
import time
keep = []
for i in range(8):
    keep.append([bytearray(1000 + 37 * j) for j in range(300)])
    time.sleep(0.1)
del keep[::2]
time.sleep(0.3)' || fail "python3 with GORT_HEAPVIEW_EVERY"
n=$(ls "$tmp" | grep -c '^heap\.[0-9]*\.json$')
[ "$n" -ge 5 ] || fail "$n snapshots in about 1.1 s at 100 ms"
out=$("$PY" tools/heapview_live.py "$tmp/heap.svg" "$tmp/page.html") || fail "heapview_live.py: $out"
"$PY" - "$tmp/page.html" "$n" <<'PYEOF' || exit 1
import sys
from html.parser import HTMLParser
path, n = sys.argv[1], int(sys.argv[2])
class P(HTMLParser):
    snaps = svgs = 0
    slider = None
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "div" and a.get("class") == "snap":
            self.snaps += 1
        if tag == "svg":
            self.svgs += 1
        if tag == "input" and a.get("id") == "slider":
            self.slider = (a.get("min"), a.get("max"))
p = P()
p.feed(open(path).read())
if p.snaps != n or p.svgs < n + 1 or p.slider != ("0", str(n - 1)):
    sys.exit("FAIL page: %d snapshots, %d svg elements, slider %s for %d snapshots" % (p.snaps, p.svgs, p.slider, n))
print("ok   page: %d snapshots, slider 0..%d" % (n, n - 1))
PYEOF
chrome=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$chrome" ]; then
    echo "note chromium is not installed: the browser check did not run (.ci/run installs chromium)"
    echo "preload_heapview_live: ok"; exit 0
fi
flags=(--headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run --user-data-dir="$tmp/profile")
dom=$(timeout 120 "$chrome" "${flags[@]}" --enable-logging=stderr --v=0 --dump-dom "file://$tmp/page.html" 2>"$tmp/console.log") ||
    fail "chromium --dump-dom failed: $(tail -5 "$tmp/console.log")"
title=$(grep -o '<title>[^<]*</title>' <<<"$dom" | head -1)
[ "$title" = "<title>gort heap: $n snapshots</title>" ] || fail "the page's title after its script ran: $title"
if grep -E 'CONSOLE|Uncaught' "$tmp/console.log" | grep -v 'Fontconfig' | grep -q .; then
    fail "console errors: $(grep -E 'CONSOLE|Uncaught' "$tmp/console.log" | head -5)"
fi
timeout 120 "$chrome" "${flags[@]}" --window-size=1000,800 --screenshot="$tmp/shot.png" "file://$tmp/page.html" \
    >/dev/null 2>&1 || fail "chromium --screenshot failed"
"$PY" - "$tmp/shot.png" <<'PYEOF' || exit 1
import struct, sys
b = open(sys.argv[1], "rb").read()
if b[:8] != b"\x89PNG\r\n\x1a\n":
    sys.exit("FAIL the screenshot is not a PNG")
w, h = struct.unpack(">II", b[16:24])
if (w, h) != (1000, 800) or len(b) < 20000:
    sys.exit("FAIL screenshot %dx%d, %d bytes" % (w, h, len(b)))
print("ok   chromium: the page loads, no errors, screenshot %dx%d (%d bytes)" % (w, h, len(b)))
PYEOF
echo "preload_heapview_live: ok"
