-- paper.lua: the method of "Resource-Efficient Iterative LLM-Based NAS with Feedback
-- Memory" (arXiv 2603.12091), faithfully: a Code Generator proposes a network from the
-- task, the best network, the previous candidate with its accuracy and the current
-- suggestion; the engine trains it for one epoch; a Prompt Improver reads a sliding window
-- of the last K diagnostic triples (problem, suggestion, outcome), the best and the current
-- network, and writes the next suggestion as JSON (reason, inspiration,
-- improvement_suggestions). An unparsable improver reply keeps the old suggestion and opens
-- no entry. The best is replaced only by a strictly higher accuracy.
--
--   llmnas run examples/paper.lua --base-url http://127.0.0.1:11434/v1 --model qwen2.5-coder:7b
--
-- Switches for the ablations the paper did not run:
--   --set k=0|1|5|all     history window size (default 5)
--   --set history=off     no history in the improver's prompt
--   --set improver=off    no Prompt Improver: the generator never gets a suggestion
--   --set reference=off   no best network in the generator's prompt
--   --set iterations=N  --set subset=N  --set dataset=NAME
local llmnas = require "llmnas"
local extract = require "llmnas.extract"
local history = require "llmnas.history"
local prompts = require "llmnas.prompts"
local reference = require "llmnas.reference"

local set = llmnas.options().set
local K = set.k == nil and 5 or set.k
local USE_HISTORY = set.history ~= false
local USE_IMPROVER = set.improver ~= false
local USE_REFERENCE = set.reference ~= false
local SAMPLING = { temperature = 0.7, top_p = 0.9, max_tokens = 2048 }

local function pct(acc) return ("accuracy: %.2f%%"):format(acc * 100) end

local function chat(ctx, role, system, user)
  return ctx:chat({ role = role, temperature = SAMPLING.temperature, top_p = SAMPLING.top_p,
    max_tokens = SAMPLING.max_tokens,
    messages = { { role = "system", content = system }, { role = "user", content = user } } })
end

local function task_slots(ctx)
  local i = ctx.task.input
  return { dataset = ctx.task.dataset, input = ("%dx%dx%d"):format(i[1], i[2], i[3]),
    classes = ctx.task.classes, reference = reference.text }
end

-- Step 1: the Code Generator. Step 2: extract the first code block.
local function propose(ctx)
  local s = task_slots(ctx)
  local best, last = ctx.best, ctx.last
  s.best_code = (USE_REFERENCE and best) and best.code or prompts.NO_REFERENCE
  s.best_acc = (USE_REFERENCE and best) and pct(best.val_acc) or "none"
  s.last_code = last and last.code or prompts.NO_REFERENCE
  s.last_outcome = not last and "none" or last.val_acc and pct(last.val_acc) or "failed"
  s.suggestion = ctx.state.suggestion or prompts.NO_SUGGESTION
  local reply, err, kind = chat(ctx, "generator", prompts.generator_system, prompts.generator:render(s))
  if not reply then return nil, err, kind end
  local code, why = extract.code(reply)
  if not code then return nil, why, "no_code" end
  return code
end

-- Step 5: close the pending entry with this outcome. Step 7: the Prompt Improver.
local function reflect(ctx, result)
  local h = history.load(ctx.state.history or history.new(K):save())
  local closed = h:close(history.outcome(result))
  local notes = { triple = closed }
  if USE_IMPROVER then
    local best = ctx.best
    local reply, err = chat(ctx, "improver", prompts.improver_system, prompts.improver:render({
      history = USE_HISTORY and h:render(prompts.NO_HISTORY) or "(not shown)",
      best_code = best and best.code or prompts.NO_REFERENCE,
      best_acc = best and pct(best.val_acc) or "none",
      current_code = ctx.record.code or "(no code could be extracted from the reply)",
      current_acc = result.val_acc and pct(result.val_acc) or "failed",
      feedback = history.outcome(result),
    }))
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

llmnas.search {
  name = "paper",
  task = { dataset = set.dataset or "fashion-mnist", subset = set.subset },
  budget = { iterations = set.iterations or 2000 },
  propose = propose,
  reflect = reflect,
  accept = require("llmnas.accept").better,
}
