-- bench_mpi.lua: per-candidate overhead of an evaluator rank against a local worker, at a
-- 100-layer graph. Run by bench_mpi.sh as `mpirun -n 2 llmnas run tests/bench/bench_mpi.lua`:
-- the same job goes REPEATS times to a local forked worker (train.submit) and to
-- evaluator rank 1 (graph JSON out, decoded there, a forked worker there, result back);
-- the difference of the medians is what MPI adds per candidate. The job stops at the
-- trainer's first check (max_params = 1: "too_large"), so that training time, which a
-- loaded machine makes vary by seconds, does not drown the milliseconds measured.
local REPEATS = tonumber(arg[1] or "40")
local pool = assert(require("llmnas.mpi").pool(), "run under mpirun -n 2")

local lines = { "function Net(x, classes)", "  x = nn.Conv2d(x, 4, 3, {padding = 1})" }
for _ = 1, 49 do lines[#lines + 1] = "  x = nn.Conv2d(nn.ReLU(x), 4, 3, {padding = 1})" end
lines[#lines + 1] = "  return nn.Linear(nn.Flatten(nn.AdaptiveAvgPool2d(x, 1)), classes)"
lines[#lines + 1] = "end"
local g = assert(arch.compile(table.concat(lines, "\n")))
local layers = #g:layers()
local recipe = { subset = 128, batch = 128, val_subset = 16, threads = 1, max_params = 1 }

local function median(t) table.sort(t) return t[(#t + 1) // 2] end
local function time_one(T)
  local t0 = core.now()
  local job = assert(T.submit(g, recipe))
  local j, _, msg, kind = T.wait_any({ job })
  assert(j == job and kind == "too_large", tostring(msg) .. " " .. tostring(kind))
  return core.now() - t0
end
local loc, rem = {}, {}
time_one(train); time_one(pool)   -- warm-up: the dataset is loaded once per process
for i = 1, REPEATS do
  loc[i] = time_one(train)
  rem[i] = time_one(pool)
end
-- the part of the round trip that is work, not waiting: encode and decode the messages
local codec = {}
for i = 1, REPEATS do
  local t0 = core.now()
  local msg = json.encode({ id = i, graph = g:to_json(), recipe = recipe })
  local back = json.decode(msg)
  assert(arch.from_json(back.graph))
  json.decode(json.encode({ id = i, ok = true, result = { val_acc = 0.5, seconds = 1, params = 1 } }))
  codec[i] = core.now() - t0
end
local l, r = median(loc), median(rem)
print(("graph: %d layers, %d bytes of JSON; the worker's round trip without training, medians of %d")
  :format(layers, #g:to_json(), REPEATS))
print(("%-34s %10.1f ms"):format("local worker (fork, pipe)", l * 1000))
print(("%-34s %10.1f ms"):format("evaluator rank (MPI round trip)", r * 1000))
print(("MPI overhead per candidate: %.1f ms (target < 5 ms), of which %.2f ms encoding and decoding"
  .. " the messages (the rest: MPI and waking the processes up, load %s)")
  :format((r - l) * 1000, median(codec) * 1000, io.open("/proc/loadavg"):read("l"):match("^%S+")))
