# test_show.sh: `llmnas show` end to end over a store written from Lua — the runs,
# a run (table, json, csv), one candidate, exit codes, a damaged record, a
# second writer refused by pid, show reading consistent snapshots while a run
# writes, and LMDB's own tools (mdb_stat, mdb_dump) reading the store.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
DB=$T/db

cat >"$T/fill.lua" <<'EOF'
-- fill.lua DIR N [HOLD]: one run of N records; with HOLD, keep the store open
-- (writer lock held) until the file HOLD disappears, appending meanwhile.
local dir, n, hold = arg[1], tonumber(arg[2]), arg[3]
local db = assert(memory.open(dir))
local run = db:latest_run() or db:begin_run({ name = "demo", script = "paper.lua" })
local function rec(i)
  local ok = i % 4 ~= 0
  return { status = ok and "ok" or "failed",
    error_kind = (not ok) and "shape" or nil, error = (not ok) and "Linear: expected 512, got 256" or nil,
    code = "function Net(x, classes)\n  return nn.Linear(nn.Flatten(x), classes) -- MARK" .. i .. "\nend",
    hash = ("%032x"):format(i),
    metrics = ok and { val_acc = (i * 37 % 100) / 100, params = i * 1000, flops = i * 1e6, seconds = 20 } or nil,
    llm = { generator = { prompt_tokens = 900, completion_tokens = 300, seconds = 3.5 },
            improver = { prompt_tokens = 1500, completion_tokens = 200, seconds = 2 } },
    triple = { problem = "underfits", suggestion = "add residual blocks", outcome = "accuracy: 55.00%" },
    accepted = i % 10 == 1, cache_hit = i % 9 == 0,
    -- the search loop's form (exchanges) on even iterations, role -> text on odd ones
    prompts = i % 2 == 0 and { { role = "generator", messages = { { role = "system", content = "You are an expert." },
        { role = "user", content = "Write Net." } }, reply = "```lua\nreturn 1\n```", error = json.null } }
      or { generator = "You are an expert.\nWrite Net." } }
end
for i = db:last_iteration(run) + 1, n do assert(db:append(run, rec(i), { n = i })) end
if hold then
  local f = io.open(hold .. ".ready", "w") f:write("ready") f:close()
  local i = n
  while io.open(hold) do
    i = i + 1
    assert(db:append(run, rec(i), { n = i }))
  end
end
db:close()
EOF

run "$LLMNAS" show --db "$DB"
expect_rc 66 "show on a missing store"
expect_err "no llmnas store at" "the missing store is named"

run "$LLMNAS" run "$T/fill.lua" "$DB" 40
expect_rc 0 "a Lua writer fills the store"

run "$LLMNAS" show --db "$DB"
expect_rc 0 "show lists the runs"
expect_out "demo" "the run's name is listed"
expect_out "75.0%" "valid percentage of the run"

run "$LLMNAS" show --db "$DB" 1 --last 5
expect_rc 0 "show RUN"
expect_out "leaderboard (top 10 by val_acc" "the leaderboard"
expect_out "history (last 5 of 40" "the history window"
expect_out "candidates     40 (valid 30 = 75.0%, accepted 4, cache hits 4)" "the totals"
expect_out "LLM generator  40 calls, 36.0K prompt + 12.0K completion tokens" "LLM totals per role"
expect_out "shape" "error kinds in the history"

run "$LLMNAS" show --db "$DB" latest --top 3 --metric params --order min --format json
expect_rc 0 "show RUN --format json"
if $PY -c 'import json,sys; d=json.load(open(sys.argv[1])); assert [r["iter"] for r in d["leaderboard"]] == [1,2,3], d["leaderboard"]; assert d["run"]["totals"]["candidates"] == 40' "$T/out" 2>"$T/err"
then pass "json: leaderboard by params, lowest first; totals"; else fail "json output"; fi

run "$LLMNAS" show --db "$DB" 1 --format csv
expect_rc 0 "show RUN --format csv"
if [ "$(wc -l <"$T/out")" -eq 41 ]; then pass "csv: a header and every iteration"; else fail "csv has $(wc -l <"$T/out") lines"; fi
expect_out "iter,status,error_kind,val_acc" "csv header"

run "$LLMNAS" show --db "$DB" 1:8
expect_rc 0 "show RUN:ITER"
expect_out "run 1, iteration 8: failed" "the candidate's status"
expect_out "Linear: expected 512, got 256" "its error"
expect_out "suggestion add residual blocks" "its triple"
expect_out "prompt 1: generator" "its prompts (exchanges)"
expect_out "  [system]" "each message of an exchange"
expect_out "  [reply]" "and the reply"
expect_out "MARK8" "its code"
run "$LLMNAS" show --db "$DB" 1:7
expect_out "prompt: generator" "prompts as role -> text"

run "$LLMNAS" show --db "$DB" 1:99
expect_rc 66 "a missing iteration"
run "$LLMNAS" show --db "$DB" 1:x
expect_rc 64 "a malformed RUN:ITER"
run "$LLMNAS" show --db "$DB" --format xml
expect_rc 64 "an unknown format"

# LMDB's tools read the store.
if command -v mdb_stat >/dev/null 2>&1; then
    run mdb_stat -a "$DB"
    expect_rc 0 "mdb_stat reads the store"
    expect_out "Status of candidates" "mdb_stat sees the candidates table"
    run mdb_dump -p -s candidates "$DB"
    expect_rc 0 "mdb_dump dumps the candidates"
    expect_out "MARK17" "mdb_dump shows the records"
else
    skip "mdb_stat/mdb_dump: lmdb-utils not installed (make deps installs it)" 4
fi

# A second writer is refused with the holder's pid; show reads meanwhile, and
# every snapshot it prints is consistent (last iteration = candidates counted).
touch "$T/hold"
"$LLMNAS" run "$T/fill.lua" "$DB" 40 "$T/hold" >"$T/holder.out" 2>&1 &
holder=$!
i=0
while [ ! -f "$T/hold.ready" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
cat >"$T/second.lua" <<'EOF'
local db, msg, kind = memory.open(arg[1])
print(db, msg, kind)
EOF
run "$LLMNAS" run "$T/second.lua" "$DB"
expect_out "pid $holder" "a second writer is refused, naming the holder's pid"
expect_out "locked" "the refusal's kind is locked"
consistent=0
for k in 1 2 3 4 5 6 7 8; do
    "$LLMNAS" show --db "$DB" 1 --format json --last 1 >"$T/snap.json" 2>"$T/snap.err" &&
    $PY -c 'import json,sys
d=json.load(open(sys.argv[1])); r=d["run"]
assert r["last_iteration"] == r["totals"]["candidates"] == d["history"][-1]["iter"], r' "$T/snap.json" 2>>"$T/snap.err" &&
    consistent=$((consistent + 1))
    sleep 0.05
done
rm -f "$T/hold"
wait $holder
if [ $consistent -eq 8 ]; then pass "show read 8 consistent snapshots while the run wrote"; else fail "consistent snapshots: $consistent of 8: $(cat "$T/snap.err")"; fi
run "$LLMNAS" show --db "$DB"
n=$(awk '$1 == "1" {print $5}' "$T/out")
if [ "${n:-0}" -gt 40 ]; then pass "the holder appended while show read ($n iterations)"; else fail "holder appended nothing ($n)"; fi

# A flipped byte inside a stored record: reported as damaged, never shown as data.
$PY - "$DB/data.mdb" <<'EOF'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
# LMDB copies pages on write, so freed pages may hold older copies: flip them all.
i = b.find(b"- MARK33\\n")
assert i > 0
while i > 0:
    b[i + 4] ^= 1
    i = b.find(b"- MARK33\\n", i + 1)
open(p, "r+b").write(b)
EOF
run "$LLMNAS" show --db "$DB" 1:33
expect_rc 65 "show of a damaged record exits 65"
expect_err "run 1 iteration 33: candidate record damaged" "the damaged record is named"
expect_err "checksum mismatch" "the reason is given"
run "$LLMNAS" show --db "$DB" 1 --all
expect_rc 65 "a history with a damaged record exits 65"
expect_out "DAMAGED" "the damaged row is marked"
expect_out "     34  " "the history goes on past it"
