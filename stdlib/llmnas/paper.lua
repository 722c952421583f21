--- llmnas.paper — the method of "Resource-Efficient Iterative LLM-Based NAS with Feedback
-- Memory" (arXiv 2603.12091) as a strategy table for llmnas.search (DESIGN §1):
--
--   1. the Code Generator gets the task (with the recipe the engine runs, the validation
--      size and its noise, the caps), the best code with its accuracy, the previous
--      candidate with its accuracy (or "failed") — each distinct network once — and the
--      current suggestion, saying which network it applies to (the best, by default);
--   2. the first code block of its reply is the candidate; with `repair = N` a candidate
--      that does not compile goes back to the generator with the error, up to N times,
--      before the iteration is spent (the attempts are recorded on the record's `repair`);
--   3-4. the engine validates it and trains it for one epoch;
--   5. the pending history entry is closed with this outcome and the network it was
--      applied to; entries leaving the window are folded into the memory digest;
--   6. the best is replaced only by a strictly higher accuracy;
--   7. the Prompt Improver reads the digest, the last K triples, the best and the current
--      network and the evaluator's feedback (accuracy, losses, parameters, FLOPs, time,
--      the failure), and answers JSON {reason, inspiration, improvement_suggestions},
--      which opens a new pending entry; an unparsable reply keeps the old suggestion and
--      opens no entry.
--
--   local paper = require "llmnas.paper"
--   llmnas.search(paper.strategy{k = 5, history = true, improver = true, reference = true})
--
-- Islands (opts.islands = M, `--set islands=M` in examples/paper.lua): M independent
-- trajectories of the method, each with its own suggestion, K-window, digest and previous
-- candidate, sharing the evaluation cache and the global best; proposal n belongs to
-- island (n - 1) % M + 1, so with --workers N they run side by side. One island is the
-- paper exactly (its state is kept where it always was: ctx.state.suggestion, .history).
--
-- Options: k (window size, integer or "all"), islands (default 1), history / improver /
-- reference (the ablation switches), repair (N repair rounds, default 1; 0 is the paper),
-- summary ("digest", the deterministic default; "llm", a summary written by the "summary"
-- role; false: none, the paper), exact (true: repair 0 and summary off unless given),
-- apply_to ("best" or "last": the network the suggestion is applied to), generator /
-- improver_prompt / repair_prompt (llmnas.template objects with the slots of
-- llmnas.prompts), sampling ({temperature, top_p, max_tokens, seed}: seed, when given, is
-- sent with every request, for servers that sample reproducibly), window (a function(ctx, h)
-- returning the history text, to replace the sliding window), plus any llmnas.search
-- field. The strategy also carries generator_request(ctx), the Code Generator's request,
-- for strategies that call the generator their own way (examples/parallel_llm.lua).
local extract = require "llmnas.extract"
local history = require "llmnas.history"
local digest = require "llmnas.digest"
local prompts = require "llmnas.prompts"
local reference = require "llmnas.reference"

local M = {}

M.SAMPLING = { temperature = 0.7, top_p = 0.9, max_tokens = 2048 }
M.REPAIR = 1   -- repair rounds by default (0 in exact mode)

local function pct(acc) return ("accuracy: %.2f%%"):format(acc * 100) end

local function iter_desc(label, n)
  if not n then return label end
  return ("%s (iteration %d, %s)"):format(label, n.iteration,
    n.val_acc and ("%.2f%%"):format(n.val_acc * 100) or "failed")
end

function M.strategy(opts)
  opts = opts or {}
  local k = opts.k == nil and 5 or opts.k
  local use_history, use_improver, use_reference = opts.history ~= false, opts.improver ~= false,
    opts.reference ~= false
  local exact = opts.exact == true
  local repair = opts.repair
  if repair == nil then repair = exact and 0 or M.REPAIR end
  if math.type(repair) ~= "integer" or repair < 0 then
    error("paper.strategy: repair must be a non-negative integer, got " .. tostring(repair), 2)
  end
  local summary = opts.summary
  if summary == nil then summary = not exact and "digest" or false end
  if summary == true then summary = "digest" end
  if summary ~= false and summary ~= "digest" and summary ~= "llm" then
    error("paper.strategy: summary must be \"digest\", \"llm\" or off, got " .. tostring(summary), 2)
  end
  local apply_to = opts.apply_to or "best"
  if apply_to ~= "best" and apply_to ~= "last" then
    error("paper.strategy: apply_to must be \"best\" or \"last\", got " .. tostring(apply_to), 2)
  end
  local gen_template = opts.generator or prompts.generator
  local imp_template = opts.improver_prompt or prompts.improver
  local rep_template = opts.repair_prompt or prompts.repair
  local sampling = opts.sampling or M.SAMPLING
  local islands = opts.islands or 1
  if math.type(islands) ~= "integer" or islands < 1 then
    error(("islands: expected a positive integer, got %s"):format(tostring(islands)), 0)
  end
  history.new(k)  -- validates k before the first iteration
  local measured  -- the sizes the trainer reported (ntrain, nval, steps), once known

  -- The trajectory a candidate belongs to: its suggestion, window and previous
  -- candidate. One island keeps the paper's own places (ctx.state, ctx.last).
  local function island(ctx)
    if islands == 1 then return ctx.state, ctx.last end
    local i = ctx.proposal and ctx.proposal.island or (ctx.iteration - 1) % islands + 1
    if ctx.proposal then ctx.proposal.island = i end
    ctx.state.islands = ctx.state.islands or {}
    local key = tostring(i)  -- JSON object keys: the state is saved as JSON
    ctx.state.islands[key] = ctx.state.islands[key] or {}
    local st = ctx.state.islands[key]
    return st, st.last, i
  end

  local function request(role, system, user)
    return { role = role, temperature = sampling.temperature, top_p = sampling.top_p,
      max_tokens = sampling.max_tokens, seed = sampling.seed, volatile = prompts.VOLATILE,
      messages = { { role = "system", content = system }, { role = "user", content = user } } }
  end

  -- The task's facts as the engine will run them (prompts.sizes and friends).
  local function facts(ctx)
    -- The real train module's registry and defaults, whatever env.train a test substitutes.
    local train_module = require "train"
    local ds = train_module.dataset(ctx.task.dataset) or {}
    local defaults = train_module.defaults()
    local recipe = ctx.recipe or {}
    local sizes = prompts.sizes(ctx.task, recipe, ds, defaults)
    if sizes and measured then
      sizes.ntrain, sizes.nval, sizes.steps = measured.ntrain, measured.nval, measured.steps
    end
    local i = ctx.task.input
    return {
      dataset = ctx.task.dataset, input = ("%dx%dx%d"):format(i[1], i[2], i[3]), classes = ctx.task.classes,
      recipe = prompts.recipe_text(ctx.task, recipe, sizes, ds, defaults),
      scoring = prompts.scoring_text(sizes, ctx.best and ctx.best.val_acc),
      caps = prompts.caps_text(recipe, defaults),
      sizes = sizes,
    }
  end

  -- Step 1: the Code Generator's request.
  local function generator_request(ctx)
    local st, last = island(ctx)
    local best = use_reference and ctx.best or nil
    local f = facts(ctx)
    local base = (apply_to == "best" and best) or last or best
    local applies
    if not base then applies = "a new network (there is none yet)"
    elseif base == best and best then applies = iter_desc("the best network", best)
    else applies = iter_desc("the previous candidate", last) end
    local applied = base and { text = applies:gsub("^the ", ""), iteration = base.iteration,
      val_acc = base.val_acc } or { text = "a new network" }
    st.applied = applied
    if ctx.proposal then ctx.proposal.applied = applied end
    local last_outcome = not last and "none" or last.val_acc and pct(last.val_acc) or "failed"
    f.reference = reference.text
    f.networks = prompts.networks_text(best, best and pct(best.val_acc), last and last.code and last or nil,
      "Previous candidate", last_outcome)
    f.applies_to = applies
    f.best_code = best and best.code or prompts.NO_REFERENCE
    f.best_acc = best and pct(best.val_acc) or "none"
    f.last_code = last and last.code or prompts.NO_REFERENCE
    f.last_outcome = last_outcome
    f.suggestion = st.suggestion or prompts.NO_SUGGESTION
    f.sizes = nil
    return request("generator", prompts.generator_system, gen_template:render(f))
  end

  -- Step 2's repair round: a candidate that does not compile goes back with the error.
  local function compile_check(ctx, code)
    local env_arch = opts.env and opts.env.arch or _G.arch
    return env_arch.compile(code, { input = ctx.task.input, classes = ctx.task.classes })
  end

  local function repair_round(ctx, req, reply, code)
    local g, msg, kind = compile_check(ctx, code)
    if g or repair == 0 then return code end
    local attempts = json.array()
    local messages = { table.unpack(req.messages) }
    for _ = 1, repair do
      local attempt = { error = tostring(msg):sub(1, 1000), kind = kind }
      attempts[#attempts + 1] = attempt
      messages[#messages + 1] = { role = "assistant", content = reply }
      messages[#messages + 1] = { role = "user", content = rep_template:render({ error = tostring(msg):sub(1, 1000),
        kind = tostring(kind) }) }
      local r = { role = "repair", temperature = sampling.temperature, top_p = sampling.top_p,
        max_tokens = sampling.max_tokens, seed = sampling.seed, volatile = prompts.VOLATILE, messages = messages }
      local fixed, err, ekind = ctx:chat(r)
      if not fixed then attempt.reply_error, attempt.reply_kind = tostring(err), ekind break end
      local c2, why = extract.code(fixed)
      if not c2 then attempt.reply_error, attempt.reply_kind = why, "no_code" break end
      code, reply = c2, fixed
      g, msg, kind = compile_check(ctx, code)
      if g then break end
    end
    ctx.record.repair = { attempts = attempts, fixed = g and true or false }
    return code
  end

  -- Steps 1 and 2: call the generator, take the first code block, repair it if need be.
  local function propose(ctx)
    local req = generator_request(ctx)
    local reply, err, kind = ctx:chat(req)
    if not reply then return nil, err, kind end
    local code, why = extract.code(reply)
    if not code then return nil, why, "no_code" end
    return repair_round(ctx, req, reply, code)
  end

  -- Steps 5 and 7.
  local function reflect(ctx, result)
    local st, _, isl = island(ctx)
    if result.nval then measured = { ntrain = result.ntrain, nval = result.nval, steps = result.steps } end
    local h = history.load(st.history or history.new(k):save())
    -- what this candidate's suggestion was applied to (its own, with several in flight)
    local applied = (ctx.proposal and ctx.proposal.applied) or st.applied or {}
    local triple, dropped = h:close(history.outcome(result), { applied_to = applied.text, iter = ctx.iteration,
      val_acc = result.val_acc, base_acc = applied.val_acc, kind = result.kind })
    local notes = { triple = triple }
    if summary and #dropped > 0 then
      local d = st.digest or digest.new()
      digest.add(d, dropped)
      if summary == "llm" then
        local ok, why = digest.llm_update(ctx, d, dropped, sampling)
        if not ok then notes.summary_error = tostring(why) end
      end
      st.digest = d
    end
    if use_improver then
      local best = ctx.best
      local f = facts(ctx)
      local window = not use_history and "(not shown)"
        or opts.window and opts.window(ctx, h) or h:render(prompts.NO_HISTORY)
      local current = { code = ctx.record.code, hash = result.hash }
      local current_acc = result.val_acc and pct(result.val_acc) or "failed"
      f.history = window
      f.digest = (summary and use_history) and digest.render(st.digest) or ""
      f.networks = prompts.networks_text(best, best and pct(best.val_acc), current, "Current network", current_acc)
      f.best_code = best and best.code or prompts.NO_REFERENCE
      f.best_acc = best and pct(best.val_acc) or "none"
      f.current_code = ctx.record.code or "(no code could be extracted from the reply)"
      f.current_acc = current_acc
      f.feedback = prompts.feedback(result, f.sizes)
      f.sizes = nil
      local reply, err = ctx:chat(request("improver", prompts.improver_system, imp_template:render(f)))
      local advice = reply and extract.json(reply)
      local suggestion = advice and advice.improvement_suggestions
      if type(suggestion) == "table" then suggestion = table.concat(suggestion, "\n") end
      if type(suggestion) == "string" and suggestion ~= "" then
        h:open(advice.reason, suggestion)
        st.suggestion = suggestion
        notes.improver = { reason = advice.reason, inspiration = advice.inspiration, suggestion = suggestion }
      else
        notes.improver_error = reply and "unparsable improver reply: the old suggestion stays" or err
      end
    end
    st.history = h:save()
    if isl then
      st.last = { iteration = ctx.iteration, code = ctx.record.code, val_acc = result.val_acc }
      notes.island = isl
    end
    return notes
  end

  local s = { name = "paper", propose = propose, reflect = reflect, accept = require("llmnas.accept").better,
    generator_request = generator_request, uses_llm = true }
  for _, key in ipairs({ "name", "task", "train", "budget", "accept", "on_iteration", "summarise", "env", "quiet",
    "preflight", "unreachable_stop" }) do
    if opts[key] ~= nil then s[key] = opts[key] end
  end
  return s
end

return M
