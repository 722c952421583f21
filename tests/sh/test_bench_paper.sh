# test_bench_paper.sh: the paper's loop in the strategy bench, replayed from recorded
# replies. tests/bench/record_paper.sh records examples/paper.lua (two seeds, tiny
# settings) against the scripted test server (fixtures, not a model: no figure here is
# the paper's loop's performance); the server is stopped, and
# tests/bench/bench_strategies.sh with BENCH_PAPER replays both into its own folder
# while a second server that answers nothing listens at the configured URL: no request
# reaches it, each replay trains again here (its store holds the recorded replies and
# nothing else, so no result comes from the recording's evaluation cache) and commits
# the recorded records, and `llmnas compare`'s table has a paper row over 2 runs.
# Then the mistakes: recordings of another setting or seed, too short, or not one per
# seed end in one actionable line each and no paper row; a replay that stopped where a
# result differs from the recording's, or that committed other records, is refused
# naming the proposal; without BENCH_PAPER, one line says the row is skipped and how
# to record. Real LLM client, HTTP, LMDB and training.
. "$(dirname "$0")/lib.sh"
cd "$ROOT" || exit 1
export LLMNAS BENCH_SEEDS=2 BENCH_ITERS=2 BENCH_ON_ITERS=3 BENCH_SUBSET=256 BENCH_VAL=128 BENCH_NETS=0

/usr/bin/python3 - "$T/replies.jsonl" <<'PY'
import json, sys
def net(width, name="x"):
    return ("function Net(%s, classes)\n  %s = nn.MaxPool2d(nn.ReLU(nn.BatchNorm2d(nn.Conv2d(%s, %d, 3, "
            "{padding = 1, bias = false}))), 2)\n  return nn.Linear(nn.Flatten(%s), classes)\nend") % (
            name, name, name, width, name)
bad = "function Net(x, classes)\n  return nn.Linear(nn.ReLU(nn.Conv2d(x, 8, 3)), classes)\nend"
def gen(code): return "```lua\n" + code + "\n```"
def imp(i): return json.dumps({"reason": "r%d" % i, "inspiration": "i%d" % i,
                               "improvement_suggestions": "s%d: widen it" % i})
lines = [gen(net(8)), imp(1), gen(net(16)), imp(2), gen("function Net(x, classes)\n  return nn.Linear(nn.Flatten(x), classes)\nend"), imp(3),
         # seed 2: a candidate that fails (its repair round fails too), a cache hit
         gen(net(4)), imp(4), gen(bad), gen(bad), imp(5), gen(net(4, "input")), imp(6)]
with open(sys.argv[1], "w") as f:
    for line in lines: f.write(json.dumps(line) + "\n")
PY
: >"$T/none.jsonl"
start_server() {  # $1 = name, $2 = replies
    rm -f "$T/port.$1"
    /usr/bin/python3 tests/llm_server.py --replies "$2" --requests "$T/requests.$1.jsonl" --models test-model \
        --port-file "$T/port.$1" --lifetime 600 --watch-pid $$ >/dev/null &
    srv=$!
    i=0
    while [ ! -s "$T/port.$1" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
    export LLMNAS_BASE_URL="http://127.0.0.1:$(cat "$T/port.$1")/v1" LLMNAS_MODEL=test-model
}

# 1. The recordings, against the scripted server.
start_server rec "$T/replies.jsonl"
run sh tests/bench/record_paper.sh "$T/rec"
expect_rc 0 "record_paper.sh records paper.lua for both seeds"
expect_out "BENCH_PAPER=$T/rec/paper1.db,$T/rec/paper2.db make bench BENCH=strategies" "it prints the bench's command line"
stop_pid "$srv"
n=$(grep -c '"path": "/v1/chat/completions"' "$T/requests.rec.jsonl")
[ "$n" -eq 13 ] && pass "13 chat requests recorded (generator, repair, improver)" || fail "$n chat requests, expected 13"
s1=$(grep -c '"seed": 1[,}]' "$T/requests.rec.jsonl") s2=$(grep -c '"seed": 2[,}]' "$T/requests.rec.jsonl")
[ "$s1" -eq 6 ] && [ "$s2" -eq 7 ] && pass "each seed's requests carry its seed (6 and 7)" ||
    fail "requests with seed 1 and 2: $s1 and $s2, expected 6 and 7"

# 2. The bench's replays: the recording server is gone; one that answers nothing listens.
start_server trap "$T/none.jsonl"
run env BENCH_DIR="$T/bench" BENCH_PAPER="$T/rec/paper1.db,$T/rec/paper2.db" sh tests/bench/bench_strategies.sh
expect_rc 0 "the bench with BENCH_PAPER"
expect_out "paper.lua seed 1: 3 proposals replayed from run 1 of '$T/rec/paper1.db': the same proposal numbers, code, hashes and statuses as recorded" \
    "seed 1's replay is checked against its recording"
expect_out "paper.lua seed 2: 3 proposals replayed" "seed 2's too"
grep -E "^paper +2 " "$T/out" >/dev/null && pass "compare's table has a paper row over its 2 runs" ||
    fail "no paper row over 2 runs in compare's table"
grep -E "^evolve +2 " "$T/out" >/dev/null && grep -E "^random +2 " "$T/out" >/dev/null &&
    pass "beside evolve's and random's" || fail "no evolve and random rows"
cp "$T/out" "$T/bench.out"
if [ -s "$T/requests.trap.jsonl" ]; then
    fail "HTTP requests during the replays: $(cut -c1-200 "$T/requests.trap.jsonl")"
else
    pass "no HTTP request during the replays"
fi
# the control: a request to that server is logged
/usr/bin/python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + "/models").read()' "$LLMNAS_BASE_URL"
n=$(wc -l <"$T/requests.trap.jsonl")
[ "$n" -eq 1 ] && pass "(the listening server logs a request made to it)" || fail "the listening server logged $n requests, not 1"
for s in 1 2; do
    run "$LLMNAS" run tests/e2e/compare_runs.lua "$T/rec/paper$s.db" 1 "$T/bench/paper$s.db" 1
    expect_rc 0 "seed $s: the replayed records equal the recorded ones (cache hits included: nothing from the recording's cache)"
    expect_out "same 3 records" "seed $s: all three compared"
done
cat >"$T/trained.lua" <<'LUA'
-- trained.lua DB: how many runs DB holds, and whether every trained record of its
-- run 1 has its own training CPU-seconds (measured here, not read from a cache)
local db = assert(memory.open(arg[1], { readonly = true }))
local trained, timed = 0, 0
for r in db:iter(1) do
  if r.status == "ok" and not r.cache_hit then
    trained = trained + 1
    if (r.metrics.cpu_seconds or 0) > 0 then timed = timed + 1 end
  end
end
print(("runs %d, trained %d, timed %d"):format(#db:runs(), trained, timed))
LUA
run "$LLMNAS" run "$T/trained.lua" "$T/bench/paper1.db"
expect_out "runs 1, trained 3, timed 3" "seed 1's replay is the only run of its store and trained its 3 candidates here"
run "$LLMNAS" run "$T/trained.lua" "$T/bench/paper2.db"
expect_out "runs 1, trained 1, timed 1" "seed 2's: 1 trained, 1 failed, 1 cache hit"

# 3. Recordings that do not fit the bench: one line each, no paper row, exit 1.
run env BENCH_DIR="$T/bench" BENCH_SUBSET=384 BENCH_PAPER="$T/rec/paper1.db,$T/rec/paper2.db" \
    sh tests/bench/bench_strategies.sh
expect_rc 1 "a recording of another subset fails the bench"
expect_out "paper.lua seed 1: run 1 of '$T/rec/paper1.db' was recorded at another setting than the bench's: --set subset=256 (the bench: 384); record it at the bench's settings with tests/bench/record_paper.sh" \
    "it names the setting, both values and how to record"
expect_out "paper.lua: its row is left out" "it says the row is left out"
grep -E "^paper " "$T/out" >/dev/null && fail "a paper row of another setting" || pass "no paper row"
grep -E "^evolve " "$T/out" >/dev/null && pass "the table is there without it" || fail "no table"
grep -q "traceback" "$T/out" "$T/err" && fail "a traceback" || pass "no traceback"

run env BENCH_DIR="$T/bench" BENCH_ON_ITERS=4 BENCH_PAPER="$T/rec/paper1.db,$T/rec/paper2.db" \
    sh tests/bench/bench_strategies.sh
expect_rc 1 "a recording shorter than the bench's runs"
expect_out "paper.lua seed 1: run 1 of '$T/rec/paper1.db' has 3 records, the bench replays 4: record 4 iterations" \
    "it says how many it has and needs"

run env BENCH_DIR="$T/bench" BENCH_PAPER="$T/rec/paper2.db" sh tests/bench/bench_strategies.sh
expect_rc 1 "one recording for two seeds"
expect_out "BENCH_PAPER names 1 memories for 2 seeds: give one per seed" "it says one per seed"

run env BENCH_DIR="$T/bench" BENCH_PAPER="$T/rec/paper2.db,$T/rec/paper1.db" sh tests/bench/bench_strategies.sh
expect_rc 1 "the seeds' recordings swapped"
expect_out "--set seed=2 (the bench: 1)" "the seed is a setting"

# A replay that trains to other numbers than the recording did (recorded on another
# machine) stops at a prompt the recording lacks; a replay that commits other records
# than the recording's is refused. Both made up from seed 1's recording (the replay's
# store as the bench would leave it, records changed), checked as the bench checks.
cat >"$T/forge.lua" <<'LUA'
-- forge.lua SRC DST N WHAT: DST's run 1 = SRC's run 1 (its meta) and its first N
-- records, record 1's accuracy changed (WHAT = acc) or record 2's hash (WHAT = hash)
local src = assert(memory.open(arg[1], { readonly = true }))
local dst = assert(memory.open(arg[2]))
local id = assert(dst:begin_run(src:run(1).meta))
for i = 1, tonumber(arg[3]) do
  local r = src:get(1, i)
  if arg[4] == "acc" and i == 1 then r.metrics.val_acc = r.metrics.val_acc + 0.01 end
  if arg[4] == "hash" and i == 2 then r.hash = "0123456789abcdef" end
  assert(dst:append(id, r, {}))
end
LUA
run "$LLMNAS" run "$T/forge.lua" "$T/rec/paper1.db" "$T/acc.db" 1 acc
run "$LLMNAS" run tests/bench/paper_replay.lua check "$T/rec/paper1.db" "$T/acc.db" 3
expect_rc 65 "a replay that stopped early is refused"
expect_err "stopped after 1 of 3 proposals: the recording has no reply for proposal 2's prompt: proposal 1 gave" \
    "it names the first proposal whose result differs from the recording's"
expect_err "record on this machine with tests/bench/record_paper.sh" "and says where to record"
run "$LLMNAS" run "$T/forge.lua" "$T/rec/paper1.db" "$T/hash.db" 3 hash
run "$LLMNAS" run tests/bench/paper_replay.lua check "$T/rec/paper1.db" "$T/hash.db" 3
expect_rc 65 "a replay of other records than the recording's is refused"
expect_err "differs from the recording at proposal 2" "it names the proposal"

# 4. Without BENCH_PAPER: the row is skipped, and the line says how to record.
stop_pid "$srv"
run env BENCH_DIR="$T/bench" sh tests/bench/bench_strategies.sh
expect_rc 0 "the bench without BENCH_PAPER"
expect_out "paper.lua: its row is skipped: no recorded LLM replies" "one line says the paper's row is skipped and why"
expect_out "tests/bench/record_paper.sh" "and how to record the replies"
grep -E "^paper " "$T/out" >/dev/null && fail "a paper row without recordings" || pass "no paper row"
