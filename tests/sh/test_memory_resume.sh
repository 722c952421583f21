# test_memory_resume.sh: the search loop (stdlib) on fake primitives writing to the
# real store through `llmnas run`, killed with SIGKILL again and again — each kill after
# that round has committed at least one new record, at a random instant after it — and
# resumed with --resume each time, ends with exactly the records (every field but the
# wall-clock ones), the strategy state and the totals of an uninterrupted run: nothing
# repeated, nothing lost.
. "$(dirname "$0")/lib.sh"

N=1500
cat >"$T/strategy.lua" <<EOF
-- A deterministic strategy: candidate i is "net n<i> <accuracy>", built and
-- "trained" by the fakes; its state keeps the trail of iterations it saw.
package.path = "$ROOT/tests/lua/?.lua;" .. package.path
local F = require "fakes"
local search = require "llmnas.search"
local core = require "core"
local codes = {}
for i = 1, $N do codes[i] = ("net n%d %.3f"):format(i, (i * 7919 % 997 + 1) / 1000) end
search.search({ name = "resume-stress", quiet = true, budget = { iterations = $N },
  env = { arch = F.arch(), train = F.train() },
  propose = function(ctx)
    -- 4 ms an iteration: on a quiet machine the fakes' iterations were so fast that a
    -- round ran some 200 of them between its first commit and the kill, and the run
    -- ended before the 10 rounds the test needs
    local t = core.now() + 0.004
    while core.now() < t do end
    ctx.state.trail = (ctx.state.trail or "") .. ctx.iteration .. ","
    return codes[ctx.iteration]
  end })
EOF
cat >"$T/compare.lua" <<'EOF'
-- compare.lua A B N: the runs in stores A and B have the same N records, state and
-- totals: every field compared but the wall-clock ones (seconds, time = the breakdown). Not cache_hit (nor the totals'
-- cache_hits): a kill after the evaluation cache was written but before the record was
-- makes the resumed iteration a cache hit, not a second training.
local a = assert(memory.open(arg[1], { readonly = true }))
local b = assert(memory.open(arg[2], { readonly = true }))
local n = tonumber(arg[3])
local SKIP = { seconds = true, committed_at = true, started = true, train_seconds = true,
  time = true, cache_hit = true, cache_hits = true }
local function diff(x, y, path, out)
  if type(x) ~= type(y) then
    out[#out + 1] = ("%s: %s vs %s"):format(path, tostring(x), tostring(y))
  elseif type(x) ~= "table" then
    if x ~= y then out[#out + 1] = ("%s: %s vs %s"):format(path, tostring(x), tostring(y)) end
  else
    for k, v in pairs(x) do if not SKIP[k] then diff(v, y[k], path .. "." .. tostring(k), out) end end
    for k, v in pairs(y) do
      if not SKIP[k] and x[k] == nil then diff(nil, v, path .. "." .. tostring(k), out) end
    end
  end
  return out
end
assert(a:last_iteration(1) == n, "A has " .. tostring(a:last_iteration(1)))
assert(b:last_iteration(1) == n, "B has " .. tostring(b:last_iteration(1)))
local out, fields = {}, 0
for i = 1, n do
  local x, y = assert(a:get(1, i)), assert(b:get(1, i))
  for _ in pairs(x) do fields = fields + 1 end
  diff(x, y, "record " .. i, out)
end
diff(a:state(1), b:state(1), "state", out)
diff(a:run(1), b:run(1), "run", out)
local want = {}
for i = 1, n do want[#want + 1] = i .. "," end
if a:state(1).strategy.trail ~= table.concat(want) then out[#out + 1] = "A's trail is not 1..N" end
if #a:runs() ~= 1 or #b:runs() ~= 1 then out[#out + 1] = "a resume started a new run" end
for i = 1, math.min(#out, 20) do print(out[i]) end
if #out > 0 then os.exit(1) end
print(("same %d records (%d fields), state and totals"):format(n, fields))
EOF
cat >"$T/last.lua" <<'EOF'
-- last.lua DB: the last committed iteration of run 1 (0 if none yet)
local ok, db = pcall(memory.open, arg[1], { readonly = true })
print(ok and db and db:last_iteration(1) or 0)
EOF
last() { "$LLMNAS" run "$T/last.lua" "$T/db" 2>/dev/null | tail -n 1; }

run "$LLMNAS" run "$T/strategy.lua" --db "$T/ref"
expect_rc 0 "the uninterrupted reference run"

rounds=0
landed=0
for k in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
    before=$(last)
    resume=
    [ "${before:-0}" -gt 0 ] && resume=--resume
    "$LLMNAS" run "$T/strategy.lua" --db "$T/db" $resume >"$T/round.out" 2>&1 &
    pid=$!
    rounds=$((rounds + 1))
    # wait for this round's first commit (a generous bound: a loaded machine is slow to
    # start a process), then kill it at a random instant a little later
    i=0
    while kill -0 $pid 2>/dev/null && [ "$(last)" -le "${before:-0}" ] && [ $i -lt 1200 ]; do
        sleep 0.05
        i=$((i + 1))
    done
    sleep "$(awk -v s="$$$k" 'BEGIN { srand(s); printf "%.3f", rand() * 0.05 }')"
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    rc=$?
    after=$(last)
    if [ $rc -eq 137 ] && [ "${after:-0}" -gt "${before:-0}" ]; then
        landed=$((landed + 1))
    elif [ $rc -eq 0 ]; then
        rounds=$((rounds - 1))
        break  # the run finished before this kill
    else
        fail "round $k: exit $rc, iterations $before -> $after: $(tail -3 "$T/round.out")"
    fi
done
echo "kill -9: $landed of $rounds rounds killed after committing ($(last) of $N iterations)"
if [ $landed -eq $rounds ] && [ $landed -ge 10 ]; then
    pass "every round ($landed) was killed after it committed records"
else
    fail "only $landed of $rounds rounds were killed after committing"
fi

# On a loaded machine every kill may land before the run even began: then there
# is nothing to resume and the last round starts it (as each round above does).
resume=
if "$LLMNAS" show --db "$T/db" --format csv 2>/dev/null | grep -q '^1,'; then resume=--resume; fi
run "$LLMNAS" run "$T/strategy.lua" --db "$T/db" $resume
expect_rc 0 "the last resume finishes the run"
run "$LLMNAS" run "$T/compare.lua" "$T/ref" "$T/db" $N
expect_rc 0 "resumed run compared with the uninterrupted one"
expect_out "same $N records" "same records, state and totals: nothing repeated or lost"
