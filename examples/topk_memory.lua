-- topk_memory.lua: a different memory for the Prompt Improver. Instead of the sliding
-- window of the last K triples, it shows the K best candidates of the whole run so far
-- (from the feedback memory, by validation accuracy) with the suggestion that led to each,
-- so good ideas are not forgotten once they leave the window.
local llmnas = require "llmnas"
local paper = require "llmnas.paper"

local K = llmnas.options().set.k or 5

local function top_k(ctx)
  local best = ctx.db:best(ctx.run, K, "val_acc")
  if #best == 0 then return "(nothing trained successfully yet)" end
  local lines = {}
  for i, r in ipairs(best) do
    local t = r.triple or {}
    local why = (t.suggestion or "(first candidate)"):sub(1, 300)
    lines[#lines + 1] = ("%d. iteration %d, accuracy %.2f%%, %d parameters\n   suggestion that led to it: %s")
      :format(i, r.iter, r.metrics.val_acc * 100, r.metrics.params or 0, why)
  end
  return table.concat(lines, "\n")
end

llmnas.search(paper.strategy {
  name = "topk-memory",
  window = top_k,
  task = { dataset = "fashion-mnist", subset = llmnas.options().set.subset or 6000 },
  budget = { iterations = 50 },
})
