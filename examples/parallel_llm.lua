-- parallel_llm.lua: two LLM calls at once. Each iteration asks the generator twice in
-- parallel (llm.chat_many) — once at the paper's temperature, once cooler — compiles both
-- (no training) and proposes the one that compiles with fewer FLOPs, so a broken reply
-- does not cost an iteration. ctx:chat_many books both calls on the record.
local llmnas = require "llmnas"
local paper = require "llmnas.paper"
local extract = require "llmnas.extract"

local base = paper.strategy { name = "parallel-llm" }

local function propose(ctx)
  local warm = base.generator_request(ctx)
  local cool = {}
  for k, v in pairs(warm) do cool[k] = v end
  cool.temperature = 0.2
  local best_code, best_flops, last_err = nil, math.huge, "no reply"
  for _, r in ipairs(ctx:chat_many({ warm, cool })) do
    local code = r[1] and extract.code(r[1])
    local g, err = nil, r[2]
    if code then g, err = arch.compile(code, { input = ctx.task.input, classes = ctx.task.classes }) end
    if g and g:flops() < best_flops then best_code, best_flops = code, g:flops() end
    last_err = err or last_err
  end
  if not best_code then return nil, last_err, "no_code" end
  return best_code
end

llmnas.search {
  name = "parallel-llm",
  task = { dataset = "fashion-mnist", subset = llmnas.options().set.subset or 6000 },
  budget = { iterations = 50 },
  propose = propose,
  reflect = base.reflect,
  uses_llm = true,          -- check the endpoint before the run is created
}
