-- test_arch.lua: the arch module — compiling candidates, the graph object, canonical
-- hashes, error messages and kinds, exports.
local T = require "testing"
local arch = require "arch"

local function read(path)
  local f = assert(io.open(path))
  local s = f:read("a")
  f:close()
  return s
end

local small = read("examples/nets/bench_small.lua")

local function compile(src, opts)
  local g, err, kind = arch.compile(src, opts)
  if not g then error(("%s error: %s"):format(kind, err), 2) end
  return g
end

local function fails(src, kind, text, opts)
  local g, err, k = arch.compile(src, opts)
  T.ok(g == nil, "expected a failure, got a graph")
  T.eq(k, kind, "kind of: " .. err)
  if text then T.ok(err:find(text, 1, true), ("message %q lacks %q"):format(err, text)) end
  return err
end

local tests = {}

function tests.bench_small_figures()
  local g = compile(small)
  T.eq(g:params(), 50282)
  T.eq(g:flops(), 7739648)
  T.eq(#g, 10)
  T.eq(g:input_shape(), {"B", 1, 28, 28})
  T.eq(g:output_shape(), {"B", 10})
  T.ok(g:hash():match("^%x+$") and #g:hash() == 32, "32 hex digits")
  local g3 = compile(small, {input = {3, 32, 32}, classes = 10})
  T.eq(g3:params(), 60458)
  T.ok(g3:hash() ~= g:hash(), "input shape is part of the hash")
end

function tests.bench_nets_figures()
  local vgg = compile(read("examples/nets/bench_vgg.lua"))
  T.eq(vgg:params(), 1147722)
  T.eq(math.floor(vgg:flops() / 1e4 + 0.5) / 100, 232.12)
  local resnet = compile(read("examples/nets/bench_resnet.lua"))
  T.eq(resnet:params(), 696042)
  T.eq(math.floor(resnet:flops() / 1e4 + 0.5) / 100, 161.02)
end

-- The hash keys every stored evaluation (the feedback memory's by-hash cache): a change
-- of the canonical form must be deliberate, so these are pinned.
function tests.golden_hashes()
  local golden = {
    ["examples/nets/bench_small.lua"] = "8afa21199f270d70f5fa2b282512b193",
    ["examples/nets/bench_vgg.lua"] = "ebdfb548a31d5a7b210f31d46870a5f9",
    ["examples/nets/bench_resnet.lua"] = "b569761b64188a73524552e1f3a9e859",
    ["tests/arch_nets/densenet.lua"] = "357abd058574575e9e99a8d101ed54e3",
    ["tests/arch_nets/inception.lua"] = "8e1ca51ec51bfdf0f2bd978e02bce68e",
  }
  for file, hash in pairs(golden) do
    T.eq(compile(read(file)):hash(), hash, file)
  end
end

function tests.layers_and_summary()
  local g = compile(small)
  local layers = g:layers()
  T.eq(#layers, 11)
  T.eq(layers[1].op, "Input")
  T.eq(layers[2].op, "Conv2d")
  T.eq(layers[2].attrs.kernel, {3, 3})
  T.eq(layers[2].attrs.bias, false)
  T.eq(layers[2].params, 288)
  T.eq(layers[2].inputs, {0})
  T.eq(layers[11].shape, {"B", 10})
  local s = g:summary()
  T.ok(s:find("Total params: 50,282", 1, true), s)
  T.ok(s:find("conv2d_1 (Conv2d)", 1, true), s)
  T.ok(tostring(g):find(g:hash(), 1, true))
end

-- Same network: other names, formatting, helper functions, creation order of the
-- independent branches, operand order of +.
local residual_a = [[
function Net(x, classes)
  x = nn.ReLU(nn.Conv2d(x, 16, 3, {padding = 1}))
  local left = nn.Conv2d(x, 16, 3, {padding = 1})
  local right = nn.Conv2d(x, 16, 1)
  local y = nn.cat({left + right, x})
  return nn.Linear(nn.Flatten(nn.AdaptiveAvgPool2d(y, 1)), classes)
end
]]
local residual_b = [[
local function conv(t, c, k, p) return nn.Conv2d(t, c, k, {padding = p}) end
local function net(inp, n)
  local stem = nn.ReLU(conv(inp, 16, 3, 1))
  local unused = nn.Sigmoid(stem)          -- dead: not part of the network
  local shortcut = conv(stem, 16, 1, 0)    -- created first this time
  local main = conv(stem, 16, 3, 1)
  local merged = nn.cat(shortcut + main, stem)
  return nn.Linear(nn.Flatten(nn.AdaptiveAvgPool2d(merged)), n)
end
return net
]]

function tests.canonical_same_network_same_hash()
  local a, b = compile(residual_a), compile(residual_b)
  T.eq(b:hash(), a:hash())
  T.eq(b:to_json(), a:to_json())
  T.ok(a == b, "graphs compare equal by hash")
end

function tests.canonical_changes_change_the_hash()
  local base = compile(residual_a):hash()
  local variants = {
    residual_a:gsub("left %+ right", "left * right"),               -- op
    residual_a:gsub("nn.Conv2d%(x, 16, 1%)", "nn.Conv2d(x, 16, 1, {bias = false})"),  -- attribute
    residual_a:gsub("{left %+ right, x}", "{x, left + right}"),     -- cat order (wiring)
    residual_a:gsub("nn.Conv2d%(x, 16, 1%)", "nn.Conv2d(left, 16, 1)"),  -- wiring
    residual_a:gsub("padding = 1}%)\n  local right", "padding = 1, dilation = 1}) \n  local right"),
  }
  local seen = {[base] = true}
  for i = 1, 4 do
    local h = compile(variants[i]):hash()
    T.ok(not seen[h], "variant " .. i .. " must hash differently")
    seen[h] = true
  end
  T.eq(compile(variants[5]):hash(), base, "a default written out is the same network")
end

function tests.exports_round_trip()
  for _, src in ipairs({small, residual_a, read("examples/nets/bench_resnet.lua"),
                        read("tests/arch_nets/densenet.lua")}) do
    local g = compile(src)
    local again = compile(g:to_lua())
    T.eq(again:hash(), g:hash())
    local j = arch.from_json(g:to_json())
    T.eq(j:hash(), g:hash())
    T.eq(j:params(), g:params())
    T.ok(g:to_pytorch():find("class Net(nn.Module):", 1, true))
  end
  local g, err, kind = arch.from_json('{"version":1}')
  T.eq(g, nil)
  T.eq(kind, "json")
  T.ok(err:find("graph JSON", 1, true), err)
end

function tests.messages_name_line_and_shapes()
  fails([[
function Net(x, classes)
  x = nn.Conv2d(x, 32, 3, {padding = 1})
  x = nn.MaxPool2d(x, 2)
  x = nn.Conv2d(x, 32, 3, {padding = 1})
  x = nn.MaxPool2d(x, 2)
  x = nn.Flatten(x)
  return nn.Linear(x, 3136, classes)
end
]], "shape", "candidate:7: Linear: expected 3136 input features, got 1568 (input shape [B, 32, 7, 7])")
  fails("function Net(x, classes)\n  return nn.Conv2d(x, 32, 0)\nend\n", "runtime",
        "candidate:2: bad argument #3 to 'Conv2d' (kernel_size must be positive, got 0)")
  fails("function Net(x, classes)\n  return nn.Linear(x, classes)\nend\n", "shape",
        "candidate:2: Linear: expected a [B, F] input, got [B, 1, 28, 28]; insert nn.Flatten(x) first")
  fails("function Net(x, c)\n  return nn.Flatten(nn.AdaptiveAvgPool2d(x, 1))\nend\n", "shape",
        "candidate:2: the network's output must be [B, 10], got [B, 1]")
  fails("function Net(x, c)\n  local y = nn.MaxPool2d(x, 2)\n  return nn.Linear(nn.Flatten(x + y), c)\nend\n",
        "shape", "candidate:3: add: shapes [B, 1, 28, 28] and [B, 1, 14, 14] cannot be broadcast")
  fails("local x = 1\n", "runtime", "must define a global function Net(x, classes)")
  fails("function Net(x, c) return 3 end", "runtime", "Net must return a node")
  fails("function Net(x, c) return nn.relu(x) end", "runtime", "nn has no op 'relu'")
  fails("function Net(x, c) return nn.Conv2d(x, 8, 3, {strides = 2}) end", "runtime",
        "unknown option 'strides' (options: stride, padding, dilation, groups, bias)")
  fails("function Net(x, c) return x * 'a' end", "runtime",
        "the operands of '*' must be nodes or a node and a number, got userdata and string")
  fails("function Net(x, c) return nn.Conv2d(x, 8, 3, {padding = 'same', stride = 2}) end",
        "runtime", "padding='same' needs stride 1")
  fails("function Net(x, c) x.shape = 1 end", "runtime", "nodes are read-only")
  fails("function Net(x, c) return x.channels end", "runtime", "a node has no field 'channels'")
  fails("function Net(x, c)\n  return nn.Linear(nn.Flatten(x), c)\n", "syntax", "candidate:")
  fails("function Net(x, c)\n  return nn.Linear(x c)\nend\n", "syntax", "my.lua:2:",
        {name = "my.lua"})
end

function tests.source_cap_is_too_large()
  fails(small, "too_large", "more than the 100 allowed", {max_source = 100})
end

function tests.node_cap_and_budget_options()
  fails("function Net(x, c) for i = 1, 50 do x = nn.ReLU(x) end return x end", "too_large",
        "too many layers: the network may have at most 20", {max_nodes = 20})
  fails("for i = 1, 1e7 do end", "limit_cpu", "instruction budget of 100000 exceeded",
        {instructions = 1e5})
  fails("local t = {} for i = 1, 1e7 do t[i] = {} end", "limit_memory", "memory limit of 8 MiB",
        {memory_limit = 8 * 2^20})
  -- the loop is stopped by its time limit: by the CPU limit (0.8 of it), or, on a machine
  -- too loaded to give it 0.8 s of CPU in 2 s, by the wall-clock deadline (twice it)
  local g, err, k = arch.compile("while true do end", {time_limit = 1, instructions = 1e12})
  T.ok(g == nil, "expected a failure, got a graph")
  if k == "timeout" then
    T.ok(err:find("deadline of 2 s", 1, true), err)
  else
    T.eq(k, "limit_cpu", "kind of: " .. err)
    T.ok(err:find("CPU time limit of 1 s", 1, true), err)
  end
end

function tests.shape_is_readable()
  local g = compile([[
function Net(x, classes)
  assert(x.shape[1] == "B" and x.shape[2] == 3 and x.shape[3] == 32 and #x.shape == 4)
  local f = nn.Flatten(x)
  assert(#f.shape == 2 and f.shape[2] == 3 * 32 * 32)
  assert(tostring(f) == "node Flatten [B, 3072]")
  return nn.Linear(f, classes)
end
]], {input = {3, 32, 32}, classes = 5})
  T.eq(g:output_shape(), {"B", 5})
end

function tests.unchecked_classes()
  local g = compile("function Net(x, c) assert(c == nil) return nn.Flatten(x) end", {classes = 0})
  T.eq(g:output_shape(), {"B", 784})
end

function tests.pytorch_positional_style()
  local g = compile([[
function Net(x, classes)
  x = nn.ReLU(nn.BatchNorm2d(nn.Conv2d(x, 16, 3, 1, 1), 16), true)
  x = nn.MaxPool2d(x, 2, 2)
  x = nn.LeakyReLU(nn.Conv2d(x, 8, {3, 1}, {1, 1}, {1, 0}), 0.1)
  x = nn.GELU(x, {approximate = "tanh"})
  return nn.Linear(nn.Dropout(nn.Flatten(x), {p = 0.3}), 8 * 14 * 14, classes, {bias = true})
end
]])
  local l = g:layers()
  T.eq(l[2].attrs.padding, {1, 1})
  T.eq(l[5].attrs.stride, {2, 2})
  T.eq(l[6].attrs.kernel, {3, 1})
  T.eq(l[6].attrs.padding, {1, 0})
end

function tests.wrong_arguments_raise()
  T.raises(function() arch.compile(nil) end, "bad argument #1 to 'compile'")
  T.raises(function() arch.compile("", {input = {1, 2}}) end, "input must be {C, H, W}")
  T.raises(function() arch.compile("", {classes = -1}) end, "classes must be an integer")
  T.raises(function() arch.compile("", {time_limit = 0}) end, "time_limit must be a positive")
  local g = compile(small)
  T.raises(function() g.hash(42) end, "llmnas.Graph expected")
  g:close()
  T.raises(function() g:hash() end, "graph has been closed")
  g:close()  -- twice is fine
end

-- Only a gross stall (a sleep or a worker's deadline per compile) is asserted: a loaded
-- machine misses any tighter bound; `make bench` (bench_compile) measures the speed.
function tests.compile_has_no_stall()
  local t0 = os.time()
  for _ = 1, 20 do compile(small) end
  T.ok(os.time() - t0 <= 20, "20 compiles took more than 20 s")
end

return tests
