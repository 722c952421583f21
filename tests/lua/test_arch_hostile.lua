-- test_arch_hostile.lua: the hostile corpus (tests/hostile/expected.txt) through
-- arch.compile in one llmnas process, each candidate checked on its own: it ends in the
-- kind AND message expected.txt gives, with a capped message; its temporary directory
-- (@DIR@ in the program) holds the canary file, unchanged, and nothing else; no child
-- process of this one is left; and a normal candidate compiles right after, same hash.
local T = require "testing"
local arch = require "arch"

local DIR = "tests/hostile/"

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local function write(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

-- the names in a directory ("ls -A", one per line)
local function list(dir)
  local p = assert(io.popen("ls -A '" .. dir .. "'"))
  local names = {}
  for name in p:lines() do names[#names + 1] = name end
  p:close()
  return names
end

-- the live children of this process (workers are forked by the main thread)
local pid = read("/proc/self/stat"):match("^(%d+)")
local function children()
  local f = io.open("/proc/self/task/" .. pid .. "/children", "r")
  if not f then return "" end
  local s = f:read("a")
  f:close()
  return (s:gsub("%s+$", ""))
end

local good = read("examples/nets/bench_small.lua")
local good_hash = assert(arch.compile(good)):hash()

local cases = {}
for line in io.lines(DIR .. "expected.txt") do
  local file, kinds, msgs = line:match("^(%S+)%s+(%S+)%s+(.+)$")
  if file and not line:match("^#") then
    cases[#cases + 1] = {file = file, kinds = kinds, msgs = msgs}
  end
end

local tests = {}

function tests.corpus_is_large_enough()
  T.ok(#cases >= 40, "only " .. #cases .. " hostile candidates")
end

function tests.children_are_readable()
  T.ok(io.open("/proc/self/task/" .. pid .. "/children", "r"),
       "/proc/PID/task/PID/children is needed to check that no worker is left")
end

-- one test per candidate, so a failure names it
for _, c in ipairs(cases) do
  tests["hostile " .. c.file] = function()
    local box = T.tmpdir()
    write(box .. "/canary", "canary " .. c.file)
    local src = read(DIR .. c.file):gsub("@DIR@", function() return box end)
    -- CPU seconds: 3 for programs that may end only by the wall-clock deadline (twice
    -- that), 10 for the others, so a loaded machine still ends them by their count
    -- (instruction budget, memory cap) long before the deadline
    local limit = ("|" .. c.kinds .. "|"):find("|timeout|", 1, true) and 3 or 10
    local g, err, kind = arch.compile(src, {time_limit = limit, name = c.file})
    local got = g and "ok" or kind
    T.ok(("|" .. c.kinds .. "|"):find("|" .. got .. "|", 1, true),
         ("%s: expected %s, got %s: %s"):format(c.file, c.kinds, got, tostring(err)))
    if c.msgs ~= "-" then
      local found = false
      for m in (c.msgs .. "|"):gmatch("([^|]*)|") do
        if tostring(err):find(m, 1, true) then found = true end
      end
      T.ok(found, ("%s: message lacks '%s': %s"):format(c.file, c.msgs, tostring(err)))
    end
    if err then T.ok(#err <= 2100, ("message of %d bytes is not capped"):format(#err)) end
    T.eq(read(box .. "/canary"), "canary " .. c.file, "the canary file is unchanged")
    T.eq(list(box), {"canary"}, "no file created")
    T.eq(children(), "", "no worker left behind")
    os.remove(box .. "/canary")
    os.remove(box)
    local after = assert(arch.compile(good))
    T.eq(after:hash(), good_hash, "the next candidate compiles normally")
  end
end

return tests
