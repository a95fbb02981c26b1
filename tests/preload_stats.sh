#!/usr/bin/env bash
# GORT_SHOW_STATS=1 prints the statistics at exit, even from a program that closes stderr in
# its own exit handler (coreutils' ls does); the numbers are plausible; options parse.
set -euo pipefail
lib=$(readlink -f "$1")
out=$(GORT_SHOW_STATS=1 LD_PRELOAD=$lib ls / 2>&1 >/dev/null)
grep -q "gort memory statistics" <<<"$out" || { echo "no statistics printed: $out"; exit 1; }
mallocs=$(awk '$1 == "Mallocs" {print $2}' <<<"$out")
frees=$(awk '$1 == "Frees" {print $2}' <<<"$out")
[ "${mallocs:-0}" -gt 0 ] && [ "${frees:-0}" -gt 0 ] || { echo "implausible counts: $out"; exit 1; }
# without the scavenger thread, with other knobs set, programs still run right
want=$(printf 'a\nb\nc\n' | sort -r)
got=$(printf 'a\nb\nc\n' | GORT_SCAVENGER=0 GORT_SCAVENGE_MS=10 GORT_RETAIN_MIN=0 LD_PRELOAD=$lib sort -r)
[ "$want" = "$got" ] || { echo "sort under options differs"; exit 1; }
echo "preload_stats: ok (mallocs $mallocs, frees $frees)"
