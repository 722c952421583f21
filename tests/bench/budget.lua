-- budget.lua: figures of pairs of evolve runs (one seed each) without and with
-- the evaluation cache and early abort, and optionally a third run of the seed with
-- successive halving on top of them (SH_DB: the same figure, beside the other's).
--   llmnas run tests/bench/budget.lua OFF_DB,ON_DB[,SH_DB]... [DB...] [iterations=N]
-- A DB alone (no comma) gets its breakdown only (tests/bench/bench_candidate.sh).
-- The run without them is read over its first N iterations (default: all of them);
-- its final best there is the target. The run with them is measured in compute, not
-- iterations: it may have run more (bench_budget.sh gives it BENCH_ON_ITERS), and
-- the figure is the training CPU-seconds it had spent when it first reached the
-- target, against the other run's whole compute. The same figure within the other's
-- iteration count is printed beside it (the loop is deterministic, so the first N
-- records of a longer run are those of an N-iteration run with the same seed).
-- For each run: the per-candidate time breakdown summed over its candidates and
-- its ratio to the training loops (target <= 1.15), the evaluation's images/s
-- against the training loop's (target >= 2.5); for each pair: the training
-- CPU-seconds the run with cache and early abort needed to reach the final best
-- of the run without them (target <= 1/3), median over the pairs. The run
-- without them was made with early abort off; its cache hits are charged what
-- their network's training cost the first time (training is deterministic:
-- without the cache the same result is paid for again).
local compare = require "llmnas.compare"

local off, on, sh, alone, cut = {}, {}, {}, {}, nil
for _, a in ipairs(arg) do
  local o, n = a:match("^(.-),(.+)$")
  if a:match("^iterations=%d+$") then cut = tonumber(a:match("%d+"))
  elseif o then
    off[#off + 1] = o
    on[#off], sh[#off] = n:match("^(.-),(.+)$")
    on[#off] = on[#off] or n
  else alone[#alone + 1] = a end
end
assert(#off + #alone > 0, "usage: budget.lua OFF_DB,ON_DB[,SH_DB]... [DB...] [iterations=N]")

local PARTS = { "compile", "build", "train", "probe", "evaluate", "ipc" }

local records = require("bench_runs").latest

local function breakdown(path)
  local recs, meta = records(path)
  local sum, n, eval_rate, train_rate = { total = 0 }, 0, {}, {}
  for _, p in ipairs(PARTS) do sum[p] = 0 end
  for _, r in ipairs(recs) do
    local t = r.time or {}
    if t.total and t.train then
      n = n + 1
      for _, p in ipairs(PARTS) do sum[p] = sum[p] + (t[p] or 0) end
      sum.total = sum.total + t.total
      local m = r.metrics
      if m.nval and t.evaluate and t.evaluate > 0 and m.images_per_s then
        eval_rate[#eval_rate + 1] = m.nval / t.evaluate
        train_rate[#train_rate + 1] = m.images_per_s
      end
    end
  end
  local line = {}
  for _, p in ipairs(PARTS) do line[#line + 1] = ("%s %.1f"):format(p, sum[p]) end
  print(("%s (%s): %d trained candidates, %.1f s in all: %s; %.2fx the training loops"):format(path,
    meta.name, n, sum.total, table.concat(line, ", "), sum.total / math.max(1e-9, sum.train)))
  local eval_x
  if #eval_rate > 0 then
    local er, tr = compare.median(eval_rate), compare.median(train_rate)
    eval_x = er / tr
    print(("   evaluation %.0f images/s vs training %.0f images/s (medians): %.2fx")
      :format(er, tr, eval_x))
  end
  return recs, sum.total / math.max(1e-9, sum.train), eval_x, meta
end

local function final_best(recs)
  local t = compare.trajectory(recs, "")
  return t.points[#t.points] and t.points[#t.points].best
end

local function count(recs, status)
  local n = 0
  for _, r in ipairs(recs) do if r.status == status then n = n + 1 end end
  return n
end

-- Runs given alone (bench_candidate.sh's repeats of the demo): their breakdowns and
-- the medians of both ratios over them.
if #alone > 0 then
  local fixed, evals = {}, {}
  for _, p in ipairs(alone) do
    local _, f, e = breakdown(p)
    fixed[#fixed + 1], evals[#evals + 1] = f, e
  end
  print(("median over %d runs: %.2fx the training loops (target <= 1.15x); evaluation %.2fx the training"
    .. " loop's images/s (target >= 2.5x)"):format(#alone, compare.median(fixed), compare.median(evals)))
end

local function first(recs, n)
  local out = {}
  for k = 1, math.min(n, #recs) do out[k] = recs[k] end
  return out
end

local function count_lower(recs)
  local n = 0
  for _, r in ipairs(recs) do if r.fidelity then n = n + 1 end end
  return n
end

-- The same figure in work rather than CPU-seconds: forward FLOPs per image x (3 x the
-- images trained + the images validated), what a record's network computed whatever
-- the machine's load. CPU-seconds are not load-free: two OpenMP threads that lose a
-- core to another job spin at their barriers, and on this machine the same network's
-- training cost twice the CPU-seconds at load 5 as at load 1. Runs made at different
-- loads compare in work. charge_hits: a cache hit costs what its network's first
-- training cost (the run without the cache), else nothing.
local function work_cost(recs, batch, charge_hits)
  local function own(r)
    local m = r.metrics or {}
    if r.cache_hit or not m.flops then return 0 end
    return m.flops * (3 * (m.steps or 0) * batch + (m.nval or 0)) / 1e9
  end
  local first_cost = {}
  for _, r in ipairs(recs) do
    if not r.cache_hit and r.hash and r.status == "ok" and not first_cost[r.hash] then first_cost[r.hash] = own(r) end
  end
  return function(r)
    if r.cache_hit then return charge_hits and first_cost[r.hash] or 0 end
    return own(r)
  end
end

local work = { on = {}, sh = {} }
-- the ratio, in work, of a run's compute to reach target against the run without cache and abort's
local function work_ratio(key, recs, batch, t_off_work, target)
  local got = target and compare.compute_to_reach(compare.trajectory(recs, key, work_cost(recs, batch)), target)
  local x = got and got / t_off_work.total or math.huge
  work[key][#work[key] + 1] = x
  return x == math.huge and "not reached" or ("%.2fx"):format(x)
end

-- A run's compute `got` to reach the target (nil: never), as ratios to the run without
-- cache and abort — its whole compute (into xs) and its compute to first reach the
-- target (into firsts); not reached counts as not reached (math.huge).
local function add_reach(got, t_off, off_reached, xs, firsts)
  xs[#xs + 1] = got and got / t_off.total or math.huge
  firsts[#firsts + 1] = got and got / off_reached or math.huge
end

local ratios, strict, equal, n_pairs = {}, {}, {}, 0
local sh_ratios, sh_strict, sh_setting = {}, {}, nil
for i, p in ipairs(off) do
  n_pairs = n_pairs + 1
  local ro, _, _, meta_off = breakdown(p)
  local rn = breakdown(on[i])
  local n = math.min(cut or math.huge, #ro)
  ro = first(ro, n)
  local target = final_best(ro)
  local batch = (meta_off.recipe or {}).batch or 128
  local t_off_work = compare.trajectory(ro, "off", work_cost(ro, batch, true))
  print(("   pair %d in work (GFLOP: forward FLOPs x (3 x images trained + images validated), load-free): without"
    .. " cache and abort %.0f in all; to reach its best, with cache and abort %s of it"):format(i, t_off_work.total,
    work_ratio("on", rn, batch, t_off_work, target)))
  local cost_off, hits_off = compare.uncached(ro)
  local t_off = compare.trajectory(ro, "off", cost_off)
  local t_on = compare.trajectory(rn, "on")
  local reached = target and compare.compute_to_reach(t_on, target)
  local reached_eq = target and compare.compute_to_reach(compare.trajectory(first(rn, n), "on"), target)
  local off_reached = target and compare.compute_to_reach(t_off, target)
  local head = ("   pair %d: without cache and abort %d iterations, %.1f CPU-s in all, %.2f%% first reached"
    .. " at %.1f CPU-s (%d cache hits charged); with them %d iterations (%d pruned, %d cache hits, %.1f CPU-s in all)")
    :format(i, n, t_off.total, (target or 0) * 100, off_reached or 0, hits_off, #rn, count(rn, "pruned"),
      select(2, compare.uncached(rn)), t_on.total)
  equal[#equal + 1] = reached_eq and reached_eq / t_off.total or math.huge
  local eq_text = reached_eq and ("%.2fx"):format(reached_eq / t_off.total) or "not reached"
  add_reach(reached, t_off, off_reached, ratios, strict)
  if reached then
    print(("%s reached it after %.1f CPU-s: %.2fx the run without them (%.2fx its compute to first reach it;"
      .. " within its first %d iterations: %s)"):format(head, reached, reached / t_off.total, reached / off_reached,
      n, eq_text))
  else
    print(("%s never reached it (its best %.2f%%): counted as not reached"):format(head, (final_best(rn) or 0) * 100))
  end
  if sh[i] then
    -- the same figure for the run with successive halving (measured in compute too; its
    -- iterations count the lower rungs' trainings, which count for compute, not for the best)
    local rh, _, _, meta = breakdown(sh[i])
    local set = meta.settings or {}
    sh_setting = ("halving=%s eta=%s bracket=%s"):format(tostring(set.halving), tostring(set.eta),
      tostring(set.bracket))
    local t_sh = compare.trajectory(rh, "sh")
    local got = target and compare.compute_to_reach(t_sh, target)
    local what = ("   pair %d, with successive halving (%s) on top: %d iterations (%d at a lower fidelity, %d pruned, "
      .. "%d cache hits, %.1f CPU-s in all)"):format(i, sh_setting, #rh, count_lower(rh), count(rh, "pruned"),
      select(2, compare.uncached(rh)), t_sh.total)
    print(("   pair %d in work, with successive halving on top: %s of the run without cache and abort"):format(i,
      work_ratio("sh", rh, batch, t_off_work, target)))
    add_reach(got, t_off, off_reached, sh_ratios, sh_strict)
    if got then
      print(("%s reached it after %.1f CPU-s: %.2fx the run without cache and abort (%.2fx its compute to first"
        .. " reach it)"):format(what, got, got / t_off.total, got / off_reached))
    else
      print(("%s never reached it (its best %.2f%%): counted as not reached"):format(what,
        (final_best(rh) or 0) * 100))
    end
  end
end
local spread = require("bench_runs").spread
if n_pairs > 0 then
  print(("training CPU-seconds with cache + early abort to reach the final best of evolve without them, "
    .. "against that run's compute: %s over %d seeds (target <= 0.33x); against its compute to first reach "
    .. "that best: %s; within the same iterations: %s"):format(spread(ratios), n_pairs, spread(strict),
    spread(equal)))
end
if n_pairs > 0 then
  print(("the same in work (load-free): with cache + early abort %s; with successive halving on top %s")
    :format(spread(work.on), #work.sh > 0 and spread(work.sh) or "not run"))
end
if #sh_ratios > 0 then
  print(("with successive halving (%s) on top of cache + early abort, the same: %s over %d seeds (target <= 0.33x);"
    .. " against its compute to first reach that best: %s"):format(sh_setting, spread(sh_ratios), #sh_ratios,
    spread(sh_strict)))
end
