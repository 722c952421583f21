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
--                                  [--set halving=RUNGS [--set eta=N] [--set bracket=N]]
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
--@option --halving RUNGS  successive halving: lower rungs' subsets, e.g. 1500 or 1000,3000 (on: subset/4; default off)
--@option --eta N          with --halving: a rung's best 1/N go up to the next (default 4)
--@option --bracket N      with --halving: children per bracket at the lowest rung (default 8)
--
-- Successive halving (`--set halving=1500`, llmnas.halving): children are bred as
-- above, BRACKET at a time, and trained first on the first 1500 images of the run's
-- subset, validated on the same share of the validation images (the first ones, at
-- least 500: the scores of a rung compare among themselves); the best 1/ETA of them
-- are trained again on the next rung's subset, and so on up to the run's own subset.
-- Only results of the run's own subset join the population and compete for the best
-- (a lower rung's are recorded with their `fidelity`, "subset=1500 val_subset=500");
-- a child that fails or is stopped is never promoted
-- and never joins. Every training counts as an iteration. Each record's notes say
-- where the child was (`halving = {bracket, rung, id}`; the same id at the next
-- rung is the same genome). One candidate at a time: not with --workers N or mpirun
-- (a rung waits for all its results before it promotes).
local llmnas = require "llmnas"
local rng_mod = require "llmnas.rng"
local genome = require "llmnas.genome"
local evolution = require "llmnas.evolution"
local halving = require "llmnas.halving"
local baseline = require "llmnas.baseline"

local set = llmnas.options().set
local POPULATION = llmnas.setting("population", 8, { positive_integer = true })  -- the ageing population's size
local SAMPLE = llmnas.setting("sample", 3, { positive_integer = true })           -- tournament size
local TASK, TRAIN = genome.task(set)     -- the same as random.lua's

-- A bad --set value: one line and exit 64, no traceback.
local function refuse(fmt, ...)
  require("llmnas.preflight").fail(64, "evolve.lua: " .. fmt:format(...))
end

-- A lower rung validates on the share of the validation images it trains on (the
-- first ones: a rung's scores compare among themselves), never fewer than RUNG_VAL_MIN
-- nor more than the run's: its cost then scales with its subset (2000 validation images
-- are some 30% of a 1000-image rung's time). nil: the run's own (no override).
local RUNG_VAL_MIN = 500
local function rung_val(n)
  local val = TASK.val_subset
  local v = math.min(val, math.max(RUNG_VAL_MIN, val * n // TASK.subset))
  if v < val then return v end
end

-- --set halving/eta/bracket: the scheduler's settings, or nil when halving is off.
local function halving_settings()
  local v = set.halving
  if v == nil or v == false then
    for _, k in ipairs { "eta", "bracket" } do
      if set[k] ~= nil then
        refuse("--set %s=%s applies to successive halving only: add --set halving=on", k, tostring(set[k]))
      end
    end
    return nil
  end
  local subset, batch = TASK.subset, TRAIN.batch or require("llmnas.search").RECIPE.batch
  local sizes = {}
  if v == true then
    sizes[1] = subset // 4
  else
    for part in (tostring(v) .. ","):gmatch("([^,]*),") do
      local n = math.tointeger(tonumber(part))
      if not n then
        refuse("--set halving=%s: expected on, off or the lower rungs' subsets, smallest first (e.g. 1500 or "
          .. "1000,3000), got '%s'", tostring(v), part)
      end
      sizes[#sizes + 1] = n
    end
  end
  local rungs, last = {}, batch - 1
  for _, n in ipairs(sizes) do
    if n < batch or n <= last or n >= subset then
      refuse("--set halving=%s: each rung's subset must be at least the batch (%d), larger than the rung below it "
        .. "and smaller than the run's subset (%d), got %d", tostring(v), batch, subset, n)
    end
    rungs[#rungs + 1], last = { subset = n, val_subset = rung_val(n) }, n
  end
  rungs[#rungs + 1] = {}   -- the last rung: the run's own recipe
  local eta, n = set.eta or 4, set.bracket or 8
  if type(eta) ~= "number" or eta <= 1 then refuse("--set eta=%s: expected a number > 1", tostring(eta)) end
  if math.type(n) ~= "integer" or n < 1 then refuse("--set bracket=%s: expected a positive integer", tostring(n)) end
  local opts = llmnas.options()
  if (opts.workers or 1) > 1 or select(2, require("llmnas.mpi").pool()) then
    refuse("--set halving: one candidate at a time (a rung waits for all its results): not with --workers N or mpirun")
  end
  return { n = n, eta = eta, rungs = rungs }
end
local HALVING = halving_settings()

-- A new child: random while the population is not full, else a mutation of the
-- tournament's winner (the best of SAMPLE members drawn at random).
local function breed(st, rng)
  local pop = st.population or {}
  if #pop < POPULATION then return genome.random(rng) end
  return genome.mutate(evolution.parent(pop, SAMPLE, rng).genome, rng)
end

local function propose(ctx)
  local st = ctx.state
  local rng = st.rng and rng_mod.load(st.rng) or rng_mod.new(set.seed or 43)
  local g, train
  if HALVING or st.halving then
    -- the scheduler lives in ctx.state: a resumed run continues the same bracket
    st.halving = st.halving or halving.new(HALVING)
    local item = halving.next(st.halving, function() return { genome = breed(st, rng) } end)
    ctx.proposal.item = item
    g, train = item.candidate.genome, item.train
  else
    g = breed(st, rng)
  end
  -- the genome travels with its own candidate: with several in flight (--workers N,
  -- steady state: a child is bred whenever a worker frees) reflect sees its own
  st.rng = rng.state
  ctx.proposal.genome = g
  if train then return { code = genome.render(g), train = train } end
  return genome.render(g)
end

-- The evaluated child joins the population; the oldest member dies (ageing). A
-- child stopped by early abort has no score: it does not join (llmnas.evolution).
-- With halving, only a child at the last rung (the run's own recipe) that trained
-- joins: a lower rung's accuracy does not compare, and a promoted child that fails
-- there (a timeout, a crash) is not the genome's score.
local function reflect(ctx, result)
  local st = ctx.state
  local pop = st.population or json.array()
  local item, notes = ctx.proposal.item, { genome = ctx.proposal.genome }
  if item then
    halving.report(st.halving, item, result.status == "ok" and result.val_acc or nil)
    notes.halving = { bracket = item.bracket, rung = item.rung, id = item.id }
    if item.rung == #st.halving.rungs and result.status == "ok" then
      evolution.admit(pop, { genome = ctx.proposal.genome, iteration = ctx.iteration }, result, POPULATION)
    end
  else
    evolution.admit(pop, { genome = ctx.proposal.genome, iteration = ctx.iteration }, result, POPULATION)
  end
  st.population = pop
  return notes
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
