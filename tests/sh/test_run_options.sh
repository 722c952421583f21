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

# llmnas.setting: a --set value of the wrong type is the user's mistake — one line
# naming the setting, exit 64, no traceback and no memory (evolve.lua reads its
# options with it before anything is written).
cd "$T" || exit 1
for bad in "--set abort=maybe:--set abort=maybe: expected on or off" \
    "--population x:--set population=x: expected a number" \
    "--population 0:--set population=0: expected a positive integer" \
    "--sample 2.5:--set sample=2.5: expected a positive integer"; do
    arg=${bad%%:*}
    # shellcheck disable=SC2086
    run "$LLMNAS" run "$ROOT/examples/evolve.lua" --db opt.db --iterations 1 $arg
    expect_rc 64 "evolve.lua $arg is refused"
    expect_err "${bad#*:}" "evolve.lua $arg: it says what is wrong"
    if grep -q "traceback" "$T/err" || [ -e opt.db ]; then fail "evolve.lua $arg: a traceback or a memory"; else
        pass "evolve.lua $arg: no traceback, no memory"; fi
done
printf 'local llmnas = require "llmnas"\nprint("n", llmnas.setting("n", 2, { positive_integer = true }))\n' >"$T/set.lua"
run "$LLMNAS" run "$T/set.lua" --set n=5
expect_out "n	5" "a valid --set value is read with its default's type"
