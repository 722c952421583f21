# test_first_run.sh: a first run that cannot go wrong (issue #13, item 4) — the
# configuration and the endpoint are checked before the run is created (exit 78 / 69,
# one line, no traceback, nothing in the store), an endpoint that stays unreachable
# stops the run with the resume command, and an unknown option is an error wherever
# it stands, with the nearest option suggested, unless declared by the script.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
start_server() {  # start_server NAME [server options...]: $PORT, $SRV
    name=$1; shift
    rm -f "$T/$name.port"
    $PY "$ROOT/tests/llm_server.py" --port-file "$T/$name.port" --requests "$T/$name.log" \
        --lifetime 120 --watch-pid $$ "$@" >/dev/null 2>&1 &
    SRV=$!
    i=0; while [ ! -s "$T/$name.port" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
    PORT=$(cat "$T/$name.port")
}
no_store() {  # no_store DESC: the run left nothing behind
    if [ -e "$T/db" ]; then fail "$1: $T/db was created"; else pass "$1"; fi
}
one_line() {  # one_line DESC: stderr is one line, no traceback
    if [ "$(wc -l <"$T/err")" -eq 1 ] && ! grep -q "traceback" "$T/err"; then pass "$1"
    else fail "$1: stderr has $(wc -l <"$T/err") lines"; fi
}
PAPER="$ROOT/examples/paper.lua"
unset LLMNAS_BASE_URL LLMNAS_MODEL OPENAI_BASE_URL LLMNAS_API_KEY OPENAI_API_KEY

# ---- configuration: no model, no base URL --------------------------------------------
run "$LLMNAS" run "$PAPER" --iterations 1 --db "$T/db" --base-url http://127.0.0.1:9/v1
expect_rc 78 "no model: EX_CONFIG"
expect_err "no model is set: give --model NAME (or LLMNAS_MODEL)" "no model names the flag and the variable"
one_line "no model: one line"
no_store "no model: no run in the store"

run env LLMNAS_MODEL=m "$LLMNAS" run "$PAPER" --iterations 1 --db "$T/db"
expect_rc 78 "no base URL: EX_CONFIG"
expect_err "--base-url URL (or LLMNAS_BASE_URL / OPENAI_BASE_URL)" "no base URL names the flag and the variables"
one_line "no base URL: one line"
no_store "no base URL: no run in the store"

# ---- preflight: an unknown model gets the list the server offers -----------------------
start_server models --models qwen2.5-coder:7b,llama3
run "$LLMNAS" run "$PAPER" --iterations 1 --db "$T/db" --base-url "http://127.0.0.1:$PORT/v1" --model qwen
expect_rc 78 "unknown model: EX_CONFIG"
expect_err "model 'qwen' is not offered by http://127.0.0.1:$PORT/v1; it offers: qwen2.5-coder:7b, llama3" \
    "unknown model: the models the server offers"
one_line "unknown model: one line"
no_store "unknown model: no run in the store"
if grep -q '"method": "GET", "path": "/v1/models"' "$T/models.log" && ! grep -q '"POST"' "$T/models.log"; then
    pass "preflight asked GET /v1/models and sent no prompt"
else fail "preflight requests: $(cat "$T/models.log")"; fi
stop_pid "$SRV"

# A model the server lists passes, and the run goes on to the generator.
printf '"no code in this reply"\n{"reply": "{}", "repeat": 3}\n' >"$T/nocode.jsonl"
start_server listed --models m,other --replies "$T/nocode.jsonl"
run "$LLMNAS" run "$PAPER" --iterations 1 --db "$T/db3" --base-url "http://127.0.0.1:$PORT/v1" --model m
expect_rc 0 "a listed model passes the preflight"
if head -n 1 "$T/listed.log" | grep -q '"GET"' && grep -q '"POST"' "$T/listed.log"; then
    pass "the preflight comes first, then the generator's call"
else fail "listed: requests $(cat "$T/listed.log")"; fi
stop_pid "$SRV"

# ---- preflight: a server that lists no models gets one one-token request ------------------
probes() { grep '"max_tokens": 1' "$T/$1.log" | grep -c '"POST"'; }
start_server probe_ok --replies "$T/nocode.jsonl" --probe '"ok"'
run "$LLMNAS" run "$PAPER" --iterations 1 --db "$T/db4" --base-url "http://127.0.0.1:$PORT/v1" --model m
expect_rc 0 "no model list, the probe answered: the run goes on"
expect_err "does not list its models; a one-token request to 'm' was answered" "the note says how the model was checked"
if [ "$(probes probe_ok)" -eq 1 ] && head -n 1 "$T/probe_ok.log" | grep -q '"max_tokens": 1'; then
    pass "one probe, before the generator's first call"
else fail "probe_ok: requests $(cat "$T/probe_ok.log")"; fi
stop_pid "$SRV"

start_server probe_404 --probe '{"fault": "404", "message": "model \"qwen\" not found, try pulling it first"}'
run "$LLMNAS" run "$PAPER" --iterations 1 --db "$T/db" --base-url "http://127.0.0.1:$PORT/v1" --model qwen
expect_rc 78 "no model list, the probe refused: EX_CONFIG"
expect_err "rejected a one-token request for model 'qwen': HTTP 404" "unknown model: what was asked"
expect_err "model \"qwen\" not found, try pulling it first" \
    "unknown model: what the server said, and the flag"
one_line "probe refused: one line"
no_store "probe refused: no run in the store"
[ "$(probes probe_404)" -eq 1 ] && pass "a refused probe is not retried" \
    || fail "probe_404: $(probes probe_404) probes"
stop_pid "$SRV"

start_server probe_401 --probe '{"fault": "401"}'
run env LLMNAS_API_KEY=sk-canary-4343 "$LLMNAS" run "$PAPER" --iterations 1 --db "$T/db" \
    --base-url "http://127.0.0.1:$PORT/v1" --model m
expect_rc 78 "no model list, key rejected at the probe: EX_CONFIG"
expect_err "the LLM server rejected the API key read from LLMNAS_API_KEY" "probe 401: names the variable"
if grep -q "sk-canary-4343" "$T/err" "$T/out"; then fail "probe 401: the key was printed"
else pass "probe 401: the key itself is never printed"; fi
no_store "probe 401: no run in the store"
stop_pid "$SRV"

start_server probe_close --probe '{"fault": "close"}'
run "$LLMNAS" run "$PAPER" --iterations 1 --db "$T/db" --base-url "http://127.0.0.1:$PORT/v1" --model m
expect_rc 69 "no model list, the probe's connection dropped: EX_UNAVAILABLE"
expect_err "cannot reach the LLM server at http://127.0.0.1:$PORT/v1: " "probe dropped: the URL"
[ "$(probes probe_close)" -eq 1 ] && pass "a dropped probe is not retried" \
    || fail "probe_close: $(probes probe_close) probes"
no_store "probe dropped: no run in the store"
stop_pid "$SRV"

# ---- preflight: refused connection ------------------------------------------------------
# A port that was just free: nothing listens there.
DEAD=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
run "$LLMNAS" run "$PAPER" --iterations 1 --db "$T/db" --base-url "http://127.0.0.1:$DEAD/v1" --model m
expect_rc 69 "unreachable server: EX_UNAVAILABLE"
expect_err "cannot reach the LLM server at http://127.0.0.1:$DEAD/v1: " "unreachable: the URL"
expect_err "onnect" "unreachable: curl's cause (could not connect)"
one_line "unreachable: one line"
no_store "unreachable: no run in the store"

# ---- preflight: 401 names the variable read, never its value -----------------------------
start_server auth --models-status 401
run env LLMNAS_API_KEY=sk-canary-4242 "$LLMNAS" run "$PAPER" --iterations 1 --db "$T/db" \
    --base-url "http://127.0.0.1:$PORT/v1" --model m
expect_rc 78 "rejected key: EX_CONFIG"
expect_err "the LLM server rejected the API key read from LLMNAS_API_KEY" "rejected key: names the variable"
if grep -q "sk-canary-4242" "$T/err" "$T/out"; then fail "rejected key: the key was printed"
else pass "rejected key: the key itself is never printed"; fi
one_line "rejected key: one line"
no_store "rejected key: no run in the store"
run "$LLMNAS" run "$PAPER" --iterations 1 --db "$T/db" --base-url "http://127.0.0.1:$PORT/v1" --model m
expect_rc 78 "no key for a server that wants one: EX_CONFIG"
expect_err "wants an API key and none is set: set LLMNAS_API_KEY (or OPENAI_API_KEY)" \
    "no key: names the variables to set"
stop_pid "$SRV"

# ---- during a run: unreachable through an iteration's retries, twice: stop ---------------
# The server answers the preflight (it lists no models: 404), then drops every chat call.
printf '{"fault": "close", "repeat": 200}\n' >"$T/close.jsonl"
start_server drop --replies "$T/close.jsonl"
cat >"$T/fast_fail.lua" <<'LUA'
llm.configure { retries = 0 }   -- fail each call at once: the test is about the loop
local paper = require "llmnas.paper"
require("llmnas").search(paper.strategy { task = { dataset = "fashion-mnist", subset = 256 },
  budget = { iterations = 50 } })
LUA
run "$LLMNAS" run "$T/fast_fail.lua" --db "$T/db2" --base-url "http://127.0.0.1:$PORT/v1" --model m
expect_rc 69 "endpoint unreachable during the run: EX_UNAVAILABLE"
expect_err "stayed unreachable through 2 iterations' retries" "the stop says why"
expect_err "resume with: llmnas run $T/fast_fail.lua --resume --db $T/db2" "the stop gives the resume command"
if grep -q "traceback" "$T/err"; then fail "unreachable stop: traceback"; else pass "unreachable stop: no traceback"; fi
n=$(grep -c '"POST"' "$T/drop.log")
# 2 iterations x 3 proposals, and the improver's call after the first iteration: 7. The
# first proposal goes out on the preflight probe's kept-alive connection; when the server
# closes it unanswered, curl sends it once more on a fresh one (8).
if [ "$n" -eq 7 ] || [ "$n" -eq 8 ]; then pass "the run stopped after 2 iterations ($n calls), not 50"
else fail "calls before the stop: $n, expected 7 (or 8)"; fi
stop_pid "$SRV"

# ---- during a run: a key the server refuses stops it at once, in one line -----------------
printf '{"fault": "401", "repeat": 20}\n' >"$T/deny.jsonl"
start_server deny --models m --replies "$T/deny.jsonl"
run "$LLMNAS" run "$PAPER" --iterations 5 --db "$T/db5" --base-url "http://127.0.0.1:$PORT/v1" --model m
expect_rc 78 "a key refused mid-run: EX_CONFIG"
expect_err "(llm_auth): stopping the run; once it is fixed, resume with: llmnas run $PAPER --resume --db $T/db5" \
    "a refused key: why, and the resume command"
if grep -q "traceback" "$T/err"; then fail "a refused key: traceback"; else pass "a refused key: no traceback"; fi
n=$(grep -c '"POST"' "$T/deny.log")
[ "$n" -eq 1 ] && pass "a refused key is not asked again" || fail "a refused key: $n calls"
stop_pid "$SRV"

# ---- the data: an unknown dataset, a --data that does not hold it --------------------------
run "$LLMNAS" run "$ROOT/examples/evolve.lua" --dataset cifar --iterations 1 --db "$T/db"
expect_rc 64 "an unknown dataset: EX_USAGE"
expect_err "task: unknown dataset 'cifar' (known: fashion-mnist, " "unknown dataset: the known names"
one_line "unknown dataset: one line"
no_store "unknown dataset: no run in the store"
run "$LLMNAS" run "$ROOT/examples/evolve.lua" --data "$T/empty" --iterations 1 --db "$T/db"
expect_rc 66 "--data without the dataset: EX_NOINPUT, before the run exists"
expect_err "training data: dataset fashion-mnist: train-images-idx3-ubyte" "--data: what was looked for"
expect_err "not found in $T/empty/fashion-mnist, $T/empty" "--data: where it was looked for"
one_line "--data without the dataset: one line"
no_store "--data without the dataset: no run in the store"

# ---- a recipe value the trainer refuses, a strategy without propose ------------------------
run "$LLMNAS" run "$ROOT/examples/evolve.lua" --set subset=abc --iterations 1 --db "$T/db"
expect_rc 64 "--set subset=abc: EX_USAGE, before the run exists"
expect_err "recipe: subset must be an integer in [0, 1073741824] (the strategy's task and train tables, or --set)" \
    "a refused recipe value: what is wrong and where it came from"
one_line "a refused recipe value: one line"
no_store "a refused recipe value: no run in the store"
printf 'require("llmnas").search { name = "p", train = { precision = "bf17" }, budget = { iterations = 1 },\n  propose = function() return "" end }\n' >"$T/badprec.lua"
run "$LLMNAS" run "$T/badprec.lua" --db "$T/db"
expect_rc 64 "a precision the trainer refuses: EX_USAGE"
expect_err "recipe: train.precision: precision must be" "a refused precision: what is wrong"
one_line "a refused precision: one line, no traceback"
no_store "a refused precision: no run in the store"
printf 'local llmnas = require "llmnas"\nllmnas.search { name = "broken" }\n' >"$T/nopropose.lua"
run "$LLMNAS" run "$T/nopropose.lua" --db "$T/db"
expect_rc 78 "a strategy without propose: EX_CONFIG"
expect_err "$T/nopropose.lua:2: llmnas.search: the strategy needs a propose(ctx) function" \
    "a strategy's mistake names its own file and line"
one_line "a strategy's mistake: one line, no traceback into the stdlib"
no_store "a strategy's mistake: no run in the store"

# ---- unknown options, before and after the script ----------------------------------------
run "$LLMNAS" run "$ROOT/examples/evolve.lua" --iteration 1 --db "$T/db"
expect_rc 64 "a typo after the script is an error"
expect_err "unknown option '--iteration' (did you mean --iterations?)" "after the script: the nearest option"
no_store "a typo after the script runs nothing"
run "$LLMNAS" run --iteration 1 "$ROOT/examples/evolve.lua" --db "$T/db"
expect_rc 64 "a typo before the script is an error"
expect_err "unknown option '--iteration' (did you mean --iterations?)" "before the script: the nearest option"
run "$LLMNAS" run "$ROOT/examples/evolve.lua" --iterations=1 --base-ur=x --db "$T/db"
expect_err "unknown option '--base-ur=x' (did you mean --base-url?)" "the = form is suggested for too"
# --workers is an option of run again (issue 11): a bad count is refused before anything runs
run "$LLMNAS" run "$ROOT/examples/evolve.lua" --workers 0 --db "$T/db"
expect_rc 64 "--workers 0 is refused"
expect_err "option --workers needs a positive integer, got '0'" "the message says what --workers takes"
run "$LLMNAS" run "$ROOT/examples/hello.lua" --frobnicate
expect_err "unknown option '--frobnicate' (an argument for the script goes after --)" \
    "an option near nothing says how to pass it to the script"
run "$LLMNAS" run "$ROOT/examples/hello.lua" -- --iteration 1
expect_rc 0 "after --, an option-like word goes to the script"
expect_out '["--iteration","1"]' "after --: the script's arg"
run "$LLMNAS" run "$ROOT/examples/hello.lua" -5
expect_rc 0 "a negative number is a script argument"

# ---- options a script declares -----------------------------------------------------------
cat >"$T/decl.lua" <<'LUA'
--@option --population N   individuals per generation
--@option --greedy         keep the best always
local set = require("llmnas").options().set
print("population", set.population, math.type(set.population), "greedy", set.greedy, "arg", #arg)
LUA
run "$LLMNAS" run "$T/decl.lua" --population 4 --greedy
expect_rc 0 "declared options are accepted"
expect_out "population	4	integer	greedy	true	arg	0" "a declared option is --set NAME=VALUE, a flag true"
run "$LLMNAS" run --population=6 "$T/decl.lua"
expect_out "population	6	integer" "a declared option before the script (= form)"
run "$LLMNAS" run "$T/decl.lua" --populaton 4
expect_rc 64 "a typo of a declared option is an error"
expect_err "did you mean --population?" "the typo of a declared option: the declared name suggested"
run "$LLMNAS" run "$T/decl.lua" --help
expect_rc 0 "run SCRIPT --help"
expect_out "options of $T/decl.lua:" "--help names the script"
expect_out "--population N" "--help lists a declared option with its value"
expect_out "individuals per generation (--set population=...)" "--help gives the help text and the setting"
run "$LLMNAS" run "$ROOT/examples/evolve.lua" --help
expect_out "--population N" "evolve.lua declares --population"
printf -- '--@option population N oops\nprint(1)\n' >"$T/bad_decl.lua"
run "$LLMNAS" run "$T/bad_decl.lua"
expect_rc 65 "a malformed declaration is a script error"
expect_err "bad_decl.lua:1: a declaration reads" "a malformed declaration names the line"
