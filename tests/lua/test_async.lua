-- test_async.lua: the asynchronous loop's logic (llmnas.async, workers > 1) on fake
-- primitives whose training finishes in a scripted order: commit order in "arrival"
-- and "iteration" mode, numbers assigned at proposal, what each proposal saw, the
-- batching of proposals into one chat_many, a graph in flight twice trained once, and
-- resume after the loop died with candidates in flight (nothing committed twice,
-- nothing lost, in-flight candidates re-run without a new proposal).
-- The same loop on real workers is tested in tests/sh/test_parallel.sh.
local T = require "testing"
local F = require "fakes"
local search = require "llmnas.search"

-- A fake async trainer: "net NAME ACC DURATION" finishes DURATION fake seconds
-- after it was submitted; wait_any returns the earliest (ties: submitted first).
local function async_train(opts)
  opts = opts or {}
  local Tr = { trained = 0, submitted = 0, max_in_flight = 0, clock = 0 }
  local live = {}
  local sequence = 0
  function Tr.submit(g, recipe)
    sequence = sequence + 1
    Tr.submitted = Tr.submitted + 1
    Tr.threads = recipe.threads
    local job = { g = g, ends = Tr.clock + (g.duration or 1), seq = sequence, recipe = recipe }
    function job.kill() job.killed = true end
    live[#live + 1] = job
    local n = 0
    for _, j in ipairs(live) do if not j.taken then n = n + 1 end end
    Tr.max_in_flight = math.max(Tr.max_in_flight, n)
    return job
  end
  function Tr.wait_any(jobs, timeout)
    if opts.die_after and Tr.trained >= opts.die_after then error("parent killed", 0) end
    local best
    for _, j in ipairs(jobs) do
      if not j.taken and (not best or j.ends < best.ends or (j.ends == best.ends and j.seq < best.seq)) then
        best = j
      end
    end
    assert(best, "wait_any with nothing in flight")
    if timeout == 0 and best.ends > Tr.clock then return nil end   -- nothing finished yet
    best.taken = true
    Tr.clock = math.max(Tr.clock, best.ends)
    Tr.trained = Tr.trained + 1
    -- a recipe with checkpoints reports one halfway; a truthy answer stops the job
    if best.recipe.progress and best.recipe.checkpoints then
      local stop = best.recipe.progress({ epoch = 1, epochs = 1, step = 5, steps = 10, checkpoint = 1,
        window_loss = 1 - best.g.acc, probe_acc = best.g.acc, seconds = 0.5, loss = 1 })
      if stop then return best, nil, "stopped at step 5 of 10", "pruned", nil, { steps = 5, seconds = 0.5 } end
    end
    if best.killed then return best, nil, "the worker was killed", "killed", nil, {} end
    return best, { val_acc = best.g.acc, val_loss = 1 - best.g.acc, seconds = 0.01, wall_seconds = best.g.duration,
      waited_seconds = 0 }
  end
  function Tr.cores() return 4 end
  return Tr
end

-- fake networks with a training duration: "net a 0.5 3"
local function arch_with_durations()
  local A = F.arch()
  local compile = A.compile
  function A.compile(code)
    local g, msg, kind = compile(code)
    if g then g.duration = tonumber(code:match("^net %S+ [%d%.]+ ([%d%.]+)")) or 1 end
    return g, msg, kind
  end
  return A
end

local function strategy(codes, extra)
  local s = {
    name = "test", quiet = true, budget = { iterations = #codes }, workers = 2,
    env = { arch = arch_with_durations(), train = async_train(), db = F.db() },
    propose = function(ctx) return codes[ctx.iteration] end,
  }
  for k, v in pairs(extra or {}) do s[k] = v end
  return s
end

local function records(s, run) return s.env.db.runs[run.id].records end

local function proposals(recs)
  local t = {}
  for i, r in ipairs(recs) do t[i] = r.proposal end
  return t
end

local tests = {}

function tests.arrival_order_commits_what_finishes_first()
  -- 1 trains 5 s, 2 trains 1 s: 2 is committed first; then 3 (proposed when 2's
  -- worker freed) finishes before 1 too
  local s = strategy({ "net a 0.5 5", "net b 0.6 1", "net c 0.7 1", "net d 0.4 1" }, { order = "arrival" })
  local run = search.search(s)
  local recs = records(s, run)
  T.eq(#recs, 4)
  T.eq(proposals(recs), { 2, 3, 4, 1 }, "records are committed as results arrive")
  for i, r in ipairs(recs) do T.eq(r.iter, i, "the store numbers records in commit order") end
  T.eq(s.env.train.max_in_flight, 2, "two candidates were in flight at once")
  T.eq(run.loop.best.val_acc, 0.7)
  T.eq(recs[1].worker, 2)
  T.ok(recs[4].worker == 1, "proposal 1 trained on worker 1")
  T.eq(s.env.train.threads, 2, "4 cores / 2 workers = 2 threads each")
end

function tests.iteration_order_commits_in_proposal_order()
  local s = strategy({ "net a 0.5 5", "net b 0.6 1", "net c 0.7 1", "net d 0.4 1" }, { order = "iteration" })
  local run = search.search(s)
  local recs = records(s, run)
  T.eq(proposals(recs), { 1, 2, 3, 4 })
  T.eq(run.loop.best.iteration, 3)
end

function tests.each_proposal_sees_the_context_it_was_made_from()
  local seen = {}
  local codes = { "net a 0.5 1", "net b 0.6 1", "net c 0.7 1", "net d 0.8 1", "net e 0.1 1" }
  local s = strategy(codes, { order = "iteration", propose = function(ctx)
    seen[ctx.iteration] = { last = ctx.last and ctx.last.iteration or 0, best = ctx.best and ctx.best.iteration or 0 }
    return codes[ctx.iteration]
  end })
  search.search(s)
  -- with 2 workers, proposal n + 2 is made right after the commit of proposal n
  T.eq(seen[1], { last = 0, best = 0 })
  T.eq(seen[2], { last = 0, best = 0 })
  T.eq(seen[3], { last = 1, best = 1 })
  T.eq(seen[4], { last = 2, best = 2 })
  T.eq(seen[5], { last = 3, best = 3 })
end

function tests.free_workers_are_filled_with_one_chat_many()
  local batches = {}
  local llm = {
    chat = function() error("the batched proposal should not call llm.chat") end,
    chat_many = function(reqs)
      batches[#batches + 1] = #reqs
      local out = {}
      for i, req in ipairs(reqs) do out[i] = { req.messages, { prompt_tokens = 10, completion_tokens = 5 } } end
      return out
    end,
  }
  local n = 0
  local s = strategy({}, { workers = 3, budget = { iterations = 6 }, propose = function(ctx)
    local reply = assert(ctx:chat { messages = "give me a network" })
    T.eq(reply, "give me a network")
    n = n + 1
    return ("net n%d 0.%d 1"):format(n, n)
  end })
  s.env.llm = llm
  local run = search.search(s)
  local recs = records(s, run)
  T.eq(#recs, 6)
  T.eq(batches[1], 3, "the three first proposals went out together")
  local total = 0
  for _, b in ipairs(batches) do total = total + b end
  T.eq(total, 6)
  T.eq(recs[1].llm.generator.calls, 1, "each record books its own call")
  T.eq(#recs[1].prompts, 1)
  T.eq(run.loop.tokens, 6 * 15)
end

function tests.on_progress_judges_each_job_in_its_own_ctx_and_prunes_it_alone()
  local seen = {}
  local s = strategy({ "net a 0.5 2", "net b 0.2 1", "net c 0.7 1" }, { order = "iteration",
    on_progress = function(ctx, p)
      seen[#seen + 1] = { n = ctx.iteration, code = ctx.record.code, acc = p.acc }
      if p.acc < 0.3 then return true, "too low at the checkpoint" end
    end })
  local run = search.search(s)
  local recs = records(s, run)
  T.eq(#recs, 3)
  T.eq(#seen, 3, "on_progress was asked once per job")
  for _, v in ipairs(seen) do
    T.eq(v.code, ({ "net a 0.5 2", "net b 0.2 1", "net c 0.7 1" })[v.n], "the ctx is that job's own")
  end
  T.eq(recs[2].status, "pruned")
  T.eq(recs[2].error_kind, "pruned")
  T.eq(recs[2].pruned.reason, "too low at the checkpoint")
  T.eq(#recs[2].curve, 1, "the curve is recorded on the pruned candidate")
  T.eq(recs[1].status, "ok")
  T.eq(recs[3].status, "ok")
  T.eq(run.loop.best.iteration, 3, "a pruned candidate does not compete for the best")
end

function tests.a_graph_in_flight_twice_is_trained_once()
  local s = strategy({ "net a 0.5 3", "net a 0.5 3", "net b 0.6 1" }, { order = "iteration" })
  local run = search.search(s)
  local recs = records(s, run)
  T.eq(s.env.train.submitted, 2, "the second 'a' waited for the first")
  T.eq(recs[2].cache_hit, true)
  T.eq(recs[2].metrics.val_acc, 0.5)
  T.eq(recs[1].cache_hit, false)
end

function tests.resume_reruns_the_candidates_in_flight_and_commits_each_once()
  local codes = { "net a 0.5 2", "net b 0.6 1", "net c 0.7 3", "net d 0.8 1", "net e 0.2 1", "net f 0.3 1" }
  local proposed = {}
  local function propose(ctx)
    proposed[#proposed + 1] = ctx.iteration
    ctx.state.count = (ctx.state.count or 0) + 1
    return codes[ctx.iteration]
  end
  local db = F.db()
  local s = strategy(codes, { order = "arrival", propose = propose })
  s.env.db = db
  s.env.train = async_train({ die_after = 3 })
  T.raises(function() search.search(s) end, "parent killed")
  local first = db.runs[1].records
  T.ok(#first >= 1 and #first < 6, "the loop died part-way: " .. #first .. " records")
  local state = db.runs[1].state
  T.ok(#state.pending >= 1, "the saved state lists the candidates in flight")
  local pending = {}
  for _, p in ipairs(state.pending) do pending[#pending + 1] = p.n end
  -- resume: a fresh loop on the same memory
  package.loaded["llmnas.options"] = { set = {}, resume = true }
  local s2 = strategy(codes, { order = "arrival", propose = propose })
  s2.env.db = db
  proposed = {}
  local ok, err = pcall(search.search, s2)
  package.loaded["llmnas.options"] = nil
  T.ok(ok, tostring(err))
  local recs = db.runs[1].records
  T.eq(#recs, 6, "every proposal committed exactly once")
  local seen = {}
  for i, r in ipairs(recs) do
    T.eq(r.iter, i)
    T.ok(not seen[r.proposal], "proposal " .. r.proposal .. " committed twice")
    seen[r.proposal] = true
    T.eq(r.code, codes[r.proposal], "proposal " .. r.proposal .. " kept its code")
  end
  for _, n in ipairs(pending) do
    for _, p in ipairs(proposed) do T.ok(p ~= n, "pending proposal " .. n .. " was re-run, not re-proposed") end
  end
  T.eq(db.runs[1].state.strategy.count, 6, "the strategy state counts each proposal once")
end

function tests.bad_workers_is_a_clear_error()
  local s = strategy({ "net a 0.5" }, { workers = 0 })
  T.raises(function() search.search(s) end, "workers: expected an integer from 1 to 64")
  s = strategy({ "net a 0.5" }, { order = "random" })
  T.raises(function() search.search(s) end, "order: expected")
end

return tests
