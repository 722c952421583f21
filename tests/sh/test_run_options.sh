# test_run_options.sh: the options of `llmnas run` reach the LLM client through
# llm.configure called by the stdlib (llmnas.start), not by C reading a Lua
# table: --base-url/--model show in llm.config(), a script's llm.configure beats
# them, and changing package.loaded["llmnas.options"] afterwards changes nothing.
# One SIGINT path: `llmnas train` interrupted by Ctrl-C stops with exit 130.
. "$(dirname "$0")/lib.sh"

cat >"$T/cfg.lua" <<'LUA'
local c = llm.config()
print("base", c.base_url, "model", c.model, "mode", c.cache_mode)
package.loaded["llmnas.options"].model = "changed-in-the-table"
print("after-table", llm.config().model)
llm.configure { model = "script-model" }
print("after-configure", llm.config().model)
LUA
run env -u LLMNAS_MODEL -u LLMNAS_BASE_URL -u OPENAI_BASE_URL LLMNAS_MODEL=env-model \
    "$LLMNAS" run "$T/cfg.lua" --base-url http://127.0.0.1:9/v1 --model flag-model
expect_rc 0 "run with --base-url and --model"
expect_out "base	http://127.0.0.1:9/v1	model	flag-model" "the flags reach llm.config() (beating LLMNAS_MODEL)"
expect_out "after-table	flag-model" "the C client reads no options table"
expect_out "after-configure	script-model" "the script's llm.configure beats the flags"

run env LLMNAS_MODEL=env-model "$LLMNAS" run "$T/cfg.lua"
expect_out "model	env-model" "without flags the environment is used"

FM=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
if [ -r "$FM" ]; then
    "$LLMNAS" train "$ROOT/examples/nets/bench_small.lua" --epochs 50 --threads 1 >"$T/out" 2>"$T/err" &
    pid=$!
    sleep 8  # compiled and training by then (no wall-clock assertion: only the exit is checked)
    kill -INT "$pid"
    wait "$pid"
    rc=$?
    expect_rc 130 "Ctrl-C stops llmnas train"
    expect_err "interrupted" "and says so"
else
    skip "Fashion-MNIST not installed: llmnas train Ctrl-C"
fi
