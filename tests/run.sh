#!/usr/bin/env bash
# Runs gort's tests and ends with one line "N passed, N failed".
#   tests/run.sh all            release + asan (every test), tsan (tests marked GORT_TEST_TSAN),
#                               the examples, and the scripts tests/preload_*.sh (the drop-in)
#                               and tests/sh_*.sh (install) on the release build
#   tests/run.sh MODE BUILDDIR  the tests of one build: every test, or for MODE=tsan those marked
#                               GORT_TEST_TSAN (the others are not written for it: some run
#                               for many minutes under TSan)
# (TSan's deadlock detector holds at most 64 locks; gort's fork handler takes
# every central lock, so it is off.)
# A test is a program that exits 0; each gets a time limit (GORT_TEST_TIMEOUT, default 600 s).
# The collector's tests (test_gc_*) run with GORT_GCCHECKMARK=1 and GORT_GCBARRIER=uffd
# (concurrent marking, where the kernel can track writes), and in the release build also
# with the default (auto) and GORT_GCBARRIER=none (stop-the-world); two of them also with
# GORT_GCTRACKFAIL=3 (a walk of written pages that fails: the fallback).
set -u
cd "$(dirname "$0")/.."
timeout_s=${GORT_TEST_TIMEOUT:-600}
passed=0; failed=0; failures=()
run_one() { # label command...
    local label=$1; shift
    local log start end rc
    log=$(mktemp)
    start=$(date +%s.%N)
    timeout -k 10 "$timeout_s" "$@" >"$log" 2>&1
    rc=$?
    end=$(date +%s.%N)
    local secs
    secs=$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.1f", b-a}')
    if [ $rc -eq 0 ]; then
        passed=$((passed+1)); printf 'PASS %-40s %6ss\n' "$label" "$secs"
    else
        failed=$((failed+1)); failures+=("$label")
        printf 'FAIL %-40s %6ss (exit %d)\n' "$label" "$secs" "$rc"
        tail -n 40 "$log" | sed 's/^/    | /'
    fi
    rm -f "$log"
}
run_mode() { # mode builddir [tsan-only]
    local mode=$1 dir=$2 only=${3:-}
    local t
    for src in tests/test_*.c; do
        t=$(basename "$src" .c)
        if [ -n "$only" ] && ! grep -q GORT_TEST_TSAN "$src"; then continue; fi
        if [ "$mode" != release ] && grep -q GORT_TEST_RELEASE_ONLY "$src"; then continue; fi
        [ -x "$dir/tests/$t" ] || { failed=$((failed+1)); failures+=("$mode/$t"); echo "FAIL $mode/$t (not built)"; continue; }
        # the collector's tests re-mark the heap after every cycle and abort on a missed object
        case $t in
            test_gc_*)
                # every cycle marking concurrently where the kernel tracks writes (the
                # default, auto, does so only for big heaps: the tests' are small)
                run_one "$mode/$t" env GORT_GCCHECKMARK=1 GORT_GCBARRIER=uffd "$dir/tests/$t"
                # and, in the release build, the default and the stop-the-world collector
                if [ "$mode" = release ]; then
                    run_one "$mode-auto/$t" env GORT_GCCHECKMARK=1 "$dir/tests/$t"
                    run_one "$mode-stw/$t" env GORT_GCCHECKMARK=1 GORT_GCBARRIER=none "$dir/tests/$t"
                    # a kernel that refuses the third walk of written pages: the first cycle's
                    # final walk (a cycle walks to protect, in each round, and in its final
                    # pause), which then marks everything again; the later cycles stop the world
                    case $t in
                        test_gc_concurrent|test_gc_rescan)
                            run_one "$mode-trackfail/$t" env GORT_GCCHECKMARK=1 GORT_GCBARRIER=uffd \
                                GORT_GCTRACKFAIL=3 "$dir/tests/$t" ;;
                    esac
                fi ;;
            *) run_one "$mode/$t" "$dir/tests/$t" ;;
        esac
    done
}
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:detect_deadlocks=0}
if [ "${1:-all}" = all ]; then
    run_mode release build/release
    run_mode asan build/asan
    run_mode tsan build/tsan tsan-only
    for e in build/release/examples/*; do
        [ -x "$e" ] && run_one "example/$(basename "$e")" "$e"
    done
    for s in tests/preload_*.sh tests/sh_*.sh; do
        [ -e "$s" ] || continue
        run_one "script/$(basename "$s" .sh)" bash "$s" build/release/libgort-malloc.so
    done
else
    if [ "$1" = tsan ]; then run_mode "$1" "$2" tsan-only; else run_mode "$1" "$2"; fi
fi
echo
[ ${#failures[@]} -gt 0 ] && echo "failed: ${failures[*]}"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
