-- bench_parallel.lua: the strategy of bench_parallel.sh — one LLM call per candidate
-- (the test server answers with the next network after a fixed delay), then training.
--   llmnas run tests/bench/bench_parallel.lua calibrate        -- median training seconds
--   llmnas run tests/bench/bench_parallel.lua --db D --iterations N [--workers 2]
local llmnas = require "llmnas"
local extract = require "llmnas.extract"

local SUBSET = 1500

if arg[1] == "calibrate" then
  local src = [[
function Net(x, classes)
  x = nn.MaxPool2d(nn.ReLU(nn.BatchNorm2d(nn.Conv2d(x, 12, 3, {padding = 1, bias = false}))), 2)
  x = nn.MaxPool2d(nn.ReLU(nn.BatchNorm2d(nn.Conv2d(x, 24, 3, {padding = 1, bias = false}))), 2)
  return nn.Linear(nn.Flatten(nn.AdaptiveAvgPool2d(x, 1)), classes)
end
]]
  local g = assert(arch.compile(src))
  local t = {}
  for i = 1, 3 do
    local t0 = core.now()
    assert(train.evaluate(g, { subset = SUBSET, val_fraction = 0.1 }))
    t[i] = core.now() - t0
  end
  table.sort(t)
  print(("%.3f"):format(t[2]))
  return
end

llmnas.search {
  name = "bench-parallel",
  quiet = true,
  task = { dataset = "fashion-mnist", subset = SUBSET, val_fraction = 0.1 },
  budget = { iterations = 8 },
  propose = function(ctx)
    local reply, err, kind = ctx:chat { messages = "the next network, please" }
    if not reply then return nil, err, kind end
    return extract.code(reply)
  end,
}
