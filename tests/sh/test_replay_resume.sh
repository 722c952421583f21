# test_replay_resume.sh: a run that asks the LLM the same prompt again and again
# (identical requests get their own recorded replies by occurrence number), recorded
# uninterrupted, then replayed with --llm-cache replay, killed with SIGKILL after its
# third commit and resumed: the resumed process must count the requests made before the
# stop, so that iterations 4.. replay replies 4.. — not replies 1.. again (the soak
# found that: occurrence numbers were counted per process). Real LLM client and test
# server, real store; fake compile and training (tests/lua/fakes.lua).
. "$(dirname "$0")/lib.sh"
cd "$ROOT" || exit 1
N=6
cat >"$T/strategy.lua" <<LUA
package.path = "$ROOT/tests/lua/?.lua;" .. package.path
local F = require "fakes"
local kill_at = tonumber(os.getenv("KILL_AT") or "")
require("llmnas.search").search({ name = "same-prompt", quiet = true, budget = { iterations = $N },
  env = { arch = F.arch(), train = F.train() },
  propose = function(ctx)
    local reply, err, kind = ctx:chat { messages = { { role = "user", content = "the same prompt" } } }
    if not reply then return nil, err, kind end
    return ("net %s 0.5"):format(reply)
  end,
  on_iteration = function(ctx)
    if ctx.iteration == kill_at then
      local pid = io.open("/proc/self/stat"):read("l"):match("^(%d+)")
      os.execute("kill -9 " .. pid)
    end
  end })
LUA
cat >"$T/replies.lua" <<'LUA'
-- replies.lua DB RUN: the replies of RUN's records, in order
local db = assert(memory.open(arg[1], { readonly = true }))
local out = {}
for r in db:iter(tonumber(arg[2])) do out[#out + 1] = r.prompts[1].reply end
print("replies " .. table.concat(out, " "))
LUA
for i in 1 2 3 4 5 6; do echo "\"r$i\""; done >"$T/replies.jsonl"
/usr/bin/python3 tests/llm_server.py --replies "$T/replies.jsonl" --requests "$T/requests.jsonl" \
    --port-file "$T/port" --lifetime 300 --watch-pid $$ >/dev/null &
srv=$!
i=0
while [ ! -s "$T/port" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
export LLMNAS_BASE_URL="http://127.0.0.1:$(cat "$T/port")/v1" LLMNAS_MODEL=test-model

run "$LLMNAS" run "$T/strategy.lua" --db "$T/db" --llm-cache record
expect_rc 0 "the recorded run"
run "$LLMNAS" run "$T/replies.lua" "$T/db" 1
expect_out "replies r1 r2 r3 r4 r5 r6" "each repetition of the prompt got the next reply"
kill "$srv" 2>/dev/null
wait "$srv" 2>/dev/null

export LLMNAS_BASE_URL="http://127.0.0.1:9/v1"   # replay: no server at all
KILL_AT=3 run "$LLMNAS" run "$T/strategy.lua" --db "$T/db" --llm-cache replay
expect_rc 137 "the replay died of SIGKILL after its third commit"
run "$LLMNAS" run "$T/strategy.lua" --db "$T/db" --llm-cache replay --run 2
expect_rc 0 "the replay, resumed, finishes"
run "$LLMNAS" run "$T/replies.lua" "$T/db" 2
expect_out "replies r1 r2 r3 r4 r5 r6" "the resumed replay replays replies 4 to 6 after the stop, as the recording had them"
