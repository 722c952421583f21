-- evolve.lua: a search with no LLM — regularised evolution (Real et al., 2019:
-- tournament selection and an ageing population) over a genome of stages, blocks,
-- widths, kernel sizes, activations and skip connections. Each genome is rendered to
-- a candidate program and goes through the same loop as an LLM's proposal (compile
-- in a worker, train one epoch, cache by graph hash, memory). It is the baseline the
-- paper lacks, and the main job's embedded default (`make demo`): it runs offline on a
-- Fashion-MNIST subset in a few minutes.
--
--   llmnas run examples/evolve.lua [--iterations N] [--set subset=N] [--population N]
--                                  [--sample N] [--set seed=N] [--dataset NAME]
--
-- Its own options, declared for `llmnas run` (`--population 4` is `--set population=4`;
-- `llmnas run examples/evolve.lua --help` lists them):
--@option --population N   the ageing population's size (default 8)
--@option --sample N       the tournament size (default 3)
local llmnas = require "llmnas"
local rng_mod = require "llmnas.rng"

local set = llmnas.options().set
local POPULATION = set.population or 8   -- the ageing population's size
local SAMPLE = set.sample or 3           -- tournament size
local WIDTHS = { 8, 16, 24, 32, 48, 64 }
local KERNELS = { 3, 5 }
local ACTS = { "ReLU", "SiLU", "GELU", "Hardswish" }

local function random_genome(rng)
  local g = { stem = rng:choice({ 8, 16, 24 }), act = rng:choice(ACTS), stages = {} }
  for s = 1, rng:int(1, 3) do
    g.stages[s] = { width = rng:choice(WIDTHS), blocks = rng:int(1, 2), kernel = rng:choice(KERNELS),
      skip = rng:float() < 0.5 }
  end
  return g
end

local function copy(t)
  if type(t) ~= "table" then return t end
  local c = {}
  for k, v in pairs(t) do c[k] = copy(v) end
  return c
end

local function index_of(list, v)
  for i, x in ipairs(list) do if x == v then return i end end
  return 1
end

-- One random change; the kinds of change a human would try.
local function mutate(parent, rng)
  local g = copy(parent)
  local st = g.stages[rng:int(1, #g.stages)]
  local kind = rng:int(1, 7)
  if kind == 1 then
    local i = index_of(WIDTHS, st.width) + (rng:float() < 0.5 and -1 or 1)
    st.width = WIDTHS[math.max(1, math.min(#WIDTHS, i))]
  elseif kind == 2 then
    st.blocks = math.max(1, math.min(3, st.blocks + (rng:float() < 0.5 and -1 or 1)))
  elseif kind == 3 then
    st.kernel = st.kernel == 3 and 5 or 3
  elseif kind == 4 then
    st.skip = not st.skip
  elseif kind == 5 and #g.stages < 3 then
    table.insert(g.stages, { width = rng:choice(WIDTHS), blocks = 1, kernel = 3, skip = true })
  elseif kind == 5 or kind == 6 then
    if #g.stages > 1 then table.remove(g.stages, rng:int(1, #g.stages)) else st.width = rng:choice(WIDTHS) end
  else
    g.act = rng:choice(ACTS)
  end
  return g
end

-- The genome as a candidate program in the candidate language.
local function render(g)
  local lines = {
    "-- rendered by examples/evolve.lua",
    "local function act(x) return nn." .. g.act .. "(x) end",
    "local function block(x, c, k, skip)",
    "  local y = act(nn.BatchNorm2d(nn.Conv2d(x, c, k, {padding = k // 2, bias = false})))",
    "  y = nn.BatchNorm2d(nn.Conv2d(y, c, k, {padding = k // 2, bias = false}))",
    "  if skip then",
    "    if x.shape[2] ~= c then x = nn.BatchNorm2d(nn.Conv2d(x, c, 1, {bias = false})) end",
    "    y = y + x",
    "  end",
    "  return act(y)",
    "end",
    "function Net(x, classes)",
    ("  x = act(nn.BatchNorm2d(nn.Conv2d(x, %d, 3, {padding = 1, bias = false})))"):format(g.stem),
    "  x = nn.MaxPool2d(x, 2)",
  }
  -- Stages halve the resolution between them, so a deep genome stays cheap to train.
  for i, st in ipairs(g.stages) do
    if i > 1 then lines[#lines + 1] = "  x = nn.MaxPool2d(x, 2)" end
    for _ = 1, st.blocks do
      lines[#lines + 1] = ("  x = block(x, %d, %d, %s)"):format(st.width, st.kernel, tostring(st.skip))
    end
  end
  lines[#lines + 1] = "  return nn.Linear(nn.Flatten(nn.AdaptiveAvgPool2d(x, 1)), classes)"
  lines[#lines + 1] = "end"
  return table.concat(lines, "\n") .. "\n"
end

local function propose(ctx)
  local st = ctx.state
  local rng = st.rng and rng_mod.load(st.rng) or rng_mod.new(set.seed or 43)
  local pop = st.population or {}
  local genome, parent
  if #pop < POPULATION then
    genome = random_genome(rng)
  else
    -- Tournament: the best of SAMPLE members drawn at random is the parent.
    for _ = 1, SAMPLE do
      local m = pop[rng:int(1, #pop)]
      if not parent or m.acc > parent.acc then parent = m end
    end
    genome = mutate(parent.genome, rng)
  end
  st.rng, st.pending = rng.state, genome
  return render(genome)
end

-- The evaluated child joins the population; the oldest member dies (ageing).
local function reflect(ctx, result)
  local st = ctx.state
  local pop = st.population or json.array()
  pop[#pop + 1] = { genome = st.pending, acc = result.val_acc or 0, iteration = ctx.iteration }
  if #pop > POPULATION then table.remove(pop, 1) end
  st.population, st.pending = pop, nil
  return { genome = pop[#pop].genome }
end

llmnas.search {
  name = "evolve",
  task = { dataset = "fashion-mnist", subset = set.subset or 6000, val_fraction = 0.2 },
  budget = { iterations = set.iterations or 16 },
  train = { time_limit = set.time_limit or 300 },
  propose = propose,
  reflect = reflect,
}
