-- paper_killed.lua: examples/paper.lua's method, but the process kills itself with
-- SIGKILL in the middle of iteration KILL_AT (after the generator's reply arrived, before
-- the candidate is trained and its record committed) — a crash at the worst moment, made
-- deterministic for the resume test. Without KILL_AT it is the plain paper strategy.
local llmnas = require "llmnas"
local paper = require "llmnas.paper"

local kill_at = tonumber(os.getenv("KILL_AT") or "")
local set = llmnas.options().set
local s = paper.strategy { task = { dataset = "fashion-mnist", subset = set.subset }, repair = set.repair }
local propose = s.propose
s.propose = function(ctx)
  local code, err, kind = propose(ctx)
  if ctx.iteration == kill_at then
    local pid = io.open("/proc/self/stat"):read("l"):match("^(%d+)")
    os.execute("kill -9 " .. pid)
  end
  return code, err, kind
end
llmnas.search(s)
