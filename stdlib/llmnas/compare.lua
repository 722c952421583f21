--- llmnas.compare — strategies compared at equal training compute (`llmnas compare`).
--
--   llmnas compare DB[:RUN] DB[:RUN] ... [--budget CPU_SECONDS] [--points N] [--json]
--
-- Each argument is a memory (a db folder) and optionally a run id in it (default:
-- every run in it). Runs are grouped by strategy name (evolve, random, paper, ...);
-- within a group each run is one seed. A run's compute is the training CPU-seconds
-- its records used (the training worker's user + system time; a cache hit costs 0,
-- a pruned candidate what it used until it was stopped). The budget is the
-- smallest total compute over all runs (or --budget): every run is cut there, so
-- each strategy gets the same compute. The table gives, at N evenly spaced
-- budget points, the best validation accuracy found so far: median and min–max
-- over the group's runs. Only records of the same fidelity (recipe) compare: the
-- recipe as the evaluation cache keys it, so a time limit or a thread count that
-- does not change the results does not keep runs apart.
local M = {}

M.USAGE = [[
usage: llmnas compare DB[:RUN]... [--budget CPU_SECONDS] [--points N] [--json]

Compares search strategies at equal training compute: for each strategy (the
runs' names) the best validation accuracy found within the same training
CPU-seconds, median and min-max over its runs (seeds).

  DB[:RUN]        a memory folder, optionally one run id in it (default: all its runs)
  --budget S      cut every run at S training CPU-seconds (default: the smallest run's total)
  --points N      budget points in the table (default 4)
  --json          print the table as JSON
]]

--- The compute a record used, in training CPU-seconds (0 for a cache hit or a
-- candidate that never trained), falling back to wall seconds for records that
-- have no CPU time.
function M.cost(r)
  if r.cache_hit then return 0 end
  local m = r.metrics or {}
  return m.cpu_seconds or m.seconds or 0
end

--- The cost of a run's records as if there were no evaluation cache: a function
-- record -> training CPU-seconds that charges a cache hit what its network's first
-- training in the run cost (training is deterministic: without the cache the same
-- result is paid for again), and the number of cache hits so charged.
function M.uncached(records)
  local first, hits = {}, 0
  for _, r in ipairs(records) do
    if r.cache_hit then hits = hits + 1
    elseif r.hash and r.status == "ok" and not first[r.hash] then first[r.hash] = M.cost(r) end
  end
  return function(r)
    if r.cache_hit then return first[r.hash] or 0 end
    return M.cost(r)
  end, hits
end

--- A run's trajectory: {name, points = {{compute, best}}, total}. Only results of
-- the run's own recipe count for the best (a lower fidelity's do not). cost:
-- record -> compute (default M.cost; M.uncached(records) for a run without the cache).
function M.trajectory(records, name, cost)
  cost = cost or M.cost
  local t, spent, best = { name = name, points = {} }, 0, nil
  for _, r in ipairs(records) do
    spent = spent + cost(r)
    local acc = r.status == "ok" and not r.fidelity and r.metrics and r.metrics.val_acc
    if acc and (not best or acc > best) then best = acc end
    t.points[#t.points + 1] = { compute = spent, best = best }
  end
  t.total = spent
  return t
end

--- The compute a trajectory had spent when its best first reached `target`, or nil.
function M.compute_to_reach(t, target)
  for _, p in ipairs(t.points) do
    if p.best and p.best >= target then return p.compute end
  end
end

--- The best accuracy a trajectory had found within `budget` compute.
function M.best_within(t, budget)
  local best
  for _, p in ipairs(t.points) do
    if p.compute > budget + 1e-9 then break end
    best = p.best or best
  end
  return best
end

local function median(xs)
  local s = {}
  for i, x in ipairs(xs) do s[i] = x end
  table.sort(s)
  local n = #s
  if n == 0 then return nil end
  if n % 2 == 1 then return s[(n + 1) // 2] end
  return (s[n // 2] + s[n // 2 + 1]) / 2
end
M.median = median

--- The comparison of trajectories: {budget, points = {budgets}, groups = {{name,
-- runs, rows = {{budget, median, min, max, n}}}}}.
function M.table(trajs, budget, npoints)
  if not budget then
    for _, t in ipairs(trajs) do budget = budget and math.min(budget, t.total) or t.total end
  end
  npoints = npoints or 4
  local groups, order = {}, {}
  for _, t in ipairs(trajs) do
    if not groups[t.name] then groups[t.name] = { name = t.name, runs = {} } order[#order + 1] = t.name end
    table.insert(groups[t.name].runs, t)
  end
  local out = { budget = budget or 0, groups = {} }
  for _, name in ipairs(order) do
    local g = groups[name]
    g.rows = {}
    for k = 1, npoints do
      local b = (budget or 0) * k / npoints
      local xs = {}
      for _, t in ipairs(g.runs) do xs[#xs + 1] = M.best_within(t, b) or 0 end
      local lo, hi = math.huge, -math.huge
      for _, x in ipairs(xs) do lo, hi = math.min(lo, x), math.max(hi, x) end
      g.rows[k] = { budget = b, median = median(xs), min = lo, max = hi, n = #xs }
    end
    out.groups[#out.groups + 1] = { name = name, runs = #g.runs, rows = g.rows }
  end
  return out
end

function M.format(tab)
  local lines = { ("equal training budget: %.1f CPU-seconds per run; best validation accuracy so far, "
    .. "median [min-max] over runs"):format(tab.budget) }
  local head = { ("%-10s %5s"):format("strategy", "runs") }
  local first = tab.groups[1]
  for _, row in ipairs(first and first.rows or {}) do
    head[#head + 1] = ("%21s"):format(("@ %.1f s"):format(row.budget))
  end
  lines[#lines + 1] = table.concat(head, " ")
  for _, g in ipairs(tab.groups) do
    local cells = { ("%-10s %5d"):format(g.name:sub(1, 10), g.runs) }
    for _, row in ipairs(g.rows) do
      cells[#cells + 1] = ("%21s"):format(("%.2f%% [%.2f-%.2f]"):format(row.median * 100, row.min * 100, row.max * 100))
    end
    lines[#lines + 1] = table.concat(cells, " ")
  end
  return table.concat(lines, "\n")
end

local function fail(msg)
  io.stderr:write("llmnas compare: ", msg, "\n")
  return 64
end

--- Reads runs given as DB[:RUN] specs: returns trajectories, or nil, message.
function M.load(specs)
  local trajs, fidelity = {}, nil
  for _, spec in ipairs(specs) do
    local path, id = spec:match("^(.-):(%d+)$")
    path = path or spec
    local db, err = memory.open(path, { readonly = true })
    if not db then return nil, ("cannot open the memory '%s': %s"):format(path, tostring(err)) end
    local ids = {}
    if id then ids[1] = tonumber(id) else
      for _, r in ipairs(db:runs()) do
        if r.damaged then return nil, ("run %s of '%s' is damaged: %s"):format(tostring(r.id), path, r.damaged) end
        ids[#ids + 1] = r.id or r.run
      end
    end
    if #ids == 0 then return nil, ("'%s' holds no run"):format(path) end
    for _, rid in ipairs(ids) do
      local info = db:run(rid)
      if not info then return nil, ("'%s' has no run %s"):format(path, tostring(rid)) end
      local meta = info.meta or {}
      local recs = {}
      for r in db:iter(rid) do
        if r.damaged then
          return nil, ("run %s of '%s': iteration %s is damaged: %s")
            :format(tostring(rid), path, tostring(r.iter), r.damaged)
        end
        recs[#recs + 1] = r
      end
      -- what changes a result (the evaluation cache's key), not limits such as time_limit
      local f = require("llmnas.search").cache_key("", meta.recipe or {})
      if fidelity and f ~= fidelity then
        return nil, ("run %s of '%s' was trained with another recipe (fidelity): runs compare only within one")
          :format(tostring(rid), path)
      end
      fidelity = f
      trajs[#trajs + 1] = M.trajectory(recs, meta.name or "?")
    end
    db:close()
  end
  return trajs
end

--- The command: returns an exit code.
function M.main(args)
  local specs, budget, npoints, as_json = {}, nil, 4, false
  local i = 1
  while i <= #args do
    local a = args[i]
    if a == "-h" or a == "--help" then io.stdout:write(M.USAGE) return 0
    elseif a == "--budget" or a == "--points" then
      local v = tonumber(args[i + 1] or "")
      if not v or v <= 0 then return fail(a .. " needs a positive number\n" .. M.USAGE) end
      if a == "--budget" then budget = v else npoints = math.floor(v) end
      i = i + 1
    elseif a == "--json" then as_json = true
    elseif a:sub(1, 1) == "-" then return fail("unknown option " .. a .. "\n" .. M.USAGE)
    else specs[#specs + 1] = a end
    i = i + 1
  end
  if #specs == 0 then return fail("no runs given\n" .. M.USAGE) end
  local trajs, err = M.load(specs)
  if not trajs then io.stderr:write("llmnas compare: ", err, "\n") return 65 end
  local tab = M.table(trajs, budget, npoints)
  if as_json then print(json.encode(tab)) else print(M.format(tab)) end
  return 0
end

return M
