#!/bin/sh
# run.sh — runs every test suite and ends with one summary line
# ("total: N passed, M failed, K skipped"). Called by `make test`.
#   env BUILD      build directory (build, build-address, ...)
#   env LLMNAS     the llmnas binary under test
#   env SKIP_OK=1  skipped checks do not fail the run (a machine without, e.g., PyTorch).
#                  Without it a skip fails the run: `make deps` installs everything every
#                  check needs, so a skip on such a machine is a missing install step.
#   $1             optional: run only suites whose file name contains it, or, given as
#                  KIND/NAME (c/test_train, sh/test_train, lua/test_train), that one suite
# Each suite's output goes to its own $BUILD/test-logs/KIND-NAME.log (KIND c, sh or lua:
# test_train exists as all three); a failing suite's log tail is
# printed. A suite passes only if it prints counts (cmocka's, or our "N passed, M failed[,
# K skipped]" closing lines), none failed and it exits 0: a suite that prints no counts
# FAILS (what it checked is unknown). Suites: C (cmocka) binaries, tests/sh/test_*.sh (the
# command line end to end), tests/lua/test_*.lua (inside llmnas).
set -u
cd "$(dirname "$0")/.." || exit 2
filter=${1:-}
logs="$BUILD/test-logs"
mkdir -p "$logs"
logs_abs=$(cd "$logs" && pwd)  # the suites' processes run in other directories
export LLMNAS BUILD
export LLMNAS_TEST_ROOT="$PWD"
total_pass=0
total_fail=0
total_skip=0
suite_timeout=${LLMNAS_SUITE_TIMEOUT:-1200}

# Counts from a suite log: cmocka's "[  PASSED  ] N test(s)." / "[  FAILED  ] N
# test(s)" / "[  SKIPPED ] N test(s)", and our own "N passed, M failed[, K skipped]"
# closing lines.
count() {
    log=$1
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
    # Every closing line counts: a shell suite may run a Lua suite inside it.
    p=$((p + $(grep -E '^([a-z]+: )?[0-9]+ passed, [0-9]+ failed' "$log" |
        sed -E 's/^([a-z]+: )?([0-9]+) passed.*/\2/' | awk '{s+=$1} END {print s+0}')))
    f=$((f + $(grep -E '^([a-z]+: )?[0-9]+ passed, [0-9]+ failed' "$log" |
        sed -E 's/^([a-z]+: )?[0-9]+ passed, ([0-9]+) failed.*/\2/' | awk '{s+=$1} END {print s+0}')))
    s=$(grep -E '^([a-z]+: )?[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped' "$log" |
        sed -E 's/.* ([0-9]+) skipped.*/\1/' | awk '{s+=$1} END {print s+0}')
    s=$((s + $(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')))
    echo "$p $f $s"
}

run_suite() {  # KIND NAME CMD...
    kind=$1
    name=$2
    shift 2
    case "$filter" in
        */*) [ "$filter" = "$kind/$name" ] || return 0 ;;  # kind/name: that suite only
        *) case "$name" in *"$filter"*) ;; *) return 0 ;; esac ;;
    esac
    log="$logs/$kind-$name.log"
    # Sanitizer reports go to files of their own (log_path, one per process): a finding in
    # any process of the suite fails it — a worker whose death is only a candidate's
    # failure, a command a check expects to fail, a reader in the background — not only
    # where a check reads an exit status. (Workers that tests kill with SIGSEGV on purpose
    # die of it without a report, worker.c.) A build without sanitizers ignores them.
    san="$logs_abs/$kind-$name.sanitizer"
    rm -f "$san".*
    start=$(date +%s)
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$san" \
        UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$san" \
        timeout -k 10 "$suite_timeout" "$@" >"$log" 2>&1
    rc=$?
    secs=$(($(date +%s) - start))
    set -- $(count "$log")
    p=$1
    f=$2
    s=$3
    for r in "$san".*; do
        [ -f "$r" ] || continue
        if grep -qE ' runtime error: |ERROR: [A-Za-z]+Sanitizer: ' "$r"; then
            f=$((f + 1))
            { echo "  (sanitizer report, $r:)"; cat "$r"; } >>"$log"
        fi
    done
    if [ "$p" -eq 0 ] && [ "$f" -eq 0 ] && [ "$s" -eq 0 ]; then
        f=1
        echo "  ($name printed no 'N passed, M failed' line nor cmocka counts)" >>"$log"
    fi
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1  # crashed, timed out or failed before counting
        [ "$rc" -eq 124 ] && echo "  ($name timed out after ${suite_timeout}s)" >>"$log"
    fi
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
    total_skip=$((total_skip + s))
    if [ "$f" -ne 0 ]; then
        printf 'FAIL %-32s %4d passed, %d failed (exit %d)  %ss — %s\n' \
            "$kind/$name" "$p" "$f" "$rc" "$secs" "$log"
        tail -n 40 "$log" | sed 's/^/    | /'
    elif [ "$s" -ne 0 ]; then
        printf 'SKIP %-32s %4d passed  %4ss  (%d skipped)\n' "$kind/$name" "$p" "$secs" "$s"
        grep -E '^(skip |\[  SKIPPED \])' "$log" | head -n 10 | sed 's/^/    | /'
    else
        printf 'PASS %-32s %4d passed  %4ss\n' "$kind/$name" "$p" "$secs"
    fi
}

for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    run_suite c "$(basename "$t")" "$t"
done
for t in tests/sh/test_*.sh; do
    [ -f "$t" ] || continue
    run_suite sh "$(basename "$t" .sh)" sh "$t"
done
for t in tests/lua/test_*.lua; do
    [ -f "$t" ] || continue
    run_suite lua "$(basename "$t" .lua)" "$LLMNAS" run tests/lua/runner.lua "$t"
done

status=0
[ "$total_fail" -eq 0 ] || status=1
if [ "$total_skip" -gt 0 ] && [ "${SKIP_OK:-0}" != 1 ]; then
    echo "$total_skip checks skipped: install what they need (make deps), or set SKIP_OK=1"
    echo "to accept skips on a machine that cannot run them"
    status=1
fi
echo "total: $total_pass passed, $total_fail failed, $total_skip skipped"
exit "$status"
