-- test_arch_hostile.lua: the hostile corpus (tests/hostile/expected.txt) through
-- arch.compile in one llmnas process: each candidate ends in its typed error within its
-- time limit, and a normal candidate compiles right after it, with the same hash.
local T = require "testing"
local arch = require "arch"

local DIR = "tests/hostile/"
local LIMIT = 3  -- time_limit (CPU seconds; the wall-clock deadline is twice that)

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local good = read("examples/nets/bench_small.lua")
local good_hash = assert(arch.compile(good)):hash()

local cases = {}
for line in io.lines(DIR .. "expected.txt") do
  local file, kinds = line:match("^(%S+)%s+(%S+)$")
  if file and not line:match("^#") then cases[#cases + 1] = {file = file, kinds = kinds} end
end

local tests = {}

function tests.corpus_is_large_enough()
  T.ok(#cases >= 40, "only " .. #cases .. " hostile candidates")
end

-- one test per candidate, so a failure names it
for _, c in ipairs(cases) do
  tests["hostile " .. c.file] = function()
    local src = read(DIR .. c.file)
    local now = require("core").now or os.time
    local t0 = now()
    local g, err, kind = arch.compile(src, {time_limit = LIMIT, name = c.file})
    local dt = now() - t0
    local got = g and "ok" or kind
    T.ok(("|" .. c.kinds .. "|"):find("|" .. got .. "|", 1, true),
         ("%s: expected %s, got %s: %s"):format(c.file, c.kinds, got, tostring(err)))
    T.ok(dt <= 2 * LIMIT + 2, ("%s took %.1f s"):format(c.file, dt))
    if err then T.ok(#err <= 2100, ("message of %d bytes is not capped"):format(#err)) end
    local after = assert(arch.compile(good))
    T.eq(after:hash(), good_hash, "the next candidate compiles normally")
  end
end

return tests
