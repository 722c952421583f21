-- paper_replay.lua: bench_strategies.sh's checks of a paper.lua recording (BENCH_PAPER)
-- and of its replay here. Each mistake is one line on stderr and exit 65.
--
--   llmnas run tests/bench/paper_replay.lua init DB
--       a new, empty memory at DB (the replay's store; the recorded replies go in next)
--   llmnas run tests/bench/paper_replay.lua source SRC ITERS
--       SRC's latest run is a paper.lua run recorded with --llm-cache record and has at
--       least ITERS records: prints the model it was recorded with (the replay asks for
--       the same: the model is part of every request's key)
--   llmnas run tests/bench/paper_replay.lua check SRC DST ITERS
--       DST's run 1, the replay of SRC's latest run, has the recording's settings and its
--       first ITERS records have the recording's proposal numbers, code, hashes and
--       statuses: prints one line saying so, with the CPU-seconds the replay trained here
local mode = arg[1]
local RECORD = "tests/bench/record_paper.sh"

local function fail(msg)
  io.stderr:write(msg, "\n")
  os.exit(65)
end

local function open(path)
  local db, err = memory.open(path, { readonly = true })
  if not db then fail(("cannot open the memory '%s': %s"):format(path, tostring(err))) end
  return db
end

-- The latest run of a memory and its records (nil records past a damaged one).
local function latest(db, path)
  local id = db:latest_run()
  if not id or id == 0 then fail(("'%s' holds no run"):format(path)) end
  local info = db:run(id)
  if not info or info.damaged then fail(("run %d of '%s' is damaged"):format(id, path)) end
  local recs = {}
  for r in db:iter(id) do
    if r.damaged then fail(("'%s': %s"):format(path, r.damaged)) end
    recs[#recs + 1] = r
  end
  return id, info.meta or {}, recs
end

if mode == "init" then
  local db, err = memory.open(arg[2])
  if not db then fail(("cannot create the memory '%s': %s"):format(arg[2], tostring(err))) end
  db:close()
  os.exit(0)
end

local src_path, iters = arg[2], math.tointeger(tonumber(arg[mode == "check" and 4 or 3] or ""))
if not src_path or not iters or (mode ~= "source" and mode ~= "check") then
  fail("usage: paper_replay.lua init DB | source SRC ITERS | check SRC DST ITERS")
end
local src = open(src_path)
local sid, smeta, srecs = latest(src, src_path)
local what = ("run %d of '%s'"):format(sid, src_path)

if mode == "source" then
  if smeta.name ~= "paper" then
    fail(("%s is not a paper.lua run (strategy '%s'): record one with %s"):format(what, tostring(smeta.name), RECORD))
  end
  if #srecs < iters then
    fail(("%s has %d records, the bench replays %d: record %d iterations (%s with the bench's BENCH_* settings)")
      :format(what, #srecs, iters, iters, RECORD))
  end
  local p = srecs[1].prompts and srecs[1].prompts[1]
  local entry = p and p.key and src:llm_get(p.key)
  if not entry then
    fail(("%s holds no recorded LLM replies: it was run without --llm-cache record (%s records them)")
      :format(what, RECORD))
  end
  print(entry.request and entry.request.model or "")
  os.exit(0)
end

-- check: the replay against the recording
local dst_path = arg[3]
local dst = open(dst_path)
local _, dmeta, drecs = latest(dst, dst_path)

-- The settings (--set) of both runs: the replay's are the bench's for this seed.
local diffs, keys = {}, {}
for k in pairs(smeta.settings or {}) do keys[#keys + 1] = k end
for k in pairs(dmeta.settings or {}) do
  if (smeta.settings or {})[k] == nil then keys[#keys + 1] = k end
end
table.sort(keys)
for _, k in ipairs(keys) do
  local a, b = (smeta.settings or {})[k], (dmeta.settings or {})[k]
  if a ~= b then
    diffs[#diffs + 1] = ("%s=%s (the bench: %s)"):format(k, a == nil and "(not set)" or tostring(a),
      b == nil and "(not set)" or tostring(b))
  end
end
if #diffs > 0 then
  fail(("%s was recorded at another setting than the bench's: --set %s; record it at the bench's settings "
    .. "with %s (the same BENCH_* variables as the bench)"):format(what, table.concat(diffs, ", --set "), RECORD))
end

local function same(a, b)
  return a.status == b.status and a.code == b.code and a.hash == b.hash
    and (a.proposal or a.iter) == (b.proposal or b.iter)
end

if #drecs < iters then
  -- The prompts carry the results (accuracies, failures): where the recording's
  -- candidates trained to other numbers than here, the next prompt is another one.
  local why = ""
  for i = 1, #drecs do
    local a, b = srecs[i], drecs[i]
    local ma, mb = (a.metrics or {}).val_acc, (b.metrics or {}).val_acc
    if not same(a, b) or ma ~= mb then
      local function result(m, r) return m and ("%.2f%%"):format(m * 100) or tostring(r.status) end
      why = (": proposal %d gave %s here and %s where it was recorded"):format(i, result(mb, b), result(ma, a))
      break
    end
  end
  fail(("the replay of %s stopped after %d of %d proposals: the recording has no reply for proposal %d's prompt%s. "
    .. "The prompts carry the training results, so a recording replays only where training gives the same "
    .. "numbers (same CPU, threads and precision): record on this machine with %s")
    :format(what, #drecs, iters, #drecs + 1, why, RECORD))
end

local cpu = 0
for i = 1, iters do
  local a, b = srecs[i], drecs[i]
  if not same(a, b) then
    fail(("the replay of %s differs from the recording at proposal %d: %s %s vs %s %s as recorded")
      :format(what, i, tostring(b.status), tostring(b.hash), tostring(a.status), tostring(a.hash)))
  end
  cpu = cpu + require("llmnas.compare").cost(b)
end
print(("%d proposals replayed from %s: the same proposal numbers, code, hashes and statuses as recorded; "
  .. "trained here in %.1f CPU-seconds"):format(iters, what, cpu))
