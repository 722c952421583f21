-- test_prompts.lua: what llmnas.paper's prompts say (issue #13, item 1) on fake
-- primitives: the recipe's numbers, each distinct network once, which network a
-- suggestion applies to, the feedback fields, whole-word history entries, the memory
-- digest beyond the K-window (and its absence with summary = off), the bounded prompt
-- size, and the repair round's bookkeeping. The same prompts go to the test server in
-- tests/sh/test_prompts_e2e.sh.
local T = require "testing"
local F = require "fakes"
local search = require "llmnas.search"
local paper = require "llmnas.paper"
local prompts = require "llmnas.prompts"
local history = require "llmnas.history"
local digest = require "llmnas.digest"

-- A fake LLM: generator replies come from `codes` in turn, improver replies suggest
-- "suggestion N" with a long tail of words; every request is kept.
local function fake_llm(codes, opts)
  opts = opts or {}
  local L = { requests = {}, gen = 0, imp = 0 }
  function L.chat(req)
    L.requests[#L.requests + 1] = req
    local text = req.messages[#req.messages].content
    if req.role == "improver" then
      L.imp = L.imp + 1
      local tail = opts.long and (" and then widen every stage of the network carefully"):rep(12) or ""
      return ('{"reason": "reason %d", "inspiration": "i", "improvement_suggestions": "suggestion %d%s"}')
        :format(L.imp, L.imp, tail), { prompt_tokens = #text // 4, completion_tokens = 20 }
    elseif req.role == "summary" then
      return "older lessons, summarised", { prompt_tokens = 10, completion_tokens = 5 }
    end
    L.gen = L.gen + 1
    local code = codes[L.gen] or codes[#codes]
    return "```lua\n" .. code .. "\n```", { prompt_tokens = #text // 4, completion_tokens = 30 }
  end
  return L
end

local function fake_train()
  local Tr = F.train()
  local evaluate = Tr.evaluate
  function Tr.evaluate(g, recipe)
    local r, m, k = evaluate(g, recipe)
    if r then
      r.train_loss, r.params, r.flops, r.images_per_s = 0.4321, 12345, 6.7e6, 1500
      r.ntrain, r.nval, r.steps = 5400, 6000, 42
    end
    return r, m, k
  end
  return Tr
end

local function run_paper(codes, popts, iterations, llm_opts)
  local L = fake_llm(codes, llm_opts)
  local env = { arch = F.arch(), train = fake_train(), db = F.db(), llm = L }
  local o = { quiet = true, env = env, task = { dataset = "fashion-mnist", subset = 5400 },
    budget = { iterations = iterations } }
  for key, v in pairs(popts or {}) do o[key] = v end
  local run = search.search(paper.strategy(o))
  return run, L, env.db.runs[run.id].records
end

local function prompts_of(L, role)
  local out = {}
  for _, r in ipairs(L.requests) do
    if r.role == role then out[#out + 1] = r.messages[#r.messages].content end
  end
  return out
end

local function has(text, s, msg) T.ok(text:find(s, 1, true), (msg or "") .. ": lacks '" .. s .. "' in:\n" .. text) end
local function count(text, s)
  local n, i = 0, 1
  while true do
    local a, b = text:find(s, i, true)
    if not a then return n end
    n, i = n + 1, b + 1
  end
end

local tests = {}

function tests.recipe_numbers_in_the_task_block()
  local _, L = run_paper({ "net a 0.8" }, {}, 1)
  local g = prompts_of(L, "generator")[1]
  has(g, "5400 training images", "training images")
  has(g, "1 epoch of 42 steps of batch 128", "steps and batch")
  has(g, "lr 0.01 with a per-step cosine schedule to 0, momentum 0.9, weight decay 0.0005", "optimiser")
  has(g, "augmentation: none", "augmentation")
  has(g, "(pixel/255 - mean) / std with mean 0.286, std 0.353", "normalisation with the registry's constants")
  has(g, "PyTorch's default initialisation", "init")
  has(g, "validation accuracy on 6000 held-out images", "validation size")
  has(g, "at most 50 M parameters, 20 G FLOPs per image", "caps")
end

function tests.standard_error_at_the_current_accuracy()
  T.near(prompts.stderr_points(0.9, 6000), math.sqrt(0.09 / 6000) * 100, 1e-12)
  local _, L = run_paper({ "net a 0.9", "net b 0.8" }, {}, 2)
  local g = prompts_of(L, "generator")[2]
  has(g, ("at 90.00%% its standard error is %.2f points"):format(math.sqrt(0.09 / 6000) * 100), "SE at the best")
end

function tests.distinct_networks_once_and_what_the_suggestion_applies_to()
  -- iteration 2 becomes the best: at iteration 3 best and previous are the same network.
  local _, L = run_paper({ "net a 0.5", "net b 0.7", "net c 0.6" }, {}, 4)
  local g = prompts_of(L, "generator")
  has(g[3], "Best network so far, which is also the previous candidate (accuracy: 70.00%)", "shown once")
  T.eq(count(g[3], "net b 0.7"), 1, "the same network's code appears once")
  has(g[3], "to apply now, to the best network (iteration 2, 70.00%)", "applies to the best")
  has(g[4], "Best network so far (accuracy: 70.00%):\nnet b 0.7", "best shown")
  has(g[4], "Previous candidate (accuracy: 60.00%):\nnet c 0.6", "previous shown")
  local _, L2 = run_paper({ "net a 0.5", "net b 0.4" }, { apply_to = "last" }, 3)
  has(prompts_of(L2, "generator")[3], "to apply now, to the previous candidate (iteration 2, 40.00%)", "apply_to last")
  local imp = prompts_of(L, "improver")
  has(imp[2], "Best network so far, which is also the current network", "improver: the current best once")
end

function tests.improver_feedback_fields()
  local _, L = run_paper({ "net a 0.5", "fail shape Linear: expected [B, F], got [B, C, H, W]" }, { repair = 0 }, 2)
  local imp = prompts_of(L, "improver")
  has(imp[1], "validation accuracy: 50.00%  (standard error 0.65 points)", "accuracy with SE")
  has(imp[1], "training loss (last epoch): 0.4321", "train loss")
  has(imp[1], "validation loss: 0.5000", "val loss")
  has(imp[1], "parameters: 12.3 k", "params")
  has(imp[1], "FLOPs per image: 6.7 M", "flops")
  has(imp[1], "training time: 0.0 s (1500 images/s)", "time")
  has(imp[2], "failed (shape): Linear: expected [B, F], got [B, C, H, W]", "failure kind and message")
  has(prompts.feedback({ val_acc = 0.5, pruned = { reason = "below the median" } }),
    "stopped early (pruned): below the median", "pruned reason")
  has(prompts.feedback({ status = "pruned", kind = "pruned", error = "below the median",
    pruned = { step = 10, steps = 42, reason = "below the median" } }),
    "stopped early (pruned) at step 10 of 42: below the median", "pruned step")
end

-- The improver's feedback states the training time, which no two runs measure alike: the
-- requests name it volatile, so a replay (same replies, candidates retrained) finds its
-- recorded replies; any other difference still changes the key.
function tests.measured_times_leave_the_replay_key()
  local function improver_requests(seconds, ips)
    local L = fake_llm({ "net a 0.5", "net b 0.6" })
    local Tr = fake_train()
    local evaluate = Tr.evaluate
    function Tr.evaluate(g, recipe)
      local r, m, k = evaluate(g, recipe)
      if r then r.seconds, r.images_per_s = seconds, ips end
      return r, m, k
    end
    local env = { arch = F.arch(), train = Tr, db = F.db(), llm = L }
    search.search(paper.strategy { quiet = true, env = env, repair = 0,
      task = { dataset = "fashion-mnist", subset = 5400 }, budget = { iterations = 2 } })
    local out = {}
    for _, r in ipairs(L.requests) do
      T.eq(r.volatile, prompts.VOLATILE, r.role .. " request names the measured figures")
      if r.role == "improver" then out[#out + 1] = r end
    end
    return out
  end
  local a, b = improver_requests(3.25, 1500), improver_requests(4.5, 1200)
  T.eq(#a, 2, "two improver calls")
  has(a[1].messages[2].content, "training time: 3.2 s (1500 images/s)", "the time is in the prompt")
  T.ok(a[1].messages[2].content ~= b[1].messages[2].content, "the two runs' prompts differ")
  llm.configure { model = "m" }
  for i = 1, 2 do
    T.eq(llm.request_key(a[i]), llm.request_key(b[i]), "improver call " .. i .. ": same replay key")
    local plain = { messages = a[i].messages, temperature = a[i].temperature }
    local plain_b = { messages = b[i].messages, temperature = b[i].temperature }
    T.ok(llm.request_key(plain) ~= llm.request_key(plain_b), "without volatile the keys differ")
  end
end

function tests.history_keeps_whole_words_and_the_network()
  T.eq(history.cut_words("alpha beta gamma", 12), "alpha beta...")
  T.eq(history.cut_words("short", 12), "short")
  local _, L = run_paper({ "net a 0.5", "net b 0.6", "net c 0.55" }, {}, 3, { long = true })
  local imp = prompts_of(L, "improver")[3]
  has(imp, "applied to: best network (iteration 2, 60.00%)", "the network of the suggestion")
  local s = imp:match("suggestion: (suggestion 2[^\n]*)")
  T.ok(s and s:sub(-3) == "...", "the suggestion was cut: " .. tostring(s))
  T.ok(s:match("%a%.%.%.$"), "cut after a whole word: " .. s)
  T.ok(("suggestion 2" .. (" and then widen every stage of the network carefully"):rep(12)):find(s:sub(1, -4), 1, true),
    "the cut text is a prefix of the suggestion")
end

function tests.digest_after_k_iterations()
  local codes = { "net a 0.5", "net b 0.6", "fail shape bad", "net c 0.4", "net d 0.7", "net e 0.65" }
  local run, L = run_paper(codes, { k = 2, repair = 0 }, 6)
  local imp = prompts_of(L, "improver")
  T.ok(not imp[3]:find("Lessons from the", 1, true), "no digest while the window holds everything")
  local last = imp[6]
  has(last, "Lessons from the 3 older entries, beyond the history below:", "digest header")
  has(last, "- helped (+10.00 points, iter 2: suggestion 1)", "what helped")
  has(last, "- failed to compile or train: 1 (shape x1)", "what failed")
  has(last, "- hurt (-20.00 points, iter 4: suggestion 3)", "what hurt")
  T.eq(run.loop.strategy.digest.n, 3, "the digest lives in the strategy's state")
  -- summary = off: the paper's prompt, no digest.
  local _, L2 = run_paper(codes, { k = 2, summary = false, repair = 0 }, 6)
  T.ok(not prompts_of(L2, "improver")[6]:find("Lessons from", 1, true), "summary off: no digest")
  -- summary = "llm": the summary role writes it.
  local _, L3, recs3 = run_paper(codes, { k = 2, summary = "llm", repair = 0 }, 6)
  has(prompts_of(L3, "improver")[6], "older lessons, summarised", "the LLM's summary")
  T.ok(recs3[4].llm.summary and recs3[4].llm.summary.calls == 1, "the summary role's tokens are booked")
end

function tests.digest_is_bounded()
  local d = digest.new()
  for i = 1, 500 do
    digest.add(d, { { iter = i, suggestion = ("word "):rep(100), val_acc = (i % 7) / 10, base_acc = 0.3,
      outcome = "accuracy" } })
    digest.add(d, { { iter = i, suggestion = "s", kind = "shape", outcome = "error: " .. ("x"):rep(300) } })
  end
  local text = digest.render(d)
  T.ok(#text < 2000, "the digest stays small after 1000 entries: " .. #text .. " chars")
  has(text, "Lessons from the 1000 older entries")
end

function tests.prompt_size_bounded_as_iterations_grow()
  local codes = {}
  for i = 1, 120 do codes[i] = ("net n%d 0.%02d"):format(i, 10 + (i * 37) % 80) end
  local _, L = run_paper(codes, {}, 120, { long = true })
  local imp = prompts_of(L, "improver")
  T.ok(#imp[120] < #imp[10] * 1.6, ("improver prompt at 120 (%d chars) vs at 10 (%d)"):format(#imp[120], #imp[10]))
end

function tests.repair_round_records_attempts()
  -- The first reply does not compile, the repaired one does.
  local run, L, recs = run_paper({ "fail shape Linear: expected [B, F]", "net fixed 0.7" }, { repair = 1 }, 1)
  T.eq(recs[1].status, "ok", "the repaired candidate was trained")
  T.eq(recs[1].repair.fixed, true)
  T.eq(recs[1].repair.attempts[1].kind, "shape")
  T.eq(recs[1].repair.attempts[1].error, "Linear: expected [B, F]\n")
  T.eq(recs[1].llm.repair.calls, 1, "the repair call's tokens are booked under role repair")
  local rep = L.requests[2]
  T.eq(rep.role, "repair")
  T.eq(rep.messages[3].role, "assistant", "the failing reply goes back")
  has(rep.messages[4].content, "Linear: expected [B, F]", "the error goes back")
  T.eq(run.loop.valid, 1)
  -- Failing twice: recorded, the iteration fails with the last error.
  local _, _, recs2 = run_paper({ "fail shape first", "fail syntax second" }, { repair = 1 }, 1)
  T.eq(recs2[1].status, "failed")
  T.eq(recs2[1].repair.fixed, false)
  T.eq(recs2[1].error, "second\n", "the last attempt's error is the record's")
  -- repair = 0 is the paper: no repair call.
  local _, L3, recs3 = run_paper({ "fail shape first", "net x 0.5" }, { repair = 0 }, 1)
  T.eq(#prompts_of(L3, "repair"), 0)
  T.eq(recs3[1].repair, nil)
  T.raises(function() paper.strategy { repair = -1 } end, "repair must be a non-negative integer")
end

return tests
