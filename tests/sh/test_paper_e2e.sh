# test_paper_e2e.sh: examples/paper.lua end to end — real LLM client against the
# scripted test server, real sandboxed compiles, real training on a Fashion-MNIST subset,
# real LMDB memory. Checks the records, triples, best, cache hit and prompts (DESIGN §1),
# a replayed run (no network) giving identical records, a run retrained in a fresh store
# giving identical records (deterministic training), and a run killed with SIGKILL in
# the middle of an iteration that, resumed, ends with the records of an uninterrupted run.
. "$(dirname "$0")/lib.sh"
cd "$ROOT" || exit 1
SUBSET=1500  # repair=0 below: the paper's loop (the repair round has its own test)

start_server() {  # $1 = name
    rm -f "$T/port.$1"
    /usr/bin/python3 tests/llm_server.py --replies "$T/replies.jsonl" --requests "$T/requests.$1.jsonl" \
        --port-file "$T/port.$1" --lifetime 600 --watch-pid $$ &
    srv=$!
    i=0
    while [ ! -s "$T/port.$1" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
    export LLMNAS_BASE_URL="http://127.0.0.1:$(cat "$T/port.$1")/v1" LLMNAS_MODEL=test-model
}
stop_server() { stop_pid "$srv"; }

/usr/bin/python3 tests/e2e/paper_replies.py "$T/replies.jsonl"

# 1. The run, recording LLM replies.
start_server a
run "$LLMNAS" run examples/paper.lua --db "$T/db" --iterations 6 --set subset=$SUBSET --set repair=0 --llm-cache record
expect_rc 0 "paper.lua runs 6 iterations against the test server"
expect_out "iter 6/6" "one line per iteration"
expect_out "best: iteration" "the run ends with the best architecture"
stop_server
n=$(wc -l <"$T/requests.a.jsonl")
[ "$n" -eq 12 ] && pass "12 LLM requests (generator + improver per iteration)" || fail "$n LLM requests, expected 12"
# check_paper's own closing line is counted by tests/run.sh; its exit status is checked
# here, so that a crash before that line (its checks never run) fails this suite.
PAPER_DB="$T/db" PAPER_RUN=1 "$LLMNAS" run tests/lua/runner.lua tests/e2e/check_paper.lua
check_rc=$?
[ "$check_rc" -eq 0 ] && pass "check_paper.lua ran to its end (exit 0)" ||
    fail "check_paper.lua exited $check_rc"

# 2. Replay: no server at all; the same records come back from the cache.
unset LLMNAS_BASE_URL
export LLMNAS_BASE_URL="http://127.0.0.1:9/v1"
run "$LLMNAS" run examples/paper.lua --db "$T/db" --iterations 6 --set subset=$SUBSET --set repair=0 --llm-cache replay
expect_rc 0 "the replayed run needs no network"
run "$LLMNAS" run tests/e2e/compare_runs.lua "$T/db" 1 "$T/db" 2 ignore-cache-hits
expect_rc 0 "a replayed run gives identical records"
expect_out "same 6 records" "all six records compared"

# 2b. The same replies into a FRESH store (no evaluation cache, no LLM cache): every
# candidate is compiled and trained again, and the records must be the same, cache hits
# included: this is what proves the training deterministic (the replay above reads every
# metric back from the cache).
start_server c
run "$LLMNAS" run examples/paper.lua --db "$T/fresh" --iterations 6 --set subset=$SUBSET --set repair=0
expect_rc 0 "the run again, into a fresh store"
stop_server
run "$LLMNAS" run tests/e2e/compare_runs.lua "$T/db" 1 "$T/fresh" 1
expect_rc 0 "retrained in a fresh store, the records are identical (deterministic training)"
expect_out "same 6 records" "all six records compared"

# 3. Killed with SIGKILL in the middle of iteration 4, then resumed.
start_server b
KILL_AT=4 run "$LLMNAS" run tests/e2e/paper_killed.lua --db "$T/killed" --iterations 6 --set subset=$SUBSET --set repair=0 \
    --llm-cache record
expect_rc 137 "the run died of SIGKILL in iteration 4"
run "$LLMNAS" run tests/e2e/paper_killed.lua --db "$T/killed" --iterations 6 --set subset=$SUBSET --set repair=0 \
    --llm-cache record --resume
expect_rc 0 "--resume finishes the run"
expect_out "resuming run 1 at iteration 4" "the resumed run starts at the iteration that was lost"
stop_server
run "$LLMNAS" run tests/e2e/compare_runs.lua "$T/db" 1 "$T/killed" 1
expect_rc 0 "the resumed run's records equal the uninterrupted run's"
