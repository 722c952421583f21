-- strategy.lua: runs an example strategy unchanged (SOAK_EXAMPLE, e.g. examples/paper.lua)
-- for the soak (tests/soak/soak.sh), adding two things around it:
--   * a sampler on every iteration: at iterations 1, 100, 200, ... and the last, one JSON
--     line in SOAK_SAMPLES with the parent's RSS (/proc/self/status), the Lua heap, and the
--     record's prompt tokens per LLM call by role;
--   * SOAK_PROGRESS (if set) holds the last committed iteration, rewritten at each commit,
--     so that the soak's killer can aim at iterations without polling the store;
--   * LLM client settings that make the test server's faults cheap: a 2 s per-attempt
--     timeout, a 1 s stall limit, short backoff (the faults are still real HTTP).
-- Nothing else of the example changes: its propose/reflect/accept are the ones run.
local llmnas = require "llmnas"
local example = assert(os.getenv("SOAK_EXAMPLE"), "SOAK_EXAMPLE: the example to run")
local samples = os.getenv("SOAK_SAMPLES")
local progress = os.getenv("SOAK_PROGRESS")  -- the last committed iteration, for the killer
local every = tonumber(os.getenv("SOAK_SAMPLE_EVERY") or "") or 100
local stat = io.open("/proc/self/stat")
local pid = math.tointeger(tonumber(stat:read("l"):match("^(%d+)")))
stat:close()

llm.configure { timeout = 2, stall_timeout = 1, connect_timeout = 2, backoff_base = 0.05,
  backoff_cap = 0.2, retry_after_cap = 2 }

-- VmRSS, and its parts: RssAnon (the heaps: a leak shows here) and RssFile (mapped
-- files: the LMDB pages read, which grow with the store and are not a leak).
local function rss_kib()
  local f = io.open("/proc/self/status")
  if not f then return nil end
  local text = f:read("a")
  f:close()
  return tonumber(text:match("VmRSS:%s*(%d+)")), tonumber(text:match("RssAnon:%s*(%d+)")),
    tonumber(text:match("RssFile:%s*(%d+)"))
end

local function per_call(rec)
  local t = {}
  for role, u in pairs(rec.llm or {}) do
    if (u.calls or 0) > 0 then t[role] = u.prompt_tokens / u.calls end
  end
  return t
end

local search = llmnas.search
llmnas.search = function(strategy)
  local last_budget = llmnas.options().iterations or (strategy.budget or {}).iterations
  local on_iteration = strategy.on_iteration
  strategy.on_iteration = function(ctx, record)
    local it = record.iter
    if samples and (it == 1 or it % every == 0 or it == last_budget) then
      -- one line per sample: iteration, process, memory, prompt tokens per call
      local f = assert(io.open(samples, "a"))
      local rss, anon, file = rss_kib()
      f:write(json.encode { iter = it, pid = pid,
        rss_kib = rss, anon_kib = anon, file_kib = file, lua_kib = collectgarbage("count"),
        prompt_tokens = per_call(record) }, "\n")
      f:close()
    end
    if progress then
      local f = assert(io.open(progress, "w"))
      f:write(it, "\n")
      f:close()
    end
    if on_iteration then return on_iteration(ctx, record) end
  end
  return search(strategy)
end

dofile(example)
