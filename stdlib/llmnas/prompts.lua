--- llmnas.prompts — the default prompt templates of the paper's two roles, in our
-- own words, keeping the paper's structure (DESIGN §1), and the facts they state:
-- the training recipe as the engine runs it, the validation size and its noise, the
-- caps, and the evaluator's feedback per candidate. Copy and edit them in a strategy,
-- or pass your own templates to llmnas.paper (the slots are listed in stdlib/doc/blocks.md).
local template = require "llmnas.template"

local M = {}

-- The lines whose figures are measured, not decided (wall time, images/s): requests
-- pass M.VOLATILE as `volatile`, so the replay key leaves the rest of those lines out
-- and a replay finds the reply recorded for the same prompt timed on another day.
local TIME = "training time: "
M.VOLATILE = { TIME }

M.generator_system = [[
You are an expert in neural architecture design for image classification. You write compact,
trainable networks that reach high accuracy after a short training run on a CPU.
Answer with one Lua code block that defines `function Net(x, classes)`, and nothing else.]]

M.generator = template.new([[
Task: classify {{dataset}} images of shape {{input}} into {{classes}} classes.
Training, exactly as the engine runs it: {{recipe}}
Scoring: {{scoring}}
Limits: {{caps}}

{{reference}}
{{networks}}

Improvement suggestion to apply now, to {{applies_to}}:
{{suggestion}}

Write the complete improved network as one ```lua code block.]], "generator prompt")

M.improver_system = [[
You review neural networks proposed for an image classification task and tell the designer
what to change next. You learn from the history of earlier suggestions and their outcomes:
repeat what worked, avoid what failed. Answer with one JSON object and nothing else.]]

M.improver = template.new([[
Task: {{dataset}} images of shape {{input}}, {{classes}} classes. Training: {{recipe}}
Scoring: {{scoring}}

{{digest}}History of earlier suggestions (problem, suggestion, the network it was applied to,
outcome), oldest first:
{{history}}

{{networks}}

Evaluator feedback on the current network:
{{feedback}}

Diagnose the current network's main problem (under- or over-fitting, too slow, too small, a
failure) and propose one concrete change for the next candidate, which the designer applies
to the best network. Reply with JSON: {"reason": "<the problem you see>", "inspiration":
"<what the history or the best network teaches>", "improvement_suggestions": "<the change to
make>"}]], "improver prompt")

--- The repair round's follow-up message (stdlib/doc/blocks.md, "Repair").
M.repair = template.new([[
That network does not compile. The engine says:
{{error}}

Fix this error and reply with the complete corrected network as one ```lua code block.
Keep the design otherwise unchanged.]], "repair prompt")

M.NO_REFERENCE = "(none yet: this is the first candidate)"
M.NO_SUGGESTION = "(none yet: propose a strong, simple baseline)"
M.NO_HISTORY = "(no history yet)"

local function pct(x) return ("%.2f%%"):format(x * 100) end

local function count(n)
  if n >= 1e9 then return ("%.3g G"):format(n / 1e9) end
  if n >= 1e6 then return ("%.3g M"):format(n / 1e6) end
  if n >= 1e4 then return ("%.3g k"):format(n / 1e3) end
  return tostring(math.floor(n))
end
M.count = count

--- The sizes of a run: training images, validation images, optimiser steps.
-- task: {dataset, subset, val_fraction}; recipe: the run's recipe; ds: the dataset's
-- registry entry (train.dataset(name)); defaults: train.defaults().
function M.sizes(task, recipe, ds, defaults)
  local total = ds and ds.splits and ds.splits.train
  if not total then return nil end
  local vf = recipe.val_fraction or task.val_fraction or defaults.val_fraction or 0.1
  local held = math.floor(vf * total + 0.5)  -- ds_make_split: round(val_fraction * n)
  local nval = held
  if recipe.val_subset and recipe.val_subset > 0 then nval = math.min(nval, recipe.val_subset) end
  local ntrain = total - held
  if task.subset and task.subset > 0 then ntrain = math.min(ntrain, task.subset) end
  local batch, epochs = recipe.batch or defaults.batch or 128, recipe.epochs or defaults.epochs or 1
  return { ntrain = ntrain, nval = nval, steps = (ntrain // batch) * epochs, batch = batch, epochs = epochs }
end

local function list(v)
  if type(v) ~= "table" then return tostring(v) end
  local out = {}
  for i, x in ipairs(v) do out[i] = ("%.4g"):format(x) end
  return #out == 1 and out[1] or "(" .. table.concat(out, ", ") .. ")"
end

--- The recipe sentence: images, steps, batch, lr and schedule, momentum, weight decay,
-- augmentation, normalisation, initialisation.
function M.recipe_text(_, recipe, sizes, ds, defaults)  -- (task, ...): task unused yet
  ds = ds or {}
  local augment = recipe.augment
  if augment == nil then augment = ds.augment end
  local aug = augment and "random crop with zero padding 4 and horizontal flip (p = 0.5)" or "none"
  local cosine = recipe.cosine
  if cosine == nil then cosine = defaults.cosine ~= false end
  local lr = recipe.lr or defaults.lr
  local norm = ds.mean and ds.std
    and ("inputs normalised as (pixel/255 - mean) / std with mean %s, std %s"):format(list(ds.mean), list(ds.std))
    or "inputs normalised as (pixel/255 - mean) / std with the dataset's constants"
  local parts = {
    sizes and ("%s training images, %d epoch%s of %d steps of batch %d (the last partial batch is dropped)")
      :format(count(sizes.ntrain), sizes.epochs, sizes.epochs == 1 and "" or "s",
        sizes.steps // math.max(1, sizes.epochs), sizes.batch)
      or ("%d epoch(s) of batch %d"):format(recipe.epochs or 1, recipe.batch or 128),
    ("SGD, lr %g %s, momentum %g, weight decay %g on all parameters"):format(lr,
      cosine and "with a per-step cosine schedule to 0" or "constant", recipe.momentum or defaults.momentum,
      recipe.weight_decay or defaults.weight_decay),
    "softmax cross-entropy loss",
    "augmentation: " .. aug,
    norm,
    "PyTorch's default initialisation (Conv2d/Linear U(+-1/sqrt(fan_in)), BatchNorm weight 1, bias 0)",
  }
  return table.concat(parts, "; ") .. "."
end

--- The standard error of an accuracy measured on n images, in percentage points.
function M.stderr_points(acc, n)
  return math.sqrt(math.max(acc * (1 - acc), 0) / n) * 100
end

--- The scoring sentence: validation size, and the noise at the current accuracy.
function M.scoring_text(sizes, acc)
  if not sizes then return "validation accuracy on the held-out split." end
  local s = ("validation accuracy on %s held-out images"):format(count(sizes.nval))
  if acc then
    local se = M.stderr_points(acc, sizes.nval)
    s = s .. ("; at %s its standard error is %.2f points, so differences under about %.1f points are noise")
      :format(pct(acc), se, 2 * se)
  end
  return s .. "."
end

--- The caps sentence: what makes a candidate fail before training.
function M.caps_text(recipe, defaults)
  local parts = {
    ("at most %s parameters"):format(count(recipe.max_params or defaults.max_params)),
    ("%s FLOPs per image (forward)"):format(count(recipe.max_flops or defaults.max_flops)),
    ("%.3g GiB of activations for a batch"):format((recipe.max_act_bytes or defaults.max_act_bytes) / 2 ^ 30),
  }
  if recipe.time_limit and recipe.time_limit > 0 then
    parts[#parts + 1] = ("%g s of training"):format(recipe.time_limit)
  end
  return table.concat(parts, ", ") .. "; a network over a limit fails without training."
end

--- The evaluator's feedback on one candidate, one field a line: params, FLOPs, train
-- loss, val loss, training time, or the failure's kind and message; why it was pruned.
function M.feedback(result, sizes)
  result = result or {}
  local lines = {}
  local function add(fmt, ...) lines[#lines + 1] = fmt:format(...) end
  if result.val_acc then
    local se = sizes and ("  (standard error %.2f points)"):format(M.stderr_points(result.val_acc, sizes.nval)) or ""
    add("validation accuracy: %s%s", pct(result.val_acc), se)
  else
    add("failed (%s): %s", tostring(result.kind or "unknown"),
      tostring(result.error or "no message"):sub(1, 600))
  end
  if result.train_loss then add("training loss (last epoch): %.4f", result.train_loss) end
  if result.val_loss then add("validation loss: %.4f", result.val_loss) end
  if result.params then add("parameters: %s", count(result.params)) end
  if result.flops then add("FLOPs per image: %s", count(result.flops)) end
  if result.seconds then
    add(TIME .. "%.1f s%s", result.seconds,
      result.images_per_s and (" (%s images/s)"):format(count(result.images_per_s)) or "")
  end
  local pruned = result.pruned
  if pruned then
    local why = type(pruned) == "table" and (pruned.reason or json.encode(pruned)) or tostring(pruned)
    local at = type(pruned) == "table" and pruned.step and pruned.steps
      and (" at step %d of %d"):format(pruned.step, pruned.steps) or ""
    add("stopped early (pruned)%s: %s", at, why)
  end
  return table.concat(lines, "\n")
end

--- The networks block: the best and another network (the previous or the current
-- candidate), each distinct network once. `other_label` names the second one.
function M.networks_text(best, best_acc, other, other_label, other_outcome)
  local function same(a, b)
    return a and b and ((a.hash and a.hash == b.hash) or (a.code and a.code == b.code))
  end
  if not best and not other then return "Best network so far: " .. M.NO_REFERENCE end
  if not best then
    return ("%s (%s):\n%s"):format(other_label, other_outcome, other.code or "(no code could be extracted)")
  end
  if same(best, other) then
    return ("Best network so far, which is also the %s (%s):\n%s"):format(other_label:lower(), best_acc, best.code)
  end
  local out = ("Best network so far (%s):\n%s"):format(best_acc, best.code)
  if other then
    out = out .. ("\n\n%s (%s):\n%s"):format(other_label, other_outcome,
      other.code or "(no code could be extracted from the reply)")
  end
  return out
end

return M
