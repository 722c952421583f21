-- test_search.lua: the stdlib loop's logic (llmnas.search) on fake primitives:
-- order of steps, best-so-far, evaluation cache, hooks failing, budgets, resume.
local T = require "testing"
local F = require "fakes"
local search = require "llmnas.search"

local function strategy(codes, extra)
  local s = {
    name = "test", quiet = true, budget = { iterations = #codes },
    env = { arch = F.arch(), train = F.train(), db = F.db() },
    propose = function(ctx) return codes[ctx.iteration] end,
  }
  for k, v in pairs(extra or {}) do s[k] = v end
  return s
end

local tests = {}

function tests.best_is_kept_strictly_better()
  local s = strategy({ "net a 0.5", "net b 0.7", "net c 0.7", "net d 0.6", "net e 0.8" })
  local run = search.search(s)
  local recs = s.env.db.runs[run.id].records
  T.eq(#recs, 5)
  T.eq(run.loop.best.iteration, 5)
  T.eq({ recs[1].accepted, recs[2].accepted, recs[3].accepted, recs[4].accepted, recs[5].accepted },
    { true, true, false, false, true }, "a tie does not replace the best")
  T.eq(recs[4].best_iter, 2)
  T.eq(recs[5].metrics.val_acc, 0.8)
end

function tests.failures_are_recorded_with_their_kind()
  local s = strategy({ "net a 0.5", "fail shape Linear: expected 10", "garbage", "net z 0" })
  local run = search.search(s)
  local recs = s.env.db.runs[run.id].records
  T.eq(recs[2].status, "failed")
  T.eq(recs[2].error_kind, "shape")
  T.eq(recs[2].error, "Linear: expected 10")
  T.eq(recs[3].error_kind, "syntax")
  T.eq(recs[4].error_kind, "diverged")
  T.eq(run.loop.valid, 1)
  T.eq(run.loop.best.iteration, 1)
end

function tests.duplicate_networks_hit_the_cache()
  local s = strategy({ "net a 0.5", "net b 0.6", "net a 0.5", "net a 0.5" })
  local run = search.search(s)
  local recs = s.env.db.runs[run.id].records
  T.eq(s.env.train.trained, 2, "each distinct network is trained once")
  T.eq({ recs[1].cache_hit, recs[2].cache_hit, recs[3].cache_hit, recs[4].cache_hit }, { false, false, true, true })
  T.eq(recs[3].metrics.val_acc, 0.5, "a cache hit carries the cached accuracy")
  T.eq(recs[3].status, "ok")
end

-- The task's input shape and classes come from the C registry (train.datasets()):
-- every registered dataset works as a task, cifar100-coarse included (search.lua's
-- own table once forgot it), and the recipe is the trainer's defaults.
function tests.task_shapes_come_from_the_registry()
  local all = train.datasets()
  for _, name in ipairs(all) do
    if all[name].input then  -- schemes (folder:PATH) take the shape from their files
      local seen
      local s = strategy({ "net a 0.5" }, { task = { dataset = name },
        propose = function(ctx) seen = ctx.task return "net a 0.5" end })
      search.search(s)
      T.eq(seen.input, all[name].input, name .. ": input shape from the registry")
      T.eq(seen.classes, all[name].classes, name .. ": classes from the registry")
    end
  end
  T.eq(all["cifar100-coarse"].classes, 20)
  local d = train.defaults()
  for _, k in ipairs { "epochs", "lr", "momentum", "weight_decay", "batch", "seed" } do
    T.eq(search.RECIPE[k], d[k], "recipe " .. k .. " is the trainer's default")
  end
  local s = strategy({ "net a 0.5" }, { task = { dataset = "imagenet" } })
  T.raises(function() search.search(s) end, "task: unknown dataset 'imagenet'")
end

-- The loop's kind sets are llm.kinds (C), not a list of its own; train.kinds decides
-- what is cached: a transient outcome (timeout) is trained again, a candidate's own
-- (diverged) is not.
function tests.failure_kinds_come_from_the_c_tables()
  local fatal, transient = {}, {}
  for kind, class in pairs(llm.kinds) do
    if class == "fatal" then fatal[kind] = true end
    if class == "transient" then transient[kind] = true end
  end
  T.eq(search.FATAL_KINDS, fatal)
  T.eq(search.TRANSIENT_KINDS, transient)
  for _, k in ipairs { "llm_auth", "llm_quota", "llm_not_found", "llm_config", "llm_cache_miss", "interrupted" } do
    T.eq(llm.kinds[k], "fatal", k)
  end
  for _, k in ipairs { "llm_network", "llm_timeout", "llm_rate_limit", "llm_server", "llm_protocol" } do
    T.eq(llm.kinds[k], "transient", k)
  end
  T.eq(llm.kinds.llm_truncated, "call")
  T.eq({ train.kinds.timeout, train.kinds.crashed, train.kinds.diverged, train.kinds.data },
    { "transient", "transient", "candidate", "fatal" })

  local s = strategy({ "net a 0.5", "net a 0.5", "net b 0.5", "net b 0.5" })
  local trained = {}
  s.env.train.evaluate = function(g)
    trained[g.hash()] = (trained[g.hash()] or 0) + 1
    if g.hash() == "h-a" then return nil, "over the time limit", "timeout" end
    return nil, "loss became NaN", "diverged"
  end
  search.search(s)
  T.eq(trained["h-a"], 2, "a timeout is not cached")
  T.eq(trained["h-b"], 1, "a divergence is cached")
end

function tests.cache_key_depends_on_the_recipe()
  local a = search.cache_key("h", { epochs = 1, lr = 0.01, dataset = "mnist" })
  T.eq(a, search.cache_key("h", { lr = 0.01, dataset = "mnist", epochs = 1, data = "/elsewhere" }),
    "the data folder does not change the key")
  T.ok(a ~= search.cache_key("h", { epochs = 2, lr = 0.01, dataset = "mnist" }))
  T.ok(a ~= search.cache_key("h2", { epochs = 1, lr = 0.01, dataset = "mnist" }))
end

function tests.hooks_run_in_order_and_see_the_best()
  local seen = {}
  local s = strategy({ "net a 0.5", "net b 0.7" }, {
    accept = function(best, result) seen[#seen + 1] = "accept"; return not best or result.val_acc > best.val_acc end,
    reflect = function(ctx, result)
      seen[#seen + 1] = "reflect"
      T.eq(ctx.best.val_acc, result.val_acc, "reflect sees the best including this iteration")
      return { triple = { problem = "p", suggestion = "s", outcome = "o" }, extra = 1 }
    end,
    on_iteration = function(_, record) seen[#seen + 1] = "on_iteration " .. record.iter end,
  })
  local run = search.search(s)
  T.eq(seen, { "accept", "reflect", "on_iteration 1", "accept", "reflect", "on_iteration 2" })
  local rec = s.env.db.runs[run.id].records[2]
  T.eq(rec.triple, { problem = "p", suggestion = "s", outcome = "o" })
  T.eq(rec.notes, { extra = 1 })
end

function tests.a_failing_hook_fails_its_iteration_with_hook_and_line()
  local calls = 0
  local s = strategy({ "net a 0.5", "net b 0.6", "net c 0.7" }, {
    propose = function(ctx)
      calls = calls + 1
      if ctx.iteration == 2 then error("no idea") end
      return ({ "net a 0.5", "", "net c 0.7" })[ctx.iteration]
    end,
  })
  local run = search.search(s)
  local recs = s.env.db.runs[run.id].records
  T.eq(#recs, 3, "the run goes on")
  T.eq(recs[2].error_kind, "hook")
  T.ok(recs[2].error:find("test_search.lua:%d+: in hook 'propose': no idea"), recs[2].error)
  T.eq(run.loop.best.iteration, 3)
end

function tests.a_hook_failing_three_times_in_a_row_stops_the_run()
  local s = strategy({ "net a 0.5", "net b 0.6", "net c 0.7", "net d 0.8" }, {
    accept = function() error("broken rule") end,
  })
  local err = T.raises(function() search.search(s) end, "in hook 'accept': broken rule")
  T.ok(err:find("failed 3 times in a row"), err)
  T.eq(#s.env.db.runs[1].records, 2, "the iterations before the third failure are kept")
end

function tests.resume_continues_with_the_same_state()
  local codes = { "net a 0.5", "net b 0.7", "net c 0.6", "net d 0.9" }
  local db = F.db()
  local function mk(n)
    local s = strategy(codes, {
      budget = { iterations = n },
      propose = function(ctx)
        ctx.state.seen = (ctx.state.seen or 0) + 1
        return codes[ctx.iteration]
      end,
    })
    s.env.db = db
    return s
  end
  search.search(mk(2))
  package.loaded["llmnas.options"] = { set = {}, resume = true }
  local ok, run = pcall(search.search, mk(4))
  package.loaded["llmnas.options"] = nil
  T.ok(ok, run)
  T.eq(run.id, 1, "resumed the latest run")
  local recs = db.runs[1].records
  T.eq(#recs, 4, "iterations 3 and 4 were added, nothing repeated")
  T.eq(recs[3].iter, 3)
  T.eq(run.loop.best.iteration, 4)
  T.eq(run.loop.strategy.seen, 4, "the strategy's state came back")
end

function tests.budgets_stop_the_loop()
  local s = strategy({ "net a 0.5", "net b 0.6", "net c 0.7" }, { budget = { iterations = 2 } })
  local run = search.search(s)
  T.eq(run.loop.iteration, 2)
  T.eq(run.stopped_by, "iterations")
  s = strategy({ "net a 0.5" }, { budget = { seconds = 0 } })
  run = search.search(s)
  T.eq(run.loop.iteration, 0)
  T.eq(run.stopped_by, "time")
end

function tests.transient_llm_errors_are_retried_fatal_ones_stop()
  local n = 0
  local s = strategy({ "net a 0.5" }, {
    propose = function()
      n = n + 1
      if n < 3 then return nil, "connection refused", "llm_network" end
      return "net a 0.5"
    end,
  })
  local run = search.search(s)
  T.eq(n, 3)
  T.eq(run.loop.valid, 1, "two transient failures did not spend the iteration")
  s = strategy({ "net a 0.5" }, { propose = function() return nil, "invalid api key", "llm_auth" end })
  T.raises(function() search.search(s) end, "invalid api key (llm_auth): stopping the run")
end

function tests.unreadable_training_data_stops_the_run()
  local s = strategy({ "net a 0.5", "net b 0.6" })
  s.env.train.evaluate = function() return nil, "cannot open /nope/train-images-idx3-ubyte.gz", "data" end
  T.raises(function() search.search(s) end, "training data: cannot open /nope/train-images-idx3-ubyte.gz")
  T.eq(#s.env.db.runs[1].records, 0, "no iteration was spent on it")
end

function tests.a_record_that_cannot_be_saved_stops_the_run()
  local s = strategy({ "net a 0.5", "net b 0.6", "net c 0.7" })
  local db = s.env.db
  local append = db.append
  db.append = function(self, run, record, state)
    if record.iter == 2 then return nil, "MEM_ENOSPC: the disk is full", "disk_full" end
    return append(self, run, record, state)
  end
  local err = T.raises(function() search.search(s) end, "memory: iteration 2 was not saved (disk_full)")
  T.ok(err:find("continue with --resume", 1, true), err)
  T.eq(#db.runs[1].records, 1, "iteration 1 stays; nothing after the failure ran")
end

return tests
