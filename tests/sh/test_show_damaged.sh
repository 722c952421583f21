# test_show_damaged.sh: issue #18 — one damaged run record in a real LMDB store
# makes `llmnas show` (the runs listing) mark that run DAMAGED and still list
# the others, with exit code 65 saying something was damaged (table, csv, json);
# and one damaged candidate record (or run record) does not make `show RUN` nor
# Lua's db:runs(), db:recent(), db:best(), db:iter() fail: the damaged one is
# marked in its place, the rest listed.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
DB=$T/db
cat >"$T/fill.lua" <<'LUA'
local db = assert(memory.open(arg[1]))
for _, name in ipairs { "alpha-run", "MARKRUN-two", "gamma-run" } do
  local run = assert(db:begin_run({ name = name, script = "t.lua" }))
  assert(db:append(run, { status = "ok", metrics = { val_acc = 0.5 } }, { best = 1 }))
end
db:close()
LUA
run "$LLMNAS" run "$T/fill.lua" "$DB"
expect_rc 0 "three runs written"
run "$LLMNAS" show --db "$DB"
expect_rc 0 "an intact store lists with exit 0"
expect_out "MARKRUN-two" "run 2 listed before the damage"

$PY - "$DB/data.mdb" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
# LMDB copies pages on write, so freed pages may hold older copies: flip them all.
i = b.find(b"MARKRUN-two")
assert i > 0, "run record not found in the LMDB file"
while i > 0:
    b[i + 4] ^= 1
    i = b.find(b"MARKRUN-two", i + 1)
open(p, "r+b").write(b)
PY

run "$LLMNAS" show --db "$DB"
expect_rc 65 "a damaged run record makes the listing exit 65"
expect_out "alpha-run" "the run before it is listed"
expect_out "gamma-run" "the run after it is listed"
if grep -qE '^ +2  DAMAGED' "$T/out"; then pass "run 2 is marked DAMAGED"; else fail "no DAMAGED row for run 2"; fi
expect_err "run 2: run record damaged" "stderr names the damaged run"
expect_err "checksum mismatch" "and why"

run "$LLMNAS" show --db "$DB" --format csv
expect_rc 65 "csv listing exits 65"
expect_out "2,,damaged" "csv marks run 2 damaged"
expect_out "gamma-run" "csv lists the rest"

run "$LLMNAS" show --db "$DB" --format json
expect_rc 65 "json listing exits 65"
n=$($PY -c 'import json,sys; r=json.load(open(sys.argv[1])); print(" ".join("%d:%s" % (x["id"], "damaged" if "damaged" in x else x["meta"]["name"]) for x in r))' "$T/out")
if [ "$n" = "1:alpha-run 2:damaged 3:gamma-run" ]; then pass "json: $n"; else fail "json listing: $n"; fi

run "$LLMNAS" show --db "$DB" 3
expect_rc 0 "an intact run next to the damaged one still shows"

# A run whose run record is damaged: its candidate records are intact, and listed.
run "$LLMNAS" show --db "$DB" 2
expect_rc 65 "show RUN of a damaged run record exits 65"
expect_out "run record DAMAGED" "it says the run record is damaged"
if grep -qE '^ +1  ok ' "$T/out"; then pass "and still lists the run's record"; else fail "run 2's record not listed"; fi

# The report (its default: the store's last runs) around the damaged run record.
run "$LLMNAS" report --db "$DB" -o "$T/report.html"
expect_rc 65 "the report of a store with a damaged run record exits 65"
if [ -s "$T/report.html" ] && grep -q "alpha-run" "$T/report.html" && grep -q "gamma-run" "$T/report.html"; then
    pass "and still writes the page with the other runs"; else fail "no page, or runs missing from it"; fi
expect_err "run 2: run record damaged" "stderr names the damaged run record"

# Lua's readers around the damaged run record: the listing goes on, the damage is named.
cat >"$T/runs.lua" <<'LUA'
local db = assert(memory.open(arg[1], { readonly = true }))
local runs, damaged = db:runs()
local parts = {}
for _, r in ipairs(runs) do parts[#parts + 1] = r.id .. ":" .. (r.damaged and "damaged" or r.meta.name) end
print(("runs %s; damaged %d"):format(table.concat(parts, " "), damaged))
print("why: " .. tostring(runs[2].damaged))
LUA
run "$LLMNAS" run "$T/runs.lua" "$DB"
expect_rc 0 "db:runs() on a store with a damaged run record does not fail"
expect_out "runs 1:alpha-run 2:damaged 3:gamma-run; damaged 1" "db:runs() lists the rest and counts the damaged one"
expect_out "why: run 2: run record damaged" "the damaged entry names the run and why"

# One damaged CANDIDATE record (iteration 2 of 3, the best one: it tops the leaderboard).
DB2=$T/db2
cat >"$T/fill2.lua" <<'LUA'
local db = assert(memory.open(arg[1]))
local run = assert(db:begin_run({ name = "one-run" }))
for i, acc in ipairs { 0.3, 0.9, 0.6 } do
  assert(db:append(run, { status = "ok", code = ("CANDMARK-%d"):format(i), metrics = { val_acc = acc } }, { i = i }))
end
db:close()
LUA
run "$LLMNAS" run "$T/fill2.lua" "$DB2"
expect_rc 0 "a run of three records written"
$PY - "$DB2/data.mdb" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
i = b.find(b"CANDMARK-2")
assert i > 0, "candidate record not found in the LMDB file"
while i > 0:
    b[i + 2] ^= 1
    i = b.find(b"CANDMARK-2", i + 1)
open(p, "r+b").write(b)
PY

run "$LLMNAS" show --db "$DB2" 1
expect_rc 65 "show RUN with a damaged record exits 65"
if grep -qE '^ +2  DAMAGED' "$T/out"; then pass "the history marks iteration 2 DAMAGED"; else fail "no DAMAGED history row"; fi
if grep -qE '^ +1  ok ' "$T/out" && grep -qE '^ +3  ok ' "$T/out"; then
    pass "the history lists iterations 1 and 3"; else fail "history rows 1 and 3 missing"; fi
if grep -qE '^ +1 +2  DAMAGED' "$T/out"; then pass "the leaderboard marks its damaged first place"; else fail "leaderboard has no DAMAGED row"; fi
if grep -qE '^ +2 +3 +60\.00%' "$T/out" && grep -qE '^ +3 +1 +30\.00%' "$T/out"; then
    pass "the leaderboard lists the intact records after it"; else fail "leaderboard lost the intact records"; fi
expect_err "run 1 iteration 2" "stderr names the damaged record"
expect_out "candidates     3" "the totals are still shown"

run "$LLMNAS" show --db "$DB2" 1 --format json
expect_rc 65 "json exits 65"
n=$($PY -c 'import json,sys; r=json.load(open(sys.argv[1])); print(" ".join("%d:%s" % (x["iter"], "damaged" if "damaged" in x else x["status"]) for x in r["history"]), "|", " ".join("%d:%s" % (x["iter"], "damaged" if "damaged" in x else "ok") for x in r["leaderboard"]))' "$T/out")
if [ "$n" = "1:ok 2:damaged 3:ok | 2:damaged 3:ok 1:ok" ]; then pass "json history and leaderboard: $n"; else fail "json: $n"; fi

run "$LLMNAS" show --db "$DB2" 1 --format csv
expect_rc 65 "csv exits 65"
expect_out "2,damaged" "csv marks iteration 2"
grep -q '^3,ok' "$T/out" && pass "csv lists iteration 3" || fail "csv lacks iteration 3"

run "$LLMNAS" show --db "$DB2" 1:3
expect_rc 0 "the intact record next to the damaged one shows"
run "$LLMNAS" show --db "$DB2" 1:2
expect_rc 65 "the damaged record itself exits 65"
expect_err "checksum mismatch" "and says why"

cat >"$T/readers.lua" <<'LUA'
local db = assert(memory.open(arg[1], { readonly = true }))
local function list(t)
  local p = {}
  for _, r in ipairs(t) do p[#p + 1] = r.iter .. (r.damaged and "!" or "") end
  return table.concat(p, " ")
end
local recent, nr = db:recent(1, 5)
local best, nb = db:best(1, 5)
print(("recent %s (%d damaged)"):format(list(recent), nr))
print(("best %s (%d damaged)"):format(list(best), nb))
local seen = {}
for r in db:iter(1, { status = "ok" }) do seen[#seen + 1] = r end
print(("iter %s"):format(list(seen)))
print("why: " .. tostring(recent[2].damaged))
LUA
run "$LLMNAS" run "$T/readers.lua" "$DB2"
expect_rc 0 "db:recent, db:best and db:iter do not fail on a damaged record"
expect_out "recent 1 2! 3 (1 damaged)" "db:recent lists the rest, marks and counts the damaged one"
expect_out "best 2! 3 1 (1 damaged)" "db:best too, in rank order"
expect_out "iter 1 2! 3" "db:iter yields a damaged entry in its place (whatever the filter)"
expect_out "why: run 1 iteration 2" "the entry names the record and why"
