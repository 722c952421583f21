-- bench_search.lua: the search loop's own overhead per iteration — everything but
-- training and waiting on the LLM — on the real memory (LMDB) with instant fake
-- primitives, measured side by side on an empty run and on a run that already holds
-- 10,000 records. Run by bench_search.sh; prints figures, asserts nothing.
package.path = "tests/lua/?.lua;" .. package.path
local F = require "fakes"
local search = require "llmnas.search"
local core = require "core"

local RECORDS = tonumber(arg[1]) or 10000
local ITERS = tonumber(arg[2]) or 300
local dir = os.tmpname()
os.remove(dir)

local db = assert(memory.open(dir))
local code = string.rep("-- a typical candidate is a few hundred bytes of Lua\n", 8)

local function strategy(iterations)
  local n = 0
  return {
    name = "bench", quiet = true, budget = { iterations = iterations },
    env = { arch = F.arch(), train = F.train(), db = db },
    propose = function(ctx)
      n = n + 1
      ctx.state.window = ctx.state.window or {}
      table.insert(ctx.state.window, { problem = "p" .. n, suggestion = code, outcome = "accuracy: 50.00%" })
      if #ctx.state.window > 5 then table.remove(ctx.state.window, 1) end
      return ("net n%d 0.%d"):format(n, 10 + n % 80)  -- distinct networks: no cache hits
    end,
    reflect = function(_, result) return { triple = { problem = "p", suggestion = code, outcome = result.status } } end,
  }
end

local function timed(iterations, resume)
  package.loaded["llmnas.options"] = { set = {}, resume = resume or nil }
  local t0 = core.now()
  local run = search.search(strategy(iterations))
  return (core.now() - t0) / (run.loop.iteration - (resume or 0)), run
end

-- Reference: a fresh run, ITERS iterations.
local empty = timed(ITERS)
-- Fill a second run to RECORDS, then time ITERS more iterations on top of it.
local _, filled = timed(RECORDS)
local full = timed(RECORDS + ITERS, filled.loop.iteration)
print(("loop overhead per iteration: %.3f ms at 0 records, %.3f ms at %d records (ratio %.2f); target < 20 ms")
  :format(empty * 1e3, full * 1e3, RECORDS, full / empty))
db:close()
os.execute("rm -rf '" .. dir .. "'")
