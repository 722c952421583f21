#!/bin/sh
# run.sh — runs every test suite and ends with one summary line
# ("total: N passed, M failed[, K skipped]"). Called by `make test`.
#   env BUILD   build directory (build, build-address, ...)
#   env LLMNAS  the llmnas binary under test
#   $1          optional: run only suites whose file name contains it
# Each suite's output goes to $BUILD/test-logs/NAME.log; a failing suite's log
# tail is printed. Suites: C (cmocka) binaries, tests/sh/test_*.sh (the command
# line end to end), tests/lua/test_*.lua (inside llmnas).
set -u
cd "$(dirname "$0")/.." || exit 2
filter=${1:-}
logs="$BUILD/test-logs"
mkdir -p "$logs"
export LLMNAS BUILD
export LLMNAS_TEST_ROOT="$PWD"
total_pass=0
total_fail=0
total_skip=0
suite_timeout=${LLMNAS_SUITE_TIMEOUT:-1200}

# Counts from a suite log: cmocka's "[  PASSED  ] N test(s)." / "[  FAILED  ] N
# test(s)", and our own "N passed, M failed" closing lines.
count() {
    log=$1
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
    # Every closing line counts: a shell suite may run a Lua suite inside it.
    p=$((p + $(grep -E '^([a-z]+: )?[0-9]+ passed, [0-9]+ failed' "$log" |
        sed -E 's/^([a-z]+: )?([0-9]+) passed.*/\2/' | awk '{s+=$1} END {print s+0}')))
    f=$((f + $(grep -E '^([a-z]+: )?[0-9]+ passed, [0-9]+ failed' "$log" |
        sed -E 's/.* ([0-9]+) failed.*/\1/' | awk '{s+=$1} END {print s+0}')))
    s=$(grep -E '^([a-z]+: )?[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped' "$log" |
        sed -E 's/.* ([0-9]+) skipped.*/\1/' | awk '{s+=$1} END {print s+0}')
    s=$((s + $(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')))
    echo "$p $f $s"
}

run_suite() {
    name=$1
    shift
    case "$name" in *"$filter"*) ;; *) return 0 ;; esac
    log="$logs/$name.log"
    start=$(date +%s)
    timeout -k 10 "$suite_timeout" "$@" >"$log" 2>&1
    rc=$?
    secs=$(($(date +%s) - start))
    set -- $(count "$log")
    p=$1
    f=$2
    s=$3
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1  # crashed, timed out or failed before counting
        [ "$rc" -eq 124 ] && echo "  ($name timed out after ${suite_timeout}s)" >>"$log"
    fi
    [ "$p" -eq 0 ] && [ "$f" -eq 0 ] && [ "$s" -eq 0 ] && [ "$rc" -eq 0 ] && p=1
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
    total_skip=$((total_skip + s))
    if [ "$f" -eq 0 ]; then
        printf 'PASS %-28s %4d passed  %4ss%s\n' "$name" "$p" "$secs" "$([ "$s" -gt 0 ] && echo "  ($s skipped)")"
    else
        printf 'FAIL %-28s %4d passed, %d failed (exit %d)  %ss — %s\n' \
            "$name" "$p" "$f" "$rc" "$secs" "$log"
        tail -n 40 "$log" | sed 's/^/    | /'
    fi
}

for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    run_suite "$(basename "$t")" "$t"
done
for t in tests/sh/test_*.sh; do
    [ -f "$t" ] || continue
    run_suite "$(basename "$t" .sh)" sh "$t"
done
for t in tests/lua/test_*.lua; do
    [ -f "$t" ] || continue
    run_suite "$(basename "$t" .lua)" "$LLMNAS" run tests/lua/runner.lua "$t"
done

if [ "$total_skip" -gt 0 ]; then
    echo "total: $total_pass passed, $total_fail failed, $total_skip skipped"
else
    echo "total: $total_pass passed, $total_fail failed"
fi
[ "$total_fail" -eq 0 ]
