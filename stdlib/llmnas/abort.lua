--- llmnas.abort — early abort: stop a candidate whose learning curve cannot
-- plausibly catch up with the incumbent's (issue #12). Pure Lua: the rule reads
-- curves, so it is tested on recorded ones.
--
--   llmnas.search { ..., early_abort = true }            -- the default rule below
--   llmnas.search { ..., early_abort = { gain = 3 } }    -- the same rule, other settings
--   llmnas.search { ..., on_progress = function(ctx, p) ... return stop, why end }
--
-- A curve is the list of checkpoint points training reports (search.lua records
-- it on every result): { step, steps, loss = mean training loss since the last
-- checkpoint, wacc = the share of those steps' images classified right before each
-- update (first-epoch checkpoints only: every image unseen until its step, so it is
-- held out, and free), acc = accuracy on a small held-out probe (when probed), seconds }.
-- Every network trained with the same recipe reports at the same steps, so the
-- candidate's point k is compared with the incumbent's point k.
--
-- The rule. At fraction f = step / steps >= min_fraction of the run, let
--   best_now, best_end = the incumbent's metric at this step and at its last checkpoint,
--   cand               = the candidate's metric now.
-- The incumbent improved by (best_end - best_now) over the rest of its run; the
-- candidate is given `gain` times that (at least `floor` * (1 - f): an incumbent
-- that plateaued early says little about how much others still learn), plus a
-- slack, to catch up:
--   accuracy: out of reach if best_end - cand > gain * max(best_end - best_now, floor * (1 - f)) + slack
--   loss:     out of reach if cand - best_end > gain * max(0, best_now - best_end) + loss_slack * best_end
-- The candidate is stopped when every metric both curves have says out of reach:
-- the probe's accuracy and the training loss, or, where there is no probe, the
-- window's accuracy alone (the loss alone stops networks whose loss explodes on a
-- few confident mistakes while their accuracy is among the best, and beside the
-- accuracy such an incumbent's loss keeps every candidate; stdlib/doc/budget.md).
--
-- Top-k (`early_abort = { top_k = 3 }`): the candidate is compared with each of the
-- k best finished curves of the run (of its own recipe) and stopped only when it is
-- out of reach of every one of them, i.e. when it cannot plausibly enter the top
-- k — what a population-based strategy needs (a parent need not be the best).
-- While fewer than k candidates have finished, anything would enter the top k:
-- nothing is stopped. The curves are the run's records up to the candidate's
-- last concluded one (ctx.last; with --workers N, the proposal's own view). The slack covers the probe's
-- sampling noise (about 2.5 points for 256 images at 80%); `gain` is how much
-- faster than the incumbent a late bloomer may still learn. The false-abort rate
-- of these defaults on recorded curves is measured by M.replay and stated in
-- stdlib/doc/budget.md.
local M = {}

M.DEFAULTS = {
  min_fraction = 0.2,   -- never stop before this share of the run
  gain = 2,             -- a late bloomer may gain this many times what the incumbent gained
  slack = 0.04,         -- accuracy points (0.04 = 4 points) given on top
  floor = 0.2,          -- accuracy still to gain over a whole run, at least (times 1 - f): at 20% of
                        -- a 15-step epoch (3 steps) a would-be best was 26 points behind an
                        -- incumbent that gained 7 more (stdlib/doc/budget.md); 0.1 stopped it
  loss_slack = 0.15,    -- the loss's slack, relative to the incumbent's last loss
  top_k = 1,            -- compare with the k best finished curves (1: the incumbent only)
  metric = nil,         -- "acc" or "loss" to decide on one only; nil: every metric both curves have
}

local function settings(opts)
  local o = {}
  for k, v in pairs(M.DEFAULTS) do o[k] = v end
  for k, v in pairs(opts or {}) do
    if M.DEFAULTS[k] == nil and k ~= "metric" then
      error(("early_abort: unknown setting '%s' (known: min_fraction, gain, slack, floor, loss_slack, top_k, metric)")
        :format(tostring(k)), 3)
    end
    o[k] = v
  end
  if math.type(o.top_k) ~= "integer" or o.top_k < 1 then
    error(("early_abort: top_k must be a positive integer, got %s"):format(tostring(o.top_k)), 3)
  end
  return o
end

local function at_step(curve, step)
  for _, p in ipairs(curve) do
    if p.step == step then return p end
  end
end

-- One metric's verdict: out of reach?, need, room.
local function judge(metric, o, f, cand, best_now, best_end)
  if metric == "acc" then
    local need = best_end - cand
    return need > o.gain * math.max(best_end - best_now, o.floor * (1 - f)) + o.slack, need
  end
  local need = cand - best_end
  return need > o.gain * math.max(0, best_now - best_end) + o.loss_slack * best_end, need
end

--- Should the candidate at `point` stop, given the incumbent's full curve `ref`?
-- Returns stop (boolean) and the comparison {fraction, metric (the one reported:
-- acc when there is one), cand, best_now, best_end, cand_loss, best_loss} (nil
-- when there is nothing to compare with).
function M.decide(ref, point, opts)
  local o = settings(opts)
  if type(ref) ~= "table" or #ref == 0 or not point or not point.step or not point.steps then return false end
  local fraction = point.step / point.steps
  if fraction < o.min_fraction or point.step >= point.steps then return false end
  local now, last = at_step(ref, point.step), ref[#ref]
  if not now or last.step ~= point.steps then return false end
  local info, judged = { fraction = fraction, cand_loss = point.loss, best_loss = now.loss }, 0
  local window = false
  for _, metric in ipairs({ "acc", "loss" }) do
    -- the accuracy: the held-out probe's where both curves have it, else the window's
    -- (first epoch: images unseen until their step). Beside the window's accuracy the
    -- window's loss is not judged: it can only keep a candidate, and an incumbent whose
    -- loss explodes on a few confident mistakes while it classifies best keeps them all.
    local key = metric
    if metric == "acc" and not (point.acc and now.acc and last.acc) then key = "wacc" end
    local skip = metric == "loss" and window and not o.metric
    if not skip and (not o.metric or o.metric == metric) and point[key] and now[key] and last[key] then
      window = window or key == "wacc"
      local out = judge(metric, o, fraction, point[key], now[key], last[key])
      if not out then return false end
      judged = judged + 1
      if not info.metric then
        info.metric, info.source, info.cand, info.best_now, info.best_end = metric, key, point[key], now[key], last[key]
      end
    end
  end
  if judged == 0 then return false end
  return true, info
end

--- Should the candidate at `point` stop, given the k best finished curves `refs`
-- (best first)? Only when it is out of reach of every one of them, and only once
-- there are opts.top_k of them. Returns stop and the comparison with the k-th best
-- (the weakest bar), with info.rank = its place.
function M.decide_top(refs, point, opts)
  local o = settings(opts)
  if type(refs) ~= "table" or #refs < o.top_k then return false end
  local info
  for i = 1, o.top_k do
    local stop, this = M.decide(refs[i], point, o)
    if not stop then return false end
    info = this
    info.rank = i
  end
  return true, info
end

-- "best", "2nd best", ...
local function place(rank)
  if not rank or rank == 1 then return "the best" end
  local suffix = ({ "st", "nd", "rd" })[rank % 10] or "th"
  if rank % 100 >= 11 and rank % 100 <= 13 then suffix = "th" end
  return ("the %d%s best"):format(rank, suffix)
end

--- The feedback text for a stopped candidate (what the LLM reads):
-- "stopped at 30% of the epoch: held-out accuracy 52.0% vs 71.3% for the best at the same step ..."
function M.reason(info, epochs)
  local where = ("stopped at %d%% of the %s"):format(math.floor(info.fraction * 100 + 0.5),
    (epochs or 1) > 1 and "training" or "epoch")
  local text
  if info.metric == "acc" then
    text = ("%s: %s %.1f%% vs %.1f%% for %s at the same step"):format(where,
      info.source == "wacc" and "accuracy on the latest batches (unseen until then)" or "held-out accuracy",
      info.cand * 100, info.best_now * 100, place(info.rank))
    if info.cand_loss and info.best_loss then
      text = text .. (" (training loss %.2f vs %.2f)"):format(info.cand_loss, info.best_loss)
    end
    text = text .. ("; %s ended at %.1f%%, out of reach"):format(place(info.rank), info.best_end * 100)
  else
    text = ("%s: training loss %.2f vs %.2f for %s at the same step; %s ended at %.2f, out of reach")
      :format(where, info.cand, info.best_now, place(info.rank), place(info.rank), info.best_end)
  end
  return text
end

-- Keeps the k best of finished entries (best first): {val_acc, curve}.
local function keep_top(top, entry, k)
  local i = #top + 1
  while i > 1 and entry.val_acc > top[i - 1].val_acc do i = i - 1 end
  if i <= k then
    table.insert(top, i, entry)
    if #top > k then top[#top] = nil end
  end
end

--- The k best finished curves (best first) among the records of `run` in `db`
-- up to iteration `upto`: finished (status ok) at the run's own recipe (no
-- fidelity), with a curve.
-- (top: entries kept so far, from: the first iteration to read — the hook reads only
-- the records committed since its last call.)
function M.top_curves(db, run, upto, k, top, from)
  top = top or {}
  for r in db:iter(run, nil, from or 1) do
    if r.iter > upto then break end
    if r.status == "ok" and not r.fidelity and r.curve and #r.curve > 0
        and r.metrics and r.metrics.val_acc then
      keep_top(top, { val_acc = r.metrics.val_acc, curve = r.curve }, k)
    end
  end
  local curves = {}
  for i, e in ipairs(top) do curves[i] = e.curve end
  return curves
end

--- The default hook: compares with the incumbent's curve (ctx.best.curve), or
-- with the top_k best finished curves read from the run's records. Returns stop, reason.
function M.hook(opts)
  local o = settings(opts)  -- unknown settings are an error now, not at the first checkpoint
  local cached, cached_upto, top, run = nil, 0, {}, nil
  return function(ctx, p)
    local refs
    if o.top_k == 1 then
      refs = { ctx.best and ctx.best.curve or nil }
    elseif ctx.last and ctx.db and ctx.db.iter then
      -- records change only when one is committed: read the new ones then only (reading
      -- the whole run at every commit made a run of N iterations read N^2 / 2 records)
      local upto = ctx.last.iteration
      if run ~= ctx.run or upto < cached_upto then top, cached_upto, run = {}, 0, ctx.run end
      if upto ~= cached_upto or not cached then
        cached = M.top_curves(ctx.db, ctx.run, upto, o.top_k, top, cached_upto + 1)
        cached_upto = upto
      end
      refs = cached
    end
    local stop, info = M.decide_top(refs, p, o)
    if stop then return true, M.reason(info, ctx.recipe and ctx.recipe.epochs) end
    return false
  end
end

--- Replays the rule on recorded curves, in their order, as a run would have met
-- them: entries {curve = full curve, val_acc = final accuracy}. The incumbent
-- (or the top_k) is the best finished entry so far (a stopped one does not
-- finish). Returns {candidates, stopped, winners (would have become the best),
-- false_aborts (stopped winners), entrants (would have entered the top_k, once
-- top_k had finished), entrant_aborts (stopped entrants), near_misses (stopped,
-- ending within `near` of the best), false_abort_rate (false_aborts / winners),
-- entrant_abort_rate, steps_total, steps_spent, saved, stopped_at (indices)}.
function M.replay(entries, opts, near)
  local o = settings(opts)
  near = near or 0.005
  local s = { candidates = 0, stopped = 0, winners = 0, false_aborts = 0, near_misses = 0,
    entrants = 0, entrant_aborts = 0, steps_total = 0, steps_spent = 0, stopped_at = {} }
  local top = {}
  for i, e in ipairs(entries) do
    local curve = e.curve
    local steps = curve[#curve] and curve[#curve].steps or 0
    s.candidates = s.candidates + 1
    s.steps_total = s.steps_total + steps
    local best = top[1]
    local winner = best and e.val_acc > best.val_acc
    if winner then s.winners = s.winners + 1 end
    local entrant = #top >= o.top_k and e.val_acc > top[o.top_k].val_acc
    if entrant then s.entrants = s.entrants + 1 end
    local refs = {}
    for k, t in ipairs(top) do refs[k] = t.curve end
    local stopped_at
    for _, p in ipairs(curve) do
      if M.decide_top(refs, p, o) then stopped_at = p.step break end
    end
    if stopped_at then
      s.stopped = s.stopped + 1
      s.steps_spent = s.steps_spent + stopped_at
      s.stopped_at[#s.stopped_at + 1] = i
      if winner then s.false_aborts = s.false_aborts + 1 end
      if entrant then s.entrant_aborts = s.entrant_aborts + 1 end
      if not winner and e.val_acc >= best.val_acc - near then s.near_misses = s.near_misses + 1 end
    else
      s.steps_spent = s.steps_spent + steps
      keep_top(top, e, o.top_k)
    end
  end
  s.false_abort_rate = s.winners > 0 and s.false_aborts / s.winners or 0
  s.entrant_abort_rate = s.entrants > 0 and s.entrant_aborts / s.entrants or 0
  s.saved = s.steps_total > 0 and 1 - s.steps_spent / s.steps_total or 0
  return s
end

return M
