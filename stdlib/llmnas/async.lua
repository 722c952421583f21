--- llmnas.async — the asynchronous search loop: up to `workers` candidates train at
-- once, each in its own worker process, while the parent (this Lua state, the LLM
-- client, the memory) asks the LLM for the next proposals and concludes the results
-- that arrive. llmnas.search runs it when workers > 1 (--workers N, or `workers = N`
-- in the strategy) and to resume a run stopped with candidates in flight. The rules
-- the hooks see are in stdlib/SCRIPTING.md ("Several candidates in flight"):
--
--   * a proposal gets its number when it is made (ctx.iteration), and its own ctx: its
--     record, and ctx.best / ctx.last as they were when it was proposed; ctx.state is
--     the one strategy table shared by all;
--   * free workers are filled together: their propose hooks run side by side as
--     coroutines, and their ctx:chat calls go out as one llm.chat_many (curl multi);
--   * a result is accepted, reflected on and committed (in that order, one at a time)
--     as soon as it arrives (order = "arrival"), or strictly in proposal order (order =
--     "iteration": proposal n + workers is made right after the commit of proposal n,
--     so what each proposal saw does not depend on timing — the mode --llm-cache
--     record|replay uses by default);
--   * the candidates proposed and not yet committed are saved with every commit
--     (loop.pending), so --resume re-runs exactly those, with their numbers and code.
local core = require "core"
local progress = require "llmnas.progress"

local M = {}

local YIELD = {}   -- marks a coroutine.yield of ctx:chat inside a batched proposal

local function count(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n
end

function M.loop(run, I)
  local env, loop = run.env, run.loop
  local N = run.workers
  local opts = require("llmnas").options()
  local order = run.order
    or ((opts.llm_cache == "record" or opts.llm_cache == "replay") and "iteration" or "arrival")
  if order ~= "arrival" and order ~= "iteration" then
    error(("order: expected \"arrival\" or \"iteration\", got %s"):format(tostring(order)), 0)
  end
  if not env.train.submit then error("workers > 1 needs train.submit (this train module has none)", 0) end
  run.order = order
  loop.proposed = loop.proposed or loop.iteration
  loop.workers = N
  local slots = {}        -- worker slot -> candidate training there
  local queue = {}        -- prepared candidates waiting for a free worker (proposal order)
  local held = {}         -- evaluated candidates waiting to be concluded (arrival order)
  local uncommitted = {}  -- n -> candidate, every proposal not yet committed
  local leaders = {}      -- cache key -> the candidate training that graph (others follow it)
  local by_job = {}       -- job -> candidate
  local busy = 0          -- worker-seconds spent training, for utilisation

  -- best and last are the proposal's own even when nil (no best yet): they must not
  -- fall through to run.ctx, whose best moves as results arrive (an on_progress hook
  -- would then judge by timing).
  local OWN = { best = true, last = true }
  local function new_ctx(cand)
    return setmetatable({ iteration = cand.n, record = cand.record, best = loop.best, last = loop.last,
      proposal = cand.proposal }, { __index = function(_, k) if not OWN[k] then return run.ctx[k] end end })
  end

  local function make(n, record, code, proposal)
    local cand = { n = n, record = record or I.new_record(n), code = code, t_start = core.now(),
      proposal = proposal or {} }
    cand.record.proposal = n
    cand.record.code = code
    cand.ctx = new_ctx(cand)
    uncommitted[n] = cand
    return cand
  end

  local function done(cand, result)
    cand.result, cand.arrived = result, core.now()
    held[#held + 1] = cand
  end

  -- Compile; a known result (compile failure, cache hit, a graph already training)
  -- needs no worker.
  local function start(cand)
    if not cand.code then return done(cand, cand.failure) end
    cand.recipe = I.recipe_with(run, cand.train) or run.recipe
    cand.record.fidelity = I.fidelity_of(cand.train)
    local res, g, key, partial = I.prepare(run, cand.code, cand.recipe)
    if res then return done(cand, res) end
    local leader = leaders[key]
    if leader then
      leader.followers = leader.followers or {}
      leader.followers[#leader.followers + 1] = { cand = cand, partial = partial }
      return
    end
    cand.graph, cand.key, cand.partial = g, key, partial
    leaders[key] = cand
    queue[#queue + 1] = cand
  end

  local function free_slot()
    for i = 1, N do if not slots[i] then return i end end
  end

  -- The candidate's training options, as the serial loop builds them (the monitor's
  -- checkpoints, the curve on cand.partial), with on_progress asked in the
  -- candidate's own ctx: a truthy answer stops that job alone (kind "pruned").
  local function recipe_for(cand)
    return I.train_options(run, cand.partial, cand.recipe, cand.ctx)
  end

  local function launch()
    while #queue > 0 do
      local slot = free_slot()
      if not slot then return end
      local cand = table.remove(queue, 1)
      local job, msg, kind = env.train.submit(cand.graph, recipe_for(cand))
      cand.graph = nil
      if not job then
        leaders[cand.key] = nil
        done(cand, I.trained(run, cand.key, cand.partial, nil, msg, kind))
      else
        cand.job, cand.slot, cand.submitted = job, slot, core.now()
        cand.ctx.pid = job.pid and job:pid()   -- a local worker's process id (nil for a rank)
        cand.record.worker = slot
        cand.record.rank = job.rank   -- the evaluator rank under mpirun
        slots[slot], by_job[job] = cand, cand
      end
    end
  end

  -- ctx:chat / ctx:chat_many inside a batched proposal: yield the requests to the
  -- loop, which sends every proposal's requests in one llm.chat_many.
  -- Proposals made side by side from the same state send the same prompt: a seed
  -- (the proposal's number, unless the request has one) makes them different
  -- requests, sampled independently and told apart by --llm-cache replay.
  local function batched_chat(ctx, req)
    req.role = req.role or "generator"
    if req.seed == nil then req.seed = ctx.iteration end
    local results, seconds = coroutine.yield(YIELD, { req })
    local r = results[1]
    I.book(ctx.record, req, seconds, r[1], r[2])
    if r[1] then return r[1], r[2] end
    return nil, r[2], r[3]
  end
  local function batched_chat_many(ctx, reqs)
    for i, req in ipairs(reqs) do
      req.role = req.role or "generator"
      if req.seed == nil then req.seed = ctx.iteration * 1000 + i end
    end
    local results, seconds = coroutine.yield(YIELD, reqs)
    for i, r in ipairs(results) do I.book(ctx.record, reqs[i], seconds / math.max(1, #reqs), r[1], r[2]) end
    return results
  end

  -- Propose k candidates side by side. Each runs `propose` in a coroutine; their
  -- LLM requests are sent together. Returns the candidates in proposal order.
  local function propose_batch(k)
    local cands, cos, args = {}, {}, {}
    for i = 1, k do
      loop.proposed = loop.proposed + 1
      local cand = make(loop.proposed)
      cand.ctx.chat, cand.ctx.chat_many = batched_chat, batched_chat_many
      cands[i] = cand
      cos[i] = coroutine.create(function() return I.propose(run, cand.ctx) end)
      args[i] = {}
    end
    local t0 = core.now()
    local live = k
    while live > 0 do
      local reqs, owner = {}, {}
      for i = 1, k do
        local co = cos[i]
        if co and coroutine.status(co) == "suspended" then
          local r = table.pack(coroutine.resume(co, table.unpack(args[i], 1, args[i].n or #args[i])))
          if not r[1] then error(r[2], 0) end   -- a fatal LLM failure or an interrupt
          if coroutine.status(co) == "dead" then
            local cand = cands[i]
            cand.code = r[2]
            if not r[2] then cand.failure = { status = "failed", error = r[3], kind = r[4] } end
          cand.train = r[5]
            cand.record.code = cand.code
            cand.record.times = { propose = core.now() - t0 }
            cos[i] = nil
            live = live - 1
          elseif r[2] == YIELD then
            owner[i] = { first = #reqs + 1, n = #r[3] }
            for _, q in ipairs(r[3]) do reqs[#reqs + 1] = q end
          else
            error("propose: a coroutine.yield inside propose is not supported with workers > 1", 0)
          end
        end
      end
      if #reqs > 0 then
        local t1 = core.now()
        local results = env.llm.chat_many(reqs)
        local seconds = core.now() - t1
        for i, o in pairs(owner) do
          local mine = {}
          for j = 1, o.n do mine[j] = results[o.first + j - 1] end
          args[i] = table.pack(mine, seconds)
        end
      end
    end
    for _, cand in ipairs(cands) do
      cand.ctx.chat, cand.ctx.chat_many = nil, nil   -- later hooks call the LLM directly
    end
    return cands
  end

  local function may_propose()
    if run.budget.iterations and loop.proposed >= run.budget.iterations then
      run.stopped_by = "iterations"
      return false
    end
    local more, why = I.budget_left(run)
    if not more and why ~= "iterations" then run.stopped_by = why return false end
    return true
  end

  local function fill()
    launch()
    while may_propose() do
      local k
      if order == "iteration" then
        k = N - count(uncommitted)
      else
        k = 0
        for i = 1, N do if not slots[i] then k = k + 1 end end
        k = k - #queue
      end
      if run.budget.iterations then k = math.min(k, run.budget.iterations - loop.proposed) end
      if k <= 0 then return end
      progress.phase(run, k > 1 and ("proposing %d"):format(k) or "proposing")
      for _, cand in ipairs(propose_batch(k)) do start(cand) end
      launch()
      -- what is already known (a cache hit, a compile failure) is concluded first,
      -- so that the next proposals see it
      if order == "arrival" and #held > 0 then return end
    end
  end

  local function pending_state(except)
    local list = json.array()
    local ns = {}
    for n in pairs(uncommitted) do if n ~= except then ns[#ns + 1] = n end end
    table.sort(ns)
    for _, n in ipairs(ns) do
      local c = uncommitted[n]
      list[#list + 1] = { n = n, code = c.code or json.null, record = c.record, proposal = c.proposal,
        failure = c.failure or json.null, train = c.train or json.null,
        -- what the proposal saw: a hook judging it after --resume (on_progress) sees the same
        best = c.ctx.best or json.null, last = c.ctx.last or json.null }
    end
    return list
  end

  local function conclude(cand)
    local rec = cand.record
    rec.times = rec.times or {}
    rec.times.queue = (cand.waited or 0) + (core.now() - cand.arrived)
    rec.workers = N
    uncommitted[cand.n] = nil
    loop.pending = pending_state()
    loop.busy = (loop.busy or 0) + (rec.times.train or 0)
    cand.ctx.best, cand.ctx.last = loop.best, loop.last
    local record = I.conclude(run, cand.ctx, rec, cand.code, cand.result, cand.t_start)
    if order == "iteration" then fill() end
    return record
  end

  -- Conclude what is held: all of it in arrival order, or in proposal order only
  -- what is next. Returns true when something was concluded.
  local function conclude_held()
    local any = false
    if order == "arrival" then
      while #held > 0 do
        conclude(table.remove(held, 1))
        any = true
      end
      return any
    end
    while true do
      local next_n = math.huge
      for n in pairs(uncommitted) do if n < next_n then next_n = n end end
      local at
      for i, c in ipairs(held) do if c.n == next_n then at = i break end end
      if not at then return any end
      conclude(table.remove(held, at))
      any = true
    end
  end

  -- One finished job: its candidate and the candidates that proposed the same graph.
  local function arrived(job, r, msg, kind, step, cost)
    local cand = by_job[job]
    by_job[job] = nil
    slots[cand.slot] = nil
    leaders[cand.key] = nil
    local times = r or cost or {}
    cand.record.times = cand.record.times or {}
    cand.record.times.train = times.wall_seconds
    cand.waited = times.waited_seconds
    busy = busy + (times.wall_seconds or 0)
    local res = I.trained(run, cand.key, cand.partial, r, msg, kind, step, cost)
    done(cand, res)
    for _, f in ipairs(cand.followers or {}) do
      local fr = I.copy(res)
      fr.cache_hit = true
      fr.compile_seconds = f.partial.compile_seconds
      done(f.cand, fr)
    end
  end

  local function kill_all()
    local jobs = {}
    for _, cand in pairs(slots) do cand.job:kill(); jobs[#jobs + 1] = cand.job end
    -- reap them: no worker outlives the loop
    while #jobs > 0 do
      local ok, j = pcall(env.train.wait_any, jobs)
      if not ok or not j then break end
      for i, x in ipairs(jobs) do if x == j then table.remove(jobs, i) break end end
    end
  end

  local function body()
    -- Candidates in flight when the run stopped: the same numbers and code, again.
    for _, p in ipairs(loop.pending or {}) do
      local cand = make(p.n, p.record, p.code ~= json.null and p.code or nil, p.proposal)
      if p.failure and p.failure ~= json.null then cand.failure = p.failure end
      if p.train and p.train ~= json.null then cand.train = p.train end
      if p.best ~= nil then cand.ctx.best = p.best ~= json.null and p.best or nil end
      if p.last ~= nil then cand.ctx.last = p.last ~= json.null and p.last or nil end
      start(cand)
    end
    fill()
    while true do
      if conclude_held() then
        if order == "arrival" then fill() end
      else
        local jobs = {}
        for _, cand in pairs(slots) do jobs[#jobs + 1] = cand.job end
        if #jobs == 0 then
          if #queue > 0 then launch()
          elseif #held == 0 then break
          else error("async loop: candidates held with none in flight (a bug)", 0) end
        else
          progress.phase(run, ("training %d"):format(#jobs))
          arrived(env.train.wait_any(jobs))
          -- and every other result already in: the workers they free are then
          -- filled by one batch of proposals, not one LLM round trip each
          while true do
            local rest = {}
            for _, cand in pairs(slots) do rest[#rest + 1] = cand.job end
            if #rest == 0 then break end
            local job, r, msg, kind, step, cost = env.train.wait_any(rest, 0)
            if not job then break end
            arrived(job, r, msg, kind, step, cost)
          end
        end
      end
    end
  end

  local ok, err = xpcall(body, function(e) return e end)
  if not ok then
    kill_all()
    error(err, 0)
  end
  loop.pending = nil
  run.busy = busy
end

return M
