--- llmnas.evolution — regularised evolution's population (Real et al., 2019):
-- tournament selection and ageing, as plain data (a list kept in ctx.state, so a
-- resumed run continues it). examples/evolve.lua is built on it.
--
--   local parent = evolution.parent(pop, sample, rng)      -- nil while pop is empty
--   evolution.admit(pop, { genome = g, iteration = i }, result, size)
--
-- A member is {acc, ...} (anything else is the strategy's: the genome, ...).
local M = {}

--- The tournament's winner: the best of `sample` members drawn at random (with
-- replacement) from pop, or nil for an empty population.
function M.parent(pop, sample, rng)
  local best
  if #pop == 0 then return nil end
  for _ = 1, sample do
    local m = pop[rng:int(1, #pop)]
    if not best or m.acc > best.acc then best = m end
  end
  return best
end

--- Admit an evaluated child: it joins the population with its validation accuracy
-- (a candidate that failed, 0) and, beyond `size` members, the oldest dies. A child
-- stopped by early abort (status "pruned") is not admitted and nobody dies: it has no
-- score, and entered at 0 it would take the place of the oldest member, a real one,
-- so that a run stopping many children would breed from a population of zeros and go
-- its own way (stdlib/doc/budget.md). Returns true when the child was admitted.
function M.admit(pop, member, result, size)
  if result.status == "pruned" then return false end
  member.acc = result.val_acc or 0
  pop[#pop + 1] = member
  while #pop > size do table.remove(pop, 1) end
  return true
end

return M
