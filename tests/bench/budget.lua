-- budget.lua: figures of a set of evolve runs without and with early abort.
--   llmnas run tests/bench/budget.lua OFF_DB... -- ON_DB...
-- For each run: the per-candidate time breakdown summed over its candidates and
-- its ratio to the training loops (target <= 1.15), the evaluation's images/s
-- against the training loop's (target >= 2.5); for each pair of runs with the
-- same seed: the training CPU-seconds the run with early abort needed to reach
-- the final best of the run without it (target <= 1/3), median over the pairs.
local compare = require "llmnas.compare"

local off, on, side = {}, {}, "off"
for _, a in ipairs(arg) do
  if a == "--" then side = "on" elseif side == "off" then off[#off + 1] = a else on[#on + 1] = a end
end

local PARTS = { "compile", "build", "train", "probe", "evaluate", "ipc" }

local function records(path)
  local db = assert(memory.open(path, { readonly = true }))
  local run = db:latest_run()
  local recs = {}
  for r in db:iter(run) do recs[#recs + 1] = r end
  local meta = db:run(run).meta or {}
  db:close()
  return recs, meta
end

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
  if #eval_rate > 0 then
    local er, tr = compare.median(eval_rate), compare.median(train_rate)
    print(("   evaluation %.0f images/s vs training %.0f images/s (medians): %.2fx")
      :format(er, tr, er / tr))
  end
  return recs
end

local function final_best(recs)
  local best
  for _, r in ipairs(recs) do
    local acc = r.status == "ok" and r.metrics.val_acc
    if acc and (not best or acc > best) then best = acc end
  end
  return best
end

local ratios = {}
for i, p in ipairs(off) do
  local ro = breakdown(p)
  if on[i] then
    local rn = breakdown(on[i])
    local target = final_best(ro)
    local t_off = compare.trajectory(ro, "off")
    local t_on = compare.trajectory(rn, "on")
    local reached
    for _, pt in ipairs(t_on.points) do
      if pt.best and target and pt.best >= target then reached = pt.compute break end
    end
    if reached then
      ratios[#ratios + 1] = reached / t_off.total
      print(("   seed pair %d: without abort %.1f CPU-s to %.2f%%; with abort %.1f CPU-s to reach it: %.2fx"):format(i,
        t_off.total, target * 100, reached, reached / t_off.total))
    else
      print(("   seed pair %d: with abort the run never reached %.2f%% (its best %.2f%%, %.1f vs %.1f CPU-s)")
        :format(i, (target or 0) * 100, (final_best(rn) or 0) * 100, t_on.total, t_off.total))
    end
  end
end
if #ratios > 0 then
  print(("training CPU-seconds to reach the final best without abort: median %.2fx over %d seeds (target <= 0.33)")
    :format(compare.median(ratios), #ratios))
end
