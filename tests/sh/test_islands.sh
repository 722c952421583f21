# test_islands.sh: examples/paper.lua --set islands=2 --workers 2 against the test LLM
# server: two trajectories with their own suggestion and window, sharing the evaluation
# cache and the global best — the generator always answers the same network, so the
# second island's first candidate (in flight beside the first one's) is a cache hit and
# the network is trained once.
. "$(dirname "$0")/lib.sh"
cd "$ROOT" || exit 1

/usr/bin/python3 - "$T/replies.jsonl" <<'PY'
import json, sys
net = ("function Net(x, classes)\n"
       "  x = nn.MaxPool2d(nn.ReLU(nn.BatchNorm2d(nn.Conv2d(x, 6, 3, {padding = 1, bias = false}))), 2)\n"
       "  return nn.Linear(nn.Flatten(nn.AdaptiveAvgPool2d(x, 1)), classes)\nend")
advice = {"reason": "small", "inspiration": "none", "improvement_suggestions": "wider"}
with open(sys.argv[1], "w") as f:
    f.write(json.dumps({"when": "Reply with JSON", "reply": json.dumps(advice)}) + "\n")
    f.write(json.dumps({"reply": "```lua\n" + net + "\n```"}) + "\n")
PY
/usr/bin/python3 tests/llm_server.py --replies "$T/replies.jsonl" --requests "$T/requests.jsonl" \
    --port-file "$T/port" --lifetime 600 --watch-pid $$ --loop &
srv=$!
i=0
while [ ! -s "$T/port" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
export LLMNAS_BASE_URL="http://127.0.0.1:$(cat "$T/port")/v1" LLMNAS_MODEL=test-model

run "$LLMNAS" run examples/paper.lua --db "$T/db" --iterations 4 --set subset=600 --set islands=2 --workers 2
expect_rc 0 "paper with two islands on two workers"
"$LLMNAS" show --db "$T/db" --format json 1 >"$T/show.json"
/usr/bin/python3 - "$T/show.json" >"$T/check" <<'PY'
import json, sys
recs = json.load(open(sys.argv[1]))["history"]
by_island = {}
for r in recs:
    by_island.setdefault((r.get("notes") or {}).get("island"), []).append(r)
trained = [r for r in recs if r["status"] == "ok" and not r["cache_hit"]]
hits = [r for r in recs if r["cache_hit"]]
print("islands", sorted(k for k in by_island if k))
print("trained", len(trained))
print("cross", int(any(h.get("notes", {}).get("island") != trained[0].get("notes", {}).get("island") and
                   h["hash"] == trained[0]["hash"] for h in hits)) if trained else 0)
PY
cat "$T/check"
grep -q "^islands \[1, 2\]" "$T/check" && pass "each record names its island" || fail "islands: $(cat "$T/check")"
grep -q "^trained 1$" "$T/check" && pass "the shared cache trains the network once" || fail "trained: $(cat "$T/check")"
grep -q "^cross 1$" "$T/check" && pass "a duplicate across islands is a cache hit" || fail "cross-island hit: $(cat "$T/check")"
improver=$(grep -c "Reply with JSON" "$T/requests.jsonl")
[ "$improver" -eq 4 ] && pass "each island's candidates are reflected on" || fail "improver calls: $improver"

run "$LLMNAS" run examples/paper.lua --db "$T/bad" --iterations 1 --set islands=0
expect_rc 70 "islands=0 is refused"
expect_err "islands: expected a positive integer" "with a clear message"

stop_pid "$srv"
