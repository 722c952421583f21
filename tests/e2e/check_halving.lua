-- check_halving.lua: what an evolve.lua run with successive halving (--set halving=...)
-- must have recorded, read back from its memory and recomputed from the records alone:
--   llmnas run tests/e2e/check_halving.lua DB ETA POPULATION
-- * a lower rung's records carry their fidelity ("subset=N"), the last rung's none;
-- * the ids trained at rung r+1 of a bracket are the best 1/ETA of rung r by its
--   recorded accuracies (best first, ties to the earlier id; a failure never goes up),
--   and each is the same genome (the same graph hash and genome) one rung up;
-- * the population in the run's saved state is exactly what ageing the last rung's
--   successful results gives (no lower rung, no pruned or failed child);
-- * the run's best is the best of the last rung's results.
-- Prints "best ITER ACC", "lower N" (records at a lower fidelity), "lower_iters I..."
-- (their iterations) and "first ITER ACC"
-- (the first full-fidelity result) for the shell test to compare with `llmnas show`,
-- `llmnas compare` and the closing lines; exits non-zero on any mismatch.
local db = assert(memory.open(arg[1], { readonly = true }))
local eta, population = tonumber(arg[2]), math.tointeger(tonumber(arg[3]))
assert(eta and population, "usage: check_halving.lua DB ETA POPULATION")
local run = db:latest_run()
local recs = {}
for r in db:iter(run) do recs[#recs + 1] = r end
assert(#recs > 0, "no records")

local function where(r)
  local h = r.notes and r.notes.halving
  assert(h and h.bracket and h.rung and h.id, ("iteration %d: no halving notes"):format(r.iter))
  return h
end

-- rungs: the highest rung seen is the last (the run's own recipe)
local last, groups, lower = 0, {}, 0
for _, r in ipairs(recs) do
  local h = where(r)
  last = math.max(last, h.rung)
  local key = h.bracket .. ":" .. h.rung
  groups[key] = groups[key] or {}
  table.insert(groups[key], r)
end
assert(last >= 2, "no candidate was promoted past the first rung")
for _, r in ipairs(recs) do
  local h = where(r)
  if h.rung < last then
    lower = lower + 1
    assert(r.fidelity and r.fidelity:match("^subset=%d+$"),
      ("iteration %d (rung %d): no lower fidelity recorded (%s)"):format(r.iter, h.rung, tostring(r.fidelity)))
    assert(r.accepted == false, ("iteration %d: a lower rung's result was accepted as the best"):format(r.iter))
  else
    assert(r.fidelity == nil, ("iteration %d (the last rung): fidelity %s"):format(r.iter, tostring(r.fidelity)))
  end
end

-- promotions, rung by rung, wherever the next rung was reached
local promotions, keys = 0, {}
for key in pairs(groups) do keys[#keys + 1] = key end
table.sort(keys, function(x, y)
  local bx, gx = x:match("^(%d+):(%d+)$")
  local by, gy = y:match("^(%d+):(%d+)$")
  if bx ~= by then return tonumber(bx) < tonumber(by) end
  return tonumber(gx) < tonumber(gy)
end)
for _, key in ipairs(keys) do
  local rs = groups[key]
  local b, g = key:match("^(%d+):(%d+)$")
  local up = groups[b .. ":" .. (tonumber(g) + 1)]
  if up then
    local scored = {}
    for _, r in ipairs(rs) do
      if r.status == "ok" then scored[#scored + 1] = { id = where(r).id, acc = r.metrics.val_acc, r = r } end
    end
    table.sort(scored, function(x, y)
      if x.acc ~= y.acc then return x.acc > y.acc end
      return x.id < y.id
    end)
    local want, got = {}, {}
    for i = 1, math.min(#scored, math.max(1, math.floor(#rs / eta))) do want[i] = scored[i].id end
    for i, r in ipairs(up) do got[i] = where(r).id end
    local function list(t) return table.concat(t, ",") end
    local line = ("bracket %s rung %s: %d trained, accuracies"):format(b, g, #rs)
    for _, s in ipairs(scored) do line = line .. (" %d=%.4f"):format(s.id, s.acc) end
    print(line .. "; promoted " .. list(got))
    assert(list(want) == list(got), ("bracket %s: rung %s promoted %s, its best 1/%s are %s")
      :format(b, g, list(got), tostring(eta), list(want)))
    for i, r in ipairs(up) do
      local from = scored[i].r
      assert(r.hash == from.hash and json.encode(r.notes.genome, { canonical = true })
        == json.encode(from.notes.genome, { canonical = true }),
        ("iteration %d: promoted id %d is not the genome of iteration %d"):format(r.iter, where(r).id, from.iter))
      promotions = promotions + 1
    end
  end
end
assert(promotions > 0, "no promotion to check")

-- the population: the last rung's successful results, aged to POPULATION members
local want = {}
for _, r in ipairs(recs) do
  if where(r).rung == last and r.status == "ok" then
    want[#want + 1] = r.iter
    if #want > population then table.remove(want, 1) end
  end
end
local state = assert(db:state(run), "no saved state")
local got = {}
for i, m in ipairs(state.strategy.population or {}) do got[i] = m.iteration end
assert(#got > 0, "the population is empty")
assert(table.concat(want, ",") == table.concat(got, ","), ("the population holds iterations %s, the last rung's "
  .. "successful results aged to %d are %s"):format(table.concat(got, ","), population, table.concat(want, ",")))
for _, m in ipairs(state.strategy.population) do
  local r = recs[m.iteration]
  assert(r and r.status == "ok" and not r.fidelity and m.acc == r.metrics.val_acc,
    ("population member of iteration %s is not a full-fidelity result"):format(tostring(m.iteration)))
end

-- the best: the last rung's best result, as the loop saved it
local best, first
for _, r in ipairs(recs) do
  if r.status == "ok" and not r.fidelity then
    first = first or r
    if not best or r.metrics.val_acc > best.metrics.val_acc then best = r end
  end
end
assert(best, "no full-fidelity result")
assert(state.best and state.best.iteration == best.iter,
  ("the run's best is iteration %s, the best full-fidelity result is %d"):format(
    tostring(state.best and state.best.iteration), best.iter))
local top_lower = 0
for _, r in ipairs(recs) do
  if r.fidelity and r.status == "ok" then top_lower = math.max(top_lower, r.metrics.val_acc) end
end
print(("population %s; lower-rung best %.4f, full-fidelity best %.4f"):format(table.concat(got, ","), top_lower,
  best.metrics.val_acc))
print(("best %d %.2f%%"):format(best.iter, best.metrics.val_acc * 100))
print(("lower %d"):format(lower))
local lower_iters = {}
for _, r in ipairs(recs) do if r.fidelity then lower_iters[#lower_iters + 1] = r.iter end end
print("lower_iters " .. table.concat(lower_iters, " "))
print(("first %d %.2f%%"):format(first.iter, first.metrics.val_acc * 100))
