-- bench_runs.lua: what the benches that read runs share (budget.lua, reprice.lua):
-- the latest run of a memory, and a ratio's spread over seeds.
--   local recs, meta = require("bench_runs").latest("a.db")
--   print(require("bench_runs").spread({0.2, 0.4, math.huge}))  -- median 0.40x [0.20x-not reached]
local M = {}

function M.latest(path)
  local db = assert(memory.open(path, { readonly = true }))
  local run = db:latest_run()
  local recs = {}
  for r in db:iter(run) do recs[#recs + 1] = r end
  local meta = db:run(run).meta or {}
  db:close()
  return recs, meta
end

-- "median X [MIN-MAX]" of ratios; math.huge is a target not reached
function M.spread(xs)
  local lo, hi = math.huge, -math.huge
  for _, x in ipairs(xs) do lo, hi = math.min(lo, x), math.max(hi, x) end
  local function fmt(x) return x == math.huge and "not reached" or ("%.2fx"):format(x) end
  return ("median %s [%s-%s]"):format(fmt(require("llmnas.compare").median(xs)), fmt(lo), fmt(hi))
end

return M
