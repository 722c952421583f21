-- export_curves.lua: the learning curves of a run whose candidates all trained to
-- the end (early abort off; probed or not), as the JSON list abort.replay reads:
-- [{iter, val_acc, curve}] in the run's order. Makes tests/lua/data/curves_*.json.
--   llmnas run tests/bench/export_curves.lua DB > FILE.json
local db = assert(memory.open(assert(arg[1], "usage: export_curves.lua DB"), { readonly = true }))
local out = json.array()
for r in db:iter(db:latest_run()) do
  assert(r.status ~= "pruned", "the run has pruned candidates: record with --set abort=off")
  if r.status == "ok" and r.curve and #r.curve > 0 then
    local c = json.array()
    for i, p in ipairs(r.curve) do
      c[i] = { step = p.step, steps = p.steps, loss = p.loss, acc = p.acc, wacc = p.wacc }
    end
    out[#out + 1] = { iter = r.iter, val_acc = r.metrics.val_acc, curve = c }
  end
end
io.write(json.encode(out), "\n")
