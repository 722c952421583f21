-- pareto.lua: accuracy against size. A candidate is accepted (and becomes the reference
-- the generator improves on) when no earlier candidate is at least as accurate with at most
-- as many parameters; the front is kept in ctx.state.pareto, saved with every record, and
-- printed at the end. Use --set cost=flops to trade accuracy against FLOPs instead.
local llmnas = require "llmnas"
local paper = require "llmnas.paper"
local accept = require "llmnas.accept"

local cost = llmnas.options().set.cost or "params"

llmnas.search(paper.strategy {
  name = "pareto",
  accept = accept.pareto { cost = cost },
  task = { dataset = "fashion-mnist", subset = llmnas.options().set.subset or 6000 },
  budget = { iterations = 50 },
  summarise = function(ctx)
    local lines = { ("Pareto front (accuracy vs %s):"):format(cost) }
    for _, p in ipairs(ctx.state.pareto or {}) do
      lines[#lines + 1] = ("  iteration %d: %.2f%%, %d %s"):format(p.iteration, p.val_acc * 100, p[cost], cost)
    end
    return table.concat(lines, "\n")
  end,
})
