-- parallel_faults.lua: six candidates, four workers; one worker crashes (its
-- on_progress sends it SIGSEGV), one hangs past its deadline, one goes over its
-- memory limit — the three others must finish with their metrics.
--   llmnas run tests/e2e/parallel_faults.lua --db DIR --workers 4
local llmnas = require "llmnas"

local function net(width)
  return ([[
function Net(x, classes)
  x = nn.MaxPool2d(nn.ReLU(nn.BatchNorm2d(nn.Conv2d(x, %d, 3, {padding = 1, bias = false}))), 2)
  return nn.Linear(nn.Flatten(nn.AdaptiveAvgPool2d(x, 1)), classes)
end
]]):format(width)
end

local PLAN = {
  { code = net(4) },
  { code = net(5), train = { subset = 6000, epochs = 20 }, crash = true },
  { code = net(6), train = { subset = 6000, epochs = 200, deadline = 3 } },
  { code = net(7), train = { memory_limit = 4 * 2 ^ 20 } },
  { code = net(8) },
  { code = net(9) },
}

llmnas.search {
  name = "parallel-faults",
  task = { dataset = "fashion-mnist", subset = 600 },
  budget = { iterations = #PLAN },
  propose = function(ctx)
    local p = PLAN[ctx.iteration]
    ctx.proposal.crash = p.crash
    return { code = p.code, train = p.train }
  end,
  on_progress = function(ctx)
    if ctx.proposal.crash and not ctx.proposal.signalled then
      ctx.proposal.signalled = true
      os.execute("kill -SEGV " .. ctx.pid)
    end
  end,
}
