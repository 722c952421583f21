# test_resume_early.sh: a run killed with SIGKILL before its first record was committed
# (the run exists in the store, with no record and no saved state) is resumed with
# --resume from its first iteration — not refused — and ends as an uninterrupted run does.
. "$(dirname "$0")/lib.sh"

cat >"$T/strategy.lua" <<EOF
package.path = "$ROOT/tests/lua/?.lua;" .. package.path
local F = require "fakes"
local search = require "llmnas.search"
search.search({ name = "early-kill", quiet = true, budget = { iterations = 5 },
  env = { arch = F.arch(), train = F.train() },
  propose = function(ctx)
    -- While the block file exists the first proposal never returns: the kill lands
    -- after the run was begun and before anything was committed.
    while io.open("$T/block") do os.execute("sleep 0.05") end
    ctx.state.trail = (ctx.state.trail or "") .. ctx.iteration .. ","
    return ("net n%d 0.%d"):format(ctx.iteration, ctx.iteration)
  end })
EOF

: >"$T/block"
"$LLMNAS" run "$T/strategy.lua" --db "$T/db" >"$T/first.out" 2>&1 &
pid=$!
i=0
until "$LLMNAS" show --db "$T/db" --format csv 2>/dev/null | grep -q '^1,'; do
    i=$((i + 1))
    [ "$i" -gt 600 ] && break
    sleep 0.1
done
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
rm -f "$T/block"
run "$LLMNAS" show --db "$T/db" --format csv
expect_out '1,' "the killed run was begun in the store"

run "$LLMNAS" run "$T/strategy.lua" --db "$T/db" --resume
expect_rc 0 "--resume of a run killed before its first commit"
if grep -q 'traceback' "$T/err"; then fail "no traceback on resume"; else pass "no traceback on resume"; fi

cat >"$T/check.lua" <<'EOF'
local db = assert(memory.open(arg[1], { readonly = true }))
assert(#db:runs() == 1, "runs: " .. #db:runs())
assert(db:last_iteration(1) == 5, "records: " .. tostring(db:last_iteration(1)))
local st = assert(db:state(1))
assert(st.strategy.trail == "1,2,3,4,5,", "trail: " .. tostring(st.strategy.trail))
print("resumed from the start")
EOF
run "$LLMNAS" run "$T/check.lua" "$T/db"
expect_out "resumed from the start" "one run, five records, the strategy saw iterations 1..5 once"
