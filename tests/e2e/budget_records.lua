-- budget_records.lua: writes a memory with records of issue #12's kinds (a lower
-- fidelity, a pruned candidate with its curve, a time breakdown) for test_show_budget.sh.
--   llmnas run tests/e2e/budget_records.lua DB
local db = assert(memory.open(arg[1]))
local run = assert(db:begin_run({ name = "sh", recipe = { epochs = 1 } }))
local curve = json.array({ { step = 10, steps = 100, loss = 1.5, acc = 0.4 },
  { step = 20, steps = 100, loss = 1.2, acc = 0.5 } })
local function rec(it, t) t.iter, t.llm, t.prompts = it, {}, json.array() return t end
assert(db:append(run, rec(1, { status = "ok", accepted = true, hash = "aaaa", metrics = { val_acc = 0.81 },
  time = { compile = 0.1, build = 0.2, train = 4.0, probe = 0.3, evaluate = 0.5, ipc = 0.4, total = 5.5 } })))
assert(db:append(run, rec(2, { status = "ok", accepted = false, hash = "bbbb", fidelity = "subset=500",
  metrics = { val_acc = 0.93 } })))
assert(db:append(run, rec(3, { status = "pruned", error_kind = "pruned", hash = "cccc", curve = curve,
  error = "stopped at 20% of the epoch: held-out accuracy 50.0% vs 70.0% for the best at the same step",
  pruned = { step = 20, steps = 100, fraction = 0.2 }, metrics = { cpu_seconds = 1.5 } })))
-- the one-epoch default's curve: no probe, the window's accuracy
local wcurve = json.array({ { step = 10, steps = 100, loss = 2.1, wacc = 0.3 },
  { step = 20, steps = 100, loss = 2.0, wacc = 0.35 } })
assert(db:append(run, rec(4, { status = "pruned", error_kind = "pruned", hash = "dddd", curve = wcurve,
  error = "stopped at 20% of the epoch: accuracy on the latest batches (unseen until then) 35.0% vs 70.0%",
  pruned = { step = 20, steps = 100, fraction = 0.2 }, metrics = { cpu_seconds = 1.5 } })))
db:close()
