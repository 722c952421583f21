-- check_evolve.lua: did the evolve.lua run in DB improve on its first candidate, and
-- (with `reference`) beat the hand-written reference network
-- (examples/nets/bench_small.lua) trained with the run's recipe on the same subset?
--   llmnas run tests/e2e/check_evolve.lua DB [reference]
-- Prints the figures; exits 1 unless the best is strictly better than each. The
-- reference's accuracy is read from the run's evaluation cache, where the demo's
-- closing lines (llmnas.baseline) put it: the record, not the printed text.
local genome = require "llmnas.genome"
local search = require "llmnas.search"

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
local ok = best.metrics.val_acc > first.metrics.val_acc
if arg[2] == "reference" then
  local meta = db:run(run).meta
  local g = assert(arch.compile(genome.render(genome.reference()),
    { input = meta.task.input, classes = meta.task.classes }))
  local ref = db:by_hash(search.cache_key(g:hash(), meta.recipe))
  assert(ref and ref.status == "ok" and ref.val_acc,
    "the reference network's result is not in the run's evaluation cache (was the run's summary made?)")
  print(("reference network %.2f%% with the same recipe: best %+.2f points"):format(ref.val_acc * 100,
    (best.metrics.val_acc - ref.val_acc) * 100))
  ok = ok and best.metrics.val_acc > ref.val_acc
end
if not ok then os.exit(1) end
