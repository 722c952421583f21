-- bench_compile.lua: time to compile and validate a typical candidate through a sandboxed
-- worker (fork, fresh Lua state, build, shape checks, canonical JSON back over the pipe,
-- re-read and hash in the parent), side by side with the same compile in-process.
local now = require("core").now
local arch = require "arch"

local function read(path)
  local f = assert(io.open(path))
  local s = f:read("a")
  f:close()
  return s
end

-- a 99-layer plain network: 32 conv-bn-relu blocks, pool, flatten, linear
local lines = {"function Net(x, classes)"}
for i = 1, 32 do
  lines[#lines + 1] = ("  x = nn.ReLU(nn.BatchNorm2d(nn.Conv2d(x, %d, 3, {padding = 1, bias = false})))")
    :format(i <= 16 and 32 or 64)
end
lines[#lines + 1] = "  return nn.Linear(nn.Flatten(nn.AdaptiveAvgPool2d(x, 1)), classes)\nend"
local deep = table.concat(lines, "\n")

local nets = {
  {"small (10 layers)", read("examples/nets/bench_small.lua")},
  {"resnet (52 layers)", read("examples/nets/bench_resnet.lua")},
  {"plain-99 (99 layers)", deep},
  {"densenet (77 layers)", read("tests/arch_nets/densenet.lua")},
}

local function measure(src, isolated, n)
  local times = {}
  for i = 1, n + 3 do
    local t0 = now()
    local g, err = arch.compile(src, {isolated = isolated})
    local dt = now() - t0
    assert(g, err)
    g:hash()
    if i > 3 then times[#times + 1] = dt * 1000 end
  end
  table.sort(times)
  return times[(#times + 1) // 2], times[math.ceil(#times * 0.9)], #assert(arch.compile(src))
end

print(("%-22s %8s %14s %14s %14s %8s"):format("candidate", "layers", "worker median",
                                            "worker p90", "in-process", "ratio"))
for _, net in ipairs(nets) do
  local med, p90, layers = measure(net[2], true, 40)
  local inproc = measure(net[2], false, 40)
  print(("%-22s %8d %11.2f ms %11.2f ms %11.2f ms %7.1fx"):format(net[1], layers, med, p90,
                                                                inproc, med / inproc))
end
print("target: a typical candidate (<= 100 layers) through a worker well under 50 ms")
