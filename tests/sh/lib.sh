# lib.sh — helpers for the command-line tests (tests/sh/test_*.sh), sourced first:
#   . "$(dirname "$0")/lib.sh"
# Gives $LLMNAS (the binary), $ROOT (the source tree), $T (a fresh temp dir, removed
# at exit), and:
#   run CMD...            runs CMD; exit code in $rc, stdout in $T/out, stderr in $T/err
#   expect_rc N DESC      the last run exited with N
#   expect_out TEXT DESC  its stdout contains TEXT (fixed string)
#   expect_err TEXT DESC  its stderr contains TEXT (fixed string)
#   pass DESC / fail DESC
#   skip DESC [N]         N (default 1) checks this machine cannot make: counted as skipped,
#                         never as passed
#   stop_pid PID...       SIGTERM, then SIGKILL after 10 s, then reap: a helper process that
#                         ignores SIGTERM must not hang the suite at a bare `wait`
# At exit it prints "N passed, M failed, K skipped" and exits 1 if anything failed
# (tests/run.sh fails a run with skips unless SKIP_OK=1).
set -u
ROOT=${LLMNAS_TEST_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
LLMNAS=${LLMNAS:-$ROOT/llmnas}
T=$(mktemp -d "${TMPDIR:-/tmp}/llmnas-test.XXXXXX")
_pass=0
_fail=0
_skip=0
rc=0

pass() { _pass=$((_pass + 1)); echo "ok   $1"; }
fail() {
    _fail=$((_fail + 1))
    echo "FAIL $1"
    if [ -f "$T/out" ]; then sed 's/^/     out| /' "$T/out" | head -n 20; fi
    if [ -f "$T/err" ]; then sed 's/^/     err| /' "$T/err" | head -n 20; fi
}
skip() { _skip=$((_skip + ${2:-1})); echo "skip $1${2:+ ($2 checks)}"; }
stop_pid() {
    for _p in "$@"; do kill "$_p" 2>/dev/null; done
    for _p in "$@"; do
        _i=0
        while kill -0 "$_p" 2>/dev/null && [ $_i -lt 100 ]; do sleep 0.1; _i=$((_i + 1)); done
        if kill -0 "$_p" 2>/dev/null; then
            echo "note: process $_p ignored SIGTERM for 10 s; killed" >&2
            kill -9 "$_p" 2>/dev/null
        fi
        wait "$_p" 2>/dev/null
    done
    return 0
}
run() { "$@" >"$T/out" 2>"$T/err" </dev/null; rc=$?; }
expect_rc() {
    if [ "$rc" -eq "$1" ]; then pass "$2 (exit $1)"; else fail "$2: exit $rc, expected $1"; fi
}
expect_out() {
    if grep -qF -- "$1" "$T/out"; then pass "$2"; else fail "$2: stdout lacks '$1'"; fi
}
expect_err() {
    if grep -qF -- "$1" "$T/err"; then pass "$2"; else fail "$2: stderr lacks '$1'"; fi
}
_finish() {
    rm -rf "$T"
    echo "$_pass passed, $_fail failed, $_skip skipped"
    [ "$_fail" -eq 0 ] || exit 1
}
trap _finish EXIT
