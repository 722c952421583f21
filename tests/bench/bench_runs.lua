-- bench_runs.lua: the latest run of a memory, for the benches that read runs
-- (budget.lua, reprice.lua).
--   local recs, meta = require("bench_runs").latest("a.db")
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

return M
