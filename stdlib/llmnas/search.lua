--- llmnas.search — the search loop (DESIGN §1–2). Users read it, copy it, and
-- override small hooks rather than the loop:
--
--   llmnas.search {
--     name = "my-search",
--     task = { dataset = "fashion-mnist", subset = 6000 },     -- what to search for
--     budget = { iterations = 50, seconds = 3600, tokens = 2e6 },
--     propose = function(ctx) ... return code end,           -- required
--     reflect = function(ctx, result) ... end,               -- after each evaluation
--     accept = function(best, result, ctx) ... end,          -- default: strictly better
--     summarise = function(ctx) ... end,                     -- text for the final report
--     on_iteration = function(ctx, record) ... end,
--     on_progress = function(ctx, p) ... return stop, why end,  -- at training checkpoints
--     early_abort = true,                                    -- or the default rule (llmnas.abort)
--   }
--
-- One iteration: propose -> compile and validate in a worker -> train, or reuse
-- the evaluation cache when the graph hash was already evaluated with the same
-- recipe -> accept (keep the best) -> reflect -> append one record together
-- with the loop's state to the memory in one transaction. Accept runs before
-- reflect so that the reflecting hook (the paper's Prompt Improver) sees the
-- best including this iteration (the paper's steps 6 then 7).
--
-- Every hook runs in a protected call; an error names the hook and the script
-- line, fails its iteration (recorded with the error), and stops the run only
-- after MAX_HOOK_FAILURES failures of the same hook in a row.
local core = require "core"
local accept_rules = require "llmnas.accept"
local abort = require "llmnas.abort"
local progress = require "llmnas.progress"

local M = {}

M.MAX_HOOK_FAILURES = 3
M.PROPOSE_RETRIES = 3       -- transient LLM failures retried before an iteration is spent
M.DEFAULT_DB = "llmnas.db"

-- What to do with a failed proposal or evaluation comes from the C tables of
-- failure kinds (llm.kinds: runtime/llm/llm.c, train.kinds: runtime/train/train_status.c).
local llm_module, train_kinds = require "llm", require("train").kinds

local function kinds_of(class)
  local t = {}
  for kind, c in pairs(llm_module.kinds) do
    if c == class then t[kind] = true end
  end
  return t
end

-- LLM failures that no retry fixes: the run stops with the message (llm_auth,
-- llm_not_found: a wrong base URL or model name, interrupted, ...).
M.FATAL_KINDS = kinds_of("fatal")
-- LLM failures worth a retry of the whole proposal (the client already retried the call).
M.TRANSIENT_KINDS = kinds_of("transient")

-- The datasets (name, input shape, classes) come from the C registry
-- (runtime/train/dataset.c) through the real train module, whatever env.train
-- a test substitutes for training itself.
local train_module = require "train"

-- The training recipe of the paper (DESIGN §1 step 4), overridable per strategy: the
-- trainer's own defaults (train.defaults(), written once in C) for the fields that make
-- up a run's recipe and its evaluation-cache key.
M.RECIPE = {}
for _, k in ipairs { "epochs", "lr", "momentum", "weight_decay", "batch", "seed", "precision" } do
  M.RECIPE[k] = train_module.defaults()[k]
end
-- A search trains in auto precision, not the trainer's fp32: bf16 where this CPU has
-- native bf16 and the network's ops a checked bf16 path, fp32 elsewhere. A proxy ranks
-- candidates, and bf16 ranks them as fp32 does: on 27 networks of an evolve run,
-- Spearman 0.996, Kendall 0.973, largest difference 0.23 points, against 0.611 / 0.431 /
-- 6.5 points for fp32 with another seed; the reference nets within 0.4 point
-- (stdlib/doc/training.md#precision-fp32-bf16-auto; tests/bench/precision_agreement.lua).
M.RECIPE.precision = "auto"
-- Learning-curve checkpoints reported while training (recorded as result.curve) and
-- the held-out images probed at each when early abort is on. They do not change
-- the training, so they are not part of the evaluation-cache key.
-- A strategy's own on_progress hook, and the default early-abort rule in a recipe of
-- more than one epoch, get ABORT_PROBE images probed at each checkpoint. The default
-- rule in a one-epoch recipe probes nothing: every batch of the first epoch is unseen
-- until its step, so the checkpoint's window loss and window accuracy (the images its
-- steps classified right before their update) are already held-out measures
-- (progressive validation), free, while the probes cost about 13% of the demo's
-- training loop and a third of it at 2000 images (stdlib/doc/budget.md).
M.MONITOR = { checkpoints = 10, probe = 0 }
M.ABORT_PROBE = 256

local function copy(t)
  if type(t) ~= "table" then return t end
  local c = {}
  for k, v in pairs(t) do c[k] = copy(v) end
  return setmetatable(c, getmetatable(t))
end

local function merge(into, from)
  for k, v in pairs(from or {}) do into[k] = v end
  return into
end

-- "strategy.lua:42: in hook 'accept': message" from an error raised in a hook.
local function hook_error(name, fn, err)
  local msg = tostring(err)
  local loc, rest = msg:match("^([^\n]-:%d+): (.*)$")
  if loc then return ("%s: in hook '%s': %s"):format(loc, name, rest) end
  local info = debug.getinfo(fn, "S")
  return ("%s:%d: in hook '%s': %s"):format(info.short_src, info.linedefined, name, msg)
end

-- Calls hook `name` protected. Returns ok, results... ; on failure ok = false
-- and the message. Interrupts are re-raised: Ctrl-C stops the run.
local function call_hook(run, name, ...)
  local fn = run.strategy[name]
  local results = table.pack(xpcall(fn, function(e)
    if core.interrupted() then return e end
    return hook_error(name, fn, e)
  end, ...))
  if not results[1] then
    if core.interrupted() then error(results[2], 0) end
    run.hook_failures[name] = (run.hook_failures[name] or 0) + 1
    if run.hook_failures[name] >= M.MAX_HOOK_FAILURES then
      error(("%s\n(hook '%s' failed %d times in a row: stopping the run)")
        :format(results[2], name, run.hook_failures[name]), 0)
    end
    return false, results[2]
  end
  run.hook_failures[name] = 0
  return table.unpack(results, 1, results.n)
end

-- Book one LLM call (request, reply or error) on the iteration's record.
local function book(rec, req, seconds, reply, info)
  local u = rec.llm[req.role] or { calls = 0, prompt_tokens = 0, completion_tokens = 0, seconds = 0 }
  u.calls = u.calls + 1
  u.seconds = u.seconds + seconds
  if reply then
    u.prompt_tokens = u.prompt_tokens + (info.prompt_tokens or 0)
    u.completion_tokens = u.completion_tokens + (info.completion_tokens or 0)
  end
  rec.llm[req.role] = u
  -- key: the request's first-occurrence key, so that a resumed run can restore the
  -- occurrence numbers of the requests made before the stop (restore_occurrences)
  local ok, key = pcall(llm_module.request_key, req)
  rec.prompts[#rec.prompts + 1] = { role = req.role, messages = req.messages,
    reply = reply or json.null, error = (not reply) and info or json.null, key = ok and key or nil }
end

-- With --llm-cache record|replay a request asked again gets its own recorded reply by
-- its occurrence number, counted per process: a resumed run counts the requests its
-- committed records booked, so that a request repeated after the resume replays the
-- reply it had in an uninterrupted run (the soak found it: tests/soak/soak.sh).
local function restore_occurrences(run, opts)
  local llm = run.env.llm
  if not run.resumed or not opts.llm_cache or opts.llm_cache == "off" or not (llm and llm.count_requests) then
    return
  end
  local keys = {}
  for r in run.db:iter(run.id) do
    for _, p in ipairs(r.prompts or {}) do
      if type(p) == "table" and type(p.key) == "string" then keys[#keys + 1] = p.key end
    end
  end
  llm.count_requests(keys)
end

-- ctx:chat and ctx:chat_many — llm.chat and llm.chat_many that also book tokens,
-- time and the prompt on the record.
local function make_chat(run)
  local function chat(ctx, req)
    req.role = req.role or "generator"
    local t0 = core.now()
    local reply, info, kind = run.env.llm.chat(req)
    book(ctx.record, req, core.now() - t0, reply, info)
    if reply then return reply, info end
    return nil, info, kind
  end
  local function chat_many(ctx, reqs)
    local t0 = core.now()
    for _, req in ipairs(reqs) do req.role = req.role or "generator" end
    local results = run.env.llm.chat_many(reqs)
    local each = (core.now() - t0) / math.max(1, #reqs)
    for i, r in ipairs(results) do book(ctx.record, reqs[i], each, r[1], r[2]) end
    return results
  end
  return chat, chat_many
end

local function recipe_for(strategy, opts)
  local task = merge({ dataset = train_module.defaults().dataset }, strategy.task)
  if opts.dataset then task.dataset = opts.dataset end
  if opts.data then task.data = opts.data end
  local ds, why = train_module.dataset(task.dataset, task.data)  -- an image folder is read here
  ds = ds or {}
  task.input = task.input or ds.input
  task.classes = task.classes or ds.classes
  if not task.input or not task.classes then
    -- The user's choice of dataset or folder: one line and an exit code, no traceback.
    local unknown = not why or why:find("^unknown dataset")
    require("llmnas.preflight").fail(unknown and 64 or 66, why and ("task: " .. why)
      or ("task: unknown dataset '%s': give task.input and task.classes"):format(tostring(task.dataset)))
  end
  local recipe = merge(copy(M.RECIPE), strategy.train)
  if recipe.precision ~= nil then  -- refused here, before any candidate fails on it
    local p, refused = train_module.precision(tostring(recipe.precision))
    if not p then require("llmnas.preflight").fail(64, "recipe: train.precision: " .. refused) end
  end
  recipe.dataset, recipe.data, recipe.subset = task.dataset, task.data, task.subset
  recipe.val_fraction, recipe.val_subset = task.val_fraction, task.val_subset
  return task, recipe
end

-- The recipe fields that do not change a result: where the data lives and the
-- candidate's resources (the cache key leaves them out; a resumed run may change them).
M.NOT_IN_RESULT = { data = true, time_limit = true, threads = true, deadline = true, memory_limit = true,
  progress = true }

-- The evaluation-cache key: the graph's hash and everything that changes the result.
-- The precision enters as what this graph runs as on this machine (auto is bf16 on
-- one CPU, fp32 on another, and fp32 for a network with an op that has no bf16 path),
-- and fp32 not at all, so keys of records from before precision existed (all fp32)
-- still match, and an fp32 run is served what auto trained in fp32. Takes the graph,
-- or its hash alone (then auto is what it is for a network of checked ops).
local function cache_key(g, recipe)
  local hash = type(g) == "string" and g or g:hash()
  g = type(g) == "userdata" and g or nil  -- a test's fake graph has no ops to look at
  local r = copy(recipe)
  for k in pairs(M.NOT_IN_RESULT) do r[k] = nil end
  if r.precision ~= nil then
    r.precision = train_module.precision(tostring(r.precision), g) or tostring(r.precision)
    if r.precision == "fp32" then r.precision = nil end
  end
  return hash .. "@" .. core.sha256(json.encode(r, { canonical = true })):sub(1, 16)
end

-- A candidate trained with overrides of the run's recipe (a lower rung of
-- successive halving, ...) is recorded with its fidelity: "key=value ..." of the
-- overrides, sorted; nil for the run's own recipe.
local function fidelity_of(train)
  if type(train) ~= "table" or next(train) == nil then return nil end
  local keys, parts = {}, {}
  for k in pairs(train) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  for _, k in ipairs(keys) do parts[#parts + 1] = k .. "=" .. tostring(train[k]) end
  return table.concat(parts, " ")
end

-- The options of one training: the recipe, the monitor's checkpoints, and a
-- progress function that records the curve on res.curve and asks the strategy's
-- on_progress hook whether to stop (res.pruned = {step, steps, reason}). ctx is
-- the candidate's context (run.ctx in the serial loop; with several candidates
-- in flight each job's own, so the hook judges the candidate it is called for).
local function train_options(run, res, recipe, ctx)
  local o = copy(recipe)
  local mon = run.monitor
  if not mon or (mon.checkpoints or 0) <= 0 then return o end
  o.checkpoints, o.probe = mon.checkpoints, mon.probe
  local curve = json.array()
  res.curve = curve
  o.progress = function(p)
    if not p.checkpoint then return false end
    -- the window's accuracy is held out in the first epoch only (later its images were seen)
    local point = { step = p.step, steps = p.steps, loss = p.window_loss, acc = p.probe_acc,
      wacc = p.epoch == 1 and p.window_acc or nil, seconds = p.seconds }
    curve[#curve + 1] = point
    if not run.strategy.on_progress or p.step >= p.steps then return false end
    local seen = setmetatable({ curve = curve }, { __index = point })
    local ok, stop, why = call_hook(run, "on_progress", ctx or run.ctx, seen)
    if not ok then res.hook_error = stop return false end
    if not stop then return false end
    res.pruned = { step = p.step, steps = p.steps, fraction = p.step / p.steps,
      reason = type(why) == "string" and why or ("stopped by on_progress at step %d of %d"):format(p.step, p.steps) }
    return true
  end
  return o
end

-- Compile and look the graph up in the evaluation cache. Returns the result
-- table when it is already known (a compile failure, a cache hit), else nil and
-- the graph and its cache key, to be trained.
local function prepare(run, code, recipe)
  local env, t0 = run.env, core.now()
  local g, msg, kind = env.arch.compile(code, { input = run.task.input, classes = run.task.classes })
  local res = { compile_seconds = core.now() - t0 }
  if not g then
    res.status, res.error, res.kind = "failed", msg, kind or "runtime"
    return res
  end
  res.hash, res.params, res.flops = g:hash(), g:params(), g:flops()
  local key = cache_key(g, recipe or run.recipe)
  local cached = run.db:by_hash(key)
  if cached then
    merge(res, cached)
    res.cache_hit = true
    return res
  end
  return nil, g, key, res
end

-- Fold a training outcome (train.evaluate's returns: m | nil, message, kind,
-- step, cost) into res and cache it.
local function trained(run, key, res, m, tmsg, tkind, _, cost)
  -- A dataset that cannot be read fails every candidate alike: stop with its message.
  if not m and train_kinds[tkind] == "fatal" then
    require("llmnas.preflight").fail(66, ("training data: %s: stopping the run; once it is fixed, %s")
      :format(tostring(tmsg):gsub("^training: ", ""), run.resume_hint or "resume it with --resume"))
  end
  if m then
    merge(res, m)
    res.status = "ok"
    res.pruned = nil  -- asked to stop at the last step: it finished anyway
  elseif tkind == "pruned" and res.pruned then
    -- early abort: a partial result, never cached as if fully trained
    merge(res, cost or {})
    res.status, res.kind, res.error = "pruned", "pruned", res.pruned.reason
    return res
  else
    res.status, res.error, res.kind = "failed", tmsg, tkind or "train"
    merge(res, cost or {})
  end
  -- Deterministic outcomes are cached; a timeout, an interrupt, a crash, a killed job
  -- or a candidate stopped on purpose may differ next time.
  if train_kinds[res.kind] ~= "transient" then
    local entry = copy(res)
    entry.compile_seconds, entry.cache_hit, entry.wall_seconds, entry.waited_seconds = nil, nil, nil, nil
    local ok, why = run.db:put_hash(key, entry)
    if not ok then progress.note(run, "evaluation cache not updated: " .. tostring(why)) end
  end
  return res
end

-- Compile, then train or reuse the cache. Returns the result table. train: the
-- candidate's overrides of the run's recipe, or nil.
local function evaluate(run, code, train)
  local recipe = M.recipe_with(run, train) or run.recipe
  local res, g, key, partial = prepare(run, code, recipe)
  if res then return res end
  progress.phase(run, "training")
  return trained(run, key, partial, run.env.train.evaluate(g, train_options(run, partial, recipe)))
end

-- An endpoint unreachable through all of an iteration's retries, this many iterations in a
-- row, stops the run (with the resume command) instead of spending the budget on it.
M.UNREACHABLE_STOP = 2
M.UNREACHABLE_KINDS = { llm_network = true, llm_timeout = true }

local function unreachable(run, kind, msg)
  if not M.UNREACHABLE_KINDS[kind] then
    run.unreachable = 0
    return
  end
  run.unreachable = (run.unreachable or 0) + 1
  local limit = run.strategy.unreachable_stop or M.UNREACHABLE_STOP
  if run.unreachable >= limit then
    require("llmnas.preflight").fail(69, ("the LLM server stayed unreachable through %d iterations' "
      .. "retries (%s): stopping the run; once it is back, %s"):format(run.unreachable, tostring(msg),
      run.resume_hint))
  end
end

local function propose(run, ctx)
  for attempt = 1, M.PROPOSE_RETRIES do
    local ok, code, msg, kind = call_hook(run, "propose", ctx)
    if not ok then return nil, code, "hook" end
    local train
    if type(code) == "table" then code, train = code.code, code.train end
    if type(code) == "string" then run.unreachable = 0 return code, nil, nil, train end
    kind = kind or "propose"
    if M.FATAL_KINDS[kind] then
      -- A key, quota, model or configuration the endpoint refuses: every call would fail.
      require("llmnas.preflight").fail(78, ("propose: %s (%s): stopping the run; once it is fixed, %s")
        :format(tostring(msg), kind, run.resume_hint or "resume it with --resume"))
    end
    if not M.TRANSIENT_KINDS[kind] or attempt == M.PROPOSE_RETRIES then
      if attempt == M.PROPOSE_RETRIES then unreachable(run, kind, msg) else run.unreachable = 0 end
      return nil, msg or "propose returned no code", kind
    end
    progress.note(run, ("propose failed (%s), retrying: %s"):format(kind, tostring(msg)))
  end
end

-- Where a candidate's time went (seconds; the parts add up to total): compile (in
-- the sandbox's worker), build (oneDNN primitives), train (the training loop alone),
-- probe (early abort's checkpoint probes), evaluate (validation and test), ipc
-- (the rest of the training call: fork, split, result transfer). Only compile for
-- a cache hit.
local function time_breakdown(r)
  if r.cache_hit or not r.wall_seconds then return { compile = r.compile_seconds } end
  local probe = r.probe_seconds or 0
  local loop = math.max(0, (r.seconds or 0) - probe)
  local inside = (r.build_seconds or 0) + (r.seconds or 0) + (r.eval_seconds or 0)
  return { compile = r.compile_seconds, build = r.build_seconds, train = loop, probe = r.probe_seconds,
    evaluate = r.eval_seconds, ipc = math.max(0, r.wall_seconds - inside),
    total = (r.compile_seconds or 0) + r.wall_seconds }
end

local function new_record(it)
  return { iter = it, llm = {}, prompts = json.array() }
end

-- Accept, reflect and commit one evaluated candidate (ctx is its context,
-- ctx.iteration its number); returns the record. The serial loop and the
-- asynchronous one (llmnas.async) both end a candidate here.
local function conclude(run, ctx, record, code, result, t_start)
  local it = run.loop.iteration + 1   -- the store numbers records in commit order
  ctx.current = result
  local accepted = false
  -- only results of the run's own recipe compete for the best (not a lower fidelity)
  if result.status == "ok" and not record.fidelity then
    local ok, acc = call_hook(run, "accept", run.loop.best, result, ctx)
    accepted = ok and acc and true or false
    if not ok then result.hook_error = acc end
  end
  if accepted then
    run.loop.best = { iteration = it, code = code, hash = result.hash, val_acc = result.val_acc,
      params = result.params, flops = result.flops, curve = result.curve }
  end
  ctx.best = run.loop.best
  run.loop.valid = run.loop.valid + (result.status == "ok" and 1 or 0)
  if run.strategy.reflect then
    progress.phase(run, "reflecting")
    local ok, notes = call_hook(run, "reflect", ctx, result)
    if not ok then result.hook_error = notes
    elseif type(notes) == "table" then
      record.triple = notes.triple
      notes.triple = nil
      if next(notes) then record.notes = notes end
    end
  end
  run.loop.last = { iteration = it, code = code, status = result.status, val_acc = result.val_acc,
    error = result.error, kind = result.kind }
  run.ctx.best, run.ctx.last = run.loop.best, run.loop.last
  ctx.last = run.loop.last

  record.iter = it
  record.status = result.status
  record.error_kind = result.kind
  record.error = result.error and tostring(result.error):sub(1, 4000)
  record.hash = result.hash
  record.cache_hit = result.cache_hit or false
  record.accepted = accepted
  record.hook_error = result.hook_error
  record.metrics = { val_acc = result.val_acc, val_loss = result.val_loss, train_loss = result.train_loss,
    params = result.params, flops = result.flops, seconds = result.seconds,
    images_per_s = result.images_per_s, test_acc = result.test_acc, steps = result.steps,
    ntrain = result.ntrain, nval = result.nval, bf16 = result.bf16,
    cpu_seconds = (not result.cache_hit) and result.cpu_seconds or nil }
  record.curve = result.curve
  record.pruned = result.pruned
  record.time = time_breakdown(result)
  record.best_iter = run.loop.best and run.loop.best.iteration or json.null
  record.seconds = core.now() - t_start
  for _, u in pairs(record.llm) do run.loop.tokens = run.loop.tokens + u.prompt_tokens + u.completion_tokens end
  run.loop.iteration = it
  run.loop.seconds = run.loop.seconds + record.seconds
  run.loop.strategy = ctx.state
  -- A record that cannot be saved (disk full, ...) stops the run: nothing committed is
  -- lost, and --resume continues from the last saved iteration once the cause is gone.
  local saved, why, why_kind = run.db:append(run.id, record, run.loop)
  if not saved then
    error(("memory: iteration %d was not saved (%s): %s\n%s"):format(it, tostring(why_kind), tostring(why),
      "fix the cause, then continue with --resume"), 0)
  end
  if run.strategy.on_iteration then call_hook(run, "on_iteration", ctx, record) end
  progress.iteration(run, record)
  return record
end

-- One iteration; returns the record.
local function iterate(run)
  local it = run.loop.iteration + 1
  local t_start = core.now()
  local record = new_record(it)
  local ctx = run.ctx
  ctx.iteration, ctx.record, ctx.current, ctx.proposal = it, record, nil, {}
  progress.phase(run, "proposing")

  local code, msg, kind, train = propose(run, ctx)
  local result
  if code then
    record.code = code
    record.fidelity = fidelity_of(train)
    progress.phase(run, "compiling")
    result = evaluate(run, code, train)
  else
    result = { status = "failed", error = msg, kind = kind }
  end
  return conclude(run, ctx, record, code, result, t_start)
end

local function budget_left(run)
  local b = run.budget
  if b.iterations and run.loop.iteration >= b.iterations then return false, "iterations" end
  if b.seconds and core.now() - run.started >= b.seconds then return false, "time" end
  if b.tokens and run.loop.tokens >= b.tokens then return false, "tokens" end
  return true
end

local function open_run(run, opts)
  local db = run.db
  local id = opts.run and math.tointeger(tonumber(opts.run)) or (opts.resume and db:latest_run())
  -- the user's choice of run: one line and exit 64, no traceback
  local fail = require("llmnas.preflight").fail
  if opts.run and not id then fail(64, ("--run %s: expected a run number"):format(tostring(opts.run))) end
  if opts.resume and not id then fail(64, "--resume: there is no run to resume in " .. run.db_path) end
  if id then
    local info = db.run and db:run(id)   -- (a test's fake store may keep no run meta)
    if opts.run and db.run and not info then
      fail(64, ("--run %d: %s has no run %d (llmnas show --db %s lists its runs)"):format(id, run.db_path, id,
        run.db_path))
    end
    if info then require("llmnas.resume").check(id, info.meta or {}, opts, run.task, run.recipe) end
    local loop = db:state(id)
    if not loop then
      -- The state is committed with each record in one transaction, so a run without
      -- state has no records either: it was stopped before its first commit (a kill
      -- during the first candidate). Resuming it is starting it.
      if (db:last_iteration(id) or 0) > 0 then
        error(("run %s has records but no saved state: the memory is damaged"):format(tostring(id)), 0)
      end
      loop = { iteration = 0, valid = 0, tokens = 0, seconds = 0, best = nil, strategy = run.strategy.state or {} }
    end
    run.id, run.loop, run.resumed = id, loop, true
    return
  end
  local id_or_nil, msg = db:begin_run({ name = run.strategy.name or "search", script = opts.script,
    settings = opts.set, task = run.task, recipe = run.recipe, started = os.time() })
  if not id_or_nil then error("memory: cannot begin a run: " .. tostring(msg), 0) end
  run.id = id_or_nil
  run.loop = { iteration = 0, valid = 0, tokens = 0, seconds = 0, best = nil, strategy = run.strategy.state or {} }
end

-- A mistake in the strategy table: one line naming where the strategy called the
-- stdlib (its file and line), exit 78 (EX_CONFIG), no traceback into the stdlib.
local function strategy_error(msg)
  local where = ""
  for level = 3, 20 do
    local info = debug.getinfo(level, "Sl")
    if not info then break end
    if info.what ~= "C" and info.currentline > 0 and not info.short_src:find("^stdlib/") then
      where = ("%s:%d: "):format(info.short_src, info.currentline)
      break
    end
  end
  require("llmnas.preflight").fail(78, where .. msg)
end

--- Run a search. Returns the run table: id, loop (best, iteration, ...), db.
function M.search(strategy)
  if type(strategy) ~= "table" then strategy_error("llmnas.search: expected a strategy table") end
  if type(strategy.propose) ~= "function" then
    strategy_error("llmnas.search: the strategy needs a propose(ctx) function")
  end
  local opts = require("llmnas").options()
  strategy.accept = strategy.accept or accept_rules.better
  local default_rule = strategy.early_abort and not strategy.on_progress
  if default_rule then
    strategy.on_progress = abort.hook(type(strategy.early_abort) == "table" and strategy.early_abort or nil)
  end
  local env = merge({ arch = _G.arch, train = _G.train, memory = _G.memory, llm = _G.llm }, strategy.env)
  local task, recipe = recipe_for(strategy, opts)
  local run = { strategy = strategy, env = env, task = task, recipe = recipe, hook_failures = {},
    started = core.now(), budget = merge({}, strategy.budget), quiet = strategy.quiet,
    monitor = merge(merge({}, M.MONITOR), strategy.monitor) }
  if strategy.on_progress and strategy.monitor == nil and not (default_rule and (recipe.epochs or 1) <= 1) then
    run.monitor.probe = M.ABORT_PROBE
  end
  if opts.iterations then run.budget.iterations = opts.iterations end
  run.workers = opts.workers or strategy.workers or 1
  -- Under mpirun, rank 0's workers are the evaluator ranks (llmnas.mpi).
  local pool, ranks = require("llmnas.mpi").pool()
  if pool then env.train, run.workers, run.mpi = pool, ranks, true end
  -- Data the trainer cannot read fails every candidate alike: say so before the run
  -- exists (read once here, the files are inherited by the workers). Under mpirun the
  -- evaluator ranks read their own copy.
  if env.train == train_module and not run.mpi then
    local ok, why = train_module.dataset(task.dataset, task.data, true)
    if not ok then require("llmnas.preflight").fail(66, "training data: " .. tostring(why)) end
    -- A recipe value train.evaluate would refuse (a --set typo) refuses every candidate.
    ok, why = train_module.check_recipe(recipe)
    if not ok then
      require("llmnas.preflight").fail(64, ("recipe: %s (the strategy's task and train tables, or --set)")
        :format(tostring(why):match("%((.+)%)$") or tostring(why)))
    end
  end
  run.order = opts.order or strategy.order
  if math.type(run.workers) ~= "integer" or run.workers < 1 or run.workers > 64 then
    strategy_error(("workers: expected an integer from 1 to 64, got %s"):format(tostring(run.workers)))
  end
  -- Threads per training worker: workers x threads <= cores unless overridden,
  -- since oversubscribed OpenMP teams wait on each other. One worker keeps
  -- OpenMP's default, as before.
  if opts.threads then recipe.threads = opts.threads end
  if not recipe.threads and run.workers > 1 and env.train.cores then
    recipe.threads = math.max(1, env.train.cores() // run.workers)
  end
  run.db_path = opts.db or strategy.db or M.DEFAULT_DB
  -- A strategy that calls the LLM checks the endpoint before anything is written.
  if strategy.uses_llm and strategy.preflight ~= false and env.llm and env.llm.models then
    local note = require("llmnas.preflight").check(env.llm, opts)
    if note then progress.note(run, note) end
  end
  run.db = env.db or assert(env.memory.open(run.db_path))
  -- --llm-cache record|replay keeps the LLM's replies in the same memory as the records.
  if opts.llm_cache and opts.llm_cache ~= "off" and env.llm and env.llm.configure then
    env.llm.configure { cache = run.db }
  end
  open_run(run, opts)
  restore_occurrences(run, opts)
  local chat, chat_many = make_chat(run)
  run.ctx = { run = run.id, task = task, recipe = recipe, settings = opts.set, state = run.loop.strategy,
    db = run.db, chat = chat, chat_many = chat_many, best = run.loop.best, last = run.loop.last,
    resumed = run.resumed }
  local hint = ("resume with: llmnas run %s --resume --db %s"):format(opts.script or "STRATEGY.lua", run.db_path)
  run.resume_hint = hint
  core.set_resume_hint(hint)
  progress.start(run)
  -- A run stopped with candidates in flight resumes them in the asynchronous loop.
  if run.workers > 1 or run.mpi or (run.loop.pending and #run.loop.pending > 0) then
    require("llmnas.async").loop(run, M.internal)
  else
    while true do
      local more, why = budget_left(run)
      if not more then run.stopped_by = why break end
      iterate(run)
    end
  end
  progress.finish(run)
  if strategy.summarise then
    local ok, text = call_hook(run, "summarise", run.ctx)
    run.summary_text = ok and text or ("summarise failed: " .. tostring(text))
  end
  if not run.quiet then require("llmnas.report").print(run) end
  return run
end

M.cache_key = cache_key

--- The run's recipe with a candidate's own training overrides (propose may return
-- {code = ..., train = {...}}), or the run's recipe itself when there are none.
function M.recipe_with(run, train)
  if not train then return nil end
  if type(train) ~= "table" then error("propose: train must be a table of recipe fields", 0) end
  return merge(copy(run.recipe), train)
end
-- The loop's parts, for llmnas.async (not a stable interface for strategies).
M.internal = { call_hook = call_hook, propose = propose, prepare = prepare, trained = trained,
  conclude = conclude, new_record = new_record, budget_left = budget_left, make_chat = make_chat,
  book = book, copy = copy, train_options = train_options, fidelity_of = fidelity_of,
  FATAL_KINDS = M.FATAL_KINDS, recipe_with = function(...) return M.recipe_with(...) end }
M.hook_error = hook_error
return M
