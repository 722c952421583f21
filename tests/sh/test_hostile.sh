# test_hostile.sh: every hostile candidate of tests/hostile/ through `llmnas check`, each
# checked on its own: it ends in the kind AND message expected.txt gives (exit 65), with a
# capped message; its temporary directory (@DIR@ in the program, also its current
# directory) holds the canary file, unchanged, and nothing else; no process of its session
# (the command and every worker it forked) is left. A normal candidate compiles after.
. "$(dirname "$0")/lib.sh"

dir="$ROOT/tests/hostile"
good="$ROOT/examples/nets/bench_small.lua"
n=0
while read -r file kinds msgs; do
    case "$file" in "#"* | "") continue ;; esac
    n=$((n + 1))
    # CPU seconds: programs that may only end by the wall-clock deadline (twice the limit)
    # get 3; the others a generous 10, so that a loaded machine still ends them by their
    # count (instruction budget, memory cap) long before the deadline.
    case "|$kinds|" in *"|timeout|"*) limit=3 ;; *) limit=10 ;; esac
    box="$T/box.$n"
    mkdir -p "$box"
    echo "canary $n" >"$box/canary"
    prog="$T/prog.$n"
    mkdir -p "$prog"
    if grep -q '@DIR@' "$dir/$file"; then
        sed "s|@DIR@|$box|g" "$dir/$file" >"$prog/$file"
    else
        cp "$dir/$file" "$prog/$file"
    fi
    # its own session: workers take their own process group, but stay in the session
    (cd "$box" && setsid -w sh -c 'echo $$ >"$0"; exec "$@"' "$T/sid" \
        "$LLMNAS" check --time-limit "$limit" "$prog/$file" >"$T/out" 2>"$T/err" </dev/null)
    rc=$?
    sid=$(cat "$T/sid")
    got=$(sed -n 's/^llmnas check: .*: \([a-z_]*\) error$/\1/p' "$T/err" | head -n 1)
    [ "$rc" -eq 0 ] && got=ok
    why=
    case "|$kinds|" in
        *"|$got|"*) ;;
        *) why="expected $kinds, got '${got:-?}' (exit $rc)" ;;
    esac
    if [ -z "$why" ] && [ "$got" != ok ] && [ "$rc" -ne 65 ]; then why="exit $rc, expected 65"; fi
    if [ -z "$why" ] && [ "$msgs" != - ]; then
        found=
        rest="$msgs|"
        while [ -n "$rest" ]; do
            m=${rest%%|*}
            rest=${rest#*|}
            grep -qF -- "$m" "$T/err" && found=1
        done
        [ -n "$found" ] || why="message lacks '$msgs'"
    fi
    if [ -z "$why" ] && [ "$got" = ok ] && [ -s "$T/err" ]; then why="compiled but wrote to stderr"; fi
    if [ -z "$why" ] && [ "$(wc -c <"$T/err")" -gt 4000 ]; then
        why="error message of $(wc -c <"$T/err") bytes is not capped"
    fi
    if [ -z "$why" ] && [ "$(cat "$box/canary" 2>/dev/null)" != "canary $n" ]; then
        why="the canary file was removed or changed"
    fi
    if [ -z "$why" ] && [ "$(ls -A "$box")" != canary ]; then
        why="files created: $(ls -A "$box" | tr '\n' ' ')"
    fi
    if [ -z "$why" ] && left=$(pgrep -s "$sid"); then
        why="processes left behind: $(echo "$left" | tr '\n' ' ')"
        pkill -KILL -s "$sid"
    fi
    if [ -n "$why" ]; then fail "$file: $why"; else pass "$file -> $got"; fi
    rm -rf "$box" "$prog"
done <"$dir/expected.txt"

[ "$n" -ge 40 ] && pass "$n hostile candidates" || fail "only $n hostile candidates"
run "$LLMNAS" check "$good"
expect_rc 0 "a normal candidate compiles after the corpus"
expect_out "Total params: 50,282" "and gives its usual figures"
