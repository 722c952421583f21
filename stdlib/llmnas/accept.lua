--- llmnas.accept — acceptance rules: does a new result replace the best?
-- Each rule is a function(best, result, ctx) -> boolean, where best and result
-- are tables with at least val_acc (and params / flops for Pareto); best is nil
-- before the first success. Failed results (no val_acc) are never accepted.
--
--   accept = require("llmnas.accept").better            -- the paper: strictly higher accuracy
--   accept = require("llmnas.accept").annealing{t0 = 0.02, decay = 0.95}
--   accept = require("llmnas.accept").pareto{cost = "params"}
local M = {}

local function ok(r) return r ~= nil and type(r.val_acc) == "number" end

--- Strictly better validation accuracy (the paper's rule; ties keep the old best).
function M.better(best, result)
  if not ok(result) then return false end
  return not ok(best) or result.val_acc > best.val_acc
end

--- Simulated annealing: a worse result is accepted with probability
-- exp(-(best - new) / T), T = t0 * decay^iteration. `random` may be given for tests.
function M.annealing(opts)
  opts = opts or {}
  local t0, decay = opts.t0 or 0.02, opts.decay or 0.95
  local random = opts.random or math.random
  return function(best, result, ctx)
    if not ok(result) then return false end
    if M.better(best, result) then return true end
    local t = t0 * decay ^ ((ctx and ctx.iteration) or 0)
    if t <= 0 then return false end
    return random() < math.exp(-(best.val_acc - result.val_acc) / t)
  end
end

--- Pareto: accept when no point of the front dominates the new one (higher or
-- equal accuracy at lower or equal cost, one strictly). The front is kept in
-- ctx.state.pareto so it is saved and resumed with the run.
function M.pareto(opts)
  opts = opts or {}
  local cost = opts.cost or "params"
  local function dominates(a, b)
    return a.val_acc >= b.val_acc and a[cost] <= b[cost] and (a.val_acc > b.val_acc or a[cost] < b[cost])
  end
  return function(_, result, ctx)
    if not ok(result) or type(result[cost]) ~= "number" then return false end
    local front = ctx.state.pareto or {}
    for _, p in ipairs(front) do
      if dominates(p, result) or (p.val_acc == result.val_acc and p[cost] == result[cost]) then return false end
    end
    local kept = json.array()
    for _, p in ipairs(front) do
      if not dominates(result, p) then kept[#kept + 1] = p end
    end
    kept[#kept + 1] = { val_acc = result.val_acc, [cost] = result[cost], iteration = ctx.iteration }
    ctx.state.pareto = kept
    return true
  end
end

return M
