-- test_budget_compare.lua: the arithmetic of equal-compute comparisons
-- (llmnas.compare): what a record costs, what a run would have cost without the
-- evaluation cache, the best-so-far trajectory (the run's own fidelity only), the
-- compute to reach an accuracy, and the table's median and min-max over runs.
local T = require "testing"
local compare = require "llmnas.compare"

local function ok(hash, acc, cpu, extra)
  local r = { status = "ok", hash = hash, cache_hit = false, metrics = { val_acc = acc, cpu_seconds = cpu } }
  for k, v in pairs(extra or {}) do r[k] = v end
  return r
end
local function hit(hash, acc) return { status = "ok", hash = hash, cache_hit = true, metrics = { val_acc = acc } } end

-- a: 10 s to 70%, b: pruned after 2 s, a again (a cache hit), c at a lower fidelity
-- (99%, must not count), d: 5 s to 80%
local RECS = {
  ok("a", 0.70, 10),
  { status = "pruned", hash = "b", cache_hit = false, metrics = { cpu_seconds = 2 } },
  hit("a", 0.70),
  ok("c", 0.99, 1, { fidelity = "subset=500" }),
  ok("d", 0.80, 5),
}

local tests = {}

function tests.a_cache_hit_costs_nothing_a_pruned_candidate_what_it_used()
  T.eq(compare.cost(RECS[3]), 0)
  T.eq(compare.cost(RECS[2]), 2)
  T.eq(compare.cost({ status = "ok", metrics = { seconds = 3 } }), 3, "no CPU time recorded: wall seconds")
end

function tests.without_the_cache_a_hit_is_charged_its_first_training()
  local cost, hits = compare.uncached(RECS)
  T.eq(hits, 1)
  T.eq(cost(RECS[3]), 10, "the hit on a pays a's training again")
  T.eq(compare.trajectory(RECS, "x", cost).total, 10 + 2 + 10 + 1 + 5)
  T.eq(compare.trajectory(RECS, "x").total, 10 + 2 + 0 + 1 + 5, "with the cache")
end

function tests.the_trajectory_counts_only_the_runs_own_fidelity()
  local t = compare.trajectory(RECS, "x")
  local bests = {}
  for i, p in ipairs(t.points) do bests[i] = p.best end
  T.eq(bests, { 0.70, 0.70, 0.70, 0.70, 0.80 }, "the 99% of a lower fidelity is not a best")
  T.eq(compare.compute_to_reach(t, 0.80), 18)
  T.eq(compare.compute_to_reach(t, 0.70), 10)
  T.eq(compare.compute_to_reach(t, 0.81), nil, "never reached")
  T.eq(compare.best_within(t, 12), 0.70)
  T.eq(compare.best_within(t, 9.9), nil)
end

function tests.the_table_gives_median_and_min_max_over_a_strategys_runs()
  local function run(name, accs)
    local recs = {}
    for i, a in ipairs(accs) do recs[i] = ok("h" .. i, a, 1) end
    return compare.trajectory(recs, name)
  end
  local tab = compare.table({ run("s", { 0.5, 0.6 }), run("s", { 0.7, 0.71, 0.9 }), run("s", { 0.2, 0.3 }),
    run("r", { 0.4, 0.45 }) }, nil, 2)
  T.eq(tab.budget, 2, "the smallest run's total")
  local s = tab.groups[1]
  T.eq({ s.name, s.runs }, { "s", 3 })
  T.eq({ s.rows[1].budget, s.rows[1].median, s.rows[1].min, s.rows[1].max }, { 1, 0.5, 0.2, 0.7 })
  T.eq({ s.rows[2].median, s.rows[2].min, s.rows[2].max }, { 0.6, 0.3, 0.71 }, "cut at the budget: 0.9 is beyond it")
  T.eq(tab.groups[2].rows[2].median, 0.45)
  local text = compare.format(tab)
  T.ok(text:find("60.00% [30.00-71.00]", 1, true), text)
end

return tests
