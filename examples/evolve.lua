-- evolve.lua: a search with no LLM — regularised evolution (Real et al., 2019:
-- tournament selection and an ageing population) over the genome space of
-- llmnas.genome (plain and residual stages, widths, kernel sizes, activations, a
-- flattened or pooled head with an optional dense layer and normalisation). Each
-- genome is rendered to a candidate program and goes through the same loop as an
-- LLM's proposal (compile in a worker, train one epoch, cache by graph hash,
-- memory), with early abort on (llmnas.abort: a candidate whose learning curve
-- cannot catch up with the best's is stopped, and does not join the population). It is the baseline the paper lacks,
-- and the main job's embedded default (`make demo`): it runs offline on a
-- Fashion-MNIST subset in a few minutes and ends by comparing its best with the
-- hand-written reference network (examples/nets/bench_small.lua) trained the same way.
--
--   llmnas run examples/evolve.lua [--iterations N] [--set subset=N] [--population N]
--                                  [--sample N] [--set seed=N] [--set abort=off]
--                                  [--set reference=off] [--set probe=N] [--set val_subset=N]
--                                  [--set precision=fp32|bf16|auto]
--                                  [--dataset NAME] [--workers N]
--
-- With --workers N it is steady-state, as regularised evolution was published: N
-- children train at once and a new child is bred from the population as it stands
-- whenever a worker frees (the population ages in the order results arrive).
--
-- Its own options, declared for `llmnas run` (`--population 4` is `--set population=4`;
-- `llmnas run examples/evolve.lua --help` lists them):
--@option --population N   the ageing population's size (default 8)
--@option --sample N       the tournament size (default 3)
local llmnas = require "llmnas"
local rng_mod = require "llmnas.rng"
local genome = require "llmnas.genome"
local evolution = require "llmnas.evolution"
local baseline = require "llmnas.baseline"

local set = llmnas.options().set
local POPULATION = set.population or 8   -- the ageing population's size
local SAMPLE = set.sample or 3           -- tournament size
local TASK, TRAIN = genome.task(set)     -- the same as random.lua's

local function propose(ctx)
  local st = ctx.state
  local rng = st.rng and rng_mod.load(st.rng) or rng_mod.new(set.seed or 43)
  local pop = st.population or {}
  local g
  if #pop < POPULATION then
    g = genome.random(rng)
  else
    -- Tournament: the best of SAMPLE members drawn at random is the parent.
    g = genome.mutate(evolution.parent(pop, SAMPLE, rng).genome, rng)
  end
  -- the genome travels with its own candidate: with several in flight (--workers N,
  -- steady state: a child is bred whenever a worker frees) reflect sees its own
  st.rng = rng.state
  ctx.proposal.genome = g
  return genome.render(g)
end

-- The evaluated child joins the population; the oldest member dies (ageing). A
-- child stopped by early abort has no score: it does not join (llmnas.evolution).
local function reflect(ctx, result)
  local st = ctx.state
  local pop = st.population or json.array()
  evolution.admit(pop, { genome = ctx.proposal.genome, iteration = ctx.iteration }, result, POPULATION)
  st.population = pop
  return { genome = ctx.proposal.genome }
end

llmnas.search {
  name = "evolve",
  task = TASK,
  budget = { iterations = set.iterations or 16 },
  train = TRAIN,
  early_abort = llmnas.setting("abort", true),
  monitor = set.probe and { checkpoints = 10, probe = set.probe } or nil,
  propose = propose,
  reflect = reflect,
  summarise = llmnas.setting("reference", true) and baseline.summarise or nil,
}
