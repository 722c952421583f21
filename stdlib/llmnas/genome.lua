--- llmnas.genome — the search space of the offline strategies (examples/evolve.lua,
-- examples/random.lua): a genome, its random draw, one mutation, and its rendering
-- as a candidate program. One space, so that evolution and random search compare.
--
--   local genome = require "llmnas.genome"
--   local g = genome.random(rng)        -- rng: llmnas.rng
--   local child = genome.mutate(g, rng)
--   local code = genome.render(g)       -- candidate-language source
--   genome.describe(g)                  -- "c32 | c64 | flatten" (one line)
--
-- A genome: act, stages = { {width, blocks, kernel, kind = "conv"|"res"}, ... } (1 to
-- 3 stages, each ending in a 2x2 max pool: 28 -> 14 -> 7 -> 3), head = {pool =
-- "flatten"|"avg", hidden = 0|64|128|256, norm = bool}. The space holds what
-- trains well in one epoch on small data — shallow and wide plain stacks, a dense
-- head after flattening a small map, normalisation before the head — as well as
-- deep residual stages with global pooling. The reference network
-- examples/nets/bench_small.lua is the genome
--   {act = "ReLU", stages = {{32,1,3,"conv"}, {64,1,3,"conv"}}, head = {pool = "flatten", hidden = 0}}.
local M = {}

M.WIDTHS = { 16, 24, 32, 48, 64, 96, 128 }
M.KERNELS = { 3, 5 }
M.ACTS = { "ReLU", "SiLU", "GELU", "Hardswish" }
M.HIDDEN = { 0, 64, 128, 256 }
M.MAX_STAGES = 3
M.MAX_BLOCKS = 3
-- Forward MFLOPs per 28x28 image a genome may cost (bench_small: 7.7): the space
-- is for one epoch on two cores, so draws and mutations above it are redrawn.
M.MAX_MFLOPS = 40

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

local function step_in(list, v, rng)
  local i = index_of(list, v) + (rng:float() < 0.5 and -1 or 1)
  return list[math.max(1, math.min(#list, i))]
end

local function random_stage(rng, min_width)
  local widths = {}
  for _, w in ipairs(M.WIDTHS) do if w >= (min_width or 0) then widths[#widths + 1] = w end end
  return { width = rng:choice(#widths > 0 and widths or M.WIDTHS), blocks = rng:int(1, 2),
    kernel = rng:choice(M.KERNELS), kind = rng:float() < 0.6 and "conv" or "res" }
end

--- Forward MFLOPs (2 x MACs of convolutions and linear layers) per image of
-- side `side` (28 by default) with `cin` input channels.
function M.mflops(g, side, cin)
  local r, c, macs = side or 28, cin or 1, 0
  for _, st in ipairs(g.stages) do
    for b = 1, st.blocks do
      local convs = st.kind == "res" and 2 or 1
      macs = macs + r * r * c * st.width * st.kernel * st.kernel
      if convs == 2 then macs = macs + r * r * st.width * st.width * st.kernel * st.kernel end
      if st.kind == "res" and c ~= st.width then macs = macs + r * r * c * st.width end
      c = st.width
      if b == st.blocks then r = r // 2 end
    end
  end
  local features = g.head.pool == "avg" and c or c * r * r
  local h = g.head.hidden
  macs = macs + (h > 0 and (features * h + h * 10) or features * 10)
  return 2 * macs / 1e6
end

local function draw(rng)
  local g = { act = rng:choice(M.ACTS), stages = {},
    head = { pool = rng:float() < 0.7 and "flatten" or "avg", hidden = rng:choice(M.HIDDEN),
      norm = rng:float() < 0.5 } }
  local n = rng:int(1, M.MAX_STAGES)
  for s = 1, n do g.stages[s] = random_stage(rng, s > 1 and g.stages[s - 1].width or nil) end
  return g
end

--- A random genome. Widths grow from stage to stage (the common shape of a good
-- CNN) so that the draw does not waste samples on bottlenecks; genomes over
-- MAX_MFLOPS are redrawn.
function M.random(rng)
  while true do
    local g = draw(rng)
    if M.mflops(g) <= M.MAX_MFLOPS then return g end
  end
end

M.MUTATIONS = { "width", "blocks", "kernel", "kind", "add_stage", "remove_stage", "act", "pool", "hidden", "norm" }

local mutate_once
--- One random change, of the kinds a human would try (redrawn while the child is
-- over MAX_MFLOPS). Returns a new genome and the name of the change.
function M.mutate(parent, rng)
  for _ = 1, 100 do
    local g, kind = mutate_once(parent, rng)
    if M.mflops(g) <= M.MAX_MFLOPS then return g, kind end
  end
  return parent, "none"
end

function mutate_once(parent, rng)
  local g = copy(parent)
  local si = rng:int(1, #g.stages)
  local st = g.stages[si]
  local kind = M.MUTATIONS[rng:int(1, #M.MUTATIONS)]
  if kind == "width" then
    st.width = step_in(M.WIDTHS, st.width, rng)
  elseif kind == "blocks" then
    st.blocks = math.max(1, math.min(M.MAX_BLOCKS, st.blocks + (rng:float() < 0.5 and -1 or 1)))
  elseif kind == "kernel" then
    st.kernel = st.kernel == 3 and 5 or 3
  elseif kind == "kind" then
    st.kind = st.kind == "conv" and "res" or "conv"
  elseif kind == "add_stage" and #g.stages < M.MAX_STAGES then
    table.insert(g.stages, { width = g.stages[#g.stages].width, blocks = 1, kernel = 3, kind = "conv" })
  elseif (kind == "add_stage" or kind == "remove_stage") and #g.stages > 1 then
    kind = "remove_stage"
    table.remove(g.stages, si)
  elseif kind == "act" then
    g.act = rng:choice(M.ACTS)
  elseif kind == "pool" then
    g.head.pool = g.head.pool == "flatten" and "avg" or "flatten"
  elseif kind == "hidden" then
    g.head.hidden = step_in(M.HIDDEN, g.head.hidden, rng)
  elseif kind == "norm" then
    g.head.norm = not g.head.norm
  else
    kind = "width"
    st.width = step_in(M.WIDTHS, st.width, rng)
  end
  return g, kind
end

--- One line: "ReLU c32x1k3 | r64x2k5 | flatten h128 bn".
function M.describe(g)
  local parts = {}
  for _, st in ipairs(g.stages) do
    parts[#parts + 1] = ("%s%dx%dk%d"):format(st.kind == "res" and "r" or "c", st.width, st.blocks, st.kernel)
  end
  local h = g.head
  return ("%s %s | %s%s%s"):format(g.act, table.concat(parts, " | "), h.pool,
    h.hidden > 0 and (" h" .. h.hidden) or "", h.norm and " bn" or "")
end

--- The genome as a candidate program in the candidate language.
function M.render(g)
  local lines = {
    "-- rendered by llmnas.genome: " .. M.describe(g),
    "local function act(x) return nn." .. g.act .. "(x) end",
    "local function cbr(x, c, k) return act(nn.BatchNorm2d(nn.Conv2d(x, c, k, {padding = k // 2, bias = false}))) end",
    "local function res(x, c, k)",
    "  local y = cbr(x, c, k)",
    "  y = nn.BatchNorm2d(nn.Conv2d(y, c, k, {padding = k // 2, bias = false}))",
    "  if x.shape[2] ~= c then x = nn.BatchNorm2d(nn.Conv2d(x, c, 1, {bias = false})) end",
    "  return act(y + x)",
    "end",
    "function Net(x, classes)",
  }
  for _, st in ipairs(g.stages) do
    for _ = 1, st.blocks do
      lines[#lines + 1] = ("  x = %s(x, %d, %d)"):format(st.kind == "res" and "res" or "cbr", st.width, st.kernel)
    end
    lines[#lines + 1] = "  x = nn.MaxPool2d(x, 2)"
  end
  local h = g.head
  if h.norm then lines[#lines + 1] = "  x = nn.BatchNorm2d(x)" end
  if h.pool == "avg" then lines[#lines + 1] = "  x = nn.AdaptiveAvgPool2d(x, 1)" end
  lines[#lines + 1] = "  x = nn.Flatten(x)"
  if h.hidden > 0 then lines[#lines + 1] = ("  x = act(nn.Linear(x, %d))"):format(h.hidden) end
  lines[#lines + 1] = "  return nn.Linear(x, classes)"
  lines[#lines + 1] = "end"
  return table.concat(lines, "\n") .. "\n"
end

--- The task and training settings evolve.lua and random.lua share, so that their
-- runs compare (`llmnas compare` refuses runs of different recipes): the demo's
-- Fashion-MNIST subset, a 0.2 validation split (`--set val_fraction=F`: the strategy
-- bench gives paper.lua's runs the same), 2000 of its validation images (a standard
-- error of about 0.8 points at the demo's 84%: evaluation is sized to the differences the search ranks,
-- and it was 18% of a candidate's time at 3000), a 300 s training limit, and
-- the trainer's precision unless `--set precision=fp32|bf16|auto` says otherwise (a
-- value the trainer refuses stops the run before it exists, as in any strategy).
-- `set` is llmnas.options().set.
function M.task(set)
  return { dataset = "fashion-mnist", subset = set.subset or 6000, val_fraction = set.val_fraction or 0.2,
    val_subset = set.val_subset or 2000 },
    { time_limit = set.time_limit or 300, precision = set.precision ~= nil and tostring(set.precision) or nil }
end

--- The reference network's genome (examples/nets/bench_small.lua).
function M.reference()
  return { act = "ReLU", stages = { { width = 32, blocks = 1, kernel = 3, kind = "conv" },
    { width = 64, blocks = 1, kernel = 3, kind = "conv" } }, head = { pool = "flatten", hidden = 0, norm = false } }
end

return M
