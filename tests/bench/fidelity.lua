-- fidelity.lua: how well the 1-epoch proxy ranks networks. Takes the top-N and a
-- random N of a run's distinct trained networks, trains each longer (EPOCHS
-- epochs on SUBSET training images: "run" = the run's own subset, 0 = the full
-- training set) and prints
-- Spearman's rho and Kendall's tau between the proxy and the longer training;
-- and, from the records' learning curves, between the early-abort checkpoints
-- (held-out probe at 30% and 50% of the epoch) and the proxy.
--   llmnas run tests/bench/fidelity.lua DB[,DB...] [N_TOP=10] [N_RANDOM=10] [EPOCHS=10] [SUBSET=run]
-- (several memories: their latest runs' networks are pooled; the recipe is the first's)
local rank = require "llmnas.rank"
local rng = require("llmnas.rng").new(12)

local path = assert(arg[1], "usage: fidelity.lua DB [N_TOP] [N_RANDOM] [EPOCHS] [SUBSET]")
local ntop, nrand = tonumber(arg[2]) or 10, tonumber(arg[3]) or 10
local epochs, subset = tonumber(arg[4]) or 10, arg[5] or "run"
local recs, meta = require("trained_nets").pool(path)
table.sort(recs, function(a, b) return a.metrics.val_acc > b.metrics.val_acc end)
local top, rest = {}, {}
for i = 1, math.min(ntop, #recs) do top[#top + 1] = recs[i] end
for i = ntop + 1, #recs do rest[#rest + 1] = recs[i] end
local picked = {}
for _ = 1, math.min(nrand, #rest) do picked[#picked + 1] = table.remove(rest, rng:int(1, #rest)) end
-- interleaved (top, random, top, ...): a run stopped early still has both kinds
local chosen = {}
for i = 1, math.max(#top, #picked) do
  chosen[#chosen + 1] = top[i]
  chosen[#chosen + 1] = picked[i]
end
local task = meta.task or {}
local recipe = meta.recipe or {}
if subset ~= "run" then recipe.subset = tonumber(subset) > 0 and tonumber(subset) or nil end
print(("proxy fidelity: %d networks of %d distinct ones trained in %s (%d top, %d random), trained %d epochs on %s")
  :format(
  #chosen, #recs, path, #top, #picked, epochs,
  recipe.subset and (recipe.subset .. " training images") or "the full training set"))

-- early fidelities from the curves (free: recorded while the proxy trained): the
-- held-out probe's accuracy (when the run probed), the window's accuracy (what
-- early abort judges by in a one-epoch recipe) and the window's training loss
-- (lower ranks higher)
local function at_fraction(r, f, field)
  for _, p in ipairs(r.curve or {}) do
    if p[field] and p.step / p.steps >= f - 1e-9 then return p[field] end
  end
end
for _, m in ipairs({ { "acc", 1, "probe" }, { "wacc", 1, "window accuracy" }, { "loss", -1, "window loss" } }) do
  for _, f in ipairs({ 0.3, 0.5 }) do
    local xs, ys = {}, {}
    for _, r in ipairs(recs) do
      local a = at_fraction(r, f, m[1])
      if a then xs[#xs + 1], ys[#ys + 1] = m[2] * a, r.metrics.val_acc end
    end
    if #xs >= 3 then
      print(("%s at %d%% of the epoch vs the proxy (%d networks): rho %.3f, tau %.3f"):format(m[3], f * 100, #xs,
        rank.spearman(xs, ys), rank.kendall(xs, ys)))
    end
  end
end

recipe.epochs = epochs
recipe.time_limit = (recipe.time_limit or 300) * epochs  -- the run's limit was for one epoch
local proxy, long = {}, {}
for i, r in ipairs(chosen) do
  local g = assert(arch.compile(r.code, { input = task.input or { 1, 28, 28 }, classes = task.classes or 10 }))
  local res, err, kind = train.evaluate(g, recipe)
  if res then
    proxy[#proxy + 1], long[#long + 1] = r.metrics.val_acc, res.val_acc
    local so_far = #proxy >= 3 and ("  (so far: rho %.3f, tau %.3f)"):format(rank.spearman(proxy, long),
      rank.kendall(proxy, long)) or ""
    print(("  %2d. iteration %3d: proxy %.2f%%  %d epochs %.2f%%  (%.0f CPU-s)%s"):format(i, r.iter,
      r.metrics.val_acc * 100, epochs, res.val_acc * 100, res.cpu_seconds or res.seconds, so_far))
  else
    print(("  %2d. iteration %3d: failed to train longer: %s (%s)"):format(i, r.iter, tostring(err), tostring(kind)))
  end
  io.stdout:flush()
end
if #proxy >= 3 then
  print(("proxy (1 epoch) vs %d epochs on %d networks: Spearman rho %.3f, Kendall tau %.3f"):format(epochs, #proxy,
    rank.spearman(proxy, long), rank.kendall(proxy, long)))
end
