--- llmnas.baseline — how a run's best compares with the hand-written reference
-- network (examples/nets/bench_small.lua, the genome llmnas.genome.reference())
-- trained with the run's own recipe on the same subset and validation images,
-- and with the run's first successful candidate. Used as a summarise hook:
--
--   llmnas.search { ..., summarise = require("llmnas.baseline").summarise }
--
-- The reference is trained once per recipe: its result goes into the run's
-- evaluation cache under the same key a candidate with that graph would use.
local genome = require "llmnas.genome"

local M = {}

--- The reference's validation accuracy with `recipe` (from the cache or trained).
-- Returns acc, or nil, message.
function M.reference_acc(ctx)
  local search = require "llmnas.search"
  local g, msg = arch.compile(genome.render(genome.reference()),
    { input = ctx.task.input, classes = ctx.task.classes })
  if not g then return nil, msg end
  local key = search.cache_key(g, ctx.recipe)
  local cached = ctx.db.by_hash and ctx.db:by_hash(key)
  if cached and cached.status == "ok" and cached.val_acc then return cached.val_acc end
  local r, err, kind = train.evaluate(g, ctx.recipe)
  if not r then return nil, ("%s (%s)"):format(tostring(err), tostring(kind)) end
  local entry = { status = "ok", hash = g:hash(), val_acc = r.val_acc, val_loss = r.val_loss,
    train_loss = r.train_loss, params = g:params(), flops = g:flops(), seconds = r.seconds }
  if ctx.db.put_hash then ctx.db:put_hash(key, entry) end
  return r.val_acc
end

-- The first result of the run's own recipe (a lower fidelity's does not compare).
local function first_ok(ctx)
  if not ctx.db.iter then return nil end
  for r in ctx.db:iter(ctx.run) do
    if r.status == "ok" and not r.fidelity and r.metrics and r.metrics.val_acc then return r end
  end
end

local function points(a, b) return ("%+.2f points"):format((a - b) * 100) end

--- The closing lines: best vs the reference and vs the first candidate.
function M.summarise(ctx)
  local best = ctx.best
  if not best then return "no candidate trained successfully: nothing to compare with the reference" end
  local lines = {}
  local ref, err = M.reference_acc(ctx)
  if ref then
    lines[#lines + 1] = ("best %.2f%% vs the reference network (examples/nets/bench_small.lua, same recipe "
      .. "and subset) %.2f%%: %s%s"):format(best.val_acc * 100, ref * 100, points(best.val_acc, ref),
      best.val_acc > ref and "" or " (the search did not beat the reference)")
  else
    lines[#lines + 1] = "reference network not trained: " .. tostring(err)
  end
  local first = first_ok(ctx)
  if first then
    lines[#lines + 1] = ("best %.2f%% (iteration %d) vs the first candidate %.2f%% (iteration %d): %s"):format(
      best.val_acc * 100, best.iteration, first.metrics.val_acc * 100, first.iter,
      points(best.val_acc, first.metrics.val_acc))
  end
  return table.concat(lines, "\n")
end

return M
