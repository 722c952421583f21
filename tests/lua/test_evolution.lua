-- test_evolution.lua: regularised evolution's population (llmnas.evolution), which
-- examples/evolve.lua breeds from: the tournament picks the best of its sample, an
-- evaluated child ages the oldest member out, and a child stopped by early abort
-- neither joins nor displaces anyone.
local T = require "testing"
local evolution = require "llmnas.evolution"
local rng_mod = require "llmnas.rng"

local tests = {}

local function pop_of(accs)
  local pop = {}
  for i, a in ipairs(accs) do pop[i] = { acc = a, name = i } end
  return pop
end

function tests.the_tournament_returns_the_best_of_its_sample()
  local pop = pop_of { 0.1, 0.9, 0.5, 0.3 }
  T.eq(evolution.parent({}, 3, rng_mod.new(1)), nil, "an empty population has no parent")
  T.eq(evolution.parent(pop, 50, rng_mod.new(1)).name, 2, "a large sample always finds the best")
  -- a sample of one is a uniform draw: over many draws every member is picked
  local seen, rng = {}, rng_mod.new(7)
  for _ = 1, 200 do seen[evolution.parent(pop, 1, rng).name] = true end
  T.eq({ seen[1], seen[2], seen[3], seen[4] }, { true, true, true, true })
end

function tests.an_evaluated_child_joins_and_the_oldest_dies()
  local pop = pop_of { 0.7, 0.6, 0.5 }
  T.eq(evolution.admit(pop, { name = "c" }, { status = "ok", val_acc = 0.4 }, 3), true)
  T.eq({ #pop, pop[1].name, pop[3].name, pop[3].acc }, { 3, 2, "c", 0.4 }, "the oldest (0.7) aged out")
  T.eq(evolution.admit(pop, { name = "f" }, { status = "failed" }, 4), true, "a failed child is a result: 0")
  T.eq({ #pop, pop[4].acc }, { 4, 0 })
end

function tests.a_pruned_child_is_not_admitted_and_nobody_dies()
  local pop = pop_of { 0.7, 0.6, 0.5 }
  T.eq(evolution.admit(pop, { name = "p" }, { status = "pruned", val_acc = nil }, 3), false)
  T.eq({ #pop, pop[1].acc, pop[3].acc }, { 3, 0.7, 0.5 }, "the population is as it was")
end

return tests
