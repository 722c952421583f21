--- llmnas.halving — successive halving (Jamieson & Talwalkar 2016; the rungs of
-- Hyperband) as a building block for a strategy's propose hook: n candidates are
-- trained at the lowest fidelity, the best 1/eta of them are promoted to the
-- next, and so on up to the last rung (the run's own recipe, the full proxy).
-- Then a new bracket starts. The scheduler is plain data (it lives in
-- ctx.state, so a resumed run continues the same bracket).
--
--   local halving = require "llmnas.halving"
--   local sched = halving.new { n = 8, eta = 2, rungs = { { subset = 1500 }, { subset = 3000 }, {} } }
--   propose = function(ctx)
--     ctx.state.sh = ctx.state.sh or sched
--     local item = halving.next(ctx.state.sh, function() return { genome = genome.random(rng) } end)
--     ctx.state.item = item
--     return { code = genome.render(item.candidate.genome), train = item.train }
--   end,
--   reflect = function(ctx, result) halving.report(ctx.state.sh, ctx.state.item, result.val_acc) end,
--
-- A rung's `train` table overrides the run's recipe for that candidate (search.lua:
-- propose may return {code, train}); {} is the recipe itself. Results of a lower
-- rung are recorded with their fidelity and never compete with the full proxy's
-- for the best. A candidate that fails (no score) is never promoted.
local M = {}

--- A new scheduler. opts: n (candidates per bracket, default 8), eta (default 2),
-- rungs (required: the list of train overrides, lowest fidelity first; the last is
-- usually {} = the run's recipe).
function M.new(opts)
  opts = opts or {}
  local n, eta = opts.n or 8, opts.eta or 2
  if type(opts.rungs) ~= "table" or #opts.rungs < 1 then
    error("halving.new: rungs must be a list of training overrides, lowest fidelity first", 2)
  end
  if math.type(n) ~= "integer" or n < 1 or type(eta) ~= "number" or eta <= 1 then
    error("halving.new: n must be a positive integer and eta a number > 1", 2)
  end
  return { n = n, eta = eta, rungs = opts.rungs, bracket = 1, rung = 1, queue = {}, scores = {}, next_id = 1,
    sampled = 0, history = {} }
end

-- How many of `count` scored candidates go up a rung.
function M.promoted_count(count, eta)
  return math.max(1, math.floor(count / eta))
end

local function promote(st)
  local scored = st.scores
  -- a failure has no score (not -inf: the state is saved as JSON) and sorts last
  table.sort(scored, function(a, b)
    local sa, sb = a.score or -math.huge, b.score or -math.huge
    if sa ~= sb then return sa > sb end
    return a.id < b.id
  end)
  -- the best 1/eta, but never a failure: a rung where all but one failed promotes
  -- that one, a rung where all failed ends the bracket
  local ids = {}
  for i = 1, M.promoted_count(#scored, st.eta) do
    if scored[i].score then ids[#ids + 1] = scored[i].id end
  end
  st.history[#st.history + 1] = { bracket = st.bracket, rung = st.rung, scored = #scored, promoted = ids }
  if st.rung == #st.rungs or #ids == 0 then
    -- the bracket is done (its winner is the best of the last rung), or none is left
    st.bracket, st.rung, st.queue, st.scores, st.sampled = st.bracket + 1, 1, {}, {}, 0
    return
  end
  st.queue = {}
  for i = 1, #ids do st.queue[i] = { id = scored[i].id, candidate = scored[i].candidate } end
  st.rung, st.scores = st.rung + 1, {}
end

--- The next candidate to evaluate: {id, candidate, rung, bracket, train}. `sample()`
-- returns a new candidate (any plain data) when the first rung needs one.
function M.next(st, sample)
  if st.rung == 1 and #st.queue == 0 and st.sampled < st.n then
    st.sampled = st.sampled + 1
    st.queue[1] = { id = st.next_id, candidate = sample() }
    st.next_id = st.next_id + 1
  end
  local item = table.remove(st.queue, 1)
  assert(item, "halving.next: every candidate of this rung is out; report their scores first")
  item.rung, item.bracket, item.train = st.rung, st.bracket, st.rungs[st.rung]
  st.out = (st.out or 0) + 1
  return item
end

--- Report an evaluated item's score (nil or NaN: failed). Promotes when the rung is complete.
function M.report(st, item, score)
  st.out = math.max(0, (st.out or 1) - 1)
  if item.rung ~= st.rung or item.bracket ~= st.bracket then return end
  if type(score) ~= "number" or score ~= score then score = nil end
  st.scores[#st.scores + 1] = { id = item.id, candidate = item.candidate, score = score }
  local expected = st.rung == 1 and st.n or #st.history[#st.history].promoted
  if #st.scores >= expected then promote(st) end
end

return M
