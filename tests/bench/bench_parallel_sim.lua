-- bench_parallel_sim.lua: A SIMULATION, not a measurement. It drives the real scheduler
-- (llmnas.search and llmnas.async, unchanged) for 1..64 workers with fake primitives on a
-- virtual clock: the LLM blocks the parent for a drawn latency (a chat_many for the time
-- of its slowest request), a training job ends a drawn duration after it was submitted.
-- It reports candidates per (virtual) hour, the speed-up over one worker and the
-- workers' busy fraction, for a paper-like strategy (a generator call in propose, an
-- improver call in reflect) and for one with no LLM call in reflect.
--   llmnas run tests/bench/bench_parallel_sim.lua [DB RUN]
-- Training times: resampled from the metrics.seconds of run RUN in memory DB (real
-- records), else the issue's measured mean (4.9 s). LLM latency: log-normal with median
-- 6.7 s (the issue's measurement, 134 s in 20 calls) and sigma 0.5 — no real-LLM records
-- exist on this machine, so this is a stated assumption, not a measurement.
package.path = "tests/lua/?.lua;" .. package.path
local F = require "fakes"
local search = require "llmnas.search"
local rng_mod = require "llmnas.rng"

local train_times, source = {}, "the issue's mean, 4.9 s"
if arg[1] then
  local db = assert(memory.open(arg[1], { readonly = true }))
  local run = math.tointeger(tonumber(arg[2] or "1"))
  for i = 1, db:last_iteration(run) or 0 do
    local r = db:get(run, i)
    if r and r.metrics and r.metrics.seconds then train_times[#train_times + 1] = r.metrics.seconds end
  end
  db:close()
  if #train_times > 0 then
    source = ("%d real records of %s run %d (median %.2f s)"):format(#train_times, arg[1], run,
      (function() local t = { table.unpack(train_times) } table.sort(t) return t[(#t + 1) // 2] end)())
  end
end
if #train_times == 0 then train_times = { 4.9 } end

local CANDIDATES = 200
local LLM_MEDIAN, LLM_SIGMA = 6.7, 0.5

local function simulate(workers, improver, seed)
  local rng = rng_mod.new(seed)
  local clock, busy = 0, 0
  local function normal()
    local u1, u2 = math.max(rng:float(), 1e-12), rng:float()
    return math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * u2)
  end
  local function llm_latency() return LLM_MEDIAN * math.exp(LLM_SIGMA * normal()) end
  local function train_time() return train_times[rng:int(1, #train_times)] end
  local llm = {
    chat = function()
      clock = clock + llm_latency()
      return "reply", { prompt_tokens = 0, completion_tokens = 0 }
    end,
    chat_many = function(reqs)
      local slowest = 0
      for _ = 1, #reqs do slowest = math.max(slowest, llm_latency()) end
      clock = clock + slowest
      local out = {}
      for i = 1, #reqs do out[i] = { "reply", { prompt_tokens = 0, completion_tokens = 0 } } end
      return out
    end,
  }
  local T = { cores = function() return 64 end }
  function T.evaluate()
    local d = train_time()
    clock, busy = clock + d, busy + d
    return { val_acc = rng:float(), seconds = d }
  end
  function T.submit()
    local d = train_time()
    local job = { ends = clock + d, d = d }
    function job.kill() end
    function job.pid() return nil end
    return job
  end
  function T.wait_any(jobs, timeout)
    local first
    for _, j in ipairs(jobs) do
      if not j.taken and (not first or j.ends < first.ends) then first = j end
    end
    if timeout == 0 and first.ends > clock then return nil end
    first.taken = true
    local waited = math.max(0, clock - first.ends)
    clock = math.max(clock, first.ends)
    busy = busy + first.d
    return first, { val_acc = rng:float(), seconds = first.d, wall_seconds = first.d, waited_seconds = waited }
  end
  local n = 0
  search.search {
    name = "sim", quiet = true, workers = workers, order = "arrival",
    budget = { iterations = CANDIDATES },
    env = { arch = F.arch(), train = T, db = F.db(), llm = llm },
    propose = function(ctx)
      assert(ctx:chat { messages = "next" })
      n = n + 1
      return ("net n%d 0.5"):format(n)
    end,
    reflect = improver and function(ctx) assert(ctx:chat { role = "improver", messages = "advice" }) end or nil,
  }
  return CANDIDATES / clock * 3600, busy / (workers * clock)
end

print("SIMULATION (virtual clock; the real scheduler, fake LLM and trainer) — not a measurement")
print(("training times: %s; LLM latency: log-normal, median %.1f s, sigma %.1f (assumed, see header)")
  :format(source, LLM_MEDIAN, LLM_SIGMA))
for _, improver in ipairs({ true, false }) do
  print(improver and "\npaper-like: generator call in propose + improver call in reflect"
    or "\nno LLM call in reflect (generator only)")
  print(("%8s %14s %9s %13s"):format("workers", "candidates/h", "speed-up", "workers busy"))
  local base
  for _, w in ipairs({ 1, 2, 4, 8, 16, 32, 64 }) do
    local rates, util = {}, {}
    for s = 1, 3 do rates[s], util[s] = simulate(w, improver, 43 + s) end
    table.sort(rates)
    table.sort(util)
    base = base or rates[2]
    print(("%8d %14.0f %8.2fx %12.0f%%"):format(w, rates[2], rates[2] / base, util[2] * 100))
  end
end
