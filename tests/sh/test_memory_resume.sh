# test_memory_resume.sh: the search loop (stdlib) on fake primitives writing to the
# real store through `llmnas run`, killed with SIGKILL at random instants again and
# again and resumed with --resume each time, ends with exactly the records and the
# strategy state of an uninterrupted run: nothing repeated, nothing lost.
. "$(dirname "$0")/lib.sh"

N=1500
cat >"$T/strategy.lua" <<EOF
-- A deterministic strategy: candidate i is "net n<i> <accuracy>", built and
-- "trained" by the fakes; its state keeps the trail of iterations it saw.
package.path = "$ROOT/tests/lua/?.lua;" .. package.path
local F = require "fakes"
local search = require "llmnas.search"
local codes = {}
for i = 1, $N do codes[i] = ("net n%d %.3f"):format(i, (i * 7919 % 997 + 1) / 1000) end
search.search({ name = "resume-stress", quiet = true, budget = { iterations = $N },
  env = { arch = F.arch(), train = F.train() },
  propose = function(ctx)
    ctx.state.trail = (ctx.state.trail or "") .. ctx.iteration .. ","
    return codes[ctx.iteration]
  end })
EOF
cat >"$T/compare.lua" <<'EOF'
-- compare.lua A B N: the runs in stores A and B have the same N records and state.
local a = assert(memory.open(arg[1], { readonly = true }))
local b = assert(memory.open(arg[2], { readonly = true }))
local n = tonumber(arg[3])
assert(a:last_iteration(1) == n, "A has " .. a:last_iteration(1))
assert(b:last_iteration(1) == n, "B has " .. b:last_iteration(1))
-- Not cache_hit: a kill after the evaluation cache was written but before the
-- record was makes the resumed iteration a cache hit, not a second training.
local fields = { "iter", "code", "status", "error_kind", "accepted", "best_iter", "hash" }
for i = 1, n do
  local x, y = assert(a:get(1, i)), assert(b:get(1, i))
  for _, f in ipairs(fields) do
    assert(x[f] == y[f], ("iteration %d: %s differs: %s vs %s"):format(i, f, tostring(x[f]), tostring(y[f])))
  end
  assert(x.metrics.val_acc == y.metrics.val_acc, "val_acc differs at " .. i)
end
local sa, sb = a:state(1), b:state(1)
local want = {}
for i = 1, n do want[#want + 1] = i .. "," end
assert(sa.strategy.trail == table.concat(want), "A's trail: " .. sa.strategy.trail)
assert(sb.strategy.trail == sa.strategy.trail, "B's trail: " .. sb.strategy.trail)
assert(sa.best.iteration == sb.best.iteration, "best differs")
assert(a:run(1).totals.candidates == n and b:run(1).totals.candidates == n, "totals differ")
assert(#a:runs() == 1 and #b:runs() == 1, "a resume started a new run")
print("same " .. n)
EOF

run "$LLMNAS" run "$T/strategy.lua" --db "$T/ref"
expect_rc 0 "the uninterrupted reference run"

kills=0
landed=0
for k in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
    resume=
    if "$LLMNAS" show --db "$T/db" --format csv 2>/dev/null | grep -q '^1,'; then resume=--resume; fi
    "$LLMNAS" run "$T/strategy.lua" --db "$T/db" $resume >"$T/round.out" 2>&1 &
    pid=$!
    sleep "$(awk -v s="$$$k" 'BEGIN { srand(s); printf "%.3f", 0.01 + rand() * 0.08 }')"
    if kill -9 $pid 2>/dev/null; then kills=$((kills + 1)); fi
    wait $pid 2>/dev/null
    rc=$?
    [ $rc -eq 137 ] && landed=$((landed + 1))
    if [ $rc -ne 137 ] && [ $rc -ne 0 ]; then fail "round $k exited $rc: $(tail -3 "$T/round.out")"; fi
done
echo "kill -9: $landed of 20 rounds killed mid-run"
if [ $landed -ge 5 ]; then pass "the run was killed mid-way $landed times"; else fail "only $landed kills landed mid-run"; fi

# On a loaded machine every kill may land before the run even began: then there
# is nothing to resume and the last round starts it (as each round above does).
resume=
if "$LLMNAS" show --db "$T/db" --format csv 2>/dev/null | grep -q '^1,'; then resume=--resume; fi
run "$LLMNAS" run "$T/strategy.lua" --db "$T/db" $resume
expect_rc 0 "the last resume finishes the run"
run "$LLMNAS" run "$T/compare.lua" "$T/ref" "$T/db" $N
expect_rc 0 "resumed run compared with the uninterrupted one"
expect_out "same $N" "same records, same best, same strategy state: nothing repeated or lost"
