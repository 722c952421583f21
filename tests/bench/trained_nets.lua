-- trained_nets.lua: the distinct networks a search trained in full, pooled from the
-- latest runs of several memories, for the benches that train them again
-- (precision_agreement.lua, fidelity.lua).
--   local nets = require "trained_nets"
--   local recs, meta = nets.pool("a.db,b.db")   -- meta: the first run's
-- A record counts once per network hash, in run order; a pruned, failed or
-- lower-fidelity record is not a fully trained network, and one without its code
-- cannot be trained again: both are left out.
local M = {}

function M.pool(paths)
  local recs, seen, meta = {}, {}, nil
  for one in paths:gmatch("[^,]+") do
    local db = assert(memory.open(one, { readonly = true }))
    local run = db:latest_run()
    meta = meta or db:run(run).meta
    for r in db:iter(run) do
      if r.status == "ok" and not r.fidelity and r.hash and r.code and not seen[r.hash] then
        seen[r.hash] = true
        recs[#recs + 1] = r
      end
    end
    db:close()
  end
  return recs, meta
end

return M
