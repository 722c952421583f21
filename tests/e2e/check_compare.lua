-- check_compare.lua: does `llmnas compare RUN --json` (saved in FILE) give, at the
-- full budget, the run's best validation accuracy as its records hold it (results of
-- the run's own recipe only), and as its budget the training CPU-seconds of them all?
--   llmnas run tests/e2e/check_compare.lua FILE DB
local f = assert(io.open(arg[1]))
local tab = json.decode(f:read("a"))
f:close()
local db = assert(memory.open(arg[2], { readonly = true }))
local best, spent = nil, 0
for r in db:iter(db:latest_run()) do
  -- a lower fidelity's accuracy (successive halving's lower rungs) is not the run's best; its compute counts
  if r.status == "ok" and not r.fidelity and r.metrics.val_acc and (not best or r.metrics.val_acc > best) then
    best = r.metrics.val_acc
  end
  if not r.cache_hit then spent = spent + (r.metrics.cpu_seconds or 0) end
end
local rows = tab.groups[1].rows
local last = rows[#rows]
print(("table: %.4f at %.2f s; records: %.4f, %.2f CPU-s"):format(last.median, tab.budget, best or -1, spent))
assert(best and math.abs(last.median - best) < 1e-12, "the best at the full budget differs from the records'")
assert(math.abs(tab.budget - spent) < 1e-6, "the budget is not the run's training CPU-seconds")
assert(spent > 0, "the run used no training compute")
