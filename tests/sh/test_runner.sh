# test_runner.sh: tests/run.sh itself, on a scratch tree of fake suites: the closing line
# counts passes, failures and skips; a suite that prints no counts fails (even exiting 0);
# a skip fails the run unless SKIP_OK=1; a crash after its counts still fails; KIND/NAME
# runs one suite; each suite has its own log even when a C, a shell and a Lua suite share
# a name.
. "$(dirname "$0")/lib.sh"

tree="$T/tree"
mkdir -p "$tree/tests/sh" "$tree/tests/lua" "$tree/build/tests"
cp "$ROOT/tests/run.sh" "$tree/tests/run.sh"
fake() {  # NAME BODY: a shell suite
    printf '%s\n' "$2" >"$tree/tests/sh/$1.sh"
}
runner() {  # [ENV=...] FILTER: runs the copy; output in $T/out, exit in $rc
    rm -rf "$tree/build/test-logs"
    (cd "$tree" && env BUILD=build LLMNAS=/bin/false "$@" sh tests/run.sh "$filter") >"$T/out" 2>&1
    rc=$?
}
closing() { tail -n 1 "$T/out"; }

fake test_good 'echo "3 passed, 0 failed, 0 skipped"'
filter=test_good runner
[ "$rc" -eq 0 ] && [ "$(closing)" = "total: 3 passed, 0 failed, 0 skipped" ] &&
    pass "a passing suite: its counts in the closing line, exit 0" ||
    fail "passing suite: exit $rc, '$(closing)'"

fake test_silent 'echo "all good"; exit 0'
filter=test_silent runner
[ "$rc" -ne 0 ] && [ "$(closing)" = "total: 0 passed, 1 failed, 0 skipped" ] &&
    pass "a suite that prints no counts fails, though it exits 0" ||
    fail "silent suite: exit $rc, '$(closing)'"

fake test_skips 'echo "skip no torch"; echo "2 passed, 0 failed, 1 skipped"'
filter=test_skips runner
[ "$rc" -ne 0 ] && [ "$(closing)" = "total: 2 passed, 0 failed, 1 skipped" ] &&
    pass "a skip fails the run" || fail "skip: exit $rc, '$(closing)'"
grep -q "SKIP_OK=1" "$T/out" && pass "and says how to allow skips" || fail "no SKIP_OK hint"
filter=test_skips runner SKIP_OK=1
[ "$rc" -eq 0 ] && [ "$(closing)" = "total: 2 passed, 0 failed, 1 skipped" ] &&
    pass "SKIP_OK=1 allows it, still counted as skipped" || fail "SKIP_OK=1: exit $rc, '$(closing)'"

fake test_crash 'echo "4 passed, 0 failed, 0 skipped"; exit 3'
filter=test_crash runner
[ "$rc" -ne 0 ] && [ "$(closing)" = "total: 4 passed, 1 failed, 0 skipped" ] &&
    pass "a suite exiting non-zero after its counts fails" || fail "crash: exit $rc, '$(closing)'"

fake test_fails 'echo "5 passed, 2 failed, 0 skipped"; exit 1'
filter=test_fails runner
[ "$rc" -ne 0 ] && [ "$(closing)" = "total: 5 passed, 2 failed, 0 skipped" ] &&
    pass "failures are summed" || fail "failures: exit $rc, '$(closing)'"

printf '#!/bin/sh\necho "[  PASSED  ] 2 test(s)."\necho "[  SKIPPED ] 1 test(s)."\n' \
    >"$tree/build/tests/test_good"
chmod +x "$tree/build/tests/test_good"
filter=test_good runner SKIP_OK=1
[ "$(closing)" = "total: 5 passed, 0 failed, 1 skipped" ] &&
    pass "cmocka's counts (passed, skipped) are read too" || fail "cmocka counts: '$(closing)'"
[ -f "$tree/build/test-logs/c-test_good.log" ] && [ -f "$tree/build/test-logs/sh-test_good.log" ] &&
    pass "a C and a shell suite of one name write two logs" || fail "logs: $(ls "$tree/build/test-logs")"
filter=sh/test_good runner
[ "$(closing)" = "total: 3 passed, 0 failed, 0 skipped" ] &&
    pass "KIND/NAME runs that one suite" || fail "sh/test_good: '$(closing)'"
