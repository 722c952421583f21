-- reprice.lua: bench_budget.sh's compute figure with every training priced by the median
-- of REPEATS fresh measurements taken in shuffled order, rather than by the CPU-seconds it
-- happened to cost during its run. On a shared machine the same networks cost 40% more
-- CPU-seconds in one run than in another made minutes later at the same load average (the
-- host's other work is not in the load), so two runs measured apart compare their
-- machine's moments as much as their searches. Here every distinct training of both runs
-- (a network at a fidelity) is trained again, REPEATS rounds, each round in a new random
-- order over all of them, interleaving the runs' trainings, and priced by its median.
-- Training is deterministic: each one must give its record's accuracy again (checked).
--   llmnas run tests/bench/reprice.lua OFF_DB,SH_DB... [repeats=N]
-- OFF_DB: a run without cache and abort (its final best is the target; its cache hits are
-- charged their network's price, as budget.lua does); SH_DB: a run with cache, abort and
-- successive halving. The SH run has no pruned record here (early abort judges its last
-- rung only, and its trainings are priced in full); a pruned record is refused.
-- Prints per pair the repriced ratio, then the median and min-max over the pairs.
local compare = require "llmnas.compare"
local rng = require("llmnas.rng").new(2026)

local pairs_, repeats = {}, 3
for _, a in ipairs(arg) do
  if a:match("^repeats=%d+$") then repeats = tonumber(a:match("%d+"))
  else
    local o, s = a:match("^(.-),(.+)$")
    assert(o, "usage: reprice.lua OFF_DB,SH_DB... [repeats=N]")
    pairs_[#pairs_ + 1] = { off = o, sh = s }
  end
end
assert(#pairs_ > 0, "usage: reprice.lua OFF_DB,SH_DB... [repeats=N]")

local records = require("bench_runs").latest

-- "subset=1000 val_subset=500" -> {subset = 1000, val_subset = 500}
local function overrides(fidelity)
  local t = {}
  for k, v in (fidelity or ""):gmatch("(%S+)=(%S+)") do t[k] = tonumber(v) or v end
  return t
end

local function key(r) return r.hash .. "|" .. (r.fidelity or "") end

-- the distinct trainings of every pair, each once
local jobs, by_key = {}, {}
for i, p in ipairs(pairs_) do
  p.off_recs, p.meta = records(p.off)
  p.sh_recs = records(p.sh)
  for _, recs in ipairs({ p.off_recs, p.sh_recs }) do
    for _, r in ipairs(recs) do
      assert(r.status ~= "pruned", ("%s: a pruned record (iteration %d): not priced here"):format(p.sh, r.iter))
      if r.status == "ok" and not r.cache_hit and r.code and not by_key[i .. key(r)] then
        local j = { pair = i, rec = r, cpu = {} }
        by_key[i .. key(r)] = j
        jobs[#jobs + 1] = j
      end
    end
  end
end
print(("reprice: %d distinct trainings in %d pairs, %d rounds in shuffled order"):format(#jobs, #pairs_, repeats))
io.stdout:flush()

local mismatches = 0
for round = 1, repeats do
  local order = {}
  for k = 1, #jobs do order[k] = jobs[k] end
  for k = #order, 2, -1 do
    local m = rng:int(1, k)
    order[k], order[m] = order[m], order[k]
  end
  local t0 = os.time()
  for _, j in ipairs(order) do
    local p, r = pairs_[j.pair], j.rec
    local task = p.meta.task or {}
    local recipe = {}
    for k, v in pairs(p.meta.recipe or {}) do recipe[k] = v end
    for k, v in pairs(overrides(r.fidelity)) do recipe[k] = v end
    recipe.checkpoints, recipe.progress = 10, function() return false end  -- as the search monitors
    local g = assert(arch.compile(r.code, { input = task.input or { 1, 28, 28 }, classes = task.classes or 10 }))
    local res, err, kind = train.evaluate(g, recipe)
    assert(res, ("iteration %d of %s: %s (%s)"):format(r.iter, p.off, tostring(err), tostring(kind)))
    if res.val_acc ~= r.metrics.val_acc then mismatches = mismatches + 1 end
    j.cpu[#j.cpu + 1] = res.cpu_seconds
  end
  print(("  round %d: %d trainings in %d s, load average %s"):format(round, #order, os.time() - t0,
    (io.open("/proc/loadavg"):read("l") or ""):match("^(%S+ %S+ %S+)")))
  io.stdout:flush()
end
print(("  %d of %d trainings gave another accuracy than their record's"):format(mismatches, #jobs * repeats))

local ratios = {}
for i, p in ipairs(pairs_) do
  -- a record's price: its training's median; a cache hit shares its network's key, so it
  -- is charged that price in the run without the cache and nothing in the run with it
  local function priced(charge_hits)
    return function(r)
      if r.status ~= "ok" or (r.cache_hit and not charge_hits) then return 0 end
      return compare.median(by_key[i .. key(r)].cpu)
    end
  end
  local t_off = compare.trajectory(p.off_recs, "off", priced(true))
  local target, total = t_off.points[#t_off.points].best, t_off.total
  local reached = compare.compute_to_reach(compare.trajectory(p.sh_recs, "sh", priced(false)), target)
  ratios[#ratios + 1] = reached and reached / total or math.huge
  print(("  pair %d: target %.2f%%, without cache and abort %.1f CPU-s (repriced); with successive halving %s")
    :format(i, target * 100, total, reached and ("reached after %.1f CPU-s: %.2fx"):format(reached, reached / total)
      or "not reached"))
end
print(("repriced (median of %d shuffled measurements per training): with successive halving on top of cache + "
  .. "early abort, %s over %d seeds (target <= 0.33x)"):format(repeats, require("bench_runs").spread(ratios), #ratios))
