# test_hostile.sh: every hostile candidate of tests/hostile/ (expected.txt gives its kind)
# through `llmnas check`: it ends in its typed error (exit 65) within its deadline, creates
# no file, and a normal candidate still compiles right after it.
. "$(dirname "$0")/lib.sh"

dir="$ROOT/tests/hostile"
limit=3                     # --time-limit (CPU seconds; wall-clock deadline twice that)
work="$T/work"              # the current directory of every check: must stay empty
mkdir -p "$work"
rm -f /tmp/llmnas-hostile-pwned
good="$ROOT/examples/nets/bench_small.lua"
n=0
while read -r file kinds; do
    case "$file" in "#"* | "") continue ;; esac
    n=$((n + 1))
    start=$(date +%s%N)
    (cd "$work" && "$LLMNAS" check --time-limit "$limit" "$dir/$file" >"$T/out" 2>"$T/err" </dev/null)
    rc=$?
    ms=$((($(date +%s%N) - start) / 1000000))
    got=$(sed -n 's/^llmnas check: .*: \([a-z_]*\) error$/\1/p' "$T/err" | head -n 1)
    [ "$rc" -eq 0 ] && got=ok
    case "|$kinds|" in
        *"|$got|"*) ;;
        *) fail "$file: expected $kinds, got '${got:-?}' (exit $rc)"; continue ;;
    esac
    if [ "$got" != ok ] && [ "$rc" -ne 65 ]; then
        fail "$file: exit $rc, expected 65"
        continue
    fi
    if [ "$ms" -gt $(((2 * limit + 2) * 1000)) ]; then
        fail "$file: took ${ms} ms, deadline ${limit} s"
        continue
    fi
    if [ "$(wc -c <"$T/err")" -gt 4000 ]; then
        fail "$file: error message of $(wc -c <"$T/err") bytes is not capped"
        continue
    fi
    pass "$file -> $got in ${ms} ms"
done <"$dir/expected.txt"

[ "$n" -ge 40 ] && pass "$n hostile candidates" || fail "only $n hostile candidates"
if [ -z "$(ls -A "$work")" ] && [ ! -e /tmp/llmnas-hostile-pwned ]; then
    pass "no file created"
else
    fail "files created: $(ls -A "$work") $(ls /tmp/llmnas-hostile-pwned 2>/dev/null)"
fi
run "$LLMNAS" check "$good"
expect_rc 0 "a normal candidate compiles after the corpus"
expect_out "Total params: 50,282" "and gives its usual figures"
if pgrep -f "llmnas check --time-limit $limit" >/dev/null; then
    fail "worker processes left behind"
else
    pass "no worker process left behind"
fi
