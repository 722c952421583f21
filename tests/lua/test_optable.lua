-- test_optable.lua: the op table (runtime/graph/graph_ops.c) drives the nn builder, JSON,
-- the hash, the Lua view and the exports. Two kinds of check:
--  * pinned: tests/optable/*.lua compiled now must give byte for byte the hash, JSON,
--    Lua and PyTorch exports, `llmnas check` output and g:layers() that the code before
--    the table gave (the *.expected.* files were written by that code), so moving the
--    ops into one table changed no format;
--  * per op: every op arch.ops() lists has a case below (a new op without one fails),
--    and each case round-trips JSON -> graph -> JSON, compiles its Lua export back to
--    the same hash, shows the table's attributes in g:layers() and names its module
--    in the PyTorch export.
local T = require "testing"
local arch = require "arch"
local dump = dofile("tests/optable/dump_layers.lua")

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local function compile(src, opts)
  opts = opts or {}
  opts.isolated = false
  local g, err, kind = arch.compile(src, opts)
  if not g then error(("%s error: %s"):format(kind, err), 2) end
  return g
end

local tests = {}

local PINNED = {"every_op", "defaults", "new_ops"}  -- new_ops: the ops of issue 13

function tests.pinned_hash_json_and_exports()
  for _, name in ipairs(PINNED) do
    local base = "tests/optable/" .. name
    local g = compile(read(base .. ".lua"), {name = base .. ".lua"})
    local json = read(base .. ".expected.json"):gsub("\n$", "")  -- export ends the line
    T.eq(g:to_json(), json, name .. " JSON")
    T.eq(g:to_lua(), read(base .. ".expected.lua"), name .. " Lua export")
    T.eq(g:to_pytorch(), read(base .. ".expected.py"), name .. " PyTorch export")
    local hash = read(base .. ".expected.check"):match("Graph hash: (%x+)")
    T.eq(g:hash(), hash, name .. " hash")
    T.eq(arch.from_json(json):hash(), hash, name .. " hash of the pinned JSON")
  end
end

-- g:layers() of the pinned nets. One deliberate change from the code before the table:
-- AdaptiveAvgPool2d's attrs now show out = 1, as its JSON always did.
function tests.pinned_lua_view()
  for _, name in ipairs(PINNED) do
    local base = "tests/optable/" .. name
    T.eq(dump.dump(base .. ".lua"), read(base .. ".expected.layers"), name .. " layers")
  end
end

-- One small candidate per op, with non-default attributes where the op has any.
local CASES = {
  Conv2d = "nn.Conv2d(x, 4, {3, 1}, {stride = 2, padding = {1, 0}, dilation = {1, 1}, "
    .. "groups = 1, bias = false})",
  BatchNorm2d = "nn.BatchNorm2d(x, {eps = 1e-3, momentum = 0.3})",
  ReLU = "nn.ReLU(x, true)",
  LeakyReLU = "nn.LeakyReLU(x, 0.1)",
  GELU = "nn.GELU(x, {approximate = 'tanh'})",
  SiLU = "nn.SiLU(x)",
  Sigmoid = "nn.Sigmoid(x)",
  Tanh = "nn.Tanh(x)",
  Hardswish = "nn.Hardswish(x)",
  MaxPool2d = "nn.MaxPool2d(x, 3, 2, 1, 2, {ceil_mode = true})",
  AvgPool2d = "nn.AvgPool2d(x, 3, 2, 1, true, false)",
  AdaptiveAvgPool2d = "nn.AdaptiveAvgPool2d(x, 1)",
  Flatten = "nn.Flatten(x)",
  Linear = "nn.Linear(nn.Flatten(x), 7, {bias = false})",
  Dropout = "nn.Dropout(x, 0.2)",
  Identity = "nn.Identity(x)",
  add = "x + nn.ReLU(x)",
  mul = "nn.mul(x, nn.Sigmoid(x))",
  cat = "nn.cat({x, nn.ReLU(x), x})",
  mul_scalar = "x * -0.25",
  BatchNorm1d = "nn.BatchNorm1d(nn.Linear(nn.Flatten(x), 6), 6, {eps = 1e-3, momentum = 0.3})",
  LayerNorm = "nn.LayerNorm(nn.LayerNorm(x, 2, {eps = 1e-4}))",
  AdaptiveMaxPool2d = "nn.AdaptiveMaxPool2d(x, 1)",
  ELU = "nn.ELU(x, 0.5)",
  Mish = "nn.Mish(x, true)",
  PReLU = "nn.PReLU(x, 2, 0.1)",
  Softmax = "nn.Softmax(x, -3)",
  Dropout2d = "nn.Dropout2d(x, {p = 0.3})",
  add_scalar = "x + 1.5",
}

local function case_source(expr)
  return ("function Net(x, classes)\n  local y = %s\n  return nn.Linear(nn.Flatten(y), classes)\nend\n")
    :format(expr)
end

function tests.every_table_op_has_a_case()
  local ops = arch.ops()
  T.ok(#ops >= 29, "the table lists the ops")
  local seen = {}
  for _, op in ipairs(ops) do
    T.ok(not seen[op.name], "op listed twice: " .. op.name)
    seen[op.name] = true
    T.ok(CASES[op.name], "tests/lua/test_optable.lua has no case for op " .. op.name
      .. " (add one to CASES: runtime/graph/ADDING-AN-OP.md)")
  end
  for name in pairs(CASES) do T.ok(seen[name], "case for an op not in the table: " .. name) end
end

local function node_of(g, opname)
  for _, l in ipairs(g:layers()) do
    if l.op == opname then return l end
  end
end

function tests.every_table_op_round_trips()
  for _, op in ipairs(arch.ops()) do
    local src = case_source(CASES[op.name] or error("no case for " .. op.name))
    local g = compile(src, {input = {2, 9, 9}, name = op.name})
    local l = node_of(g, op.name)
    T.ok(l, op.name .. ": the case builds no " .. op.name .. " node")
    -- the Lua view shows exactly the table's attributes
    local keys = {}
    for _, a in ipairs(op.attrs) do
      keys[a.key] = true
      T.ok(l.attrs[a.key] ~= nil, op.name .. ": g:layers() lacks attribute " .. a.key)
    end
    for k in pairs(l.attrs) do T.ok(keys[k], op.name .. ": g:layers() shows extra " .. k) end
    -- JSON -> graph -> JSON is the identity, the hash follows the JSON
    local json = g:to_json()
    local back = assert(arch.from_json(json))
    T.eq(back:to_json(), json, op.name .. ": JSON round trip")
    T.eq(back:hash(), g:hash(), op.name .. ": hash after the JSON round trip")
    -- the Lua export compiles back to the same graph
    local again = compile(g:to_lua(), {input = {2, 9, 9}, name = op.name .. "-export"})
    T.eq(again:hash(), g:hash(), op.name .. ": the Lua export compiles back\n" .. g:to_lua())
    -- PyTorch: a module per op, or the functional form for add / mul / cat
    local py = g:to_pytorch()
    local functional = { add = " + ", mul = " * ", cat = "torch.cat(", mul_scalar = " * -0.25",
                         add_scalar = " + 1.5" }
    local want = functional[op.name] or ("nn." .. op.name .. "(")
    T.ok(py:find(want, 1, true), op.name .. ": PyTorch export lacks " .. want .. "\n" .. py)
  end
end

-- Non-default attributes change the hash; a default written out does not.
function tests.every_attribute_reaches_the_hash()
  local base = {
    Conv2d = "nn.Conv2d(x, 4, 3)", BatchNorm2d = "nn.BatchNorm2d(x)",
    LeakyReLU = "nn.LeakyReLU(x)", GELU = "nn.GELU(x)", MaxPool2d = "nn.MaxPool2d(x, 3)",
    AvgPool2d = "nn.AvgPool2d(x, 3)", Dropout = "nn.Dropout(x)",
    Linear = "nn.Linear(nn.Flatten(x), 7)",
    BatchNorm1d = "nn.BatchNorm1d(nn.Flatten(x))", LayerNorm = "nn.LayerNorm(x)",
    ELU = "nn.ELU(x)", PReLU = "nn.PReLU(x)", Softmax = "nn.Softmax(x)", Dropout2d = "nn.Dropout2d(x)",
    mul_scalar = "nn.mul_scalar(x)", add_scalar = "nn.add_scalar(x)",
  }
  local changed = {
    Conv2d = {stride = "{stride = 2}", padding = "{padding = 1}", dilation = "{dilation = 2}",
              groups = "{groups = 2}", bias = "{bias = false}"},
    BatchNorm2d = {eps = "{eps = 1e-3}", momentum = "{momentum = 0.5}"},
    LeakyReLU = {negative_slope = "{negative_slope = 0.3}"},
    GELU = {approximate = "{approximate = 'tanh'}"},
    MaxPool2d = {stride = "{stride = 1}", padding = "{padding = 1}", dilation = "{dilation = 2}",
                 ceil_mode = "{ceil_mode = true}"},
    AvgPool2d = {stride = "{stride = 1}", padding = "{padding = 1}",
                 ceil_mode = "{ceil_mode = true}", count_include_pad = "{count_include_pad = false}"},
    Dropout = {p = "{p = 0.1}"},
    Linear = {bias = "{bias = false}"},
    BatchNorm1d = {eps = "{eps = 1e-3}", momentum = "{momentum = 0.5}"},
    LayerNorm = {eps = "{eps = 1e-3}"},
    ELU = {alpha = "{alpha = 0.5}"}, PReLU = {num_parameters = "{num_parameters = 2}", init = "{init = 0}"},
    Softmax = {dim = "{dim = 2}"}, Dropout2d = {p = "{p = 0.1}"},
    mul_scalar = {other = "{other = 2}"}, add_scalar = {other = "{other = 2}"},
  }
  for op, expr in pairs(base) do
    local h0 = compile(case_source(expr), {input = {2, 9, 9}}):hash()
    for key, opts in pairs(changed[op]) do
      local with = expr:sub(1, -2) .. ", " .. opts .. ")"
      local h = compile(case_source(with), {input = {2, 9, 9}, name = op .. "." .. key}):hash()
      T.ok(h ~= h0, op .. ": " .. key .. " does not reach the hash")
    end
  end
  -- defaults written out: same hash
  T.eq(compile(case_source("nn.Conv2d(x, 4, 3, {stride = 1, padding = 0, bias = true})"),
               {input = {2, 9, 9}}):hash(),
       compile(case_source("nn.Conv2d(x, 4, 3)"), {input = {2, 9, 9}}):hash())
end

local function fails(src, text)
  local g, err, kind = arch.compile(src, {isolated = false, input = {2, 9, 9}})
  T.ok(g == nil, "expected a failure, got a graph")
  T.eq(kind, "runtime", "kind of: " .. tostring(err))
  T.ok(err:find(text, 1, true), ("message %q lacks %q"):format(err, text))
end

-- Options come from the table: an unknown one names the op and lists the allowed ones
-- in the table's order.
function tests.unknown_option_names_op_and_allowed()
  fails(case_source("nn.Conv2d(x, 4, 3, {strides = 2})"),
    "bad argument #4 to 'Conv2d' (unknown option 'strides' (options: stride, padding, "
    .. "dilation, groups, bias))")
  fails(case_source("nn.MaxPool2d(x, 2, {count_include_pad = false})"),
    "bad argument #3 to 'MaxPool2d' (unknown option 'count_include_pad' (options: stride, "
    .. "padding, dilation, ceil_mode))")
  fails(case_source("nn.AvgPool2d(x, 2, {dilation = 2})"),
    "bad argument #3 to 'AvgPool2d' (unknown option 'dilation' (options: stride, padding, "
    .. "ceil_mode, count_include_pad))")
  fails(case_source("nn.BatchNorm2d(x, {inplace = true})"),
    "bad argument #2 to 'BatchNorm2d' (unknown option 'inplace' (options: eps, momentum))")
  fails(case_source("nn.LeakyReLU(x, {slope = 0.1})"),
    "bad argument #2 to 'LeakyReLU' (unknown option 'slope' (options: negative_slope, inplace))")
  fails(case_source("nn.Sigmoid(x, {p = 0.1})"),
    "bad argument #2 to 'Sigmoid' (unknown option 'p' (options: inplace))")
  fails(case_source("nn.Linear(nn.Flatten(x), 3, {out = 2})"),
    "bad argument #3 to 'Linear' (unknown option 'out' (options: bias))")
  fails(case_source("nn.GELU(x, 'fast')"),
    "bad argument #2 to 'GELU' (approximate must be 'none' or 'tanh')")
  fails(case_source("nn.Dropout(x, 1.5)"), "Dropout: p must be in [0, 1], got 1.5")
  fails(case_source("nn.BatchNorm2d(x, {eps = 0})"), "BatchNorm2d: eps must be positive and finite")
  fails(case_source("nn.Nope(x)"), "nn has no op 'Nope' (ops: Conv2d, BatchNorm2d, ReLU,")
end

function tests.json_attribute_errors_come_from_the_table()
  local ok = compile(case_source("nn.GELU(x)"), {input = {2, 9, 9}}):to_json()
  local bad = ok:gsub('"approximate":"none"', '"approximate":"fast"')
  local g, err = arch.from_json(bad)
  T.ok(g == nil and err:find('approximate must be "none" or "tanh"', 1, true), tostring(err))
  bad = ok:gsub('"approximate":"none"', '"approximate":"none","eps":1')
  g, err = arch.from_json(bad)
  T.ok(g == nil and err:find("unknown or misplaced key eps", 1, true), tostring(err))
end

-- nn.cat takes any number of inputs up to the layer cap (it stopped at 256 in the builder
-- and at 14 in the trainer; tests/c/test_train_ops.c trains a cat of 34).
function tests.cat_takes_many_inputs()
  local src = [[
function Net(x, classes)
  local t = {}
  for i = 1, @N@ do t[i] = nn.Conv2d(x, 1, 1) end
  return nn.Linear(nn.Flatten(nn.AdaptiveAvgPool2d(nn.cat(t), 1)), classes)
end
]]
  for _, n in ipairs({32, 300}) do
    local g = compile((src:gsub("@N@", n)))
    local l = node_of(g, "cat")
    T.eq(#l.inputs, n)
    T.eq(l.shape, {"B", n, 28, 28})
    T.eq(compile(g:to_lua()):hash(), g:hash(), n .. " inputs: the export compiles back")
  end
  local args = {}
  for i = 1, 40 do args[i] = "x" end
  local g = compile("function Net(x, classes) return nn.Linear(nn.Flatten(nn.cat("
    .. table.concat(args, ", ") .. ")), classes) end")
  T.eq(#node_of(g, "cat").inputs, 40, "40 arguments")
  -- the cap is the layer cap (max_nodes), even when the inputs repeat one node
  local many = "function Net(x, classes)\n  local t = {}\n  for i = 1, @N@ do t[i] = x end\n"
    .. "  return nn.Linear(nn.Flatten(nn.cat(t)), classes)\nend\n"
  T.ok(arch.compile((many:gsub("@N@", 40)), {isolated = false, max_nodes = 40}))
  local bad, err, kind = arch.compile((many:gsub("@N@", 41)), {isolated = false, max_nodes = 40})
  T.ok(bad == nil)
  T.eq(kind, "too_large", err)
  T.eq(err, "building the network: candidate:4: bad argument #1 to 'cat' (at most 40 nodes "
    .. "can be concatenated, got 41)")
end

return tests
