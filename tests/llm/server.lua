-- tests/llm/server.lua — start tests/llm_server.py from a Lua test (inside llmnas).
--
--   local server = dofile((os.getenv("LLMNAS_TEST_ROOT") or ".") .. "/tests/llm/server.lua")
--   local srv = server.start{ "a reply", { fault = "503", ["repeat"] = 2 }, { echo = true } }
--   llm.configure{ base_url = srv.url, model = "test-model" }
--   ... llm.chat{...} ...
--   srv:calls()          -- how many requests arrived
--   srv:requests()       -- the request log, decoded: { {n, t, body, auth, key_sha256, answer}, ... }
--   srv:stop()
--
-- Replies are the lines of the server's reply file (see tests/llm_server.py): a string
-- is a reply text, a table an object line (encoded with json). The server listens on
-- 127.0.0.1 only, exits when this process does, and after `lifetime` seconds at most.
local json = require "json"

local M = {}
local ROOT = os.getenv("LLMNAS_TEST_ROOT") or "."

local function my_pid()
  local f = assert(io.open("/proc/self/stat"))
  local pid = f:read("n")
  f:close()
  return pid
end

local function read_all(path)
  local f = io.open(path)
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function sleep(s) os.execute(("sleep %g"):format(s)) end

local Server = {}
Server.__index = Server

--- Start a server answering `replies` (an array); opts.lifetime (s, default 120),
--- opts.loop (cycle the replies).
function M.start(replies, opts)
  opts = opts or {}
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p '" .. dir .. "'"))
  local f = assert(io.open(dir .. "/replies.jsonl", "w"))
  for _, r in ipairs(replies or {}) do f:write(json.encode(r), "\n") end
  f:close()
  local cmd = ("/usr/bin/python3 '%s/tests/llm_server.py' --replies '%s/replies.jsonl' "
    .. "--requests '%s/requests.jsonl' --port-file '%s/port' --pid-file '%s/pid' "
    .. "--lifetime %d --watch-pid %d %s >/dev/null 2>&1 &"):format(ROOT, dir, dir, dir, dir,
    opts.lifetime or 120, my_pid(), opts.loop and "--loop" or "")
  assert(os.execute(cmd))
  local port
  for _ = 1, 200 do
    port = tonumber(read_all(dir .. "/port") or "")
    if port then break end
    sleep(0.05)
  end
  assert(port, "llm_server did not start (see " .. dir .. ")")
  local pid = tonumber(read_all(dir .. "/pid") or "")
  return setmetatable({ dir = dir, port = port, pid = pid,
    url = ("http://127.0.0.1:%d/v1"):format(port) }, Server)
end

--- The request log, decoded (an array, in arrival order).
function Server:requests()
  local out = {}
  for line in (read_all(self.dir .. "/requests.jsonl") or ""):gmatch("[^\n]+") do
    out[#out + 1] = json.decode(line)
  end
  return out
end

function Server:calls() return #self:requests() end

--- Stop the server and remove its files (the request log is read before).
function Server:stop()
  if self.pid then
    os.execute(("kill %d 2>/dev/null"):format(self.pid))
    for _ = 1, 50 do -- gone, or a zombie waiting for its reaper
      local stat = read_all(("/proc/%d/stat"):format(self.pid))
      if not stat or stat:match("^%d+ %b() ([ZX])") then break end
      sleep(0.02)
    end
    self.pid = nil
  end
  os.execute("rm -rf '" .. self.dir .. "'")
end

return M
