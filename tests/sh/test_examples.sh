# test_examples.sh: every example runs — the LLM ones against the scripted test server for
# two iterations on a small subset — and Ctrl-C stops a search cleanly, says how to resume,
# and --resume continues at the next iteration.
. "$(dirname "$0")/lib.sh"
cd "$ROOT" || exit 1

/usr/bin/python3 tests/e2e/example_replies.py "$T/replies.jsonl"
/usr/bin/python3 tests/llm_server.py --replies "$T/replies.jsonl" --requests "$T/requests.jsonl" \
    --port-file "$T/port" --lifetime 600 --watch-pid $$ --loop &
srv=$!
i=0
while [ ! -s "$T/port" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
export LLMNAS_BASE_URL="http://127.0.0.1:$(cat "$T/port")/v1" LLMNAS_MODEL=test-model

requests() { if [ -f "$T/requests.jsonl" ]; then wc -l <"$T/requests.jsonl"; else echo 0; fi; }

for ex in paper custom_prompt pareto topk_memory parallel_llm; do
    before=$(requests)
    run "$LLMNAS" run "examples/$ex.lua" --db "$T/db-$ex" --iterations 2 --set subset=600
    expect_rc 0 "examples/$ex.lua runs"
    expect_out "iter 2/2" "examples/$ex.lua ran two iterations"
    eval "n_$ex=$(($(requests) - before))"
    cp "$T/out" "$T/out-$ex"
done
[ "$n_paper" -eq 4 ] && pass "paper: a generator and an improver call per iteration" ||
    fail "paper made $n_paper requests, expected 4"
[ "$n_parallel_llm" -eq 6 ] && pass "parallel_llm: two generator calls and an improver call per iteration" ||
    fail "parallel_llm made $n_parallel_llm requests, expected 6"
grep -q "at most 100k parameters" "$T/requests.jsonl" && pass "custom_prompt's own template reached the LLM" ||
    fail "custom_prompt's template was not sent"
grep -q "suggestion that led to it" "$T/requests.jsonl" && pass "topk_memory shows the top-k memory" ||
    fail "topk_memory's window was not sent"
grep -q "Pareto front (accuracy vs params):" "$T/out-pareto" && pass "pareto prints its front" ||
    fail "pareto did not print its front"

run "$LLMNAS" run examples/hello.lua
expect_rc 0 "examples/hello.lua runs"

# Ctrl-C in the middle of a search: a clean stop, the resume command, then --resume.
"$LLMNAS" run examples/paper.lua --db "$T/db-int" --iterations 50 --set subset=600 >"$T/out" 2>"$T/err" &
pid=$!
i=0
while ! grep -q "iter  2/50" "$T/out" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
kill -INT "$pid"
wait "$pid"
rc=$?
expect_rc 130 "Ctrl-C stops the search"
expect_err "interrupted" "it says it was interrupted"
expect_err "resume with: llmnas run examples/paper.lua --resume --db $T/db-int" "it prints the command that resumes"
done_iters=$("$LLMNAS" show --db "$T/db-int" --format json 1 | /usr/bin/python3 -c \
    'import json,sys; print(len(json.load(sys.stdin)["history"]))')
run "$LLMNAS" run examples/paper.lua --db "$T/db-int" --iterations $((done_iters + 1)) --set subset=600 --resume
expect_rc 0 "--resume after Ctrl-C"
expect_out "resuming run 1 at iteration $((done_iters + 1))" "the run continues at the next iteration"

stop_pid "$srv"
