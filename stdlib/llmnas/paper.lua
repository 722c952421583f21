--- llmnas.paper — the method of "Resource-Efficient Iterative LLM-Based NAS with Feedback
-- Memory" (arXiv 2603.12091) as a strategy table for llmnas.search (DESIGN §1):
--
--   1. the Code Generator gets the task, the best code with its accuracy, the previous
--      candidate with its accuracy (or "failed") and the current suggestion;
--   2. the first code block of its reply is the candidate;
--   3-4. the engine validates it and trains it for one epoch;
--   5. the pending history entry is closed with this outcome;
--   6. the best is replaced only by a strictly higher accuracy;
--   7. the Prompt Improver reads the last K triples, the best and the current network and the
--      evaluator's feedback, and answers JSON {reason, inspiration, improvement_suggestions},
--      which opens a new pending entry; an unparsable reply keeps the old suggestion and
--      opens no entry.
--
--   local paper = require "llmnas.paper"
--   llmnas.search(paper.strategy{k = 5, history = true, improver = true, reference = true})
--
-- Options: k (window size, integer or "all"), history / improver / reference (the ablation
-- switches), generator / improver_prompt (llmnas.template objects with the same slots as
-- llmnas.prompts), sampling ({temperature, top_p, max_tokens}), window (a function(ctx, h)
-- returning the history text, to replace the sliding window), plus any llmnas.search field.
-- The strategy also carries generator_request(ctx), the Code Generator's request, for
-- strategies that call the generator their own way (examples/parallel_llm.lua).
local extract = require "llmnas.extract"
local history = require "llmnas.history"
local prompts = require "llmnas.prompts"
local reference = require "llmnas.reference"

local M = {}

M.SAMPLING = { temperature = 0.7, top_p = 0.9, max_tokens = 2048 }

local function pct(acc) return ("accuracy: %.2f%%"):format(acc * 100) end

function M.strategy(opts)
  opts = opts or {}
  local k = opts.k == nil and 5 or opts.k
  local use_history, use_improver, use_reference = opts.history ~= false, opts.improver ~= false,
    opts.reference ~= false
  local gen_template = opts.generator or prompts.generator
  local imp_template = opts.improver_prompt or prompts.improver
  local sampling = opts.sampling or M.SAMPLING
  history.new(k)  -- validates k before the first iteration

  local function request(role, system, user)
    return { role = role, temperature = sampling.temperature, top_p = sampling.top_p,
      max_tokens = sampling.max_tokens,
      messages = { { role = "system", content = system }, { role = "user", content = user } } }
  end

  -- Step 1: the Code Generator's request.
  local function generator_request(ctx)
    local i, best, last = ctx.task.input, ctx.best, ctx.last
    return request("generator", prompts.generator_system, gen_template:render({
      dataset = ctx.task.dataset, input = ("%dx%dx%d"):format(i[1], i[2], i[3]), classes = ctx.task.classes,
      reference = reference.text,
      best_code = (use_reference and best) and best.code or prompts.NO_REFERENCE,
      best_acc = (use_reference and best) and pct(best.val_acc) or "none",
      last_code = last and last.code or prompts.NO_REFERENCE,
      last_outcome = not last and "none" or last.val_acc and pct(last.val_acc) or "failed",
      suggestion = ctx.state.suggestion or prompts.NO_SUGGESTION,
    }))
  end

  -- Steps 1 and 2: call the generator, take the first code block.
  local function propose(ctx)
    local reply, err, kind = ctx:chat(generator_request(ctx))
    if not reply then return nil, err, kind end
    local code, why = extract.code(reply)
    if not code then return nil, why, "no_code" end
    return code
  end

  -- Steps 5 and 7.
  local function reflect(ctx, result)
    local h = history.load(ctx.state.history or history.new(k):save())
    local notes = { triple = h:close(history.outcome(result)) }
    if use_improver then
      local best = ctx.best
      local window = not use_history and "(not shown)"
        or opts.window and opts.window(ctx, h) or h:render(prompts.NO_HISTORY)
      local reply, err = ctx:chat(request("improver", prompts.improver_system, imp_template:render({
        history = window,
        best_code = best and best.code or prompts.NO_REFERENCE,
        best_acc = best and pct(best.val_acc) or "none",
        current_code = ctx.record.code or "(no code could be extracted from the reply)",
        current_acc = result.val_acc and pct(result.val_acc) or "failed",
        feedback = history.outcome(result),
      })))
      local advice = reply and extract.json(reply)
      local suggestion = advice and advice.improvement_suggestions
      if type(suggestion) == "table" then suggestion = table.concat(suggestion, "\n") end
      if type(suggestion) == "string" and suggestion ~= "" then
        h:open(advice.reason, suggestion)
        ctx.state.suggestion = suggestion
        notes.improver = { reason = advice.reason, inspiration = advice.inspiration, suggestion = suggestion }
      else
        notes.improver_error = reply and "unparsable improver reply: the old suggestion stays" or err
      end
    end
    ctx.state.history = h:save()
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
