-- random.lua: random search over the same genome space as evolve.lua
-- (llmnas.genome): every candidate is an independent random draw. It is the
-- baseline a search strategy has to beat at equal training compute
-- (`llmnas compare`, tests/bench/bench_strategies.sh).
--
--   llmnas run examples/random.lua [--iterations N] [--set subset=N] [--set val_subset=N]
--                                  [--set seed=N] [--set abort=off] [--set precision=fp32|bf16|auto]
--                                  [--dataset NAME]
local llmnas = require "llmnas"
local rng_mod = require "llmnas.rng"
local genome = require "llmnas.genome"

local set = llmnas.options().set
local TASK, TRAIN = genome.task(set)     -- the same as evolve.lua's

llmnas.search {
  name = "random",
  task = TASK,
  budget = { iterations = set.iterations or 16 },
  train = TRAIN,
  early_abort = llmnas.setting("abort", true),   -- as evolve.lua: equal treatment
  propose = function(ctx)
    local st = ctx.state
    local rng = st.rng and rng_mod.load(st.rng) or rng_mod.new(set.seed or 43)
    local g = genome.random(rng)
    st.rng = rng.state
    ctx.record.notes = { genome = g }
    return genome.render(g)
  end,
}
