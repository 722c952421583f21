-- test_denylist.lua: a candidate that touches a name left out of the sandbox on purpose
-- reads why (the deny-list of lua/sandbox/sandbox.c), by exact text; every message
-- begins with its stage ("compiling candidate:" / "building the network:").
local T = require "testing"
local arch = require "arch"

-- The expected reasons, written here independently of the C table.
local DENIED = {
  io = "a candidate only builds a network",
  os = "a candidate only builds a network",
  print = "a candidate only builds a network: Net returns it (stop with error() to say why)",
  package = "a candidate is one program and loads no modules",
  require = "a candidate is one program and loads no modules",
  load = "a candidate is one program and compiles no code at run time",
  loadstring = "a candidate is one program and compiles no code at run time",
  loadfile = "a candidate reads no files",
  dofile = "a candidate reads no files",
  debug = "a candidate cannot inspect or change the sandbox",
  getmetatable = "a candidate cannot inspect or change the sandbox",
  rawget = "use t[k]: raw access would bypass read-only tables",
  rawset = "use t[k] = v: raw access would bypass read-only tables",
  collectgarbage = "the sandbox manages memory",
  setfenv = "it is Lua 5.1; candidates are Lua 5.4",
  getfenv = "it is Lua 5.1; candidates are Lua 5.4",
  module = "it is Lua 5.1; candidates are Lua 5.4",
  unpack = "it is Lua 5.1: use table.unpack",
  ["string.dump"] = "a candidate compiles no code",
  ["string.pack"] = "a candidate only builds a network",
  ["string.unpack"] = "a candidate only builds a network",
  ["string.packsize"] = "a candidate only builds a network",
  ["string.find"] = "patterns run in C, where the instruction budget cannot stop them",
  ["string.match"] = "patterns run in C, where the instruction budget cannot stop them",
  ["string.gmatch"] = "patterns run in C, where the instruction budget cannot stop them",
  ["string.gsub"] = "patterns run in C, where the instruction budget cannot stop them",
}

local NET = "function Net(x, classes) return nn.Linear(nn.Flatten(x), classes) end\n"

local function compile(src, isolated)
  return arch.compile(src, {isolated = isolated or false})
end

local function names()
  local list = {}
  for name in pairs(DENIED) do list[#list + 1] = name end
  table.sort(list)
  return list
end

local tests = {}

function tests.denied_at_top_level()
  for _, name in ipairs(names()) do
    local g, err, kind = compile("local v = " .. name .. "\n" .. NET)
    T.ok(g == nil, name .. ": compiled")
    T.eq(kind, "runtime", name)
    T.eq(err, ("compiling candidate: candidate:1: `%s` is not available in a candidate: %s")
      :format(name, DENIED[name]))
  end
end

function tests.denied_inside_net()
  for _, name in ipairs(names()) do
    local src = "function Net(x, classes)\n  local v = " .. name
      .. "\n  return nn.Linear(nn.Flatten(x), classes)\nend\n"
    local g, err = compile(src)
    T.ok(g == nil, name .. ": compiled")
    T.eq(err, ("building the network: candidate:2: `%s` is not available in a candidate: %s")
      :format(name, DENIED[name]))
  end
end

-- Through the string metatable too: ("x"):find(...) is string.find.
function tests.denied_string_methods()
  local g, err = compile('local i = ("abc"):gsub("b", "")\n' .. NET)
  T.ok(g == nil)
  T.eq(err, "compiling candidate: candidate:1: `string.gsub` is not available in a "
    .. "candidate: patterns run in C, where the instruction budget cannot stop them")
end

-- A name on no list keeps Lua's message; allowed names and new globals still work.
function tests.other_names_unchanged()
  local g, err = compile("local v = torch\n" .. NET)
  T.ok(g == nil)
  T.eq(err, "compiling candidate: candidate:1: attempt to read undefined global 'torch'")
  g, err = compile("helper = string.format('%d', 3)\nlocal up = string.upper('a')\n"
    .. "local t = table.unpack({1})\n" .. NET)
  T.ok(g, err)
end

-- pcall cannot turn the reason into a silent nil: it is an error like any other.
function tests.pcall_sees_the_reason()
  local g, err = compile("local ok, e = pcall(function() return io end)\n"
    .. "error(e, 0)\n" .. NET)
  T.ok(g == nil)
  T.eq(err, "compiling candidate: candidate:1: `io` is not available in a candidate: "
    .. "a candidate only builds a network")
end

-- Every stage prefixes its errors the same way, in this process and in the worker.
function tests.stage_prefixes()
  local cases = {
    {"function Net(x, c) return x +\nend\n", "syntax", "compiling candidate: candidate:2:"},
    {"error('top')\n" .. NET, "runtime", "compiling candidate: candidate:1: top"},
    {"function Net(x, c) return nn.Linear(x, c) end\n", "shape",
     "building the network: candidate:1: Linear: expected a [B, F] input"},
    {"function Net(x, c) return nn.Flatten(x) end\n", "shape",
     "building the network: candidate:1: the network's output must be [B, 10]"},
    {"function Net(x, c) return nn.Conv2d(x, 4, 0) end\n", "runtime",
     "building the network: candidate:1: bad argument #3 to 'Conv2d' (kernel_size must be "
     .. "positive, got 0)"},
    {"local Net = 1\n", "runtime", "building the network: candidate: the program must define"},
  }
  for _, isolated in ipairs({false, true}) do
    for _, c in ipairs(cases) do
      local g, err, kind = compile(c[1], isolated)
      T.ok(g == nil, c[3])
      T.eq(kind, c[2], err)
      T.ok(err:sub(1, #c[3]) == c[3], ("isolated=%s: %q does not begin with %q")
        :format(tostring(isolated), err, c[3]))
    end
  end
end

return tests
