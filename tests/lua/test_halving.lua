-- test_halving.lua: successive halving (llmnas.halving) — who is promoted, rung
-- by rung — and its use in the loop: per-candidate fidelities are recorded and a
-- lower fidelity never becomes the best.
local T = require "testing"
local F = require "fakes"
local halving = require "llmnas.halving"
local search = require "llmnas.search"

local tests = {}

local RUNGS = { { subset = 1000 }, { subset = 3000 }, {} }

-- Drives a scheduler with a score function of (candidate, rung); returns the
-- evaluation log {id, rung} in order.
local function drive(st, score, count)
  local log, next_name = {}, 0
  for _ = 1, count do
    local item = halving.next(st, function() next_name = next_name + 1 return { name = next_name } end)
    log[#log + 1] = { id = item.id, rung = item.rung, train = item.train }
    halving.report(st, item, score(item.candidate, item.rung))
  end
  return log
end

function tests.the_best_half_is_promoted_at_each_rung()
  local st = halving.new { n = 8, eta = 2, rungs = RUNGS }
  -- candidate k scores k / 10 (at rung 1 the order is noisy: 3 looks best)
  local log = drive(st, function(c, rung)
    if rung == 1 and c.name == 3 then return 0.99 end
    return c.name / 10
  end, 8 + 4 + 2)
  local at = function(r)
    local ids = {}
    for _, e in ipairs(log) do if e.rung == r then ids[#ids + 1] = e.id end end
    return ids
  end
  T.eq(at(1), { 1, 2, 3, 4, 5, 6, 7, 8 })
  T.eq(at(2), { 3, 8, 7, 6 }, "the best 8/2 of rung 1, best first")
  T.eq(at(3), { 8, 7 }, "the best 4/2 of rung 2: 3 was lucky at rung 1 and drops out")
  T.eq(log[1].train, { subset = 1000 })
  T.eq(log[#log].train, {}, "the last rung is the run's own recipe")
  T.eq(st.history[3].promoted, { 8 }, "the bracket's winner")
  T.eq(st.bracket, 2, "a new bracket starts")
  local item = halving.next(st, function() return { name = 99 } end)
  T.eq({ item.rung, item.id }, { 1, 9 })
end

function tests.failures_are_never_promoted_and_eta_3_keeps_a_third()
  local st = halving.new { n = 6, eta = 3, rungs = { { subset = 500 }, {} } }
  local log = drive(st, function(c) if c.name <= 4 then return nil end return c.name end, 6 + 2)
  T.eq({ log[7].id, log[8].id }, { 6, 5 })
  T.eq(halving.promoted_count(1, 2), 1, "one survivor at least")
  T.raises(function() halving.new { n = 4 } end, "rungs must be a list")
  T.raises(function() halving.new { n = 4, eta = 1, rungs = RUNGS } end, "eta a number > 1")
end

function tests.a_failure_never_goes_up_and_a_rung_of_failures_ends_the_bracket()
  -- 3 of 4 fail at rung 1: only the scored one goes up (not the best 4/2 = 2 "of them")
  local st = halving.new { n = 4, eta = 2, rungs = { { subset = 500 }, {} } }
  local log = drive(st, function(c, rung) if rung == 1 and c.name ~= 2 then return nil end return 0.5 end, 4 + 1)
  T.eq({ log[5].id, log[5].rung }, { 2, 2 })
  T.eq(st.history[1].promoted, { 2 })
  T.eq(st.bracket, 2, "the one promoted candidate completes the bracket")
  -- all fail: nothing to promote, the next bracket starts at rung 1
  st = halving.new { n = 3, eta = 2, rungs = { { subset = 500 }, {} } }
  log = drive(st, function() return 0 / 0 end, 3 + 1)
  T.eq({ log[4].id, log[4].rung, st.bracket }, { 4, 1, 2 }, "a NaN is a failure too")
  T.eq(st.history[1].promoted, {})
end

function tests.the_state_is_plain_data_a_resumed_run_continues_the_same_bracket()
  -- ctx.state is saved as JSON with every record: a scheduler with failures in its
  -- scores must encode, and the decoded one must go on as the live one does
  local score = function(c, rung) if c.name % 3 == 0 then return nil end return (c.name * 7 % 10) / 10 + rung end
  local live = halving.new { n = 6, eta = 3, rungs = { { subset = 500 }, { subset = 1000 }, {} } }
  local saved = halving.new { n = 6, eta = 3, rungs = { { subset = 500 }, { subset = 1000 }, {} } }
  local names = 0
  local sample = function() names = names + 1 return { name = names } end
  local want, got = {}, {}
  for i = 1, 20 do
    local item = halving.next(live, sample)
    want[i] = { item.id, item.rung, item.bracket }
    halving.report(live, item, score(item.candidate, item.rung))
  end
  names = 0
  for i = 1, 20 do
    saved = json.decode(json.encode(saved))   -- a resume between any two candidates
    local item = halving.next(saved, sample)
    got[i] = { item.id, item.rung, item.bracket }
    halving.report(saved, item, score(item.candidate, item.rung))
  end
  T.eq(got, want)
  -- rung 1 scores 1: 0.7, 2: 0.4, 3: failed, 4: 0.8, 5: 0.5, 6: failed; 6/3 = 2 go up, best first
  T.eq({ want[7], want[8], want[9] }, { { 4, 2, 1 }, { 1, 2, 1 }, { 4, 3, 1 } })
  T.eq(want[10], { 7, 1, 2 }, "then a new bracket")
end

function tests.in_the_loop_fidelities_are_recorded_and_only_the_full_one_competes()
  local sched = halving.new { n = 4, eta = 2, rungs = { { subset = 100 }, {} } }
  local trained = {}
  local tr = F.train()
  local base = tr.evaluate
  tr.evaluate = function(g, o) trained[#trained + 1] = o.subset or "full" return base(g, o) end
  local accs = { 0.5, 0.9, 0.7, 0.6 }
  local s = {
    name = "sh", quiet = true, budget = { iterations = 6 }, task = { subset = 5000 },
    env = { arch = F.arch(), train = tr, db = F.db() },
    propose = function(ctx)
      local item = halving.next(sched, function() return { acc = accs[#trained + 1] } end)
      ctx.state.item = item
      return { code = ("net n%d %.2f"):format(item.id, item.candidate.acc), train = item.train }
    end,
    reflect = function(ctx, result) halving.report(sched, ctx.state.item, result.val_acc) end,
  }
  local run = search.search(s)
  local recs = s.env.db.runs[run.id].records
  T.eq(trained, { 100, 100, 100, 100, 5000, 5000 })
  T.eq(recs[1].fidelity, "subset=100")
  T.eq(recs[5].fidelity, nil, "the run's own recipe has no fidelity mark")
  T.eq({ recs[1].accepted, recs[2].accepted, recs[5].accepted }, { false, false, true },
    "a lower fidelity's accuracy is not the best, the full one's is")
  T.eq(run.loop.best.iteration, 5, "the best of the promoted (0.9) at the full fidelity")
  T.ok(recs[2].hash and recs[5].hash == recs[2].hash, "the same network at two fidelities")
  T.eq(recs[5].cache_hit, false, "another fidelity is another cache entry")
end

return tests
