-- precision_agreement.lua: is bf16 (and the opt-in Winograd mode) a faithful proxy?
-- Takes the distinct trained networks of a search's latest run (e.g. an evolve run on
-- the demo subset), trains each again with the run's recipe in fp32 with direct
-- convolutions (the reference), in bf16, and in fp32 with Winograd, and prints
-- Spearman's rho and Kendall's tau of the one-epoch validation accuracies against the
-- reference; then the three reference networks (examples/nets) the same way, with the
-- accuracy difference in points. The verdict line applies issue 17's rule for making
-- auto the search default: rho >= 0.95 and every reference net within 0.5 point.
--   llmnas run tests/bench/precision_agreement.lua DB[,DB...] [N=24] [MODES=fp32,bf16,winograd]
--                                                 [REFS=small,vgg,resnet]
-- MODES may add "seed" (fp32 with seed + 1: how far plain seed noise moves the ranks).
-- Accuracy does not depend on load: run it under `nice -n 10` on a shared machine.
local rank = require "llmnas.rank"

local path = assert(arg[1], "usage: precision_agreement.lua DB [N] [MODES]")
local nmax = tonumber(arg[2]) or 24
local modes = {}
for m in (arg[3] or "fp32,bf16,winograd"):gmatch("[^,]+") do modes[#modes + 1] = m end
assert(modes[1] == "fp32", "the first mode is the reference: fp32")

-- several memories: their latest runs' networks are pooled, the recipe is the first's
local recs, meta = require("trained_nets").pool(path)
for i = #recs, nmax + 1, -1 do recs[i] = nil end

local task = meta.task or {}
local base = meta.recipe or {}
base.threads = base.threads or 2
base.time_limit = nil  -- the same networks must finish in every mode
local function recipe(mode)
  local o = {}
  for k, v in pairs(base) do o[k] = v end
  o.precision = mode == "bf16" and "bf16" or "fp32"
  o.winograd = mode == "winograd"
  if mode == "seed" then o.seed = (o.seed or 43) + 1 end
  return o
end
local bf16, why = train.precision("bf16")
print(("precision agreement: %d networks of %s, %s on %s (%s images), modes %s; %s"):format(
  #recs, path, task.dataset or "?", tostring(base.dataset), tostring(base.subset or "all"),
  table.concat(modes, ","), bf16 and ("bf16: " .. why) or ("bf16 unavailable: " .. tostring(why))))

local function train_all(name, g)
  local accs, line = {}, {}
  for _, m in ipairs(modes) do
    local res, err, kind = train.evaluate(g, recipe(m))
    accs[m] = res and res.val_acc
    line[#line + 1] = res and ("%s %.2f%% (%.0f s)"):format(m, res.val_acc * 100, res.seconds)
      or ("%s failed: %s (%s)"):format(m, tostring(err), tostring(kind))
  end
  print(("  %-22s %s"):format(name, table.concat(line, "  ")))
  io.stdout:flush()
  return accs
end

local cols = {}
for _, m in ipairs(modes) do cols[m] = {} end
for i, r in ipairs(recs) do
  local g = assert(arch.compile(r.code, { input = task.input or { 1, 28, 28 }, classes = task.classes or 10 }))
  local accs = train_all(("%2d. iteration %d"):format(i, r.iter), g)
  local complete = true
  for _, m in ipairs(modes) do complete = complete and accs[m] ~= nil end
  if complete then
    for _, m in ipairs(modes) do table.insert(cols[m], accs[m]) end
  end
end
local verdict = { rho = nil, ok = true }
for _, m in ipairs(modes) do
  if m ~= "fp32" and #cols.fp32 >= 3 then
    local rho, tau = rank.spearman(cols.fp32, cols[m]), rank.kendall(cols.fp32, cols[m])
    local worst = 0
    for j = 1, #cols.fp32 do worst = math.max(worst, math.abs(cols[m][j] - cols.fp32[j])) end
    print(("%s vs fp32 on %d networks: Spearman rho %.3f, Kendall tau %.3f, largest |difference| %.2f points"):format(
      m, #cols.fp32, rho, tau, worst * 100))
    if m == "bf16" then verdict.rho = rho end
  end
end

print("reference networks (examples/nets), same recipe:")
local root = os.getenv("LLMNAS_ROOT") or "."
for net in (arg[4] or "small,vgg,resnet"):gmatch("[^,]+") do
  local f = assert(io.open(root .. "/examples/nets/bench_" .. net .. ".lua"))
  local src = f:read("a")
  f:close()
  local g = assert(arch.compile(src, { input = task.input or { 1, 28, 28 }, classes = task.classes or 10 }))
  local accs = train_all(net, g)
  local diffs = {}
  for _, m in ipairs(modes) do
    if m ~= "fp32" and accs[m] and accs.fp32 then
      local d = (accs[m] - accs.fp32) * 100
      diffs[#diffs + 1] = ("%s %+.2f points"):format(m, d)
      if m == "bf16" and math.abs(d) > 0.5 then verdict.ok = false end
    elseif m == "bf16" then
      verdict.ok = false
    end
  end
  print(("  %-22s difference to fp32: %s"):format(net, table.concat(diffs, ", ")))
end
if verdict.rho then
  local yes = verdict.rho >= 0.95 and verdict.ok
  print(("verdict: bf16 rho %.3f (needs >= 0.95), reference nets %s 0.5 point: auto %s the search default"):format(
    verdict.rho, verdict.ok and "within" or "NOT within", yes and "may become" or "stays off as"))
end
