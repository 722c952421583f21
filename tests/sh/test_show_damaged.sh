# test_show_damaged.sh: issue #18 — one damaged run record in a real LMDB store
# makes `llmnas show` (the runs listing) mark that run DAMAGED and still list
# the others, with exit code 65 saying something was damaged (table, csv, json).
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
