-- check_evolve.lua: did the evolve.lua run in DB improve on its first candidate?
--   llmnas run tests/e2e/check_evolve.lua DB
-- Prints the first and the best accuracy; exits 1 unless the best is strictly better.
local db = assert(memory.open(arg[1], { readonly = true }))
local run = db:latest_run()
local first, best
for r in db:iter(run) do
  if r.status == "ok" and not first then first = r end
  if r.accepted then best = r end
end
assert(first and best, "no successful candidate")
print(("first candidate %.2f%% (iteration %d), best %.2f%% (iteration %d), %d iterations"):format(
  first.metrics.val_acc * 100, first.iter, best.metrics.val_acc * 100, best.iter, db:last_iteration(run)))
if best.metrics.val_acc <= first.metrics.val_acc then os.exit(1) end
