# test_parallel.sh: --workers N on real worker processes, the real dataset, real LMDB and
# the test LLM server over loopback: failures stay local (a crash, a hang past the
# deadline and a memory limit among six candidates on four workers), kill -9 of the
# parent with candidates in flight then --resume gives the records of an uninterrupted
# run, Ctrl-C stops every worker and prints the resume command, and a recorded parallel
# run replays to the same records.
. "$(dirname "$0")/lib.sh"
cd "$ROOT" || exit 1

json_of() { "$LLMNAS" show --db "$1" --format json "${2:-1}"; }
# The records of a run as "proposal:status:kind" lines, in commit order.
statuses() {
    json_of "$1" | /usr/bin/python3 -c '
import json, sys
for r in json.load(sys.stdin)["history"]:
    print("%s:%s:%s:%s" % (r.get("proposal"), r["status"], r.get("error_kind") or "-", r.get("worker") or "-"))'
}
# No process of ours still running for this db (workers die with their parent).
no_workers() {
    i=0
    while pgrep -f -- "--db $1( |\$)" >/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    if pgrep -f -- "--db $1( |\$)" >/dev/null; then fail "$2: processes left: $(pgrep -f -- "--db $1")"; else pass "$2"; fi
}

# ---- failures stay local -----------------------------------------------------------
run "$LLMNAS" run tests/e2e/parallel_faults.lua --db "$T/faults" --workers 4
expect_rc 0 "six candidates on four workers, three of them failing"
statuses "$T/faults" | sort -n >"$T/st"
cat "$T/st"
grep -q '^1:ok:' "$T/st" && grep -q '^5:ok:' "$T/st" && grep -q '^6:ok:' "$T/st" &&
    pass "the healthy candidates finished" || fail "healthy candidates: $(cat "$T/st")"
grep -q '^2:failed:crashed:' "$T/st" && pass "the crashed worker cost its candidate only" ||
    fail "crash: $(grep '^2:' "$T/st")"
grep -q '^3:failed:timeout:' "$T/st" && pass "the hanging worker hit its deadline" ||
    fail "hang: $(grep '^3:' "$T/st")"
if grep -q '^4:failed:limit_memory:\|^4:failed:crashed:' "$T/st"; then
    pass "the worker over its memory limit failed alone"
else
    fail "memory: $(grep '^4:' "$T/st")"
fi
[ "$(cut -d: -f4 "$T/st" | sort -u | grep -c '^[1-4]$')" -ge 3 ] && pass "several workers were used" ||
    fail "workers: $(cut -d: -f4 "$T/st" | tr '\n' ' ')"

run "$LLMNAS" show --db "$T/faults" 1
expect_out "workers        4: busy" "llmnas show reports the workers' utilisation"
busy=$(json_of "$T/faults" | /usr/bin/python3 -c 'import json,sys; u=json.load(sys.stdin)["utilisation"]; print(int(0 < u["busy"] <= 1 and u["train_seconds"] > 0))')
[ "$busy" = 1 ] && pass "the JSON has the busy fraction" || fail "utilisation: $busy"

# ---- kill -9 with candidates in flight, then --resume ------------------------------
EVOLVE="examples/evolve.lua --workers 2 --order iteration --iterations 6 --set subset=600 --set population=3"
run "$LLMNAS" run $EVOLVE --db "$T/whole"
expect_rc 0 "an uninterrupted parallel run"
# emptied here: the background job truncates it only once it has started, and the
# wait below must not see the previous run's progress lines
: >"$T/out"
"$LLMNAS" run $EVOLVE --db "$T/killed" >"$T/out" 2>"$T/err" &
pid=$!
i=0
while ! grep -q "iter 2/6" "$T/out" 2>/dev/null && [ $i -lt 3000 ]; do sleep 0.1; i=$((i + 1)); done
kill -9 "$pid"
wait "$pid" 2>/dev/null
no_workers "$T/killed" "kill -9 of the parent takes its workers with it"
pending=$(json_of "$T/killed" | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["history"]))')
[ "$pending" -ge 2 ] && [ "$pending" -lt 6 ] && pass "killed after $pending of 6 records" ||
    fail "killed after $pending records"
run "$LLMNAS" run $EVOLVE --db "$T/killed" --resume
expect_rc 0 "--resume after kill -9"
run "$LLMNAS" run tests/e2e/compare_runs.lua "$T/whole" 1 "$T/killed" 1 ignore-cache-hits
expect_rc 0 "the resumed run has the uninterrupted run's records"
expect_out "same 6 records" "nothing lost, nothing committed twice"

# ---- Ctrl-C stops every worker and says how to resume -------------------------------
# emptied here: the background job truncates it only once it has started, and the
# wait below must not see the previous run's progress lines
: >"$T/out"
"$LLMNAS" run $EVOLVE --db "$T/int" >"$T/out" 2>"$T/err" &
pid=$!
i=0
while ! grep -q "iter 1/6" "$T/out" 2>/dev/null && [ $i -lt 3000 ]; do sleep 0.1; i=$((i + 1)); done
kill -INT "$pid"
wait "$pid"
rc=$?
expect_rc 130 "Ctrl-C stops a parallel search"
expect_err "resume with: llmnas run examples/evolve.lua --resume --db $T/int" "it prints the command that resumes"
no_workers "$T/int" "no worker outlives Ctrl-C"
run "$LLMNAS" run $EVOLVE --db "$T/int" --resume
expect_rc 0 "--resume after Ctrl-C"
run "$LLMNAS" run tests/e2e/compare_runs.lua "$T/whole" 1 "$T/int" 1 ignore-cache-hits
expect_rc 0 "the run resumed after Ctrl-C has the uninterrupted run's records"

# ---- record, then replay a parallel run with the LLM ----------------------------------
/usr/bin/python3 tests/e2e/example_replies.py "$T/replies.jsonl"
/usr/bin/python3 tests/llm_server.py --replies "$T/replies.jsonl" --requests "$T/requests.jsonl" \
    --port-file "$T/port" --lifetime 900 --watch-pid $$ --loop &
srv=$!
i=0
while [ ! -s "$T/port" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
URL="http://127.0.0.1:$(cat "$T/port")/v1"
PAPER="examples/paper.lua --workers 2 --iterations 4 --set subset=600 --model test-model --db $T/paper"
run "$LLMNAS" run $PAPER --base-url "$URL" --llm-cache record
expect_rc 0 "a parallel paper run, recorded"
stop_pid "$srv"
run "$LLMNAS" run $PAPER --base-url "http://127.0.0.1:9/v1" --llm-cache replay
expect_rc 0 "its replay, with no server"
run "$LLMNAS" run tests/e2e/compare_runs.lua "$T/paper" 1 "$T/paper" 2 ignore-cache-hits
expect_rc 0 "the replay commits the recorded run's records"
expect_out "same 4 records" "all four"
