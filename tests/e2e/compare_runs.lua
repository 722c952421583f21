-- compare_runs.lua: are two runs' records the same, timings aside?
--   llmnas run tests/e2e/compare_runs.lua DB1 RUN1 DB2 RUN2 [ignore-cache-hits]
-- Prints the differences (up to 20) and exits 1, or prints "same N records" and exits 0.
local db1 = assert(memory.open(arg[1], { readonly = true }))
-- One process may open a store once: the same folder twice shares the handle.
local db2 = arg[3] == arg[1] and db1 or assert(memory.open(arg[3], { readonly = true }))
local run1, run2 = math.tointeger(tonumber(arg[2])), math.tointeger(tonumber(arg[4]))
local ignore_cache = arg[5] == "ignore-cache-hits"

-- Wall-clock fields differ between any two runs; everything else must not.
-- (time: the per-candidate breakdown, compile/build/train/probe/evaluate/ipc; the CPU
-- and wall seconds of a job, which a cache hit does not have.)
local TIMING = { seconds = true, compile_seconds = true, images_per_s = true, t = true, started = true,
  run = true, latency = true, committed_at = true, time = true, cpu_seconds = true,
  wall_seconds = true, job_seconds = true, build_seconds = true, probe_seconds = true,
  eval_seconds = true }

-- The improver's feedback states the training time: masked like the timing fields.
local function strip(v)
  if type(v) == "string" then return (v:gsub("training time: [^\n]*", "training time: (timing)")) end
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do
    if not TIMING[k] and not (ignore_cache and k == "cache_hit") then out[k] = strip(x) end
  end
  return out
end

-- Every difference under path, as lines in out.
local function diff(a, b, path, out)
  if type(a) ~= type(b) then
    out[#out + 1] = path .. (": %s vs %s"):format(a == nil and "missing" or json.encode(a),
      b == nil and "missing" or json.encode(b))
  elseif type(a) ~= "table" then
    if a ~= b then out[#out + 1] = path .. (": %s vs %s"):format(tostring(a), tostring(b)) end
  else
    for k, v in pairs(a) do diff(v, b[k], path .. "." .. tostring(k), out) end
    for k, v in pairs(b) do
      if a[k] == nil then diff(nil, v, path .. "." .. tostring(k), out) end
    end
  end
  return out
end

local n1, n2 = db1:last_iteration(run1), db2:last_iteration(run2)
if n1 ~= n2 then
  print(("different lengths: %s vs %s records"):format(tostring(n1), tostring(n2)))
  os.exit(1)
end
local differences = {}
for i = 1, n1 do diff(strip(db1:get(run1, i)), strip(db2:get(run2, i)), "record " .. i, differences) end
if #differences > 0 then
  table.sort(differences)
  for i = 1, math.min(#differences, 20) do print(differences[i]) end
  os.exit(1)
end
print(("same %d records"):format(n1))
