--- llmnas.mpi — `mpirun -n N llmnas run STRATEGY.lua`: rank 0 runs the strategy, the
-- LLM client and the memory; ranks 1..N-1 evaluate candidates. The asynchronous loop
-- (llmnas.async) sees the evaluators as N-1 workers: rank 0's `train.submit` sends the
-- candidate's graph (canonical JSON) and recipe to a free rank, which compiles the graph
-- back, trains it in a forked worker of its own (a crash there costs that candidate
-- only) and sends the result back; progress messages travel the same way, so
-- on_progress sees them and job:kill() reaches the evaluator.
--
-- Messages are JSON, tagged:
--   rank 0 -> evaluator  JOB {id, graph, recipe}   KILL {id}   STOP {}
--   evaluator -> rank 0  PROGRESS {id, p}          RESULT {id, ok, result | message, kind, info}
-- Each evaluator reads the dataset from its own path (its own --data / LLMNAS_DATA) and
-- chooses its threads (cores / processes on its node) unless --threads was given.
-- cmd_run calls boot() before the script and shutdown() after it, only when launched by
-- mpirun or srun; a plain `llmnas run` never loads MPI.
local core = require "core"

local M = {}

local TAG = { JOB = 1, KILL = 2, STOP = 3, PROGRESS = 11, RESULT = 12 }
M.TAG = TAG

local rank0       -- {size} on rank 0 once booted

local function options() return require("llmnas").options() end

-- ---- evaluator ranks ---------------------------------------------------------------

local function local_threads()
  local per_node = tonumber(os.getenv("OMPI_COMM_WORLD_LOCAL_SIZE") or os.getenv("SLURM_NTASKS_PER_NODE")
    or "1") or 1
  return math.max(1, train.cores() // math.max(1, per_node))
end

local function evaluator()
  local opts = options()
  local jobs, list = {}, {}   -- id -> {job, id}; the local jobs in flight
  local function send_result(id, ok, a, b, c, d)
    local m = ok and { id = id, ok = true, result = a } or { id = id, ok = false, message = a, kind = b,
      step = c or json.null, cost = d or json.null }
    mpi.send(0, TAG.RESULT, json.encode(m))
  end
  local function start(m)
    local g, err, kind = arch.from_json(m.graph)
    if not g then
      return send_result(m.id, false, "evaluator: the graph did not decode: " .. tostring(err), kind or "json")
    end
    local recipe = m.recipe
    recipe.data = opts.data
    recipe.threads = opts.threads or local_threads()
    if recipe.has_progress then
      recipe.progress = function(p) mpi.send(0, TAG.PROGRESS, json.encode({ id = m.id, p = p })) end
    end
    recipe.has_progress = nil
    local job, msg, jkind = train.submit(g, recipe)
    if not job then return send_result(m.id, false, msg, jkind) end
    jobs[m.id] = job
    list[#list + 1] = job
  end
  while true do
    if #list > 0 then
      local job, r, msg, kind, step, cost = train.wait_any(list, 0.002)
      if job then
        for i, j in ipairs(list) do if j == job then table.remove(list, i) break end end
        for id, j in pairs(jobs) do
          if j == job then
            jobs[id] = nil
            if r then send_result(id, true, r) else send_result(id, false, msg, kind, step, cost) end
          end
        end
      end
    end
    local src, tag, data = mpi.poll(#list > 0 and 0 or -1)
    if src then
      local m = json.decode(data)
      if tag == TAG.JOB then start(m)
      elseif tag == TAG.KILL then if jobs[m.id] then jobs[m.id]:kill() end
      elseif tag == TAG.STOP then break end
    end
  end
  for _, j in ipairs(list) do j:kill() end
end

-- ---- rank 0: the evaluators as a train module for the asynchronous loop -------------

local Job = {}
Job.__index = Job
function Job:kill() if self.running_ then mpi.send(self.rank, TAG.KILL, json.encode({ id = self.id })) end end
function Job.pid() return nil end
function Job:running() return self.running_ end
function Job:__tostring() return ("mpi.job %d on rank %d"):format(self.id, self.rank) end

local function remote_train(size)
  local T = {}
  local free, by_id, next_id = {}, {}, 0
  for r = 1, size - 1 do free[r] = true end
  local opts = options()
  function T.submit(g, recipe)
    local rank
    for r = 1, size - 1 do if free[r] then rank = r break end end
    if not rank then error("mpi: every evaluator rank is busy (a bug in the loop)", 0) end
    next_id = next_id + 1
    local r = {}
    for k, v in pairs(recipe) do if k ~= "progress" and k ~= "data" and k ~= "threads" then r[k] = v end end
    r.threads = opts.threads
    r.has_progress = recipe.progress ~= nil
    local job = setmetatable({ id = next_id, rank = rank, progress = recipe.progress, running_ = true }, Job)
    mpi.send(rank, TAG.JOB, json.encode({ id = job.id, graph = g:to_json(), recipe = r }))
    free[rank], by_id[job.id] = nil, job
    return job
  end
  -- As train.wait_any: job, result | job, nil, message, kind, step, cost | nil (timeout).
  -- A progress function that returns true stops its job, as a local one does: rank 0
  -- sends the kill and the job's result becomes kind "pruned".
  function T.wait_any(jobs, timeout)
    local wanted = {}
    for _, j in ipairs(jobs) do
      if j.done then return j, table.unpack(j.done, 1, j.done.n) end   -- arrived earlier
      wanted[j] = true
    end
    if not next(wanted) then error("train.wait_any: no job in the list is waiting for its result", 2) end
    local t_end = timeout and timeout >= 0 and core.now() + timeout
    while true do
      local left = t_end and math.max(0, t_end - core.now()) or -1
      local src, tag, data = mpi.poll(left)
      if not src then return nil end
      local m = json.decode(data)
      local job = by_id[m.id]
      if job and tag == TAG.PROGRESS then
        if job.progress and not job.pruned and job.progress(m.p) then
          job.pruned = m.p
          job:kill()
        end
      elseif job and tag == TAG.RESULT then
        by_id[m.id], free[job.rank], job.running_ = nil, true, false
        local step = m.step ~= json.null and m.step or nil
        local cost = m.cost ~= json.null and m.cost or nil
        local out = m.ok and table.pack(m.result) or table.pack(nil, m.message, m.kind, step, cost)
        local p = job.pruned
        if not m.ok and p and m.kind ~= "interrupted" then
          -- stopped on purpose: what was measured is what the last report said
          cost = cost or {}
          cost.steps, cost.seconds, cost.train_loss = p.step, p.seconds, p.loss
          out = table.pack(nil, ("stopped at step %d of %d"):format(p.step, p.steps), "pruned", nil, cost)
        end
        if wanted[job] then return job, table.unpack(out, 1, out.n) end
        job.done = out
      elseif not job then
        error(("mpi: a message from rank %d about job %s, which rank 0 does not know"):format(src, tostring(m.id)), 0)
      end
    end
  end
  return T
end

--- Before the script (cmd_run, under mpirun/srun): rank 0 returns false and runs the
-- strategy; an evaluator rank serves until rank 0 says stop and returns true.
function M.boot()
  local rank, size = mpi.start()
  if size < 2 then
    error("mpirun -n N needs N >= 2: rank 0 runs the strategy, ranks 1..N-1 evaluate", 0)
  end
  if rank > 0 then
    evaluator()
    mpi.finalize()
    return true
  end
  rank0 = { size = size }
  return false
end

--- After the script on rank 0: stop every evaluator, finalize.
function M.shutdown()
  if not rank0 then return end
  for r = 1, rank0.size - 1 do pcall(mpi.send, r, TAG.STOP, "{}") end
  mpi.finalize()
  rank0 = nil
end

--- On rank 0 under mpirun: the train module of the evaluators and their count; else nil.
function M.pool()
  if not rank0 then return nil end
  rank0.train = rank0.train or remote_train(rank0.size)
  return rank0.train, rank0.size - 1
end

return M
