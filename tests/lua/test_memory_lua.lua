-- test_memory_lua.lua: the memory module from Lua — round trips of every record kind,
-- queries, iteration with filters, errors and their kinds, the userdata's life
-- cycle, and a search resumed from the real store with its state intact.
local T = require "testing"
local F = require "fakes"

local tests = {}

local function fresh()
  local dir = T.tmpdir() .. "/db"
  return assert(memory.open(dir)), dir
end

local function rec(acc, extra)
  local r = { status = "ok", code = "function Net(x) return x end", hash = "h" .. tostring(acc),
    metrics = { val_acc = acc, params = math.floor(acc * 1000), seconds = 1.25 },
    llm = { generator = { prompt_tokens = 100, completion_tokens = 40, seconds = 2.5 } },
    triple = { problem = "too shallow", suggestion = "add a block", outcome = "accuracy: 50.00%" },
    accepted = true, cache_hit = false, prompts = { generator = "write a net" } }
  for k, v in pairs(extra or {}) do r[k] = v end
  return r
end

function tests.candidate_round_trip_keeps_types()
  local db = fresh()
  local run = db:begin_run({ name = "t", settings = { k = 5 } })
  T.eq(run, 1)
  local r = rec(0.5, { nested = { list = { 1, 2.5, "three", json.null }, empty = json.array() },
    big = math.maxinteger })
  T.eq(db:append(run, r), 1)
  local back = db:get(run, 1)
  T.eq(back.iter, 1)
  T.eq(math.type(back.iter), "integer")
  T.eq(back.run, 1)
  T.ok(back.committed_at > 1e9)
  back.iter, back.run, back.committed_at = nil, nil, nil
  T.eq(back, r)
  T.eq(math.type(back.metrics.seconds), "float")
  T.eq(back.big, math.maxinteger)
  T.ok(json.is_array(back.nested.empty), "an empty array stays an array")
  db:close()
end

function tests.every_record_kind_round_trips()
  local db = fresh()
  local run = db:begin_run()
  T.eq(db:append(run, rec(0.1), { best = 0.1, window = { "a", "b" } }), 1)
  T.eq(db:state(run), { best = 0.1, window = { "a", "b" } })
  T.eq(db:put_hash("abc", { val_acc = 0.25, status = "ok" }), true)
  T.eq(db:by_hash("abc"), { val_acc = 0.25, status = "ok" })
  T.eq(db:llm_put("req", { content = "```lua\nx\n```", usage = { prompt_tokens = 3 } }), true)
  T.eq(db:llm_get("req").usage.prompt_tokens, 3)
  T.eq(db:kv_put("cfg", { temperature = 0.7 }), true)
  T.eq(db:kv_get("cfg"), { temperature = 0.7 })
  T.eq(db:kv_put("n", 42), true)
  T.eq(db:kv_get("n"), 42)
  T.eq(db:kv_put("s", "text"), true)
  T.eq(db:kv_get("s"), "text")
  T.eq(db:kv_put("n", nil), true)
  local v, msg, kind = db:kv_get("n")
  T.eq({ v, kind }, { nil, "not_found" })
  T.ok(msg:find('"n"', 1, true), msg)
  local r = db:run(run)
  T.eq(r.id, run)
  T.eq(r.last_iteration, 1)
  T.eq(r.totals.candidates, 1)
  T.eq(r.totals.llm.generator, { calls = 1, prompt_tokens = 100, completion_tokens = 40, seconds = 2.5 })
  db:close()
end

function tests.runs_latest_and_last_iteration()
  local db = fresh()
  T.eq(select(3, db:latest_run()), "not_found")
  local a = db:begin_run({ name = "a" })
  local b = db:begin_run({ name = "b" })
  db:append(b, rec(0.2))
  db:append(b, rec(0.3))
  T.eq(db:latest_run(), b)
  T.eq(db:last_iteration(a), 0)
  T.eq(db:last_iteration(b), 2)
  local runs = db:runs()
  T.eq(#runs, 2)
  T.eq(runs[1].meta.name, "a")
  T.eq(runs[2].totals.candidates, 2)
  T.eq(select(3, db:last_iteration(9)), "not_found")
  db:close()
end

function tests.recent_and_best()
  local db = fresh()
  local run = db:begin_run()
  local accs = { 0.3, 0.9, 0.1, 0.9, 0.5 }
  for _, a in ipairs(accs) do db:append(run, rec(a)) end
  db:append(run, rec(0.99, { status = "failed", error_kind = "timeout" }))
  local r = db:recent(run, 3)
  T.eq({ r[1].iter, r[2].iter, r[3].iter }, { 4, 5, 6 })
  local b = db:best(run, 3)
  T.eq({ b[1].iter, b[2].iter, b[3].iter }, { 2, 4, 5 }, "failed records do not rank; ties go to the earlier")
  local m = db:best(run, 2, "params", "min")
  T.eq({ m[1].iter, m[2].iter }, { 3, 1 })
  T.eq(#db:best(run, 5, "nonesuch"), 0)
  T.raises(function() db:best(run, 2, "val_acc", "sideways") end, "invalid option 'sideways'")
  db:close()
end

function tests.iter_with_filters_across_batches()
  local db = fresh()
  local run = db:begin_run()
  for i = 1, 600 do
    db:append(run, { status = i % 3 == 0 and "failed" or "ok", n = i })
  end
  local n, last = 0, 0
  for r in db:iter(run) do
    n = n + 1
    T.eq(r.iter, last + 1)
    last = r.iter
  end
  T.eq(n, 600)
  local failed = 0
  for r in db:iter(run, { status = "failed" }) do
    T.eq(r.n % 3, 0)
    failed = failed + 1
  end
  T.eq(failed, 200)
  local big = 0
  for _ in db:iter(run, function(r) return r.n > 590 end) do big = big + 1 end
  T.eq(big, 10)
  local from = 0
  for _ in db:iter(run, nil, 595) do from = from + 1 end
  T.eq(from, 6)
  db:close()
end

function tests.snapshot_gives_one_view()
  local db = fresh()
  local run = db:begin_run()
  db:append(run, rec(0.4), { n = 1 })
  local last, st = db:snapshot(function(d) return d:last_iteration(run), d:state(run) end)
  T.eq(last, 1)
  T.eq(st, { n = 1 })
  local v, _, kind = db:snapshot(function(d) return d:append(run, rec(0.1)) end)
  T.eq({ v, kind }, { nil, "busy" }, "no writes inside a snapshot")
  T.raises(function() db:snapshot(function() error("boom") end) end, "boom")
  T.eq(db:append(run, rec(0.2)), 2, "the snapshot ended even after an error")
  db:close()
end

function tests.errors_and_kinds()
  local db, dir = fresh()
  local run = db:begin_run()
  local v, msg, kind = db:get(run, 7)
  T.eq({ v, kind }, { nil, "not_found" })
  T.ok(msg:find("no iteration 7"), msg)
  v, msg, kind = db:append(run, { iter = 5 })
  T.eq({ v, kind }, { nil, "conflict" })
  T.ok(msg:find("next iteration is 1"), msg)
  v, msg, kind = db:append(42, {})
  T.eq({ v, kind }, { nil, "not_found" })
  T.ok(msg:find("no run 42"), msg)
  T.raises(function() db:append(run, "text") end, "bad argument #2 to 'append'")
  T.raises(function() db:append(0, {}) end, "run id expected")
  T.raises(function() db:append(run, { f = print }) end, "bad argument #2 to 'append'")
  T.raises(function() db:kv_put("k", { [1] = 1, [3] = 3 }) end, "bad argument #2 to 'kv_put'")
  v, msg, kind = memory.open(dir)
  T.eq({ v, kind }, { nil, "busy" }, "one handle per directory per process")
  T.ok(msg:find("already open in this process"), msg)
  db:close()
  db:close()
  T.raises(function() db:get(run, 1) end, "closed memory")
  T.ok(tostring(db):find("closed"))
  local ro = assert(memory.open(dir, { readonly = true }))
  v, msg, kind = ro:kv_put("k", 1)
  T.eq({ v, kind }, { nil, "readonly" })
  T.ok(msg:find("open read-only", 1, true), msg)
  ro:close()
  v, msg, kind = memory.open(T.tmpdir() .. "/none", { readonly = true })
  T.eq({ v, kind }, { nil, "no_store" })
  T.ok(msg:find("no llmnas store"), msg)
end

function tests.close_variable_closes()
  local dir = T.tmpdir() .. "/db"
  do
    local db <close> = assert(memory.open(dir))
    db:begin_run()
  end
  local db = assert(memory.open(dir), "reopened after <close>")
  T.eq(db:latest_run(), 1)
  db:close()
end

function tests.map_grows_from_a_tiny_start()
  local dir = T.tmpdir() .. "/db"
  local db = assert(memory.open(dir, { map_size = 128 * 1024 }))
  local run = db:begin_run()
  local pad = string.rep("x", 4000)
  for i = 1, 200 do assert(db:append(run, { code = pad, n = i })) end
  local info = db:info()
  T.ok(info.grown > 0, "grew " .. info.grown .. " times")
  T.ok(info.map_size > 128 * 1024)
  T.eq(db:get(run, 200).n, 200)
  db:close()
end

-- The search loop (stdlib) on fake primitives, writing to the real store,
-- stopped after 3 iterations and resumed in a new handle.
function tests.search_resumes_from_the_store_exactly()
  local search = require "llmnas.search"
  local dir = T.tmpdir() .. "/db"
  local codes = { "net a 0.5", "net b 0.7", "net c 0.6", "net d 0.9", "net e 0.8", "net f 0.95" }
  local seen_at_resume
  local function mk(n, db)
    return { name = "resume", quiet = true, budget = { iterations = n },
      env = { arch = F.arch(), train = F.train(), db = db },
      propose = function(ctx)
        if ctx.resumed and not seen_at_resume then
          seen_at_resume = { state = json.decode(json.encode(ctx.state)), best = ctx.best, it = ctx.iteration }
        end
        ctx.state.seen = (ctx.state.seen or 0) + 1
        ctx.state.trail = (ctx.state.trail or "") .. ctx.iteration
        return codes[ctx.iteration]
      end }
  end
  local db = assert(memory.open(dir))
  local first = search.search(mk(3, db))
  local saved = db:state(first.id)
  local best_before = db:best(first.id, 1)[1]
  db:close()

  local db2 = assert(memory.open(dir))
  package.loaded["llmnas.options"] = { set = {}, resume = true, db = dir }
  local ok, run = pcall(search.search, mk(6, db2))
  package.loaded["llmnas.options"] = nil
  T.ok(ok, run)
  T.eq(run.id, first.id)
  T.eq(seen_at_resume.it, 4, "continued at the next iteration")
  T.eq(seen_at_resume.state, saved.strategy, "the strategy state came back exactly")
  T.eq(seen_at_resume.best.iteration, best_before.iter, "the same best")
  T.eq(db2:last_iteration(run.id), 6)
  local iters = {}
  for r in db2:iter(run.id) do iters[#iters + 1] = r.iter end
  T.eq(iters, { 1, 2, 3, 4, 5, 6 }, "nothing repeated, nothing lost")
  T.eq(db2:state(run.id).strategy.trail, "123456")
  T.eq(db2:best(run.id, 1)[1].iter, 6)
  db2:close()
end

return tests
