#!/bin/sh
# test_llm_cli.sh — the LLM client end to end through `llmnas run`: flags and environment
# precedence, the key, --llm-cache record/replay, a canary key that must leak nowhere,
# and Ctrl-C during a wait. Every call goes to tests/llm_server.py on 127.0.0.1.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
CANARY=sk-canary-sh-93be7f1d04
SERVERS=""

# start_server NAME LINE... : replies NAME.jsonl, log NAME.log, port in $PORT, URL in $URL
start_server() {
    name=$1
    shift
    : >"$T/$name.jsonl"
    for line in "$@"; do printf '%s\n' "$line" >>"$T/$name.jsonl"; done
    rm -f "$T/$name.port"
    "$PY" "$ROOT/tests/llm_server.py" --replies "$T/$name.jsonl" --requests "$T/$name.log" \
        --port-file "$T/$name.port" --lifetime 120 --watch-pid $$ >/dev/null 2>&1 &
    SERVERS="$SERVERS $!"
    i=0
    while [ ! -s "$T/$name.port" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
    PORT=$(cat "$T/$name.port")
    URL="http://127.0.0.1:$PORT/v1"
}
stop_servers() {
    # shellcheck disable=SC2086
    stop_pid $SERVERS
    SERVERS=""
}
trap 'stop_servers; _finish' EXIT
calls() { wc -l <"$T/$1.log" | tr -d ' '; }
sha() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

# A strategy that asks one question and prints the reply or the failure.
cat >"$T/ask.lua" <<'EOF'
local cache = os.getenv("ASK_CACHE")
if cache then llm.configure{ cache = cache } end
llm.configure{ retries = tonumber(os.getenv("ASK_RETRIES") or "2"), backoff_base = 0.05,
  backoff_cap = 0.2, jitter = false }
for i = 1, tonumber(os.getenv("ASK_N") or "1") do
  local reply, info, kind = llm.chat{ messages = { { role = "user", content = "question " .. i } },
    temperature = 0.7, seed = 43, role = "generator" }
  if reply then
    print(("reply %d: %s (cached %s, model %s)"):format(i, reply, tostring(info.cached), info.model))
  else
    print(("failed %d: %s: %s"):format(i, kind, info))
  end
end
local u = llm.usage().generator
print(("usage: %d calls, %d failures, %d retries"):format(u.calls, u.failures, u.retries))
EOF

unset LLMNAS_BASE_URL LLMNAS_MODEL LLMNAS_API_KEY OPENAI_BASE_URL OPENAI_API_KEY LLMNAS_LLM_LOG

# ---- configuration precedence -----------------------------------------------------
start_server a '"from the flags"' '"from LLMNAS_BASE_URL"' '"from OPENAI_BASE_URL"' '"key check"' \
    '"no key"'
DEAD="http://127.0.0.1:9/v1"
run env LLMNAS_BASE_URL="$DEAD" LLMNAS_MODEL=env-model "$LLMNAS" run "$T/ask.lua" \
    --base-url "$URL" --model flag-model
expect_rc 0 "--base-url and --model beat the environment"
expect_out "reply 1: from the flags (cached false, model flag-model)" "the flag's model is used"

run env LLMNAS_BASE_URL="$URL" OPENAI_BASE_URL="$DEAD" LLMNAS_MODEL=env-model "$LLMNAS" run "$T/ask.lua"
expect_out "reply 1: from LLMNAS_BASE_URL (cached false, model env-model)" \
    "LLMNAS_BASE_URL beats OPENAI_BASE_URL; LLMNAS_MODEL is used"

run env OPENAI_BASE_URL="$URL" LLMNAS_MODEL=m "$LLMNAS" run "$T/ask.lua"
expect_out "reply 1: from OPENAI_BASE_URL" "OPENAI_BASE_URL is the fallback"

run env LLMNAS_BASE_URL="$URL" LLMNAS_MODEL=m LLMNAS_API_KEY=k-llmnas OPENAI_API_KEY=k-openai \
    "$LLMNAS" run "$T/ask.lua"
if grep -q "\"key_sha256\": \"$(sha k-llmnas)\"" "$T/a.log"; then
    pass "LLMNAS_API_KEY beats OPENAI_API_KEY (sent as a Bearer token)"
else
    fail "LLMNAS_API_KEY was not the key sent"
fi
run env LLMNAS_BASE_URL="$URL" LLMNAS_MODEL=m "$LLMNAS" run "$T/ask.lua"
if tail -n 1 "$T/a.log" | grep -q '"auth": "none"'; then
    pass "no key: no Authorization header"
else
    fail "an Authorization header was sent without a key"
fi
[ "$(calls a)" -eq 5 ] && pass "five runs, five requests" || fail "expected 5 requests, got $(calls a)"

run env LLMNAS_MODEL=m "$LLMNAS" run "$T/ask.lua"
expect_out "failed 1: llm_config: no LLM endpoint" "no endpoint: a configuration failure that says what to set"
stop_servers

# ---- record, then replay without a server -----------------------------------------
start_server rec '"answer one"' '"answer two"'
run env ASK_CACHE="$T/cache" ASK_N=2 LLMNAS_MODEL=m "$LLMNAS" run "$T/ask.lua" --base-url "$URL" \
    --llm-cache record
expect_out "reply 2: answer two (cached false" "record: replies from the server"
n=$(ls "$T/cache" | wc -l)
[ "$n" -eq 2 ] && pass "record: two entries stored" || fail "record: $n entries stored"
stop_servers
run env ASK_CACHE="$T/cache" ASK_N=2 LLMNAS_MODEL=m "$LLMNAS" run "$T/ask.lua" --base-url "$DEAD" \
    --llm-cache replay
expect_out "reply 1: answer one (cached true" "replay: the first reply, from the cache"
expect_out "reply 2: answer two (cached true" "replay: the second reply, from the cache"
run env ASK_CACHE="$T/cache" ASK_N=3 LLMNAS_MODEL=m "$LLMNAS" run "$T/ask.lua" --base-url "$DEAD" \
    --llm-cache replay
expect_out "failed 3: llm_cache_miss: replay: no recorded reply" "replay: a miss fails clearly"
run env ASK_N=1 LLMNAS_MODEL=m "$LLMNAS" run "$T/ask.lua" --base-url "$DEAD" --llm-cache replay
expect_out "failed 1: llm_config: --llm-cache record/replay needs a store" \
    "replay without a store is a configuration failure"

# ---- a canary key leaks nowhere ----------------------------------------------------
start_server canary '{"fault": "401"}' '{"fault": "503"}' '{"fault": "401"}' \
    '{"fault": "status", "status": 500, "message": "server saw key '$CANARY'"}' \
    '{"fault": "stream_error"}' '{"fault": "quota"}' '"fine"' '{"fault": "length"}' '"fine again"'
cat >"$T/faults.lua" <<'EOF'
llm.configure{ cache = os.getenv("ASK_CACHE"), retries = 2, backoff_base = 0.02, backoff_cap = 0.05,
  jitter = false }
local kinds = {}
for i = 1, 7 do
  local reply, info, kind = llm.chat{ messages = "q" .. i, stream = i == 3, role = "generator" }
  io.stderr:write("call ", i, ": ", tostring(reply), " ", tostring(info), " ", tostring(kind), "\n")
  kinds[#kinds + 1] = kind or "ok"
end
print(table.concat(kinds, " "))
print(json.encode(llm.config()))
local environ = assert(io.open("/proc/self/environ")):read("a")
local child = assert(io.popen("env")):read("a")
print("key visible to the script: " .. tostring(os.getenv("LLMNAS_API_KEY") ~= nil
  or environ:find("sk%-canary") ~= nil or child:find("sk%-canary") ~= nil))
EOF
run env LLMNAS_API_KEY="$CANARY" LLMNAS_LLM_LOG=debug ASK_CACHE="$T/cache2" LLMNAS_MODEL=m \
    "$LLMNAS" run "$T/faults.lua" --base-url "$URL" --llm-cache record
expect_out "llm_auth llm_auth llm_quota ok llm_truncated ok llm_bad_request" "every fault reported by kind"
expect_err "retry 1/2" "retries were logged"
expect_err "[redacted]" "the echoed key was scrubbed from messages"
expect_out '"has_key":true' "config says a key is set"
expect_out "key visible to the script: false" \
    "the key left the environment (os.getenv, /proc/self/environ, child processes)"
if grep -rqF "$CANARY" "$T/out" "$T/err" "$T/cache2" "$T/canary.log"; then
    fail "the canary key leaked into $(grep -rlF "$CANARY" "$T/out" "$T/err" "$T/cache2" "$T/canary.log")"
else
    pass "the canary key is in no output, log, stored prompt or cache file"
fi
stop_servers

# ---- the same through the search loop, into the memory store (prompts and replies) --
start_server search '{"fault": "401"}' '"net alpha 0.5"' '{"fault": "503"}' \
    '{"fault": "status", "status": 500, "message": "upstream rejected key '$CANARY'"}' \
    '"net beta 0.6"' '{"fault": "length"}' '{"fault": "quota"}' '"net gamma 0.7"'
cat >"$T/search.lua" <<'EOF2'
-- The real llm module and memory store; fake networks and training (tests/lua/fakes.lua).
package.path = os.getenv("ROOT") .. "/tests/lua/?.lua;" .. package.path
local F = require "fakes"
local db = assert(memory.open(os.getenv("DBDIR")))
llm.configure{ cache = db, retries = 1, backoff_base = 0.02, backoff_cap = 0.05, jitter = false }
require("llmnas").search{
  name = "canary", quiet = true, budget = { iterations = 6 },
  env = { arch = F.arch(), train = F.train(), db = db },
  propose = function(ctx)
    local reply, msg, kind = ctx:chat{ messages = { { role = "user", content = "propose " .. ctx.iteration } },
      temperature = 0.7 }
    if not reply then return "fail " .. kind .. " " .. msg end -- keep the run going
    return reply
  end,
}
local u = llm.usage().generator
print(("generator: %d calls, %d failures"):format(u.calls, u.failures))
db:close()
EOF2
run env ROOT="$ROOT" DBDIR="$T/canary.db" LLMNAS_API_KEY="$CANARY" LLMNAS_LLM_LOG=debug LLMNAS_MODEL=m \
    "$LLMNAS" run "$T/search.lua" --base-url "$URL" --llm-cache record
expect_rc 0 "a search full of LLM faults runs to its budget"
expect_out "generator: 6 calls, 4 failures" "every call booked"
n=$(mdb_dump -p -s llm "$T/canary.db" 2>/dev/null | grep -c '^ [0-9a-f]\{64\}$' || true)
[ "$n" -ge 3 ] && pass "replies recorded in the store's llm database ($n, read with mdb_dump)" ||
    fail "mdb_dump -s llm shows $n recorded replies"
if mdb_dump -p -a "$T/canary.db" | grep -q "propose 1"; then
    pass "the prompts are stored (so the grep below means something)"
else
    fail "no stored prompt found in the store"
fi
if mdb_dump -p -a "$T/canary.db" | grep -qF "upstream rejected key [redacted]"; then
    pass "the server's message that echoed the key is stored scrubbed"
else
    fail "the scrubbed server message is not in the store"
fi
if grep -rqF "$CANARY" "$T/out" "$T/err" "$T/canary.db" "$T/search.log"; then
    fail "the canary key leaked into $(grep -rlF "$CANARY" "$T/out" "$T/err" "$T/canary.db" "$T/search.log")"
elif mdb_dump -p -a "$T/canary.db" | grep -qF "$CANARY"; then
    fail "the canary key is in a record of the store"
else
    pass "the canary key is in no output, log, stored prompt or database file of a search"
fi
stop_servers

# ---- Ctrl-C during a long wait -----------------------------------------------------
start_server int '{"fault": "retry_after", "seconds": 30}' '"never"'
cat >"$T/wait.lua" <<'EOF'
llm.configure{ retry_after_cap = 60 }
print(llm.chat{ messages = "wait for it" })
EOF
env LLMNAS_MODEL=m "$LLMNAS" run "$T/wait.lua" --base-url "$URL" >"$T/out" 2>"$T/err" &
pid=$!
sleep 1
start=$(date +%s)
kill -INT "$pid"
wait "$pid"
rc=$?
secs=$(($(date +%s) - start))
expect_rc 130 "Ctrl-C during a Retry-After wait stops the run"
# the wait is 30 s: 10 s is generous for a loaded machine
[ "$secs" -le 10 ] && pass "it stops promptly (${secs}s)" || fail "it took ${secs}s to stop"
expect_err "interrupted" "the run says it was interrupted"
stop_servers

# ---- the test server keeps to loopback and ends on its own -------------------------
"$PY" "$ROOT/tests/llm_server.py" --port-file "$T/life.port" --lifetime 1 >/dev/null 2>&1 &
life=$!
i=0
while [ ! -s "$T/life.port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
lport=$(cat "$T/life.port")
hexport=$(printf '%04X' "$lport")
# /proc/net/tcp: local address as hex IP:port, state 0A = LISTEN; 0100007F is 127.0.0.1.
listen=$(awk -v p=":$hexport" '$4 == "0A" && substr($2, 9) == p { print $2 }' /proc/net/tcp /proc/net/tcp6)
if [ "$listen" = "0100007F:$hexport" ]; then
    pass "the test server listens on 127.0.0.1 only"
else
    fail "the test server listens on '$listen' for port $lport"
fi
sleep 2
if kill -0 "$life" 2>/dev/null; then
    fail "the test server outlived --lifetime 1"
    kill "$life"
else
    pass "the test server exits on its own after --lifetime"
fi
wait "$life" 2>/dev/null
