-- test_abort.lua: early abort (llmnas.abort) — the rule on crafted and recorded
-- curves, and the loop's handling of a stopped candidate (llmnas.search): its
-- record, the feedback text, and that it is not cached as if fully trained.
local T = require "testing"
local F = require "fakes"
local abort = require "llmnas.abort"
local history = require "llmnas.history"
local search = require "llmnas.search"

local STEPS = 100
local HERE = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"

-- A curve from probe accuracies at checkpoints 10, 20, ..., 100 (loss falls as acc rises).
local function curve(accs)
  local c = {}
  for i, a in ipairs(accs) do
    c[i] = { step = i * STEPS // #accs, steps = STEPS, acc = a, loss = 2.3 * (1 - a) + 0.1, seconds = i }
  end
  return c
end

local INCUMBENT = curve { 0.30, 0.50, 0.60, 0.65, 0.70, 0.73, 0.76, 0.78, 0.80, 0.82 }
local HOPELESS = curve { 0.10, 0.12, 0.15, 0.17, 0.20, 0.22, 0.25, 0.27, 0.30, 0.32 }
-- starts slower than the incumbent, ends above it
local LATE_BLOOMER = curve { 0.15, 0.30, 0.45, 0.55, 0.63, 0.70, 0.76, 0.80, 0.83, 0.84 }

local function first_stop(ref, c, opts)
  for _, p in ipairs(c) do
    local stop, info = abort.decide(ref, p, opts)
    if stop then return p, info end
  end
end

local tests = {}

function tests.the_hopeless_candidate_is_stopped_at_the_first_allowed_checkpoint()
  local p, info = first_stop(INCUMBENT, HOPELESS)
  T.ok(p, "a candidate 38 points behind is stopped")
  T.eq(p.step, 20, "at min_fraction (20%), not before")
  T.eq(info.metric, "acc")
  local text = abort.reason(info, 1)
  local want = "stopped at 20% of the epoch: held-out accuracy 12.0% vs 50.0% for the best at the same step"
  T.ok(text:find(want, 1, true), text)
end

function tests.the_late_bloomer_is_kept_to_the_end()
  T.eq(first_stop(INCUMBENT, LATE_BLOOMER), nil, "a slower start that ends higher is not stopped")
  -- the margin is what keeps it: with gain 1 the same curve is stopped
  local p = first_stop(INCUMBENT, LATE_BLOOMER, { gain = 1, slack = 0 })
  T.ok(p, "gain 1 and no slack stop the late bloomer (the setting is used)")
end

function tests.nothing_stops_without_a_reference_or_before_min_fraction()
  T.eq(first_stop(nil, HOPELESS), nil, "no incumbent curve: no abort")
  T.eq(first_stop({}, HOPELESS), nil)
  T.eq(abort.decide(INCUMBENT, HOPELESS[1]), false, "10% < min_fraction")
  T.eq(first_stop(INCUMBENT, HOPELESS, { min_fraction = 0.5 }).step, 50)
  -- another recipe (other steps) is not compared
  local other = curve { 0.1, 0.1 }
  for _, p in ipairs(other) do p.steps, p.step = 40, p.step * 40 // STEPS end
  T.eq(first_stop(INCUMBENT, other), nil, "curves of another recipe do not compare")
  T.raises(function() abort.hook { gian = 2 } end, "unknown setting 'gian'")
end

function tests.without_probe_accuracy_the_training_loss_decides()
  local strip = function(c)
    local o = {}
    for i, p in ipairs(c) do o[i] = { step = p.step, steps = p.steps, loss = p.loss } end
    return o
  end
  local p, info = first_stop(strip(INCUMBENT), strip(HOPELESS))
  T.ok(p, "the hopeless curve is stopped on its loss")
  T.eq(info.metric, "loss")
  T.ok(abort.reason(info):find("training loss 2.12 vs 1.25 for the best at the same step", 1, true), abort.reason(info))
  T.eq(first_stop(strip(INCUMBENT), strip(LATE_BLOOMER)), nil, "the late bloomer survives on loss too")
end

-- A first-epoch curve as the one-epoch default records it: no probe, the window's
-- accuracy (wacc) and loss. LOUD learns as well as the incumbent but its loss
-- explodes on a few confident mistakes (recorded evolve runs have such networks: a
-- window loss of 2-5 while ending among the best by accuracy).
local function window_curve(accs, losses)
  local c = {}
  for i, a in ipairs(accs) do
    c[i] = { step = i * STEPS // #accs, steps = STEPS, wacc = a, loss = losses and losses[i] or 2.3 * (1 - a) + 0.1 }
  end
  return c
end
local W_INCUMBENT = window_curve { 0.30, 0.50, 0.60, 0.65, 0.70, 0.73, 0.76, 0.78, 0.80, 0.82 }
local W_HOPELESS = window_curve { 0.10, 0.12, 0.15, 0.17, 0.20, 0.22, 0.25, 0.27, 0.30, 0.32 }
local W_LOUD = window_curve({ 0.25, 0.45, 0.58, 0.64, 0.70, 0.74, 0.76, 0.79, 0.81, 0.83 },
  { 2.1, 4.4, 5.1, 4.2, 3.2, 4.3, 4.3, 3.6, 2.6, 3.3 })

function tests.without_probes_the_window_accuracy_and_the_loss_decide()
  local p, info = first_stop(W_INCUMBENT, W_HOPELESS)
  T.ok(p, "the hopeless curve is stopped")
  T.eq(p.step, 20)
  T.eq({ info.metric, info.source }, { "acc", "wacc" }, "judged by the window's accuracy")
  T.ok(abort.reason(info):find("stopped at 20% of the epoch: accuracy on the latest batches (unseen until then) "
    .. "12.0% vs 50.0% for the best at the same step (training loss 2.12 vs 1.25)", 1, true), abort.reason(info))
  T.eq(first_stop(W_INCUMBENT, W_LOUD), nil, "a loud loss with the best's accuracy runs to the end")
  T.ok(first_stop(W_INCUMBENT, W_LOUD, { metric = "loss" }), "the loss alone would have stopped it")
  T.eq(first_stop(W_INCUMBENT, window_curve { 0.15, 0.30, 0.45, 0.55, 0.63, 0.70, 0.76, 0.80, 0.83, 0.84 }), nil,
    "the late bloomer survives on the window's accuracy too")
  -- beside the window's accuracy the loss is not judged: a loud incumbent's loss would
  -- keep every candidate, the hopeless one too
  T.ok(first_stop(W_LOUD, W_HOPELESS), "the hopeless curve is stopped against a loud incumbent")
  T.eq(first_stop(W_LOUD, W_HOPELESS, { metric = "loss" }), nil, "which its loss alone would keep")
  -- a probe, where both curves have one, is the accuracy judged
  local probed = curve { 0.10, 0.12, 0.15, 0.17, 0.20, 0.22, 0.25, 0.27, 0.30, 0.32 }
  for _, q in ipairs(probed) do q.wacc = 0.9 end
  local _, pinfo = first_stop(INCUMBENT, probed)
  T.eq(pinfo and pinfo.source, "acc", "the probe's accuracy over the window's")
end

function tests.replay_counts_false_aborts_against_the_incumbent_of_the_time()
  local entries = {
    { curve = INCUMBENT, val_acc = 0.82 },
    { curve = HOPELESS, val_acc = 0.32 },
    { curve = LATE_BLOOMER, val_acc = 0.84 },
    { curve = HOPELESS, val_acc = 0.32 },
  }
  local s = abort.replay(entries)
  T.eq(s.candidates, 4)
  T.eq(s.stopped, 2, "both hopeless ones")
  T.eq(s.winners, 1, "the late bloomer would become the best")
  T.eq(s.false_aborts, 0)
  -- the first hopeless one stops at 20% against the incumbent, the second at 40%
  -- against the late bloomer, which learns more after 20% (so leaves more room)
  T.near(s.saved, (80 + 60) / 400, 1e-9, "the steps saved")
  local strict = abort.replay(entries, { gain = 1, slack = 0 })
  T.eq(strict.false_aborts, 1, "a rule that stops the late bloomer is counted as a false abort")
  T.eq(strict.false_abort_rate, 1)
end

-- Recorded curves (tests/lua/data/curves_evolve.json, made by tests/bench/export_curves.lua):
-- a real evolve.lua run, seed 7, Fashion-MNIST subset 2000 (15 steps), 1000 validation images,
-- probe 256, early abort off, so every candidate trained to the end. The default rule on
-- them, replayed in the run's order: 24 candidates, 3 would have become the best, 0 of them
-- stopped (false-abort rate 0 of 3); 10 stopped, all of them ending at <= 20% accuracy (at
-- 20-93% of the epoch), 19% of the training steps saved.
function tests.the_default_rule_on_recorded_curves()
  local f = assert(io.open(HERE .. "data/curves_evolve.json"))
  local entries = json.decode(f:read("a"))
  f:close()
  T.eq(#entries, 24, "the recorded curves")
  local s = abort.replay(entries)
  -- the figures stated above and in stdlib/doc/budget.md
  T.eq(s.winners, 3)
  T.eq(s.false_aborts, 0, "no candidate that would have become the best is stopped")
  T.eq(s.stopped, 10, "the hopeless ones are stopped")
  for _, i in ipairs(s.stopped_at) do
    T.ok(entries[i].val_acc <= 0.2, ("stopped candidate %d would have ended at %.3f"):format(i, entries[i].val_acc))
  end
  T.ok(s.saved >= 0.19 and s.saved < 0.20, ("19%% of the training steps saved, got %.3f"):format(s.saved))
  T.eq(s.entrants, s.winners, "top 1: an entrant is a winner")
  -- top_k = 3 (stdlib/doc/budget.md): 7 candidates would have entered the top 3, none
  -- stopped; 1 stopped in all (ending at 16.4%), 2.5% of the steps saved: the top 3 of a
  -- run whose early draws mostly fail to learn in 15 steps is a low bar.
  local t3 = abort.replay(entries, { top_k = 3 })
  T.eq({ t3.entrants, t3.entrant_aborts, t3.winners, t3.false_aborts, t3.stopped }, { 7, 0, 3, 0, 1 })
  T.eq(t3.stopped_at, { 20 })
  T.ok(t3.saved > 0.02 and t3.saved < 0.03, ("2.5%% of the steps saved, got %.3f"):format(t3.saved))
end

-- What the default rule sees in a one-epoch recipe, where it probes nothing (search.lua):
-- the same curves without their probe accuracy, judged on the window loss alone. 0 of the
-- 3 would-be best stopped; 12 stopped, 32% of the steps saved; all but one of the stopped
-- end at <= 24%; the one that does not (candidate 21, 75.6% against the best's 76.7%) is
-- stopped at 33% on a window of one batch (the noise of 15 steps in 10 checkpoints).
function tests.the_default_rule_on_recorded_curves_without_probes()
  local f = assert(io.open(HERE .. "data/curves_evolve.json"))
  local entries = json.decode(f:read("a"))
  f:close()
  for _, e in ipairs(entries) do
    for _, p in ipairs(e.curve) do p.acc = nil end
  end
  local s = abort.replay(entries)
  T.eq(s.winners, 3)
  T.eq(s.false_aborts, 0, "no candidate that would have become the best is stopped")
  T.eq(s.stopped, 12)
  T.eq(s.stopped_at, { 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 20, 21 })
  for _, i in ipairs(s.stopped_at) do
    if i ~= 21 then
      T.ok(entries[i].val_acc <= 0.24, ("stopped candidate %d would have ended at %.3f"):format(i, entries[i].val_acc))
    end
  end
  T.ok(s.saved > 0.31 and s.saved < 0.33, ("32%% of the training steps saved, got %.3f"):format(s.saved))
  local t3 = abort.replay(entries, { top_k = 3 })
  T.eq({ t3.entrants, t3.entrant_aborts, t3.winners, t3.false_aborts, t3.stopped_at }, { 7, 0, 3, 0, { 11, 20 } })
end

-- Recorded curves of the one-epoch default (tests/lua/data/curves_evolve_window.json, made
-- by tests/bench/export_curves.lua): the three runs without abort of bench_budget.sh's
-- reduced setting (evolve.lua, seeds 1-3, subset 2000 = 15 steps, 1000 validation images,
-- auto precision = bf16, no probe), so every curve has the window's accuracy and loss and
-- runs to the end. The default rule replayed on each (figures in stdlib/doc/budget.md).
-- per seed: {candidates, stopped, would-be best}, the best a stopped one would have
-- reached, the share of the training steps saved. 24 of 48 stopped, 0 of 9 would-be best.
local WINDOW_FIGURES = {
  { counts = { 16, 5, 6 }, stopped_below = 0.59, saved = 0.233 },
  { counts = { 16, 13, 0 }, stopped_below = 0.737, saved = 0.492 },  -- its first candidate was its best
  { counts = { 16, 6, 3 }, stopped_below = 0.743, saved = 0.283 },   -- 0.743: 0.3 point below the best then
}

function tests.the_default_rule_on_recorded_window_curves()
  local f = assert(io.open(HERE .. "data/curves_evolve_window.json"))
  local runs = json.decode(f:read("a"))
  f:close()
  T.eq(#runs, 3, "three seeds")
  local want = WINDOW_FIGURES
  for i, run in ipairs(runs) do
    T.ok(run.entries[1].curve[1].wacc and not run.entries[1].curve[1].acc, "window curves, no probe")
    local s = abort.replay(run.entries)
    T.eq(s.false_aborts, 0, ("seed %d: no candidate that would have become the best is stopped"):format(run.seed))
    T.eq({ s.candidates, s.stopped, s.winners }, want[i].counts, ("seed %d's counts"):format(run.seed))
    for _, k in ipairs(s.stopped_at) do
      T.ok(run.entries[k].val_acc <= want[i].stopped_below, ("seed %d: stopped candidate %d would have ended at %.3f")
        :format(run.seed, k, run.entries[k].val_acc))
    end
    T.ok(math.abs(s.saved - want[i].saved) < 0.005, ("seed %d: %.3f of the steps saved"):format(run.seed, s.saved))
  end
  -- the floor that stopped would-be best at 20% of the epoch (0.1) is counted as such
  local low = abort.replay(runs[1].entries, { floor = 0.1 })
  T.eq({ low.false_aborts, low.winners }, { 6, 8 }, "floor 0.1 stops 6 of seed 1's 8 would-be best")
end

-- ---- top-k: compared with the k best finished curves ----

-- ends at 60%: the second best beside INCUMBENT
local SECOND = curve { 0.20, 0.35, 0.42, 0.47, 0.51, 0.54, 0.56, 0.58, 0.59, 0.60 }
-- ends at 66%: would enter the top 2, out of reach of the incumbent alone
local CONTENDER = curve { 0.15, 0.25, 0.33, 0.40, 0.46, 0.52, 0.57, 0.61, 0.64, 0.66 }

local function first_stop_top(refs, c, opts)
  for _, p in ipairs(c) do
    local stop, info = abort.decide_top(refs, p, opts)
    if stop then return p, info end
  end
end

function tests.top_k_keeps_what_would_enter_the_top_k()
  T.ok(first_stop(INCUMBENT, CONTENDER), "against the incumbent alone the contender is stopped")
  T.eq(first_stop_top({ INCUMBENT, SECOND }, CONTENDER, { top_k = 2 }), nil,
    "against the top 2 it is kept: it can catch up with the second best")
  T.ok(first_stop_top({ INCUMBENT }, CONTENDER, { top_k = 1 }), "top_k 1 is the incumbent's rule")
  local p, info = first_stop_top({ INCUMBENT, SECOND }, HOPELESS, { top_k = 2 })
  T.ok(p, "the hopeless candidate is stopped against the top 2 too")
  T.eq(info.rank, 2, "the comparison reported is with the k-th best, the weakest bar")
  local text = abort.reason(info, 1)
  T.eq(p.step, 30, "the second best learnt more after 20% than the incumbent: more room, a later stop")
  T.ok(text:find("held-out accuracy 15.0% vs 42.0% for the 2nd best at the same step", 1, true), text)
  T.ok(text:find("the 2nd best ended at 60.0%, out of reach", 1, true), text)
  T.eq(first_stop_top({ INCUMBENT }, HOPELESS, { top_k = 2 }), nil,
    "fewer than k finished: anything would enter the top k, nothing is stopped")
  T.raises(function() abort.hook { top_k = 0 } end, "top_k must be a positive integer")
  T.raises(function() abort.hook { top_k = 1.5 } end, "top_k must be a positive integer")
end

function tests.the_top_k_hook_reads_each_record_once()
  -- the hook is asked at every checkpoint of every candidate; it reads only the records
  -- committed since its last call (a whole-run read at each commit: N^2 / 2 over a run)
  local recs, reads = {}, 0
  local db = { iter = function(_, _, _, from)
    local i = (from or 1) - 1
    return function()
      i = i + 1
      if recs[i] then reads = reads + 1 end
      return recs[i]
    end
  end }
  local hook = abort.hook { top_k = 2 }
  local N, point = 300, HOPELESS[2]
  for n = 1, N do
    local c, acc = HOPELESS, 0.32
    if n == 40 then c, acc = INCUMBENT, 0.82 elseif n == 200 then c, acc = LATE_BLOOMER, 0.84 end
    recs[n] = { iter = n, status = "ok", curve = c, metrics = { val_acc = acc } }
    for _ = 1, 3 do  -- three checkpoints judged between two commits
      local stop = hook({ db = db, run = 1, last = { iteration = n } }, point)
      local full = abort.decide_top(abort.top_curves(db, 1, n, 2), point, { top_k = 2 })
      T.eq(stop, full, ("after %d records the verdict is the whole run's"):format(n))
    end
  end
  reads = 0
  for _ = 1, N do hook({ db = db, run = 1, last = { iteration = N } }, point) end
  T.eq(reads, 0, "nothing new committed: nothing read")
  local fresh = abort.hook { top_k = 2 }
  for n = 1, N do fresh({ db = db, run = 1, last = { iteration = n } }, point) end
  -- each record once, and at each call the one past the last commit (which ends the read)
  T.eq(reads, 2 * N - 1, "each record read once over the run, not N^2 / 2 times")
end

function tests.replay_with_top_k_counts_stopped_entrants()
  local entries = {
    { curve = INCUMBENT, val_acc = 0.82 },
    { curve = SECOND, val_acc = 0.60 },
    { curve = CONTENDER, val_acc = 0.66 },
    { curve = HOPELESS, val_acc = 0.32 },
  }
  local one = abort.replay(entries)
  T.eq(one.entrants, 0, "top 1: nothing after the incumbent would have entered it")
  T.eq(one.stopped, 3, "the incumbent's rule stops the second best, the contender and the hopeless")
  local two = abort.replay(entries, { top_k = 2 })
  T.eq(two.entrants, 1, "the contender would have entered the top 2")
  T.eq(two.entrant_aborts, 0, "and is not stopped")
  T.eq(two.stopped, 1, "the hopeless one is")
  T.eq(two.stopped_at, { 4 })
  local strict = abort.replay(entries, { top_k = 2, gain = 0.5, slack = 0, loss_slack = 0 })
  T.eq(strict.entrant_aborts, 1, "a rule that stops the contender counts it")
  T.eq(strict.entrant_abort_rate, 1)
end

-- ---- the loop ----

-- A trainer whose networks learn along a curve that ends at their accuracy and
-- which honours the progress hook's stop, as train.evaluate does.
local function curve_trainer()
  local Tr = { trained = {}, probes = {} }
  function Tr.evaluate(g, o)
    Tr.trained[#Tr.trained + 1] = g.acc
    Tr.probes[#Tr.probes + 1] = o.probe
    for k = 1, o.checkpoints do
      local step = k * STEPS // o.checkpoints
      local acc = g.acc * (0.7 + 0.3 * k / o.checkpoints)
      -- a network named "loud..." learns as its accuracy says with a loss that explodes
      local loss = g.hash():find("^h%-loud") and 4 or 2 - acc
      local epochs = o.epochs or 1
      local p = { epoch = (k - 1) * epochs // o.checkpoints + 1, epochs = epochs, step = step, steps = STEPS,
        loss = loss, checkpoint = k, window_loss = loss, window_acc = acc,
        probe_acc = (o.probe or 0) > 0 and acc or nil, seconds = k * 0.1 }
      if o.progress(p) then
        return nil, ("stopped at step %d of %d"):format(step, STEPS), "pruned", nil,
          { seconds = k * 0.1, cpu_seconds = k * 0.2, steps = step, wall_seconds = k * 0.1 + 0.05 }
      end
    end
    return { val_acc = g.acc, val_loss = 1 - g.acc, seconds = 1, cpu_seconds = 2, steps = STEPS,
      wall_seconds = 1.2, job_seconds = 1.1, build_seconds = 0.05, eval_seconds = 0.05 }
  end
  return Tr
end

local function run_codes(codes, extra)
  local seen = {}
  local s = {
    name = "test", quiet = true, budget = { iterations = #codes }, early_abort = true,
    env = { arch = F.arch(), train = curve_trainer(), db = F.db() },
    propose = function(ctx) return codes[ctx.iteration] end,
    reflect = function(_, result) seen[#seen + 1] = history.outcome(result) end,
  }
  for k, v in pairs(extra or {}) do s[k] = v end
  local run = search.search(s)
  return run, s.env.db.runs[run.id].records, s, seen
end

function tests.a_pruned_candidate_is_recorded_with_its_curve_cost_and_reason()
  local run, recs, s, seen = run_codes { "net a 0.8", "net b 0.2" }
  local r = recs[2]
  T.eq(r.status, "pruned")
  T.eq(r.error_kind, "pruned")
  T.eq(r.accepted, false)
  T.eq(r.pruned.step, 20, "stopped at the first allowed checkpoint")
  T.eq(#r.curve, 2, "the partial curve up to the stop")
  T.eq(r.metrics.cpu_seconds, 0.4, "the compute it used until then")
  T.ok(r.error:find("^stopped at 20%% of the epoch: accuracy on the latest batches"), r.error)
  T.ok(r.curve[1].wacc and r.curve[1].loss and not r.curve[1].acc, "a one-epoch curve: window accuracy and loss")
  T.ok(seen[2]:find("^pruned: stopped at 20%% of the epoch"), "the feedback says why: " .. seen[2])
  T.eq(#recs[1].curve, 10, "a finished candidate has its full curve")
  T.ok(recs[1].time.ipc and recs[1].time.build and recs[1].time.evaluate, "the time breakdown is recorded")
  T.eq(run.loop.best.iteration, 1)
  T.eq(s.env.train.probes, { 0, 0 }, "one epoch: the default rule probes nothing (the window loss is held out)")
end

function tests.the_default_rule_probes_when_the_recipe_has_more_than_one_epoch()
  -- after the first epoch the training loss is measured on images already seen
  local _, recs, s = run_codes({ "net a 0.8", "net b 0.2" }, { train = { epochs = 2 } })
  T.eq(s.env.train.probes, { search.ABORT_PROBE, search.ABORT_PROBE }, "two epochs: held-out images probed")
  T.ok(recs[2].error:find("^stopped at 20%% of the training: held%-out accuracy"), recs[2].error)
  -- a strategy's own hook gets the probe whatever the recipe: it may read p.acc
  local _, _, own = run_codes({ "net a 0.8" }, { on_progress = function() return false end })
  T.eq(own.env.train.probes, { search.ABORT_PROBE }, "an own on_progress hook is probed for")
  local _, _, mon = run_codes({ "net a 0.8" }, { monitor = { checkpoints = 10, probe = 64 } })
  T.eq(mon.env.train.probes, { 64 }, "an explicit monitor is the strategy's choice")
end

function tests.a_loud_loss_does_not_stop_a_network_that_classifies_well()
  -- the loss alone (before the window's accuracy was reported) stopped it
  local _, recs = run_codes { "net a 0.8", "net loud 0.8", "net b 0.2" }
  T.eq({ recs[2].status, recs[3].status }, { "ok", "pruned" }, "the loud one runs to the end, the hopeless stops")
end

function tests.after_the_first_epoch_the_window_accuracy_is_not_recorded()
  -- its images were seen: no longer a held-out measure
  local _, recs = run_codes({ "net a 0.8" }, { train = { epochs = 2 } })
  local c = recs[1].curve
  T.ok(c[5].wacc and c[5].acc, "epoch 1: both")
  T.ok(c[6].wacc == nil and c[6].acc, "epoch 2: the probe only")
end

function tests.a_pruned_network_is_not_cached_as_if_fully_trained()
  local _, recs, s = run_codes { "net a 0.8", "net b 0.2", "net b 0.2", "net a 0.8" }
  T.eq(s.env.train.trained, { 0.8, 0.2, 0.2 }, "the pruned network is trained again, the finished one is not")
  T.eq(recs[3].cache_hit, false)
  T.eq(recs[3].status, "pruned")
  T.eq(recs[4].cache_hit, true)
  T.eq(recs[4].metrics.cpu_seconds, nil, "a cache hit costs no training compute")
end

function tests.a_candidate_that_can_catch_up_is_not_stopped()
  local _, recs = run_codes { "net a 0.8", "net d 0.78", "net c 0.9" }
  T.eq({ recs[2].status, recs[3].status }, { "ok", "ok" }, "curves close to the best's run to the end")
  T.eq(recs[3].accepted, true)
end

function tests.the_loop_with_top_k_judges_by_the_k_best_records()
  -- b finishes (probed, so its loss is judged beside its accuracy, and the loss says it
  -- can catch up with a); c is out of reach of a at 20% but not of b
  local probed = { checkpoints = 10, probe = 256 }
  local _, one = run_codes({ "net a 0.8", "net b 0.65", "net c 0.2" }, { monitor = probed })
  local _, two = run_codes({ "net a 0.8", "net b 0.65", "net c 0.2" }, { early_abort = { top_k = 2 },
    monitor = probed })
  T.eq({ one[2].status, two[2].status }, { "ok", "ok" })
  T.eq(one[3].status, "pruned")
  T.eq(one[3].pruned.step, 20, "the incumbent's rule stops c at the first allowed checkpoint")
  T.eq(two[3].status, "pruned", "c cannot enter the top 2 either")
  T.ok(two[3].pruned.step > 20, ("but it takes longer to say so: stopped at step %d"):format(two[3].pruned.step))
  T.ok(two[3].error:find("for the 2nd best at the same step", 1, true), two[3].error)
  local _, alone = run_codes({ "net a 0.8", "net c 0.2" }, { early_abort = { top_k = 2 }, monitor = probed })
  T.eq(alone[2].status, "ok", "one finished candidate: c would enter the top 2, it runs to the end")
end

function tests.an_on_progress_hook_sees_each_checkpoint_and_may_stop()
  local calls = {}
  local _, recs = run_codes({ "net a 0.8", "net b 0.7" }, { early_abort = false,
    on_progress = function(ctx, p)
      calls[#calls + 1] = ctx.iteration .. ":" .. p.step .. ":" .. #p.curve
      if ctx.iteration == 2 and p.step == 50 then return true, "my reason" end
    end })
  T.eq(calls[1], "1:10:1")
  T.eq(calls[#calls], "2:50:5")
  T.eq(#calls, 9 + 5, "every checkpoint but the last of a finished run, until the stop")
  T.eq(recs[2].status, "pruned")
  T.eq(recs[2].error, "my reason")
end

return tests
